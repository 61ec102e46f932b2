//! `vns serve` over real HTTPS (the binary, TLS 1.3, certificates from
//! deploy/gatekeeper/certs.sh) against the real local registry holding
//! images signed by the Notation CLI's e2e suite: Gatekeeper's external data
//! protocol, malformed requests, a registry that is down or hangs,
//! single-flight, settings reload and client certificates.

mod common;
mod provider;

use std::time::{Duration, Instant};

use common::{text, vns};
use provider::{item, request, settings, write_settings, Provider, API_VERSION};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

fn push(registry: &TestRegistry, layout: &str) -> String {
    let repo = registry.unique_repository(layout);
    push_layout(&e2e_layout(layout), &repo).expect("push layout");
    repo
}

struct Images {
    valid: String,
    unsigned: String,
    untrusted: String,
    excepted: String,
    skipped: String,
    settings: Value,
}

fn images(registry: &TestRegistry) -> Images {
    let valid = push(registry, "e2e-valid-signature");
    let unsigned = push(registry, "e2e");
    let untrusted = push(registry, "e2e-valid-multiple-signatures");
    let excepted = push(registry, "e2e");
    let skipped = push(registry, "e2e");
    let settings = settings(
        &skipped,
        &untrusted,
        json!({"exceptions": [{"image": format!("{excepted}:*"), "expires": "2999-01-01", "reason": "CHG-7"}]}),
    );
    Images {
        valid: format!("{valid}:v1"),
        unsigned: format!("{unsigned}:v1"),
        untrusted: format!("{untrusted}:v1"),
        excepted: format!("{excepted}:v1"),
        skipped: format!("{skipped}:v1"),
        settings,
    }
}

#[test]
fn one_request_answers_every_kind_of_image_as_vns_verify_does() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let i = images(&registry);
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &i.settings);
    let server = Provider::start(&path, &[]);
    let invalid = "Not A Reference";
    let keys = [
        i.valid.as_str(),
        &i.unsigned,
        &i.untrusted,
        &i.excepted,
        &i.skipped,
        invalid,
    ];
    let r = server.validate(&keys);
    assert_eq!(r["apiVersion"], API_VERSION, "{r}");
    assert_eq!(r["kind"], "ProviderResponse", "{r}");
    assert_eq!(r["response"]["idempotent"], true, "{r}");
    assert!(r["response"].get("systemError").is_none(), "{r}");
    assert_eq!(r["response"]["items"].as_array().unwrap().len(), 6, "{r}");

    let valid = item(&r, &i.valid);
    assert!(valid.get("error").is_none(), "{valid}");
    assert_eq!(valid["value"]["verdict"], "verified", "{valid}");
    assert_eq!(valid["value"]["statement"], "e2e", "{valid}");
    let digest = valid["value"]["digest"].as_str().unwrap().to_string();
    assert!(digest.starts_with("sha256:"), "{valid}");
    assert!(
        valid["value"]["signer"]
            .as_str()
            .is_some_and(|s| s.contains("CN=")),
        "{valid}"
    );
    for (key, reason) in [
        (&i.unsigned, "NO_SIGNATURE"),
        (&i.untrusted, "UNTRUSTED_SIGNER"),
    ] {
        let it = item(&r, key);
        let error = it["error"].as_str().unwrap_or_default();
        assert!(error.starts_with(&format!("{reason}: ")), "{it}");
        assert!(error.contains("(to fix: "), "{it}");
        assert_eq!(it["value"]["reason"], reason, "{it}");
    }
    let excepted = item(&r, &i.excepted);
    assert!(excepted.get("error").is_none(), "{excepted}");
    assert_eq!(excepted["value"]["verdict"], "excepted", "{excepted}");
    assert!(
        excepted["value"]["message"]
            .as_str()
            .unwrap()
            .contains("CHG-7"),
        "{excepted}"
    );
    let skipped = item(&r, &i.skipped);
    assert!(skipped.get("error").is_none(), "{skipped}");
    assert_eq!(skipped["value"]["verdict"], "skipped", "{skipped}");
    assert_eq!(skipped["value"]["statement"], "skipped", "{skipped}");
    let bad = item(&r, invalid);
    assert!(
        bad["error"]
            .as_str()
            .unwrap()
            .starts_with("INVALID_REFERENCE: "),
        "{bad}"
    );

    // The same verdicts as `vns verify` with the same settings file.
    let o = vns(&[
        "verify",
        "--output",
        "json",
        "--settings",
        path.to_str().unwrap(),
        &i.valid,
        &i.unsigned,
        &i.untrusted,
        &i.excepted,
        &i.skipped,
    ]);
    let reports: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|_| panic!("{}", text(&o)));
    for report in reports.as_array().unwrap() {
        let key = report["image"].as_str().unwrap();
        let value = &item(&r, key)["value"];
        assert_eq!(
            value["reason"], report["reason"],
            "{key}: {value} vs {report}"
        );
        assert_eq!(value["digest"], report["digest"], "{key}");
        assert_eq!(value["signer"], report["signer"], "{key}");
        assert_eq!(value["statement"], report["statement"], "{key}");
    }

    // /mutate: the verified image pinned, the others unchanged, no errors.
    let (status, m) = server.post("/mutate", &request(&keys));
    assert_eq!(status, 200, "{m}");
    assert_eq!(m["response"]["idempotent"], true, "{m}");
    assert_eq!(
        item(&m, &i.valid)["value"],
        format!("{}@{digest}", i.valid),
        "{m}"
    );
    for key in &keys[1..] {
        let it = item(&m, key);
        assert_eq!(it["value"], *key, "{m}");
        assert!(it.get("error").is_none(), "{m}");
    }
    // Idempotent: the pinned reference maps to itself.
    let pinned = format!("{}@{digest}", i.valid);
    let (_, again) = server.post("/mutate", &request(&[&pinned]));
    assert_eq!(item(&again, &pinned)["value"], pinned, "{again}");

    // Each image was verified once: the second request hit the cache.
    // valid, unsigned, untrusted: the others are decided before any
    // registry call. /mutate and the pinned reference hit the cache.
    assert_eq!(server.metric("vns_provider_verifications_total"), 3.0);
    assert_eq!(server.metric("vns_provider_cache_hits_total"), 4.0);
    let metrics = server.get("/metrics");
    assert!(
        metrics.contains("vns_provider_verdicts_total{verdict=\"failed\",reason=\"NO_SIGNATURE\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("vns_provider_request_duration_seconds_bucket{"),
        "{metrics}"
    );
}

#[test]
fn malformed_requests_get_a_clear_system_error_and_no_crash() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    let server = Provider::start(&path, &[]);
    let many: Vec<String> = (0..10_000)
        .map(|n| format!("{}/app:{n}", registry.address()))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"{not json".to_vec(), "not JSON"),
        (
            serde_json::to_vec(&json!({"apiVersion": API_VERSION, "kind": "ProviderResponse", "request": {"keys": ["a"]}})).unwrap(),
            "kind is \"ProviderResponse\"",
        ),
        (
            serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "ProviderRequest", "request": {"keys": ["a"]}})).unwrap(),
            "apiVersion is \"v1\"",
        ),
        (request(&[]), "request.keys is missing or empty"),
        (
            serde_json::to_vec(&json!({"apiVersion": API_VERSION, "kind": "ProviderRequest"})).unwrap(),
            "request.keys is missing or empty",
        ),
        (request(&many), "10000 keys, more than the 1000"),
    ];
    for (body, expected) in cases {
        let started = Instant::now();
        let (status, r) = server.post("/validate", &body);
        assert_eq!(status, 400, "{r}");
        let error = r["response"]["systemError"].as_str().unwrap_or_default();
        assert!(error.contains(expected), "{expected}: {r}");
        assert_eq!(r["kind"], "ProviderResponse", "{r}");
        assert!(started.elapsed() < Duration::from_secs(5), "{expected}");
    }
    assert_eq!(server.metric("vns_provider_verifications_total"), 0.0);
    assert_eq!(server.get("/healthz"), "ok\n");
    assert!(server.get("/readyz").contains("generation 1"));

    // HTTPS only, TLS 1.3 only.
    let plain = reqwest::blocking::Client::new()
        .post(format!("http://{}/validate", server.address))
        .body(request(&["a"]))
        .send();
    assert!(
        !plain.is_ok_and(|r| r.status().is_success()),
        "plain HTTP must not be answered"
    );
    let tls12 = provider::client_for(&server.certs, false, &[&rustls::version::TLS12])
        .get(server.url("/healthz"))
        .send();
    assert!(tls12.is_err(), "TLS 1.2 must be refused");
    assert_eq!(server.get("/healthz"), "ok\n", "still serving");
}

#[test]
fn a_registry_that_is_down_or_hangs_gives_item_errors_within_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    let server = Provider::start(&path, &["--deadline-ms=3000"]);
    // Nothing listens on port 1: connection refused. The second accepts
    // connections (the kernel's backlog) and never answers.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = "127.0.0.1:1/shop/api:v1".to_string();
    let slow = format!("{}/shop/api:v1", hanging.local_addr().unwrap());
    let started = Instant::now();
    let r = server.validate(&[&down, &slow]);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "answered in {took:?}");
    for key in [&down, &slow] {
        let it = item(&r, key);
        assert!(
            it["error"]
                .as_str()
                .unwrap_or_default()
                .starts_with("REGISTRY_ERROR: "),
            "{it}"
        );
    }
    // Both name the registry; the refused connection is normally reported
    // by the registry client (its retries end at half the deadline).
    for key in [&down, &slow] {
        let host = key.split('/').next().unwrap();
        assert!(
            item(&r, key)["error"].as_str().unwrap().contains(host),
            "{r}"
        );
    }
    assert!(
        item(&r, &slow)["error"]
            .as_str()
            .unwrap()
            .contains("deadline of 3000 ms"),
        "{r}"
    );
    assert!(server.metric("vns_provider_deadline_exceeded_total") >= 1.0);
    // The refused connection's verification goes on past a missed deadline
    // (on a loaded machine its retries can outlast it) and is counted when
    // it ends.
    let counted = Instant::now();
    while server.metric("vns_provider_registry_errors_total") < 1.0 {
        assert!(
            counted.elapsed() < Duration::from_secs(30),
            "no registry error counted"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Registry errors are not cached: asked again, the registry is asked again.
    let r = server.validate(&[&down]);
    assert!(item(&r, &down)["error"]
        .as_str()
        .unwrap()
        .starts_with("REGISTRY_ERROR"));
    assert_eq!(server.get("/healthz"), "ok\n");
}

#[test]
fn sigterm_lets_the_requests_in_flight_finish_and_then_exits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    let mut server = Provider::start(
        &path,
        &["--deadline-ms=3000", "--shutdown-grace-seconds=10"],
    );
    // A registry that accepts connections and never answers: the request
    // stays in flight until its 3 s deadline.
    let hanging = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let slow = format!("{}/shop/api:v1", hanging.local_addr().unwrap());
    let pid = server.pid().to_string();
    let (answer, after_signal) = std::thread::scope(|s| {
        let in_flight = s.spawn(|| server.post("/validate", &request(&[&slow])));
        std::thread::sleep(Duration::from_millis(700));
        let killed = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("run kill");
        assert!(killed.success());
        std::thread::sleep(Duration::from_millis(500));
        // No new connection once draining has begun.
        let after_signal = server.client(false).get(server.url("/healthz")).send();
        (in_flight.join().expect("the request thread"), after_signal)
    });
    let (status, r) = answer;
    assert_eq!(status, 200, "{r}");
    let it = item(&r, &slow);
    assert!(
        it["error"]
            .as_str()
            .unwrap_or_default()
            .contains("deadline of 3000 ms"),
        "the request in flight got its whole answer: {it}"
    );
    assert!(
        after_signal.is_err(),
        "a new connection was accepted while draining: {after_signal:?}"
    );
    let status = server
        .exit_within(Duration::from_secs(8))
        .unwrap_or_else(|| panic!("still running 8 s after SIGTERM: {}", server.stderr()));
    assert!(status.success(), "{status}: {}", server.stderr());
    let log = server.stderr();
    assert!(log.contains("SIGTERM: draining"), "{log}");
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn a_burst_for_one_image_costs_one_verification() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let valid = format!("{}:v1", push(&registry, "e2e-valid-signature"));
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    let server = Provider::start(&path, &[]);
    let barrier = std::sync::Barrier::new(40);
    std::thread::scope(|s| {
        for _ in 0..40 {
            s.spawn(|| {
                let client = server.client(false);
                barrier.wait();
                let r: Value = client
                    .post(server.url("/validate"))
                    .body(request(&[&valid]))
                    .send()
                    .unwrap()
                    .json()
                    .unwrap();
                assert_eq!(item(&r, &valid)["value"]["verdict"], "verified", "{r}");
            });
        }
    });
    assert_eq!(server.metric("vns_provider_verifications_total"), 1.0);
    assert_eq!(server.metric("vns_provider_requests_total"), 40.0);
}

#[test]
fn settings_are_reloaded_and_an_invalid_file_is_refused() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let unsigned = format!("{}:v1", push(&registry, "e2e"));
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    let server = Provider::start(&path, &["--reload-seconds=1"]);
    let r = server.validate(&[&unsigned]);
    assert!(item(&r, &unsigned)["error"]
        .as_str()
        .unwrap()
        .starts_with("NO_SIGNATURE"));

    let excepted = settings(
        "none/skip",
        "none/untrusted",
        json!({"exceptions": [{"image": unsigned, "expires": "2999-01-01", "reason": "CHG-8"}]}),
    );
    write_settings(&path, &excepted);
    let wait_for = |what: &str, check: &dyn Fn() -> bool| {
        let until = Instant::now() + Duration::from_secs(15);
        while !check() {
            assert!(Instant::now() < until, "{what}: {}", server.stderr());
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait_for("reload", &|| server.get("/readyz").contains("generation 2"));
    let r = server.validate(&[&unsigned]);
    assert_eq!(item(&r, &unsigned)["value"]["verdict"], "excepted", "{r}");

    std::fs::write(&path, "enforcement: block\n").unwrap();
    wait_for("refusal", &|| {
        server.metric("vns_provider_settings_reloads_total{result=\"refused\"}") >= 1.0
    });
    let log = server.stderr();
    assert!(
        log.contains("new settings refused, keeping generation 2") && log.contains("block"),
        "{log}"
    );
    assert!(server.get("/readyz").contains("generation 2"));
    let r = server.validate(&[&unsigned]);
    assert_eq!(item(&r, &unsigned)["value"]["verdict"], "excepted", "{r}");
}

#[test]
fn client_certificates_are_required_when_a_client_ca_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("settings.yaml");
    write_settings(&path, &settings("none/skip", "none/untrusted", json!({})));
    // certs.sh signs the server and the test client certificate with one CA.
    let server = Provider::start(&path, &["--client-ca={certs}/ca.crt"]);
    let without = server.client(false).get(server.url("/healthz")).send();
    assert!(without.is_err(), "no client certificate must be refused");
    let with = server
        .client(true)
        .get(server.url("/healthz"))
        .send()
        .unwrap();
    assert_eq!(with.status(), 200);
}
