//! deploy/gatekeeper/ as Gatekeeper would take it: the ConstraintTemplate's
//! Rego evaluated by a Rego engine (regorus) with `external_data` bound to a
//! real HTTPS call to the running `vns serve`, on AdmissionReview objects;
//! every manifest validated against the vendored Gatekeeper CRD schemas
//! (testdata/gatekeeper-crds) or, for core kinds, a strict typed decode.

mod provider;

use std::path::{Path, PathBuf};

use provider::{repo_root, settings, write_settings, Provider, API_VERSION};
use serde_json::{json, Value};
use testkit::layout::{e2e_layout, push_layout};
use testkit::registry::TestRegistry;

fn deploy_dir() -> PathBuf {
    repo_root().join("deploy/gatekeeper")
}

fn documents(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_saphyr::from_str_multiple::<Value, Vec<Value>>(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()))
}

fn template() -> Value {
    documents(&deploy_dir().join("template.yaml")).remove(0)
}

/// What Gatekeeper's `external_data` gives Rego (its RegoResponse): item
/// values under `responses`, item errors under `errors`, as [key, x] pairs.
fn external_data(client: &reqwest::blocking::Client, url: &str, request: &Value) -> Value {
    let keys = request["keys"].clone();
    let body =
        json!({"apiVersion": API_VERSION, "kind": "ProviderRequest", "request": {"keys": keys}});
    let answer = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .and_then(|r| Ok((r.status().as_u16(), r.json::<Value>()?)));
    match answer {
        Ok((status, v)) => {
            let items = v["response"]["items"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let (errors, responses): (Vec<&Value>, Vec<&Value>) = items
                .iter()
                .partition(|i| i["error"].as_str().is_some_and(|e| !e.is_empty()));
            json!({
                "responses": responses.iter().map(|i| json!([i["key"], i["value"]])).collect::<Vec<_>>(),
                "errors": errors.iter().map(|i| json!([i["key"], i["error"]])).collect::<Vec<_>>(),
                "status_code": status,
                "system_error": v["response"]["systemError"].as_str().unwrap_or(""),
            })
        }
        Err(e) => {
            json!({"responses": [], "errors": [], "status_code": 0, "system_error": e.to_string()})
        }
    }
}

/// The template's Rego with `external_data` calling `url`.
fn engine(client: reqwest::blocking::Client, url: String) -> regorus::Engine {
    let rego = template()["spec"]["targets"][0]["rego"]
        .as_str()
        .unwrap()
        .to_string();
    let mut engine = regorus::Engine::new();
    // Gatekeeper templates are written in Rego v0 syntax.
    engine.set_rego_v0(true);
    engine.add_policy("template.rego".into(), rego).unwrap();
    engine
        .add_extension(
            "external_data".into(),
            1,
            Box::new(
                move |args: Vec<regorus::Value>| -> anyhow::Result<regorus::Value> {
                    let request: Value = serde_json::from_str(&args[0].to_json_str()?)?;
                    anyhow::ensure!(
                        request["provider"] == "vns-validate",
                        "unexpected provider: {request}"
                    );
                    let response = external_data(&client, &url, &request);
                    regorus::Value::from_json_str(&response.to_string())
                },
            ),
        )
        .unwrap();
    engine
}

/// Violation messages for one object, reviewed as Gatekeeper reviews it
/// (`input.review` is the AdmissionReview's request).
fn violations(engine: &mut regorus::Engine, object: Value) -> Vec<String> {
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": object["kind"]},
            "namespace": "shop", "object": object,
        }
    });
    let input = json!({"review": review["request"], "parameters": {}});
    engine.set_input(regorus::Value::from_json_str(&input.to_string()).unwrap());
    let result = engine
        .eval_rule("data.k8snotationsignatures.violation".into())
        .unwrap();
    let result: Value = serde_json::from_str(&result.to_json_str().unwrap()).unwrap();
    let mut messages: Vec<String> = result
        .as_array()
        .into_iter()
        .flatten()
        .map(|v| v["msg"].as_str().unwrap().to_string())
        .collect();
    messages.sort();
    messages
}

fn containers(images: &[&str]) -> Value {
    Value::Array(
        images
            .iter()
            .enumerate()
            .map(|(n, i)| json!({"name": format!("c{n}"), "image": i}))
            .collect(),
    )
}

#[test]
fn the_constraint_template_turns_item_errors_into_violations_for_failing_images_only() {
    let registry = TestRegistry::start().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let push = |layout: &str| {
        let repo = registry.unique_repository(layout);
        push_layout(&e2e_layout(layout), &repo).expect("push layout");
        repo
    };
    let valid = format!("{}:v1", push("e2e-valid-signature"));
    let unsigned = format!("{}:v1", push("e2e"));
    let untrusted_repo = push("e2e-valid-multiple-signatures");
    let untrusted = format!("{untrusted_repo}:v1");
    let excepted_repo = push("e2e");
    let excepted = format!("{excepted_repo}:v1");
    let skipped_repo = push("e2e");
    let skipped = format!("{skipped_repo}:v1");
    let path = dir.path().join("settings.yaml");
    write_settings(
        &path,
        &settings(
            &skipped_repo,
            &untrusted_repo,
            json!({"exceptions": [{"image": format!("{excepted_repo}:*"), "expires": "2999-01-01"}]}),
        ),
    );
    let server = Provider::start(&path, &["--client-ca={certs}/ca.crt"]);
    let mut engine = engine(server.client(true), server.url("/validate"));

    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": containers(&[&valid, &unsigned]), "initContainers": containers(&[&excepted])}});
    let v = violations(&mut engine, pod);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].starts_with(&format!("image {unsigned}: NO_SIGNATURE: ")),
        "{v:#?}"
    );

    let deployment = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": containers(&[&valid, &skipped]),
            "initContainers": containers(&[&untrusted])}}}});
    let v = violations(&mut engine, deployment);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].starts_with(&format!("image {untrusted}: UNTRUSTED_SIGNER: ")),
        "{v:#?}"
    );

    let clean = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "ok"},
        "spec": {"template": {"spec": {"containers": containers(&[&valid, &excepted, &skipped])}}}});
    assert_eq!(violations(&mut engine, clean), Vec::<String>::new());
    let cron = json!({"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": containers(&[&unsigned])}}}}}});
    assert_eq!(violations(&mut engine, cron).len(), 1);

    // A provider that cannot be reached: every object with images is a
    // violation (fail closed), not an admission.
    let address = server.address.clone();
    drop(server);
    let mut engine = engine_for_down(&address, dir.path());
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
        "spec": {"containers": containers(&[&valid])}});
    let v = violations(&mut engine, pod);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert!(
        v[0].starts_with("the Notation signature provider failed: "),
        "{v:#?}"
    );
}

fn engine_for_down(address: &str, dir: &Path) -> regorus::Engine {
    let certs = dir.join("down-certs");
    provider::make_certs(&certs);
    let client = provider::client_for(&certs, false, &[&rustls::version::TLS13]);
    engine(client, format!("https://{address}/validate"))
}

/// The openAPIV3Schema that a vendored Gatekeeper CRD serves for `apiVersion`/`kind`.
fn crd_schema(api_version: &str, kind: &str) -> Option<Value> {
    let (group, version) = api_version.split_once('/')?;
    let crds = repo_root().join("testdata/gatekeeper-crds");
    for entry in std::fs::read_dir(crds).ok()? {
        let path = entry.ok()?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let crd = documents(&path).remove(0);
        if crd["spec"]["group"] != group || crd["spec"]["names"]["kind"] != kind {
            continue;
        }
        let served = crd["spec"]["versions"]
            .as_array()?
            .iter()
            .find(|v| v["name"] == version && v["served"] == true)?;
        return Some(served["schema"]["openAPIV3Schema"].clone());
    }
    None
}

/// OpenAPI v3 as the API server applies it: declared properties only
/// (unless unknown fields are preserved), `nullable` admits null.
fn strict(schema: &mut Value) {
    if let Some(map) = schema.as_object_mut() {
        let preserves = map
            .get("x-kubernetes-preserve-unknown-fields")
            .is_some_and(|v| v == true);
        if map.contains_key("properties") && !map.contains_key("additionalProperties") && !preserves
        {
            map.insert("additionalProperties".into(), json!(false));
        }
        if map.get("nullable").is_some_and(|v| v == true) {
            if let Some(t) = map.get("type").and_then(Value::as_str).map(str::to_string) {
                map.insert("type".into(), json!([t, "null"]));
            }
        }
        map.values_mut().for_each(strict);
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(strict);
    }
}

fn crd_errors(doc: &Value) -> Vec<String> {
    let api_version = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let Some(mut schema) = crd_schema(api_version, kind) else {
        return vec![format!("no vendored CRD serves {api_version} {kind}")];
    };
    strict(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("the CRD schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn core_errors<T: serde::de::DeserializeOwned>(doc: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let decoded: Result<T, _> =
        serde_ignored::deserialize(doc.clone(), |path| unknown.push(path.to_string()));
    match decoded {
        Err(e) => vec![e.to_string()],
        Ok(_) => unknown
            .into_iter()
            .filter(|p| p != "apiVersion" && p != "kind")
            .map(|p| format!("{p}: unknown field"))
            .collect(),
    }
}

/// A Constraint against what Gatekeeper generates from the template: the
/// template's kind, a known enforcement action, known match fields, and no
/// parameters (the template declares none).
fn constraint_errors(doc: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    if doc["kind"] != template()["spec"]["crd"]["spec"]["names"]["kind"] {
        errors.push(format!("kind {} is not the template's", doc["kind"]));
    }
    let action = doc["spec"]["enforcementAction"]
        .as_str()
        .unwrap_or_default();
    if !["deny", "warn", "dryrun"].contains(&action) {
        errors.push(format!("enforcementAction {action:?}"));
    }
    let known = [
        "kinds",
        "namespaces",
        "excludedNamespaces",
        "labelSelector",
        "namespaceSelector",
        "scope",
        "name",
        "source",
    ];
    for key in doc["spec"]["match"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|m| m.0)
    {
        if !known.contains(&key.as_str()) {
            errors.push(format!("spec.match.{key}: unknown field"));
        }
    }
    if doc["spec"].get("parameters").is_some() {
        errors.push("spec.parameters: the template declares none".into());
    }
    errors
}

fn manifest_errors(doc: &Value) -> Vec<String> {
    match (doc["apiVersion"].as_str(), doc["kind"].as_str()) {
        (Some("apps/v1"), Some("Deployment")) => {
            core_errors::<k8s_openapi::api::apps::v1::Deployment>(doc)
        }
        (Some("v1"), Some("Service")) => core_errors::<k8s_openapi::api::core::v1::Service>(doc),
        (Some("policy/v1"), Some("PodDisruptionBudget")) => {
            core_errors::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(doc)
        }
        (Some("constraints.gatekeeper.sh/v1beta1"), Some(_)) => constraint_errors(doc),
        (Some(_), Some(_)) => crd_errors(doc),
        (v, k) => vec![format!("no apiVersion/kind: {v:?} {k:?}")],
    }
}

#[test]
fn every_deploy_manifest_is_valid_for_its_kind() {
    let mut kinds = Vec::new();
    for entry in std::fs::read_dir(deploy_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        for doc in documents(&path) {
            let errors = manifest_errors(&doc);
            assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
            kinds.push(doc["kind"].as_str().unwrap().to_string());
        }
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "Assign",
            "Assign",
            "ConstraintTemplate",
            "Deployment",
            "K8sNotationSignatures",
            "K8sNotationSignatures",
            "PodDisruptionBudget",
            "Provider",
            "Provider",
            "Service"
        ]
    );
    // The Deployment's promises: two replicas, non-root, read-only root.
    let deployment = documents(&deploy_dir().join("deployment.yaml")).remove(0);
    assert_eq!(deployment["spec"]["replicas"], 2);
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
}

/// The Azure Policy definition embeds the template and targets the kinds
/// the Constraints match (what `az policy definition create` is given).
#[test]
fn the_azure_policy_definition_matches_the_constraints() {
    let text = std::fs::read_to_string(deploy_dir().join("azure-policy-definition.json")).unwrap();
    let definition: Value = serde_json::from_str(&text).unwrap();
    let properties = &definition["properties"];
    assert_eq!(properties["mode"], "Microsoft.Kubernetes.Data");
    let details = &properties["policyRule"]["then"]["details"];
    assert_eq!(details["templateInfo"]["sourceType"], "Base64Encoded");
    assert_eq!(details["templateInfo"]["content"], "TEMPLATE_BASE64");
    let constraint = documents(&deploy_dir().join("constraint-deny.yaml")).remove(0);
    let mut expected: Vec<&str> = constraint["spec"]["match"]["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|k| {
            k["kinds"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
        })
        .collect();
    let mut kinds: Vec<&str> = details["kinds"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    expected.sort();
    kinds.sort();
    assert_eq!(kinds, expected);
    assert_eq!(
        properties["parameters"]["effect"]["allowedValues"],
        json!(["Audit", "Deny", "Disabled"])
    );
}

#[test]
fn the_checks_refuse_what_gatekeeper_refuses() {
    let mut provider = documents(&deploy_dir().join("provider.yaml")).remove(0);
    provider["spec"]["timeout"] = json!("3s");
    assert!(!manifest_errors(&provider).is_empty());
    let mut assign = documents(&deploy_dir().join("assign.yaml")).remove(0);
    assign["spec"]["parameters"]["assign"]["externalData"]["failurePolicy"] = json!("Sometimes");
    assert!(!manifest_errors(&assign).is_empty());
    let mut template = template();
    template["spec"]["targets"][0]["regoo"] = json!("x");
    assert!(!manifest_errors(&template).is_empty());
    let mut deployment = documents(&deploy_dir().join("deployment.yaml")).remove(0);
    deployment["spec"]["replica"] = json!(2);
    assert!(!manifest_errors(&deployment).is_empty());
    let mut constraint = documents(&deploy_dir().join("constraint-deny.yaml")).remove(0);
    constraint["spec"]["enforcementAction"] = json!("block");
    assert!(!manifest_errors(&constraint).is_empty());
}
