//! The dispatch table: every callable method, built from the data model.
//!
//! For each class the implicit messages (`get_record`, `get_<f>`, `set_<f>`, `add_to_<f>`,
//! `create`, ...) come from [`implicit`] without per-field code; custom messages (`VM.start`,
//! `session.login_with_password`, ...) are registered by the `api` modules into the same table,
//! and replace an implicit message of the same name. Every call goes through [`Dispatcher::call`]:
//! method lookup, session check, arity, role, argument typing, ownership of the target (tasks
//! and sessions of other users, `api::ownership`), then the handler. Declared messages no
//! module implements answer `NOT_IMPLEMENTED` only if [`unimplemented`](mod@unimplemented) lists them, with a reason.

pub mod implicit;
pub mod unimplemented;
pub mod where_expr;

use crate::api::Xapi;
use crate::error::ApiError;
use crate::model::{model, Lifecycle, Message, Param, Role, Type};
use crate::rpc::{Wire, WireValue};
use crate::value::Value;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// What a handler knows about the call it serves.
#[derive(Clone)]
pub struct Ctx {
    pub xapi: Arc<Xapi>,
    /// The caller's session (none for login).
    pub session: Option<Arc<crate::api::session::Session>>,
    /// The method's full name, e.g. `VM.start`.
    pub method: Arc<str>,
    /// The task this call runs as, when called through `Async.`.
    pub task: Option<String>,
}

pub type SyncFn = dyn Fn(&Ctx, Vec<Value>) -> Result<Value, ApiError> + Send + Sync;
pub type BoxFuture = Pin<Box<dyn Future<Output = Result<Value, ApiError>> + Send>>;
pub type AsyncFn = dyn Fn(Ctx, Vec<Value>) -> BoxFuture + Send + Sync;

#[derive(Clone)]
pub enum Handler {
    /// Short work: runs on the calling connection's task.
    Sync(Arc<SyncFn>),
    /// Work that waits (long polls, guest operations).
    Async(Arc<AsyncFn>),
}

/// One entry of the table.
#[derive(Clone)]
pub struct Method {
    pub name: String,
    pub params: Vec<Param>,
    pub result: Type,
    pub needs_session: bool,
    pub has_async: bool,
    pub role: Role,
    pub lifecycle: Lifecycle,
    pub handler: Handler,
    /// False for the messages `model/unimplemented.txt` lists; they answer `NOT_IMPLEMENTED` and
    /// are left out of `system.listMethods`.
    pub implemented: bool,
}

impl Method {
    /// Permission name as xapi spells it in `RBAC_PERMISSION_DENIED` (`vm.start`).
    pub fn permission(&self) -> String {
        xenapi_model::rbac::permission(&self.name)
    }
}

#[derive(Default)]
pub struct Dispatcher {
    methods: HashMap<String, Method>,
}

/// A declared message that no api module implements and the list does not name: a gap that
/// [`unimplemented::coverage`] reports and `Xapi::open` refuses to serve, so never answered.
fn unbound(name: String) -> Handler {
    Handler::Sync(Arc::new(move |_, _| {
        Err(ApiError::new("INTERNAL_ERROR", [format!("{name} has no handler and is not in model/unimplemented.txt")]))
    }))
}

impl Dispatcher {
    /// The table with every implicit message of every class, and the custom messages of the
    /// model that `model/unimplemented.txt` lists bound to `NOT_IMPLEMENTED`. The other custom
    /// messages wait for an `api` module to register their handler; one that none does is a gap
    /// [`unimplemented::coverage`] reports.
    pub fn from_model() -> Dispatcher {
        let mut d = Dispatcher::default();
        for class in &model().classes {
            implicit::register(&mut d, class);
            for m in &class.messages {
                let name = format!("{}.{}", class.name, m.name);
                if d.methods.contains_key(&name) {
                    continue;
                }
                // A declared `set_<field>(self, value)` of a field's own type is a plain setter
                // unless an api module binds it to something with checks.
                if let Some(h) = implicit::plain_setter(class, m) {
                    d.insert_declared(&name, m, h, true);
                } else if let Some(reason) = unimplemented::reason(&name) {
                    d.not_implemented(&name, reason);
                } else {
                    // Neither listed nor (yet) implemented: an api module binds it next. The
                    // entry keeps the message's signature and role in the table (which the
                    // providers' role checks read) until then.
                    d.insert_declared(&name, m, unbound(name.clone()), false);
                }
            }
        }
        d
    }

    fn insert_declared(&mut self, name: &str, m: &Message, handler: Handler, implemented: bool) {
        self.methods.insert(
            name.to_string(),
            Method {
                name: name.to_string(),
                params: m.params.clone(),
                result: m.result.clone(),
                needs_session: m.needs_session,
                has_async: m.has_async,
                role: m.role,
                lifecycle: m.lifecycle,
                handler,
                implemented,
            },
        );
    }

    /// Adds or replaces a method (implicit messages register through here too).
    pub fn insert(&mut self, m: Method) {
        self.methods.insert(m.name.clone(), m);
    }

    /// Binds the handler of a custom message declared in the model (`class.message`), with the
    /// model's role for it (`xenapi_model::rbac`): the generated `register_<class>` glue, and the
    /// checked overrides of declared plain setters (bound by their argument struct's `MESSAGE`).
    /// Panics if the model does not declare it: handlers and the model must not drift apart.
    pub fn implement(&mut self, name: &str, handler: Handler) {
        let (class, msg) = name.split_once('.').expect("class.message");
        let decl = model()
            .class(class)
            .and_then(|c| c.message(msg))
            .unwrap_or_else(|| panic!("{name} is not declared in model/datamodel.txt"));
        self.insert_declared(name, decl, handler, true);
    }

    /// Binds a declared message to NOT_IMPLEMENTED, for the explicit list of messages this server
    /// does not implement (`model/unimplemented.txt`, compiled into the generated
    /// `UNIMPLEMENTED`; [`Dispatcher::from_model`] binds each). `reason` says why, for the reader
    /// of the list and the log.
    pub fn not_implemented(&mut self, name: &str, reason: &str) {
        let (class, msg) = name.split_once('.').expect("class.message");
        let decl = model()
            .class(class)
            .and_then(|c| c.message(msg))
            .unwrap_or_else(|| panic!("{name} is not declared in model/datamodel.txt"));
        // The wire error keeps xapi's one parameter (the message); the reason goes to the log.
        let (message, reason) = (name.to_string(), reason.to_string());
        let handler = Handler::Sync(Arc::new(move |_: &Ctx, _: Vec<Value>| {
            tracing::debug!(message = %message, reason = %reason, "call of an unimplemented message");
            Err(ApiError::new("NOT_IMPLEMENTED", [message.as_str()]))
        }));
        self.insert_declared(name, decl, handler, false);
    }

    /// Replaces the handler of an implicit message (e.g. `VM.create`, which also creates the VM's
    /// metrics object), keeping its generated signature. Api modules bind typed handlers here
    /// (`typed::sync_handler(f, encode)` with `typed::CreateArgs` / `typed::OnObject`).
    pub fn override_implicit_with(&mut self, name: &str, handler: Handler) {
        let m = self.methods.get_mut(name).unwrap_or_else(|| panic!("{name} is not an implicit message"));
        m.handler = handler;
    }

    pub fn get(&self, name: &str) -> Option<&Method> {
        self.methods.get(name)
    }

    /// Names of every implemented synchronous method, sorted (`system.listMethods`).
    pub fn list_methods(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .methods
            .values()
            .filter(|m| m.implemented)
            .map(|m| m.name.clone())
            .collect();
        names.sort();
        names
    }

    /// Resolves a method name as sent: `Async.` prefix, and xapi's `<class>_<message>` spelling.
    fn resolve(&self, sent: &str) -> Option<(&Method, bool)> {
        let (is_async, name) = match sent.strip_prefix("Async.") {
            Some(rest) => (true, rest),
            None => (false, sent),
        };
        if let Some(m) = self.methods.get(name) {
            return Some((m, is_async));
        }
        if !name.contains('.') {
            for c in &model().classes {
                if let Some(msg) = name.strip_prefix(&c.name).and_then(|r| r.strip_prefix('_')) {
                    if let Some(m) = self.methods.get(&format!("{}.{msg}", c.name)) {
                        return Some((m, is_async));
                    }
                }
            }
        }
        None
    }

    /// Runs one call from the wire to its result.
    pub async fn call(&self, xapi: &Arc<Xapi>, sent: &str, mut params: Vec<Wire>) -> Result<Value, ApiError> {
        let Some((method, is_async)) = self.resolve(sent) else {
            // xapi checks a first argument as a session before saying the method is unknown.
            if let Some(Wire::Str(s)) = params.first() {
                xapi.sessions.check(s)?;
            }
            return Err(ApiError::new("MESSAGE_METHOD_UNKNOWN", [sent]));
        };
        let session = if method.needs_session {
            match params.first() {
                Some(Wire::Str(s)) => {
                    let s = xapi.sessions.check(s)?;
                    params.remove(0);
                    Some(s)
                }
                Some(_) => return Err(ApiError::new("SESSION_INVALID", [""])),
                None => return Err(count_mismatch(method, 0)),
            }
        } else {
            None
        };
        let required = method.params.iter().take_while(|p| p.default.is_none()).count();
        let has_defaults = required < method.params.len();
        if params.len() < required || (!has_defaults && params.len() > method.params.len()) {
            return Err(count_mismatch(method, params.len()));
        }
        if method.lifecycle == Lifecycle::Removed {
            return Err(ApiError::new("MESSAGE_REMOVED", Vec::<String>::new()));
        }
        if let Some(s) = &session {
            if s.role < method.role {
                return Err(xenapi_model::rbac::role_denied(&method.name, &s.user_name, s.role, method.role));
            }
        }
        // Type the arguments; trailing defaulted ones that were left off take their defaults,
        // extra ones beyond the declared list are ignored (as xapi does for such messages).
        let mut args = Vec::with_capacity(method.params.len());
        let mut given = params.into_iter();
        for p in &method.params {
            match given.next() {
                Some(w) => args.push(Value::from_wire(w, &p.ty, &p.name)?),
                None => args.push(p.default.clone().expect("arity checked above")),
            }
        }
        check_refs(xapi, &method.params, &args)?;
        if let Some(s) = &session {
            crate::api::ownership::check(xapi, s, method, &args)?;
        }
        let ctx = Ctx { xapi: xapi.clone(), session, method: Arc::from(method.name.as_str()), task: None };
        if is_async {
            if !method.has_async {
                return Err(ApiError {
                    code: "Fault".into(),
                    params: vec![format!("No async mode for this operation (rpc: {})", method.name)],
                });
            }
            return crate::api::task::spawn_async(ctx, method.clone(), args);
        }
        run(&method.handler, ctx, args).await
    }
}

/// Runs a handler to completion.
pub async fn run(handler: &Handler, ctx: Ctx, args: Vec<Value>) -> Result<Value, ApiError> {
    match handler {
        Handler::Sync(f) => f(&ctx, args),
        Handler::Async(f) => f(ctx, args).await,
    }
}

/// Every ref argument must name a live object of its class (`HANDLE_INVALID [class, ref]`);
/// `OpaqueRef:NULL` passes, for the messages that take "none" that way.
fn check_refs(xapi: &Xapi, params: &[Param], args: &[Value]) -> Result<(), ApiError> {
    let tables = xapi.store.read();
    for (p, v) in params.iter().zip(args) {
        if let (Type::Ref(class), Value::String(r)) = (&p.ty, v) {
            let stored = model().class(class).is_some_and(|c| c.is_stored());
            if stored && r != crate::value::NULL_REF && tables.get(class, r).is_none() {
                return Err(ApiError::handle_invalid(class, r));
            }
        }
    }
    Ok(())
}

fn count_mismatch(m: &Method, received: usize) -> ApiError {
    let expected = m.params.iter().take_while(|p| p.default.is_none()).count();
    ApiError::new(
        "MESSAGE_PARAMETER_COUNT_MISMATCH",
        [m.name.clone(), expected.to_string(), received.to_string()],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The CIM providers check a principal's role with `Model::required_role` before calling: it
    /// must be the role this server's table enforces, for every method it has.
    #[test]
    fn every_method_has_the_role_the_model_gives_it() {
        let d = crate::api::dispatcher();
        assert!(d.methods.len() > 1000);
        for (name, m) in &d.methods {
            assert_eq!(model().required_role(name), Some(m.role), "{name}");
            assert_eq!(model().required_role(&format!("Async.{name}")), Some(m.role), "Async.{name}");
        }
    }
}
