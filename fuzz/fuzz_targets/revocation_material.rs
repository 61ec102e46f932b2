#![no_main]
// The input is tried as a CRL and as an OCSP response for a fixed chain.
use notation_verifier::cert::Certificate;
use notation_verifier::revocation::{check_chain, next_update, Purpose, RevocationMaterial};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    static CHAIN: std::sync::OnceLock<Vec<Certificate>> = std::sync::OnceLock::new();
    let chain = CHAIN.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../crates/notation-verifier/tests/data/revocation");
        ["good.pem", "root.pem"]
            .iter()
            .filter_map(|f| std::fs::read(format!("{dir}/{f}")).ok())
            .filter_map(|b| Certificate::parse_pem_or_der(&b).ok())
            .flatten()
            .collect()
    });
    let time = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let material = RevocationMaterial { crls: vec![data.to_vec()], ocsp_responses: vec![data.to_vec()] };
    let _ = check_chain(chain, Purpose::CodeSigning, &material, time, Some(time));
    let _ = next_update(data, true);
    let _ = next_update(data, false);
});
