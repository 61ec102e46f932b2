//! Offline revocation end to end: certificates that name OCSP responders and
//! CRL distribution points on a loopback revocation authority, a
//! timestamped signature pushed to a real registry, the real `vns attach`
//! stapling the material into the bundle, and then, with the authority shut
//! down, the built policy module deciding in the waPC host from the staples
//! alone.

mod common;

use common::{policy_host, text, vns};
use std::process::Output;

use chrono::{Duration, Utc};
use notation_verifier::bundle::{Staple, StapleKind, ANNOTATION_REVOCATION};
use notation_verifier::verify::Descriptor;
use serde_json::{json, Value};
use testkit::host::Evaluation;
use testkit::layout::{e2e_layout, push_layout};
use testkit::pki::{Cert, KeyKind, TestPki, TsaPki};
use testkit::registry::TestRegistry;
use testkit::revocation::{CertificateStatus, RevocationAuthority, RevocationServer};
use testkit::signer::{sign_cose, SignOptions, MEDIA_TYPE_COSE};
use testkit::tsa::{TestTsa, TimestampOptions};

const IMAGE_DIGEST: &str =
    "sha256:b8479de3f88fb259a0a9ea82a5b2a052a1ef3c4ebbcfc61482d5ae4c831f8af9";

/// The CRL names the authority publishes (one per issuing CA).
const SIGNING_INTERMEDIATE_CRL: &str = "signing-intermediate";
const SIGNING_ROOT_CRL: &str = "signing-root";
const TSA_ROOT_CRL: &str = "tsa-root";

fn image_descriptor() -> Descriptor {
    Descriptor {
        media_type: "application/vnd.oci.image.manifest.v1+json".into(),
        digest: IMAGE_DIGEST.into(),
        size: 517,
    }
}

/// The subject as the verifier prints it (and so as the policy reports it).
fn verifier_subject(cert: &Cert) -> String {
    notation_verifier::cert::Certificate::from_der(cert.der())
        .expect("parse certificate")
        .subject()
}

/// A signing PKI whose leaf and intermediate, and a TSA whose leaf, name
/// OCSP and CRL locations on one loopback revocation authority.
struct Fixture {
    registry: TestRegistry,
    authority: RevocationAuthority,
    server: RevocationServer,
    pki: TestPki,
    tsa: TestTsa,
}

impl Fixture {
    /// `include_tsa_root`: whether timestamp tokens carry the TSA root
    /// besides the TSA certificate (the issuer `vns attach` needs in the
    /// token to ask for the TSA certificate's status).
    fn new(name: &str, include_tsa_root: bool) -> Self {
        let registry = TestRegistry::start().expect("start the registry");
        let authority = RevocationAuthority::new();
        let server = authority.serve().expect("start the revocation server");
        let now = Utc::now();
        let (not_before, not_after) = (now - Duration::days(1), now + Duration::days(365));
        let pki = TestPki::builder(KeyKind::P256)
            .name(name)
            .leaf_validity(not_before, not_after)
            .leaf_ocsp_url(server.ocsp_url())
            .leaf_crl_url(server.crl_url(SIGNING_INTERMEDIATE_CRL))
            .intermediate_ocsp_url(server.ocsp_url())
            .intermediate_crl_url(server.crl_url(SIGNING_ROOT_CRL))
            .build()
            .expect("signing pki");
        let tsa_pki = TsaPki::builder(KeyKind::P256)
            .name(name)
            .leaf_validity(not_before, not_after)
            .leaf_ocsp_url(server.ocsp_url())
            .leaf_crl_url(server.crl_url(TSA_ROOT_CRL))
            .build()
            .expect("tsa pki");
        authority
            .add_issuer(SIGNING_INTERMEDIATE_CRL, &pki.intermediate)
            .unwrap();
        authority.add_issuer(SIGNING_ROOT_CRL, &pki.root).unwrap();
        authority.add_issuer(TSA_ROOT_CRL, &tsa_pki.root).unwrap();
        let tsa = TestTsa::from_pki(tsa_pki).with_options(TimestampOptions {
            include_root: include_tsa_root,
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

    /// Pushes the unsigned e2e image into a fresh repository, signs it now
    /// with a timestamp and pushes the signature as `notation sign` does;
    /// returns `host:port/repo:v1`.
    fn signed_image(&self) -> String {
        let repo = self.registry.unique_repository("revocation");
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

    /// Strict, with the signing root as `ca` and the TSA root as `tsa`.
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

    /// Evaluates a Pod running `image` with the revocation server down.
    fn evaluate_offline(&mut self, image: &str) -> Evaluation {
        self.server.stop();
        assert!(!self.server.is_running());
        let e = evaluate(image, &self.settings());
        self.server
            .restart()
            .expect("restart the revocation server");
        e
    }
}

fn evaluate(image: &str, settings: &Value) -> Evaluation {
    let request = json!({
        "uid": "1", "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "resource": {"group": "", "version": "v1", "resource": "pods"},
        "operation": "CREATE", "userInfo": {},
        "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"},
                   "spec": {"containers": [{"name": "c", "image": image}]}}});
    let e = policy_host()
        .validate(&request, settings)
        .expect("the policy answers");
    // The module reaches nothing but the registry capabilities.
    for capability in e.capabilities() {
        assert!(
            testkit::host::ALLOWED_CAPABILITIES.contains(&capability.as_str()),
            "{capability}"
        );
    }
    e
}

fn message(e: &Evaluation) -> String {
    e.response.message.clone().unwrap_or_default()
}

/// The staples of the bundle's (single) layer.
fn staples(image: &str) -> Vec<Staple> {
    let (repo, _) = image.rsplit_once(':').unwrap();
    let (host, path) = repo.split_once('/').unwrap();
    let tag = format!("{}.notation", IMAGE_DIGEST.replace(':', "-"));
    let bundle: Value = ureq::get(&format!("http://{host}/v2/{path}/manifests/{tag}"))
        .set("Accept", "application/vnd.oci.image.manifest.v1+json")
        .call()
        .expect("the bundle exists")
        .into_json()
        .unwrap();
    let layers = bundle["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "{bundle}");
    match layers[0]["annotations"][ANNOTATION_REVOCATION].as_str() {
        Some(text) => serde_json::from_str(text).expect("the annotation is a staple list"),
        None => Vec::new(),
    }
}

fn has(staples: &[Staple], kind: StapleKind, for_cert: &Cert) -> bool {
    let fingerprint = for_cert.sha256_fingerprint();
    staples
        .iter()
        .any(|s| s.kind == kind && s.for_certificate == fingerprint)
}

fn attach(args: &[&str]) -> Output {
    let mut all = vec!["attach"];
    all.extend_from_slice(args);
    let o = vns(&all);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).starts_with("bundled"), "{}", text(&o));
    o
}

#[test]
fn stapled_material_decides_offline_good_then_revoked() {
    let mut f = Fixture::new("revocation-e2e", true);

    // Good: every certificate below the roots is stapled and the policy
    // admits with the authority down.
    let image = f.signed_image();
    let o = attach(&[&image]);
    assert!(!text(&o).contains("not stapled"), "{}", text(&o));
    let stapled = staples(&image);
    assert!(
        has(&stapled, StapleKind::Ocsp, &f.pki.leaf.cert),
        "{stapled:?}"
    );
    assert!(
        has(&stapled, StapleKind::Ocsp, &f.pki.intermediate.cert),
        "{stapled:?}"
    );
    assert!(
        has(&stapled, StapleKind::Ocsp, &f.tsa.pki().leaf.cert),
        "{stapled:?}"
    );
    assert!(
        stapled
            .iter()
            .all(|s| s.source.starts_with(&f.server.base_url())),
        "{stapled:?}"
    );
    // OCSP answered for each of them, so no CRL was needed.
    assert!(
        stapled.iter().all(|s| s.kind == StapleKind::Ocsp) && stapled.len() == 3,
        "{stapled:?}"
    );
    let requests = f.server.requests();
    assert!(
        requests.iter().any(|r| r.starts_with("POST /ocsp -> 200")),
        "{requests:?}"
    );
    let e = f.evaluate_offline(&image);
    assert!(e.response.accepted, "{}", message(&e));

    // Revoked: the same leaf signs a second image; its staple says revoked.
    f.authority
        .revoke(&f.pki.leaf.cert, Utc::now() - Duration::minutes(1))
        .unwrap();
    let revoked_image = f.signed_image();
    attach(&[&revoked_image]);
    assert!(has(
        &staples(&revoked_image),
        StapleKind::Ocsp,
        &f.pki.leaf.cert
    ));
    let e = f.evaluate_offline(&revoked_image);
    assert!(!e.response.accepted);
    let leaf = verifier_subject(&f.pki.leaf.cert);
    assert!(
        message(&e).contains("REVOKED") && message(&e).contains(&leaf),
        "want REVOKED naming {leaf}: {}",
        message(&e)
    );

    // The first bundle still carries the good answer, fresh until its
    // nextUpdate: that is what stapling means. Re-stapling it picks up the
    // revocation.
    let e = f.evaluate_offline(&image);
    assert!(e.response.accepted, "{}", message(&e));
    let (repo, _) = image.rsplit_once(':').unwrap();
    let o = vns(&["sync", repo, "--refresh-revocation"]);
    assert!(o.status.success(), "{}", text(&o));
    let e = f.evaluate_offline(&image);
    assert!(
        !e.response.accepted && message(&e).contains("REVOKED") && message(&e).contains(&leaf),
        "{}",
        message(&e)
    );
}

#[test]
fn an_ocsp_unknown_answer_falls_back_to_the_crl() {
    let mut f = Fixture::new("revocation-e2e-crl", true);
    f.authority
        .set_status(&f.pki.leaf.cert, CertificateStatus::Unknown)
        .unwrap();
    let image = f.signed_image();
    attach(&[&image]);
    let stapled = staples(&image);
    // The leaf's OCSP answer and the CRL of its issuer, the intermediate.
    assert!(
        has(&stapled, StapleKind::Ocsp, &f.pki.leaf.cert),
        "{stapled:?}"
    );
    assert!(
        has(&stapled, StapleKind::Crl, &f.pki.intermediate.cert),
        "{stapled:?}"
    );
    let e = f.evaluate_offline(&image);
    assert!(e.response.accepted, "{}", message(&e));
}

#[test]
fn missing_or_stale_material_is_revocation_unknown_at_strict() {
    let mut f = Fixture::new("revocation-e2e-unknown", true);

    // Nothing stapled.
    let image = f.signed_image();
    attach(&[&image, "--no-revocation"]);
    assert!(staples(&image).is_empty());
    let e = f.evaluate_offline(&image);
    assert!(!e.response.accepted);
    assert!(
        message(&e).contains("REVOCATION_UNKNOWN"),
        "{}",
        message(&e)
    );

    // The authority was down when `vns attach` ran: it says so, and the
    // policy cannot decide either.
    let image = f.signed_image();
    f.server.stop();
    let o = attach(&[&image]);
    f.server.restart().unwrap();
    assert!(
        text(&o).contains("revocation material not stapled"),
        "{}",
        text(&o)
    );
    let e = f.evaluate_offline(&image);
    assert!(!e.response.accepted);
    assert!(
        message(&e).contains("REVOCATION_UNKNOWN"),
        "{}",
        message(&e)
    );

    // Material that is already stale when stapled (nextUpdate in the past).
    f.authority
        .set_freshness(Duration::days(-2), Duration::days(-1));
    let image = f.signed_image();
    attach(&[&image]);
    assert!(has(&staples(&image), StapleKind::Ocsp, &f.pki.leaf.cert));
    let e = f.evaluate_offline(&image);
    assert!(!e.response.accepted);
    assert!(
        message(&e).contains("REVOCATION_UNKNOWN") && message(&e).contains("stale"),
        "{}",
        message(&e)
    );
}

#[test]
fn a_revoked_tsa_certificate_fails_the_timestamp() {
    let mut f = Fixture::new("revocation-e2e-tsa", true);
    let tsa_leaf = f.tsa.pki().leaf.cert.clone();
    f.authority
        .revoke(&tsa_leaf, Utc::now() - Duration::minutes(1))
        .unwrap();
    let image = f.signed_image();
    attach(&[&image]);
    let stapled = staples(&image);
    assert!(has(&stapled, StapleKind::Ocsp, &tsa_leaf), "{stapled:?}");
    let e = f.evaluate_offline(&image);
    assert!(!e.response.accepted);
    let subject = verifier_subject(&tsa_leaf);
    assert!(
        message(&e).contains("REVOKED")
            && message(&e).contains("timestamping certificate")
            && message(&e).contains(&subject),
        "want REVOKED naming {subject}: {}",
        message(&e)
    );
}

/// A token that carries only the TSA certificate (no issuer): `vns attach`
/// has no trust store and so cannot form the OCSP request or pick the CRL
/// issuer for it.
#[test]
fn a_token_without_the_tsa_issuer_cannot_be_stapled() {
    let mut f = Fixture::new("revocation-e2e-tsa-alone", false);
    let image = f.signed_image();
    let o = attach(&[&image]);
    let stapled = staples(&image);
    assert!(
        !has(&stapled, StapleKind::Ocsp, &f.tsa.pki().leaf.cert),
        "{stapled:?}"
    );
    let subject = verifier_subject(&f.tsa.pki().leaf.cert);
    assert!(
        text(&o).contains("revocation material not stapled") && text(&o).contains(&subject),
        "{}",
        text(&o)
    );
    let e = f.evaluate_offline(&image);
    assert!(!e.response.accepted);
    assert!(
        message(&e).contains("REVOCATION_UNKNOWN") && message(&e).contains("timestamping"),
        "{}",
        message(&e)
    );
}

#[test]
fn every_crl_distribution_point_of_a_certificate_is_stapled() {
    // A leaf that names two CRL distribution points (no OCSP): notation-core-go
    // fetches both, so `vns attach` staples both, and the policy decides
    // from them offline.
    let registry = TestRegistry::start().expect("start the registry");
    let authority = RevocationAuthority::new();
    let mut server = authority.serve().expect("start the revocation server");
    let pki = TestPki::builder(KeyKind::P256)
        .name("two-distribution-points")
        .leaf_crl_url(server.crl_url("inter-a"))
        .leaf_crl_url(server.crl_url("inter-b"))
        .build()
        .expect("signing pki");
    authority.add_issuer("inter-a", &pki.intermediate).unwrap();
    authority.add_issuer("inter-b", &pki.intermediate).unwrap();
    let repo = registry.unique_repository("two-points");
    push_layout(&e2e_layout("e2e"), &repo).expect("push the image");
    let envelope = sign_cose(
        &pki.credentials(),
        &image_descriptor(),
        &SignOptions::at(Utc::now()),
    )
    .expect("sign");
    testkit::publish::push_signature(&repo, &image_descriptor(), MEDIA_TYPE_COSE, &envelope)
        .expect("push the signature");
    let image = format!("{repo}:v1");
    attach(&[&image]);
    let stapled = staples(&image);
    for point in ["inter-a", "inter-b"] {
        assert!(
            stapled
                .iter()
                .any(|s| s.kind == StapleKind::Crl && s.source == server.crl_url(point)),
            "{point} not stapled: {stapled:?}"
        );
    }
    server.stop();
    let settings = json!({
        "trustPolicy": {"version": "1.0", "trustPolicies": [{
            "name": "crl", "registryScopes": ["*"],
            "signatureVerification": {"level": "strict"},
            "trustStores": ["ca:test"], "trustedIdentities": ["*"]}]},
        "trustStores": {"ca": {"test": pki.root_pem()}},
    });
    let e = evaluate(&image, &settings);
    assert!(e.response.accepted, "{}", message(&e));
}
