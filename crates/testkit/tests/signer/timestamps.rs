//! Expiry and timestamps: expired leaves, the TSA and its tokens.

use super::*;

#[test]
fn expired_leaf_without_timestamp_fails() {
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let pki = TestPki::builder(kind)
            .leaf_validity(at(2021, 1, 1), at(2022, 1, 1))
            .build()
            .unwrap();
        for media_type in MEDIA_TYPES {
            let envelope = sign(media_type, &pki, &SignOptions::at(at(2021, 6, 1)));
            let what = format!("{kind} {media_type}");
            // Integrity does not look at time; the envelope itself is fine.
            parse_and_verify(media_type, &envelope).unwrap();
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::CertExpiredNoTimestamp, &what);
            // Inside the leaf's validity the same envelope verifies.
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, at(2021, 7, 1));
            assert_verified(&verdict, &what);
        }
    }
}

#[test]
fn expiry_header_is_written_and_enforced() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let options = SignOptions::at(at(2029, 1, 1)).with_expiry(at(2029, 6, 1));
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &options);
        let env = parse_and_verify(media_type, &envelope).unwrap();
        assert_eq!(env.expiry, Some(at(2029, 6, 1)));
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::ExpiredSignature, media_type);
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, at(2029, 2, 1));
        assert_verified(&verdict, media_type);
    }
}

#[test]
fn timestamp_rescues_an_expired_leaf() {
    let leaf_from = at(2021, 1, 1);
    let leaf_until = at(2022, 1, 1);
    for (kind, tsa_kind) in [
        (KeyKind::P256, KeyKind::Rsa2048),
        (KeyKind::Rsa2048, KeyKind::P256),
    ] {
        let pki = TestPki::builder(kind)
            .leaf_validity(leaf_from, leaf_until)
            .build()
            .unwrap();
        let tsa = TestTsa::new(tsa_kind).unwrap();
        let signed_at = at(2021, 6, 1);
        for media_type in MEDIA_TYPES {
            let what = format!("{kind} signer, {tsa_kind} TSA, {media_type}");
            let options = SignOptions::at(signed_at).with_timestamp(&tsa, signed_at);
            let envelope = sign(media_type, &pki, &options);
            let env = parse_and_verify(media_type, &envelope).unwrap();
            assert!(env.timestamp_token.is_some(), "{what}");
            for verify_timestamp in ["afterCertExpiry", "always"] {
                let v = verifier(
                    pki.root_pem(),
                    Some(tsa.root_pem()),
                    Some(verify_timestamp),
                    IDENTITY,
                );
                let verdict = verify(&v, media_type, &envelope, now());
                assert_verified(&verdict, &format!("{what}, {verify_timestamp}"));
                let report = verdict.passing_signature().unwrap();
                assert_eq!(report.timestamp_time, Some(signed_at), "{what}");
            }
            // Without the tsa store the timestamp is not considered.
            let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::CertExpiredNoTimestamp, &what);
            // A TSA with another root is not trusted.
            let other_tsa = TsaPki::builder(KeyKind::P256)
                .name("other")
                .build()
                .unwrap();
            let v = verifier(
                pki.root_pem(),
                Some(other_tsa.root_pem()),
                Some("afterCertExpiry"),
                IDENTITY,
            );
            let verdict = verify(&v, media_type, &envelope, now());
            assert_failed(&verdict, ReasonCode::TimestampInvalid, &what);
        }
    }
}

#[test]
fn timestamp_outside_leaf_validity_fails() {
    let pki = TestPki::builder(KeyKind::P256)
        .leaf_validity(at(2021, 1, 1), at(2022, 1, 1))
        .build()
        .unwrap();
    let tsa = TestTsa::new(KeyKind::P256).unwrap();
    let v = verifier(
        pki.root_pem(),
        Some(tsa.root_pem()),
        Some("afterCertExpiry"),
        IDENTITY,
    );
    for media_type in MEDIA_TYPES {
        // Stamped after the leaf expired: the timestamp proves nothing.
        let options = SignOptions::at(at(2021, 6, 1)).with_timestamp(&tsa, at(2023, 1, 1));
        let envelope = sign(media_type, &pki, &options);
        let verdict = verify(&v, media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::TimestampInvalid, media_type);
        // Within 1 s (the token's accuracy) of the leaf's notAfter: also fails.
        let options = SignOptions::at(at(2021, 6, 1)).with_timestamp(&tsa, at(2022, 1, 1));
        let envelope = sign(media_type, &pki, &options);
        let verdict = verify(&v, media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::TimestampInvalid, media_type);
    }
}

#[test]
fn tsa_policy_always_requires_a_timestamp() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let tsa = TestTsa::new(KeyKind::P256).unwrap();
    let v = verifier(pki.root_pem(), Some(tsa.root_pem()), None, IDENTITY);
    for media_type in MEDIA_TYPES {
        let plain = sign(media_type, &pki, &SignOptions::at(now()));
        assert_failed(
            &verify(&v, media_type, &plain, now()),
            ReasonCode::TimestampInvalid,
            media_type,
        );
        let stamped = sign(
            media_type,
            &pki,
            &SignOptions::at(now()).with_timestamp(&tsa, now()),
        );
        assert_verified(&verify(&v, media_type, &stamped, now()), media_type);
    }
}

#[test]
fn tsa_tokens_verify_for_every_ec_kind_and_option() {
    for kind in [
        KeyKind::P256,
        KeyKind::P384,
        KeyKind::P521,
        KeyKind::Rsa2048,
    ] {
        let tsa = TestTsa::new(kind).unwrap();
        let root = Certificate::from_der(tsa.pki().root.cert.der()).unwrap();
        let message = b"raw signature bytes";
        let gen_time = Utc.with_ymd_and_hms(2024, 2, 29, 12, 34, 56).unwrap();
        let token = tsa.timestamp(message, gen_time).unwrap();
        let ts = notation_verifier::timestamp::verify_token(&token, message, &[&root])
            .unwrap_or_else(|e| panic!("{kind}: {e}"));
        assert_eq!(ts.gen_time, gen_time);
        assert_eq!(ts.accuracy, chrono::Duration::seconds(1));
        assert_eq!(ts.tsa_chain.len(), 2, "{kind}: TSA leaf then trusted root");
        // The imprint binds the message.
        assert!(
            notation_verifier::timestamp::verify_token(&token, b"other", &[&root]).is_err(),
            "{kind}"
        );
        // Other imprint hashes, no accuracy, root included in the token.
        for imprint_hash in [
            testkit::pki::HashKind::Sha384,
            testkit::pki::HashKind::Sha512,
        ] {
            let options = TimestampOptions {
                imprint_hash,
                accuracy_seconds: None,
                include_root: true,
                ..TimestampOptions::default()
            };
            let token = tsa.timestamp_with(message, gen_time, &options).unwrap();
            let ts = notation_verifier::timestamp::verify_token(&token, message, &[&root])
                .unwrap_or_else(|e| panic!("{kind} {imprint_hash:?}: {e}"));
            assert_eq!(ts.accuracy, chrono::Duration::zero());
        }
    }
}
