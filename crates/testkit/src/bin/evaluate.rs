//! `evaluate --policy policy.wasm --settings S.json --request R.json`: runs
//! one admission request through the policy in the waPC host, answering
//! host calls from the real registry, like `kwctl run` (which is used
//! instead where it is installed). Prints the validation response and the
//! host calls made.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::Value;
use testkit::host::{PolicyHost, RegistryBackend};

fn arg(args: &[String], name: &str) -> Option<PathBuf> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
}

fn read_json(path: &PathBuf) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &[String]) -> Result<bool, String> {
    let usage =
        "usage: evaluate --policy policy.wasm --settings settings.json --request request.json";
    let policy = arg(args, "--policy").ok_or(usage)?;
    let settings = read_json(&arg(args, "--settings").ok_or(usage)?)?;
    let request = read_json(&arg(args, "--request").ok_or(usage)?)?;
    // kwctl takes either an AdmissionReview or the bare request.
    let request = request.get("request").cloned().unwrap_or(request);
    let host = PolicyHost::load(&policy)
        .map_err(|e| e.to_string())?
        .with_backend(Arc::new(RegistryBackend::new()));
    let evaluation = host
        .validate(&request, &settings)
        .map_err(|e| e.to_string())?;
    for call in &evaluation.calls {
        let outcome = match &call.result {
            Ok(_) => "ok".to_string(),
            Err(e) => format!("error: {}", e.lines().next().unwrap_or_default()),
        };
        eprintln!(
            "host call {} {} -> {outcome}",
            call.capability(),
            call.payload
        );
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&evaluation.raw).map_err(|e| e.to_string())?
    );
    Ok(evaluation.response.accepted)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("evaluate: {e}");
            ExitCode::from(2)
        }
    }
}
