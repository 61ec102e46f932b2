use super::*;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

/// One HTTP exchange on loopback: records the request head, answers `body`.
fn serve_once(status: &str, body: &str) -> (String, std::thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let handle = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut head = String::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap() > 0 && line != "\r\n" {
            head.push_str(&line);
            line.clear();
        }
        stream.write_all(response.as_bytes()).unwrap();
        head
    });
    (address, handle)
}

fn config(server: &str, user: Value) -> Value {
    serde_json::json!({
        "current-context": "dev",
        "contexts": [{"name": "dev", "context": {"cluster": "c", "user": "u"}}],
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
    })
}

#[tokio::test]
async fn a_token_user_reads_an_object_from_the_current_context() {
    let (server, head) = serve_once("200 OK", r#"{"kind":"Secret","data":{"a":"QQ=="}}"#);
    let cluster =
        Cluster::from_config(&config(&server, serde_json::json!({"token": "t0k"})), None).unwrap();
    let object = cluster.get("secrets", "kw", "roots").await.unwrap();
    assert_eq!(object["data"]["a"], "QQ==");
    let head = head.join().unwrap().to_ascii_lowercase();
    assert!(
        head.starts_with("get /api/v1/namespaces/kw/secrets/roots "),
        "{head}"
    );
    assert!(head.contains("authorization: bearer t0k"), "{head}");
}

#[tokio::test]
async fn a_relative_token_file_is_read_beside_the_kubeconfig() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "fr0m-f1le\n").unwrap();
    let (server, head) = serve_once("200 OK", r#"{"kind":"ConfigMap"}"#);
    let user = serde_json::json!({"tokenFile": "token"});
    let cluster = Cluster::from_config(&config(&server, user), Some(dir.path())).unwrap();
    cluster.get("configmaps", "kw", "roots").await.unwrap();
    let head = head.join().unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer fr0m-f1le"), "{head}");
}

#[tokio::test]
async fn an_exec_plugin_supplies_the_token_and_api_errors_carry_the_status_message() {
    let (server, head) = serve_once(
        "403 Forbidden",
        r#"{"kind":"Status","message":"secrets \"roots\" is forbidden: User \"x\" cannot get resource"}"#,
    );
    let user = serde_json::json!({"exec": {
        "apiVersion": "client.authentication.k8s.io/v1", "command": "sh",
        "args": ["-c", "echo '{\"kind\":\"ExecCredential\",\"status\":{\"token\":\"from-exec\"}}'"]}});
    let cluster = Cluster::from_config(&config(&server, user), None).unwrap();
    let e = cluster
        .get("secrets", "kw", "roots")
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("403") && e.contains("is forbidden"), "{e}");
    assert!(e.contains("context \"dev\""), "{e}");
    let head = head.join().unwrap().to_ascii_lowercase();
    assert!(head.contains("authorization: bearer from-exec"), "{head}");
}

#[test]
fn configuration_errors_say_what_is_missing() {
    let error = |c: Value| match Cluster::from_config(&c, None) {
        Ok(_) => panic!("accepted {c}"),
        Err(e) => e.to_string(),
    };
    let mut c = config("https://k", serde_json::json!({}));
    c["current-context"] = Value::Null;
    assert!(error(c).contains("no current-context"));
    let mut c = config("https://k", serde_json::json!({}));
    c["current-context"] = "prod".into();
    assert!(error(c).contains("\"prod\" is not defined"));
    let c = config(
        "https://k",
        serde_json::json!({"auth-provider": {"name": "azure"}}),
    );
    assert!(error(c).contains("kubelogin"));
    let c = config(
        "https://k",
        serde_json::json!({"exec": {"command": "/nonexistent/kubelogin"}}),
    );
    assert!(error(c).contains("cannot run the exec plugin"));
}

#[test]
fn files_are_merged_as_kubectl_merges_them() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let b = dir.path().join("b");
    std::fs::write(
        &a,
        "clusters:\n- name: c\n  cluster: {server: 'https://first'}\n",
    )
    .unwrap();
    std::fs::write(
        &b,
        "current-context: dev\nclusters:\n- name: c\n  cluster: {server: 'https://second'}\ncontexts:\n- name: dev\n  context: {cluster: c, user: u}\n",
    )
    .unwrap();
    let merged = merged_config(&[a, b, dir.path().join("missing")]).unwrap();
    assert_eq!(merged["current-context"], "dev");
    assert_eq!(merged["clusters"][0]["cluster"]["server"], "https://first");
    let e = merged_config(&[dir.path().join("none")])
        .unwrap_err()
        .to_string();
    assert!(e.contains("--trust-store-dir"), "{e}");
}

#[tokio::test]
async fn a_server_that_drops_the_connection_is_told_as_a_client_certificate_refusal() {
    // A TLS 1.3 server refusing a client certificate closes the session
    // after the client's handshake is done: the client sees the connection
    // close, not the alert. The hint must still say what to do.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    let closer = std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        drop(stream);
    });
    let cluster = Cluster::from_config(&config(&server, serde_json::json!({})), None).unwrap();
    let e = cluster
        .get("secrets", "kubewarden", "store")
        .await
        .unwrap_err()
        .to_string();
    closer.join().unwrap();
    assert!(
        e.contains("client certificate") && e.contains("user \"u\""),
        "{e}"
    );
    for causes in [
        "client error (Canceled): operation was canceled: connection was not ready",
        "received fatal alert: CertificateRequired",
    ] {
        assert!(cluster
            .tls_hint(causes)
            .contains("client-certificate(-data)"));
    }
    assert_eq!(cluster.tls_hint("connection refused"), "");
}
