//! Public keys and the signature primitives that Notation allows.
//!
//! - envelope signatures: RSASSA-PSS 2048/3072/4096 with SHA-256/384/512 and
//!   ECDSA P-256/P-384/P-521 with raw `R || S` signatures;
//! - certificate / CMS / CRL / OCSP signatures: RSA PKCS#1 v1.5 and PSS with
//!   SHA-2, ECDSA with SHA-2; SHA-1 and MD5 are rejected.

mod ecdsa_verify;
mod rsa_padding;
mod rsa_public;

use rsa_padding::{verify_pkcs1v15, verify_pss};

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Tagged};
use sha2::Digest;
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
    /// A salt length fixed by the signed structure (X.509 RSASSA-PSS params).
    Exact(usize),
}

/// An RSA public key, checked and precomputed for verification when parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaKey(rsa_public::RsaPublic);

/// A verification key of a kind Notation can meet anywhere in a chain.
#[derive(Clone)]
pub enum PublicKey {
    Rsa(RsaKey),
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

/// The largest RSA modulus parsed at all: bigger keys are refused before
/// any arithmetic, so a hostile 16k-bit key cannot cost time.
pub const MAX_RSA_BITS: usize = 8192;

impl SignatureAlgorithm {
    pub fn from_jws(alg: &str) -> Option<Self> {
        Some(match alg {
            "PS256" => Self::Ps256,
            "PS384" => Self::Ps384,
            "PS512" => Self::Ps512,
            "ES256" => Self::Es256,
            "ES384" => Self::Es384,
            "ES512" => Self::Es512,
            _ => return None,
        })
    }
    pub fn from_cose(alg: i64) -> Option<Self> {
        Some(match alg {
            -37 => Self::Ps256,
            -38 => Self::Ps384,
            -39 => Self::Ps512,
            -7 => Self::Es256,
            -35 => Self::Es384,
            -36 => Self::Es512,
            _ => return None,
        })
    }
    pub fn jws_name(self) -> &'static str {
        match self {
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::Es512 => "ES512",
        }
    }
    pub fn cose_id(self) -> i64 {
        match self {
            Self::Ps256 => -37,
            Self::Ps384 => -38,
            Self::Ps512 => -39,
            Self::Es256 => -7,
            Self::Es384 => -35,
            Self::Es512 => -36,
        }
    }
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::Ps256 | Self::Es256 => HashAlgorithm::Sha256,
            Self::Ps384 | Self::Es384 => HashAlgorithm::Sha384,
            Self::Ps512 | Self::Es512 => HashAlgorithm::Sha512,
        }
    }
}

impl HashAlgorithm {
    /// Maps a digest algorithm OID (SHA-256/384/512 only) to the hash.
    pub fn from_oid(o: &ObjectIdentifier) -> Option<Self> {
        match *o {
            oid::SHA256 => Some(Self::Sha256),
            oid::SHA384 => Some(Self::Sha384),
            oid::SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Self::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Self::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Self::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }
    pub fn output_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Sha384 => "SHA-384",
            Self::Sha512 => "SHA-512",
        }
    }
}

fn curve_bits(curve: &ObjectIdentifier) -> Option<usize> {
    match *curve {
        oid::SECP192R1 => Some(192),
        oid::SECP224R1 => Some(224),
        oid::SECP256R1 => Some(256),
        oid::SECP384R1 => Some(384),
        oid::SECP521R1 => Some(521),
        _ => None,
    }
}

impl PublicKey {
    /// Parses a SubjectPublicKeyInfo. RSA moduli above 8192 bits are refused
    /// here (before any arithmetic) so that giant keys cannot cost time.
    pub fn from_spki(spki: SubjectPublicKeyInfoRef<'_>) -> Result<Self, CryptoError> {
        let key_bytes = spki.subject_public_key.as_bytes().ok_or_else(|| {
            CryptoError::MalformedKey("public key bit string is not octet aligned".into())
        })?;
        match spki.algorithm.oid {
            oid::RSA_ENCRYPTION => {
                let parsed = rsa::pkcs1::RsaPublicKey::from_der(key_bytes)
                    .map_err(|e| CryptoError::MalformedKey(format!("rsa public key: {e}")))?;
                let modulus = parsed.modulus.as_bytes();
                let bits = modulus.len() * 8;
                if bits > MAX_RSA_BITS {
                    return Err(CryptoError::UnsupportedRsaKeySize(bits));
                }
                let key = rsa_public::RsaPublic::new(modulus, parsed.public_exponent.as_bytes())?;
                Ok(PublicKey::Rsa(RsaKey(key)))
            }
            oid::EC_PUBLIC_KEY => {
                let curve: ObjectIdentifier = spki
                    .algorithm
                    .parameters
                    .as_ref()
                    .ok_or_else(|| {
                        CryptoError::MalformedKey("ec public key without curve parameters".into())
                    })?
                    .decode_as()
                    .map_err(|_| {
                        CryptoError::UnsupportedKeyType(
                            "ec key with explicit (non-named) curve parameters".into(),
                        )
                    })?;
                let malformed =
                    |e: ecdsa::Error| CryptoError::MalformedKey(format!("ec point: {e}"));
                match curve {
                    oid::SECP256R1 => Ok(PublicKey::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(malformed)?,
                    )),
                    oid::SECP384R1 => Ok(PublicKey::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(malformed)?,
                    )),
                    oid::SECP521R1 => Ok(PublicKey::P521(
                        p521::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes).map_err(malformed)?,
                    )),
                    other => match curve_bits(&other) {
                        Some(bits) => Err(CryptoError::UnsupportedEcdsaKeySize(bits)),
                        None => Err(CryptoError::UnsupportedKeyType(format!("ec curve {other}"))),
                    },
                }
            }
            other => Err(CryptoError::UnsupportedKeyType(other.to_string())),
        }
    }

    /// Size in bits (RSA: modulus bytes * 8, as Go computes it; EC: curve size).
    pub fn bits(&self) -> usize {
        match self {
            PublicKey::Rsa(k) => k.0.size() * 8,
            PublicKey::P256(_) => 256,
            PublicKey::P384(_) => 384,
            PublicKey::P521(_) => 521,
        }
    }

    /// The Notation algorithm this key must sign with (leaf keys only):
    /// RSA 2048/3072/4096 -> PS256/384/512, P-256/384/521 -> ES256/384/512.
    pub fn notation_algorithm(&self) -> Result<SignatureAlgorithm, CryptoError> {
        match self {
            PublicKey::Rsa(_) => match self.bits() {
                2048 => Ok(SignatureAlgorithm::Ps256),
                3072 => Ok(SignatureAlgorithm::Ps384),
                4096 => Ok(SignatureAlgorithm::Ps512),
                other => Err(CryptoError::UnsupportedRsaKeySize(other)),
            },
            PublicKey::P256(_) => Ok(SignatureAlgorithm::Es256),
            PublicKey::P384(_) => Ok(SignatureAlgorithm::Es384),
            PublicKey::P521(_) => Ok(SignatureAlgorithm::Es512),
        }
    }

    /// Verifies an envelope signature over `message` with `alg`
    /// (which must already be known to match this key).
    pub fn verify_envelope_signature(
        &self,
        alg: SignatureAlgorithm,
        message: &[u8],
        signature: &[u8],
        salt: PssSalt,
    ) -> Result<(), CryptoError> {
        let hash = alg.hash();
        let digest = hash.digest(message);
        match (self, alg) {
            (
                PublicKey::Rsa(key),
                SignatureAlgorithm::Ps256 | SignatureAlgorithm::Ps384 | SignatureAlgorithm::Ps512,
            ) => verify_pss(key, hash, &digest, signature, salt),
            (PublicKey::P256(_), SignatureAlgorithm::Es256)
            | (PublicKey::P384(_), SignatureAlgorithm::Es384)
            | (PublicKey::P521(_), SignatureAlgorithm::Es512) => {
                self.verify_ecdsa_prehash(&digest, signature, false)
            }
            _ => Err(CryptoError::UnsupportedAlgorithm(format!(
                "{} with a {:?} key",
                alg.jws_name(),
                self
            ))),
        }
    }

    /// Verifies an X.509 / CMS / CRL / OCSP signature made with `algorithm`
    /// (the AlgorithmIdentifier of the signed structure) over `signed_data`.
    pub fn verify_x509_signature(
        &self,
        algorithm: &AlgorithmIdentifierOwned,
        signed_data: &[u8],
        signature: &[u8],
    ) -> Result<(), CryptoError> {
        let scheme = X509Scheme::from_algorithm(algorithm)?;
        match (self, scheme) {
            (PublicKey::Rsa(key), X509Scheme::RsaPkcs1(hash)) => {
                let digest = hash.digest(signed_data);
                verify_pkcs1v15(key, hash, &digest, signature)
            }
            (PublicKey::Rsa(key), X509Scheme::RsaPss { hash, salt_len }) => {
                let digest = hash.digest(signed_data);
                verify_pss(key, hash, &digest, signature, PssSalt::Exact(salt_len))
            }
            (PublicKey::Rsa(_), X509Scheme::Ecdsa(_)) => Err(CryptoError::UnsupportedAlgorithm(
                "ecdsa signature algorithm with an RSA key".into(),
            )),
            (_, X509Scheme::Ecdsa(hash)) => {
                self.verify_ecdsa_prehash(&hash.digest(signed_data), signature, true)
            }
            (_, _) => Err(CryptoError::UnsupportedAlgorithm(
                "rsa signature algorithm with an EC key".into(),
            )),
        }
    }

    /// ECDSA over a prehashed message: raw `R || S` for envelopes, DER
    /// `ECDSA-Sig-Value` for X.509 structures.
    fn verify_ecdsa_prehash(
        &self,
        digest: &[u8],
        signature: &[u8],
        der: bool,
    ) -> Result<(), CryptoError> {
        let bad = |e: ecdsa::Error| CryptoError::BadSignature(e.to_string());
        macro_rules! check {
            ($curve:ident, $key:expr) => {{
                let sig = if der {
                    $curve::ecdsa::Signature::from_der(signature).map_err(bad)?
                } else {
                    $curve::ecdsa::Signature::from_slice(signature).map_err(bad)?
                };
                ecdsa_verify::verify_prehash($key.as_affine(), digest, &sig).map_err(bad)
            }};
        }
        match self {
            PublicKey::P256(k) => check!(p256, k),
            PublicKey::P384(k) => check!(p384, k),
            PublicKey::P521(k) => check!(p521, k),
            PublicKey::Rsa(_) => Err(CryptoError::UnsupportedAlgorithm(
                "ecdsa with an RSA key".into(),
            )),
        }
    }
}

/// The signature schemes allowed on certificates and CMS structures.
#[derive(Debug, Clone, Copy)]
enum X509Scheme {
    RsaPkcs1(HashAlgorithm),
    RsaPss {
        hash: HashAlgorithm,
        salt_len: usize,
    },
    Ecdsa(HashAlgorithm),
}

impl X509Scheme {
    fn from_algorithm(algorithm: &AlgorithmIdentifierOwned) -> Result<Self, CryptoError> {
        // PKCS#1 v1.5 takes NULL (or, leniently, absent) parameters and
        // ECDSA none at all; anything else is an unknown algorithm, as in Go.
        let params_null_or_absent = algorithm
            .parameters
            .as_ref()
            .is_none_or(|p| p.tag() == der::Tag::Null);
        let is_ecdsa = matches!(
            algorithm.oid,
            oid::ECDSA_SHA256 | oid::ECDSA_SHA384 | oid::ECDSA_SHA512
        );
        let is_pkcs1 = matches!(
            algorithm.oid,
            oid::SHA256_WITH_RSA | oid::SHA384_WITH_RSA | oid::SHA512_WITH_RSA
        );
        if (is_ecdsa && algorithm.parameters.is_some()) || (is_pkcs1 && !params_null_or_absent) {
            return Err(CryptoError::UnsupportedAlgorithm(format!(
                "{} with unexpected parameters",
                algorithm.oid
            )));
        }
        Ok(match algorithm.oid {
            oid::SHA256_WITH_RSA => Self::RsaPkcs1(HashAlgorithm::Sha256),
            oid::SHA384_WITH_RSA => Self::RsaPkcs1(HashAlgorithm::Sha384),
            oid::SHA512_WITH_RSA => Self::RsaPkcs1(HashAlgorithm::Sha512),
            oid::ECDSA_SHA256 => Self::Ecdsa(HashAlgorithm::Sha256),
            oid::ECDSA_SHA384 => Self::Ecdsa(HashAlgorithm::Sha384),
            oid::ECDSA_SHA512 => Self::Ecdsa(HashAlgorithm::Sha512),
            oid::RSASSA_PSS => Self::pss_params(algorithm)?,
            other => {
                return Err(CryptoError::UnsupportedAlgorithm(format!(
                    "{other} (only SHA-256/384/512 with RSA PKCS#1 v1.5, RSASSA-PSS or ECDSA are accepted)"
                )))
            }
        })
    }

    /// RSASSA-PSS parameters: the hash and MGF1 hash must be the same SHA-2,
    /// as Go requires; SHA-1 defaults are refused.
    fn pss_params(algorithm: &AlgorithmIdentifierOwned) -> Result<Self, CryptoError> {
        let params = algorithm.parameters.as_ref().ok_or_else(|| {
            CryptoError::UnsupportedAlgorithm("RSASSA-PSS without parameters".into())
        })?;
        let der = params.to_der().map_err(|e| {
            CryptoError::UnsupportedAlgorithm(format!("RSASSA-PSS parameters: {e}"))
        })?;
        let pss = rsa::pkcs1::RsaPssParams::from_der(&der).map_err(|e| {
            CryptoError::UnsupportedAlgorithm(format!("RSASSA-PSS parameters: {e}"))
        })?;
        let hash = HashAlgorithm::from_oid(&pss.hash.oid).ok_or_else(|| {
            CryptoError::UnsupportedAlgorithm(format!("RSASSA-PSS with hash {}", pss.hash.oid))
        })?;
        let mgf_hash = pss
            .mask_gen
            .parameters
            .as_ref()
            .and_then(|p| HashAlgorithm::from_oid(&p.oid));
        if pss.mask_gen.oid != oid::MGF1 || mgf_hash != Some(hash) {
            return Err(CryptoError::UnsupportedAlgorithm(
                "RSASSA-PSS whose MGF1 hash differs from the message hash".into(),
            ));
        }
        Ok(Self::RsaPss {
            hash,
            salt_len: usize::from(pss.salt_len),
        })
    }
}

impl RsaKey {
    /// Modulus length in bytes.
    pub fn size(&self) -> usize {
        self.0.size()
    }

    /// RSAVP1 (RFC 8017 §5.2.2): `signature^e mod n` as k big-endian bytes;
    /// the signature must be k bytes and below n. Public for benchmarks and
    /// differential tests; verification goes through the schemes.
    pub fn public_operation(&self, signature: &[u8]) -> Result<Vec<u8>, CryptoError> {
        self.0
            .public_op(signature, |why| CryptoError::BadSignature(why.to_string()))
    }
}

#[cfg(test)]
mod tests;
