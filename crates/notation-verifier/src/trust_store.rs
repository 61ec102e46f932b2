//! Named trust stores of type `ca`, `signingAuthority` and `tsa` (spec digest §f.3).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::cert::{CertError, Certificate};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum StoreType {
    #[serde(rename = "ca")]
    Ca,
    #[serde(rename = "signingAuthority")]
    SigningAuthority,
    #[serde(rename = "tsa")]
    Tsa,
}

impl StoreType {
    pub fn as_str(self) -> &'static str {
        match self {
            StoreType::Ca => "ca",
            StoreType::SigningAuthority => "signingAuthority",
            StoreType::Tsa => "tsa",
        }
    }
    /// Case-sensitive, as notation-go.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ca" => Some(StoreType::Ca),
            "signingAuthority" => Some(StoreType::SigningAuthority),
            "tsa" => Some(StoreType::Tsa),
            _ => None,
        }
    }
}

/// The settings form: store type -> store name -> PEM text.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustStoresPem {
    pub ca: BTreeMap<String, String>,
    pub signing_authority: BTreeMap<String, String>,
    pub tsa: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum TrustStoreError {
    #[error("the trust store \"{name}\" of type \"{store_type}\" does not exist")]
    Missing {
        store_type: &'static str,
        name: String,
    },
    #[error("no x509 certificates were found in trust store \"{name}\" of type \"{store_type}\"")]
    Empty {
        store_type: &'static str,
        name: String,
    },
    #[error("trust store \"{name}\" of type \"{store_type}\": {message}")]
    Invalid {
        store_type: &'static str,
        name: String,
        message: String,
    },
}

/// One named store: parsed up front ([`TrustStores::from_pem`],
/// [`TrustStores::insert`]) or kept as PEM and parsed on first use
/// ([`TrustStores::from_pem_lazy`]).
#[derive(Debug, Clone)]
enum Store {
    Parsed(Vec<Certificate>),
    Pem {
        text: String,
        parsed: OnceLock<Result<Vec<Certificate>, TrustStoreError>>,
    },
}

/// Parsed and validated trust stores.
///
/// Stores built by [`TrustStores::from_pem_lazy`] are parsed and checked the
/// first time they are looked up by name, once: a request pays only for the
/// stores that its applicable trust-policy statement names.
#[derive(Debug, Clone, Default)]
pub struct TrustStores {
    stores: BTreeMap<(StoreType, String), Store>,
}

fn stores_of(pem: &TrustStoresPem) -> [(StoreType, &BTreeMap<String, String>); 3] {
    [
        (StoreType::Ca, &pem.ca),
        (StoreType::SigningAuthority, &pem.signing_authority),
        (StoreType::Tsa, &pem.tsa),
    ]
}

/// Parses one store's PEM (or DER) text and applies the per-type rules.
fn parse_store(
    store_type: StoreType,
    name: &str,
    text: &str,
) -> Result<Vec<Certificate>, TrustStoreError> {
    let certs = if text.trim().is_empty() {
        Vec::new()
    } else {
        Certificate::parse_pem_or_der(text.as_bytes()).map_err(|e| match e {
            CertError::Empty(_) => TrustStoreError::Empty {
                store_type: store_type.as_str(),
                name: name.to_string(),
            },
            other => TrustStoreError::Invalid {
                store_type: store_type.as_str(),
                name: name.to_string(),
                message: other.to_string(),
            },
        })?
    };
    check_store(store_type, name, &certs)?;
    Ok(certs)
}

/// Every certificate is a CA or self-signed; `tsa` stores hold only
/// self-signed, self-issued root CAs; a store is not empty.
fn check_store(
    store_type: StoreType,
    name: &str,
    certs: &[Certificate],
) -> Result<(), TrustStoreError> {
    let invalid = |message: String| TrustStoreError::Invalid {
        store_type: store_type.as_str(),
        name: name.to_string(),
        message,
    };
    if certs.is_empty() {
        return Err(TrustStoreError::Empty {
            store_type: store_type.as_str(),
            name: name.to_string(),
        });
    }
    for cert in certs {
        if !cert.is_ca() && !cert.is_self_signed() {
            return Err(invalid(format!(
                "certificate with subject \"{}\" is not a CA certificate or self-signed signing certificate",
                cert.subject()
            )));
        }
        if store_type == StoreType::Tsa {
            if let Err(e) = cert.verify_signed_by(cert) {
                return Err(invalid(format!(
                    "certificate with subject \"{}\" is not a root CA certificate: {e}",
                    cert.subject()
                )));
            }
            if !cert.is_self_issued() {
                return Err(invalid(format!(
                    "certificate with subject \"{}\" is not a root CA certificate: issuer ({}) and subject ({}) are not the same",
                    cert.subject(),
                    cert.issuer(),
                    cert.subject()
                )));
            }
        }
    }
    Ok(())
}

impl TrustStores {
    /// Parses every store and applies the per-type rules: the check for
    /// settings validation, where any invalid store is an error.
    pub fn from_pem(pem: &TrustStoresPem) -> Result<Self, TrustStoreError> {
        let mut stores = Self::default();
        for (store_type, map) in stores_of(pem) {
            for (name, text) in map {
                let certs = parse_store(store_type, name, text)?;
                stores
                    .stores
                    .insert((store_type, name.clone()), Store::Parsed(certs));
            }
        }
        Ok(stores)
    }

    /// Keeps every store as text; each is parsed and checked (with the same
    /// errors as [`TrustStores::from_pem`]) on its first [`TrustStores::load`].
    pub fn from_pem_lazy(pem: &TrustStoresPem) -> Self {
        let mut stores = Self::default();
        for (store_type, map) in stores_of(pem) {
            for (name, text) in map {
                stores.stores.insert(
                    (store_type, name.clone()),
                    Store::Pem {
                        text: text.clone(),
                        parsed: OnceLock::new(),
                    },
                );
            }
        }
        stores
    }

    /// Validates and adds one named store (certificates already parsed):
    /// every certificate is a CA or self-signed; `tsa` stores hold only
    /// self-signed, self-issued root CAs.
    pub fn insert(
        &mut self,
        store_type: StoreType,
        name: &str,
        certs: Vec<Certificate>,
    ) -> Result<(), TrustStoreError> {
        check_store(store_type, name, &certs)?;
        self.stores
            .insert((store_type, name.to_string()), Store::Parsed(certs));
        Ok(())
    }

    /// The certificates of one store, parsing it now if it was kept as text.
    pub fn load(
        &self,
        store_type: StoreType,
        name: &str,
    ) -> Result<&[Certificate], TrustStoreError> {
        match self.stores.get(&(store_type, name.to_string())) {
            None => Err(TrustStoreError::Missing {
                store_type: store_type.as_str(),
                name: name.to_string(),
            }),
            Some(Store::Parsed(certs)) => Ok(certs),
            Some(Store::Pem { text, parsed }) => parsed
                .get_or_init(|| parse_store(store_type, name, text))
                .as_ref()
                .map(Vec::as_slice)
                .map_err(Clone::clone),
        }
    }

    /// The certificates of a defined, valid store.
    pub fn get(&self, store_type: StoreType, name: &str) -> Option<&[Certificate]> {
        self.load(store_type, name).ok()
    }

    /// Whether a store of that name is defined (a lazy store is not parsed).
    pub fn contains(&self, store_type: StoreType, name: &str) -> bool {
        self.stores.contains_key(&(store_type, name.to_string()))
    }

    /// Whether the store is parsed (always, unless built lazily and not yet loaded).
    pub fn is_parsed(&self, store_type: StoreType, name: &str) -> bool {
        match self.stores.get(&(store_type, name.to_string())) {
            Some(Store::Parsed(_)) => true,
            Some(Store::Pem { parsed, .. }) => parsed.get().is_some(),
            None => false,
        }
    }
}
