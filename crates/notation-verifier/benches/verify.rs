//! Native time per verification, one signature per algorithm through a
//! 3-certificate chain (leaf, intermediate, root), with and without an RFC
//! 3161 timestamp. `make bench` puts these figures next to the same
//! verifications inside wasmtime and `openssl speed`.
//!
//! `rsa_public/*`: the bare RSA public operation (s^e mod n, e = 65537),
//! `rsa` 0.9 (`num-bigint-dig`) against ours (Montgomery, fixed exponent).
//! This group reads no files, so the bench also runs as a WASI module
//! (`cargo bench --target wasm32-wasip1 --no-run`, see the Makefile's
//! `bench` target) to compare the two in wasm.
//!
//! `ecdsa_verify/*`: one ECDSA verification per curve (a short message,
//! hashed with the curve's SHA-2, raw `r || s`), `ecdsa` 0.16's constant-time
//! `verify_prehash` against ours (variable-time interleaved wNAF) through
//! `PublicKey::verify_envelope_signature`. No files either.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion};
use notation_verifier::cert::Certificate;
use notation_verifier::revocation::RevocationMaterial;
use notation_verifier::trust_policy::TrustPolicy;
use notation_verifier::trust_store::{StoreType, TrustStores};
use notation_verifier::verify::{Descriptor, Limits, Signature, VerificationInput, Verifier};

fn synthetic() -> PathBuf {
    testdata::path("notation/synthetic")
}

fn stores(root: &Path) -> TrustStores {
    let mut stores = TrustStores::default();
    for (store_type, name, file) in [
        (
            StoreType::Ca,
            "synthetic-root",
            "truststore/x509/ca/synthetic-root/root.pem",
        ),
        (
            StoreType::SigningAuthority,
            "synthetic-root",
            "truststore/x509/signingAuthority/synthetic-root/root.pem",
        ),
        (
            StoreType::Tsa,
            "synthetic-tsa",
            "truststore/x509/tsa/synthetic-tsa/tsa-root.pem",
        ),
    ] {
        let pem = std::fs::read(root.join(file)).expect("trust store file");
        let certs = Certificate::parse_pem_or_der(&pem).expect("trust store certificates");
        stores.insert(store_type, name, certs).expect("valid store");
    }
    stores
}

fn bench(c: &mut Criterion) {
    let root = synthetic();
    if !root.is_dir() {
        eprintln!("{}: not found, verify/* skipped", root.display());
        return;
    }
    let policy = TrustPolicy::from_json(
        &std::fs::read_to_string(root.join("trustpolicy.oci.json")).expect("policy"),
    )
    .expect("valid policy");
    let verifier = Verifier::new(policy, stores(&root));
    let descriptor: Descriptor = serde_json::from_slice(
        &std::fs::read(root.join("artifact/descriptor.json")).expect("descriptor"),
    )
    .expect("descriptor json");
    let time: DateTime<Utc> = DateTime::parse_from_rfc3339("2026-11-23T00:00:00Z")
        .expect("time")
        .with_timezone(&Utc);
    let material = RevocationMaterial::default();
    let cases = [
        ("rsa2048-PS256", "valid/jws-rsa2048-PS256.jws", "strict"),
        ("rsa3072-PS384", "valid/jws-rsa3072-PS384.jws", "strict"),
        ("rsa4096-PS512", "valid/jws-rsa4096-PS512.jws", "strict"),
        ("ecdsa-p256", "valid/jws-ec256-ES256.jws", "strict"),
        ("ecdsa-p384", "valid/jws-ec384-ES384.jws", "strict"),
        ("ecdsa-p521", "valid/jws-ec521-ES512.jws", "strict"),
        (
            "cose-rsa2048-PS256",
            "valid/cose-rsa2048-PS256.cose",
            "strict",
        ),
        (
            "timestamped-jws",
            "timestamp/jws-ts-valid-leaf.jws",
            "strict-tsa",
        ),
    ];
    let mut group = c.benchmark_group("verify");
    for (name, file, statement) in cases {
        let envelope = std::fs::read(root.join("envelopes").join(file)).expect("envelope");
        let media_type = if file.ends_with(".cose") {
            "application/cose"
        } else {
            "application/jose+json"
        };
        let repository = format!("registry.example.com/synthetic/{statement}");
        let sigs = [Signature {
            media_type,
            envelope: &envelope,
        }];
        let input = VerificationInput {
            repository: &repository,
            descriptor: &descriptor,
            signatures: &sigs,
            time,
            revocation: &material,
            limits: Limits::default(),
        };
        assert!(
            verifier.verify(&input).is_success(),
            "{name} must verify before it is measured"
        );
        group.bench_function(name, |b| b.iter(|| verifier.verify(&input)));
    }
    group.finish();
}

/// The bare public operation, both implementations, on the same keys and
/// the same signature representative.
fn bench_rsa_public(c: &mut Criterion) {
    use rsa::pkcs8::{DecodePrivateKey, EncodePublicKey};
    use rsa::traits::PublicKeyParts;
    let keys: [(&str, &[u8]); 3] = [
        ("2048", include_bytes!("../src/crypto/testdata/rsa2048.pk8")),
        ("3072", include_bytes!("../src/crypto/testdata/rsa3072.pk8")),
        ("4096", include_bytes!("../src/crypto/testdata/rsa4096.pk8")),
    ];
    let mut group = c.benchmark_group("rsa_public");
    for (bits, der) in keys {
        let private = rsa::RsaPrivateKey::from_pkcs8_der(der).expect("bench key");
        let public = private.to_public_key();
        let spki = public.to_public_key_der().expect("spki");
        let ours = match notation_verifier::crypto::PublicKey::from_spki(
            spki::SubjectPublicKeyInfoRef::try_from(spki.as_bytes()).expect("spki"),
        )
        .expect("our key")
        {
            notation_verifier::crypto::PublicKey::Rsa(k) => k,
            _ => unreachable!("an RSA key"),
        };
        // Any value below n: the modulus with its top byte halved.
        let mut signature = public.n().to_bytes_be();
        signature[0] /= 2;
        let s = rsa::BigUint::from_bytes_be(&signature);
        let expected = rsa::hazmat::rsa_encrypt(&public, &s).expect("rsa");
        let got = ours.public_operation(&signature).expect("ours");
        assert_eq!(rsa::BigUint::from_bytes_be(&got), expected);
        group.bench_function(format!("rsa-crate-{bits}"), |b| {
            b.iter(|| rsa::hazmat::rsa_encrypt(&public, &s))
        });
        group.bench_function(format!("montgomery-{bits}"), |b| {
            b.iter(|| ours.public_operation(&signature))
        });
    }
    group.finish();
}

/// A deterministic `rand_core` generator for the signing side of the
/// ECDSA group (xorshift64*; nothing secret is at stake).
struct BenchRng(u64);

impl p256::elliptic_curve::rand_core::RngCore for BenchRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
    fn try_fill_bytes(
        &mut self,
        dest: &mut [u8],
    ) -> Result<(), p256::elliptic_curve::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl p256::elliptic_curve::rand_core::CryptoRng for BenchRng {}

/// ECDSA verification alone, per curve: the reference against ours on the
/// same key, message and signature.
fn bench_ecdsa_verify(c: &mut Criterion) {
    use notation_verifier::crypto::{PssSalt, PublicKey, SignatureAlgorithm};
    use sha2::Digest;
    use signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
    let message = b"a JWS signing input, more or less";
    let mut rng = BenchRng(0x9e37_79b9_7f4a_7c15);
    let mut group = c.benchmark_group("ecdsa_verify");
    macro_rules! curve {
        ($name:literal, $curve:ident, $hash:ty, $variant:ident, $alg:ident) => {{
            use $curve::ecdsa::{Signature, SigningKey, VerifyingKey};
            let key = SigningKey::from_slice(&[0x5a; 32]).expect("bench key");
            let digest = <$hash>::digest(message);
            let signature: Signature = key
                .sign_prehash_with_rng(&mut rng, &digest)
                .expect("signature");
            let raw = signature.to_bytes();
            let reference = VerifyingKey::from(&key);
            let ours = PublicKey::$variant(reference.clone());
            let alg = SignatureAlgorithm::$alg;
            let reference_verify = || {
                let digest = <$hash>::digest(message);
                let signature = Signature::from_slice(&raw)?;
                reference.verify_prehash(&digest, &signature)
            };
            assert!(reference_verify().is_ok());
            assert!(ours
                .verify_envelope_signature(alg, message, &raw, PssSalt::AutoDetect)
                .is_ok());
            group.bench_function(concat!("ecdsa-crate-", $name), |b| b.iter(reference_verify));
            group.bench_function(concat!("wnaf-", $name), |b| {
                b.iter(|| ours.verify_envelope_signature(alg, message, &raw, PssSalt::AutoDetect))
            });
        }};
    }
    curve!("p256", p256, sha2::Sha256, P256, Es256);
    curve!("p384", p384, sha2::Sha384, P384, Es384);
    curve!("p521", p521, sha2::Sha512, P521, Es512);
    group.finish();
}

criterion_group!(benches, bench, bench_rsa_public, bench_ecdsa_verify);
criterion_main!(benches);
