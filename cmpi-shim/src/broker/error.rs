//! The broker's CMPIError (extended errors, CMPI 2.0).

use super::objects::{arena_string, Obj, Owned};
use crate::abi::*;
use crate::ffi::{guard, guard_status, set_rc};
use crate::value::CmpiError;
use std::ffi::{CStr, CString};
use std::os::raw::c_char;
use std::ptr;

#[derive(Clone, Default)]
pub(crate) struct ErrorData {
    pub error_type: CMPIErrorType,
    pub other_error_type: Option<CString>,
    pub owning_entity: Option<CString>,
    pub message_id: Option<CString>,
    pub message: Option<CString>,
    pub severity: CMPIErrorSeverity,
    pub probable_cause: CMPIErrorProbableCause,
    pub probable_cause_description: Option<CString>,
    pub recommended_actions: Option<Owned>,
    pub error_source: Option<CString>,
    pub error_source_format: CMPIErrorSrcFormat,
    pub other_error_source_format: Option<CString>,
    pub cim_status_code: CMPIrc,
    pub cim_status_code_description: Option<CString>,
    pub message_arguments: Option<Owned>,
}

pub(crate) type ErrorObj = Obj<ErrorData, CMPIErrorFT>;

pub(crate) fn new_error_obj(d: ErrorData, in_arena: bool) -> *mut CMPIError {
    ErrorObj::alloc(&ERROR_FT, d, in_arena) as *mut CMPIError
}

/// Reads the status code and message of any CMPIError (through its function table).
///
/// # Safety
/// `er` is NULL or a valid CMPIError.
pub(crate) unsafe fn read_error(er: *const CMPIError) -> Option<CmpiError> {
    if er.is_null() || (*er).ft.is_null() {
        return None;
    }
    let ft = &*(*er).ft;
    let mut st = CMPIStatus::ok();
    let rc = ft.getCIMStatusCode?(er, &mut st);
    let msg = ft.getMessage.map(|f| f(er, &mut st)).unwrap_or(ptr::null_mut());
    Some(CmpiError::new(rc, crate::conv::string_of(msg).unwrap_or_default()))
}

unsafe extern "C" fn err_release(p: *mut CMPIError) -> CMPIStatus {
    guard_status(|| ErrorObj::release(p, &ERROR_FT))
}
unsafe extern "C" fn err_clone(p: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIError {
    guard(rc, ptr::null_mut(), || match ErrorObj::data(p, &ERROR_FT) {
        Some(d) => {
            set_rc(rc, CMPI_RC_OK);
            new_error_obj(d.clone(), false)
        }
        None => {
            set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
            ptr::null_mut()
        }
    })
}

macro_rules! scalar_field {
    ($get:ident, $field:ident, $t:ty) => {
        unsafe extern "C" fn $get(p: *const CMPIError, rc: *mut CMPIStatus) -> $t {
            guard(rc, 0, || match ErrorObj::data(p, &ERROR_FT) {
                Some(d) => {
                    set_rc(rc, CMPI_RC_OK);
                    d.$field
                }
                None => {
                    set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
                    0
                }
            })
        }
    };
    ($get:ident, $set:ident, $field:ident, $t:ty) => {
        scalar_field!($get, $field, $t);
        unsafe extern "C" fn $set(p: *const CMPIError, v: $t) -> CMPIStatus {
            guard_status(|| match ErrorObj::data(p, &ERROR_FT) {
                Some(d) => {
                    d.$field = v;
                    CMPIStatus::ok()
                }
                None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
            })
        }
    };
}

macro_rules! string_field {
    ($get:ident, $field:ident) => {
        unsafe extern "C" fn $get(p: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIString {
            guard(rc, ptr::null_mut(), || match ErrorObj::data(p, &ERROR_FT) {
                Some(d) => {
                    set_rc(rc, CMPI_RC_OK);
                    d.$field.as_deref().map(arena_string).unwrap_or(ptr::null_mut())
                }
                None => {
                    set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
                    ptr::null_mut()
                }
            })
        }
    };
    ($get:ident, $set:ident, $field:ident) => {
        string_field!($get, $field);
        unsafe extern "C" fn $set(p: *const CMPIError, v: *const c_char) -> CMPIStatus {
            guard_status(|| match ErrorObj::data(p, &ERROR_FT) {
                Some(d) => {
                    d.$field = if v.is_null() { None } else { Some(CStr::from_ptr(v).to_owned()) };
                    CMPIStatus::ok()
                }
                None => CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE),
            })
        }
    };
}

macro_rules! array_field {
    ($get:ident, $set:ident, $field:ident) => {
        unsafe extern "C" fn $get(p: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIArray {
            guard(rc, ptr::null_mut(), || match ErrorObj::data(p, &ERROR_FT) {
                Some(d) => {
                    set_rc(rc, CMPI_RC_OK);
                    d.$field.as_ref().map(|o| o.get().value.array).unwrap_or(ptr::null_mut())
                }
                None => {
                    set_rc(rc, CMPI_RC_ERR_INVALID_HANDLE);
                    ptr::null_mut()
                }
            })
        }
        unsafe extern "C" fn $set(p: *const CMPIError, a: *const CMPIArray) -> CMPIStatus {
            guard_status(|| {
                let Some(d) = ErrorObj::data(p, &ERROR_FT) else {
                    return CMPIStatus::rc(CMPI_RC_ERR_INVALID_HANDLE);
                };
                if a.is_null() {
                    d.$field = None;
                    return CMPIStatus::ok();
                }
                let v = CMPIValue { array: a as *mut CMPIArray };
                match Owned::copy(&v, CMPI_stringA) {
                    Ok(o) => {
                        d.$field = Some(o);
                        CMPIStatus::ok()
                    }
                    Err(rc) => CMPIStatus::rc(rc),
                }
            })
        }
    };
}

scalar_field!(err_get_type, err_set_type, error_type, CMPIErrorType);
scalar_field!(err_get_sev, severity, CMPIErrorSeverity);
scalar_field!(err_get_cause, probable_cause, CMPIErrorProbableCause);
scalar_field!(err_get_src_fmt, err_set_src_fmt, error_source_format, CMPIErrorSrcFormat);
scalar_field!(err_get_code, cim_status_code, CMPIrc);
string_field!(err_get_other_type, err_set_other_type, other_error_type);
string_field!(err_get_owner, owning_entity);
string_field!(err_get_msg_id, message_id);
string_field!(err_get_msg, message);
string_field!(err_get_cause_desc, err_set_cause_desc, probable_cause_description);
string_field!(err_get_source, err_set_source, error_source);
string_field!(err_get_other_src_fmt, err_set_other_src_fmt, other_error_source_format);
string_field!(err_get_code_desc, err_set_code_desc, cim_status_code_description);
array_field!(err_get_actions, err_set_actions, recommended_actions);
array_field!(err_get_args, err_set_args, message_arguments);

// Severity, probable cause and status code are fixed at creation (no setters in CMPI 2.0).

pub(crate) static ERROR_FT: CMPIErrorFT = CMPIErrorFT {
    ftVersion: CMPICurrentVersion,
    release: Some(err_release),
    clone: Some(err_clone),
    getErrorType: Some(err_get_type),
    getOtherErrorType: Some(err_get_other_type),
    getOwningEntity: Some(err_get_owner),
    getMessageID: Some(err_get_msg_id),
    getMessage: Some(err_get_msg),
    getPerceivedSeverity: Some(err_get_sev),
    getProbableCause: Some(err_get_cause),
    getProbableCauseDescription: Some(err_get_cause_desc),
    getRecommendedActions: Some(err_get_actions),
    getErrorSource: Some(err_get_source),
    getErrorSourceFormat: Some(err_get_src_fmt),
    getOtherErrorSourceFormat: Some(err_get_other_src_fmt),
    getCIMStatusCode: Some(err_get_code),
    getCIMStatusCodeDescription: Some(err_get_code_desc),
    getMessageArguments: Some(err_get_args),
    setErrorType: Some(err_set_type),
    setOtherErrorType: Some(err_set_other_type),
    setProbableCauseDescription: Some(err_set_cause_desc),
    setRecommendedActions: Some(err_set_actions),
    setErrorSource: Some(err_set_source),
    setErrorSourceFormat: Some(err_set_src_fmt),
    setOtherErrorSourceFormat: Some(err_set_other_src_fmt),
    setCIMStatusCodeDescription: Some(err_set_code_desc),
    setMessageArguments: Some(err_set_args),
};
