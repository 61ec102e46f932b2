//! Reading a settings document so that every error names its field: the
//! path (`trustPolicy.trustPolicies[0].signatureVerification.level`), the
//! value found and what is allowed. serde alone says "unknown variant
//! `block`, expected `deny` or `warn`" without saying where; the path comes
//! from `serde_path_to_error`, and the enum fields of the trust policy
//! (plain strings in Notation's schema) are checked here with their paths
//! before Notation's own load-time rules run.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};

use super::{Settings, SettingsError, MAX_MAX_SIGNATURES};
use crate::trust_policy::TrustPolicyDocument;

/// A settings document that could not be read into [`Settings`].
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct SettingsParseError {
    /// The field at fault, `settings` for the document itself.
    pub path: String,
    pub message: String,
}

impl Settings {
    /// Reads settings from any serde format (JSON bytes, YAML text) with
    /// the path of the field at fault in the error.
    pub fn deserialize_named<'de, D>(deserializer: D) -> Result<Settings, SettingsParseError>
    where
        D: Deserializer<'de>,
    {
        serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let path = e.path().to_string();
            let path = if path == "." {
                "settings".to_string()
            } else {
                path
            };
            SettingsParseError {
                path,
                message: e.into_inner().to_string(),
            }
        })
    }

    /// [`Settings::deserialize_named`] for a JSON document.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Settings, SettingsParseError> {
        Settings::deserialize_named(&mut serde_json::Deserializer::from_slice(bytes))
    }
}

/// [`Settings`] read through [`Settings::deserialize_named`] as a plain
/// `Deserialize` type, for readers that take a type rather than lend a
/// `Deserializer` (serde-saphyr for YAML): the reader's error then carries
/// the field's path first, and its own line and column.
pub struct NamedSettings(pub Settings);

impl<'de> serde::Deserialize<'de> for NamedSettings {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Settings::deserialize_named(deserializer)
            .map(NamedSettings)
            .map_err(de::Error::custom)
    }
}

/// `maxSignatures`: a whole number; the range (1..=100) is checked by
/// `validate`, which names the field too.
pub(super) fn max_signatures<'de, D: Deserializer<'de>>(d: D) -> Result<usize, D::Error> {
    struct Count;
    impl Visitor<'_> for Count {
        type Value = usize;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            write!(f, "a whole number from 1 to {MAX_MAX_SIGNATURES}")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<usize, E> {
            usize::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<usize, E> {
            usize::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
    }
    d.deserialize_u64(Count)
}

const LEVELS: &str = "strict, permissive, audit, skip";
const OVERRIDE_KINDS: &str = "authenticity, authenticTimestamp, expiry, revocation";
const ACTIONS: &str = "enforce, log, skip";
const STORE_TYPES: &str = "ca, signingAuthority, tsa";

fn field(path: String, message: String) -> SettingsError {
    SettingsError::Field { path, message }
}

/// The enum-valued fields of the trust policy document, each with its path.
/// Notation's rules that relate fields (an override the level forbids, a
/// store that is not defined) are applied afterwards by
/// [`crate::trust_policy::TrustPolicy::from_document`].
pub(super) fn check_trust_policy_fields(doc: &TrustPolicyDocument) -> Result<(), SettingsError> {
    if doc.version != "1.0" {
        let found = if doc.version.is_empty() {
            "is required".to_string()
        } else {
            format!("\"{}\" is not supported", doc.version)
        };
        return Err(field(
            "trustPolicy.version".into(),
            format!("{found}; allowed: \"1.0\" (a string)"),
        ));
    }
    for (i, statement) in doc.trust_policies.iter().enumerate() {
        let at = format!("trustPolicy.trustPolicies[{i}]");
        let named = format!("statement \"{}\"", statement.name);
        let sv = &statement.signature_verification;
        match sv.level.as_str() {
            "strict" | "permissive" | "audit" | "skip" => {}
            "" => {
                return Err(field(
                    format!("{at}.signatureVerification.level"),
                    format!("is required ({named}); allowed: {LEVELS}"),
                ))
            }
            other => {
                return Err(field(
                    format!("{at}.signatureVerification.level"),
                    format!("\"{other}\" is not a level ({named}); allowed: {LEVELS}"),
                ))
            }
        }
        for (kind, action) in &sv.override_ {
            let path = format!("{at}.signatureVerification.override.{kind}");
            if !matches!(
                kind.as_str(),
                "integrity" | "authenticity" | "authenticTimestamp" | "expiry" | "revocation"
            ) {
                return Err(field(
                    path,
                    format!("\"{kind}\" is not a validation ({named}); allowed: {OVERRIDE_KINDS}"),
                ));
            }
            if !matches!(action.as_str(), "enforce" | "log" | "skip") {
                return Err(field(
                    path,
                    format!("\"{action}\" is not an action ({named}); allowed: {ACTIONS}"),
                ));
            }
        }
        if let Some(v) = sv.verify_timestamp.as_deref() {
            if !matches!(v, "" | "always" | "afterCertExpiry") {
                return Err(field(
                    format!("{at}.signatureVerification.verifyTimestamp"),
                    format!("\"{v}\" is not allowed ({named}); allowed: always, afterCertExpiry"),
                ));
            }
        }
        for (j, value) in statement.trust_stores.iter().enumerate() {
            let path = format!("{at}.trustStores[{j}]");
            let Some((kind, _)) = value.split_once(':') else {
                return Err(field(
                    path,
                    format!("\"{value}\" is not \"<type>:<name>\" ({named}); types: {STORE_TYPES}"),
                ));
            };
            if crate::trust_store::StoreType::parse(kind).is_none() {
                return Err(field(
                    path,
                    format!(
                        "\"{value}\" has the store type \"{kind}\" ({named}); allowed: {STORE_TYPES}"
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
