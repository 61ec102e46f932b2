//! Revocation from stapled material (tests/data/revocation, made by its
//! make.sh with openssl): OCSP first, CRL when OCSP gives no answer; stale,
//! forged and missing material is "unknown", never "good".

use chrono::{DateTime, Duration, Utc};
use notation_verifier::cert::Certificate;
use notation_verifier::revocation::{check_chain, Purpose, RevocationMaterial, RevocationStatus};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/data/revocation/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn cert(name: &str) -> Certificate {
    Certificate::parse_pem_or_der(&data(name))
        .unwrap()
        .remove(0)
}

fn chain(leaf: &str) -> Vec<Certificate> {
    vec![cert(leaf), cert("root.pem")]
}

/// One day after the fixtures were made (inside their 30-day freshness):
/// the root's notBefore is the moment make.sh ran, as is the CRL's thisUpdate.
fn fresh() -> DateTime<Utc> {
    cert("root.pem").not_before() + Duration::days(1)
}

fn material(crls: &[&str], ocsp: &[&str]) -> RevocationMaterial {
    RevocationMaterial {
        crls: crls.iter().map(|c| data(c)).collect(),
        ocsp_responses: ocsp.iter().map(|o| data(o)).collect(),
    }
}

fn status(leaf: &str, m: &RevocationMaterial, at: DateTime<Utc>) -> RevocationStatus {
    check_chain(&chain(leaf), Purpose::CodeSigning, m, at, None)
}

fn is_unknown(s: &RevocationStatus) -> bool {
    matches!(s, RevocationStatus::Unknown { .. })
}

#[test]
fn ocsp_good_and_revoked_decide() {
    assert_eq!(
        status("good.pem", &material(&[], &["ocsp-good.der"]), fresh()),
        RevocationStatus::Good
    );
    assert!(matches!(
        status("revoked.pem", &material(&[], &["ocsp-revoked.der"]), fresh()),
        RevocationStatus::Revoked { subject } if subject.contains("leaf revoked")
    ));
    // A response about another certificate does not answer for this one.
    assert!(is_unknown(&status(
        "good.pem",
        &material(&[], &["ocsp-revoked.der"]),
        fresh()
    )));
}

#[test]
fn crl_decides_without_ocsp_and_after_an_unknown_ocsp_answer() {
    assert_eq!(
        status("good.pem", &material(&["root.crl"], &[]), fresh()),
        RevocationStatus::Good
    );
    assert!(matches!(
        status("revoked.pem", &material(&["root.crl"], &[]), fresh()),
        RevocationStatus::Revoked { .. }
    ));
    // The responder does not know "unknown": fall back to the CRL, which does not list it.
    let s = status(
        "unknown.pem",
        &material(&["root.crl"], &["ocsp-unknown.der"]),
        fresh(),
    );
    assert_eq!(s, RevocationStatus::Good);
    let s = status(
        "unknown.pem",
        &material(&[], &["ocsp-unknown.der"]),
        fresh(),
    );
    assert!(is_unknown(&s), "{s:?}");
}

#[test]
fn stale_missing_and_forged_material_is_unknown() {
    let stale = fresh() + Duration::days(40);
    for m in [
        material(&["root.crl"], &[]),
        material(&[], &["ocsp-good.der"]),
    ] {
        let s = status("good.pem", &m, stale);
        assert!(
            matches!(&s, RevocationStatus::Unknown { detail, .. } if detail.contains("stale")),
            "{s:?}"
        );
    }
    let s = status("good.pem", &RevocationMaterial::default(), fresh());
    assert!(
        matches!(&s, RevocationStatus::Unknown { detail, .. } if detail.contains("http://127.0.0.1:1/ocsp")),
        "{s:?}"
    );
    // A CRL under the same issuer name but another key is not believed:
    // the revoked leaf is not "good" because of it.
    let s = status("revoked.pem", &material(&["impostor.crl"], &[]), fresh());
    assert!(
        matches!(&s, RevocationStatus::Unknown { detail, .. } if detail.contains("does not verify")),
        "{s:?}"
    );
    // Garbage is unknown too, never a panic.
    let garbage = RevocationMaterial {
        crls: vec![b"junk".to_vec()],
        ocsp_responses: vec![vec![0x30, 0x03, 0x0a, 0x01, 0x00]],
    };
    assert!(is_unknown(&status("good.pem", &garbage, fresh())));
}

#[test]
fn revoked_after_an_authentic_signing_time_is_still_revoked_without_invalidity_date() {
    // openssl writes no invalidityDate: the SA exemption cannot apply.
    let s = check_chain(
        &chain("revoked.pem"),
        Purpose::CodeSigning,
        &material(&["root.crl"], &[]),
        fresh(),
        Some(fresh() - Duration::days(365)),
    );
    assert!(matches!(s, RevocationStatus::Revoked { .. }));
}

#[test]
fn a_chain_that_is_not_a_valid_signing_chain_is_unknown() {
    // A single self-signed CA is not a valid signing chain: unknown, not good.
    let s = check_chain(
        &[cert("root.pem")],
        Purpose::CodeSigning,
        &RevocationMaterial::default(),
        fresh(),
        None,
    );
    assert!(
        matches!(&s, RevocationStatus::Unknown { detail, .. } if detail.contains("invalid chain")),
        "{s:?}"
    );
    // Reordered chain: the same.
    let s = check_chain(
        &[cert("root.pem"), cert("good.pem")],
        Purpose::CodeSigning,
        &material(&["root.crl"], &[]),
        fresh(),
        None,
    );
    assert!(is_unknown(&s), "{s:?}");
}

#[test]
fn ocsp_requests_are_answered_by_the_fixture_responder_format() {
    // The request carries the SHA-1 CertID of the leaf; openssl parses it.
    let der =
        notation_verifier::revocation::ocsp_request(&cert("good.pem"), &cert("root.pem")).unwrap();
    let path = std::env::temp_dir().join(format!("vns-ocsp-req-{}.der", std::process::id()));
    std::fs::write(&path, &der).unwrap();
    let out = std::process::Command::new("openssl")
        .args(["ocsp", "-reqin", path.to_str().unwrap(), "-req_text"])
        .output();
    let _ = std::fs::remove_file(&path);
    if let Ok(out) = out {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Hash Algorithm: sha1"), "{text}");
        assert!(text.contains("Serial Number: 1000"), "{text}");
    }
}

#[test]
fn ocsp_decides_tells_a_fetcher_whether_it_still_needs_the_crl() {
    use notation_verifier::revocation::ocsp_decides;
    let (root, at) = (cert("root.pem"), fresh());
    let good = cert("good.pem");
    assert!(ocsp_decides(&data("ocsp-good.der"), &good, &root, at));
    assert!(ocsp_decides(
        &data("ocsp-revoked.der"),
        &cert("revoked.pem"),
        &root,
        at
    ));
    assert!(!ocsp_decides(
        &data("ocsp-unknown.der"),
        &cert("unknown.pem"),
        &root,
        at
    ));
    // About another certificate, stale, or garbage: no decision.
    assert!(!ocsp_decides(&data("ocsp-revoked.der"), &good, &root, at));
    assert!(!ocsp_decides(
        &data("ocsp-good.der"),
        &good,
        &root,
        at + Duration::days(40)
    ));
    assert!(!ocsp_decides(b"junk", &good, &root, at));
}

#[test]
fn the_chain_cache_answers_exactly_as_direct_validation() {
    use notation_verifier::chain::{validate_code_signing_chain, ChainCache};
    let cache = ChainCache::default();
    let good = chain("good.pem");
    let reordered = vec![cert("root.pem"), cert("good.pem")];
    for c in [&good, &reordered, &good, &reordered] {
        assert_eq!(
            cache.validate_code_signing_chain(c),
            validate_code_signing_chain(c)
        );
    }
    assert!(cache.validate_code_signing_chain(&good).is_ok());
    assert!(cache.validate_code_signing_chain(&reordered).is_err());
}
