//! What the generated typed calls (`crate::calls`, from `cargo run -p xenapi-codegen`) are built
//! on. A [`Call`] is a message ready to send: its name, its encoded arguments and the decoder of
//! its answer. Sending is the caller's business, so that one generated definition serves both the
//! async [`Session`] (`session.run(calls::vm::start(&vm, false, false)).await`) and blocking
//! callers such as the CIM providers, which implement [`Caller`] over their own runtime and checks.

use crate::error::{ClientError, Result};
use crate::Session;
use xenapi_model::model::Type;
use xenapi_model::{ApiError, Value};
use xenapi_wire::{Wire, WireValue};

/// How a call's answer becomes its Rust type.
pub type Decoder<T> = fn(Wire) -> Result<T>;

/// A typed call: `method(session, args...)`, answering a `T`.
#[must_use = "a Call does nothing until it is run"]
pub struct Call<T> {
    method: &'static str,
    args: Vec<Value>,
    decode: Decoder<T>,
}

impl<T> Call<T> {
    pub fn new(method: &'static str, args: Vec<Value>, decode: Decoder<T>) -> Call<T> {
        Call { method, args, decode }
    }

    /// `VM.start`, `Async.VM.start`.
    pub fn method(&self) -> &'static str {
        self.method
    }

    /// The arguments after the session, encoded.
    pub fn args(&self) -> &[Value] {
        &self.args
    }

    /// The message name and its arguments, to send; then [`Call::decode`] the answer.
    pub fn into_parts(self) -> (&'static str, Vec<Value>, Decoder<T>) {
        (self.method, self.args, self.decode)
    }

    /// The same call (the generated name and encoding), its answer decoded by `decode` instead:
    /// for callers that read records by field name (`typed::object_record::<TaskRecord>`) or want
    /// the answer as sent (`Call::raw`).
    pub fn decode_with<U>(self, decode: Decoder<U>) -> Call<U> {
        Call { method: self.method, args: self.args, decode }
    }

    /// The same call, its answer as the server sent it.
    pub fn raw(self) -> Call<Wire> {
        self.decode_with(Ok)
    }

    /// Types the answer the server gave.
    pub fn decode(&self, w: Wire) -> Result<T> {
        (self.decode)(w)
    }
}

impl<T> std::fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({:?})", self.method, self.args)
    }
}

/// Something that sends a message and waits for the answer (the session is its business).
/// Implement `call`; `run` sends a typed [`Call`] through it and decodes the answer.
pub trait Caller {
    type Error: From<ClientError>;

    fn call(&self, method: &str, args: Vec<Value>) -> std::result::Result<Wire, Self::Error>;

    fn run<T>(&self, c: Call<T>) -> std::result::Result<T, Self::Error> {
        let (method, args, decode) = c.into_parts();
        let w = self.call(method, args)?;
        decode(w).map_err(Self::Error::from)
    }
}

impl Session {
    /// Sends a typed call with this session and decodes its answer.
    pub async fn run<T>(&self, c: Call<T>) -> Result<T> {
        let (method, args, decode) = c.into_parts();
        let w = self.call(method, args).await?;
        decode(w)
    }
}

/// Types an answer: first under the model type `ty` (ints sent as strings, enums checked,
/// datetimes parsed), then as the Rust type by `decode`. An answer that does not fit is a
/// protocol error naming the message.
pub fn answer<T>(w: Wire, ty: &Type, method: &str, decode: impl Fn(Value, &str) -> std::result::Result<T, ApiError>) -> Result<T> {
    let bad = |e: ApiError| ClientError::Protocol(format!("the answer of {method} does not fit its model type {ty}: {e}"));
    let v = Value::from_wire(w, ty, method).map_err(bad)?;
    decode(v, method).map_err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calls;
    use xenapi_model::generated::{VmPowerState, VmRecord};
    use xenapi_model::typed::Ref;

    struct Canned(Wire, std::cell::RefCell<Vec<(String, Vec<Value>)>>);
    impl Caller for Canned {
        type Error = ClientError;
        fn call(&self, method: &str, args: Vec<Value>) -> Result<Wire> {
            self.1.borrow_mut().push((method.to_string(), args));
            Ok(self.0.clone())
        }
    }

    #[test]
    fn a_call_encodes_its_arguments_in_order_and_types_the_answer() {
        let vm: Ref<VmRecord> = Ref::new("OpaqueRef:vm");
        let c = calls::vm::start(&vm, false, true);
        assert_eq!(c.method(), "VM.start");
        assert_eq!(c.args(), &[Value::str("OpaqueRef:vm"), Value::Bool(false), Value::Bool(true)]);
        let caller = Canned(Wire::Str("Running".into()), Default::default());
        assert_eq!(caller.run(calls::vm::get_power_state("OpaqueRef:vm")).unwrap(), VmPowerState::Running);
        assert_eq!(caller.1.borrow()[0].0, "VM.get_power_state");
        let task = caller.run(calls::vm::async_start(&vm, false, false));
        assert_eq!(task.unwrap().as_str(), "Running");
        assert_eq!(caller.1.borrow()[1].0, "Async.VM.start");
    }

    #[test]
    fn an_answer_that_does_not_fit_is_a_protocol_error_not_a_panic() {
        let caller = Canned(Wire::Str("Exploded".into()), Default::default());
        let e = caller.run(calls::vm::get_power_state("OpaqueRef:vm")).unwrap_err();
        assert!(matches!(e, ClientError::Protocol(ref m) if m.contains("VM.get_power_state")), "{e:?}");
        let caller = Canned(Wire::Str("12x".into()), Default::default());
        assert!(matches!(caller.run(calls::vm::get_memory_static_max("r")), Err(ClientError::Protocol(_))));
        let caller = Canned(Wire::Str("4096".into()), Default::default());
        assert_eq!(caller.run(calls::vm::get_memory_static_max("r")).unwrap(), 4096);
    }

    #[test]
    fn records_come_back_as_their_generated_structs() {
        let w = Wire::Struct(vec![
            ("OpaqueRef:a".into(), Wire::Struct(vec![("name_label".into(), Wire::Str("web".into())), ("power_state".into(), Wire::Str("Halted".into()))])),
        ]);
        let caller = Canned(w, Default::default());
        let all = caller.run(calls::vm::get_all_records()).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].0.as_str(), "OpaqueRef:a");
        assert_eq!(all[0].1.name_label, "web");
        assert_eq!(all[0].1.power_state, VmPowerState::Halted);
    }
}
