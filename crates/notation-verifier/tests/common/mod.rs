//! Helpers shared by the vector tests: reading the shared test data and
//! loading Notation trust store directories.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use notation_verifier::cert::Certificate;
use notation_verifier::revocation::RevocationMaterial;
use notation_verifier::trust_store::{StoreType, TrustStores};
use notation_verifier::verdict::Verdict;
use notation_verifier::verify::{Descriptor, Limits, Signature, VerificationInput, Verifier};

pub fn testdata(rel: &str) -> PathBuf {
    testdata::path("notation").join(rel)
}

pub fn read(rel: &str) -> Vec<u8> {
    let path = testdata(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap()
        .with_timezone(&Utc)
}

/// Loads the named stores of `<root>/truststore/x509/<type>/<name>/*` as
/// Notation reads them (PEM or DER files).
pub fn load_stores(root: &Path, wanted: &[(StoreType, &str)]) -> TrustStores {
    let mut stores = TrustStores::default();
    for (store_type, name) in wanted {
        let dir = root
            .join("truststore/x509")
            .join(store_type.as_str())
            .join(name);
        let mut certs = Vec::new();
        for file in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            certs.extend(Certificate::parse_pem_or_der(&bytes).unwrap());
        }
        stores.insert(*store_type, name, certs).unwrap();
    }
    stores
}

/// Every store of a trust store tree (used where all of them are valid).
pub fn load_all_stores(root: &Path) -> TrustStores {
    let mut wanted = Vec::new();
    for store_type in [StoreType::Ca, StoreType::SigningAuthority, StoreType::Tsa] {
        let Ok(entries) = std::fs::read_dir(root.join("truststore/x509").join(store_type.as_str()))
        else {
            continue;
        };
        for entry in entries {
            wanted.push((
                store_type,
                entry.unwrap().file_name().to_string_lossy().to_string(),
            ));
        }
    }
    let refs: Vec<(StoreType, &str)> = wanted.iter().map(|(t, n)| (*t, n.as_str())).collect();
    load_stores(root, &refs)
}

pub fn media_type_of(file: &str) -> &'static str {
    if file.ends_with(".cose") || file.contains("cose") {
        "application/cose"
    } else {
        "application/jose+json"
    }
}

pub fn verify_one(
    verifier: &Verifier,
    repository: &str,
    descriptor: &Descriptor,
    media_type: &str,
    envelope: &[u8],
    time: DateTime<Utc>,
) -> Verdict {
    let material = RevocationMaterial::default();
    let sigs = [Signature {
        media_type,
        envelope,
    }];
    verifier.verify(&VerificationInput {
        repository,
        descriptor,
        signatures: &sigs,
        time,
        revocation: &material,
        limits: Limits::default(),
    })
}
