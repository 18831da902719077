//! TLS for the HTTPS port: the configured certificate and key, or a self-signed pair made on
//! first start (as xapi does) and kept for later starts.

use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::TlsAcceptor;

/// Writes a self-signed certificate for localhost/127.0.0.1 and its key, unless both exist.
pub fn ensure_self_signed(cert: &Path, key: &Path, hostname: &str) -> Result<(), String> {
    if cert.exists() && key.exists() {
        return Ok(());
    }
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string(), hostname.to_string()];
    let ck = rcgen::generate_simple_self_signed(names).map_err(|e| format!("cannot make a certificate: {e}"))?;
    crate::bootstrap::write_secret(key, ck.key_pair.serialize_pem().trim_end())
        .map_err(|e| format!("cannot write {}: {e}", key.display()))?;
    crate::state_dir::write_private(cert, ck.cert.pem().as_bytes()).map_err(|e| format!("cannot write {}: {e}", cert.display()))?;
    tracing::info!(cert = %cert.display(), "made a self-signed TLS certificate");
    Ok(())
}

pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .map_err(|e| format!("bad certificate in {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("no certificate in {}", cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?,
    ))
    .map_err(|e| format!("bad key in {}: {e}", key.display()))?
    .ok_or_else(|| format!("no private key in {}", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("certificate and key do not fit: {e}"))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}
