//! The test PKI: Notary Project certificate profiles, determinism, trust
//! anchoring and identities.

use super::*;

#[test]
fn certificates_follow_the_notary_project_profiles() {
    let pki = TestPki::new(KeyKind::P256).unwrap();
    let chain: Vec<Certificate> = pki
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.der()).unwrap())
        .collect();
    validate_code_signing_chain(&chain).unwrap();
    let [leaf, intermediate, root] = [&chain[0], &chain[1], &chain[2]];
    for ca in [intermediate, root] {
        let bc = ca.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && bc.value.ca, "{}", ca.subject());
        let ku = ca.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.key_cert_sign && ku.value.crl_sign);
        assert!(!ku.value.digital_signature);
    }
    assert!(root.is_self_signed() && root.is_self_issued());
    assert_eq!(
        intermediate
            .basic_constraints()
            .unwrap()
            .unwrap()
            .value
            .path_len,
        Some(0)
    );
    let bc = leaf.basic_constraints().unwrap().unwrap();
    assert!(!bc.value.ca);
    let ku = leaf.key_usage().unwrap().unwrap();
    assert!(ku.critical && ku.value.digital_signature);
    assert!(!ku.value.key_cert_sign && !ku.value.crl_sign && !ku.value.key_encipherment);
    let leaf_eku = leaf.extended_key_usage().unwrap().unwrap();
    assert_eq!(leaf_eku.value, vec![eku::CODE_SIGNING]);
    assert!(leaf.unhandled_critical_extensions().is_empty());
    assert!(leaf.subject().contains("CN=testkit"), "{}", leaf.subject());
    assert!(
        leaf.subject().contains("O=Notation Test"),
        "{}",
        leaf.subject()
    );

    let tsa = TsaPki::new(KeyKind::P256).unwrap();
    let tsa_chain: Vec<Certificate> = tsa
        .chain()
        .iter()
        .map(|c| Certificate::from_der(c.der()).unwrap())
        .collect();
    validate_timestamping_chain(&tsa_chain).unwrap();
    let tsa_eku = tsa_chain[0].extended_key_usage().unwrap().unwrap();
    assert!(tsa_eku.critical, "TSA EKU must be critical");
    assert_eq!(tsa_eku.value, vec![eku::TIME_STAMPING]);
    let tsa_ku = tsa_chain[0].key_usage().unwrap().unwrap();
    assert!(tsa_ku.critical && tsa_ku.value.digital_signature);
    assert!(tsa_chain[0].unhandled_critical_extensions().is_empty());
    // Both roots are accepted by the trust store rules (tsa stores are strictest).
    let mut pem = TrustStoresPem::default();
    pem.ca.insert("signer".into(), pki.root_pem().into());
    pem.tsa.insert("timestamper".into(), tsa.root_pem().into());
    TrustStores::from_pem(&pem).unwrap();

    // PEM and DER agree, the chain PEM holds the three certificates in order.
    let parsed = Certificate::parse_pem_bundle(&pki.chain_pem()).unwrap();
    let ders: Vec<&[u8]> = parsed.iter().map(|c| c.der()).collect();
    assert_eq!(
        ders,
        pki.chain_der()
            .iter()
            .map(Vec::as_slice)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        pki.leaf.cert.sha256_fingerprint(),
        chain[0].sha256_fingerprint()
    );
    // The private keys round-trip through PKCS#8 (DER and PEM).
    let der = pki.leaf.key.pkcs8_der().unwrap();
    assert_eq!(
        PrivateKey::from_pkcs8_der(&der).unwrap().kind(),
        KeyKind::P256
    );
    assert!(pki
        .root
        .key
        .pkcs8_pem()
        .unwrap()
        .starts_with("-----BEGIN PRIVATE KEY-----"));
}

#[test]
fn pki_is_deterministic() {
    let a = TestPki::new(KeyKind::P256).unwrap();
    let b = TestPki::new(KeyKind::P256).unwrap();
    assert_eq!(a.chain_der(), b.chain_der());
    let k1 = PrivateKey::generate(KeyKind::P384, 42).unwrap();
    let k2 = PrivateKey::generate(KeyKind::P384, 42).unwrap();
    let k3 = PrivateKey::generate(KeyKind::P384, 43).unwrap();
    assert_eq!(k1.pkcs8_der().unwrap(), k2.pkcs8_der().unwrap());
    assert_ne!(k1.pkcs8_der().unwrap(), k3.pkcs8_der().unwrap());
    // Another name is another PKI: unrelated keys and root.
    let other = TestPki::builder(KeyKind::P256)
        .name("other")
        .build()
        .unwrap();
    assert_ne!(a.root.cert.der(), other.root.cert.der());
    assert_ne!(
        a.root.key.public_key_der().unwrap(),
        other.root.key.public_key_der().unwrap()
    );
}

#[test]
fn untrusted_root_fails_authenticity() {
    for kind in [KeyKind::P256, KeyKind::Rsa2048] {
        let pki = TestPki::new(kind).unwrap();
        let other = TestPki::builder(KeyKind::P256)
            .name("other")
            .build()
            .unwrap();
        for media_type in MEDIA_TYPES {
            let envelope = sign(media_type, &pki, &SignOptions::at(now()));
            let verdict = verify(&ca_verifier(&other), media_type, &envelope, now());
            assert_failed(
                &verdict,
                ReasonCode::UntrustedSigner,
                &format!("{kind} {media_type}"),
            );
        }
    }
}

#[test]
fn leaf_subject_is_settable_and_matched_by_identities() {
    let pki = TestPki::builder(KeyKind::P256)
        .name("custom")
        .leaf_subject("C=DE, ST=Berlin, L=Berlin, O=Elsewhere GmbH, OU=Build, CN=ci-signer")
        .build()
        .unwrap();
    let leaf = Certificate::from_der(pki.leaf.cert.der()).unwrap();
    let dn = leaf.subject_dn().unwrap();
    assert_eq!(dn.get("O").map(String::as_str), Some("Elsewhere GmbH"));
    assert_eq!(dn.get("CN").map(String::as_str), Some("ci-signer"));
    for media_type in MEDIA_TYPES {
        let envelope = sign(media_type, &pki, &SignOptions::at(now()));
        let good = verifier(
            pki.root_pem(),
            None,
            None,
            "x509.subject: C=DE, ST=Berlin, O=Elsewhere GmbH, CN=ci-signer",
        );
        assert_verified(&verify(&good, media_type, &envelope, now()), media_type);
        let verdict = verify(&ca_verifier(&pki), media_type, &envelope, now());
        assert_failed(&verdict, ReasonCode::IdentityMismatch, media_type);
    }
}
