//! Trust stores that the settings keep in ConfigMaps and Secrets, resolved
//! for `vns verify`, `scan` and `inspect` the way the policy resolves them
//! in the cluster: from `--trust-store-dir DIR`, one file per store at
//! `DIR/<type>/<name>.pem` (`DIR/ca/acme-root.pem`, `DIR/tsa/public-tsa.pem`;
//! PEM or DER, the whole file is the store), or else from the cluster of
//! the current kubeconfig context, choosing the object's keys by the same
//! rule as the policy (see `notation_verifier::trust_store::store_bytes`).
//!
//! Every referenced store is read once, up front. A store that cannot be
//! read keeps its error: images whose statement names it fail with
//! `TRUST_STORE_ERROR` and the message names the object, as in the policy;
//! other images are not affected.

use std::path::Path;

use notation_verifier::settings::ValidatedSettings;
use notation_verifier::trust_store::{store_bytes, StoreReference, StoreType};

use crate::kubeconfig::Cluster;

/// The file that holds a store under `--trust-store-dir`.
pub fn store_file(dir: &Path, store_type: StoreType, name: &str) -> std::path::PathBuf {
    dir.join(store_type.as_str()).join(format!("{name}.pem"))
}

/// The settings file with the trust stores it keeps in ConfigMaps and
/// Secrets read (`--trust-store-dir` or the cluster), or the usage exit code.
pub async fn load_settings(
    path: &std::path::Path,
    trust_store_dir: Option<&std::path::Path>,
) -> Result<notation_verifier::settings::ValidatedSettings, std::process::ExitCode> {
    let settings = crate::load_settings(path)?;
    resolve(&settings, trust_store_dir).await;
    Ok(settings)
}

/// Resolves every store kept in an object; returns how many were read.
pub async fn resolve(settings: &ValidatedSettings, dir: Option<&Path>) -> usize {
    let stores = &settings.verifier.stores;
    let wanted = stores.all_unresolved();
    if wanted.is_empty() {
        return 0;
    }
    // The cluster is only contacted when there is something to read there.
    let cluster = match dir {
        Some(_) => None,
        None => Some(Cluster::from_kubeconfig().map_err(|e| e.to_string())),
    };
    let mut read = 0;
    for (store_type, name, reference) in wanted {
        let content = match (dir, &cluster) {
            (Some(dir), _) => from_dir(dir, store_type, &name),
            (None, Some(Ok(cluster))) => from_cluster(cluster, &reference).await,
            (None, Some(Err(e))) => Err(format!(
                "cannot reach the cluster ({e}); or give the stores as files with --trust-store-dir"
            )),
            (None, None) => Err("no source for the store".to_string()),
        };
        if content.is_ok() {
            read += 1;
        }
        stores.resolve(store_type, &name, content);
    }
    read
}

fn from_dir(dir: &Path, store_type: StoreType, name: &str) -> Result<Vec<u8>, String> {
    let path = store_file(dir, store_type, name);
    std::fs::read(&path).map_err(|e| {
        format!(
            "--trust-store-dir has no readable {} ({e}): put the store's certificates there",
            path.display()
        )
    })
}

async fn from_cluster(cluster: &Cluster, reference: &StoreReference) -> Result<Vec<u8>, String> {
    let object = cluster
        .get(
            reference.kind.plural(),
            &reference.namespace,
            &reference.name,
        )
        .await
        .map_err(|e| format!("cannot read it: {e}"))?;
    store_bytes(reference, &object)
}
