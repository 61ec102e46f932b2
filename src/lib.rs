//! Kubewarden policy: verify Notation (Notary Project) signatures of every
//! workload's images at admission, and pin verified images to their digest.
//!
//! Modules, in the order an admission request flows: [`settings`] (the SDK
//! hook for the shared settings contract), [`workload`] (where images live
//! in each kind), [`host`] (the two registry host capabilities behind a
//! trait), [`evaluate`] (one image: resolve, fetch the bundle, verify),
//! [`decision`] (one admission answer from the images' outcomes),
//! [`mutate`] (digest pinning). This file wires them to the waPC entry
//! points.

pub mod decision;
pub mod evaluate;
pub mod host;
pub mod mutate;
pub mod settings;
pub mod workload;

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use kubewarden_policy_sdk::request::ValidationRequest;
use kubewarden_policy_sdk::response::ValidationResponse;
use kubewarden_policy_sdk::wapc_guest::prelude::*;
use serde_json::Value;

use crate::host::Registry;
use crate::settings::PolicySettings;

#[unsafe(no_mangle)]
pub extern "C" fn wapc_init() {
    register_function("validate", validate);
    register_function("validate_settings", validate_settings);
    register_function(
        "protocol_version",
        kubewarden_policy_sdk::protocol_version_guest,
    );
}

fn validate_settings(payload: &[u8]) -> CallResult {
    Ok(serde_json::to_vec(&settings::validate_settings_payload(
        payload,
    ))?)
}

fn validate(payload: &[u8]) -> CallResult {
    let now: DateTime<Utc> = std::time::SystemTime::now().into();
    let response = validate_payload(payload, &host::WapcRegistry, now);
    Ok(serde_json::to_vec(&response)?)
}

fn reject(message: String) -> ValidationResponse {
    ValidationResponse {
        accepted: false,
        message: Some(message),
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

fn accept() -> ValidationResponse {
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object: None,
        audit_annotations: None,
        warnings: None,
    }
}

/// The whole evaluation, with the registry and the clock as arguments so
/// that unit tests pin both. Every error path rejects (fail closed).
pub fn validate_payload(
    payload: &[u8],
    registry: &dyn Registry,
    now: DateTime<Utc>,
) -> ValidationResponse {
    let request = match ValidationRequest::<PolicySettings>::new(payload) {
        Ok(r) => r,
        Err(e) => return reject(format!("the admission request could not be read: {e}")),
    };
    // Validated when the policy was loaded (`validate_settings`); per
    // request, trust stores are parsed only when the applicable statement
    // names them.
    let settings = match request.settings.0.compile() {
        Ok(s) => s,
        Err(e) => return reject(format!("the policy settings are invalid: {e}")),
    };
    let req = &request.request;
    if !matches!(req.operation.as_str(), "CREATE" | "UPDATE") {
        return accept();
    }
    let Some(spec_pointer) = workload::pod_spec_pointer(&req.kind.kind) else {
        return accept();
    };
    let sites = match workload::image_sites(&req.object, spec_pointer) {
        Ok(s) => s,
        Err(e) => {
            return reject(format!(
                "{} {}: cannot read the containers: {e}",
                req.kind.kind, req.name
            ))
        }
    };
    // On UPDATE, an image that the same site (container list and name, or
    // image volume) already had was admitted then; re-verifying it would let
    // a later key rotation block label edits. An image at a new site (a new
    // ephemeral container reusing an image, a renamed container) is verified.
    let previously_admitted: HashSet<(String, String)> =
        if req.operation == "UPDATE" && !req.old_object.is_null() {
            workload::image_sites(&req.old_object, spec_pointer)
                .map(|old| old.into_iter().map(|s| (s.site, s.image)).collect())
                .unwrap_or_default()
        } else {
            HashSet::new()
        };
    let new_sites: Vec<workload::ImageSite> = sites
        .into_iter()
        .filter(|s| !previously_admitted.contains(&(s.site.clone(), s.image.clone())))
        .collect();
    let mut seen = HashSet::new();
    let to_verify: Vec<&str> = new_sites
        .iter()
        .map(|s| s.image.as_str())
        .filter(|image| seen.insert(*image))
        .collect();
    let results: Vec<_> = to_verify
        .iter()
        .map(|image| evaluate::evaluate_image(image, &settings, registry, now))
        .collect();
    let decision = decision::decide(&results, &settings);
    let warnings = (!decision.warnings.is_empty()).then_some(decision.warnings);
    let audit_annotations =
        (!decision.audit_annotations.is_empty()).then_some(decision.audit_annotations);
    if !decision.accepted {
        return ValidationResponse {
            accepted: false,
            message: decision.message,
            code: None,
            mutated_object: None,
            audit_annotations,
            warnings,
        };
    }
    // Only the sites that were verified are pinned: an unchanged container
    // keeps its image string (changing it would restart the container).
    let mutated_object: Option<Value> = mutate::pin_images(&req.object, &new_sites, &decision.pins);
    ValidationResponse {
        accepted: true,
        message: None,
        code: None,
        mutated_object,
        audit_annotations,
        warnings,
    }
}

#[cfg(test)]
mod tests;
