//! A registry token service for tests: what ACR's `/oauth2/token` or Docker
//! Hub's `auth.docker.io` do for a registry that runs with `auth: token`.
//!
//! It answers the two ways clients ask for a Bearer token:
//! - `GET /token?service=..&scope=..` with HTTP Basic credentials, or none
//!   (the Docker token specification; `docker login` with a password);
//! - `POST /token` with a form `grant_type=refresh_token&refresh_token=..`
//!   (the OAuth2 refresh-token grant: what Docker does with the identity
//!   token `az acr login` stores, and what ACR expects for the token from
//!   `az acr login --expose-token`).
//!
//! Tokens are JWTs signed (ES256) with a key whose certificate the registry
//! trusts through `rootcertbundle`; the header names the key by its libtrust
//! key ID (`kid`), which is how docker-registry looks the key up. Each
//! principal (user or refresh token) has a set of actions; a token grants
//! the requested actions it has, as ACR's scope maps do, and every request is
//! logged so tests can assert which grant a client used.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::pki::{CertifiedKey, KeyKind, PkiError, TestPki};

/// How long issued access tokens are valid.
const TOKEN_SECONDS: i64 = 300;
const MAX_BODY: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum TokenServiceError {
    #[error("the token service's key or certificate: {0}")]
    Pki(#[from] PkiError),
    #[error("the token service could not listen on loopback: {0}")]
    Listen(String),
    #[error("writing the root certificate bundle {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// Which way a token request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    Anonymous,
    Basic { user: String },
    RefreshToken,
}

/// One request the service answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    pub grant: Grant,
    /// The scopes asked for, as sent.
    pub scopes: Vec<String>,
    /// Whether a token was issued.
    pub issued: bool,
}

#[derive(Default)]
struct State {
    users: HashMap<String, (String, Vec<String>)>,
    refresh_tokens: HashMap<String, (String, Vec<String>)>,
    log: Vec<TokenRequest>,
}

struct Signer {
    service: String,
    issuer: String,
    key: CertifiedKey,
    kid: String,
}

/// A running token service on an ephemeral loopback port.
pub struct TokenService {
    server: Arc<tiny_http::Server>,
    thread: Option<JoinHandle<()>>,
    state: Arc<Mutex<State>>,
    signer: Arc<Signer>,
    realm: String,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

/// docker/libtrust's key ID: the SHA-256 of the DER SubjectPublicKeyInfo,
/// truncated to 240 bits, base32 without padding, in groups of four joined
/// by colons. docker-registry indexes the keys of `rootcertbundle` by it.
pub fn libtrust_key_id(spki_der: &[u8]) -> String {
    let digest = Sha256::digest(spki_der);
    let text = data_encoding::BASE32_NOPAD.encode(&digest[..30]);
    text.as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(":")
}

impl TokenService {
    /// Starts a service that issues tokens for registry `service`.
    pub fn start(service: &str) -> Result<Self, TokenServiceError> {
        let pki = TestPki::builder(KeyKind::P256)
            .name("token-service")
            .build()?;
        let key = pki.root.clone();
        let kid = libtrust_key_id(&key.key.public_key_der()?);
        let server = tiny_http::Server::http("127.0.0.1:0")
            .map_err(|e| TokenServiceError::Listen(e.to_string()))?;
        let port = server
            .server_addr()
            .to_ip()
            .map(|a| a.port())
            .ok_or_else(|| TokenServiceError::Listen("not an IP listener".into()))?;
        let server = Arc::new(server);
        let state = Arc::new(Mutex::new(State::default()));
        let signer = Arc::new(Signer {
            service: service.to_string(),
            issuer: "vns-testkit-token-service".into(),
            key,
            kid,
        });
        let thread = {
            let (server, state, signer) = (server.clone(), state.clone(), signer.clone());
            std::thread::Builder::new()
                .name("testkit-token-service".into())
                .spawn(move || {
                    for request in server.incoming_requests() {
                        answer(request, &state, &signer);
                    }
                })
                .map_err(|e| TokenServiceError::Listen(e.to_string()))?
        };
        Ok(Self {
            server,
            thread: Some(thread),
            state,
            signer,
            realm: format!("http://127.0.0.1:{port}/token"),
        })
    }

    /// The URL registries name in their challenge (`auth.token.realm`).
    pub fn realm(&self) -> &str {
        &self.realm
    }

    pub fn service(&self) -> &str {
        &self.signer.service
    }

    pub fn issuer(&self) -> &str {
        &self.signer.issuer
    }

    /// PEM of the certificate whose key signs the tokens (`rootcertbundle`).
    pub fn root_cert_pem(&self) -> &str {
        self.signer.key.cert.pem()
    }

    /// A user for the basic grant, allowed `actions` (`pull`, `push`, `delete`).
    pub fn add_user(&self, user: &str, password: &str, actions: &[&str]) {
        self.lock().users.insert(
            user.to_string(),
            (
                password.to_string(),
                actions.iter().map(|a| a.to_string()).collect(),
            ),
        );
    }

    /// A new refresh token (what `az acr login` stores as `identitytoken`)
    /// for `subject`, allowed `actions`.
    pub fn issue_refresh_token(&self, subject: &str, actions: &[&str]) -> String {
        let token = format!("rt-{}", hex::encode(rand::random::<[u8; 24]>()));
        self.lock().refresh_tokens.insert(
            token.clone(),
            (
                subject.to_string(),
                actions.iter().map(|a| a.to_string()).collect(),
            ),
        );
        token
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<TokenRequest> {
        self.lock().log.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for TokenService {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn respond(request: tiny_http::Request, status: u16, body: &Value) {
    let mut response = tiny_http::Response::from_string(body.to_string()).with_status_code(status);
    if let Ok(h) = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]) {
        response = response.with_header(h);
    }
    // A client that went away is not the service's problem.
    let _ = request.respond(response);
}

fn header(request: &tiny_http::Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_string())
}

fn basic_credentials(request: &tiny_http::Request) -> Option<(String, String)> {
    let value = header(request, "Authorization")?;
    let encoded = value.strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

fn answer(mut request: tiny_http::Request, state: &Mutex<State>, signer: &Signer) {
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    if path != "/token" {
        return respond(request, 404, &json!({"error": "not found"}));
    }
    let unauthorized =
        json!({"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]});
    let method = request.method().clone();
    match method {
        tiny_http::Method::Get => {
            let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
                .into_owned()
                .collect();
            let scopes: Vec<String> = params
                .iter()
                .filter(|(k, _)| k == "scope")
                .map(|(_, v)| v.clone())
                .collect();
            let (grant, principal) = match basic_credentials(&request) {
                None => (Grant::Anonymous, None),
                Some((user, password)) => {
                    let found = lock(state)
                        .users
                        .get(&user)
                        .filter(|(p, _)| *p == password)
                        .map(|(_, actions)| (user.clone(), actions.clone()));
                    (Grant::Basic { user }, found)
                }
            };
            let issued = principal.is_some();
            lock(state).log.push(TokenRequest {
                grant,
                scopes: scopes.clone(),
                issued,
            });
            match principal {
                // Private registries (ACR without anonymous pull) refuse
                // anonymous token requests and wrong passwords alike.
                None => respond(request, 401, &unauthorized),
                Some((subject, actions)) => {
                    let token = signer.token(&subject, &scopes, &actions);
                    respond(
                        request,
                        200,
                        &json!({"token": token, "access_token": token, "expires_in": TOKEN_SECONDS}),
                    )
                }
            }
        }
        tiny_http::Method::Post => {
            let mut body = String::new();
            let read = std::io::Read::read_to_string(
                &mut std::io::Read::take(request.as_reader(), MAX_BODY),
                &mut body,
            );
            if read.is_err() {
                return respond(request, 400, &json!({"error": "invalid_request"}));
            }
            let form: HashMap<String, String> = form_urlencoded::parse(body.as_bytes())
                .into_owned()
                .collect();
            let scopes: Vec<String> = form
                .get("scope")
                .map(|s| {
                    s.split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            if form.get("grant_type").map(String::as_str) != Some("refresh_token") {
                return respond(request, 400, &json!({"error": "unsupported_grant_type"}));
            }
            let principal = form
                .get("refresh_token")
                .and_then(|t| lock(state).refresh_tokens.get(t).cloned());
            let service_ok = form.get("service") == Some(&signer.service);
            let issued = principal.is_some() && service_ok;
            lock(state).log.push(TokenRequest {
                grant: Grant::RefreshToken,
                scopes: scopes.clone(),
                issued,
            });
            match principal.filter(|_| service_ok) {
                None => respond(request, 400, &json!({"error": "invalid_grant"})),
                Some((subject, actions)) => {
                    let token = signer.token(&subject, &scopes, &actions);
                    respond(
                        request,
                        200,
                        &json!({"access_token": token, "expires_in": TOKEN_SECONDS, "scope": scopes.join(" ")}),
                    )
                }
            }
        }
        _ => respond(request, 405, &json!({"error": "method not allowed"})),
    }
}

impl Signer {
    /// A JWT granting, for each `type:name:actions` scope, the actions the
    /// principal has.
    fn token(&self, subject: &str, scopes: &[String], allowed: &[String]) -> String {
        let access: Vec<Value> = scopes
            .iter()
            .filter_map(|scope| {
                let (kind, rest) = scope.split_once(':')?;
                let (name, actions) = rest.rsplit_once(':')?;
                let granted: Vec<&str> = actions
                    .split(',')
                    .filter(|a| allowed.iter().any(|x| x == a || x == "*"))
                    .collect();
                Some(json!({"type": kind, "name": name, "actions": granted}))
            })
            .collect();
        let now = chrono::Utc::now().timestamp();
        let header = json!({"typ": "JWT", "alg": "ES256", "kid": self.kid});
        let claims = json!({
            "iss": self.issuer,
            "sub": subject,
            "aud": self.service,
            "exp": now + TOKEN_SECONDS,
            "nbf": now - 10,
            "iat": now,
            "jti": hex::encode(rand::random::<[u8; 12]>()),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        // A P-256 key signs the Notation way: raw R || S over SHA-256,
        // which is exactly JWS ES256.
        let signature = self
            .key
            .key
            .sign_notation(signing_input.as_bytes())
            .unwrap_or_default();
        format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_key_ids_have_twelve_groups_of_four() {
        let id = libtrust_key_id(b"any spki");
        assert_eq!(id.len(), 12 * 4 + 11);
        assert!(id.split(':').all(|g| g.len() == 4));
    }
}
