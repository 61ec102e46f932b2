use super::*;
use base64::Engine as _;

fn root_pem() -> String {
    std::fs::read_to_string(testdata::path(
        "notation/synthetic/truststore/x509/ca/synthetic-root/root.pem",
    ))
    .unwrap()
}

/// The synthetic root with one bit of its signature flipped: still a
/// self-issued CA certificate, no longer self-signed.
fn broken_root_pem() -> String {
    let root = Certificate::parse_pem_or_der(root_pem().as_bytes())
        .unwrap()
        .remove(0);
    let mut der = root.der().to_vec();
    let last = der.len() - 1;
    der[last] ^= 1;
    let body = base64::engine::general_purpose::STANDARD.encode(&der);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

fn ca_store(pem: String) -> TrustStoresPem {
    let mut stores = TrustStoresPem::default();
    stores
        .ca
        .insert("roots".into(), TrustStoreSource::Inline(pem));
    stores
}

#[test]
fn validation_refuses_a_self_issued_certificate_that_is_not_self_signed() {
    let error = TrustStores::from_pem(&ca_store(broken_root_pem())).unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("trust store \"roots\" of type \"ca\"")
            && message.contains("names itself as its issuer")
            && message.contains("does not verify with its own key"),
        "{message}"
    );
    // Content read per request (a ConfigMap or Secret) gets the same check.
    assert!(matches!(
        parse_store_bytes(StoreType::Ca, "roots", broken_root_pem().as_bytes()),
        Err(TrustStoreError::Invalid { .. })
    ));
    // The intact root passes, and its self-signature is then known.
    let stores = TrustStores::from_pem(&ca_store(root_pem())).unwrap();
    let root = &stores.get(StoreType::Ca, "roots").unwrap()[0];
    assert_eq!(root.self_signature_known(), Some(&Ok(())));
}

#[test]
fn validated_inline_stores_do_not_verify_self_signatures_again() {
    // Per request, inline stores of settings accepted at load time: the
    // root's self-signature is taken from that validation, not recomputed.
    let lazy = TrustStores::from_pem_lazy(&ca_store(root_pem()));
    let root = &lazy.load(StoreType::Ca, "roots").unwrap()[0];
    assert_eq!(root.self_signature_known(), Some(&Ok(())));
    assert!(root.is_self_signed());
    // A store that validation would refuse is not re-checked per request:
    // Kubewarden never evaluates a request with settings it refused.
    let lazy = TrustStores::from_pem_lazy(&ca_store(broken_root_pem()));
    assert!(lazy.load(StoreType::Ca, "roots").is_ok());
}
