//! The command lines of `vns scan` and `vns report`, and their runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::Utc;
use notation_verifier::settings::ValidatedSettings;

use super::workloads::{workloads_by_image, WorkloadRef};
use super::{report, Finding, Output, PostureError, ScanRequest};
use crate::registry::{Registry, RegistryOptions};
use crate::scan::Posture;

#[derive(clap::Args)]
pub struct ScanArgs {
    /// The policy settings (YAML or JSON).
    #[arg(long, short)]
    pub settings: PathBuf,
    /// A file with one image reference per line (# comments allowed).
    #[arg(long)]
    pub images_file: Option<PathBuf>,
    /// A directory of Kubernetes manifests (YAML/JSON, all workload kinds).
    #[arg(long)]
    pub manifests: Option<PathBuf>,
    /// Every tag of these repositories (`registry/path/name`), each digest
    /// classified once; repeatable. Without --images-file or --manifests,
    /// stdin is not read.
    #[arg(long = "repository", value_name = "REPO")]
    pub repositories: Vec<String>,
    /// The label (manifest annotation or config label) that names the
    /// pipeline of an image [default: org.opencontainers.image.source].
    #[arg(long, value_name = "LABEL")]
    pub group_by: Option<String>,
    /// The settings before a key rotation: images that verify only under
    /// them are `rotated-out`, not `untrusted-signer`.
    #[arg(long, value_name = "FILE")]
    pub previous_settings: Option<PathBuf>,
    /// The name of what is scanned (cluster, subscription), carried in the
    /// JSON for `vns report`.
    #[arg(long, value_name = "NAME")]
    pub source: Option<String>,
    /// Images classified in parallel.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Tags asked for per page of the registry's tag listing.
    #[arg(long, default_value_t = 1000, hide = true)]
    pub tag_page_size: usize,
    /// Certificates and exceptions ending within this many days are flagged.
    #[arg(long, default_value_t = 30)]
    pub within_days: i64,
    /// Exit 1 when any image has one of these postures.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub fail_on: Vec<Posture>,
    #[arg(long, value_enum, default_value = "human")]
    pub output: Output,
    /// Write the output to FILE (atomically: a textfile collector never
    /// reads half a file) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct ReportArgs {
    /// Scan JSON files (`vns scan --output json --source NAME`); a file
    /// without sources names its findings after its file name.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Exceptions ending within this many days are listed and block
    /// verify-enforce.
    #[arg(long, default_value_t = 30, value_name = "DAYS")]
    pub expiring_within: i64,
    #[arg(long, value_enum, default_value = "human")]
    pub output: Output,
    /// Write the output to FILE (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

/// What went wrong and which exit code it means.
pub struct Failure {
    pub code: u8,
    pub message: String,
}

fn usage(message: impl Into<String>) -> Failure {
    Failure {
        code: crate::EXIT_USAGE,
        message: message.into(),
    }
}

fn read_documents(path: &Path, text: &str) -> Result<Vec<serde_json::Value>, Failure> {
    crate::scan::parse_documents(text).map_err(|e| usage(format!("{}: {e}", path.display())))
}

/// Images and the workloads that use them, from a list, manifests, or
/// kubectl JSON on stdin (when neither nor a repository is given).
/// Image -> the workloads that use it.
type Uses = BTreeMap<String, Vec<WorkloadRef>>;

fn inputs(args: &ScanArgs) -> Result<(Vec<String>, Uses), Failure> {
    let mut images = Vec::new();
    let mut docs = Vec::new();
    if let Some(f) = &args.images_file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| usage(format!("cannot read {}: {e}", f.display())))?;
        images.extend(
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_owned),
        );
    }
    if let Some(dir) = &args.manifests {
        let found = crate::scan::documents_in_dir(dir).map_err(usage)?;
        images.extend(crate::scan::images_in_objects(&found));
        docs.extend(found);
    }
    if args.images_file.is_none() && args.manifests.is_none() && args.repositories.is_empty() {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| usage(format!("cannot read stdin: {e}")))?;
        let stdin = read_documents(Path::new("stdin"), &text)?;
        images.extend(crate::scan::images_in_objects(&stdin));
        docs.extend(stdin);
    }
    let mut seen = std::collections::BTreeSet::new();
    images.retain(|i| seen.insert(i.clone()));
    Ok((images, workloads_by_image(&docs)))
}

fn registry_failure(e: PostureError) -> Failure {
    Failure {
        code: match e {
            PostureError::Repository { .. } => crate::EXIT_USAGE,
            _ => crate::EXIT_REGISTRY,
        },
        message: e.to_string(),
    }
}

fn render(report: &report::Report, output: Output) -> Result<String, Failure> {
    let encode = |what: &'static str, e: serde_json::Error| {
        usage(
            PostureError::Encode {
                what,
                message: e.to_string(),
            }
            .to_string(),
        )
    };
    match output {
        Output::Human => Ok(report::render_human(report)),
        Output::Json => serde_json::to_string_pretty(report)
            .map(|s| s + "\n")
            .map_err(|e| encode("json", e)),
        Output::Html => Ok(super::html::render(report)),
        Output::Prometheus => super::prometheus::render(report).map_err(|e| usage(e.to_string())),
    }
}

/// Prints `text`, or writes it to `path` through a temporary file in the
/// same directory and a rename.
fn emit(text: &str, path: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = path else {
        print!("{text}");
        return Ok(());
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&temporary, text)
        .and_then(|()| std::fs::rename(&temporary, path))
        .map_err(|source| {
            let _ = std::fs::remove_file(&temporary);
            usage(
                PostureError::Write {
                    path: path.to_path_buf(),
                    source,
                }
                .to_string(),
            )
        })
}

/// `vns scan`: prints the findings; returns the exit code.
/// The settings come loaded (trust stores by reference resolved) by the
/// caller, which reports their errors itself.
pub async fn run_scan(
    args: &ScanArgs,
    settings: &ValidatedSettings,
    previous: Option<&ValidatedSettings>,
    options: RegistryOptions,
) -> Result<u8, Failure> {
    let (images, workloads) = inputs(args)?;
    let touched: Vec<String> = images.iter().chain(&args.repositories).cloned().collect();
    let registry = Registry::new(options, &crate::registries_of(&touched));
    let findings: Vec<Finding> = super::scan(
        &registry,
        ScanRequest {
            settings,
            previous,
            images,
            workloads,
            repositories: args.repositories.clone(),
            group_by: args.group_by.clone(),
            source: args.source.clone(),
            window_days: args.within_days,
            concurrency: args.concurrency,
            page_size: args.tag_page_size,
            progress: args.output == Output::Human,
        },
    )
    .await
    .map_err(registry_failure)?;
    let now = Utc::now();
    let text = match args.output {
        Output::Human => super::render_scan_human(&findings, now),
        Output::Json => serde_json::to_string_pretty(&findings)
            .map(|s| s + "\n")
            .map_err(|e| usage(format!("cannot encode the findings: {e}")))?,
        other => render(&report::build(&findings, now, args.within_days), other)?,
    };
    emit(&text, args.output_file.as_deref())?;
    Ok(
        if findings
            .iter()
            .any(|f| args.fail_on.contains(&f.row.posture))
        {
            crate::EXIT_FAILED
        } else {
            0
        },
    )
}

/// `vns report`: merges scan files and prints the report; exit 0 (the
/// verdict is in the output, not the exit code: a report is not a gate).
pub fn run_report(args: &ReportArgs) -> Result<u8, Failure> {
    let findings = report::read_scan_files(&args.files).map_err(|e| usage(e.to_string()))?;
    let report = report::build(&findings, Utc::now(), args.expiring_within);
    emit(&render(&report, args.output)?, args.output_file.as_deref())?;
    Ok(0)
}
