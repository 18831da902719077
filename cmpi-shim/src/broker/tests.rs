//! The broker's services and encapsulated types, driven through their C function
//! tables exactly as a provider would.

use super::arena;
use super::objects::live_objects;
use super::services::BrokerState;
use super::NoUpcalls;
use crate::abi::*;
use crate::conv;
use crate::value::*;
use std::ffi::{CStr, CString};
use std::os::raw::{c_char, c_int, c_void};
use std::ptr;
use std::sync::{Arc, Mutex};

// live_objects() is process-wide: the tests of this module run one at a time.
static COUNT_LOCK: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    COUNT_LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn broker() -> Box<BrokerState> {
    BrokerState::new(Arc::new(NoUpcalls))
}

unsafe fn eft<'a>(mb: *const CMPIBroker) -> &'a CMPIBrokerEncFT {
    &*(*mb).eft
}

unsafe fn s(p: *mut CMPIString) -> String {
    conv::string_of(p).unwrap()
}

#[test]
fn call_objects_die_with_the_call_clones_live_until_released() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    let before = live_objects();
    let clone = arena::scope(|| unsafe {
        let st = eft(mb).newString.unwrap()(mb, c"hello".as_ptr(), ptr::null_mut());
        let inst = conv::build_instance(mb, &Instance::new(ObjectPath::new("ns", "C")).with("P", "v")).unwrap();
        assert!(live_objects() > before + 2);
        // Releasing a call-owned object is a no-op (it stays valid until the call ends).
        assert_eq!(((*(*st).ft).release.unwrap())(st).rc, CMPI_RC_OK);
        assert_eq!(s(st), "hello");
        let mut rc = CMPIStatus::ok();
        let c = ((*(*inst).ft).clone.unwrap())(inst, &mut rc);
        assert_eq!(rc.rc, CMPI_RC_OK);
        c
    });
    // The clone owns its instance and a copy of its string property.
    assert_eq!(live_objects(), before + 2, "only the clone survives the call");
    unsafe {
        // Reading it creates call objects (names, paths): give them a call.
        arena::scope(|| assert_eq!(conv::read_instance(clone).unwrap().get("P"), Some(&CimValue::from("v"))));
        assert_eq!(((*(*clone).ft).release.unwrap())(clone).rc, CMPI_RC_OK);
    }
    assert_eq!(live_objects(), before);
}

#[test]
fn mem_ft_mark_release_and_free() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    let mft = unsafe { &*(*mb).mft };
    arena::scope(|| unsafe {
        let before = live_objects();
        let mut rc = CMPIStatus::ok();
        let mark = mft.mark.unwrap()(mb, &mut rc);
        assert_eq!(rc.rc, CMPI_RC_OK);
        for _ in 0..10 {
            eft(mb).newString.unwrap()(mb, c"x".as_ptr(), ptr::null_mut());
        }
        let p = mft.cmpiMalloc.unwrap()(mb, 100) as *mut u8;
        ptr::write_bytes(p, 7, 100);
        let p = mft.cmpiRealloc.unwrap()(mb, p as *mut c_void, 1000) as *mut u8;
        assert_eq!(*p.add(99), 7);
        let d = mft.cmpiStrDup.unwrap()(mb, c"dup".as_ptr());
        assert_eq!(CStr::from_ptr(d).to_str().unwrap(), "dup");
        mft.cmpiFree.unwrap()(mb, d as *mut c_void);
        assert_eq!(live_objects(), before + 10);
        assert_eq!(mft.release.unwrap()(mb, mark).rc, CMPI_RC_OK);
        assert_eq!(live_objects(), before, "release frees what was made since mark");
        let st = eft(mb).newString.unwrap()(mb, c"y".as_ptr(), ptr::null_mut());
        mft.freeString.unwrap()(mb, st);
        assert_eq!(live_objects(), before);
        assert_eq!(mft.release.unwrap()(mb, ptr::null()).rc, CMPI_RC_ERR_INVALID_HANDLE);
        // A token at or below the call's own arena would free the broker's objects.
        let stale = arena::floor() as *const CMPIGcStat;
        assert_eq!(mft.release.unwrap()(mb, stale).rc, CMPI_RC_ERR_INVALID_HANDLE);
        assert_eq!(mft.release.unwrap()(mb, mark).rc, CMPI_RC_ERR_INVALID_HANDLE, "already released");
    });
}

#[test]
fn null_handles_are_rejected_not_dereferenced() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    unsafe {
        let mut rc = CMPIStatus::ok();
        assert!(eft(mb).newString.unwrap()(ptr::null(), c"x".as_ptr(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_HANDLE);
        assert!(eft(mb).newInstance.unwrap()(mb, ptr::null(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_HANDLE);
        let sft = &super::objects::STRING_FT;
        assert!(sft.getCharPtr.unwrap()(ptr::null(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_HANDLE);
        let ift = &super::objects::INSTANCE_FT;
        let d = ift.getProperty.unwrap()(ptr::null(), c"x".as_ptr(), &mut rc);
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_PARAMETER);
        assert!(d.state & CMPI_nullValue != 0);
        assert_eq!(ift.setProperty.unwrap()(ptr::null(), c"x".as_ptr(), ptr::null(), CMPI_uint8).rc, CMPI_RC_ERR_INVALID_PARAMETER);
        // A string object handed to the instance table is not an instance.
        let st = arena::scope(|| {
            let st = eft(mb).newString.unwrap()(mb, c"x".as_ptr(), ptr::null_mut());
            ift.getPropertyCount.unwrap()(st as *const CMPIInstance, &mut rc);
            rc.rc
        });
        assert_eq!(st, CMPI_RC_ERR_INVALID_HANDLE);
        assert!(((*(*mb).bft).deliverIndication.unwrap())(mb, ptr::null(), c"ns".as_ptr(), ptr::null()).rc != CMPI_RC_OK);
    }
}

#[test]
fn values_keep_types_and_states() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    arena::scope(|| unsafe {
        let op = eft(mb).newObjectPath.unwrap()(mb, c"root/x".as_ptr(), c"K".as_ptr(), ptr::null_mut());
        let ft = &*(*op).ft;
        let v: u16 = 513;
        ft.addKey.unwrap()(op, c"Id".as_ptr(), &v as *const u16 as *const CMPIValue, CMPI_uint16);
        ft.addKey.unwrap()(op, c"Name".as_ptr(), c"n1".as_ptr() as *const CMPIValue, CMPI_chars);
        let mut rc = CMPIStatus::ok();
        let d = ft.getKey.unwrap()(op, c"id".as_ptr(), &mut rc);
        assert_eq!((rc.rc, d.r#type, d.value.uint16), (CMPI_RC_OK, CMPI_uint16, 513));
        assert!(d.state & CMPI_keyValue != 0);
        let d = ft.getKey.unwrap()(op, c"Name".as_ptr(), &mut rc);
        assert_eq!(d.r#type, CMPI_string, "chars are stored as strings");
        assert_eq!(s(d.value.string), "n1");
        let d = ft.getKey.unwrap()(op, c"Missing".as_ptr(), &mut rc);
        assert_eq!(rc.rc, CMPI_RC_ERR_NOT_FOUND);
        assert!(d.state & CMPI_notFound != 0);
        assert_eq!(s(ft.toString.unwrap()(op, &mut rc)), "root/x:K.Id=513,Name=\"n1\"");

        // Arrays: typed, NULL elements, type mismatch.
        let a = eft(mb).newArray.unwrap()(mb, 3, CMPI_sint32, &mut rc);
        let aft = &*(*a).ft;
        let x: i32 = -5;
        assert_eq!(aft.setElementAt.unwrap()(a, 0, &x as *const i32 as *const CMPIValue, CMPI_sint32).rc, CMPI_RC_OK);
        assert_eq!(aft.setElementAt.unwrap()(a, 1, &x as *const i32 as *const CMPIValue, CMPI_uint8).rc, CMPI_RC_ERR_TYPE_MISMATCH);
        assert_eq!(aft.setElementAt.unwrap()(a, 9, &x as *const i32 as *const CMPIValue, CMPI_sint32).rc, CMPI_RC_ERR_NO_SUCH_PROPERTY);
        assert_eq!(
            conv::read_array(a).unwrap(),
            CimValue::Array(
                CimType::Sint32,
                vec![CimValue::Sint32(-5), CimValue::Null { ty: CimType::Sint32, array: false }, CimValue::Null { ty: CimType::Sint32, array: false }]
            )
        );

        // DateTime from binary, both kinds.
        let dt = eft(mb).newDateTimeFromBinary.unwrap()(mb, 1_000_000, 1, &mut rc);
        assert_eq!(s(((*(*dt).ft).getStringFormat.unwrap())(dt, &mut rc)), "00000000000001.000000:000");
        assert_eq!(((*(*dt).ft).isInterval.unwrap())(dt, &mut rc), 1);
        let dt = eft(mb).newDateTimeFromBinary.unwrap()(mb, 86_400_000_001, 0, &mut rc);
        assert_eq!(s(((*(*dt).ft).getStringFormat.unwrap())(dt, &mut rc)), "19700102000000.000001+000");
        assert_eq!(((*(*dt).ft).getBinaryFormat.unwrap())(dt, &mut rc), 86_400_000_001);
        assert!(eft(mb).newDateTimeFromChars.unwrap()(mb, c"garbage".as_ptr(), &mut rc).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_INVALID_PARAMETER);
        let now = eft(mb).newDateTime.unwrap()(mb, &mut rc);
        assert!(((*(*now).ft).getBinaryFormat.unwrap())(now, &mut rc) > 1_600_000_000_000_000);

        // Type introspection.
        assert_eq!(eft(mb).isOfType.unwrap()(mb, op as *const c_void, c"CMPIObjectPath".as_ptr(), &mut rc), 1);
        assert_eq!(eft(mb).isOfType.unwrap()(mb, a as *const c_void, c"CMPIObjectPath".as_ptr(), &mut rc), 0);
        assert_eq!(s(eft(mb).getType.unwrap()(mb, dt as *const c_void, &mut rc)), "CMPIDateTime");
        assert_eq!(s(eft(mb).toString.unwrap()(mb, dt as *const c_void, &mut rc)), "19700102000000.000001+000");
        let cp = conv::build_object_path(mb, &ObjectPath::new("ns", "CIM_Foo")).unwrap();
        assert_eq!(eft(mb).classPathIsA.unwrap()(mb, cp, c"cim_foo".as_ptr(), &mut rc), 1);
        assert_eq!(eft(mb).classPathIsA.unwrap()(mb, cp, c"CIM_Bar".as_ptr(), &mut rc), 0);
    });
}

#[test]
fn instance_filter_and_key_properties() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    arena::scope(|| unsafe {
        let inst = conv::build_instance(mb, &Instance::new(ObjectPath::new("ns", "C").with_key("Id", "1"))).unwrap();
        let ft = &*(*inst).ft;
        let props = [c"A".as_ptr(), ptr::null()];
        assert_eq!(ft.setPropertyFilter.unwrap()(inst, props.as_ptr() as *mut *const c_char, ptr::null_mut()).rc, CMPI_RC_OK);
        for (n, v) in [(c"A", 1u8), (c"B", 2), (c"Id", 3)] {
            ft.setProperty.unwrap()(inst, n.as_ptr(), &v as *const u8 as *const CMPIValue, CMPI_uint8);
        }
        let i = conv::read_instance(inst).unwrap();
        assert_eq!(i.properties, vec![("A".to_string(), CimValue::Uint8(1)), ("Id".to_string(), CimValue::Uint8(3))]);
        assert_eq!(i.path.key("Id"), Some(&CimValue::Uint8(3)), "setting a key property updates the path");
        let mut rc = CMPIStatus::ok();
        ft.getProperty.unwrap()(inst, c"B".as_ptr(), &mut rc);
        assert_eq!(rc.rc, CMPI_RC_ERR_NO_SUCH_PROPERTY);
    });
}

#[test]
fn errors_and_results() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    arena::scope(|| unsafe {
        let mut rc = CMPIStatus::ok();
        let e = eft(mb).newCMPIError.unwrap()(mb, c"xencim".as_ptr(), c"X1".as_ptr(), c"it broke".as_ptr(), 4, 0, CMPI_RC_ERR_NOT_FOUND, &mut rc);
        assert_eq!(rc.rc, CMPI_RC_OK);
        let ft = &*(*e).ft;
        assert_eq!(s(ft.getMessage.unwrap()(e, &mut rc)), "it broke");
        assert_eq!(s(ft.getOwningEntity.unwrap()(e, &mut rc)), "xencim");
        assert_eq!(ft.getCIMStatusCode.unwrap()(e, &mut rc), CMPI_RC_ERR_NOT_FOUND);
        assert_eq!(ft.getPerceivedSeverity.unwrap()(e, &mut rc), 4);
        assert!(ft.getOtherErrorType.unwrap()(e, &mut rc).is_null());
        ft.setOtherErrorType.unwrap()(e, c"other".as_ptr());
        ft.setErrorType.unwrap()(e, 1);
        let c = ft.clone.unwrap()(e, &mut rc);
        assert_eq!(s(ft.getOtherErrorType.unwrap()(c, &mut rc)), "other");
        assert_eq!(ft.getErrorType.unwrap()(c, &mut rc), 1);
        let a = conv::build_array(mb, CimType::String, &["p1".into()]).unwrap();
        assert_eq!(ft.setMessageArguments.unwrap()(c, a).rc, CMPI_RC_OK);
        assert_eq!(conv::read_array(ft.getMessageArguments.unwrap()(c, &mut rc)).unwrap(), CimValue::Array(CimType::String, vec!["p1".into()]));
        ft.release.unwrap()(c);
        let err = super::error::read_error(e).unwrap();
        assert_eq!((err.rc, err.message.as_str()), (CMPI_RC_ERR_NOT_FOUND, "it broke"));

        // getMessage: the default message (no catalogs), called through the varargs pointer.
        let m = eft(mb).getMessage.unwrap()(mb, c"id".as_ptr(), c"default text".as_ptr(), &mut rc, 1, CMPI_chars as c_int, c"x".as_ptr());
        assert_eq!(s(m), "default text");
    });
}

#[test]
fn ext_ft_threads_mutexes_conditions_keys() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    let x = unsafe { &*(*mb).xft };
    unsafe {
        // Thread with a return value, joined.
        unsafe extern "C" fn run(p: *mut c_void) -> *mut c_void {
            (p as usize + 1) as *mut c_void
        }
        let t = x.newThread.unwrap()(Some(run), 41 as *mut c_void, 0);
        let mut ret = ptr::null_mut();
        assert_eq!(x.joinThread.unwrap()(t, &mut ret), 0);
        assert_eq!(ret as usize, 42);

        // Mutex + condition: a waiter wakes when signalled.
        struct Shared {
            m: CMPI_MUTEX_TYPE,
            c: CMPI_COND_TYPE,
            flag: std::sync::atomic::AtomicBool,
        }
        let sh = Box::into_raw(Box::new(Shared {
            m: x.newMutex.unwrap()(0),
            c: x.newCondition.unwrap()(0),
            flag: std::sync::atomic::AtomicBool::new(false),
        }));
        unsafe extern "C" fn signaller(p: *mut c_void) -> *mut c_void {
            let sh = &*(p as *const Shared);
            let x = &super::ext::EXT_FT;
            x.threadSleep.unwrap()(20);
            x.lockMutex.unwrap()(sh.m);
            sh.flag.store(true, std::sync::atomic::Ordering::SeqCst);
            x.signalCondition.unwrap()(sh.c);
            x.unlockMutex.unwrap()(sh.m);
            ptr::null_mut()
        }
        x.lockMutex.unwrap()((*sh).m);
        let t = x.newThread.unwrap()(Some(signaller), sh as *mut c_void, 0);
        while !(*sh).flag.load(std::sync::atomic::Ordering::SeqCst) {
            assert_eq!(x.condWait.unwrap()((*sh).c, (*sh).m), 0);
        }
        // A timed wait with nobody signalling times out.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap() + std::time::Duration::from_millis(30);
        let mut ts = CMPITimespec { tv_sec: now.as_secs() as i64, tv_nsec: now.subsec_nanos() as i64 };
        assert_eq!(x.timedCondWait.unwrap()((*sh).c, (*sh).m, &mut ts), 110);
        x.unlockMutex.unwrap()((*sh).m);
        x.joinThread.unwrap()(t, ptr::null_mut());
        x.destroyCondition.unwrap()((*sh).c);
        x.destroyMutex.unwrap()((*sh).m);
        drop(Box::from_raw(sh));

        // Thread keys are per thread.
        let mut key = 0;
        assert_eq!(x.createThreadKey.unwrap()(&mut key, None), 0);
        x.setThreadSpecific.unwrap()(key, 7 as *mut c_void);
        assert_eq!(x.getThreadSpecific.unwrap()(key) as usize, 7);
        let k2 = key;
        let other = std::thread::spawn(move || super::ext::EXT_FT.getThreadSpecific.unwrap()(k2) as usize).join().unwrap();
        assert_eq!(other, 0);
        assert_eq!(x.destroyThreadKey.unwrap()(key), 0);

        // Once.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        unsafe extern "C" fn init() {
            CALLS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
        let mut once: c_int = 0;
        x.threadOnce.unwrap()(&mut once, Some(init));
        x.threadOnce.unwrap()(&mut once, Some(init));
        assert_eq!(CALLS.load(std::sync::atomic::Ordering::SeqCst), 1);

        let f = x.resolveFileName.unwrap()(c"xen".as_ptr());
        assert_eq!(CStr::from_ptr(f).to_str().unwrap(), "libxen.so");
        extern "C" {
            fn free(p: *mut c_void);
        }
        free(f as *mut c_void);
    }
}

#[test]
fn context_entries_round_trip() {
    let _g = serial();
    let b = broker();
    let mb = b.mb();
    arena::scope(|| {
        let ctx = CallContext {
            namespace: Some("root/cimv2".into()),
            principal: Some("bob".into()),
            invocation_flags: CMPI_FLAG_DeepInheritance,
            role: Some("admin".into()),
            other: vec![("Custom".into(), CimValue::Sint64(-1))],
        };
        let c = super::services::make_context(mb, &ctx).unwrap();
        assert_eq!(unsafe { conv::read_context(c) }.unwrap(), ctx);
        let name = CString::new("CMPIPrincipal").unwrap();
        let d = unsafe { ((*(*c).ft).getEntry.unwrap())(c, name.as_ptr(), ptr::null_mut()) };
        assert_eq!(d.r#type, CMPI_string);
    });
}
