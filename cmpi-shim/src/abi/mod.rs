//! Raw CMPI 2.0 ABI: `#[repr(C)]` definitions matching the Open Group CMPI 2.0
//! standard (as implemented by SFCB 1.4 and OpenPegasus 2.14) on LP64 targets.
//!
//! Names follow the standard exactly so that the generated C header
//! (`include/cmpi.h`) can be used by C providers with the usual identifiers.
#![allow(non_camel_case_types, non_snake_case, non_upper_case_globals)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

mod ft;
mod mi;
#[cfg(test)]
mod tests;

pub use ft::*;
pub use mi::*;

// ---- primitive types -------------------------------------------------------

pub type CMPIBoolean = u8;
pub type CMPIChar16 = u16;
pub type CMPIUint8 = u8;
pub type CMPIUint16 = u16;
pub type CMPIUint32 = u32;
pub type CMPIUint64 = u64;
pub type CMPISint8 = i8;
pub type CMPISint16 = i16;
pub type CMPISint32 = i32;
pub type CMPISint64 = i64;
pub type CMPIReal32 = f32;
pub type CMPIReal64 = f64;
pub type CMPICount = u32;
pub type CMPIType = u16;
pub type CMPIValueState = u16;
pub type CMPIFlags = u32;
pub type CMPIVersion = c_int;
/// C enum `CMPIrc` (an `unsigned int` with gcc on Linux).
pub type CMPIrc = c_uint;
pub type CMPIPredOp = c_uint;
pub type CMPIErrorType = c_uint;
pub type CMPIErrorSeverity = c_uint;
pub type CMPIErrorProbableCause = c_uint;
pub type CMPIErrorSrcFormat = c_uint;
pub type CMPILevel = c_uint;
pub type CMPISeverity = c_uint;
pub type CMPIMsgFileHandle = *mut c_void;
pub type CMPIGcStat = c_void;
pub type CMPI_THREAD_RETURN = *mut c_void;
pub type CMPI_THREAD_TYPE = *mut c_void;
pub type CMPI_MUTEX_TYPE = *mut c_void;
pub type CMPI_COND_TYPE = *mut c_void;
/// `pthread_key_t` on Linux.
pub type CMPI_THREAD_KEY_TYPE = c_uint;

/// `struct timespec` on LP64 Linux, used by `CMPIBrokerExtFT.timedCondWait`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CMPITimespec {
    pub tv_sec: i64,
    pub tv_nsec: i64,
}

// ---- versions --------------------------------------------------------------

pub const CMPIVersion100: CMPIVersion = 100;
pub const CMPIVersion200: CMPIVersion = 200;
/// The version this crate implements and puts in every function table.
pub const CMPICurrentVersion: CMPIVersion = 200;

// ---- CMPIType codes --------------------------------------------------------

pub const CMPI_null: CMPIType = 0;
pub const CMPI_SIMPLE: CMPIType = 2;
pub const CMPI_boolean: CMPIType = 2;
pub const CMPI_char16: CMPIType = 2 + 1;
pub const CMPI_REAL: CMPIType = 2 << 2;
pub const CMPI_real32: CMPIType = 2 << 2;
pub const CMPI_real64: CMPIType = (2 + 1) << 2;
pub const CMPI_UINT: CMPIType = 8 << 4;
pub const CMPI_uint8: CMPIType = 8 << 4;
pub const CMPI_uint16: CMPIType = (8 + 1) << 4;
pub const CMPI_uint32: CMPIType = (8 + 2) << 4;
pub const CMPI_uint64: CMPIType = (8 + 3) << 4;
pub const CMPI_SINT: CMPIType = (8 + 4) << 4;
pub const CMPI_sint8: CMPIType = (8 + 4) << 4;
pub const CMPI_sint16: CMPIType = (8 + 5) << 4;
pub const CMPI_sint32: CMPIType = (8 + 6) << 4;
pub const CMPI_sint64: CMPIType = (8 + 7) << 4;
pub const CMPI_INTEGER: CMPIType = CMPI_UINT | CMPI_SINT;
pub const CMPI_ENC: CMPIType = 16 << 8;
pub const CMPI_instance: CMPIType = 16 << 8;
pub const CMPI_ref: CMPIType = (16 + 1) << 8;
pub const CMPI_args: CMPIType = (16 + 2) << 8;
pub const CMPI_class: CMPIType = (16 + 3) << 8;
pub const CMPI_filter: CMPIType = (16 + 4) << 8;
pub const CMPI_enumeration: CMPIType = (16 + 5) << 8;
pub const CMPI_string: CMPIType = (16 + 6) << 8;
pub const CMPI_chars: CMPIType = (16 + 7) << 8;
pub const CMPI_dateTime: CMPIType = (16 + 8) << 8;
pub const CMPI_ptr: CMPIType = (16 + 9) << 8;
pub const CMPI_charsptr: CMPIType = (16 + 10) << 8;
pub const CMPI_ARRAY: CMPIType = 1 << 13;
pub const CMPI_SIMPLEA: CMPIType = CMPI_ARRAY | CMPI_SIMPLE;
pub const CMPI_booleanA: CMPIType = CMPI_ARRAY | CMPI_boolean;
pub const CMPI_char16A: CMPIType = CMPI_ARRAY | CMPI_char16;
pub const CMPI_REALA: CMPIType = CMPI_ARRAY | CMPI_REAL;
pub const CMPI_real32A: CMPIType = CMPI_ARRAY | CMPI_real32;
pub const CMPI_real64A: CMPIType = CMPI_ARRAY | CMPI_real64;
pub const CMPI_UINTA: CMPIType = CMPI_ARRAY | CMPI_UINT;
pub const CMPI_uint8A: CMPIType = CMPI_ARRAY | CMPI_uint8;
pub const CMPI_uint16A: CMPIType = CMPI_ARRAY | CMPI_uint16;
pub const CMPI_uint32A: CMPIType = CMPI_ARRAY | CMPI_uint32;
pub const CMPI_uint64A: CMPIType = CMPI_ARRAY | CMPI_uint64;
pub const CMPI_SINTA: CMPIType = CMPI_ARRAY | CMPI_SINT;
pub const CMPI_sint8A: CMPIType = CMPI_ARRAY | CMPI_sint8;
pub const CMPI_sint16A: CMPIType = CMPI_ARRAY | CMPI_sint16;
pub const CMPI_sint32A: CMPIType = CMPI_ARRAY | CMPI_sint32;
pub const CMPI_sint64A: CMPIType = CMPI_ARRAY | CMPI_sint64;
pub const CMPI_INTEGERA: CMPIType = CMPI_ARRAY | CMPI_INTEGER;
pub const CMPI_ENCA: CMPIType = CMPI_ARRAY | CMPI_ENC;
pub const CMPI_instanceA: CMPIType = CMPI_ARRAY | CMPI_instance;
pub const CMPI_refA: CMPIType = CMPI_ARRAY | CMPI_ref;
pub const CMPI_stringA: CMPIType = CMPI_ARRAY | CMPI_string;
pub const CMPI_charsA: CMPIType = CMPI_ARRAY | CMPI_chars;
pub const CMPI_dateTimeA: CMPIType = CMPI_ARRAY | CMPI_dateTime;
pub const CMPI_charsptrA: CMPIType = CMPI_ARRAY | CMPI_charsptr;
pub const CMPI_keyInteger: CMPIType = CMPI_sint64;
pub const CMPI_keyString: CMPIType = CMPI_string;
pub const CMPI_keyBoolean: CMPIType = CMPI_boolean;
pub const CMPI_keyRef: CMPIType = CMPI_ref;

// ---- CMPIValueState --------------------------------------------------------

pub const CMPI_goodValue: CMPIValueState = 0;
pub const CMPI_nullValue: CMPIValueState = 1 << 8;
pub const CMPI_keyValue: CMPIValueState = 2 << 8;
pub const CMPI_notFound: CMPIValueState = 4 << 8;
pub const CMPI_badValue: CMPIValueState = 0x80 << 8;

// ---- CMPIFlags -------------------------------------------------------------

pub const CMPI_FLAG_LocalOnly: CMPIFlags = 1;
pub const CMPI_FLAG_DeepInheritance: CMPIFlags = 2;
pub const CMPI_FLAG_IncludeQualifiers: CMPIFlags = 4;
pub const CMPI_FLAG_IncludeClassOrigin: CMPIFlags = 8;

// ---- context entry names (NUL-terminated) ----------------------------------

pub const CMPIInitNameSpace: &[u8] = b"CMPIInitNameSpace\0";
pub const CMPIInvocationFlags: &[u8] = b"CMPIInvocationFlags\0";
pub const CMPIPrincipal: &[u8] = b"CMPIPrincipal\0";
pub const CMPIRole: &[u8] = b"CMPIRole\0";
pub const CMPIAcceptLanguage: &[u8] = b"CMPIAcceptLanguage\0";
pub const CMPIContentLanguage: &[u8] = b"CMPIContentLanguage\0";

// ---- CMPIrc ----------------------------------------------------------------

pub const CMPI_RC_OK: CMPIrc = 0;
pub const CMPI_RC_ERR_FAILED: CMPIrc = 1;
pub const CMPI_RC_ERR_ACCESS_DENIED: CMPIrc = 2;
pub const CMPI_RC_ERR_INVALID_NAMESPACE: CMPIrc = 3;
pub const CMPI_RC_ERR_INVALID_PARAMETER: CMPIrc = 4;
pub const CMPI_RC_ERR_INVALID_CLASS: CMPIrc = 5;
pub const CMPI_RC_ERR_NOT_FOUND: CMPIrc = 6;
pub const CMPI_RC_ERR_NOT_SUPPORTED: CMPIrc = 7;
pub const CMPI_RC_ERR_CLASS_HAS_CHILDREN: CMPIrc = 8;
pub const CMPI_RC_ERR_CLASS_HAS_INSTANCES: CMPIrc = 9;
pub const CMPI_RC_ERR_INVALID_SUPERCLASS: CMPIrc = 10;
pub const CMPI_RC_ERR_ALREADY_EXISTS: CMPIrc = 11;
pub const CMPI_RC_ERR_NO_SUCH_PROPERTY: CMPIrc = 12;
pub const CMPI_RC_ERR_TYPE_MISMATCH: CMPIrc = 13;
pub const CMPI_RC_ERR_QUERY_LANGUAGE_NOT_SUPPORTED: CMPIrc = 14;
pub const CMPI_RC_ERR_INVALID_QUERY: CMPIrc = 15;
pub const CMPI_RC_ERR_METHOD_NOT_AVAILABLE: CMPIrc = 16;
pub const CMPI_RC_ERR_METHOD_NOT_FOUND: CMPIrc = 17;
pub const CMPI_RC_NO_MORE_ELEMENTS: CMPIrc = 18;
pub const CMPI_RC_ERR_SERVER_LIMITS_EXCEEDED: CMPIrc = 27;
pub const CMPI_RC_ERR_QUERY_FEATURE_NOT_SUPPORTED: CMPIrc = 29;
pub const CMPI_RC_DO_NOT_UNLOAD: CMPIrc = 50;
pub const CMPI_RC_NEVER_UNLOAD: CMPIrc = 51;
pub const CMPI_RC_ERR_INVALID_HANDLE: CMPIrc = 60;
pub const CMPI_RC_ERR_INVALID_DATA_TYPE: CMPIrc = 61;
pub const CMPI_RC_ERR_NOT_IN_CODEPAGE: CMPIrc = 62;
pub const CMPI_RC_ERROR_SYSTEM: CMPIrc = 100;
pub const CMPI_RC_ERROR: CMPIrc = 200;

// ---- broker capabilities ---------------------------------------------------

pub const CMPI_MB_BasicRead: c_uint = 0x0000_0001;
pub const CMPI_MB_BasicWrite: c_uint = 0x0000_0003;
pub const CMPI_MB_InstanceManipulation: c_uint = 0x0000_0007;
pub const CMPI_MB_AssociationTraversal: c_uint = 0x0000_0009;
pub const CMPI_MB_QueryExecution: c_uint = 0x0000_0011;
pub const CMPI_MB_QueryNormalization: c_uint = 0x0000_0031;
pub const CMPI_MB_Indications: c_uint = 0x0000_0081;
pub const CMPI_MB_BasicQualifierSupport: c_uint = 0x0000_0047;
pub const CMPI_MB_OSEncapsulationSupport: c_uint = 0x0000_0100;
pub const CMPI_MB_Supports_MemEnhancements: c_uint = 0x0000_4000;
pub const CMPI_MB_Supports_Extended_Error: c_uint = 0x0000_8000;

// ---- data ------------------------------------------------------------------

/// A raw data area (`CMPIValue.dataPtr`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CMPIValuePtr {
    pub ptr: *mut c_void,
    pub length: CMPICount,
}

/// Union of every value representation.
#[repr(C)]
#[derive(Clone, Copy)]
pub union CMPIValue {
    pub boolean: CMPIBoolean,
    pub char16: CMPIChar16,
    pub uint8: CMPIUint8,
    pub uint16: CMPIUint16,
    pub uint32: CMPIUint32,
    pub uint64: CMPIUint64,
    pub sint8: CMPISint8,
    pub sint16: CMPISint16,
    pub sint32: CMPISint32,
    pub sint64: CMPISint64,
    pub real32: CMPIReal32,
    pub real64: CMPIReal64,
    pub inst: *mut CMPIInstance,
    pub r#ref: *mut CMPIObjectPath,
    pub args: *mut CMPIArgs,
    pub filter: *mut CMPISelectExp,
    pub Enum: *mut CMPIEnumeration,
    pub array: *mut CMPIArray,
    pub string: *mut CMPIString,
    pub chars: *mut c_char,
    pub dateTime: *mut CMPIDateTime,
    pub dataPtr: CMPIValuePtr,
}

impl CMPIValue {
    /// An all-zero value.
    pub const fn zeroed() -> Self {
        CMPIValue { dataPtr: CMPIValuePtr { ptr: std::ptr::null_mut(), length: 0 } }
    }
}

/// Typed data item with state.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CMPIData {
    pub r#type: CMPIType,
    pub state: CMPIValueState,
    pub value: CMPIValue,
}

impl CMPIData {
    /// A data item of type `CMPI_null` in state `CMPI_nullValue`.
    pub const fn null() -> Self {
        CMPIData { r#type: CMPI_null, state: CMPI_nullValue, value: CMPIValue::zeroed() }
    }
    /// A null data item of type `ty` (the `notFound` / `nullValue` states may be or-ed).
    pub const fn with_state(ty: CMPIType, state: CMPIValueState) -> Self {
        CMPIData { r#type: ty, state, value: CMPIValue::zeroed() }
    }
}

/// Result status of every MB and MI function.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct CMPIStatus {
    pub rc: CMPIrc,
    pub msg: *mut CMPIString,
}

impl CMPIStatus {
    pub const fn ok() -> Self {
        CMPIStatus { rc: CMPI_RC_OK, msg: std::ptr::null_mut() }
    }
    pub const fn rc(rc: CMPIrc) -> Self {
        CMPIStatus { rc, msg: std::ptr::null_mut() }
    }
}

/// `CMPIAccessor`: property accessor used by `evaluateUsingAccessor`.
pub type CMPIAccessor = unsafe extern "C" fn(name: *const c_char, parm: *mut c_void) -> CMPIData;
/// A nullable `CMPIAccessor*`, as passed to `evaluateUsingAccessor`.
pub type CMPIAccessorPtr = Option<unsafe extern "C" fn(name: *const c_char, parm: *mut c_void) -> CMPIData>;

// ---- encapsulated types ----------------------------------------------------


/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIContext {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIContextFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIResult {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIResultFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIString {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIStringFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIArray {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIArrayFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIEnumeration {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIEnumerationFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIInstance {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIInstanceFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIObjectPath {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIObjectPathFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIArgs {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIArgsFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIDateTime {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIDateTimeFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPISelectExp {
    pub hdl: *mut c_void,
    pub ft: *mut CMPISelectExpFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPISelectCond {
    pub hdl: *mut c_void,
    pub ft: *mut CMPISelectCondFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPISubCond {
    pub hdl: *mut c_void,
    pub ft: *mut CMPISubCondFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIPredicate {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIPredicateFT,
}

/// Encapsulated CMPI object: an opaque handle and its function table.
#[repr(C)]
pub struct CMPIError {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIErrorFT,
}


/// The broker handle passed to every provider.
#[repr(C)]
pub struct CMPIBroker {
    pub hdl: *mut c_void,
    pub bft: *mut CMPIBrokerFT,
    pub eft: *mut CMPIBrokerEncFT,
    pub xft: *mut CMPIBrokerExtFT,
    pub mft: *mut CMPIBrokerMemFT,
}
