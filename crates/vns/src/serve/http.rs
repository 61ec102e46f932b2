//! The provider's endpoints: `POST /validate` and `POST /mutate` (Gatekeeper
//! external data), `/healthz`, `/readyz`, `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::future::join_all;
use notation_verifier::reference::ImageRef;
use serde_json::{json, Value};

use super::engine::Engine;
use super::metrics::{EndpointLabel, RequestLabels, VerdictLabels};
use super::protocol::{self, Item, ProviderResponse};
use crate::verify::{ImageReport, Status};

/// 10,000 keys of 400 characters fit; anything larger is refused before
/// parsing, with a systemError.
const MAX_BODY: usize = 4 * 1024 * 1024;

#[derive(Clone, Copy)]
enum Endpoint {
    Validate,
    Mutate,
}

impl Endpoint {
    fn label(self) -> &'static str {
        match self {
            Endpoint::Validate => "validate",
            Endpoint::Mutate => "mutate",
        }
    }
}

pub fn router(engine: Arc<Engine>, max_keys: usize) -> Router {
    let state = AppState { engine, max_keys };
    Router::new()
        .route(
            "/validate",
            post(|s: State<AppState>, b: Result<Bytes, BytesRejection>| {
                provider(s, b, Endpoint::Validate)
            }),
        )
        .route(
            "/mutate",
            post(|s: State<AppState>, b: Result<Bytes, BytesRejection>| {
                provider(s, b, Endpoint::Mutate)
            }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(state)
}

#[derive(Clone)]
struct AppState {
    engine: Arc<Engine>,
    max_keys: usize,
}

fn json_response(status: StatusCode, body: &ProviderResponse) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the response: {e}"),
        )
            .into_response(),
    }
}

async fn provider(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
    endpoint: Endpoint,
) -> Response {
    let started = Instant::now();
    let engine = &state.engine;
    let keys = match body
        .map_err(|e| format!("cannot read the request body: {e}"))
        .and_then(|b| protocol::parse(&b, state.max_keys).map_err(|e| e.to_string()))
    {
        Ok(keys) => keys,
        Err(message) => {
            tracing::info!("{}: request refused: {message}", endpoint.label());
            engine
                .metrics
                .requests
                .get_or_create(&RequestLabels {
                    endpoint: endpoint.label(),
                    status: "bad_request",
                })
                .inc();
            return json_response(
                StatusCode::BAD_REQUEST,
                &ProviderResponse::system_error(message),
            );
        }
    };
    let deadline_at = started + engine.deadline();
    let reports = join_all(keys.iter().map(|k| engine.decide(k, deadline_at))).await;
    let loaded = engine.loaded();
    let items: Vec<Item> = keys
        .into_iter()
        .zip(&reports)
        .map(|(key, report)| {
            let (verdict, reason) = verdict_label(report);
            engine
                .metrics
                .verdicts
                .get_or_create(&VerdictLabels { verdict, reason })
                .inc();
            match endpoint {
                Endpoint::Validate => validate_item(key, report),
                Endpoint::Mutate => {
                    mutate_item(key, report, loaded.settings.modify_images_with_digest)
                }
            }
        })
        .collect();
    engine
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            endpoint: endpoint.label(),
            status: "ok",
        })
        .inc();
    engine
        .metrics
        .latency
        .get_or_create(&EndpointLabel {
            endpoint: endpoint.label(),
        })
        .observe(started.elapsed().as_secs_f64());
    json_response(StatusCode::OK, &ProviderResponse::items(items))
}

fn verdict_name(status: Status) -> &'static str {
    match status {
        Status::Verified => "verified",
        Status::Failed => "failed",
        Status::Excepted => "excepted",
        Status::Skipped => "skipped",
        Status::RegistryError => "error",
    }
}

fn verdict_label(report: &ImageReport) -> (&'static str, String) {
    (
        verdict_name(report.status),
        report
            .reason
            .map(|r| r.to_string())
            .unwrap_or_else(|| "none".into()),
    )
}

/// The verdict as the policy's audit annotation states it (image, digest,
/// signer, statement, outcome, reason), with the message, what to do and
/// the warnings.
pub fn value_of(report: &ImageReport) -> Value {
    json!({
        "verdict": verdict_name(report.status),
        "reason": report.reason.map(|r| r.to_string()),
        "message": report.message,
        "whatToDo": report.hint,
        "image": report.image,
        "normalized": report.normalized,
        "digest": report.digest,
        "signer": report.signer,
        "statement": report.statement,
        "warnings": report.warnings,
    })
}

/// A failed verification (or an unreadable registry) is an item error,
/// reason code first, in the policy's rejection wording; everything else is
/// a value. Gatekeeper hands Rego the errors apart from the values.
fn validate_item(key: String, report: &ImageReport) -> Item {
    let error = match (report.status, report.reason) {
        (Status::Failed | Status::RegistryError, Some(reason)) => format!(
            "{reason}: {} (to fix: {})",
            report.message.as_deref().unwrap_or("verification failed"),
            reason.hint()
        ),
        _ => String::new(),
    };
    Item {
        key,
        value: value_of(report),
        error,
    }
}

/// The pinned reference (`name:tag@sha256:...`) for a verified image when
/// the settings ask for pinning; otherwise the key unchanged, so that the
/// `Assign` mutation never blocks: admission is the validation's decision.
fn mutate_item(key: String, report: &ImageReport, pin: bool) -> Item {
    let pinned = match (&report.digest, report.status) {
        (Some(digest), Status::Verified) if pin => ImageRef::parse(&key)
            .map(|r| r.pinned(digest))
            .unwrap_or_else(|_| key.clone()),
        _ => key.clone(),
    };
    Item {
        key,
        value: Value::String(pinned),
        error: String::new(),
    }
}

async fn readyz(State(state): State<AppState>) -> Response {
    let generation = state.engine.loaded().generation;
    (
        StatusCode::OK,
        format!("ready: settings generation {generation}\n"),
    )
        .into_response()
}

async fn metrics(State(state): State<AppState>) -> Response {
    match state.engine.metrics.encode() {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode the metrics: {e}"),
        )
            .into_response(),
    }
}
