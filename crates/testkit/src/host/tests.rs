//! The host-call side without a guest: dispatch order, error text,
//! normalisation and re-serialisation, and the HTTP backend against a
//! scripted server (the real registry is exercised in `tests/host.rs`).

use super::capabilities::callback_failure;
use super::*;
use oci_client::Reference;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn call(
    backend: &dyn Backend,
    namespace: &str,
    operation: &str,
    image: &str,
) -> Result<Value, String> {
    let payload = serde_json::to_vec(image).unwrap();
    dispatch(
        backend,
        &ClusterObjects::new(),
        "kubewarden",
        namespace,
        operation,
        &payload,
    )
    .map(|bytes| serde_json::from_slice(&bytes).unwrap())
}

fn manifest() -> Value {
    json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": format!("sha256:{}", "4".repeat(64)), "size": 2, "data": "e30="},
        "layers": [{"mediaType": "application/jose+json", "digest": format!("sha256:{}", "1".repeat(64)), "size": 3, "data": "YWJj", "annotations": {"k": "v"}}],
        "annotations": {"a": "b"}
    })
}

#[test]
fn missing_manifests_fail_with_the_registry_text() {
    let backend = MemoryBackend::new();
    let error = call(
        &backend,
        "oci",
        "v1/manifest_digest",
        "registry.example.com/app:v1",
    )
    .unwrap_err();
    let registry = "Registry error: url https://registry.example.com/v2/app/manifests/v1, \
                    envelope: OCI API errors: [OCI API error: manifest unknown]";
    assert_eq!(
        error,
        format!("Callback evaluation failure: Fail to interact with OCI registry: {registry}\n\nCaused by:\n    {registry}")
    );
    let error = call(
        &backend,
        "oci",
        "v1/oci_manifest",
        &format!("127.0.0.1:5000/app@sha256:{}", "a".repeat(64)),
    )
    .unwrap_err();
    assert!(
        error.contains("url http://127.0.0.1:5000/v2/app/manifests/sha256:"),
        "{error}"
    );
}

#[test]
fn references_are_normalised_like_the_host() {
    let backend = MemoryBackend::new();
    let digest = backend.put_manifest("busybox", &manifest()).unwrap();
    for image in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        "index.docker.io/library/busybox:latest",
    ] {
        assert_eq!(
            call(&backend, "oci", "v1/manifest_digest", image).unwrap(),
            json!({ "digest": digest }),
            "{image}"
        );
    }
    // By digest, and tag+digest looks up the digest.
    assert!(call(
        &backend,
        "oci",
        "v1/oci_manifest",
        &format!("busybox@{digest}")
    )
    .is_ok());
    assert!(call(
        &backend,
        "oci",
        "v1/oci_manifest",
        &format!("busybox:other@{digest}")
    )
    .is_ok());
    assert!(call(&backend, "oci", "v1/oci_manifest", "busybox:other").is_err());
    assert_eq!(
        manifest_url(&Reference::try_from("busybox").unwrap()),
        "https://index.docker.io/v2/library/busybox/manifests/latest"
    );
    assert_eq!(
        manifest_url(&Reference::try_from("localhost:5000/a/b").unwrap()),
        "http://localhost:5000/v2/a/b/manifests/latest"
    );
    assert_eq!(scheme_for("[::1]:5000"), "http");
    assert_eq!(scheme_for("registry.example.com:5000"), "https");

    let error = call(&backend, "oci", "v1/manifest_digest", "UPPER/Case:1").unwrap_err();
    assert!(
        error.starts_with("Callback evaluation failure: Invalid OCI image reference: "),
        "{error}"
    );
    backend.remove("busybox").unwrap();
    assert!(call(&backend, "oci", "v1/manifest_digest", "busybox").is_err());
}

#[test]
fn manifests_are_reserialised_without_descriptor_data() {
    let backend = MemoryBackend::new();
    backend
        .put_manifest("registry.example.com/app:v1", &manifest())
        .unwrap();
    let answer = call(
        &backend,
        "oci",
        "v1/oci_manifest",
        "registry.example.com/app:v1",
    )
    .unwrap();
    assert!(answer["config"].get("data").is_none(), "{answer}");
    assert!(answer["layers"][0].get("data").is_none(), "{answer}");
    assert_eq!(answer["layers"][0]["annotations"]["k"], "v");
    assert_eq!(answer["annotations"]["a"], "b");
    assert_eq!(answer["artifactType"], "application/vnd.example");

    let mut artifact = manifest();
    artifact["mediaType"] = json!("application/vnd.oci.artifact.manifest.v1+json");
    backend
        .put_manifest("registry.example.com/app:artifact", &artifact)
        .unwrap();
    let error = call(
        &backend,
        "oci",
        "v1/oci_manifest",
        "registry.example.com/app:artifact",
    )
    .unwrap_err();
    assert!(
        error.contains("Unsupported media type: application/vnd.oci.artifact.manifest.v1+json"),
        "{error}"
    );
}

#[test]
fn stored_answers_are_what_the_host_would_serialise() {
    let backend = MemoryBackend::new();
    backend
        .put_manifest("registry.example.com/app:v1", &manifest())
        .unwrap();
    let reference = Reference::try_from("registry.example.com/app:v1").unwrap();
    let fresh = serde_json::to_vec(&backend.oci_manifest(&reference).unwrap()).unwrap();
    assert_eq!(backend.oci_manifest_answer(&reference).unwrap(), fresh);
    // Replaced by a manifest the host refuses: the error, not the old answer.
    let mut artifact = manifest();
    artifact["mediaType"] = json!("application/vnd.oci.artifact.manifest.v1+json");
    backend
        .put_manifest("registry.example.com/app:v1", &artifact)
        .unwrap();
    let error = backend.oci_manifest_answer(&reference).unwrap_err();
    assert!(error.contains("Unsupported media type"), "{error}");
}

#[test]
fn only_the_granted_capabilities_answer() {
    let backend = MemoryBackend::new();
    let error = call(&backend, "oci", "v1/oci_manifest_config", "busybox").unwrap_err();
    assert_eq!(
        error,
        "Policy has not been granted access to the 'oci/v1/oci_manifest_config' host capability. \
         The violation has been reported."
    );
    assert!(call(&backend, "crypto", "v1/is_certificate_trusted", "x")
        .unwrap_err()
        .contains("'crypto/v1/is_certificate_trusted'"));
    assert_eq!(
        dispatch(
            &backend,
            &ClusterObjects::new(),
            "other",
            "oci",
            "v1/oci_manifest",
            b"\"a\""
        )
        .unwrap_err(),
        "unknown binding: other"
    );
    assert_eq!(
        dispatch(
            &backend,
            &ClusterObjects::new(),
            "kubewarden",
            "tracing",
            "log",
            b"{}"
        )
        .unwrap(),
        Vec::<u8>::new()
    );
    assert_eq!(
        dispatch(
            &backend,
            &ClusterObjects::new(),
            "kubewarden",
            "tracing",
            "x",
            b"{}"
        )
        .unwrap_err(),
        "unknown operation: x"
    );
    // A payload that is not a JSON string fails before any lookup.
    let error = dispatch(
        &backend,
        &ClusterObjects::new(),
        "kubewarden",
        "oci",
        "v1/manifest_digest",
        b"{}",
    )
    .unwrap_err();
    assert!(error.starts_with("invalid type: map"), "{error}");
}

/// A one-response-per-connection HTTP server on loopback.
fn serve(responses: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for (stream, response) in listener.incoming().zip(responses) {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
                line.clear();
            }
            stream.write_all(response.as_bytes()).unwrap();
        }
    });
    address
}

fn response(status: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut text = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        text.push_str(&format!("{name}: {value}\r\n"));
    }
    text + "\r\n" + body
}

fn registry_error(address: &str, image: &str, operation: &str) -> String {
    let reference = Reference::try_from(format!("{address}/{image}")).unwrap();
    let backend = RegistryBackend::new();
    let failure = match operation {
        "digest" => backend.manifest_digest(&reference).unwrap_err(),
        _ => backend.oci_manifest(&reference).unwrap_err(),
    };
    callback_failure(&failure)
}

#[test]
fn http_failures_read_like_oci_client_errors() {
    let not_found = response("404 Not Found", &[], "404 page not found");
    let address = serve(vec![
        response("404 Not Found", &[], ""),
        not_found.clone(),
        not_found,
    ]);
    let url = format!("http://{address}/v2/app/manifests/v1");
    let expected = format!("Server error: url {url}, code: 404, message: 404 page not found");
    assert_eq!(
        registry_error(&address, "app:v1", "digest"),
        format!("Callback evaluation failure: Fail to interact with OCI registry: {expected}\n\nCaused by:\n    {expected}")
    );
    assert!(registry_error(&address, "app:v1", "manifest").contains(&expected));

    let address = serve(vec![response("401 Unauthorized", &[], "{}")]);
    let text = registry_error(&address, "app:v1", "manifest");
    assert!(
        text.contains(&format!(
            "Not authorized: url http://{address}/v2/app/manifests/v1"
        )),
        "{text}"
    );

    let body = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}"#;
    let address = serve(vec![response(
        "404 Not Found",
        &[("Content-Type", "application/json")],
        body,
    )]);
    let text = registry_error(&address, "app:v1", "manifest");
    assert!(
        text.contains(&format!("Registry error: url http://{address}/v2/app/manifests/v1, envelope: OCI API errors: [OCI API error: manifest unknown]")),
        "{text}"
    );

    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let text = registry_error(&closed, "app:v1", "digest");
    assert!(
        text.starts_with(&format!("Callback evaluation failure: Fail to interact with OCI registry: error sending request for url (http://{closed}/v2/app/manifests/v1)\n\nCaused by:\n    0: ")),
        "{text}"
    );
    assert!(text.contains("Connection refused"), "{text}");
}

#[test]
fn http_answers_are_checked_and_reserialised() {
    let body = serde_json::to_string(&manifest()).unwrap();
    let digest = format!("sha256:{}", hex::encode(Sha256::digest(body.as_bytes())));
    let wrong = format!("sha256:{}", "0".repeat(64));
    let address = serve(vec![
        // manifest_digest: the HEAD's header is the answer.
        response("200 OK", &[("Docker-Content-Digest", &digest)], ""),
        // manifest_digest without the header: GET and hash.
        response("200 OK", &[], ""),
        response("200 OK", &[], &body),
        // oci_manifest: checked against the header, data dropped.
        response("200 OK", &[("Docker-Content-Digest", &digest)], &body),
        // A body that does not match its header.
        response("200 OK", &[("Docker-Content-Digest", &wrong)], &body),
    ]);
    let reference = Reference::try_from(format!("{address}/app:v1")).unwrap();
    let backend = RegistryBackend::new();
    assert_eq!(backend.manifest_digest(&reference).unwrap(), digest);
    assert_eq!(backend.manifest_digest(&reference).unwrap(), digest);
    let answer = backend.oci_manifest(&reference).unwrap();
    assert!(answer["layers"][0].get("data").is_none(), "{answer}");
    let text = callback_failure(&backend.oci_manifest(&reference).unwrap_err());
    assert!(
        text.contains(&format!(
            "Digest error: Invalid digest. Expected {wrong}, got {digest}"
        )),
        "{text}"
    );
}
