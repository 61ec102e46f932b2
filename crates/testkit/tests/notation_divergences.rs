//! Inputs notation-go (notation-core-go) rejects, made at test time by the
//! test PKI and checked against the verifier core: CRLs that do not cover
//! the certificate, OCSP responses without nextUpdate, and signed JSON whose
//! member names Go reads by case folding. Each case was admitted before the
//! rule it pins (issue #14); the module-level twin is
//! `tests/notation_divergences.rs` of the policy crate.

use chrono::{DateTime, Duration, Utc};
use notation_verifier::cert::Certificate;
use notation_verifier::revocation::{check_chain, Purpose, RevocationMaterial, RevocationStatus};
use notation_verifier::trust_policy::TrustPolicy;
use notation_verifier::trust_store::{TrustStores, TrustStoresPem};
use notation_verifier::{Descriptor, Limits, ReasonCode, Signature, VerificationInput, Verifier};
use serde_json::json;
use testkit::pki::{CertifiedKey, KeyKind, TestPki, TsaPki};
use testkit::revocation::{fresh_crl, ocsp_response, CertificateStatus, CrlScope};
use testkit::signer::{sign_cose, sign_jws, SignOptions};

const PART_A: &str = "http://crl.test/part-a.crl";
const PART_B: &str = "http://crl.test/part-b.crl";
const KEY_COMPROMISE: u16 = 1 << 1;

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn parsed(ders: Vec<Vec<u8>>) -> Vec<Certificate> {
    ders.iter()
        .map(|d| Certificate::from_der(d).expect("test PKI certificate parses"))
        .collect()
}

fn leaf_in_partition_a() -> TestPki {
    TestPki::builder(KeyKind::P256)
        .name("crl-partition-a")
        .leaf_crl_url(PART_A)
        .build()
        .expect("pki")
}

fn crl(
    issuer: &CertifiedKey,
    revoked: &[&testkit::pki::Cert],
    number: u64,
    scope: CrlScope,
) -> Vec<u8> {
    fresh_crl(issuer, revoked, number, &scope).expect("crl")
}

fn status(pki: &TestPki, crls: Vec<Vec<u8>>) -> RevocationStatus {
    let material = RevocationMaterial {
        crls,
        ocsp_responses: Vec::new(),
    };
    check_chain(
        &parsed(pki.chain_der()),
        Purpose::CodeSigning,
        &material,
        now(),
        None,
    )
}

fn unknown_saying(s: &RevocationStatus, says: &str) {
    match s {
        RevocationStatus::Unknown { detail, .. } => {
            assert!(detail.contains(says), "expected \"{says}\" in: {detail}")
        }
        other => panic!("expected unknown ({says}), got {other:?}"),
    }
}

#[test]
fn a_crl_of_another_partition_does_not_vouch_for_the_leaf() {
    let pki = leaf_in_partition_a();
    let inter = &pki.intermediate;
    // Partition B does not list the leaf; it says nothing about partition A.
    let other = crl(inter, &[], 7, CrlScope::partition(PART_B));
    let s = status(&pki, vec![other.clone()]);
    unknown_saying(&s, "is the CRL of distribution point");
    unknown_saying(&s, PART_B);
    // Partition A, which does not list it either, answers.
    let own = crl(inter, &[], 3, CrlScope::partition(PART_A));
    assert_eq!(status(&pki, vec![other, own]), RevocationStatus::Good);
    // A complete CRL (no IssuingDistributionPoint) answers for every point.
    let complete = crl(inter, &[], 1, CrlScope::default());
    assert_eq!(status(&pki, vec![complete]), RevocationStatus::Good);
}

#[test]
fn every_distribution_point_url_must_be_answered_for() {
    // As notation-core-go fetches every URL and needs each to answer.
    let pki = TestPki::builder(KeyKind::P256)
        .name("crl-two-points")
        .leaf_crl_url(PART_A)
        .leaf_crl_url(PART_B)
        .build()
        .expect("pki");
    let inter = &pki.intermediate;
    let a = crl(inter, &[], 1, CrlScope::partition(PART_A));
    unknown_saying(&status(&pki, vec![a.clone()]), PART_B);
    let b = crl(inter, &[], 2, CrlScope::partition(PART_B));
    assert_eq!(status(&pki, vec![a, b]), RevocationStatus::Good);
    // One complete CRL answers for both.
    let complete = crl(inter, &[], 3, CrlScope::default());
    assert_eq!(status(&pki, vec![complete.clone()]), RevocationStatus::Good);

    // A URL notation-core-go cannot fetch (ldap://) never answers.
    let ldap = TestPki::builder(KeyKind::P256)
        .name("crl-ldap-point")
        .leaf_crl_url(PART_A)
        .leaf_crl_url("ldap://crl.test/cn=part-a")
        .build()
        .expect("pki");
    let complete = crl(&ldap.intermediate, &[], 1, CrlScope::default());
    unknown_saying(&status(&ldap, vec![complete]), "not an http:// URL");
}

#[test]
fn a_revocation_in_any_covering_crl_wins() {
    let pki = leaf_in_partition_a();
    let inter = &pki.intermediate;
    let leaf = &pki.leaf.cert;
    // The partition that revokes the leaf, stapled with a newer CRL of
    // another partition: the higher CRL number must not hide it.
    let revoking = crl(inter, &[leaf], 1, CrlScope::partition(PART_A));
    let newer_other = crl(inter, &[], 9, CrlScope::partition(PART_B));
    assert!(matches!(
        status(&pki, vec![newer_other, revoking.clone()]),
        RevocationStatus::Revoked { .. }
    ));
    // Nor a newer complete CRL that does not list it.
    let newer_complete = crl(inter, &[], 10, CrlScope::default());
    assert!(matches!(
        status(&pki, vec![newer_complete, revoking]),
        RevocationStatus::Revoked { .. }
    ));
}

#[test]
fn crls_for_another_kind_of_certificate_do_not_cover_it() {
    let pki = leaf_in_partition_a();
    let inter = &pki.intermediate;
    let only_ca = CrlScope {
        only_ca_certs: true,
        ..CrlScope::default()
    };
    unknown_saying(
        &status(&pki, vec![crl(inter, &[], 2, only_ca)]),
        "covers only CA certificates",
    );
    let only_users = CrlScope {
        only_user_certs: true,
        ..CrlScope::partition(PART_A)
    };
    assert_eq!(
        status(&pki, vec![crl(inter, &[], 2, only_users)]),
        RevocationStatus::Good
    );
    let indirect = CrlScope {
        indirect: true,
        ..CrlScope::default()
    };
    unknown_saying(
        &status(&pki, vec![crl(inter, &[], 2, indirect)]),
        "indirect CRL",
    );
}

#[test]
fn crls_for_some_reasons_count_only_together() {
    let pki = leaf_in_partition_a();
    let inter = &pki.intermediate;
    let key_compromise = CrlScope {
        only_some_reasons: Some(KEY_COMPROMISE),
        ..CrlScope::partition(PART_A)
    };
    let the_rest = CrlScope {
        only_some_reasons: Some(0x01FE & !KEY_COMPROMISE),
        ..CrlScope::partition(PART_A)
    };
    let first = crl(inter, &[], 1, key_compromise.clone());
    unknown_saying(
        &status(&pki, vec![first.clone()]),
        "do not answer for every revocation reason",
    );
    let second = crl(inter, &[], 2, the_rest);
    assert_eq!(status(&pki, vec![first, second]), RevocationStatus::Good);
    // A reason-partitioned CRL that lists the leaf revokes it.
    let revoking = crl(inter, &[&pki.leaf.cert], 3, key_compromise);
    assert!(matches!(
        status(&pki, vec![revoking]),
        RevocationStatus::Revoked { .. }
    ));
}

#[test]
fn the_timestamping_chain_follows_the_same_crl_rules() {
    let tsa = TsaPki::builder(KeyKind::P256)
        .name("tsa-crl-partition")
        .leaf_crl_url(PART_A)
        .build()
        .expect("tsa pki");
    let [leaf, root] = tsa.chain();
    let chain = parsed(vec![leaf.der().to_vec(), root.der().to_vec()]);
    let check = |crls: Vec<Vec<u8>>| {
        check_chain(
            &chain,
            Purpose::Timestamping,
            &RevocationMaterial {
                crls,
                ocsp_responses: Vec::new(),
            },
            now(),
            None,
        )
    };
    let other = crl(&tsa.root, &[], 5, CrlScope::partition(PART_B));
    unknown_saying(
        &check(vec![other.clone()]),
        "is the CRL of distribution point",
    );
    let revoking = crl(&tsa.root, &[leaf], 1, CrlScope::partition(PART_A));
    assert!(matches!(
        check(vec![other, revoking]),
        RevocationStatus::Revoked { .. }
    ));
}

#[test]
fn an_ocsp_response_without_next_update_is_expired() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("ocsp-no-next-update")
        .leaf_ocsp_url("http://ocsp.test/")
        .build()
        .expect("pki");
    let check = |next: Option<DateTime<Utc>>| {
        let response = ocsp_response(
            &pki.intermediate,
            &pki.leaf.cert,
            CertificateStatus::Good,
            now() - Duration::minutes(10),
            next,
        )
        .expect("ocsp");
        check_chain(
            &parsed(pki.chain_der()),
            Purpose::CodeSigning,
            &RevocationMaterial {
                crls: Vec::new(),
                ocsp_responses: vec![response],
            },
            now(),
            None,
        )
    };
    assert_eq!(
        check(Some(now() + Duration::days(1))),
        RevocationStatus::Good
    );
    // Minutes old, but without nextUpdate: notation-core-go calls it expired.
    unknown_saying(&check(None), "no nextUpdate");
}

#[test]
fn an_ocsp_answer_counts_only_for_a_certificate_with_an_http_responder() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("ocsp-ldap-responder")
        .leaf_ocsp_url("ldap://ocsp.test/")
        .build()
        .expect("pki");
    let response = ocsp_response(
        &pki.intermediate,
        &pki.leaf.cert,
        CertificateStatus::Good,
        now() - Duration::minutes(10),
        Some(now() + Duration::days(1)),
    )
    .expect("ocsp");
    let s = check_chain(
        &parsed(pki.chain_der()),
        Purpose::CodeSigning,
        &RevocationMaterial {
            crls: Vec::new(),
            ocsp_responses: vec![response],
        },
        now(),
        None,
    );
    unknown_saying(&s, "no http:// responder");
}

// ------------------------------------------------------------ signed JSON

fn image() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9".into(),
        size: 517,
    }
}

fn verifier(pki: &TestPki) -> Verifier {
    let policy = TrustPolicy::from_json(
        &json!({"version": "1.0", "trustPolicies": [{
            "name": "t", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:t"], "trustedIdentities": ["*"]}]})
        .to_string(),
    )
    .unwrap();
    let pem: TrustStoresPem = serde_json::from_value(json!({"ca": {"t": pki.root_pem()}})).unwrap();
    Verifier::new(policy, TrustStores::from_pem(&pem).unwrap())
}

fn verify(pki: &TestPki, media_type: &str, envelope: &[u8]) -> Option<(ReasonCode, String)> {
    let verdict = verifier(pki).verify(&VerificationInput {
        repository: "registry.example.com/app",
        descriptor: &image(),
        signatures: &[Signature {
            media_type,
            envelope,
        }],
        time: now(),
        revocation: &RevocationMaterial::default(),
        limits: Limits::default(),
    });
    verdict.failure.map(|f| (f.reason, f.message))
}

fn payload_text(target_artifact: &str) -> Vec<u8> {
    format!("{{\"targetArtifact\":{target_artifact}}}").into_bytes()
}

#[test]
fn payloads_whose_names_go_folds_are_refused_in_jws_and_cose() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let d = image();
    let good = format!(
        r#"{{"mediaType":"{}","digest":"{}","size":{}}}"#,
        d.media_type, d.digest, d.size
    );
    // The control: the same hand-written payload verifies.
    let opts = SignOptions::at(now()).with_payload(payload_text(&good));
    let jws = sign_jws(&pki.credentials(), &d, &opts).unwrap();
    assert_eq!(verify(&pki, "application/jose+json", &jws), None);

    let other_digest = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
    for (payload, says) in [
        // Go reads the last matching member: another digest.
        (
            payload_text(&good.replace('}', &format!(r#","Digest":"{other_digest}"}}"#))),
            "same name",
        ),
        (
            format!(r#"{{"targetArtifact":{good},"TargetArtifact":{good}}}"#).into_bytes(),
            "same name",
        ),
        (
            payload_text(&good.replace("\"mediaType\"", "\"MediaType\"")),
            "not spelled",
        ),
    ] {
        let opts = SignOptions::at(now()).with_payload(payload.clone());
        for (media_type, envelope) in [
            (
                "application/jose+json",
                sign_jws(&pki.credentials(), &d, &opts).unwrap(),
            ),
            (
                "application/cose",
                sign_cose(&pki.credentials(), &d, &opts).unwrap(),
            ),
        ] {
            let (reason, message) = verify(&pki, media_type, &envelope).unwrap_or_else(|| {
                panic!(
                    "{media_type} admitted {}",
                    String::from_utf8_lossy(&payload)
                )
            });
            assert_eq!(reason, ReasonCode::MalformedEnvelope, "{message}");
            assert!(message.contains(says), "{message}");
        }
    }
}

#[test]
fn protected_headers_whose_names_go_folds_are_refused() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let d = image();
    let past = (now() - Duration::days(1)).to_rfc3339();
    for (name, value, says) in [
        // Go would read this as the expiry (a day ago) and reject; an exact
        // reader would see an unknown extended attribute and admit.
        (
            "io.cncf.notary.Expiry",
            json!(past),
            "not spelled \"io.cncf.notary.expiry\"",
        ),
        // A second content type; members are written in sorted order, so
        // "Cty" is met first, as a misspelling of "cty".
        (
            "Cty",
            json!("application/vnd.cncf.notary.payload.v1+json"),
            "\"Cty\" is not spelled \"cty\"",
        ),
        ("ALG", json!("ES256"), "not spelled \"alg\""),
    ] {
        let opts = SignOptions::at(now()).with_jws_protected(name, value);
        let envelope = sign_jws(&pki.credentials(), &d, &opts).unwrap();
        let (reason, message) = verify(&pki, "application/jose+json", &envelope).expect("refused");
        assert_eq!(reason, ReasonCode::MalformedEnvelope, "{name}: {message}");
        assert!(message.contains(says), "{name}: {message}");
    }
}
