#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = notation_verifier::envelope::parse_and_verify("application/jose+json", data);
});
