//! Public keys: parsed from a SubjectPublicKeyInfo with Notation's size
//! rules, and the verification entry points for envelopes and for X.509
//! structures.

use der::asn1::ObjectIdentifier;
use der::Decode;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::algorithm::X509Scheme;
use super::rsa_padding::{verify_pkcs1v15, verify_pss};
use super::rsa_public::{self, RsaPublic};
use super::{ec, ecdsa_verify};
use super::{oid, CryptoError, PssSalt, SignatureAlgorithm};

/// An RSA public key, checked and precomputed for verification when parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RsaKey(pub(super) RsaPublic);

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

/// The largest RSA modulus parsed at all: bigger keys are refused before
/// any arithmetic, so a hostile 16k-bit key cannot cost time.
pub const MAX_RSA_BITS: usize = 8192;

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
    pub(super) fn verify_ecdsa_prehash(
        &self,
        digest: &[u8],
        signature: &[u8],
        der: bool,
    ) -> Result<(), CryptoError> {
        let bad = |e: ecdsa::Error| CryptoError::BadSignature(e.to_string());
        macro_rules! check {
            ($curve:ident, $verify:expr) => {{
                let sig = if der {
                    $curve::ecdsa::Signature::from_der(signature).map_err(bad)?
                } else {
                    $curve::ecdsa::Signature::from_slice(signature).map_err(bad)?
                };
                $verify(digest, &sig).map_err(bad)
            }};
        }
        match self {
            PublicKey::P256(k) => check!(p256, |d, s| ec::verify_p256(k, d, s)),
            PublicKey::P384(k) => check!(p384, |d, s| ec::verify_p384(k, d, s)),
            PublicKey::P521(k) => check!(p521, |d, s| ecdsa_verify::verify_prehash(
                k.as_affine(),
                d,
                s
            )),
            PublicKey::Rsa(_) => Err(CryptoError::UnsupportedAlgorithm(
                "ecdsa with an RSA key".into(),
            )),
        }
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
