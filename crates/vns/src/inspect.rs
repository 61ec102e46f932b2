//! `vns inspect`: the browser inspector's report in the terminal. Both read
//! `notation_verifier::inspect`, so the page and `vns inspect` show the same
//! verdict for the same inputs.
//!
//! Targets are envelope files, a bundle manifest file, or one image in a
//! registry. Without `--settings` only the envelopes are inspected
//! (integrity, headers, chain); with it they are verified as the policy
//! would.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Utc};
use notation_verifier::inspect::{
    self, CertificateReport, EnvelopeReport, InspectError, VerificationReport,
};
use notation_verifier::reference::ImageRef;
use notation_verifier::revocation::RevocationMaterial;
use notation_verifier::settings::ValidatedSettings;
use notation_verifier::verdict::{CheckOutcome, SignatureReport};
use notation_verifier::verify::Descriptor;
use serde::Serialize;

use crate::registry::Registry;

/// What `vns inspect` was asked to look at.
pub enum Target {
    /// Envelope files and/or one bundle manifest, read from disk.
    Files(Vec<std::path::PathBuf>),
    /// One image, read from its registry like `vns verify` does.
    Image(String),
}

/// Optional inputs that only files need (an image brings its own).
pub struct FileContext<'a> {
    pub reference: Option<&'a str>,
    pub descriptor: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum InspectCliError {
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    #[error("{0} is JSON but neither a JWS envelope nor a signature bundle manifest: {1}")]
    NotAnEnvelope(String, String),
    #[error("--reference is needed with --settings for files: it names the image whose trust policy statement applies (e.g. --reference myregistry.azurecr.io/app)")]
    MissingReference,
    #[error("--descriptor is neither a file nor JSON with mediaType, digest and size: {0}")]
    Descriptor(String),
    #[error(
        "no descriptor was given and no envelope payload names the artifact; pass --descriptor"
    )]
    NoDescriptor,
    #[error(transparent)]
    Inspect(#[from] InspectError),
    #[error("{0}")]
    Registry(String),
}

/// The inputs once read: envelopes (media type, bytes), and what a bundle or
/// the registry said about the artifact.
struct Material {
    envelopes: Vec<(String, Vec<u8>)>,
    subject: Option<Descriptor>,
    revocation: RevocationMaterial,
    reference: Option<String>,
}

/// The report `vns inspect` prints: verification (with settings) or
/// inspection only. JSON output is this, serialised.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase", untagged)]
pub enum Output {
    Verification {
        report: Box<VerificationReport>,
        notes: Vec<String>,
    },
    Inspection {
        /// Set for an image target: the digest its reference resolved to.
        digest: Option<String>,
        envelopes: Vec<EnvelopeReport>,
    },
}

impl Output {
    /// 0 when admitted (or, without settings, every envelope is intact), else 1.
    pub fn exit_code(&self) -> u8 {
        let ok = match self {
            Output::Verification { report, .. } => {
                report.summary.admission != inspect::Admission::Deny
            }
            Output::Inspection { envelopes, .. } => {
                !envelopes.is_empty() && envelopes.iter().all(|e| e.integrity.passed)
            }
        };
        u8::from(!ok)
    }
}

pub async fn run(
    target: Target,
    settings: Option<&ValidatedSettings>,
    context: FileContext<'_>,
    registry: Option<&Registry>,
    time: DateTime<Utc>,
) -> Result<Output, InspectCliError> {
    let max = settings.map_or(
        notation_verifier::verify::Limits::default().max_signatures,
        |s| s.limits.max_signatures,
    );
    let material = match target {
        Target::Files(paths) => read_files(&paths, max)?,
        Target::Image(image) => read_image(registry, &image, max).await?,
    };
    let Some(settings) = settings else {
        return Ok(Output::Inspection {
            digest: material.subject.map(|d| d.digest),
            envelopes: material
                .envelopes
                .iter()
                .map(|(m, b)| inspect::inspect_envelope(m, b))
                .collect(),
        });
    };
    let reference = material
        .reference
        .as_deref()
        .or(context.reference)
        .ok_or(InspectCliError::MissingReference)?;
    let mut notes = Vec::new();
    let from_registry = material.reference.is_some();
    let descriptor = match (context.descriptor, material.subject) {
        (Some(given), _) => parse_descriptor(given)?,
        // An image's descriptor comes from its manifest bytes (exact); a
        // bundle file's subject is not signed, so say where it came from.
        (None, Some(subject)) => {
            if !from_registry {
                notes.push(format!(
                    "the artifact descriptor is the bundle's subject ({}, {}, {} bytes), which is not signed; `vns inspect IMAGE` compares the signatures with the registry's manifest",
                    subject.digest, subject.media_type, subject.size
                ));
            }
            subject
        }
        (None, None) => {
            let (descriptor, note) = inspect::descriptor_from_payload(&material.envelopes)
                .ok_or(InspectCliError::NoDescriptor)?;
            notes.push(note);
            descriptor
        }
    };
    let report = inspect::verify_envelopes(
        settings,
        reference,
        &descriptor,
        &material.envelopes,
        &material.revocation,
        time,
    )?;
    Ok(Output::Verification {
        report: Box::new(report),
        notes,
    })
}

fn parse_descriptor(given: &str) -> Result<Descriptor, InspectCliError> {
    let text = if Path::new(given).is_file() {
        std::fs::read_to_string(given).map_err(|e| InspectCliError::Read(given.into(), e))?
    } else {
        given.to_string()
    };
    serde_json::from_str(&text).map_err(|e| InspectCliError::Descriptor(e.to_string()))
}

fn read_files(paths: &[std::path::PathBuf], max: usize) -> Result<Material, InspectCliError> {
    let mut material = Material {
        envelopes: Vec::new(),
        subject: None,
        revocation: RevocationMaterial::default(),
        reference: None,
    };
    for path in paths {
        let name = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| InspectCliError::Read(name.clone(), e))?;
        let media_type = inspect::sniff_media_type(&bytes);
        if media_type == notation_verifier::envelope::MEDIA_TYPE_JWS {
            // A JSON file is a JWS envelope or a bundle manifest (artifactType says).
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| InspectCliError::NotAnEnvelope(name.clone(), e.to_string()))?;
            if value.get("artifactType").is_some() {
                let bundle = inspect::read_bundle_for_inspection(&value, max)?;
                material.subject = Some(bundle.subject);
                material.revocation = bundle.revocation;
                material.envelopes.extend(bundle.envelopes);
                continue;
            }
        }
        material.envelopes.push((media_type.to_string(), bytes));
    }
    Ok(material)
}

async fn read_image(
    registry: Option<&Registry>,
    image: &str,
    max: usize,
) -> Result<Material, InspectCliError> {
    let reference = ImageRef::parse(image).map_err(|e| {
        InspectCliError::Inspect(InspectError::Reference {
            reference: image.to_string(),
            message: e.to_string(),
        })
    })?;
    let registry =
        registry.ok_or_else(|| InspectCliError::Registry("no registry client".into()))?;
    let fetched = crate::verify::fetch(registry, &reference, max)
        .await
        .map_err(|e| InspectCliError::Registry(e.to_string()))?;
    Ok(Material {
        envelopes: fetched
            .signatures
            .into_iter()
            .filter(|s| s.is_envelope())
            .map(|s| (s.media_type, s.envelope))
            .collect(),
        subject: Some(fetched.descriptor),
        revocation: fetched.revocation,
        reference: Some(image.to_string()),
    })
}

// ---- Terminal rendering

pub fn render_human(output: &Output) -> String {
    let mut out = String::new();
    match output {
        Output::Verification { report, notes } => {
            render_summary(&mut out, report, notes);
            let at = report_time(report);
            for (index, envelope) in report.envelopes.iter().enumerate() {
                let signature = report.verdict.signatures.iter().find(|s| s.index == index);
                render_envelope(&mut out, index, envelope, signature, at);
            }
        }
        Output::Inspection { digest, envelopes } => {
            let _ = writeln!(
                out,
                "INSPECTED  {} envelope(s){}; no --settings: integrity is checked, trust is not",
                envelopes.len(),
                digest
                    .as_ref()
                    .map(|d| format!(" of {d}"))
                    .unwrap_or_default()
            );
            for (index, envelope) in envelopes.iter().enumerate() {
                render_envelope(&mut out, index, envelope, None, Utc::now());
            }
        }
    }
    out
}

/// The verification time of a report (validity is shown relative to it).
fn report_time(report: &VerificationReport) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&report.time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|_| Utc::now())
}

fn render_summary(out: &mut String, report: &VerificationReport, notes: &[String]) {
    let s = &report.summary;
    let outcome = match s.outcome {
        notation_verifier::verdict::Outcome::Verified => "VERIFIED",
        notation_verifier::verdict::Outcome::Skipped => "SKIPPED",
        notation_verifier::verdict::Outcome::Failed => "FAILED",
    };
    let admission = match s.admission {
        inspect::Admission::Admit => "admit",
        inspect::Admission::Warn => "warn",
        inspect::Admission::Deny => "deny",
    };
    let _ = writeln!(
        out,
        "{outcome}{}  (admission: {admission})",
        s.reason.map(|r| format!("  {r}")).unwrap_or_default()
    );
    let rows = [
        (
            "image",
            Some(format!(
                "{} @ {}",
                report.reference, report.descriptor.digest
            )),
        ),
        ("statement", s.statement.clone()),
        ("signer", s.signer.clone()),
        ("message", s.message.clone()),
        ("what to do", s.hint.map(str::to_string)),
        ("exception", s.exception.clone()),
        ("verified at", Some(report.time.clone())),
    ];
    for (key, value) in rows {
        if let Some(value) = value {
            let _ = writeln!(out, "  {key:<12}{value}");
        }
    }
    for warning in &s.warnings {
        let _ = writeln!(out, "  warning     {warning}");
    }
    for note in notes {
        let _ = writeln!(out, "  note        {note}");
    }
}

fn render_envelope(
    out: &mut String,
    index: usize,
    envelope: &EnvelopeReport,
    signature: Option<&SignatureReport>,
    at: DateTime<Utc>,
) {
    let status = match (signature, envelope.integrity.passed) {
        (Some(s), _) if s.passed => "passed",
        (Some(_), _) => "failed",
        (None, true) => "intact",
        (None, false) => "integrity failed",
    };
    let _ = writeln!(
        out,
        "\nSignature {} · {}{} · {status}",
        index + 1,
        envelope.format,
        envelope
            .algorithm
            .map(|a| format!(" · {a}"))
            .unwrap_or_default()
    );
    if let Some(signature) = signature {
        let _ = writeln!(out, "  validations");
        for v in &signature.validations {
            let (outcome, reason, message) = match &v.outcome {
                CheckOutcome::Passed => ("passed", String::new(), String::new()),
                CheckOutcome::NotRun => ("notRun", String::new(), String::new()),
                CheckOutcome::Failed { reason, message } => {
                    ("failed", reason.to_string(), message.clone())
                }
            };
            let action = serde_json::to_value(v.action)
                .ok()
                .and_then(|a| a.as_str().map(str::to_string))
                .unwrap_or_default();
            let line = format!(
                "    {:<19}{action:<8}{outcome:<8}{reason}  {message}",
                v.kind.as_str()
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
    }
    let _ = writeln!(out, "  envelope");
    let integrity = if envelope.integrity.passed {
        "passed".to_string()
    } else {
        format!(
            "failed {}: {}",
            envelope
                .integrity
                .reason
                .map(|r| r.to_string())
                .unwrap_or_default(),
            envelope.integrity.message.clone().unwrap_or_default()
        )
    };
    let time =
        |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    let rows = [
        ("integrity", Some(integrity)),
        ("decode error", envelope.decode_error.clone()),
        ("media type", Some(envelope.media_type.clone())),
        ("digest", Some(envelope.envelope_digest.clone())),
        ("size", Some(format!("{} bytes", envelope.size))),
        ("scheme", envelope.signing_scheme.map(str::to_string)),
        ("signing time", time(envelope.signing_time)),
        ("expiry", time(envelope.expiry)),
        ("agent", envelope.signing_agent.clone()),
        ("plugin", envelope.verification_plugin.clone()),
        (
            "critical",
            (!envelope.critical_extended_attributes.is_empty())
                .then(|| envelope.critical_extended_attributes.join(", ")),
        ),
    ];
    for (key, value) in rows {
        if let Some(value) = value {
            let _ = writeln!(out, "    {key:<14}{value}");
        }
    }
    if let Some(p) = &envelope.payload {
        let _ = writeln!(
            out,
            "  signed artifact\n    {:<14}{}\n    {:<14}{}\n    {:<14}{}",
            "digest", p.digest, "media type", p.media_type, "size", p.size
        );
        for (k, v) in &p.annotations {
            let _ = writeln!(out, "    {k}: {v}");
        }
    } else if let Some(e) = &envelope.payload_error {
        let _ = writeln!(out, "  signed artifact: {e}");
    }
    if !envelope.certificates.is_empty() || !envelope.certificate_errors.is_empty() {
        let _ = writeln!(out, "  certificate chain (leaf first)");
        render_chain(out, &envelope.certificates, at);
        for e in &envelope.certificate_errors {
            let _ = writeln!(out, "    unparseable certificate {e}");
        }
    }
    if let Some(t) = &envelope.timestamp {
        let _ = writeln!(out, "  timestamp (RFC 3161)");
        if let Some(gen_time) = t.gen_time {
            let _ = writeln!(
                out,
                "    {:<14}{}{}",
                "time",
                gen_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                t.accuracy_millis
                    .map(|ms| format!(" ± {ms} ms"))
                    .unwrap_or_default()
            );
        }
        if let Some(policy) = &t.policy {
            let _ = writeln!(out, "    {:<14}{policy}", "TSA policy");
        }
        if let Some(e) = &t.error {
            let _ = writeln!(out, "    {:<14}{e}", "error");
        }
        render_chain(out, &t.certificates, at);
    }
}

fn render_chain(out: &mut String, certificates: &[CertificateReport], at: DateTime<Utc>) {
    for (i, c) in certificates.iter().enumerate() {
        let validity = if at < c.not_before {
            "NOT YET VALID"
        } else if at > c.not_after {
            "EXPIRED"
        } else {
            "valid"
        };
        let _ = writeln!(
            out,
            "    {}. {}\n       {} · {}{} · {} → {} ({validity})\n       issuer {}\n       sha256 {}",
            i + 1,
            c.subject,
            c.public_key,
            if c.is_ca { "CA" } else { "end entity" },
            if c.self_signed { " · self-signed" } else { "" },
            c.not_before.format("%Y-%m-%d"),
            c.not_after.format("%Y-%m-%d"),
            c.issuer,
            c.sha256_fingerprint
        );
    }
}
