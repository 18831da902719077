//! `Xen_HostComputerSystem`: one instance per XenAPI host (the DSP1042 host system), keyed by
//! host uuid.
//!
//! ```text
//! Xen_HostComputerSystem.CreationClassName="Xen_HostComputerSystem",Name="<host uuid>"
//! ```
//!
//! Properties follow xs-cim (`xs-cim-model.md` §2.1); the xs-cim `CN` (a XenServer plugin call)
//! and `TimeOffset` (the provider's own time zone, not the host's) are left out on purpose.
//!
//! `RequestStateChange` switches the host in and out of maintenance: 6 (Offline) →
//! `host.disable`, after which the host keeps its running guests but starts no others, which is
//! DSP1052's "Enabled but Offline" (EnabledState 6); 2 → `host.enable`. Both complete at once
//! (0). 3 (Disabled), which xs-cim clients sent for maintenance, is refused like the other states
//! this server does not offer for a physical host (3, 4, 10, 11: 1 Not Supported): "Disabled"
//! would mean the host stops working, and a request for it must not end in EnabledState 6.
//!
//! RequestedState is what the host was last asked to be, as XenAPI keeps it: `host.enabled`,
//! set by `host.enable` / `host.disable` whoever called them (CIM 2.41: "irrespective of the
//! mechanism through which it was requested"). So it is 2 or 6, the only two states
//! RequestStateChange accepts, and every broker process agrees on it. AvailableRequestedStates
//! is the one of them the host is not in; `Xen_HostComputerSystemCapabilities` (in
//! [`crate::xen_capabilities`]) lists both, [`SUPPORTED_STATES`].

use crate::backend::BackendRef;
use crate::xen_computer_system::{requested_state_arg, rc, timeout_requested};
use cmpi_shim::abi::CMPI_RC_ERR_METHOD_NOT_FOUND;
use cmpi_shim::provider::MethodProvider;
use cmpi_shim::{Args, MethodResult};
use crate::cache::Tables;
use crate::util::*;
use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};
use xenapi_client::ObjectRecord;

pub const CLASS: &str = "Xen_HostComputerSystem";

/// EnabledState and OperationalStatus[0] of a host: 2 / 2 (OK) when `host.enabled`, else
/// 6 (Enabled but Offline) / 10 (Stopped): disabled for maintenance.
pub fn host_state(enabled: bool) -> (u16, u16) {
    if enabled {
        (2, 2)
    } else {
        (6, 10)
    }
}

/// The states RequestStateChange accepts on a host at all (2 Enabled, 6 Offline): the host
/// capabilities' RequestedStatesSupported.
pub const SUPPORTED_STATES: [u16; 2] = [2, 6];

/// Whether RequestStateChange(`requested`) on a host that is `enabled` enables it (`true`,
/// `host.enable`) or disables it (`false`, `host.disable`), or the return code when it makes no
/// call.
pub fn plan(requested: u16, enabled: bool) -> Result<bool, u32> {
    match (requested, enabled) {
        (2, false) => Ok(true),
        (6, true) => Ok(false),
        (2 | 6, _) => Err(rc::INVALID_STATE_TRANSITION),
        (3 | 4 | 7 | 8 | 9 | 10 | 11 | 12, _) => Err(rc::NOT_SUPPORTED),
        _ => Err(rc::INVALID_PARAMETER),
    }
}

/// The states RequestStateChange accepts now: exactly those [`plan`] turns into a call.
pub fn available_requested_states(enabled: bool) -> Vec<u16> {
    SUPPORTED_STATES.into_iter().filter(|s| plan(*s, enabled).is_ok()).collect()
}

/// RequestedState: 2 when the host is enabled, 6 when it was disabled (the module doc).
pub fn requested_state(enabled: bool) -> u16 {
    if enabled {
        2
    } else {
        6
    }
}

/// `software_version` keys reported in OtherIdentifyingInfo, with their descriptions (the
/// address comes first, described as "IPv4Address").
const SOFTWARE_KEYS: [(&str, &str); 3] = [("product_brand", "ProductBrand"), ("product_version", "ProductVersion"), ("build_number", "BuildNumber")];

pub fn path(ns: &str, uuid: &str) -> ObjectPath {
    ObjectPath::new(ns, CLASS).with_key("CreationClassName", CLASS).with_key("Name", uuid)
}

/// The instance of `host`; `tables` gives its metrics.
pub fn instance(ns: &str, host: &ObjectRecord, tables: &Tables) -> Instance {
    let uuid = host.str("uuid");
    let enabled = host.bool("enabled").unwrap_or(false);
    let (enabled_state, op_status) = host_state(enabled);
    let mut i = Instance::new(path(ns, uuid))
        .with("CreationClassName", CLASS)
        .with("Name", uuid)
        .with("NameFormat", "UUID")
        .with("InstanceID", system_instance_id(uuid))
        .with("Caption", "Xen Host")
        .with("ElementName", host.str("name_label"))
        .with("Description", host.str("name_description"))
        .with("EnabledState", CimValue::Uint16(enabled_state))
        .with("OperationalStatus", u16_array(&[op_status]))
        .with("HealthState", CimValue::Uint16(5))
        .with("Status", "OK")
        .with("EnabledDefault", CimValue::Uint16(2))
        .with("RequestedState", CimValue::Uint16(requested_state(enabled)))
        .with("AvailableRequestedStates", u16_array(&available_requested_states(enabled)))
        .with("OtherConfig", kv_array(host, "other_config"));
    let (mut info, mut labels) = (vec![host.str("address").to_string()], vec!["IPv4Address"]);
    for (key, label) in SOFTWARE_KEYS {
        if let Some(v) = map_get(host, "software_version", key) {
            info.push(v.to_string());
            labels.push(label);
        }
    }
    i.set("OtherIdentifyingInfo", string_array(&info));
    i.set("IdentifyingDescriptions", string_array(&labels));
    if let Some(v) = map_get(host, "other_config", "owner") {
        i.set("PrimaryOwnerName", v);
    }
    if let Some(v) = map_get(host, "other_config", "ownercontact") {
        i.set("PrimaryOwnerContact", v);
    }
    if let Some(v) = map_get(host, "other_config", "role") {
        i.set("Roles", string_array(&[v]));
    }
    if let Some(secs) = map_get(host, "other_config", "boot_time").and_then(|v| v.trim().parse::<f64>().ok()) {
        if secs > 0.0 {
            i.set("StartTime", cmpi_shim::CimDateTime::from_unix_micros((secs * 1e6) as u64));
        }
    }
    if let Some(m) = tables.deref("host_metrics", host, "metrics") {
        if let Some(d) = datetime(m.get("last_updated")) {
            i.set("TimeOfLastStateChange", d);
        }
    }
    i
}

pub struct HostComputerSystemProvider {
    backend: BackendRef,
}

impl HostComputerSystemProvider {
    pub fn new() -> HostComputerSystemProvider {
        HostComputerSystemProvider { backend: BackendRef::acquire() }
    }

}

impl Default for HostComputerSystemProvider {
    fn default() -> Self {
        Self::new()
    }
}

impl Provider for HostComputerSystemProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
}

impl MethodProvider for HostComputerSystemProvider {
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        if !method.eq_ignore_ascii_case("RequestStateChange") {
            return Err(CmpiError::new(CMPI_RC_ERR_METHOD_NOT_FOUND, format!("{CLASS} has no method {method}")));
        }
        let b = self.backend.get().map_err(CmpiError::failed)?;
        crate::access::acting_for(ctx, b.conn.config(), || {
            let done = |code: u32| Ok(MethodResult { return_value: Some(CimValue::Uint32(code)), out_args: vec![] });
            let requested = requested_state_arg(in_args)?;
            check_creation_class(op, CLASS)?;
            let uuid = string_key(op, "Name")?;
            let tables = b.tables().map_err(CmpiError::failed)?;
            let Some((host_ref, host)) = tables.by_uuid("host", &uuid) else {
                return Err(CmpiError::not_found(format!("no {CLASS} with Name {uuid:?}")));
            };
            if timeout_requested(in_args) {
                return done(rc::TIMEOUT_NOT_SUPPORTED);
            }
            let want = match plan(requested, host.bool("enabled").unwrap_or(false)) {
                Ok(enable) => enable,
                Err(code) => return done(code),
            };
            let call = if want { calls::host::enable(host_ref) } else { calls::host::disable(host_ref) };
            let message = call.method();
            b.run(call).map_err(|e| CmpiError::failed(format!("{message}: {e}")))?;
            // read-your-writes: the next GetInstance shows the new state
            let host_ref = host_ref.clone();
            b.cache.wait_until(std::time::Duration::from_secs(5), |t| t.get("host", &host_ref).map(|h| h.bool("enabled") == Some(want)).unwrap_or(true));
            done(rc::COMPLETED)
        })
    }
}

impl InstanceProvider for HostComputerSystemProvider {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut hosts: Vec<&ObjectRecord> = tables.iter("host").map(|(_, h)| h).collect();
        hosts.sort_unstable_by_key(|h| h.str("uuid"));
        Ok(hosts.into_iter().map(|h| instance(&ns, h, &tables)).collect())
    }

    fn enumerate_instance_names(&self, _ctx: &Context, op: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        let tables = self.backend.tables()?;
        let ns = namespace_of(op);
        let mut uuids: Vec<&str> = tables.iter("host").map(|(_, h)| h.str("uuid")).collect();
        uuids.sort_unstable();
        Ok(uuids.into_iter().map(|u| path(&ns, u)).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        check_creation_class(op, CLASS)?;
        let uuid = string_key(op, "Name")?;
        let tables = self.backend.tables()?;
        match tables.by_uuid("host", &uuid) {
            Some((_, h)) => Ok(instance(&namespace_of(op), h, &tables)),
            None => Err(CmpiError::not_found(format!("no {CLASS} with Name {uuid:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::util::test_records::{rec, s};
    use xenapi_client::Wire;


    #[test]
    fn enabled_hosts_are_ok_and_disabled_ones_offline() {
        assert_eq!(host_state(true), (2, 2));
        assert_eq!(host_state(false), (6, 10));
    }

    #[test]
    fn request_state_change_accepts_what_it_advertises() {
        assert_eq!(plan(3, true), Err(rc::NOT_SUPPORTED), "Disabled is not maintenance");
        assert_eq!(plan(3, false), Err(rc::NOT_SUPPORTED));
        assert_eq!(plan(6, true), Ok(false), "host.disable");
        assert_eq!(plan(6, false), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(2, false), Ok(true), "host.enable");
        assert_eq!(plan(2, true), Err(rc::INVALID_STATE_TRANSITION));
        assert_eq!(plan(10, true), Err(rc::NOT_SUPPORTED));
        assert_eq!(plan(4, false), Err(rc::NOT_SUPPORTED));
        assert_eq!(plan(40000, true), Err(rc::INVALID_PARAMETER));
        assert_eq!(available_requested_states(true), vec![6]);
        assert_eq!(available_requested_states(false), vec![2]);
        for enabled in [true, false] {
            for s in 0..=u16::MAX {
                assert_eq!(plan(s, enabled).is_ok(), available_requested_states(enabled).contains(&s), "{enabled} {s}");
                assert!(plan(s, enabled).is_err() || SUPPORTED_STATES.contains(&s));
            }
            // RequestedState is the state the host was asked to be in, and it is in it.
            assert_eq!(requested_state(enabled), host_state(enabled).0);
        }
    }

    #[test]
    fn instance_has_keys_identity_and_config() {
        let mut t = Tables::default();
        t.insert("host_metrics", "M", rec("host_metrics", vec![("last_updated", Wire::DateTime("20250101T00:00:00Z".into()))]));
        let h = rec(
            "host",
            vec![
                ("uuid", s("h-uuid")),
                ("name_label", s("sim")),
                ("enabled", Wire::Bool(false)),
                ("address", s("127.0.0.1")),
                ("software_version", Wire::Struct(vec![("product_brand".into(), s("xencim")), ("build_number".into(), s("7"))])),
                ("other_config", Wire::Struct(vec![("role".into(), s("lab")), ("boot_time".into(), s("86400.0"))])),
                ("metrics", s("M")),
            ],
        );
        let i = instance("root/cimv2", &h, &t);
        assert_eq!(i.path, path("root/cimv2", "h-uuid"));
        assert_eq!(i.get("EnabledState"), Some(&CimValue::Uint16(6)));
        assert_eq!(i.get("OperationalStatus"), Some(&u16_array(&[10])));
        assert_eq!(i.get("RequestedState"), Some(&CimValue::Uint16(6)));
        assert_eq!(i.get("AvailableRequestedStates"), Some(&u16_array(&[2])));
        assert_eq!(i.get("OtherIdentifyingInfo"), Some(&string_array(&["127.0.0.1", "xencim", "7"])));
        assert_eq!(i.get("IdentifyingDescriptions"), Some(&string_array(&["IPv4Address", "ProductBrand", "BuildNumber"])));
        assert_eq!(i.get("Roles"), Some(&string_array(&["lab"])));
        assert_eq!(i.get("OtherConfig"), Some(&string_array(&["role=lab", "boot_time=86400.0"])));
        assert_eq!(i.get("StartTime").map(|v| format!("{v:?}")), Some(format!("{:?}", CimValue::DateTime(cmpi_shim::CimDateTime::from_unix_micros(86_400_000_000)))));
        assert!(i.get("TimeOfLastStateChange").is_some());
    }
}
