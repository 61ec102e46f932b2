//! The browser inspector's entry points (feature `wasm-bindgen`, target
//! wasm32-unknown-unknown). Each takes strings and bytes and returns one
//! JSON document, `{"ok": true, "report": …}` or `{"ok": false, "error": …}`,
//! so the page never has to catch an exception and every input mistake is
//! shown as a sentence. No verification logic lives here: it is
//! [`crate::inspect`] over the same verifier the policy runs.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use wasm_bindgen::prelude::wasm_bindgen;

use crate::inspect::{self, InspectError};
use crate::revocation::RevocationMaterial;
use crate::settings::{NamedSettings, ValidatedSettings};

/// Inputs the page can get wrong, each with what to do about it.
#[derive(Debug, thiserror::Error)]
enum InputError {
    #[error("policy settings are not valid YAML/JSON: {0}")]
    SettingsSyntax(String),
    #[error("policy settings: {0}")]
    Settings(#[from] crate::settings::SettingsError),
    #[error("verification time \"{0}\" is not RFC 3339 (e.g. 2026-11-23T00:00:00Z)")]
    Time(String),
    #[error("artifact descriptor is not a JSON object with mediaType, digest and size: {0}")]
    Descriptor(String),
    #[error("envelopes must be a JSON array of {{\"mediaType\", \"base64\"}} objects: {0}")]
    Envelopes(String),
    #[error("envelope {index} is not standard base64: {message}")]
    EnvelopeBase64 { index: usize, message: String },
    #[error("no artifact descriptor was given and no envelope payload names one; paste the descriptor (mediaType, digest, size) of the image manifest")]
    NoDescriptor,
    #[error("bundle manifest is not JSON: {0}")]
    BundleSyntax(String),
    #[error(transparent)]
    Inspect(#[from] InspectError),
}

fn answer<T: Serialize>(result: Result<T, InputError>, notes: &[String]) -> String {
    let value = match result.map(|r| serde_json::to_value(r)) {
        Ok(Ok(report)) => json!({"ok": true, "report": report, "notes": notes}),
        Ok(Err(e)) => json!({"ok": false, "error": format!("report serialisation: {e}")}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    value.to_string()
}

/// Inspects one envelope. `media_type` may be empty: it is then sniffed
/// from the bytes (JWS JSON or COSE CBOR).
#[wasm_bindgen]
pub fn inspect(envelope: &[u8], media_type: &str) -> String {
    let media_type = if media_type.trim().is_empty() {
        inspect::sniff_media_type(envelope)
    } else {
        media_type.trim()
    };
    answer::<_>(Ok(inspect::inspect_envelope(media_type, envelope)), &[])
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnvelopeInput {
    #[serde(default)]
    media_type: String,
    base64: String,
}

/// Verifies envelopes for an artifact. `descriptor` may be empty: the
/// payload of the first envelope then names the artifact, and a note says
/// that this only shows what the signature covers, not that it matches the
/// image in the registry.
#[wasm_bindgen]
pub fn verify(
    settings: &str,
    reference: &str,
    descriptor: &str,
    envelopes: &str,
    time: &str,
) -> String {
    let mut notes = Vec::new();
    let result = (|| {
        let settings = parse_settings(settings)?;
        notes.extend(unread_stores(&settings));
        let time = parse_time(time)?;
        let inputs: Vec<EnvelopeInput> =
            serde_json::from_str(envelopes).map_err(|e| InputError::Envelopes(e.to_string()))?;
        let mut decoded = Vec::with_capacity(inputs.len());
        for (index, input) in inputs.iter().enumerate() {
            let bytes =
                STANDARD
                    .decode(input.base64.trim())
                    .map_err(|e| InputError::EnvelopeBase64 {
                        index,
                        message: e.to_string(),
                    })?;
            let media_type = if input.media_type.trim().is_empty() {
                inspect::sniff_media_type(&bytes).to_string()
            } else {
                input.media_type.trim().to_string()
            };
            decoded.push((media_type, bytes));
        }
        let descriptor = if descriptor.trim().is_empty() {
            let (from_payload, note) =
                inspect::descriptor_from_payload(&decoded).ok_or(InputError::NoDescriptor)?;
            notes.push(note);
            from_payload
        } else {
            serde_json::from_str(descriptor).map_err(|e| InputError::Descriptor(e.to_string()))?
        };
        Ok(inspect::verify_envelopes(
            &settings,
            reference.trim(),
            &descriptor,
            &decoded,
            &RevocationMaterial::default(),
            time,
        )?)
    })();
    answer(result, &notes)
}

/// Verifies a pasted signature bundle manifest (what `vns attach`
/// publishes): its subject is the artifact, its layers the envelopes, its
/// stapled OCSP/CRL material the revocation evidence.
#[wasm_bindgen]
pub fn verify_bundle(settings: &str, reference: &str, bundle: &str, time: &str) -> String {
    let mut notes = Vec::new();
    let result = (|| {
        let settings = parse_settings(settings)?;
        notes.extend(unread_stores(&settings));
        let time = parse_time(time)?;
        let manifest: Value =
            serde_json::from_str(bundle).map_err(|e| InputError::BundleSyntax(e.to_string()))?;
        let bundle =
            inspect::read_bundle_for_inspection(&manifest, settings.limits.max_signatures)?;
        Ok(inspect::verify_envelopes(
            &settings,
            reference.trim(),
            &bundle.subject,
            &bundle.envelopes,
            &bundle.revocation,
            time,
        )?)
    })();
    answer(result, &notes)
}

/// The page cannot read the cluster, so a store kept in a ConfigMap or
/// Secret stays unread and its statement's images fail TRUST_STORE_ERROR:
/// say so, and how to inspect anyway.
fn unread_stores(settings: &ValidatedSettings) -> Vec<String> {
    settings
        .verifier
        .stores
        .all_unresolved()
        .into_iter()
        .map(|(store_type, name, object)| {
            format!(
                "trust store \"{name}\" of type \"{}\" is kept in {object}, which this page cannot read; paste its PEM certificates in the settings (trustStores.{}.{name}) to inspect with it",
                store_type.as_str(),
                store_type.as_str()
            )
        })
        .collect()
}

fn parse_settings(text: &str) -> Result<ValidatedSettings, InputError> {
    // YAML is a superset of JSON, so one parser reads both. The options are
    // `vns`'s (crates/vns/src/settings_file.rs): YAML 1.2 core scalars, and
    // one-line errors that name the line and column.
    let options = serde_saphyr::options! {
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        with_snippet: false,
    };
    let settings = serde_saphyr::from_str_with_options::<NamedSettings>(text, options)
        .map(|named| named.0)
        .map_err(|e| InputError::SettingsSyntax(e.to_string()))?;
    Ok(settings.validate()?)
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, InputError> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| InputError::Time(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"
trustPolicy:
  version: "1.0"
  trustPolicies:
    - name: all
      registryScopes: ["*"]
      signatureVerification: {level: skip}
      trustStores: []
      trustedIdentities: []
"#;

    fn parsed(answer: &str) -> Value {
        serde_json::from_str(answer).expect("answers are JSON")
    }

    #[test]
    fn input_mistakes_are_sentences_not_exceptions() {
        let a = parsed(&verify(
            "{",
            "r.example/app",
            "",
            "[]",
            "2026-01-01T00:00:00Z",
        ));
        assert_eq!(a["ok"], false);
        assert!(a["error"].as_str().unwrap().contains("not valid YAML/JSON"));
        let a = parsed(&verify(
            &format!("{SETTINGS}enforcment: warn\n"),
            "r.example/app",
            "",
            "[]",
            "2026-01-01T00:00:00Z",
        ));
        let error = a["error"].as_str().unwrap();
        assert!(
            error.contains("enforcment") && error.contains("line 10"),
            "{a}"
        );
        let a = parsed(&verify(SETTINGS, "r.example/app", "", "[]", "yesterday"));
        assert!(a["error"].as_str().unwrap().contains("RFC 3339"), "{a}");
        let a = parsed(&verify(
            SETTINGS,
            "r.example/app",
            "",
            "[]",
            "2026-01-01T00:00:00Z",
        ));
        assert!(
            a["error"]
                .as_str()
                .unwrap()
                .contains("no artifact descriptor"),
            "{a}"
        );
        let a = parsed(&verify(
            SETTINGS,
            "r.example/app",
            "",
            r#"[{"base64": "%%%"}]"#,
            "2026-01-01T00:00:00Z",
        ));
        assert!(a["error"].as_str().unwrap().contains("envelope 0"), "{a}");
        let a = parsed(&verify_bundle(
            SETTINGS,
            "r.example/app",
            "{}",
            "2026-01-01T00:00:00Z",
        ));
        assert!(a["error"].as_str().unwrap().contains("subject"), "{a}");
    }

    #[test]
    fn a_store_kept_in_the_cluster_is_named_with_what_to_do() {
        let settings = r#"
trustPolicy:
  version: "1.0"
  trustPolicies:
    - name: all
      registryScopes: ["*"]
      signatureVerification: {level: strict}
      trustStores: ["ca:pipeline"]
      trustedIdentities: ["*"]
trustStores:
  ca:
    pipeline: {configMap: {namespace: kubewarden, name: notation-roots}}
"#;
        let descriptor = r#"{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9", "size": 517}"#;
        let a = parsed(&verify(
            settings,
            "r.example/app",
            descriptor,
            "[]",
            "2026-01-01T00:00:00Z",
        ));
        assert_eq!(a["ok"], true, "{a}");
        let notes = a["notes"].to_string();
        assert!(
            notes.contains("\\\"pipeline\\\"")
                && notes.contains("kubewarden/notation-roots")
                && notes.contains("trustStores.ca.pipeline"),
            "{a}"
        );
        // Inline stores need no note.
        let a = parsed(&verify(
            SETTINGS,
            "r.example/app",
            descriptor,
            "[]",
            "2026-01-01T00:00:00Z",
        ));
        assert_eq!(a["notes"], json!([]), "{a}");
    }

    #[test]
    fn inspect_answers_for_any_bytes() {
        let a = parsed(&inspect(b"\x00\x01garbage", ""));
        assert_eq!(a["ok"], true);
        assert_eq!(a["report"]["integrity"]["passed"], false);
        assert_eq!(a["report"]["format"], "COSE");
    }
}
