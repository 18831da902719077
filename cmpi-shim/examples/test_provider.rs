//! A CMPI provider library written with the safe API, used by the integration tests.
//!
//! Providers:
//! - `Test_Rust`: instance, association, method and indication MI over an in-memory
//!   store of `Test_Element` instances (key `Name`) linked by `Test_Link`
//!   associations (`Antecedent` → `Dependent`).
//! - `Test_Panic`: panics in every MI function.

use cmpi_shim::provider::*;
use cmpi_shim::*;
use std::sync::Mutex;

const NS: &str = "root/cimv2";

/// The element store, shared by every MI of every load of this library. It is
/// emptied when the last `Test_Rust` MI is cleaned up, so nothing the library
/// allocated outlives it (valgrind would report it lost after the unload).
static STORE: Mutex<Store> = Mutex::new(Store { users: 0, items: Vec::new() });
static ACTIVE_FILTERS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Store {
    users: usize,
    items: Vec<Instance>,
}

impl std::ops::Deref for Store {
    type Target = Vec<Instance>;
    fn deref(&self) -> &Vec<Instance> {
        &self.items
    }
}

impl std::ops::DerefMut for Store {
    fn deref_mut(&mut self) -> &mut Vec<Instance> {
        &mut self.items
    }
}

fn element_path(name: &str) -> ObjectPath {
    ObjectPath::new(NS, "Test_Element").with_key("Name", name)
}

fn seed() -> Vec<Instance> {
    ["a", "b", "c"]
        .iter()
        .map(|n| Instance::new(element_path(n)).with("Name", *n).with("Size", CimValue::Uint32(n.len() as u32)))
        .collect()
}

/// Links: a → b, a → c.
fn links() -> Vec<Instance> {
    [("a", "b"), ("a", "c")]
        .iter()
        .map(|(x, y)| {
            let p = ObjectPath::new(NS, "Test_Link")
                .with_key("Antecedent", element_path(x))
                .with_key("Dependent", element_path(y));
            Instance::new(p).with("Antecedent", element_path(x)).with("Dependent", element_path(y))
        })
        .collect()
}

fn name_of(op: &ObjectPath) -> Result<String, CmpiError> {
    match op.key("Name") {
        Some(CimValue::String(s)) => Ok(s.clone()),
        _ => Err(CmpiError::invalid_parameter(format!("no Name key in {op}"))),
    }
}

fn same_element(a: &ObjectPath, b: &ObjectPath) -> bool {
    a.classname.eq_ignore_ascii_case(&b.classname) && a.key("Name") == b.key("Name")
}

fn class_matches(filter: Option<&str>, class: &str) -> bool {
    filter.map(|f| f.eq_ignore_ascii_case(class)).unwrap_or(true)
}

struct TestRust {
    broker: Broker,
}

impl Provider for TestRust {
    fn cleanup(&self, _ctx: &Context, _terminating: bool) -> Result<(), CmpiError> {
        let mut store = STORE.lock().unwrap();
        store.users -= 1;
        if store.users == 0 {
            store.items = Vec::new();
            *ACTIVE_FILTERS.lock().unwrap() = Vec::new();
        }
        Ok(())
    }
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
    fn indication(&self) -> Option<&dyn IndicationProvider> {
        Some(self)
    }
    fn property(&self) -> Option<&dyn PropertyProvider> {
        Some(self)
    }
}

impl PropertyProvider for TestRust {
    fn get_property(&self, ctx: &Context, op: &ObjectPath, name: &str) -> Result<CimValue, CmpiError> {
        let i = self.get_instance(ctx, op, None)?;
        i.get(name).cloned().ok_or_else(|| CmpiError::new(cmpi_shim::abi::CMPI_RC_ERR_NO_SUCH_PROPERTY, name.to_string()))
    }
    fn set_property(&self, ctx: &Context, op: &ObjectPath, name: &str, value: &CimValue) -> Result<(), CmpiError> {
        self.modify_instance(ctx, op, &Instance::new(op.clone()).with(name, value.clone()), None)
    }
}

impl InstanceProvider for TestRust {
    fn enumerate_instances(&self, _ctx: &Context, op: &ObjectPath, properties: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        if op.classname == "Test_Link" {
            return Ok(links());
        }
        let mut v = STORE.lock().unwrap().items.clone();
        if let Some(p) = properties {
            for i in &mut v {
                i.properties.retain(|(n, _)| p.iter().any(|k| k.eq_ignore_ascii_case(n)));
            }
        }
        Ok(v)
    }

    fn get_instance(&self, _ctx: &Context, op: &ObjectPath, _p: Option<&[String]>) -> Result<Instance, CmpiError> {
        let name = name_of(op)?;
        STORE
            .lock()
            .unwrap()
            .iter()
            .find(|i| i.get("Name") == Some(&CimValue::String(name.clone())))
            .cloned()
            .ok_or_else(|| CmpiError::not_found(format!("no element {name}")))
    }

    fn create_instance(&self, _ctx: &Context, _op: &ObjectPath, inst: &Instance) -> Result<ObjectPath, CmpiError> {
        let name = match inst.get("Name") {
            Some(CimValue::String(s)) => s.clone(),
            _ => return Err(CmpiError::invalid_parameter("Name is required")),
        };
        let mut store = STORE.lock().unwrap();
        if store.iter().any(|i| i.get("Name") == inst.get("Name")) {
            return Err(CmpiError::new(cmpi_shim::abi::CMPI_RC_ERR_ALREADY_EXISTS, format!("{name} exists")));
        }
        let mut i = inst.clone();
        i.path = element_path(&name);
        store.push(i);
        Ok(element_path(&name))
    }

    fn modify_instance(&self, _ctx: &Context, op: &ObjectPath, inst: &Instance, properties: Option<&[String]>) -> Result<(), CmpiError> {
        let name = name_of(op)?;
        let mut store = STORE.lock().unwrap();
        let target = store
            .iter_mut()
            .find(|i| i.get("Name") == Some(&CimValue::String(name.clone())))
            .ok_or_else(|| CmpiError::not_found(format!("no element {name}")))?;
        for (k, v) in &inst.properties {
            if properties.map(|p| p.iter().any(|x| x.eq_ignore_ascii_case(k))).unwrap_or(true) {
                target.set(k.clone(), v.clone());
            }
        }
        Ok(())
    }

    fn delete_instance(&self, _ctx: &Context, op: &ObjectPath) -> Result<(), CmpiError> {
        let name = name_of(op)?;
        let mut store = STORE.lock().unwrap();
        let before = store.len();
        store.retain(|i| i.get("Name") != Some(&CimValue::String(name.clone())));
        if store.len() == before {
            return Err(CmpiError::not_found(format!("no element {name}")));
        }
        Ok(())
    }
}

impl TestRust {
    /// Links where `op` plays `role` (if given), with the other end in `result_role`.
    fn matching_links(&self, op: &ObjectPath, assoc: Option<&str>, role: Option<&str>, result_role: Option<&str>) -> Vec<(Instance, ObjectPath)> {
        if !class_matches(assoc, "Test_Link") {
            return Vec::new();
        }
        let mut out = Vec::new();
        for l in links() {
            for (mine, other) in [("Antecedent", "Dependent"), ("Dependent", "Antecedent")] {
                let (Some(CimValue::Reference(m)), Some(CimValue::Reference(o))) = (l.get(mine), l.get(other)) else { continue };
                if same_element(m, op) && class_matches(role, mine) && class_matches(result_role, other) {
                    out.push((l.clone(), o.clone()));
                }
            }
        }
        out
    }
}

impl AssociationProvider for TestRust {
    fn associators(
        &self,
        ctx: &Context,
        op: &ObjectPath,
        assoc: Option<&str>,
        result_class: Option<&str>,
        role: Option<&str>,
        result_role: Option<&str>,
        _p: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        let mut out = Vec::new();
        for (_, other) in self.matching_links(op, assoc, role, result_role) {
            if class_matches(result_class, &other.classname) {
                out.push(self.get_instance(ctx, &other, None)?);
            }
        }
        Ok(out)
    }

    fn references(
        &self,
        _ctx: &Context,
        op: &ObjectPath,
        result_class: Option<&str>,
        role: Option<&str>,
        _p: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        Ok(self.matching_links(op, result_class, role, None).into_iter().map(|(l, _)| l).collect())
    }
}

impl MethodProvider for TestRust {
    fn invoke_method(&self, ctx: &Context, op: &ObjectPath, method: &str, in_args: &Args) -> Result<MethodResult, CmpiError> {
        match method {
            // Every IN argument comes back as an OUT argument; returns the count.
            "Echo" => Ok(MethodResult { return_value: Some(CimValue::Uint32(in_args.len() as u32)), out_args: in_args.clone() }),
            "WhoAmI" => Ok(MethodResult {
                return_value: None,
                out_args: vec![
                    ("Principal".into(), ctx.principal().map(CimValue::String).unwrap_or(CimValue::Null { ty: CimType::String, array: false })),
                    ("Namespace".into(), ctx.namespace().map(CimValue::String).unwrap_or(CimValue::Null { ty: CimType::String, array: false })),
                    ("Flags".into(), CimValue::Uint32(ctx.invocation_flags())),
                    ("Target".into(), CimValue::Reference(op.clone())),
                ],
            }),
            "Fire" => {
                let ind = Instance::new(ObjectPath::new(NS, "Test_Indication"))
                    .with("Message", "fired")
                    .with("Source", CimValue::Reference(op.clone()))
                    .with("Filters", CimValue::Array(CimType::String, ACTIVE_FILTERS.lock().unwrap().iter().cloned().map(CimValue::String).collect()));
                self.broker.deliver_indication(ctx, NS, &ind)?;
                Ok(MethodResult { return_value: Some(CimValue::Boolean(true)), out_args: vec![] })
            }
            "FireFromThread" => {
                let token = self.broker.prepare_attach_thread(ctx)?;
                let h = std::thread::spawn(move || -> Result<(), CmpiError> {
                    let attached = token.attach()?;
                    let ind = Instance::new(ObjectPath::new(NS, "Test_Indication")).with("Message", "from thread");
                    attached.broker().deliver_indication(&attached.context(), NS, &ind)
                });
                h.join().map_err(|_| CmpiError::failed("thread panicked"))??;
                Ok(MethodResult { return_value: Some(CimValue::Boolean(true)), out_args: vec![] })
            }
            "Fail" => Err(CmpiError::invalid_parameter("asked to fail")),
            // Asks the broker for instances of another class (CIMOM up-calls).
            "Upcall" => {
                let cls = ObjectPath::new(NS, "Test_Other");
                let names = self.broker.enumerate_instance_names(ctx, &cls)?;
                let insts = self.broker.enumerate_instances(ctx, &cls)?;
                Ok(MethodResult {
                    return_value: Some(CimValue::Uint32(insts.len() as u32)),
                    out_args: vec![("Names".into(), CimValue::Array(CimType::Reference, names.into_iter().map(CimValue::Reference).collect()))],
                })
            }
            other => Err(CmpiError::new(cmpi_shim::abi::CMPI_RC_ERR_METHOD_NOT_FOUND, format!("no method {other}"))),
        }
    }
}

impl IndicationProvider for TestRust {
    fn authorize_filter(&self, _ctx: &Context, q: &str, _class: &str, _op: &ObjectPath, owner: &str) -> Result<(), CmpiError> {
        if owner == "mallory" {
            return Err(CmpiError::new(cmpi_shim::abi::CMPI_RC_ERR_ACCESS_DENIED, format!("{owner} may not subscribe to {q}")));
        }
        Ok(())
    }
    fn activate_filter(&self, _ctx: &Context, q: &str, _class: &str, _op: &ObjectPath, _first: bool) -> Result<(), CmpiError> {
        ACTIVE_FILTERS.lock().unwrap().push(q.to_string());
        Ok(())
    }
    fn deactivate_filter(&self, _ctx: &Context, q: &str, _class: &str, _op: &ObjectPath, _last: bool) -> Result<(), CmpiError> {
        ACTIVE_FILTERS.lock().unwrap().retain(|f| f != q);
        Ok(())
    }
}

struct TestPanic;

impl Provider for TestPanic {
    fn instance(&self) -> Option<&dyn InstanceProvider> {
        Some(self)
    }
    fn association(&self) -> Option<&dyn AssociationProvider> {
        Some(self)
    }
    fn method(&self) -> Option<&dyn MethodProvider> {
        Some(self)
    }
    fn indication(&self) -> Option<&dyn IndicationProvider> {
        Some(self)
    }
}

impl InstanceProvider for TestPanic {
    fn enumerate_instances(&self, _: &Context, _: &ObjectPath, _: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        panic!("boom in enumerate_instances")
    }
    fn enumerate_instance_names(&self, _: &Context, _: &ObjectPath) -> Result<Vec<ObjectPath>, CmpiError> {
        panic!("boom in enumerate_instance_names")
    }
    fn get_instance(&self, _: &Context, _: &ObjectPath, _: Option<&[String]>) -> Result<Instance, CmpiError> {
        panic!("boom in get_instance")
    }
    fn create_instance(&self, _: &Context, _: &ObjectPath, _: &Instance) -> Result<ObjectPath, CmpiError> {
        panic!("boom in create_instance")
    }
    fn modify_instance(&self, _: &Context, _: &ObjectPath, _: &Instance, _: Option<&[String]>) -> Result<(), CmpiError> {
        panic!("boom in modify_instance")
    }
    fn delete_instance(&self, _: &Context, _: &ObjectPath) -> Result<(), CmpiError> {
        panic!("boom in delete_instance")
    }
    fn exec_query(&self, _: &Context, _: &ObjectPath, _: &str, _: &str) -> Result<Vec<Instance>, CmpiError> {
        panic!("boom in exec_query")
    }
}

impl AssociationProvider for TestPanic {
    fn associators(
        &self,
        _: &Context,
        _: &ObjectPath,
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&[String]>,
    ) -> Result<Vec<Instance>, CmpiError> {
        panic!("boom in associators")
    }
    fn associator_names(
        &self,
        _: &Context,
        _: &ObjectPath,
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
        _: Option<&str>,
    ) -> Result<Vec<ObjectPath>, CmpiError> {
        panic!("boom in associator_names")
    }
    fn references(&self, _: &Context, _: &ObjectPath, _: Option<&str>, _: Option<&str>, _: Option<&[String]>) -> Result<Vec<Instance>, CmpiError> {
        panic!("boom in references")
    }
    fn reference_names(&self, _: &Context, _: &ObjectPath, _: Option<&str>, _: Option<&str>) -> Result<Vec<ObjectPath>, CmpiError> {
        panic!("boom in reference_names")
    }
}

impl MethodProvider for TestPanic {
    fn invoke_method(&self, _: &Context, _: &ObjectPath, _: &str, _: &Args) -> Result<MethodResult, CmpiError> {
        panic!("boom in invoke_method")
    }
}

impl IndicationProvider for TestPanic {
    fn authorize_filter(&self, _: &Context, _: &str, _: &str, _: &ObjectPath, _: &str) -> Result<(), CmpiError> {
        panic!("boom in authorize_filter")
    }
    fn must_poll(&self, _: &Context, _: &str, _: &str, _: &ObjectPath) -> Result<(), CmpiError> {
        panic!("boom in must_poll")
    }
    fn activate_filter(&self, _: &Context, _: &str, _: &str, _: &ObjectPath, _: bool) -> Result<(), CmpiError> {
        panic!("boom in activate_filter")
    }
    fn deactivate_filter(&self, _: &Context, _: &str, _: &str, _: &ObjectPath, _: bool) -> Result<(), CmpiError> {
        panic!("boom in deactivate_filter")
    }
    fn enable_indications(&self, _: &Context) -> Result<(), CmpiError> {
        panic!("boom in enable_indications")
    }
    fn disable_indications(&self, _: &Context) -> Result<(), CmpiError> {
        panic!("boom in disable_indications")
    }
}

cmpi_shim::export_providers! {
    Test_Rust => |broker: Broker, _ctx: &Context| -> Result<TestRust, CmpiError> {
        let mut store = STORE.lock().unwrap();
        if store.users == 0 {
            store.items = seed();
        }
        store.users += 1;
        Ok(TestRust { broker })
    },
    Test_Panic => |_b: Broker, _c: &Context| -> Result<TestPanic, CmpiError> {
        // The panics are deliberate: keep the library's panic hook quiet about them.
        std::panic::set_hook(Box::new(|_| {}));
        Ok(TestPanic)
    },
}

