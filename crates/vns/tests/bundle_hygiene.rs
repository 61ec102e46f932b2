//! Bundle hygiene against real registries: a replaced bundle's manifest is
//! deleted where the registry allows deletes and kept, with a warning, where
//! it does not; `--refresh-revocation` pushes only when the staples state
//! something new or near their nextUpdate; a bundle over the size budget is
//! not pushed.

mod common;

use common::{text, vns};

use chrono::{Duration, Utc};
use notation_verifier::verify::Descriptor;
use serde_json::Value;
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::{KeyKind, TestPki};
use testkit::registry::{RegistryConfig, TestRegistry};
use testkit::revocation::RevocationAuthority;
use testkit::signer::{sign_jws, SignOptions};

const IMAGE_DIGEST: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// Pushes the unsigned e2e image; returns the repository.
fn unsigned_image(registry: &TestRegistry, stem: &str) -> String {
    let repo = registry.unique_repository(stem);
    let pushed = push_layout(&e2e_layout("e2e"), &repo).expect("push the image");
    assert_eq!(pushed.digest_of("v1"), Some(IMAGE_DIGEST));
    repo
}

/// Signs the image with `pki` and pushes the signature as `notation sign` does.
fn sign(repo: &str, pki: &TestPki) {
    let envelope = sign_jws(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .expect("sign");
    testkit::publish::push_signature(
        repo,
        &image_descriptor(),
        "application/jose+json",
        &envelope,
    )
    .expect("push the signature");
}

/// The digest the bundle tag names now, if any.
fn bundle_digest(repo: &str) -> Option<String> {
    let (host, path) = repo.split_once('/').unwrap();
    let tag = format!("{}.notation", IMAGE_DIGEST.replace(':', "-"));
    match ureq::get(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
    {
        Ok(r) => r.header("Docker-Content-Digest").map(str::to_owned),
        Err(ureq::Error::Status(404, _)) => None,
        Err(e) => panic!("{e}"),
    }
}

/// HTTP status of a manifest by digest.
fn manifest_status(repo: &str, digest: &str) -> u16 {
    let (host, path) = repo.split_once('/').unwrap();
    match ureq::get(&format!("http://{host}/v2/{path}/manifests/{digest}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
    {
        Ok(r) => r.status(),
        Err(ureq::Error::Status(code, _)) => code,
        Err(e) => panic!("{e}"),
    }
}

fn sync_json(repo: &str, extra: &[&str]) -> (Option<i32>, Value, String) {
    let mut args = vec!["sync", repo, "--tags", "v1", "--output", "json"];
    args.extend_from_slice(extra);
    let o = vns(&args);
    let summary = serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    (o.status.code(), summary, text(&o))
}

#[test]
fn a_replaced_bundle_is_deleted_where_the_registry_allows_it() {
    let registry = TestRegistry::spawn().expect("registry with deletes");
    let repo = unsigned_image(&registry, "hygiene-delete");
    sign(
        &repo,
        &TestPki::builder(KeyKind::P256)
            .name("old-key")
            .build()
            .unwrap(),
    );
    let o = vns(&["attach", &format!("{repo}:v1"), "--no-revocation"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = bundle_digest(&repo).expect("a bundle");

    // Key rotation: a second signature, so the bundle is replaced.
    sign(
        &repo,
        &TestPki::builder(KeyKind::P256)
            .name("new-key")
            .build()
            .unwrap(),
    );
    let (code, summary, out) = sync_json(&repo, &["--no-revocation"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(summary["bundled"], 1, "{summary}");
    assert_eq!(summary["deleted"], 1, "{summary}");
    assert_eq!(summary["superseded_kept"], 0, "{summary}");
    let second = bundle_digest(&repo).expect("a bundle");
    assert_ne!(first, second);
    assert_eq!(
        manifest_status(&repo, &first),
        404,
        "the old bundle is gone"
    );
    assert_eq!(manifest_status(&repo, &second), 200);

    // Nothing changed: nothing pushed, nothing deleted.
    let (_, summary, _) = sync_json(&repo, &["--no-revocation"]);
    assert_eq!(
        (
            &summary["bundled"],
            &summary["unchanged"],
            &summary["deleted"]
        ),
        (&Value::from(0), &Value::from(1), &Value::from(0)),
        "{summary}"
    );
}

#[test]
fn a_registry_without_deletes_keeps_the_old_bundle_and_says_so() {
    let registry = TestRegistry::spawn_with(&RegistryConfig {
        deletes: false,
        ..RegistryConfig::default()
    })
    .expect("registry without deletes");
    let repo = unsigned_image(&registry, "hygiene-nodelete");
    sign(
        &repo,
        &TestPki::builder(KeyKind::P256)
            .name("old-key")
            .build()
            .unwrap(),
    );
    let o = vns(&["attach", &format!("{repo}:v1"), "--no-revocation"]);
    assert!(o.status.success(), "{}", text(&o));
    let first = bundle_digest(&repo).expect("a bundle");

    sign(
        &repo,
        &TestPki::builder(KeyKind::P256)
            .name("new-key")
            .build()
            .unwrap(),
    );
    let o = vns(&["attach", &format!("{repo}:v1"), "--no-revocation"]);
    assert!(
        o.status.success(),
        "a refused delete is not a failure: {}",
        text(&o)
    );
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains("warning:") && stderr.contains("does not allow deletes"),
        "{}",
        text(&o)
    );
    assert!(
        stderr.contains(&first),
        "the warning names the kept manifest: {stderr}"
    );
    assert_eq!(manifest_status(&repo, &first), 200, "the old bundle stays");
    assert_ne!(bundle_digest(&repo).unwrap(), first);

    // In sync, it is counted as kept.
    sign(
        &repo,
        &TestPki::builder(KeyKind::P256)
            .name("third-key")
            .build()
            .unwrap(),
    );
    let (code, summary, out) = sync_json(&repo, &["--no-revocation"]);
    assert_eq!(code, Some(0), "{out}");
    assert_eq!(
        (
            &summary["bundled"],
            &summary["deleted"],
            &summary["superseded_kept"]
        ),
        (&Value::from(1), &Value::from(0), &Value::from(1)),
        "{summary}"
    );
}

#[test]
fn refresh_pushes_only_when_the_staples_change_or_near_their_next_update() {
    let registry = TestRegistry::spawn().expect("registry");
    let authority = RevocationAuthority::new();
    let server = authority.serve().expect("revocation server");
    let pki = TestPki::builder(KeyKind::P256)
        .name("hygiene-refresh")
        .leaf_ocsp_url(server.ocsp_url())
        .intermediate_ocsp_url(server.ocsp_url())
        .build()
        .unwrap();
    authority
        .add_issuer("intermediate", &pki.intermediate)
        .unwrap();
    authority.add_issuer("root", &pki.root).unwrap();
    let repo = unsigned_image(&registry, "hygiene-refresh");
    sign(&repo, &pki);

    // Material valid for half a day: within the margin from the start.
    authority.set_freshness(Duration::minutes(-1), Duration::hours(12));
    let o = vns(&["attach", &format!("{repo}:v1")]);
    assert!(o.status.success(), "{}", text(&o));
    // Still within a day of nextUpdate, and later than the stapled one (a
    // refresh never swaps material for some that goes stale no later;
    // nextUpdate has whole seconds, so the same window fetched within the
    // same second would not be later).
    authority.set_freshness(Duration::minutes(-1), Duration::hours(13));
    let (_, summary, out) = sync_json(&repo, &["--refresh-revocation"]);
    assert_eq!(summary["bundled"], 1, "near nextUpdate: pushed. {out}");
    assert_eq!(summary["deleted"], 1, "{summary}");

    // A week of validity from now on: the first refresh still replaces the
    // half-day material, the second finds nothing to do.
    authority.set_freshness(Duration::minutes(-1), Duration::days(7));
    let (_, summary, out) = sync_json(&repo, &["--refresh-revocation"]);
    assert_eq!(summary["bundled"], 1, "{out}");
    let kept = bundle_digest(&repo).unwrap();
    let (_, summary, out) = sync_json(&repo, &["--refresh-revocation"]);
    assert_eq!(
        (&summary["bundled"], &summary["unchanged"]),
        (&Value::from(0), &Value::from(1)),
        "same answers, fresh for a week: left alone. {out}"
    );
    assert_eq!(bundle_digest(&repo).unwrap(), kept);

    // The leaf is revoked: the answer changed, so the refresh pushes, once.
    authority
        .revoke(&pki.leaf.cert, Utc::now() - Duration::minutes(1))
        .unwrap();
    let (_, summary, out) = sync_json(&repo, &["--refresh-revocation"]);
    assert_eq!(summary["bundled"], 1, "{out}");
    let (_, summary, out) = sync_json(&repo, &["--refresh-revocation"]);
    assert_eq!(summary["bundled"], 0, "{out}");
    assert_eq!(
        manifest_status(&repo, &kept),
        404,
        "superseded bundles are deleted"
    );
}

#[test]
fn a_bundle_over_the_size_budget_is_not_pushed() {
    let registry = TestRegistry::start().expect("registry");
    let repo = unsigned_image(&registry, "hygiene-budget");
    sign(&repo, &TestPki::new(KeyKind::P256).unwrap());
    let image = format!("{repo}:v1");
    let o = vns(&[
        "attach",
        &image,
        "--no-revocation",
        "--max-bundle-size",
        "1KiB",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let out = text(&o);
    assert!(out.contains("over the budget of 1024 bytes"), "{out}");
    assert!(
        out.contains("envelope 1 (signature manifest sha256:"),
        "{out}"
    );
    assert!(
        out.contains("--no-revocation") && out.contains("Remove signatures"),
        "{out}"
    );
    assert_eq!(bundle_digest(&repo), None, "nothing was pushed");

    // The budget can only be lowered.
    let o = vns(&["attach", &image, "--max-bundle-size", "5MiB"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("4MiB"), "{}", text(&o));

    let o = vns(&["attach", &image, "--no-revocation"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(bundle_digest(&repo).is_some());
}
