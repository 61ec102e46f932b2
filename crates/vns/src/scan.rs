//! `vns scan`: the signing posture of a set of images before enforcing.
//! Images come from a list file, Kubernetes manifests (every workload kind
//! the policy checks) or `kubectl get ... -o json` on stdin; each gets one
//! posture class, shown as a table or JSON, and `--fail-on` turns chosen
//! classes into a failing exit for CI.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use notation_verifier::bundle;
use notation_verifier::reference::ImageRef;
use notation_verifier::settings::{ExceptionMatch, ValidatedSettings};
use notation_verifier::trust_policy::Level;
use notation_verifier::verdict::{Outcome, ReasonCode};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::registry::Registry;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum Posture {
    /// A trusted signature verifies and the bundle is current.
    Verified,
    /// No Notation signature at all.
    Unsigned,
    /// Signed, but by no key the trust policy trusts (or not the identity allowed).
    UntrustedSigner,
    /// Fails under the current settings but verifies under `--previous-settings`:
    /// signed by a key the rotation removed.
    RotatedOut,
    /// Signed by a trusted key but the signature fails otherwise (expired, revoked, ...).
    Failing,
    /// Verifies, but the signing certificate expires within the window.
    CertExpiring,
    /// Verifies in the registry, but the policy cannot see it: no bundle.
    BundleMissing,
    /// The bundle lists other signatures than the registry holds now.
    BundleStale,
    /// Admitted by an exception that expires within the window.
    ExceptionExpiring,
    /// Admitted by an exception.
    Excepted,
    /// The trust policy skips it.
    Skipped,
    /// No trust policy statement covers it.
    NoPolicy,
    /// The registry could not be read.
    Error,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanRow {
    pub image: String,
    pub posture: Posture,
    pub digest: Option<String>,
    pub signer: Option<String>,
    pub detail: String,
    /// The exception that admits the image (`excepted`, `exception-expiring`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exception: Option<ExceptionRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExceptionRef {
    pub name: String,
    pub expires: DateTime<Utc>,
}

/// Images named in Kubernetes objects (a List, a single object, or a
/// multi-document YAML stream), deduplicated in order.
pub fn images_in_objects(docs: &[Value]) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack: Vec<&Value> = docs.iter().rev().collect();
    while let Some(doc) = stack.pop() {
        if let Some(items) = doc.get("items").and_then(Value::as_array) {
            stack.extend(items.iter().rev());
            continue;
        }
        let kind = doc.get("kind").and_then(Value::as_str).unwrap_or_default();
        let Some(pointer) = verify_notation_signatures::workload::pod_spec_pointer(kind) else {
            continue;
        };
        if let Ok(sites) = verify_notation_signatures::workload::image_sites(doc, pointer) {
            for site in sites {
                if !out.contains(&site.image) {
                    out.push(site.image);
                }
            }
        }
    }
    out
}

pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        return Ok(vec![v]);
    }
    // Empty documents (a trailing `---`) are skipped by the parser.
    let docs: Vec<Value> =
        serde_saphyr::from_multiple_with_options(text, crate::settings_file::yaml_options())
            .map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|v| !v.is_null()).collect())
}

/// The documents of every `.yaml`, `.yml` and `.json` file under `dir`.
pub fn documents_in_dir(dir: &Path) -> Result<Vec<Value>, String> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let entries = std::fs::read_dir(&d).map_err(|e| format!("{}: {e}", d.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            ) {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).map_err(|e| format!("{}: {e}", f.display()))?;
        docs.extend(parse_documents(&text).map_err(|e| format!("{}: {e}", f.display()))?);
    }
    Ok(docs)
}

pub async fn scan_image(
    registry: &Registry,
    settings: &ValidatedSettings,
    image: &str,
    now: DateTime<Utc>,
    window_days: i64,
    previous: Option<&ValidatedSettings>,
) -> ScanRow {
    let mut row = ScanRow {
        image: image.to_string(),
        posture: Posture::Error,
        digest: None,
        signer: None,
        detail: String::new(),
        exception: None,
    };
    let reference = match ImageRef::parse(image) {
        Ok(r) => r,
        Err(e) => {
            row.detail = e.to_string();
            return row;
        }
    };
    let window = Duration::days(window_days);
    match settings.exception_for(&reference.normalized(), now) {
        ExceptionMatch::Active {
            exception,
            expires,
            days_left,
            ..
        } => {
            row.posture = if expires < now + window {
                Posture::ExceptionExpiring
            } else {
                Posture::Excepted
            };
            row.detail = format!(
                "exception \"{exception}\" ends {} ({days_left} days left)",
                expires.format("%Y-%m-%d")
            );
            row.exception = Some(ExceptionRef {
                name: exception.to_string(),
                expires,
            });
            return row;
        }
        ExceptionMatch::Expired { .. } | ExceptionMatch::None => {}
    }
    match settings
        .verifier
        .policy
        .statement_for(&reference.repository_path())
    {
        Ok(s) if s.level == Level::Skip => {
            row.posture = Posture::Skipped;
            row.detail = format!("statement \"{}\" skips verification", s.name);
            return row;
        }
        Ok(_) => {}
        Err(e) => {
            row.posture = Posture::NoPolicy;
            row.detail = e.to_string();
            return row;
        }
    }
    let fetched =
        match crate::verify::fetch(registry, &reference, settings.limits.max_signatures).await {
            Ok(f) => f,
            Err(e) => {
                row.detail = e.to_string();
                return row;
            }
        };
    row.digest = Some(fetched.digest.clone());
    let verdict = crate::verify::verify_fetched(settings, &reference, &fetched, now);
    let first = verdict.passing_signature().or(verdict.signatures.first());
    row.signer = first.and_then(|s| s.signer_subject.clone());
    if verdict.outcome != Outcome::Verified {
        let failure = verdict.failure.clone();
        let reason = failure.as_ref().map(|f| f.reason);
        row.posture = match reason {
            Some(ReasonCode::NoSignature) => Posture::Unsigned,
            Some(ReasonCode::UntrustedSigner | ReasonCode::IdentityMismatch) => {
                Posture::UntrustedSigner
            }
            _ => Posture::Failing,
        };
        row.detail = failure
            .map(|f| format!("{}: {}", f.reason, f.message))
            .unwrap_or_default();
        // A signature that the previous settings accepted: the key left
        // the trust policy in a rotation (not a signer never trusted).
        if let Some(previous) = previous.filter(|_| row.posture != Posture::Unsigned) {
            let before = crate::verify::verify_fetched(previous, &reference, &fetched, now);
            if before.outcome == Outcome::Verified {
                row.posture = Posture::RotatedOut;
                row.signer = before
                    .passing_signature()
                    .and_then(|s| s.signer_subject.clone());
                row.detail = format!(
                    "verifies only under the previous settings (statement \"{}\"); now: {}",
                    before.statement.unwrap_or_default(),
                    row.detail
                );
            }
        }
        return row;
    }
    // Verified: would the policy see it, and for how long?
    let tag = match bundle::bundle_tag(&fetched.digest) {
        Ok(t) => t,
        Err(e) => {
            row.detail = e.to_string();
            return row;
        }
    };
    let wanted: BTreeSet<String> = fetched
        .signatures
        .iter()
        .filter(|s| s.is_envelope())
        .map(|s| crate::signer_digest(&s.envelope))
        .collect();
    match crate::attach::published_layers(registry, &reference, &tag).await {
        Ok(None) => {
            row.posture = Posture::BundleMissing;
            row.detail = format!(
                "no bundle :{tag}; run `vns attach {}`",
                reference.at_digest(&fetched.digest)
            );
            return row;
        }
        Ok(Some(layers)) if layers.iter().cloned().collect::<BTreeSet<_>>() != wanted => {
            row.posture = Posture::BundleStale;
            row.detail =
                "the bundle lists other signatures than the registry holds; run `vns attach` again"
                    .into();
            return row;
        }
        Ok(Some(_)) => {}
        Err(e) => {
            row.detail = e.to_string();
            return row;
        }
    }
    let leaf_expiry = verdict
        .passing_signature()
        .and_then(|s| fetched.signatures.get(s.index))
        .and_then(|s| {
            notation_verifier::envelope::parse_and_verify(&s.media_type, &s.envelope).ok()
        })
        .and_then(|env| env.chain.first().map(|c| c.not_after()));
    match leaf_expiry {
        Some(t) if t < now + window => {
            row.posture = Posture::CertExpiring;
            row.detail = format!("the signing certificate expires {}", t.format("%Y-%m-%d"));
        }
        _ => {
            row.posture = Posture::Verified;
            row.detail = format!("statement \"{}\"", verdict.statement.unwrap_or_default());
        }
    }
    row
}

pub fn render_table(rows: &[ScanRow]) -> String {
    let width = rows.iter().map(|r| r.image.len()).max().unwrap_or(5).max(5);
    let mut out = format!("{:<width$}  {:<18}  DETAIL\n", "IMAGE", "POSTURE");
    for r in rows {
        let posture = serde_json::to_value(r.posture)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        out.push_str(&format!(
            "{:<width$}  {:<18}  {}\n",
            r.image, posture, r.detail
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_come_from_every_workload_kind_list_and_image_volume() {
        let text = r#"
apiVersion: apps/v1
kind: Deployment
spec:
  template:
    spec:
      initContainers: [{name: i, image: "reg.example/init:1"}]
      containers: [{name: a, image: "reg.example/app:1"}, {name: b, image: "reg.example/app:1"}]
---
apiVersion: batch/v1
kind: CronJob
spec:
  jobTemplate:
    spec:
      template:
        spec:
          containers: [{name: c, image: "reg.example/cron:2"}]
          volumes: [{name: m, image: {reference: "reg.example/models:3"}}, {name: e, emptyDir: {}}]
---
apiVersion: v1
kind: ConfigMap
data: {image: "reg.example/not-an-image:1"}
"#;
        let docs = parse_documents(text).unwrap();
        assert_eq!(
            images_in_objects(&docs),
            // containers before initContainers within an object, objects in order
            vec![
                "reg.example/app:1",
                "reg.example/init:1",
                "reg.example/cron:2",
                "reg.example/models:3"
            ]
        );
        let list = serde_json::json!({"kind": "List", "items": [
            {"kind": "Pod", "spec": {"containers": [{"name": "x", "image": "reg.example/pod:1"}],
                                     "ephemeralContainers": [{"name": "d", "image": "reg.example/debug:1"}]}}]});
        assert_eq!(
            images_in_objects(&[list]),
            vec!["reg.example/pod:1", "reg.example/debug:1"]
        );
    }

    #[test]
    fn yaml_documents_keep_core_scalars_and_errors_name_the_line() {
        let docs = parse_documents("a: yes\nb: 0755\n---\n---\nc: 1_000\nd: true\n").unwrap();
        assert_eq!(
            docs,
            vec![
                serde_json::json!({"a": "yes", "b": "0755"}),
                serde_json::json!({"c": "1_000", "d": true}),
            ]
        );
        let err = parse_documents("kind: Pod\n---\nspec: [\n").unwrap_err();
        assert!(err.contains("line 3"), "{err}");
        let err = parse_documents("kind: Pod\nkind: Job\n").unwrap_err();
        assert!(err.contains("duplicate") && err.contains("line 2"), "{err}");
    }
}
