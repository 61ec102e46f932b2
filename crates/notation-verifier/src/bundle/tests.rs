use super::*;

const D: &str = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";

fn subject() -> Descriptor {
    Descriptor {
        media_type: MANIFEST_MEDIA_TYPE.into(),
        digest: D.into(),
        size: 246,
    }
}

fn time() -> DateTime<Utc> {
    DateTime::from_timestamp(1_800_000_000, 0).unwrap()
}

#[test]
fn tag_is_derived_from_the_digest() {
    assert_eq!(
        bundle_tag(D).unwrap(),
        "sha256-f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268.notation"
    );
    for bad in ["", "sha256", "sha256:", "SHA256:ab", "sha256:XYZ", ":ab"] {
        assert!(bundle_tag(bad).is_err(), "{bad}");
    }
}

#[test]
fn round_trip_and_layer_checks() {
    let good = layer_for(
        MEDIA_TYPE_JWS,
        b"{\"a\":1}".to_vec(),
        "sha256:aa",
        Some("[\"x\"]".into()),
    );
    let mut wrong_digest = layer_for(MEDIA_TYPE_COSE, b"cose".to_vec(), "sha256:bb", None);
    wrong_digest.digest = format!("sha256:{}", "0".repeat(64));
    let other = BundleLayer {
        media_type: "text/plain".into(),
        ..good.clone()
    };
    let manifest = build_manifest(&subject(), &[good.clone(), other, wrong_digest], time());
    assert_eq!(manifest["config"]["digest"], EMPTY_CONFIG_DIGEST);
    let contents = read_bundle(&manifest, D, 10).unwrap();
    assert_eq!(contents.subject, Some(subject()));
    assert_eq!(
        contents.envelopes.len(),
        2,
        "the text/plain layer is ignored"
    );
    let first = contents.envelopes[0].as_ref().unwrap();
    assert_eq!(first.bytes, good.envelope);
    assert_eq!(first.signature_manifest.as_deref(), Some("sha256:aa"));
    let err = contents.envelopes[1].as_ref().unwrap_err();
    assert!(
        err.message.contains("does not match the layer digest"),
        "{err}"
    );
    assert!(!contents.truncated);
}

#[test]
fn staples_round_trip_and_garbage_is_dropped() {
    let mut l = layer_for(MEDIA_TYPE_JWS, b"{}".to_vec(), "sha256:aa", None);
    l.revocation = vec![Staple {
        kind: StapleKind::Crl,
        for_certificate: "ab".repeat(32),
        source: "http://crl.example/root.crl".into(),
        der: vec![0x30, 0x00],
    }];
    let manifest = build_manifest(&subject(), &[l.clone()], time());
    let text = manifest["layers"][0]["annotations"][ANNOTATION_REVOCATION]
        .as_str()
        .unwrap();
    assert!(
        text.contains("\"kind\":\"crl\"") && text.contains("\"for\""),
        "{text}"
    );
    let c = read_bundle(&manifest, D, 3).unwrap();
    let env = c.envelopes[0].as_ref().unwrap();
    assert_eq!(env.revocation, l.revocation);
    assert_eq!(material_of(&env.revocation).crls, vec![vec![0x30, 0x00]]);
    let mut broken = manifest.clone();
    broken["layers"][0]["annotations"][ANNOTATION_REVOCATION] = json!("not json");
    let c = read_bundle(&broken, D, 3).unwrap();
    assert!(c.envelopes[0].as_ref().unwrap().revocation.is_empty());
}

#[test]
fn limits_subject_and_type_are_enforced() {
    let layers: Vec<BundleLayer> = (0..5)
        .map(|i| layer_for(MEDIA_TYPE_JWS, vec![b'x'; i + 1], "sha256:aa", None))
        .collect();
    let manifest = build_manifest(&subject(), &layers, time());
    let c = read_bundle(&manifest, D, 3).unwrap();
    assert_eq!(c.envelopes.len(), 3);
    assert!(c.truncated);
    let other = format!("sha256:{}", "1".repeat(64));
    assert!(matches!(
        read_bundle(&manifest, &other, 3),
        Err(BundleError::SubjectMismatch { .. })
    ));
    let mut wrong_type = manifest.clone();
    wrong_type["artifactType"] = json!("application/vnd.example");
    assert!(matches!(
        read_bundle(&wrong_type, D, 3),
        Err(BundleError::NotABundle(_))
    ));
    assert!(matches!(
        read_bundle(&json!([1, 2]), D, 3),
        Err(BundleError::NotABundle(_))
    ));
}

#[test]
fn oversized_or_inconsistent_copies_are_refused() {
    let mut manifest = build_manifest(
        &subject(),
        &[layer_for(
            MEDIA_TYPE_JWS,
            b"abc".to_vec(),
            "sha256:aa",
            None,
        )],
        time(),
    );
    manifest["layers"][0]["size"] = json!(2);
    let c = read_bundle(&manifest, D, 3).unwrap();
    assert!(
        c.envelopes[0]
            .as_ref()
            .unwrap_err()
            .message
            .contains("longer than the layer size")
            || c.envelopes[0]
                .as_ref()
                .unwrap_err()
                .message
                .contains("bytes but the layer says")
    );
    manifest["layers"][0]["size"] = json!(MAX_ENVELOPE_SIZE + 1);
    let c = read_bundle(&manifest, D, 3).unwrap();
    assert!(c.envelopes[0]
        .as_ref()
        .unwrap_err()
        .message
        .contains("limit"));
    manifest["layers"][0]["annotations"][ANNOTATION_ENVELOPE] = json!("!!!");
    manifest["layers"][0]["size"] = json!(3);
    let c = read_bundle(&manifest, D, 3).unwrap();
    assert!(c.envelopes[0]
        .as_ref()
        .unwrap_err()
        .message
        .contains("base64"));
}

/// A CRL whose nextUpdate is `next` (unsigned: only its dates are read).
fn crl_with_next_update(next: DateTime<Utc>) -> Vec<u8> {
    use der::asn1::{BitString, GeneralizedTime};
    use der::Encode;
    use x509_cert::crl::{CertificateList, TbsCertList};
    use x509_cert::spki::AlgorithmIdentifierOwned;
    use x509_cert::time::Time;
    let at = |t: DateTime<Utc>| {
        Time::GeneralTime(
            GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(
                t.timestamp() as u64
            ))
            .unwrap(),
        )
    };
    let algorithm = AlgorithmIdentifierOwned {
        oid: der::oid::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11"),
        parameters: None,
    };
    CertificateList {
        tbs_cert_list: TbsCertList {
            version: x509_cert::Version::V2,
            signature: algorithm.clone(),
            issuer: "CN=test CA".parse().unwrap(),
            this_update: at(next - chrono::Duration::days(7)),
            next_update: Some(at(next)),
            revoked_certificates: None,
            crl_extensions: None,
        },
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&[0]).unwrap(),
    }
    .to_der()
    .unwrap()
}

#[test]
fn staples_near_or_past_their_next_update_are_told_with_the_command() {
    // The verifier has no clock: a fixed evaluation time.
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
    let staple = |source: &str, next| Staple {
        kind: StapleKind::Crl,
        for_certificate: "00".into(),
        source: source.into(),
        der: crl_with_next_update(next),
    };
    let staples = [
        staple("http://fresh", now + chrono::Duration::days(3)),
        staple("http://soon", now + chrono::Duration::hours(5)),
        staple("http://stale", now - chrono::Duration::hours(1)),
        Staple {
            kind: StapleKind::Ocsp,
            for_certificate: "00".into(),
            source: "http://unreadable".into(),
            der: vec![0x30, 0x00],
        },
    ];
    let warnings = stale_staple_warnings(&staples, now);
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("stapled CRL from http://soon goes stale at "));
    assert!(warnings[1].starts_with("stapled CRL from http://stale went stale at "));
    assert!(warnings
        .iter()
        .all(|w| w.ends_with("refresh it with `vns sync --refresh-revocation`")));
}
