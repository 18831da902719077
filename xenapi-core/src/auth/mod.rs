//! Local users' passwords: argon2id hashes in PHC string form (salted, never plain text),
//! generation of the initial root password, and the guards around checking a password.
//!
//! Checking a password is deliberately expensive (memory and CPU), which makes it the cheapest
//! way for an unauthenticated client to exhaust the server: one check holds 19 MiB, and before
//! these guards 200 concurrent wrong logins took the server from 53 MB to 3 GB of resident
//! memory, never given back. So every check made for a client goes through [`check`]:
//!
//! - [`pool`]: a fixed number of checks run at once, each on a memory block that is allocated
//!   once and reused, so the memory is bounded and stays bounded after a burst;
//! - [`throttle`]: one client's attempts run one at a time, and each failure makes its next
//!   attempt wait longer (capped); a success clears the record;
//! - [`client`]: who is asking (the peer address the HTTP front ends record for the request).

pub mod client;
pub mod pool;
pub mod throttle;

use argon2::password_hash::{rand_core::OsRng, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::distributions::Alphanumeric;
use rand::Rng;

pub use client::Client;

/// The hash parameters for new passwords: argon2id (the variant that resists both side-channel
/// and GPU attacks), 19 MiB of memory, 2 passes, 1 lane: OWASP's minimum recommended setting for
/// argon2id, a few tens of milliseconds of one core per check (about 20 ms on the development
/// machine, optimised). More memory per check would make offline guessing of a stolen hash
/// dearer, but every login would cost the server as much; the bound on concurrent checks
/// ([`pool::WORKERS`]) is what keeps the total at `WORKERS × 19 MiB`.
/// Stored hashes carry their own parameters, so hashes made with other settings still verify.
pub const M_COST_KIB: u32 = 19 * 1024;
pub const T_COST: u32 = 2;
pub const P_COST: u32 = 1;

/// The largest memory cost a stored hash may ask for (a hash from a future setting, say);
/// beyond it the hash is treated as malformed rather than allocating what it asks.
pub const MAX_VERIFY_M_COST_KIB: u32 = 256 * 1024;

fn hasher() -> Argon2<'static> {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The PHC string of `password` with a new random salt and this server's parameters.
pub fn hash_password(password: &str) -> Result<String, String> {
    hash_with_memory(password, &mut Vec::new())
}

/// [`hash_password`] computed in `memory` (grown to the size the parameters need).
pub fn hash_with_memory(password: &str, memory: &mut Vec<Block>) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("cannot hash password: {e}");
    let salt = SaltString::generate(&mut OsRng);
    let argon2 = hasher();
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| fail(&e))?;
    if memory.len() < argon2.params().block_count() {
        memory.resize(argon2.params().block_count(), Block::new());
    }
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    argon2.hash_password_into_with_memory(password.as_bytes(), salt_bytes, &mut out, &mut memory[..]).map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: argon2.params().try_into().map_err(|e: argon2::password_hash::Error| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(argon2::password_hash::Output::new(&out).map_err(|e| fail(&e))?),
    };
    Ok(hash.to_string())
}

/// True when `password` matches the stored hash, computed in `memory` (grown when the hash asks
/// for more blocks than it has). A malformed hash never matches.
pub fn verify_with_memory(password: &str, hash: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    if params.m_cost() > MAX_VERIFY_M_COST_KIB {
        tracing::warn!(m_cost = params.m_cost(), "a stored password hash asks for more memory than allowed");
        return false;
    }
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else { return false };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    if Argon2::new(algorithm, version, params).hash_password_into_with_memory(password.as_bytes(), salt, &mut out, &mut memory[..]).is_err() {
        return false;
    }
    // password_hash::Output compares in constant time.
    argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// [`verify_with_memory`] with memory of its own: for tests and one-off tools, not for checks
/// made on a client's behalf (those go through [`check`]).
pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_with_memory(password, hash, &mut Vec::new())
}

pub fn generate_password() -> String {
    rand::thread_rng().sample_iter(&Alphanumeric).take(24).map(char::from).collect()
}

/// Why a password was not checked: the client has to try again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Busy;

/// The message given with a refused attempt (in `SESSION_AUTHENTICATION_FAILED`).
pub const BUSY_MESSAGE: &str = "Too many authentication attempts; try again later";

/// How long an attempt may wait for its turn (its client's earlier attempts, its failure delay,
/// a free check) before it is refused: long enough for a person retrying a typo, short enough
/// that a flood is answered instead of queued.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks `password` against `hash` for `client`, under the process-wide limits: `Ok(true)` or
/// `Ok(false)` once checked (and the client's failure record updated), `Err(Busy)` when the
/// check could not start within [`MAX_WAIT`]. Never blocks the async runtime's threads.
pub async fn check(client: Client, password: &str, hash: &str) -> Result<bool, Busy> {
    let deadline = tokio::time::Instant::now() + MAX_WAIT;
    let attempt = throttle::global().admit(client, deadline).await?;
    let (p, h) = (password.to_string(), hash.to_string());
    let ok = pool::global().run(deadline, move |memory| verify_with_memory(&p, &h, memory)).await?;
    attempt.finish(ok);
    Ok(ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_salted_and_verify() {
        let a = hash_password("secret").unwrap();
        // The argon2 crate's own hasher makes the same string for the same salt.
        let parsed = PasswordHash::new(&a).unwrap();
        let theirs = argon2::password_hash::PasswordHasher::hash_password(&hasher(), b"secret", parsed.salt.unwrap()).unwrap();
        assert_eq!(theirs.to_string(), a);
        let b = hash_password("secret").unwrap();
        assert_ne!(a, b);
        assert!(!a.contains("secret"));
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert!(verify_password("secret", &a));
        assert!(!verify_password("Secret", &a));
        assert!(!verify_password("secret", "not a hash"));
        assert_eq!(generate_password().len(), 24);
    }

    /// Hashes made with other parameters (and by the argon2 crate's own verifier's conventions)
    /// still verify: the parameters come from the PHC string.
    #[test]
    fn hashes_with_other_parameters_verify() {
        for (alg, m, t, p) in [(Algorithm::Argon2id, 8192, 3, 1), (Algorithm::Argon2i, 4096, 2, 2), (Algorithm::Argon2d, 1024, 1, 1)] {
            let salt = SaltString::generate(&mut OsRng);
            let h = argon2::password_hash::PasswordHasher::hash_password(&Argon2::new(alg, Version::V0x13, Params::new(m, t, p, None).unwrap()), b"pw", &salt)
                .unwrap()
                .to_string();
            let mut memory = Vec::new();
            assert!(verify_with_memory("pw", &h, &mut memory), "{h}");
            assert!(!verify_with_memory("px", &h, &mut memory), "{h}");
        }
    }

    #[test]
    fn memory_is_reused_and_oversized_hashes_are_refused() {
        let h = hash_password("pw").unwrap();
        let mut memory = Vec::new();
        assert!(verify_with_memory("pw", &h, &mut memory));
        assert_eq!(memory.len(), M_COST_KIB as usize);
        let ptr = memory.as_ptr();
        assert!(verify_with_memory("pw", &h, &mut memory));
        assert_eq!(memory.as_ptr(), ptr, "the same block is used again");
        let huge = h.replace("m=19456", &format!("m={}", MAX_VERIFY_M_COST_KIB + 1));
        assert!(!verify_with_memory("pw", &huge, &mut memory));
        assert_eq!(memory.len(), M_COST_KIB as usize);
    }
}
