//! A test PKI for Notation: a code-signing chain (root CA, intermediate CA,
//! leaf) and a timestamping chain (root CA, TSA leaf), with the certificate
//! profiles Notation requires (spec digest §f.1, §f.2).
//!
//! Why hand-rolled certificates instead of rcgen: ring (rcgen's backend)
//! can neither generate RSA keys nor sign with P-521, and Notation needs all
//! six key kinds of §e. Certificates are therefore assembled from
//! `x509-cert` structures and signed with the RustCrypto keys directly, which
//! also gives exact control over extension criticality, the detail the
//! verifier checks most.
//!
//! Why deterministic keys: RSA key generation is slow in debug builds
//! (RSA-4096 can take tens of seconds). Every key is derived from a seeded
//! RNG (kind + label), cached once per process, and also cached on disk
//! under the target directory, so repeated test runs reuse the same keys
//! and produce byte-identical certificates. Certificate signatures are
//! deterministic too (RSA PKCS#1 v1.5, RFC 6979 ECDSA).
//!
//! In the order a PKI is made: `keys` (key kinds, hashes, cached private
//! keys), `certs` (validity, names, profiles, issuing one certificate),
//! `builders` (the code-signing and timestamping chains).

mod builders;
mod certs;
mod keys;
mod tls;

pub use builders::{unowned_rsa_spki, TestPki, TestPkiBuilder, TsaPki, TsaPkiBuilder};
pub use certs::{default_leaf_subject, parse_dn, Cert, CertifiedKey, RevocationSources, Validity};
use certs::{extension, issue, serial_from, Issue, Profile};
pub(crate) use certs::{key_identifier, x509_time};
use keys::cached_keys;
pub(crate) use keys::oid;
pub use keys::{HashKind, KeyKind, PrivateKey, X509Signature};
pub use tls::TlsCa;

/// Why something in the PKI could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("generating a {kind:?} key failed: {message}")]
    KeyGeneration { kind: KeyKind, message: String },
    #[error("encoding failed: {0}")]
    Encoding(String),
    #[error("signing failed: {0}")]
    Signing(String),
    #[error("invalid distinguished name {dn:?}: {message}")]
    Name { dn: String, message: String },
    #[error("invalid validity period: {0}")]
    Validity(String),
    #[error("the PKCS#8 key is not one of the supported key kinds: {0}")]
    UnsupportedKey(String),
}

impl From<der::Error> for PkiError {
    fn from(e: der::Error) -> Self {
        PkiError::Encoding(e.to_string())
    }
}
