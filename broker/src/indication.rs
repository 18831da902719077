//! Indications (DSP1054 subscriptions, DSP0200 export):
//!
//! * Clients create `CIM_IndicationFilter`, `CIM_ListenerDestinationCIMXML`
//!   and `CIM_IndicationSubscription` instances in the interop namespace.
//!   They live in the broker's store and are written to a MOF file in the
//!   state directory after every change, so they survive a restart (the
//!   file is compiled back at start-up).
//! * When a subscription appears, its filter is activated on every
//!   indication provider whose class the filter's `FROM` class covers
//!   (`activate_filter`), and deactivated when the last subscription using
//!   it goes.
//! * Providers deliver indications to the [`IndicationHub`]; each is matched
//!   against the active subscriptions' WQL and sent to the destination URL
//!   as a CIM-XML `ExportIndication` request, retried with back-off.
//!
//! ```text
//! POST /listener  CIMExport: MethodRequest  CIMExportMethod: ExportIndication
//! <CIM ..><MESSAGE ..><SIMPLEEXPREQ><EXPMETHODCALL NAME="ExportIndication">
//!   <EXPPARAMVALUE NAME="NewIndication"><INSTANCE CLASSNAME="..">..</INSTANCE></EXPPARAMVALUE>
//! </EXPMETHODCALL></SIMPLEEXPREQ></MESSAGE></CIM>
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::sync::mpsc;

use crate::cimxml::{self, ObjectFilter};
use crate::error::{CimError, CimResult};
use crate::model::*;
use crate::ops::Broker;
use crate::provider::Context;
use crate::xml::XmlOut;

pub const FILTER_CLASS: &str = "CIM_IndicationFilter";
pub const DESTINATION_CLASS: &str = "CIM_ListenerDestination";
pub const SUBSCRIPTION_CLASS: &str = "CIM_IndicationSubscription";

/// Most indications queued for delivery; more are dropped (and counted).
const QUEUE: usize = 10_000;

#[derive(Debug, Clone)]
struct Subscription {
    filter_key: String,
    query: crate::wql::Query,
    query_text: String,
    language: String,
    source_ns: String,
    destination: String,
}

/// (namespace, query, language, indication classes of the providers it was activated on)
type ActiveFilter = (String, String, String, Vec<String>);

/// Receives indications from providers and sends them to subscribers.
pub struct IndicationHub {
    tx: mpsc::Sender<(String, Instance)>,
    rx: Mutex<Option<mpsc::Receiver<(String, Instance)>>>,
    subs: RwLock<Vec<Subscription>>,
    /// Filters activated on providers, by filter key.
    active: Mutex<HashMap<String, ActiveFilter>>,
    pub interop_ns: String,
    /// Where subscriptions are persisted (a MOF file); None keeps them in memory.
    pub state_file: Option<PathBuf>,
    /// Delays between delivery attempts (its length + 1 attempts in all).
    pub retry: Vec<Duration>,
    pub delivered: AtomicU64,
    pub failed: AtomicU64,
    pub dropped: AtomicU64,
}

impl IndicationHub {
    pub fn new(interop_ns: &str, state_file: Option<PathBuf>) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        IndicationHub {
            tx,
            rx: Mutex::new(Some(rx)),
            subs: RwLock::new(Vec::new()),
            active: Mutex::new(HashMap::new()),
            interop_ns: crate::repo::normalize_ns(interop_ns),
            state_file,
            retry: vec![Duration::from_millis(200), Duration::from_millis(1000), Duration::from_secs(5)],
            delivered: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
        }
    }

    /// Called by providers (any thread): queue an indication raised in `namespace`.
    pub fn deliver(&self, namespace: &str, indication: Instance) {
        if self.tx.try_send((crate::repo::normalize_ns(namespace), indication)).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("indication queue full or closed: indication dropped");
        }
    }

    /// True when `class` (in the interop namespace) is one of the subscription classes.
    pub fn is_subscription_class(&self, broker: &Broker, ns: &str, class: &str) -> bool {
        if !crate::repo::normalize_ns(ns).eq_ignore_ascii_case(&self.interop_ns) {
            return false;
        }
        let repo = broker.repo.read().unwrap_or_else(PoisonError::into_inner);
        let Some(n) = repo.namespace(ns) else { return false };
        [FILTER_CLASS, DESTINATION_CLASS, SUBSCRIPTION_CLASS].iter().any(|c| n.is_subclass_of(class, c))
    }

    /// Checks a new filter or subscription before it is stored.
    pub fn validate(&self, broker: &Broker, class: &Class, inst: &Instance, principal: Option<&str>) -> CimResult<()> {
        let repo = broker.repo.read().unwrap_or_else(PoisonError::into_inner);
        let n = repo.namespace(&self.interop_ns).ok_or_else(|| CimError::invalid_namespace(&self.interop_ns))?;
        if n.is_subclass_of(&class.name, FILTER_CLASS) {
            let lang = inst.get_value("QueryLanguage").and_then(Value::as_str).unwrap_or("");
            if !lang.eq_ignore_ascii_case("WQL") && !lang.eq_ignore_ascii_case("DMTF:CQL") {
                return Err(CimError::new(crate::error::QUERY_LANGUAGE_NOT_SUPPORTED, format!("query language '{lang}' is not supported")));
            }
            let q = inst.get_value("Query").and_then(Value::as_str).unwrap_or("");
            crate::wql::parse(q).map_err(|e| CimError::new(crate::error::INVALID_QUERY, format!("filter query: {e}")))?;
        }
        if n.is_subclass_of(&class.name, DESTINATION_CLASS) {
            let d = inst.get_value("Destination").and_then(Value::as_str).unwrap_or("");
            if !d.starts_with("http://") {
                return Err(CimError::invalid_parameter(format!("Destination '{d}' is not an http:// URL")));
            }
        }
        drop(repo);
        if class.name.eq_ignore_ascii_case(SUBSCRIPTION_CLASS) || broker.repo.read().unwrap_or_else(PoisonError::into_inner).namespace(&self.interop_ns).map(|n| n.is_subclass_of(&class.name, SUBSCRIPTION_CLASS)).unwrap_or(false) {
            let ctx = Context { namespace: self.interop_ns.clone(), principal: principal.map(str::to_string), ..Context::default() };
            let mut filter = None;
            for role in ["Filter", "Handler"] {
                match inst.get_value(role) {
                    Some(Value::Reference(p)) => {
                        let i = broker.get_instance_in(&ctx, p).map_err(|_| CimError::invalid_parameter(format!("{role} {p} does not exist")))?;
                        if role == "Filter" {
                            filter = Some(i);
                        }
                    }
                    _ => return Err(CimError::invalid_parameter(format!("{role} is required"))),
                }
            }
            // the indication providers concerned may refuse the subscriber
            if let Some(f) = filter {
                let text = f.get_value("Query").and_then(Value::as_str).unwrap_or("").to_string();
                let lang = f.get_value("QueryLanguage").and_then(Value::as_str).unwrap_or("WQL").to_string();
                let source_ns = crate::repo::normalize_ns(f.get_value("SourceNamespace").and_then(Value::as_str).unwrap_or("root/cimv2"));
                if let Ok(q) = crate::wql::parse(&text) {
                    let pctx = Context { namespace: source_ns.clone(), principal: principal.map(str::to_string), ..Context::default() };
                    for (cls, p) in broker.providers.read().unwrap_or_else(PoisonError::into_inner).indication_providers(&source_ns) {
                        let covers = broker.repo.read().unwrap_or_else(PoisonError::into_inner).namespace(&source_ns)
                            .map(|n| n.is_subclass_of(&cls, &q.class) || n.is_subclass_of(&q.class, &cls))
                            .unwrap_or(false);
                        if let (true, Ok(c)) = (covers, broker.class_in(&source_ns, &cls)) {
                            crate::provider::guarded("authorizeFilter", || p.authorize_filter(&pctx, &c, &text, &lang, principal.unwrap_or("")))?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Re-reads subscriptions from the store, activates and deactivates
    /// filters on providers, and persists the interop instances.
    pub fn refresh(&self, broker: &Broker) {
        let ctx = Context { namespace: self.interop_ns.clone(), ..Context::default() };
        let mut subs = Vec::new();
        let insts = broker.instances_of(&ctx, SUBSCRIPTION_CLASS).unwrap_or_default();
        for (_, s) in insts {
            if let Some(Value::UInt(4)) = s.get_value("SubscriptionState") {
                continue; // Disabled
            }
            let (Some(Value::Reference(fp)), Some(Value::Reference(hp))) = (s.get_value("Filter"), s.get_value("Handler")) else { continue };
            let (Ok(f), Ok(h)) = (broker.get_instance_in(&ctx, fp), broker.get_instance_in(&ctx, hp)) else {
                tracing::warn!("subscription refers to a missing filter or handler: ignored");
                continue;
            };
            let query_text = f.get_value("Query").and_then(Value::as_str).unwrap_or("").to_string();
            let Ok(query) = crate::wql::parse(&query_text) else { continue };
            let source_ns = match (f.get_value("SourceNamespace"), f.get_value("SourceNamespaces")) {
                (Some(Value::String(s)), _) => s.clone(),
                (_, Some(Value::Array(a))) if !a.is_empty() => a[0].to_text(),
                _ => "root/cimv2".to_string(),
            };
            subs.push(Subscription {
                filter_key: fp.to_string().to_ascii_lowercase(),
                query,
                query_text,
                language: f.get_value("QueryLanguage").and_then(Value::as_str).unwrap_or("WQL").to_string(),
                source_ns: crate::repo::normalize_ns(&source_ns),
                destination: h.get_value("Destination").and_then(Value::as_str).unwrap_or("").to_string(),
            });
        }
        self.update_activations(broker, &subs);
        *self.subs.write().unwrap_or_else(PoisonError::into_inner) = subs;
        if let Err(e) = self.persist(broker) {
            tracing::error!("cannot save subscriptions: {e}");
        }
    }

    fn update_activations(&self, broker: &Broker, subs: &[Subscription]) {
        let mut active = self.active.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted: HashMap<String, &Subscription> = subs.iter().map(|s| (s.filter_key.clone(), s)).collect();
        // deactivate filters no longer used
        let gone: Vec<String> = active.keys().filter(|k| !wanted.contains_key(*k)).cloned().collect();
        for k in gone {
            let (ns, q, lang, classes) = active.remove(&k).unwrap();
            let still = active.values().filter(|(n, ..)| *n == ns).count();
            for (cls, p) in broker.providers.read().unwrap_or_else(PoisonError::into_inner).indication_providers(&ns) {
                if !classes.contains(&cls) {
                    continue;
                }
                if let Ok(c) = broker.class_in(&ns, &cls) {
                    let ctx = Context { namespace: ns.clone(), ..Context::default() };
                    if let Err(e) = crate::provider::guarded("deactivateFilter", || p.deactivate_filter(&ctx, &c, &q, &lang, still == 0)) {
                        tracing::warn!("deactivateFilter({q}) on {cls}: {e}");
                    }
                }
            }
        }
        for (k, s) in wanted {
            if active.contains_key(&k) {
                continue;
            }
            let first = !active.values().any(|(n, ..)| *n == s.source_ns);
            let mut classes = Vec::new();
            for (cls, p) in broker.providers.read().unwrap_or_else(PoisonError::into_inner).indication_providers(&s.source_ns) {
                let covers = {
                    let repo = broker.repo.read().unwrap_or_else(PoisonError::into_inner);
                    repo.namespace(&s.source_ns)
                        .map(|n| n.is_subclass_of(&cls, &s.query.class) || n.is_subclass_of(&s.query.class, &cls))
                        .unwrap_or(false)
                };
                if !covers {
                    continue;
                }
                if let Ok(c) = broker.class_in(&s.source_ns, &cls) {
                    let ctx = Context { namespace: s.source_ns.clone(), ..Context::default() };
                    match crate::provider::guarded("activateFilter", || p.activate_filter(&ctx, &c, &s.query_text, &s.language, first)) {
                        Ok(()) => classes.push(cls.clone()),
                        Err(e) => tracing::warn!("activateFilter({}) on {cls}: {e}", s.query_text),
                    }
                }
            }
            active.insert(k, (s.source_ns.clone(), s.query_text.clone(), s.language.clone(), classes));
        }
    }

    /// Writes the interop subscription instances as MOF.
    fn persist(&self, broker: &Broker) -> anyhow::Result<()> {
        let Some(file) = &self.state_file else { return Ok(()) };
        let ctx = Context { namespace: self.interop_ns.clone(), ..Context::default() };
        let mut out = String::from("// Indication subscriptions, written by the xencim broker; do not edit while it runs.\n");
        out.push_str(&format!("#pragma namespace (\"{}\")\n", self.interop_ns));
        for cls in [FILTER_CLASS, DESTINATION_CLASS, SUBSCRIPTION_CLASS] {
            for (_, inst) in broker.instances_of(&ctx, cls).unwrap_or_default() {
                out.push_str(&instance_mof(&inst));
            }
        }
        if let Some(d) = file.parent() {
            std::fs::create_dir_all(d)?;
        }
        let tmp = file.with_extension("tmp");
        std::fs::write(&tmp, out)?;
        std::fs::rename(&tmp, file)?;
        Ok(())
    }

    /// Starts the delivery task (once).
    pub fn start(self: &Arc<Self>, broker: Arc<Broker>) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(PoisonError::into_inner).take() else { return };
        let hub = self.clone();
        tokio::spawn(async move {
            while let Some((ns, ind)) = rx.recv().await {
                let targets: Vec<String> = {
                    let subs = hub.subs.read().unwrap_or_else(PoisonError::into_inner);
                    let repo = broker.repo.read().unwrap_or_else(PoisonError::into_inner);
                    let n = repo.namespace(&ns);
                    let isa = |c: &str, a: &str| n.map(|n| n.is_subclass_of(c, a)).unwrap_or(false);
                    subs.iter()
                        .filter(|s| s.source_ns.eq_ignore_ascii_case(&ns))
                        .filter(|s| isa(&ind.class_name, &s.query.class))
                        .filter(|s| s.query.condition.as_ref().map(|c| crate::wql::eval(c, &ind, &isa)).unwrap_or(true))
                        .map(|s| s.destination.clone())
                        .collect()
                };
                if targets.is_empty() {
                    continue;
                }
                let mut i = ind.clone();
                // the filter's select list is not applied: DSP1054 allows sending all properties
                let class = broker.class_in(&ns, &i.class_name).ok();
                if let Some(c) = &class {
                    for p in &mut i.properties {
                        if let Some(d) = c.property(&p.name) {
                            p.name = d.name.clone();
                        }
                    }
                }
                let body = export_request(&i, class.as_deref());
                for dest in targets {
                    let hub = hub.clone();
                    let body = body.clone();
                    tokio::spawn(async move { hub.send_with_retry(&dest, body).await });
                }
            }
        });
    }

    async fn send_with_retry(&self, dest: &str, body: Bytes) {
        let mut delays = self.retry.iter();
        loop {
            match export(dest, body.clone()).await {
                Ok(()) => {
                    self.delivered.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(e) => match delays.next() {
                    Some(d) => {
                        tracing::debug!("indication to {dest} failed ({e}); retrying in {d:?}");
                        tokio::time::sleep(*d).await;
                    }
                    None => {
                        tracing::warn!("indication to {dest} not delivered: {e}");
                        self.failed.fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                },
            }
        }
    }
}

static EXPORT_ID: AtomicU64 = AtomicU64::new(1);

/// The CIM-XML ExportIndication request for `ind`.
pub fn export_request(ind: &Instance, class: Option<&Class>) -> Bytes {
    let mut o = XmlOut::new();
    o.buf.push_str("<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n");
    o.open("CIM", &[("CIMVERSION", "2.0"), ("DTDVERSION", "2.0")]);
    let id = EXPORT_ID.fetch_add(1, Ordering::Relaxed).to_string();
    o.open("MESSAGE", &[("ID", &id), ("PROTOCOLVERSION", "1.0")]);
    o.open("SIMPLEEXPREQ", &[]);
    o.open("EXPMETHODCALL", &[("NAME", "ExportIndication")]);
    o.open("EXPPARAMVALUE", &[("NAME", "NewIndication")]);
    cimxml::write_instance(&mut o, ind, class, &ObjectFilter::default());
    o.close("EXPPARAMVALUE");
    o.close("EXPMETHODCALL");
    o.close("SIMPLEEXPREQ");
    o.close("MESSAGE");
    o.close("CIM");
    Bytes::from(o.buf)
}

/// POSTs one export request to an http:// listener.
async fn export(dest: &str, body: Bytes) -> Result<(), String> {
    let rest = dest.strip_prefix("http://").ok_or("only http:// destinations are supported")?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let addr = if hostport.contains(':') { hostport.to_string() } else { format!("{hostport}:80") };
    let stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(&addr))
        .await
        .map_err(|_| "connect timed out".to_string())?
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let req = hyper::Request::post(path)
        .header("Host", hostport)
        .header("Content-Type", "application/xml; charset=\"utf-8\"")
        .header("CIMExport", "MethodRequest")
        .header("CIMExportMethod", "ExportIndication")
        .header("CIMProtocolVersion", "1.0")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .map_err(|_| "no response in time".to_string())?
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    let text = resp.into_body().collect().await.map(|c| c.to_bytes()).unwrap_or_default();
    if !status.is_success() {
        return Err(format!("listener answered HTTP {status}"));
    }
    if let Ok(t) = std::str::from_utf8(&text) {
        if t.contains("<ERROR") {
            return Err(format!("listener answered an error: {t}"));
        }
    }
    Ok(())
}

/// A MOF string literal.
fn mof_string(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => o.push_str(&format!("\\x{:04x}", c as u32)),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn mof_value(v: &Value) -> String {
    match v {
        Value::Boolean(b) => if *b { "true" } else { "false" }.into(),
        Value::String(s) | Value::DateTime(s) => mof_string(s),
        Value::Char16(c) => mof_string(&c.to_string()).replacen('"', "'", 2),
        Value::UInt(u) => u.to_string(),
        Value::SInt(i) => i.to_string(),
        Value::Real(r) => format!("{r:?}"),
        Value::Reference(p) => {
            let mut p = p.clone();
            p.host = None;
            mof_string(&p.to_string())
        }
        Value::Array(a) => format!("{{{}}}", a.iter().map(mof_value).collect::<Vec<_>>().join(", ")),
    }
}

/// `instance of Class { Prop = value; ... };` for the non-null properties.
pub fn instance_mof(i: &Instance) -> String {
    let mut o = format!("instance of {} {{\n", i.class_name);
    for p in &i.properties {
        if let Some(v) = &p.value {
            o.push_str(&format!("    {} = {};\n", p.name, mof_value(v)));
        }
    }
    o.push_str("};\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_mof_round_trips_through_the_compiler() {
        let mof = "Qualifier Key : boolean = false, Scope(property, reference), Flavor(DisableOverride, ToSubclass);\n\
                   Qualifier Association : boolean = false, Scope(association), Flavor(DisableOverride, ToSubclass);\n\
                   class T_A { [Key] string Name; sint32 N; string S[]; boolean B; };\n\
                   [Association] class T_L { [Key] T_A REF X; [Key] T_A REF Y; };\n";
        let mut repo = crate::repo::Repository::new();
        crate::mof::compile_str(&mut repo, "root/cimv2", "a.mof", mof).unwrap();
        let a = Instance::new("T_A")
            .with("Name", CimType::String, Value::String("q\"uote\\ \n x".into()))
            .with("N", CimType::SInt32, Value::SInt(-3))
            .with("S", CimType::String, Value::Array(vec![Value::String("a".into()), Value::String("b".into())]))
            .with("B", CimType::Boolean, Value::Boolean(true));
        let pa = ObjectPath::new("T_A").with_key("Name", Value::String("q\"uote\\ \n x".into()));
        let l = Instance::new("T_L")
            .with("X", CimType::Reference, Value::Reference(pa.clone()))
            .with("Y", CimType::Reference, Value::Reference(pa.clone()));
        let text = format!("{}{}", instance_mof(&a), instance_mof(&l));
        crate::mof::compile_str(&mut repo, "root/cimv2", "state.mof", &text).unwrap();
        let ns = repo.namespace("root/cimv2").unwrap();
        assert_eq!(ns.instances.len(), 2);
        let back = &ns.instances[0];
        for p in &a.properties {
            assert_eq!(back.get_value(&p.name), p.value.as_ref(), "{}", p.name);
        }
        match ns.instances[1].get_value("X") {
            Some(Value::Reference(p)) => assert!(p.same_instance(&pa)),
            other => panic!("{other:?}"),
        }
    }
}
