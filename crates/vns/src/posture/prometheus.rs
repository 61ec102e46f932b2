//! The report as Prometheus metrics (text exposition format), for a
//! node-exporter textfile collector or a Pushgateway job: a scheduled scan
//! becomes a time series to alert on. Encoded by `prometheus-client` (the
//! Prometheus project's Rust client) so escaping and the format's rules are
//! not ours to get right.
//!
//! One series per source; totals are PromQL's job (`sum by (class)`), and
//! a source named "total" could not be told apart from a total label.

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use super::report::{Phase, Report};
use super::PostureError;

type Labels = Vec<(&'static str, String)>;

fn family(registry: &mut Registry, name: &str, help: &str) -> Family<Labels, Gauge> {
    let f = Family::<Labels, Gauge>::default();
    registry.register(name, help, f.clone());
    f
}

fn count(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

pub fn render(report: &Report) -> Result<String, PostureError> {
    let mut registry = Registry::with_prefix("vns_posture");
    let images = family(&mut registry, "images", "Images per posture class");
    let workloads = family(
        &mut registry,
        "workloads",
        "Workloads per posture class (the class of their worst image)",
    );
    let phase = family(
        &mut registry,
        "phase",
        "1 for the furthest rollout phase the source is ready for",
    );
    let blocking = family(
        &mut registry,
        "blocking_images",
        "Images that keep the source from the phase",
    );
    let pipelines = family(
        &mut registry,
        "pipelines_not_signing",
        "Build sources (pipelines) with unsigned images",
    );
    let expiring = family(
        &mut registry,
        "exception_expiry_timestamp_seconds",
        "End of each exception that ends within the report window",
    );
    let generated = Gauge::<i64>::default();
    registry.register(
        "report_timestamp_seconds",
        "When the report was made (alert when it stops moving)",
        generated.clone(),
    );
    generated.set(report.generated_at.timestamp());
    for s in &report.sources {
        let source = || ("source", s.name.clone());
        for (class, n) in &s.images_by_class {
            images
                .get_or_create(&vec![source(), ("class", class.clone())])
                .set(count(*n));
        }
        for (class, n) in &s.workloads_by_class {
            workloads
                .get_or_create(&vec![source(), ("class", class.clone())])
                .set(count(*n));
        }
        for (p, name) in [
            (Phase::SignOnly, "sign-only"),
            (Phase::VerifyWarn, "verify-warn"),
            (Phase::VerifyEnforce, "verify-enforce"),
        ] {
            phase
                .get_or_create(&vec![source(), ("phase", name.to_string())])
                .set(i64::from(s.verdict.phase == p));
        }
        blocking
            .get_or_create(&vec![source(), ("phase", "verify-warn".to_string())])
            .set(count(s.verdict.blocking_verify_warn.len()));
        blocking
            .get_or_create(&vec![source(), ("phase", "verify-enforce".to_string())])
            .set(count(s.verdict.blocking_verify_enforce.len()));
        pipelines
            .get_or_create(&vec![source()])
            .set(count(s.pipelines_not_signing.len()));
        for e in &s.expiring_exceptions {
            expiring
                .get_or_create(&vec![source(), ("exception", e.exception.clone())])
                .set(e.expires.timestamp());
        }
    }
    let mut out = String::new();
    encode_registry(&mut out, &registry).map_err(|e| PostureError::Encode {
        what: "prometheus",
        message: e.to_string(),
    })?;
    Ok(sorted(&out))
}

/// The samples of each family in a stable order (the client keeps them in
/// a hash map), so that two runs over the same findings print the same
/// text and a diff of two reports shows only what changed.
fn sorted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut samples: Vec<&str> = Vec::new();
    let flush = |samples: &mut Vec<&str>, out: &mut String| {
        samples.sort_unstable();
        for line in samples.drain(..) {
            out.push_str(line);
            out.push('\n');
        }
    };
    for line in text.lines() {
        if line.starts_with('#') {
            flush(&mut samples, &mut out);
            out.push_str(line);
            out.push('\n');
        } else if !line.is_empty() {
            samples.push(line);
        }
    }
    flush(&mut samples, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_sorted_within_their_family() {
        let text = "# HELP a A.\n# TYPE a gauge\na{s=\"y\"} 1\na{s=\"x\"} 2\n# HELP b B.\nb 3\n";
        assert_eq!(
            sorted(text),
            "# HELP a A.\n# TYPE a gauge\na{s=\"x\"} 2\na{s=\"y\"} 1\n# HELP b B.\nb 3\n"
        );
    }
}
