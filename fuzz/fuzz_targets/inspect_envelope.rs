#![no_main]
// The inspector reads envelopes that fail integrity too (headers, payload,
// chain, timestamp token): every input must give a report, never a panic.
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    use notation_verifier::inspect;
    let report = inspect::inspect_envelope(inspect::sniff_media_type(data), data);
    let _ = serde_json::to_string(&report);
});
