//! Function tables of the broker services and of the encapsulated types.
#![allow(non_camel_case_types, non_snake_case)]

use super::*;
use std::os::raw::{c_char, c_int, c_uint, c_void};

/// Broker services (up-calls) — `CMPIBroker.bft`.
#[repr(C)]
pub struct CMPIBrokerFT {
    pub brokerCapabilities: c_uint,
    pub brokerVersion: c_uint,
    pub brokerName: *const c_char,
    pub prepareAttachThread:
        Option<unsafe extern "C" fn(mb: *const CMPIBroker, ctx: *const CMPIContext) -> *mut CMPIContext>,
    pub attachThread: Option<unsafe extern "C" fn(mb: *const CMPIBroker, ctx: *const CMPIContext) -> CMPIStatus>,
    pub detachThread: Option<unsafe extern "C" fn(mb: *const CMPIBroker, ctx: *const CMPIContext) -> CMPIStatus>,
    pub deliverIndication: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            ns: *const c_char,
            ind: *const CMPIInstance,
        ) -> CMPIStatus,
    >,
    pub enumerateInstanceNames: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub getInstance: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            properties: *mut *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIInstance,
    >,
    pub createInstance: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            inst: *const CMPIInstance,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIObjectPath,
    >,
    pub modifyInstance: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            inst: *const CMPIInstance,
            properties: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub deleteInstance: Option<
        unsafe extern "C" fn(mb: *const CMPIBroker, ctx: *const CMPIContext, op: *const CMPIObjectPath) -> CMPIStatus,
    >,
    pub execQuery: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            query: *const c_char,
            lang: *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub enumerateInstances: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            properties: *mut *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub associators: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            assocClass: *const c_char,
            resultClass: *const c_char,
            role: *const c_char,
            resultRole: *const c_char,
            properties: *mut *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub associatorNames: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            assocClass: *const c_char,
            resultClass: *const c_char,
            role: *const c_char,
            resultRole: *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub references: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            resultClass: *const c_char,
            role: *const c_char,
            properties: *mut *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub referenceNames: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            resultClass: *const c_char,
            role: *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIEnumeration,
    >,
    pub invokeMethod: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            method: *const c_char,
            r#in: *const CMPIArgs,
            out: *mut CMPIArgs,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub setProperty: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
    pub getProperty: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ctx: *const CMPIContext,
            op: *const CMPIObjectPath,
            name: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
}

/// `getMessage` / `getMessage2` take trailing varargs (type, value pairs).
pub type CMPIGetMessageFn = Option<
    unsafe extern "C" fn(
    mb: *const CMPIBroker,
    msgId: *const c_char,
    defMsg: *const c_char,
    rc: *mut CMPIStatus,
    count: CMPICount,
    ...
) -> *mut CMPIString,
>;
pub type CMPIGetMessage2Fn = Option<
    unsafe extern "C" fn(
    mb: *const CMPIBroker,
    msgId: *const c_char,
    msgFileHandle: CMPIMsgFileHandle,
    defMsg: *const c_char,
    rc: *mut CMPIStatus,
    count: CMPICount,
    ...
) -> *mut CMPIString,
>;

/// Factory services for encapsulated objects — `CMPIBroker.eft`.
#[repr(C)]
pub struct CMPIBrokerEncFT {
    pub ftVersion: CMPIVersion,
    pub newInstance: Option<
        unsafe extern "C" fn(mb: *const CMPIBroker, op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIInstance,
    >,
    pub newObjectPath: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            ns: *const c_char,
            cn: *const c_char,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIObjectPath,
    >,
    pub newArgs: Option<unsafe extern "C" fn(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIArgs>,
    pub newString:
        Option<unsafe extern "C" fn(mb: *const CMPIBroker, data: *const c_char, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub newArray: Option<
        unsafe extern "C" fn(mb: *const CMPIBroker, max: CMPICount, r#type: CMPIType, rc: *mut CMPIStatus) -> *mut CMPIArray,
    >,
    pub newDateTime: Option<unsafe extern "C" fn(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIDateTime>,
    pub newDateTimeFromBinary: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            binTime: CMPIUint64,
            interval: CMPIBoolean,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIDateTime,
    >,
    pub newDateTimeFromChars: Option<
        unsafe extern "C" fn(mb: *const CMPIBroker, datetime: *const c_char, rc: *mut CMPIStatus) -> *mut CMPIDateTime,
    >,
    pub newSelectExp: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            query: *const c_char,
            lang: *const c_char,
            projection: *mut *mut CMPIArray,
            rc: *mut CMPIStatus,
        ) -> *mut CMPISelectExp,
    >,
    pub classPathIsA: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            classPath: *const CMPIObjectPath,
            className: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIBoolean,
    >,
    pub toString:
        Option<unsafe extern "C" fn(mb: *const CMPIBroker, object: *const c_void, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub isOfType: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            object: *const c_void,
            r#type: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIBoolean,
    >,
    pub getType:
        Option<unsafe extern "C" fn(mb: *const CMPIBroker, object: *const c_void, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub getMessage: CMPIGetMessageFn,
    pub logMessage: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            severity: c_int,
            id: *const c_char,
            text: *const c_char,
            string: *const CMPIString,
        ) -> CMPIStatus,
    >,
    pub trace: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            level: CMPILevel,
            component: *const c_char,
            text: *const c_char,
            string: *const CMPIString,
        ) -> CMPIStatus,
    >,
    pub newCMPIError: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            owner: *const c_char,
            msgID: *const c_char,
            msg: *const c_char,
            sev: CMPIErrorSeverity,
            pc: CMPIErrorProbableCause,
            cimStatusCode: CMPIrc,
            rc: *mut CMPIStatus,
        ) -> *mut CMPIError,
    >,
    pub openMessageFile: Option<
        unsafe extern "C" fn(
            mb: *const CMPIBroker,
            msgFile: *const c_char,
            msgFileHandle: *mut CMPIMsgFileHandle,
        ) -> CMPIStatus,
    >,
    pub closeMessageFile:
        Option<unsafe extern "C" fn(mb: *const CMPIBroker, msgFileHandle: CMPIMsgFileHandle) -> CMPIStatus>,
    pub getMessage2: CMPIGetMessage2Fn,
}

/// OS encapsulation services — `CMPIBroker.xft`.
#[repr(C)]
pub struct CMPIBrokerExtFT {
    pub ftVersion: CMPIVersion,
    pub resolveFileName: Option<unsafe extern "C" fn(filename: *const c_char) -> *mut c_char>,
    pub newThread: Option<
        unsafe extern "C" fn(
            start: Option<unsafe extern "C" fn(parm: *mut c_void) -> CMPI_THREAD_RETURN>,
            parm: *mut c_void,
            detached: c_int,
        ) -> CMPI_THREAD_TYPE,
    >,
    pub joinThread: Option<unsafe extern "C" fn(thread: CMPI_THREAD_TYPE, retval: *mut CMPI_THREAD_RETURN) -> c_int>,
    pub exitThread: Option<unsafe extern "C" fn(return_code: CMPI_THREAD_RETURN) -> c_int>,
    pub cancelThread: Option<unsafe extern "C" fn(thread: CMPI_THREAD_TYPE) -> c_int>,
    pub threadSleep: Option<unsafe extern "C" fn(msec: CMPIUint32) -> c_int>,
    pub threadOnce: Option<unsafe extern "C" fn(once: *mut c_int, init: Option<unsafe extern "C" fn()>) -> c_int>,
    pub createThreadKey: Option<
        unsafe extern "C" fn(
            key: *mut CMPI_THREAD_KEY_TYPE,
            cleanup: Option<unsafe extern "C" fn(value: *mut c_void)>,
        ) -> c_int,
    >,
    pub destroyThreadKey: Option<unsafe extern "C" fn(key: CMPI_THREAD_KEY_TYPE) -> c_int>,
    pub getThreadSpecific: Option<unsafe extern "C" fn(key: CMPI_THREAD_KEY_TYPE) -> *mut c_void>,
    pub setThreadSpecific: Option<unsafe extern "C" fn(key: CMPI_THREAD_KEY_TYPE, value: *mut c_void) -> c_int>,
    pub newMutex: Option<unsafe extern "C" fn(opt: c_int) -> CMPI_MUTEX_TYPE>,
    pub destroyMutex: Option<unsafe extern "C" fn(mutex: CMPI_MUTEX_TYPE)>,
    pub lockMutex: Option<unsafe extern "C" fn(mutex: CMPI_MUTEX_TYPE)>,
    pub unlockMutex: Option<unsafe extern "C" fn(mutex: CMPI_MUTEX_TYPE)>,
    pub newCondition: Option<unsafe extern "C" fn(opt: c_int) -> CMPI_COND_TYPE>,
    pub destroyCondition: Option<unsafe extern "C" fn(cond: CMPI_COND_TYPE)>,
    pub condWait: Option<unsafe extern "C" fn(cond: CMPI_COND_TYPE, mutex: CMPI_MUTEX_TYPE) -> c_int>,
    pub timedCondWait: Option<
        unsafe extern "C" fn(cond: CMPI_COND_TYPE, mutex: CMPI_MUTEX_TYPE, wait: *mut CMPITimespec) -> c_int,
    >,
    pub signalCondition: Option<unsafe extern "C" fn(cond: CMPI_COND_TYPE) -> c_int>,
}

/// Memory enhancement services — `CMPIBroker.mft`.
#[repr(C)]
pub struct CMPIBrokerMemFT {
    pub ftVersion: CMPIVersion,
    pub mark: Option<unsafe extern "C" fn(mb: *const CMPIBroker, rc: *mut CMPIStatus) -> *mut CMPIGcStat>,
    pub release: Option<unsafe extern "C" fn(mb: *const CMPIBroker, gc: *const CMPIGcStat) -> CMPIStatus>,
    pub cmpiMalloc: Option<unsafe extern "C" fn(mb: *const CMPIBroker, size: usize) -> *mut c_void>,
    pub cmpiCalloc: Option<unsafe extern "C" fn(mb: *const CMPIBroker, nElems: usize, sizeElem: usize) -> *mut c_void>,
    pub cmpiRealloc: Option<unsafe extern "C" fn(mb: *const CMPIBroker, ptr: *mut c_void, size: usize) -> *mut c_void>,
    pub cmpiStrDup: Option<unsafe extern "C" fn(mb: *const CMPIBroker, s: *const c_char) -> *mut c_char>,
    pub cmpiFree: Option<unsafe extern "C" fn(mb: *const CMPIBroker, ptr: *mut c_void)>,
    pub freeInstance: Option<unsafe extern "C" fn(mb: *const CMPIBroker, inst: *mut CMPIInstance)>,
    pub freeObjectPath: Option<unsafe extern "C" fn(mb: *const CMPIBroker, obj: *mut CMPIObjectPath)>,
    pub freeArgs: Option<unsafe extern "C" fn(mb: *const CMPIBroker, args: *mut CMPIArgs)>,
    pub freeString: Option<unsafe extern "C" fn(mb: *const CMPIBroker, str: *mut CMPIString)>,
    pub freeArray: Option<unsafe extern "C" fn(mb: *const CMPIBroker, array: *mut CMPIArray)>,
    pub freeDateTime: Option<unsafe extern "C" fn(mb: *const CMPIBroker, dt: *mut CMPIDateTime)>,
    pub freeSelectExp: Option<unsafe extern "C" fn(mb: *const CMPIBroker, se: *mut CMPISelectExp)>,
}

#[repr(C)]
pub struct CMPIContextFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(ctx: *mut CMPIContext) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(ctx: *const CMPIContext, rc: *mut CMPIStatus) -> *mut CMPIContext>,
    pub getEntry:
        Option<unsafe extern "C" fn(ctx: *const CMPIContext, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData>,
    pub getEntryAt: Option<
        unsafe extern "C" fn(
            ctx: *const CMPIContext,
            index: CMPICount,
            name: *mut *mut CMPIString,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getEntryCount: Option<unsafe extern "C" fn(ctx: *const CMPIContext, rc: *mut CMPIStatus) -> CMPICount>,
    pub addEntry: Option<
        unsafe extern "C" fn(
            ctx: *const CMPIContext,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIResultFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(rslt: *mut CMPIResult) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(rslt: *const CMPIResult, rc: *mut CMPIStatus) -> *mut CMPIResult>,
    pub returnData: Option<
        unsafe extern "C" fn(rslt: *const CMPIResult, value: *const CMPIValue, r#type: CMPIType) -> CMPIStatus,
    >,
    pub returnInstance: Option<unsafe extern "C" fn(rslt: *const CMPIResult, inst: *const CMPIInstance) -> CMPIStatus>,
    pub returnObjectPath:
        Option<unsafe extern "C" fn(rslt: *const CMPIResult, op: *const CMPIObjectPath) -> CMPIStatus>,
    pub returnDone: Option<unsafe extern "C" fn(rslt: *const CMPIResult) -> CMPIStatus>,
    pub returnError: Option<unsafe extern "C" fn(rslt: *const CMPIResult, er: *const CMPIError) -> CMPIStatus>,
}

#[repr(C)]
pub struct CMPIStringFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(st: *mut CMPIString) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(st: *const CMPIString, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub getCharPtr: Option<unsafe extern "C" fn(st: *const CMPIString, rc: *mut CMPIStatus) -> *const c_char>,
}

#[repr(C)]
pub struct CMPIArrayFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(ar: *mut CMPIArray) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(ar: *const CMPIArray, rc: *mut CMPIStatus) -> *mut CMPIArray>,
    pub getSize: Option<unsafe extern "C" fn(ar: *const CMPIArray, rc: *mut CMPIStatus) -> CMPICount>,
    pub getSimpleType: Option<unsafe extern "C" fn(ar: *const CMPIArray, rc: *mut CMPIStatus) -> CMPIType>,
    pub getElementAt:
        Option<unsafe extern "C" fn(ar: *const CMPIArray, index: CMPICount, rc: *mut CMPIStatus) -> CMPIData>,
    pub setElementAt: Option<
        unsafe extern "C" fn(
            ar: *const CMPIArray,
            index: CMPICount,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
}

#[repr(C)]
pub struct CMPIEnumerationFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(en: *mut CMPIEnumeration) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(en: *const CMPIEnumeration, rc: *mut CMPIStatus) -> *mut CMPIEnumeration>,
    pub getNext: Option<unsafe extern "C" fn(en: *const CMPIEnumeration, rc: *mut CMPIStatus) -> CMPIData>,
    pub hasNext: Option<unsafe extern "C" fn(en: *const CMPIEnumeration, rc: *mut CMPIStatus) -> CMPIBoolean>,
    pub toArray: Option<unsafe extern "C" fn(en: *const CMPIEnumeration, rc: *mut CMPIStatus) -> *mut CMPIArray>,
}

#[repr(C)]
pub struct CMPIInstanceFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(inst: *mut CMPIInstance) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(inst: *const CMPIInstance, rc: *mut CMPIStatus) -> *mut CMPIInstance>,
    pub getProperty:
        Option<unsafe extern "C" fn(inst: *const CMPIInstance, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData>,
    pub getPropertyAt: Option<
        unsafe extern "C" fn(
            inst: *const CMPIInstance,
            index: CMPICount,
            name: *mut *mut CMPIString,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getPropertyCount: Option<unsafe extern "C" fn(inst: *const CMPIInstance, rc: *mut CMPIStatus) -> CMPICount>,
    pub setProperty: Option<
        unsafe extern "C" fn(
            inst: *const CMPIInstance,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
    pub getObjectPath:
        Option<unsafe extern "C" fn(inst: *const CMPIInstance, rc: *mut CMPIStatus) -> *mut CMPIObjectPath>,
    pub setPropertyFilter: Option<
        unsafe extern "C" fn(
            inst: *const CMPIInstance,
            properties: *mut *const c_char,
            keyList: *mut *const c_char,
        ) -> CMPIStatus,
    >,
    pub setObjectPath:
        Option<unsafe extern "C" fn(inst: *const CMPIInstance, op: *const CMPIObjectPath) -> CMPIStatus>,
    pub setPropertyWithOrigin: Option<
        unsafe extern "C" fn(
            inst: *const CMPIInstance,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
            origin: *const c_char,
        ) -> CMPIStatus,
    >,
}

type OpQualFn = Option<
    unsafe extern "C" fn(op: *const CMPIObjectPath, qName: *const c_char, rc: *mut CMPIStatus) -> CMPIData,
>;

#[repr(C)]
pub struct CMPIObjectPathFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(op: *mut CMPIObjectPath) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIObjectPath>,
    pub setNameSpace: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, ns: *const c_char) -> CMPIStatus>,
    pub getNameSpace: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub setHostname: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, hn: *const c_char) -> CMPIStatus>,
    pub getHostname: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub setClassName: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, cn: *const c_char) -> CMPIStatus>,
    pub getClassName: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub addKey: Option<
        unsafe extern "C" fn(
            op: *const CMPIObjectPath,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
    pub getKey:
        Option<unsafe extern "C" fn(op: *const CMPIObjectPath, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData>,
    pub getKeyAt: Option<
        unsafe extern "C" fn(
            op: *const CMPIObjectPath,
            index: CMPICount,
            name: *mut *mut CMPIString,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getKeyCount: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> CMPICount>,
    pub setNameSpaceFromObjectPath:
        Option<unsafe extern "C" fn(op: *const CMPIObjectPath, src: *const CMPIObjectPath) -> CMPIStatus>,
    pub setHostAndNameSpaceFromObjectPath:
        Option<unsafe extern "C" fn(op: *const CMPIObjectPath, src: *const CMPIObjectPath) -> CMPIStatus>,
    pub getClassQualifier: OpQualFn,
    pub getPropertyQualifier: Option<
        unsafe extern "C" fn(
            op: *const CMPIObjectPath,
            pName: *const c_char,
            qName: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getMethodQualifier: Option<
        unsafe extern "C" fn(
            op: *const CMPIObjectPath,
            methodName: *const c_char,
            qName: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getParameterQualifier: Option<
        unsafe extern "C" fn(
            op: *const CMPIObjectPath,
            mName: *const c_char,
            pName: *const c_char,
            qName: *const c_char,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub toString: Option<unsafe extern "C" fn(op: *const CMPIObjectPath, rc: *mut CMPIStatus) -> *mut CMPIString>,
}

#[repr(C)]
pub struct CMPIArgsFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(args: *mut CMPIArgs) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(args: *const CMPIArgs, rc: *mut CMPIStatus) -> *mut CMPIArgs>,
    pub addArg: Option<
        unsafe extern "C" fn(
            args: *const CMPIArgs,
            name: *const c_char,
            value: *const CMPIValue,
            r#type: CMPIType,
        ) -> CMPIStatus,
    >,
    pub getArg: Option<unsafe extern "C" fn(args: *const CMPIArgs, name: *const c_char, rc: *mut CMPIStatus) -> CMPIData>,
    pub getArgAt: Option<
        unsafe extern "C" fn(
            args: *const CMPIArgs,
            index: CMPICount,
            name: *mut *mut CMPIString,
            rc: *mut CMPIStatus,
        ) -> CMPIData,
    >,
    pub getArgCount: Option<unsafe extern "C" fn(args: *const CMPIArgs, rc: *mut CMPIStatus) -> CMPICount>,
}

#[repr(C)]
pub struct CMPIDateTimeFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(dt: *mut CMPIDateTime) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(dt: *const CMPIDateTime, rc: *mut CMPIStatus) -> *mut CMPIDateTime>,
    pub getBinaryFormat: Option<unsafe extern "C" fn(dt: *const CMPIDateTime, rc: *mut CMPIStatus) -> CMPIUint64>,
    pub getStringFormat: Option<unsafe extern "C" fn(dt: *const CMPIDateTime, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub isInterval: Option<unsafe extern "C" fn(dt: *const CMPIDateTime, rc: *mut CMPIStatus) -> CMPIBoolean>,
}

#[repr(C)]
pub struct CMPISelectExpFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(se: *mut CMPISelectExp) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(se: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPISelectExp>,
    pub evaluate: Option<
        unsafe extern "C" fn(se: *const CMPISelectExp, inst: *const CMPIInstance, rc: *mut CMPIStatus) -> CMPIBoolean,
    >,
    pub getString: Option<unsafe extern "C" fn(se: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPIString>,
    pub getDOC: Option<unsafe extern "C" fn(se: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPISelectCond>,
    pub getCOD: Option<unsafe extern "C" fn(se: *const CMPISelectExp, rc: *mut CMPIStatus) -> *mut CMPISelectCond>,
    pub evaluateUsingAccessor: Option<
        unsafe extern "C" fn(
            se: *const CMPISelectExp,
            accessor: CMPIAccessorPtr,
            parm: *mut c_void,
            rc: *mut CMPIStatus,
        ) -> CMPIBoolean,
    >,
}

#[repr(C)]
pub struct CMPISelectCondFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(sc: *mut CMPISelectCond) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(sc: *const CMPISelectCond, rc: *mut CMPIStatus) -> *mut CMPISelectCond>,
    pub getCountAndType:
        Option<unsafe extern "C" fn(sc: *const CMPISelectCond, r#type: *mut c_int, rc: *mut CMPIStatus) -> CMPICount>,
    pub getSubCondAt: Option<
        unsafe extern "C" fn(sc: *const CMPISelectCond, index: CMPICount, rc: *mut CMPIStatus) -> *mut CMPISubCond,
    >,
}

#[repr(C)]
pub struct CMPISubCondFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(sc: *mut CMPISubCond) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(sc: *const CMPISubCond, rc: *mut CMPIStatus) -> *mut CMPISubCond>,
    pub getCount: Option<unsafe extern "C" fn(sc: *const CMPISubCond, rc: *mut CMPIStatus) -> CMPICount>,
    pub getPredicateAt: Option<
        unsafe extern "C" fn(sc: *const CMPISubCond, index: CMPICount, rc: *mut CMPIStatus) -> *mut CMPIPredicate,
    >,
    pub getPredicate: Option<
        unsafe extern "C" fn(sc: *const CMPISubCond, name: *const c_char, rc: *mut CMPIStatus) -> *mut CMPIPredicate,
    >,
}

#[repr(C)]
pub struct CMPIPredicateFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(pr: *mut CMPIPredicate) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(pr: *const CMPIPredicate, rc: *mut CMPIStatus) -> *mut CMPIPredicate>,
    pub getData: Option<
        unsafe extern "C" fn(
            pr: *const CMPIPredicate,
            r#type: *mut CMPIType,
            op: *mut CMPIPredOp,
            lhs: *mut *mut CMPIString,
            rhs: *mut *mut CMPIString,
        ) -> CMPIStatus,
    >,
    pub evaluateUsingAccessor: Option<
        unsafe extern "C" fn(
            pr: *const CMPIPredicate,
            accessor: CMPIAccessorPtr,
            parm: *mut c_void,
            rc: *mut CMPIStatus,
        ) -> CMPIBoolean,
    >,
}

type ErrGetStr = Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIString>;
type ErrSetStr = Option<unsafe extern "C" fn(er: *const CMPIError, value: *const c_char) -> CMPIStatus>;

#[repr(C)]
pub struct CMPIErrorFT {
    pub ftVersion: CMPIVersion,
    pub release: Option<unsafe extern "C" fn(er: *mut CMPIError) -> CMPIStatus>,
    pub clone: Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIError>,
    pub getErrorType: Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> CMPIErrorType>,
    pub getOtherErrorType: ErrGetStr,
    pub getOwningEntity: ErrGetStr,
    pub getMessageID: ErrGetStr,
    pub getMessage: ErrGetStr,
    pub getPerceivedSeverity:
        Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> CMPIErrorSeverity>,
    pub getProbableCause:
        Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> CMPIErrorProbableCause>,
    pub getProbableCauseDescription: ErrGetStr,
    pub getRecommendedActions: Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIArray>,
    pub getErrorSource: ErrGetStr,
    pub getErrorSourceFormat:
        Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> CMPIErrorSrcFormat>,
    pub getOtherErrorSourceFormat: ErrGetStr,
    pub getCIMStatusCode: Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> CMPIrc>,
    pub getCIMStatusCodeDescription: ErrGetStr,
    pub getMessageArguments: Option<unsafe extern "C" fn(er: *const CMPIError, rc: *mut CMPIStatus) -> *mut CMPIArray>,
    pub setErrorType: Option<unsafe extern "C" fn(er: *const CMPIError, et: CMPIErrorType) -> CMPIStatus>,
    pub setOtherErrorType: ErrSetStr,
    pub setProbableCauseDescription: ErrSetStr,
    pub setRecommendedActions: Option<unsafe extern "C" fn(er: *const CMPIError, ra: *const CMPIArray) -> CMPIStatus>,
    pub setErrorSource: ErrSetStr,
    pub setErrorSourceFormat: Option<unsafe extern "C" fn(er: *const CMPIError, esf: CMPIErrorSrcFormat) -> CMPIStatus>,
    pub setOtherErrorSourceFormat: ErrSetStr,
    pub setCIMStatusCodeDescription: ErrSetStr,
    pub setMessageArguments: Option<unsafe extern "C" fn(er: *const CMPIError, values: *const CMPIArray) -> CMPIStatus>,
}
