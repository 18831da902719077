//! The explicit list of declared messages this server does not implement, each with its reason
//! (`model/unimplemented.txt`). `xenapi-codegen` reads and checks that file (one
//! `class.message  reason` per line, each a declared message, named once) and compiles it into
//! [`UNIMPLEMENTED`]; a declared message that is not on it is a method of its class's generated
//! handler trait, so a missing handler fails to compile.
//!
//! The dispatcher binds exactly these to `NOT_IMPLEMENTED`. [`coverage`] sorts a dispatch table
//! against the model and this list: a gap (neither implemented nor listed) makes `Xapi::open`
//! refuse to start, and a unit test in `api` names every gap and every listed message that is
//! implemented after all. The reasons are what `xencim api-doc` prints beside each refused
//! message.

use crate::generated::handlers::UNIMPLEMENTED;
use crate::model::model;

/// The list: `(class.message, reason)` in file order.
pub fn list() -> &'static [(&'static str, &'static str)] {
    UNIMPLEMENTED
}

/// The reason `name` (`VM.checkpoint`) is refused, if the list names it.
pub fn reason(name: &str) -> Option<&'static str> {
    UNIMPLEMENTED.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// How a dispatch table stands against the model and this list.
#[derive(Debug, Default)]
pub struct Coverage {
    /// Declared custom messages with a handler.
    pub implemented: Vec<String>,
    /// Declared custom messages bound to `NOT_IMPLEMENTED` by the list.
    pub refused: Vec<String>,
    /// Declared custom messages neither implemented nor listed: nobody decided on them.
    pub unlisted: Vec<String>,
    /// Listed messages that a handler implements after all: the entry is out of date.
    pub stale: Vec<String>,
}

impl Coverage {
    /// Ok if every declared message is implemented or listed, and no listed one is implemented.
    pub fn check(&self) -> Result<(), String> {
        let mut problems = Vec::new();
        if !self.unlisted.is_empty() {
            problems.push(format!(
                "declared in model/datamodel.txt but neither implemented nor listed in model/unimplemented.txt: {}",
                self.unlisted.join(", ")
            ));
        }
        if !self.stale.is_empty() {
            problems.push(format!("implemented but still listed in model/unimplemented.txt: {}", self.stale.join(", ")));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Sorts every declared custom message of the model by what `d` does with it (implicit
/// accessors are generated for every class and always implemented, so they are not counted).
pub fn coverage(d: &super::Dispatcher) -> Coverage {
    let mut c = Coverage::default();
    for class in &model().classes {
        for m in &class.messages {
            let name = format!("{}.{}", class.name, m.name);
            let listed = reason(&name).is_some();
            let implemented = d.get(&name).is_some_and(|m| m.implemented);
            match (implemented, listed) {
                (true, true) => c.stale.push(name),
                (true, false) => c.implemented.push(name),
                (false, true) => c.refused.push(name),
                (false, false) => c.unlisted.push(name),
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_a_declared_message_with_a_reason() {
        assert!(!list().is_empty());
        for (name, why) in list() {
            let (class, msg) = name.split_once('.').expect("class.message");
            assert!(model().class(class).and_then(|c| c.message(msg)).is_some(), "{name} is not declared");
            assert!(!why.is_empty() && *why != "-", "{name} has no reason");
        }
    }
}
