//! The whole pipeline: artifact + envelopes + policy + stores + time -> Verdict.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::revocation::RevocationMaterial;
use crate::trust_policy::TrustPolicy;
use crate::trust_store::TrustStores;
use crate::verdict::{Outcome, Verdict};

/// An OCI content descriptor: what was signed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub media_type: String,
    pub digest: String,
    pub size: u64,
}

/// One signature as found in the registry or the bundle.
#[derive(Debug, Clone, Copy)]
pub struct Signature<'a> {
    pub media_type: &'a str,
    pub envelope: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Notation's maxSignatureAttempts.
    pub max_signatures: usize,
    /// Larger envelopes are rejected before parsing.
    pub max_envelope_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_signatures: 10,
            max_envelope_size: 4 * 1024 * 1024,
        }
    }
}

pub struct VerificationInput<'a> {
    /// `registry/repository`, normalised, without tag or digest.
    pub repository: &'a str,
    /// The resolved descriptor of the artifact's manifest.
    pub descriptor: &'a Descriptor,
    pub signatures: &'a [Signature<'a>],
    pub time: DateTime<Utc>,
    pub revocation: &'a RevocationMaterial,
    pub limits: Limits,
}

/// Trust policy + trust stores, validated once, used for many artifacts.
#[derive(Debug, Clone)]
pub struct Verifier {
    pub policy: TrustPolicy,
    pub stores: TrustStores,
}

impl Verifier {
    pub fn new(policy: TrustPolicy, stores: TrustStores) -> Self {
        Self { policy, stores }
    }

    pub fn verify(&self, _input: &VerificationInput<'_>) -> Verdict {
        Verdict {
            outcome: Outcome::Failed,
            statement: None,
            failure: None,
            signatures: Vec::new(),
        }
    }
}
