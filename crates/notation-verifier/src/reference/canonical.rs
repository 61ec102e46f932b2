//! Canonical registry names: how two spellings of one registry become one
//! name before trust policy scopes and exceptions are matched.

/// Why a registry name has no canonical form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistryNameError {
    #[error("the registry port is not a number between 1 and 65535")]
    PortOutOfRange,
}

/// The canonical name of a registry (`host[:port]` as Docker's grammar
/// accepts it), under which trust policy scopes and exceptions are matched
/// and the registry is asked: two spellings that reach the same registry
/// must select the same statement, or a spelling the trust policy does not
/// name would fall through to a `*` statement.
///
/// - The host is lowercased: DNS names are case-insensitive, and the
///   container runtime resolves `REGISTRY.EXAMPLE.COM` to the same address.
/// - Port 443 is dropped: runtimes speak HTTPS to a registry unless it is
///   configured as plain HTTP, so `host:443` is the default endpoint. Leading
///   zeros are dropped too (`:05000` is port 5000 to Go's dialer). Port 80 is
///   kept: over HTTPS (the runtime's default) `host:80` is another endpoint.
/// - `index.docker.io` and `registry-1.docker.io` are Docker Hub, `docker.io`.
pub fn canonical_registry(registry: &str) -> Result<String, RegistryNameError> {
    let (host, port) = match registry.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (registry, None),
    };
    let mut host = host.to_ascii_lowercase();
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u32>() {
            Ok(443) => None,
            Ok(n) if (1..=65535).contains(&n) => Some(n),
            _ => return Err(RegistryNameError::PortOutOfRange),
        },
    };
    if port.is_none() && matches!(host.as_str(), "index.docker.io" | "registry-1.docker.io") {
        host = "docker.io".to_string();
    }
    Ok(match port {
        Some(n) => format!("{host}:{n}"),
        None => host,
    })
}

/// The canonical registry and repository: Docker Hub's official images
/// are `library/<name>`, also when the Hub was spelled another way.
pub(super) fn canonical_name(
    registry: &str,
    repository: &str,
) -> Result<(String, String), RegistryNameError> {
    let registry = canonical_registry(registry)?;
    let repository = if registry == "docker.io" && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository.to_string()
    };
    Ok((registry, repository))
}

/// A trust policy registry scope (`registry/repository`) in canonical form,
/// so that it matches every spelling of its registry. A scope that does not
/// parse is returned unchanged, for the trust policy's validation to reject
/// with its own message.
pub fn canonical_scope(scope: &str) -> String {
    let Some((registry, repository)) = scope.split_once('/') else {
        return scope.to_string();
    };
    match canonical_name(registry, repository) {
        Ok((registry, repository)) => format!("{registry}/{repository}"),
        Err(_) => scope.to_string(),
    }
}

/// An exception glob with its registry segment in canonical form, as it is
/// matched against canonical references. Only a first segment that names a
/// registry (Docker's rule: a `.` or `:`, or `localhost`) is rewritten;
/// lowercasing a glob segment keeps its meaning (`[A-Z]` becomes `[a-z]`,
/// which is what a case-insensitive host means).
pub fn canonical_glob(glob: &str) -> String {
    let Some((first, rest)) = glob.split_once('/') else {
        return glob.to_string();
    };
    if !(first.contains(['.', ':']) || first.eq_ignore_ascii_case("localhost")) {
        return glob.to_string();
    }
    let literal_port = first
        .split_once(':')
        .is_some_and(|(_, p)| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let has_meta = first.contains(['*', '?', '[', ']', '{', '}', '\\']);
    let registry = if has_meta || (first.contains(':') && !literal_port) {
        first.to_ascii_lowercase()
    } else {
        canonical_registry(first).unwrap_or_else(|_| first.to_ascii_lowercase())
    };
    format!("{registry}/{rest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::ImageRef;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// Every spelling of a registry the container runtime reaches as the
    /// same endpoint has one canonical name; the pin keeps the spelling.
    #[test]
    fn spellings_of_one_registry_have_one_name() {
        let cases = [
            (
                "REGISTRY.EXAMPLE.COM/app",
                "registry.example.com/app:latest",
            ),
            (
                "registry.example.com:443/app:1",
                "registry.example.com/app:1",
            ),
            (
                "Registry.Example.Com:0443/app:1",
                "registry.example.com/app:1",
            ),
            (
                "registry.example.com:05000/app:1",
                "registry.example.com:5000/app:1",
            ),
            (
                "LOCALHOST.localdomain:5000/a",
                "localhost.localdomain:5000/a:latest",
            ),
            (
                "registry-1.docker.io/nginx",
                "docker.io/library/nginx:latest",
            ),
            ("INDEX.DOCKER.IO/nginx:1", "docker.io/library/nginx:1"),
            ("docker.io:443/nginx", "docker.io/library/nginx:latest"),
            ("index.docker.io:443/org/app", "docker.io/org/app:latest"),
        ];
        for (input, canonical) in cases {
            let r = ImageRef::parse(input).unwrap();
            assert_eq!(r.normalized(), canonical, "{input}");
            assert_eq!(r.pinned(D), format!("{input}@{D}"), "{input}");
        }
    }

    /// Port 80 is another endpoint over HTTPS (the runtime's default), and
    /// another port is another registry: not folded.
    #[test]
    fn other_ports_stay_other_registries() {
        for (input, repo) in [
            ("registry.example.com:80/app", "registry.example.com:80/app"),
            (
                "registry.example.com:5000/app",
                "registry.example.com:5000/app",
            ),
            ("docker.io:80/nginx", "docker.io:80/nginx"),
            (
                "registry-1.docker.io:5000/nginx",
                "registry-1.docker.io:5000/nginx",
            ),
        ] {
            assert_eq!(ImageRef::parse(input).unwrap().repository_path(), repo);
        }
    }

    #[test]
    fn invalid_spellings_are_refused_with_a_reason() {
        for (input, reason) in [
            ("registry.example.com:70000/app", "port"),
            ("registry.example.com:0/app", "port"),
            ("registry.example.com./app", "invalid reference format"),
            ("registry.example.com/App", "invalid reference format"),
        ] {
            let e = ImageRef::parse(input).unwrap_err();
            assert!(e.to_string().contains(reason), "{input}: {e}");
        }
    }

    #[test]
    fn scopes_and_globs_take_the_same_form() {
        assert_eq!(
            canonical_scope("REGISTRY.example.com:443/app"),
            "registry.example.com/app"
        );
        assert_eq!(
            canonical_scope("index.docker.io/nginx"),
            "docker.io/library/nginx"
        );
        assert_eq!(
            canonical_scope("registry.example.com:80/app"),
            "registry.example.com:80/app"
        );
        assert_eq!(canonical_scope("*"), "*");
        assert_eq!(canonical_scope("not a scope"), "not a scope");
        assert_eq!(
            canonical_glob("REGISTRY.example.com:443/**"),
            "registry.example.com/**"
        );
        assert_eq!(canonical_glob("*.Example.com/**"), "*.example.com/**");
        assert_eq!(
            canonical_glob("registry-1.docker.io/org/*"),
            "docker.io/org/*"
        );
        assert_eq!(canonical_glob("Org/App:*"), "Org/App:*");
        assert_eq!(canonical_glob("**"), "**");
    }
}
