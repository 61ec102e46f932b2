//! Named trust stores of type `ca`, `signingAuthority` and `tsa` (spec digest §f.3).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cert::Certificate;

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
    pub fn from_pem(_pem: &TrustStoresPem) -> Result<Self, TrustStoreError> {
        Ok(Self::default())
    }

    /// Validates and adds one named store (certificates already parsed).
    pub fn insert(
        &mut self,
        store_type: StoreType,
        name: &str,
        certs: Vec<Certificate>,
    ) -> Result<(), TrustStoreError> {
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
