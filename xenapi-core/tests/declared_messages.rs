//! Every message the model declares is either implemented or on the explicit list of
//! unimplemented messages (`model/unimplemented.txt`), never silently neither.

use xenapi_core::generated::handlers::UNIMPLEMENTED;
use xenapi_core::model::model;

#[test]
fn every_declared_message_is_implemented_or_listed_as_unimplemented() {
    let d = xenapi_core::api::dispatcher();
    let mut wrong = Vec::new();
    for c in &model().classes {
        for m in &c.messages {
            let name = format!("{}.{}", c.name, m.name);
            let listed = UNIMPLEMENTED.iter().any(|(n, _)| *n == name);
            let implemented = d.get(&name).is_some_and(|m| m.implemented);
            if listed == implemented {
                wrong.push(format!(
                    "{name}: {}",
                    if listed { "listed as unimplemented but implemented" } else { "neither implemented nor listed" }
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "model/unimplemented.txt is out of step with the handlers:\n{}", wrong.join("\n"));
}

#[test]
fn unimplemented_messages_answer_not_implemented_and_are_not_listed() {
    let d = xenapi_core::api::dispatcher();
    let listed = d.list_methods();
    for (name, _) in UNIMPLEMENTED {
        assert!(!listed.iter().any(|m| m == name), "{name} in system.listMethods");
        assert!(!d.get(name).unwrap().implemented, "{name}");
    }
}
