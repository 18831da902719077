//! Layout and constant checks against the numbers of the CMPI 2.0 standard (x86_64, LP64).
use super::*;
use std::mem::{align_of, offset_of, size_of};

/// Asserts that `$ty` starts with `$first_field` at 0, then the listed pointer-sized
/// members follow in order from `$start`, and that nothing follows the last one.
macro_rules! ft_layout {
    ($ty:ty, $start:expr, [$($f:ident),* $(,)?]) => {{
        let names: &[&str] = &[$(stringify!($f)),*];
        let offs: &[usize] = &[$(offset_of!($ty, $f)),*];
        for (i, (n, o)) in names.iter().zip(offs).enumerate() {
            assert_eq!(*o, $start + 8 * i, "{}::{} offset", stringify!($ty), n);
        }
        assert_eq!(size_of::<$ty>(), $start + 8 * names.len(), "{} size", stringify!($ty));
        assert_eq!(align_of::<$ty>(), 8);
    }};
}

#[test]
fn primitive_layouts() {
    assert_eq!(size_of::<CMPIValue>(), 16);
    assert_eq!(align_of::<CMPIValue>(), 8);
    assert_eq!(size_of::<CMPIValuePtr>(), 16);
    assert_eq!(size_of::<CMPIData>(), 24);
    assert_eq!(offset_of!(CMPIData, r#type), 0);
    assert_eq!(offset_of!(CMPIData, state), 2);
    assert_eq!(offset_of!(CMPIData, value), 8);
    assert_eq!(size_of::<CMPIStatus>(), 16);
    assert_eq!(offset_of!(CMPIStatus, msg), 8);
    assert_eq!(size_of::<CMPIType>(), 2);
    assert_eq!(size_of::<CMPIValueState>(), 2);
    assert_eq!(size_of::<CMPIUint32>(), 4);
    assert_eq!(size_of::<CMPISint32>(), 4);
    assert_eq!(size_of::<CMPIrc>(), 4);
    assert_eq!(size_of::<CMPITimespec>(), 16);
}

#[test]
fn encapsulated_layouts() {
    macro_rules! enc {
        ($($t:ty),*) => {$(
            assert_eq!(size_of::<$t>(), 16);
            assert_eq!(offset_of!($t, hdl), 0);
            assert_eq!(offset_of!($t, ft), 8);
        )*};
    }
    enc!(
        CMPIContext, CMPIResult, CMPIString, CMPIArray, CMPIEnumeration, CMPIInstance, CMPIObjectPath, CMPIArgs,
        CMPIDateTime, CMPISelectExp, CMPISelectCond, CMPISubCond, CMPIPredicate, CMPIError, CMPIInstanceMI,
        CMPIAssociationMI, CMPIMethodMI, CMPIPropertyMI, CMPIIndicationMI
    );
    ft_layout!(CMPIBroker, 0, [hdl, bft, eft, xft, mft]);
}

#[test]
fn broker_function_tables() {
    assert_eq!(offset_of!(CMPIBrokerFT, brokerCapabilities), 0);
    assert_eq!(offset_of!(CMPIBrokerFT, brokerVersion), 4);
    ft_layout!(
        CMPIBrokerFT,
        8,
        [
            brokerName, prepareAttachThread, attachThread, detachThread, deliverIndication, enumerateInstanceNames,
            getInstance, createInstance, modifyInstance, deleteInstance, execQuery, enumerateInstances, associators,
            associatorNames, references, referenceNames, invokeMethod, setProperty, getProperty
        ]
    );
    ft_layout!(
        CMPIBrokerEncFT,
        8,
        [
            newInstance, newObjectPath, newArgs, newString, newArray, newDateTime, newDateTimeFromBinary,
            newDateTimeFromChars, newSelectExp, classPathIsA, toString, isOfType, getType, getMessage, logMessage,
            trace, newCMPIError, openMessageFile, closeMessageFile, getMessage2
        ]
    );
    ft_layout!(
        CMPIBrokerExtFT,
        8,
        [
            resolveFileName, newThread, joinThread, exitThread, cancelThread, threadSleep, threadOnce,
            createThreadKey, destroyThreadKey, getThreadSpecific, setThreadSpecific, newMutex, destroyMutex,
            lockMutex, unlockMutex, newCondition, destroyCondition, condWait, timedCondWait, signalCondition
        ]
    );
    ft_layout!(
        CMPIBrokerMemFT,
        8,
        [
            mark, release, cmpiMalloc, cmpiCalloc, cmpiRealloc, cmpiStrDup, cmpiFree, freeInstance, freeObjectPath,
            freeArgs, freeString, freeArray, freeDateTime, freeSelectExp
        ]
    );
}

#[test]
fn encapsulated_function_tables() {
    ft_layout!(CMPIContextFT, 8, [release, clone, getEntry, getEntryAt, getEntryCount, addEntry]);
    ft_layout!(
        CMPIResultFT,
        8,
        [release, clone, returnData, returnInstance, returnObjectPath, returnDone, returnError]
    );
    ft_layout!(CMPIStringFT, 8, [release, clone, getCharPtr]);
    ft_layout!(CMPIArrayFT, 8, [release, clone, getSize, getSimpleType, getElementAt, setElementAt]);
    ft_layout!(CMPIEnumerationFT, 8, [release, clone, getNext, hasNext, toArray]);
    ft_layout!(
        CMPIInstanceFT,
        8,
        [
            release, clone, getProperty, getPropertyAt, getPropertyCount, setProperty, getObjectPath,
            setPropertyFilter, setObjectPath, setPropertyWithOrigin
        ]
    );
    ft_layout!(
        CMPIObjectPathFT,
        8,
        [
            release, clone, setNameSpace, getNameSpace, setHostname, getHostname, setClassName, getClassName,
            addKey, getKey, getKeyAt, getKeyCount, setNameSpaceFromObjectPath, setHostAndNameSpaceFromObjectPath,
            getClassQualifier, getPropertyQualifier, getMethodQualifier, getParameterQualifier, toString
        ]
    );
    ft_layout!(CMPIArgsFT, 8, [release, clone, addArg, getArg, getArgAt, getArgCount]);
    ft_layout!(CMPIDateTimeFT, 8, [release, clone, getBinaryFormat, getStringFormat, isInterval]);
    ft_layout!(
        CMPISelectExpFT,
        8,
        [release, clone, evaluate, getString, getDOC, getCOD, evaluateUsingAccessor]
    );
    ft_layout!(CMPISelectCondFT, 8, [release, clone, getCountAndType, getSubCondAt]);
    ft_layout!(CMPISubCondFT, 8, [release, clone, getCount, getPredicateAt, getPredicate]);
    ft_layout!(CMPIPredicateFT, 8, [release, clone, getData, evaluateUsingAccessor]);
    ft_layout!(
        CMPIErrorFT,
        8,
        [
            release, clone, getErrorType, getOtherErrorType, getOwningEntity, getMessageID, getMessage,
            getPerceivedSeverity, getProbableCause, getProbableCauseDescription, getRecommendedActions,
            getErrorSource, getErrorSourceFormat, getOtherErrorSourceFormat, getCIMStatusCode,
            getCIMStatusCodeDescription, getMessageArguments, setErrorType, setOtherErrorType,
            setProbableCauseDescription, setRecommendedActions, setErrorSource, setErrorSourceFormat,
            setOtherErrorSourceFormat, setCIMStatusCodeDescription, setMessageArguments
        ]
    );
}

#[test]
fn mi_function_tables() {
    macro_rules! head {
        ($t:ty) => {
            assert_eq!(offset_of!($t, ftVersion), 0);
            assert_eq!(offset_of!($t, miVersion), 4);
        };
    }
    head!(CMPIInstanceMIFT);
    ft_layout!(
        CMPIInstanceMIFT,
        8,
        [
            miName, cleanup, enumerateInstanceNames, enumerateInstances, getInstance, createInstance,
            modifyInstance, deleteInstance, execQuery
        ]
    );
    head!(CMPIAssociationMIFT);
    ft_layout!(
        CMPIAssociationMIFT,
        8,
        [miName, cleanup, associators, associatorNames, references, referenceNames]
    );
    head!(CMPIMethodMIFT);
    ft_layout!(CMPIMethodMIFT, 8, [miName, cleanup, invokeMethod]);
    head!(CMPIPropertyMIFT);
    ft_layout!(CMPIPropertyMIFT, 8, [miName, cleanup, setProperty, getProperty, setPropertyWithOrigin]);
    head!(CMPIIndicationMIFT);
    ft_layout!(
        CMPIIndicationMIFT,
        8,
        [
            miName, cleanup, authorizeFilter, mustPoll, activateFilter, deActivateFilter, enableIndications,
            disableIndications
        ]
    );
}

#[test]
fn type_codes() {
    let expect: &[(CMPIType, u16)] = &[
        (CMPI_null, 0),
        (CMPI_boolean, 2),
        (CMPI_char16, 3),
        (CMPI_real32, 8),
        (CMPI_real64, 12),
        (CMPI_uint8, 128),
        (CMPI_uint16, 144),
        (CMPI_uint32, 160),
        (CMPI_uint64, 176),
        (CMPI_sint8, 192),
        (CMPI_sint16, 208),
        (CMPI_sint32, 224),
        (CMPI_sint64, 240),
        (CMPI_INTEGER, 192),
        (CMPI_instance, 4096),
        (CMPI_ref, 4352),
        (CMPI_args, 4608),
        (CMPI_class, 4864),
        (CMPI_filter, 5120),
        (CMPI_enumeration, 5376),
        (CMPI_string, 5632),
        (CMPI_chars, 5888),
        (CMPI_dateTime, 6144),
        (CMPI_ptr, 6400),
        (CMPI_charsptr, 6656),
        (CMPI_ARRAY, 8192),
        (CMPI_booleanA, 8194),
        (CMPI_char16A, 8195),
        (CMPI_real32A, 8200),
        (CMPI_real64A, 8204),
        (CMPI_uint8A, 8320),
        (CMPI_uint16A, 8336),
        (CMPI_uint32A, 8352),
        (CMPI_uint64A, 8368),
        (CMPI_sint8A, 8384),
        (CMPI_sint16A, 8400),
        (CMPI_sint32A, 8416),
        (CMPI_sint64A, 8432),
        (CMPI_instanceA, 12288),
        (CMPI_refA, 12544),
        (CMPI_stringA, 13824),
        (CMPI_charsA, 14080),
        (CMPI_dateTimeA, 14336),
        (CMPI_keyInteger, 240),
        (CMPI_keyString, 5632),
        (CMPI_keyBoolean, 2),
        (CMPI_keyRef, 4352),
        (CMPI_goodValue, 0),
        (CMPI_nullValue, 256),
        (CMPI_keyValue, 512),
        (CMPI_notFound, 1024),
        (CMPI_badValue, 32768),
    ];
    for (i, (got, want)) in expect.iter().enumerate() {
        assert_eq!(got, want, "entry {i}");
    }
}

#[test]
fn rc_codes() {
    let expect: &[(CMPIrc, u32)] = &[
        (CMPI_RC_OK, 0),
        (CMPI_RC_ERR_FAILED, 1),
        (CMPI_RC_ERR_ACCESS_DENIED, 2),
        (CMPI_RC_ERR_INVALID_NAMESPACE, 3),
        (CMPI_RC_ERR_INVALID_PARAMETER, 4),
        (CMPI_RC_ERR_INVALID_CLASS, 5),
        (CMPI_RC_ERR_NOT_FOUND, 6),
        (CMPI_RC_ERR_NOT_SUPPORTED, 7),
        (CMPI_RC_ERR_CLASS_HAS_CHILDREN, 8),
        (CMPI_RC_ERR_CLASS_HAS_INSTANCES, 9),
        (CMPI_RC_ERR_INVALID_SUPERCLASS, 10),
        (CMPI_RC_ERR_ALREADY_EXISTS, 11),
        (CMPI_RC_ERR_NO_SUCH_PROPERTY, 12),
        (CMPI_RC_ERR_TYPE_MISMATCH, 13),
        (CMPI_RC_ERR_QUERY_LANGUAGE_NOT_SUPPORTED, 14),
        (CMPI_RC_ERR_INVALID_QUERY, 15),
        (CMPI_RC_ERR_METHOD_NOT_AVAILABLE, 16),
        (CMPI_RC_ERR_METHOD_NOT_FOUND, 17),
        (CMPI_RC_NO_MORE_ELEMENTS, 18),
        (CMPI_RC_ERR_SERVER_LIMITS_EXCEEDED, 27),
        (CMPI_RC_ERR_QUERY_FEATURE_NOT_SUPPORTED, 29),
        (CMPI_RC_DO_NOT_UNLOAD, 50),
        (CMPI_RC_NEVER_UNLOAD, 51),
        (CMPI_RC_ERR_INVALID_HANDLE, 60),
        (CMPI_RC_ERR_INVALID_DATA_TYPE, 61),
        (CMPI_RC_ERR_NOT_IN_CODEPAGE, 62),
        (CMPI_RC_ERROR_SYSTEM, 100),
        (CMPI_RC_ERROR, 200),
    ];
    for (got, want) in expect {
        assert_eq!(got, want);
    }
    assert_eq!(CMPI_FLAG_LocalOnly | CMPI_FLAG_DeepInheritance | CMPI_FLAG_IncludeQualifiers, 7);
    assert_eq!(CMPI_FLAG_IncludeClassOrigin, 8);
    assert_eq!(CMPIVersion200, 200);
}
