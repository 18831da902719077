//! First start of a state directory: one pool, the host this server runs, its CPUs and metrics,
//! the control domain, the `root` user, the local SR and the host's NICs. Later starts find them
//! and change nothing (the SR and NICs are made if an older state directory lacks them).

use crate::api::users::put_user;
use crate::config::CoreConfig;
use crate::model::{model, Role};
use crate::store::{new_ref, new_uuid, Record, Store};
use crate::value::Value;
use std::io::Write;

/// API version this server claims (XenServer 8 parity).
pub const API_VERSION_MAJOR: i64 = 2;
pub const API_VERSION_MINOR: i64 = 21;

pub struct Boot {
    pub pool: String,
    pub host: String,
}

fn map(pairs: &[(&str, String)]) -> Value {
    Value::Map(pairs.iter().map(|(k, v)| (Value::str(*k), Value::str(v.clone()))).collect())
}

pub fn ensure(store: &Store, config: &CoreConfig) -> Result<Boot, String> {
    crate::api::task::fail_interrupted(store)?;
    crate::store::repair_unreadable_strings(store)?;
    let existing = {
        let t = store.read();
        let pool = t.table("pool").objects.iter().next().map(|(r, rec)| {
            (r.clone(), rec.str(model().class("pool").unwrap(), "master").to_string())
        });
        pool
    };
    if let Some((pool, host)) = existing {
        ensure_devices(store, config, &pool, &host)?;
        return Ok(Boot { pool, host });
    }
    let h = &config.host;
    let (pool_ref, host_ref, metrics_ref, dom0_ref, dom0_metrics_ref) = (new_ref(), new_ref(), new_ref(), new_ref(), new_ref());
    let mib = 1024 * 1024;
    store
        .write(|tx| {
            let c = model().class("host_metrics").unwrap();
            let mut m = Record::new_default(c);
            m.set(c, "uuid", Value::str(new_uuid()));
            m.set(c, "memory_total", Value::Int((h.memory_mib * mib) as i64));
            m.set(c, "memory_free", Value::Int(((h.memory_mib - h.dom0_memory_mib) * mib) as i64));
            m.set(c, "live", Value::Bool(true));
            m.set(c, "last_updated", Value::DateTime(crate::time_fmt::now()));
            tx.put("host_metrics", &metrics_ref, m);

            let c = model().class("host_cpu").unwrap();
            let mut cpus = Vec::new();
            for n in 0..h.cpus {
                let mut cpu = Record::new_default(c);
                cpu.set(c, "uuid", Value::str(new_uuid()));
                cpu.set(c, "host", Value::str(&host_ref));
                cpu.set(c, "number", Value::Int(n as i64));
                cpu.set(c, "vendor", Value::str("GenuineIntel"));
                cpu.set(c, "speed", Value::Int(h.cpu_speed_mhz as i64));
                cpu.set(c, "modelname", Value::str(&h.cpu_model));
                cpu.set(c, "family", Value::Int(6));
                cpu.set(c, "model", Value::Int(85));
                cpu.set(c, "stepping", Value::str("4"));
                cpu.set(c, "flags", Value::str("fpu de tsc msr pae cx8 apic sep pge cmov clflush mmx fxsr sse sse2 ht syscall nx lm vmx"));
                let r = new_ref();
                tx.put("host_cpu", &r, cpu);
                cpus.push(Value::str(r));
            }

            let c = model().class("host").unwrap();
            let mut host = Record::new_default(c);
            host.set(c, "uuid", Value::str(new_uuid()));
            host.set(c, "name_label", Value::str(&h.hostname));
            host.set(c, "name_description", Value::str("Simulated host (xencim)"));
            host.set(c, "hostname", Value::str(&h.hostname));
            host.set(c, "address", Value::str("127.0.0.1"));
            host.set(c, "enabled", Value::Bool(true));
            host.set(c, "API_version_major", Value::Int(API_VERSION_MAJOR));
            host.set(c, "API_version_minor", Value::Int(API_VERSION_MINOR));
            host.set(c, "API_version_vendor", Value::str("xencim"));
            host.set(c, "software_version", map(&[
                ("product_brand", "xencim".into()),
                ("product_version", env!("CARGO_PKG_VERSION").into()),
                ("xapi", format!("{API_VERSION_MAJOR}.{API_VERSION_MINOR}")),
                ("xen", "4.17.0-sim".into()),
                ("backend", "sim".into()),
            ]));
            host.set(c, "cpu_info", map(&[
                ("cpu_count", h.cpus.to_string()),
                ("socket_count", "1".into()),
                ("vendor", "GenuineIntel".into()),
                ("speed", format!("{}.000", h.cpu_speed_mhz)),
                ("modelname", h.cpu_model.clone()),
                ("family", "6".into()),
                ("model", "85".into()),
            ]));
            host.set(c, "capabilities", Value::Set(["xen-3.0-x86_64", "hvm-3.0-x86_32", "hvm-3.0-x86_64"].iter().map(|s| Value::str(*s)).collect()));
            host.set(c, "host_CPUs", Value::Set(cpus));
            host.set(c, "metrics", Value::str(&metrics_ref));
            host.set(c, "resident_VMs", Value::Set(vec![Value::str(&dom0_ref)]));
            host.set(c, "control_domain", Value::str(&dom0_ref));
            host.set(c, "memory_overhead", Value::Int(0));
            tx.put("host", &host_ref, host);

            let c = model().class("VM_metrics").unwrap();
            let mut vm_metrics = Record::new_default(c);
            vm_metrics.set(c, "uuid", Value::str(new_uuid()));
            vm_metrics.set(c, "memory_actual", Value::Int((h.dom0_memory_mib * mib) as i64));
            vm_metrics.set(c, "VCPUs_number", Value::Int(h.cpus as i64));
            vm_metrics.set(c, "start_time", Value::DateTime(crate::time_fmt::now()));
            vm_metrics.set(c, "state", Value::Set(vec![Value::str("running")]));
            tx.put("VM_metrics", &dom0_metrics_ref, vm_metrics);

            let c = model().class("VM").unwrap();
            let mut dom0 = Record::new_default(c);
            let dom0_mem = Value::Int((h.dom0_memory_mib * mib) as i64);
            dom0.set(c, "uuid", Value::str(new_uuid()));
            dom0.set(c, "name_label", Value::str(format!("Control domain on host: {}", h.hostname)));
            dom0.set(c, "name_description", Value::str("The domain which manages physical devices and manages other domains"));
            dom0.set(c, "power_state", Value::str(crate::generated::VmPowerState::Running.wire_name()));
            dom0.set(c, "is_control_domain", Value::Bool(true));
            dom0.set(c, "resident_on", Value::str(&host_ref));
            dom0.set(c, "domid", Value::Int(0));
            for f in ["memory_static_min", "memory_dynamic_min", "memory_dynamic_max", "memory_static_max", "memory_target"] {
                dom0.set(c, f, dom0_mem.clone());
            }
            dom0.set(c, "VCPUs_max", Value::Int(h.cpus as i64));
            dom0.set(c, "VCPUs_at_startup", Value::Int(h.cpus as i64));
            dom0.set(c, "actions_after_shutdown", Value::str("destroy"));
            dom0.set(c, "actions_after_reboot", Value::str("restart"));
            dom0.set(c, "actions_after_crash", Value::str("restart"));
            dom0.set(c, "metrics", Value::str(&dom0_metrics_ref));
            dom0.set(c, "domain_type", Value::str("pv"));
            tx.put("VM", &dom0_ref, dom0);

            let c = model().class("pool").unwrap();
            let mut pool = Record::new_default(c);
            pool.set(c, "uuid", Value::str(new_uuid()));
            pool.set(c, "name_label", Value::str(""));
            pool.set(c, "master", Value::str(&host_ref));
            tx.put("pool", &pool_ref, pool);
            Ok(())
        })
        .map_err(|e| format!("cannot bootstrap the store: {e}"))?;

    store.write(|tx| {
        for t in TEMPLATES {
            crate::api::vm::insert_vm(tx, template_record(t));
        }
        Ok(())
    })
    .map_err(|e| format!("cannot create the built-in templates: {e}"))?;

    let (password, generated) = match &config.initial_root_password {
        Some(p) => (p.clone(), false),
        None => (crate::auth::generate_password(), true),
    };
    put_user(store, "root", "Local administrator", Role::PoolAdmin, &password).map_err(|e| e.to_string())?;
    if generated {
        let path = config.state_dir.join("initial-password");
        write_secret(&path, &password).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        show_generated_password(&password, &path);
    }
    ensure_devices(store, config, &pool_ref, &host_ref)?;
    Ok(Boot { pool: pool_ref, host: host_ref })
}

/// The generated root password goes to the person at the terminal, and nowhere else: never
/// through the log (tracing), whose output ends up in journald or log files, and not even on
/// standard error when that is not a terminal (a service manager sends it to the same journal).
/// The log only says where the file is.
fn show_generated_password(password: &str, path: &std::path::Path) {
    use std::io::IsTerminal;
    tracing::info!("first start: generated a password for user root, in {} (readable by this user only)", path.display());
    if std::io::stderr().is_terminal() {
        eprintln!("xencim: first start; the password of user root is {password} (also in {})", path.display());
    }
}

/// The local SR (`pool.default_SR`) and the host's NICs with their networks; made when missing,
/// so a state directory from before storage existed gets them on its next start.
fn ensure_devices(store: &Store, config: &CoreConfig, pool: &str, host: &str) -> Result<(), String> {
    crate::storage::qemu_img::available();
    crate::api::sr::ensure_local_sr(store, &config.state_dir, host, pool)?;
    crate::api::pif::ensure_host_nics(store, host)
}

/// A built-in template: name, HVM or PV, memory (MiB, min..max), vCPUs.
struct Template {
    name: &'static str,
    description: &'static str,
    hvm: bool,
    memory_mib: (i64, i64),
    vcpus: i64,
}

const TEMPLATES: &[Template] = &[
    Template { name: "Debian Bookworm 12", description: "Debian 12 (64-bit), PV guest booted with pygrub", hvm: false, memory_mib: (512, 2048), vcpus: 1 },
    Template { name: "Ubuntu Jammy Jellyfish 22.04", description: "Ubuntu 22.04 (64-bit), PV guest booted with pygrub", hvm: false, memory_mib: (1024, 4096), vcpus: 2 },
    Template { name: "Windows 10 (64-bit)", description: "Windows 10 (64-bit), HVM guest with Viridian enlightenments", hvm: true, memory_mib: (2048, 4096), vcpus: 2 },
    Template { name: "Other install media", description: "Any other guest, HVM, booted from CD or network", hvm: true, memory_mib: (256, 1024), vcpus: 1 },
];

fn template_record(t: &Template) -> Record {
    let c = model().class("VM").unwrap();
    let mut r = Record::new_default(c);
    let mib = 1024 * 1024;
    r.set(c, "uuid", Value::str(new_uuid()));
    r.set(c, "name_label", Value::str(t.name));
    r.set(c, "name_description", Value::str(t.description));
    r.set(c, "is_a_template", Value::Bool(true));
    r.set(c, "is_default_template", Value::Bool(true));
    r.set(c, "user_version", Value::Int(1));
    r.set(c, "memory_static_min", Value::Int(t.memory_mib.0 * mib));
    r.set(c, "memory_dynamic_min", Value::Int(t.memory_mib.0 * mib));
    r.set(c, "memory_dynamic_max", Value::Int(t.memory_mib.1 * mib));
    r.set(c, "memory_static_max", Value::Int(t.memory_mib.1 * mib));
    r.set(c, "VCPUs_max", Value::Int(t.vcpus));
    r.set(c, "VCPUs_at_startup", Value::Int(t.vcpus));
    r.set(c, "actions_after_shutdown", Value::str("destroy"));
    r.set(c, "actions_after_reboot", Value::str("restart"));
    r.set(c, "actions_after_crash", Value::str("restart"));
    if t.hvm {
        r.set(c, "HVM_boot_policy", Value::str("BIOS order"));
        r.set(c, "HVM_boot_params", map(&[("order", "dc".into())]));
        r.set(c, "platform", map(&[("acpi", "1".into()), ("apic", "true".into()), ("pae", "true".into()), ("viridian", "true".into()), ("nx", "true".into())]));
        r.set(c, "domain_type", Value::str("hvm"));
    } else {
        r.set(c, "PV_bootloader", Value::str("pygrub"));
        r.set(c, "platform", map(&[("nx", "true".into())]));
        r.set(c, "domain_type", Value::str("pv"));
    }
    r.set(c, "other_config", map(&[("default_template", "true".into()), ("install-methods", "cdrom,nfs,http,ftp".into())]));
    r
}

/// Writes a file only its owner can read (mode 0600 from creation, no window of wider access),
/// `content` and a line ending.
pub fn write_secret(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    writeln!(crate::state_dir::create_private(path)?, "{content}")
}
