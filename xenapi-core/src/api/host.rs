//! host messages that need no hypervisor: the clock, and enabling or disabling the host for new
//! guests (xapi's maintenance-mode switch: a disabled host keeps its running VMs but starts or
//! resumes no others, HOST_DISABLED).

use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::generated::args::*;
use crate::generated::handlers::{register_host, HostMessages};
use crate::generated::PifRecord;
use crate::typed::Ref;
use crate::model::model;
use crate::value::Value;
use super::ops::hosts::{host_permits, HostView, HOST_OPERATIONS};
use super::Xapi;
use crate::store::Tx;

fn set_enabled(ctx: &Ctx, host: &str, enabled: bool) -> Result<(), ApiError> {
    let c = model().class("host").unwrap();
    ctx.xapi.store.write(|tx| {
        tx.must_get("host", host)?;
        tx.update("host", host, |r| Ok(r.set(c, "enabled", Value::Bool(enabled))))?;
        refresh_ops(tx, host)
    })
}

/// Recomputes the host's `allowed_operations` (the rules and the op → message table:
/// `ops::hosts`).
pub fn refresh_ops(tx: &mut Tx<'_>, host: &str) -> Result<(), ApiError> {
    let Some(rec) = tx.get("host", host) else { return Ok(()) };
    let view = HostView { enabled: rec.get(model().class("host").unwrap(), "enabled").as_bool() != Some(false) };
    super::ops::store(tx, "host", host, super::ops::offered(HOST_OPERATIONS, |op| host_permits(&view, op)))
}

/// Fails with HOST_DISABLED when this host takes no new guests.
pub fn assert_enabled(xapi: &Xapi) -> Result<(), ApiError> {
    let c = model().class("host").unwrap();
    let enabled = xapi.store.read().get("host", &xapi.this_host).map(|h| h.get(c, "enabled").as_bool() != Some(false)).unwrap_or(true);
    if enabled {
        Ok(())
    } else {
        Err(ApiError::new("HOST_DISABLED", [xapi.this_host.as_str()]))
    }
}

/// The `host.other_config` keys `xencim serve` writes at each start: xapi's own
/// `agent_start_time` (seconds since the epoch, as xapi writes it) and the listeners it serves on.
pub const AGENT_START_TIME: &str = "agent_start_time";
pub const LISTENERS: &str = "xencim_listeners";

/// Records this start in `host.other_config` (read back by `host.get_xencim_status` and shown by
/// `xencim status`). One write per start, so event watchers see one host change.
pub fn record_start(xapi: &Xapi, listeners: &[String]) -> Result<(), ApiError> {
    let c = model().class("host").unwrap();
    let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let host = xapi.this_host.clone();
    xapi.store.write(|tx| {
        tx.update("host", &host, |r| {
            let mut oc = match r.get(c, "other_config") {
                Value::Map(m) => m.clone(),
                _ => Vec::new(),
            };
            oc.retain(|(k, _)| !matches!(k.as_str(), Some(AGENT_START_TIME) | Some(LISTENERS)));
            oc.push((Value::str(AGENT_START_TIME), Value::str(format!("{started:.3}"))));
            oc.push((Value::str(LISTENERS), Value::str(listeners.join(" "))));
            r.set(c, "other_config", Value::Map(oc));
            Ok(())
        })
    })
}

/// `host.get_xencim_status` (a xencim extension, read-only): what only the running process knows,
/// for `xencim status`: its version, the XenAPI version, when it started, its listeners, and how
/// many sessions are live (all users; no session refs or user names are given out).
fn xencim_status(ctx: &Ctx, host: &str) -> Result<Vec<(String, String)>, ApiError> {
    let c = model().class("host").unwrap();
    let rec = ctx.xapi.store.read().get("host", host).cloned().ok_or_else(|| ApiError::handle_invalid("host", host))?;
    let other = |key: &str| match rec.get(c, "other_config") {
        Value::Map(m) => m.iter().find(|(k, _)| k.as_str() == Some(key)).and_then(|(_, v)| v.as_str()).unwrap_or("").to_string(),
        _ => String::new(),
    };
    let pairs = [
        ("version", env!("CARGO_PKG_VERSION").to_string()),
        ("api_version", format!("{}.{}", crate::bootstrap::API_VERSION_MAJOR, crate::bootstrap::API_VERSION_MINOR)),
        (AGENT_START_TIME, other(AGENT_START_TIME)),
        ("listeners", other(LISTENERS)),
        ("sessions", ctx.xapi.sessions.count().to_string()),
        ("backend", format!("{:?}", ctx.xapi.config.backend).to_lowercase()),
    ];
    Ok(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

pub struct HostApi;

impl HostMessages for HostApi {
    fn get_xencim_status(ctx: &Ctx, a: HostGetXencimStatusArgs) -> Result<Vec<(String, String)>, ApiError> {
        xencim_status(ctx, &a.host)
    }
    fn get_servertime(_: &Ctx, _: HostGetServertimeArgs) -> Result<i64, ApiError> {
        Ok(crate::time_fmt::now())
    }
    fn get_server_localtime(_: &Ctx, _: HostGetServerLocaltimeArgs) -> Result<i64, ApiError> {
        Ok(crate::time_fmt::now())
    }
    fn disable(ctx: &Ctx, a: HostDisableArgs) -> Result<(), ApiError> {
        set_enabled(ctx, &a.host, false)
    }
    fn enable(ctx: &Ctx, a: HostEnableArgs) -> Result<(), ApiError> {
        set_enabled(ctx, &a.host, true)
    }
    fn compute_free_memory(ctx: &Ctx, a: HostComputeFreeMemoryArgs) -> Result<i64, ApiError> {
        // Checks the handle first (HANDLE_INVALID), then answers this host's figure: the server
        // is a pool of one, so another stored host has no domains here.
        super::memory::host_overhead(&ctx.xapi, &a.host)?;
        if *a.host != *ctx.xapi.this_host {
            return Err(ApiError::new("HOST_OFFLINE", [a.host.as_str()]));
        }
        super::memory::host_free(&ctx.xapi)
    }
    fn compute_memory_overhead(ctx: &Ctx, a: HostComputeMemoryOverheadArgs) -> Result<i64, ApiError> {
        super::memory::host_overhead(&ctx.xapi, &a.host)
    }
    fn get_management_interface(ctx: &Ctx, a: HostGetManagementInterfaceArgs) -> Result<Ref<PifRecord>, ApiError> {
        let t = ctx.xapi.store.read();
        t.get("host", &a.host).ok_or_else(|| ApiError::handle_invalid("host", &a.host))?;
        let c = model().class("PIF").unwrap();
        let mut pifs: Vec<&String> = t
            .table("PIF")
            .objects
            .iter()
            .filter(|(_, p)| p.str(c, "host") == a.host.as_str() && matches!(p.get(c, "management"), Value::Bool(true)))
            .map(|(r, _)| r)
            .collect();
        pifs.sort();
        // xapi takes the first match and lets OCaml's Not_found escape when there is none,
        // which reaches the caller as INTERNAL_ERROR [Not_found].
        pifs.first().map(|r| Ref::new(r.as_str())).ok_or_else(|| ApiError::internal("Not_found"))
    }
}

pub fn register(d: &mut Dispatcher) {
    register_host::<HostApi>(d);
}
