//! Which client and credentials serve a request.
//!
//! oci-client keeps one credential per registry and, for Basic or no
//! credentials, performs the token dance itself (GET realm with Basic, a
//! token per repository and operation). It does not know refresh tokens:
//! for those, `vns` exchanges the refresh token for an access token scoped to
//! the repository (`crate::auth::token`) and hands it to a client of its own
//! as `RegistryAuth::Bearer`, one client per (registry, repository, push),
//! replaced before the token expires.

use std::time::Instant;

use notation_verifier::reference::ImageRef;
use oci_client::secrets::RegistryAuth;
use oci_client::Client;

use super::{ErrorKind, Registry, RegistryError};
use crate::auth::token::{self, Challenge, TokenError};
use crate::auth::Credential;

#[derive(Clone)]
pub(super) struct Scoped {
    client: Client,
    token: String,
    renew_at: Instant,
}

impl Registry {
    /// The credential for `registry`, looked up once.
    pub(crate) fn credential(&self, registry: &str) -> Credential {
        let mut cache = self.credentials.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .entry(registry.to_string())
            .or_insert_with(|| self.options.credentials.for_registry(registry))
            .clone()
    }

    /// The client and auth for a request on `image`'s repository (`push`:
    /// a write), with the auth stored in the client (some oci-client calls
    /// take none and use the stored one).
    pub(super) async fn access(
        &self,
        image: &ImageRef,
        push: bool,
    ) -> Result<(Client, RegistryAuth), RegistryError> {
        let registry = image.registry().to_string();
        let (client, auth) = match self.credential(&registry) {
            Credential::Anonymous => (self.client.clone(), RegistryAuth::Anonymous),
            Credential::Basic { user, password } => {
                (self.client.clone(), RegistryAuth::Basic(user, password))
            }
            Credential::RefreshToken(refresh) => {
                let scoped = self.scoped_client(image, push, refresh).await?;
                (scoped.client, RegistryAuth::Bearer(scoped.token))
            }
        };
        let oref = Self::oci_ref(image, "latest")?;
        client
            .store_auth_if_needed(oref.resolve_registry(), &auth)
            .await;
        Ok((client, auth))
    }

    /// The registry's Bearer challenge (from `GET /v2/`).
    pub(super) async fn challenge(&self, registry: &str) -> Result<Challenge, RegistryError> {
        let url = format!("{}://{registry}/v2/", self.scheme(registry));
        let fail = |kind: ErrorKind, message: String| RegistryError {
            registry: registry.to_string(),
            operation: format!("GET {url}"),
            kind,
            message,
        };
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .map_err(|e| fail(ErrorKind::Transient, e.to_string()))?;
        let header = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .map(str::to_owned);
        match header.as_deref().and_then(token::bearer_challenge) {
            Some(c) => Ok(c),
            None => Err(fail(
                ErrorKind::Unauthorized,
                TokenError::NotTokenAuth {
                    registry: registry.to_string(),
                    found: header.unwrap_or_else(|| format!("HTTP {}", response.status())),
                }
                .to_string(),
            )),
        }
    }

    async fn scoped_client(
        &self,
        image: &ImageRef,
        push: bool,
        refresh: String,
    ) -> Result<Scoped, RegistryError> {
        let registry = image.registry().to_string();
        let key = (registry.clone(), image.repository().to_string(), push);
        let cached = self
            .scoped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .filter(|s| s.renew_at > Instant::now())
            .cloned();
        if let Some(s) = cached {
            return Ok(s);
        }
        let challenge = self.challenge(&registry).await?;
        let actions = if push { "pull,push" } else { "pull" };
        let scope = format!("repository:{}:{actions}", image.repository());
        let credential = Credential::RefreshToken(refresh);
        let access = token::fetch(&self.http, &challenge, &scope, &credential)
            .await
            .map_err(|e| RegistryError {
                registry: registry.clone(),
                operation: format!("exchange the refresh token for {scope}"),
                kind: match e {
                    TokenError::Transport { .. } => ErrorKind::Transient,
                    _ => ErrorKind::Unauthorized,
                },
                message: format!("{e}; {}", credential.unauthorized_hint(&registry)),
            })?;
        let scoped = Scoped {
            client: Client::new(self.client_config()),
            token: access.token,
            renew_at: access.renew_at,
        };
        self.scoped
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, scoped.clone());
        Ok(scoped)
    }
}
