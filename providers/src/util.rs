//! Small conversions from XenAPI values to CIM values, shared by the class modules.

use cmpi_shim::{CimDateTime, CimType, CimValue, CmpiError, ObjectPath};
use xenapi_client::ObjectRecord;
use xenapi_model::Value;
// The model's enums, compared typed instead of by their wire strings.
pub use xenapi_model::generated::{VbdMode, VbdType, VmOperations, VmPowerState};
// The typed calls generated from the model: `b.run(calls::vm::start(&vm, false, false))`.
pub use xenapi_client::calls;

/// The namespace of the Xen classes.
pub const NAMESPACE: &str = "root/cimv2";

/// The namespace to answer in: the request's, else [`NAMESPACE`].
pub fn namespace_of(op: &ObjectPath) -> String {
    if op.namespace.is_empty() {
        NAMESPACE.to_string()
    } else {
        op.namespace.clone()
    }
}

/// The `"Xen:<uuid>"` InstanceID form of xs-cim.
pub fn system_instance_id(uuid: &str) -> String {
    format!("Xen:{uuid}")
}

/// 9999-12-31T23:59:59Z, the last second a CIM timestamp (four-digit year) can show.
const LAST_CIM_SECOND: u64 = 253_402_300_799;

/// A XenAPI datetime as a CIM timestamp; `None` for the epoch, which XenAPI uses for "never".
pub fn datetime(v: Option<&Value>) -> Option<CimDateTime> {
    match v {
        // CIM timestamps end with year 9999: a later time (any i64 a record may hold) is shown
        // as that, not overflowed into a wrong or malformed one
        Some(Value::DateTime(secs)) if *secs > 0 => Some(CimDateTime::from_unix_micros((*secs as u64).min(LAST_CIM_SECOND) * 1_000_000)),
        _ => None,
    }
}

/// The value of `key` in the `(string -> string) map` field `field`.
pub fn map_get<'a>(rec: &'a ObjectRecord, field: &str, key: &str) -> Option<&'a str> {
    match rec.get(field) {
        Some(Value::Map(pairs)) => pairs.iter().find(|(k, _)| k.as_str() == Some(key)).and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// A map field as the `"key=value"` string array of xs-cim.
pub fn kv_array(rec: &ObjectRecord, field: &str) -> CimValue {
    let items = match rec.get(field) {
        Some(Value::Map(pairs)) => pairs.iter().map(|(k, v)| CimValue::String(format!("{}={}", k.key_string(), v.key_string()))).collect(),
        _ => Vec::new(),
    };
    CimValue::Array(CimType::String, items)
}

/// The enum values of a set field (e.g. `allowed_operations`).
pub fn string_set(rec: &ObjectRecord, field: &str) -> Vec<String> {
    match rec.get(field) {
        Some(Value::Set(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect(),
        _ => Vec::new(),
    }
}

pub fn u16_array(values: &[u16]) -> CimValue {
    CimValue::Array(CimType::Uint16, values.iter().map(|v| CimValue::Uint16(*v)).collect())
}

pub fn string_array<S: AsRef<str>>(values: &[S]) -> CimValue {
    CimValue::Array(CimType::String, values.iter().map(|v| CimValue::String(v.as_ref().to_string())).collect())
}

/// The string key `name` of `op`, or CIM_ERR_INVALID_PARAMETER.
pub fn string_key(op: &ObjectPath, name: &str) -> Result<String, CmpiError> {
    match op.key(name) {
        Some(CimValue::String(s)) => Ok(s.clone()),
        _ => Err(CmpiError::invalid_parameter(format!("{op} has no string key {name}"))),
    }
}

/// A path's `CreationClassName` key must name `class` when it is given.
pub fn check_creation_class(op: &ObjectPath, class: &str) -> Result<(), CmpiError> {
    match op.key("CreationClassName") {
        None => Ok(()),
        Some(CimValue::String(s)) if s.eq_ignore_ascii_case(class) => Ok(()),
        Some(other) => Err(CmpiError::not_found(format!("no {class} with CreationClassName {other:?}"))),
    }
}

/// A null ref or an empty string: the field points nowhere.
/// The power state of a VM record of the cache; `None` when absent or not one of the model's.
pub fn power_state(vm: &ObjectRecord) -> Option<VmPowerState> {
    VmPowerState::from_wire(vm.str("power_state"))
}

/// The type of a VBD record of the cache (`None`: absent or not one of the model's).
pub fn vbd_type(vbd: &ObjectRecord) -> Option<VbdType> {
    VbdType::from_wire(vbd.str("type"))
}

/// The mode of a VBD record of the cache.
pub fn vbd_mode(vbd: &ObjectRecord) -> Option<VbdMode> {
    VbdMode::from_wire(vbd.str("mode"))
}

pub fn is_null_ref(r: &str) -> bool {
    r.is_empty() || r == "OpaqueRef:NULL"
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi_model::model::model;
    use xenapi_client::Wire;

    fn vm(members: Vec<(&str, Wire)>) -> ObjectRecord {
        ObjectRecord::from_wire(model().class("VM").unwrap(), members.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap()
    }

    #[test]
    fn maps_become_key_value_strings() {
        let r = vm(vec![("other_config", Wire::Struct(vec![("owner".into(), Wire::Str("ann".into())), ("a".into(), Wire::Str("b=c".into()))]))]);
        assert_eq!(map_get(&r, "other_config", "owner"), Some("ann"));
        assert_eq!(map_get(&r, "other_config", "nope"), None);
        assert_eq!(kv_array(&r, "other_config"), string_array(&["owner=ann", "a=b=c"]));
        assert_eq!(kv_array(&r, "platform"), CimValue::Array(CimType::String, vec![]));
    }

    #[test]
    fn epoch_means_never() {
        assert_eq!(datetime(Some(&Value::DateTime(0))), None);
        assert_eq!(datetime(None), None);
        assert_eq!(datetime(Some(&Value::DateTime(86_400))).unwrap().as_str(), "19700102000000.000000+000");
        assert_eq!(datetime(Some(&Value::DateTime(i64::MAX))).unwrap().as_str(), "99991231235959.000000+000");
    }

    #[test]
    fn creation_class_must_match_when_given() {
        let p = ObjectPath::new("root/cimv2", "Xen_ComputerSystem").with_key("Name", "x");
        assert!(check_creation_class(&p, "Xen_ComputerSystem").is_ok());
        assert!(check_creation_class(&p.clone().with_key("CreationClassName", "xen_computersystem"), "Xen_ComputerSystem").is_ok());
        assert_eq!(check_creation_class(&p.with_key("CreationClassName", "Other"), "Xen_ComputerSystem").unwrap_err().rc_name(), "CIM_ERR_NOT_FOUND");
    }
}

/// Records and wire values for unit tests, as the cache holds them.
#[cfg(test)]
pub(crate) mod test_records {
    use xenapi_client::ObjectRecord;
    use xenapi_model::model::model;
    use xenapi_client::Wire;

    /// A record of `class` with the given members (the rest at their defaults).
    pub fn rec(class: &str, members: Vec<(&str, Wire)>) -> ObjectRecord {
        ObjectRecord::from_wire(model().class(class).unwrap(), members.into_iter().map(|(k, v)| (k.to_string(), v)).collect()).unwrap()
    }

    pub fn s(x: &str) -> Wire {
        Wire::Str(x.into())
    }
}
