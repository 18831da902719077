//! Start-up repair of records stored before strings were checked at the wire: a character that
//! XML 1.0 cannot carry (U+FFFE, U+FFFF, most control characters) in any stored string made every
//! XML-RPC answer holding the record malformed, so that one bad `name_label` broke
//! `VM.get_all_records` for every XML-RPC client. Such characters are replaced by U+FFFD, the
//! Unicode replacement character, which keeps the rest of the text and shows where one was.

use super::{Record, Store};
use crate::model::model;
use crate::rpc::is_xml_char;
use crate::value::Value;

const REPLACEMENT: char = '\u{FFFD}';

fn clean_str(s: &str) -> Option<String> {
    s.chars().any(|c| !is_xml_char(c)).then(|| s.chars().map(|c| if is_xml_char(c) { c } else { REPLACEMENT }).collect())
}

/// The value with every unreadable character replaced, or None when it had none.
fn clean(v: &Value) -> Option<Value> {
    match v {
        Value::String(s) => clean_str(s).map(Value::String),
        Value::Set(items) => {
            let cleaned: Vec<Option<Value>> = items.iter().map(clean).collect();
            cleaned.iter().any(Option::is_some).then(|| {
                Value::Set(cleaned.into_iter().zip(items).map(|(c, old)| c.unwrap_or_else(|| old.clone())).collect())
            })
        }
        Value::Map(pairs) => {
            let cleaned: Vec<(Option<Value>, Option<Value>)> = pairs.iter().map(|(k, v)| (clean(k), clean(v))).collect();
            cleaned.iter().any(|(k, v)| k.is_some() || v.is_some()).then(|| {
                Value::Map(
                    cleaned
                        .into_iter()
                        .zip(pairs)
                        .map(|((k, v), (ok, ov))| (k.unwrap_or_else(|| ok.clone()), v.unwrap_or_else(|| ov.clone())))
                        .collect(),
                )
            })
        }
        Value::Struct(members) => {
            let cleaned: Vec<Option<Value>> = members.iter().map(|(_, v)| clean(v)).collect();
            cleaned.iter().any(Option::is_some).then(|| {
                Value::Struct(
                    cleaned.into_iter().zip(members).map(|(c, (k, old))| (k.clone(), c.unwrap_or_else(|| old.clone()))).collect(),
                )
            })
        }
        _ => None,
    }
}

fn cleaned_record(rec: &Record) -> Option<Record> {
    let fields: Vec<Option<Value>> = rec.fields.iter().map(clean).collect();
    fields.iter().any(Option::is_some).then(|| Record {
        fields: fields.into_iter().zip(&rec.fields).map(|(c, old)| c.unwrap_or_else(|| old.clone())).collect(),
    })
}

/// Repairs every stored record holding a character XML 1.0 cannot carry, in one transaction;
/// returns how many records were repaired.
pub fn repair_unreadable_strings(store: &Store) -> Result<usize, String> {
    let repairs: Vec<(String, String, Record)> = {
        let tables = store.read();
        model()
            .stored_classes()
            .flat_map(|c| {
                tables.table(&c.name).objects.iter().filter_map(move |(r, rec)| cleaned_record(rec).map(|new| (c.name.clone(), r.clone(), new)))
            })
            .collect()
    };
    if repairs.is_empty() {
        return Ok(0);
    }
    for (class, r, _) in &repairs {
        tracing::warn!(class = %class, object = %r, "replaced characters XML 1.0 cannot carry in a stored record");
    }
    let n = repairs.len();
    store
        .write(|tx| {
            for (class, r, rec) in repairs {
                tx.put(&class, &r, rec);
            }
            Ok(())
        })
        .map_err(|e| format!("cannot repair stored records: {e}"))?;
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_characters_are_replaced_everywhere_in_a_value() {
        assert_eq!(clean(&Value::str("fine")), None);
        assert_eq!(clean(&Value::str("a\u{FFFF}b\u{1}")), Some(Value::str("a\u{FFFD}b\u{FFFD}")));
        let map = Value::Map(vec![(Value::str("k\u{FFFE}"), Value::str("v")), (Value::str("ok"), Value::str("ok"))]);
        assert_eq!(
            clean(&map),
            Some(Value::Map(vec![(Value::str("k\u{FFFD}"), Value::str("v")), (Value::str("ok"), Value::str("ok"))]))
        );
        assert_eq!(clean(&Value::Set(vec![Value::str("x"), Value::str("\u{FFFF}")])), Some(Value::Set(vec![Value::str("x"), Value::str("\u{FFFD}")])));
        assert_eq!(clean(&Value::Int(3)), None);
    }

    #[test]
    fn a_poisoned_store_is_repaired_once_and_persists() {
        let dir = tempfile::tempdir().unwrap();
        let vm = model().class("VM").unwrap();
        {
            let s = Store::open(dir.path()).unwrap();
            let mut rec = Record::new_default(vm);
            rec.set(vm, "name_label", Value::str("bad\u{FFFF}name"));
            rec.set(vm, "other_config", Value::Map(vec![(Value::str("k"), Value::str("\u{FFFE}"))]));
            s.write(|tx| {
                tx.put("VM", "OpaqueRef:poisoned", rec);
                Ok(())
            })
            .unwrap();
        }
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(repair_unreadable_strings(&s).unwrap(), 1);
        assert_eq!(repair_unreadable_strings(&s).unwrap(), 0);
        drop(s);
        let s = Store::open(dir.path()).unwrap();
        let t = s.read();
        let rec = t.get("VM", "OpaqueRef:poisoned").unwrap();
        assert_eq!(rec.str(vm, "name_label"), "bad\u{FFFD}name");
        assert_eq!(rec.get(vm, "other_config"), &Value::Map(vec![(Value::str("k"), Value::str("\u{FFFD}"))]));
    }
}
