//! JWS JSON (flattened) envelopes, `application/jose+json` (spec digest §c).
//!
//! Decoding choices (§c.1 REC): the top level takes exactly `payload`,
//! `protected`, `header` and `signature` (no `signatures`, nothing unknown);
//! no object may repeat a member name (a parser-differential guard: Go keeps
//! the last one, other parsers the first), nor hold two names that fold to
//! the same key, nor spell a header Go knows other than exactly (Go matches
//! struct fields by case folding: [`crate::json_names`]); the unprotected
//! `header` ignores members it does not know, except that the signing agent
//! is matched case-insensitively as Go does (upstream fixtures spell it
//! `io.cncf.notary.SigningAgent`).

use std::collections::BTreeSet;
use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::Value;

use super::headers::{self, NotaryHeaders, PluginValue};
use super::{signer, EnvelopeError, Parts, VerifiedEnvelope, MEDIA_TYPE_JWS};
use crate::crypto::{PssSalt, SignatureAlgorithm};
use crate::json_names::{self, FoldedNames};

pub fn parse_and_verify(
    bytes: &[u8],
    cache: Option<&crate::chain::ChainCache>,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    super::finish(parse_parts(bytes)?, cache)
}

/// Syntax and header rules only; [`super::finish`] does the cryptography.
pub(crate) fn parse_parts(bytes: &[u8]) -> Result<Parts<'static>, EnvelopeError> {
    let envelope: Flattened = serde_json::from_slice(bytes)
        .map_err(|e| EnvelopeError::malformed(format!("malformed JWS envelope: {e}")))?;
    let protected = decode_protected(&envelope.protected)?;
    let (algorithm, notary) = check_protected(&protected)?;

    let payload = decode_url("payload", &envelope.payload)?;
    let signature = decode_url("signature", &envelope.signature)?;
    if signature.is_empty() {
        return Err(EnvelopeError::malformed(
            "signature missing in jws-json envelope",
        ));
    }
    let x5c = envelope.header.x5c.unwrap_or_default();
    signer::check_chain_length(x5c.len())?;
    let chain = x5c
        .iter()
        .enumerate()
        .map(|(i, c)| {
            STANDARD.decode(c).map(Into::into).map_err(|e| {
                EnvelopeError::malformed(format!("x5c entry {i} is not standard base64: {e}"))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let timestamp_token = match envelope.header.timestamp.as_deref() {
        None | Some("") => None,
        Some(token) => Some(STANDARD.decode(token).map_err(|e| {
            EnvelopeError::malformed(format!(
                "\"{}\" is not standard base64: {e}",
                headers::TIMESTAMP_SIGNATURE
            ))
        })?),
    };

    // The signing input is the two members exactly as received.
    let mut signed_message =
        Vec::with_capacity(envelope.protected.len() + 1 + envelope.payload.len());
    signed_message.extend_from_slice(envelope.protected.as_bytes());
    signed_message.push(b'.');
    signed_message.extend_from_slice(envelope.payload.as_bytes());

    Ok(Parts {
        media_type: MEDIA_TYPE_JWS,
        algorithm,
        // golang-jwt accepts any PSS salt length (§e).
        salt: PssSalt::AutoDetect,
        headers: notary,
        chain,
        signed_message,
        signature,
        payload: payload.into(),
        timestamp_token,
        signing_agent: envelope.header.signing_agent,
    })
}

/// `payload`, `protected` and `signature`: base64url without padding.
fn decode_url(member: &str, value: &str) -> Result<Vec<u8>, EnvelopeError> {
    URL_SAFE_NO_PAD.decode(value).map_err(|e| {
        EnvelopeError::malformed(format!(
            "JWS member \"{member}\" is not unpadded base64url: {e}"
        ))
    })
}

fn decode_protected(encoded: &str) -> Result<ProtectedHeader, EnvelopeError> {
    let json = decode_url("protected", encoded)?;
    serde_json::from_slice(&json).map_err(|e| {
        EnvelopeError::malformed(format!(
            "jws envelope protected header can't be decoded: {e}"
        ))
    })
}

/// The protected header rules of §c.2, in one place. Returns the header
/// `alg` and the typed Notary Project values.
fn check_protected(
    h: &ProtectedHeader,
) -> Result<(SignatureAlgorithm, NotaryHeaders), EnvelopeError> {
    let alg = required_str(&h.alg, "alg")?;
    headers::check_content_type(required_str(&h.cty, "cty")?)?;
    let scheme = headers::parse_scheme(required_str(&h.scheme, headers::SIGNING_SCHEME)?)?;
    let signing_time = optional_time(&h.signing_time, headers::SIGNING_TIME)?;
    let authentic_signing_time =
        optional_time(&h.authentic_signing_time, headers::AUTHENTIC_SIGNING_TIME)?;
    let expiry = optional_time(&h.expiry, headers::EXPIRY)?;
    let (signing_time, expiry) =
        headers::resolve_times(scheme, signing_time, authentic_signing_time, expiry)?;

    let crit = crit_entries(&h.crit)?;
    // §c.2: each entry either ticks off a header notation requires to be
    // critical, or names an extended attribute that is present. Anything
    // else (known non-critical headers, absent keys, a second mention of a
    // required header) is refused.
    let mut must = headers::must_be_critical(scheme, expiry.is_some());
    let mut critical_extended: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for name in &crit {
        if let Some(pos) = must.iter().position(|m| m == name) {
            must.remove(pos);
        } else if h.extended.contains(*name) {
            if seen.insert(*name) {
                critical_extended.push((*name).to_owned());
            }
        } else {
            return Err(EnvelopeError::malformed(format!(
                "\"{}\" header is marked critical but not present",
                headers::truncate(name)
            )));
        }
    }
    if !must.is_empty() {
        return Err(headers::not_marked_critical(&must));
    }

    let is_critical = |name: &str| seen.contains(name);
    let verification_plugin = headers::plugin_attribute(
        headers::VERIFICATION_PLUGIN,
        plugin_value(&h.plugin),
        is_critical(headers::VERIFICATION_PLUGIN),
    )?;
    let verification_plugin_min_version = headers::plugin_attribute(
        headers::VERIFICATION_PLUGIN_MIN_VERSION,
        plugin_value(&h.plugin_min_version),
        is_critical(headers::VERIFICATION_PLUGIN_MIN_VERSION),
    )?;
    critical_extended.retain(|c| {
        c != headers::VERIFICATION_PLUGIN && c != headers::VERIFICATION_PLUGIN_MIN_VERSION
    });

    let algorithm = SignatureAlgorithm::from_jws(alg).ok_or_else(|| {
        EnvelopeError::malformed(format!(
            "signature algorithm \"{}\" is not supported",
            headers::truncate(alg)
        ))
    })?;
    Ok((
        algorithm,
        NotaryHeaders {
            scheme,
            signing_time,
            expiry,
            verification_plugin,
            verification_plugin_min_version,
            critical_extended_attributes: critical_extended,
        },
    ))
}

fn required_str<'a>(value: &'a Option<Value>, name: &str) -> Result<&'a str, EnvelopeError> {
    match value {
        None => Err(EnvelopeError::malformed(format!(
            "protected header \"{name}\" is missing"
        ))),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(EnvelopeError::malformed(format!(
            "protected header \"{name}\" must be a string, found {}",
            json_kind(other)
        ))),
    }
}

fn optional_time(
    value: &Option<Value>,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, EnvelopeError> {
    match value {
        None => Ok(None),
        Some(_) => headers::parse_rfc3339(name, required_str(value, name)?).map(Some),
    }
}

/// `crit`: a non-empty array of strings.
fn crit_entries(value: &Option<Value>) -> Result<Vec<&str>, EnvelopeError> {
    let entries = match value {
        None | Some(Value::Null) => {
            return Err(EnvelopeError::malformed("missing \"crit\" header"))
        }
        Some(Value::Array(entries)) => entries,
        Some(other) => {
            return Err(EnvelopeError::malformed(format!(
                "\"crit\" header must be an array of strings, found {}",
                json_kind(other)
            )))
        }
    };
    if entries.is_empty() {
        return Err(EnvelopeError::malformed("missing \"crit\" header"));
    }
    entries
        .iter()
        .map(|e| {
            e.as_str().ok_or_else(|| {
                EnvelopeError::malformed(format!(
                    "\"crit\" header entries must be strings, found {}",
                    json_kind(e)
                ))
            })
        })
        .collect()
}

fn plugin_value(value: &Option<Value>) -> PluginValue<'_> {
    match value {
        None => PluginValue::Absent,
        Some(Value::String(s)) => PluginValue::Text(s),
        Some(other) => PluginValue::Other(json_kind(other)),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

// ---------------------------------------------------------------------------
// Strict JSON shapes. Hand-written visitors because serde's derive neither
// refuses duplicate members in every case nor lets unknown members be
// skipped without building them.

/// The flattened JWS JSON serialization.
struct Flattened {
    payload: String,
    protected: String,
    header: Unprotected,
    signature: String,
}

#[derive(Default)]
struct Unprotected {
    x5c: Option<Vec<String>>,
    timestamp: Option<String>,
    signing_agent: Option<String>,
}

/// The protected header, known members typed later (so that each rule can
/// say what was wrong), extended attributes recorded by name only.
#[derive(Default)]
struct ProtectedHeader {
    alg: Option<Value>,
    cty: Option<Value>,
    crit: Option<Value>,
    scheme: Option<Value>,
    signing_time: Option<Value>,
    authentic_signing_time: Option<Value>,
    expiry: Option<Value>,
    plugin: Option<Value>,
    plugin_min_version: Option<Value>,
    /// Names of every member that is not a JOSE or Notary Project header
    /// (the plugin attributes included: they are extended attributes).
    extended: BTreeSet<String>,
}

/// The protected header members notation-go decodes into its struct.
const PROTECTED_NAMES: [&str; 9] = [
    "alg",
    "cty",
    "crit",
    headers::SIGNING_SCHEME,
    headers::SIGNING_TIME,
    headers::AUTHENTIC_SIGNING_TIME,
    headers::EXPIRY,
    headers::VERIFICATION_PLUGIN,
    headers::VERIFICATION_PLUGIN_MIN_VERSION,
];

fn misspelled<E: de::Error>(key: &str, known: &str) -> E {
    E::custom(format!(
        "member \"{}\" is not spelled \"{known}\" exactly (notation-go would read it as \"{known}\")",
        headers::truncate(key)
    ))
}

/// Records a member name, refusing a second occurrence.
fn first_time<E: de::Error>(seen: &mut BTreeSet<String>, key: &str) -> Result<(), E> {
    if seen.insert(key.to_owned()) {
        Ok(())
    } else {
        Err(E::custom(format!(
            "duplicate member \"{}\"",
            headers::truncate(key)
        )))
    }
}

impl<'de> Deserialize<'de> for Flattened {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flattened;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a flattened JWS JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flattened, A::Error> {
                let mut seen = BTreeSet::new();
                let (mut payload, mut protected, mut header, mut signature) =
                    (None, None, None, None);
                while let Some(key) = map.next_key::<String>()? {
                    first_time(&mut seen, &key)?;
                    match key.as_str() {
                        "payload" => payload = Some(map.next_value::<String>()?),
                        "protected" => protected = Some(map.next_value::<String>()?),
                        "signature" => signature = Some(map.next_value::<String>()?),
                        "header" => header = Some(map.next_value::<Unprotected>()?),
                        "signatures" => {
                            return Err(de::Error::custom(
                                "the general JWS JSON serialization (\"signatures\") is not a Notary Project envelope",
                            ))
                        }
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown top-level member \"{}\"",
                                headers::truncate(other)
                            )))
                        }
                    }
                }
                Ok(Flattened {
                    payload: payload.ok_or_else(|| de::Error::missing_field("payload"))?,
                    protected: protected.ok_or_else(|| de::Error::missing_field("protected"))?,
                    header: header.ok_or_else(|| {
                        de::Error::custom(
                            "missing field `header`: certificate chain is not present",
                        )
                    })?,
                    signature: signature.ok_or_else(|| de::Error::missing_field("signature"))?,
                })
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for Unprotected {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Unprotected;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWS unprotected header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Unprotected, A::Error> {
                let mut seen = FoldedNames::default();
                let mut out = Unprotected::default();
                while let Some(key) = map.next_key::<String>()? {
                    seen.insert(&key).map_err(de::Error::custom)?;
                    if let Some(known) =
                        json_names::misspelling_of(&key, &["x5c", headers::TIMESTAMP_SIGNATURE])
                    {
                        return Err(misspelled(&key, known));
                    }
                    if key == "x5c" {
                        out.x5c = Some(map.next_value()?);
                    } else if key == headers::TIMESTAMP_SIGNATURE {
                        out.timestamp = Some(map.next_value()?);
                    } else if key.eq_ignore_ascii_case(headers::SIGNING_AGENT) {
                        // Informational only; a non-string is ignored
                        // rather than failing a signature over it.
                        out.signing_agent = match map.next_value::<Value>()? {
                            Value::String(s) => Some(s),
                            _ => None,
                        };
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_map(V)
    }
}

impl<'de> Deserialize<'de> for ProtectedHeader {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProtectedHeader;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JWS protected header object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ProtectedHeader, A::Error> {
                let mut seen = FoldedNames::default();
                let mut h = ProtectedHeader::default();
                while let Some(key) = map.next_key::<String>()? {
                    // Go fills its header struct by folded name and keeps the
                    // exact names as extended attributes: refuse both
                    // readings' differences (crate::json_names).
                    seen.insert(&key).map_err(de::Error::custom)?;
                    if let Some(known) = json_names::misspelling_of(&key, &PROTECTED_NAMES) {
                        return Err(misspelled(&key, known));
                    }
                    let slot = match key.as_str() {
                        "alg" => &mut h.alg,
                        "cty" => &mut h.cty,
                        "crit" => &mut h.crit,
                        headers::SIGNING_SCHEME => &mut h.scheme,
                        headers::SIGNING_TIME => &mut h.signing_time,
                        headers::AUTHENTIC_SIGNING_TIME => &mut h.authentic_signing_time,
                        headers::EXPIRY => &mut h.expiry,
                        headers::VERIFICATION_PLUGIN => {
                            h.extended.insert(key.clone());
                            &mut h.plugin
                        }
                        headers::VERIFICATION_PLUGIN_MIN_VERSION => {
                            h.extended.insert(key.clone());
                            &mut h.plugin_min_version
                        }
                        _ => {
                            // Other extended attributes: only their
                            // presence matters, so their values are
                            // skipped without being built.
                            map.next_value::<IgnoredAny>()?;
                            h.extended.insert(key);
                            continue;
                        }
                    };
                    *slot = Some(map.next_value::<Value>()?);
                }
                Ok(h)
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests;
