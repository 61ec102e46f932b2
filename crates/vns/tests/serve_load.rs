//! A bounded load test of `vns serve` on loopback (`make load`; ignored by
//! `make test`): 50 concurrent HTTPS clients send ProviderRequests of two
//! keys drawn from 100 signed images in the real local registry, until
//! 20,000 keys or 60 s, in two phases:
//! - cold: `--cache-ttl 0`, every key is a full verification (tag
//!   resolution, referrers, signature manifests and blobs, the verifier);
//! - warm: the cache primed, every key is a tag resolution and a cache hit.
//!
//! Reports p50/p99 latency and throughput per phase (for
//! docs/performance.md), asserts no error, and samples the server's RSS to
//! assert that memory does not grow across the warm run.

mod provider;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use provider::{cert, request, write_settings, Provider};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

const CLIENTS: usize = 50;
const KEYS_PER_REQUEST: usize = 2;
const MAX_KEYS: usize = 20_000;
const MAX_TIME: Duration = Duration::from_secs(60);
const IMAGES: usize = 100;

struct Phase {
    name: &'static str,
    keys: usize,
    requests: usize,
    errors: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
    rss_kib: Vec<u64>,
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn run(name: &'static str, server: &Provider, images: &[String]) -> Phase {
    let sent = AtomicUsize::new(0);
    let errors = AtomicUsize::new(0);
    let latencies = Mutex::new(Vec::new());
    let rss = Mutex::new(vec![rss_kib(server.pid())]);
    let started = Instant::now();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(500));
                rss.lock().unwrap().push(rss_kib(server.pid()));
            }
        });
        let workers: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (sent, errors, latencies) = (&sent, &errors, &latencies);
                s.spawn(move || {
                    let client = server.client(false);
                    let mut mine = Vec::new();
                    let mut n = c;
                    loop {
                        let taken = sent.fetch_add(KEYS_PER_REQUEST, Ordering::Relaxed);
                        if taken >= MAX_KEYS || started.elapsed() >= MAX_TIME {
                            sent.fetch_sub(KEYS_PER_REQUEST, Ordering::Relaxed);
                            break;
                        }
                        let keys: Vec<&str> = (0..KEYS_PER_REQUEST)
                            .map(|k| images[(n * 7 + k * 13) % images.len()].as_str())
                            .collect();
                        n += CLIENTS;
                        let t = Instant::now();
                        let answer = client
                            .post(server.url("/validate"))
                            .body(request(&keys))
                            .send()
                            .and_then(|r| r.json::<Value>());
                        mine.push(t.elapsed());
                        let ok = answer.is_ok_and(|v| {
                            v["response"]["items"].as_array().is_some_and(|items| {
                                items.len() == KEYS_PER_REQUEST
                                    && items.iter().all(|i| {
                                        i.get("error").is_none()
                                            && i["value"]["verdict"] == "verified"
                                    })
                            })
                        });
                        if !ok {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    latencies.lock().unwrap().extend(mine);
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
    });
    let elapsed = started.elapsed();
    let mut latencies = latencies.into_inner().unwrap();
    latencies.sort();
    let mut rss_kib = rss.into_inner().unwrap();
    rss_kib.push(rss_kib_now(server));
    Phase {
        name,
        keys: sent.load(Ordering::Relaxed),
        requests: latencies.len(),
        errors: errors.load(Ordering::Relaxed),
        elapsed,
        latencies,
        rss_kib,
    }
}

fn rss_kib_now(server: &Provider) -> u64 {
    rss_kib(server.pid())
}

fn report(p: &Phase) -> String {
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "| {} | {} keys in {} requests | {:.1} s | {:.0} keys/s | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} → {} MiB (max {}) |",
        p.name,
        p.keys,
        p.requests,
        p.elapsed.as_secs_f64(),
        p.keys as f64 / p.elapsed.as_secs_f64(),
        ms(percentile(&p.latencies, 0.5)),
        ms(percentile(&p.latencies, 0.99)),
        ms(percentile(&p.latencies, 1.0)),
        p.errors,
        p.rss_kib.first().copied().unwrap_or(0) / 1024,
        p.rss_kib.last().copied().unwrap_or(0) / 1024,
        p.rss_kib.iter().max().copied().unwrap_or(0) / 1024,
    )
}

#[test]
#[ignore = "load test: run with `make load`"]
fn load_cold_and_warm() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let layout = e2e_layout("e2e-valid-signature");
    let images: Vec<String> = (0..IMAGES)
        .map(|n| {
            let repo = registry.unique_repository(&format!("load{n}"));
            push_layout(&layout, &repo).expect("push layout");
            format!("{repo}:v1")
        })
        .collect();
    let path = dir.path().join("settings.yaml");
    write_settings(
        &path,
        &json!({
            "trustPolicy": {"version": "1.0", "trustPolicies": [{
                "name": "e2e", "registryScopes": ["*"],
                "signatureVerification": {"level": "strict"},
                "trustStores": ["ca:e2e"], "trustedIdentities": ["*"]}]},
            "trustStores": {"ca": {"e2e": cert("upstream/e2e.crt")}},
        }),
    );
    let header = "| phase | load | time | throughput | p50 | p99 | max | errors | RSS start → end |\n| --- | --- | --- | --- | --- | --- | --- | --- | --- |";
    let cold_server = Provider::start(&path, &["--cache-ttl=0", "--deadline-ms=10000"]);
    let cold = run("cold (no cache)", &cold_server, &images);
    drop(cold_server);
    let server = Provider::start(&path, &["--cache-ttl=600", "--deadline-ms=10000"]);
    // Prime the cache: one request per image.
    for image in &images {
        server.validate(&[image]);
    }
    let warm = run("warm (cached)", &server, &images);
    println!("{header}\n{}\n{}", report(&cold), report(&warm));
    println!(
        "verifications: warm server {} for {} images",
        server.metric("vns_provider_verifications_total"),
        IMAGES
    );
    assert_eq!(cold.errors, 0, "cold phase errors");
    assert_eq!(warm.errors, 0, "warm phase errors");
    assert_eq!(
        server.metric("vns_provider_verifications_total"),
        IMAGES as f64
    );
    // Memory settles after the first seconds; it must not keep growing.
    let settled = warm.rss_kib[warm.rss_kib.len().min(8) - 1];
    let last = *warm.rss_kib.last().unwrap();
    assert!(
        last <= settled + settled / 4 + 8 * 1024,
        "RSS grew from {settled} KiB to {last} KiB: {:?}",
        warm.rss_kib
    );
}
