//! The provider's TLS: TLS 1.3 only (Gatekeeper requires at least 1.3 since
//! v3.11), rustls with the workspace's crypto provider (aws-lc-rs), and
//! optional verification of the client certificate against a CA file
//! (Gatekeeper's webhook CA, for mutual TLS).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}: {source}; check the --tls-cert/--tls-key/--client-ca paths and the mounted Secret")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} holds no usable PEM {expected}: {message}")]
    Pem {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
        message: String,
    },
    #[error("TLS configuration refused: {0}; the key must match the certificate")]
    Config(#[from] rustls::Error),
    #[error("client CA {path}: {message}")]
    ClientCa { path: PathBuf, message: String },
}

#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// The bytes of every file, to notice a rotated certificate.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for p in [Some(&self.cert), Some(&self.key), self.client_ca.as_ref()]
            .into_iter()
            .flatten()
        {
            out.extend(std::fs::read(p).unwrap_or_default());
            out.push(0);
        }
        out
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read(what, path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            what,
            path: path.to_path_buf(),
            expected: "CERTIFICATE",
            message: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            what,
            path: path.to_path_buf(),
            expected: "CERTIFICATE",
            message: "no CERTIFICATE block".into(),
        });
    }
    Ok(certs)
}

pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let chain = certificates("certificate", &files.cert)?;
    let key_pem = read("private key", &files.key)?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| TlsError::Pem {
        what: "private key",
        path: files.key.clone(),
        expected: "PRIVATE KEY (PKCS#8, PKCS#1 or SEC1)",
        message: e.to_string(),
    })?;
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?;
    let builder = match &files.client_ca {
        None => builder.with_no_client_auth(),
        Some(path) => {
            let mut roots = RootCertStore::empty();
            for cert in certificates("client CA", path)? {
                roots.add(cert).map_err(|e| TlsError::ClientCa {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::ClientCa {
                    path: path.clone(),
                    message: e.to_string(),
                })?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_single_cert(chain, key)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
