//! Keys: the six key kinds Notation accepts, their hashes and OIDs, and
//! deterministic private keys cached per process and on disk.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use der::asn1::ObjectIdentifier;
use der::{Any, Decode};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest, Sha256, Sha384, Sha512};
use signature::hazmat::PrehashSigner;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use super::PkiError;

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

    pub(super) fn spki(&self) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
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
pub(super) fn cached_keys<const N: usize>(
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
