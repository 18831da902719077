//! The client's typed calls (`xenapi_client::calls`, generated from the model) and the server's
//! dispatch table name the same messages: every generated call sends a method the server has
//! (its `Async.` form only where the server offers one), and every method of the server that
//! takes a session has its call. The implicit messages (lookups, field accessors, `create`,
//! `destroy`) are derived separately by the generator and by the dispatcher; this holds them
//! together.

use std::collections::BTreeSet;
use xenapi_core::model::Lifecycle;

#[test]
fn generated_calls_and_the_dispatch_table_name_the_same_methods() {
    let d = xenapi_core::api::dispatcher();
    let generated: BTreeSet<&str> = xenapi_client::calls::METHODS.iter().copied().collect();
    assert_eq!(generated.len(), xenapi_client::calls::METHODS.len(), "a method is generated twice");

    for sent in &generated {
        let (name, is_async) = match sent.strip_prefix("Async.") {
            Some(rest) => (rest, true),
            None => (*sent, false),
        };
        let m = d.get(name).unwrap_or_else(|| panic!("the client calls {sent}, which the server does not know"));
        assert!(m.needs_session, "{sent}: the server takes no session, the typed call sends one");
        assert!(!is_async || m.has_async, "{sent}: the server has no Async. form");
    }

    let mut missing = Vec::new();
    for name in d.list_methods().into_iter().chain(unimplemented_names(&d)) {
        let m = d.get(&name).expect("listed");
        if !m.needs_session || m.lifecycle == Lifecycle::Removed {
            continue;
        }
        if !generated.contains(name.as_str()) {
            missing.push(name.clone());
        }
        if m.has_async && !generated.contains(format!("Async.{name}").as_str()) {
            missing.push(format!("Async.{name}"));
        }
    }
    assert!(missing.is_empty(), "methods of the server without a typed call: {missing:?}");
}

/// The declared messages the server lists as unimplemented: they still get typed calls (the
/// model declares them; a call answers NOT_IMPLEMENTED until the server implements it).
fn unimplemented_names(d: &xenapi_core::dispatch::Dispatcher) -> Vec<String> {
    let m = xenapi_core::model::model();
    m.classes
        .iter()
        .flat_map(|c| c.messages.iter().map(move |msg| format!("{}.{}", c.name, msg.name)))
        .filter(|n| d.get(n).is_some_and(|x| !x.implemented))
        .collect()
}
