//! Unit tests of the JWS envelope decoding rules.

use super::*;
use crate::envelope::SigningScheme;
use crate::verdict::ReasonCode;

fn header(json: &str) -> ProtectedHeader {
    serde_json::from_str(json).unwrap()
}

fn base(extra: &str, crit: &str) -> String {
    format!(
        r#"{{"alg":"ES256","cty":"application/vnd.cncf.notary.payload.v1+json","crit":{crit},"io.cncf.notary.signingScheme":"notary.x509","io.cncf.notary.signingTime":"2026-01-01T00:00:00Z"{extra}}}"#
    )
}

/// The algorithm is mapped last (by the crypto module), so tests that
/// expect a header to *pass* only run once it knows ES256.
fn alg_known() -> bool {
    SignatureAlgorithm::from_jws("ES256").is_some()
}

#[test]
fn protected_members_go_would_fold_are_refused() {
    for (json, says) in [
        (r#"{"alg":"PS256","cty":"a","Cty":"b"}"#, "same name"),
        (
            r#"{"alg":"PS256","io.cncf.notary.Expiry":"2020-01-01T00:00:00Z"}"#,
            "not spelled \"io.cncf.notary.expiry\"",
        ),
        (r#"{"ALG":"PS256"}"#, "not spelled \"alg\""),
        (r#"{"alg":"PS256","x-ext":1,"X-EXT":2}"#, "same name"),
    ] {
        let e = serde_json::from_str::<ProtectedHeader>(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(says), "{json}: {e}");
    }
    for (json, says) in [
        (r#"{"x5c":[],"X5C":[]}"#, "same name"),
        (r#"{"X5c":[]}"#, "not spelled \"x5c\""),
        (
            r#"{"io.cncf.notary.TimeStampSignature":"AA=="}"#,
            "not spelled",
        ),
    ] {
        let e = serde_json::from_str::<Unprotected>(json)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains(says), "{json}: {e}");
    }
}

#[test]
fn duplicate_protected_members_are_refused() {
    let json = r#"{"alg":"ES256","alg":"ES256"}"#;
    assert!(serde_json::from_str::<ProtectedHeader>(json).is_err());
}

#[test]
fn extended_attributes_are_recorded_by_name() {
    let h = header(&base(
        r#","io.example.a":{"deep":[1,2,3]},"b":1"#,
        r#"["io.cncf.notary.signingScheme"]"#,
    ));
    assert!(h.extended.contains("io.example.a"));
    assert!(h.extended.contains("b"));
    assert!(!h.extended.contains("alg"));
}

#[test]
fn valid_header_passes() {
    if !alg_known() {
        return;
    }
    let (alg, n) =
        check_protected(&header(&base("", r#"["io.cncf.notary.signingScheme"]"#))).unwrap();
    assert_eq!(alg, SignatureAlgorithm::Es256);
    assert_eq!(n.scheme, SigningScheme::X509);
    assert!(n.critical_extended_attributes.is_empty());
}

#[test]
fn crit_rules() {
    let scheme = r#""io.cncf.notary.signingScheme""#;
    let cases: &[(&str, &str, &str)] = &[
        ("", "[]", "missing \"crit\""),
        ("", "null", "missing \"crit\""),
        ("", r#""io.cncf.notary.signingScheme""#, "must be an array"),
        ("", "[1]", "must be strings"),
        ("", r#"["alg"]"#, "marked critical but not present"),
        (
            "",
            &format!("[{scheme},{scheme}]"),
            "marked critical but not present",
        ),
        (
            "",
            &format!(r#"[{scheme},"io.cncf.notary.signingTime"]"#),
            "marked critical but not present",
        ),
        (
            "",
            &format!(r#"[{scheme},"io.cncf.notary.expiry"]"#),
            "marked critical but not present",
        ),
        (
            "",
            &format!(r#"[{scheme},"testKey"]"#),
            "\"testKey\" header is marked critical but not present",
        ),
        (
            r#","io.cncf.notary.expiry":"2100-01-01T00:00:00Z""#,
            &format!("[{scheme}]"),
            "not marked as critical: [io.cncf.notary.expiry]",
        ),
        ("", r#"["io.example.x"]"#, "marked critical but not present"),
    ];
    for (extra, crit, want) in cases {
        let err = check_protected(&header(&base(extra, crit))).unwrap_err();
        assert_eq!(err.reason, ReasonCode::MalformedEnvelope);
        assert!(err.message.contains(want), "{crit}: {}", err.message);
    }
    // Missing signingScheme in crit while another entry is fine.
    let err = check_protected(&header(&base(
        r#","io.example.x":1"#,
        r#"["io.example.x"]"#,
    )))
    .unwrap_err();
    assert!(err
        .message
        .contains("not marked as critical: [io.cncf.notary.signingScheme]"));
}

#[test]
fn extended_and_plugin_attributes() {
    let extra = r#","io.example.x":1,"io.example.y":2,"io.cncf.notary.verificationPlugin":"p","io.cncf.notary.verificationPluginMinVersion":"1.0.0""#;
    let crit = r#"["io.cncf.notary.signingScheme","io.example.x","io.example.x","io.cncf.notary.verificationPlugin","io.cncf.notary.verificationPluginMinVersion"]"#;
    if alg_known() {
        let (_, n) = check_protected(&header(&base(extra, crit))).unwrap();
        assert_eq!(
            n.critical_extended_attributes,
            vec!["io.example.x".to_owned()]
        );
        assert_eq!(n.verification_plugin.as_deref(), Some("p"));
        assert_eq!(n.verification_plugin_min_version.as_deref(), Some("1.0.0"));
    }

    // A plugin attribute must be critical, a string and not blank.
    let crit_scheme = r#"["io.cncf.notary.signingScheme"]"#;
    assert!(check_protected(&header(&base(
        r#","io.cncf.notary.verificationPlugin":"p""#,
        crit_scheme
    )))
    .is_err());
    let crit_plugin = r#"["io.cncf.notary.signingScheme","io.cncf.notary.verificationPlugin"]"#;
    assert!(check_protected(&header(&base(
        r#","io.cncf.notary.verificationPlugin":1"#,
        crit_plugin
    )))
    .is_err());
    assert!(check_protected(&header(&base(
        r#","io.cncf.notary.verificationPlugin":" ""#,
        crit_plugin
    )))
    .is_err());
}

#[test]
fn scheme_and_type_rules() {
    let crit = r#"["io.cncf.notary.signingScheme"]"#;
    let bad = [
        base("", crit).replace("ES256", "ES222"),
        base("", crit).replace("\"ES256\"", "null"),
        base("", crit).replace("notary.x509\"", "notary.x509.v2\""),
        base("", crit).replace(
            "application/vnd.cncf.notary.payload.v1+json",
            "application/json",
        ),
        base("", crit).replace("\"2026-01-01T00:00:00Z\"", "1767225600"),
        base(
            r#","io.cncf.notary.authenticSigningTime":"2026-01-01T00:00:00Z""#,
            crit,
        ),
    ];
    for json in bad {
        let err = check_protected(&header(&json)).unwrap_err();
        assert_eq!(err.reason, ReasonCode::MalformedEnvelope, "{json}");
    }
}

#[test]
fn top_level_shape() {
    let ok =
        r#"{"payload":"","protected":"","header":{"x5c":[],"unknown":{"a":[1]}},"signature":""}"#;
    assert!(serde_json::from_str::<Flattened>(ok).is_ok());
    for bad in [
        r#"{"payload":"","protected":"","header":{},"signature":"","extra":1}"#,
        r#"{"payload":"","protected":"","header":{},"signature":"","signatures":[]}"#,
        r#"{"payload":"","payload":"","protected":"","header":{},"signature":""}"#,
        r#"{"protected":"","header":{},"signature":""}"#,
        r#"{"payload":"","protected":"","signature":""}"#,
        r#"{"payload":1,"protected":"","header":{},"signature":""}"#,
        r#"{"payload":"","protected":"","header":{"x5c":"abc"},"signature":""}"#,
        r#"{"payload":"","protected":"","header":{"x5c":[],"x5c":[]},"signature":""}"#,
        r#"[]"#,
    ] {
        assert!(serde_json::from_str::<Flattened>(bad).is_err(), "{bad}");
    }
}

#[test]
fn signing_agent_any_case() {
    let h: Unprotected = serde_json::from_str(r#"{"io.cncf.notary.SigningAgent":"a/1"}"#).unwrap();
    assert_eq!(h.signing_agent.as_deref(), Some("a/1"));
}

/// The signing input is `protected.payload` as received: checked with
/// p256 directly, independently of the crate's crypto module.
#[test]
fn signing_input_matches_a_real_signature() {
    use der::Decode;
    use p256::ecdsa::signature::Verifier;
    let path = testdata::path("notation/synthetic/envelopes/valid/jws-ec256-ES256.jws");
    let bytes = std::fs::read(path).unwrap();
    let env: Flattened = serde_json::from_slice(&bytes).unwrap();
    let leaf_der = STANDARD.decode(&env.header.x5c.unwrap()[0]).unwrap();
    let leaf = x509_cert::Certificate::from_der(&leaf_der).unwrap();
    let point = leaf
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&env.signature).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&raw).unwrap();
    let input = format!("{}.{}", env.protected, env.payload);
    assert!(key.verify(input.as_bytes(), &signature).is_ok());
}
