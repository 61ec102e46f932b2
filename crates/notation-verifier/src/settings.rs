//! The policy settings contract (docs/policy-settings.md, version 1),
//! shared by the Kubewarden policy and `vns verify` / `vns scan` so that both
//! read the same file and decide the same way.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::trust_policy::{PolicyError, TrustPolicy, TrustPolicyDocument};
use crate::trust_store::{TrustStoreError, TrustStores, TrustStoresPem};
use crate::verify::{Limits, Verifier};

mod locations;
mod parse;
pub use locations::{bundle_repository, BundleLocation, BundleLocationDoc};
pub use parse::{NamedSettings, SettingsParseError};

/// Notation's CLI default is 100; admission time is tighter.
pub const DEFAULT_MAX_SIGNATURES: usize = 10;
/// An upper bound on `maxSignatures`: each attempt can cost a full chain
/// validation, and the API server waits for us.
pub const MAX_MAX_SIGNATURES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Enforcement {
    /// A failing image rejects the request.
    #[default]
    Deny,
    /// The request is admitted; failures become warnings (verify-warn phase).
    Warn,
}

/// A temporary exception as written in the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExceptionDoc {
    #[serde(default)]
    pub image: String,
    #[serde(default)]
    pub expires: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

fn default_true() -> bool {
    true
}

fn default_max_signatures() -> usize {
    DEFAULT_MAX_SIGNATURES
}

/// The settings document exactly as the contract names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub trust_policy: Option<TrustPolicyDocument>,
    #[serde(default)]
    pub trust_stores: TrustStoresPem,
    #[serde(default = "default_true")]
    pub modify_images_with_digest: bool,
    #[serde(default)]
    pub enforcement: Enforcement,
    #[serde(default)]
    pub exceptions: Vec<ExceptionDoc>,
    #[serde(
        default = "default_max_signatures",
        deserialize_with = "parse::max_signatures"
    )]
    pub max_signatures: usize,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bundle_locations: Vec<BundleLocationDoc>,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            trust_policy: None,
            trust_stores: TrustStoresPem::default(),
            modify_images_with_digest: true,
            enforcement: Enforcement::Deny,
            exceptions: Vec::new(),
            max_signatures: DEFAULT_MAX_SIGNATURES,
            bundle_locations: Vec::new(),
        }
    }
}

/// A settings error; the message names the field at fault.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SettingsError {
    #[error("trustPolicy: is required (a Notation trust policy document, version \"1.0\")")]
    MissingTrustPolicy,
    #[error("trustPolicy: {0}")]
    TrustPolicy(#[from] PolicyError),
    #[error("trustStores: {0}")]
    TrustStore(#[from] TrustStoreError),
    #[error("trustPolicy: statement \"{statement}\" refers to trust store \"{reference}\", which is not defined under trustStores.{store_type}")]
    UndefinedStore {
        statement: String,
        reference: String,
        store_type: &'static str,
    },
    #[error("exceptions[{index}].{field}: {message}")]
    Exception {
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error("maxSignatures: must be between 1 and {max}, got {value}")]
    MaxSignatures { value: usize, max: usize },
    /// A field whose value is not one of those allowed; `path` is the
    /// field's path in the settings document.
    #[error("{path}: {message}")]
    Field { path: String, message: String },
}

/// A compiled exception.
#[derive(Debug, Clone)]
pub struct Exception {
    pub image: String,
    pub expires: DateTime<Utc>,
    pub reason: Option<String>,
    matcher: GlobMatcher,
}

/// What an exception says about an image at a given time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExceptionMatch<'a> {
    /// No exception names the image.
    None,
    /// A live exception: admit without verification.
    Active {
        exception: &'a str,
        reason: Option<&'a str>,
        expires: DateTime<Utc>,
        days_left: i64,
    },
    /// Only expired exceptions name the image: verify, and say the exception ended.
    Expired {
        exception: &'a str,
        expired: DateTime<Utc>,
    },
}

/// Settings after validation: everything parsed once, ready to evaluate.
#[derive(Debug, Clone)]
pub struct ValidatedSettings {
    pub verifier: Verifier,
    pub enforcement: Enforcement,
    pub modify_images_with_digest: bool,
    pub exceptions: Vec<Exception>,
    pub limits: Limits,
    /// `bundleLocations`, in order (first match wins).
    pub bundle_locations: Vec<BundleLocation>,
}

impl Settings {
    /// Applies every rule of the contract and compiles the settings; every
    /// trust store is parsed and checked. For settings validation (the
    /// policy's `validate_settings`, `vns`), where any invalid store is an error.
    pub fn validate(&self) -> Result<ValidatedSettings, SettingsError> {
        self.compile_with(true)
    }

    /// As [`Settings::validate`], but trust stores are kept as text and each
    /// is parsed on its first use: for settings already validated, compiled
    /// again for every admission request. Only the stores that the
    /// applicable statement names are parsed (see
    /// [`Verifier::load_statement_stores`]); an invalid store that is used
    /// fails with `TRUST_STORE_ERROR` and the message `validate` gives.
    pub fn compile(&self) -> Result<ValidatedSettings, SettingsError> {
        self.compile_with(false)
    }

    fn compile_with(&self, parse_stores: bool) -> Result<ValidatedSettings, SettingsError> {
        let doc = self
            .trust_policy
            .as_ref()
            .ok_or(SettingsError::MissingTrustPolicy)?;
        parse::check_trust_policy_fields(doc)?;
        let policy = TrustPolicy::from_document(doc)?;
        for statement in &policy.statements {
            for store in &statement.trust_stores {
                let defined = match store.store_type {
                    crate::trust_store::StoreType::Ca => {
                        self.trust_stores.ca.contains_key(&store.name)
                    }
                    crate::trust_store::StoreType::SigningAuthority => self
                        .trust_stores
                        .signing_authority
                        .contains_key(&store.name),
                    crate::trust_store::StoreType::Tsa => {
                        self.trust_stores.tsa.contains_key(&store.name)
                    }
                };
                if !defined {
                    return Err(SettingsError::UndefinedStore {
                        statement: statement.name.clone(),
                        reference: format!("{}:{}", store.store_type.as_str(), store.name),
                        store_type: store.store_type.as_str(),
                    });
                }
            }
        }
        locations::check_store_references(&self.trust_stores)?;
        let stores = if parse_stores {
            TrustStores::from_pem(&self.trust_stores)?
        } else {
            TrustStores::from_pem_lazy(&self.trust_stores)
        };
        if self.max_signatures == 0 || self.max_signatures > MAX_MAX_SIGNATURES {
            return Err(SettingsError::MaxSignatures {
                value: self.max_signatures,
                max: MAX_MAX_SIGNATURES,
            });
        }
        let exceptions = self
            .exceptions
            .iter()
            .enumerate()
            .map(|(index, e)| compile_exception(index, e))
            .collect::<Result<Vec<_>, _>>()?;
        let bundle_locations = self
            .bundle_locations
            .iter()
            .enumerate()
            .map(|(index, doc)| locations::compile_location(index, doc))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ValidatedSettings {
            verifier: Verifier::new(policy, stores),
            enforcement: self.enforcement,
            modify_images_with_digest: self.modify_images_with_digest,
            exceptions,
            limits: Limits {
                max_signatures: self.max_signatures,
                ..Limits::default()
            },
            bundle_locations,
        })
    }
}

impl ValidatedSettings {
    /// The exception that applies to `normalized_image` at `now`. A live
    /// exception wins over an expired one for the same image.
    pub fn exception_for(&self, normalized_image: &str, now: DateTime<Utc>) -> ExceptionMatch<'_> {
        let mut expired: Option<&Exception> = None;
        for e in self
            .exceptions
            .iter()
            .filter(|e| e.matcher.is_match(normalized_image))
        {
            if e.expires > now {
                // Whole days remaining: "0 days left" on the last day.
                let days_left = (e.expires - now).num_days();
                return ExceptionMatch::Active {
                    exception: &e.image,
                    reason: e.reason.as_deref(),
                    expires: e.expires,
                    days_left,
                };
            }
            if expired.is_none_or(|prev| e.expires > prev.expires) {
                expired = Some(e);
            }
        }
        match expired {
            Some(e) => ExceptionMatch::Expired {
                exception: &e.image,
                expired: e.expires,
            },
            None => ExceptionMatch::None,
        }
    }
}

fn compile_exception(index: usize, doc: &ExceptionDoc) -> Result<Exception, SettingsError> {
    let fail = |field: &'static str, message: String| SettingsError::Exception {
        index,
        field,
        message,
    };
    if doc.image.trim().is_empty() {
        return Err(fail(
            "image",
            "is required (a glob over the normalised image reference)".into(),
        ));
    }
    let matcher = image_glob(&doc.image)
        .map_err(|e| fail("image", format!("invalid glob \"{}\": {e}", doc.image)))?;
    let raw = doc.expires.as_deref().ok_or_else(|| {
        fail(
            "expires",
            "is required: every exception must end (RFC 3339 date or date-time)".into(),
        )
    })?;
    let expires = parse_expiry(raw).ok_or_else(|| {
        fail("expires", format!("\"{raw}\" is not an RFC 3339 date (2027-03-31) or date-time (2027-03-31T12:00:00Z)"))
    })?;
    Ok(Exception {
        image: doc.image.clone(),
        expires,
        reason: doc.reason.clone(),
        matcher,
    })
}

/// An image glob as exceptions and `bundleLocations` write it: `*` stays
/// within one path segment, `**` crosses segments, as the contract says;
/// matched against canonical references, so the registry segment is put in
/// the same canonical form (lowercase, no :443, docker.io).
pub(crate) fn image_glob(glob: &str) -> Result<GlobMatcher, globset::Error> {
    let pattern = crate::reference::canonical_glob(glob);
    Ok(GlobBuilder::new(&pattern)
        .literal_separator(true)
        .backslash_escape(true)
        .build()?
        .compile_matcher())
}

/// A date means "through the end of that day (UTC)"; a date-time is exact.
pub fn parse_expiry(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?;
    let next = date.succ_opt()?;
    Some(next.and_time(NaiveTime::MIN).and_utc())
}

#[cfg(test)]
mod tests;
