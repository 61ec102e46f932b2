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

// ---------------------------------------------------------------------------
// Synthetic vectors: expected.json says which ones fail integrity.

/// The reason class an integrity failure of expected.json maps to.
fn expected_reason(file: &str, expectation: &str) -> ReasonCode {
    let signature_markers = [
        "signature is invalid",
        "ECDSA signature length",
        "algorithm mismatch",
        "mismatch between signature algorithm",
    ];
    if file.starts_with("chain/") {
        ReasonCode::InvalidCertificateChain
    } else if signature_markers.iter().any(|m| expectation.contains(m)) {
        ReasonCode::InvalidSignature
    } else {
        ReasonCode::MalformedEnvelope
    }
}

fn algorithm_in_name(file: &str) -> Option<SignatureAlgorithm> {
    [
        ("PS256", SignatureAlgorithm::Ps256),
        ("PS384", SignatureAlgorithm::Ps384),
        ("PS512", SignatureAlgorithm::Ps512),
        ("ES256", SignatureAlgorithm::Es256),
        ("ES384", SignatureAlgorithm::Es384),
        ("ES512", SignatureAlgorithm::Es512),
    ]
    .into_iter()
    .find(|(name, _)| file.contains(name))
    .map(|(_, alg)| alg)
}

/// Properties of passing synthetic envelopes that follow from their names.
fn check_passing_synthetic(
    file: &str,
    env: &VerifiedEnvelope,
    descriptor: &Descriptor,
) -> Result<(), String> {
    let media = if file.ends_with(".cose") {
        MEDIA_TYPE_COSE
    } else {
        MEDIA_TYPE_JWS
    };
    if env.media_type != media {
        return Err(format!("media type {}", env.media_type));
    }
    if let Some(alg) = algorithm_in_name(file) {
        if env.algorithm != alg {
            return Err(format!("algorithm {:?}, expected {alg:?}", env.algorithm));
        }
    }
    let want_scheme = if file.starts_with("signing-authority/") {
        SigningScheme::SigningAuthority
    } else {
        SigningScheme::X509
    };
    if env.scheme != want_scheme {
        return Err(format!("scheme {:?}", env.scheme));
    }
    if env.chain.len() != 3 || env.signature.is_empty() {
        return Err(format!(
            "chain of {} certificates, signature of {} bytes",
            env.chain.len(),
            env.signature.len()
        ));
    }
    if (file.starts_with("valid/") || file.starts_with("critical/"))
        && &env.payload.target != descriptor
    {
        return Err(format!("payload target {:?}", env.payload.target));
    }
    let wants_token = file.starts_with("timestamp/") && !file.contains("missing-token");
    if env.timestamp_token.is_some() != wants_token {
        return Err(format!(
            "timestamp token present: {}",
            env.timestamp_token.is_some()
        ));
    }
    if env.signing_agent.as_deref() != Some("synthetic-generator/1.0") {
        return Err(format!("signing agent {:?}", env.signing_agent));
    }
    let critical: Vec<&str> = env
        .critical_extended_attributes
        .iter()
        .map(String::as_str)
        .collect();
    let want_critical: &[&str] = if file.contains("unknown-critical-attribute") {
        &["io.example.unknown"]
    } else {
        &[]
    };
    if critical != want_critical {
        return Err(format!("critical extended attributes {critical:?}"));
    }
    let want_plugin = file
        .contains("verification-plugin")
        .then_some("com.example.plugin");
    if env.verification_plugin.as_deref() != want_plugin {
        return Err(format!("verification plugin {:?}", env.verification_plugin));
    }
    if file == "critical/cose-verification-plugin.cose"
        && env.verification_plugin_min_version.as_deref() != Some("1.0.0")
    {
        return Err(format!(
            "plugin min version {:?}",
            env.verification_plugin_min_version
        ));
    }
    if file.contains("expired-signature") && env.expiry != Some(t("2025-08-01T00:00:00Z")) {
        return Err(format!("expiry {:?}", env.expiry));
    }
    Ok(())
}

#[test]
fn synthetic_envelopes_match_expected_integrity() {
    let expected: Value = serde_json::from_slice(&read("synthetic/expected.json")).unwrap();
    let descriptor: Descriptor = serde_json::from_value(expected["descriptor"].clone()).unwrap();
    let results: BTreeMap<String, BTreeMap<String, String>> =
        serde_json::from_value(expected["results"].clone()).unwrap();
    let mut problems = Vec::new();
    let (mut failing, mut passing) = (0, 0);
    for (file, outcomes) in &results {
        // Integrity does not depend on the policy: the strict column decides.
        let strict = outcomes
            .get("strict")
            .map(String::as_str)
            .unwrap_or_default();
        let bytes = read(&format!("synthetic/envelopes/{file}"));
        let result = parse(&bytes);
        match strict.strip_prefix("fail:integrity") {
            Some(_) => {
                failing += 1;
                let want = expected_reason(file, strict);
                match result {
                    Ok(_) => problems.push(format!("{file}: integrity passed, expected {strict}")),
                    Err(e) if e.reason != want => problems.push(format!(
                        "{file}: {:?} ({}), expected {want:?} for {strict}",
                        e.reason, e.message
                    )),
                    Err(_) => {}
                }
            }
            None => {
                passing += 1;
                match result {
                    Err(e) => problems.push(format!(
                        "{file}: integrity failed ({:?}: {}), expected {strict}",
                        e.reason, e.message
                    )),
                    Ok(env) => {
                        if let Err(p) = check_passing_synthetic(file, &env, &descriptor) {
                            problems.push(format!("{file}: {p}"));
                        }
                    }
                }
            }
        }
    }
    assert!(
        failing >= 24 && passing >= 30,
        "{failing} failing, {passing} passing vectors"
    );
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Upstream vectors.

#[test]
fn notation_go_envelopes() {
    let dir = testdata::path("notation/notation-go/envelopes");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 17);
    let mut problems = Vec::new();
    for name in &names {
        let rel = format!("notation-go/envelopes/{name}");
        let bytes = read(&rel);
        let result = parse_and_verify(MEDIA_TYPE_JWS, &bytes);
        if name.contains("invalid") {
            match result {
                // The signature member is not base64url: a malformed envelope.
                Err(e) if e.reason == ReasonCode::MalformedEnvelope => {}
                other => problems.push(format!(
                    "{name}: {:?}",
                    other.map(|_| "passed").map_err(|e| e.message)
                )),
            }
            continue;
        }
        let env = match result {
            Ok(env) => env,
            Err(e) => {
                problems.push(format!("{name}: {:?}: {}", e.reason, e.message));
                continue;
            }
        };
        let want_plugin = if name.contains("pluginver") {
            Some("io.cncf.notary.plugin.unittest.mock")
        } else if name.contains("plugin") {
            Some("plugin-name")
        } else {
            None
        };
        if env.verification_plugin.as_deref() != want_plugin {
            problems.push(format!("{name}: plugin {:?}", env.verification_plugin));
        }
        if let Some(version) = name
            .strip_prefix("ca_")
            .and_then(|n| n.split("pluginver_sig_env_").nth(1))
        {
            let version = version.trim_end_matches(".json");
            if env.verification_plugin_min_version.as_deref() != Some(version) {
                problems.push(format!(
                    "{name}: min version {:?}",
                    env.verification_plugin_min_version
                ));
            }
        }
        let want_critical: &[&str] = if name.ends_with("_plugin_sig_env.json") {
            &["SomeKey"]
        } else {
            &[]
        };
        if env.critical_extended_attributes != want_critical {
            problems.push(format!(
                "{name}: critical {:?}",
                env.critical_extended_attributes
            ));
        }
        let want_scheme = if name.starts_with("sa_") {
            SigningScheme::SigningAuthority
        } else {
            SigningScheme::X509
        };
        if env.scheme != want_scheme {
            problems.push(format!("{name}: scheme {:?}", env.scheme));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn ca_valid_details() {
    let env = ok("notation-go/envelopes/ca_valid_sig_env.json");
    assert_eq!(env.algorithm, SignatureAlgorithm::Ps384);
    assert_eq!(env.scheme, SigningScheme::X509);
    assert_eq!(env.signing_time, t("2020-11-09T07:00:00Z"));
    assert_eq!(env.expiry, Some(t("2120-11-09T07:00:00Z")));
    assert_eq!(env.chain.len(), 2);
    // Spelled `io.cncf.notary.SigningAgent` upstream; Go matches it anyway.
    assert_eq!(env.signing_agent.as_deref(), Some("Notation/1.0.0"));
    assert_eq!(
        env.payload.target,
        Descriptor {
            media_type: "application/vnd.docker.distribution.manifest.v2+json".into(),
            digest: "sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e"
                .into(),
            size: 528,
        }
    );
    let sa = ok("notation-go/envelopes/sa_valid_sig_env.json");
    assert_eq!(sa.scheme, SigningScheme::SigningAuthority);
    assert_eq!(sa.signing_time, t("2020-11-09T07:00:00Z"));
}

#[test]
fn metadata_envelope_exposes_annotations() {
    let env = ok("notation-go/envelopes/sig_env_with_metadata.json");
    assert_eq!(
        env.payload
            .annotations
            .get("io.wabbit-networks.buildId")
            .map(String::as_str),
        Some("123")
    );
    assert_eq!(
        env.payload
            .annotations
            .get("io.wabbit-networks.buildTime")
            .map(String::as_str),
        Some("1672944615")
    );
    assert_eq!(env.payload.target.size, 942);
}

#[test]
fn examples_and_oci_layout_signatures() {
    let cose = ok("notation-go/examples/local-verify-cose/signature.cose");
    assert_eq!(cose.media_type, MEDIA_TYPE_COSE);
    assert_eq!(cose.algorithm, SignatureAlgorithm::Ps256);
    assert_eq!(
        cose.payload.target.digest,
        "sha256:c0d488a800e4127c334ad20d61d7bc21b4097540327217dfab52262adc02380c"
    );
    for rel in [
        "notation-go/examples/verify-blob-jws/signature.jws",
        "notation-go/examples/verifier-test-blob-jws/signature.jws",
    ] {
        let env = ok(rel);
        assert_eq!(env.algorithm, SignatureAlgorithm::Ps384, "{rel}");
        assert_eq!(env.payload.target.media_type, "video/mp4", "{rel}");
        assert_eq!(env.payload.target.size, 12, "{rel}");
    }
    let annotated = ok("notation-go/examples/verifier-test-blob-jws/signature.jws");
    assert_eq!(
        annotated
            .payload
            .annotations
            .get("buildId")
            .map(String::as_str),
        Some("101")
    );

    let manifest_digest = "sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0";
    for (rel, media) in [
        (
            "notation-go/oci-layout-signatures/jws_signature.sig",
            MEDIA_TYPE_JWS,
        ),
        (
            "notation-go/oci-layout-signatures/cose_signature.sig",
            MEDIA_TYPE_COSE,
        ),
    ] {
        let env = ok(rel);
        assert_eq!(env.media_type, media);
        assert_eq!(env.algorithm, SignatureAlgorithm::Ps256);
        assert_eq!(env.payload.target.digest, manifest_digest, "{rel}");
        assert_eq!(env.payload.target.size, 481, "{rel}");
        assert_eq!(env.chain.len(), 1, "{rel}");
    }
}

#[test]
fn timestamped_envelopes_pass_integrity_and_expose_the_token() {
    for (name, has_token) in [
        ("coseExpiredWithTimestamp.sig", true),
        ("coseWithTimestamp.sig", true),
        ("jwsExpiredWithTimestamp.sig", true),
        ("jwsWithTimestamp.sig", true),
        ("timestampAfterNotAfter.sig", true),
        ("timestampBeforeNotBefore.sig", true),
        ("withoutTimestamp.sig", false),
    ] {
        let env = ok(&format!("notation-go/timestamp/sigEnv/{name}"));
        assert_eq!(env.timestamp_token.is_some(), has_token, "{name}");
        if let Some(token) = &env.timestamp_token {
            // A CMS ContentInfo: a DER SEQUENCE.
            assert_eq!(token.first(), Some(&0x30), "{name}");
        }
    }
    // The offset form of RFC 3339 in jwsWithTimestamp.sig is read correctly.
    let env = ok("notation-go/timestamp/sigEnv/jwsWithTimestamp.sig");
    assert_eq!(env.signing_time, t("2024-06-18T06:29:33Z"));
}

// ---------------------------------------------------------------------------
// JWS editing helpers.

const JWS_X509: &str = "synthetic/envelopes/valid/jws-ec256-ES256.jws";
const JWS_SA: &str = "synthetic/envelopes/signing-authority/jws-sa-valid.jws";

fn jws(rel: &str) -> Map<String, Value> {
    match serde_json::from_slice(&read(rel)).unwrap() {
        Value::Object(m) => m,
        _ => panic!("{rel} is not an object"),
    }
}

fn to_bytes(env: &Map<String, Value>) -> Vec<u8> {
    serde_json::to_vec(env).unwrap()
}

fn b64u(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn member(env: &Map<String, Value>, name: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(env[name].as_str().unwrap()).unwrap()
}

/// The envelope with its protected header replaced by `edit(header)`.
fn edit_protected(rel: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> Vec<u8> {
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

fn x5c(env: &Map<String, Value>) -> Vec<Vec<u8>> {
    env["header"]["x5c"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| STANDARD.decode(c.as_str().unwrap()).unwrap())
        .collect()
}

fn set_x5c(env: &mut Map<String, Value>, certs: &[Vec<u8>]) {
    let encoded: Vec<Value> = certs.iter().map(|c| STANDARD.encode(c).into()).collect();
    env["header"]["x5c"] = Value::Array(encoded);
}

fn pem_to_der(pem: &[u8]) -> Vec<u8> {
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

// ---------------------------------------------------------------------------
// COSE: a test-side CBOR writer and walker, to rebuild envelopes with one
// rule broken (§k item 10).

enum C {
    I(i64),
    T(&'static str),
    B(Vec<u8>),
    A(Vec<C>),
    M(Vec<(C, C)>),
    Tag(u64, Box<C>),
    Raw(Vec<u8>),
}

fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

fn enc(c: &C, out: &mut Vec<u8>) {
    match c {
        C::I(i) if *i >= 0 => head(0, *i as u64, out),
        C::I(i) => head(1, (-1 - *i) as u64, out),
        C::T(s) => {
            head(3, s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        C::B(b) => {
            head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        C::A(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| enc(i, out));
        }
        C::M(entries) => {
            head(5, entries.len() as u64, out);
            for (k, v) in entries {
                enc(k, out);
                enc(v, out);
            }
        }
        C::Tag(tag, inner) => {
            head(6, *tag, out);
            enc(inner, out);
        }
        C::Raw(bytes) => out.extend_from_slice(bytes),
    }
}

fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    head(3, text.len() as u64, &mut out);
    out.extend_from_slice(text.as_bytes());
    out
}

fn cbor(c: &C) -> Vec<u8> {
    let mut out = Vec::new();
    enc(c, &mut out);
    out
}

/// Reads an item head at `pos`: (major, argument, position after the head).
fn read_head(bytes: &[u8], pos: usize) -> (u8, u64, usize) {
    let initial = bytes[pos];
    let info = initial & 0x1f;
    let (arg, len) = match info {
        0..=23 => (u64::from(info), 0),
        24 => (u64::from(bytes[pos + 1]), 1),
        25 => (
            u64::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]])),
            2,
        ),
        26 => (
            u64::from(u32::from_be_bytes(
                bytes[pos + 1..pos + 5].try_into().unwrap(),
            )),
            4,
        ),
        _ => panic!("unexpected head"),
    };
    (initial >> 5, arg, pos + 1 + len)
}

/// Position after the item at `pos` (definite lengths only).
fn skip(bytes: &[u8], pos: usize) -> usize {
    let (major, arg, next) = read_head(bytes, pos);
    match major {
        0 | 1 | 7 => next,
        2 | 3 => next + arg as usize,
        4 => (0..arg).fold(next, |p, _| skip(bytes, p)),
        5 => (0..arg * 2).fold(next, |p, _| skip(bytes, p)),
        6 => skip(bytes, next),
        _ => unreachable!(),
    }
}

/// Byte ranges of a COSE_Sign1: protected content, unprotected map (whole
/// item), payload content, signature content, and each x5chain DER.
struct Spans {
    protected: std::ops::Range<usize>,
    unprotected: std::ops::Range<usize>,
    payload: std::ops::Range<usize>,
    signature: std::ops::Range<usize>,
    certs: Vec<std::ops::Range<usize>>,
}

fn bstr_content(bytes: &[u8], pos: usize) -> (std::ops::Range<usize>, usize) {
    let (major, len, start) = read_head(bytes, pos);
    assert_eq!(major, 2);
    let end = start + len as usize;
    (start..end, end)
}

fn spans(bytes: &[u8]) -> Spans {
    assert_eq!(&bytes[..2], &[0xd2, 0x84]);
    let (protected, pos) = bstr_content(bytes, 2);
    let unprotected_start = pos;
    let (major, entries, mut p) = read_head(bytes, pos);
    assert_eq!(major, 5);
    let mut certs = Vec::new();
    for _ in 0..entries {
        let key_end = skip(bytes, p);
        let is_x5chain = bytes[p..key_end] == [0x18, 0x21];
        let value_end = skip(bytes, key_end);
        if is_x5chain {
            let (major, count, mut q) = read_head(bytes, key_end);
            assert_eq!(major, 4);
            for _ in 0..count {
                let (range, next) = bstr_content(bytes, q);
                certs.push(range);
                q = next;
            }
        }
        p = value_end;
    }
    let unprotected = unprotected_start..p;
    let (payload, pos) = bstr_content(bytes, p);
    let (signature, end) = bstr_content(bytes, pos);
    assert_eq!(end, bytes.len());
    Spans {
        protected,
        unprotected,
        payload,
        signature,
        certs,
    }
}

fn sign1(protected: &[u8], unprotected: &[u8], payload: &[u8], signature: &[u8]) -> Vec<u8> {
    cbor(&C::Tag(
        18,
        Box::new(C::A(vec![
            C::B(protected.to_vec()),
            C::Raw(unprotected.to_vec()),
            C::B(payload.to_vec()),
            C::B(signature.to_vec()),
        ])),
    ))
}

const COSE_VALID: &str = "synthetic/envelopes/valid/cose-ec256-ES256.cose";
const SCHEME: &str = "io.cncf.notary.signingScheme";
const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
const CTY: &str = "application/vnd.cncf.notary.payload.v1+json";

/// The protected header of COSE_VALID as entries, for editing.
fn cose_protected_entries() -> Vec<(C, C)> {
    vec![
        (C::I(1), C::I(-7)),
        (C::I(2), C::A(vec![C::T(SCHEME)])),
        (C::I(3), C::T(CTY)),
        (C::T(SIGNING_TIME), C::Tag(1, Box::new(C::I(1_767_225_600)))),
        (C::T(SCHEME), C::T("notary.x509")),
    ]
}

/// COSE_VALID with its protected header rebuilt from `edit(entries)`.
fn cose_with_protected(edit: impl FnOnce(&mut Vec<(C, C)>)) -> Vec<u8> {
    let original = read(COSE_VALID);
    let s = spans(&original);
    let mut entries = cose_protected_entries();
    edit(&mut entries);
    sign1(
        &cbor(&C::M(entries)),
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    )
}

fn cose_with_unprotected(unprotected: &C) -> Vec<u8> {
    let original = read(COSE_VALID);
    let s = spans(&original);
    sign1(
        &original[s.protected.clone()],
        &cbor(unprotected),
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    )
}

fn cose_entry(entries: &mut [(C, C)], index: usize, value: C) {
    entries[index].1 = value;
}

#[test]
fn cose_builder_round_trips() {
    let original = read(COSE_VALID);
    let s = spans(&original);
    assert_eq!(s.certs.len(), 3);
    let rebuilt = sign1(
        &original[s.protected.clone()],
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    assert_eq!(rebuilt, original);
    assert!(parse(&rebuilt).is_ok());
    // Our entries describe the same header the file carries.
    let decoded_same = cose_with_protected(|_| {});
    let e = parse(&decoded_same).err();
    // Either byte-identical (passes) or a re-encoding (signature fails): never a header rule.
    if let Some(e) = e {
        assert_eq!(e.reason, ReasonCode::InvalidSignature, "{}", e.message);
    }
}

#[test]
fn cose_signs_the_received_protected_bytes() {
    // Same header, non-minimal encoding of the alg label (0x18 0x01 for 1):
    // a verifier that re-encoded the map would accept; the signature covers
    // the bytes as received, so it must fail.
    let original = read(COSE_VALID);
    let s = spans(&original);
    let protected = &original[s.protected.clone()];
    let at = protected
        .windows(2)
        .position(|w| w == [0x01, 0x26])
        .expect("alg -7 entry");
    let mut respelled = protected[..at].to_vec();
    respelled.extend_from_slice(&[0x18, 0x01, 0x26]);
    respelled.extend_from_slice(&protected[at + 2..]);
    let envelope = sign1(
        &respelled,
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    fails_with(
        &envelope,
        ReasonCode::InvalidSignature,
        "re-encoded protected header",
    );
}

#[test]
fn k10_cose_header_rules() {
    type Edit = Box<dyn FnOnce(&mut Vec<(C, C)>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing cty",
            Box::new(|e| {
                e.remove(2);
            }),
            "missing content type",
        ),
        ("cty uint", Box::new(|e| cose_entry(e, 2, C::I(50))), "tstr"),
        (
            "cty json",
            Box::new(|e| cose_entry(e, 2, C::T("application/json"))),
            "not supported",
        ),
        (
            "empty crit",
            Box::new(|e| cose_entry(e, 1, C::A(vec![]))),
            "empty crit",
        ),
        (
            "crit not array",
            Box::new(|e| cose_entry(e, 1, C::T(SCHEME))),
            "invalid crit",
        ),
        (
            "crit bstr entry",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::B(vec![1])]))),
            "invalid crit",
        ),
        (
            "crit lacks scheme",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SIGNING_TIME)]))),
            "[io.cncf.notary.signingScheme]",
        ),
        (
            "crit absent label",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SCHEME), C::T("nope")]))),
            "missing critical header",
        ),
        (
            "crit lists alg",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SCHEME), C::I(1)]))),
            "must not be marked critical",
        ),
        (
            "alg missing",
            Box::new(|e| {
                e.remove(0);
            }),
            "algorithm not found",
        ),
        (
            "alg EdDSA",
            Box::new(|e| cose_entry(e, 0, C::I(-8))),
            "not supported: -8",
        ),
        (
            "alg text",
            Box::new(|e| cose_entry(e, 0, C::T("ES256"))),
            "not an int",
        ),
        (
            "scheme unsupported",
            Box::new(|e| cose_entry(e, 4, C::T("unsupported"))),
            "unsupported",
        ),
        (
            "scheme int",
            Box::new(|e| cose_entry(e, 4, C::I(1))),
            "invalid signingScheme",
        ),
        (
            "tag-0 time",
            Box::new(|e| cose_entry(e, 3, C::Tag(0, Box::new(C::T("2026-01-01T00:00:00Z"))))),
            "only Tag `1`",
        ),
        (
            "untagged time",
            Box::new(|e| cose_entry(e, 3, C::I(1_767_225_600))),
            "does not have a tag",
        ),
        (
            "text time",
            Box::new(|e| cose_entry(e, 3, C::T("2026-01-01T00:00:00Z"))),
            "invalid timeValue type",
        ),
        (
            "tag-1 text time",
            Box::new(|e| cose_entry(e, 3, C::Tag(1, Box::new(C::T("x"))))),
            "invalid timeValue type",
        ),
        (
            "missing time",
            Box::new(|e| {
                e.remove(3);
            }),
            "must be present",
        ),
        (
            "expiry not critical",
            Box::new(|e| {
                e.push((
                    C::T("io.cncf.notary.expiry"),
                    C::Tag(1, Box::new(C::I(1_867_225_600))),
                ))
            }),
            "[io.cncf.notary.expiry]",
        ),
        (
            "x509 with authenticSigningTime",
            Box::new(|e| {
                e.push((
                    C::T("io.cncf.notary.authenticSigningTime"),
                    C::Tag(1, Box::new(C::I(1_767_225_600))),
                ))
            }),
            "must not be present",
        ),
        (
            "plugin not critical",
            Box::new(|e| e.push((C::T("io.cncf.notary.verificationPlugin"), C::T("p")))),
            "not a critical",
        ),
        (
            "duplicate label",
            Box::new(|e| e.push((C::I(1), C::I(-7)))),
            "duplicate map key",
        ),
        (
            "x5chain label in both headers",
            Box::new(|e| e.push((C::I(33), C::A(vec![])))),
            "both",
        ),
    ];
    for (what, edit, want) in cases {
        let e = fails_with(
            &cose_with_protected(edit),
            ReasonCode::MalformedEnvelope,
            what,
        );
        assert!(
            e.message.contains(want),
            "{what}: {} (wanted {want})",
            e.message
        );
    }
}

#[test]
fn k10_cose_chain_and_structure_rules() {
    let original = read(COSE_VALID);
    let s = spans(&original);
    let certs: Vec<Vec<u8>> = s
        .certs
        .iter()
        .map(|r| original[r.clone()].to_vec())
        .collect();
    let agent = (C::T("io.cncf.notary.signingAgent"), C::T("x"));

    // x5chain missing, a single bstr, empty, leaf not a bstr.
    for (what, unprotected, want) in [
        ("x5chain missing", C::M(vec![agent]), "not present"),
        (
            "x5chain single bstr",
            C::M(vec![(C::I(33), C::B(certs[0].clone()))]),
            "not present",
        ),
        (
            "x5chain empty",
            C::M(vec![(C::I(33), C::A(vec![]))]),
            "not present",
        ),
        (
            "leaf not bstr",
            C::M(vec![(C::I(33), C::A(vec![C::T("leaf")]))]),
            "malformed leaf certificate",
        ),
        (
            "crit unprotected",
            C::M(vec![
                (C::I(33), C::A(vec![C::B(certs[0].clone())])),
                (C::I(2), C::A(vec![])),
            ]),
            "crit",
        ),
        ("unprotected not a map", C::A(vec![]), "not a map"),
        (
            "tag in unprotected",
            C::M(vec![(C::I(33), C::Tag(1, Box::new(C::A(vec![]))))]),
            "tag",
        ),
    ] {
        let e = fails_with(
            &cose_with_unprotected(&unprotected),
            ReasonCode::MalformedEnvelope,
            what,
        );
        assert!(e.message.contains(want), "{what}: {}", e.message);
    }

    // A garbage leaf is a chain failure.
    let garbage = C::M(vec![(C::I(33), C::A(vec![C::B(b"garbage".to_vec())]))]);
    fails_with(
        &cose_with_unprotected(&garbage),
        ReasonCode::InvalidCertificateChain,
        "garbage leaf",
    );

    // Leaf with an RSA-1024 key: refused as a chain (key size) failure.
    let small = pem_to_der(&read("notation-core-go/x509/inline/rsaKeyTooSmallLeaf.pem"));
    let original_protected = &original[s.protected.clone()];
    let mut entries = cose_protected_entries();
    cose_entry(&mut entries, 0, C::I(-37));
    let envelope = sign1(
        &cbor(&C::M(entries)),
        &cbor(&C::M(vec![(C::I(33), C::A(vec![C::B(small)]))])),
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    let e = fails_with(
        &envelope,
        ReasonCode::InvalidCertificateChain,
        "RSA-1024 leaf",
    );
    assert!(e.message.contains("1024"), "{}", e.message);

    // Outer structure: untagged, wrong arity, nil payload, empty signature,
    // indefinite-length array, trailing bytes.
    let untagged = original[1..].to_vec();
    fails_with(&untagged, ReasonCode::MalformedEnvelope, "untagged");
    let mut three = vec![0xd2, 0x83];
    three.extend_from_slice(&original[2..s.payload.start]);
    fails_with(&three, ReasonCode::MalformedEnvelope, "array of 3");
    let mut nil_payload = cbor(&C::Tag(18, Box::new(C::A(vec![]))));
    nil_payload.truncate(1);
    nil_payload.push(0x84);
    nil_payload.extend_from_slice(&cbor(&C::B(original_protected.to_vec())));
    nil_payload.extend_from_slice(&original[s.unprotected.clone()]);
    nil_payload.push(0xf6);
    nil_payload.extend_from_slice(&cbor(&C::B(original[s.signature.clone()].to_vec())));
    let e = fails_with(&nil_payload, ReasonCode::MalformedEnvelope, "nil payload");
    assert!(e.message.contains("detached"), "{}", e.message);
    let empty_sig = sign1(
        original_protected,
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &[],
    );
    fails_with(&empty_sig, ReasonCode::MalformedEnvelope, "empty signature");
    let mut indefinite = vec![0xd2, 0x9f];
    indefinite.extend_from_slice(&original[2..]);
    indefinite.push(0xff);
    fails_with(
        &indefinite,
        ReasonCode::MalformedEnvelope,
        "indefinite array",
    );
    let mut trailing = original.clone();
    trailing.push(0x00);
    fails_with(&trailing, ReasonCode::MalformedEnvelope, "trailing byte");
    let mut tag_1 = original.clone();
    tag_1[0] = 0xc1;
    fails_with(&tag_1, ReasonCode::MalformedEnvelope, "tag 1 instead of 18");
}

// ---------------------------------------------------------------------------
// Sweeps.

// The byte sweeps flip one bit (xor 0x01) of every byte of the signed parts
// and of the certificate DER. Single-certificate envelopes keep them fast in
// debug builds (a couple of RSA-2048 verifications per case); the
// self-signed leaf's own signature covers its certificate bytes.

/// A short summary of edits that unexpectedly kept integrity.
fn report(passed: &[String]) -> String {
    let shown: Vec<&String> = passed.iter().take(20).collect();
    format!(
        "integrity passed after {} edits, e.g. {shown:?}",
        passed.len()
    )
}

#[test]
fn jws_every_signed_byte_matters() {
    let base = jws("notation-go/oci-layout-signatures/jws_signature.sig");
    assert!(parse(&to_bytes(&base)).is_ok(), "baseline must pass");
    let mut passed = Vec::new();
    let mut tried = 0;
    for name in ["protected", "payload", "signature"] {
        let decoded = member(&base, name);
        for i in 0..decoded.len() {
            let mut edited = decoded.clone();
            edited[i] ^= 0x01;
            let mut env = base.clone();
            env.insert(name.into(), b64u(&edited).into());
            tried += 1;
            if parse(&to_bytes(&env)).is_ok() {
                passed.push(format!("{name}[{i}]"));
            }
        }
    }
    let certs = x5c(&base);
    for (c, der) in certs.iter().enumerate() {
        for i in 0..der.len() {
            let mut edited = certs.clone();
            edited[c][i] ^= 0x01;
            let mut env = base.clone();
            set_x5c(&mut env, &edited);
            tried += 1;
            if parse(&to_bytes(&env)).is_ok() {
                passed.push(format!("x5c[{c}][{i}]"));
            }
        }
    }
    assert!(tried > 1000, "{tried}");
    assert!(passed.is_empty(), "{}", report(&passed));
}

#[test]
fn cose_every_signed_byte_matters() {
    let original = read("notation-go/oci-layout-signatures/cose_signature.sig");
    assert!(parse(&original).is_ok(), "baseline must pass");
    let s = spans(&original);
    let mut ranges = vec![
        ("protected", s.protected.clone()),
        ("payload", s.payload.clone()),
        ("signature", s.signature.clone()),
    ];
    ranges.extend(s.certs.iter().map(|r| ("x5chain", r.clone())));
    let mut passed = Vec::new();
    let mut tried = 0;
    for (name, range) in ranges {
        for i in range {
            let mut edited = original.clone();
            edited[i] ^= 0x01;
            tried += 1;
            if parse(&edited).is_ok() {
                passed.push(format!("{name} byte {i}"));
            }
        }
    }
    assert!(tried > 1000, "{tried}");
    assert!(passed.is_empty(), "{}", report(&passed));
}

#[test]
fn truncations_and_garbage_never_panic() {
    for rel in [
        JWS_X509,
        COSE_VALID,
        "notation-go/timestamp/sigEnv/coseWithTimestamp.sig",
    ] {
        let bytes = read(rel);
        for n in 0..bytes.len() {
            assert!(
                parse(&bytes[..n]).is_err(),
                "{rel} truncated to {n} bytes passed"
            );
        }
    }
    // Deterministic pseudo-random garbage, raw and behind each format's prefix.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for len in [1usize, 2, 3, 8, 64, 512, 4096] {
        for _ in 0..50 {
            let noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            for prefix in [&b""[..], b"\xd2\x84", b"{\"payload\":\""] {
                let input = [prefix, &noise[..]].concat();
                for media in [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE] {
                    assert!(parse_and_verify(media, &input).is_err());
                }
            }
        }
    }
}

#[test]
fn hostile_nesting_and_sizes_are_bounded() {
    // Deep JSON nesting inside an ignored unprotected member.
    let deep = format!(
        "{{\"payload\":\"e30\",\"protected\":\"e30\",\"header\":{{\"x\":{}{}}},\"signature\":\"AA\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_and_verify(MEDIA_TYPE_JWS, deep.as_bytes()).is_err());
    // Deep CBOR nesting in the unprotected header and in the protected one.
    let mut deep_cbor = vec![0xd2, 0x84, 0x40];
    deep_cbor.extend(std::iter::repeat_n(0x81u8, 100_000));
    deep_cbor.push(0x00);
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &deep_cbor).is_err());
    let mut nested_protected = vec![0x81u8; 50_000];
    nested_protected.push(0x00);
    let envelope = sign1(&nested_protected, &[0xa0], b"{}", b"sig");
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &envelope).is_err());
    // Lengths that claim more than the input holds.
    let lying = [
        0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &lying).is_err());
    let lying_map = [
        0xd2, 0x84, 0x40, 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &lying_map).is_err());
    // Many labels, all listed in crit: lookups are indexed, so this stays
    // fast (a quadratic scan would take minutes). Integrity still fails.
    let names: Vec<String> = (0..20_000).map(|i| format!("io.example.{i}")).collect();
    let mut protected = vec![
        (C::I(1), C::I(-7)),
        (C::I(3), C::T(CTY)),
        (C::T(SIGNING_TIME), C::Tag(1, Box::new(C::I(1_767_225_600)))),
        (C::T(SCHEME), C::T("notary.x509")),
    ];
    let mut crit = vec![C::T(SCHEME)];
    for name in &names {
        protected.push((C::Raw(cbor_text(name)), C::I(0)));
        crit.push(C::Raw(cbor_text(name)));
    }
    protected.push((C::I(2), C::A(crit)));
    let unprotected: Vec<(C, C)> = (0..20_000).map(|i| (C::I(1000 + i), C::I(0))).collect();
    let started = std::time::Instant::now();
    let envelope = sign1(
        &cbor(&C::M(protected)),
        &cbor(&C::M(unprotected)),
        b"{}",
        b"sig",
    );
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &envelope).is_err());
    let mut header = Map::new();
    header.insert("alg".into(), "ES256".into());
    header.insert("cty".into(), CTY.into());
    header.insert(SCHEME.into(), "notary.x509".into());
    header.insert(SIGNING_TIME.into(), "2026-01-01T00:00:00Z".into());
    for name in &names {
        header.insert(name.clone(), json!(0));
    }
    let mut crit: Vec<Value> = names.iter().map(|n| json!(n)).collect();
    crit.push(json!(SCHEME));
    header.insert("crit".into(), Value::Array(crit));
    let mut env = jws(JWS_X509);
    env.insert(
        "protected".into(),
        b64u(&serde_json::to_vec(&header).unwrap()).into(),
    );
    assert!(parse(&to_bytes(&env)).is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let huge = vec![b' '; notation_verifier::envelope::MAX_ENVELOPE_SIZE + 1];
    let e = parse_and_verify(MEDIA_TYPE_JWS, &huge).unwrap_err();
    assert!(e.message.contains("limit"), "{}", e.message);
}
