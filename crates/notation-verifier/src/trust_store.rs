//! Named trust stores of type `ca`, `signingAuthority` and `tsa` (spec digest §f.3).
//!
//! CONTRACT: other modules code against these signatures; keep them stable.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::cert::{CertError, Certificate};

mod reference;
pub use reference::{
    store_bytes, ObjectKind, ObjectRefDoc, ShapeError, StoreReference, StoreReferenceDoc,
    TrustStoreSource,
};

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

/// The settings form: store type -> store name -> PEM text, or the
/// ConfigMap / Secret that holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct TrustStoresPem {
    pub ca: BTreeMap<String, TrustStoreSource>,
    pub signing_authority: BTreeMap<String, TrustStoreSource>,
    pub tsa: BTreeMap<String, TrustStoreSource>,
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
    /// A store kept in a ConfigMap or Secret that could not be read, or
    /// whose content is not a valid store; `object` names it.
    #[error("trust store \"{name}\" of type \"{store_type}\" ({object}): {message}")]
    Reference {
        store_type: &'static str,
        name: String,
        object: String,
        message: String,
    },
    /// A referenced store that nobody read (the caller did not resolve it).
    #[error(
        "trust store \"{name}\" of type \"{store_type}\" is kept in {object}, which was not read"
    )]
    Unresolved {
        store_type: &'static str,
        name: String,
        object: String,
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
    /// Kept in a Kubernetes object: empty until [`TrustStores::resolve`]
    /// gives it the object's content (once).
    Reference {
        reference: StoreReference,
        resolved: OnceLock<Result<Vec<Certificate>, TrustStoreError>>,
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

fn stores_of(pem: &TrustStoresPem) -> [(StoreType, &BTreeMap<String, TrustStoreSource>); 3] {
    [
        (StoreType::Ca, &pem.ca),
        (StoreType::SigningAuthority, &pem.signing_authority),
        (StoreType::Tsa, &pem.tsa),
    ]
}

/// The shape error of a reference, as a store error (settings validation
/// reports it earlier, with the field's path).
fn check_reference(
    store_type: StoreType,
    name: &str,
    doc: &StoreReferenceDoc,
) -> Result<StoreReference, TrustStoreError> {
    doc.check().map_err(|e| TrustStoreError::Invalid {
        store_type: store_type.as_str(),
        name: name.to_string(),
        message: if e.field.is_empty() {
            e.message
        } else {
            format!("{}: {}", e.field, e.message)
        },
    })
}

/// How much of a store's checking a parse does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Checks {
    /// Every rule, and the self-signature of every self-issued certificate
    /// verified: settings validation, and content read per request (a
    /// ConfigMap or Secret).
    Full,
    /// Inline text of settings that [`TrustStores::from_pem`] accepted when
    /// the policy was loaded (Kubewarden validates settings before it
    /// evaluates any request): the self-signatures verified then are taken
    /// as verified, so a root is not verified again in every request.
    Validated,
}

/// Parses one store's PEM (or DER) text and applies the per-type rules.
fn parse_store(
    store_type: StoreType,
    name: &str,
    text: &str,
    checks: Checks,
) -> Result<Vec<Certificate>, TrustStoreError> {
    parse_store_bytes_with(store_type, name, text.as_bytes(), checks)
}

fn parse_store_bytes(
    store_type: StoreType,
    name: &str,
    bytes: &[u8],
) -> Result<Vec<Certificate>, TrustStoreError> {
    parse_store_bytes_with(store_type, name, bytes, Checks::Full)
}

fn parse_store_bytes_with(
    store_type: StoreType,
    name: &str,
    bytes: &[u8],
    checks: Checks,
) -> Result<Vec<Certificate>, TrustStoreError> {
    let certs = if bytes.trim_ascii().is_empty() {
        Vec::new()
    } else {
        Certificate::parse_pem_or_der(bytes).map_err(|e| match e {
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
    if checks == Checks::Validated {
        for cert in certs.iter().filter(|c| c.is_self_issued()) {
            cert.assume_self_signed();
        }
    }
    check_store(store_type, name, &certs)?;
    if checks == Checks::Full {
        check_self_issued(store_type, name, &certs)?;
    }
    Ok(certs)
}

/// A self-issued certificate (issuer = subject) must be self-signed: its
/// signature verifies with its own key. Stricter than notation-go, which
/// only finds out when such a certificate ends a chain (and then refuses the
/// chain): refused here, with the store named, it is one error when the
/// settings are validated instead of a failed verification per image, and
/// the result is known for every later request (see [`Checks::Validated`]).
fn check_self_issued(
    store_type: StoreType,
    name: &str,
    certs: &[Certificate],
) -> Result<(), TrustStoreError> {
    for cert in certs.iter().filter(|c| c.is_self_issued()) {
        if let Err(e) = cert.signature_verifies_with(cert) {
            return Err(TrustStoreError::Invalid {
                store_type: store_type.as_str(),
                name: name.to_string(),
                message: format!(
                    "certificate with subject \"{}\" names itself as its issuer but its signature does not verify with its own key ({e}); a trust store holds root certificates (self-signed) or CA certificates issued by another CA",
                    cert.subject()
                ),
            });
        }
    }
    Ok(())
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
            for (name, source) in map {
                let store = match source {
                    TrustStoreSource::Inline(text) => {
                        Store::Parsed(parse_store(store_type, name, text, Checks::Full)?)
                    }
                    TrustStoreSource::Reference(doc) => Store::Reference {
                        reference: check_reference(store_type, name, doc)?,
                        resolved: OnceLock::new(),
                    },
                };
                stores.stores.insert((store_type, name.clone()), store);
            }
        }
        Ok(stores)
    }

    /// Keeps every store as text; each is parsed and checked (with the same
    /// errors as [`TrustStores::from_pem`]) on its first [`TrustStores::load`],
    /// for settings that [`TrustStores::from_pem`] accepted before: the
    /// self-signatures of inline certificates are not verified again (see
    /// [`Checks::Validated`]). Stores read from objects get every check.
    pub fn from_pem_lazy(pem: &TrustStoresPem) -> Self {
        let mut stores = Self::default();
        for (store_type, map) in stores_of(pem) {
            for (name, source) in map {
                let store = match source {
                    TrustStoreSource::Inline(text) => Store::Pem {
                        text: text.clone(),
                        parsed: OnceLock::new(),
                    },
                    TrustStoreSource::Reference(doc) => {
                        match check_reference(store_type, name, doc) {
                            Ok(reference) => Store::Reference {
                                reference,
                                resolved: OnceLock::new(),
                            },
                            // Settings validation refuses this shape; if
                            // it gets here, using the store fails.
                            Err(e) => Store::Pem {
                                text: String::new(),
                                parsed: OnceLock::from(Err(e)),
                            },
                        }
                    }
                };
                stores.stores.insert((store_type, name.clone()), store);
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
                .get_or_init(|| parse_store(store_type, name, text, Checks::Validated))
                .as_ref()
                .map(Vec::as_slice)
                .map_err(Clone::clone),
            Some(Store::Reference {
                reference,
                resolved,
            }) => match resolved.get() {
                Some(result) => result.as_ref().map(Vec::as_slice).map_err(Clone::clone),
                None => Err(TrustStoreError::Unresolved {
                    store_type: store_type.as_str(),
                    name: name.to_string(),
                    object: reference.to_string(),
                }),
            },
        }
    }

    /// The object a store is kept in, while it has not been resolved: the
    /// caller reads it and hands the content to [`TrustStores::resolve`].
    pub fn unresolved(&self, store_type: StoreType, name: &str) -> Option<&StoreReference> {
        match self.stores.get(&(store_type, name.to_string())) {
            Some(Store::Reference {
                reference,
                resolved,
            }) if resolved.get().is_none() => Some(reference),
            _ => None,
        }
    }

    /// Every store kept in an object and not resolved yet.
    pub fn all_unresolved(&self) -> Vec<(StoreType, String, StoreReference)> {
        self.stores
            .iter()
            .filter_map(|((t, n), store)| match store {
                Store::Reference {
                    reference,
                    resolved,
                } if resolved.get().is_none() => Some((*t, n.clone(), reference.clone())),
                _ => None,
            })
            .collect()
    }

    /// Gives a referenced store the content read from its object (see
    /// [`store_bytes`]) or the reason it could not be read; the bytes are
    /// parsed and checked by the same rules as inline PEM, and every error
    /// names the object. The first answer stays (one read per request).
    pub fn resolve(&self, store_type: StoreType, name: &str, content: Result<Vec<u8>, String>) {
        let Some(Store::Reference {
            reference,
            resolved,
        }) = self.stores.get(&(store_type, name.to_string()))
        else {
            return;
        };
        resolved.get_or_init(|| {
            let fail = |message: String| TrustStoreError::Reference {
                store_type: store_type.as_str(),
                name: name.to_string(),
                object: reference.to_string(),
                message,
            };
            let bytes = content.map_err(fail)?;
            parse_store_bytes(store_type, name, &bytes).map_err(|e| {
                fail(match e {
                    TrustStoreError::Empty { .. } => "holds no x509 certificate".to_string(),
                    TrustStoreError::Invalid { message, .. } => message,
                    other => other.to_string(),
                })
            })
        });
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
            Some(Store::Reference { resolved, .. }) => resolved.get().is_some(),
            None => false,
        }
    }
}

#[cfg(test)]
mod tests;
