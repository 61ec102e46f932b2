//! Named trust stores of type `ca`, `signingAuthority` and `tsa` (spec digest §f.3).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;

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

/// Parsed and validated trust stores.
#[derive(Debug, Clone, Default)]
pub struct TrustStores {
    stores: BTreeMap<(StoreType, String), Vec<Certificate>>,
}

impl TrustStores {
    /// Parses every store and applies the per-type rules.
    pub fn from_pem(pem: &TrustStoresPem) -> Result<Self, TrustStoreError> {
        let mut stores = Self::default();
        for (store_type, map) in [
            (StoreType::Ca, &pem.ca),
            (StoreType::SigningAuthority, &pem.signing_authority),
            (StoreType::Tsa, &pem.tsa),
        ] {
            for (name, text) in map {
                let certs = if text.trim().is_empty() {
                    Vec::new()
                } else {
                    Certificate::parse_pem_or_der(text.as_bytes()).map_err(|e| match e {
                        CertError::Empty(_) => TrustStoreError::Empty {
                            store_type: store_type.as_str(),
                            name: name.clone(),
                        },
                        other => TrustStoreError::Invalid {
                            store_type: store_type.as_str(),
                            name: name.clone(),
                            message: other.to_string(),
                        },
                    })?
                };
                stores.insert(store_type, name, certs)?;
            }
        }
        Ok(stores)
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
        for cert in &certs {
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
        self.stores.insert((store_type, name.to_string()), certs);
        Ok(())
    }

    pub fn get(&self, store_type: StoreType, name: &str) -> Option<&[Certificate]> {
        self.stores
            .get(&(store_type, name.to_string()))
            .map(Vec::as_slice)
    }

    pub fn contains(&self, store_type: StoreType, name: &str) -> bool {
        self.get(store_type, name).is_some()
    }
}
