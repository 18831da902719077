//! A large answer encoded in pieces: the envelope's head, the elements of its top-level map or
//! set in batches, and the envelope's tail. Concatenated, the pieces are byte for byte the
//! one-shot encoding (`xmlrpc::encode_success`, `jsonrpc::encode_response`), so a server can send
//! `VM.get_all_records` of 10,000 VMs as it encodes it, holding a few batches instead of the
//! whole text (tens of MB); the batches are independent, so several threads can encode them.
//!
//! One collection is cut: the top-level map or set (`get_all`, `get_all_records`,
//! `get_all_records_where`, `event.next`), or the largest map or set member of a top-level
//! struct (the `events` of an `event.from` batch); that is where a large answer is large.

use crate::jsonrpc::Version;
use crate::{json_write, xmlrpc};
use std::ops::Range;
use xenapi_model::value::Value;

/// How to cut the encoding of one answer. Made by [`Plan::xmlrpc`] or [`Plan::jsonrpc`] for a
/// successful result with a collection to cut (see the module docs); `None` for any other value
/// (encode it whole).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Everything before the first element.
    pub head: String,
    /// Everything after the last element.
    pub tail: String,
    /// The number of elements of the collection that is cut.
    pub len: usize,
    /// The member of a top-level struct that is cut (`None`: the value itself).
    member: Option<usize>,
    json: bool,
}

/// The number of elements of a map or a set.
fn elements(v: &Value) -> Option<usize> {
    match v {
        Value::Map(m) => Some(m.len()),
        Value::Set(s) => Some(s.len()),
        _ => None,
    }
}

/// Where the collection to cut is in `v`: `v` itself, or its largest map or set member.
fn cut(v: &Value) -> Option<(Option<usize>, &Value)> {
    match v {
        Value::Map(_) | Value::Set(_) => Some((None, v)),
        Value::Struct(members) => members
            .iter()
            .enumerate()
            .filter_map(|(i, (_, m))| Some((i, m, elements(m)?)))
            .max_by_key(|(_, _, n)| *n)
            .map(|(i, m, _)| (Some(i), m)),
        _ => None,
    }
}

impl Plan {
    /// The pieces of `xmlrpc::encode_success(v)`.
    pub fn xmlrpc(v: &Value) -> Option<Plan> {
        let (member, c) = cut(v)?;
        let (open, close) = match c {
            Value::Map(_) => ("<value><struct>", "</struct></value>"),
            _ => ("<value><array><data>", "</data></array></value>"),
        };
        let (before, after) = xmlrpc::success_envelope();
        let (mut head, mut tail) = (before.to_string(), String::new());
        match (member, v) {
            (Some(i), Value::Struct(members)) => {
                // The struct as `write_value` writes it, the cut member's value left open.
                head.push_str("<value><struct>");
                for (k, m) in &members[..i] {
                    xmlrpc::write_struct_member(&mut head, k, m);
                }
                xmlrpc::write_member_name(&mut head, &members[i].0);
                head.push_str(open);
                tail.push_str(close);
                tail.push_str("</member>");
                for (k, m) in &members[i + 1..] {
                    xmlrpc::write_struct_member(&mut tail, k, m);
                }
                tail.push_str("</struct></value>");
            }
            _ => {
                head.push_str(open);
                tail.push_str(close);
            }
        }
        tail.push_str(after);
        Some(Plan { head, tail, len: elements(c)?, member, json: false })
    }

    /// The pieces of `jsonrpc::encode_response(version, id, &Ok(v))`.
    pub fn jsonrpc(version: Version, id: &serde_json::Value, v: &Value) -> Option<Plan> {
        let (member, c) = cut(v)?;
        let (open, close) = match c {
            Value::Map(_) => ("{", "}"),
            _ => ("[", "]"),
        };
        let (before, after) = crate::jsonrpc::success_envelope(version, id);
        let (mut head, mut tail) = (before, String::new());
        match (member, v) {
            (Some(i), Value::Struct(members)) => {
                head.push('{');
                for (j, (k, m)) in members[..=i].iter().enumerate() {
                    if j > 0 {
                        head.push(',');
                    }
                    json_write::write_str(&mut head, k);
                    head.push(':');
                    if j < i {
                        json_write::write_json(&mut head, m);
                    }
                }
                head.push_str(open);
                tail.push_str(close);
                for (k, m) in &members[i + 1..] {
                    tail.push(',');
                    json_write::write_str(&mut tail, k);
                    tail.push(':');
                    json_write::write_json(&mut tail, m);
                }
                tail.push('}');
            }
            _ => {
                head.push_str(open);
                tail.push_str(close);
            }
        }
        tail.push_str(&after);
        Some(Plan { head, tail, len: elements(c)?, member, json: true })
    }

    /// The collection that is cut, in `v` (the value the plan was made for).
    fn collection<'v>(&self, v: &'v Value) -> &'v Value {
        match (self.member, v) {
            (Some(i), Value::Struct(members)) => members.get(i).map_or(v, |(_, m)| m),
            _ => v,
        }
    }

    /// Appends the encoding of the elements `range` of the collection cut in `v` (the value the
    /// plan was made for).
    pub fn write_batch(&self, v: &Value, range: Range<usize>, out: &mut String) {
        let first = range.start == 0;
        match (self.collection(v), self.json) {
            (Value::Map(m), false) => xmlrpc::write_members(out, &m[range]),
            (Value::Set(s), false) => s[range].iter().for_each(|i| xmlrpc::write_value(out, i)),
            (Value::Map(m), true) => json_write::write_entries(out, &m[range], first),
            (Value::Set(s), true) => json_write::write_items(out, &s[range], first),
            // `Plan` is only made for maps and sets, and used with the value it was made for.
            _ => debug_assert!(false, "a plan used with another value"),
        }
    }

    /// Elements per batch for batches of about `bytes` bytes, from a sample of the elements.
    pub fn batch_len(&self, v: &Value, bytes: usize) -> usize {
        let per = xmlrpc::size_hint(self.collection(v)) / self.len.max(1);
        (bytes / per.max(1)).clamp(1, self.len.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi_model::model::model;
    use xenapi_model::value::Record;

    /// The pieces of `v`, cut every `batch` elements, joined.
    fn joined(plan: &Plan, v: &Value, batch: usize) -> String {
        let mut out = plan.head.clone();
        let mut at = 0;
        while at < plan.len {
            let end = (at + batch).min(plan.len);
            plan.write_batch(v, at..end, &mut out);
            at = end;
        }
        out.push_str(&plan.tail);
        out
    }

    /// A map like `VM.get_all_records` answers: many full records, shared as the store shares them.
    fn big_map(n: usize) -> Value {
        let vm = model().class("VM").unwrap();
        let mut rec = Record::new_default(vm);
        rec.set(vm, "name_label", Value::str("a <name> & \"quotes\"\n"));
        rec.set(vm, "other_config", Value::Map(vec![(Value::str("k"), Value::str("v"))]));
        let rec = std::sync::Arc::new(rec);
        Value::Map((0..n).map(|i| (Value::str(format!("OpaqueRef:{i:08}")), Value::record(vm, rec.clone()))).collect())
    }

    #[test]
    fn streamed_xmlrpc_is_the_one_shot_encoding() {
        // Over the size at which the one-shot encoder writes a map on several threads.
        let v = big_map(3000);
        let plan = Plan::xmlrpc(&v).unwrap();
        let whole = xmlrpc::encode_success(&v);
        for batch in [1, 7, 64, 3000, 5000] {
            assert!(joined(&plan, &v, batch) == whole, "batches of {batch}");
        }
        let set = Value::Set((0..100).map(|i| Value::str(format!("OpaqueRef:{i}"))).collect());
        assert_eq!(joined(&Plan::xmlrpc(&set).unwrap(), &set, 9), xmlrpc::encode_success(&set));
        for empty in [Value::Map(vec![]), Value::Set(vec![])] {
            assert_eq!(joined(&Plan::xmlrpc(&empty).unwrap(), &empty, 1), xmlrpc::encode_success(&empty));
        }
        assert!(Plan::xmlrpc(&Value::str("x")).is_none());
    }

    #[test]
    fn streamed_jsonrpc_is_the_one_shot_encoding() {
        let v = big_map(500);
        let set = Value::Set((0..100).map(|i| Value::str(format!("OpaqueRef:{i}"))).collect());
        for version in [Version::V1, Version::V2] {
            for id in [serde_json::json!(7), serde_json::json!("an \"id\"")] {
                for v in [&v, &set, &Value::Map(vec![]), &Value::Set(vec![])] {
                    let plan = Plan::jsonrpc(version, &id, v).unwrap();
                    // What serde_json prints for the answer's tree, as the server answered before.
                    let result = crate::jsonrpc::to_json(v);
                    let whole = match version {
                        Version::V1 => serde_json::json!({"result": result, "error": null, "id": id}),
                        Version::V2 => serde_json::json!({"jsonrpc": "2.0", "result": result, "id": id}),
                    }
                    .to_string();
                    assert_eq!(crate::jsonrpc::encode_response(version, &id, &Ok(v.clone())), whole);
                    for batch in [1, 13, 500] {
                        assert!(joined(&plan, v, batch) == whole, "{version:?} {id} batches of {batch}");
                    }
                }
            }
        }
    }

    #[test]
    fn an_event_batch_is_cut_in_its_events() {
        // As event.from answers: {events: [...], valid_ref_counts: {...}, token: "..."}, the
        // events made once (`Encoded`) for every watcher.
        let events: Vec<Value> = (0..300)
            .map(|i| {
                let e = Value::Struct(vec![
                    ("id".into(), Value::Int(i)),
                    ("class".into(), Value::str("vm")),
                    ("snapshot".into(), big_map(1)),
                ]);
                if i % 2 == 0 {
                    Value::Encoded(xmlrpc::encode_once(e))
                } else {
                    e
                }
            })
            .collect();
        let batch = |events: Vec<Value>| {
            Value::Struct(vec![
                ("events".into(), Value::Set(events)),
                ("valid_ref_counts".into(), Value::Map(vec![(Value::str("vm"), Value::I4(3))])),
                ("token".into(), Value::str("00000000000000000042,\"0\"<&>")),
            ])
        };
        for v in [batch(events.clone()), batch(vec![])] {
            let plan = Plan::xmlrpc(&v).unwrap();
            assert_eq!(plan.len, elements(plan.collection(&v)).unwrap());
            for n in [1, 7, 300] {
                assert!(joined(&plan, &v, n) == xmlrpc::encode_success(&v), "batches of {n}");
            }
            for version in [Version::V1, Version::V2] {
                let id = serde_json::json!(1);
                let plan = Plan::jsonrpc(version, &id, &v).unwrap();
                let whole = crate::jsonrpc::encode_response(version, &id, &Ok(v.clone()));
                assert_eq!(joined(&plan, &v, 11), whole);
            }
        }
        // The largest collection is the one cut, wherever it is.
        let v = Value::Struct(vec![
            ("small".into(), Value::Set(vec![Value::str("a")])),
            ("big".into(), Value::Map((0..50).map(|i| (Value::Int(i), Value::Bool(i % 2 == 0))).collect())),
            ("n".into(), Value::Float(0.5)),
        ]);
        let plan = Plan::xmlrpc(&v).unwrap();
        assert_eq!(plan.len, 50);
        assert_eq!(joined(&plan, &v, 3), xmlrpc::encode_success(&v));
        let plan = Plan::jsonrpc(Version::V2, &serde_json::json!("x"), &v).unwrap();
        assert_eq!(joined(&plan, &v, 3), crate::jsonrpc::encode_response(Version::V2, &serde_json::json!("x"), &Ok(v.clone())));
        assert!(Plan::xmlrpc(&Value::Struct(vec![("a".into(), Value::Int(1))])).is_none());
    }

    #[test]
    fn batches_are_sized_from_the_elements() {
        let v = big_map(1000);
        let plan = Plan::xmlrpc(&v).unwrap();
        let n = plan.batch_len(&v, 256 * 1024);
        assert!((1..1000).contains(&n), "{n}");
        assert_eq!(plan.batch_len(&v, 1), 1);
    }
}
