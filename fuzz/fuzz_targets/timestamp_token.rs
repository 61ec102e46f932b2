#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = notation_verifier::timestamp::verify_token(data, b"signature", &[]);
    let _ = notation_verifier::timestamp::token_certificates(data);
    let _ = notation_verifier::timestamp::token_summary(data);
    let _ = notation_verifier::ber::to_der(data);
});
