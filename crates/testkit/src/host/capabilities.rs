//! The host-call side: policy-evaluator's callback dispatch for the
//! granted capabilities, the [`Backend`] that answers the registry ones
//! (`kubernetes/get_resource` is answered by [`super::ClusterObjects`]), and
//! the registry failures shaped like the real host's errors.

use std::error::Error as StdError;

use oci_client::errors::OciDistributionError;
use oci_client::{ParseError, Reference};
use serde_json::{json, Value};

use super::{ClusterObjects, ALLOWED_CAPABILITIES};

/// policy-evaluator's `host_callback`, reduced to the capabilities the
/// policy is granted. The `Err` text is what the guest receives after
/// `Host error: `.
pub(super) fn dispatch(
    backend: &dyn Backend,
    cluster: &ClusterObjects,
    binding: &str,
    namespace: &str,
    operation: &str,
    payload: &[u8],
) -> Result<Vec<u8>, String> {
    if binding != "kubewarden" {
        return Err(format!("unknown binding: {binding}"));
    }
    let capability = format!("{namespace}/{operation}");
    if namespace != "tracing" && !ALLOWED_CAPABILITIES.contains(&capability.as_str()) {
        return Err(format!(
            "Policy has not been granted access to the '{capability}' host capability. The violation has been reported."
        ));
    }
    match (namespace, operation) {
        // The SDK's slog drain; the real host forwards it to its own log.
        ("tracing", "log") => Ok(Vec::new()),
        ("tracing", _) => Err(format!("unknown operation: {operation}")),
        ("oci", "v1/manifest_digest") => {
            let image: String = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            let reference = parse_reference(&image).map_err(|e| callback_failure(&e))?;
            let digest = backend
                .manifest_digest(&reference)
                .map_err(|e| callback_failure(&e))?;
            serde_json::to_vec(&json!({ "digest": digest })).map_err(|e| e.to_string())
        }
        ("oci", "v1/oci_manifest") => {
            let image: String = serde_json::from_slice(payload).map_err(|e| e.to_string())?;
            let reference = parse_reference(&image).map_err(|e| callback_failure(&e))?;
            backend.oci_manifest_answer(&reference)
        }
        ("kubernetes", "get_resource") => cluster.get_resource(payload),
        _ => Err(format!("unknown operation: {operation}")),
    }
}

/// `send_request_and_wait_for_response`: the handler's `anyhow::Error`,
/// Debug-formatted (so with its `Caused by:` chain).
pub(super) fn callback_failure(error: &RegistryFailure) -> String {
    format!("Callback evaluation failure: {}", anyhow_debug(error))
}

/// anyhow's `{:?}`: the message, then the source chain, numbered when it
/// has more than one link.
pub(super) fn anyhow_debug(error: &(dyn StdError + 'static)) -> String {
    let mut text = error.to_string();
    let mut causes = Vec::new();
    let mut next = error.source();
    while let Some(cause) = next {
        causes.push(cause.to_string());
        next = cause.source();
    }
    if causes.len() == 1 {
        text.push_str("\n\nCaused by:\n    ");
        text.push_str(&causes[0].replace('\n', "\n    "));
    } else if !causes.is_empty() {
        text.push_str("\n\nCaused by:");
        for (i, cause) in causes.iter().enumerate() {
            text.push_str(&format!("\n    {i}: {}", cause.replace('\n', "\n       ")));
        }
    }
    text
}

pub(super) fn parse_reference(image: &str) -> Result<Reference, RegistryFailure> {
    Reference::try_from(image).map_err(RegistryFailure::Reference)
}

/// The registry side of the two capabilities. Implementations get the
/// reference already normalised (docker.io rules, default tag `latest`),
/// as the real handler parses it before it reaches `oci-client`.
pub trait Backend: Send + Sync {
    /// `oci/v1/manifest_digest`: what the tag points to (an index for a
    /// multi-arch tag), or the queried digest if the reference carries one.
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure>;
    /// `oci/v1/oci_manifest`: the manifest as the host re-serialises it.
    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure>;

    /// `oci/v1/oci_manifest` as the bytes the guest receives (or the error
    /// text it receives). A backend may answer from a cache: the call runs
    /// inside the guest's deadline, and re-serialising a multi-MiB manifest
    /// in a debug build would count the test host's slowness against it.
    fn oci_manifest_answer(&self, reference: &Reference) -> Result<Vec<u8>, String> {
        let manifest = self
            .oci_manifest(reference)
            .map_err(|e| callback_failure(&e))?;
        serde_json::to_vec(&manifest).map_err(|e| e.to_string())
    }
}

/// A failed registry interaction, shaped like policy-fetcher's
/// `RegistryError` so its text (and `Caused by:` chain) matches the host's.
#[derive(Debug, thiserror::Error)]
pub enum RegistryFailure {
    /// `RegistryError::OCIRegistryError`: anything `oci-client` reports.
    #[error("Fail to interact with OCI registry: {0}")]
    Registry(#[source] OciDistributionError),
    /// A transport failure (reqwest's wording, ureq's cause).
    #[error("Fail to interact with OCI registry: {0}")]
    Transport(#[source] TransportError),
    /// `RegistryError::InvalidOCIImageReferenceError`.
    #[error("Invalid OCI image reference: {0}")]
    Reference(#[source] ParseError),
}

/// reqwest's "error sending request for url (…)", with the client's own
/// error as its cause.
#[derive(Debug, thiserror::Error)]
#[error("error sending request for url ({url})")]
pub struct TransportError {
    pub url: String,
    #[source]
    pub source: Box<dyn StdError + Send + Sync>,
}
