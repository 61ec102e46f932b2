//! Image references normalised as the container runtime does.
//!
//! The Kubewarden host parses references with `oci_spec::distribution::Reference`
//! (Docker's rules), but never tells the policy the normalised name. Trust
//! policy scopes, exception globs and the bundle tag all need it, so we
//! normalise here with the same crate: both sides then agree on every name.

use oci_spec::distribution::Reference;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("invalid image reference \"{reference}\": {detail}")]
pub struct ReferenceError {
    pub reference: String,
    pub detail: String,
}

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The reference exactly as written (in the Pod spec or on the command line).
    original: String,
    /// e.g. `docker.io`, `myregistry.azurecr.io`, `localhost:5000`
    registry: String,
    /// e.g. `library/nginx`
    repository: String,
    /// The tag as written, or `latest` when neither tag nor digest was given.
    tag: Option<String>,
    /// `sha256:<hex>` when the reference carries a digest.
    digest: Option<String>,
}

impl ImageRef {
    pub fn parse(reference: &str) -> Result<Self, ReferenceError> {
        let err = |detail: String| ReferenceError {
            reference: reference.to_string(),
            detail,
        };
        let trimmed = reference.trim();
        if trimmed.is_empty() {
            return Err(err("the image reference is empty".into()));
        }
        if trimmed != reference {
            return Err(err(
                "the image reference has leading or trailing white space".into(),
            ));
        }
        let parsed: Reference = reference.parse().map_err(|e| err(format!("{e}")))?;
        // Docker refuses upper-case repository names ("repository name must be
        // lowercase"); the host would fail on them later, so fail here first.
        if parsed.repository().bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(err("repository name must be lowercase".into()));
        }
        let digest = parsed.digest().map(str::to_string);
        // Docker fills in `latest` only when there is neither tag nor digest.
        let tag = match (parsed.tag(), &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, None) => Some("latest".to_string()),
            (None, Some(_)) => None,
        };
        if let Some(d) = &digest {
            validate_digest(d).map_err(err)?;
        }
        Ok(Self {
            original: reference.to_string(),
            registry: canonical_registry(parsed.registry()),
            repository: parsed.repository().to_string(),
            tag,
            digest,
        })
    }

    pub fn original(&self) -> &str {
        &self.original
    }
    pub fn registry(&self) -> &str {
        &self.registry
    }
    pub fn repository(&self) -> &str {
        &self.repository
    }
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// `registry/repository`: what trust policy scopes name.
    pub fn repository_path(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The fully normalised reference: `registry/repository:tag`,
    /// `registry/repository:tag@digest` or `registry/repository@digest`.
    /// Exception globs are matched against this form.
    pub fn normalized(&self) -> String {
        let mut out = self.repository_path();
        if let Some(tag) = &self.tag {
            out.push(':');
            out.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            out.push('@');
            out.push_str(digest);
        }
        out
    }

    /// `registry/repository@digest` for a resolved digest.
    pub fn at_digest(&self, digest: &str) -> String {
        format!("{}@{}", self.repository_path(), digest)
    }

    /// `registry/repository:tag`, the form sent to the host to resolve a tag.
    pub fn tagged(&self) -> Option<String> {
        self.tag
            .as_ref()
            .map(|t| format!("{}:{}", self.repository_path(), t))
    }

    /// The reference as written with `@digest` appended, unless it already
    /// carries one: what the kubelet should pull once the digest is verified.
    pub fn pinned(&self, digest: &str) -> String {
        if self.digest.is_some() {
            self.original.clone()
        } else {
            format!("{}@{}", self.original, digest)
        }
    }

    /// `registry/repository:<tag>` for an arbitrary tag in the same repository
    /// (the signature bundle lives next to the image).
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{}", self.repository_path(), tag)
    }
}

/// `index.docker.io` and `registry-1.docker.io` name the same registry as
/// `docker.io`; scopes and globs use the canonical name.
fn canonical_registry(registry: &str) -> String {
    match registry {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        other => other.to_string(),
    }
}

/// Accepts `sha256:<64 lowercase hex>`, `sha384:<96>` and `sha512:<128>`.
pub fn validate_digest(digest: &str) -> Result<(), String> {
    let (alg, hex) = digest
        .split_once(':')
        .ok_or_else(|| format!("digest \"{digest}\" has no algorithm prefix"))?;
    let expected_len = match alg {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        other => return Err(format!("digest algorithm \"{other}\" is not supported")),
    };
    if hex.len() != expected_len
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(format!(
            "digest \"{digest}\" is not {expected_len} lowercase hex characters after \"{alg}:\""
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn normalises_like_the_container_runtime() {
        let cases = [
            (
                "nginx",
                "docker.io/library/nginx:latest",
                "docker.io/library/nginx",
            ),
            (
                "nginx:1.25",
                "docker.io/library/nginx:1.25",
                "docker.io/library/nginx",
            ),
            (
                "opensuse/leap:15.3",
                "docker.io/opensuse/leap:15.3",
                "docker.io/opensuse/leap",
            ),
            (
                "index.docker.io/library/busybox",
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox",
            ),
            ("test:5000/repo", "test:5000/repo:latest", "test:5000/repo"),
            ("localhost/app:v1", "localhost/app:v1", "localhost/app"),
            (
                "myregistry.azurecr.io/shop/api:1.0",
                "myregistry.azurecr.io/shop/api:1.0",
                "myregistry.azurecr.io/shop/api",
            ),
            (
                "127.0.0.1:5000/a/b/c:t",
                "127.0.0.1:5000/a/b/c:t",
                "127.0.0.1:5000/a/b/c",
            ),
        ];
        for (input, normalized, repo) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(r.normalized(), normalized, "{input}");
            assert_eq!(r.repository_path(), repo, "{input}");
        }
    }

    #[test]
    fn digests_are_kept_and_tags_not_invented() {
        let r = ImageRef::parse(&format!("ghcr.io/org/app@{D}")).unwrap();
        assert_eq!(r.tag(), None);
        assert_eq!(r.digest(), Some(D));
        assert_eq!(r.normalized(), format!("ghcr.io/org/app@{D}"));
        assert_eq!(r.pinned("sha256:ffff"), format!("ghcr.io/org/app@{D}"));

        let r = ImageRef::parse(&format!("ghcr.io/org/app:1.0@{D}")).unwrap();
        assert_eq!(r.tag(), Some("1.0"));
        assert_eq!(r.normalized(), format!("ghcr.io/org/app:1.0@{D}"));
    }

    #[test]
    fn pinning_appends_the_digest_to_the_reference_as_written() {
        let r = ImageRef::parse("nginx:1.25").unwrap();
        assert_eq!(r.pinned(D), format!("nginx:1.25@{D}"));
        assert_eq!(r.at_digest(D), format!("docker.io/library/nginx@{D}"));
        assert_eq!(r.tagged().unwrap(), "docker.io/library/nginx:1.25");
    }

    #[test]
    fn rejects_malformed_references_with_a_message() {
        for bad in [
            "",
            " nginx",
            "UPPER/case",
            "nginx:",
            "nginx@sha256:abc",
            "a//b",
            "nginx@md5:0123",
        ] {
            let e = ImageRef::parse(bad).unwrap_err();
            assert!(
                e.to_string().contains("invalid image reference"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn digest_validation() {
        assert!(validate_digest(D).is_ok());
        assert!(validate_digest(&D.to_uppercase()).is_err());
        assert!(validate_digest("sha256:abc").is_err());
        assert!(validate_digest("md5:0123").is_err());
        assert!(validate_digest("nohex").is_err());
    }
}
