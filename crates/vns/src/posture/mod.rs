//! Posture across a rollout: `vns scan` findings enriched with the tags,
//! build labels and workloads of each image (`inventory`, `workloads`),
//! merged per source by `vns report` (`report`), and rendered for people
//! (`html`) and for machines (`prometheus`).
//!
//! The scan JSON stays an array of findings: the rows `vns scan` always
//! wrote, with optional members (source, tags, labels, pipeline,
//! workloads) that a report reads back.

pub mod cli;
pub mod html;
pub mod inventory;
pub mod prometheus;
pub mod report;
pub mod workloads;

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use notation_verifier::reference::ImageRef;
use notation_verifier::settings::ValidatedSettings;
use serde::{Deserialize, Serialize};

use crate::registry::{Registry, RegistryError};
use crate::scan::{Posture, ScanRow};
use workloads::WorkloadRef;

#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    #[error("repository {repository}: {message}")]
    Repository { repository: String, message: String },
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a `vns scan --output json` file: {message}")]
    ScanFile { path: PathBuf, message: String },
    #[error("cannot encode the {what} output: {message}")]
    Encode { what: &'static str, message: String },
}

/// Output formats of `scan` and `report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Human,
    Json,
    /// One self-contained HTML page (inline CSS and SVG, no script).
    Html,
    /// Prometheus text exposition format (textfile collector, Pushgateway).
    Prometheus,
}

/// One classified image and what uses it: a line of the scan JSON.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    #[serde(flatten)]
    pub row: ScanRow,
    /// The cluster, subscription or registry the scan looked at (`--source`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Tags naming this digest (repository inventory).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Manifest annotations and config labels (build metadata).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The pipeline that built it (`--group-by` label, else the source label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workloads: Vec<WorkloadRef>,
}

/// What `vns scan` looks at and how.
pub struct ScanRequest<'a> {
    pub settings: &'a ValidatedSettings,
    pub previous: Option<&'a ValidatedSettings>,
    /// Images named in lists, manifests or kubectl JSON.
    pub images: Vec<String>,
    /// Image -> workloads using it.
    pub workloads: BTreeMap<String, Vec<WorkloadRef>>,
    pub repositories: Vec<String>,
    pub group_by: Option<String>,
    pub source: Option<String>,
    pub window_days: i64,
    pub concurrency: usize,
    pub page_size: usize,
    pub progress: bool,
}

/// Classifies every image named and every digest of every repository,
/// `concurrency` at a time, and returns the findings in input order; one
/// finding per digest when the same image is reached twice (a tag in a
/// manifest and the same digest in the repository inventory).
pub async fn scan(registry: &Registry, req: ScanRequest<'_>) -> Result<Vec<Finding>, PostureError> {
    let mut targets: Vec<(String, Vec<String>)> =
        req.images.iter().map(|i| (i.clone(), Vec::new())).collect();
    for repository in &req.repositories {
        for found in
            inventory::repository_images(registry, repository, req.page_size, req.concurrency)
                .await?
        {
            targets.push((found.image, found.tags));
        }
    }
    let bar = crate::progress_bar(targets.len(), req.progress);
    let now = Utc::now();
    let findings: Vec<Finding> = stream::iter(targets)
        .map(|(image, tags)| {
            let bar = bar.clone();
            let req = &req;
            async move {
                let row = crate::scan::scan_image(
                    registry,
                    req.settings,
                    &image,
                    now,
                    req.window_days,
                    req.previous,
                )
                .await;
                let labels = match (&row.digest, ImageRef::parse(&image)) {
                    (Some(digest), Ok(reference)) => {
                        inventory::labels(registry, &reference, digest).await
                    }
                    _ => BTreeMap::new(),
                };
                bar.inc(1);
                bar.set_message(image.clone());
                Finding {
                    pipeline: inventory::pipeline_of(&labels, req.group_by.as_deref()),
                    workloads: req.workloads.get(&image).cloned().unwrap_or_default(),
                    source: req.source.clone(),
                    tags,
                    labels,
                    row,
                }
            }
        })
        .buffered(req.concurrency.max(1))
        .collect()
        .await;
    bar.finish_and_clear();
    Ok(merge_same_digest(findings))
}

/// `registry/repository@digest` of a finding, when its digest is known.
fn digest_key(f: &Finding) -> Option<String> {
    let digest = f.row.digest.as_ref()?;
    let r = ImageRef::parse(&f.row.image).ok()?;
    Some(format!("{}/{}@{digest}", r.registry(), r.repository()))
}

fn merge_same_digest(findings: Vec<Finding>) -> Vec<Finding> {
    let mut out: Vec<Finding> = Vec::with_capacity(findings.len());
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for f in findings {
        // Excepted and skipped images were not read: nothing to merge on.
        let key = digest_key(&f);
        match key.as_ref().and_then(|k| seen.get(k)) {
            Some(&i) => {
                let kept = &mut out[i];
                for t in f.tags {
                    if !kept.tags.contains(&t) {
                        kept.tags.push(t);
                    }
                }
                // A tag reference names the image better than its digest.
                if let Some(tag) = ImageRef::parse(&f.row.image)
                    .ok()
                    .and_then(|r| r.tag().map(str::to_owned))
                {
                    if !kept.tags.contains(&tag) {
                        kept.tags.push(tag);
                    }
                }
                for w in f.workloads {
                    if !kept.workloads.contains(&w) {
                        kept.workloads.push(w);
                    }
                }
            }
            None => {
                if let Some(k) = key {
                    seen.insert(k, out.len());
                }
                out.push(f);
            }
        }
    }
    out
}

/// A digest reference found through the repository inventory, shown by its
/// tags: `registry/repo:1.0,stable@sha256:b8479de3f88f…`.
pub fn display_name(f: &Finding) -> String {
    match f.row.image.split_once('@') {
        Some((repository, digest)) if !f.tags.is_empty() => {
            let short: String = digest.chars().take(19).collect();
            format!("{repository}:{}@{short}…", f.tags.join(","))
        }
        _ => f.row.image.clone(),
    }
}

/// Human output of a scan: the posture table, then the workloads of every
/// image that is not verified and the pipelines that do not sign yet.
pub fn render_scan_human(findings: &[Finding], now: DateTime<Utc>) -> String {
    let rows: Vec<ScanRow> = findings
        .iter()
        .map(|f| ScanRow {
            image: display_name(f),
            ..f.row.clone()
        })
        .collect();
    let mut out = crate::scan::render_table(&rows);
    let mut used = String::new();
    for f in findings
        .iter()
        .filter(|f| f.row.posture != Posture::Verified)
    {
        for w in &f.workloads {
            used.push_str(&format!(
                "  {} {}/{} {} uses {} ({})\n",
                if w.namespace.is_empty() {
                    "-"
                } else {
                    &w.namespace
                },
                w.kind,
                w.name,
                w.site,
                f.row.image,
                report::class_name(f.row.posture)
            ));
        }
    }
    if !used.is_empty() {
        out.push_str("\nWorkloads using images that are not verified:\n");
        out.push_str(&used);
    }
    let summary = report::Summary::of("scan", findings, now, 0);
    if !summary.pipelines_not_signing.is_empty() {
        out.push_str("\nPipelines not signing yet (unsigned images by build source):\n");
        for p in &summary.pipelines_not_signing {
            out.push_str(&format!("  {}: {} image(s)\n", p.pipeline, p.images.len()));
            for i in &p.images {
                out.push_str(&format!(
                    "    {}{}\n",
                    if i.tags.is_empty() || !i.image.contains('@') {
                        i.image.clone()
                    } else {
                        format!("{} (tags {})", i.image, i.tags.join(", "))
                    },
                    i.revision
                        .as_ref()
                        .map(|r| format!(" (revision {r})"))
                        .unwrap_or_default()
                ));
            }
        }
    }
    out
}
