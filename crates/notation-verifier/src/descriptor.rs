//! The OCI content descriptor: what a signature's payload says was signed
//! (`targetArtifact`) and what the caller resolved the artifact to. The
//! lowest layer of the pipeline: envelopes, bundles and the verifier all
//! name it.

use serde::{Deserialize, Serialize};

/// An OCI content descriptor: what was signed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}
