//! A large answer encoded in pieces: the envelope's head, the elements of its top-level map or
//! set in batches, and the envelope's tail. Concatenated, the pieces are byte for byte the
//! one-shot encoding (`xmlrpc::encode_success`, `jsonrpc::encode_response`), so a server can send
//! `VM.get_all_records` of 10,000 VMs as it encodes it, holding a few batches instead of the
//! whole text (tens of MB); the batches are independent, so several threads can encode them.
//!
//! Only the top-level collection is cut: that is where a large answer is large (`get_all`,
//! `get_all_records`, `get_all_records_where`, `event.next`).

use crate::jsonrpc::Version;
use crate::{json_write, xmlrpc};
use std::ops::Range;
use xenapi_model::value::Value;

/// How to cut the encoding of one answer. Made by [`Plan::xmlrpc`] or [`Plan::jsonrpc`] for a
/// successful result whose top level is a map or a set; `None` for any other value (encode it
/// whole).
#[derive(Debug, Clone)]
pub struct Plan {
    /// Everything before the first element.
    pub head: String,
    /// Everything after the last element.
    pub tail: String,
    /// The number of elements of the top-level collection.
    pub len: usize,
    json: bool,
}

/// The two shapes that are cut.
fn elements(v: &Value) -> Option<usize> {
    match v {
        Value::Map(m) => Some(m.len()),
        Value::Set(s) => Some(s.len()),
        _ => None,
    }
}

impl Plan {
    /// The pieces of `xmlrpc::encode_success(v)`.
    pub fn xmlrpc(v: &Value) -> Option<Plan> {
        let len = elements(v)?;
        let (open, close) = match v {
            Value::Map(_) => ("<value><struct>", "</struct></value>"),
            _ => ("<value><array><data>", "</data></array></value>"),
        };
        let (before, after) = xmlrpc::success_envelope();
        Some(Plan { head: format!("{before}{open}"), tail: format!("{close}{after}"), len, json: false })
    }

    /// The pieces of `jsonrpc::encode_response(version, id, &Ok(v))`.
    pub fn jsonrpc(version: Version, id: &serde_json::Value, v: &Value) -> Option<Plan> {
        let len = elements(v)?;
        let (open, close) = match v {
            Value::Map(_) => ("{", "}"),
            _ => ("[", "]"),
        };
        let (before, after) = crate::jsonrpc::success_envelope(version, id);
        Some(Plan { head: format!("{before}{open}"), tail: format!("{close}{after}"), len, json: true })
    }

    /// Appends the encoding of the elements `range` of `v` (the value the plan was made for).
    pub fn write_batch(&self, v: &Value, range: Range<usize>, out: &mut String) {
        let first = range.start == 0;
        match (v, self.json) {
            (Value::Map(m), false) => xmlrpc::write_members(out, &m[range]),
            (Value::Set(s), false) => s[range].iter().for_each(|i| xmlrpc::write_value(out, i)),
            (Value::Map(m), true) => json_write::write_entries(out, &m[range], first),
            (Value::Set(s), true) => json_write::write_items(out, &s[range], first),
            // `Plan` is only made for maps and sets, and used with the value it was made for.
            _ => debug_assert!(false, "a plan used with another value"),
        }
    }

    /// Elements per batch for batches of about `bytes` bytes, from a sample of `v`'s elements.
    pub fn batch_len(&self, v: &Value, bytes: usize) -> usize {
        let per = xmlrpc::size_hint(v) / self.len.max(1);
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
    fn batches_are_sized_from_the_elements() {
        let v = big_map(1000);
        let plan = Plan::xmlrpc(&v).unwrap();
        let n = plan.batch_len(&v, 256 * 1024);
        assert!((1..1000).contains(&n), "{n}");
        assert_eq!(plan.batch_len(&v, 1), 1);
    }
}
