#![no_main]
// Concatenated DER (or PEM) certificates, validated as a code-signing and a
// timestamping chain and built as a TSA path against themselves.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(certs) = notation_verifier::cert::Certificate::parse_pem_or_der(data) {
        let _ = notation_verifier::chain::validate_code_signing_chain(&certs);
        let _ = notation_verifier::chain::validate_timestamping_chain(&certs);
        if let Some((leaf, rest)) = certs.split_first() {
            let time = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
            let _ = notation_verifier::chain::build_path(leaf, rest, rest, time);
        }
        for c in &certs {
            let _ = (c.subject(), c.subject_dn().is_ok(), c.ocsp_urls(), c.crl_urls(), c.key_usage(), c.extended_key_usage());
        }
    }
});
