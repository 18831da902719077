//! API errors: `ErrorDescription = [CODE, param, ...]`, codes and parameter names declared in
//! `model/errors.txt`.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub params: Vec<String>,
}

impl ApiError {
    pub fn new<I, S>(code: &str, params: I) -> ApiError
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let params: Vec<String> = params.into_iter().map(|p| p.as_ref().to_string()).collect();
        debug_assert!(
            crate::model::model().error(code).map_or(true, |e| e.params.len() == params.len()),
            "error {code} raised with {} params, declared with a different count",
            params.len()
        );
        ApiError { code: code.to_string(), params }
    }

    pub fn internal(msg: impl fmt::Display) -> ApiError {
        ApiError { code: "INTERNAL_ERROR".into(), params: vec![msg.to_string()] }
    }

    pub fn handle_invalid(class: &str, r: &str) -> ApiError {
        ApiError::new("HANDLE_INVALID", [class, r])
    }

    /// `[code, params...]`, the ErrorDescription array.
    pub fn description(&self) -> Vec<String> {
        std::iter::once(self.code.clone()).chain(self.params.iter().cloned()).collect()
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if !self.params.is_empty() {
            write!(f, " [{}]", self.params.join(", "))?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}
