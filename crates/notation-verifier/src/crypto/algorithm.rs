//! The signature algorithms: the six envelope algorithms (JWS and COSE
//! names), the SHA-2 hashes, and the schemes allowed on certificates and
//! CMS structures (read from an X.509 `AlgorithmIdentifier`).

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Tagged};
use sha2::Digest;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::{oid, CryptoError};

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

/// The signature schemes allowed on certificates and CMS structures.
#[derive(Debug, Clone, Copy)]
pub(super) enum X509Scheme {
    RsaPkcs1(HashAlgorithm),
    RsaPss {
        hash: HashAlgorithm,
        salt_len: usize,
    },
    Ecdsa(HashAlgorithm),
}

impl X509Scheme {
    pub(super) fn from_algorithm(
        algorithm: &AlgorithmIdentifierOwned,
    ) -> Result<Self, CryptoError> {
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
