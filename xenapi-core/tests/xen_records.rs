//! From the records a client made to the libxl configuration: a VM with a qcow2 disk in the local
//! file SR and a NIC on xenbr0, created through the XenAPI of a real (simulated-host) server, is
//! read back by the API's `vm_devices::domain_spec` (what a start hands the backend) and
//! translated; libxl's JSON must name the image file that exists in the SR, the VIF's generated
//! MAC and the network's bridge, and carry the VM's boot, memory, vCPU and action fields.
#![cfg(feature = "xen")]

mod support;

use support::{map, vm_fields, TestServer, GIB, PASSWORD};
use xenapi_core::backend::xen::translate::domain_config;
use xenapi_client::Client;
use xenapi_core::Value;

fn sv(s: &str) -> Value {
    Value::str(s)
}

#[tokio::test]
async fn vm_records_become_a_libxl_configuration() {
    let srv = TestServer::start().await;
    let s = Client::connect(&srv.http_url()).await.unwrap().login("root", PASSWORD, "xen-records").await.unwrap();
    let srs = s.get_all_records("SR").await.unwrap();
    let (sr, _) = srs.iter().find(|(_, r)| r.str("type") == "file").expect("the local file SR");
    let nets = s.get_all_records("network").await.unwrap();
    let (net, _) = nets.iter().find(|(_, r)| r.str("bridge") == "xenbr0").expect("the xenbr0 network");

    let vm = s.create("VM", vm_fields("xen-records")).await.unwrap();
    let field = |k: &str, v: Value| (k.to_string(), v);
    let vdi = s
        .create(
            "VDI",
            vec![
                field("SR", sv(sr)),
                field("virtual_size", Value::Int(GIB)),
                field("type", sv("user")),
                field("sharable", Value::Bool(false)),
                field("read_only", Value::Bool(false)),
                field("other_config", map(&[])),
                field("sm_config", map(&[("format", "qcow2")])),
                field("name_label", sv("root")),
                field("name_description", sv("")),
            ],
        )
        .await
        .unwrap();
    let device_fields = [field("other_config", map(&[])), field("qos_algorithm_type", sv("")), field("qos_algorithm_params", map(&[]))];
    let mut vbd = vec![
        field("VM", sv(&vm)),
        field("VDI", sv(&vdi)),
        field("userdevice", sv("0")),
        field("bootable", Value::Bool(true)),
        field("mode", sv("RW")),
        field("type", sv("Disk")),
        field("empty", Value::Bool(false)),
    ];
    vbd.extend(device_fields.clone());
    s.create("VBD", vbd).await.unwrap();
    let mut vif = vec![field("device", sv("0")), field("network", sv(net)), field("VM", sv(&vm)), field("MAC", sv("")), field("MTU", Value::Int(1500))];
    vif.extend(device_fields);
    let vif = s.create("VIF", vif).await.unwrap();
    let mac = s.get_record("VIF", &vif).await.unwrap().str("MAC").to_string();
    let location = s.get_record("VDI", &vdi).await.unwrap().str("location").to_string();
    let uuid = s.get_record("VM", &vm).await.unwrap().str("uuid").to_string();

    let rec = srv.xapi.store.read().get("VM", &vm).map(|r| (**r).clone()).unwrap();
    let spec = xenapi_core::api::vm_devices::domain_spec(&srv.xapi, &rec).expect("the VM's devices resolve");
    let json = domain_config(&spec).expect("translates").to_json(None).unwrap();
    let j: serde_json::Value = serde_json::from_str(&json).unwrap();

    assert_eq!(j["c_info"]["type"], "pv");
    assert_eq!(j["c_info"]["uuid"], uuid.as_str());
    let b = &j["b_info"];
    assert_eq!((b["bootloader"].as_str(), b["cmdline"].as_str()), (Some("pygrub"), Some("console=hvc0 <&>")));
    assert_eq!((b["max_memkb"].as_u64(), b["target_memkb"].as_u64()), (Some(4 << 20), Some(4 << 20)));
    assert_eq!((b["max_vcpus"].as_u64(), b["avail_vcpus"].clone()), (Some(4), serde_json::json!([0, 1])));
    assert_eq!(b["sched_params"]["weight"], 256);
    let disk = &j["disks"][0];
    let path = disk["pdev_path"].as_str().unwrap();
    assert!(path.starts_with('/') && path.ends_with(&format!("/{location}")), "{path}");
    assert!(std::path::Path::new(path).is_file(), "the image {path} exists in the SR");
    assert_eq!((disk["vdev"].as_str(), disk["format"].as_str(), disk["readwrite"].as_i64()), (Some("xvda"), Some("qcow2"), Some(1)));
    let nic = &j["nics"][0];
    assert_eq!((nic["mac"].as_str(), nic["bridge"].as_str(), nic["mtu"].as_i64()), (Some(mac.to_ascii_lowercase().as_str()), Some("xenbr0"), Some(1500)));
    assert_eq!((j["on_reboot"].as_str(), j["on_crash"].as_str()), (Some("restart"), Some("preserve")));
    srv.stop().await;
}
