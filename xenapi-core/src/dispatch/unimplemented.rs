//! The explicit list of declared messages this server does not implement, each with its reason
//! (`model/unimplemented.txt`, compiled in next to the data model).
//!
//! The dispatcher binds exactly these to `NOT_IMPLEMENTED`; a declared message that no `api`
//! module implements and this list does not name is a gap nobody decided on, and [`coverage`]
//! reports it (`Xapi::open` refuses to start with one, and a unit test in `api` names every
//! such message and every listed one that is implemented after all). The reasons are what
//! `xencim api-doc` prints beside each refused message.

use crate::model::{model, Model};
use std::collections::HashSet;
use std::sync::OnceLock;

const UNIMPLEMENTED_TXT: &str = include_str!("../../model/unimplemented.txt");

/// One refused message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `class.message`, as the model declares it.
    pub name: String,
    /// Why it is refused, and which issue brings it.
    pub reason: String,
}

/// Parses the list against the model: one `class.message  reason` per line, `#` comments and
/// blank lines ignored. Every name must be a message the model declares (a custom message, not
/// an implicit accessor), named once, with a reason.
pub fn parse(text: &str, model: &Model) -> Result<Vec<Entry>, String> {
    let mut out: Vec<Entry> = Vec::new();
    let mut seen = HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, reason) = match line.split_once(char::is_whitespace) {
            Some((name, reason)) => (name, reason.trim()),
            None => (line, ""),
        };
        if reason.is_empty() {
            return Err(format!("line {n}: {name} has no reason"));
        }
        let (class, msg) = name.split_once('.').ok_or_else(|| format!("line {n}: {name:?} is not class.message"))?;
        let declared = model.class(class).is_some_and(|c| c.message(msg).is_some());
        if !declared {
            return Err(format!("line {n}: {name} is not a message declared in model/datamodel.txt"));
        }
        if !seen.insert(name.to_string()) {
            return Err(format!("line {n}: {name} is listed twice"));
        }
        out.push(Entry { name: name.to_string(), reason: reason.to_string() });
    }
    Ok(out)
}

/// The list, parsed on first use. Like the model, a bad line is a bug in a checked-in file that
/// the unit tests catch, so it panics with the line at fault.
pub fn list() -> &'static [Entry] {
    static LIST: OnceLock<Vec<Entry>> = OnceLock::new();
    LIST.get_or_init(|| parse(UNIMPLEMENTED_TXT, model()).unwrap_or_else(|e| panic!("model/unimplemented.txt is invalid: {e}")))
}

/// The reason `name` (`VM.checkpoint`) is refused, if the list names it.
pub fn reason(name: &str) -> Option<&'static str> {
    list().iter().find(|e| e.name == name).map(|e| e.reason.as_str())
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
    fn the_checked_in_list_parses() {
        assert!(!list().is_empty());
        assert!(list().iter().all(|e| !e.reason.is_empty()));
    }

    #[test]
    fn bad_lines_are_refused_with_their_line_number() {
        let m = model();
        assert_eq!(parse("# c\n\nVM.checkpoint  needs a suspend image\n", m).unwrap().len(), 1);
        let err = |t: &str| parse(t, m).unwrap_err();
        assert_eq!(err("VM.checkpoint"), "line 1: VM.checkpoint has no reason");
        assert!(err("\nVM.no_such_message  why").starts_with("line 2: VM.no_such_message is not a message declared"));
        assert!(err("NoClass.x  why").contains("not a message declared"));
        assert!(err("checkpoint  why").contains("is not class.message"));
        // Implicit accessors are not declared messages: they are always implemented.
        assert!(err("VM.get_record  why").contains("not a message declared"));
        assert_eq!(err("VM.checkpoint a\nVM.checkpoint b"), "line 2: VM.checkpoint is listed twice");
    }
}
