//! What the generated code (`crate::generated`, from `cargo run -p xenapi-codegen`) is built on:
//! typed refs, the conversions between typed Rust values and the dispatcher's [`Value`]s, and the
//! adapters that bind a typed handler (`fn(&Ctx, VmStartArgs) -> Result<(), ApiError>`) to the
//! dispatch table.
//!
//! Arguments reach a handler already checked against the model by the dispatcher
//! (`Value::from_wire` under the parameter's type, defaults filled in, refs checked), so a
//! conversion here that fails is the server's own fault (the model and the generated code
//! disagree: regenerate) and is an `INTERNAL_ERROR` naming the parameter, never a panic.

use crate::dispatch::{Ctx, Handler};
use crate::error::ApiError;
use crate::value::Value;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

// Refs, the enum and record traits and the value conversions live with the model (the client and
// the providers use them too); the server's generated code reaches them through here.
pub use xenapi_model::typed::*;

/// The future a waiting handler returns (boxed: the trait methods are plain `fn`s, so a trait
/// object-free `Send` future without `async fn` in traits and its missing `Send` bound).
pub type Reply<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>> + Send + 'static>>;

/// Arguments decoded from the dispatcher's typed argument list (in declaration order, defaults
/// filled in).
pub trait Decode: Sized + Send + 'static {
    fn decode(args: Vec<Value>) -> Result<Self, ApiError>;
}

/// The generated argument struct of a declared message.
pub trait MessageArgs: Decode {
    /// `VM.start`.
    const MESSAGE: &'static str;
}

/// The arguments of an implicit message that acts on one object (`destroy(self)`,
/// `set_<f>(self, value)`, `add_to_<f>(self, key, value)`): the object typed, the rest as the
/// dispatcher typed them under the model's field type. Implicit messages have no generated
/// argument structs (every field has its own setter); an api module that overrides one with
/// checks (`VM.destroy`, `VM.set_is_a_template`) reads them through this.
pub struct OnObject<C> {
    pub this: Ref<C>,
    pub rest: Vec<Value>,
}

impl<C: Send + 'static> Decode for OnObject<C> {
    fn decode(args: Vec<Value>) -> Result<Self, ApiError> {
        let mut a = args.into_iter();
        let this = reference(next(&mut a, "self", None)?, "self")?;
        Ok(OnObject { this, rest: a.collect() })
    }
}

impl<C> OnObject<C> {
    /// The `value` of a setter, decoded by `decode` (`typed::boolean`, ...).
    pub fn value<T>(&self, decode: fn(Value, &str) -> Result<T, ApiError>) -> Result<T, ApiError> {
        let v = self.rest.first().cloned().ok_or_else(|| ApiError::internal("setter called without its value"))?;
        decode(v, "value")
    }
    /// The arguments as the generic handler takes them.
    pub fn into_args(self) -> Vec<Value> {
        std::iter::once(Value::String(self.this.into_string())).chain(self.rest).collect()
    }
}

/// The argument of an implicit `create(args: C record)`: the record as the client gave it
/// (fields left off take their defaults in `record_from_create_args`).
pub struct CreateArgs {
    pub record: Value,
}

impl Decode for CreateArgs {
    fn decode(args: Vec<Value>) -> Result<Self, ApiError> {
        let mut a = args.into_iter();
        Ok(CreateArgs { record: next(&mut a, "args", None)? })
    }
}

/// Binds a handler that answers at once (runs on the calling connection's task).
pub fn sync_handler<A: Decode, R: 'static>(
    f: fn(&Ctx, A) -> Result<R, ApiError>,
    encode: fn(R) -> Value,
) -> Handler {
    Handler::Sync(Arc::new(move |ctx: &Ctx, a: Vec<Value>| f(ctx, A::decode(a)?).map(encode)))
}

/// Binds a handler that waits (long polls, guest and storage operations).
pub fn async_handler<A: Decode, R: Send + 'static>(f: fn(Ctx, A) -> Reply<R>, encode: fn(R) -> Value) -> Handler {
    Handler::Async(Arc::new(move |ctx: Ctx, a: Vec<Value>| {
        Box::pin(async move { f(ctx, A::decode(a)?).await.map(encode) })
    }))
}

/// A [`Reply`] of work that is already done (a waiting-kind handler whose answer is known at
/// once, such as a refusal before any work starts).
pub fn ready<T: Send + 'static>(r: Result<T, ApiError>) -> Reply<T> {
    Box::pin(std::future::ready(r))
}

/// Runs blocking work (disk images, the backend) on a blocking thread, as a [`Reply`].
pub fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T, ApiError> + Send + 'static) -> Reply<T> {
    Box::pin(async move {
        tokio::task::spawn_blocking(work)
            .await
            .unwrap_or_else(|e| Err(ApiError::internal(format!("blocking operation failed: {e}"))))
    })
}

