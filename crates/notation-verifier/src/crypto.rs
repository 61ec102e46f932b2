//! Public keys and the signature primitives that Notation allows.
//!
//! CONTRACT (other modules code against these signatures; keep them stable):
//! - envelope signatures: RSASSA-PSS 2048/3072/4096 with SHA-256/384/512 and
//!   ECDSA P-256/P-384/P-521 with raw `R || S` signatures;
//! - certificate / CMS signatures: RSA PKCS#1 v1.5 and PSS with SHA-2, ECDSA
//!   with SHA-2; SHA-1 and MD5 are rejected.

use spki::SubjectPublicKeyInfoRef;
use x509_cert::spki::AlgorithmIdentifierOwned;

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

/// The six envelope signature algorithms of the Notary Project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    Es512,
}

/// The SHA-2 hashes used by Notation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgorithm {
    Sha256,
    Sha384,
    Sha512,
}

/// How the RSASSA-PSS salt length is checked: JWS verifiers auto-detect it,
/// COSE verifiers require salt length == hash length (see the spec digest §e).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PssSalt {
    AutoDetect,
    HashLength,
}

/// A verification key of a kind Notation can meet anywhere in a chain.
#[derive(Clone)]
pub enum PublicKey {
    Rsa(rsa::RsaPublicKey),
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(p521::ecdsa::VerifyingKey),
}

impl std::fmt::Debug for PublicKey {
    // p521's key type has no Debug; the kind and size are what a reader needs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            PublicKey::Rsa(_) => "RSA",
            PublicKey::P256(_) => "P-256",
            PublicKey::P384(_) => "P-384",
            PublicKey::P521(_) => "P-521",
        };
        write!(f, "PublicKey({kind}, {} bits)", self.bits())
    }
}

impl SignatureAlgorithm {
    pub fn from_jws(_alg: &str) -> Option<Self> {
        None
    }
    pub fn from_cose(_alg: i64) -> Option<Self> {
        None
    }
    pub fn jws_name(self) -> &'static str {
        ""
    }
    pub fn cose_id(self) -> i64 {
        0
    }
    pub fn hash(self) -> HashAlgorithm {
        HashAlgorithm::Sha256
    }
}

impl HashAlgorithm {
    /// Maps a digest algorithm OID (SHA-256/384/512 only) to the hash.
    pub fn from_oid(_oid: &der::asn1::ObjectIdentifier) -> Option<Self> {
        None
    }
    pub fn digest(self, _data: &[u8]) -> Vec<u8> {
        Vec::new()
    }
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo. RSA moduli above 8192 bits are refused
    /// here (before any arithmetic) so that giant keys cannot cost time.
    pub fn from_spki(_spki: SubjectPublicKeyInfoRef<'_>) -> Result<Self, CryptoError> {
        Err(CryptoError::UnsupportedKeyType("unimplemented".into()))
    }

    /// Size in bits (RSA: modulus bytes * 8, as Go computes it; EC: curve size).
    pub fn bits(&self) -> usize {
        0
    }

    /// The Notation algorithm this key must sign with (leaf keys only):
    /// RSA 2048/3072/4096 -> PS256/384/512, P-256/384/521 -> ES256/384/512.
    pub fn notation_algorithm(&self) -> Result<SignatureAlgorithm, CryptoError> {
        Err(CryptoError::UnsupportedKeyType("unimplemented".into()))
    }

    /// Verifies an envelope signature over `message` with `alg`
    /// (which must already be known to match this key).
    pub fn verify_envelope_signature(
        &self,
        _alg: SignatureAlgorithm,
        _message: &[u8],
        _signature: &[u8],
        _salt: PssSalt,
    ) -> Result<(), CryptoError> {
        Err(CryptoError::BadSignature("unimplemented".into()))
    }

    /// Verifies an X.509 / CMS / CRL / OCSP signature made with `algorithm`
    /// (the AlgorithmIdentifier of the signed structure) over `signed_data`.
    pub fn verify_x509_signature(
        &self,
        _algorithm: &AlgorithmIdentifierOwned,
        _signed_data: &[u8],
        _signature: &[u8],
    ) -> Result<(), CryptoError> {
        Err(CryptoError::BadSignature("unimplemented".into()))
    }
}
