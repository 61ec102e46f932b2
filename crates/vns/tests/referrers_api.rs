//! The Referrers API path of `vns attach`, against recorded registry
//! responses (the local docker-registry has no Referrers API): a loopback
//! server replays an OCI 1.1 registry that lists two signatures through
//! `/referrers/` while its tag-schema index is stale and lists one. The
//! bundle must hold both (the writer takes the union).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const REPO: &str = "shop/api";
const IMAGE: &str = "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

fn layout_blob(digest: &str) -> Vec<u8> {
    let hex = digest.trim_start_matches("sha256:");
    std::fs::read(
        testkit::layout::e2e_layout("e2e-valid-multiple-signatures")
            .join("blobs/sha256")
            .join(hex),
    )
    .unwrap()
}

struct Response {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

fn manifest_response(bytes: Vec<u8>) -> Response {
    let media_type = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v["mediaType"].as_str().map(str::to_owned));
    Response {
        status: 200,
        content_type: media_type
            .unwrap_or_else(|| "application/vnd.oci.image.manifest.v1+json".into()),
        body: bytes,
    }
}

/// PUT requests received: path and body.
type Recorded = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// Replays `routes` (method + path, query ignored); records PUT bodies.
fn serve(routes: BTreeMap<(String, String), Response>) -> (String, Recorded) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let puts = Arc::new(Mutex::new(Vec::new()));
    let recorded = puts.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let method = parts.next().unwrap_or_default().to_string();
            let target = parts.next().unwrap_or_default().to_string();
            let path = target.split('?').next().unwrap_or_default().to_string();
            let mut length = 0usize;
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).is_err() || header == "\r\n" || header.is_empty() {
                    break;
                }
                if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer = if method == "PUT" {
                let digest = format!("sha256:{}", hex::encode(Sha256::digest(&body)));
                recorded.lock().unwrap().push((path.clone(), body));
                format!("HTTP/1.1 201 Created\r\nLocation: {path}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").into_bytes()
            } else {
                let key = (
                    if method == "HEAD" {
                        "GET".to_string()
                    } else {
                        method.clone()
                    },
                    path.clone(),
                );
                match routes.get(&key) {
                    Some(r) => {
                        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&r.body)));
                        let mut out = format!(
                            "HTTP/1.1 {} OK\r\nContent-Type: {}\r\nDocker-Content-Digest: {digest}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            r.status, r.content_type, r.body.len()
                        )
                        .into_bytes();
                        if method != "HEAD" {
                            out.extend_from_slice(&r.body);
                        }
                        out
                    }
                    None => {
                        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
                        let mut out = format!(
                            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .into_bytes();
                        if method != "HEAD" {
                            out.extend_from_slice(body);
                        }
                        out
                    }
                }
            };
            let _ = stream.write_all(&answer);
        }
    });
    (address, puts)
}

#[test]
fn attach_uses_the_referrers_api_and_unites_it_with_a_stale_tag_schema() {
    let signatures = [
        "sha256:90ceaff260d657d797c408ac73564a9c7bb9d86055877c2a811f0e63b8c6524f",
        "sha256:c3ebe4a20b6832328fc5078a7795ddc1114b896e13fca2add38109c3866b5fbf",
    ];
    let entry = |d: &str| {
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d,
               "size": layout_blob(d).len(), "artifactType": "application/vnd.cncf.notary.signature"})
    };
    let referrers = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                           "manifests": [entry(signatures[0]), entry(signatures[1])]});
    let stale_schema = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                              "manifests": [entry(signatures[0])]});
    let mut routes = BTreeMap::new();
    let get = |p: String| ("GET".to_string(), format!("/v2/{REPO}/{p}"));
    routes.insert(
        ("GET".into(), "/v2/".into()),
        Response {
            status: 200,
            content_type: "application/json".into(),
            body: b"{}".to_vec(),
        },
    );
    routes.insert(
        get("manifests/v1".into()),
        manifest_response(layout_blob(IMAGE)),
    );
    routes.insert(
        get(format!("manifests/{IMAGE}")),
        manifest_response(layout_blob(IMAGE)),
    );
    routes.insert(
        get(format!("referrers/{IMAGE}")),
        Response {
            status: 200,
            content_type: "application/vnd.oci.image.index.v1+json".into(),
            body: serde_json::to_vec(&referrers).unwrap(),
        },
    );
    routes.insert(
        get(format!("manifests/{}", IMAGE.replace(':', "-"))),
        manifest_response(serde_json::to_vec(&stale_schema).unwrap()),
    );
    for sig in signatures {
        let manifest = layout_blob(sig);
        let layer = serde_json::from_slice::<Value>(&manifest).unwrap()["layers"][0]["digest"]
            .as_str()
            .unwrap()
            .to_string();
        routes.insert(
            get(format!("blobs/{layer}")),
            Response {
                status: 200,
                content_type: "application/octet-stream".into(),
                body: layout_blob(&layer),
            },
        );
        routes.insert(get(format!("manifests/{sig}")), manifest_response(manifest));
    }
    let (address, puts) = serve(routes);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vns"))
        .args([
            "attach",
            "--no-revocation",
            "--retry-seconds",
            "1",
            &format!("{address}/{REPO}:v1"),
        ])
        .env("DOCKER_CONFIG", "/nonexistent")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    assert!(text.contains("2 signature(s)"), "{text}");

    let puts = puts.lock().unwrap();
    let (path, body) = puts.first().expect("the bundle was pushed");
    assert_eq!(
        path,
        &format!("/v2/{REPO}/manifests/{}.notation", IMAGE.replace(':', "-"))
    );
    let bundle: Value = serde_json::from_slice(body).unwrap();
    let from: Vec<&str> = bundle["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            l["annotations"]["dev.vns.notation.signature-manifest"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        from,
        signatures.to_vec(),
        "both signatures, in the Referrers API's order"
    );
    let contents = notation_verifier::bundle::read_bundle(&bundle, IMAGE, 10).unwrap();
    assert!(contents.envelopes.iter().all(Result::is_ok));
}
