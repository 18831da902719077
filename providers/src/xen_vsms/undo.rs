//! What a VSMS method did so far, as the XenAPI calls that take it back: a method that fails
//! half-way runs them in reverse order, so nothing half-done is left behind.

use crate::backend::Backend;
use crate::xenapi_conn::XenError;
use xenapi_client::Wire;
use xenapi_model::Value;

/// One planned XenAPI call, and the call that takes it back (`None`: it cannot be taken back,
/// such as growing a disk, so it runs after every step that can).
#[derive(Clone, Debug, PartialEq)]
pub struct Step {
    pub method: &'static str,
    pub args: Vec<Value>,
    pub inverse: Option<(&'static str, Vec<Value>)>,
}

impl Step {
    pub fn new(method: &'static str, args: Vec<Value>, inverse: Option<(&'static str, Vec<Value>)>) -> Step {
        Step { method, args, inverse }
    }
}

pub struct Undo<'b> {
    b: &'b Backend,
    steps: Vec<(String, Vec<Value>)>,
}

impl<'b> Undo<'b> {
    pub fn new(b: &'b Backend) -> Undo<'b> {
        Undo { b, steps: Vec::new() }
    }

    pub fn backend(&self) -> &'b Backend {
        self.b
    }

    /// Calls `method(args)`; once it succeeded, `inverse` is what takes it back.
    pub fn call(&mut self, method: &str, args: Vec<Value>, inverse: Option<(&str, Vec<Value>)>) -> Result<Wire, XenError> {
        let w = self.b.call(method, args)?;
        if let Some((m, a)) = inverse {
            self.steps.push((m.to_string(), a));
        }
        Ok(w)
    }

    /// Runs planned steps: those that can be taken back first, in order, then the others.
    pub fn run(&mut self, steps: Vec<Step>) -> Result<(), XenError> {
        let (reversible, last): (Vec<Step>, Vec<Step>) = steps.into_iter().partition(|s| s.inverse.is_some());
        for s in reversible.into_iter().chain(last) {
            self.call(s.method, s.args, s.inverse)?;
        }
        Ok(())
    }

    /// Records a step done elsewhere (e.g. a VBD made by a helper): `method(args)` takes it back.
    pub fn push(&mut self, method: &str, args: Vec<Value>) {
        self.steps.push((method.to_string(), args));
    }

    /// Takes back every step, last first (each one is tried); the steps that failed, as text
    /// for the error message ("" when all went back).
    pub fn rollback(self) -> String {
        let failed: Vec<String> = self.steps.into_iter().rev().filter_map(|(m, a)| self.b.call(&m, a).err().map(|e| format!("{m}: {e}"))).collect();
        if failed.is_empty() {
            String::new()
        } else {
            format!(" (and undoing failed: {})", failed.join("; "))
        }
    }
}
