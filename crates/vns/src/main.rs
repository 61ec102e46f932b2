//! `vns`: publish Notation signature bundles for the Kubewarden policy,
//! verify images on deploy paths without an admission controller, and
//! report the signing posture of a set of images.
//!
//! Modules, from the wire up: `auth` (registry credentials), `registry`
//! (manifests, signatures, bundles over the OCI distribution API), `staple`
//! (OCSP responses and CRLs fetched for a chain), `settings_file` (the
//! settings shared with the policy), `hygiene` (superseded bundles, refresh
//! decisions, the size budget); then one per subcommand: `attach`,
//! `sync` (attach for every tag), `verify` (the deploy gate), `inspect`,
//! `scan` (signing posture; `posture` adds repository inventories,
//! workloads, rotated-out keys and `report`), `serve` (the Gatekeeper
//! external data provider). This file holds the command line and dispatch.

mod attach;
mod auth;
mod hygiene;
mod inspect;
mod kubeconfig;
mod location;
mod posture;
mod registry;
mod revocation_cache;
mod scan;
mod serve;
mod settings_file;
mod staple;
mod stores;
mod sync;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use notation_verifier::reference::ImageRef;

use crate::registry::{Registry, RegistryOptions};

/// Exit codes (documented in --help).
const EXIT_FAILED: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_REGISTRY: u8 = 3;

#[derive(Parser)]
#[command(
    name = "vns",
    version,
    about = "Publish Notation signature bundles, verify images, report signing posture",
    after_help = "Exit codes: 0 success, 1 verification failed, 2 usage or settings error, 3 registry error; `verify` with enforcement: warn exits 0 except for usage errors.\n\n\
Examples:\n  vns attach myregistry.azurecr.io/app:1.4.2\n  vns sync myregistry.azurecr.io/app --concurrency 8\n  vns verify myregistry.azurecr.io/app:1.4.2 --settings settings.yaml\n  vns verify --output json IMAGE --settings settings.yaml\n  vns inspect myregistry.azurecr.io/app:1.4.2 --settings settings.yaml\n  vns inspect signature.jws --settings settings.yaml --reference myregistry.azurecr.io/app\n  vns scan --settings settings.yaml --repository myregistry.azurecr.io/app --source prod --output json > prod.json\n  vns report prod.json staging.json --output html > posture.html"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// More log output (-v info, -vv debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Use plain HTTP for every registry (loopback registries always use it).
    #[arg(long, global = true)]
    plain_http: bool,
    /// Use plain HTTP for this registry (host[:port]); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST", global = true)]
    insecure_registries: Vec<String>,
    /// Registry user name (else the Docker config file is used).
    #[arg(long, env = "VNS_USERNAME", global = true)]
    username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "VNS_PASSWORD", global = true, hide_env_values = true)]
    password: Option<String>,
    /// Seconds that retries of one registry call may take (429 / 5xx / network).
    #[arg(long, default_value_t = 30, global = true)]
    retry_seconds: u64,
    /// For verify, scan and inspect: trust stores that the settings keep in
    /// ConfigMaps or Secrets are read from DIR/<type>/<name>.pem (e.g.
    /// DIR/ca/acme-root.pem) instead of the current kubeconfig context's cluster.
    #[arg(long, value_name = "DIR", global = true)]
    trust_store_dir: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum OutputFormat {
    Human,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Publish the signature bundle of each image (run right after `notation sign`).
    Attach {
        /// Image references (tag or digest).
        #[arg(required = true)]
        images: Vec<String>,
        /// Do not fetch and staple OCSP responses / CRLs for the chains.
        #[arg(long)]
        no_revocation: bool,
        /// Bundles larger than this are not pushed (bytes, or with KiB/MiB; at most 4MiB).
        #[arg(long, default_value = "4MiB", value_parser = parse_size)]
        max_bundle_size: usize,
        #[arg(long, value_enum, default_value = "human")]
        output: OutputFormat,
        #[command(flatten)]
        destination: location::BundleDestination,
    },
    /// Attach every tag of each repository (backfill, scheduled job).
    Sync {
        /// Repositories (`registry/path/name`).
        #[arg(required = true)]
        repositories: Vec<String>,
        /// Only these tags (comma-separated) instead of all tags.
        #[arg(long, value_delimiter = ',')]
        tags: Vec<String>,
        /// Images attached in parallel.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Re-staple revocation material where signatures are unchanged; a
        /// bundle is pushed only when the staples state something new or
        /// come within a day of their nextUpdate (run this daily).
        #[arg(long)]
        refresh_revocation: bool,
        /// Do not fetch and staple OCSP responses / CRLs.
        #[arg(long, conflicts_with = "refresh_revocation")]
        no_revocation: bool,
        /// Bundles larger than this are not pushed (bytes, or with KiB/MiB; at most 4MiB).
        #[arg(long, default_value = "4MiB", value_parser = parse_size)]
        max_bundle_size: usize,
        #[arg(long, value_enum, default_value = "human")]
        output: OutputFormat,
        #[command(flatten)]
        destination: location::BundleDestination,
    },
    /// Report the signing posture of images (from a list, manifests, kubectl
    /// JSON on stdin, or every tag of repositories).
    Scan(posture::cli::ScanArgs),
    /// Merge scan JSON files: counts per class and source, expiring
    /// exceptions, and the phase each source is ready for.
    Report(posture::cli::ReportArgs),
    /// Verify images with the policy's settings file, reading signatures from the registry.
    Verify {
        #[arg(required = true)]
        images: Vec<String>,
        /// The policy settings (YAML or JSON): trust policy, stores, exceptions, enforcement.
        #[arg(long, short)]
        settings: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        output: OutputFormat,
    },
    /// Explain a signature: envelope headers, chain, timestamp and, with
    /// --settings, every validation and the verdict (what the browser
    /// inspector in web/ shows).
    Inspect {
        /// Envelope files (.jws/.cose/.sig), a bundle manifest file, or one
        /// image reference (read from its registry).
        #[arg(required = true)]
        targets: Vec<String>,
        /// The policy settings (YAML or JSON); without them only integrity
        /// is checked.
        #[arg(long, short)]
        settings: Option<PathBuf>,
        /// For files: the image the signatures belong to (selects the trust
        /// policy statement).
        #[arg(long)]
        reference: Option<String>,
        /// For envelope files: the artifact descriptor (JSON or a file);
        /// default: what the first envelope's payload names.
        #[arg(long)]
        descriptor: Option<String>,
        /// Verification time, RFC 3339 (default: now).
        #[arg(long)]
        time: Option<String>,
        #[arg(long, value_enum, default_value = "human")]
        output: OutputFormat,
    },
    /// Serve Gatekeeper's external data protocol over HTTPS (/validate,
    /// /mutate): the policy's verdicts for Gatekeeper and Azure Policy.
    Serve(serve::ServeArgs),
}

/// A size in bytes: `N`, `NKiB` or `NMiB`, at most the registry limit.
fn parse_size(text: &str) -> Result<usize, String> {
    let t = text.trim();
    let (number, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let scale = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1024,
        "m" | "mib" => 1024 * 1024,
        other => return Err(format!("unknown unit {other:?}: use bytes, KiB or MiB")),
    };
    let n: usize = number
        .parse()
        .map_err(|_| format!("{text:?} is not a size such as 4MiB or 500000"))?;
    let bytes = n.saturating_mul(scale);
    if bytes == 0 || bytes > hygiene::DEFAULT_MAX_BUNDLE_SIZE {
        return Err(format!(
            "{text} is outside 1 byte ..= 4MiB (registries refuse larger manifests)"
        ));
    }
    Ok(bytes)
}

/// `sha256:<hex>` of an envelope (the bundle layer digest).
pub(crate) fn signer_digest(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// A progress bar on stderr, or a hidden one (JSON output, tests).
pub(crate) fn progress_bar(len: usize, visible: bool) -> indicatif::ProgressBar {
    let bar = if visible {
        indicatif::ProgressBar::new(len as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// The settings file, or the usage exit code after saying what is wrong.
fn load_settings(
    path: &std::path::Path,
) -> Result<notation_verifier::settings::ValidatedSettings, ExitCode> {
    settings_file::load(path).map_err(|e| {
        eprintln!("vns: {e}");
        ExitCode::from(EXIT_USAGE)
    })
}

fn registries_of(refs: &[String]) -> Vec<String> {
    refs.iter()
        .filter_map(|r| ImageRef::parse(r).ok())
        .map(|r| r.registry().to_string())
        .collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("vns: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    runtime.block_on(run(cli))
}

fn options(cli: &Cli) -> Result<RegistryOptions, String> {
    let explicit = match (&cli.username, &cli.password) {
        (Some(u), Some(p)) => Some((u.clone(), p.clone())),
        (None, None) => None,
        _ => return Err("--username and --password go together".into()),
    };
    Ok(RegistryOptions {
        plain_http: cli.insecure_registries.clone(),
        plain_http_all: cli.plain_http,
        retry_budget: Duration::from_secs(cli.retry_seconds),
        credentials: auth::Credentials {
            explicit,
            docker_config: true,
        },
    })
}

fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("vns: cannot encode the report: {e}"),
    }
}

async fn run(cli: Cli) -> ExitCode {
    let opts = match options(&cli) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("vns: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match &cli.command {
        Command::Serve(args) => match serve::run(args, opts).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("vns serve: {e}");
                ExitCode::from(EXIT_USAGE)
            }
        },
        Command::Attach {
            images,
            output,
            no_revocation,
            max_bundle_size,
            destination,
        } => {
            let locations = match destination.locations() {
                Ok(l) => l,
                Err(code) => return code,
            };
            for image in images {
                if let Err(e) = ImageRef::parse(image) {
                    eprintln!("vns: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            }
            let mut registries = registries_of(images);
            registries.extend(locations.registries());
            let registry = Registry::new(opts, &registries);
            let mut code = 0u8;
            let mut results = Vec::new();
            for image in images {
                let mut problems = Vec::new();
                let options = attach::AttachOptions {
                    staple: !no_revocation,
                    refresh: false,
                    max_bundle_size: *max_bundle_size,
                };
                let result =
                    attach::attach(&registry, image, options, &locations, &mut problems).await;
                for p in &problems {
                    eprintln!("warning: {image}: revocation material not stapled: {p}");
                }
                let line = match &result {
                    Ok(attach::AttachOutcome::Bundled {
                        digest,
                        bundle,
                        signatures,
                        superseded,
                    }) => {
                        if let Some(kept @ hygiene::Superseded::Kept { .. }) = superseded {
                            eprintln!("warning: {image}: {}", kept.describe());
                        }
                        let replaced = superseded
                            .as_ref()
                            .map(|s| format!("; {}", s.describe()))
                            .unwrap_or_default();
                        format!("bundled   {image} ({digest}): {signatures} signature(s) in {bundle}{replaced}")
                    }
                    Ok(attach::AttachOutcome::Unchanged {
                        digest,
                        bundle,
                        signatures,
                    }) => {
                        format!("unchanged {image} ({digest}): {bundle} already lists its {signatures} signature(s)")
                    }
                    Ok(attach::AttachOutcome::Unsigned { digest }) => {
                        code = code.max(EXIT_FAILED);
                        format!("unsigned  {image} ({digest}): no Notation signature; sign it with `notation sign` first")
                    }
                    Err(e) => {
                        code = code.max(match e {
                            attach::AttachError::Reference(_) => EXIT_USAGE,
                            attach::AttachError::OverBudget(_) => EXIT_FAILED,
                            _ => EXIT_REGISTRY,
                        });
                        format!("error     {image}: {e}")
                    }
                };
                if *output == OutputFormat::Human {
                    println!("{line}");
                }
                let mut entry = serde_json::json!({"image": image, "result": line});
                if let Ok(
                    attach::AttachOutcome::Bundled { bundle, .. }
                    | attach::AttachOutcome::Unchanged { bundle, .. },
                ) = &result
                {
                    entry["bundle"] = serde_json::json!(bundle.reference);
                }
                results.push(entry);
            }
            if *output == OutputFormat::Json {
                print_json(&results);
            }
            ExitCode::from(code)
        }
        Command::Sync {
            repositories,
            tags,
            concurrency,
            output,
            refresh_revocation,
            no_revocation,
            max_bundle_size,
            destination,
        } => {
            let locations = match destination.locations() {
                Ok(l) => l,
                Err(code) => return code,
            };
            let mut registries = registries_of(repositories);
            registries.extend(locations.registries());
            let registry = Registry::new(opts, &registries);
            let mut images = Vec::new();
            for repo in repositories {
                match sync::images_of(&registry, repo, tags).await {
                    Ok(list) => images.extend(list),
                    Err(e) => {
                        eprintln!("vns: {e}");
                        return ExitCode::from(EXIT_REGISTRY);
                    }
                }
            }
            let options = attach::AttachOptions {
                staple: !no_revocation,
                refresh: *refresh_revocation,
                max_bundle_size: *max_bundle_size,
            };
            let summary = sync::sync(
                &registry,
                images,
                *concurrency,
                *output == OutputFormat::Human,
                options,
                &locations,
            )
            .await;
            if *output == OutputFormat::Json {
                print_json(&summary);
            } else {
                println!(
                    "bundled {}, unchanged {}, unsigned {}, errors {}; superseded bundles deleted {}, kept {}",
                    summary.bundled,
                    summary.unchanged,
                    summary.unsigned,
                    summary.errors,
                    summary.deleted,
                    summary.superseded_kept
                );
                for w in &summary.warning_details {
                    eprintln!("warning: {w}");
                }
                for e in &summary.error_details {
                    println!("error: {e}");
                }
            }
            ExitCode::from(if summary.errors > 0 { EXIT_REGISTRY } else { 0 })
        }
        Command::Scan(args) => {
            let store_dir = cli.trust_store_dir.as_deref();
            let settings = match stores::load_settings(&args.settings, store_dir).await {
                Ok(s) => s,
                Err(code) => return code,
            };
            let previous = match &args.previous_settings {
                Some(path) => match stores::load_settings(path, store_dir).await {
                    Ok(s) => Some(s),
                    Err(code) => return code,
                },
                None => None,
            };
            match posture::cli::run_scan(args, &settings, previous.as_ref(), opts).await {
                Ok(code) => ExitCode::from(code),
                Err(f) => {
                    eprintln!("vns: {}", f.message);
                    ExitCode::from(f.code)
                }
            }
        }
        Command::Report(args) => match posture::cli::run_report(args) {
            Ok(code) => ExitCode::from(code),
            Err(f) => {
                eprintln!("vns: {}", f.message);
                ExitCode::from(f.code)
            }
        },
        Command::Verify {
            images,
            settings,
            output,
        } => {
            let settings =
                match stores::load_settings(settings, cli.trust_store_dir.as_deref()).await {
                    Ok(s) => s,
                    Err(code) => return code,
                };
            // A malformed image argument is a usage error in both modes:
            // say so before any registry call.
            for image in images {
                if let Err(e) = ImageRef::parse(image) {
                    eprintln!("error: {image}: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            }
            let registry = Registry::new(opts, &registries_of(images));
            let now = chrono::Utc::now();
            let mut reports = Vec::new();
            for image in images {
                reports.push(verify::verify_image(&registry, &settings, image, now).await);
            }
            match output {
                OutputFormat::Json => {
                    print_json(&reports);
                    if let Some(summary) = verify::warn_summary(&reports, settings.enforcement) {
                        eprintln!("{summary}");
                    }
                }
                OutputFormat::Human => {
                    print!("{}", verify::render_human(&reports, settings.enforcement))
                }
            }
            ExitCode::from(
                u8::try_from(verify::exit_code(&reports, settings.enforcement))
                    .unwrap_or(EXIT_FAILED),
            )
        }
        Command::Inspect {
            targets,
            settings,
            reference,
            descriptor,
            time,
            output,
        } => {
            let settings = match settings {
                Some(path) => {
                    match stores::load_settings(path, cli.trust_store_dir.as_deref()).await {
                        Ok(s) => Some(s),
                        Err(code) => return code,
                    }
                }
                None => None,
            };
            let time = match time.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
                None => chrono::Utc::now(),
                Some(Ok(t)) => t.with_timezone(&chrono::Utc),
                Some(Err(_)) => {
                    eprintln!("vns: --time is not RFC 3339 (e.g. 2026-11-23T00:00:00Z)");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            // Existing paths are files; a single non-path is an image.
            let is_file = |t: &String| std::path::Path::new(t).exists();
            let (target, registry) = if targets.iter().all(is_file) {
                (
                    inspect::Target::Files(targets.iter().map(PathBuf::from).collect()),
                    None,
                )
            } else if let [image] = targets.as_slice() {
                (
                    inspect::Target::Image(image.clone()),
                    Some(Registry::new(opts, &registries_of(targets))),
                )
            } else {
                eprintln!(
                    "vns: inspect takes files, or exactly one image reference; not found as files: {}",
                    targets.iter().filter(|t| !is_file(t)).cloned().collect::<Vec<_>>().join(", ")
                );
                return ExitCode::from(EXIT_USAGE);
            };
            let is_image = matches!(target, inspect::Target::Image(_));
            let context = inspect::FileContext {
                reference: reference.as_deref(),
                descriptor: descriptor.as_deref(),
            };
            match inspect::run(target, settings.as_ref(), context, registry.as_ref(), time).await {
                Ok(report) => {
                    match output {
                        OutputFormat::Json => print_json(&report),
                        OutputFormat::Human => print!("{}", inspect::render_human(&report)),
                    }
                    ExitCode::from(report.exit_code())
                }
                Err(e @ inspect::InspectCliError::Registry(_)) if is_image => {
                    eprintln!("vns: {e}");
                    ExitCode::from(EXIT_REGISTRY)
                }
                Err(e) => {
                    eprintln!("vns: {e}");
                    ExitCode::from(EXIT_USAGE)
                }
            }
        }
    }
}
