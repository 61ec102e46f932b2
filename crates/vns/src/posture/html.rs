//! The report as one self-contained HTML page: inline CSS, charts drawn as
//! inline SVG, no script and no external asset, so it can be mailed,
//! attached to a pipeline run or opened from disk. Every number carries
//! `data-*` attributes naming what it counts (the browser test compares
//! them with the JSON report).

use std::fmt::Write;

use super::report::{class_name, Phase, Report, Summary, CLASSES};
use crate::scan::Posture;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn color(p: Posture) -> &'static str {
    match p {
        Posture::Verified => "#2e7d32",
        Posture::Skipped => "#9e9e9e",
        Posture::Excepted => "#78909c",
        Posture::CertExpiring => "#c0ca33",
        Posture::ExceptionExpiring => "#fbc02d",
        Posture::BundleMissing | Posture::BundleStale => "#ef6c00",
        Posture::Unsigned => "#d32f2f",
        Posture::UntrustedSigner => "#8e24aa",
        Posture::RotatedOut => "#3949ab",
        Posture::Failing => "#b71c1c",
        Posture::NoPolicy | Posture::Error => "#424242",
    }
}

const PHASES: [(Phase, &str); 3] = [
    (Phase::SignOnly, "sign-only"),
    (Phase::VerifyWarn, "verify-warn"),
    (Phase::VerifyEnforce, "verify-enforce"),
];

fn phase_name(p: Phase) -> &'static str {
    PHASES
        .iter()
        .find(|(q, _)| *q == p)
        .map(|(_, n)| *n)
        .unwrap_or("sign-only")
}

/// Three steps, those reached filled: the phase a source is ready for.
fn phase_svg(s: &Summary, out: &mut String) {
    let reached = PHASES
        .iter()
        .position(|(p, _)| *p == s.verdict.phase)
        .unwrap_or(0);
    let _ = write!(
        out,
        r#"<svg class="phase" data-source="{}" data-phase="{}" width="460" height="44" viewBox="0 0 460 44" role="img" aria-label="{}: {}">"#,
        esc(&s.name),
        phase_name(s.verdict.phase),
        esc(&s.name),
        phase_name(s.verdict.phase)
    );
    for (i, (_, name)) in PHASES.iter().enumerate() {
        let x = 10 + i * 150;
        let fill = if i <= reached { "#2e7d32" } else { "#e0e0e0" };
        let text = if i <= reached { "#fff" } else { "#424242" };
        let _ = write!(
            out,
            r#"<rect x="{x}" y="4" width="140" height="34" rx="17" fill="{fill}"/><text x="{}" y="26" text-anchor="middle" fill="{text}" font-size="13">{name}</text>"#,
            x + 70
        );
    }
    out.push_str("</svg>");
}

/// A horizontal bar of the image classes of a source, widths by count.
fn classes_svg(s: &Summary, out: &mut String) {
    let total = s.images.max(1) as f64;
    let _ = write!(
        out,
        r#"<svg class="classes" data-source="{}" width="600" height="28" viewBox="0 0 600 28" role="img" aria-label="image classes of {}">"#,
        esc(&s.name),
        esc(&s.name)
    );
    let mut x = 0.0;
    for c in CLASSES {
        let n = s.images_by_class.get(&class_name(c)).copied().unwrap_or(0);
        if n == 0 {
            continue;
        }
        let w = 600.0 * n as f64 / total;
        let _ = write!(
            out,
            r#"<rect class="segment" data-class="{}" data-count="{n}" x="{x:.1}" y="2" width="{w:.1}" height="24" fill="{}"><title>{}: {n}</title></rect>"#,
            class_name(c),
            color(c),
            class_name(c)
        );
        x += w;
    }
    out.push_str("</svg>");
}

fn counts_table(report: &Report, out: &mut String) {
    let all: Vec<&Summary> = report
        .sources
        .iter()
        .chain(std::iter::once(&report.total))
        .collect();
    out.push_str(r#"<table class="counts"><thead><tr><th>class</th>"#);
    for s in &all {
        let _ = write!(out, r#"<th colspan="2">{}</th>"#, esc(&s.name));
    }
    out.push_str("</tr><tr><th></th>");
    for _ in &all {
        out.push_str("<th>images</th><th>workloads</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for c in CLASSES {
        let name = class_name(c);
        let _ = write!(
            out,
            r#"<tr><td><span class="swatch" style="background:{}"></span>{name}</td>"#,
            color(c)
        );
        for s in &all {
            for (kind, map) in [
                ("images", &s.images_by_class),
                ("workloads", &s.workloads_by_class),
            ] {
                let _ = write!(
                    out,
                    r#"<td class="count" data-source="{}" data-class="{name}" data-kind="{kind}">{}</td>"#,
                    esc(&s.name),
                    map.get(&name).copied().unwrap_or(0)
                );
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("<tr class=\"sum\"><td>all</td>");
    for s in &all {
        let _ = write!(
            out,
            r#"<td class="count" data-source="{0}" data-class="all" data-kind="images">{1}</td><td class="count" data-source="{0}" data-class="all" data-kind="workloads">{2}</td>"#,
            esc(&s.name),
            s.images,
            s.workloads
        );
    }
    out.push_str("</tr></tbody></table>");
}

/// Tags shown after an image reference (digest references say little).
fn tags(tags: &[String]) -> String {
    if tags.is_empty() {
        String::new()
    } else {
        format!(
            " <span class=\"tags\">tags {}</span>",
            esc(&tags.join(", "))
        )
    }
}

/// `open`: the list starts unfolded (sources) or folded (the total).
fn blockers(s: &Summary, open: bool, out: &mut String) {
    let (next, list) = if s.verdict.ready_for_verify_warn {
        ("verify-enforce", &s.verdict.blocking_verify_enforce)
    } else {
        ("verify-warn", &s.verdict.blocking_verify_warn)
    };
    if s.verdict.ready_for_verify_enforce {
        let _ = write!(
            out,
            r#"<p class="ready" data-source="{}">Ready for verify-enforce.</p>"#,
            esc(&s.name)
        );
        return;
    }
    let _ = write!(
        out,
        r#"<details class="blocking" data-source="{}" data-next="{next}" data-count="{}"{}><summary>{} item(s) block {next}</summary><ul>"#,
        esc(&s.name),
        list.len(),
        if open { " open" } else { "" },
        list.len()
    );
    if list.is_empty() {
        out.push_str("<li>no image is verified yet</li>");
    }
    for b in list {
        let _ = write!(
            out,
            r#"<li><b>{}</b> <code>{}</code>{} ({} workload(s)) {}</li>"#,
            esc(&b.class),
            esc(&b.image),
            tags(&b.tags),
            b.workloads,
            esc(&b.detail)
        );
    }
    out.push_str("</ul></details>");
}

fn work_list(s: &Summary, out: &mut String) {
    if s.work_list.is_empty() {
        out.push_str("<p>No workload uses an image that is not verified.</p>");
        return;
    }
    out.push_str(r#"<table class="work"><thead><tr><th>namespace</th><th>source</th><th>workload</th><th>site</th><th>image</th><th>class</th></tr></thead><tbody>"#);
    for ns in &s.work_list {
        for (i, item) in ns.items.iter().enumerate() {
            let head = if i == 0 {
                format!(
                    r#"<th rowspan="{}" class="namespace" data-namespace="{}" data-count="{}">{}</th>"#,
                    ns.items.len(),
                    esc(&ns.namespace),
                    ns.items.len(),
                    if ns.namespace.is_empty() {
                        "(none)".to_string()
                    } else {
                        esc(&ns.namespace)
                    }
                )
            } else {
                String::new()
            };
            let _ = write!(
                out,
                r#"<tr class="item">{head}<td>{}</td><td>{}/{}</td><td>{}</td><td><code>{}</code></td><td title="{}">{}</td></tr>"#,
                esc(&item.source),
                esc(&item.kind),
                esc(&item.name),
                esc(&item.site),
                esc(&item.image),
                esc(&item.detail),
                esc(&item.class)
            );
        }
    }
    out.push_str("</tbody></table>");
}

fn exceptions(s: &Summary, days: i64, out: &mut String) {
    if s.expiring_exceptions.is_empty() {
        let _ = write!(out, "<p>No exception ends within {days} days.</p>");
        return;
    }
    out.push_str(r#"<table class="exceptions"><thead><tr><th>exception</th><th>source</th><th>ends</th><th>days left</th><th>images</th><th>workloads</th></tr></thead><tbody>"#);
    for e in &s.expiring_exceptions {
        let _ = write!(
            out,
            r#"<tr class="exception" data-exception="{}" data-source="{}"><td><code>{}</code></td><td>{}</td><td>{}</td><td class="days">{}</td><td>{}</td><td>{}</td></tr>"#,
            esc(&e.exception),
            esc(&e.source),
            esc(&e.exception),
            esc(&e.source),
            e.expires.format("%Y-%m-%d"),
            e.days_left,
            e.images.len(),
            e.workloads
        );
    }
    out.push_str("</tbody></table>");
}

fn pipelines(s: &Summary, out: &mut String) {
    if s.pipelines_not_signing.is_empty() {
        out.push_str("<p>Every image found is signed.</p>");
        return;
    }
    out.push_str(r#"<ul class="pipelines">"#);
    for p in &s.pipelines_not_signing {
        let _ = write!(
            out,
            r#"<li data-pipeline="{}" data-count="{}"><code>{}</code>: {} unsigned image(s)<ul>"#,
            esc(&p.pipeline),
            p.images.len(),
            esc(&p.pipeline),
            p.images.len()
        );
        for i in &p.images {
            let _ = write!(
                out,
                "<li><code>{}</code>{}{}</li>",
                esc(&i.image),
                tags(&i.tags),
                i.revision
                    .as_ref()
                    .map(|r| format!(" <span class=\"revision\">revision {}</span>", esc(r)))
                    .unwrap_or_default()
            );
        }
        out.push_str("</ul></li>");
    }
    out.push_str("</ul>");
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#212121}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}\
td.count{text-align:right;font-variant-numeric:tabular-nums}tr.sum td{font-weight:600}\
.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}\
.source{margin:10px 0}.source h3{margin:4px 0;font-size:15px}code{font-size:12px}\
.ready{color:#2e7d32;font-weight:600}.tags,.revision{color:#616161;font-size:12px}details.blocking summary{color:#b71c1c;font-weight:600}";

pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Signing posture</title><style>{STYLE}</style></head><body data-generated="{}" data-sources="{}"><h1>Signing posture</h1><p>Report of {} source(s), made {} UTC; exceptions ending within {} days are flagged.</p>"#,
        report.generated_at.to_rfc3339(),
        report.sources.len(),
        report.sources.len(),
        report.generated_at.format("%Y-%m-%d %H:%M"),
        report.expiring_within_days
    );
    out.push_str("<h2>Phase progress</h2>");
    for (i, s) in report
        .sources
        .iter()
        .chain(std::iter::once(&report.total))
        .enumerate()
    {
        let _ = write!(
            out,
            r#"<div class="source" data-source="{}"><h3>{}</h3>"#,
            esc(&s.name),
            esc(&s.name)
        );
        phase_svg(s, &mut out);
        blockers(s, i < report.sources.len(), &mut out);
        out.push_str("</div>");
    }
    out.push_str("<h2>Classes per source</h2>");
    for s in report.sources.iter().chain(std::iter::once(&report.total)) {
        let _ = write!(out, r#"<div class="source"><h3>{}</h3>"#, esc(&s.name));
        classes_svg(s, &mut out);
        out.push_str("</div>");
    }
    counts_table(report, &mut out);
    out.push_str("<h2>Work list per namespace</h2>");
    work_list(&report.total, &mut out);
    out.push_str("<h2>Expiring exceptions</h2>");
    exceptions(&report.total, report.expiring_within_days, &mut out);
    out.push_str("<h2>Pipelines not signing yet</h2>");
    pipelines(&report.total, &mut out);
    out.push_str("</body></html>\n");
    out
}
