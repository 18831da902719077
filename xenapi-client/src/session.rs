//! A logged-in session: every call carries its ref as the first parameter.
//!
//! ```text
//! session.login_with_password("root", "…", "2.21", "my-provider")  →  "OpaqueRef:5e1…"
//! VM.get_all("OpaqueRef:5e1…")                                      →  ["OpaqueRef:9a0…", …]
//! ```
//!
//! # Re-login on `SESSION_INVALID`
//!
//! A server forgets sessions: idle expiry (24 h in xapi), the per-originator cap evicting the
//! oldest, a restart of a server that does not persist them. When a call answers
//! `SESSION_INVALID`, [`Session::call`] logs in again **once** with the credentials it was made
//! with, then sends the call **once** more with the new ref; whatever that answers is returned
//! (a second `SESSION_INVALID` included). This is what the Python SDK does (it allows up to three
//! attempts). Repeating the call is safe because a server checks the session before it runs
//! anything, so the first attempt did nothing.
//!
//! Tasks sharing one `Session` re-login once between them: the first to notice logs in, the
//! others wait for it and reuse the new ref. Re-login is off after [`Session::logout`] and can
//! be turned off with [`Session::set_relogin`] (then `SESSION_INVALID` is returned as is). The
//! password stays in memory for this purpose, for the life of the `Session`.

use super::error::{ClientError, Result};
use super::Client;
use xenapi_wire::Wire;
use xenapi_model::value::Value;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::RwLock;

/// The API version this client speaks, sent at login (xapi does not reject any value).
pub const API_VERSION: &str = "2.21";

struct Credentials {
    user: String,
    password: String,
    originator: String,
}

pub struct Session {
    client: Client,
    credentials: Credentials,
    current: RwLock<String>,
    /// Serialises re-logins of tasks sharing this session.
    relogin_lock: tokio::sync::Mutex<()>,
    relogin: AtomicBool,
    logged_out: AtomicBool,
    relogins: AtomicU64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("client", &self.client)
            .field("user", &self.credentials.user)
            .field("originator", &self.credentials.originator)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub(super) async fn login(client: Client, user: &str, password: &str, originator: &str) -> Result<Session> {
        let credentials =
            Credentials { user: user.to_string(), password: password.to_string(), originator: originator.to_string() };
        let r = login_call(&client, &credentials).await?;
        Ok(Session {
            client,
            credentials,
            current: RwLock::new(r),
            relogin_lock: tokio::sync::Mutex::new(()),
            relogin: AtomicBool::new(true),
            logged_out: AtomicBool::new(false),
            relogins: AtomicU64::new(0),
        })
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The current session ref (it changes after a re-login).
    pub fn session_ref(&self) -> String {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Turns automatic re-login on `SESSION_INVALID` on or off (on by default).
    pub fn set_relogin(&self, on: bool) {
        self.relogin.store(on, Ordering::Relaxed);
    }

    /// How many times this session logged in again after `SESSION_INVALID`.
    pub fn relogins(&self) -> u64 {
        self.relogins.load(Ordering::Relaxed)
    }

    /// Calls `method` with the session ref prepended to `args`; see the module docs for what
    /// happens on `SESSION_INVALID`.
    ///
    /// ```no_run
    /// # async fn demo(s: &xenapi_client::Session) -> xenapi_client::Result<()> {
    /// use xenapi_client::Value;
    /// let vms = s.call("VM.get_by_name_label", vec![Value::str("web-1")]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn call(&self, method: &str, args: Vec<Value>) -> Result<Wire> {
        self.call_with(method, args, crate::decode_answer).await
    }

    /// [`call`](Self::call), with the answer's body read by `decode` (see [`Client::call_with`]).
    pub async fn call_with<T>(&self, method: &str, args: Vec<Value>, decode: impl Fn(&[u8]) -> Result<T>) -> Result<T> {
        let used = self.session_ref();
        let mut params = Vec::with_capacity(args.len() + 1);
        params.push(Value::String(used.clone()));
        params.extend(args);
        match self.client.call_with(method, &params, &decode).await {
            Err(e) if e.is_api("SESSION_INVALID") && self.may_relogin() => {
                self.relogin_after(&used).await?;
                params[0] = Value::String(self.session_ref());
                self.client.call_with(method, &params, &decode).await
            }
            other => other,
        }
    }

    fn may_relogin(&self) -> bool {
        self.relogin.load(Ordering::Relaxed) && !self.logged_out.load(Ordering::Relaxed)
    }

    /// Logs in again unless another task already replaced `stale` while this one waited.
    async fn relogin_after(&self, stale: &str) -> Result<()> {
        let _one_at_a_time = self.relogin_lock.lock().await;
        if self.session_ref() != stale {
            return Ok(());
        }
        let fresh = login_call(&self.client, &self.credentials).await?;
        tracing::debug!(user = %self.credentials.user, "XenAPI session was invalid; logged in again");
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = fresh;
        self.relogins.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// `session.logout`. Afterwards calls on this `Session` send the old ref and get the server's
    /// `SESSION_INVALID` (no re-login). A session the server had already forgotten counts as
    /// logged out.
    pub async fn logout(&self) -> Result<()> {
        self.logged_out.store(true, Ordering::Relaxed);
        match self.client.call("session.logout", &[Value::String(self.session_ref())]).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_api("SESSION_INVALID") => Ok(()),
            Err(e) => Err(e),
        }
    }
}

async fn login_call(client: &Client, c: &Credentials) -> Result<String> {
    let args = [
        Value::str(c.user.as_str()),
        Value::str(c.password.as_str()),
        Value::str(API_VERSION),
        Value::str(c.originator.as_str()),
    ];
    match client.call("session.login_with_password", &args).await? {
        Wire::Str(r) => Ok(r),
        other => Err(ClientError::Protocol(format!("login answered {other:?}, not a session ref"))),
    }
}
