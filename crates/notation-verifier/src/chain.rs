//! Certificate chain shape rules (spec digest §f) and path building for TSA
//! certificates (§i.2).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use chrono::{DateTime, Utc};

use crate::cert::Certificate;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ChainError {
    #[error("certificate chain must contain at least one certificate")]
    Empty,
    #[error("certificate chain has {0} certificates, more than the limit of {1}")]
    TooLong(usize, usize),
    #[error("{0}")]
    Invalid(String),
}

/// The longest chain accepted anywhere (bounded work on hostile input).
pub const MAX_CHAIN_LENGTH: usize = 10;

/// Code-signing chain, envelope order (leaf first), without time checks.
pub fn validate_code_signing_chain(_chain: &[Certificate]) -> Result<(), ChainError> {
    Err(ChainError::Invalid("unimplemented".into()))
}

/// Timestamping chain (TSA leaf first), without time checks.
pub fn validate_timestamping_chain(_chain: &[Certificate]) -> Result<(), ChainError> {
    Err(ChainError::Invalid("unimplemented".into()))
}

/// Builds and validates a path from `leaf` through `intermediates` to one of
/// `roots` at `time` (every certificate valid at `time`, signatures checked,
/// unknown critical extensions rejected), as Go's `x509.Verify` does for TSA
/// certificates. Returns the path, leaf first, ending with the root.
pub fn build_path(
    _leaf: &Certificate,
    _intermediates: &[Certificate],
    _roots: &[Certificate],
    _time: DateTime<Utc>,
) -> Result<Vec<Certificate>, ChainError> {
    Err(ChainError::Invalid("unimplemented".into()))
}
