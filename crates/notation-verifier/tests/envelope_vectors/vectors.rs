//! Synthetic and upstream vectors: the integrity verdicts of expected.json and
//! the README, and what passing envelopes expose.

use super::*;

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
