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
mod tests {
    use super::*;
    use crate::envelope::SigningScheme;
    use crate::verdict::ReasonCode;

    // A tiny encoder for building protected headers in tests.
    enum E<'a> {
        I(i64),
        T(&'a str),
        B(&'a [u8]),
        A(Vec<E<'a>>),
        M(Vec<(E<'a>, E<'a>)>),
        Tag(u64, Box<E<'a>>),
    }

    fn enc(e: &E<'_>, out: &mut Vec<u8>) {
        match e {
            E::I(i) if *i >= 0 => cbor::encode_head(0, *i as u64, out),
            E::I(i) => cbor::encode_head(1, (-1 - *i) as u64, out),
            E::T(t) => cbor::encode_text(t, out),
            E::B(b) => cbor::encode_bytes(b, out),
            E::A(items) => {
                cbor::encode_head(4, items.len() as u64, out);
                items.iter().for_each(|i| enc(i, out));
            }
            E::M(entries) => {
                cbor::encode_head(5, entries.len() as u64, out);
                for (k, v) in entries {
                    enc(k, out);
                    enc(v, out);
                }
            }
            E::Tag(t, inner) => {
                cbor::encode_head(6, *t, out);
                enc(inner, out);
            }
        }
    }

    const SCHEME: &str = "io.cncf.notary.signingScheme";
    const TIME: &str = "io.cncf.notary.signingTime";
    const CTY: &str = "application/vnd.cncf.notary.payload.v1+json";

    /// A valid protected header map with `edit` applied to its entries.
    fn protected(edit: impl FnOnce(&mut Vec<(E<'static>, E<'static>)>)) -> Vec<u8> {
        let mut entries = vec![
            (E::I(1), E::I(-7)),
            (E::I(2), E::A(vec![E::T(SCHEME)])),
            (E::I(3), E::T(CTY)),
            (E::T(SCHEME), E::T("notary.x509")),
            (E::T(TIME), E::Tag(1, Box::new(E::I(1_767_225_600)))),
        ];
        edit(&mut entries);
        let mut out = Vec::new();
        enc(&E::M(entries), &mut out);
        out
    }

    fn check(bytes: &[u8]) -> Result<(SignatureAlgorithm, NotaryHeaders), EnvelopeError> {
        let item = protected_map(bytes)?;
        check_protected(&header_map(&item, "protected")?)
    }

    fn set(entries: &mut [(E<'static>, E<'static>)], key: usize, value: E<'static>) {
        if let Some(e) = entries.get_mut(key) {
            e.1 = value;
        }
    }

    #[test]
    fn valid_protected_header() {
        if SignatureAlgorithm::from_cose(-7).is_none() {
            return; // crypto mapping not implemented yet
        }
        let (alg, n) = check(&protected(|_| {})).unwrap();
        assert_eq!(alg, SignatureAlgorithm::Es256);
        assert_eq!(n.scheme, SigningScheme::X509);
        assert_eq!(n.signing_time.timestamp(), 1_767_225_600);
        assert!(n.critical_extended_attributes.is_empty());
    }

    #[test]
    fn protected_header_rules() {
        type Edit = Box<dyn FnOnce(&mut Vec<(E<'static>, E<'static>)>)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|e| {
                    e.remove(2);
                }),
                "missing content type",
            ),
            (
                Box::new(|e| set(e, 2, E::I(50))),
                "content type should be of 'tstr' type",
            ),
            (
                Box::new(|e| set(e, 2, E::T("application/json"))),
                "not supported",
            ),
            (Box::new(|e| set(e, 1, E::A(vec![]))), "empty crit header"),
            (Box::new(|e| set(e, 1, E::T(SCHEME))), "invalid crit header"),
            (
                Box::new(|e| set(e, 1, E::A(vec![E::B(b"x")]))),
                "invalid crit header",
            ),
            (
                Box::new(|e| {
                    e.remove(1);
                }),
                "missing crit header",
            ),
            (
                Box::new(|e| set(e, 1, E::A(vec![E::T(TIME)]))),
                "not marked as critical: [io.cncf.notary.signingScheme]",
            ),
            (
                Box::new(|e| set(e, 1, E::A(vec![E::T(SCHEME), E::T("absent")]))),
                "missing critical header: absent",
            ),
            (
                Box::new(|e| set(e, 1, E::A(vec![E::T(SCHEME), E::I(1)]))),
                "must not be marked critical",
            ),
            (
                Box::new(|e| {
                    e.remove(0);
                }),
                "algorithm not found",
            ),
            (
                Box::new(|e| set(e, 0, E::I(-8))),
                "signature algorithm not supported: -8",
            ),
            (Box::new(|e| set(e, 0, E::T("ES256"))), "not an int"),
            (
                Box::new(|e| set(e, 3, E::T("unsupported"))),
                "unsupported signing scheme",
            ),
            (Box::new(|e| set(e, 3, E::I(1))), "invalid signingScheme"),
            (
                Box::new(|e| {
                    e.remove(3);
                }),
                "is missing",
            ),
            (
                Box::new(|e| set(e, 4, E::Tag(0, Box::new(E::T("2026-01-01T00:00:00Z"))))),
                "only Tag `1`",
            ),
            (
                Box::new(|e| set(e, 4, E::I(1_767_225_600))),
                "does not have a tag",
            ),
            (
                Box::new(|e| set(e, 4, E::Tag(1, Box::new(E::T("x"))))),
                "invalid timeValue type",
            ),
            (
                Box::new(|e| set(e, 4, E::T("2026-01-01T00:00:00Z"))),
                "invalid timeValue type",
            ),
            (
                Box::new(|e| {
                    e.remove(4);
                }),
                "must be present",
            ),
            (
                Box::new(|e| {
                    e.push((
                        E::T("io.cncf.notary.expiry"),
                        E::Tag(1, Box::new(E::I(1_867_225_600))),
                    ))
                }),
                "not marked as critical: [io.cncf.notary.expiry]",
            ),
            (
                Box::new(|e| {
                    e.push((
                        E::T("io.cncf.notary.expiry"),
                        E::Tag(1, Box::new(E::I(1_667_225_600))),
                    ))
                }),
                "cannot be equal to or before",
            ),
            (
                Box::new(|e| {
                    e.push((
                        E::T("io.cncf.notary.authenticSigningTime"),
                        E::Tag(1, Box::new(E::I(1))),
                    ))
                }),
                "must not be present",
            ),
        ];
        for (i, (edit, want)) in cases.into_iter().enumerate() {
            let err = check(&protected(edit)).unwrap_err();
            assert_eq!(err.reason, ReasonCode::MalformedEnvelope, "case {i}");
            assert!(
                err.message.contains(want),
                "case {i}: {} (wanted {want})",
                err.message
            );
        }
    }

    #[test]
    fn extended_attributes_and_plugins() {
        if SignatureAlgorithm::from_cose(-7).is_none() {
            return;
        }
        let bytes = protected(|e| {
            e.push((E::T("io.example.x"), E::M(vec![(E::I(1), E::I(2))])));
            e.push((E::I(100), E::I(1)));
            e.push((E::T("io.cncf.notary.verificationPlugin"), E::T("p")));
            set(
                e,
                1,
                E::A(vec![
                    E::T(SCHEME),
                    E::T("io.example.x"),
                    E::I(100),
                    E::T("io.cncf.notary.verificationPlugin"),
                    // Known, present, non-required: tolerated for COSE.
                    E::T(TIME),
                ]),
            );
        });
        let (_, n) = check(&bytes).unwrap();
        assert_eq!(
            n.critical_extended_attributes,
            vec!["io.example.x".to_owned(), "100".to_owned()]
        );
        assert_eq!(n.verification_plugin.as_deref(), Some("p"));
    }

    #[test]
    fn float_times_are_accepted() {
        if SignatureAlgorithm::from_cose(-7).is_none() {
            return;
        }
        let mut bytes = protected(|e| set(e, 4, E::Tag(1, Box::new(E::I(0)))));
        // Replace the tagged int 0 (c1 00) at the end with tag 1 over 1.5 (half).
        let tail = bytes.len() - 2;
        bytes.truncate(tail);
        bytes.extend_from_slice(&[0xc1, 0xf9, 0x3e, 0x00]);
        let (_, n) = check(&bytes).unwrap();
        assert_eq!(n.signing_time.timestamp_millis(), 1500);
    }

    #[test]
    fn outer_structure() {
        assert!(decode_sign1(&[0x84, 0x40, 0xa0, 0x40, 0x41, 0x00]).is_err()); // untagged
        assert!(decode_sign1(&[0xd2, 0x83, 0x40, 0xa0, 0x40]).is_err()); // array of 3
        assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x41, 0x00]).is_ok());
        assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x41, 0x00]).is_err()); // nil payload
        assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40]).is_err()); // empty signature
        assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x41, 0x00, 0x00]).is_err()); // trailing
        assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xc1, 0xa0, 0x40, 0x41, 0x00]).is_err()); // tag outside
        assert!(decode_sign1(&[0xd2, 0x9f, 0x40, 0xa0, 0x40, 0x41, 0x00, 0xff]).is_err());
        // indefinite
    }

    #[test]
    fn unprotected_rules() {
        let cert = E::B(b"der");
        let build = |entries: Vec<(E<'_>, E<'_>)>| {
            let mut out = Vec::new();
            enc(&E::M(entries), &mut out);
            out
        };
        let ok = build(vec![
            (E::I(33), E::A(vec![E::B(b"der")])),
            (E::T("io.cncf.notary.timestampSignature"), E::B(b"tst")),
            (E::T("io.cncf.notary.signingAgent"), E::T("agent/1")),
            (E::T("unknown"), E::I(1)),
        ]);
        let item = cbor::decode(&ok, false).unwrap();
        let u = check_unprotected(&header_map(&item, "unprotected").unwrap()).unwrap();
        assert_eq!(u.chain, vec![&b"der"[..]]);
        assert_eq!(u.timestamp_token.as_deref(), Some(&b"tst"[..]));
        assert_eq!(u.signing_agent.as_deref(), Some("agent/1"));

        for (entries, want) in [
            (vec![(E::I(33), cert)], "not present"),
            (vec![], "not present"),
            (vec![(E::I(33), E::A(vec![]))], "not present"),
            (
                vec![(E::I(33), E::A(vec![E::T("x")]))],
                "malformed leaf certificate",
            ),
            (
                vec![(E::I(33), E::A(vec![E::B(b"d")])), (E::I(2), E::A(vec![]))],
                "crit",
            ),
            (
                vec![
                    (E::I(33), E::A(vec![E::B(b"d")])),
                    (E::T("io.cncf.notary.timestampSignature"), E::T("x")),
                ],
                "not a byte string",
            ),
        ] {
            let bytes = build(entries);
            let item = cbor::decode(&bytes, false).unwrap();
            let err = check_unprotected(&header_map(&item, "unprotected").unwrap())
                .err()
                .unwrap();
            assert!(err.message.contains(want), "{}", err.message);
        }
        let too_long = build(vec![(
            E::I(33),
            E::A((0..11).map(|_| E::B(b"d")).collect()),
        )]);
        let item = cbor::decode(&too_long, false).unwrap();
        let err = check_unprotected(&header_map(&item, "unprotected").unwrap())
            .err()
            .unwrap();
        assert_eq!(err.reason, ReasonCode::InvalidCertificateChain);
    }

    #[test]
    fn sig_structure_layout() {
        let tbs = sig_structure(&[0xa0], b"p");
        assert_eq!(
            tbs,
            [
                &[0x84, 0x6a][..],
                b"Signature1",
                &[0x41, 0xa0, 0x40, 0x41, b'p']
            ]
            .concat()
        );
    }

    /// Checks our Sig_structure against a real envelope with p256 directly,
    /// independently of the crate's crypto module.
    #[test]
    fn sig_structure_matches_a_real_signature() {
        use der::Decode;
        use p256::ecdsa::signature::Verifier;
        let path = testdata::path("notation/synthetic/envelopes/valid/cose-ec256-ES256.cose");
        let bytes = std::fs::read(path).unwrap();
        let sign1 = decode_sign1(&bytes).unwrap();
        let unprotected = header_map(&sign1.unprotected, "unprotected").unwrap();
        let extras = check_unprotected(&unprotected).unwrap();
        let leaf = x509_cert::Certificate::from_der(extras.chain[0]).unwrap();
        let point = leaf
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes();
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
        let signature = p256::ecdsa::Signature::from_slice(sign1.signature).unwrap();
        let tbs = sig_structure(sign1.protected, sign1.payload);
        assert!(key.verify(&tbs, &signature).is_ok());
        let mut other = tbs.clone();
        other.push(0);
        assert!(key.verify(&other, &signature).is_err());
    }
}
