//! TLS for `https://` endpoints, with rustls (ring provider, as the server uses).
//!
//! Three ways to trust the server, chosen by the caller and never silently weakened:
//! - [`Trust::System`] (default): the system bundle (`$SSL_CERT_FILE`, else
//!   `/etc/ssl/certs/ca-certificates.crt`);
//! - [`Trust::Pem`]: given PEM certificates, either the CA that signed the server's certificate or
//!   the server's self-signed certificate itself (how to trust a fresh `xencim serve`);
//! - [`Trust::AcceptAny`]: no certificate check at all, for self-signed local servers during
//!   development. The handshake signature is still verified (so the peer holds the key of the
//!   certificate it shows), but anyone can make such a certificate: this gives no protection
//!   against an active attacker.

use super::error::{ClientError, Result};
use std::sync::Arc;
use tokio_rustls::rustls::{
    self,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider},
    pki_types::{CertificateDer, ServerName, UnixTime},
    DigitallySignedStruct, RootCertStore, SignatureScheme,
};

#[derive(Clone, Default)]
pub enum Trust {
    #[default]
    System,
    /// PEM text holding one or more certificates to trust.
    Pem(Vec<u8>),
    AcceptAny,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Trust::System => "System",
            Trust::Pem(_) => "Pem(..)",
            Trust::AcceptAny => "AcceptAny",
        })
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The rustls client configuration for a trust choice.
pub fn client_config(trust: &Trust) -> Result<Arc<rustls::ClientConfig>> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?;
    let config = match trust {
        Trust::AcceptAny => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth(),
        Trust::Pem(pem) => builder.with_root_certificates(roots_from_pem(pem, "the given PEM")?).with_no_client_auth(),
        Trust::System => {
            let path = std::env::var_os("SSL_CERT_FILE")
                .map(std::path::PathBuf::from)
                .unwrap_or_else(|| "/etc/ssl/certs/ca-certificates.crt".into());
            let pem = std::fs::read(&path).map_err(|e| {
                ClientError::Tls(format!(
                    "cannot read the system CA bundle {}: {e}; give the server's CA or certificate instead",
                    path.display()
                ))
            })?;
            builder.with_root_certificates(roots_from_pem(&pem, &path.display().to_string())?).with_no_client_auth()
        }
    };
    Ok(Arc::new(config))
}

fn roots_from_pem(pem: &[u8], what: &str) -> Result<RootCertStore> {
    let certs = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Tls(format!("bad certificate in {what}: {e}")))?;
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(ClientError::Tls(format!("no usable certificate in {what}")));
    }
    Ok(roots)
}

/// The TLS server name for a host: an IP address or a DNS name.
pub fn server_name(host: &str) -> Result<ServerName<'static>> {
    ServerName::try_from(host.to_string()).map_err(|e| ClientError::Tls(format!("bad server name {host:?}: {e}")))
}

/// Accepts every certificate chain; still checks handshake signatures (see the module docs).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
