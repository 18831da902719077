//! The DSP1043 capabilities setting data and Xen_SettingsDefineCapabilities agree with their MOF,
//! on the DMTF schema 2.41 and on `mof/base/`: every property is declared with its type, paths
//! use exactly the keys, each reference points at a class the MOF allows, and the lineage the
//! association filters use is the MOF's.

mod mof_check;
use cmpi_shim::CimValue;
use mof_check::*;
use xen_cim_providers::associations::{self as assoc, CAPABILITIES_SETTING_ASSOCS};
use xen_cim_providers::cache::Tables;
use xen_cim_providers::xen_capabilities::{self as caps, CapKind};
use xen_cim_providers::xen_capabilities_setting_data::{self as capsd, BOUNDS};
use xen_cim_providers::xen_resource_pool::POOL_KINDS;
use xencim_broker::model::Class;
use xencim_broker::repo::Repository;

fn class<'a>(r: &'a Repository, name: &str) -> &'a Class {
    r.namespace("root/cimv2").unwrap().class(name).unwrap_or_else(|| panic!("{name} is not defined"))
}

/// A host with its metrics, an SR and a network: one pool of each kind.
fn tables() -> Tables {
    let mut t = Tables::default();
    t.insert("host_metrics", "HM", rec("host_metrics", vec![("memory_total", s("8589934592")), ("memory_free", s("4294967296"))]));
    t.insert("host", "H", rec("host", vec![("uuid", s("h")), ("metrics", s("HM"))]));
    t.insert("sr", "S", rec("SR", vec![("uuid", s("sr")), ("physical_size", s("107374182400")), ("physical_utilisation", s("1073741824"))]));
    t.insert("network", "N", rec("network", vec![("uuid", s("net"))]));
    t
}

fn check_all(r: &Repository) {
    let t = tables();
    let mut sources = Vec::new();
    for kind in POOL_KINDS {
        let (_, src) = t.iter(kind.source()).next().unwrap();
        for b in BOUNDS {
            let i = capsd::instance("root/cimv2", kind, b, src, &t);
            check_instance(class(r, capsd::class(kind)), &i);
            assert!(r.namespace("root/cimv2").unwrap().is_subclass_of(capsd::class(kind), "CIM_ResourceAllocationSettingData"));
            sources.push(i.path);
        }
        sources.push(caps::path("root/cimv2", CapKind::Allocation(kind), src.str("uuid")));
    }
    for a in CAPABILITIES_SETTING_ASSOCS {
        let c = class(r, a.class());
        assert!(c.is_association(), "{}", c.name);
        let mut n = 0;
        for src in &sources {
            for h in assoc::hops(a, &t, src, None, None, None) {
                check_instance(c, &h.link);
                for (name, v) in &h.link.properties {
                    let CimValue::Reference(p) = v else { continue };
                    let want = c.property(name).unwrap().reference_class.clone().unwrap();
                    assert!(r.namespace("root/cimv2").unwrap().is_subclass_of(&p.classname, &want), "{}.{name}: {} is not a {want}", c.name, p.classname);
                }
                n += 1;
            }
        }
        assert_eq!(n, 2 * 4 * POOL_KINDS.len(), "four links per capabilities, seen from both ends");
    }
}

#[test]
fn capabilities_setting_data_fit_the_dmtf_schema() {
    check_all(&schema_repository());
}

#[test]
fn capabilities_setting_data_fit_the_base_classes() {
    check_all(&base_repository());
}

#[test]
fn association_filters_know_the_capabilities_setting_data_lineage() {
    // exactly the schema's chain of parents; mof/base has the same classes on that chain
    for (r, exact) in [(schema_repository(), true), (base_repository(), false)] {
        let mut classes: Vec<&str> = POOL_KINDS.iter().map(|k| capsd::class(*k)).collect();
        classes.extend(CAPABILITIES_SETTING_ASSOCS.iter().map(|a| a.class()));
        for c in classes {
            let mut want = vec![c.to_string()];
            let mut cur = class(&r, c);
            while let Some(p) = &cur.superclass {
                want.push(p.clone());
                cur = class(&r, p);
            }
            let got: Vec<String> = assoc::lineage(c).iter().map(|s| s.to_string()).collect();
            if exact {
                assert_eq!(got, want, "{c}");
            } else {
                assert!(want.iter().all(|w| got.contains(w)), "{c}: {want:?} not within {got:?}");
            }
        }
    }
}
