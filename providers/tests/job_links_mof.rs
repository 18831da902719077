//! The job associations agree with their MOF, on the DMTF schema 2.41 and on `mof/base/`: the
//! links set exactly the class's references and properties, each reference points at a class the
//! MOF allows, the lineage the filters use is the MOF's, and both classes are registered.

mod mof_check;
use cmpi_shim::CimValue;
use mof_check::*;
use xen_cim_providers::associations as assoc;
use xen_cim_providers::xen_job_links::{self as links, JOB_LINKS};
use xen_cim_providers::{xen_computer_system as cs, xen_job as job};
#[test]
fn links_fit_their_classes() {
    for r in [schema_repository(), base_repository()] {
        let n = r.namespace("root/cimv2").unwrap();
        for which in JOB_LINKS {
            let c = n.class(which.class()).unwrap_or_else(|| panic!("{} is not defined", which.class()));
            assert!(c.is_association());
            let i = links::link(which, "root/cimv2", job::path("root/cimv2", job::STATE_CHANGE_JOB, "t"), cs::path("root/cimv2", "v"));
            check_instance(c, &i);
            for (name, v) in &i.properties {
                let CimValue::Reference(p) = v else { continue };
                let want = c.property(name).unwrap().reference_class.clone().unwrap();
                assert!(n.is_subclass_of(&p.classname, &want), "{}.{name}: {} is not a {want}", c.name, p.classname);
            }
        }
    }
}

#[test]
fn filters_know_the_mof_lineage() {
    let r = schema_repository();
    let n = r.namespace("root/cimv2").unwrap();
    let mut classes: Vec<&str> = JOB_LINKS.iter().map(|l| l.class()).collect();
    classes.extend(links::JOB_CLASSES);
    for c in classes {
        let mut want = vec![c.to_string()];
        let mut cur = n.class(c).unwrap();
        while let Some(p) = &cur.superclass {
            want.push(p.clone());
            cur = n.class(p).unwrap();
        }
        let got: Vec<String> = assoc::lineage(c).iter().map(|s| s.to_string()).collect();
        assert_eq!(got, want, "{c}");
    }
}

#[test]
fn both_classes_are_registered_and_exported() {
    let regs = xencim_broker::registration::read_all(&[workspace().join("registration")]).expect("registration/ parses");
    for which in JOB_LINKS {
        let g = regs.iter().find(|g| g.class == which.class()).unwrap_or_else(|| panic!("{} is not registered", which.class()));
        assert!(g.has_type("instance") && g.has_type("association"));
        assert!(xen_cim_providers::PROVIDER_NAMES.contains(&which.class()));
    }
}
