//! Reading one object from the cluster of the current kubeconfig context,
//! as kubectl would (`$KUBECONFIG`, else `~/.kube/config`): the server and
//! its CA, and the user's bearer token, token file, client certificate,
//! basic credentials or exec plugin (kubelogin on AKS).
//!
//! A small reader over reqwest rather than the `kube` crate: `vns` needs one
//! GET of a ConfigMap or Secret, and `kube` (with its own HTTP stack, tower
//! layers and k8s-openapi types) would add dozens of crates to every build
//! of the CLI for it. Auth provider plugins (the legacy `auth-provider:
//! azure` / `gcp`) are not supported: they are gone from kubectl too; the
//! error says to use kubelogin.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("kubeconfig: {0}")]
    Config(String),
    #[error("{0}")]
    Api(String),
}

/// The API server of the current context, and how to authenticate to it.
pub struct Cluster {
    server: String,
    client: reqwest::Client,
    auth: Auth,
    context: String,
    cluster: String,
    user: String,
}

enum Auth {
    None,
    Bearer(String),
    Basic(String, String),
}

fn config_error(message: impl Into<String>) -> KubeError {
    KubeError::Config(message.into())
}

/// The kubeconfig files kubectl reads: `$KUBECONFIG` (a path list), else
/// `~/.kube/config`.
fn config_paths() -> Vec<PathBuf> {
    match std::env::var_os("KUBECONFIG") {
        Some(list) if !list.is_empty() => std::env::split_paths(&list).collect(),
        _ => std::env::var_os("HOME")
            .map(|h| vec![PathBuf::from(h).join(".kube").join("config")])
            .unwrap_or_default(),
    }
}

/// kubectl's merge: the first file that sets `current-context` wins it, and
/// for each named cluster, user and context the first definition wins.
fn merged_config(paths: &[PathBuf]) -> Result<Value, KubeError> {
    let mut current: Option<String> = None;
    let mut named: [(&str, Vec<Value>); 3] = [
        ("clusters", Vec::new()),
        ("users", Vec::new()),
        ("contexts", Vec::new()),
    ];
    let mut read_any = false;
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(config_error(format!("cannot read {}: {e}", path.display()))),
        };
        read_any = true;
        let doc: Value =
            serde_saphyr::from_str_with_options(&text, crate::settings_file::yaml_options())
                .map_err(|e| config_error(format!("{} is not valid YAML: {e}", path.display())))?;
        if current.is_none() {
            current = doc["current-context"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
        for (section, list) in &mut named {
            for entry in doc[*section].as_array().into_iter().flatten() {
                let name = entry["name"].as_str().unwrap_or_default();
                if !list.iter().any(|e| e["name"] == name) {
                    list.push(entry.clone());
                }
            }
        }
    }
    if !read_any {
        let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(config_error(format!(
            "no kubeconfig file found (looked at {}); set KUBECONFIG, or give --trust-store-dir",
            shown.join(", ")
        )));
    }
    let mut out = serde_json::Map::new();
    out.insert(
        "current-context".into(),
        current.map(Value::String).unwrap_or(Value::Null),
    );
    for (section, list) in named {
        out.insert(section.into(), Value::Array(list));
    }
    Ok(Value::Object(out))
}

fn find<'a>(config: &'a Value, section: &str, name: &str) -> Option<&'a Value> {
    config[section]
        .as_array()?
        .iter()
        .find(|e| e["name"] == name)
}

/// `*-data` (base64) or the file the other key names, relative to nothing
/// (kubectl resolves relative paths against the kubeconfig's directory; we
/// do too when the path is relative and one file was read).
fn data_or_file(
    entry: &Value,
    data_key: &str,
    file_key: &str,
    base: Option<&Path>,
) -> Result<Option<Vec<u8>>, KubeError> {
    if let Some(data) = entry[data_key].as_str() {
        return base64::engine::general_purpose::STANDARD
            .decode(data.trim())
            .map(Some)
            .map_err(|e| config_error(format!("{data_key} is not base64: {e}")));
    }
    if let Some(file) = entry[file_key].as_str() {
        let path = resolve(file, base);
        return std::fs::read(&path)
            .map(Some)
            .map_err(|e| config_error(format!("{file_key} {}: {e}", path.display())));
    }
    Ok(None)
}

/// A file named in the kubeconfig: relative paths are taken from the
/// kubeconfig's directory when one file was read.
fn resolve(file: &str, base: Option<&Path>) -> PathBuf {
    let path = PathBuf::from(file);
    match base {
        Some(base) if path.is_relative() => base.join(path),
        _ => path,
    }
}

impl Cluster {
    /// The current context of the kubeconfig kubectl would use.
    pub fn from_kubeconfig() -> Result<Self, KubeError> {
        let paths = config_paths();
        let config = merged_config(&paths)?;
        let base = match paths.as_slice() {
            [one] => one.parent().map(Path::to_path_buf),
            _ => None,
        };
        Self::from_config(&config, base.as_deref())
    }

    fn from_config(config: &Value, base: Option<&Path>) -> Result<Self, KubeError> {
        let context_name = config["current-context"].as_str().ok_or_else(|| {
            config_error("no current-context is set (kubectl config use-context NAME)")
        })?;
        let context = find(config, "contexts", context_name)
            .map(|c| &c["context"])
            .ok_or_else(|| {
                config_error(format!(
                    "the current context \"{context_name}\" is not defined"
                ))
            })?;
        let cluster_name = context["cluster"].as_str().unwrap_or_default();
        let cluster = find(config, "clusters", cluster_name)
            .map(|c| &c["cluster"])
            .ok_or_else(|| {
                config_error(format!(
                    "context \"{context_name}\" names the cluster \"{cluster_name}\", which is not defined"
                ))
            })?;
        let server = cluster["server"]
            .as_str()
            .ok_or_else(|| config_error(format!("cluster \"{cluster_name}\" has no server")))?
            .trim_end_matches('/')
            .to_string();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(30));
        if let Some(ca) = data_or_file(
            cluster,
            "certificate-authority-data",
            "certificate-authority",
            base,
        )? {
            let certs = reqwest::Certificate::from_pem_bundle(&ca).map_err(|e| {
                config_error(format!(
                    "cluster \"{cluster_name}\": certificate authority: {e}"
                ))
            })?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if cluster["insecure-skip-tls-verify"].as_bool() == Some(true) {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let user_name = context["user"].as_str().unwrap_or_default();
        let empty = Value::Null;
        let user = find(config, "users", user_name)
            .map(|u| &u["user"])
            .unwrap_or(&empty);
        let mut auth = Auth::None;
        let mut identity = match (
            data_or_file(user, "client-certificate-data", "client-certificate", base)?,
            data_or_file(user, "client-key-data", "client-key", base)?,
        ) {
            (Some(cert), Some(key)) => Some((cert, key)),
            _ => None,
        };
        if let Some(token) = user["token"].as_str() {
            auth = Auth::Bearer(token.to_string());
        } else if let Some(file) = user["tokenFile"].as_str() {
            // Relative to the kubeconfig's directory, as the certificate
            // files are (and as kubectl reads it).
            let path = resolve(file, base);
            let token = std::fs::read_to_string(&path).map_err(|e| {
                config_error(format!(
                    "user \"{user_name}\": tokenFile {}: {e}",
                    path.display()
                ))
            })?;
            auth = Auth::Bearer(token.trim().to_string());
        } else if let (Some(u), Some(p)) = (user["username"].as_str(), user["password"].as_str()) {
            auth = Auth::Basic(u.to_string(), p.to_string());
        } else if user.get("exec").is_some_and(|e| !e.is_null()) {
            let credential = exec_credential(&user["exec"], user_name)?;
            if let Some(token) = credential["status"]["token"].as_str() {
                auth = Auth::Bearer(token.to_string());
            }
            if let (Some(cert), Some(key)) = (
                credential["status"]["clientCertificateData"].as_str(),
                credential["status"]["clientKeyData"].as_str(),
            ) {
                identity = Some((cert.as_bytes().to_vec(), key.as_bytes().to_vec()));
            }
        } else if user.get("auth-provider").is_some_and(|e| !e.is_null()) {
            return Err(config_error(format!(
                "user \"{user_name}\" uses an auth-provider plugin, which vns does not run; convert the kubeconfig with `kubelogin convert-kubeconfig` (exec plugins are supported)"
            )));
        }
        if let Some((mut cert, key)) = identity {
            cert.push(b'\n');
            cert.extend_from_slice(&key);
            let identity = reqwest::Identity::from_pem(&cert).map_err(|e| {
                config_error(format!("user \"{user_name}\": client certificate: {e}"))
            })?;
            builder = builder.identity(identity);
        }
        let client = builder
            .build()
            .map_err(|e| config_error(format!("cannot set up the HTTPS client: {e}")))?;
        Ok(Cluster {
            server,
            client,
            auth,
            context: context_name.to_string(),
            cluster: cluster_name.to_string(),
            user: user_name.to_string(),
        })
    }

    /// `GET /api/v1/namespaces/NS/<plural>/NAME`: the object as JSON.
    pub async fn get(&self, plural: &str, namespace: &str, name: &str) -> Result<Value, KubeError> {
        let url = format!(
            "{}/api/v1/namespaces/{namespace}/{plural}/{name}",
            self.server
        );
        let mut request = self.client.get(&url).header("Accept", "application/json");
        request = match &self.auth {
            Auth::None => request,
            Auth::Bearer(token) => request.bearer_auth(token),
            Auth::Basic(user, password) => request.basic_auth(user, Some(password)),
        };
        let at = format!(
            "context \"{}\", cluster \"{}\" ({})",
            self.context, self.cluster, self.server
        );
        let response = request.send().await.map_err(|e| {
            let causes = with_causes(&e);
            KubeError::Api(format!("{at}: {causes}{}", self.tls_hint(&causes)))
        })?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| KubeError::Api(format!("{at}: {e}")))?;
        if !status.is_success() {
            // The API's Status object says why ("secrets \"x\" is forbidden: ...").
            let reason = serde_json::from_slice::<Value>(&body)
                .ok()
                .and_then(|v| v["message"].as_str().map(str::to_owned))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).chars().take(200).collect());
            return Err(KubeError::Api(format!("{at}: HTTP {status}: {reason}")));
        }
        serde_json::from_slice(&body)
            .map_err(|e| KubeError::Api(format!("{at}: the answer is not JSON: {e}")))
    }
}

impl Cluster {
    /// What to do about a TLS failure, told by the words rustls uses for it.
    fn tls_hint(&self, causes: &str) -> String {
        if causes.contains("invalid peer certificate") {
            format!(
                "; the API server's certificate is not issued by the certificate-authority(-data) of cluster \"{}\" in the kubeconfig: fetch fresh credentials (e.g. `az aks get-credentials`), or give --trust-store-dir",
                self.cluster
            )
        } else if causes.contains("CertificateRequired")
            || causes.contains("BadCertificate")
            // Under TLS 1.3 a server that refuses the client's certificate
            // (or its absence) says so after the handshake has completed
            // on the client's side; when the alert wins the race with the
            // request, hyper reports only that the connection closed.
            || causes.contains("connection was not ready")
            || causes.contains("connection closed before message completed")
        {
            format!(
                "; the API server refused the TLS session, as it does when it wants a client certificate it trusts: set client-certificate(-data) and client-key(-data) for user \"{}\" in the kubeconfig, or give --trust-store-dir",
                self.user
            )
        } else {
            String::new()
        }
    }
}

/// reqwest's "error sending request" says nothing without its causes
/// (connection refused, certificate unknown).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

/// Runs a client-go exec credential plugin (kubelogin on AKS) and returns
/// its `ExecCredential`.
fn exec_credential(exec: &Value, user: &str) -> Result<Value, KubeError> {
    let command = exec["command"]
        .as_str()
        .ok_or_else(|| config_error(format!("user \"{user}\": exec has no command")))?;
    let api_version = exec["apiVersion"]
        .as_str()
        .unwrap_or("client.authentication.k8s.io/v1");
    let mut cmd = Command::new(command);
    for arg in exec["args"].as_array().into_iter().flatten() {
        cmd.arg(arg.as_str().unwrap_or_default());
    }
    for env in exec["env"].as_array().into_iter().flatten() {
        if let (Some(k), Some(v)) = (env["name"].as_str(), env["value"].as_str()) {
            cmd.env(k, v);
        }
    }
    let info = serde_json::json!({"apiVersion": api_version, "kind": "ExecCredential",
                                  "spec": {"interactive": false}});
    cmd.env("KUBERNETES_EXEC_INFO", info.to_string());
    let output = cmd.output().map_err(|e| {
        config_error(format!(
            "user \"{user}\": cannot run the exec plugin {command}: {e}"
        ))
    })?;
    if !output.status.success() {
        return Err(config_error(format!(
            "user \"{user}\": {command} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        config_error(format!(
            "user \"{user}\": {command} did not print an ExecCredential: {e}"
        ))
    })
}

#[cfg(test)]
mod tests;
