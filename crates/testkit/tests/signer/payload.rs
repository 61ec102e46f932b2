//! What the signer writes: the signed payload, algorithm overrides and the
//! signature manifest.

use super::*;

#[test]
fn annotations_go_into_the_signed_payload() {
    let pki = TestPki::new(KeyKind::Rsa2048).unwrap();
    let options = SignOptions::at(now())
        .with_annotation("io.wabbit-networks.buildId", "123")
        .with_annotation("team", "platform");
    for media_type in MEDIA_TYPES {
        let env = parse_and_verify(media_type, &sign(media_type, &pki, &options)).unwrap();
        assert_eq!(env.payload.annotations.len(), 2);
        assert_eq!(
            env.payload
                .annotations
                .get("io.wabbit-networks.buildId")
                .map(String::as_str),
            Some("123")
        );
        assert_eq!(
            env.signing_agent.as_deref(),
            Some(testkit::signer::DEFAULT_SIGNING_AGENT)
        );
    }
}

#[test]
fn payload_names_the_signed_descriptor() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let mut other = image();
    other.size += 1;
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(now()));
        let verdict = verify_for(&ca_verifier(&pki), media_type, &envelope, now(), &other);
        assert_failed(&verdict, ReasonCode::DigestMismatch, media_type);
    }
}

#[test]
fn alg_override_makes_an_integrity_failure() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let credentials = pki.credentials();
    for alg in ["ES384", "PS256", "none"] {
        let envelope = sign_jws(
            &credentials,
            &image(),
            &SignOptions::at(now()).with_jws_alg(alg),
        )
        .unwrap();
        let err = parse_and_verify(MEDIA_TYPE_JWS, &envelope).unwrap_err();
        println!("JWS alg {alg}: {} ({})", err.message, err.reason);
    }
    for alg in [-35, -37, -8] {
        let envelope = sign_cose(
            &credentials,
            &image(),
            &SignOptions::at(now()).with_cose_alg(alg),
        )
        .unwrap();
        let err = parse_and_verify(MEDIA_TYPE_COSE, &envelope).unwrap_err();
        println!("COSE alg {alg}: {} ({})", err.message, err.reason);
    }
    // Writing the key's own algorithm explicitly changes nothing.
    let envelope = sign_jws(
        &credentials,
        &image(),
        &SignOptions::at(now()).with_jws_alg("ES256"),
    )
    .unwrap();
    parse_and_verify(MEDIA_TYPE_JWS, &envelope).unwrap();
    let envelope = sign_cose(
        &credentials,
        &image(),
        &SignOptions::at(now()).with_cose_alg(-7),
    )
    .unwrap();
    parse_and_verify(MEDIA_TYPE_COSE, &envelope).unwrap();
}

#[test]
fn signature_manifest_follows_the_oci_layout() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let signed_at = Utc.with_ymd_and_hms(2029, 3, 4, 5, 6, 7).unwrap();
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(signed_at));
        let (manifest, blob) = signature_manifest(&envelope, media_type, &image()).unwrap();
        assert_eq!(blob, envelope);
        let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        assert_eq!(m["schemaVersion"], 2);
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        assert_eq!(m["artifactType"], "application/vnd.cncf.notary.signature");
        assert_eq!(
            m["config"]["mediaType"],
            "application/vnd.oci.empty.v1+json"
        );
        assert_eq!(m["config"]["digest"], OCI_EMPTY_DIGEST);
        assert_eq!(
            m["config"]["digest"],
            sha256_digest(OCI_EMPTY_CONFIG).as_str()
        );
        assert_eq!(m["config"]["size"], 2);
        let layers = m["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 1);
        assert_eq!(layers[0]["mediaType"], media_type);
        assert_eq!(layers[0]["digest"], sha256_digest(&envelope).as_str());
        assert_eq!(layers[0]["size"], envelope.len());
        let subject: Descriptor = serde_json::from_value(m["subject"].clone()).unwrap();
        assert_eq!(subject, image());
        let thumbprints: Vec<String> =
            serde_json::from_str(m["annotations"][THUMBPRINT_ANNOTATION].as_str().unwrap())
                .unwrap();
        let expected: Vec<String> = pki.chain().iter().map(|c| c.sha256_fingerprint()).collect();
        assert_eq!(thumbprints, expected);
        assert!(thumbprints.iter().all(|t| t.len() == 64
            && t.chars()
                .all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())));
        assert_eq!(
            m["annotations"]["org.opencontainers.image.created"],
            "2029-03-04T05:06:07Z"
        );
    }
    // A malformed envelope still gets a manifest (negative tests push them).
    let (manifest, _) = signature_manifest(b"not an envelope", MEDIA_TYPE_JWS, &image()).unwrap();
    let m: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    assert_eq!(m["annotations"][THUMBPRINT_ANNOTATION], "[]");
}
