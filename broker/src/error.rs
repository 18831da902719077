//! CIM status codes (DSP0200 / DSP0004 table of CIM_ERR_*) and the error type
//! operations return.

use std::fmt;

pub const FAILED: u32 = 1;
pub const ACCESS_DENIED: u32 = 2;
pub const INVALID_NAMESPACE: u32 = 3;
pub const INVALID_PARAMETER: u32 = 4;
pub const INVALID_CLASS: u32 = 5;
pub const NOT_FOUND: u32 = 6;
pub const NOT_SUPPORTED: u32 = 7;
pub const CLASS_HAS_CHILDREN: u32 = 8;
pub const CLASS_HAS_INSTANCES: u32 = 9;
pub const INVALID_SUPERCLASS: u32 = 10;
pub const ALREADY_EXISTS: u32 = 11;
pub const NO_SUCH_PROPERTY: u32 = 12;
pub const TYPE_MISMATCH: u32 = 13;
pub const QUERY_LANGUAGE_NOT_SUPPORTED: u32 = 14;
pub const INVALID_QUERY: u32 = 15;
pub const METHOD_NOT_AVAILABLE: u32 = 16;
pub const METHOD_NOT_FOUND: u32 = 17;
pub const NAMESPACE_NOT_EMPTY: u32 = 20;
pub const INVALID_ENUMERATION_CONTEXT: u32 = 21;
pub const INVALID_OPERATION_TIMEOUT: u32 = 22;
pub const PULL_HAS_BEEN_ABANDONED: u32 = 23;
pub const PULL_CANNOT_BE_ABANDONED: u32 = 24;
pub const FILTERED_ENUMERATION_NOT_SUPPORTED: u32 = 25;
pub const CONTINUATION_ON_ERROR_NOT_SUPPORTED: u32 = 26;
pub const SERVER_LIMITS_EXCEEDED: u32 = 27;
pub const SERVER_IS_SHUTTING_DOWN: u32 = 28;

/// The symbolic name of a status code, as in DSP0200.
pub fn code_name(code: u32) -> &'static str {
    match code {
        FAILED => "CIM_ERR_FAILED",
        ACCESS_DENIED => "CIM_ERR_ACCESS_DENIED",
        INVALID_NAMESPACE => "CIM_ERR_INVALID_NAMESPACE",
        INVALID_PARAMETER => "CIM_ERR_INVALID_PARAMETER",
        INVALID_CLASS => "CIM_ERR_INVALID_CLASS",
        NOT_FOUND => "CIM_ERR_NOT_FOUND",
        NOT_SUPPORTED => "CIM_ERR_NOT_SUPPORTED",
        CLASS_HAS_CHILDREN => "CIM_ERR_CLASS_HAS_CHILDREN",
        CLASS_HAS_INSTANCES => "CIM_ERR_CLASS_HAS_INSTANCES",
        INVALID_SUPERCLASS => "CIM_ERR_INVALID_SUPERCLASS",
        ALREADY_EXISTS => "CIM_ERR_ALREADY_EXISTS",
        NO_SUCH_PROPERTY => "CIM_ERR_NO_SUCH_PROPERTY",
        TYPE_MISMATCH => "CIM_ERR_TYPE_MISMATCH",
        QUERY_LANGUAGE_NOT_SUPPORTED => "CIM_ERR_QUERY_LANGUAGE_NOT_SUPPORTED",
        INVALID_QUERY => "CIM_ERR_INVALID_QUERY",
        METHOD_NOT_AVAILABLE => "CIM_ERR_METHOD_NOT_AVAILABLE",
        METHOD_NOT_FOUND => "CIM_ERR_METHOD_NOT_FOUND",
        NAMESPACE_NOT_EMPTY => "CIM_ERR_NAMESPACE_NOT_EMPTY",
        INVALID_ENUMERATION_CONTEXT => "CIM_ERR_INVALID_ENUMERATION_CONTEXT",
        INVALID_OPERATION_TIMEOUT => "CIM_ERR_INVALID_OPERATION_TIMEOUT",
        PULL_HAS_BEEN_ABANDONED => "CIM_ERR_PULL_HAS_BEEN_ABANDONED",
        PULL_CANNOT_BE_ABANDONED => "CIM_ERR_PULL_CANNOT_BE_ABANDONED",
        FILTERED_ENUMERATION_NOT_SUPPORTED => "CIM_ERR_FILTERED_ENUMERATION_NOT_SUPPORTED",
        CONTINUATION_ON_ERROR_NOT_SUPPORTED => "CIM_ERR_CONTINUATION_ON_ERROR_NOT_SUPPORTED",
        SERVER_LIMITS_EXCEEDED => "CIM_ERR_SERVER_LIMITS_EXCEEDED",
        SERVER_IS_SHUTTING_DOWN => "CIM_ERR_SERVER_IS_SHUTTING_DOWN",
        _ => "CIM_ERR_UNKNOWN",
    }
}

/// A CIM error: status code and description, sent as `<ERROR CODE=...>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CimError {
    pub code: u32,
    pub description: String,
}

impl CimError {
    pub fn new(code: u32, description: impl Into<String>) -> Self {
        CimError { code, description: description.into() }
    }
    pub fn failed(d: impl Into<String>) -> Self {
        Self::new(FAILED, d)
    }
    pub fn invalid_parameter(d: impl Into<String>) -> Self {
        Self::new(INVALID_PARAMETER, d)
    }
    pub fn not_found(d: impl Into<String>) -> Self {
        Self::new(NOT_FOUND, d)
    }
    pub fn not_supported(d: impl Into<String>) -> Self {
        Self::new(NOT_SUPPORTED, d)
    }
    pub fn invalid_class(class: &str) -> Self {
        Self::new(INVALID_CLASS, format!("class {class} does not exist"))
    }
    pub fn invalid_namespace(ns: &str) -> Self {
        Self::new(INVALID_NAMESPACE, format!("namespace {ns} does not exist"))
    }
}

impl fmt::Display for CimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", code_name(self.code), self.code, self.description)
    }
}

impl std::error::Error for CimError {}

pub type CimResult<T> = Result<T, CimError>;
