#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = serde_json::from_slice::<serde_json::Value>(data) {
        let digest = "sha256:f20c43161d73848408ef247f0ec7111b19fe58ffebc0cbcaa0d2c8bda4967268";
        let _ = notation_verifier::bundle::read_bundle(&manifest, digest, 10);
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = notation_verifier::reference::ImageRef::parse(text);
    }
});
