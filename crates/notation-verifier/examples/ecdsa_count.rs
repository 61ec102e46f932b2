//! A fixed number of ECDSA verifications, for instruction counts under
//! callgrind (load-independent, unlike time on a shared machine):
//!
//!   ecdsa_count <p256|p384|p521> <ours|crate> <iterations>
//!
//! `ours` is `PublicKey::verify_envelope_signature` (our arithmetic for
//! P-256/P-384), `crate` is `ecdsa` 0.16's `verify_prehash` on the same
//! key, digest and signature. Built for wasm32-wasip1 it runs under Node's
//! WASI (`crates/notation-verifier/benches/wasi.mjs --run`); the count of a
//! run with 0 iterations (start-up, compilation) is subtracted from one with
//! N to get the count per verification. docs/performance.md has the figures.

use notation_verifier::crypto::{PssSalt, PublicKey, SignatureAlgorithm};
use sha2::Digest;
use signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};

/// A deterministic `rand_core` generator for signing (xorshift64*).
struct CountRng(u64);

impl p256::elliptic_curve::rand_core::RngCore for CountRng {
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

impl p256::elliptic_curve::rand_core::CryptoRng for CountRng {}

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: ecdsa_count <p256|p384|p521> <ours|crate> <iterations>";
    let [_, curve, which, n] = args.as_slice() else {
        return Err(usage.into());
    };
    let n: usize = n.parse().map_err(|_| usage.to_string())?;
    let ours = match which.as_str() {
        "ours" => true,
        "crate" => false,
        _ => return Err(usage.into()),
    };
    let message = b"a JWS signing input, more or less";
    let mut rng = CountRng(0x9e37_79b9_7f4a_7c15);
    macro_rules! run {
        ($curve:ident, $hash:ty, $variant:ident, $alg:ident) => {{
            use $curve::ecdsa::{Signature, SigningKey, VerifyingKey};
            let key = SigningKey::from_slice(&[0x5a; 32]).map_err(|e| e.to_string())?;
            let digest = <$hash>::digest(message);
            let signature: Signature = key
                .sign_prehash_with_rng(&mut rng, &digest)
                .map_err(|e| e.to_string())?;
            let raw = signature.to_bytes();
            let reference = VerifyingKey::from(&key);
            let public = PublicKey::$variant(reference.clone());
            let mut accepted = 0usize;
            for _ in 0..n {
                let ok = if ours {
                    public
                        .verify_envelope_signature(
                            SignatureAlgorithm::$alg,
                            message,
                            &raw,
                            PssSalt::AutoDetect,
                        )
                        .is_ok()
                } else {
                    let digest = <$hash>::digest(message);
                    Signature::from_slice(&raw)
                        .and_then(|s| reference.verify_prehash(&digest, &s))
                        .is_ok()
                };
                accepted += usize::from(ok);
            }
            if accepted != n {
                return Err(format!("{accepted} of {n} verifications accepted"));
            }
        }};
    }
    match curve.as_str() {
        "p256" => run!(p256, sha2::Sha256, P256, Es256),
        "p384" => run!(p384, sha2::Sha384, P384, Es384),
        "p521" => run!(p521, sha2::Sha512, P521, Es512),
        _ => return Err(usage.into()),
    }
    println!("{curve} {which}: {n} verifications");
    Ok(())
}
