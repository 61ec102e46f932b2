//! COSE_Sign1 envelopes, `application/cose` (spec digest §d).
//!
//! Decoding rules (§d.1): tag 18 is required and is the only tag allowed
//! in the outer structure; lengths are definite; map keys are unique and are
//! ints or text; tags are fine inside the protected header (times are tag 1).
//! The Sig_structure wraps the protected header bytes exactly as received.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use super::cbor::{self, Item};
use super::headers::{self, EpochSeconds, NotaryHeaders, PluginValue};
use super::{signer, EnvelopeError, Parts, VerifiedEnvelope, MEDIA_TYPE_COSE};
use crate::crypto::{PssSalt, SignatureAlgorithm};

/// CBOR tag 18 (COSE_Sign1) followed by an array of 4: the two bytes every
/// Notation COSE envelope starts with.
const COSE_SIGN1_PREFIX: [u8; 2] = [0xd2, 0x84];

const LABEL_ALG: i64 = 1;
const LABEL_CRIT: i64 = 2;
const LABEL_CONTENT_TYPE: i64 = 3;
const LABEL_X5CHAIN: i64 = 33;
/// Integer labels 0..=8 are COSE's own headers; the spec forbids listing
/// them in `crit` (§d.2 REC).
const RESERVED_LABELS: std::ops::RangeInclusive<i64> = 0..=8;

pub fn parse_and_verify(
    bytes: &[u8],
    cache: Option<&crate::chain::ChainCache>,
) -> Result<VerifiedEnvelope, EnvelopeError> {
    super::finish(parse_parts(bytes)?, cache)
}

/// Syntax and header rules only; [`super::finish`] does the cryptography.
pub(crate) fn parse_parts(bytes: &[u8]) -> Result<Parts<'_>, EnvelopeError> {
    let sign1 = decode_sign1(bytes)?;
    let protected_item = protected_map(sign1.protected)?;
    let protected = header_map(&protected_item, "protected")?;
    let unprotected = header_map(&sign1.unprotected, "unprotected")?;
    let (algorithm, notary) = check_protected(&protected)?;
    let extras = check_unprotected(&unprotected)?;
    // RFC 9052 §3: a label may appear in one of the two buckets only.
    if let Some(label) = protected.keys().find(|l| unprotected.contains_key(*l)) {
        return Err(EnvelopeError::malformed(format!(
            "header label {label} appears in both the protected and the unprotected header"
        )));
    }

    Ok(Parts {
        media_type: MEDIA_TYPE_COSE,
        algorithm,
        // go-cose requires salt length == hash length (§e).
        salt: PssSalt::HashLength,
        headers: notary,
        chain: extras.chain.into_iter().map(Into::into).collect(),
        signed_message: sig_structure(sign1.protected, sign1.payload),
        signature: sign1.signature.to_vec(),
        payload: sign1.payload.into(),
        timestamp_token: extras.timestamp_token,
        signing_agent: extras.signing_agent,
    })
}

/// The four members of a COSE_Sign1, borrowed from the input.
struct Sign1<'a> {
    protected: &'a [u8],
    unprotected: Item<'a>,
    payload: &'a [u8],
    signature: &'a [u8],
}

fn decode_sign1(bytes: &[u8]) -> Result<Sign1<'_>, EnvelopeError> {
    let body =
        match bytes.split_first() {
            Some((_, body)) if bytes.starts_with(&COSE_SIGN1_PREFIX) => body,
            _ => return Err(EnvelopeError::malformed(
                "cbor: invalid COSE_Sign1_Tagged object (tag 18 and a 4-element array expected)",
            )),
        };
    // After the leading tag no tag is allowed in the outer structure.
    let item = cbor::decode(body, false)
        .map_err(|e| EnvelopeError::malformed(format!("malformed COSE_Sign1: {e}")))?;
    let Item::Array(members) = item else {
        return Err(EnvelopeError::malformed(
            "malformed COSE_Sign1: not an array",
        ));
    };
    let [protected, unprotected, payload, signature]: [Item<'_>; 4] = members
        .try_into()
        .map_err(|_| EnvelopeError::malformed("malformed COSE_Sign1: not an array of 4"))?;
    let Item::Bytes(protected) = protected else {
        return Err(EnvelopeError::malformed(
            "malformed COSE_Sign1: protected header is not a byte string",
        ));
    };
    let payload = match payload {
        Item::Bytes(p) => p,
        Item::Null => {
            return Err(EnvelopeError::malformed(
                "COSE_Sign1 has a detached payload, which is not supported",
            ))
        }
        other => {
            return Err(EnvelopeError::malformed(format!(
                "malformed COSE_Sign1: payload is a {}, not a byte string",
                other.kind()
            )))
        }
    };
    let signature = match signature {
        Item::Bytes(s) if !s.is_empty() => s,
        Item::Bytes(_) => return Err(EnvelopeError::malformed("COSE_Sign1 signature is empty")),
        other => {
            return Err(EnvelopeError::malformed(format!(
                "malformed COSE_Sign1: signature is a {}, not a byte string",
                other.kind()
            )))
        }
    };
    Ok(Sign1 {
        protected,
        unprotected,
        payload,
        signature,
    })
}

/// ToBeSigned = CBOR(["Signature1", protected bytes as received, h'', payload]).
fn sig_structure(protected: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(protected.len() + payload.len() + 32);
    cbor::encode_head(4, 4, &mut out);
    cbor::encode_text("Signature1", &mut out);
    cbor::encode_bytes(protected, &mut out);
    cbor::encode_bytes(&[], &mut out);
    cbor::encode_bytes(payload, &mut out);
    out
}

/// A header label: int or text (§d.1).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Label<'a> {
    Int(i64),
    Text(&'a str),
}

impl fmt::Display for Label<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Label::Int(i) => write!(f, "{i}"),
            Label::Text(t) => f.write_str(&headers::truncate(t)),
        }
    }
}

/// Indexed by label: lookups stay logarithmic however many labels a
/// hostile header carries.
type HeaderMap<'a, 'b> = BTreeMap<Label<'a>, &'b Item<'a>>;

/// The protected header: a bstr wrapping a map (or nothing at all, which
/// is an empty map). Tags are allowed inside it.
fn protected_map(bytes: &[u8]) -> Result<Item<'_>, EnvelopeError> {
    if bytes.is_empty() {
        return Ok(Item::Map(Vec::new()));
    }
    cbor::decode(bytes, true)
        .map_err(|e| EnvelopeError::malformed(format!("malformed COSE protected header: {e}")))
}

fn header_map<'a, 'b>(item: &'b Item<'a>, which: &str) -> Result<HeaderMap<'a, 'b>, EnvelopeError> {
    let Item::Map(entries) = item else {
        return Err(EnvelopeError::malformed(format!(
            "COSE {which} header is a {}, not a map",
            item.kind()
        )));
    };
    let mut map = HeaderMap::new();
    for (key, value) in entries {
        // The CBOR reader already refused duplicate keys; this guards the
        // int normalisation all the same.
        if map.insert(label(key, which)?, value).is_some() {
            return Err(EnvelopeError::malformed(format!(
                "COSE {which} header has a duplicate label"
            )));
        }
    }
    Ok(map)
}

fn label<'a>(item: &Item<'a>, which: &str) -> Result<Label<'a>, EnvelopeError> {
    match item {
        Item::Text(t) => Ok(Label::Text(t)),
        other => other.as_i64().map(Label::Int).ok_or_else(|| {
            EnvelopeError::malformed(format!(
                "COSE {which} header label is a {}, not an int or text",
                other.kind()
            ))
        }),
    }
}

fn lookup<'a, 'b>(map: &HeaderMap<'a, 'b>, wanted: &Label<'_>) -> Option<&'b Item<'a>> {
    map.get(wanted).copied()
}

fn is_extended(label: &Label<'_>) -> bool {
    match label {
        Label::Int(i) => !matches!(*i, LABEL_ALG | LABEL_CRIT | LABEL_CONTENT_TYPE),
        Label::Text(t) => !headers::NOTARY_HEADERS.contains(t),
    }
}

/// The protected header rules of §d.2.
fn check_protected(
    map: &HeaderMap<'_, '_>,
) -> Result<(SignatureAlgorithm, NotaryHeaders), EnvelopeError> {
    let alg = match lookup(map, &Label::Int(LABEL_ALG)) {
        None => return Err(EnvelopeError::malformed("algorithm not found")),
        Some(item) => item.as_i64().ok_or_else(|| {
            EnvelopeError::malformed(format!("COSE alg is a {}, not an int", item.kind()))
        })?,
    };
    match lookup(map, &Label::Int(LABEL_CONTENT_TYPE)) {
        None => return Err(EnvelopeError::malformed("missing content type")),
        Some(Item::Text(cty)) => headers::check_content_type(cty)?,
        Some(_) => {
            return Err(EnvelopeError::malformed(
                "content type should be of 'tstr' type",
            ))
        }
    }
    let scheme = match lookup(map, &Label::Text(headers::SIGNING_SCHEME)) {
        None => {
            return Err(EnvelopeError::malformed(format!(
                "protected header \"{}\" is missing",
                headers::SIGNING_SCHEME
            )))
        }
        Some(Item::Text(s)) => headers::parse_scheme(s)?,
        Some(other) => {
            return Err(EnvelopeError::malformed(format!(
                "invalid signingScheme: a {}, not a text string",
                other.kind()
            )))
        }
    };
    let signing_time = time_header(map, headers::SIGNING_TIME)?;
    let authentic_signing_time = time_header(map, headers::AUTHENTIC_SIGNING_TIME)?;
    let expiry = time_header(map, headers::EXPIRY)?;
    let (signing_time, expiry) =
        headers::resolve_times(scheme, signing_time, authentic_signing_time, expiry)?;

    let crit = crit_labels(map)?;
    let mut critical_extended: Vec<String> = Vec::new();
    let mut seen = BTreeSet::new();
    for entry in &crit {
        if let Label::Int(i) = entry {
            if RESERVED_LABELS.contains(i) {
                return Err(EnvelopeError::malformed(format!(
                    "invalid crit header: COSE header label {i} must not be marked critical"
                )));
            }
        }
        if lookup(map, entry).is_none() {
            return Err(EnvelopeError::malformed(format!(
                "missing critical header: {entry}"
            )));
        }
        if is_extended(entry) && seen.insert(entry) {
            critical_extended.push(entry.to_string());
        }
    }
    let missing: Vec<&str> = headers::must_be_critical(scheme, expiry.is_some())
        .into_iter()
        .filter(|m| !crit.contains(&Label::Text(m)))
        .collect();
    if !missing.is_empty() {
        return Err(headers::not_marked_critical(&missing));
    }

    let is_critical = |name: &str| crit.contains(&Label::Text(name));
    let verification_plugin = headers::plugin_attribute(
        headers::VERIFICATION_PLUGIN,
        plugin_value(map, headers::VERIFICATION_PLUGIN),
        is_critical(headers::VERIFICATION_PLUGIN),
    )?;
    let verification_plugin_min_version = headers::plugin_attribute(
        headers::VERIFICATION_PLUGIN_MIN_VERSION,
        plugin_value(map, headers::VERIFICATION_PLUGIN_MIN_VERSION),
        is_critical(headers::VERIFICATION_PLUGIN_MIN_VERSION),
    )?;
    critical_extended.retain(|c| {
        c != headers::VERIFICATION_PLUGIN && c != headers::VERIFICATION_PLUGIN_MIN_VERSION
    });

    let algorithm = SignatureAlgorithm::from_cose(alg).ok_or_else(|| {
        EnvelopeError::malformed(format!("signature algorithm not supported: {alg}"))
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

/// `crit`: a non-empty array of labels.
fn crit_labels<'a>(map: &HeaderMap<'a, '_>) -> Result<Vec<Label<'a>>, EnvelopeError> {
    match lookup(map, &Label::Int(LABEL_CRIT)) {
        None => Err(EnvelopeError::malformed("missing crit header")),
        Some(Item::Array(entries)) if entries.is_empty() => {
            Err(EnvelopeError::malformed("empty crit header"))
        }
        Some(Item::Array(entries)) => entries
            .iter()
            .map(|e| {
                label(e, "crit").map_err(|_| {
                    EnvelopeError::malformed(format!(
                        "invalid crit header: entry is a {}, not an int or text label",
                        e.kind()
                    ))
                })
            })
            .collect(),
        Some(other) => Err(EnvelopeError::malformed(format!(
            "invalid crit header: a {}, not an array",
            other.kind()
        ))),
    }
}

/// A time header: absent, or CBOR tag 1 over an integer or a float.
fn time_header(
    map: &HeaderMap<'_, '_>,
    name: &str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, EnvelopeError> {
    let Some(item) = lookup(map, &Label::Text(name)) else {
        return Ok(None);
    };
    let seconds = match item {
        Item::Tag(1, inner) => match inner.as_ref() {
            Item::Float(f) => EpochSeconds::Float(*f),
            other => EpochSeconds::Int(other.as_i64().ok_or_else(|| {
                EnvelopeError::malformed(format!(
                    "invalid {name}: invalid timeValue type ({})",
                    other.kind()
                ))
            })?),
        },
        Item::Tag(tag, _) => {
            return Err(EnvelopeError::malformed(format!(
                "invalid {name}: only Tag `1` Datetime CBOR object is supported, found tag {tag}"
            )))
        }
        Item::Uint(_) | Item::Nint(_) | Item::Float(_) => {
            return Err(EnvelopeError::malformed(format!(
                "invalid {name}: header \"{name}\" time value does not have a tag"
            )))
        }
        other => {
            return Err(EnvelopeError::malformed(format!(
                "invalid {name}: invalid timeValue type ({})",
                other.kind()
            )))
        }
    };
    headers::epoch_seconds_to_time(name, seconds).map(Some)
}

fn plugin_value<'a>(map: &HeaderMap<'a, '_>, name: &str) -> PluginValue<'a> {
    match lookup(map, &Label::Text(name)) {
        None => PluginValue::Absent,
        Some(Item::Text(t)) => PluginValue::Text(t),
        Some(other) => PluginValue::Other(other.kind()),
    }
}

/// What the unprotected header carries.
struct Unprotected<'a> {
    chain: Vec<&'a [u8]>,
    timestamp_token: Option<Vec<u8>>,
    signing_agent: Option<String>,
}

fn check_unprotected<'a>(map: &HeaderMap<'a, '_>) -> Result<Unprotected<'a>, EnvelopeError> {
    if lookup(map, &Label::Int(LABEL_CRIT)).is_some() {
        return Err(EnvelopeError::malformed(
            "crit header is not allowed in the unprotected header",
        ));
    }
    // x5chain must be an array (a lone bstr is refused, as CORE does).
    let chain = match lookup(map, &Label::Int(LABEL_X5CHAIN)) {
        Some(Item::Array(certs)) => {
            signer::check_chain_length(certs.len())?;
            certs
                .iter()
                .enumerate()
                .map(|(i, c)| match c {
                    Item::Bytes(der) => Ok(*der),
                    other if i == 0 => Err(EnvelopeError::malformed(format!(
                        "COSE envelope malformed leaf certificate: a {}, not a byte string",
                        other.kind()
                    ))),
                    other => Err(EnvelopeError::malformed(format!(
                        "COSE envelope malformed certificate at chain position {i}: a {}, not a byte string",
                        other.kind()
                    ))),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => return Err(EnvelopeError::malformed("certificate chain is not present")),
    };
    let timestamp_token = match lookup(map, &Label::Text(headers::TIMESTAMP_SIGNATURE)) {
        None => None,
        Some(Item::Bytes([])) => None,
        Some(Item::Bytes(token)) => Some(token.to_vec()),
        Some(other) => {
            return Err(EnvelopeError::malformed(format!(
                "\"{}\" is a {}, not a byte string",
                headers::TIMESTAMP_SIGNATURE,
                other.kind()
            )))
        }
    };
    // Informational only: a non-text agent is ignored.
    let signing_agent = match lookup(map, &Label::Text(headers::SIGNING_AGENT)) {
        Some(Item::Text(agent)) => Some((*agent).to_owned()),
        _ => None,
    };
    Ok(Unprotected {
        chain,
        timestamp_token,
        signing_agent,
    })
}

#[cfg(test)]
mod tests;
