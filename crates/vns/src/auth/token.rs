//! Bearer tokens from a registry's token service (docker/distribution token
//! authentication, which ACR, Docker Hub and docker-registry with
//! `auth: token` speak).
//!
//! The registry answers an unauthenticated request with 401 and
//! `WWW-Authenticate: Bearer realm="..",service="..",scope=".."`. The
//! client then asks the realm for a token for the scope:
//! - with a refresh token: `POST realm` with the form
//!   `grant_type=refresh_token&service=..&scope=..&refresh_token=..`
//!   (the OAuth2 grant; Docker does this for an `identitytoken`, and ACR
//!   expects it for the token of `az acr login --expose-token`);
//! - with a user and password, or nothing: `GET realm?service=..&scope=..`
//!   with HTTP Basic, or anonymously (the token specification).
//!
//! The answer is JSON with `access_token` (OAuth2) or `token`.

use std::time::{Duration, Instant};

use base64::Engine;
use serde::Deserialize;

use super::Credential;

/// A Bearer challenge from a registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub realm: String,
    pub service: Option<String>,
    /// The scope the registry asked for (present on resource requests).
    pub scope: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the token service {realm} refused the {grant} ({status}): {body}")]
    Refused {
        realm: String,
        grant: &'static str,
        status: u16,
        body: String,
    },
    #[error("the token service {realm} could not be reached: {message}")]
    Transport { realm: String, message: String },
    #[error("the token service {realm} answered without a token: {message}")]
    Malformed { realm: String, message: String },
    #[error("{registry} does not ask for Bearer tokens ({found}), so a refresh token cannot be used there; pass --username/--password")]
    NotTokenAuth { registry: String, found: String },
}

/// The Bearer challenge in a `WWW-Authenticate` header value, if any.
pub fn bearer_challenge(header: &str) -> Option<Challenge> {
    http_auth::parser::ChallengeParser::new(header)
        .filter_map(Result::ok)
        .find(|c| c.scheme.eq_ignore_ascii_case("Bearer"))
        .and_then(|c| {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            Some(Challenge {
                realm: param("realm")?,
                service: param("service"),
                scope: param("scope"),
            })
        })
}

/// An access token and when to stop using it.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub token: String,
    pub renew_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Seconds a token is valid: its JWT `exp` when it is a JWT, else the
/// response's `expires_in`, else 60 s (the token specification's default).
fn lifetime(token: &str, expires_in: Option<u64>) -> u64 {
    let from_jwt = token
        .split('.')
        .nth(1)
        .and_then(|claims| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|claims| claims["exp"].as_i64())
        .map(|exp| (exp - chrono::Utc::now().timestamp()).max(0) as u64);
    from_jwt.or(expires_in).unwrap_or(60)
}

/// Asks the token service of `challenge` for a token for `scope`.
pub async fn fetch(
    http: &reqwest::Client,
    challenge: &Challenge,
    scope: &str,
    credential: &Credential,
) -> Result<AccessToken, TokenError> {
    let realm = challenge.realm.clone();
    let service = challenge.service.clone().unwrap_or_default();
    let (request, grant) = match credential {
        Credential::RefreshToken(refresh) => (
            http.post(&realm).form(&[
                ("grant_type", "refresh_token"),
                ("service", service.as_str()),
                ("scope", scope),
                ("refresh_token", refresh.as_str()),
                ("client_id", "vns"),
            ]),
            "refresh token",
        ),
        Credential::Basic { user, password } => (
            http.get(&realm)
                .query(&[("service", service.as_str()), ("scope", scope)])
                .basic_auth(user, Some(password)),
            "user name and password",
        ),
        Credential::Anonymous => (
            http.get(&realm)
                .query(&[("service", service.as_str()), ("scope", scope)]),
            "anonymous request",
        ),
    };
    let transport = |e: reqwest::Error| TokenError::Transport {
        realm: realm.clone(),
        message: e.to_string(),
    };
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let body = response.text().await.map_err(transport)?;
    if !status.is_success() {
        return Err(TokenError::Refused {
            realm,
            grant,
            status: status.as_u16(),
            body: body.chars().take(300).collect(),
        });
    }
    let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| TokenError::Malformed {
        realm: realm.clone(),
        message: e.to_string(),
    })?;
    let token = parsed
        .access_token
        .or(parsed.token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::Malformed {
            realm: realm.clone(),
            message: "neither access_token nor token is set".into(),
        })?;
    // Renew a little before the end, so a call never starts with a token
    // that expires on the way.
    let seconds = lifetime(&token, parsed.expires_in)
        .saturating_sub(30)
        .max(5);
    Ok(AccessToken {
        token,
        renew_at: Instant::now() + Duration::from_secs(seconds),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_bearer_challenges() {
        let c = bearer_challenge(
            r#"Bearer realm="https://r.azurecr.io/oauth2/token",service="r.azurecr.io",scope="repository:app:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://r.azurecr.io/oauth2/token");
        assert_eq!(c.service.as_deref(), Some("r.azurecr.io"));
        assert_eq!(c.scope.as_deref(), Some("repository:app:pull"));
        assert_eq!(bearer_challenge(r#"Basic realm="Registry""#), None);
    }

    #[test]
    fn token_lifetime_comes_from_the_jwt() {
        let exp = chrono::Utc::now().timestamp() + 600;
        let claims =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{{\"exp\":{exp}}}"));
        let life = lifetime(&format!("h.{claims}.s"), Some(5));
        assert!((590..=600).contains(&life), "{life}");
        assert_eq!(lifetime("opaque", Some(42)), 42);
        assert_eq!(lifetime("opaque", None), 60);
    }
}
