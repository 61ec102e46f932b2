//! Gatekeeper's external data protocol (`externaldata.gatekeeper.sh/v1beta1`):
//! a `ProviderRequest` carries `request.keys`; the `ProviderResponse` answers
//! each key with an item holding a `value` or an `error`, and `systemError`
//! only when the whole request failed. Gatekeeper matches items by key, so
//! the order is free; it hands Rego `responses` (key, value) and `errors`
//! (key, error) built from the items.

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const API_VERSION: &str = "externaldata.gatekeeper.sh/v1beta1";
pub const REQUEST_KIND: &str = "ProviderRequest";
pub const RESPONSE_KIND: &str = "ProviderResponse";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ProviderRequest {
    api_version: Option<String>,
    kind: Option<String>,
    request: Option<Request>,
}

#[derive(Debug, Deserialize)]
struct Request {
    keys: Option<Vec<String>>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderResponse {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub response: Response,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    /// Verdicts depend only on the image and the settings: asking again
    /// gives the same answer, which Gatekeeper requires for mutation.
    pub idempotent: bool,
    pub items: Vec<Item>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_error: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Item {
    pub key: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub value: Value,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub error: String,
}

impl ProviderResponse {
    pub fn items(items: Vec<Item>) -> Self {
        ProviderResponse {
            api_version: API_VERSION,
            kind: RESPONSE_KIND,
            response: Response {
                idempotent: true,
                items,
                system_error: String::new(),
            },
        }
    }

    pub fn system_error(message: String) -> Self {
        ProviderResponse {
            api_version: API_VERSION,
            kind: RESPONSE_KIND,
            response: Response {
                idempotent: true,
                items: Vec::new(),
                system_error: message,
            },
        }
    }
}

/// Why a request was refused as a whole (answered with `systemError`).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    #[error("the request body is not JSON: {0}; send a ProviderRequest ({API_VERSION})")]
    NotJson(String),
    #[error("apiVersion is {0:?}; this provider speaks {API_VERSION}")]
    ApiVersion(String),
    #[error("kind is {0:?}; send a ProviderRequest")]
    Kind(String),
    #[error("request.keys is missing or empty; send the image references to check")]
    NoKeys,
    #[error("request.keys has {count} keys, more than the {max} this provider takes in one request (--max-keys); send them in smaller requests")]
    TooManyKeys { count: usize, max: usize },
}

/// The keys of a request, in order, duplicates removed (one item per key).
pub fn parse(body: &[u8], max_keys: usize) -> Result<Vec<String>, RequestError> {
    let request: ProviderRequest =
        serde_json::from_slice(body).map_err(|e| RequestError::NotJson(e.to_string()))?;
    match request.api_version.as_deref() {
        Some(API_VERSION) => {}
        other => return Err(RequestError::ApiVersion(other.unwrap_or("").to_string())),
    }
    match request.kind.as_deref() {
        Some(REQUEST_KIND) => {}
        other => return Err(RequestError::Kind(other.unwrap_or("").to_string())),
    }
    let keys = request.request.and_then(|r| r.keys).unwrap_or_default();
    if keys.is_empty() {
        return Err(RequestError::NoKeys);
    }
    if keys.len() > max_keys {
        return Err(RequestError::TooManyKeys {
            count: keys.len(),
            max: max_keys,
        });
    }
    let mut seen = std::collections::HashSet::new();
    Ok(keys
        .into_iter()
        .filter(|k| seen.insert(k.clone()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(v: Value) -> Vec<u8> {
        serde_json::to_vec(&v).unwrap()
    }

    #[test]
    fn requests_are_checked_and_keys_deduplicated() {
        let ok = body(
            serde_json::json!({"apiVersion": API_VERSION, "kind": "ProviderRequest",
            "request": {"keys": ["a:1", "b:1", "a:1"]}}),
        );
        assert_eq!(parse(&ok, 10).unwrap(), vec!["a:1", "b:1"]);
        let kind = body(
            serde_json::json!({"apiVersion": API_VERSION, "kind": "ProviderResponse",
            "request": {"keys": ["a"]}}),
        );
        assert_eq!(
            parse(&kind, 10),
            Err(RequestError::Kind("ProviderResponse".into()))
        );
        let none = body(serde_json::json!({"apiVersion": API_VERSION, "kind": "ProviderRequest"}));
        assert_eq!(parse(&none, 10), Err(RequestError::NoKeys));
        let many = body(
            serde_json::json!({"apiVersion": API_VERSION, "kind": "ProviderRequest",
            "request": {"keys": ["a", "b", "c"]}}),
        );
        assert_eq!(
            parse(&many, 2),
            Err(RequestError::TooManyKeys { count: 3, max: 2 })
        );
        assert!(matches!(parse(b"{", 2), Err(RequestError::NotJson(_))));
        let version = body(serde_json::json!({"apiVersion": "v1", "kind": "ProviderRequest"}));
        assert_eq!(
            parse(&version, 2),
            Err(RequestError::ApiVersion("v1".into()))
        );
    }

    #[test]
    fn responses_have_gatekeepers_shape() {
        let r = ProviderResponse::items(vec![Item {
            key: "k".into(),
            value: Value::Null,
            error: "NO_SIGNATURE: x".into(),
        }]);
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["kind"], "ProviderResponse");
        assert_eq!(v["response"]["idempotent"], true);
        assert_eq!(v["response"]["items"][0]["error"], "NO_SIGNATURE: x");
        assert!(v["response"]["items"][0].get("value").is_none());
        assert!(v["response"].get("systemError").is_none());
        let v = serde_json::to_value(ProviderResponse::system_error("boom".into())).unwrap();
        assert_eq!(v["response"]["systemError"], "boom");
    }
}
