//! Registry credentials: explicit flags or environment first, then the
//! Docker config file (`$DOCKER_CONFIG/config.json`, credential helpers
//! included), else anonymous.

use oci_client::secrets::RegistryAuth;

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
    pub fn for_registry(&self, registry: &str) -> RegistryAuth {
        if let Some((user, password)) = &self.explicit {
            return RegistryAuth::Basic(user.clone(), password.clone());
        }
        if !self.docker_config {
            return RegistryAuth::Anonymous;
        }
        match docker_credential::get_credential(&docker_server_key(registry)) {
            Ok(docker_credential::DockerCredential::UsernamePassword(u, p)) => {
                RegistryAuth::Basic(u, p)
            }
            Ok(docker_credential::DockerCredential::IdentityToken(_)) => {
                tracing::warn!(
                    "{registry}: the Docker config holds an identity token, which vns cannot use; trying anonymously (use --username/--password)"
                );
                RegistryAuth::Anonymous
            }
            Err(e) => {
                tracing::debug!("{registry}: no Docker credentials ({e:?}); anonymous access");
                RegistryAuth::Anonymous
            }
        }
    }
}
