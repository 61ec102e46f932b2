//! `x509.subject` trusted identities: DN parsing and matching (spec digest §g.6).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;

use crate::cert::Certificate;

/// Attribute type (short name, e.g. `CN`, `ST`) -> value.
pub type DnMap = BTreeMap<String, String>;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IdentityError {
    #[error("{0}")]
    InvalidDn(String),
    #[error("{0}")]
    Mismatch(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `*`
    Any,
    /// `x509.subject: <DN>`
    X509Subject { raw: String, dn: DnMap },
    /// Another prefix: valid, ignored at match time (reserved for plugins).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedIdentities {
    pub identities: Vec<TrustedIdentity>,
}

/// Parses an RFC 4514-style DN with notation-go's rules.
pub fn parse_dn(_dn: &str) -> Result<DnMap, IdentityError> {
    Err(IdentityError::InvalidDn("unimplemented".into()))
}

impl TrustedIdentities {
    /// Parses and validates a statement's `trustedIdentities`; `statement`
    /// names the statement in error messages.
    pub fn parse(_values: &[String], _statement: &str) -> Result<Self, IdentityError> {
        Err(IdentityError::InvalidDn("unimplemented".into()))
    }

    /// Matches the leaf certificate's subject.
    pub fn check_leaf(&self, _leaf: &Certificate, _statement: &str) -> Result<(), IdentityError> {
        Err(IdentityError::Mismatch("unimplemented".into()))
    }

    /// Human-readable list of the identities, for messages.
    pub fn describe(&self) -> String {
        String::new()
    }
}
