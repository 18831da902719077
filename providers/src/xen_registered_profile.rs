//! `Xen_RegisteredProfile`: the DMTF profiles this implementation advertises (DSP1033 profile
//! registration), in root/interop. A fixed list; keyed by `InstanceID = "Xen:<DSP number>"`.
//!
//! ```text
//! root/interop:Xen_RegisteredProfile.InstanceID="Xen:DSP1042"
//! ```
//!
//! The versions are those of `cim-virtualization.md` §1.5. `Xen_ElementConformsToProfile` links
//! each profile to its central instances: DSP1042 to each host, DSP1057 to each VM, DSP1041 and
//! the resource virtualization profiles (DSP1044, DSP1045, DSP1047, DSP1050) to the pools
//! ([`pool_profiles`]), DSP1043 to every allocation capabilities instance. DSP1042 references
//! the seven others (`Xen_ReferencedProfile`), and the broker's DSP1054 Indications profile
//! ([`crate::xen_referenced_profile`]).

use cmpi_shim::provider::{Context, InstanceProvider, Provider};
use cmpi_shim::{CimValue, CmpiError, Instance, ObjectPath};

use crate::util::{string_key, u16_array};
use crate::xen_resource_pool::PoolKind;

pub const CLASS: &str = "Xen_RegisteredProfile";

/// The namespace of the profiles.
pub const INTEROP_NAMESPACE: &str = "root/interop";

/// One registered profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// "DSP1042", ...
    pub dsp: &'static str,
    pub name: &'static str,
    pub version: &'static str,
}

pub const SYSTEM_VIRTUALIZATION: Profile = Profile { dsp: "DSP1042", name: "System Virtualization", version: "1.0.0" };
/// The DSP number of Allocation Capabilities, whose central instances are the
/// `Xen_*AllocationCapabilities`.
pub const ALLOCATION_CAPABILITIES_DSP: &str = "DSP1043";
pub const VIRTUAL_SYSTEM: Profile = Profile { dsp: "DSP1057", name: "Virtual System Profile", version: "1.0.0" };

pub const PROFILES: [Profile; 8] = [
    SYSTEM_VIRTUALIZATION,
    VIRTUAL_SYSTEM,
    Profile { dsp: "DSP1041", name: "Resource Allocation", version: "1.1.0" },
    Profile { dsp: "DSP1043", name: "Allocation Capabilities", version: "1.0.0" },
    Profile { dsp: "DSP1044", name: "Processor Resource Virtualization", version: "1.0.0" },
    Profile { dsp: "DSP1045", name: "Memory Resource Virtualization", version: "1.0.0" },
    Profile { dsp: "DSP1047", name: "Storage Resource Virtualization", version: "1.0.0" },
    Profile { dsp: "DSP1050", name: "Ethernet Port Resource Virtualization", version: "1.0.0" },
];

/// The profiles a resource pool of `kind` conforms to (its central instances): DSP1041 Resource
/// Allocation for every pool, and the virtualization profile of its resource type.
pub fn pool_profiles(kind: PoolKind) -> &'static [&'static str] {
    match kind {
        PoolKind::Processor => &["DSP1041", "DSP1044"],
        PoolKind::Memory => &["DSP1041", "DSP1045"],
        PoolKind::Storage => &["DSP1041", "DSP1047"],
        PoolKind::NetworkConnection => &["DSP1041", "DSP1050"],
    }
}

/// RegisteredOrganization 2: DMTF.
const DMTF: u16 = 2;
/// AdvertiseTypes 3: SLP.
const SLP: u16 = 3;

impl Profile {
    pub fn instance_id(&self) -> String {
        format!("Xen:{}", self.dsp)
    }

    /// The profile whose InstanceID is `id`.
    pub fn by_instance_id(id: &str) -> Option<Profile> {
        PROFILES.into_iter().find(|p| p.instance_id() == id)
    }

    /// Always in root/interop, whatever namespace the request came in.
    pub fn path(&self) -> ObjectPath {
        ObjectPath::new(INTEROP_NAMESPACE, CLASS).with_key("InstanceID", self.instance_id())
    }

    pub fn instance(&self) -> Instance {
        Instance::new(self.path())
            .with("InstanceID", self.instance_id())
            .with("ElementName", format!("{} {}", self.dsp, self.name))
            .with("RegisteredOrganization", CimValue::Uint16(DMTF))
            .with("RegisteredName", self.name)
            .with("RegisteredVersion", self.version)
            .with("AdvertiseTypes", u16_array(&[SLP]))
            .with("AdvertiseTypeDescriptions", crate::util::string_array(&["SLP"]))
    }
}

#[derive(Default)]
pub struct RegisteredProfileProvider;

impl Provider for RegisteredProfileProvider {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
}

impl InstanceProvider for RegisteredProfileProvider {
    fn enumerate_instances(&self, _ctx: &Context, _op: &ObjectPath, _p: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        Ok(PROFILES.iter().map(Profile::instance).collect())
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let id = string_key(op, "InstanceID")?;
        Profile::by_instance_id(&id).map(|p| p.instance()).ok_or_else(|| CmpiError::not_found(format!("no {CLASS} with InstanceID {id:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_is_dmtf_with_a_distinct_id() {
        let mut ids: Vec<String> = PROFILES.iter().map(Profile::instance_id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), PROFILES.len());
        let i = VIRTUAL_SYSTEM.instance();
        assert_eq!(i.path.namespace, "root/interop");
        assert_eq!(i.get("RegisteredOrganization"), Some(&CimValue::Uint16(2)));
        assert_eq!(i.get("RegisteredName"), Some(&CimValue::from("Virtual System Profile")));
        assert_eq!(i.get("RegisteredVersion"), Some(&CimValue::from("1.0.0")));
        assert_eq!(Profile::by_instance_id("Xen:DSP1042"), Some(SYSTEM_VIRTUALIZATION));
        assert_eq!(Profile::by_instance_id("Xen:DSP9999"), None);
    }

    #[test]
    fn versions_are_numeric_major_minor_update() {
        // DSP1033: RegisteredVersion is "M.N.U", three decimal numbers (no errata letters).
        for p in PROFILES {
            let parts: Vec<&str> = p.version.split('.').collect();
            assert_eq!(parts.len(), 3, "{p:?}");
            assert!(parts.iter().all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())), "{p:?}");
        }
    }
}
