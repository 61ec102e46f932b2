//! Trust stores kept in Kubernetes objects: the settings form
//! (`{configMap: {namespace, name, key?}}` or `{secret: ...}` in place of
//! inline PEM), its shape check, and how an object's data becomes the
//! store's certificates. No I/O here: the policy reads the object through
//! the `kubernetes/get_resource` host capability and `vns` through the
//! cluster or a directory; both hand the object (or the file) to this
//! module so that they choose the same keys in the same order.

use std::fmt;

use base64::Engine as _;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// One named store in the settings: PEM text, or where to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustStoreSource {
    Inline(String),
    Reference(StoreReferenceDoc),
}

impl From<&str> for TrustStoreSource {
    fn from(text: &str) -> Self {
        TrustStoreSource::Inline(text.to_string())
    }
}

impl From<String> for TrustStoreSource {
    fn from(text: String) -> Self {
        TrustStoreSource::Inline(text)
    }
}

/// `{configMap: {...}}` or `{secret: {...}}`, as written; the shape (exactly
/// one of the two, namespace and name present) is checked by
/// [`StoreReferenceDoc::check`] so that the error names the field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StoreReferenceDoc {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<ObjectRefDoc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<ObjectRefDoc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectRefDoc {
    #[serde(default)]
    pub namespace: String,
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl Serialize for TrustStoreSource {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            TrustStoreSource::Inline(text) => s.serialize_str(text),
            TrustStoreSource::Reference(doc) => doc.serialize(s),
        }
    }
}

// By hand rather than `#[serde(untagged)]`: an untagged enum reports only
// "did not match any variant", while this keeps the inner field's path and
// serde's own message (`unknown field `namspace``).
impl<'de> Deserialize<'de> for TrustStoreSource {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Source;
        impl<'de> Visitor<'de> for Source {
            type Value = TrustStoreSource;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("PEM certificates (a string), or {configMap: {namespace, name, key}} or {secret: {namespace, name, key}}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TrustStoreSource::Inline(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TrustStoreSource::Inline(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                StoreReferenceDoc::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(TrustStoreSource::Reference)
            }
        }
        d.deserialize_any(Source)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    ConfigMap,
    Secret,
}

impl ObjectKind {
    /// The Kubernetes kind (apiVersion `v1` for both).
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Secret => "Secret",
        }
    }
    /// The API's plural resource name (`/api/v1/namespaces/N/<plural>/NAME`).
    pub fn plural(self) -> &'static str {
        match self {
            ObjectKind::ConfigMap => "configmaps",
            ObjectKind::Secret => "secrets",
        }
    }
}

/// A checked reference: the object that holds a store's certificates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StoreReference {
    pub kind: ObjectKind,
    pub namespace: String,
    pub name: String,
    pub key: Option<String>,
}

/// `ConfigMap kubewarden/acme-pipelines[ca.pem]`: how messages name the object.
impl fmt::Display for StoreReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}/{}", self.kind.as_str(), self.namespace, self.name)?;
        if let Some(key) = &self.key {
            write!(f, "[{key}]")?;
        }
        Ok(())
    }
}

/// A reference of the wrong shape: `field` is relative to the store entry
/// (`configMap.namespace`, or empty for the entry itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeError {
    pub field: String,
    pub message: String,
}

impl StoreReferenceDoc {
    /// Exactly one of `configMap` / `secret`; `namespace` and `name` present
    /// (and names Kubernetes would accept); `key`, when given, not empty.
    pub fn check(&self) -> Result<StoreReference, ShapeError> {
        let (kind, field, doc) = match (&self.config_map, &self.secret) {
            (Some(doc), None) => (ObjectKind::ConfigMap, "configMap", doc),
            (None, Some(doc)) => (ObjectKind::Secret, "secret", doc),
            (Some(_), Some(_)) => {
                return Err(ShapeError {
                    field: String::new(),
                    message: "give either configMap or secret, not both".into(),
                })
            }
            (None, None) => {
                return Err(ShapeError {
                    field: String::new(),
                    message: "a trust store is PEM text, {configMap: {namespace, name, key}} or {secret: {namespace, name, key}}".into(),
                })
            }
        };
        for (name, value) in [("namespace", &doc.namespace), ("name", &doc.name)] {
            if value.trim().is_empty() {
                return Err(ShapeError {
                    field: format!("{field}.{name}"),
                    message: format!("is required (the {} {name})", kind.as_str()),
                });
            }
            if !is_object_name(value) {
                return Err(ShapeError {
                    field: format!("{field}.{name}"),
                    message: format!(
                        "\"{value}\" is not a Kubernetes object name (lowercase letters, digits, '-' and '.')"
                    ),
                });
            }
        }
        if doc.key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return Err(ShapeError {
                field: format!("{field}.key"),
                message: "is empty; leave it out to use every key holding PEM certificates".into(),
            });
        }
        Ok(StoreReference {
            kind,
            namespace: doc.namespace.clone(),
            name: doc.name.clone(),
            key: doc.key.clone(),
        })
    }
}

/// RFC 1123 subdomain, as the API server requires of ConfigMap and Secret
/// names (and namespaces, which are stricter labels; close enough for a
/// shape check: a wrong one is then "not found").
fn is_object_name(s: &str) -> bool {
    s.len() <= 253
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.ends_with(|c: char| c.is_ascii_alphanumeric())
}

const PEM_CERTIFICATE: &[u8] = b"-----BEGIN CERTIFICATE-----";

/// The store's bytes from the object as the API returns it: ConfigMap
/// `data` (text) and `binaryData` (base64), Secret `data` (base64). With a
/// key, that key's value (PEM or DER); without, every key whose value holds
/// PEM certificates, in key order, concatenated. The error says what the
/// object holds instead.
pub fn store_bytes(reference: &StoreReference, object: &Value) -> Result<Vec<u8>, String> {
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    let decode = |key: &str, value: &Value| -> Result<Vec<u8>, String> {
        let text = value
            .as_str()
            .ok_or_else(|| format!("the value of key \"{key}\" is not a string"))?;
        b64.decode(text)
            .map_err(|e| format!("the value of key \"{key}\" is not base64: {e}"))
    };
    let map = |field: &str| object.get(field).and_then(Value::as_object);
    match reference.kind {
        ObjectKind::ConfigMap => {
            for (key, value) in map("data").into_iter().flatten() {
                let text = value
                    .as_str()
                    .ok_or_else(|| format!("the value of key \"{key}\" is not a string"))?;
                entries.push((key.clone(), text.as_bytes().to_vec()));
            }
            for (key, value) in map("binaryData").into_iter().flatten() {
                entries.push((key.clone(), decode(key, value)?));
            }
        }
        ObjectKind::Secret => {
            for (key, value) in map("data").into_iter().flatten() {
                entries.push((key.clone(), decode(key, value)?));
            }
        }
    }
    // Key order, whatever order the JSON had.
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let keys = || {
        if entries.is_empty() {
            "it has no data".to_string()
        } else {
            let names: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
            format!("its keys: {}", names.join(", "))
        }
    };
    if let Some(key) = &reference.key {
        return match entries.iter().find(|(k, _)| k == key) {
            Some((_, value)) => Ok(value.clone()),
            None => Err(format!("has no key \"{key}\" ({})", keys())),
        };
    }
    let mut out = Vec::new();
    for (_, value) in &entries {
        if contains(value, PEM_CERTIFICATE) {
            out.extend_from_slice(value);
            out.push(b'\n');
        }
    }
    if out.is_empty() {
        return Err(format!(
            "holds no PEM certificate under any key ({})",
            keys()
        ));
    }
    Ok(out)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests;
