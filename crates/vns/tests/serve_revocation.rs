//! `vns serve` and revocation, over real HTTPS against the real local
//! registry and a loopback revocation authority: an image with a signature
//! bundle is decided by its staples (offline, as the policy decides it),
//! and one with a forged bundle fails without falling back to the registry;
//! images without one are checked online, and a second image signed by the
//! same chain is answered from the revocation cache without asking the
//! responder again.

mod common;
mod provider;

use chrono::{Duration, Utc};
use common::{text, vns};
use notation_verifier::verify::Descriptor;
use provider::{item, write_settings, Provider};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::{KeyKind, TestPki, TsaPki};
use testkit::publish::{get_json, put_json};
use testkit::registry::TestRegistry;
use testkit::revocation::{RevocationAuthority, RevocationServer};
use testkit::signer::{sign_cose, SignOptions, MEDIA_TYPE_COSE};
use testkit::tsa::{TestTsa, TimestampOptions};

const IMAGE_DIGEST: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// A signing chain and a TSA whose certificates name OCSP responders and
/// CRLs on one loopback authority (as in revocation_e2e.rs).
struct Fixture {
    registry: TestRegistry,
    authority: RevocationAuthority,
    server: RevocationServer,
    pki: TestPki,
    tsa: TestTsa,
}

impl Fixture {
    fn new() -> Self {
        let registry = TestRegistry::start().expect("start the registry");
        let authority = RevocationAuthority::new();
        let server = authority.serve().expect("start the revocation server");
        let now = Utc::now();
        let (not_before, not_after) = (now - Duration::days(1), now + Duration::days(365));
        let pki = TestPki::builder(KeyKind::P256)
            .name("serve-revocation")
            .leaf_validity(not_before, not_after)
            .leaf_ocsp_url(server.ocsp_url())
            .leaf_crl_url(server.crl_url("signing-intermediate"))
            .intermediate_ocsp_url(server.ocsp_url())
            .intermediate_crl_url(server.crl_url("signing-root"))
            .build()
            .expect("signing pki");
        let tsa_pki = TsaPki::builder(KeyKind::P256)
            .name("serve-revocation")
            .leaf_validity(not_before, not_after)
            .leaf_ocsp_url(server.ocsp_url())
            .leaf_crl_url(server.crl_url("tsa-root"))
            .build()
            .expect("tsa pki");
        authority
            .add_issuer("signing-intermediate", &pki.intermediate)
            .unwrap();
        authority.add_issuer("signing-root", &pki.root).unwrap();
        authority.add_issuer("tsa-root", &tsa_pki.root).unwrap();
        let tsa = TestTsa::from_pki(tsa_pki).with_options(TimestampOptions {
            include_root: true,
            ..TimestampOptions::default()
        });
        Self {
            registry,
            authority,
            server,
            pki,
            tsa,
        }
    }

    /// The unsigned e2e image in a fresh repository, signed now (with a
    /// timestamp) and its signature pushed as `notation sign` does.
    fn signed_image(&self) -> String {
        let repo = self.registry.unique_repository("serve-revocation");
        let pushed = push_layout(&e2e_layout("e2e"), &repo).expect("push the image");
        assert_eq!(pushed.digest_of("v1"), Some(IMAGE_DIGEST));
        let now = Utc::now();
        let options = SignOptions::at(now).with_timestamp(&self.tsa, now);
        let envelope =
            sign_cose(&self.pki.credentials(), &image_descriptor(), &options).expect("sign");
        testkit::publish::push_signature(&repo, &image_descriptor(), MEDIA_TYPE_COSE, &envelope)
            .expect("push the signature");
        format!("{repo}:v1")
    }

    fn settings(&self) -> Value {
        json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [{
                "name": "revocation", "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:test", "tsa:test"],
                "trustedIdentities": ["*"]}]},
            "trustStores": {
                "ca": {"test": self.pki.root_pem()},
                "tsa": {"test": self.tsa.root_pem()},
            },
        })
    }

    fn responder_requests(&self) -> usize {
        self.server.requests().len()
    }
}

#[test]
fn bundled_images_use_their_staples_and_online_answers_are_cached() {
    let f = Fixture::new();
    let first = f.signed_image();
    let second = f.signed_image();
    // Bundled while the leaf is revoked, so the staples say revoked; then
    // reinstated, so the responder now says good.
    f.authority
        .revoke(&f.pki.leaf.cert, Utc::now() - Duration::minutes(1))
        .unwrap();
    let bundled = f.signed_image();
    let o = vns(&["attach", &bundled]);
    assert!(o.status.success(), "{}", text(&o));
    f.authority.reinstate(&f.pki.leaf.cert).unwrap();
    // A bundle that is not one (its artifactType changed): the image fails,
    // although its registry signature is valid, rather than falling back.
    let forged = f.signed_image();
    let o = vns(&["attach", &forged]);
    assert!(o.status.success(), "{}", text(&o));
    let repo = forged.rsplit_once(':').unwrap().0;
    let tag = format!("{}.notation", IMAGE_DIGEST.replace(':', "-"));
    let mut manifest = get_json(repo, &tag).unwrap().expect("the bundle");
    manifest["artifactType"] = json!("application/vnd.example.other");
    put_json(repo, &tag, &manifest).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    write_settings(&path, &f.settings());
    let server = Provider::start(&path, &[]);

    // (a) The bundle decides, offline: revoked by its staple although the
    // responder would say good, and the responder is not asked.
    let before = f.responder_requests();
    let r = server.validate(&[&bundled]);
    let it = item(&r, &bundled);
    let error = it["error"].as_str().unwrap_or_default();
    assert!(error.starts_with("REVOKED: "), "{it}");
    assert_eq!(f.responder_requests(), before, "{:?}", f.server.requests());
    let r = server.validate(&[&forged]);
    let it = item(&r, &forged);
    let error = it["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("INVALID_BUNDLE: ") && error.contains("artifactType"),
        "{it}"
    );
    assert_eq!(f.responder_requests(), before, "{:?}", f.server.requests());
    assert_eq!(
        server.metric("vns_provider_signature_source_total{source=\"bundle\"}"),
        2.0
    );

    // (b) Without a bundle: the registry's signature, revocation online.
    let r = server.validate(&[&first]);
    let it = item(&r, &first);
    assert_eq!(it["value"]["verdict"], "verified", "{it}");
    let fetched = f.responder_requests() - before;
    // The leaf, the intermediate and the TSA certificate: one OCSP each.
    assert_eq!(fetched, 3, "{:?}", f.server.requests());
    assert_eq!(
        server.metric("vns_provider_revocation_cache_misses_total"),
        3.0
    );
    assert_eq!(
        server.metric("vns_provider_revocation_cache_hits_total"),
        0.0
    );

    // Another image signed by the same chain: a verification of its own
    // (another repository), its revocation answers from the cache.
    let r = server.validate(&[&second]);
    let it = item(&r, &second);
    assert_eq!(it["value"]["verdict"], "verified", "{it}");
    assert_eq!(
        f.responder_requests() - before,
        fetched,
        "{:?}",
        f.server.requests()
    );
    assert_eq!(
        server.metric("vns_provider_revocation_cache_hits_total"),
        3.0
    );
    assert_eq!(server.metric("vns_provider_verifications_total"), 4.0);
    assert_eq!(
        server.metric("vns_provider_signature_source_total{source=\"registry\"}"),
        2.0
    );
}

#[test]
fn concurrent_verifications_ask_the_responder_once_per_answer() {
    let f = Fixture::new();
    let images: Vec<String> = (0..4).map(|_| f.signed_image()).collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.json");
    write_settings(&path, &f.settings());
    let server = Provider::start(&path, &["--deadline-ms=10000"]);
    // A slow responder, so that the four verifications (one request: they
    // run at once) all miss while the first fetches are in progress.
    f.server.set_delay(std::time::Duration::from_millis(700));
    let keys: Vec<&str> = images.iter().map(String::as_str).collect();
    let r = server.validate(&keys);
    for key in &keys {
        let it = item(&r, key);
        assert_eq!(it["value"]["verdict"], "verified", "{it}");
    }
    assert_eq!(server.metric("vns_provider_verifications_total"), 4.0);
    // The leaf, the intermediate and the TSA certificate: one OCSP answer
    // each, fetched once for all four verifications.
    assert_eq!(f.responder_requests(), 3, "{:?}", f.server.requests());
    assert_eq!(
        server.metric("vns_provider_revocation_cache_misses_total"),
        3.0
    );
    assert_eq!(
        server.metric("vns_provider_revocation_cache_hits_total"),
        9.0
    );
}
