//! Public keys and the signature primitives that Notation allows.
//!
//! - envelope signatures: RSASSA-PSS 2048/3072/4096 with SHA-256/384/512 and
//!   ECDSA P-256/P-384/P-521 with raw `R || S` signatures;
//! - certificate / CMS / CRL / OCSP signatures: RSA PKCS#1 v1.5 and PSS with
//!   SHA-2, ECDSA with SHA-2; SHA-1 and MD5 are rejected.
//!
//! In the order a verification uses them: `algorithm` (which algorithm and
//! hash), `key` (the public key and its verify calls), then the primitives:
//! `rsa_public` (the RSA public operation), `rsa_padding` (PKCS#1 v1.5 and
//! PSS encodings), `ec` (ECDSA P-256 and P-384 on our own field and point
//! arithmetic), `ecdsa_verify` (ECDSA P-521 over the curve crate's
//! arithmetic, and the wNAF recoding both use).

mod algorithm;
mod ec;
mod ecdsa_verify;
mod key;
mod rsa_padding;
mod rsa_public;

pub use algorithm::{HashAlgorithm, PssSalt, SignatureAlgorithm};
pub use key::{PublicKey, RsaKey, MAX_RSA_BITS};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CryptoError {
    #[error("unsupported public key type {0}")]
    UnsupportedKeyType(String),
    #[error("rsa key size {0} bits is not supported")]
    UnsupportedRsaKeySize(usize),
    #[error("ecdsa key size {0} bits is not supported")]
    UnsupportedEcdsaKeySize(usize),
    #[error("malformed public key: {0}")]
    MalformedKey(String),
    #[error("unsupported signature algorithm {0}")]
    UnsupportedAlgorithm(String),
    #[error("signature is invalid: {0}")]
    BadSignature(String),
}

/// Object identifiers used here (RFC 3279, 4055, 5480, 5758).
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const RSA_ENCRYPTION: Oid = Oid::new_unwrap("1.2.840.113549.1.1.1");
    pub const RSASSA_PSS: Oid = Oid::new_unwrap("1.2.840.113549.1.1.10");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const SHA384_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.12");
    pub const SHA512_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.13");
    pub const EC_PUBLIC_KEY: Oid = Oid::new_unwrap("1.2.840.10045.2.1");
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const SECP256R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.7");
    pub const SECP384R1: Oid = Oid::new_unwrap("1.3.132.0.34");
    pub const SECP521R1: Oid = Oid::new_unwrap("1.3.132.0.35");
    pub const SECP224R1: Oid = Oid::new_unwrap("1.3.132.0.33");
    pub const SECP192R1: Oid = Oid::new_unwrap("1.2.840.10045.3.1.1");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const MGF1: Oid = Oid::new_unwrap("1.2.840.113549.1.1.8");
}

#[cfg(test)]
mod tests;
