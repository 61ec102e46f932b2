//! `vns report`: scan files merged per source and in total, with the
//! counts per class, the work list per namespace, the pipelines that do not
//! sign yet, the exceptions that end soon, and a phase verdict.
//!
//! Verdict rules (README, "Signing posture"):
//! - ready for **verify-warn** when no image is `no-policy` or `error` (the
//!   policy can judge every image and the registry answered) and at least
//!   one image is `verified` (signing, bundles and trust policy work end to
//!   end);
//! - ready for **verify-enforce** when also no image is `unsigned`,
//!   `untrusted-signer`, `rotated-out`, `failing`, `bundle-missing` or
//!   `bundle-stale` (each would be denied) and no exception ends within the
//!   report's window (`--expiring-within`, its images would be denied soon
//!   after the switch). `cert-expiring` images are listed as at risk but do
//!   not block.
//! - the phase of a source is the furthest it is ready for: `sign-only`,
//!   `verify-warn` or `verify-enforce`.
//!
//! A workload counts once, in the class of its worst image. The total adds
//! the sources up (an image deployed in two clusters counts in each).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::inventory::REVISION_LABEL;
use super::{Finding, PostureError};
use crate::scan::Posture;

/// Every class, most severe first (also the order of tables and charts).
pub const CLASSES: [Posture; 13] = [
    Posture::Error,
    Posture::NoPolicy,
    Posture::Unsigned,
    Posture::UntrustedSigner,
    Posture::RotatedOut,
    Posture::Failing,
    Posture::BundleMissing,
    Posture::BundleStale,
    Posture::ExceptionExpiring,
    Posture::CertExpiring,
    Posture::Excepted,
    Posture::Skipped,
    Posture::Verified,
];

/// Classes that keep a source in sign-only.
const BLOCKS_WARN: [Posture; 2] = [Posture::Error, Posture::NoPolicy];
/// Classes that `enforcement: deny` would refuse (besides BLOCKS_WARN).
const DENIED: [Posture; 6] = [
    Posture::Unsigned,
    Posture::UntrustedSigner,
    Posture::RotatedOut,
    Posture::Failing,
    Posture::BundleMissing,
    Posture::BundleStale,
];

/// The kebab-case name of a class, as in the scan JSON.
pub fn class_name(p: Posture) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn severity(p: Posture) -> usize {
    CLASSES.iter().position(|c| *c == p).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    SignOnly,
    VerifyWarn,
    VerifyEnforce,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blocker {
    pub source: String,
    pub image: String,
    /// Tags naming the image (repository inventory).
    pub tags: Vec<String>,
    pub class: String,
    pub detail: String,
    pub workloads: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub phase: Phase,
    pub ready_for_verify_warn: bool,
    pub ready_for_verify_enforce: bool,
    /// What keeps the source from verify-warn.
    pub blocking_verify_warn: Vec<Blocker>,
    /// What keeps it from verify-enforce (includes the warn blockers).
    pub blocking_verify_enforce: Vec<Blocker>,
    /// Not blocking, but will fail later (`cert-expiring`).
    pub at_risk: Vec<Blocker>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineImage {
    pub image: String,
    pub tags: Vec<String>,
    pub revision: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pipeline {
    pub pipeline: String,
    pub images: Vec<PipelineImage>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    pub source: String,
    pub kind: String,
    pub name: String,
    pub site: String,
    pub image: String,
    pub class: String,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespaceWork {
    pub namespace: String,
    pub items: Vec<WorkItem>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiringException {
    pub source: String,
    pub exception: String,
    pub expires: DateTime<Utc>,
    pub days_left: i64,
    pub images: Vec<String>,
    pub workloads: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub name: String,
    pub images: usize,
    pub workloads: usize,
    /// Every class, zero included, so dashboards see stable series.
    pub images_by_class: BTreeMap<String, usize>,
    pub workloads_by_class: BTreeMap<String, usize>,
    pub pipelines_not_signing: Vec<Pipeline>,
    pub work_list: Vec<NamespaceWork>,
    pub expiring_exceptions: Vec<ExpiringException>,
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub generated_at: DateTime<Utc>,
    pub expiring_within_days: i64,
    pub sources: Vec<Summary>,
    pub total: Summary,
}

fn source_of(f: &Finding) -> String {
    f.source.clone().unwrap_or_default()
}

/// The class a finding has at `now`: an exception is `exception-expiring`
/// when it ends within the window (whatever window the scan used).
fn class_at(f: &Finding, now: DateTime<Utc>, window_days: i64) -> Posture {
    match (&f.row.exception, f.row.posture) {
        (Some(e), Posture::Excepted | Posture::ExceptionExpiring) => {
            if e.expires < now + Duration::days(window_days) {
                Posture::ExceptionExpiring
            } else {
                Posture::Excepted
            }
        }
        (_, p) => p,
    }
}

impl Summary {
    pub fn of(name: &str, findings: &[Finding], now: DateTime<Utc>, window_days: i64) -> Self {
        let mut images_by_class: BTreeMap<String, usize> =
            CLASSES.iter().map(|c| (class_name(*c), 0)).collect();
        let mut workloads_by_class = images_by_class.clone();
        let mut worst: BTreeMap<String, Posture> = BTreeMap::new();
        let mut pipelines: BTreeMap<String, Vec<PipelineImage>> = BTreeMap::new();
        let mut namespaces: BTreeMap<String, Vec<WorkItem>> = BTreeMap::new();
        let mut exceptions: BTreeMap<(String, String), ExpiringException> = BTreeMap::new();
        let mut verdict = Verdict {
            phase: Phase::SignOnly,
            ready_for_verify_warn: false,
            ready_for_verify_enforce: false,
            blocking_verify_warn: Vec::new(),
            blocking_verify_enforce: Vec::new(),
            at_risk: Vec::new(),
        };
        for f in findings {
            let class = class_at(f, now, window_days);
            *images_by_class.entry(class_name(class)).or_default() += 1;
            let workload_keys: BTreeSet<String> = f
                .workloads
                .iter()
                .map(|w| format!("{}/{}", source_of(f), w.workload_key()))
                .collect();
            for key in &workload_keys {
                let entry = worst.entry(key.clone()).or_insert(class);
                if severity(class) < severity(*entry) {
                    *entry = class;
                }
            }
            let blocker = || Blocker {
                source: source_of(f),
                image: f.row.image.clone(),
                tags: f.tags.clone(),
                class: class_name(class),
                detail: f.row.detail.clone(),
                workloads: workload_keys.len(),
            };
            if BLOCKS_WARN.contains(&class) {
                verdict.blocking_verify_warn.push(blocker());
            }
            if BLOCKS_WARN.contains(&class)
                || DENIED.contains(&class)
                || class == Posture::ExceptionExpiring
            {
                verdict.blocking_verify_enforce.push(blocker());
            }
            if class == Posture::CertExpiring {
                verdict.at_risk.push(blocker());
            }
            if class == Posture::Unsigned {
                let pipeline = f
                    .pipeline
                    .clone()
                    .unwrap_or_else(|| "(no build source label)".into());
                pipelines.entry(pipeline).or_default().push(PipelineImage {
                    image: f.row.image.clone(),
                    tags: f.tags.clone(),
                    revision: f.labels.get(REVISION_LABEL).cloned(),
                });
            }
            if !matches!(
                class,
                Posture::Verified | Posture::Skipped | Posture::Excepted
            ) {
                for w in &f.workloads {
                    namespaces
                        .entry(w.namespace.clone())
                        .or_default()
                        .push(WorkItem {
                            source: source_of(f),
                            kind: w.kind.clone(),
                            name: w.name.clone(),
                            site: w.site.clone(),
                            image: f.row.image.clone(),
                            class: class_name(class),
                            detail: f.row.detail.clone(),
                        });
                }
            }
            if let (Some(e), Posture::ExceptionExpiring) = (&f.row.exception, class) {
                let entry = exceptions
                    .entry((source_of(f), e.name.clone()))
                    .or_insert_with(|| ExpiringException {
                        source: source_of(f),
                        exception: e.name.clone(),
                        expires: e.expires,
                        days_left: (e.expires - now).num_days(),
                        images: Vec::new(),
                        workloads: 0,
                    });
                entry.images.push(f.row.image.clone());
                entry.workloads += workload_keys.len();
            }
        }
        for class in worst.values() {
            *workloads_by_class.entry(class_name(*class)).or_default() += 1;
        }
        let verified = images_by_class
            .get(&class_name(Posture::Verified))
            .copied()
            .unwrap_or(0);
        verdict.ready_for_verify_warn = verdict.blocking_verify_warn.is_empty() && verified > 0;
        verdict.ready_for_verify_enforce =
            verdict.ready_for_verify_warn && verdict.blocking_verify_enforce.is_empty();
        verdict.phase = if verdict.ready_for_verify_enforce {
            Phase::VerifyEnforce
        } else if verdict.ready_for_verify_warn {
            Phase::VerifyWarn
        } else {
            Phase::SignOnly
        };
        for list in namespaces.values_mut() {
            list.sort_by(|a, b| (&a.kind, &a.name, &a.site).cmp(&(&b.kind, &b.name, &b.site)));
        }
        Summary {
            name: name.to_string(),
            images: findings.len(),
            workloads: worst.len(),
            images_by_class,
            workloads_by_class,
            pipelines_not_signing: pipelines
                .into_iter()
                .map(|(pipeline, images)| Pipeline { pipeline, images })
                .collect(),
            work_list: namespaces
                .into_iter()
                .map(|(namespace, items)| NamespaceWork { namespace, items })
                .collect(),
            expiring_exceptions: exceptions.into_values().collect(),
            verdict,
        }
    }
}

/// Reads scan JSON files; a finding without a source takes the file's stem.
pub fn read_scan_files(paths: &[std::path::PathBuf]) -> Result<Vec<Finding>, PostureError> {
    let mut all = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).map_err(|source| PostureError::Read {
            path: path.clone(),
            source,
        })?;
        let findings: Vec<Finding> =
            serde_json::from_str(&text).map_err(|e| PostureError::ScanFile {
                path: path.clone(),
                message: e.to_string(),
            })?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        all.extend(findings.into_iter().map(|mut f| {
            if f.source.as_deref().is_none_or(str::is_empty) {
                f.source = Some(stem.clone());
            }
            f
        }));
    }
    Ok(all)
}

/// The report over findings: one summary per source (in order of first
/// appearance), and the total. A finding repeated within a source (two scan
/// files of one cluster) counts once.
pub fn build(findings: &[Finding], now: DateTime<Utc>, window_days: i64) -> Report {
    let mut order: Vec<String> = Vec::new();
    let mut by_source: BTreeMap<String, Vec<Finding>> = BTreeMap::new();
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    for f in findings {
        let source = source_of(f);
        let key = super::digest_key(f).unwrap_or_else(|| f.row.image.clone());
        if !seen.insert((source.clone(), key)) {
            continue;
        }
        if !by_source.contains_key(&source) {
            order.push(source.clone());
        }
        by_source.entry(source).or_default().push(f.clone());
    }
    let sources: Vec<Summary> = order
        .iter()
        .map(|s| Summary::of(s, &by_source[s], now, window_days))
        .collect();
    let all: Vec<Finding> = order.iter().flat_map(|s| by_source[s].clone()).collect();
    Report {
        generated_at: now,
        expiring_within_days: window_days,
        total: Summary::of("total", &all, now, window_days),
        sources,
    }
}

fn render_summary(s: &Summary, out: &mut String) {
    let counts = |m: &BTreeMap<String, usize>| {
        CLASSES
            .iter()
            .map(|c| class_name(*c))
            .filter_map(|c| m.get(&c).filter(|n| **n > 0).map(|n| format!("{c} {n}")))
            .collect::<Vec<_>>()
            .join(", ")
    };
    out.push_str(&format!(
        "== {}: phase {} ==\n  images {}: {}\n  workloads {}: {}\n",
        s.name,
        serde_json::to_value(s.verdict.phase)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        s.images,
        counts(&s.images_by_class),
        s.workloads,
        counts(&s.workloads_by_class)
    ));
    let blockers = if s.verdict.ready_for_verify_warn {
        ("verify-enforce", &s.verdict.blocking_verify_enforce)
    } else {
        ("verify-warn", &s.verdict.blocking_verify_warn)
    };
    if !blockers.1.is_empty() || !s.verdict.ready_for_verify_warn {
        out.push_str(&format!("  blocking {}:\n", blockers.0));
        if blockers.1.is_empty() {
            out.push_str("    no image is verified yet\n");
        }
        for b in blockers.1 {
            let tags = if b.tags.is_empty() || !b.image.contains('@') {
                String::new()
            } else {
                format!(" (tags {})", b.tags.join(", "))
            };
            out.push_str(&format!(
                "    [{}] {} {}{tags}, {} workload(s): {}\n",
                b.source, b.class, b.image, b.workloads, b.detail
            ));
        }
    }
    for e in &s.expiring_exceptions {
        out.push_str(&format!(
            "  exception \"{}\" [{}] ends {} ({} days): {} image(s), {} workload(s)\n",
            e.exception,
            e.source,
            e.expires.format("%Y-%m-%d"),
            e.days_left,
            e.images.len(),
            e.workloads
        ));
    }
    for p in &s.pipelines_not_signing {
        out.push_str(&format!(
            "  not signing yet: {} ({} image(s))\n",
            p.pipeline,
            p.images.len()
        ));
    }
}

pub fn render_human(report: &Report) -> String {
    let mut out = String::new();
    for s in &report.sources {
        render_summary(s, &mut out);
    }
    render_summary(&report.total, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posture::workloads::WorkloadRef;
    use crate::scan::{ExceptionRef, ScanRow};

    fn finding(image: &str, posture: Posture, workloads: &[(&str, &str)]) -> Finding {
        Finding {
            row: ScanRow {
                image: image.into(),
                posture,
                digest: None,
                signer: None,
                detail: String::new(),
                exception: None,
            },
            source: Some("prod".into()),
            tags: Vec::new(),
            labels: BTreeMap::new(),
            pipeline: None,
            workloads: workloads
                .iter()
                .map(|(ns, name)| WorkloadRef {
                    namespace: ns.to_string(),
                    kind: "Deployment".into(),
                    name: name.to_string(),
                    site: "containers/c".into(),
                })
                .collect(),
        }
    }

    fn phase(findings: &[Finding], window: i64) -> (Phase, usize, usize) {
        let s = Summary::of("prod", findings, Utc::now(), window);
        (
            s.verdict.phase,
            s.verdict.blocking_verify_warn.len(),
            s.verdict.blocking_verify_enforce.len(),
        )
    }

    #[test]
    fn the_phase_follows_the_documented_rules() {
        let verified = finding("r/a:1", Posture::Verified, &[("shop", "a")]);
        // Nothing verified yet: sign-only, even without blockers.
        assert_eq!(phase(&[], 30), (Phase::SignOnly, 0, 0));
        assert_eq!(
            phase(std::slice::from_ref(&verified), 30),
            (Phase::VerifyEnforce, 0, 0)
        );
        // An image no statement covers, or a registry error, blocks warn.
        for p in [Posture::NoPolicy, Posture::Error] {
            let f = [verified.clone(), finding("r/b:1", p, &[])];
            assert_eq!(phase(&f, 30), (Phase::SignOnly, 1, 1), "{p:?}");
        }
        // Every class enforcement would deny blocks enforce only.
        for p in DENIED {
            let f = [verified.clone(), finding("r/b:1", p, &[])];
            assert_eq!(phase(&f, 30), (Phase::VerifyWarn, 0, 1), "{p:?}");
        }
        // Expiring certificates are at risk, not blocking; skipped is fine.
        let f = [
            verified.clone(),
            finding("r/c:1", Posture::CertExpiring, &[]),
            finding("r/d:1", Posture::Skipped, &[]),
        ];
        assert_eq!(phase(&f, 30), (Phase::VerifyEnforce, 0, 0));
        // An exception blocks enforce only when it ends within the window.
        let mut excepted = finding("r/e:1", Posture::Excepted, &[("shop", "e")]);
        excepted.row.exception = Some(ExceptionRef {
            name: "r/e:*".into(),
            expires: Utc::now() + Duration::days(20),
        });
        let f = [verified.clone(), excepted];
        assert_eq!(phase(&f, 30), (Phase::VerifyWarn, 0, 1));
        assert_eq!(phase(&f, 10), (Phase::VerifyEnforce, 0, 0));
        let s = Summary::of("prod", &f, Utc::now(), 30);
        assert_eq!(s.expiring_exceptions.len(), 1);
        assert_eq!(s.expiring_exceptions[0].workloads, 1);
    }

    #[test]
    fn a_workload_counts_once_in_the_class_of_its_worst_image() {
        let f = [
            finding(
                "r/a:1",
                Posture::Verified,
                &[("shop", "api"), ("shop", "web")],
            ),
            finding("r/b:1", Posture::BundleMissing, &[("shop", "api")]),
            finding("r/c:1", Posture::Unsigned, &[("shop", "api")]),
        ];
        let s = Summary::of("prod", &f, Utc::now(), 30);
        assert_eq!(s.workloads, 2);
        assert_eq!(s.workloads_by_class["unsigned"], 1);
        assert_eq!(s.workloads_by_class["verified"], 1);
        assert_eq!(s.workloads_by_class["bundle-missing"], 0);
        assert_eq!(s.images_by_class.len(), CLASSES.len());
        // The work list: per namespace, the sites of images not verified.
        assert_eq!(s.work_list.len(), 1);
        assert_eq!(s.work_list[0].items.len(), 2);
    }

    #[test]
    fn the_total_adds_sources_and_repeats_within_a_source_count_once() {
        let a = finding("r/a:1", Posture::Unsigned, &[("shop", "api")]);
        let mut b = a.clone();
        b.source = Some("staging".into());
        let report = build(&[a.clone(), a, b], Utc::now(), 30);
        assert_eq!(report.sources.len(), 2);
        assert_eq!(report.sources[0].images, 1);
        assert_eq!(report.total.images, 2);
        assert_eq!(report.total.workloads, 2, "workloads are per source");
    }
}
