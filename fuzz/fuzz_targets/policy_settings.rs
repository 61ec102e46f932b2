#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = verify_notation_signatures::settings::validate_settings_payload(data);
});
