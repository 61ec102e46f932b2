//! `vns serve` and `bundleLocations`: an image whose bundle the settings
//! keep in another registry is decided by that bundle (two real registries,
//! real HTTPS to the provider), and a bundle there that names another image
//! fails it, as in the policy.

mod common;
mod provider;

use common::{text, vns};
use provider::{item, settings, write_settings, Provider};
use serde_json::json;
use testkit::layout::{e2e_layout, push_layout};
use testkit::publish::{get_json, put_json};
use testkit::registry::TestRegistry;

const FROM_BUNDLE: &str = "vns_provider_signature_source_total{source=\"bundle\"}";
const FROM_REGISTRY: &str = "vns_provider_signature_source_total{source=\"registry\"}";

#[test]
fn serve_reads_the_bundle_where_bundle_locations_say() {
    let images = TestRegistry::start().unwrap();
    let bundles = TestRegistry::spawn().unwrap();
    let repo = images.unique_repository("e2e-valid-signature");
    let pushed = push_layout(&e2e_layout("e2e-valid-signature"), &repo).unwrap();
    let digest = pushed.digest_of("v1").unwrap().to_string();
    let image = format!("{repo}:v1");
    let bundle_root = format!("{}/notation-bundles", bundles.address());
    let settings = settings(
        "127.0.0.1:1/skipped",
        "127.0.0.1:1/untrusted",
        json!({"bundleLocations": [{"images": "127.0.0.1:*/**", "repository": bundle_root}]}),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    write_settings(&path, &settings);
    // No verdict cache: every request reads the registries again.
    let provider = Provider::start(&path, &["--cache-ttl", "0"]);

    // No bundle anywhere yet: the registry's own signatures decide.
    let r = provider.validate(&[&image]);
    assert_eq!(item(&r, &image)["value"]["verdict"], "verified", "{r}");
    assert_eq!(provider.metric(FROM_REGISTRY), 1.0);
    assert_eq!(provider.metric(FROM_BUNDLE), 0.0);

    let o = vns(&["attach", &image, "--settings", path.to_str().unwrap()]);
    assert!(o.status.success(), "{}", text(&o));
    let r = provider.validate(&[&image]);
    assert_eq!(item(&r, &image)["value"]["verdict"], "verified", "{r}");
    assert_eq!(
        provider.metric(FROM_BUNDLE),
        1.0,
        "the external bundle decided"
    );
    assert_eq!(provider.metric(FROM_REGISTRY), 1.0);

    // The external bundle now names another digest: the image fails, and
    // the registry's valid signature does not rescue it.
    let (host, path_in_registry) = repo.split_once('/').unwrap();
    let external = format!(
        "{bundle_root}/{}/{path_in_registry}",
        host.replace(':', "_")
    );
    let tag = format!("{}.notation", digest.replace(':', "-"));
    let mut bundle = get_json(&external, &tag).unwrap().expect("bundle written");
    bundle["annotations"]["dev.vns.notation.subject.digest"] =
        json!(format!("sha256:{}", "0".repeat(64)));
    put_json(&external, &tag, &bundle).unwrap();
    let r = provider.validate(&[&image]);
    let error = item(&r, &image)["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.starts_with("INVALID_BUNDLE") && error.contains("dev.vns.notation.subject.digest"),
        "{r}"
    );
}
