//! What `allowed_operations` may offer for VDI, SR, VBD, VIF, host and network: one table per
//! class from each operation to the message that performs it (VM's is
//! [`crate::lifecycle::VM_OPERATIONS`]), and the state rules of each class.
//!
//! Clients act on `allowed_operations` (XenCenter and Xen Orchestra grey out or show buttons
//! from it), so an operation is offered only when the state permits it *and* its message is
//! implemented here: an operation whose message answers `NOT_IMPLEMENTED`, or that has no
//! message at all, is never offered. Operations without a message of their own map to the
//! message that performs them (SR `vdi_create` → `VDI.create`, `plug` → `PBD.plug`, VBD
//! `attach` → `VM.start`, which attaches every VBD of the VM).
//!
//! The rules are pure functions of a small view of the object, so the unit tests can walk every
//! state; the class modules build the views and store the result.

pub mod devices;
pub mod hosts;
pub mod storage;

use crate::error::ApiError;
use crate::store::Tx;
use crate::typed::WireEnum;
use crate::value::Value;

/// Operation (a value of the class's generated operations enum) → the message that performs it
/// (`…Args::MESSAGE`; None: no message of this model does). The implicit messages (`VDI.create`,
/// `PBD.destroy`, ...) have no argument struct, so they are spelt out; the tests check that
/// every message named is one of the dispatch table.
pub type OpTable<E> = &'static [(E, Option<&'static str>)];

/// The operations of `table` that `permitted` allows now and whose message `implemented`
/// answers for, in the table's order.
pub fn offer<E: WireEnum>(table: OpTable<E>, permitted: impl Fn(E) -> bool, implemented: impl Fn(&str) -> bool) -> Vec<E> {
    table.iter().filter(|(op, message)| message.is_some_and(&implemented) && permitted(*op)).map(|(op, _)| *op).collect()
}

/// [`offer`] against this server's dispatch table, as the value of an `allowed_operations` field.
pub fn offered<E: WireEnum>(table: OpTable<E>, permitted: impl Fn(E) -> bool) -> Value {
    Value::Set(offer(table, permitted, super::is_implemented).into_iter().map(|op| Value::str(op.wire_name())).collect())
}

/// Stores `ops` as the object's `allowed_operations` unless it already holds them, so that a
/// recomputation that changes nothing writes nothing and sends no event.
pub fn store(tx: &mut Tx<'_>, class: &str, r: &str, ops: Value) -> Result<(), ApiError> {
    let c = crate::model::model().class(class).expect("class in model");
    let Some(rec) = tx.get(class, r) else { return Ok(()) };
    if *rec.get(c, "allowed_operations") == ops {
        return Ok(());
    }
    tx.update(class, r, |rec| {
        rec.set(c, "allowed_operations", ops);
        Ok(())
    })
}

/// Recomputes `allowed_operations` of every SR, VDI, VBD, VIF, host and network: at start, so a
/// store written by an older version (or before a message was implemented) offers what this
/// build serves.
pub fn refresh_all(xapi: &super::Xapi) -> Result<(), ApiError> {
    xapi.store.write(|tx| {
        for sr in tx.all_refs("SR") {
            super::sr::refresh_ops(tx, &sr)?;
        }
        for vdi in tx.all_refs("VDI") {
            super::vdi::refresh_ops(tx, &vdi)?;
        }
        for vbd in tx.all_refs("VBD") {
            super::vbd::refresh(tx, &vbd)?;
        }
        for vif in tx.all_refs("VIF") {
            super::vif::refresh(tx, &vif)?;
        }
        for host in tx.all_refs("host") {
            super::host::refresh_ops(tx, &host)?;
        }
        for net in tx.all_refs("network") {
            super::network::refresh_ops(tx, &net)?;
        }
        Ok(())
    })
}

/// The wire names of offered operations, as a client sees them (for the per-class tests).
#[cfg(test)]
fn names<E: WireEnum>(ops: Vec<E>) -> Vec<&'static str> {
    ops.into_iter().map(WireEnum::wire_name).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{model, Type};

    /// Each table names every value of its class's operations enum once (so none is forgotten
    /// when the model grows), and every message it names is one of the model (declared, or an
    /// implicit accessor: in the dispatch table, implemented or listed as not).
    #[test]
    fn tables_cover_their_enums_and_name_messages_of_the_model() {
        let d = crate::api::dispatcher();
        let known = |m: &str| d.get(m).is_some();
        // Each table as (wire name, message) pairs, whatever its enum.
        fn named<E: WireEnum>(t: OpTable<E>) -> Vec<(&'static str, Option<&'static str>)> {
            t.iter().map(|(op, m)| (op.wire_name(), *m)).collect()
        }
        let tables = [
            ("VDI", named(storage::VDI_OPERATIONS)),
            ("SR", named(storage::SR_OPERATIONS)),
            ("VBD", named(devices::VBD_OPERATIONS)),
            ("VIF", named(devices::VIF_OPERATIONS)),
            ("host", named(hosts::HOST_OPERATIONS)),
            ("network", named(hosts::NETWORK_OPERATIONS)),
        ];
        for (class, table) in &tables {
            let c = model().class(class).unwrap();
            let Type::Set(inner) = &c.field("allowed_operations").unwrap().ty else { panic!("{class}") };
            let Type::Enum(e) = &**inner else { panic!("{class}") };
            let mut ops: Vec<&str> = table.iter().map(|(op, _)| *op).collect();
            ops.sort();
            let mut values: Vec<&str> = model().enums[e].iter().map(String::as_str).collect();
            values.sort();
            assert_eq!(ops, values, "{class}: the table and enum {e}");
            for (op, message) in table.iter() {
                if let Some(m) = message {
                    assert!(known(m), "{class}.{op} → {m}: not a message of the model");
                }
            }
        }
        for (op, message) in crate::lifecycle::VM_OPERATIONS {
            assert!(model().enums["vm_operations"].iter().any(|v| v == op.wire_name()), "VM {op}");
            if let Some(m) = message {
                assert!(known(m), "VM {op} → {m}: not a message of the model");
            }
        }
    }

    #[test]
    fn only_permitted_operations_with_implemented_messages_are_offered() {
        use crate::generated::VifOperations::{self, *};
        let table: OpTable<VifOperations> = &[(Attach, Some("X.a")), (Plug, Some("X.b")), (Unplug, None)];
        assert_eq!(offer(table, |_| true, |_| true), [Attach, Plug], "no message: never offered");
        assert_eq!(offer(table, |_| true, |m| m != "X.b"), [Attach]);
        assert_eq!(offer(table, |op| op != Attach, |_| true), [Plug]);
        assert_eq!(offered(table, |_| true), Value::Set(vec![]), "X.a and X.b are not messages of this server");
    }

    /// Against the real dispatch table: what each class offers in any state has implemented
    /// messages (the per-class tests walk the states with a permissive rule here).
    #[test]
    fn no_table_offers_an_unimplemented_message_of_this_server() {
        fn check<E: WireEnum + PartialEq + std::fmt::Display>(table: OpTable<E>) {
            for op in offer(table, |_| true, super::super::is_implemented) {
                let m = table.iter().find(|(o, _)| *o == op).and_then(|(_, m)| *m).unwrap();
                assert!(super::super::is_implemented(m), "{op} → {m}");
                assert!(crate::dispatch::unimplemented::reason(m).is_none(), "{op} → {m} is listed unimplemented");
            }
        }
        check(storage::VDI_OPERATIONS);
        check(storage::SR_OPERATIONS);
        check(devices::VBD_OPERATIONS);
        check(devices::VIF_OPERATIONS);
        check(hosts::HOST_OPERATIONS);
        check(hosts::NETWORK_OPERATIONS);
    }
}
