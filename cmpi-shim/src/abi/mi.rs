//! Provider (MI) function tables and the factory function signatures.
#![allow(non_camel_case_types, non_snake_case)]

use super::*;
use std::os::raw::{c_char, c_void};


/// MI object handed to the broker by a `*_Create_*MI` factory.
#[repr(C)]
pub struct CMPIInstanceMI {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIInstanceMIFT,
}

/// MI object handed to the broker by a `*_Create_*MI` factory.
#[repr(C)]
pub struct CMPIAssociationMI {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIAssociationMIFT,
}

/// MI object handed to the broker by a `*_Create_*MI` factory.
#[repr(C)]
pub struct CMPIMethodMI {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIMethodMIFT,
}

/// MI object handed to the broker by a `*_Create_*MI` factory.
#[repr(C)]
pub struct CMPIPropertyMI {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIPropertyMIFT,
}

/// MI object handed to the broker by a `*_Create_*MI` factory.
#[repr(C)]
pub struct CMPIIndicationMI {
    pub hdl: *mut c_void,
    pub ft: *mut CMPIIndicationMIFT,
}



#[repr(C)]
pub struct CMPIInstanceMIFT {
    pub ftVersion: CMPIVersion,
    pub miVersion: CMPIVersion,
    pub miName: *const c_char,
    pub cleanup:
        Option<unsafe extern "C" fn(mi: *mut CMPIInstanceMI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus>,
    pub enumerateInstanceNames: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
        ) -> CMPIStatus,
    >,
    pub enumerateInstances: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub getInstance: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub createInstance: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            inst: *const CMPIInstance,
        ) -> CMPIStatus,
    >,
    pub modifyInstance: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            inst: *const CMPIInstance,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub deleteInstance: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
        ) -> CMPIStatus,
    >,
    pub execQuery: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIInstanceMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            query: *const c_char,
            lang: *const c_char,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIAssociationMIFT {
    pub ftVersion: CMPIVersion,
    pub miVersion: CMPIVersion,
    pub miName: *const c_char,
    pub cleanup: Option<
        unsafe extern "C" fn(mi: *mut CMPIAssociationMI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus,
    >,
    pub associators: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIAssociationMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            assocClass: *const c_char,
            resultClass: *const c_char,
            role: *const c_char,
            resultRole: *const c_char,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub associatorNames: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIAssociationMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            assocClass: *const c_char,
            resultClass: *const c_char,
            role: *const c_char,
            resultRole: *const c_char,
        ) -> CMPIStatus,
    >,
    pub references: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIAssociationMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            resultClass: *const c_char,
            role: *const c_char,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub referenceNames: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIAssociationMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            resultClass: *const c_char,
            role: *const c_char,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIMethodMIFT {
    pub ftVersion: CMPIVersion,
    pub miVersion: CMPIVersion,
    pub miName: *const c_char,
    pub cleanup: Option<
        unsafe extern "C" fn(mi: *mut CMPIMethodMI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus,
    >,
    pub invokeMethod: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIMethodMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            method: *const c_char,
            r#in: *const CMPIArgs,
            out: *mut CMPIArgs,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIPropertyMIFT {
    pub ftVersion: CMPIVersion,
    pub miVersion: CMPIVersion,
    pub miName: *const c_char,
    pub cleanup: Option<
        unsafe extern "C" fn(mi: *mut CMPIPropertyMI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus,
    >,
    pub setProperty: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIPropertyMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            name: *const c_char,
            data: CMPIData,
        ) -> CMPIStatus,
    >,
    pub getProperty: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIPropertyMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            name: *const c_char,
        ) -> CMPIStatus,
    >,
    pub setPropertyWithOrigin: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIPropertyMI,
            ctx: *const CMPIContext,
            rslt: *const CMPIResult,
            op: *const CMPIObjectPath,
            name: *const c_char,
            data: CMPIData,
            origin: *const c_char,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIIndicationMIFT {
    pub ftVersion: CMPIVersion,
    pub miVersion: CMPIVersion,
    pub miName: *const c_char,
    pub cleanup: Option<
        unsafe extern "C" fn(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext, terminating: CMPIBoolean) -> CMPIStatus,
    >,
    pub authorizeFilter: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIIndicationMI,
            ctx: *const CMPIContext,
            filter: *const CMPISelectExp,
            className: *const c_char,
            op: *const CMPIObjectPath,
            owner: *const c_char,
        ) -> CMPIStatus,
    >,
    pub mustPoll: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIIndicationMI,
            ctx: *const CMPIContext,
            filter: *const CMPISelectExp,
            className: *const c_char,
            op: *const CMPIObjectPath,
        ) -> CMPIStatus,
    >,
    pub activateFilter: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIIndicationMI,
            ctx: *const CMPIContext,
            filter: *const CMPISelectExp,
            className: *const c_char,
            op: *const CMPIObjectPath,
            firstActivation: CMPIBoolean,
        ) -> CMPIStatus,
    >,
    pub deActivateFilter: Option<
        unsafe extern "C" fn(
            mi: *mut CMPIIndicationMI,
            ctx: *const CMPIContext,
            filter: *const CMPISelectExp,
            className: *const c_char,
            op: *const CMPIObjectPath,
            lastActivation: CMPIBoolean,
        ) -> CMPIStatus,
    >,
    pub enableIndications: Option<unsafe extern "C" fn(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext) -> CMPIStatus>,
    pub disableIndications:
        Option<unsafe extern "C" fn(mi: *mut CMPIIndicationMI, ctx: *const CMPIContext) -> CMPIStatus>,
}

/// `<Name>_Create_InstanceMI` (and the Association/Method/Property/Indication forms).
pub type CMPICreateMIFn<MI> =
    unsafe extern "C" fn(broker: *const CMPIBroker, ctx: *const CMPIContext, rc: *mut CMPIStatus) -> *mut MI;
/// `_Generic_Create_<Type>MI`, tried first by SFCB.
pub type CMPIGenericCreateMIFn<MI> = unsafe extern "C" fn(
    broker: *const CMPIBroker,
    ctx: *const CMPIContext,
    providerName: *const c_char,
    rc: *mut CMPIStatus,
) -> *mut MI;
