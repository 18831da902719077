//! HTTP Basic authentication of CIM clients against the XenAPI's users.
//!
//! CIM clients send their credentials with every request, and a password check is slow and
//! memory-hungry on purpose (argon2, under the process's limits: `xenapi_core::auth`). So a
//! successful check is remembered for [`VERIFIED_FOR`]: later requests with the same user and
//! password are accepted without a new check. What is remembered is a keyed digest of the user
//! and password (BLAKE2b with a key drawn at random when the process starts, so it is useless
//! outside the process and the password itself is never kept). Any change of a credential in
//! the server (a password or role set) makes every remembered check stale; a failed attempt
//! is never remembered and does not evict a good one (a wrong password sent for someone else's
//! user name cannot force their next requests into new checks).

use blake2::digest::consts::U32;
use blake2::digest::{KeyInit, Mac};
use blake2::Blake2bMac;
use rand::RngCore;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xenapi_core::api::Xapi;
use xenapi_core::auth::{client, Client};
use xencim_broker::Authenticator;

/// How long a successful check is remembered.
pub const VERIFIED_FOR: Duration = Duration::from_secs(60);

type Digest = [u8; 32];

struct Verified {
    digest: Digest,
    at: Instant,
    role: String,
    /// The store's credential generation when the check started.
    generation: u64,
}

/// Basic authentication against the XenAPI user list.
pub struct XenapiAuthenticator {
    xapi: Arc<Xapi>,
    /// user → its last successful check.
    verified: Mutex<HashMap<String, Verified>>,
    key: [u8; 32],
    ttl: Duration,
    /// Password checks run (not answered from `verified`), for tests and the debug log.
    checks: AtomicU64,
}

impl XenapiAuthenticator {
    pub fn new(xapi: Arc<Xapi>) -> Self {
        Self::with_ttl(xapi, VERIFIED_FOR)
    }

    fn with_ttl(xapi: Arc<Xapi>, ttl: Duration) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        XenapiAuthenticator { xapi, verified: Mutex::new(HashMap::new()), key, ttl, checks: AtomicU64::new(0) }
    }

    fn digest(&self, user: &str, password: &str) -> Digest {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(&self.key).expect("a 32-byte key is valid for BLAKE2b");
        // Length-prefixed, so that no other split of the same bytes gives the same input.
        mac.update(&(user.len() as u64).to_le_bytes());
        mac.update(user.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True when `user` and `password` passed a check that still holds.
    fn remembered(&self, user: &str, digest: &Digest) -> bool {
        let generation = self.xapi.store.credentials_generation();
        self.lock().get(user).is_some_and(|v| {
            // Digests are compared in full whatever their first difference.
            let same = v.digest.iter().zip(digest).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
            same && v.at.elapsed() < self.ttl && v.generation == generation
        })
    }

    async fn check(&self, user: &str, password: &str, digest: Digest) -> bool {
        let generation = self.xapi.store.credentials_generation();
        self.checks.fetch_add(1, Ordering::Relaxed);
        let who = xencim_broker::request_peer().map_or(Client::Local, |p| Client::from_ip(p.ip()));
        tracing::debug!(user, client = %who, "CIM: checking a password");
        let verified = client::scope(who, xenapi_core::api::session::verify_credentials(&self.xapi.store, user, password)).await;
        let Ok(cred) = verified else { return false };
        let mut verified = self.lock();
        verified.retain(|_, v| v.at.elapsed() < self.ttl);
        verified.insert(user.to_string(), Verified { digest, at: Instant::now(), role: cred.role, generation });
        true
    }
}

impl Authenticator for XenapiAuthenticator {
    /// A refused check (too many attempts: see `xenapi_core::auth`) is a failed authentication
    /// here, answered 401: the trait has only yes or no, and 401 is true (the credentials were
    /// not verified) and tells the client what to do (send them again later); it also reveals
    /// nothing about whether they would have been right.
    fn authenticate<'a>(&'a self, user: &'a str, password: &'a str) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        Box::pin(async move {
            let digest = self.digest(user, password);
            if self.remembered(user, &digest) {
                return true;
            }
            self.check(user, password, digest).await
        })
    }

    /// The role recorded when the user's password was last checked (just before, for a request).
    fn role_of(&self, user: &str) -> Option<String> {
        self.lock().get(user).map(|v| v.role.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xenapi_core::config::CoreConfig;
    use xenapi_core::model::Role;

    fn server() -> (tempfile::TempDir, Arc<Xapi>, String) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = CoreConfig::new(dir.path().join("state"));
        config.initial_root_password = Some("right".into());
        let xapi = Xapi::open(config).unwrap();
        (dir, xapi, "right".into())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_checked_password_is_not_checked_again_until_a_credential_changes() {
        let (_dir, xapi, pw) = server();
        let auth = XenapiAuthenticator::new(xapi.clone());
        assert!(auth.authenticate("root", &pw).await);
        assert!(auth.authenticate("root", &pw).await);
        assert!(auth.authenticate("root", &pw).await);
        assert_eq!(auth.checks.load(Ordering::Relaxed), 1, "one check for three requests");
        assert_eq!(auth.role_of("root").as_deref(), Some("pool-admin"));

        assert!(!auth.authenticate("root", "wrong").await);
        assert!(!auth.authenticate("nobody", &pw).await);
        assert_eq!(auth.checks.load(Ordering::Relaxed), 3, "failures are never remembered");
        assert!(auth.authenticate("root", &pw).await);
        assert_eq!(auth.checks.load(Ordering::Relaxed), 3, "a failure did not evict the good check");

        xenapi_core::api::users::put_user(&xapi.store, "root", "root", Role::ReadOnly, "new").unwrap();
        assert!(!auth.authenticate("root", &pw).await, "the old password stops working at once");
        assert!(auth.authenticate("root", "new").await);
        assert_eq!(auth.role_of("root").as_deref(), Some("read-only"), "and the new role is seen");
        assert_eq!(auth.checks.load(Ordering::Relaxed), 5);
        let digest = auth.lock().get("root").unwrap().digest;
        assert_ne!(&digest[..3], b"new", "only a digest is kept");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_remembered_check_expires() {
        let (_dir, xapi, pw) = server();
        let auth = XenapiAuthenticator::with_ttl(xapi, Duration::ZERO);
        assert!(auth.authenticate("root", &pw).await);
        assert!(auth.authenticate("root", &pw).await);
        assert_eq!(auth.checks.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn digests_depend_on_the_key_and_on_where_the_name_ends() {
        let (_dir, xapi, _) = server();
        let a = XenapiAuthenticator::new(xapi.clone());
        let b = XenapiAuthenticator::new(xapi);
        assert_ne!(a.digest("root", "pw"), b.digest("root", "pw"));
        assert_ne!(a.digest("roo", "tpw"), a.digest("root", "pw"));
        assert_eq!(a.digest("root", "pw"), a.digest("root", "pw"));
    }
}
