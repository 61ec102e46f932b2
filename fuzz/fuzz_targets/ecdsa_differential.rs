#![no_main]
// Our ECDSA P-256/P-384 (crypto/ec) against ecdsa 0.16 on the same key,
// message and signature: a signature made with a key derived from the
// input, then that signature with input bytes XORed in, then input bytes as
// the signature itself. Both must accept or refuse alike.
use notation_verifier::crypto::{PssSalt, PublicKey, SignatureAlgorithm};
use signature::{Signer, Verifier};

macro_rules! compare {
    ($curve:ident, $variant:ident, $alg:ident, $data:expr) => {{
        use $curve::ecdsa::{Signature, SigningKey, VerifyingKey};
        let data: &[u8] = $data;
        let size = <$curve::FieldBytes>::default().len();
        if data.len() < size + 1 {
            return;
        }
        let (seed, rest) = data.split_at(size);
        let Ok(key) = SigningKey::from_slice(seed) else {
            return;
        };
        let split = usize::from(rest[0]).min(rest.len() - 1);
        let (message, noise) = rest[1..].split_at(split);
        let reference = VerifyingKey::from(&key);
        let ours = PublicKey::$variant(reference);
        let valid: Signature = key.sign(message);
        let mut candidates = vec![valid.to_bytes().to_vec(), noise.to_vec()];
        let mut flipped = valid.to_bytes().to_vec();
        for (b, n) in flipped.iter_mut().zip(noise) {
            *b ^= n;
        }
        candidates.push(flipped);
        for raw in candidates {
            let expected = Signature::from_slice(&raw)
                .and_then(|s| reference.verify(message, &s))
                .is_ok();
            let got = ours
                .verify_envelope_signature(SignatureAlgorithm::$alg, message, &raw, PssSalt::AutoDetect)
                .is_ok();
            assert_eq!(got, expected, "{} {raw:02x?}", stringify!($curve));
        }
    }};
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    match data.split_first() {
        Some((selector, rest)) if selector & 1 == 0 => compare!(p256, P256, Es256, rest),
        Some((_, rest)) => compare!(p384, P384, Es384, rest),
        None => {}
    }
});
