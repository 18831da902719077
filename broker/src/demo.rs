//! An in-process test provider for the classes of `testdata/xentest.mof`:
//! `XenTest_Element` (N instances, N from XENCIM_DEMO_COUNT, default 3),
//! `XenTest_Child` (2 instances) and the association `XenTest_Link`
//! (E0 -> each child). Used by the end-to-end tests and the benchmark; it
//! supports modify, create, delete and the methods Bump, Echo (static),
//! Sleep (a slow provider) and Crash (which panics, to show the broker
//! survives a provider panic).

use std::sync::{Arc, Mutex};

use crate::error::{CimError, CimResult};
use crate::model::*;
use crate::provider::{Context, MethodResult, ParamValue, Provider, ProviderRegistry};

pub struct DemoProvider {
    elements: Mutex<Vec<Instance>>,
}

#[allow(clippy::manual_is_multiple_of)] // is_multiple_of needs Rust 1.87; the workspace allows 1.80
fn element(class: &str, id: &str, i: u64) -> Instance {
    let mut inst = Instance::new(class)
        .with("InstanceID", CimType::String, Value::String(id.into()))
        .with("ElementName", CimType::String, Value::String(format!("element {id}")))
        .with("Counter", CimType::UInt32, Value::UInt(i))
        .with("Enabled", CimType::Boolean, Value::Boolean(i % 2 == 0))
        .with("Tags", CimType::String, Value::Array(vec![Value::String("a".into()), Value::String(format!("t{i}"))]))
        .with("Created", CimType::DateTime, Value::DateTime("20260101120000.000000+000".into()))
        .with("Health", CimType::UInt16, Value::UInt(1));
    if class == "XenTest_Child" {
        inst.set("Level", CimType::UInt16, Some(Value::UInt(i + 1)));
    }
    inst
}

impl DemoProvider {
    pub fn new(count: usize) -> Self {
        let mut v: Vec<Instance> = (0..count).map(|i| element("XenTest_Element", &format!("E{i}"), i as u64)).collect();
        v.push(element("XenTest_Child", "C0", 0));
        v.push(element("XenTest_Child", "C1", 1));
        DemoProvider { elements: Mutex::new(v) }
    }

    fn path_of(id: &str, class: &str) -> ObjectPath {
        ObjectPath::new(class).with_key("InstanceID", Value::String(id.into()))
    }
}

/// Registers the demo provider in root/cimv2 for its three classes.
pub fn register(reg: &mut ProviderRegistry) {
    let n = std::env::var("XENCIM_DEMO_COUNT").ok().and_then(|v| v.parse().ok()).unwrap_or(3);
    let p = Arc::new(DemoProvider::new(n));
    for c in ["XenTest_Element", "XenTest_Child", "XenTest_Link"] {
        reg.register("root/cimv2", c, p.clone());
    }
}

impl Provider for DemoProvider {
    fn enumerate_instances(&self, _ctx: &Context, class: &Class) -> CimResult<Vec<Instance>> {
        let els = self.elements.lock().unwrap();
        if class.name.eq_ignore_ascii_case("XenTest_Link") {
            let parent = els.iter().find(|e| e.class_name == "XenTest_Element").map(|e| e.get_value("InstanceID").cloned());
            let Some(Some(Value::String(pid))) = parent else { return Ok(vec![]) };
            return Ok(els
                .iter()
                .filter(|e| e.class_name == "XenTest_Child")
                .map(|c| {
                    let cid = c.get_value("InstanceID").and_then(Value::as_str).unwrap_or("").to_string();
                    let mut l = Instance::new("XenTest_Link");
                    l.properties.push(PropertyValue { name: "Parent".into(), ty: CimType::Reference, is_array: false, reference_class: Some("XenTest_Element".into()), value: Some(Value::Reference(Self::path_of(&pid, "XenTest_Element"))) });
                    l.properties.push(PropertyValue { name: "Child".into(), ty: CimType::Reference, is_array: false, reference_class: Some("XenTest_Element".into()), value: Some(Value::Reference(Self::path_of(&cid, "XenTest_Child"))) });
                    l
                })
                .collect());
        }
        Ok(els.iter().filter(|e| e.class_name.eq_ignore_ascii_case(&class.name)).cloned().collect())
    }

    fn modify_instance(&self, _ctx: &Context, class: &Class, path: &ObjectPath, inst: Instance) -> CimResult<()> {
        let mut els = self.elements.lock().unwrap();
        let e = els
            .iter_mut()
            .find(|e| e.path(class, None).same_instance(path))
            .ok_or_else(|| CimError::not_found(format!("no instance {path}")))?;
        for p in inst.properties {
            if p.name.eq_ignore_ascii_case("InstanceID") {
                continue;
            }
            e.set(&p.name, p.ty, p.value);
        }
        Ok(())
    }

    fn create_instance(&self, _ctx: &Context, class: &Class, inst: Instance) -> CimResult<ObjectPath> {
        let id = inst.get_value("InstanceID").and_then(Value::as_str).ok_or_else(|| CimError::invalid_parameter("InstanceID is required"))?.to_string();
        let mut els = self.elements.lock().unwrap();
        if els.iter().any(|e| e.get_value("InstanceID").and_then(Value::as_str) == Some(id.as_str())) {
            return Err(CimError::new(crate::error::ALREADY_EXISTS, format!("{id} exists")));
        }
        els.push(inst);
        Ok(Self::path_of(&id, &class.name))
    }

    fn delete_instance(&self, _ctx: &Context, class: &Class, path: &ObjectPath) -> CimResult<()> {
        let mut els = self.elements.lock().unwrap();
        let before = els.len();
        els.retain(|e| !e.path(class, None).same_instance(path));
        if els.len() == before {
            return Err(CimError::not_found(format!("no instance {path}")));
        }
        Ok(())
    }

    fn invoke_method(&self, _ctx: &Context, class: &Class, target: &ObjectPath, method: &Method, params: Vec<ParamValue>) -> CimResult<MethodResult> {
        let arg = |n: &str| params.iter().find(|p| p.name.eq_ignore_ascii_case(n)).and_then(|p| p.value.clone());
        match method.name.as_str() {
            "Echo" => Ok(MethodResult { return_value: arg("Text").or(Some(Value::String(String::new()))), out_params: vec![] }),
            "Crash" => panic!("demo provider asked to crash"),
            "Sleep" => {
                let ms = match arg("Millis") {
                    Some(Value::UInt(m)) => m.min(60_000),
                    _ => 0,
                };
                std::thread::sleep(std::time::Duration::from_millis(ms));
                Ok(MethodResult { return_value: Some(Value::UInt(0)), out_params: vec![] })
            }
            "Bump" => {
                if target.keys.is_empty() {
                    return Err(CimError::invalid_parameter("Bump needs an instance"));
                }
                let by = match arg("By") {
                    Some(Value::UInt(b)) => b,
                    _ => return Err(CimError::invalid_parameter("By is required")),
                };
                let mut els = self.elements.lock().unwrap();
                let e = els
                    .iter_mut()
                    .find(|e| e.path(class, None).same_instance(target) || Self::path_of(e.get_value("InstanceID").and_then(Value::as_str).unwrap_or(""), &e.class_name).same_instance(target))
                    .ok_or_else(|| CimError::not_found(format!("no instance {target}")))?;
                let cur = match e.get_value("Counter") {
                    Some(Value::UInt(c)) => *c,
                    _ => 0,
                };
                let nv = cur.saturating_add(by).min(u32::MAX as u64);
                e.set("Counter", CimType::UInt32, Some(Value::UInt(nv)));
                Ok(MethodResult {
                    return_value: Some(Value::UInt(0)),
                    out_params: vec![PropertyValue { name: "NewValue".into(), ty: CimType::UInt32, is_array: false, reference_class: None, value: Some(Value::UInt(nv)) }],
                })
            }
            other => Err(CimError::new(crate::error::METHOD_NOT_AVAILABLE, format!("{other} not implemented"))),
        }
    }
}
