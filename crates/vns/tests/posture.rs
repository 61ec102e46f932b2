//! Posture end to end (issue 18): a real registry holding a repository of
//! verified, bundle-missing, unsigned, untrusted and rotated-out tags, all
//! made at test time by the test PKI and carrying build labels; `vns scan
//! --repository` over it (paginated listing, one finding per digest,
//! pipelines from labels, workloads from manifests and kubectl JSON,
//! `--previous-settings`), two sources merged by `vns report`, and the
//! report as JSON, HTML and Prometheus text (parsed back).
//!
//! The merged report is also written to `target/posture-report/` (or
//! `$VNS_POSTURE_REPORT`), where `make web-test` opens the HTML page in
//! headless Chromium and compares it with the JSON.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{Duration, Utc};
use common::{text, vns};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::layout::{push_blob, put_manifest};
use testkit::pki::{KeyKind, TestPki};
use testkit::registry::TestRegistry;
use testkit::signer::{sha256_digest, sign_cose, SignOptions, MEDIA_TYPE_COSE, OCI_IMAGE_MANIFEST};

const SOURCE: &str = "org.opencontainers.image.source";
const REVISION: &str = "org.opencontainers.image.revision";

/// Pushes a distinct image whose config carries `labels` and whose
/// manifest carries `annotations`, under every tag of `tags`.
fn push_image(
    repo: &str,
    tags: &[&str],
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> Descriptor {
    let (host, path) = repo.split_once('/').unwrap();
    let base = format!("http://{host}/v2/{path}");
    let layer = format!("layer of {repo}:{}", tags[0]).into_bytes();
    let labels: BTreeMap<&str, &str> = labels.iter().copied().collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [sha256_digest(&layer)]}}))
    .unwrap();
    push_blob(&base, &sha256_digest(&layer), &layer).unwrap();
    push_blob(&base, &sha256_digest(&config), &config).unwrap();
    let annotations: BTreeMap<&str, &str> = annotations.iter().copied().collect();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2, "mediaType": OCI_IMAGE_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256_digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256_digest(&layer), "size": layer.len()}],
        "annotations": annotations}))
    .unwrap();
    for tag in tags {
        put_manifest(&base, tag, OCI_IMAGE_MANIFEST, &manifest).unwrap();
    }
    Descriptor {
        media_type: OCI_IMAGE_MANIFEST.into(),
        digest: sha256_digest(&manifest),
        size: manifest.len() as u64,
    }
}

fn sign(repo: &str, image: &Descriptor, pki: &TestPki) {
    let envelope = sign_cose(&pki.credentials(), image, &SignOptions::at(Utc::now())).unwrap();
    testkit::publish::push_signature(repo, image, MEDIA_TYPE_COSE, &envelope).unwrap();
}

fn pki(name: &str) -> TestPki {
    TestPki::builder(KeyKind::P256).name(name).build().unwrap()
}

/// Settings trusting `roots`, with an exception for `excepted` ending in 10 days.
fn settings(dir: &Path, file: &str, roots: &[&TestPki], excepted: &str) -> String {
    let stores: Vec<String> = (0..roots.len()).map(|i| format!("ca:k{i}")).collect();
    let ca: serde_json::Map<String, Value> = roots
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("k{i}"), json!(p.root_pem())))
        .collect();
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "shop", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict", "override": {"revocation": "skip"}},
            "trustStores": stores, "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": ca},
        "exceptions": [{"image": excepted,
                        "expires": (Utc::now() + Duration::days(10)).to_rfc3339(),
                        "reason": "CHG-1 vendor image"}],
    });
    let path = dir.join(file);
    std::fs::write(&path, settings.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

fn json_of(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Tags (sorted, joined) -> posture, for findings of the repository.
fn by_tags(findings: &Value) -> BTreeMap<String, String> {
    findings
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tags"].is_array())
        .map(|f| {
            let mut tags: Vec<&str> = f["tags"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t.as_str().unwrap())
                .collect();
            tags.sort();
            (tags.join(","), f["posture"].as_str().unwrap().to_string())
        })
        .collect()
}

fn report_dir() -> PathBuf {
    std::env::var_os("VNS_POSTURE_REPORT")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/posture-report")
        })
}

#[test]
fn posture_of_a_repository_and_two_clusters_merged_into_one_report() {
    let registry = TestRegistry::start().expect("start the test registry");
    let dir = tempfile::tempdir().unwrap();
    let (current, old, stranger) = (pki("current"), pki("old"), pki("stranger"));
    let repo = registry.unique_repository("posture-shop");
    let vendor = registry.unique_repository("posture-vendor");
    let api = "https://git.example/shop/api";
    let legacy = "https://git.example/shop/legacy";

    let release = push_image(
        &repo,
        &["1.0", "stable"],
        &[(SOURCE, api), (REVISION, "a1")],
        &[],
    );
    sign(&repo, &release, &current);
    let next = push_image(&repo, &["1.1"], &[(SOURCE, api), (REVISION, "b2")], &[]);
    sign(&repo, &next, &current);
    push_image(
        &repo,
        &["legacy-1"],
        &[(SOURCE, legacy), (REVISION, "c3")],
        &[],
    );
    push_image(
        &repo,
        &["legacy-2"],
        &[(SOURCE, legacy), (REVISION, "d4")],
        &[],
    );
    // Build metadata as manifest annotations only (buildx --annotation).
    push_image(
        &repo,
        &["batch-1"],
        &[("team", "batch")],
        &[(SOURCE, "https://git.example/shop/batch")],
    );
    let foreign = push_image(&repo, &["partner-1"], &[(SOURCE, api)], &[]);
    sign(&repo, &foreign, &stranger);
    let rotated = push_image(&repo, &["old-1"], &[(SOURCE, api), (REVISION, "e5")], &[]);
    sign(&repo, &rotated, &old);
    push_image(&vendor, &["9"], &[], &[]);
    for tag in ["1.0", "old-1"] {
        let o = vns(&["attach", &format!("{repo}:{tag}")]);
        assert!(o.status.success(), "{}", text(&o));
    }
    let current_settings = settings(
        dir.path(),
        "current.json",
        &[&current],
        &format!("{vendor}:*"),
    );
    let previous_settings = settings(
        dir.path(),
        "previous.json",
        &[&current, &old],
        &format!("{vendor}:*"),
    );

    // Cluster A: its manifests, and the whole repository, 2 tags a page.
    let manifests = dir.path().join("manifests");
    std::fs::create_dir(&manifests).unwrap();
    std::fs::write(
        manifests.join("shop.yaml"),
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: shop}}\nspec:\n  template:\n    spec:\n      containers: [{{name: api, image: \"{repo}:1.1\"}}]\n      initContainers: [{{name: migrate, image: \"{repo}:legacy-1\"}}]\n---\napiVersion: batch/v1\nkind: CronJob\nmetadata: {{name: report, namespace: finance}}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers: [{{name: r, image: \"{repo}:stable\"}}]\n          volumes: [{{name: data, image: {{reference: \"{vendor}:9\"}}}}]\n"
        ),
    )
    .unwrap();
    let scan_a = vns(&[
        "scan",
        "--settings",
        &current_settings,
        "--previous-settings",
        &previous_settings,
        "--repository",
        &repo,
        "--manifests",
        manifests.to_str().unwrap(),
        "--source",
        "cluster-a",
        "--tag-page-size",
        "2",
        "--concurrency",
        "3",
        "--output",
        "json",
    ]);
    assert!(scan_a.status.success(), "{}", text(&scan_a));
    let a = json_of(&scan_a);
    let postures = by_tags(&a);
    let want: BTreeMap<String, String> = [
        ("1.0,stable", "verified"),
        ("1.1", "bundle-missing"),
        ("legacy-1", "unsigned"),
        ("legacy-2", "unsigned"),
        ("batch-1", "unsigned"),
        ("partner-1", "untrusted-signer"),
        ("old-1", "rotated-out"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(postures, want, "{a:#}");
    let findings = a.as_array().unwrap();
    // One finding per digest: the manifests' tag references merged into
    // the inventory's digests; the vendor image was not in the repository.
    assert_eq!(findings.len(), 8, "{a:#}");
    let find = |tag: &str| {
        findings
            .iter()
            .find(|f| {
                f["tags"]
                    .as_array()
                    .is_some_and(|t| t.contains(&json!(tag)))
            })
            .unwrap_or_else(|| panic!("{tag}: {a:#}"))
    };
    assert_eq!(find("legacy-1")["pipeline"], legacy);
    assert_eq!(find("legacy-1")["labels"][REVISION], "c3");
    assert_eq!(
        find("batch-1")["pipeline"],
        "https://git.example/shop/batch"
    );
    assert_eq!(
        find("1.1")["workloads"],
        json!([{"namespace": "shop", "kind": "Deployment", "name": "api", "site": "containers/api"}])
    );
    assert_eq!(find("stable")["workloads"][0]["kind"], "CronJob");
    assert!(find("old-1")["detail"]
        .as_str()
        .unwrap()
        .contains("previous settings"));
    assert!(
        find("old-1")["signer"].as_str().unwrap().contains("old"),
        "{a:#}"
    );
    let excepted = findings
        .iter()
        .find(|f| f["image"] == format!("{vendor}:9"))
        .unwrap();
    assert_eq!(excepted["posture"], "exception-expiring", "{excepted}");
    assert_eq!(excepted["workloads"][0]["site"], "volumes/data");

    // Without the previous settings the rotated-out key is just untrusted;
    // the default page size lists the same tags; --group-by picks the label.
    let o = vns(&[
        "scan",
        "--settings",
        &current_settings,
        "--repository",
        &repo,
        "--group-by",
        "team",
        "--output",
        "json",
    ]);
    let plain = json_of(&o);
    let mut expected = want.clone();
    expected.insert("old-1".into(), "untrusted-signer".into());
    assert_eq!(by_tags(&plain), expected);
    let batch = plain
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["tags"] == json!(["batch-1"]))
        .unwrap();
    assert_eq!(batch["pipeline"], "batch");

    // Cluster B: Pods from kubectl; one runs a controller's Pod whose
    // ReplicaSet is listed too (counted once).
    let kubectl = json!({"kind": "List", "items": [
        {"kind": "ReplicaSet", "metadata": {"namespace": "partners", "name": "gw-1"},
         "spec": {"template": {"spec": {"containers": [{"name": "gw", "image": format!("{repo}:partner-1")}]}}}},
        {"kind": "Pod", "metadata": {"namespace": "partners", "name": "gw-1-x",
          "ownerReferences": [{"kind": "ReplicaSet", "name": "gw-1", "controller": true}]},
         "spec": {"containers": [{"name": "gw", "image": format!("{repo}:partner-1")}]}},
        {"kind": "Pod", "metadata": {"namespace": "shop", "name": "web"},
         "spec": {"containers": [{"name": "web", "image": format!("{repo}:1.0")}]}}]});
    let mut child = Command::new(env!("CARGO_BIN_EXE_vns"))
        .args([
            "scan",
            "--settings",
            &current_settings,
            "--source",
            "cluster-b",
            "--output",
            "json",
        ])
        .env("DOCKER_CONFIG", "/nonexistent")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(
        child.stdin.as_mut().unwrap(),
        kubectl.to_string().as_bytes(),
    )
    .unwrap();
    let scan_b = child.wait_with_output().unwrap();
    assert!(scan_b.status.success(), "{}", text(&scan_b));
    let b = json_of(&scan_b);
    assert_eq!(b.as_array().unwrap().len(), 2, "{b:#}");
    let partner = b
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["posture"] == "untrusted-signer")
        .unwrap();
    assert_eq!(
        partner["workloads"].as_array().unwrap().len(),
        1,
        "{partner}"
    );

    // The merged report.
    let (file_a, file_b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    std::fs::write(&file_a, &scan_a.stdout).unwrap();
    std::fs::write(&file_b, &scan_b.stdout).unwrap();
    let files = [file_a.to_str().unwrap(), file_b.to_str().unwrap()];
    let report_of = |output: &str| {
        let o = vns(&[
            "report",
            files[0],
            files[1],
            "--expiring-within",
            "30",
            "--output",
            output,
        ]);
        assert!(o.status.success(), "{}", text(&o));
        o.stdout
    };
    let report: Value = serde_json::from_slice(&report_of("json")).unwrap();
    let sources = report["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 2);
    let (ra, rb, total) = (&sources[0], &sources[1], &report["total"]);
    assert_eq!(ra["name"], "cluster-a");
    let images = |s: &Value, class: &str| s["imagesByClass"][class].as_u64().unwrap();
    let workloads = |s: &Value, class: &str| s["workloadsByClass"][class].as_u64().unwrap();
    assert_eq!(
        [
            images(ra, "verified"),
            images(ra, "unsigned"),
            images(ra, "rotated-out"),
            images(ra, "untrusted-signer"),
            images(ra, "bundle-missing"),
            images(ra, "exception-expiring")
        ],
        [1, 3, 1, 1, 1, 1]
    );
    // shop/api: bundle-missing and unsigned images -> unsigned (the worse);
    // finance/report: verified and exception-expiring -> exception-expiring.
    assert_eq!(
        (
            ra["workloads"].as_u64(),
            workloads(ra, "unsigned"),
            workloads(ra, "exception-expiring")
        ),
        (Some(2), 1, 1)
    );
    assert_eq!(
        (
            images(rb, "verified"),
            images(rb, "untrusted-signer"),
            rb["workloads"].as_u64()
        ),
        (1, 1, Some(2))
    );
    for class in ["verified", "unsigned", "untrusted-signer", "rotated-out"] {
        assert_eq!(
            images(total, class),
            images(ra, class) + images(rb, class),
            "{class}"
        );
    }
    for s in [ra, rb, total] {
        assert_eq!(s["verdict"]["phase"], "verify-warn", "{}", s["verdict"]);
        assert_eq!(s["verdict"]["readyForVerifyEnforce"], false);
    }
    let blocking: Vec<&str> = total["verdict"]["blockingVerifyEnforce"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["class"].as_str().unwrap())
        .collect();
    assert_eq!(blocking.len(), 8, "{blocking:?}");
    let pipelines = &total["pipelinesNotSigning"];
    assert_eq!(pipelines[1]["pipeline"], legacy, "{pipelines:#}");
    assert_eq!(pipelines[1]["images"].as_array().unwrap().len(), 2);
    let exception = &total["expiringExceptions"][0];
    assert_eq!(
        (
            exception["exception"].as_str(),
            exception["workloads"].as_u64()
        ),
        (Some(format!("{vendor}:*").as_str()), Some(1))
    );
    assert!(
        (9..=10).contains(&exception["daysLeft"].as_i64().unwrap()),
        "{exception}"
    );
    let namespaces: Vec<&str> = total["workList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["namespace"].as_str().unwrap())
        .collect();
    assert_eq!(namespaces, ["finance", "partners", "shop"]);
    // With a window shorter than the exception, it is no longer blocking.
    let o = vns(&[
        "report",
        files[0],
        "--expiring-within",
        "5",
        "--output",
        "json",
    ]);
    let short: Value = json_of(&o);
    assert_eq!(short["sources"][0]["imagesByClass"]["excepted"], 1);
    assert_eq!(short["total"]["expiringExceptions"], json!([]));

    // Human: per source and total, with the blocking items.
    let human = String::from_utf8(report_of("human")).unwrap();
    assert!(
        human.contains("== cluster-a: phase verify-warn =="),
        "{human}"
    );
    assert!(human.contains("== total: phase verify-warn =="), "{human}");
    assert!(
        human.contains("rotated-out") && human.contains(legacy),
        "{human}"
    );

    // Prometheus text, parsed back: the same numbers as the JSON.
    let prom = String::from_utf8(report_of("prometheus")).unwrap();
    let scrape = prometheus_parse::Scrape::parse(prom.lines().map(|l| Ok(l.to_string()))).unwrap();
    let mut seen = 0;
    for sample in &scrape.samples {
        let value = match sample.value {
            prometheus_parse::Value::Gauge(v) | prometheus_parse::Value::Untyped(v) => v,
            ref other => panic!("{other:?}"),
        };
        let source = sample.labels.get("source").unwrap_or_default();
        let summary = sources.iter().find(|s| s["name"] == source);
        match sample.metric.as_str() {
            "vns_posture_images" => {
                let class = sample.labels.get("class").unwrap();
                assert_eq!(
                    value,
                    images(summary.unwrap(), class) as f64,
                    "{source} {class}"
                );
                seen += 1;
            }
            "vns_posture_workloads" => {
                let class = sample.labels.get("class").unwrap();
                assert_eq!(
                    value,
                    workloads(summary.unwrap(), class) as f64,
                    "{source} {class}"
                );
            }
            "vns_posture_phase" => {
                let phase = sample.labels.get("phase").unwrap();
                assert_eq!(value == 1.0, summary.unwrap()["verdict"]["phase"] == phase);
            }
            _ => {}
        }
    }
    assert_eq!(seen, 2 * 13, "{prom}");
    assert!(prom.contains("# TYPE vns_posture_images gauge"), "{prom}");

    // HTML: self-contained; the browser test (web/test/posture.test.mjs)
    // checks what it shows against the JSON written beside it.
    let html = String::from_utf8(report_of("html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>") && html.contains("<svg"),
        "{html}"
    );
    for external in ["<script", "src=", "href=", "url(", "@import"] {
        assert!(!html.contains(external), "{external} in the page");
    }
    let out = report_dir();
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("report.json"),
        serde_json::to_string_pretty(&report).unwrap(),
    )
    .unwrap();
    std::fs::write(out.join("report.html"), &html).unwrap();
}

#[test]
fn report_refuses_a_file_that_is_not_a_scan() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"kind": "List"}"#).unwrap();
    let o = vns(&["report", bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("bad.json is not a `vns scan --output json` file"),
        "{}",
        text(&o)
    );
    let o = vns(&["report", dir.path().join("missing.json").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("cannot read"), "{}", text(&o));
    let o = vns(&[
        "scan",
        "--settings",
        "/nonexistent.yaml",
        "--repository",
        "127.0.0.1:1/x",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
