//! host messages that need no hypervisor.

use crate::dispatch::Dispatcher;
use crate::value::Value;

pub fn register(d: &mut Dispatcher) {
    let now = |_: &crate::dispatch::Ctx, _: Vec<Value>| Ok(Value::DateTime(crate::time_fmt::now()));
    d.implement_sync("host.get_servertime", now);
    d.implement_sync("host.get_server_localtime", now);
}
