//! host messages that need no hypervisor: the clock, and enabling or disabling the host for new
//! guests (xapi's maintenance-mode switch: a disabled host keeps its running VMs but starts or
//! resumes no others, HOST_DISABLED).

use crate::dispatch::{Ctx, Dispatcher};
use crate::error::ApiError;
use crate::model::model;
use crate::value::Value;
use super::Xapi;

fn set_enabled(ctx: &Ctx, host: &str, enabled: bool) -> Result<Value, ApiError> {
    let c = model().class("host").unwrap();
    ctx.xapi.store.write(|tx| {
        tx.must_get("host", host)?;
        tx.update("host", host, |r| Ok(r.set(c, "enabled", Value::Bool(enabled))))
    })?;
    Ok(Value::void())
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

pub fn register(d: &mut Dispatcher) {
    let now = |_: &Ctx, _: Vec<Value>| Ok(Value::DateTime(crate::time_fmt::now()));
    d.implement_sync("host.get_servertime", now);
    d.implement_sync("host.get_server_localtime", now);
    d.implement_sync("host.disable", |ctx, a| set_enabled(ctx, a[0].as_str().unwrap_or(""), false));
    d.implement_sync("host.enable", |ctx, a| set_enabled(ctx, a[0].as_str().unwrap_or(""), true));
}
