//! The provider side driven in-process by the broker side (no shared library).

use super::*;
use crate::broker::arena;
use crate::broker::objects::{new_result_obj, ResultItem, ResultObj, RESULT_FT};
use crate::broker::services::{make_context, BrokerState};
use crate::broker::NoUpcalls;
use std::sync::Arc;

struct P;
impl Provider for P {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn indication(&self) -> Option<&dyn IndicationProvider> {
        Some(self)
    }
}
impl InstanceProvider for P {
    fn enumerate_instances(&self, ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let who = ctx.principal().unwrap_or_default();
        Ok(vec![Instance::new(op.clone().with_key("Id", CimValue::Uint32(1))).with("Who", who)])
    }
}
impl IndicationProvider for P {}

fn ctor(_b: Broker, _c: &Context) -> Result<Box<dyn Provider>, CmpiError> {
    Ok(Box::new(P))
}

#[test]
fn works_with_a_broker_reporting_version_0_like_sfcb() {
    let mut state = BrokerState::new(Arc::new(NoUpcalls));
    state.bft.brokerVersion = 0;
    let mb = state.mb();
    arena::scope(|| unsafe {
        let ctx = make_context(mb, &CallContext { principal: Some("sfcb-user".into()), ..Default::default() }).unwrap();
        let mut rc = CMPIStatus::ok();
        let mi = create_instance_mi(mb, ctx, "P", &mut rc, ctor);
        assert!(!mi.is_null(), "rc {}", rc.rc);
        let ft = &*(*mi).ft;
        assert_eq!((ft.ftVersion, ft.miVersion), (200, 200));
        assert_eq!(conv::cstr(ft.miName), "P");
        let rslt = new_result_obj();
        let op = conv::build_object_path(mb, &ObjectPath::new("root/x", "C")).unwrap();
        assert_eq!(ft.enumerateInstances.unwrap()(mi, ctx, rslt, op, ptr::null_mut()).rc, CMPI_RC_OK);
        let items = &ResultObj::data(rslt, &RESULT_FT).unwrap().items;
        let want = Instance::new(ObjectPath::new("root/x", "C").with_key("Id", CimValue::Uint32(1))).with("Who", "sfcb-user");
        assert_eq!(items, &vec![ResultItem::Instance(want)]);
        assert_eq!(ft.cleanup.unwrap()(mi, ctx, 1).rc, CMPI_RC_OK);

        // Indication MI tables declare version 200 (SFCB falls back to the pre-1.0
        // calling convention below 100).
        let ind = create_indication_mi(mb, ctx, "P", &mut rc, ctor);
        assert_eq!((*(*ind).ft).ftVersion, 200);
        assert_eq!(((*(*ind).ft).enableIndications.unwrap())(ind, ctx).rc, CMPI_RC_OK);
        assert_eq!(((*(*ind).ft).cleanup.unwrap())(ind, ctx, 1).rc, CMPI_RC_OK);

        // A provider without the MI type yields NULL and NOT_SUPPORTED.
        assert!(create_method_mi(mb, ctx, "P", &mut rc, ctor).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_NOT_SUPPORTED);
    });
}

#[test]
fn constructor_errors_and_panics_are_reported() {
    fn failing(_b: Broker, _c: &Context) -> Result<Box<dyn Provider>, CmpiError> {
        Err(CmpiError::new(CMPI_RC_ERR_ACCESS_DENIED, "no licence"))
    }
    fn panicking(_b: Broker, _c: &Context) -> Result<Box<dyn Provider>, CmpiError> {
        panic!("ctor exploded")
    }
    let state = BrokerState::new(Arc::new(NoUpcalls));
    let mb = state.mb();
    arena::scope(|| unsafe {
        let ctx = make_context(mb, &CallContext::default()).unwrap();
        let mut rc = CMPIStatus::ok();
        assert!(create_instance_mi(mb, ctx, "F", &mut rc, failing).is_null());
        assert_eq!((rc.rc, conv::string_of(rc.msg).unwrap().as_str()), (CMPI_RC_ERR_ACCESS_DENIED, "no licence"));
        assert!(create_instance_mi(mb, ctx, "F", &mut rc, panicking).is_null());
        assert_eq!(rc.rc, CMPI_RC_ERR_FAILED);
        assert!(conv::string_of(rc.msg).unwrap().contains("ctor exploded"));
    });
}
