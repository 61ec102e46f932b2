//! The OCI trust policy document (version 1.0): schema, load-time
//! validation, scope selection, levels and overrides (spec digest §g).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::identity::TrustedIdentities;
use crate::trust_store::StoreType;
use crate::verdict::{Action, ValidationKind};

/// The document as written (trustpolicy.json / settings `trustPolicy`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyDocument {
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub trust_policies: Vec<TrustPolicyStatementDoc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustPolicyStatementDoc {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub registry_scopes: Vec<String>,
    #[serde(default)]
    pub signature_verification: SignatureVerificationDoc,
    #[serde(default)]
    pub trust_stores: Vec<String>,
    #[serde(default)]
    pub trusted_identities: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignatureVerificationDoc {
    #[serde(default)]
    pub level: String,
    #[serde(
        default,
        rename = "override",
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub override_: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_timestamp: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Strict,
    Permissive,
    Audit,
    Skip,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyTimestamp {
    Always,
    AfterCertExpiry,
}

/// The action of each validation kind after level + overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Actions {
    pub integrity: Action,
    pub authenticity: Action,
    pub authentic_timestamp: Action,
    pub expiry: Action,
    pub revocation: Action,
}

impl Actions {
    pub fn get(&self, kind: ValidationKind) -> Action {
        match kind {
            ValidationKind::Integrity => self.integrity,
            ValidationKind::Authenticity => self.authenticity,
            ValidationKind::AuthenticTimestamp => self.authentic_timestamp,
            ValidationKind::Expiry => self.expiry,
            ValidationKind::Revocation => self.revocation,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrustStoreRef {
    pub store_type: StoreType,
    pub name: String,
}

/// A validated statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub name: String,
    pub registry_scopes: Vec<String>,
    pub level: Level,
    pub actions: Actions,
    pub verify_timestamp: VerifyTimestamp,
    pub trust_stores: Vec<TrustStoreRef>,
    pub trusted_identities: TrustedIdentities,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// The document breaks a load-time rule; the message names statement and field.
    #[error("{0}")]
    Invalid(String),
    /// The artifact reference cannot be used for scope selection.
    #[error("{0}")]
    BadReference(String),
    /// No statement covers the artifact.
    #[error("{0}")]
    NoApplicableStatement(String),
}

/// A validated trust policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustPolicy {
    pub statements: Vec<Statement>,
}

impl TrustPolicy {
    /// Applies every load-time rule of §g.4 and returns the validated policy.
    pub fn from_document(_doc: &TrustPolicyDocument) -> Result<Self, PolicyError> {
        Err(PolicyError::Invalid("unimplemented".into()))
    }

    /// Parses JSON (trustpolicy.json) and validates it.
    pub fn from_json(json: &str) -> Result<Self, PolicyError> {
        let doc: TrustPolicyDocument = serde_json::from_str(json)
            .map_err(|e| PolicyError::Invalid(format!("malformed trust policy: {e}")))?;
        Self::from_document(&doc)
    }

    /// The statement for `repository` (`registry/repository`, no tag or
    /// digest): exact scope match, else the `*` statement.
    pub fn statement_for(&self, _repository: &str) -> Result<&Statement, PolicyError> {
        Err(PolicyError::NoApplicableStatement("unimplemented".into()))
    }
}
