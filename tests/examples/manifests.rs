//! The Kubernetes manifests of examples/: schema, typed decode, settings.

use std::path::PathBuf;

use serde_json::{json, Value};

use crate::common::host;
use crate::{documents, examples_dir};

const POLICIES: [&str; 2] = [
    "cluster-admission-policy-aks.yaml",
    "cluster-admission-policy-monitor.yaml",
];

fn crd_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/kubewarden-crds")
}

/// The openAPIV3Schema that the vendored CRD serves for `apiVersion`/`kind`.
fn crd_schema(api_version: &str, kind: &str) -> Option<Value> {
    let (group, version) = api_version.split_once('/')?;
    for entry in std::fs::read_dir(crd_dir()).ok()? {
        let path = entry.ok()?.path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let text = std::fs::read_to_string(&path).ok()?;
        let crd: Value = serde_saphyr::from_str(&text).ok()?;
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

/// OpenAPI v3 as the API server applies it, in JSON Schema terms: objects
/// with declared properties refuse unknown ones (what `kubectl apply
/// --validate=strict`, the default, reports), unless the schema preserves
/// unknown fields; `nullable` admits null.
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
        for value in map.values_mut() {
            strict(value);
        }
    } else if let Some(items) = schema.as_array_mut() {
        items.iter_mut().for_each(strict);
    }
}

/// Schema errors of one Kubewarden manifest (empty when it is valid).
fn kubewarden_errors(doc: &Value) -> Vec<String> {
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

/// A typed decode that refuses unknown fields: k8s-openapi's types skip
/// them, serde_ignored reports each one skipped.
fn core_errors<T: serde::de::DeserializeOwned>(doc: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let decoded: Result<T, _> =
        serde_ignored::deserialize(doc.clone(), |path| unknown.push(path.to_string()));
    match decoded {
        Err(e) => vec![e.to_string()],
        Ok(_) => unknown
            .into_iter()
            .filter(|p| p != "apiVersion" && p != "kind")
            // serde_ignored writes `?` for each Option level: not a field.
            .map(|p| format!("{}: unknown field", p.replace(".?", "").replace("?.", "")))
            .collect(),
    }
}

fn manifest_errors(doc: &Value) -> Vec<String> {
    match (doc["apiVersion"].as_str(), doc["kind"].as_str()) {
        (Some("batch/v1"), Some("CronJob")) => {
            core_errors::<k8s_openapi::api::batch::v1::CronJob>(doc)
        }
        (Some("v1"), Some("ServiceAccount")) => {
            core_errors::<k8s_openapi::api::core::v1::ServiceAccount>(doc)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("ClusterRole")) => {
            core_errors::<k8s_openapi::api::rbac::v1::ClusterRole>(doc)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("ClusterRoleBinding")) => {
            core_errors::<k8s_openapi::api::rbac::v1::ClusterRoleBinding>(doc)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("Role")) => {
            core_errors::<k8s_openapi::api::rbac::v1::Role>(doc)
        }
        (Some("rbac.authorization.k8s.io/v1"), Some("RoleBinding")) => {
            core_errors::<k8s_openapi::api::rbac::v1::RoleBinding>(doc)
        }
        (Some("external-secrets.io/v1"), Some(kind)) => external_secrets_errors(kind, doc),
        (Some(v), Some(_)) if v.starts_with("policies.kubewarden.io/") => kubewarden_errors(doc),
        (v, k) => vec![format!("no check for apiVersion {v:?} kind {k:?}")],
    }
}

/// The External Secrets Operator's CRDs are not vendored: its SecretStore
/// (Azure Key Vault provider) and ExternalSecret are checked against the
/// subset of their v1 schema that the example uses, strictly (a misspelt or
/// unknown field fails), with the fields ESO requires.
fn external_secrets_errors(kind: &str, doc: &Value) -> Vec<String> {
    let string = json!({"type": "string"});
    let metadata = json!({"type": "object", "required": ["name", "namespace"],
        "properties": {"name": string, "namespace": string}});
    let spec = match kind {
        "SecretStore" => json!({"type": "object", "required": ["provider"], "properties": {
            "provider": {"type": "object", "required": ["azurekv"], "properties": {
                "azurekv": {"type": "object", "required": ["vaultUrl"], "properties": {
                    "authType": {"enum": ["ServicePrincipal", "ManagedIdentity", "WorkloadIdentity"]},
                    "vaultUrl": {"type": "string", "pattern": "^https://"},
                    "tenantId": string,
                    "environmentType": string,
                    "serviceAccountRef": {"type": "object", "required": ["name"],
                        "properties": {"name": string, "namespace": string}}}}}}}}),
        "ExternalSecret" => {
            json!({"type": "object", "required": ["secretStoreRef", "data"], "properties": {
            "refreshInterval": {"type": "string", "pattern": "^([0-9]+(s|m|h))+$"},
            "secretStoreRef": {"type": "object", "required": ["name"], "properties": {
                "name": string, "kind": {"enum": ["SecretStore", "ClusterSecretStore"]}}},
            "target": {"type": "object", "properties": {
                "name": string, "creationPolicy": {"enum": ["Owner", "Orphan", "Merge", "None"]}}},
            "data": {"type": "array", "items": {"type": "object", "required": ["secretKey", "remoteRef"],
                "properties": {"secretKey": string, "remoteRef": {"type": "object", "required": ["key"],
                    "properties": {"key": string, "property": string, "version": string}}}}}}})
        }
        other => return vec![format!("no check for external-secrets.io/v1 {other}")],
    };
    let mut schema = json!({"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
        "properties": {"apiVersion": string, "kind": string, "metadata": metadata, "spec": spec}});
    strict(&mut schema);
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn only(name: &str) -> Value {
    let mut docs = documents(name);
    assert_eq!(docs.len(), 1, "{name}: one document expected");
    docs.remove(0)
}

#[test]
fn every_manifest_is_valid_for_its_kind() {
    for name in [
        POLICIES[0],
        POLICIES[1],
        "policy-server.yaml",
        "trust-store-from-key-vault.yaml",
        "vns-sync-cronjob.yaml",
        "vns-posture-cronjob.yaml",
    ] {
        for doc in documents(name) {
            let errors = manifest_errors(&doc);
            assert!(errors.is_empty(), "{name}: {errors:#?}");
        }
    }
}

#[test]
fn the_checks_refuse_what_the_api_server_refuses() {
    let mut policy = only(POLICIES[0]);
    policy["spec"]["timeoutSecond"] = json!(15);
    let errors = manifest_errors(&policy);
    assert!(
        errors.iter().any(|e| e.contains("timeoutSecond")),
        "{errors:?}"
    );
    let mut policy = only(POLICIES[0]);
    policy["spec"]["mode"] = json!("audit");
    assert!(!manifest_errors(&policy).is_empty());
    let mut policy = only(POLICIES[0]);
    policy["spec"]["timeoutSeconds"] = json!(31);
    assert!(!manifest_errors(&policy).is_empty(), "maximum 30");
    let mut server = only("policy-server.yaml");
    server["spec"]["resources"] = json!({"cpu": "1"});
    assert!(
        !manifest_errors(&server).is_empty(),
        "PolicyServer has requests/limits"
    );
    let mut cron = only("vns-sync-cronjob.yaml");
    cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] =
        json!(7);
    assert!(!manifest_errors(&cron).is_empty(), "typed decode");
    let mut cron = only("vns-sync-cronjob.yaml");
    cron["spec"]["schedul"] = json!("17 * * * *");
    let errors = manifest_errors(&cron);
    assert_eq!(errors, ["spec.schedul: unknown field"]);
}

#[test]
fn the_policies_settings_pass_the_built_modules_validate_settings() {
    let host = host();
    let mut checked = Vec::new();
    for name in POLICIES {
        let settings = &only(name)["spec"]["settings"];
        checked.push(settings.clone());
        let verdict = host.validate_settings(settings).expect("validate_settings");
        assert_eq!(verdict["valid"], true, "{name}: {verdict}");
    }
    let file = only("notation-settings.yaml");
    let verdict = host.validate_settings(&file).expect("validate_settings");
    assert_eq!(verdict["valid"], true, "notation-settings.yaml: {verdict}");
    // The deploy gate reads what the admission policy reads.
    assert_eq!(
        file, checked[0],
        "notation-settings.yaml and the policy differ"
    );
    // And the module does refuse a broken copy, naming the field.
    let mut broken = file.clone();
    broken["enforcement"] = json!("block");
    let verdict = host.validate_settings(&broken).expect("validate_settings");
    assert_eq!(verdict["valid"], false, "{verdict}");
}

#[test]
fn the_policies_wait_longer_than_they_evaluate_and_run_on_the_example_server() {
    let server = only("policy-server.yaml");
    for name in POLICIES {
        let spec = &only(name)["spec"];
        // Kubewarden's defaults: the webhook waits 10 s, evaluation stops at 2 s.
        let webhook = spec["timeoutSeconds"].as_u64().unwrap_or(10);
        let eval = spec["timeoutEvalSeconds"].as_u64().unwrap_or(2);
        assert!(
            webhook > eval,
            "{name}: timeoutSeconds {webhook} <= timeoutEvalSeconds {eval}"
        );
        assert_eq!(spec["policyServer"], server["metadata"]["name"], "{name}");
        // Digest pinning is a mutation.
        if spec["settings"]["modifyImagesWithDigest"] != false {
            assert_eq!(spec["mutating"], true, "{name}");
        }
    }
    let monitor = &only(POLICIES[1])["spec"];
    assert_eq!(monitor["mode"], "monitor");
    assert_eq!(monitor["settings"]["enforcement"], "deny");
    assert_ne!(
        monitor["backgroundAudit"], false,
        "the audit scanner reports it"
    );
}

#[test]
fn the_secrets_the_manifests_name_are_created_in_the_readme() {
    let readme = std::fs::read_to_string(examples_dir().join("README.md")).unwrap();
    let server = only("policy-server.yaml");
    let cron = only("vns-sync-cronjob.yaml");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    let secrets = [
        server["spec"]["imagePullSecret"].as_str().unwrap(),
        pod["volumes"][0]["secret"]["secretName"].as_str().unwrap(),
    ];
    for secret in secrets {
        assert!(
            readme.contains(&format!(
                "kubectl create secret docker-registry {secret} --namespace kubewarden"
            )),
            "examples/README.md does not create {secret}"
        );
    }
    // The CronJob runs the image `make image` builds: its entry point is vns.
    let container = &pod["containers"][0];
    assert!(container["image"].as_str().unwrap().contains("/vns:"));
    assert!(
        container["command"].is_null(),
        "the image's entry point runs vns"
    );
    assert_eq!(container["args"][0], "sync");
}

#[test]
fn the_posture_cronjob_scans_with_a_role_that_lists_what_it_reads_and_pushes_metrics() {
    let docs = documents("vns-posture-cronjob.yaml");
    let find = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind}"))
    };
    let cron = find("CronJob");
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(
        pod["serviceAccountName"],
        find("ServiceAccount")["metadata"]["name"]
    );
    let binding = find("ClusterRoleBinding");
    assert_eq!(
        binding["roleRef"]["name"],
        find("ClusterRole")["metadata"]["name"]
    );
    assert_eq!(binding["subjects"][0]["name"], pod["serviceAccountName"]);
    // The role lists every resource kubectl is asked for, and nothing more.
    let listed: Vec<String> = find("ClusterRole")["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["resources"].as_array().unwrap().clone())
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    let kubectl = pod["initContainers"][0]["args"][0].as_str().unwrap();
    let asked = kubectl
        .split_whitespace()
        .skip_while(|w| *w != "get")
        .nth(1)
        .unwrap();
    let mut asked: Vec<&str> = asked.split(',').collect();
    let mut listed: Vec<&str> = listed.iter().map(String::as_str).collect();
    asked.sort();
    listed.sort();
    assert_eq!(asked, listed);
    assert!(
        kubectl.contains("> /work/cluster/objects.json"),
        "{kubectl}"
    );
    // vns reads that directory and writes the metrics the push step sends.
    let scan: Vec<&str> = pod["initContainers"][1]["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert_eq!(scan[0], "scan");
    for arg in [
        "--manifests=/work/cluster",
        "--output=prometheus",
        "--output-file=/work/vns_posture.prom",
    ] {
        assert!(scan.contains(&arg), "{scan:?} lacks {arg}");
    }
    assert!(pod["initContainers"][1]["image"]
        .as_str()
        .unwrap()
        .contains("/vns:"));
    let push = pod["containers"][0]["args"].to_string();
    assert!(push.contains("@/work/vns_posture.prom"), "{push}");
}

#[test]
fn the_key_vault_example_connects_the_secret_the_rbac_and_the_policy() {
    const NAME: &str = "trust-store-from-key-vault.yaml";
    let docs = documents(NAME);
    let of = |kind: &str| {
        docs.iter()
            .find(|d| d["kind"] == kind)
            .unwrap_or_else(|| panic!("{NAME}: no {kind}"))
    };
    let policy = of("ClusterAdmissionPolicy");
    let settings = &policy["spec"]["settings"];
    let verdict = host()
        .validate_settings(settings)
        .expect("validate_settings");
    assert_eq!(verdict["valid"], true, "{NAME}: {verdict}");
    let reference = &settings["trustStores"]["ca"]["acme-pipelines"]["secret"];
    let external = of("ExternalSecret");
    // The policy reads the Secret that ESO writes, under the key ESO fills.
    assert_eq!(reference["namespace"], external["metadata"]["namespace"]);
    assert_eq!(reference["name"], external["spec"]["target"]["name"]);
    assert_eq!(reference["key"], external["spec"]["data"][0]["secretKey"]);
    assert_eq!(
        external["spec"]["secretStoreRef"]["name"],
        of("SecretStore")["metadata"]["name"]
    );
    // The policy may read Secrets, and the policy server's account may get this one.
    assert!(policy["spec"]["contextAwareResources"]
        .as_array()
        .unwrap()
        .contains(&json!({"apiVersion": "v1", "kind": "Secret"})));
    let role = of("Role");
    assert_eq!(role["metadata"]["namespace"], reference["namespace"]);
    let rule = &role["rules"][0];
    assert_eq!(rule["resources"], json!(["secrets"]));
    assert_eq!(rule["verbs"], json!(["get"]));
    assert_eq!(rule["resourceNames"], json!([reference["name"]]));
    let binding = of("RoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(
        policy["spec"]["policyServer"],
        only("policy-server.yaml")["metadata"]["name"]
    );
    // The checks can fail: a misspelt ESO field, a reference without a name.
    let mut broken = external.clone();
    broken["spec"]["refreshIntervall"] = json!("1h");
    assert!(!manifest_errors(&broken).is_empty());
    let mut broken = settings.clone();
    broken["trustStores"]["ca"]["acme-pipelines"]["secret"]["name"] = Value::Null;
    let verdict = host()
        .validate_settings(&broken)
        .expect("validate_settings");
    assert_eq!(verdict["valid"], false, "{verdict}");
}
