//! `vns serve`: a Gatekeeper external data provider on the same verifier as
//! the policy and `vns verify`. Gatekeeper (and so the Azure Policy add-on)
//! cannot run the WebAssembly policy; its Rego calls `external_data`, which
//! posts the images to this server and turns item errors into violations.
//!
//! Modules: `protocol` (the ProviderRequest/ProviderResponse shapes),
//! `engine` (verdicts, cache, single-flight, deadline), `http` (endpoints),
//! `tls` (rustls, TLS 1.3, client certificates), `metrics` (Prometheus).
//! This file holds the options, the settings/certificate reload loop and
//! the server start.

mod bundled;
mod engine;
mod http;
mod metrics;
mod protocol;
mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum_server::tls_rustls::RustlsConfig;

use crate::registry::RegistryOptions;
use crate::settings_file::{self, SettingsFileError};
use engine::{Engine, EngineConfig};
use metrics::ResultLabel;
use tls::{TlsError, TlsFiles};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The policy settings (YAML or JSON), reloaded when the file changes
    /// (mount the ConfigMap as a directory so that updates reach it).
    #[arg(long, short)]
    settings: PathBuf,
    /// Address to listen on (HTTPS only).
    #[arg(long, default_value = "0.0.0.0:8443")]
    listen: SocketAddr,
    /// Server certificate chain (PEM).
    #[arg(long)]
    tls_cert: PathBuf,
    /// Server private key (PEM).
    #[arg(long)]
    tls_key: PathBuf,
    /// Require client certificates issued by this CA (PEM), e.g.
    /// Gatekeeper's webhook CA (ca.crt of gatekeeper-webhook-server-cert).
    #[arg(long)]
    client_ca: Option<PathBuf>,
    /// Per-request deadline in milliseconds; keep it below the Provider's
    /// `spec.timeout` so that Gatekeeper gets item errors, not a timeout.
    #[arg(long, default_value_t = 2500)]
    deadline_ms: u64,
    /// How long a verdict is reused (seconds; 0 disables the cache).
    #[arg(long, default_value_t = 60)]
    cache_ttl: u64,
    /// Verdicts kept at most.
    #[arg(long, default_value_t = 10_000)]
    cache_capacity: usize,
    /// Keys accepted in one request; larger requests get a systemError.
    #[arg(long, default_value_t = 1000)]
    max_keys: usize,
    /// Verifications run at once (registry load of a burst of images).
    #[arg(long, default_value_t = 32)]
    max_verifications: usize,
    /// Seconds between checks of the settings and certificate files.
    #[arg(long, default_value_t = 5)]
    reload_seconds: u64,
    /// On SIGTERM or SIGINT: stop accepting connections and answer the
    /// requests in flight for up to this many seconds, then exit. Keep it
    /// below the Pod's terminationGracePeriodSeconds minus its preStop sleep.
    #[arg(long, default_value_t = 10)]
    shutdown_grace_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Settings(#[from] SettingsFileError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {address}: {source}; choose a free --listen address")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server stopped: {0}")]
    Serve(std::io::Error),
    #[error("cannot watch for SIGTERM: {0}")]
    Signal(std::io::Error),
}

pub async fn run(args: &ServeArgs, mut options: RegistryOptions) -> Result<(), ServeError> {
    let settings = settings_file::load(&args.settings)?;
    let files = TlsFiles {
        cert: args.tls_cert.clone(),
        key: args.tls_key.clone(),
        client_ca: args.client_ca.clone(),
    };
    let rustls = RustlsConfig::from_config(tls::server_config(&files)?);
    let deadline = Duration::from_millis(args.deadline_ms.max(1));
    // Registry retries end well before the deadline, so that an unreachable
    // registry is reported as such (its error names it) rather than as a
    // deadline exceeded.
    options.retry_budget = options.retry_budget.min(deadline / 2);
    let engine = Engine::new(
        settings,
        EngineConfig {
            registry: options,
            cache_ttl: Duration::from_secs(args.cache_ttl),
            cache_capacity: args.cache_capacity.max(1),
            deadline,
            max_verifications: args.max_verifications,
        },
    );
    let listener = std::net::TcpListener::bind(args.listen).map_err(|source| ServeError::Bind {
        address: args.listen,
        source,
    })?;
    let bind_error = |source| ServeError::Bind {
        address: args.listen,
        source,
    };
    listener.set_nonblocking(true).map_err(bind_error)?;
    let address = listener.local_addr().map_err(bind_error)?;
    // The one line on stdout: tests and scripts read the port from it.
    println!("vns serve: listening on https://{address}");
    tokio::spawn(watch(
        engine.clone(),
        args.settings.clone(),
        files,
        rustls.clone(),
        Duration::from_secs(args.reload_seconds.max(1)),
    ));
    let handle = axum_server::Handle::<SocketAddr>::new();
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ServeError::Signal)?;
    tokio::spawn(drain_on_signal(
        terminate,
        handle.clone(),
        Duration::from_secs(args.shutdown_grace_seconds),
    ));
    let app = http::router(engine, args.max_keys.max(1));
    axum_server::from_tcp_rustls(listener, rustls)
        .map_err(bind_error)?
        .handle(handle)
        .serve(app.into_make_service())
        .await
        .map_err(ServeError::Serve)?;
    tracing::warn!("stopped");
    Ok(())
}

/// Kubernetes sends SIGTERM when it removes the Pod, after the preStop
/// sleep has given the Service time to withdraw the endpoint. Without this
/// the process would die with requests in flight, and Gatekeeper would turn
/// their errors into denials. So: stop accepting connections, close idle
/// ones, let the requests in flight finish (their own deadline bounds
/// them), and stop after `grace` at most. SIGINT does the same for a
/// terminal.
async fn drain_on_signal(
    mut terminate: tokio::signal::unix::Signal,
    handle: axum_server::Handle<SocketAddr>,
    grace: Duration,
) {
    let signal = tokio::select! {
        _ = terminate.recv() => "SIGTERM",
        _ = tokio::signal::ctrl_c() => "SIGINT",
    };
    tracing::warn!(
        "{signal}: draining {} connection(s), for up to {} s",
        handle.connection_count(),
        grace.as_secs()
    );
    handle.graceful_shutdown(Some(grace));
}

/// Polls the settings file and the certificate files. The file's bytes are
/// compared, not its mtime: a ConfigMap update swaps a symlink, and mtimes
/// are coarse. An invalid new settings file is refused and the settings in
/// use are kept, with an error line and the `refused` reload metric.
async fn watch(
    engine: Arc<Engine>,
    path: PathBuf,
    files: TlsFiles,
    rustls: RustlsConfig,
    interval: Duration,
) {
    let mut seen = std::fs::read(&path).unwrap_or_default();
    let mut seen_tls = files.fingerprint();
    loop {
        tokio::time::sleep(interval).await;
        match std::fs::read(&path) {
            Ok(bytes) if bytes != seen => {
                seen = bytes;
                match settings_file::load(&path) {
                    Ok(settings) => {
                        let generation = engine.replace_settings(settings);
                        tracing::warn!(
                            "settings reloaded from {}: generation {generation}",
                            path.display()
                        );
                        engine
                            .metrics
                            .reloads
                            .get_or_create(&ResultLabel { result: "ok" })
                            .inc();
                    }
                    Err(e) => {
                        tracing::error!(
                            "new settings refused, keeping generation {}: {e}",
                            engine.loaded().generation
                        );
                        engine
                            .metrics
                            .reloads
                            .get_or_create(&ResultLabel { result: "refused" })
                            .inc();
                    }
                }
            }
            Ok(_) => {}
            // A ConfigMap update briefly removes the link; the next poll sees the file.
            Err(e) => tracing::debug!("settings file {}: {e}", path.display()),
        }
        let fingerprint = files.fingerprint();
        if fingerprint != seen_tls {
            seen_tls = fingerprint;
            match tls::server_config(&files) {
                Ok(config) => {
                    rustls.reload_from_config(config);
                    tracing::warn!("TLS certificate reloaded from {}", files.cert.display());
                }
                Err(e) => tracing::error!("new TLS certificate refused, keeping the old one: {e}"),
            }
        }
    }
}
