//! network messages: create (a bridge name is made up when none is given) and destroy, which
//! refuses while VIFs or PIFs are connected.

use super::ops::hosts::NETWORK_OPERATIONS;
use super::sr::{arg, class, refs};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::Dispatcher;
use crate::error::ApiError;
use crate::store::{new_ref, Record, Tx};
use crate::value::Value;

/// Stores a network; an empty bridge becomes `xapi<N>`, the first N free.
pub fn insert(tx: &mut Tx<'_>, mut rec: Record) -> String {
    let c = class("network");
    if rec.str(c, "bridge").is_empty() {
        let taken: Vec<String> = tx.all_refs("network").iter().filter_map(|n| tx.get("network", n)).map(|n| n.str(c, "bridge").to_string()).collect();
        let name = (0..).map(|i| format!("xapi{i}")).find(|b| !taken.contains(b)).expect("a free name");
        rec.set(c, "bridge", Value::str(name));
    }
    rec.set(c, "allowed_operations", super::ops::offered(NETWORK_OPERATIONS, |_| true));
    let r = new_ref();
    tx.put("network", &r, rec);
    r
}

/// Recomputes a network's `allowed_operations` (its table: `ops::hosts`; no state of a network
/// limits it).
pub fn refresh_ops(tx: &mut Tx<'_>, net: &str) -> Result<(), ApiError> {
    super::ops::store(tx, "network", net, super::ops::offered(NETWORK_OPERATIONS, |_| true))
}

pub fn register(d: &mut Dispatcher) {
    d.override_implicit("network.create", |ctx, a| {
        let rec = record_from_create_args(class("network"), &a[0])?;
        Ok(Value::str(ctx.xapi.store.write(|tx| Ok(insert(tx, rec)))?))
    });
    d.override_implicit("network.destroy", |ctx, a| {
        let net = arg(&a, 0);
        ctx.xapi.store.write(|tx| {
            let rec = tx.must_get("network", &net)?;
            let c = class("network");
            if let Some(v) = refs(rec.get(c, "VIFs")).first() {
                return Err(ApiError::new("NETWORK_CONTAINS_VIF", [v]));
            }
            if let Some(p) = refs(rec.get(c, "PIFs")).first() {
                return Err(ApiError::new("NETWORK_CONTAINS_PIF", [p]));
            }
            tx.delete("network", &net);
            Ok(())
        })?;
        Ok(Value::void())
    });
}
