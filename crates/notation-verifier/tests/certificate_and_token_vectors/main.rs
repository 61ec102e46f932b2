//! Data-driven tests for the upstream certificate, trust store and RFC 3161
//! token vectors of `testdata/notation/README.md`:
//!
//! * notation-core-go `x509/` (inline/*.pem and the DigiCert `timestamp_*.crt`
//!   chain): code-signing / timestamping chain rules (spec digest §f);
//! * notation-go `truststore/x509/**` (plus the example trust anchors and the
//!   TSA roots): the trust store rules (§f.3);
//! * notation-go `timestamp/countersignature/*.p7s`, notation-core-go
//!   `timestamp/*.p7s` and tspclient-go `token/` + `cms/`: token verification
//!   (§i).
//!
//! Every table is checked against the files on disk: a vector listed in the
//! README (and here) but missing fails the test, and a file on disk that no
//! table mentions fails it too.
//!
//! Where the README quotes an upstream message, the expectation lists key
//! words (case-insensitive; `a|b` = either) that our message must contain.
//! Disagreements with the README are kept out of the green tables and listed
//! in [`MESSAGE_EXCEPTIONS`] (outcome agrees, wording lacks the key words) or
//! run by the `readme_outcome_disagreements` test (outcome
//! differs).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, Utc};
use notation_verifier::cert::Certificate;
use notation_verifier::chain::{validate_code_signing_chain, validate_timestamping_chain};
use notation_verifier::timestamp::{token_certificates, verify_token};
use notation_verifier::trust_store::{StoreType, TrustStores};

mod chains;
mod stores;
mod tokens;

use chains::*;

// ---------------------------------------------------------------- helpers

fn testdata(rel: &str) -> PathBuf {
    testdata::path("notation").join(rel)
}

fn read(rel: &str) -> Vec<u8> {
    let path = testdata(rel);
    std::fs::read(&path)
        .unwrap_or_else(|e| panic!("README vector {} is missing: {e}", path.display()))
}

fn certs(rel: &str) -> Vec<Certificate> {
    Certificate::parse_pem_or_der(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn cert(rel: &str) -> Certificate {
    let mut all = certs(rel);
    assert_eq!(all.len(), 1, "{rel}: expected exactly one certificate");
    all.remove(0)
}

/// Names of the regular files directly in `dir` (relative to the test data).
fn files_in(dir: &str) -> BTreeSet<String> {
    let path = testdata(dir);
    std::fs::read_dir(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// All regular files below `dir`, as paths relative to `dir`.
fn files_below(dir: &str) -> BTreeSet<String> {
    fn walk(root: &Path, at: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(at).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = testdata(dir);
    let mut out = BTreeSet::new();
    walk(&root, &root, &mut out);
    out
}

/// Fails when the table and the directory listing differ.
fn assert_same_files(what: &str, on_disk: &BTreeSet<String>, listed: &BTreeSet<String>) {
    let missing: Vec<_> = listed.difference(on_disk).collect();
    let unlisted: Vec<_> = on_disk.difference(listed).collect();
    assert!(
        missing.is_empty() && unlisted.is_empty(),
        "{what}: README vectors missing on disk: {missing:?}; files on disk not covered by a table: {unlisted:?}"
    );
}

#[derive(Debug, Clone, Copy)]
enum Expect {
    Ok,
    /// Fails; our message contains every key word (`a|b` = either).
    Err(&'static [&'static str]),
}

/// Compares an outcome with the expectation; `None` when they agree.
fn disagreement(result: &Result<(), String>, expect: Expect) -> Option<String> {
    match (result, expect) {
        (Ok(()), Expect::Ok) => None,
        (Err(e), Expect::Ok) => Some(format!("expected pass, got error: {e}")),
        (Ok(()), Expect::Err(_)) => Some("expected failure, got pass".into()),
        (Err(e), Expect::Err(words)) => {
            let lower = e.to_lowercase();
            let absent: Vec<&str> = words
                .iter()
                .copied()
                .filter(|w| !w.split('|').any(|alt| lower.contains(&alt.to_lowercase())))
                .collect();
            (!absent.is_empty()).then(|| format!("message lacks key words {absent:?}: {e}"))
        }
    }
}

/// Outcome agrees with the README, only the wording lacks its key words.
/// (case name, why). The tables skip the key-word check for these but still
/// require the outcome; a listed case whose wording starts to match fails,
/// so the list stays current.
const MESSAGE_EXCEPTIONS: &[(&str, &str)] = &[
    (
        "tspclient-go/token/TimeStampTokenWithTSTInfoVersion2.p7s",
        "README: `invalid TSTInfo: timestamp token info version must be 1, but got 2`; \
         ours fails earlier, while decoding: `cannot unmarshal TSTInfo from timestamp token: \
         malformed ASN.1 DER value for INTEGER` (x509-tsp only decodes version 1)",
    ),
    (
        "tspclient-go/token/TimeStampTokenWithWrongSigningCertificateV2IssuerChoiceTag.p7s",
        "README: `issuer name is missing in IssuerSerial`; ours: `signingCertificateV2 \
         attribute: unexpected ASN.1 DER tag: got CONTEXT-SPECIFIC [7]` (decode error)",
    ),
];

/// Rows checked by `readme_outcome_disagreements` (regressions of a fixed
/// panic on a DER length past the end of the input).
const OUTCOME_DISAGREEMENTS: &[&str] = &[
    "notation-core-go/x509/invalid",
    "ca/trust-store-with-invalid-certs/invalid",
    "store ca/trust-store-with-invalid-certs",
];

/// `Certificate::parse_pem_or_der`, with a panic turned into an error
/// starting with `PANIC`, which [`check_row`] never accepts.
fn parse(bytes: &[u8]) -> Result<Vec<Certificate>, String> {
    match std::panic::catch_unwind(|| Certificate::parse_pem_or_der(bytes)) {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(p) => Err(format!(
            "PANIC in Certificate::parse_pem_or_der: {}",
            p.downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default()
        )),
    }
}

/// Runs one table row. Returns a failure line or `None`.
fn check_row(name: &str, result: Result<(), String>, expect: Expect) -> Option<String> {
    if let Err(e) = &result {
        if e.starts_with("PANIC") {
            return Some(format!("{name}: {e}"));
        }
    }
    let d = disagreement(&result, expect);
    if let Some((_, why)) = MESSAGE_EXCEPTIONS.iter().find(|(n, _)| *n == name) {
        let outcome_ok = result.is_ok() == matches!(expect, Expect::Ok);
        return match (outcome_ok, d) {
            (false, d) => Some(format!("{name}: outcome differs: {d:?}")),
            (true, None) => Some(format!(
                "{name}: listed in MESSAGE_EXCEPTIONS ({why}) but now matches: remove it"
            )),
            (true, Some(_)) => None,
        };
    }
    d.map(|d| format!("{name}: {d}"))
}

fn finish(group: &str, checked: usize, failures: Vec<String>) {
    println!("{group}: checked {checked} vectors");
    assert!(
        failures.is_empty(),
        "{group}: {} disagreement(s) with the README:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
