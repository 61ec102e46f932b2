//! The RSA public operation (RSAVP1, RFC 8017 §5.2.2): `m = s^e mod n`,
//! computed with Montgomery multiplication (CIOS: the multiplication and the
//! reduction interleaved limb by limb) and left-to-right square-and-multiply
//! over the bits of the public exponent, so e = 65537 costs 16 squarings and
//! one multiplication (plus the conversions in and out of Montgomery form).
//!
//! Everything here is public data (key, signature, recovered message), so
//! the code is deliberately NOT constant time: it branches on the exponent
//! bits and on the final conditional subtraction. Never use it with secrets.
//!
//! Limbs are machine words: u64 with u128 products on 64-bit targets; u32
//! with u64 products elsewhere (wasm32 multiplies i64 natively, while a u128
//! product would become a library call).

use super::CryptoError;

/// u64 limbs with u128 products: 64-bit targets (and the tests everywhere).
#[cfg(any(test, target_pointer_width = "64"))]
mod limb64 {
    type Limb = u64;
    type Wide = u128;
    include!("rsa_public/montgomery.rs");
}

/// u32 limbs with u64 products: wasm32 and other 32-bit targets (and the
/// tests everywhere, so that both limb sizes are checked natively).
#[cfg(any(test, not(target_pointer_width = "64")))]
mod limb32 {
    type Limb = u32;
    type Wide = u64;
    include!("rsa_public/montgomery.rs");
}

#[cfg(not(target_pointer_width = "64"))]
pub(crate) use limb32::RsaPublic;
#[cfg(target_pointer_width = "64")]
pub(crate) use limb64::RsaPublic;

/// The smallest and largest public exponents accepted, as `rsa` 0.9 does.
const MIN_EXPONENT: u64 = 2;
const MAX_EXPONENT: u64 = (1 << 33) - 1;

fn malformed(why: &str) -> CryptoError {
    CryptoError::MalformedKey(format!("rsa public key: {why}"))
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use rsa::rand_core::{CryptoRng, RngCore};
    use rsa::traits::PublicKeyParts;
    use rsa::BigUint;
    use std::sync::OnceLock;

    /// A deterministic test RNG (xoshiro256**), marked CryptoRng only so that
    /// `rsa` accepts it for key generation in tests.
    pub(crate) struct TestRng([u64; 4]);

    impl TestRng {
        pub(crate) fn new(seed: u64) -> Self {
            let mut z = seed;
            let mut s = [0u64; 4];
            for w in &mut s {
                // splitmix64
                z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
                let mut x = z;
                x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
                x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
                *w = x ^ (x >> 31);
            }
            TestRng(s)
        }
        pub(crate) fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    impl RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            let s = &mut self.0;
            let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
            let t = s[1] << 17;
            s[2] ^= s[0];
            s[3] ^= s[1];
            s[1] ^= s[2];
            s[0] ^= s[3];
            s[2] ^= t;
            s[3] = s[3].rotate_left(45);
            result
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for chunk in dest.chunks_mut(8) {
                let v = self.next_u64().to_le_bytes();
                chunk.copy_from_slice(&v[..chunk.len()]);
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rsa::rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl CryptoRng for TestRng {}

    /// Fixed RSA private keys (PKCS#8 DER made with `openssl genpkey`; key
    /// generation is too slow in debug builds), parsed once per process:
    /// 2048/3072/4096 with e = 65537, 2047 bits with e = 3, 2056 bits, and
    /// 3070 bits with e = 2^32 + 15.
    pub(crate) fn test_keys() -> &'static [rsa::RsaPrivateKey] {
        use rsa::pkcs8::DecodePrivateKey;
        static KEYS: OnceLock<Vec<rsa::RsaPrivateKey>> = OnceLock::new();
        KEYS.get_or_init(|| {
            [
                &include_bytes!("testdata/rsa2048.pk8")[..],
                include_bytes!("testdata/rsa3072.pk8"),
                include_bytes!("testdata/rsa4096.pk8"),
                include_bytes!("testdata/rsa2047.pk8"),
                include_bytes!("testdata/rsa2056.pk8"),
                include_bytes!("testdata/rsa3070.pk8"),
            ]
            .iter()
            .map(|der| rsa::RsaPrivateKey::from_pkcs8_der(der).expect("test key"))
            .collect()
        })
    }

    fn ours(key: &rsa::RsaPublicKey) -> RsaPublic {
        RsaPublic::new(&key.n().to_bytes_be(), &key.e().to_bytes_be()).expect("valid key")
    }

    /// The key with both limb sizes (u32 is what wasm32 runs).
    fn both(key: &rsa::RsaPublicKey) -> (limb64::RsaPublic, limb32::RsaPublic) {
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        (
            limb64::RsaPublic::new(&n, &e).expect("valid key"),
            limb32::RsaPublic::new(&n, &e).expect("valid key"),
        )
    }

    fn random_below(rng: &mut TestRng, n: &BigUint, k: usize) -> BigUint {
        loop {
            let mut bytes = vec![0u8; k];
            rng.fill_bytes(&mut bytes);
            // Sometimes small or sparse values, to exercise the edges.
            match rng.below(8) {
                0 => bytes[..k - 4].fill(0),
                1 => bytes[..k / 2].fill(0xff),
                _ => {}
            }
            let v = BigUint::from_bytes_be(&bytes);
            if &v < n {
                return v;
            }
        }
    }

    fn pad(v: &BigUint, k: usize) -> Vec<u8> {
        let b = v.to_bytes_be();
        let mut out = vec![0u8; k - b.len()];
        out.extend_from_slice(&b);
        out
    }

    fn bad(why: &str) -> CryptoError {
        CryptoError::BadSignature(why.to_string())
    }

    #[test]
    fn public_operation_matches_rsa_crate() {
        let mut rng = TestRng::new(1);
        let mut moduli: Vec<BigUint> = test_keys().iter().map(|k| k.n().clone()).collect();
        // Moduli need not be RSA moduli for the arithmetic: odd random
        // values of odd sizes, including ones just above a limb boundary.
        for bits in [1025usize, 1536, 2049, 2111, 4095, 8192] {
            let mut bytes = vec![0u8; bits.div_ceil(8)];
            rng.fill_bytes(&mut bytes);
            let top_bits = bits - (bytes.len() - 1) * 8;
            bytes[0] &= 0xffu8 >> (8 - top_bits);
            bytes[0] |= 1 << (top_bits - 1);
            if let Some(last) = bytes.last_mut() {
                *last |= 1;
            }
            moduli.push(BigUint::from_bytes_be(&bytes));
        }
        for n in &moduli {
            let k = n.to_bytes_be().len();
            for e in [3u64, 65537, 0x1_ffff_fff1 | 1, 0xdead_beef] {
                let reference =
                    rsa::RsaPublicKey::new_with_max_size(n.clone(), BigUint::from(e), 8192)
                        .expect("reference key");
                let (k64, k32) = both(&reference);
                assert_eq!((k64.size(), k32.size()), (k, k));
                assert_eq!(
                    (k64.modulus_bits(), k32.modulus_bits()),
                    (n.bits(), n.bits())
                );
                let mut values: Vec<BigUint> =
                    (0..4).map(|_| random_below(&mut rng, n, k)).collect();
                // The edges: 0, 1, n - 1.
                values.extend([BigUint::from(0u8), BigUint::from(1u8), n - 1u8]);
                for s in values {
                    let expected = pad(&rsa::hazmat::rsa_encrypt(&reference, &s).expect("rsa"), k);
                    let got = k64.public_op(&pad(&s, k), bad).expect("ours");
                    assert_eq!(got, expected, "u64: n = {n:x}, e = {e}, s = {s:x}");
                    let got = k32.public_op(&pad(&s, k), bad).expect("ours");
                    assert_eq!(got, expected, "u32: n = {n:x}, e = {e}, s = {s:x}");
                }
            }
        }
    }

    #[test]
    fn r_squared_is_right() {
        macro_rules! check {
            ($ours:expr, $key:expr, $bits:expr, $max:expr) => {{
                let ours = $ours;
                let limbs = ours.n.len();
                let r2 = (BigUint::from(1u8) << (2 * limbs * $bits)) % $key.n();
                let mut got = Vec::new();
                for limb in ours.rr().iter().rev() {
                    got.extend_from_slice(&limb.to_be_bytes());
                }
                assert_eq!(BigUint::from_bytes_be(&got), r2);
                let inv = ours.n0_inv.wrapping_mul(ours.n[0]);
                assert_eq!(inv, $max, "n0_inv * n0 == -1 mod 2^w");
            }};
        }
        for key in test_keys() {
            let (k64, k32) = both(&key.to_public_key());
            check!(k64, key, 64, u64::MAX);
            check!(k32, key, 32, u32::MAX);
        }
    }

    #[test]
    fn inputs_are_checked() {
        let key = ours(&test_keys()[0].to_public_key());
        let k = key.size();
        let n = pad(test_keys()[0].n(), k);
        let err = |r: Result<Vec<u8>, CryptoError>| match r {
            Err(CryptoError::BadSignature(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            err(key.public_op(&n, bad)),
            "signature representative out of range"
        );
        assert_eq!(
            err(key.public_op(&[0xff; 256], bad)),
            "signature representative out of range"
        );
        assert_eq!(
            err(key.public_op(&n[1..], bad)),
            "signature length differs from the modulus length"
        );
        let mut longer = vec![0u8];
        longer.extend_from_slice(&n);
        assert_eq!(
            err(key.public_op(&longer, bad)),
            "signature length differs from the modulus length"
        );
    }

    #[test]
    fn keys_are_checked_as_rsa_does() {
        let n = test_keys()[0].n().to_bytes_be();
        let msg = |r: Result<RsaPublic, CryptoError>| match r {
            Err(CryptoError::MalformedKey(m)) => m,
            Ok(_) => "ok".into(),
            Err(other) => panic!("{other:?}"),
        };
        let mut even = n.clone();
        if let Some(last) = even.last_mut() {
            *last &= 0xfe;
        }
        for (modulus, e) in [
            (n.clone(), vec![3u8]),
            (n.clone(), vec![0x01, 0x00, 0x01]),
            (n.clone(), vec![0, 0, 0x01, 0x00, 0x01]),
            (n.clone(), vec![1]),
            (n.clone(), vec![0]),
            (n.clone(), vec![]),
            (n.clone(), vec![2]),
            (n.clone(), vec![0x01, 0xff, 0xff, 0xff, 0xff]),
            (n.clone(), vec![0x02, 0x00, 0x00, 0x00, 0x01]),
            (n.clone(), vec![1; 9]),
            (even, vec![3]),
            (vec![], vec![3]),
            (vec![0, 0], vec![3]),
            (vec![0x0f], vec![0x11]),
            (vec![0x11], vec![0x11]),
            (vec![0x13], vec![0x11]),
        ] {
            let expected = match rsa::RsaPublicKey::new_with_max_size(
                BigUint::from_bytes_be(&modulus),
                BigUint::from_bytes_be(&e),
                8192,
            ) {
                Ok(_) => "ok".to_string(),
                Err(err) => format!("rsa public key: {err}"),
            };
            assert_eq!(msg(RsaPublic::new(&modulus, &e)), expected, "{e:?}");
            let other = limb32::RsaPublic::new(&modulus, &e).map(|_| ());
            assert_eq!(
                msg(RsaPublic::new(&modulus, &e)).as_str() == "ok",
                other.is_ok()
            );
        }
    }
}
