//! JWS envelopes edited here to break exactly one rule (§k items 1-9, 11, 12).

use super::*;

// JWS editing helpers.

pub(crate) const JWS_X509: &str = "synthetic/envelopes/valid/jws-ec256-ES256.jws";
pub(crate) const JWS_SA: &str = "synthetic/envelopes/signing-authority/jws-sa-valid.jws";

pub(crate) fn jws(rel: &str) -> Map<String, Value> {
    match serde_json::from_slice(&read(rel)).unwrap() {
        Value::Object(m) => m,
        _ => panic!("{rel} is not an object"),
    }
}

pub(crate) fn to_bytes(env: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(env).unwrap()
}

pub(crate) fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub(crate) fn member(env: &Map<String, Value>, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(env[name].as_str().unwrap()).unwrap()
}

/// The envelope with its protected header replaced by `edit(header)`.
pub(crate) fn edit_protected(rel: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
    let mut env = jws(rel);
    let mut header: Map<String, Value> =
        serde_json::from_slice(&member(&env, "protected")).unwrap();
    edit(&mut header);
    env.insert(
        "protected".into(),
        b64u(&serde_json::to_vec(&header).unwrap()).into(),
    );
    to_bytes(&env)
}

pub(crate) fn x5c(env: &Map<String, Value>) -> Vec<Vec<u8>> {
    env["header"]["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect()
}

pub(crate) fn set_x5c(env: &mut Map<String, Value>, certs: &[Vec<u8>]) {
    let encoded: Vec<Value> = certs.iter().map(|c| STANDARD.encode(c).into()).collect();
    env["header"]["x5c"] = Value::Array(encoded);
}

pub(crate) fn pem_to_der(pem: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(pem.to_vec()).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

// ---------------------------------------------------------------------------
// §k items 1-9, 11, 12 (JWS and dispatch).

#[test]
fn k1_bad_json() {
    let bytes = read(JWS_X509);
    let mut broken = bytes.clone();
    broken.truncate(bytes.len() - 1);
    broken.extend_from_slice(b",}");
    fails_with(&broken, ReasonCode::MalformedEnvelope, "trailing comma");
    fails_with(
        b"{\"payload\":}",
        ReasonCode::MalformedEnvelope,
        "missing value",
    );
    fails_with(b"[]", ReasonCode::MalformedEnvelope, "array");
}

#[test]
fn k2_tampered_signature() {
    let mut env = jws(JWS_X509);
    let mut sig = member(&env, "signature");
    if let Some(b) = sig.get_mut(10) {
        *b ^= 0x01;
    }
    env.insert("signature".into(), b64u(&sig).into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidSignature,
        "tampered signature",
    );

    // The same for COSE: the last byte of the file is the signature's last.
    let mut cose = read("synthetic/envelopes/valid/cose-ec256-ES256.cose");
    if let Some(b) = cose.last_mut() {
        *b ^= 0x01;
    }
    fails_with(
        &cose,
        ReasonCode::InvalidSignature,
        "tampered COSE signature",
    );
}

#[test]
fn k3_certificate_chain_members() {
    let base = jws(JWS_X509);
    let certs = x5c(&base);

    let mut env = base.clone();
    set_x5c(&mut env, &[]);
    let e = fails_with(&to_bytes(&env), ReasonCode::MalformedEnvelope, "empty x5c");
    assert!(e.message.contains("not present"), "{}", e.message);

    let mut env = base.clone();
    env["header"].as_object_mut().unwrap().remove("x5c");
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "missing x5c",
    );

    let mut env = base.clone();
    set_x5c(&mut env, &[b"garbage".to_vec()]);
    fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidCertificateChain,
        "garbage leaf",
    );

    let mut env = base.clone();
    let mut second_garbage = certs.clone();
    if let Some(c) = second_garbage.get_mut(1) {
        // Trailing data after a valid certificate.
        c.push(0);
    }
    set_x5c(&mut env, &second_garbage);
    fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidCertificateChain,
        "trailing data in 2nd cert",
    );

    let mut env = base.clone();
    env["header"]["x5c"] = json!(["not base64!"]);
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "x5c not base64",
    );

    // A url-safe (instead of standard) encoded certificate is refused.
    let mut env = base.clone();
    env["header"]["x5c"] = json!([URL_SAFE_NO_PAD.encode(&certs[0])]);
    assert!(parse(&to_bytes(&env)).is_err());

    // Too many certificates: refused before any is parsed.
    let mut env = base.clone();
    let long: Vec<Vec<u8>> = std::iter::repeat_n(certs[0].clone(), 11).collect();
    set_x5c(&mut env, &long);
    let e = fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidCertificateChain,
        "11 certificates",
    );
    assert!(e.message.contains("limit"), "{}", e.message);

    // Chain shape: reordered chain of the valid envelope.
    let mut env = base;
    let mut reordered = certs.clone();
    reordered.swap(1, 2);
    set_x5c(&mut env, &reordered);
    fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidCertificateChain,
        "reordered chain",
    );
}

#[test]
fn k4_protected_member_encoding() {
    let mut env = jws(JWS_X509);
    env.insert("protected".into(), "!!".into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "protected not base64url",
    );

    let mut env = jws(JWS_X509);
    env.insert("protected".into(), b64u(b"not json").into());
    let e = fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "protected not JSON",
    );
    assert!(e.message.contains("protected header"), "{}", e.message);

    // Padded base64url is not the unpadded form JWS requires.
    let mut env = jws(JWS_X509);
    let protected = env["protected"].as_str().unwrap().to_owned();
    let padding = "=".repeat((4 - protected.len() % 4) % 4);
    if !padding.is_empty() {
        env.insert("protected".into(), format!("{protected}{padding}").into());
        fails_with(
            &to_bytes(&env),
            ReasonCode::MalformedEnvelope,
            "padded protected",
        );
    }

    // Duplicate member names in the protected header.
    let mut env = jws(JWS_X509);
    let raw = String::from_utf8(member(&env, "protected")).unwrap();
    let duplicated = raw.replacen("{", "{\"alg\":\"ES256\",", 1);
    env.insert("protected".into(), b64u(duplicated.as_bytes()).into());
    let e = fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "duplicate alg",
    );
    assert!(e.message.contains("duplicate"), "{}", e.message);

    // A protected header that is a JSON array.
    let mut env = jws(JWS_X509);
    env.insert("protected".into(), b64u(b"[]").into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "protected array",
    );
}

#[test]
fn k5_signature_member_encoding() {
    let mut env = jws(JWS_X509);
    env.insert("signature".into(), "a+b/".into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "signature std base64",
    );
    let mut env = jws(JWS_X509);
    env.insert("signature".into(), "".into());
    let e = fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "empty signature",
    );
    assert!(e.message.contains("signature missing"), "{}", e.message);
    let mut env = jws(JWS_X509);
    env.remove("signature");
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "no signature member",
    );
}

#[test]
fn k6_payload_member_encoding() {
    let mut env = jws(JWS_X509);
    env.insert("payload".into(), "***".into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "payload not base64url",
    );
    // A payload changed after signing is a signature failure.
    let mut env = jws(JWS_X509);
    let payload = String::from_utf8(member(&env, "payload"))
        .unwrap()
        .replace("246", "247");
    env.insert("payload".into(), b64u(payload.as_bytes()).into());
    fails_with(
        &to_bytes(&env),
        ReasonCode::InvalidSignature,
        "payload edited",
    );
}

#[test]
fn k7_scheme_and_time_rules() {
    let e = fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert(
                "io.cncf.notary.authenticSigningTime".into(),
                "2026-01-01T00:00:00Z".into(),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "x509 + authenticSigningTime",
    );
    assert!(e.message.contains("must not be present"), "{}", e.message);
    let e = fails_with(
        &edit_protected(JWS_SA, |h| {
            h.insert(
                "io.cncf.notary.signingTime".into(),
                "2026-01-01T00:00:00Z".into(),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "SA + signingTime",
    );
    assert!(e.message.contains("must not be present"), "{}", e.message);
    let e = fails_with(
        &edit_protected(JWS_SA, |h| {
            h.remove("io.cncf.notary.authenticSigningTime");
            h.insert("crit".into(), json!(["io.cncf.notary.signingScheme"]));
        }),
        ReasonCode::MalformedEnvelope,
        "SA without authenticSigningTime",
    );
    assert!(e.message.contains("must be present"), "{}", e.message);
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.remove("io.cncf.notary.signingTime");
        }),
        ReasonCode::MalformedEnvelope,
        "x509 without signingTime",
    );
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert(
                "io.cncf.notary.signingScheme".into(),
                "notary.x509.v2".into(),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "unknown scheme",
    );
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert("io.cncf.notary.signingTime".into(), "yesterday".into());
        }),
        ReasonCode::MalformedEnvelope,
        "bad time",
    );
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert(
                "io.cncf.notary.expiry".into(),
                "2026-01-01T00:00:00Z".into(),
            );
            h.insert(
                "crit".into(),
                json!(["io.cncf.notary.signingScheme", "io.cncf.notary.expiry"]),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "expiry equal to signing time",
    );
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert("cty".into(), "application/json".into());
        }),
        ReasonCode::MalformedEnvelope,
        "wrong cty",
    );
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.remove("cty");
        }),
        ReasonCode::MalformedEnvelope,
        "missing cty",
    );
}

#[test]
fn k8_crit_rules() {
    let e = fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert(
                "crit".into(),
                json!(["io.cncf.notary.signingScheme", "testKey"]),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "crit lists an absent key",
    );
    assert!(
        e.message
            .contains("\"testKey\" header is marked critical but not present"),
        "{}",
        e.message
    );
    let e = fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert(
                "io.cncf.notary.expiry".into(),
                "2100-01-01T00:00:00Z".into(),
            );
        }),
        ReasonCode::MalformedEnvelope,
        "expiry not critical",
    );
    assert!(
        e.message.contains("[io.cncf.notary.expiry]"),
        "{}",
        e.message
    );
    let e = fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert("crit".into(), json!([]));
        }),
        ReasonCode::MalformedEnvelope,
        "empty crit",
    );
    assert!(e.message.contains("missing \"crit\""), "{}", e.message);
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.remove("crit");
        }),
        ReasonCode::MalformedEnvelope,
        "no crit",
    );
    for listed in [
        "alg",
        "cty",
        "crit",
        "io.cncf.notary.signingTime",
        "io.cncf.notary.signingScheme",
    ] {
        fails_with(
            &edit_protected(JWS_X509, |h| {
                h.insert(
                    "crit".into(),
                    json!(["io.cncf.notary.signingScheme", listed]),
                );
            }),
            ReasonCode::MalformedEnvelope,
            listed,
        );
    }
    // A plugin attribute that is present but not critical.
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert("io.cncf.notary.verificationPlugin".into(), "p".into());
        }),
        ReasonCode::MalformedEnvelope,
        "plugin not critical",
    );
}

#[test]
fn k9_unsupported_algorithms() {
    for alg in ["ES222", "none", "HS256", "RS256", "EdDSA", "es256", ""] {
        let e = fails_with(
            &edit_protected(JWS_X509, |h| {
                h.insert("alg".into(), alg.into());
            }),
            ReasonCode::MalformedEnvelope,
            alg,
        );
        assert!(e.message.contains("not supported"), "{alg}: {}", e.message);
    }
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.remove("alg");
        }),
        ReasonCode::MalformedEnvelope,
        "no alg",
    );
    // A supported algorithm that does not match the leaf key (P-256).
    fails_with(
        &edit_protected(JWS_X509, |h| {
            h.insert("alg".into(), "ES384".into());
        }),
        ReasonCode::InvalidSignature,
        "ES384 with a P-256 leaf",
    );
}

#[test]
fn k11_unknown_media_type() {
    let bytes = read(JWS_X509);
    let e = parse_and_verify("application/unsupported+json", &bytes).unwrap_err();
    assert_eq!(e.reason, ReasonCode::MalformedEnvelope);
    assert!(
        e.message.contains("application/unsupported+json"),
        "{}",
        e.message
    );
    // Media types are exact: a JWS handed over as COSE fails, and vice versa.
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &bytes).is_err());
    let cose = read("synthetic/envelopes/valid/cose-ec256-ES256.cose");
    assert!(parse_and_verify(MEDIA_TYPE_JWS, &cose).is_err());
}

#[test]
fn k12_empty_blob() {
    for media in [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE] {
        let e = parse_and_verify(media, b"").unwrap_err();
        assert_eq!(e.reason, ReasonCode::MalformedEnvelope, "{media}");
    }
}

#[test]
fn jws_top_level_and_unprotected_members() {
    let mut env = jws(JWS_X509);
    env.insert("extra".into(), json!(1));
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "unknown top-level member",
    );

    let mut env = jws(JWS_X509);
    env.insert("signatures".into(), json!([]));
    fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "signatures member",
    );

    // Duplicate top-level member (serde_json maps cannot hold one: edit text).
    let text = String::from_utf8(read(JWS_X509)).unwrap();
    let duplicated = text.replacen("{", "{\"payload\":\"e30\",", 1);
    fails_with(
        duplicated.as_bytes(),
        ReasonCode::MalformedEnvelope,
        "duplicate payload",
    );

    // Unknown unprotected members are ignored; the result is unchanged.
    let mut env = jws(JWS_X509);
    env["header"]["io.example.note"] = json!({"anything": [1, 2, 3]});
    let env = parse(&to_bytes(&env)).unwrap();
    assert_eq!(env.chain.len(), 3);

    // A member Go would read as `x5c` (names fold) is refused, not ignored.
    let mut env = jws(JWS_X509);
    env["header"]["X5C"] = json!(["AAAA"]);
    let e = fails_with(
        &to_bytes(&env),
        ReasonCode::MalformedEnvelope,
        "X5C next to x5c",
    );
    assert!(e.message.contains("X5C"), "{}", e.message);
}

#[test]
fn unsigned_members_do_not_affect_integrity() {
    // signingAgent changed, added and removed.
    let mut env = jws(JWS_X509);
    env["header"]["io.cncf.notary.signingAgent"] = json!("someone-else/9.9");
    let verified = parse(&to_bytes(&env)).unwrap();
    assert_eq!(verified.signing_agent.as_deref(), Some("someone-else/9.9"));
    env["header"]
        .as_object_mut()
        .unwrap()
        .remove("io.cncf.notary.signingAgent");
    assert_eq!(parse(&to_bytes(&env)).unwrap().signing_agent, None);

    // The timestamp token is unsigned too: removing it keeps integrity.
    let mut env = jws("synthetic/envelopes/timestamp/jws-ts-valid-leaf.jws");
    env["header"]
        .as_object_mut()
        .unwrap()
        .remove("io.cncf.notary.timestampSignature");
    assert_eq!(parse(&to_bytes(&env)).unwrap().timestamp_token, None);

    // COSE: same-length replacement of the agent text in the unprotected map.
    let cose = read("synthetic/envelopes/valid/cose-ec256-ES256.cose");
    let from = b"synthetic-generator/1.0";
    let to = b"other-generator/9.9.9.9";
    assert_eq!(from.len(), to.len());
    let at = cose.windows(from.len()).position(|w| w == from).unwrap();
    let mut edited = cose.clone();
    edited[at..at + to.len()].copy_from_slice(to);
    let verified = parse(&edited).unwrap();
    assert_eq!(
        verified.signing_agent.as_deref(),
        Some("other-generator/9.9.9.9")
    );
}
