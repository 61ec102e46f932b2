//! [`RegistryBackend`]: the capabilities answered by a real registry over
//! HTTP, checked and re-serialised as `oci-client` does.

use std::error::Error as StdError;
use std::io::Read;
use std::time::Duration;

use oci_client::errors::{OciDistributionError, OciEnvelope};
use oci_client::manifest::{OciManifest, Versioned};
use oci_client::Reference;
use serde_json::Value;
use sha2::{Digest, Sha256, Sha384, Sha512};

use super::capabilities::{Backend, RegistryFailure, TransportError};

/// The Accept list of `oci-client` (Docker v2 manifest and manifest list, OCI
/// manifest and index): registries choose the representation from it.
const MANIFEST_ACCEPT: &str = "application/vnd.docker.distribution.manifest.v2+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, \
     application/vnd.oci.image.manifest.v1+json, \
     application/vnd.oci.image.index.v1+json";

const MANIFEST_MEDIA_TYPES: [&str; 4] = [
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
];

/// Registries cap manifests at 4 MiB; the margin only guards against a
/// misbehaving server.
const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;

/// `oci-client`'s `to_v2_manifest_url`: a digest wins over a tag, docker.io
/// is served by index.docker.io.
pub fn manifest_url(reference: &Reference) -> String {
    let registry = reference.resolve_registry();
    let target = reference.digest().or(reference.tag()).unwrap_or("latest");
    format!(
        "{}://{registry}/v2/{}/manifests/{target}",
        scheme_for(registry),
        reference.repository()
    )
}

/// Test registries are loopback `docker-registry` instances without TLS;
/// anything else is expected to speak HTTPS.
pub fn scheme_for(registry: &str) -> &'static str {
    let host = match registry.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => registry.rsplit_once(':').map_or(registry, |(host, _)| host),
    };
    if matches!(host, "127.0.0.1" | "localhost" | "::1") {
        "http"
    } else {
        "https"
    }
}

/// `oci-client`'s `validate_registry_response`.
pub(super) fn check_status(
    status: u16,
    body: &[u8],
    url: &str,
) -> Result<(), OciDistributionError> {
    match status {
        200 => Ok(()),
        401 => Err(OciDistributionError::UnauthorizedError {
            url: url.to_string(),
        }),
        s if (200..300).contains(&s) => Err(OciDistributionError::SpecViolationError(format!(
            "Expected HTTP Status 200 OK, got {} instead",
            status_line(s)
        ))),
        s if (400..500).contains(&s) => match serde_json::from_slice::<OciEnvelope>(body) {
            Ok(envelope) => Err(OciDistributionError::RegistryError {
                envelope,
                url: url.to_string(),
            }),
            Err(_) => Err(OciDistributionError::ServerError {
                code: s,
                url: url.to_string(),
                message: String::from_utf8_lossy(body).into_owned(),
            }),
        },
        s => Err(OciDistributionError::ServerError {
            code: s,
            url: url.to_string(),
            message: String::from_utf8_lossy(body).into_owned(),
        }),
    }
}

/// `http::StatusCode`'s Display ("204 No Content") for the few success
/// codes a registry may answer instead of 200.
pub(super) fn status_line(code: u16) -> String {
    let reason = match code {
        201 => " Created",
        202 => " Accepted",
        203 => " Non Authoritative Information",
        204 => " No Content",
        206 => " Partial Content",
        _ => "",
    };
    format!("{code}{reason}")
}

/// `oci-client`'s `validate_digest`: the body must hash to the header's
/// digest and to the reference's; with neither, the body's sha256 is it.
pub(super) fn content_digest(
    body: &[u8],
    header: Option<&str>,
    wanted: Option<&str>,
) -> Result<String, OciDistributionError> {
    let check = |digest: &str| -> Result<String, OciDistributionError> {
        let (algorithm, _) = digest
            .split_once(':')
            .ok_or(oci_client::errors::DigestError::MissingAlgorithm)?;
        let hex = match algorithm {
            "sha256" => hex::encode(Sha256::digest(body)),
            "sha384" => hex::encode(Sha384::digest(body)),
            "sha512" => hex::encode(Sha512::digest(body)),
            other => {
                return Err(oci_client::errors::DigestError::UnsupportedAlgorithm(
                    other.to_string(),
                )
                .into())
            }
        };
        let actual = format!("{algorithm}:{hex}");
        if actual == digest {
            Ok(actual)
        } else {
            Err(oci_client::errors::DigestError::VerificationError {
                expected: digest.to_string(),
                actual,
            }
            .into())
        }
    };
    match (header.filter(|h| !h.is_empty()), wanted) {
        (Some(header), Some(wanted)) if header != wanted => {
            check(wanted)?;
            check(header)
        }
        (Some(digest), _) | (None, Some(digest)) => check(digest),
        (None, None) => Ok(format!("sha256:{}", hex::encode(Sha256::digest(body)))),
    }
}

/// What `pull_manifest` + `serde_json::to_value` make of a manifest body:
/// only schema 2 and the four manifest media types pass, and only the fields
/// `oci-client`'s structs model survive (a descriptor's `data` does not).
pub fn host_view(body: &[u8]) -> Result<Value, OciDistributionError> {
    let versioned: Versioned = serde_json::from_slice(body)
        .map_err(|e| OciDistributionError::VersionedParsingError(e.to_string()))?;
    if versioned.schema_version != 2 {
        return Err(OciDistributionError::UnsupportedSchemaVersionError(
            versioned.schema_version,
        ));
    }
    if let Some(media_type) = versioned.media_type {
        if !MANIFEST_MEDIA_TYPES.contains(&media_type.as_str()) {
            return Err(OciDistributionError::UnsupportedMediaTypeError(media_type));
        }
    }
    let manifest: OciManifest = serde_json::from_slice(body)
        .map_err(|e| OciDistributionError::ManifestParsingError(e.to_string()))?;
    serde_json::to_value(&manifest).map_err(OciDistributionError::JsonError)
}

/// A real registry over HTTP(S), anonymous, as policy-server reaches a
/// public one. HTTPS needs ureq's `tls` feature, which this workspace does
/// not enable: such calls fail (closed) with the transport error.
#[derive(Debug, Clone)]
pub struct RegistryBackend {
    agent: ureq::Agent,
}

impl Default for RegistryBackend {
    fn default() -> Self {
        Self::new()
    }
}

impl RegistryBackend {
    /// Bounded timeouts, so an unreachable registry fails the evaluation
    /// (closed) instead of hanging the test.
    pub fn new() -> Self {
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            .build();
        RegistryBackend { agent }
    }

    /// One request; HTTP error statuses are answers, not failures, so that
    /// the registry's error body reaches `check_status`.
    fn request(&self, method: &str, url: &str) -> Result<HttpAnswer, RegistryFailure> {
        let transport = |source: Box<dyn StdError + Send + Sync>| {
            RegistryFailure::Transport(TransportError {
                url: url.to_string(),
                source,
            })
        };
        let response = match self
            .agent
            .request(method, url)
            .set("Accept", MANIFEST_ACCEPT)
            .call()
        {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(ureq::Error::Transport(error)) => return Err(transport(Box::new(error))),
        };
        let status = response.status();
        let digest = response.header("Docker-Content-Digest").map(str::to_string);
        let mut body = Vec::new();
        response
            .into_reader()
            .take(MAX_MANIFEST_BYTES)
            .read_to_end(&mut body)
            .map_err(|e| transport(Box::new(e)))?;
        Ok(HttpAnswer {
            status,
            digest,
            body,
        })
    }
}

pub(super) struct HttpAnswer {
    status: u16,
    digest: Option<String>,
    body: Vec<u8>,
}

impl Backend for RegistryBackend {
    /// `fetch_manifest_digest`: HEAD, and GET only when the registry sends
    /// no `Docker-Content-Digest` (which is also how a missing tag, whose
    /// HEAD has no body, ends up reported with the registry's error body).
    fn manifest_digest(&self, reference: &Reference) -> Result<String, RegistryFailure> {
        let url = manifest_url(reference);
        let head = self.request("HEAD", &url)?;
        if let Some(digest) = head.digest.filter(|d| !d.is_empty()) {
            check_status(head.status, &head.body, &url).map_err(RegistryFailure::Registry)?;
            if let Some(wanted) = reference.digest() {
                let same_algorithm = wanted.split(':').next() == digest.split(':').next();
                if same_algorithm && wanted != digest {
                    return Err(RegistryFailure::Registry(
                        oci_client::errors::DigestError::VerificationError {
                            expected: wanted.to_string(),
                            actual: digest,
                        }
                        .into(),
                    ));
                }
            }
            return Ok(digest);
        }
        let get = self.request("GET", &url)?;
        check_status(get.status, &get.body, &url).map_err(RegistryFailure::Registry)?;
        content_digest(&get.body, get.digest.as_deref(), reference.digest())
            .map_err(RegistryFailure::Registry)
    }

    /// `pull_manifest`: GET, check the digest, parse, re-serialise.
    fn oci_manifest(&self, reference: &Reference) -> Result<Value, RegistryFailure> {
        let url = manifest_url(reference);
        let get = self.request("GET", &url)?;
        check_status(get.status, &get.body, &url).map_err(RegistryFailure::Registry)?;
        content_digest(&get.body, get.digest.as_deref(), reference.digest())
            .map_err(RegistryFailure::Registry)?;
        host_view(&get.body).map_err(RegistryFailure::Registry)
    }
}
