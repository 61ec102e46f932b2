//! Registry access for `vns`: manifests, Notation signatures (Referrers API
//! and the referrers tag schema), bounded blob reads, bundle pushes, tags.
//!
//! Every call names the registry in its error and is retried with backoff,
//! bounded in time, when the registry answers 429 or 5xx or the connection
//! fails; other errors are final.

mod access;
mod delete;

pub use delete::DeleteOutcome;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use futures_util::StreamExt;
use notation_verifier::bundle::{MAX_ENVELOPE_SIZE, NOTATION_SIGNATURE_ARTIFACT_TYPE};
use notation_verifier::envelope::{MEDIA_TYPE_COSE, MEDIA_TYPE_JWS};
use notation_verifier::reference::ImageRef;
use notation_verifier::verify::Descriptor;
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::auth::{Credential, Credentials};

/// Accept list for manifests: OCI and Docker, image and index.
const MANIFEST_TYPES: &[&str] = &[
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// Manifests larger than this are refused (OCI suggests 4 MiB).
pub const MAX_MANIFEST_SIZE: usize = 4 * 1024 * 1024;
pub const THUMBPRINT_ANNOTATION: &str = "io.cncf.notary.x509chain.thumbprint#S256";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    NotFound,
    Unauthorized,
    Transient,
    Protocol,
}

#[derive(Debug, thiserror::Error, Clone)]
#[error("registry {registry}: {operation}: {message}")]
pub struct RegistryError {
    pub registry: String,
    pub operation: String,
    pub kind: ErrorKind,
    pub message: String,
}

impl RegistryError {
    pub fn is_not_found(&self) -> bool {
        self.kind == ErrorKind::NotFound
    }
}

fn classify(e: &OciDistributionError) -> ErrorKind {
    match e {
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_) => ErrorKind::Unauthorized,
        OciDistributionError::ImageManifestNotFoundError(_) => ErrorKind::NotFound,
        OciDistributionError::ServerError { code, .. } => match code {
            404 => ErrorKind::NotFound,
            401 | 403 => ErrorKind::Unauthorized,
            429 | 500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Protocol,
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes: Vec<String> = envelope
                .errors
                .iter()
                .map(|e| format!("{:?}", e.code).to_ascii_uppercase())
                .collect();
            if codes.iter().any(|c| c.contains("UNKNOWN")) {
                ErrorKind::NotFound
            } else if codes
                .iter()
                .any(|c| c.contains("UNAUTHORIZED") || c.contains("DENIED"))
            {
                ErrorKind::Unauthorized
            } else if codes
                .iter()
                .any(|c| c.contains("TOOMANYREQUESTS") || c.contains("UNAVAILABLE"))
            {
                ErrorKind::Transient
            } else {
                ErrorKind::Protocol
            }
        }
        OciDistributionError::RequestError(_) | OciDistributionError::IoError(_) => {
            ErrorKind::Transient
        }
        _ => ErrorKind::Protocol,
    }
}

/// A Notation signature found in the registry.
#[derive(Debug, Clone)]
pub struct FoundSignature {
    /// Digest of the signature manifest.
    pub manifest_digest: String,
    pub media_type: String,
    pub envelope: Vec<u8>,
    pub thumbprints: Option<String>,
}

impl FoundSignature {
    /// Whether the layer is a JWS or COSE envelope.
    pub fn is_envelope(&self) -> bool {
        self.media_type == MEDIA_TYPE_JWS || self.media_type == MEDIA_TYPE_COSE
    }
}

#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// Registries reached over plain HTTP (loopback ones always are, as
    /// Docker treats them as insecure by default).
    pub plain_http: Vec<String>,
    pub plain_http_all: bool,
    /// How long retries of one call may take in total.
    pub retry_budget: Duration,
    pub credentials: Credentials,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            plain_http: Vec::new(),
            plain_http_all: false,
            retry_budget: Duration::from_secs(30),
            credentials: Credentials::default(),
        }
    }
}

pub fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or(registry);
    host == "localhost" || host.starts_with("127.") || host == "[::1]"
}

pub struct Registry {
    client: Client,
    options: RegistryOptions,
    /// Registries reached over plain HTTP (for requests made here).
    plain: Vec<String>,
    /// Token requests and manifest deletes, which oci-client does not make.
    http: reqwest::Client,
    /// The credential of each registry, looked up once (a credential
    /// helper is a process).
    credentials: Mutex<HashMap<String, Credential>>,
    /// For refresh-token credentials: a client per (registry, repository,
    /// push) holding an access token for that scope (see `access`).
    scoped: Mutex<HashMap<(String, String, bool), access::Scoped>>,
}

impl Registry {
    /// `registries` are those the command will touch (loopback ones get plain HTTP).
    pub fn new(options: RegistryOptions, registries: &[String]) -> Self {
        let mut plain: Vec<String> = options.plain_http.clone();
        plain.extend(registries.iter().filter(|r| is_loopback(r)).cloned());
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(30))
            .build()
            .unwrap_or_default();
        let mut registry = Registry {
            client: Client::default(),
            options,
            plain,
            http,
            credentials: Mutex::new(HashMap::new()),
            scoped: Mutex::new(HashMap::new()),
        };
        registry.client = Client::new(registry.client_config());
        registry
    }

    fn client_config(&self) -> oci_client::client::ClientConfig {
        let protocol = if self.options.plain_http_all {
            oci_client::client::ClientProtocol::Http
        } else {
            oci_client::client::ClientProtocol::HttpsExcept(self.plain.clone())
        };
        oci_client::client::ClientConfig {
            protocol,
            read_timeout: Some(Duration::from_secs(30)),
            connect_timeout: Some(Duration::from_secs(10)),
            ..Default::default()
        }
    }

    /// `http` or `https` for requests made here, as oci-client chooses.
    fn scheme(&self, registry: &str) -> &'static str {
        if self.options.plain_http_all || self.plain.iter().any(|p| p == registry) {
            "http"
        } else {
            "https"
        }
    }

    /// Runs `op` with retries on transient failures, bounded by the budget.
    async fn call<T, F, Fut>(
        &self,
        registry: &str,
        operation: &str,
        op: F,
    ) -> Result<T, RegistryError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<T, OciDistributionError>>,
    {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_total_delay(Some(self.options.retry_budget))
            .with_max_times(8);
        op.retry(backoff)
            .when(|e| classify(e) == ErrorKind::Transient)
            .notify(|e, wait| tracing::warn!("{registry}: {operation}: {e}; retrying in {wait:?}"))
            .await
            .map_err(|e| {
                let kind = classify(&e);
                let message = if kind == ErrorKind::Unauthorized {
                    let push = if operation.starts_with("PUT") {
                        "; pushing needs push permission (ACR: content/write in the token's scope map)"
                    } else {
                        ""
                    };
                    format!(
                        "{}; {}{push}",
                        e.to_string().trim_end(),
                        self.credential(registry).unauthorized_hint(registry)
                    )
                } else {
                    e.to_string()
                };
                RegistryError {
                    registry: registry.to_string(),
                    operation: operation.to_string(),
                    kind,
                    message,
                }
            })
    }

    fn oci_ref(image: &ImageRef, reference: &str) -> Result<Reference, RegistryError> {
        let text = if reference.contains(':') && reference.starts_with("sha") {
            format!("{}/{}@{reference}", image.registry(), image.repository())
        } else {
            format!("{}/{}:{reference}", image.registry(), image.repository())
        };
        text.parse::<Reference>().map_err(|e| RegistryError {
            registry: image.registry().to_string(),
            operation: format!("parse {text}"),
            kind: ErrorKind::Protocol,
            message: e.to_string(),
        })
    }

    /// The manifest at `reference` (tag or digest) in `image`'s repository:
    /// its bytes and digest, checked against the digest when one was asked for.
    pub async fn manifest(
        &self,
        image: &ImageRef,
        reference: &str,
    ) -> Result<(Vec<u8>, String), RegistryError> {
        let oref = Self::oci_ref(image, reference)?;
        let registry = image.registry().to_string();
        let (client, auth) = self.access(image, false).await?;
        let (bytes, digest) = self
            .call(&registry, &format!("GET manifest {}", oref.whole()), || {
                client.pull_manifest_raw(&oref, &auth, MANIFEST_TYPES)
            })
            .await?;
        if bytes.len() > MAX_MANIFEST_SIZE {
            return Err(RegistryError {
                registry,
                operation: format!("GET manifest {}", oref.whole()),
                kind: ErrorKind::Protocol,
                message: format!(
                    "the manifest is {} bytes, more than {MAX_MANIFEST_SIZE}",
                    bytes.len()
                ),
            });
        }
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != digest || (reference.starts_with("sha256:") && reference != actual) {
            return Err(RegistryError {
                registry,
                operation: format!("GET manifest {}", oref.whole()),
                kind: ErrorKind::Protocol,
                message: format!("the registry sent content with digest {actual}, not {digest}"),
            });
        }
        Ok((bytes.to_vec(), digest))
    }

    /// The descriptor of the manifest an image reference points to.
    pub async fn resolve(&self, image: &ImageRef) -> Result<Descriptor, RegistryError> {
        let reference = match (image.digest(), image.tag()) {
            (Some(d), _) => d.to_string(),
            (None, Some(t)) => t.to_string(),
            (None, None) => "latest".to_string(),
        };
        let (bytes, digest) = self.manifest(image, &reference).await?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| RegistryError {
            registry: image.registry().to_string(),
            operation: format!("parse manifest {reference}"),
            kind: ErrorKind::Protocol,
            message: e.to_string(),
        })?;
        // What Notation signs is the descriptor of these bytes: their digest,
        // their length and their media type. A manifest without a mediaType
        // member is an OCI one (Docker's schema 2 types always carry it): an
        // index when it lists manifests.
        let media_type = match json.get("mediaType") {
            Some(Value::String(m)) => m.clone(),
            Some(other) if !other.is_null() => {
                return Err(RegistryError {
                    registry: image.registry().to_string(),
                    operation: format!("parse manifest {reference}"),
                    kind: ErrorKind::Protocol,
                    message: format!("mediaType is not a string: {other}"),
                })
            }
            _ if json.get("manifests").is_some() => {
                "application/vnd.oci.image.index.v1+json".to_string()
            }
            _ => "application/vnd.oci.image.manifest.v1+json".to_string(),
        };
        Ok(Descriptor {
            media_type,
            digest,
            size: bytes.len() as u64,
        })
    }

    /// Digests of the Notation signature manifests of `digest`: the Referrers
    /// API (oci-client falls back to the tag schema when it is missing) and
    /// the tag-schema index, united, in listing order.
    pub async fn signature_manifests(
        &self,
        image: &ImageRef,
        digest: &str,
    ) -> Result<Vec<String>, RegistryError> {
        let oref = Self::oci_ref(image, digest)?;
        let registry = image.registry().to_string();
        let (client, _) = self.access(image, false).await?;
        let index = self
            .call(&registry, &format!("list referrers of {digest}"), || {
                client.pull_referrers(&oref, Some(NOTATION_SIGNATURE_ARTIFACT_TYPE))
            })
            .await?;
        let mut digests: Vec<String> = index
            .manifests
            .iter()
            .filter(|m| {
                m.artifact_type
                    .as_deref()
                    .is_none_or(|t| t == NOTATION_SIGNATURE_ARTIFACT_TYPE)
            })
            .map(|m| m.digest.clone())
            .collect();
        let tag = digest.replacen(':', "-", 1);
        match self.manifest(image, &tag).await {
            Ok((bytes, _)) => {
                let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
                for entry in json["manifests"].as_array().into_iter().flatten() {
                    let is_notation = entry["artifactType"]
                        .as_str()
                        .is_none_or(|t| t == NOTATION_SIGNATURE_ARTIFACT_TYPE);
                    if let Some(d) = entry["digest"].as_str().filter(|_| is_notation) {
                        if !digests.iter().any(|x| x == d) {
                            digests.push(d.to_string());
                        }
                    }
                }
            }
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        Ok(digests)
    }

    /// Reads one signature manifest and its first layer; `None` when it is
    /// not a Notation signature or has no layer.
    pub async fn signature(
        &self,
        image: &ImageRef,
        manifest_digest: &str,
    ) -> Result<Option<FoundSignature>, RegistryError> {
        let (bytes, _) = self.manifest(image, manifest_digest).await?;
        let protocol = |message: String| RegistryError {
            registry: image.registry().to_string(),
            operation: format!("read signature manifest {manifest_digest}"),
            kind: ErrorKind::Protocol,
            message,
        };
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| protocol(e.to_string()))?;
        let artifact_type = json["artifactType"]
            .as_str()
            .or(json["config"]["mediaType"].as_str())
            .unwrap_or_default();
        if artifact_type != NOTATION_SIGNATURE_ARTIFACT_TYPE {
            return Ok(None);
        }
        let Some(layer) = json["layers"].get(0) else {
            return Ok(None);
        };
        // A layer of another media type is still returned: a verifier must
        // report it as an unsupported envelope (as notation does), while the
        // bundle writer skips it.
        let media_type = layer["mediaType"].as_str().unwrap_or_default();
        let digest = layer["digest"]
            .as_str()
            .ok_or_else(|| protocol("the envelope layer has no digest".into()))?;
        let size = layer["size"]
            .as_u64()
            .ok_or_else(|| protocol("the envelope layer has no size".into()))?;
        if size > MAX_ENVELOPE_SIZE {
            return Err(protocol(format!(
                "the envelope is {size} bytes, more than {MAX_ENVELOPE_SIZE}"
            )));
        }
        let envelope = self.blob(image, digest, size).await?;
        Ok(Some(FoundSignature {
            manifest_digest: manifest_digest.to_string(),
            media_type: media_type.to_string(),
            envelope,
            thumbprints: json["annotations"][THUMBPRINT_ANNOTATION]
                .as_str()
                .map(str::to_owned),
        }))
    }

    /// A blob of known digest and size, read with a bound and checked.
    pub async fn blob(
        &self,
        image: &ImageRef,
        digest: &str,
        size: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let oref = Self::oci_ref(image, digest)?;
        let registry = image.registry().to_string();
        let descriptor = oci_client::manifest::OciDescriptor {
            media_type: "application/octet-stream".into(),
            digest: digest.to_string(),
            size: i64::try_from(size).unwrap_or(i64::MAX),
            ..Default::default()
        };
        let (client, _) = self.access(image, false).await?;
        let bytes = self
            .call(&registry, &format!("GET blob {digest}"), || async {
                let mut stream = client.pull_blob_stream(&oref, &descriptor).await?;
                let mut out = Vec::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk?;
                    if out.len() + chunk.len() > size as usize {
                        return Err(OciDistributionError::SpecViolationError(format!(
                            "blob {digest} is longer than its descriptor's {size} bytes"
                        )));
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(out)
            })
            .await?;
        let actual = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        if actual != digest || bytes.len() as u64 != size {
            return Err(RegistryError {
                registry,
                operation: format!("GET blob {digest}"),
                kind: ErrorKind::Protocol,
                message: format!(
                    "the registry sent {} bytes with digest {actual}",
                    bytes.len()
                ),
            });
        }
        Ok(bytes)
    }

    /// Pushes a manifest under a tag; returns its URL.
    pub async fn push_manifest(
        &self,
        image: &ImageRef,
        tag: &str,
        body: &[u8],
        media_type: &str,
    ) -> Result<String, RegistryError> {
        let oref = Self::oci_ref(image, tag)?;
        let registry = image.registry().to_string();
        let (client, _) = self.access(image, true).await?;
        let content_type: http::HeaderValue = media_type.parse().map_err(|_| RegistryError {
            registry: registry.clone(),
            operation: "push manifest".into(),
            kind: ErrorKind::Protocol,
            message: format!("invalid media type {media_type}"),
        })?;
        self.call(&registry, &format!("PUT manifest {}", oref.whole()), || {
            client.push_manifest_raw(&oref, body.to_vec(), content_type.clone())
        })
        .await
    }

    /// Makes a blob exist in `image`'s repository (uploaded unless the
    /// registry already has it there): a manifest can only be pushed to a
    /// repository that holds its blobs.
    pub async fn ensure_blob(
        &self,
        image: &ImageRef,
        digest: &str,
        bytes: &[u8],
    ) -> Result<(), RegistryError> {
        let oref = Self::oci_ref(image, digest)?;
        let registry = image.registry().to_string();
        // A write: the client holds push credentials for the repository.
        let (client, _) = self.access(image, true).await?;
        let exists = self
            .call(&registry, &format!("HEAD blob {digest}"), || {
                client.blob_exists(&oref, digest)
            })
            .await?;
        if !exists {
            self.call(&registry, &format!("PUT blob {digest}"), || {
                client.push_blob(&oref, bytes.to_vec(), digest)
            })
            .await?;
        }
        Ok(())
    }

    /// Every tag of a repository, `page_size` at a time. oci-client does
    /// not expose the `Link` header, so pages are followed with `last` =
    /// the last tag seen until a page is empty or brings no new tag: a
    /// registry that caps `n` below what was asked (and so would be cut
    /// short by a "shorter page means last page" rule) is read to the end,
    /// and one that ignores `last` does not loop forever.
    pub async fn tags_paged(
        &self,
        image: &ImageRef,
        page_size: usize,
    ) -> Result<Vec<String>, RegistryError> {
        let oref = Self::oci_ref(image, "latest")?;
        let registry = image.registry().to_string();
        let (client, auth) = self.access(image, false).await?;
        let mut all: Vec<String> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut last: Option<String> = None;
        loop {
            let page = self
                .call(
                    &registry,
                    &format!("list tags of {}", image.repository()),
                    || client.list_tags(&oref, &auth, Some(page_size.max(1)), last.as_deref()),
                )
                .await?;
            let before = all.len();
            for tag in page.tags {
                if seen.insert(tag.clone()) {
                    all.push(tag);
                }
            }
            if all.len() == before {
                break;
            }
            last = all.last().cloned();
        }
        Ok(all)
    }

    /// Every tag of a repository.
    pub async fn tags(&self, image: &ImageRef) -> Result<Vec<String>, RegistryError> {
        self.tags_paged(image, 1000).await
    }
}
