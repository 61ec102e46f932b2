//! The signature bundle (docs/signature-bundle.md): an OCI image manifest
//! under the tag `<alg>-<hex>.notation` whose layer descriptors carry copies
//! of the Notation envelopes of one signed digest. `build_manifest` is the
//! writer (used by `vns`), `read_bundle` the reader (used by the policy).
//!
//! The bundle is untrusted: the reader only checks that each copy is the
//! blob its descriptor names; every envelope is then verified in full.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::descriptor::Descriptor;
use crate::envelope::{MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};

pub const ARTIFACT_TYPE: &str = "application/vnd.vns.notation-bundle.v1";
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
pub const EMPTY_CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
pub const EMPTY_CONFIG_DIGEST: &str =
    "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
pub const EMPTY_CONFIG_SIZE: u64 = 2;
pub const ANNOTATION_ENVELOPE: &str = "dev.vns.notation.envelope";
pub const ANNOTATION_SIGNATURE_MANIFEST: &str = "dev.vns.notation.signature-manifest";
pub const ANNOTATION_THUMBPRINTS: &str = "io.cncf.notary.x509chain.thumbprint#S256";
pub const ANNOTATION_CREATED: &str = "org.opencontainers.image.created";
/// Stapled revocation material (extension of the bundle format, see
/// docs/signature-bundle.md): a JSON array of [`Staple`].
pub const ANNOTATION_REVOCATION: &str = "dev.vns.notation.revocation";
/// The artifact type of Notation signature manifests (what the writer lists).
pub const NOTATION_SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cncf.notary.signature";
/// Tag suffix of bundles.
pub const TAG_SUFFIX: &str = ".notation";
/// Envelopes larger than this are refused before decoding (Notation
/// envelopes are a few KiB; the limit keeps hostile bundles cheap).
pub const MAX_ENVELOPE_SIZE: u64 = 4 * 1024 * 1024;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum BundleError {
    #[error("\"{0}\" is not a digest of the form <algorithm>:<hex>")]
    BadDigest(String),
    #[error("the manifest is not a signature bundle: {0}")]
    NotABundle(String),
    #[error("the bundle's subject names {found}, not the image digest {expected}; it was copied from another image")]
    SubjectMismatch { expected: String, found: String },
    #[error("the bundle's annotation {annotation} names {found}, not {expected}; it was written for another image")]
    NamedSubjectMismatch {
        annotation: &'static str,
        expected: String,
        found: String,
    },
}

mod external;
pub use external::{
    build_external_manifest, check_named_subject, external_bundle_reference, external_repository,
    NamedSubject, ANNOTATION_SUBJECT_DIGEST, ANNOTATION_SUBJECT_REPOSITORY,
    ANNOTATION_SUBJECT_SIZE,
};

/// Why one layer could not be used (the others still count).
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("layer {index}: {message}")]
pub struct LayerError {
    pub index: usize,
    pub message: String,
}

/// One signature as the writer puts it into the bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleLayer {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
    pub envelope: Vec<u8>,
    /// Digest of the Notation signature manifest the envelope came from.
    pub signature_manifest: String,
    /// The thumbprint annotation of that manifest, copied unchanged.
    pub thumbprints: Option<String>,
    /// OCSP responses and CRLs for the signing and TSA chains.
    pub revocation: Vec<Staple>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StapleKind {
    Ocsp,
    Crl,
}

/// One stapled OCSP response or CRL.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Staple {
    pub kind: StapleKind,
    /// Lowercase hex SHA-256 of the certificate it answers for (OCSP) or of
    /// the CRL issuer's certificate (CRL).
    #[serde(rename = "for")]
    pub for_certificate: String,
    /// The URL it was fetched from.
    pub source: String,
    /// Base64 (standard) DER.
    #[serde(with = "b64")]
    pub der: Vec<u8>,
}

mod b64 {
    use base64::Engine;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(serde::de::Error::custom)
    }
}

/// The revocation material of every staple, for the verifier.
pub fn material_of<'a>(
    staples: impl IntoIterator<Item = &'a Staple>,
) -> crate::revocation::RevocationMaterial {
    let mut m = crate::revocation::RevocationMaterial::default();
    for s in staples {
        match s.kind {
            StapleKind::Ocsp => m.ocsp_responses.push(s.der.clone()),
            StapleKind::Crl => m.crls.push(s.der.clone()),
        }
    }
    m
}

/// Stapled material whose nextUpdate is within this window of the
/// evaluation time gets a warning, while it still verifies.
pub const STALE_SOON: chrono::Duration = chrono::Duration::days(1);

/// One warning per staple that went stale or goes stale within
/// [`STALE_SOON`] of `now`: which kind, where it came from, when, and the
/// command that refreshes it. Staples without a readable nextUpdate get
/// none (the verifier decides what they are worth).
pub fn stale_staple_warnings<'a>(
    staples: impl IntoIterator<Item = &'a Staple>,
    now: DateTime<Utc>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    for staple in staples {
        let is_crl = staple.kind == StapleKind::Crl;
        let Some(next) = crate::revocation::next_update(&staple.der, is_crl) else {
            continue;
        };
        if next < now + STALE_SOON {
            warnings.push(format!(
                "stapled {} from {} {} at {}; refresh it with `vns sync --refresh-revocation`",
                if is_crl { "CRL" } else { "OCSP response" },
                staple.source,
                if next < now {
                    "went stale"
                } else {
                    "goes stale"
                },
                next.format("%Y-%m-%d %H:%M UTC")
            ));
        }
    }
    warnings
}

/// Staples per layer are bounded: a CRL can be large, and the whole bundle
/// must stay a manifest the registry accepts (4 MiB).
pub const MAX_STAPLES_PER_LAYER: usize = 32;

/// One envelope as the reader found it, its copy checked against the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleEnvelope {
    pub media_type: String,
    pub bytes: Vec<u8>,
    pub layer_digest: String,
    pub signature_manifest: Option<String>,
    /// Stapled material; a malformed annotation yields none (the status is
    /// then unknown where it matters, never good by accident).
    pub revocation: Vec<Staple>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleContents {
    pub subject: Option<Descriptor>,
    /// Envelope layers in order, at most `max_signatures` of them.
    pub envelopes: Vec<Result<BundleEnvelope, LayerError>>,
    /// More envelope layers existed than were examined.
    pub truncated: bool,
    pub created: Option<String>,
}

/// `sha256:<hex>` -> `sha256-<hex>.notation`.
pub fn bundle_tag(digest: &str) -> Result<String, BundleError> {
    let (alg, hex_part) = digest
        .split_once(':')
        .ok_or_else(|| BundleError::BadDigest(digest.to_string()))?;
    let alg_ok = !alg.is_empty()
        && alg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let hex_ok = !hex_part.is_empty()
        && hex_part
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
    if !alg_ok || !hex_ok {
        return Err(BundleError::BadDigest(digest.to_string()));
    }
    Ok(format!("{alg}-{hex_part}{TAG_SUFFIX}"))
}

/// The bundle manifest for `subject` with `layers` in order (writer rules).
pub fn build_manifest(
    subject: &Descriptor,
    layers: &[BundleLayer],
    created: DateTime<Utc>,
) -> Value {
    let layers: Vec<Value> = layers
        .iter()
        .map(|l| {
            let mut annotations = Map::new();
            annotations.insert(
                ANNOTATION_ENVELOPE.into(),
                Value::String(base64::engine::general_purpose::STANDARD.encode(&l.envelope)),
            );
            annotations.insert(
                ANNOTATION_SIGNATURE_MANIFEST.into(),
                Value::String(l.signature_manifest.clone()),
            );
            if let Some(t) = &l.thumbprints {
                annotations.insert(ANNOTATION_THUMBPRINTS.into(), Value::String(t.clone()));
            }
            if !l.revocation.is_empty() {
                if let Ok(text) = serde_json::to_string(&l.revocation) {
                    annotations.insert(ANNOTATION_REVOCATION.into(), Value::String(text));
                }
            }
            json!({
                "mediaType": l.media_type,
                "digest": l.digest,
                "size": l.size,
                "annotations": annotations,
            })
        })
        .collect();
    json!({
        "schemaVersion": 2,
        "mediaType": MANIFEST_MEDIA_TYPE,
        "artifactType": ARTIFACT_TYPE,
        "config": {
            "mediaType": EMPTY_CONFIG_MEDIA_TYPE,
            "digest": EMPTY_CONFIG_DIGEST,
            "size": EMPTY_CONFIG_SIZE,
        },
        "layers": layers,
        "subject": {
            "mediaType": subject.media_type,
            "digest": subject.digest,
            "size": subject.size,
        },
        "annotations": {
            ANNOTATION_CREATED: created.to_rfc3339_opts(SecondsFormat::Secs, true),
        },
    })
}

/// A layer built from an envelope blob (digest and size computed here).
pub fn layer_for(
    media_type: &str,
    envelope: Vec<u8>,
    signature_manifest: &str,
    thumbprints: Option<String>,
) -> BundleLayer {
    BundleLayer {
        media_type: media_type.to_string(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&envelope))),
        size: envelope.len() as u64,
        envelope,
        signature_manifest: signature_manifest.to_string(),
        thumbprints,
        revocation: Vec::new(),
    }
}

fn is_envelope_type(media_type: &str) -> bool {
    media_type == MEDIA_TYPE_JWS || media_type == MEDIA_TYPE_COSE
}

/// Reads a bundle manifest fetched for `image_digest` (reader rules 2-3).
pub fn read_bundle(
    manifest: &Value,
    image_digest: &str,
    max_signatures: usize,
) -> Result<BundleContents, BundleError> {
    let obj = manifest
        .as_object()
        .ok_or_else(|| BundleError::NotABundle("the manifest is not a JSON object".into()))?;
    match obj.get("artifactType").and_then(Value::as_str) {
        Some(ARTIFACT_TYPE) => {}
        Some(other) => {
            return Err(BundleError::NotABundle(format!(
                "artifactType is \"{other}\", expected \"{ARTIFACT_TYPE}\""
            )))
        }
        None => {
            return Err(BundleError::NotABundle(format!(
                "artifactType is missing, expected \"{ARTIFACT_TYPE}\""
            )))
        }
    }
    let subject = match obj.get("subject") {
        None | Some(Value::Null) => None,
        Some(v) => {
            let d: Descriptor = serde_json::from_value(v.clone())
                .map_err(|e| BundleError::NotABundle(format!("subject descriptor: {e}")))?;
            if d.digest != image_digest {
                return Err(BundleError::SubjectMismatch {
                    expected: image_digest.to_string(),
                    found: d.digest,
                });
            }
            Some(d)
        }
    };
    let layers = match obj.get("layers") {
        Some(Value::Array(layers)) => layers.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(BundleError::NotABundle("layers is not an array".into())),
    };
    let created = obj
        .get("annotations")
        .and_then(|a| a.get(ANNOTATION_CREATED))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let mut envelopes = Vec::new();
    let mut truncated = false;
    for (index, layer) in layers.iter().enumerate() {
        let media_type = layer
            .get("mediaType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !is_envelope_type(media_type) {
            continue;
        }
        if envelopes.len() >= max_signatures {
            truncated = true;
            break;
        }
        envelopes.push(read_layer(index, media_type, layer));
    }
    Ok(BundleContents {
        subject,
        envelopes,
        truncated,
        created,
    })
}

fn read_layer(index: usize, media_type: &str, layer: &Value) -> Result<BundleEnvelope, LayerError> {
    let fail = |message: String| LayerError { index, message };
    let digest = layer
        .get("digest")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("the layer has no digest".into()))?;
    let size = layer
        .get("size")
        .and_then(Value::as_u64)
        .ok_or_else(|| fail("the layer has no size".into()))?;
    if size > MAX_ENVELOPE_SIZE {
        return Err(fail(format!(
            "the envelope is {size} bytes, more than the limit of {MAX_ENVELOPE_SIZE}"
        )));
    }
    let annotations = layer.get("annotations");
    let encoded = annotations
        .and_then(|a| a.get(ANNOTATION_ENVELOPE))
        .and_then(Value::as_str)
        .ok_or_else(|| fail(format!("the layer has no {ANNOTATION_ENVELOPE} annotation")))?;
    // base64 is 4/3 of the size: refuse before decoding anything oversized.
    if encoded.len() as u64 > size.saturating_mul(4) / 3 + 4 {
        return Err(fail(format!(
            "the envelope annotation is longer than the layer size {size} allows"
        )));
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|e| fail(format!("the envelope annotation is not base64: {e}")))?;
    if bytes.len() as u64 != size {
        return Err(fail(format!(
            "the envelope copy is {} bytes but the layer says {size}",
            bytes.len()
        )));
    }
    let Some(hex_digest) = digest.strip_prefix("sha256:") else {
        return Err(fail(format!("layer digest \"{digest}\" is not sha256")));
    };
    if hex::encode(Sha256::digest(&bytes)) != hex_digest {
        return Err(fail(format!(
            "the envelope copy does not match the layer digest {digest}"
        )));
    }
    Ok(BundleEnvelope {
        media_type: media_type.to_string(),
        bytes,
        layer_digest: digest.to_string(),
        signature_manifest: annotations
            .and_then(|a| a.get(ANNOTATION_SIGNATURE_MANIFEST))
            .and_then(Value::as_str)
            .map(str::to_owned),
        revocation: annotations
            .and_then(|a| a.get(ANNOTATION_REVOCATION))
            .and_then(Value::as_str)
            .and_then(|text| serde_json::from_str::<Vec<Staple>>(text).ok())
            .map(|mut v| {
                v.truncate(MAX_STAPLES_PER_LAYER);
                v
            })
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests;
