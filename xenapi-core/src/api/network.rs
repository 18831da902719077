//! network messages: create (a bridge name is made up when none is given) and destroy, which
//! refuses while VIFs or PIFs are connected.

use super::ops::hosts::NETWORK_OPERATIONS;
use super::sr::{class, refs};
use crate::dispatch::implicit::record_from_create_args;
use crate::dispatch::{Ctx, Dispatcher};
use crate::generated::NetworkRecord;
use crate::typed::{self, CreateArgs, OnObject, Ref};
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

fn create(ctx: &Ctx, a: CreateArgs) -> Result<Ref<NetworkRecord>, ApiError> {
    let rec = record_from_create_args(class("network"), &a.record)?;
    ctx.xapi.store.write(|tx| Ok(insert(tx, rec))).map(Ref::new)
}

/// A network goes only once no VIF or PIF is on it.
fn destroy(ctx: &Ctx, a: OnObject<NetworkRecord>) -> Result<(), ApiError> {
    let net = a.this.as_str();
    ctx.xapi.store.write(|tx| {
        let rec = tx.must_get("network", net)?;
        let c = class("network");
        if let Some(v) = refs(rec.get(c, "VIFs")).first() {
            return Err(ApiError::new("NETWORK_CONTAINS_VIF", [v]));
        }
        if let Some(p) = refs(rec.get(c, "PIFs")).first() {
            return Err(ApiError::new("NETWORK_CONTAINS_PIF", [p]));
        }
        tx.delete("network", net);
        Ok(())
    })
}

/// network has no implemented custom messages (no trait); its implicit create and destroy have
/// checks.
pub fn register(d: &mut Dispatcher) {
    d.override_implicit_with("network.create", typed::sync_handler(create, |r: Ref<NetworkRecord>| Value::String(r.into_string())));
    d.override_implicit_with("network.destroy", typed::sync_handler(destroy, |_: ()| Value::void()));
}
