//! Envelope integrity (spec digest §c, §d, §e, §k items 1-12) against the
//! shared vectors: synthetic expectations, upstream notation-go envelopes,
//! examples and timestamped signatures, plus envelopes edited here to break
//! exactly one rule, byte-flip sweeps over the signed parts, and truncation /
//! garbage sweeps that must never panic.

use std::collections::BTreeMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use notation_verifier::crypto::SignatureAlgorithm;
use notation_verifier::envelope::{
    parse_and_verify, EnvelopeError, SigningScheme, VerifiedEnvelope, MEDIA_TYPE_COSE,
    MEDIA_TYPE_JWS,
};
use notation_verifier::verdict::ReasonCode;
use notation_verifier::verify::Descriptor;
use serde_json::{json, Map, Value};

mod cose;
mod jws;
mod sweeps;
mod vectors;

use cose::*;
use jws::*;

fn read(rel: &str) -> Vec<u8> {
    let path = testdata::path("notation").join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn media_type_of(bytes: &[u8]) -> &'static str {
    if bytes.first() == Some(&b'{') {
        MEDIA_TYPE_JWS
    } else {
        MEDIA_TYPE_COSE
    }
}

fn parse(bytes: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    parse_and_verify(media_type_of(bytes), bytes)
}

fn ok(rel: &str) -> VerifiedEnvelope {
    parse(&read(rel)).unwrap_or_else(|e| {
        panic!(
            "{rel}: expected integrity to pass, got {:?}: {}",
            e.reason, e.message
        )
    })
}

fn fails_with(bytes: &[u8], reason: ReasonCode, what: &str) -> EnvelopeError {
    match parse(bytes) {
        Ok(_) => panic!("{what}: integrity passed, expected {reason:?}"),
        Err(e) => {
            assert_eq!(e.reason, reason, "{what}: {}", e.message);
            e
        }
    }
}

fn t(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}
