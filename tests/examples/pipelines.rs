//! The pipeline examples: parsed, every shell step through `bash -n` (with
//! the runner's expressions substituted as the runner substitutes them),
//! every tool installed in the job that calls it, every reference to
//! another job or step declared.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::{bash_syntax, documents};

/// One job's shell steps in order: (origin, script, logged in to Azure).
type Steps = Vec<(String, String, bool)>;

/// What a job has installed so far, from the install lines of its steps.
#[derive(Default)]
struct Installed {
    notation: bool,
    akv_plugin: bool,
    vns: bool,
}

/// Walks a job's scripts line by line: a tool may be called only after
/// the job installed it (each job runs on a fresh runner), notation and its
/// plugin only with checksum verification, `az` only after an Azure login.
fn check_tools(job: &str, steps: &Steps) -> Result<(), String> {
    let mut have = Installed::default();
    for (origin, script, azure) in steps {
        let mut checksum_verified = false;
        for line in script.lines().map(str::trim) {
            let first = line.split_whitespace().next().unwrap_or_default();
            if line.contains("sha256sum -c") {
                checksum_verified = true;
            }
            let mut words = line.split_whitespace();
            let command = match words.next() {
                Some("sudo") => words.next(),
                other => other,
            };
            if command == Some("tar") && line.contains("notation.tar.gz") {
                if !checksum_verified {
                    return Err(format!(
                        "{job}/{origin}: notation extracted before its checksum is verified"
                    ));
                }
                have.notation = true;
            }
            if line.contains("docker cp") && line.ends_with("/usr/local/bin/vns") {
                have.vns = true;
            }
            match first {
                "notation" => {
                    if !have.notation {
                        return Err(format!(
                            "{job}/{origin}: `notation` is called before the job installs it"
                        ));
                    }
                    if line.starts_with("notation plugin install") {
                        if !line.contains("--sha256sum") {
                            return Err(format!(
                                "{job}/{origin}: the plugin is installed without --sha256sum"
                            ));
                        }
                        have.akv_plugin = true;
                    }
                    if line.contains("--plugin azure-kv") && !have.akv_plugin {
                        return Err(format!(
                            "{job}/{origin}: azure-kv is used before the job installs it"
                        ));
                    }
                }
                "vns" if !have.vns => {
                    return Err(format!(
                        "{job}/{origin}: `vns` is called before the job installs it"
                    ))
                }
                "az" if !azure => {
                    return Err(format!(
                        "{job}/{origin}: `az` is called without an Azure login"
                    ))
                }
                _ => {}
            }
        }
    }
    Ok(())
}

fn scalar<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

/// `${{ expr }}` spans of a text.
fn expressions(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${{") {
        let Some(len) = rest[start..].find("}}") else {
            break;
        };
        out.push(rest[start + 3..start + len].trim().to_string());
        rest = &rest[start + len + 2..];
    }
    out
}

fn github_jobs() -> Vec<(String, Value)> {
    let workflow = documents("github-actions.yml").remove(0);
    workflow["jobs"]
        .as_object()
        .expect("jobs")
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn github_actions_steps_parse_and_every_reference_is_declared() {
    let workflow = documents("github-actions.yml").remove(0);
    assert_eq!(
        workflow["permissions"]["id-token"], "write",
        "OIDC for azure/login"
    );
    let jobs = github_jobs();
    let names: BTreeSet<&str> = jobs.iter().map(|(k, _)| k.as_str()).collect();
    for (job, spec) in &jobs {
        let needs: BTreeSet<String> = match &spec["needs"] {
            Value::String(s) => [s.clone()].into(),
            Value::Array(a) => a
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect(),
            _ => BTreeSet::new(),
        };
        for n in &needs {
            assert!(names.contains(n.as_str()), "{job}: needs unknown job {n}");
        }
        let text = serde_json::to_string(spec).unwrap();
        let step_ids: BTreeSet<&str> = spec["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["id"].as_str())
            .collect();
        for expr in expressions(&text) {
            if let Some(rest) = expr.strip_prefix("needs.") {
                let other = rest.split('.').next().unwrap();
                assert!(
                    needs.contains(other),
                    "{job}: ${{{{ {expr} }}}} without `needs: {other}`"
                );
                let output = rest.rsplit('.').next().unwrap();
                let declared = jobs.iter().find(|(k, _)| k == other).unwrap();
                assert!(
                    !declared.1["outputs"][output].is_null(),
                    "{job}: job {other} has no output {output}"
                );
            }
            if let Some(rest) = expr.strip_prefix("steps.") {
                let id = rest.split('.').next().unwrap();
                assert!(step_ids.contains(id), "{job}: no step with id {id}");
            }
        }
        let mut steps: Steps = Vec::new();
        let mut logged_in = false;
        for (i, step) in spec["steps"].as_array().unwrap().iter().enumerate() {
            let uses = scalar(step, "uses");
            if uses.starts_with("azure/login@") {
                // Workload identity federation: ids only, no secret.
                assert!(
                    !step["with"]["client-id"].is_null(),
                    "{job}: azure/login without client-id"
                );
                assert!(step["with"]["creds"].is_null() && step["with"]["client-secret"].is_null());
                logged_in = true;
            }
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let origin = format!("step {i} ({})", scalar(step, "name"));
            // The runner replaces each expression with its value before bash runs.
            let mut script = run.to_string();
            for expr in expressions(run) {
                script = script.replace(&format!("${{{{ {expr} }}}}"), "GITHUB_EXPRESSION");
            }
            bash_syntax(&script, &format!("github-actions.yml {job} {origin}"))
                .unwrap_or_else(|e| panic!("{e}"));
            steps.push((origin, script, logged_in));
        }
        check_tools(job, &steps).unwrap_or_else(|e| panic!("github-actions.yml: {e}"));
    }
    let gate = &jobs
        .iter()
        .find(|(k, _)| k == "deploy")
        .expect("deploy job")
        .1;
    let gate_text = serde_json::to_string(gate).unwrap();
    assert!(
        gate_text.contains("vns verify"),
        "the deploy job gates on vns verify"
    );
    assert!(gate_text.contains("az webapp config container set"));
    let sign = serde_json::to_string(&jobs.iter().find(|(k, _)| k == "sign").unwrap().1).unwrap();
    assert!(sign.contains("notation sign") && sign.contains("vns attach"));
}

/// Azure macros `$(name)`; `$(command ...)` (a space) is bash's own.
fn azure_macros(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        let tail = &rest[start + 2..];
        let end = tail.find(')').unwrap_or(0);
        let name = &tail[..end];
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            out.push(name.to_string());
        }
        rest = tail;
    }
    out
}

/// (stage, job, steps, variables visible to the job).
fn azure_jobs(pipeline: &Value) -> Vec<(String, String, Vec<Value>, BTreeSet<String>)> {
    let globals: BTreeSet<String> = pipeline["variables"]
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    let mut out = Vec::new();
    for stage in pipeline["stages"].as_array().expect("stages") {
        let mut vars = globals.clone();
        if let Some(m) = stage["variables"].as_object() {
            vars.extend(m.keys().cloned());
        }
        for job in stage["jobs"].as_array().expect("jobs") {
            let steps = if job["steps"].is_array() {
                &job["steps"]
            } else {
                &job["strategy"]["runOnce"]["deploy"]["steps"]
            };
            let name = scalar(job, "job").to_string() + scalar(job, "deployment");
            let steps = steps.as_array().expect("steps").clone();
            out.push((
                scalar(stage, "stage").to_string(),
                name,
                steps,
                vars.clone(),
            ));
        }
    }
    out
}

#[test]
fn azure_pipelines_steps_parse_and_every_variable_is_defined() {
    let pipeline = documents("azure-pipelines.yml").remove(0);
    let jobs = azure_jobs(&pipeline);
    assert_eq!(
        jobs.iter().map(|j| j.0.as_str()).collect::<Vec<_>>(),
        ["Build", "Sign", "Deploy"]
    );
    let mut outputs = BTreeSet::new();
    for (stage, job, steps, vars) in &jobs {
        let mut shell: Steps = Vec::new();
        for (i, step) in steps.iter().enumerate() {
            let azure_cli = scalar(step, "task").starts_with("AzureCLI@");
            let script = if azure_cli {
                assert_eq!(step["inputs"]["scriptType"], "bash", "{stage}/{job}");
                step["inputs"]["inlineScript"].as_str()
            } else {
                step["bash"].as_str().or(step["script"].as_str())
            };
            let Some(script) = script else { continue };
            let origin = format!("step {i} ({})", scalar(step, "displayName"));
            for name in azure_macros(script) {
                let predefined = ["Build.", "System.", "Agent.", "Pipeline."]
                    .iter()
                    .any(|p| name.starts_with(p));
                assert!(
                    predefined || vars.contains(&name),
                    "{stage}/{job} {origin}: $({name}) is not defined"
                );
            }
            for line in script.lines() {
                if let Some(rest) = line.split("task.setvariable variable=").nth(1) {
                    let var = rest.split(';').next().unwrap();
                    assert!(
                        rest.contains("isOutput=true"),
                        "{stage}/{job}: {var} is not an output"
                    );
                    outputs.insert(format!("{stage}.{job}.{}.{var}", scalar(step, "name")));
                }
            }
            let mut text = script.to_string();
            for name in azure_macros(script) {
                text = text.replace(&format!("$({name})"), "AZURE_MACRO");
            }
            bash_syntax(
                &text,
                &format!("azure-pipelines.yml {stage} {job} {origin}"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            shell.push((origin, text, azure_cli));
        }
        check_tools(&format!("{stage}/{job}"), &shell)
            .unwrap_or_else(|e| panic!("azure-pipelines.yml: {e}"));
    }
    // Stage variables read outputs that an earlier stage declares and the
    // stage depends on.
    for stage in pipeline["stages"].as_array().unwrap() {
        let depends = serde_json::to_string(&stage["dependsOn"]).unwrap();
        for value in stage["variables"].as_object().into_iter().flatten() {
            let value = value.1.as_str().unwrap_or_default();
            let Some(rest) = value.split("stageDependencies.").nth(1) else {
                continue;
            };
            let mut parts = rest.split('.');
            let (from, job) = (parts.next().unwrap(), parts.next().unwrap());
            let key = rest.split("['").nth(1).unwrap().split("']").next().unwrap();
            assert!(
                depends.contains(from),
                "{}: reads {from} without dependsOn",
                scalar(stage, "stage")
            );
            assert!(
                outputs.contains(&format!("{from}.{job}.{key}")),
                "{from}.{job}: no output {key}"
            );
        }
    }
    let text = serde_json::to_string(&pipeline).unwrap();
    for needle in [
        "notation sign",
        "vns attach",
        "vns verify",
        "az webapp config container set",
    ] {
        assert!(text.contains(needle), "azure-pipelines.yml lacks {needle}");
    }
}

#[test]
fn pinned_versions_and_checksums() {
    let gh = documents("github-actions.yml").remove(0);
    let az = documents("azure-pipelines.yml").remove(0);
    let hex64 = |v: &Value| {
        v.as_str()
            .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
    };
    let version = |v: &Value| {
        v.as_str().is_some_and(|s| {
            s.split('.').count() == 3 && s.split('.').all(|p| p.parse::<u32>().is_ok())
        })
    };
    for (env, keys) in [
        (
            &gh["env"],
            [
                "NOTATION_VERSION",
                "NOTATION_SHA256",
                "AKV_PLUGIN_VERSION",
                "AKV_PLUGIN_SHA256",
            ],
        ),
        (
            &az["variables"],
            [
                "notationVersion",
                "notationSha256",
                "akvPluginVersion",
                "akvPluginSha256",
            ],
        ),
    ] {
        assert!(version(&env[keys[0]]) && hex64(&env[keys[1]]), "{env}");
        assert!(version(&env[keys[2]]) && hex64(&env[keys[3]]), "{env}");
    }
    assert_eq!(
        gh["env"]["NOTATION_SHA256"],
        az["variables"]["notationSha256"]
    );
    assert_eq!(
        gh["env"]["AKV_PLUGIN_SHA256"],
        az["variables"]["akvPluginSha256"]
    );
}

#[test]
fn the_tool_check_refuses_a_job_that_skips_an_install() {
    let steps: Steps = vec![("s".into(), "vns attach \"$IMAGE\"\n".into(), false)];
    assert!(check_tools("j", &steps).is_err());
    let steps: Steps = vec![(
        "s".into(),
        "curl -fsSLo notation.tar.gz URL\nsudo tar -xzf notation.tar.gz -C /usr/local/bin notation\n".into(),
        false,
    )];
    assert!(check_tools("j", &steps).is_err(), "no checksum");
    let steps: Steps = vec![("s".into(), "az acr login --name x\n".into(), false)];
    assert!(check_tools("j", &steps).is_err(), "no login");
}
