//! Manifest deletes (oci-client has none): `DELETE /v2/<name>/manifests/<digest>`,
//! authorized as the registry asks (Basic, or a Bearer token for the
//! `delete` action from its token service).
//!
//! A delete is housekeeping: its failure is an outcome to report, never an
//! error that fails the command.

use notation_verifier::reference::ImageRef;

use super::Registry;
use crate::auth::token;
use crate::auth::Credential;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Deleted (or already gone).
    Deleted,
    /// The registry does not allow deletes (HTTP 405, `UNSUPPORTED`).
    Unsupported(String),
    /// The credentials may not delete in this repository.
    Denied(String),
    /// Anything else (network, server error).
    Failed(String),
}

impl Registry {
    /// Deletes the manifest `digest` from `image`'s repository.
    pub async fn delete_manifest(&self, image: &ImageRef, digest: &str) -> DeleteOutcome {
        let registry = image.registry();
        let url = format!(
            "{}://{registry}/v2/{}/manifests/{digest}",
            self.scheme(registry),
            image.repository()
        );
        let credential = self.credential(registry);
        let mut request = self.http.delete(&url);
        if let Credential::Basic { user, password } = &credential {
            request = request.basic_auth(user, Some(password));
        }
        let mut response = match request.send().await {
            Ok(r) => r,
            Err(e) => return DeleteOutcome::Failed(e.to_string()),
        };
        let challenge = response
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .and_then(|h| h.to_str().ok())
            .and_then(token::bearer_challenge);
        if let (401, Some(challenge)) = (response.status().as_u16(), challenge) {
            let scope = challenge
                .scope
                .clone()
                .unwrap_or_else(|| format!("repository:{}:delete", image.repository()));
            let access = match token::fetch(&self.http, &challenge, &scope, &credential).await {
                Ok(a) => a,
                Err(e) => return DeleteOutcome::Denied(e.to_string()),
            };
            response = match self
                .http
                .delete(&url)
                .bearer_auth(&access.token)
                .send()
                .await
            {
                Ok(r) => r,
                Err(e) => return DeleteOutcome::Failed(e.to_string()),
            };
        }
        let status = response.status().as_u16();
        let body: String = response
            .text()
            .await
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect();
        match status {
            200..=299 | 404 => DeleteOutcome::Deleted,
            405 => DeleteOutcome::Unsupported(format!("HTTP 405 {}", body.trim())),
            _ if body.contains("UNSUPPORTED") => {
                DeleteOutcome::Unsupported(format!("HTTP {status} {}", body.trim()))
            }
            401 | 403 => DeleteOutcome::Denied(format!("HTTP {status} {}", body.trim())),
            _ => DeleteOutcome::Failed(format!("HTTP {status} {}", body.trim())),
        }
    }
}
