//! A Notation signer: JWS and COSE envelopes and the OCI signature manifest
//! that carries them (spec digest §a.1, §b-§e).
//!
//! Why: integration tests must sign images they just pushed (their digest
//! is only known at test time), under PKIs with chosen properties (expired
//! leaf, another root, timestamps), which static fixtures cannot provide.
//! The output matches what notation-go writes, so the verifier under test
//! sees real-world envelopes; options that break the rules (`jws_alg`,
//! `cose_alg`) exist only for negative tests.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, SecondsFormat, SubsecRound, Utc};
use ciborium::Value;
use notation_verifier::Descriptor;
use serde_json::{json, Map, Value as Json};
use sha2::{Digest, Sha256};

use crate::pki::{PkiError, PrivateKey, TestPki};
use crate::tsa::{TestTsa, TsaError};

pub use notation_verifier::envelope::{MEDIA_TYPE_COSE, MEDIA_TYPE_JWS, PAYLOAD_CONTENT_TYPE};

/// The signing scheme this signer produces (the only one with TSA support).
pub const SIGNING_SCHEME_X509: &str = "notary.x509";
/// Written into `io.cncf.notary.signingAgent` unless overridden.
pub const DEFAULT_SIGNING_AGENT: &str = "testkit-notation-signer/0.0.0";

pub const HEADER_SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub const HEADER_SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub const HEADER_EXPIRY: &str = "io.cncf.notary.expiry";
pub const HEADER_SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
/// The unprotected header holding the RFC 3161 token (spec digest §c.3, §d.3).
pub const HEADER_TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// `artifactType` of a Notation signature manifest.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
pub const OCI_IMAGE_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The OCI empty descriptor's blob (`{}`) and digest: the config of a
/// signature manifest. Push it with the envelope.
pub const OCI_EMPTY_CONFIG: &[u8] = b"{}";
pub const OCI_EMPTY_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";
pub const CREATED_ANNOTATION: &str = "org.opencontainers.image.created";

/// COSE header labels (RFC 9052 / RFC 9360).
const COSE_ALG: i64 = 1;
const COSE_CRIT: i64 = 2;
const COSE_CONTENT_TYPE: i64 = 3;
const COSE_X5CHAIN: i64 = 33;
/// CBOR tags: COSE_Sign1 and epoch-based date/time.
const TAG_COSE_SIGN1: u64 = 18;
const TAG_EPOCH_TIME: u64 = 1;

/// Why an envelope or manifest could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("timestamping failed: {0}")]
    Timestamp(#[from] TsaError),
    #[error("encoding failed: {0}")]
    Encoding(String),
    #[error("the certificate chain is empty")]
    EmptyChain,
}

/// The signing key and the chain to embed (leaf first). Separate from
/// [`TestPki`] so negative tests can embed any chain (reordered,
/// truncated, foreign) with any key.
#[derive(Debug, Clone)]
pub struct SigningCredentials<'a> {
    pub key: &'a PrivateKey,
    pub chain: Vec<&'a [u8]>,
}

impl<'a> SigningCredentials<'a> {
    /// The leaf key and full chain (leaf, intermediate, root) of a PKI.
    pub fn from_pki(pki: &'a TestPki) -> Self {
        Self {
            key: pki.leaf_key(),
            chain: pki.chain().iter().map(|c| c.der()).collect(),
        }
    }
}

impl TestPki {
    /// Shorthand for [`SigningCredentials::from_pki`].
    pub fn credentials(&self) -> SigningCredentials<'_> {
        SigningCredentials::from_pki(self)
    }
}

/// A countersignature request: which TSA, and the genTime it states.
#[derive(Debug, Clone, Copy)]
pub struct Timestamping<'a> {
    pub tsa: &'a TestTsa,
    pub gen_time: DateTime<Utc>,
}

/// What goes into the envelope besides the target and the credentials.
#[derive(Debug, Clone)]
pub struct SignOptions<'a> {
    /// `io.cncf.notary.signingTime` (whole seconds are written).
    pub signing_time: DateTime<Utc>,
    /// `io.cncf.notary.expiry`, marked critical when present.
    pub expiry: Option<DateTime<Utc>>,
    /// Adds `io.cncf.notary.timestampSignature`: a token over the raw
    /// signature bytes.
    pub timestamp: Option<Timestamping<'a>>,
    /// User metadata: `targetArtifact.annotations` of the payload.
    pub annotations: BTreeMap<String, String>,
    /// `io.cncf.notary.signingAgent`; `None` omits the header.
    pub signing_agent: Option<String>,
    /// Negative tests: the JWS `alg` to write instead of the key's. The
    /// signature is still made with the key's own algorithm.
    pub jws_alg: Option<String>,
    /// Negative tests: the COSE `alg` (label 1) to write instead of the key's.
    pub cose_alg: Option<i64>,
    /// Negative tests: payload bytes to sign instead of the payload naming
    /// the target (for payloads Go and a strict reader could read apart).
    pub payload: Option<Vec<u8>>,
    /// Negative tests: extra members of the JWS protected header, written
    /// after the regular ones (a misspelled header, a second `Cty`).
    pub extra_jws_protected: Vec<(String, Json)>,
}

impl Default for SignOptions<'_> {
    fn default() -> Self {
        Self::at(Utc::now())
    }
}

impl<'a> SignOptions<'a> {
    /// Defaults with the given signing time.
    pub fn at(signing_time: DateTime<Utc>) -> Self {
        Self {
            signing_time: signing_time.trunc_subsecs(0),
            expiry: None,
            timestamp: None,
            annotations: BTreeMap::new(),
            signing_agent: Some(DEFAULT_SIGNING_AGENT.into()),
            jws_alg: None,
            cose_alg: None,
            payload: None,
            extra_jws_protected: Vec::new(),
        }
    }

    /// Signs `payload` as given instead of the payload naming the target.
    pub fn with_payload(mut self, payload: impl Into<Vec<u8>>) -> Self {
        self.payload = Some(payload.into());
        self
    }

    /// Adds a member to the JWS protected header.
    pub fn with_jws_protected(mut self, name: impl Into<String>, value: Json) -> Self {
        self.extra_jws_protected.push((name.into(), value));
        self
    }

    pub fn with_expiry(mut self, expiry: DateTime<Utc>) -> Self {
        self.expiry = Some(expiry);
        self
    }

    pub fn with_timestamp(mut self, tsa: &'a TestTsa, gen_time: DateTime<Utc>) -> Self {
        self.timestamp = Some(Timestamping { tsa, gen_time });
        self
    }

    pub fn with_annotation(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.annotations.insert(key.into(), value.into());
        self
    }

    pub fn with_jws_alg(mut self, alg: impl Into<String>) -> Self {
        self.jws_alg = Some(alg.into());
        self
    }

    pub fn with_cose_alg(mut self, alg: i64) -> Self {
        self.cose_alg = Some(alg);
        self
    }
}

fn encoding(e: impl std::fmt::Display) -> SignError {
    SignError::Encoding(e.to_string())
}

/// The JWS protected header of a Notation signature, base64url-encoded.
fn jws_protected(alg: &str, options: &SignOptions<'_>) -> Result<String, SignError> {
    let mut protected = Map::new();
    protected.insert("alg".into(), Json::from(alg));
    protected.insert(
        "crit".into(),
        Json::Array(
            critical_headers(options)
                .into_iter()
                .map(Json::from)
                .collect(),
        ),
    );
    protected.insert("cty".into(), Json::from(PAYLOAD_CONTENT_TYPE));
    protected.insert(
        HEADER_SIGNING_SCHEME.into(),
        Json::from(SIGNING_SCHEME_X509),
    );
    protected.insert(
        HEADER_SIGNING_TIME.into(),
        Json::from(rfc3339(options.signing_time)),
    );
    if let Some(expiry) = options.expiry {
        protected.insert(HEADER_EXPIRY.into(), Json::from(rfc3339(expiry)));
    }
    for (name, value) in &options.extra_jws_protected {
        protected.insert(name.clone(), value.clone());
    }
    Ok(URL_SAFE_NO_PAD.encode(serde_json::to_vec(&Json::Object(protected)).map_err(encoding)?))
}

/// The payload of §b: `{"targetArtifact": {mediaType, digest, size[, annotations]}}`.
pub fn payload_json(
    target: &Descriptor,
    annotations: &BTreeMap<String, String>,
) -> Result<Vec<u8>, SignError> {
    let mut artifact = Map::new();
    artifact.insert("mediaType".into(), Json::from(target.media_type.clone()));
    artifact.insert("digest".into(), Json::from(target.digest.clone()));
    artifact.insert("size".into(), Json::from(target.size));
    if !annotations.is_empty() {
        artifact.insert(
            "annotations".into(),
            serde_json::to_value(annotations).map_err(encoding)?,
        );
    }
    serde_json::to_vec(&json!({ "targetArtifact": artifact })).map_err(encoding)
}

/// The payload to sign: the override when the options carry one.
fn signed_payload(target: &Descriptor, options: &SignOptions<'_>) -> Result<Vec<u8>, SignError> {
    match &options.payload {
        Some(bytes) => Ok(bytes.clone()),
        None => payload_json(target, &options.annotations),
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The `crit` list: the signing scheme always, the expiry when present
/// (spec digest §c.2 step 1).
fn critical_headers(options: &SignOptions<'_>) -> Vec<&'static str> {
    let mut crit = vec![HEADER_SIGNING_SCHEME];
    if options.expiry.is_some() {
        crit.push(HEADER_EXPIRY);
    }
    crit
}

fn countersign(signature: &[u8], options: &SignOptions<'_>) -> Result<Option<Vec<u8>>, SignError> {
    options
        .timestamp
        .map(|t| t.tsa.timestamp(signature, t.gen_time))
        .transpose()
        .map_err(SignError::from)
}

/// A JWS envelope (`application/jose+json`, flattened JSON serialization,
/// spec digest §c) over a payload naming `target`.
pub fn sign_jws(
    credentials: &SigningCredentials<'_>,
    target: &Descriptor,
    options: &SignOptions<'_>,
) -> Result<Vec<u8>, SignError> {
    if credentials.chain.is_empty() {
        return Err(SignError::EmptyChain);
    }
    let payload = signed_payload(target, options)?;
    let alg = options
        .jws_alg
        .clone()
        .unwrap_or_else(|| credentials.key.kind().jws_alg().to_string());
    let protected_b64 = jws_protected(&alg, options)?;
    let payload_b64 = URL_SAFE_NO_PAD.encode(&payload);
    // The signing input is the two members exactly as they appear.
    let signature = credentials
        .key
        .sign_notation(format!("{protected_b64}.{payload_b64}").as_bytes())?;

    let mut header = Map::new();
    header.insert(
        "x5c".into(),
        Json::Array(
            credentials
                .chain
                .iter()
                .map(|c| Json::from(STANDARD.encode(c)))
                .collect(),
        ),
    );
    if let Some(agent) = &options.signing_agent {
        header.insert(HEADER_SIGNING_AGENT.into(), Json::from(agent.clone()));
    }
    if let Some(token) = countersign(&signature, options)? {
        header.insert(
            HEADER_TIMESTAMP_SIGNATURE.into(),
            Json::from(STANDARD.encode(token)),
        );
    }
    let envelope = json!({
        "payload": payload_b64,
        "protected": protected_b64,
        "header": header,
        "signature": URL_SAFE_NO_PAD.encode(&signature),
    });
    serde_json::to_vec(&envelope).map_err(encoding)
}

fn cbor(value: &Value) -> Result<Vec<u8>, SignError> {
    let mut out = Vec::new();
    ciborium::into_writer(value, &mut out).map_err(encoding)?;
    Ok(out)
}

fn epoch_time(t: DateTime<Utc>) -> Value {
    Value::Tag(
        TAG_EPOCH_TIME,
        Box::new(Value::Integer(t.timestamp().into())),
    )
}

/// A COSE envelope (`application/cose`, tagged COSE_Sign1, spec digest §d)
/// over a payload naming `target`.
pub fn sign_cose(
    credentials: &SigningCredentials<'_>,
    target: &Descriptor,
    options: &SignOptions<'_>,
) -> Result<Vec<u8>, SignError> {
    if credentials.chain.is_empty() {
        return Err(SignError::EmptyChain);
    }
    let payload = signed_payload(target, options)?;
    let alg = options
        .cose_alg
        .unwrap_or_else(|| credentials.key.kind().cose_alg());
    let text = |s: &str| Value::Text(s.to_string());
    let mut protected = vec![
        (Value::Integer(COSE_ALG.into()), Value::Integer(alg.into())),
        (
            Value::Integer(COSE_CRIT.into()),
            Value::Array(critical_headers(options).into_iter().map(text).collect()),
        ),
        (
            Value::Integer(COSE_CONTENT_TYPE.into()),
            text(PAYLOAD_CONTENT_TYPE),
        ),
        (text(HEADER_SIGNING_SCHEME), text(SIGNING_SCHEME_X509)),
        (text(HEADER_SIGNING_TIME), epoch_time(options.signing_time)),
    ];
    if let Some(expiry) = options.expiry {
        protected.push((text(HEADER_EXPIRY), epoch_time(expiry)));
    }
    let protected = cbor(&Value::Map(protected))?;
    let to_be_signed = cbor(&Value::Array(vec![
        text("Signature1"),
        Value::Bytes(protected.clone()),
        Value::Bytes(Vec::new()),
        Value::Bytes(payload.clone()),
    ]))?;
    let signature = credentials.key.sign_notation(&to_be_signed)?;

    let mut unprotected = vec![(
        Value::Integer(COSE_X5CHAIN.into()),
        Value::Array(
            credentials
                .chain
                .iter()
                .map(|c| Value::Bytes(c.to_vec()))
                .collect(),
        ),
    )];
    if let Some(agent) = &options.signing_agent {
        unprotected.push((text(HEADER_SIGNING_AGENT), text(agent)));
    }
    if let Some(token) = countersign(&signature, options)? {
        unprotected.push((text(HEADER_TIMESTAMP_SIGNATURE), Value::Bytes(token)));
    }
    cbor(&Value::Tag(
        TAG_COSE_SIGN1,
        Box::new(Value::Array(vec![
            Value::Bytes(protected),
            Value::Map(unprotected),
            Value::Bytes(payload),
            Value::Bytes(signature),
        ])),
    ))
}

/// `sha256:<lowercase hex>` of `bytes`, the OCI digest form.
pub fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// What the signature manifest annotations are derived from.
#[derive(Debug, Default)]
struct EnvelopeSummary {
    chain: Vec<Vec<u8>>,
    signing_time: Option<DateTime<Utc>>,
}

/// Reads the chain and signing time out of an envelope without verifying
/// it. Best effort: negative tests push malformed envelopes too, and their
/// manifest then simply has fewer annotations.
fn summarize(media_type: &str, envelope: &[u8]) -> EnvelopeSummary {
    match media_type {
        MEDIA_TYPE_JWS => summarize_jws(envelope),
        MEDIA_TYPE_COSE => summarize_cose(envelope),
        _ => None,
    }
    .unwrap_or_default()
}

fn summarize_jws(envelope: &[u8]) -> Option<EnvelopeSummary> {
    let json: Json = serde_json::from_slice(envelope).ok()?;
    let chain = json
        .get("header")
        .and_then(|h| h.get("x5c"))
        .and_then(Json::as_array)
        .map(|certs| {
            certs
                .iter()
                .filter_map(|c| STANDARD.decode(c.as_str()?).ok())
                .collect()
        })
        .unwrap_or_default();
    let signing_time = json
        .get("protected")
        .and_then(Json::as_str)
        .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|p| serde_json::from_slice::<Json>(&p).ok())
        .and_then(|p| p.get(HEADER_SIGNING_TIME)?.as_str().map(str::to_string))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Some(EnvelopeSummary {
        chain,
        signing_time,
    })
}

fn summarize_cose(envelope: &[u8]) -> Option<EnvelopeSummary> {
    let value: Value = ciborium::from_reader(envelope).ok()?;
    let Value::Tag(TAG_COSE_SIGN1, inner) = value else {
        return None;
    };
    let Value::Array(parts) = *inner else {
        return None;
    };
    let lookup = |map: &Value, key: &Value| -> Option<Value> {
        map.as_map()?
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    let chain = parts
        .get(1)
        .and_then(|u| lookup(u, &Value::Integer(COSE_X5CHAIN.into())))
        .and_then(|c| match c {
            Value::Array(items) => Some(
                items
                    .into_iter()
                    .filter_map(|i| i.into_bytes().ok())
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_default();
    let signing_time = parts
        .first()
        .and_then(Value::as_bytes)
        .and_then(|b| ciborium::from_reader::<Value, _>(b.as_slice()).ok())
        .and_then(|p| lookup(&p, &Value::Text(HEADER_SIGNING_TIME.into())))
        .and_then(|t| match t {
            Value::Tag(TAG_EPOCH_TIME, v) => i64::try_from(v.as_integer()?).ok(),
            _ => None,
        })
        .and_then(|secs| DateTime::from_timestamp(secs, 0));
    Some(EnvelopeSummary {
        chain,
        signing_time,
    })
}

/// The OCI image manifest that stores a Notation signature (spec digest
/// §a.1, the current style notation-go writes): artifactType
/// `application/vnd.cncf.notary.signature`, the OCI empty config, one layer
/// = the envelope, `subject` = the signed manifest, and the chain
/// thumbprint annotation (plus `org.opencontainers.image.created` when the
/// envelope's signing time can be read).
///
/// Returns the manifest JSON and the envelope blob to push beside it (and
/// [`OCI_EMPTY_CONFIG`] as the config blob).
pub fn signature_manifest(
    envelope: &[u8],
    media_type: &str,
    subject: &Descriptor,
) -> Result<(Vec<u8>, Vec<u8>), SignError> {
    let summary = summarize(media_type, envelope);
    let thumbprints: Vec<String> = summary
        .chain
        .iter()
        .map(|c| hex::encode(Sha256::digest(c)))
        .collect();
    let mut annotations = Map::new();
    annotations.insert(
        THUMBPRINT_ANNOTATION.into(),
        Json::from(serde_json::to_string(&thumbprints).map_err(encoding)?),
    );
    if let Some(t) = summary.signing_time {
        annotations.insert(CREATED_ANNOTATION.into(), Json::from(rfc3339(t)));
    }
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_IMAGE_MANIFEST,
        "artifactType": SIGNATURE_ARTIFACT_TYPE,
        "config": {
            "mediaType": OCI_EMPTY_MEDIA_TYPE,
            "digest": OCI_EMPTY_DIGEST,
            "size": OCI_EMPTY_CONFIG.len(),
        },
        "layers": [{
            "mediaType": media_type,
            "digest": sha256_digest(envelope),
            "size": envelope.len(),
        }],
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": annotations,
    });
    Ok((
        serde_json::to_vec(&manifest).map_err(encoding)?,
        envelope.to_vec(),
    ))
}

/// A JWS envelope shaped exactly like [`sign_jws`] (same protected header,
/// payload and `x5c`), but whose signature is `signature` as given rather
/// than computed: for chains whose leaf key has no private half (see
/// [`crate::pki::unowned_rsa_spki`]) or for signatures of a chosen length.
pub fn jws_with_signature(
    chain: &[&[u8]],
    target: &Descriptor,
    options: &SignOptions<'_>,
    alg: &str,
    signature: &[u8],
) -> Result<Vec<u8>, SignError> {
    if chain.is_empty() {
        return Err(SignError::EmptyChain);
    }
    let payload = signed_payload(target, options)?;
    let protected_b64 = jws_protected(alg, options)?;
    let x5c: Vec<Json> = chain
        .iter()
        .map(|c| Json::from(STANDARD.encode(c)))
        .collect();
    let envelope = json!({
        "payload": URL_SAFE_NO_PAD.encode(&payload),
        "protected": protected_b64,
        "header": {"x5c": x5c},
        "signature": URL_SAFE_NO_PAD.encode(signature),
    });
    serde_json::to_vec(&envelope).map_err(encoding)
}
