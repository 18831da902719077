//! The generated typed layer agrees with the model it was generated from.

use xenapi_core::generated::args::{SessionLoginWithPasswordArgs, VmStartArgs};
use xenapi_core::generated::*;
use xenapi_core::model::model;
use xenapi_core::store::Record;
use xenapi_core::typed::{Decode, MessageArgs, Ref, WireEnum};
use xenapi_core::Value;

fn wire_names<E: WireEnum>(all: &[E]) -> Vec<&'static str> {
    all.iter().map(|e| e.wire_name()).collect()
}

#[test]
fn enums_have_the_model_values_in_order_and_parse_back() {
    assert_eq!(wire_names(&VmPowerState::ALL), model().enums["vm_power_state"]);
    assert_eq!(wire_names(&VmOperations::ALL), model().enums["vm_operations"]);
    assert_eq!(wire_names(&VdiType::ALL), model().enums["vdi_type"]);
    assert_eq!(wire_names(&VbdMode::ALL), model().enums["vbd_mode"]);
    for op in VmOperations::ALL {
        assert_eq!(VmOperations::from_wire(op.wire_name()), Some(op));
        assert_eq!(op.to_string().parse::<VmOperations>(), Ok(op));
    }
    assert_eq!(VmOperations::ChangingVcpusLive.wire_name(), "changing_VCPUs_live");
    let e = "running".parse::<VmPowerState>().unwrap_err();
    assert_eq!((e.enumeration, e.value.as_str()), ("vm_power_state", "running"));
    assert_eq!(VmPowerState::MODEL_NAME, "vm_power_state");
}

#[test]
fn records_read_a_default_record_of_their_class() {
    let vm = VmRecord::from_record(&Record::new_default(model().class("VM").unwrap())).unwrap();
    assert_eq!(vm.power_state, VmPowerState::Halted);
    assert!(vm.resident_on.is_null() && vm.vbds.is_empty() && vm.other_config.is_empty());
    let vdi = VdiRecord::from_record(&Record::new_default(model().class("VDI").unwrap())).unwrap();
    assert_eq!(vdi.type_, VdiType::System);
    assert!(HostRecord::from_record(&Record::new_default(model().class("host").unwrap())).is_ok());
    assert!(TaskRecord::from_record(&Record::new_default(model().class("task").unwrap())).is_ok());
    // A struct value (as a client sends it) may leave members off: they take their defaults.
    let partial = Value::Struct(vec![("name_label".into(), Value::str("web")), ("power_state".into(), Value::str("Running"))]);
    let vm = VmRecord::from_value(&partial).unwrap();
    assert_eq!((vm.name_label.as_str(), vm.power_state), ("web", VmPowerState::Running));
    // A value of the wrong shape is an error, not a panic.
    assert_eq!(VmRecord::from_value(&Value::Int(1)).unwrap_err().code, "INTERNAL_ERROR");
}

#[test]
fn argument_structs_decode_by_position_with_defaults() {
    let a = VmStartArgs::decode(vec![Value::str("OpaqueRef:v"), Value::Bool(true), Value::Bool(false)]).unwrap();
    assert_eq!(a.vm, Ref::new("OpaqueRef:v"));
    assert!(a.start_paused && !a.force);
    assert_eq!(VmStartArgs::MESSAGE, "VM.start");
    let login = SessionLoginWithPasswordArgs::decode(vec![Value::str("root"), Value::str("pw")]).unwrap();
    assert_eq!((login.version.as_str(), login.originator.as_str()), ("1.1", ""));
    // Missing required arguments or mistyped ones are internal errors (the dispatcher checked them).
    assert_eq!(VmStartArgs::decode(vec![]).unwrap_err().code, "INTERNAL_ERROR");
    assert_eq!(VmStartArgs::decode(vec![Value::Int(3), Value::Bool(true), Value::Bool(true)]).unwrap_err().code, "INTERNAL_ERROR");
}
