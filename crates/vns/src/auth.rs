//! Registry credentials: explicit flags or environment first, then the
//! Docker config file (`$DOCKER_CONFIG/config.json`, credential helpers
//! included), else anonymous.
//!
//! Three kinds, as Docker knows them: none, a user name and password (HTTP
//! Basic, or sent to the token service of a registry that uses Bearer
//! tokens), and an OAuth2 refresh token. The last is what `az acr login`
//! and `docker login` with a token service that hands out refresh tokens
//! store as `identitytoken`, and what `az acr login --expose-token` prints
//! for use with the user `00000000-0000-0000-0000-000000000000`: it is
//! exchanged for a short-lived access token (`token` submodule).

pub mod token;

use std::fmt;

/// The user name ACR documents for a token from `az acr login --expose-token`:
/// the password is then an ACR refresh token, not a password.
pub const ACR_TOKEN_USER: &str = "00000000-0000-0000-0000-000000000000";

#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    Anonymous,
    Basic {
        user: String,
        password: String,
    },
    /// Exchanged at the registry's token service (OAuth2 refresh-token grant).
    RefreshToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Anonymous => write!(f, "Anonymous"),
            Credential::Basic { user, .. } => write!(f, "Basic({user}, <redacted>)"),
            Credential::RefreshToken(_) => write!(f, "RefreshToken(<redacted>)"),
        }
    }
}

impl Credential {
    /// What to tell a user whose request the registry refused.
    pub fn unauthorized_hint(&self, registry: &str) -> String {
        let acr = registry
            .split('.')
            .next()
            .filter(|_| registry.ends_with(".azurecr.io"))
            .unwrap_or("<registry name>");
        match self {
            Credential::Anonymous => format!(
                "no credentials for {registry} were found, and it refuses anonymous access: log in first \
                 (`docker login {registry}`; for ACR `az acr login --name {acr}`), or pass --username/--password \
                 (for ACR: --username {ACR_TOKEN_USER} --password \"$(az acr login --name {acr} --expose-token --output tsv --query accessToken)\")"
            ),
            Credential::Basic { user, .. } => format!(
                "{registry} refused the credentials of user {user}, or they lack access to this repository \
                 (pull to read; push and delete to attach)"
            ),
            Credential::RefreshToken(_) => format!(
                "{registry} refused the refresh token (the Docker config's identity token, or the ACR token given \
                 as --password), or it lacks access to this repository: these tokens expire (ACR: about three \
                 hours), log in again (`az acr login --name {acr}`, or a new `--expose-token`)"
            ),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Credentials {
    /// From `--username` / `--password` (or `VNS_USERNAME` / `VNS_PASSWORD`):
    /// used for every registry.
    pub explicit: Option<(String, String)>,
    /// Whether to consult the Docker config file.
    pub docker_config: bool,
}

/// The key Docker uses for a registry in config.json.
fn docker_server_key(registry: &str) -> String {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            "https://index.docker.io/v1/".to_string()
        }
        other => other.to_string(),
    }
}

impl Credentials {
    pub fn for_registry(&self, registry: &str) -> Credential {
        if let Some((user, password)) = &self.explicit {
            return if user == ACR_TOKEN_USER {
                Credential::RefreshToken(password.clone())
            } else {
                Credential::Basic {
                    user: user.clone(),
                    password: password.clone(),
                }
            };
        }
        if !self.docker_config {
            return Credential::Anonymous;
        }
        match docker_credential::get_credential(&docker_server_key(registry)) {
            Ok(docker_credential::DockerCredential::UsernamePassword(user, password)) => {
                // A credential helper may hand back the ACR token user with
                // a refresh token as its password, as `--expose-token` does.
                if user == ACR_TOKEN_USER {
                    Credential::RefreshToken(password)
                } else {
                    Credential::Basic { user, password }
                }
            }
            Ok(docker_credential::DockerCredential::IdentityToken(token)) => {
                Credential::RefreshToken(token)
            }
            Err(e) => {
                tracing::debug!("{registry}: no Docker credentials ({e:?}); anonymous access");
                Credential::Anonymous
            }
        }
    }
}
