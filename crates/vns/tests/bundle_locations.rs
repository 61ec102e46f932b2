//! Bundles for images in registries you cannot push to: two real
//! registries, one holding the image (nothing is pushed to it after the
//! image), one for bundles; `vns attach` writes the bundle to the second,
//! and the built policy in the waPC host verifies the image through it.

mod common;

use common::{policy_host, text, vns};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::publish::{get_json, put_json};
use testkit::registry::TestRegistry;

fn cert() -> String {
    std::fs::read_to_string(testdata::path("notation-e2e/certs").join("upstream/e2e.crt")).unwrap()
}

fn settings(bundles: &str) -> Value {
    json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "e2e", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"e2e": cert()}},
        "bundleLocations": [{"images": "127.0.0.1:*/**", "repository": bundles}],
    })
}

fn admit(image: &str, settings: &Value) -> (bool, String) {
    let request = json!({
        "uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "userInfo": {},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                   "spec": {"containers": [{"name": "c", "image": image}]}}});
    let e = policy_host().validate(&request, settings).unwrap();
    (
        e.response.accepted,
        e.response.message.clone().unwrap_or_default(),
    )
}

/// The image registry's tags, to show nothing was written to it.
fn tags(repo: &str) -> Vec<String> {
    let (host, path) = repo.split_once('/').unwrap();
    let list: Value = ureq::get(&format!("http://{host}/v2/{path}/tags/list"))
        .call()
        .unwrap()
        .into_json()
        .unwrap();
    let mut tags: Vec<String> = list["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().map(str::to_owned))
        .collect();
    tags.sort();
    tags
}

#[test]
fn attach_writes_the_bundle_to_the_bundle_registry_and_the_policy_reads_it_there() {
    let images = TestRegistry::start().unwrap();
    let bundles = TestRegistry::spawn().unwrap();
    let repo = images.unique_repository("e2e-valid-signature");
    let pushed = push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    let digest = pushed.digest_of("v1").unwrap().to_string();
    let image = format!("{repo}:v1");
    let before = tags(&repo);
    let bundle_root = format!("{}/notation-bundles", bundles.address());
    let settings = settings(&bundle_root);

    // Without a bundle anywhere the policy says where it looked.
    let (accepted, message) = admit(&image, &settings);
    assert!(!accepted);
    assert!(
        message.contains("NO_SIGNATURE")
            && message.contains(&bundle_root)
            && message.contains("--bundle-repository"),
        "{message}"
    );

    // `--settings`: the same rule as the policy chooses the location.
    let dir = tempfile::tempdir().unwrap();
    let settings_path = dir.path().join("settings.json");
    std::fs::write(&settings_path, settings.to_string()).unwrap();
    let o = vns(&[
        "attach",
        &image,
        "--settings",
        settings_path.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("bundled"), "{}", text(&o));
    let attached = text(&o);
    assert_eq!(
        tags(&repo),
        before,
        "nothing was pushed to the image's registry"
    );

    let (host, path) = repo.split_once('/').unwrap();
    let external = format!("{bundle_root}/{}/{path}", host.replace(':', "_"));
    let tag = format!("{}.notation", digest.replace(':', "-"));
    // The output names the bundle's full reference: `:tag` alone would
    // point at the image's repository, where there is none.
    let reference = format!("{external}:{tag}");
    assert!(attached.contains(&format!(" in {reference}")), "{attached}");
    let bundle = get_json(&external, &tag)
        .unwrap()
        .expect("the bundle is in the bundle registry");
    assert!(bundle.get("subject").is_none(), "{bundle}");
    assert_eq!(
        bundle["annotations"]["dev.vns.notation.subject.digest"],
        digest.as_str()
    );
    assert_eq!(
        bundle["annotations"]["dev.vns.notation.subject.repository"],
        repo.as_str()
    );

    let (accepted, message) = admit(&image, &settings);
    assert!(accepted, "{message}");

    // Idempotent, and `--bundle-repository` names the same place.
    let o = vns(&[
        "attach",
        &image,
        "--bundle-repository",
        &bundle_root,
        "--output",
        "json",
    ]);
    let report: serde_json::Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    assert_eq!(report[0]["bundle"], reference.as_str(), "{report}");
    let line = report[0]["result"].as_str().unwrap();
    assert!(
        line.starts_with("unchanged") && line.contains(&format!("{reference} already lists")),
        "{line}"
    );
    assert_eq!(tags(&repo), before);

    // A bundle that names another digest or another repository is refused.
    let mut other_digest = bundle.clone();
    other_digest["annotations"]["dev.vns.notation.subject.digest"] =
        json!(format!("sha256:{}", "0".repeat(64)));
    put_json(&external, &tag, &other_digest).unwrap();
    let (accepted, message) = admit(&image, &settings);
    assert!(!accepted);
    assert!(
        message.contains("INVALID_BUNDLE") && message.contains("dev.vns.notation.subject.digest"),
        "{message}"
    );
    let mut other_repo = bundle.clone();
    other_repo["annotations"]["dev.vns.notation.subject.repository"] =
        json!(format!("{host}/someone/else"));
    put_json(&external, &tag, &other_repo).unwrap();
    let (accepted, message) = admit(&image, &settings);
    assert!(!accepted);
    assert!(
        message.contains("INVALID_BUNDLE")
            && message.contains("dev.vns.notation.subject.repository")
            && message.contains("someone/else"),
        "{message}"
    );
    // Re-attaching repairs it.
    let o = vns(&["attach", &image, "--bundle-repository", &bundle_root]);
    assert!(text(&o).starts_with("bundled"), "{}", text(&o));
    assert!(admit(&image, &settings).0);

    // Written by another tool with only the two required annotations: the
    // size comes from the signed payload. A size annotation that disagrees
    // with the payload fails, so the annotation is really what is compared.
    let mut minimal = bundle.clone();
    minimal["annotations"]
        .as_object_mut()
        .unwrap()
        .remove("dev.vns.notation.subject.size");
    put_json(&external, &tag, &minimal).unwrap();
    let (accepted, message) = admit(&image, &settings);
    assert!(accepted, "{message}");
    let mut wrong_size = bundle.clone();
    wrong_size["annotations"]["dev.vns.notation.subject.size"] = json!("1");
    put_json(&external, &tag, &wrong_size).unwrap();
    let (accepted, message) = admit(&image, &settings);
    assert!(!accepted);
    assert!(message.contains("1 bytes"), "{message}");
}

#[test]
fn sync_takes_the_same_flags_and_bad_ones_are_usage_errors() {
    let images = TestRegistry::start().unwrap();
    let bundles = TestRegistry::spawn().unwrap();
    let repo = images.unique_repository("e2e-valid-signature");
    push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    let before = tags(&repo);
    let bundle_root = format!("{}/b", bundles.address());
    let o = vns(&["sync", &repo, "--bundle-repository", &bundle_root]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("bundled 1,"), "{}", text(&o));
    assert_eq!(tags(&repo), before);
    assert!(admit(&format!("{repo}:v1"), &settings(&bundle_root)).0);

    let o = vns(&[
        "attach",
        &format!("{repo}:v1"),
        "--bundle-repository",
        "no-registry",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--bundle-repository") && text(&o).contains("registry host"),
        "{}",
        text(&o)
    );
    let o = vns(&[
        "attach",
        &format!("{repo}:v1"),
        "--bundle-repository",
        &bundle_root,
        "--settings",
        "x.yaml",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
