//! The failure path through Kubewarden's own policy server (`make load`;
//! ignored by `make test`; skipped with a message when policy-server or
//! kwctl is not on PATH): the built module in policy-server, a signed image
//! (with its bundle) and an unsigned one in the real local registry, and 32
//! concurrent HTTP clients posting AdmissionReviews for a bounded time per
//! scenario (a closed loop: each client sends its next request when the
//! previous one is answered, or after 35 s without an answer):
//! - a: the signed image only (warm host cache);
//! - b: the unsigned image only, `enforcement: deny` and `warn`;
//! - c: 90% signed, 10% unsigned: does the unsigned image slow the signed
//!   admissions down?
//! - d: b and c through a proxy that delays each registry answer by 200 ms;
//! - f: 28 clients on the signed image while 4 ask about an image in a
//!   registry that refuses connections;
//! - e: the same with a registry that accepts connections and never answers
//!   (run last: it stalls the policy server).
//!
//! The policy server runs with 2 workers, then d and e again with 16: a
//! limit that more workers do not lift is not the workers' (see
//! docs/operations.md, "The failure path, measured").
//!
//! The registry above speaks plain HTTP and is listed in `insecure_sources`,
//! so the host tries HTTPS before plain HTTP on every call. Azure
//! Container Registry speaks HTTPS, so a, b (`deny`), c and d run again
//! (2 workers) against a second docker-registry serving the same storage over
//! TLS, its test CA given in `source_authorities`. On each transport a
//! proxy that forwards without delay counts the registry connections per
//! admission, and how many of them began with TLS.
//!
//! Prints one table row per scenario and image kind (for
//! docs/operations.md and docs/performance.md). Asserts that every answer of
//! a, b, c, f and the counted admissions, on both transports, is the
//! policy's verdict (signed admitted, unsigned denied with
//! NO_SIGNATURE or admitted with a warning, the refused registry's image
//! denied with REGISTRY_ERROR). After e it records, without
//! asserting (that is the host's behaviour, not the policy's), whether the
//! policy server answers while the registry stays silent, and how long it
//! takes to answer again once the registry refuses connections.
//! `VNS_LOAD_SECONDS` sets the time per scenario (10).

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::policy_server::{
    admission_review, annotated_module, kubewarden_tools, policy, scratch_dir, HttpsRegistry,
    PolicyServer,
};
use common::tcp_proxy::{Behaviour, TcpProxy};
use common::{create_pod, push, registry, settings, signed, with};
use serde_json::{json, Value};

const CLIENTS: usize = 32;
/// Above the longest webhook timeout the API server allows (30 s), so that
/// every answer the API server could still use is seen.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(35);
const SLOW_REGISTRY: Duration = Duration::from_millis(200);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Signed,
    Unsigned,
    /// An image in the silent registry: no verdict is expected.
    Silent,
    /// An image in a registry that refuses connections.
    Refused,
}

/// One AdmissionReview to send, and the verdict the policy must give.
struct Target {
    kind: Kind,
    policy: &'static str,
    body: Vec<u8>,
}

impl Target {
    fn new(kind: Kind, policy: &'static str, image: &str) -> Target {
        let body = serde_json::to_vec(&admission_review(&create_pod(&[image]))).unwrap();
        Target { kind, policy, body }
    }

    /// The verdict this target must get, as `outcome` names it.
    fn expected(&self) -> Option<&'static str> {
        match (self.kind, self.policy) {
            (Kind::Signed, _) => Some("admitted"),
            (Kind::Unsigned, "warn") => Some("warned NO_SIGNATURE"),
            (Kind::Unsigned, _) => Some("denied NO_SIGNATURE"),
            (Kind::Refused, _) => Some("denied REGISTRY_ERROR"),
            (Kind::Silent, _) => None,
        }
    }
}

struct Sample {
    kind: Kind,
    latency: Duration,
    outcome: String,
    expected: bool,
}

/// The reason code of a message, or its first words.
fn reason(message: &str) -> String {
    const CODES: [&str; 3] = ["NO_SIGNATURE", "REGISTRY_ERROR", "SIGNATURE_INVALID"];
    match CODES.iter().find(|c| message.contains(*c)) {
        Some(code) => code.to_string(),
        None => message.chars().take(90).collect(),
    }
}

/// What the policy server answered, in a few words.
fn outcome(answer: Result<ureq::Response, ureq::Error>, latency: Duration) -> String {
    match answer {
        Ok(response) => match response.into_json::<Value>() {
            Ok(review) => {
                let r = &review["response"];
                let message = r["status"]["message"].as_str().unwrap_or_default();
                match (r["allowed"].as_bool(), r["warnings"].as_array()) {
                    (Some(true), Some(w)) if !w.is_empty() => {
                        format!("warned {}", reason(&w[0].to_string()))
                    }
                    (Some(true), _) => "admitted".to_string(),
                    (Some(false), _) => format!("denied {}", reason(message)),
                    _ => "not an AdmissionReview".to_string(),
                }
            }
            Err(e) => format!("unreadable answer: {e}"),
        },
        Err(ureq::Error::Status(code, response)) => {
            let body = response.into_string().unwrap_or_default();
            format!("HTTP {code} {}", reason(&body))
        }
        Err(ureq::Error::Transport(_)) if latency >= CLIENT_TIMEOUT => {
            format!("no answer within {} s", CLIENT_TIMEOUT.as_secs())
        }
        Err(ureq::Error::Transport(t)) => format!("transport error: {}", t.kind()),
    }
}

/// `CLIENTS` clients in a closed loop for `time`; client `c`'s `n`th
/// request goes to `targets[plan(c, n)]`.
fn drive(
    server: &PolicyServer,
    targets: &[Target],
    plan: &(dyn Fn(usize, usize) -> usize + Sync),
    time: Duration,
) -> (Vec<Sample>, Duration) {
    let samples = Mutex::new(Vec::new());
    let started = Instant::now();
    std::thread::scope(|s| {
        for c in 0..CLIENTS {
            let samples = &samples;
            s.spawn(move || {
                let agent = ureq::AgentBuilder::new()
                    .timeout_connect(Duration::from_secs(5))
                    .timeout(CLIENT_TIMEOUT)
                    .build();
                let mut mine = Vec::new();
                let mut n = 0;
                while started.elapsed() < time {
                    let target = &targets[plan(c, n)];
                    n += 1;
                    let t = Instant::now();
                    let answer = agent
                        .post(&server.validate_url(target.policy))
                        .set("Content-Type", "application/json")
                        .send_bytes(&target.body);
                    let latency = t.elapsed();
                    let outcome = outcome(answer, latency);
                    let expected = target.expected() == Some(outcome.as_str());
                    mine.push(Sample {
                        kind: target.kind,
                        latency,
                        outcome,
                        expected,
                    });
                }
                samples.lock().unwrap().extend(mine);
            });
        }
    });
    (samples.into_inner().unwrap(), started.elapsed())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Table rows: all answers, then one row per kind when there are several.
fn rows(
    transport: &str,
    name: &str,
    workers: usize,
    samples: &[Sample],
    elapsed: Duration,
) -> Vec<String> {
    let mut kinds: Vec<Kind> = Vec::new();
    for s in samples {
        if !kinds.contains(&s.kind) {
            kinds.push(s.kind);
        }
    }
    let mut groups: Vec<(String, Vec<&Sample>)> = vec![(
        if kinds.len() > 1 {
            "all".to_string()
        } else {
            format!("{:?}", kinds.first().copied().unwrap_or(Kind::Signed)).to_lowercase()
        },
        samples.iter().collect(),
    )];
    if kinds.len() > 1 {
        for k in &kinds {
            let group = samples.iter().filter(|s| s.kind == *k).collect();
            groups.push((format!("{k:?}").to_lowercase(), group));
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    groups
        .into_iter()
        .map(|(label, group)| {
            let mut latencies: Vec<Duration> = group.iter().map(|s| s.latency).collect();
            latencies.sort();
            let over = |limit: u64| {
                latencies
                    .iter()
                    .filter(|l| **l >= Duration::from_secs(limit))
                    .count()
            };
            let mut outcomes: Vec<(String, usize)> = Vec::new();
            for s in &group {
                match outcomes.iter_mut().find(|(o, _)| *o == s.outcome) {
                    Some((_, n)) => *n += 1,
                    None => outcomes.push((s.outcome.clone(), 1)),
                }
            }
            let outcomes: Vec<String> = outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
            format!(
                "| {transport} | {name} | {workers} | {label} | {} | {:.1} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {} / {} | {} |",
                group.len(),
                group.len() as f64 / elapsed.as_secs_f64(),
                ms(percentile(&latencies, 0.5)),
                ms(percentile(&latencies, 0.99)),
                ms(percentile(&latencies, 1.0)),
                group.iter().filter(|s| !s.expected && s.kind != Kind::Silent).count(),
                over(10),
                over(30),
                outcomes.join(", "),
            )
        })
        .collect()
}

/// The images of every scenario, as references through each registry.
struct Images {
    /// "http" (docker-registry over plain HTTP, listed in `insecure_sources`)
    /// or "https" (over TLS, its CA in `source_authorities`).
    transport: &'static str,
    signed: String,
    unsigned: String,
    signed_slow: String,
    unsigned_slow: String,
    /// The signed image's repository and tag, without a registry.
    path: String,
    /// The address of a registry that refuses connections.
    refusing: String,
}

impl Images {
    /// The signed and unsigned repositories (`paths`, without a registry)
    /// in `registry`, and through the proxy `slow` in front of it.
    fn new(
        transport: &'static str,
        registry: &str,
        slow: &str,
        paths: &(String, String),
        refusing: &str,
    ) -> Images {
        let (signed, unsigned) = paths;
        Images {
            transport,
            signed: format!("{registry}/{signed}:v1"),
            unsigned: format!("{registry}/{unsigned}:v1"),
            signed_slow: format!("{slow}/{signed}:v1"),
            unsigned_slow: format!("{slow}/{unsigned}:v1"),
            path: format!("{signed}:v1"),
            refusing: refusing.to_string(),
        }
    }
}

/// Runs the scenarios on one policy server; returns the table rows and
/// asserts the verdicts of a, b, c and f. Without a silent registry
/// (`hole`), only a, b (`deny`), c and d.
fn scenarios(
    server: &PolicyServer,
    workers: usize,
    images: &Images,
    hole: Option<&TcpProxy>,
    time: Duration,
) -> Vec<String> {
    let t = |kind, policy, image: &str| Target::new(kind, policy, image);
    let mut table = Vec::new();
    let mut run = |name: &str,
                   targets: Vec<Target>,
                   plan: &(dyn Fn(usize, usize) -> usize + Sync),
                   check: bool| {
        // Warm the host's cache for what can be cached: the signed images'
        // answers (and the digest of an unsigned tag).
        for target in targets
            .iter()
            .filter(|t| matches!(t.kind, Kind::Signed | Kind::Unsigned))
        {
            let _ = ureq::post(&server.validate_url(target.policy))
                .timeout(CLIENT_TIMEOUT)
                .set("Content-Type", "application/json")
                .send_bytes(&target.body);
        }
        let (samples, elapsed) = drive(server, &targets, plan, time);
        let new = rows(images.transport, name, workers, &samples, elapsed);
        println!("{}", new.join("\n"));
        table.extend(new);
        if check {
            let wrong: Vec<&String> = samples
                .iter()
                .filter(|s| !s.expected)
                .map(|s| &s.outcome)
                .collect();
            assert!(
                wrong.is_empty(),
                "{name}: {} of {} answers are not the policy's verdict, e.g. {:?}\n{}",
                wrong.len(),
                samples.len(),
                wrong.first(),
                server.log_text()
            );
        }
    };
    let only = |_: usize, _: usize| 0;
    // One request in ten is the unsigned image (target 1), spread over clients.
    let mix = |c: usize, n: usize| usize::from((c + n * CLIENTS) % 10 == 9);
    if workers == 2 {
        run(
            "a signed",
            vec![t(Kind::Signed, "deny", &images.signed)],
            &only,
            true,
        );
        run(
            "b unsigned, deny",
            vec![t(Kind::Unsigned, "deny", &images.unsigned)],
            &only,
            true,
        );
        if hole.is_some() {
            run(
                "b unsigned, warn",
                vec![t(Kind::Unsigned, "warn", &images.unsigned)],
                &only,
                true,
            );
        }
        let mixed = vec![
            t(Kind::Signed, "deny", &images.signed),
            t(Kind::Unsigned, "deny", &images.unsigned),
        ];
        run("c 90% signed + 10% unsigned", mixed, &mix, true);
    }
    let slow = format!("d unsigned, registry +{} ms", SLOW_REGISTRY.as_millis());
    run(
        &slow,
        vec![t(Kind::Unsigned, "deny", &images.unsigned_slow)],
        &only,
        false,
    );
    let mixed = vec![
        t(Kind::Signed, "deny", &images.signed_slow),
        t(Kind::Unsigned, "deny", &images.unsigned_slow),
    ];
    let slow = format!("d 90/10 mix, registry +{} ms", SLOW_REGISTRY.as_millis());
    run(&slow, mixed, &mix, false);
    let Some(hole) = hole else {
        return table;
    };
    // 4 of the 32 clients ask about an image in a registry that refuses
    // connections: a registry that is down, but says so.
    let refused = vec![
        t(Kind::Signed, "deny", &images.signed),
        t(
            Kind::Refused,
            "deny",
            &format!("{}/{}", images.refusing, images.path),
        ),
    ];
    run(
        "f signed while 4 clients ask a registry that refuses connections",
        refused,
        &|c, _| usize::from(c < 4),
        true,
    );
    // 4 of the 32 clients ask about an image in the silent registry.
    let silent = vec![
        t(Kind::Signed, "deny", &images.signed),
        t(
            Kind::Silent,
            "deny",
            &format!("{}/{}", hole.address, images.path),
        ),
    ];
    run(
        "e signed while 4 clients wait on a silent registry",
        silent,
        &|c, _| usize::from(c < 4),
        false,
    );
    // How long the stall lasts while the registry stays silent: one more
    // signed admission, waited for as long as the API server can wait.
    let signed = create_pod(&[&images.signed]);
    let t = Instant::now();
    let probe = ureq::post(&server.validate_url("deny"))
        .timeout(Duration::from_secs(30))
        .send_json(admission_review(&signed));
    let probe = match probe {
        Ok(_) => format!("answered after {:.1} s", t.elapsed().as_secs_f64()),
        Err(_) => format!("no answer within {:.0} s", t.elapsed().as_secs_f64()),
    };
    table.push(format!(
        "| http | e, then: the registry still silent | {workers} | signed | 1 | | {probe} | | | | | |"
    ));
    // The silent registry now closes every connection (down for good): how
    // long until the policy server admits the signed image again.
    hole.refuse();
    let closed = Instant::now();
    let recovered = loop {
        let answer = ureq::post(&server.validate_url("deny"))
            .timeout(Duration::from_secs(5))
            .send_json(admission_review(&signed));
        if let Some(review) = answer.ok().and_then(|r| r.into_json::<Value>().ok()) {
            assert_eq!(review["response"]["allowed"], true, "{review}");
            break format!(
                "admitted again {:.1} s later",
                closed.elapsed().as_secs_f64()
            );
        }
        if closed.elapsed() > Duration::from_secs(90) {
            break "still no answer 90 s later".to_string();
        }
    };
    table.push(format!(
        "| http | e, then: the registry refuses connections | {workers} | signed | | | {recovered} | | | | | |"
    ));
    table
}

/// Registry connections per admission, counted by a proxy that forwards
/// without delay (`counter`, the registry of `images`): `N` admissions one
/// after the other of the unsigned image, then of the signed one, each after
/// one that warms the host's cache. The host builds a new registry client
/// for every uncached call, so this counts the attempts each call costs.
fn connections(server: &PolicyServer, images: &Images, counter: &TcpProxy) -> Vec<String> {
    const N: usize = 20;
    [
        (Kind::Unsigned, &images.unsigned),
        (Kind::Signed, &images.signed),
    ]
    .into_iter()
    .map(|(kind, image)| {
        let target = Target::new(kind, "deny", image);
        let send = || {
            let t = Instant::now();
            let answer = ureq::post(&server.validate_url(target.policy))
                .timeout(CLIENT_TIMEOUT)
                .set("Content-Type", "application/json")
                .send_bytes(&target.body);
            outcome(answer, t.elapsed())
        };
        send();
        let (before, hellos) = (counter.accepted(), counter.tls_hellos());
        let started = Instant::now();
        for _ in 0..N {
            let outcome = send();
            assert_eq!(
                target.expected(),
                Some(outcome.as_str()),
                "{image}\n{}",
                server.log_text()
            );
        }
        let mean = started.elapsed().as_secs_f64() * 1000.0 / N as f64;
        let each = |n: usize| n as f64 / N as f64;
        format!(
            "| {} | connections per admission, one at a time | 2 | {} | {N} | | \
             {mean:.1} ms (mean) | | | 0 | | {:.2} registry connections each, {:.2} of them TLS |",
            images.transport,
            format!("{kind:?}").to_lowercase(),
            each(counter.accepted() - before),
            each(counter.tls_hellos() - hellos),
        )
    })
    .collect()
}

fn version(binary: &std::path::Path) -> String {
    std::process::Command::new(binary)
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".to_string())
}

#[test]
#[ignore = "load run: `make load`"]
fn the_failure_path_through_policy_server() {
    let Some((binary, kwctl)) = kubewarden_tools("policy_server_load") else {
        return;
    };
    let time = Duration::from_secs(
        std::env::var("VNS_LOAD_SECONDS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(10),
    );
    let upstream = registry().address().to_string();
    let path = |repo: &str| repo.split_once('/').map(|(_, p)| p.to_string()).unwrap();
    let paths = (path(&signed("e2e-valid-signature")), path(&push("e2e")));
    let slow = TcpProxy::start(&upstream, Behaviour::Delay(SLOW_REGISTRY));
    let refusing = TcpProxy::start(&upstream, Behaviour::Refuse);
    let counter = TcpProxy::start(&upstream, Behaviour::Delay(Duration::ZERO));
    let images = Images::new("http", &upstream, &slow.address, &paths, &refusing.address);
    let dir = scratch_dir("policy-server-load");
    let module = annotated_module(&kwctl, &dir);
    let deny = with(settings(), "enforcement", json!("deny"));
    let warn = with(settings(), "enforcement", json!("warn"));
    let policies = json!({
        "deny": policy(&module, "protect", &deny),
        "warn": policy(&module, "protect", &warn),
    });
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{}, {CLIENTS} clients, {} s per scenario, load average at start: {}",
        version(&binary),
        time.as_secs(),
        load.trim()
    );
    println!(
        "| transport | scenario | workers | images | answers | per s | p50 | p99 | max | not the verdict | ≥10 s / ≥30 s | outcomes |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    );
    let mut table = Vec::new();
    for workers in [2, 16] {
        // A fresh silent registry per server: the first one ends refusing.
        let hole = TcpProxy::start(&upstream, Behaviour::BlackHole);
        let insecure = [
            upstream.clone(),
            slow.address.clone(),
            refusing.address.clone(),
            hole.address.clone(),
            counter.address.clone(),
        ];
        let server = PolicyServer::start(&binary, &dir, &policies, &insecure, Some(workers));
        if workers == 2 {
            let through = Images::new("http", &counter.address, "", &paths, "");
            let counted = connections(&server, &through, &counter);
            println!("{}", counted.join("\n"));
            table.extend(counted);
        }
        table.extend(scenarios(&server, workers, &images, Some(&hole), time));
        println!(
            "connections the silent registry accepted: {}",
            hole.accepted()
        );
    }
    // The same images over HTTPS, as from Azure Container Registry: a second
    // docker-registry serves the first one's storage over TLS with a
    // certificate for 127.0.0.1 from a test CA, which the policy server
    // trusts for that registry (`source_authorities`), not as insecure.
    let fixtures = [
        (paths.0.as_str(), "e2e-valid-signature", true),
        (paths.1.as_str(), "e2e", false),
    ];
    let https = HttpsRegistry::start(registry(), &fixtures);
    let tls = https.registry.address().to_string();
    let tls_slow = TcpProxy::start(&tls, Behaviour::Delay(SLOW_REGISTRY));
    let tls_counter = TcpProxy::start(&tls, Behaviour::Delay(Duration::ZERO));
    let images = Images::new("https", &tls, &tls_slow.address, &paths, &refusing.address);
    let sources = json!({
        "source_authorities": https.authorities(&[&tls, &tls_slow.address, &tls_counter.address])
    });
    let https_dir = dir.join("https");
    std::fs::create_dir_all(&https_dir).unwrap();
    let server =
        PolicyServer::start_with_sources(&binary, &https_dir, &policies, &sources, Some(2));
    let through = Images::new("https", &tls_counter.address, "", &paths, "");
    let counted = connections(&server, &through, &tls_counter);
    println!("{}", counted.join("\n"));
    table.extend(counted);
    table.extend(scenarios(&server, 2, &images, None, time));
    drop(server);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average at the end: {}", load.trim());
    println!("{}", table.join("\n"));
}
