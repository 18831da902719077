//! Sessions: login, logout, the session check every call makes, idle expiry and the
//! per-originator cap.
//!
//! A session is a `session` object in the store (so it survives a restart) plus an in-memory
//! entry with the caller's role and last activity; activity is not written to disk on every
//! call (that would make every read a disk write), so after a restart idle time counts from the
//! session's last persisted activity.

use super::Xapi;
use crate::config::CoreConfig;
use crate::dispatch::{Ctx, Dispatcher};
use crate::generated::args::*;
use crate::generated::handlers::{register_session, SessionMessages};
use crate::generated::SessionRecord;
use crate::typed::{Ref, Reply};
use crate::error::ApiError;
use crate::model::{model, Role};
use crate::store::{new_ref, new_uuid, Record, Store};
use crate::time_fmt;
use crate::value::Value;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

pub struct Session {
    pub session_ref: String,
    pub user_ref: String,
    pub user_name: String,
    pub role: Role,
    pub originator: String,
    /// Order of creation, for oldest-first eviction.
    seq: u64,
    /// Unix seconds of the last call made with this session.
    last_active: AtomicI64,
}

impl Session {
    fn cap_key(&self) -> String {
        if self.originator.is_empty() {
            format!("user:{}", self.user_name)
        } else {
            format!("originator:{}", self.originator)
        }
    }
}

pub struct Sessions {
    live: RwLock<HashMap<String, Arc<Session>>>,
    next_seq: AtomicU64,
    idle_timeout: Duration,
    cap: usize,
}

impl Sessions {
    /// Rebuilds the live sessions from the store; sessions of users that no longer exist, and
    /// sessions idle past the timeout, are dropped.
    pub fn load(store: &Store, config: &CoreConfig) -> Result<Sessions, String> {
        let c = model().class("session").unwrap();
        let mut live = HashMap::new();
        let mut stale = Vec::new();
        let now = time_fmt::now();
        {
            let t = store.read();
            let mut rows: Vec<_> = t.table("session").objects.iter().collect();
            rows.sort_by_key(|(_, rec)| rec.get(c, "last_active").clone().as_datetime());
            for (seq, (r, rec)) in rows.into_iter().enumerate() {
                let name = rec.str(c, "auth_user_name").to_string();
                let last = rec.get(c, "last_active").as_datetime();
                let cred = store.credential(&name).map_err(|e| e.to_string())?;
                match cred.and_then(|cr| Role::from_wire_name(&cr.role).map(|role| (cr, role))) {
                    Some((cred, role)) if now - last < config.session_idle_timeout.as_secs() as i64 => {
                        live.insert(
                            r.clone(),
                            Arc::new(Session {
                                session_ref: r.clone(),
                                user_ref: cred.user_ref,
                                user_name: name,
                                role,
                                originator: rec.str(c, "originator").to_string(),
                                seq: seq as u64,
                                last_active: AtomicI64::new(last),
                            }),
                        );
                    }
                    _ => stale.push(r.clone()),
                }
            }
        }
        if !stale.is_empty() {
            store
                .write(|tx| {
                    for r in &stale {
                        tx.delete("session", r);
                    }
                    Ok(())
                })
                .map_err(|e| e.to_string())?;
        }
        let n = live.len() as u64;
        Ok(Sessions {
            live: RwLock::new(live),
            next_seq: AtomicU64::new(n),
            idle_timeout: config.session_idle_timeout,
            cap: config.sessions_per_originator.max(1),
        })
    }

    /// The session behind `r`, touched; `SESSION_INVALID [r]` if unknown, logged out or expired.
    pub fn check(&self, r: &str) -> Result<Arc<Session>, ApiError> {
        let s = self
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(r)
            .cloned()
            .ok_or_else(|| ApiError::new("SESSION_INVALID", [r]))?;
        let now = time_fmt::now();
        if now - s.last_active.load(Ordering::Relaxed) >= self.idle_timeout.as_secs() as i64 {
            return Err(ApiError::new("SESSION_INVALID", [r]));
        }
        s.last_active.store(now, Ordering::Relaxed);
        Ok(s)
    }

    pub fn is_live(&self, r: &str) -> bool {
        self.live.read().unwrap_or_else(|p| p.into_inner()).contains_key(r)
    }

    pub fn count(&self) -> usize {
        self.live.read().unwrap_or_else(|p| p.into_inner()).len()
    }

    fn remove_all(&self, store: &Store, refs: &[String]) {
        if refs.is_empty() {
            return;
        }
        {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            for r in refs {
                live.remove(r);
            }
        }
        // A failed delete leaves a row that the next start drops as stale.
        let _ = store.write(|tx| {
            for r in refs {
                if tx.exists("session", r) {
                    tx.delete("session", r);
                }
            }
            Ok(())
        });
    }

    /// Invalidates sessions idle for longer than the timeout.
    pub fn expire_idle(&self, store: &Store) {
        let now = time_fmt::now();
        let idle: Vec<String> = self
            .live
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .filter(|s| now - s.last_active.load(Ordering::Relaxed) >= self.idle_timeout.as_secs() as i64)
            .map(|s| s.session_ref.clone())
            .collect();
        if !idle.is_empty() {
            tracing::info!(count = idle.len(), "expiring idle sessions");
        }
        self.remove_all(store, &idle);
    }

    /// Opens a session for a user whose password was checked ([`verify_credentials`]): records
    /// it, evicts the oldest sessions of the same originator beyond the cap. Writes to the store.
    pub fn open(&self, xapi: &Xapi, cred: crate::store::Credential, uname: &str, originator: &str) -> Result<String, ApiError> {
        let role = Role::from_wire_name(&cred.role).ok_or_else(|| ApiError::internal("stored role unknown"))?;
        let r = new_ref();
        let now = time_fmt::now();
        let c = model().class("session").unwrap();
        let mut rec = Record::new_default(c);
        rec.set(c, "uuid", Value::str(new_uuid()));
        rec.set(c, "this_host", Value::str(&xapi.this_host));
        rec.set(c, "this_user", Value::str(&cred.user_ref));
        rec.set(c, "last_active", Value::DateTime(now));
        rec.set(c, "validation_time", Value::DateTime(now));
        rec.set(c, "is_local_superuser", Value::Bool(role == Role::PoolAdmin));
        rec.set(c, "auth_user_name", Value::str(uname));
        rec.set(c, "originator", Value::str(originator));
        rec.set(
            c,
            "rbac_permissions",
            Value::Set(Role::ALL.iter().filter(|x| **x <= role).map(|x| Value::str(x.wire_name())).collect()),
        );
        xapi.store.write(|tx| {
            tx.put("session", &r, rec);
            Ok(())
        })?;
        let s = Arc::new(Session {
            session_ref: r.clone(),
            user_ref: cred.user_ref,
            user_name: uname.to_string(),
            role,
            originator: originator.to_string(),
            seq: self.next_seq.fetch_add(1, Ordering::Relaxed),
            last_active: AtomicI64::new(now),
        });
        let key = s.cap_key();
        let evict = {
            let mut live = self.live.write().unwrap_or_else(|p| p.into_inner());
            live.insert(r.clone(), s);
            let mut same: Vec<&Arc<Session>> = live.values().filter(|x| x.cap_key() == key).collect();
            if same.len() > self.cap {
                same.sort_by_key(|x| (x.last_active.load(Ordering::Relaxed), x.seq));
                same[..same.len() - self.cap].iter().map(|x| x.session_ref.clone()).collect()
            } else {
                vec![]
            }
        };
        if !evict.is_empty() {
            tracing::info!(count = evict.len(), key = %key, "session cap reached, invalidating the oldest");
        }
        self.remove_all(&xapi.store, &evict);
        tracing::info!(user = uname, originator, "login");
        Ok(r)
    }

    pub fn logout(&self, store: &Store, r: &str) {
        self.remove_all(store, &[r.to_string()]);
    }
}

/// The credential of `uname` if `pwd` is its password, else `SESSION_AUTHENTICATION_FAILED
/// [uname, msg]`. Also what the CIM broker's HTTP authentication asks, so there is one password
/// list. The check (argon2, slow on purpose) runs under the process's limits
/// ([`crate::auth::check`]) for the client of the current request ([`crate::auth::client`]):
/// when they refuse it, the message says to try again later.
pub async fn verify_credentials(store: &Store, uname: &str, pwd: &str) -> Result<crate::store::Credential, ApiError> {
    let client = crate::auth::client::current();
    let cred = store.credential(uname)?;
    // An unknown name costs the same check, so response time does not reveal which names exist.
    let hash = cred.as_ref().map_or(DUMMY_HASH, |c| c.password_hash.as_str());
    match (crate::auth::check(client, pwd, hash).await, cred) {
        (Ok(true), Some(cred)) => Ok(cred),
        (Err(crate::auth::Busy), _) => {
            tracing::debug!(%client, "authentication refused: too many attempts");
            Err(ApiError::new("SESSION_AUTHENTICATION_FAILED", [uname, crate::auth::BUSY_MESSAGE]))
        }
        (_, known) => {
            if known.is_some() {
                tracing::info!(user = uname, %client, "authentication failed");
            }
            Err(ApiError::new("SESSION_AUTHENTICATION_FAILED", [uname, "Authentication failure"]))
        }
    }
}

/// An argon2 hash of a random string, used to spend the same time on unknown user names.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Xq2Xl2yYrYV5qv0Qb3FqSxH9n5sYl6z0eVbq0N2s0oU";

trait AsDateTime {
    fn as_datetime(&self) -> i64;
}

impl AsDateTime for Value {
    fn as_datetime(&self) -> i64 {
        match self {
            Value::DateTime(t) => *t,
            _ => 0,
        }
    }
}

/// Login waits for the password check (deliberately slow, run on the checks' own threads), then
/// records the session off the connection's task (a durable write).
fn login(ctx: Ctx, uname: String, pwd: String, originator: String) -> Reply<Ref<SessionRecord>> {
    Box::pin(async move {
        let cred = verify_credentials(&ctx.xapi.store, &uname, &pwd).await?;
        let xapi = ctx.xapi.clone();
        let r = tokio::task::spawn_blocking(move || xapi.sessions.open(&xapi, cred, &uname, &originator))
            .await
            .map_err(|e| ApiError::internal(format!("login task failed: {e}")))??;
        Ok(Ref::new(r))
    })
}

fn logout(ctx: &Ctx) -> Result<(), ApiError> {
    if let Some(s) = &ctx.session {
        ctx.xapi.sessions.logout(&ctx.xapi.store, &s.session_ref);
    }
    Ok(())
}

pub struct SessionApi;

impl SessionMessages for SessionApi {
    fn login_with_password(ctx: Ctx, a: SessionLoginWithPasswordArgs) -> Reply<Ref<SessionRecord>> {
        login(ctx, a.uname, a.pwd, a.originator)
    }

    /// One host is its own pool coordinator, so the emergency login is an ordinary one.
    fn slave_local_login_with_password(ctx: Ctx, a: SessionSlaveLocalLoginWithPasswordArgs) -> Reply<Ref<SessionRecord>> {
        login(ctx, a.uname, a.pwd, String::new())
    }

    fn logout(ctx: &Ctx, _: SessionLogoutArgs) -> Result<(), ApiError> {
        logout(ctx)
    }

    fn local_logout(ctx: &Ctx, _: SessionLocalLogoutArgs) -> Result<(), ApiError> {
        logout(ctx)
    }

    fn get_all_subject_identifiers(_: &Ctx, _: SessionGetAllSubjectIdentifiersArgs) -> Result<Vec<String>, ApiError> {
        Ok(vec![])
    }

    /// The old password is checked like a login (same limits); the new hash is computed on one
    /// of the checks' memory blocks, so a flood of calls cannot allocate one each.
    fn change_password(ctx: Ctx, a: SessionChangePasswordArgs) -> Reply<()> {
        Box::pin(async move {
            let s = ctx.session.clone().ok_or_else(|| ApiError::internal("session not checked"))?;
            let cred = ctx.xapi.store.credential(&s.user_name)?.ok_or_else(|| ApiError::internal("user vanished"))?;
            let (old, new) = (a.old_pwd, a.new_pwd);
            let busy = || ApiError::new("SESSION_AUTHENTICATION_FAILED", [s.user_name.as_str(), crate::auth::BUSY_MESSAGE]);
            match crate::auth::check(crate::auth::client::current(), &old, &cred.password_hash).await {
                Err(_) => return Err(busy()),
                Ok(false) => return Err(ApiError::new("SESSION_AUTHENTICATION_FAILED", [s.user_name.as_str(), "Old password is wrong"])),
                Ok(true) => {}
            }
            let deadline = tokio::time::Instant::now() + crate::auth::MAX_WAIT;
            let hash = crate::auth::pool::global()
                .run(deadline, move |memory| crate::auth::hash_with_memory(&new, memory))
                .await
                .map_err(|_| busy())?
                .map_err(ApiError::internal)?;
            ctx.xapi.store.put_credential(&crate::store::Credential { password_hash: hash, ..cred })
        })
    }
}

pub fn register(d: &mut Dispatcher) {
    register_session::<SessionApi>(d);
}

#[cfg(test)]
mod tests {
    #[test]
    fn dummy_hash_is_well_formed() {
        assert!(argon2::PasswordHash::new(super::DUMMY_HASH).is_ok());
    }
}
