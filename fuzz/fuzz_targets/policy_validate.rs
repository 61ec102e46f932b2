#![no_main]
// The policy's `validate` on an arbitrary payload, host calls answered from
// a fixed in-memory registry (fail closed, never panic).
use verify_notation_signatures::host::{HostError, Registry};

struct Empty;
impl Registry for Empty {
    fn manifest_digest(&self, reference: &str) -> Result<String, HostError> {
        Err(HostError { operation: "oci/v1/manifest_digest", reference: reference.into(), message: "manifest unknown".into() })
    }
    fn oci_manifest(&self, reference: &str) -> Result<serde_json::Value, HostError> {
        Err(HostError { operation: "oci/v1/oci_manifest", reference: reference.into(), message: "manifest unknown".into() })
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let now = chrono::DateTime::<chrono::Utc>::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let _ = verify_notation_signatures::validate_payload(data, &Empty, now);
});
