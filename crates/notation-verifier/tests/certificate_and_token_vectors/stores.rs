//! Trust stores (§f.3, section 2 of the tables): the notation-go
//! `truststore/x509/**` files and the example and TSA anchors.

use super::*;

struct StoreFile {
    /// Path under `notation-go/truststore/x509/`: `<type>/<store>/<file>`.
    path: &'static str,
    /// The file alone as a store of its type.
    alone: Expect,
}

const STORE_FILES: &[StoreFile] = &[
    StoreFile {
        path: "ca/trust-store-with-invalid-certs/invalid",
        alone: Expect::Err(&[]),
    },
    StoreFile {
        path: "ca/trust-store-with-leaf-certs-in-single-file/RootAndLeafCerts.crt",
        alone: Expect::Err(&[
            "CN=wabbit-networks.io",
            "not a CA certificate or self-signed",
        ]),
    },
    StoreFile {
        path: "ca/trust-store-with-leaf-certs/GlobalSignRootCA.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/trust-store-with-leaf-certs/non-ca.crt",
        alone: Expect::Err(&[
            "CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US",
            "not a CA certificate or self-signed signing certificate",
        ]),
    },
    StoreFile {
        path: "ca/valid-trust-store-2/GlobalSign.der",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store-2/GlobalSignRootCA.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store-self-signed/openssl-minimum-self-signed.pem",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/GlobalSign.der",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/GlobalSignRootCA.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/NotationTestRoot.pem",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/TestTimestamp.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/TestTimestampNotYetValid.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "ca/valid-trust-store/wabbit-networks.io.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "signingAuthority/valid-trust-store-2/GlobalSign.der",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "signingAuthority/valid-trust-store-2/GlobalSignRootCA.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "signingAuthority/valid-trust-store/GlobalSign.der",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "signingAuthority/valid-trust-store/GlobalSignRootCA.crt",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "signingAuthority/valid-trust-store/NotationTestRoot.pem",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "tsa/test-mismatch/DigiCertTSARootSHA384.cer",
        alone: Expect::Ok,
    },
    StoreFile {
        path: "tsa/test-nonCA/wabbit-networks.io.crt",
        alone: Expect::Err(&[
            "CN=wabbit-networks.io,O=Notary,L=Seattle,ST=WA,C=US",
            "not a root CA certificate",
        ]),
    },
    StoreFile {
        path: "tsa/test-nonSelfIssued/nonSelfIssued.crt",
        alone: Expect::Err(&[
            "not a root CA certificate",
            "Notation Test Revokable RSA Chain Cert Root",
            "Notation Test Revokable RSA Chain Cert 2",
            "not the same",
        ]),
    },
    StoreFile {
        path: "tsa/test-timestamp/globalsignRoot.cer",
        alone: Expect::Ok,
    },
];

/// Whole stores of `notation-go/truststore/x509` (every file of the
/// directory in one store), as notation-go loads them.
const STORES: &[(&str, Expect)] = &[
    ("ca/trust-store-with-invalid-certs", Expect::Err(&[])),
    (
        "ca/trust-store-with-leaf-certs-in-single-file",
        Expect::Err(&["not a CA certificate or self-signed"]),
    ),
    (
        "ca/trust-store-with-leaf-certs",
        Expect::Err(&["not a CA certificate or self-signed"]),
    ),
    ("ca/valid-trust-store-2", Expect::Ok),
    ("ca/valid-trust-store-self-signed", Expect::Ok),
    ("ca/valid-trust-store", Expect::Ok),
    ("signingAuthority/valid-trust-store-2", Expect::Ok),
    ("signingAuthority/valid-trust-store", Expect::Ok),
    ("tsa/test-mismatch", Expect::Ok),
    (
        "tsa/test-nonCA",
        Expect::Err(&["not a root CA certificate"]),
    ),
    (
        "tsa/test-nonSelfIssued",
        Expect::Err(&["not a root CA certificate"]),
    ),
    ("tsa/test-timestamp", Expect::Ok),
];

/// Other trust anchors the README lists with "loads OK": (path under the
/// test data, store type).
const OTHER_ANCHORS: &[(&str, StoreType)] = &[
    (
        "notation-go/examples/local-verify-cose/truststore/x509/ca/valid-trust-store/NotationLocalExample.pem",
        StoreType::Ca,
    ),
    (
        "notation-go/examples/verify-blob-jws/truststore/x509/ca/valid-trust-store/NotationBlobExample.pem",
        StoreType::Ca,
    ),
    (
        "notation-go/examples/verifier-test-blob-jws/trusted-cert.pem",
        StoreType::Ca,
    ),
    ("notation-core-go/timestamp/tsaRootCert.cer", StoreType::Tsa),
    ("tspclient-go/token/GlobalSignRootCA.crt", StoreType::Tsa),
    ("tspclient-go/cms/GlobalSignRootCA.crt", StoreType::Tsa),
];

/// Parses `bytes` and inserts them as one store; the error text, if any.
fn load_store(store_type: StoreType, name: &str, files: &[Vec<u8>]) -> Result<(), String> {
    let mut all = Vec::new();
    for bytes in files {
        all.extend(parse(bytes).map_err(|e| {
            if e.starts_with("PANIC") {
                e
            } else {
                format!("failed to read the trusted certificate: {e}")
            }
        })?);
    }
    TrustStores::default()
        .insert(store_type, name, all)
        .map_err(|e| e.to_string())
}

fn split_store(path: &str) -> (StoreType, &str) {
    let mut parts = path.split('/');
    let t = StoreType::parse(parts.next().unwrap()).unwrap();
    (t, parts.next().unwrap())
}

#[test]
fn notation_go_trust_store_files() {
    let base = "notation-go/truststore/x509";
    let mut failures = Vec::new();
    let mut checked = 0;
    for f in STORE_FILES {
        if OUTCOME_DISAGREEMENTS.contains(&f.path) {
            continue;
        }
        let (t, name) = split_store(f.path);
        let bytes = read(&format!("{base}/{}", f.path));
        checked += 1;
        failures.extend(check_row(f.path, load_store(t, name, &[bytes]), f.alone));
    }
    for (dir, expect) in STORES {
        let store_row = format!("store {dir}");
        if OUTCOME_DISAGREEMENTS.contains(&store_row.as_str()) {
            continue;
        }
        let (t, name) = split_store(dir);
        let files: Vec<Vec<u8>> = files_in(&format!("{base}/{dir}"))
            .iter()
            .map(|f| read(&format!("{base}/{dir}/{f}")))
            .collect();
        checked += 1;
        failures.extend(check_row(&store_row, load_store(t, name, &files), *expect));
    }
    for (path, t) in OTHER_ANCHORS {
        checked += 1;
        failures.extend(check_row(
            path,
            load_store(*t, "anchor", &[read(path)]),
            Expect::Ok,
        ));
    }
    // README file list == files on disk; every store directory has a row.
    let listed: BTreeSet<String> = STORE_FILES.iter().map(|f| f.path.to_string()).collect();
    assert_same_files(base, &files_below(base), &listed);
    let dirs: BTreeSet<String> = listed
        .iter()
        .map(|p| p.rsplit_once('/').unwrap().0.to_string())
        .collect();
    let store_rows: BTreeSet<String> = STORES.iter().map(|(d, _)| d.to_string()).collect();
    assert_eq!(dirs, store_rows, "every store directory needs a STORES row");
    // The two R3 files of valid-trust-store are the same certificate.
    assert_eq!(
        cert(&format!("{base}/ca/valid-trust-store/GlobalSign.der")).der(),
        cert(&format!("{base}/ca/valid-trust-store/GlobalSignRootCA.crt")).der()
    );
    finish("notation-go trust store files", checked, failures);
}
