//! Every file in examples/ works as written: Kubernetes manifests validated
//! against the Kubewarden CRD schemas (vendored in testdata/kubewarden-crds,
//! unknown fields refused as `kubectl apply --validate=strict` refuses them)
//! and core kinds by a typed decode (k8s-openapi) that refuses unknown
//! fields; the policy settings in them accepted by the built module's
//! `validate_settings`; the pipelines parsed, every shell step checked by
//! `bash -n`, every tool installed (pinned, checksum-verified) in the job
//! that calls it, every cross-job reference declared.

mod common;
#[path = "examples/manifests.rs"]
mod manifests;
#[path = "examples/pipelines.rs"]
mod pipelines;

use std::path::PathBuf;

use serde_json::Value;

pub fn examples_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every YAML document of a file, as JSON values (the shape the API server
/// and the pipeline runners see).
pub fn documents(name: &str) -> Vec<Value> {
    let path = examples_dir().join(name);
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text)
        .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"))
}

/// `bash -n` over a script; the error names where it came from.
pub fn bash_syntax(script: &str, origin: &str) -> Result<(), String> {
    let dir = tempfile_dir();
    let file = dir.join(format!(
        "{}.sh",
        origin.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
    ));
    std::fs::write(&file, script).map_err(|e| e.to_string())?;
    let out = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .output()
        .map_err(|e| format!("run bash: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{origin}: bash -n: {}\n--- script ---\n{script}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn tempfile_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("examples-scripts");
    std::fs::create_dir_all(&dir).expect("create the scripts directory");
    dir
}

/// The fenced ```console blocks of a Markdown file, each as a script
/// (prompts `$ ` removed; continuation lines kept).
pub fn console_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```console") || l.starts_with("```bash") => {
                current = Some(String::new())
            }
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(block), _) => {
                block.push_str(line.strip_prefix("$ ").unwrap_or(line));
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

#[test]
fn every_example_file_is_checked() {
    // A new example must be added to one of the checks below.
    let checked = [
        "README.md",
        "azure-pipelines.yml",
        "cluster-admission-policy-aks.yaml",
        "cluster-admission-policy-monitor.yaml",
        "github-actions.yml",
        "notation-settings.yaml",
        "policy-server.yaml",
        "trust-store-from-key-vault.yaml",
        "vns-posture-cronjob.yaml",
        "vns-sync-cronjob.yaml",
    ];
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    found.sort();
    assert_eq!(found, checked, "examples/ and the checks disagree");
}

#[test]
fn the_commands_in_the_examples_readme_and_the_operations_guide_parse() {
    for path in [
        examples_dir().join("README.md"),
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/operations.md"),
    ] {
        let text = std::fs::read_to_string(&path).unwrap();
        let blocks = console_blocks(&text);
        assert!(!blocks.is_empty(), "{}: no console block", path.display());
        for (i, block) in blocks.iter().enumerate() {
            bash_syntax(block, &format!("{} block {i}", path.display()))
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

#[test]
fn bash_syntax_refuses_a_broken_script() {
    // The check above can fail: an unclosed quote is refused.
    assert!(bash_syntax("echo \"unclosed\n", "self-test").is_err());
    assert!(bash_syntax("if true; then echo\n", "self-test").is_err());
    assert!(bash_syntax("echo fine\n", "self-test").is_ok());
}
