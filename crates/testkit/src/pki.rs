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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use der::asn1::{
    BitString, GeneralizedTime, Ia5StringRef, ObjectIdentifier, OctetString, PrintableStringRef,
    SetOfVec, UtcTime, Utf8StringRef,
};
use der::{Any, Decode, Encode, EncodePem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashSigner;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate as X509Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

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

/// The leaf key types Notation accepts (spec digest §e), each bound to one
/// envelope algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    Rsa2048,
    Rsa3072,
    Rsa4096,
    P256,
    P384,
    P521,
}

impl KeyKind {
    /// Every kind, in table order (RSA by size, then the NIST curves).
    pub const ALL: [KeyKind; 6] = [
        KeyKind::Rsa2048,
        KeyKind::Rsa3072,
        KeyKind::Rsa4096,
        KeyKind::P256,
        KeyKind::P384,
        KeyKind::P521,
    ];

    /// A short stable name, used in key labels, cache files and default CNs.
    pub fn name(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "rsa-2048",
            KeyKind::Rsa3072 => "rsa-3072",
            KeyKind::Rsa4096 => "rsa-4096",
            KeyKind::P256 => "ec-p256",
            KeyKind::P384 => "ec-p384",
            KeyKind::P521 => "ec-p521",
        }
    }

    /// The JWS `alg` Notation derives from a leaf key of this kind.
    pub fn jws_alg(self) -> &'static str {
        match self {
            KeyKind::Rsa2048 => "PS256",
            KeyKind::Rsa3072 => "PS384",
            KeyKind::Rsa4096 => "PS512",
            KeyKind::P256 => "ES256",
            KeyKind::P384 => "ES384",
            KeyKind::P521 => "ES512",
        }
    }

    /// The COSE `alg` (label 1) Notation derives from a leaf key of this kind.
    pub fn cose_alg(self) -> i64 {
        match self {
            KeyKind::Rsa2048 => -37,
            KeyKind::Rsa3072 => -38,
            KeyKind::Rsa4096 => -39,
            KeyKind::P256 => -7,
            KeyKind::P384 => -35,
            KeyKind::P521 => -36,
        }
    }

    pub fn is_rsa(self) -> bool {
        matches!(self, KeyKind::Rsa2048 | KeyKind::Rsa3072 | KeyKind::Rsa4096)
    }

    /// The hash of this kind's Notation signature algorithm.
    pub fn hash(self) -> HashKind {
        match self {
            KeyKind::Rsa2048 | KeyKind::P256 => HashKind::Sha256,
            KeyKind::Rsa3072 | KeyKind::P384 => HashKind::Sha384,
            KeyKind::Rsa4096 | KeyKind::P521 => HashKind::Sha512,
        }
    }

    fn rsa_bits(self) -> Option<usize> {
        match self {
            KeyKind::Rsa2048 => Some(2048),
            KeyKind::Rsa3072 => Some(3072),
            KeyKind::Rsa4096 => Some(4096),
            _ => None,
        }
    }
}

impl std::fmt::Display for KeyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The SHA-2 hashes Notation uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashKind {
    Sha256,
    Sha384,
    Sha512,
}

impl HashKind {
    pub fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            HashKind::Sha256 => Sha256::digest(data).to_vec(),
            HashKind::Sha384 => Sha384::digest(data).to_vec(),
            HashKind::Sha512 => Sha512::digest(data).to_vec(),
        }
    }

    pub fn output_len(self) -> usize {
        match self {
            HashKind::Sha256 => 32,
            HashKind::Sha384 => 48,
            HashKind::Sha512 => 64,
        }
    }

    /// The NIST hash algorithm OID (as used in AlgorithmIdentifiers).
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            HashKind::Sha256 => oid::SHA256,
            HashKind::Sha384 => oid::SHA384,
            HashKind::Sha512 => oid::SHA512,
        }
    }

    /// `AlgorithmIdentifier` for this hash, parameters absent (RFC 5754).
    pub fn algorithm_identifier(self) -> AlgorithmIdentifierOwned {
        AlgorithmIdentifierOwned {
            oid: self.oid(),
            parameters: None,
        }
    }
}

pub(crate) mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const SHA256_WITH_RSA: Oid = Oid::new_unwrap("1.2.840.113549.1.1.11");
    pub const ECDSA_SHA256: Oid = Oid::new_unwrap("1.2.840.10045.4.3.2");
    pub const ECDSA_SHA384: Oid = Oid::new_unwrap("1.2.840.10045.4.3.3");
    pub const ECDSA_SHA512: Oid = Oid::new_unwrap("1.2.840.10045.4.3.4");
    pub const KP_CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
    pub const KP_TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const AT_COUNTRY: Oid = Oid::new_unwrap("2.5.4.6");
    pub const AT_STATE: Oid = Oid::new_unwrap("2.5.4.8");
    pub const AT_LOCALITY: Oid = Oid::new_unwrap("2.5.4.7");
    pub const AT_ORGANIZATION: Oid = Oid::new_unwrap("2.5.4.10");
    pub const AT_ORG_UNIT: Oid = Oid::new_unwrap("2.5.4.11");
    pub const AT_COMMON_NAME: Oid = Oid::new_unwrap("2.5.4.3");
    pub const AT_STREET: Oid = Oid::new_unwrap("2.5.4.9");
    pub const AT_POSTAL_CODE: Oid = Oid::new_unwrap("2.5.4.17");
    pub const AT_SERIAL_NUMBER: Oid = Oid::new_unwrap("2.5.4.5");
    pub const AT_EMAIL: Oid = Oid::new_unwrap("1.2.840.113549.1.9.1");
    /// id-ad-ocsp (RFC 5280 §4.2.2.1).
    pub const AD_OCSP: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1");
}

/// A private key of one of the six kinds.
#[derive(Clone)]
pub struct PrivateKey {
    kind: KeyKind,
    inner: KeyInner,
}

#[derive(Clone)]
enum KeyInner {
    Rsa(Box<rsa::RsaPrivateKey>),
    P256(p256::SecretKey),
    P384(p384::SecretKey),
    P521(p521::SecretKey),
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material, even in tests: logs get shared.
        f.debug_struct("PrivateKey")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A certificate signature made by [`PrivateKey::sign_x509`]: the algorithm
/// it names, the hash it used (CMS `digestAlgorithm`) and the signature
/// bytes (DER `ECDSA-Sig-Value` for EC keys).
#[derive(Debug, Clone)]
pub struct X509Signature {
    pub algorithm: AlgorithmIdentifierOwned,
    pub hash: HashKind,
    pub signature: Vec<u8>,
}

impl PrivateKey {
    /// Generates a key from a seeded RNG: the same `(kind, seed)` always
    /// gives the same key (with the locked `rand`/`rsa` versions).
    pub fn generate(kind: KeyKind, seed: u64) -> Result<Self, PkiError> {
        let mut rng = StdRng::seed_from_u64(seed);
        let inner = match kind.rsa_bits() {
            Some(bits) => KeyInner::Rsa(Box::new(
                rsa::RsaPrivateKey::new(&mut rng, bits).map_err(|e| PkiError::KeyGeneration {
                    kind,
                    message: e.to_string(),
                })?,
            )),
            None => match kind {
                KeyKind::P256 => KeyInner::P256(p256::SecretKey::random(&mut rng)),
                KeyKind::P384 => KeyInner::P384(p384::SecretKey::random(&mut rng)),
                _ => KeyInner::P521(p521::SecretKey::random(&mut rng)),
            },
        };
        Ok(Self { kind, inner })
    }

    /// The key of `kind` named `label`, generated at most once per process
    /// (and read back from the on-disk cache on later runs). Different
    /// labels give independent keys; the same label always the same key.
    pub fn cached(kind: KeyKind, label: &str) -> Result<Self, PkiError> {
        type Slot = Arc<Mutex<Option<PrivateKey>>>;
        static CACHE: OnceLock<Mutex<HashMap<(KeyKind, String), Slot>>> = OnceLock::new();
        let slot: Slot = {
            let mut map = CACHE
                .get_or_init(Default::default)
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.entry((kind, label.to_string())).or_default().clone()
        };
        // One lock per key: the same key is generated once, different keys
        // are generated in parallel by parallel tests.
        let mut entry = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(key) = entry.as_ref() {
            return Ok(key.clone());
        }
        let seed = seed_for(kind, label);
        let key = match disk_cache_path(kind, seed).and_then(|p| read_cached_key(&p, kind)) {
            Some(key) => key,
            None => {
                let key = Self::generate(kind, seed)?;
                if let Some(path) = disk_cache_path(kind, seed) {
                    write_cached_key(&path, &key);
                }
                key
            }
        };
        *entry = Some(key.clone());
        Ok(key)
    }

    /// Reads a PKCS#8 DER private key (RSA of a supported size, or P-256/384/521).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, PkiError> {
        if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_der(der) {
            let kind = match rsa::traits::PublicKeyParts::size(&k) * 8 {
                2048 => KeyKind::Rsa2048,
                3072 => KeyKind::Rsa3072,
                4096 => KeyKind::Rsa4096,
                other => return Err(PkiError::UnsupportedKey(format!("RSA {other} bits"))),
            };
            return Ok(Self {
                kind,
                inner: KeyInner::Rsa(Box::new(k)),
            });
        }
        if let Ok(k) = p256::SecretKey::from_pkcs8_der(der) {
            return Ok(Self {
                kind: KeyKind::P256,
                inner: KeyInner::P256(k),
            });
        }
        if let Ok(k) = p384::SecretKey::from_pkcs8_der(der) {
            return Ok(Self {
                kind: KeyKind::P384,
                inner: KeyInner::P384(k),
            });
        }
        match p521::SecretKey::from_pkcs8_der(der) {
            Ok(k) => Ok(Self {
                kind: KeyKind::P521,
                inner: KeyInner::P521(k),
            }),
            Err(e) => Err(PkiError::UnsupportedKey(e.to_string())),
        }
    }

    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// PKCS#8 DER of the private key.
    pub fn pkcs8_der(&self) -> Result<Vec<u8>, PkiError> {
        let doc = match &self.inner {
            KeyInner::Rsa(k) => k.to_pkcs8_der(),
            KeyInner::P256(k) => k.to_pkcs8_der(),
            KeyInner::P384(k) => k.to_pkcs8_der(),
            KeyInner::P521(k) => k.to_pkcs8_der(),
        }
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        Ok(doc.as_bytes().to_vec())
    }

    /// PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) of the private key.
    pub fn pkcs8_pem(&self) -> Result<String, PkiError> {
        let pem = match &self.inner {
            KeyInner::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF),
            KeyInner::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
            KeyInner::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
            KeyInner::P521(k) => k.to_pkcs8_pem(LineEnding::LF),
        }
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        Ok(pem.to_string())
    }

    /// DER SubjectPublicKeyInfo of the public key.
    pub fn public_key_der(&self) -> Result<Vec<u8>, PkiError> {
        let doc = match &self.inner {
            KeyInner::Rsa(k) => k.to_public_key().to_public_key_der(),
            KeyInner::P256(k) => k.public_key().to_public_key_der(),
            KeyInner::P384(k) => k.public_key().to_public_key_der(),
            KeyInner::P521(k) => k.public_key().to_public_key_der(),
        }
        .map_err(|e| PkiError::Encoding(e.to_string()))?;
        Ok(doc.as_bytes().to_vec())
    }

    fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
        Ok(SubjectPublicKeyInfoOwned::from_der(
            &self.public_key_der()?,
        )?)
    }

    /// A Notation envelope signature over `message` (spec digest §e):
    /// RSASSA-PSS with MGF1 and salt length = hash length for RSA, raw
    /// fixed-width `R || S` ECDSA for EC keys, with the kind's hash.
    pub fn sign_notation(&self, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        let hash = self.kind.hash();
        let digest = hash.digest(message);
        let signing = |e: &dyn std::fmt::Display| PkiError::Signing(e.to_string());
        match &self.inner {
            KeyInner::Rsa(k) => {
                let padding = match hash {
                    HashKind::Sha256 => rsa::Pss::new_with_salt::<Sha256>(hash.output_len()),
                    HashKind::Sha384 => rsa::Pss::new_with_salt::<Sha384>(hash.output_len()),
                    HashKind::Sha512 => rsa::Pss::new_with_salt::<Sha512>(hash.output_len()),
                };
                k.sign_with_rng(&mut rand::thread_rng(), padding, &digest)
                    .map_err(|e| signing(&e))
            }
            KeyInner::P256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                Ok(sig.to_bytes().to_vec())
            }
            KeyInner::P384(k) => {
                let sig: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                Ok(sig.to_bytes().to_vec())
            }
            KeyInner::P521(k) => {
                let sig: p521::ecdsa::Signature = p521_signing_key(k)?
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }

    /// The signature algorithm this key uses for X.509 and CMS structures:
    /// sha256WithRSAEncryption for RSA (universally accepted), ECDSA with
    /// the curve's own hash for EC (SHA-256 is too short for P-521).
    pub fn x509_algorithm(&self) -> Result<(AlgorithmIdentifierOwned, HashKind), PkiError> {
        Ok(match self.kind {
            KeyKind::Rsa2048 | KeyKind::Rsa3072 | KeyKind::Rsa4096 => (
                AlgorithmIdentifierOwned {
                    oid: oid::SHA256_WITH_RSA,
                    // PKCS#1 v1.5 algorithm identifiers carry an explicit NULL.
                    parameters: Some(Any::from(der::asn1::Null)),
                },
                HashKind::Sha256,
            ),
            KeyKind::P256 => (ecdsa_alg(oid::ECDSA_SHA256), HashKind::Sha256),
            KeyKind::P384 => (ecdsa_alg(oid::ECDSA_SHA384), HashKind::Sha384),
            KeyKind::P521 => (ecdsa_alg(oid::ECDSA_SHA512), HashKind::Sha512),
        })
    }

    /// Signs DER for an X.509 or CMS structure with [`Self::x509_algorithm`].
    pub fn sign_x509(&self, message: &[u8]) -> Result<X509Signature, PkiError> {
        let (algorithm, hash) = self.x509_algorithm()?;
        let digest = hash.digest(message);
        let signing = |e: &dyn std::fmt::Display| PkiError::Signing(e.to_string());
        let signature = match &self.inner {
            KeyInner::Rsa(k) => k
                .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
                .map_err(|e| signing(&e))?,
            KeyInner::P256(k) => {
                let sig: p256::ecdsa::Signature = p256::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                sig.to_der().as_bytes().to_vec()
            }
            KeyInner::P384(k) => {
                let sig: p384::ecdsa::Signature = p384::ecdsa::SigningKey::from(k)
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                sig.to_der().as_bytes().to_vec()
            }
            KeyInner::P521(k) => {
                let sig: p521::ecdsa::Signature = p521_signing_key(k)?
                    .sign_prehash(&digest)
                    .map_err(|e| signing(&e))?;
                sig.to_der().as_bytes().to_vec()
            }
        };
        Ok(X509Signature {
            algorithm,
            hash,
            signature,
        })
    }
}

fn ecdsa_alg(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    // RFC 5758: ECDSA signature algorithm identifiers have no parameters.
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn p521_signing_key(k: &p521::SecretKey) -> Result<p521::ecdsa::SigningKey, PkiError> {
    p521::ecdsa::SigningKey::from_bytes(&k.to_bytes()).map_err(|e| PkiError::Signing(e.to_string()))
}

/// [`PrivateKey::cached`] for several keys at once, generated on parallel
/// threads: a fresh RSA-4096 chain takes minutes in a debug build, and
/// the keys of one chain are independent.
fn cached_keys<const N: usize>(
    wanted: [(KeyKind, String); N],
) -> Result<[PrivateKey; N], PkiError> {
    let results: Vec<Result<PrivateKey, PkiError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|(kind, label)| (*kind, scope.spawn(move || PrivateKey::cached(*kind, label))))
            .collect();
        handles
            .into_iter()
            .map(|(kind, handle)| {
                handle.join().unwrap_or_else(|_| {
                    Err(PkiError::KeyGeneration {
                        kind,
                        message: "the key generation thread panicked".into(),
                    })
                })
            })
            .collect()
    });
    let keys = results.into_iter().collect::<Result<Vec<_>, _>>()?;
    keys.try_into()
        .map_err(|_| PkiError::Encoding("key count mismatch".into()))
}

/// The RNG seed of a labelled key: stable across runs and platforms.
fn seed_for(kind: KeyKind, label: &str) -> u64 {
    let digest = Sha256::digest(format!("testkit-pki-v1/{}/{label}", kind.name()).as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(bytes)
}

/// Where generated keys are kept between runs: `$TESTKIT_KEY_CACHE_DIR`
/// (empty = no disk cache), else `testkit-keys/` in the cargo target
/// directory. The keys are deterministic, so the cache only saves time.
fn disk_cache_path(kind: KeyKind, seed: u64) -> Option<PathBuf> {
    let dir = match std::env::var_os("TESTKIT_KEY_CACHE_DIR") {
        Some(d) if d.is_empty() => return None,
        Some(d) => PathBuf::from(d),
        None => std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| crate::workspace_dir().join("target"))
            .join("testkit-keys"),
    };
    Some(dir.join(format!("{}-{seed:016x}.pk8", kind.name())))
}

fn read_cached_key(path: &std::path::Path, kind: KeyKind) -> Option<PrivateKey> {
    let der = std::fs::read(path).ok()?;
    PrivateKey::from_pkcs8_der(&der)
        .ok()
        .filter(|k| k.kind == kind)
}

/// Best effort: a failure to write the cache only costs time next run.
/// Written to a unique temporary name and renamed, so a concurrent reader
/// never sees a partial file.
fn write_cached_key(path: &std::path::Path, key: &PrivateKey) {
    let (Some(dir), Ok(der)) = (path.parent(), key.pkcs8_der()) else {
        return;
    };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    if std::fs::write(&tmp, der).is_ok() && std::fs::rename(&tmp, path).is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
}

/// A certificate: DER, PEM and the subject it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    der: Vec<u8>,
    pem: String,
    subject: String,
}

impl Cert {
    /// Wraps DER produced elsewhere (for example a hand-made negative case).
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let parsed = X509Certificate::from_der(der)?;
        let pem = parsed.to_pem(LineEnding::LF)?;
        Ok(Self {
            der: der.to_vec(),
            pem,
            subject: parsed.tbs_certificate.subject.to_string(),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The subject DN as it was requested (`C=US, ST=WA, ...`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Lowercase hex SHA-256 of the DER, as in the signature manifest's
    /// `io.cncf.notary.x509chain.thumbprint#S256` annotation.
    pub fn sha256_fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// The parsed certificate.
    pub fn x509(&self) -> Result<X509Certificate, PkiError> {
        Ok(X509Certificate::from_der(&self.der)?)
    }
}

/// A certificate and its private key.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    pub cert: Cert,
    pub key: PrivateKey,
}

/// A validity period (both ends inclusive, as X.509 defines them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Validity {
    pub fn new(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        Self {
            not_before,
            not_after,
        }
    }

    /// The default for every certificate: 2020-01-01 to 2099-12-31. Fixed
    /// rather than relative to "now" so certificates are identical on
    /// every run, and wide enough to be valid whenever tests run.
    pub fn default_test() -> Self {
        Self {
            not_before: Utc
                .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            not_after: Utc
                .with_ymd_and_hms(2099, 12, 31, 23, 59, 59)
                .single()
                .unwrap_or_default(),
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    fn to_x509(self) -> Result<x509_cert::time::Validity, PkiError> {
        if self.not_after < self.not_before {
            return Err(PkiError::Validity(format!(
                "not_after {} is before not_before {}",
                self.not_after, self.not_before
            )));
        }
        Ok(x509_cert::time::Validity {
            not_before: x509_time(self.not_before)?,
            not_after: x509_time(self.not_after)?,
        })
    }
}

impl Default for Validity {
    fn default() -> Self {
        Self::default_test()
    }
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
pub(crate) fn x509_time(t: DateTime<Utc>) -> Result<Time, PkiError> {
    let secs = u64::try_from(t.timestamp())
        .map_err(|_| PkiError::Validity(format!("{t} is before 1970")))?;
    let d = Duration::from_secs(secs);
    let year = der::DateTime::from_unix_duration(d)?.year();
    Ok(if year < 2050 {
        Time::UtcTime(UtcTime::from_unix_duration(d)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(d)?)
    })
}

/// The default subject of a leaf named `name`, as Notation's own test
/// certificates look (every mandatory identity attribute C, ST, O present).
pub fn default_leaf_subject(name: &str) -> String {
    format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name}")
}

/// Parses `C=US, ST=WA, O=x, CN=y` into a Name whose RDNs are in the
/// written order (so `C` is outermost, as Notation's test certificates).
/// Separators `,` or `;`; `\` escapes the next character; types C, ST (or
/// S), L, O, OU, CN, STREET, POSTALCODE, SERIALNUMBER, E/EMAILADDRESS.
/// Multi-valued RDNs (`+`) are not supported.
pub fn parse_dn(dn: &str) -> Result<Name, PkiError> {
    let bad = |message: String| PkiError::Name {
        dn: dn.to_string(),
        message,
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => current.push(next),
                None => return Err(bad("dangling escape".into())),
            },
            ',' | ';' => parts.push(std::mem::take(&mut current)),
            '+' => return Err(bad("multi-valued RDNs are not supported".into())),
            _ => current.push(c),
        }
    }
    parts.push(current);
    let mut rdns = Vec::new();
    for part in parts {
        let (ty, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{part:?} has no '='")))?;
        let (ty, value) = (ty.trim(), value.trim());
        if value.is_empty() {
            return Err(bad(format!("{ty} has an empty value")));
        }
        let (oid, any) = match ty.to_ascii_uppercase().as_str() {
            "C" => (
                oid::AT_COUNTRY,
                Any::encode_from(&PrintableStringRef::new(value)?)?,
            ),
            "E" | "EMAILADDRESS" => (oid::AT_EMAIL, Any::encode_from(&Ia5StringRef::new(value)?)?),
            other => {
                let oid = match other {
                    "ST" | "S" => oid::AT_STATE,
                    "L" => oid::AT_LOCALITY,
                    "O" => oid::AT_ORGANIZATION,
                    "OU" => oid::AT_ORG_UNIT,
                    "CN" => oid::AT_COMMON_NAME,
                    "STREET" => oid::AT_STREET,
                    "POSTALCODE" => oid::AT_POSTAL_CODE,
                    "SERIALNUMBER" => oid::AT_SERIAL_NUMBER,
                    _ => return Err(bad(format!("unsupported attribute type {ty:?}"))),
                };
                (oid, Any::encode_from(&Utf8StringRef::new(value)?)?)
            }
        };
        let atv = AttributeTypeAndValue { oid, value: any };
        rdns.push(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?));
    }
    Ok(RdnSequence(rdns))
}

/// Which Notation certificate profile to issue (spec digest §f.1, §f.2).
#[derive(Debug, Clone, Copy)]
enum Profile {
    /// basicConstraints cA=true critical, keyUsage keyCertSign|cRLSign critical.
    Ca { path_len: Option<u8> },
    /// basicConstraints cA=false, keyUsage digitalSignature critical, EKU codeSigning.
    CodeSigning,
    /// keyUsage digitalSignature critical, EKU exactly timeStamping, critical.
    Timestamping,
}

/// Where a certificate says its revocation status can be found: OCSP
/// responders (AuthorityInfoAccess id-ad-ocsp URIs) and CRL distribution
/// points (CRLDistributionPoints fullName URIs), both non-critical. Empty
/// (the default) adds neither extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSources {
    pub ocsp_urls: Vec<String>,
    pub crl_urls: Vec<String>,
}

impl RevocationSources {
    pub fn is_empty(&self) -> bool {
        self.ocsp_urls.is_empty() && self.crl_urls.is_empty()
    }

    fn extensions(&self) -> Result<Vec<Extension>, PkiError> {
        use der::oid::AssociatedOid;
        let uri = |url: &str| -> Result<GeneralName, PkiError> {
            Ok(GeneralName::UniformResourceIdentifier(
                der::asn1::Ia5String::new(url)?,
            ))
        };
        let mut extensions = Vec::new();
        if !self.ocsp_urls.is_empty() {
            let aia = AuthorityInfoAccessSyntax(
                self.ocsp_urls
                    .iter()
                    .map(|url| {
                        Ok(AccessDescription {
                            access_method: oid::AD_OCSP,
                            access_location: uri(url)?,
                        })
                    })
                    .collect::<Result<_, PkiError>>()?,
            );
            extensions.push(extension(&aia, false, AuthorityInfoAccessSyntax::OID)?);
        }
        if !self.crl_urls.is_empty() {
            let cdp = CrlDistributionPoints(
                self.crl_urls
                    .iter()
                    .map(|url| {
                        Ok(DistributionPoint {
                            distribution_point: Some(DistributionPointName::FullName(vec![uri(
                                url,
                            )?])),
                            reasons: None,
                            crl_issuer: None,
                        })
                    })
                    .collect::<Result<_, PkiError>>()?,
            );
            extensions.push(extension(&cdp, false, CrlDistributionPoints::OID)?);
        }
        Ok(extensions)
    }
}

struct Issue<'a> {
    subject: &'a str,
    subject_key: &'a PrivateKey,
    /// `None` = self-signed.
    issuer: Option<(&'a Name, &'a PrivateKey)>,
    validity: Validity,
    profile: Profile,
    revocation: &'a RevocationSources,
}

fn extension<E: Encode>(
    value: &E,
    critical: bool,
    oid: ObjectIdentifier,
) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<OctetString, PkiError> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    Ok(OctetString::new(&digest[..20])?)
}

fn issue(req: Issue<'_>) -> Result<Cert, PkiError> {
    use der::oid::AssociatedOid;

    let subject = parse_dn(req.subject)?;
    let spki = req.subject_key.spki()?;
    let (issuer_name, issuer_key) = match req.issuer {
        Some((name, key)) => (name.clone(), key),
        None => (subject.clone(), req.subject_key),
    };
    let issuer_spki = issuer_key.spki()?;
    let validity = req.validity.to_x509()?;

    let mut extensions = Vec::new();
    match req.profile {
        Profile::Ca { path_len } => {
            let bc = BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            };
            extensions.push(extension(&bc, true, BasicConstraints::OID)?);
            let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
        }
        Profile::CodeSigning => {
            let bc = BasicConstraints {
                ca: false,
                path_len_constraint: None,
            };
            extensions.push(extension(&bc, true, BasicConstraints::OID)?);
            let ku = KeyUsage(KeyUsages::DigitalSignature.into());
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
            let eku = ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]);
            extensions.push(extension(&eku, false, ExtendedKeyUsage::OID)?);
        }
        Profile::Timestamping => {
            let ku = KeyUsage(KeyUsages::DigitalSignature.into());
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
            let eku = ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]);
            extensions.push(extension(&eku, true, ExtendedKeyUsage::OID)?);
        }
    }
    let ski = SubjectKeyIdentifier(key_identifier(&spki)?);
    extensions.push(extension(&ski, false, SubjectKeyIdentifier::OID)?);
    if req.issuer.is_some() {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(key_identifier(&issuer_spki)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.push(extension(&aki, false, AuthorityKeyIdentifier::OID)?);
    }
    extensions.extend(req.revocation.extensions()?);

    // A serial unique per (subject, key, validity, issuer), but stable across runs.
    let mut hasher = Sha256::new();
    hasher.update(subject.to_der()?);
    hasher.update(spki.to_der()?);
    hasher.update(validity.to_der()?);
    hasher.update(issuer_name.to_der()?);
    // Only when present, so certificates without sources keep their serials;
    // with them, two certificates of one issuer that differ in their sources
    // still get different serials (revocation is by serial).
    if !req.revocation.is_empty() {
        for url in req
            .revocation
            .ocsp_urls
            .iter()
            .chain(&req.revocation.crl_urls)
        {
            hasher.update(url.as_bytes());
            hasher.update([0]);
        }
    }
    let serial = serial_from(hasher);

    let (algorithm, _) = issuer_key.x509_algorithm()?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial)?,
        signature: algorithm.clone(),
        issuer: issuer_name,
        validity,
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signed = issuer_key.sign_x509(&tbs.to_der()?)?;
    let cert = X509Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signed.signature)?,
    };
    let der = cert.to_der()?;
    let pem = cert.to_pem(LineEnding::LF)?;
    Ok(Cert {
        der,
        pem,
        subject: req.subject.to_string(),
    })
}

/// Builds a [`TestPki`]; every setting has a working default.
#[derive(Debug, Clone)]
pub struct TestPkiBuilder {
    kind: KeyKind,
    ca_kind: Option<KeyKind>,
    name: String,
    leaf_subject: Option<String>,
    leaf_validity: Validity,
    ca_validity: Validity,
    leaf_revocation: RevocationSources,
    intermediate_revocation: RevocationSources,
}

impl TestPkiBuilder {
    /// Names the PKI: the CA common names derive from it, the default leaf
    /// CN is it, and it labels the keys, so two PKIs with different names
    /// have unrelated keys and roots (for "untrusted signer" tests).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The full leaf subject DN, replacing [`default_leaf_subject`].
    pub fn leaf_subject(mut self, dn: impl Into<String>) -> Self {
        self.leaf_subject = Some(dn.into());
        self
    }

    /// The leaf's validity (to make expired or not-yet-valid leaves).
    pub fn leaf_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.leaf_validity = Validity::new(not_before, not_after);
        self
    }

    /// The validity of both CA certificates.
    pub fn ca_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.ca_validity = Validity::new(not_before, not_after);
        self
    }

    /// The key kind of the two CAs (default: the leaf's kind). Lets a test
    /// use, say, an RSA-4096 leaf under fast P-256 CAs.
    pub fn ca_key_kind(mut self, kind: KeyKind) -> Self {
        self.ca_kind = Some(kind);
        self
    }

    /// Adds an OCSP responder URL to the leaf (AuthorityInfoAccess,
    /// id-ad-ocsp, non-critical). Repeat for several.
    pub fn leaf_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.ocsp_urls.push(url.into());
        self
    }

    /// Adds a CRL distribution point URL to the leaf (CRLDistributionPoints,
    /// fullName URI, non-critical). Repeat for several.
    pub fn leaf_crl_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.crl_urls.push(url.into());
        self
    }

    /// [`Self::leaf_ocsp_url`] for the intermediate CA certificate.
    pub fn intermediate_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.intermediate_revocation.ocsp_urls.push(url.into());
        self
    }

    /// [`Self::leaf_crl_url`] for the intermediate CA certificate.
    pub fn intermediate_crl_url(mut self, url: impl Into<String>) -> Self {
        self.intermediate_revocation.crl_urls.push(url.into());
        self
    }

    pub fn build(self) -> Result<TestPki, PkiError> {
        let ca_kind = self.ca_kind.unwrap_or(self.kind);
        let name = &self.name;
        let [root_key, inter_key, leaf_key] = cached_keys([
            (ca_kind, format!("{name}/root")),
            (ca_kind, format!("{name}/intermediate")),
            (self.kind, format!("{name}/leaf")),
        ])?;

        let root_subject = format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} Root CA");
        let root = issue(Issue {
            subject: &root_subject,
            subject_key: &root_key,
            issuer: None,
            validity: self.ca_validity,
            profile: Profile::Ca { path_len: None },
            revocation: &RevocationSources::default(),
        })?;
        let inter_subject =
            format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} Intermediate CA");
        let root_name = parse_dn(&root_subject)?;
        let intermediate = issue(Issue {
            subject: &inter_subject,
            subject_key: &inter_key,
            issuer: Some((&root_name, &root_key)),
            validity: self.ca_validity,
            profile: Profile::Ca { path_len: Some(0) },
            revocation: &self.intermediate_revocation,
        })?;
        let leaf_subject = self
            .leaf_subject
            .clone()
            .unwrap_or_else(|| default_leaf_subject(name));
        let inter_name = parse_dn(&inter_subject)?;
        let leaf = issue(Issue {
            subject: &leaf_subject,
            subject_key: &leaf_key,
            issuer: Some((&inter_name, &inter_key)),
            validity: self.leaf_validity,
            profile: Profile::CodeSigning,
            revocation: &self.leaf_revocation,
        })?;
        Ok(TestPki {
            kind: self.kind,
            root: CertifiedKey {
                cert: root,
                key: root_key,
            },
            intermediate: CertifiedKey {
                cert: intermediate,
                key: inter_key,
            },
            leaf: CertifiedKey {
                cert: leaf,
                key: leaf_key,
            },
        })
    }
}

/// A Notation code-signing PKI: root CA -> intermediate CA -> leaf.
#[derive(Debug, Clone)]
pub struct TestPki {
    kind: KeyKind,
    pub root: CertifiedKey,
    pub intermediate: CertifiedKey,
    pub leaf: CertifiedKey,
}

impl TestPki {
    /// The default PKI for a key kind (name `testkit`, default validity).
    pub fn new(kind: KeyKind) -> Result<Self, PkiError> {
        Self::builder(kind).build()
    }

    pub fn builder(kind: KeyKind) -> TestPkiBuilder {
        TestPkiBuilder {
            kind,
            ca_kind: None,
            name: "testkit".into(),
            leaf_subject: None,
            leaf_validity: Validity::default_test(),
            ca_validity: Validity::default_test(),
            leaf_revocation: RevocationSources::default(),
            intermediate_revocation: RevocationSources::default(),
        }
    }

    /// The leaf's key kind (which fixes the envelope algorithm).
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The chain as Notation envelopes carry it: leaf, intermediate, root.
    pub fn chain(&self) -> [&Cert; 3] {
        [&self.leaf.cert, &self.intermediate.cert, &self.root.cert]
    }

    /// DER of the chain, leaf first.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain().iter().map(|c| c.der().to_vec()).collect()
    }

    /// PEM bundle of the chain, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain().iter().map(|c| c.pem()).collect()
    }

    /// The root certificate as PEM, for a `ca` trust store.
    pub fn root_pem(&self) -> &str {
        self.root.cert.pem()
    }

    pub fn leaf_key(&self) -> &PrivateKey {
        &self.leaf.key
    }
}

/// Builds a [`TsaPki`].
#[derive(Debug, Clone)]
pub struct TsaPkiBuilder {
    kind: KeyKind,
    name: String,
    leaf_validity: Validity,
    root_validity: Validity,
    leaf_revocation: RevocationSources,
}

impl TsaPkiBuilder {
    /// Names the TSA (CNs and key labels), like [`TestPkiBuilder::name`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The TSA leaf's validity: tokens only verify for a genTime inside it.
    pub fn leaf_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.leaf_validity = Validity::new(not_before, not_after);
        self
    }

    pub fn root_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.root_validity = Validity::new(not_before, not_after);
        self
    }

    /// Adds an OCSP responder URL to the TSA leaf, like
    /// [`TestPkiBuilder::leaf_ocsp_url`].
    pub fn leaf_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.ocsp_urls.push(url.into());
        self
    }

    /// Adds a CRL distribution point URL to the TSA leaf, like
    /// [`TestPkiBuilder::leaf_crl_url`].
    pub fn leaf_crl_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.crl_urls.push(url.into());
        self
    }

    pub fn build(self) -> Result<TsaPki, PkiError> {
        let name = &self.name;
        let [root_key, leaf_key] = cached_keys([
            (self.kind, format!("{name}/tsa-root")),
            (self.kind, format!("{name}/tsa-leaf")),
        ])?;
        let root_subject =
            format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} TSA Root CA");
        let root = issue(Issue {
            subject: &root_subject,
            subject_key: &root_key,
            issuer: None,
            validity: self.root_validity,
            profile: Profile::Ca { path_len: None },
            revocation: &RevocationSources::default(),
        })?;
        let root_name = parse_dn(&root_subject)?;
        let leaf_subject = format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} TSA");
        let leaf = issue(Issue {
            subject: &leaf_subject,
            subject_key: &leaf_key,
            issuer: Some((&root_name, &root_key)),
            validity: self.leaf_validity,
            profile: Profile::Timestamping,
            revocation: &self.leaf_revocation,
        })?;
        Ok(TsaPki {
            root: CertifiedKey {
                cert: root,
                key: root_key,
            },
            leaf: CertifiedKey {
                cert: leaf,
                key: leaf_key,
            },
        })
    }
}

/// A timestamping chain: a self-signed root CA and a TSA leaf whose EKU is
/// exactly id-kp-timeStamping, marked critical (spec digest §f.2).
#[derive(Debug, Clone)]
pub struct TsaPki {
    pub root: CertifiedKey,
    pub leaf: CertifiedKey,
}

impl TsaPki {
    /// The default TSA chain of a key kind (name `testkit`).
    pub fn new(kind: KeyKind) -> Result<Self, PkiError> {
        Self::builder(kind).build()
    }

    pub fn builder(kind: KeyKind) -> TsaPkiBuilder {
        TsaPkiBuilder {
            kind,
            name: "testkit".into(),
            leaf_validity: Validity::default_test(),
            root_validity: Validity::default_test(),
            leaf_revocation: RevocationSources::default(),
        }
    }

    /// TSA leaf then root.
    pub fn chain(&self) -> [&Cert; 2] {
        [&self.leaf.cert, &self.root.cert]
    }

    /// The root as PEM, for a `tsa` trust store.
    pub fn root_pem(&self) -> &str {
        self.root.cert.pem()
    }
}

/// `rsaEncryption` (RFC 8017 A.1), the SubjectPublicKeyInfo algorithm of
/// RSA keys.
const RSA_ENCRYPTION_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The SubjectPublicKeyInfo of an RSA public key of exactly `bits` bits
/// whose private key nobody holds: a random odd modulus (seeded by `seed`)
/// with its top bit set, and e = 65537. For tests of oversized keys
/// (a 16,384-bit key would take hours to generate in a debug build); no
/// signature can verify under it, which such tests do not need.
pub fn unowned_rsa_spki(bits: usize, seed: u64) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    use rand::RngCore;
    if bits < 16 || !bits.is_multiple_of(8) {
        return Err(PkiError::Encoding(format!(
            "an RSA modulus of {bits} bits: use a multiple of 8, at least 16"
        )));
    }
    let mut modulus = vec![0u8; bits / 8];
    StdRng::seed_from_u64(seed).fill_bytes(&mut modulus);
    modulus[0] |= 0x80;
    if let Some(last) = modulus.last_mut() {
        *last |= 1;
    }
    let exponent = [0x01, 0x00, 0x01];
    let public_key = rsa::pkcs1::RsaPublicKey {
        modulus: der::asn1::UintRef::new(&modulus)?,
        public_exponent: der::asn1::UintRef::new(&exponent)?,
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION_OID,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(&public_key.to_der()?)?,
    })
}

impl TestPki {
    /// A code-signing leaf (the profile of [`TestPki::leaf`]) for any
    /// public key, issued by this PKI's intermediate CA with the default
    /// validity: for keys no [`PrivateKey`] can hold, such as
    /// [`unowned_rsa_spki`]. Envelopes then embed
    /// `[leaf, intermediate, root]` and carry a signature of any bytes.
    pub fn issue_leaf_for_spki(
        &self,
        subject: &str,
        spki: SubjectPublicKeyInfoOwned,
    ) -> Result<Cert, PkiError> {
        use der::oid::AssociatedOid;

        let issuer_key = &self.intermediate.key;
        let issuer_name = self.intermediate.cert.x509()?.tbs_certificate.subject;
        let subject_name = parse_dn(subject)?;
        let validity = Validity::default_test().to_x509()?;
        let extensions = vec![
            extension(
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                true,
                BasicConstraints::OID,
            )?,
            extension(
                &KeyUsage(KeyUsages::DigitalSignature.into()),
                true,
                KeyUsage::OID,
            )?,
            extension(
                &ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]),
                false,
                ExtendedKeyUsage::OID,
            )?,
            extension(
                &SubjectKeyIdentifier(key_identifier(&spki)?),
                false,
                SubjectKeyIdentifier::OID,
            )?,
            extension(
                &AuthorityKeyIdentifier {
                    key_identifier: Some(key_identifier(&issuer_key.spki()?)?),
                    authority_cert_issuer: None,
                    authority_cert_serial_number: None,
                },
                false,
                AuthorityKeyIdentifier::OID,
            )?,
        ];
        let mut hasher = Sha256::new();
        hasher.update(subject_name.to_der()?);
        hasher.update(spki.to_der()?);
        hasher.update(validity.to_der()?);
        hasher.update(issuer_name.to_der()?);
        let serial = serial_from(hasher);

        let (algorithm, _) = issuer_key.x509_algorithm()?;
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial)?,
            signature: algorithm.clone(),
            issuer: issuer_name,
            validity,
            subject: subject_name,
            subject_public_key_info: spki,
            issuer_unique_id: None,
            subject_unique_id: None,
            extensions: Some(extensions),
        };
        let signed = issuer_key.sign_x509(&tbs.to_der()?)?;
        let cert = X509Certificate {
            tbs_certificate: tbs,
            signature_algorithm: algorithm,
            signature: BitString::from_bytes(&signed.signature)?,
        };
        Ok(Cert {
            der: cert.to_der()?,
            pem: cert.to_pem(LineEnding::LF)?,
            subject: subject.to_string(),
        })
    }
}

/// A 16-byte positive serial number derived from what the certificate
/// holds, so that the same inputs always give the same certificate.
fn serial_from(hasher: Sha256) -> Vec<u8> {
    let mut serial = hasher.finalize()[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}
