#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(policy) = notation_verifier::trust_policy::TrustPolicy::from_json(text) {
            let _ = policy.statement_for("registry.example.com/app");
        }
        let _ = notation_verifier::identity::parse_dn(text);
    }
});
