//! The RSA public operation (RSAVP1, RFC 8017 §5.2.2): `m = s^e mod n`,
//! computed with Montgomery multiplication and left-to-right
//! square-and-multiply over the bits of the public exponent, so e = 65537
//! costs 16 squarings and one multiplication, plus the conversions in and
//! out of Montgomery form. The conversion in is s·R mod n by long division
//! (one limb of quotient at a time, see [`Montgomery::shift_mod`]), which
//! costs about half a multiplication: cheaper than the usual R^2 mod n
//! (five squarings and the doublings up to their start, per key) followed
//! by a multiplication, and nothing to cache.
//!
//! Two representations of the arithmetic, one per kind of target:
//! [`cios`] (u64 limbs, u128 products) where a 64x64->128 multiply is one
//! instruction, and [`product_scanning`] (27-bit limbs, carries once per
//! column) on 32-bit targets such as wasm32, which has no wide multiply.
//! The tests run both everywhere against `rsa` 0.9.
//!
//! Everything here is public data (key, signature, recovered message), so
//! the code is deliberately NOT constant time: it branches on the exponent
//! bits and on the final conditional subtraction. Never use it with secrets.

use super::CryptoError;

#[cfg(any(test, target_pointer_width = "64"))]
mod cios;
#[cfg(any(test, not(target_pointer_width = "64")))]
mod product_scanning;

/// The arithmetic this target runs.
#[cfg(target_pointer_width = "64")]
type Native = cios::Cios;
#[cfg(not(target_pointer_width = "64"))]
type Native = product_scanning::ProductScanning;

/// Montgomery arithmetic modulo one odd n in one limb representation, with
/// R = 2^(LIMB_BITS * limbs). Values are little-endian limb vectors below n.
pub(crate) trait Montgomery: Sized {
    type Limb: Copy + Ord;
    /// The tests compute R from it; the code never needs R itself.
    #[cfg(test)]
    const LIMB_BITS: usize;
    /// The modulus from big-endian bytes without leading zeros; `None` if
    /// it is even or too large for the representation.
    fn new(modulus: &[u8]) -> Option<Self>;
    fn limbs(&self) -> usize;
    /// Big-endian bytes (leading zeros allowed) as limbs; `None` unless the
    /// value is below n.
    fn value_from_be(&self, bytes: &[u8]) -> Option<Vec<Self::Limb>>;
    /// The value as exactly `k` big-endian bytes (`k` holds n).
    fn to_be(&self, x: &[Self::Limb], k: usize) -> Vec<u8>;
    /// 2^exponent, for 2^exponent < n.
    fn power_of_two(&self, exponent: usize) -> Vec<Self::Limb>;
    /// `x = x * 2^LIMB_BITS mod n`, for `x < n`: one step of schoolbook
    /// division. The quotient digit is estimated from the top bits
    /// ([`quotient_digit`]), never above the true one, and the remainder
    /// corrected by a few subtractions of n.
    fn shift_mod(&self, x: &mut [Self::Limb]);
    /// The working space [`Montgomery::mul`] needs.
    fn scratch(&self) -> Vec<Self::Limb>;
    /// `out = a * b * R^-1 mod n`, for `a, b < n`.
    fn mul(
        &self,
        a: &[Self::Limb],
        b: &[Self::Limb],
        out: &mut [Self::Limb],
        scratch: &mut [Self::Limb],
    );
    /// `out = a * a * R^-1 mod n`, for `a < n`: where the representation
    /// can, with each cross product a_i a_j computed once.
    fn square(&self, a: &[Self::Limb], out: &mut [Self::Limb], scratch: &mut [Self::Limb]) {
        self.mul(a, a, out, scratch)
    }
}

/// `a < b`, both little-endian limbs of the same length.
fn less_than<L: Ord>(a: &[L], b: &[L]) -> bool {
    a.iter().rev().cmp(b.iter().rev()).is_lt()
}

/// The top bits of a modulus, for estimating quotient digits: `n_top` is
/// n / 2^shift, with shift chosen so that n_top has 63 bits (or is all of
/// n, shift 0, for a modulus below 2^63).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct TopBits {
    shift: usize,
    n_top: u64,
}

impl TopBits {
    /// From the modulus limbs (`limb_bits` bits each, the top one non-zero).
    fn of(n: &[u64], limb_bits: usize) -> Self {
        let top = n.last().copied().unwrap_or(0);
        let bits = limb_bits * (n.len().saturating_sub(1)) + (64 - top.leading_zeros() as usize);
        let shift = bits.saturating_sub(63);
        // n / 2^shift < 2^63 by the choice of shift.
        let n_top = window(n, 0, limb_bits, shift) as u64;
        TopBits { shift, n_top }
    }
}

/// floor(y / 2^shift) for y = hi·2^(limb_bits·len) + Σ limbs[i]·2^(limb_bits·i),
/// which the caller keeps below 2^(shift + 127).
fn window(limbs: &[u64], hi: u64, limb_bits: usize, shift: usize) -> u128 {
    let first = shift / limb_bits;
    let mut acc = 0u128;
    for (i, &limb) in limbs.iter().chain([&hi]).enumerate().skip(first) {
        let pos = i * limb_bits;
        if limb == 0 {
            continue;
        }
        // A non-zero limb at pos means y >= 2^pos, so pos - shift < 127.
        acc |= if pos >= shift {
            u128::from(limb) << (pos - shift)
        } else {
            u128::from(limb) >> (shift - pos)
        };
    }
    acc
}

/// The quotient digit of y / n for y = (x < n)·2^limb_bits, never above
/// the true one. With shift 0 both tops are exact and so is the digit.
/// Otherwise n_top >= 2^62 and, dividing by n_top + 1 (which, times
/// 2^shift, exceeds n), q·n <= y; the true digit is at most
/// y_top / (n_top (n_top + 1)) + 1 < 2^(limb_bits - 62) + 2 above q, so the
/// caller's correction loop runs at most 6 times (64-bit limbs) or twice
/// (27-bit).
fn quotient_digit(y_top: u128, top: TopBits) -> u64 {
    let q = if top.shift == 0 {
        y_top / u128::from(top.n_top)
    } else {
        y_top / (u128::from(top.n_top) + 1)
    };
    // y < n·2^limb_bits, so q < 2^limb_bits <= 2^64.
    q as u64
}

/// The first half of [`Montgomery::shift_mod`], the same for every limb
/// width: shifts `x` up one limb, and returns the limb shifted out (the top
/// of y = x·2^limb_bits, with `x` its low limbs) and y's quotient digit.
fn shift_up(x: &mut [u64], limb_bits: usize, top: TopBits) -> (u64, u64) {
    let len = x.len();
    let hi = x[len - 1];
    x.copy_within(0..len - 1, 1);
    x[0] = 0;
    (hi, quotient_digit(window(x, hi, limb_bits, top.shift), top))
}

/// An RSA public key with what Montgomery arithmetic needs: the modulus's
/// constants, computed at parse time.
#[derive(Clone)]
pub(crate) struct RsaPublic<M: Montgomery = Native> {
    modulus: M,
    e: u64,
    /// Modulus length in bytes (k in RFC 8017) and in bits.
    k: usize,
    bits: usize,
}

/// The key is (n, e).
impl<M: Montgomery + PartialEq> PartialEq for RsaPublic<M> {
    fn eq(&self, other: &Self) -> bool {
        self.modulus == other.modulus && self.e == other.e
    }
}
impl<M: Montgomery + Eq> Eq for RsaPublic<M> {}

impl<M: Montgomery> std::fmt::Debug for RsaPublic<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublic({} bits, e = {})", self.bits, self.e)
    }
}

impl<M: Montgomery> RsaPublic<M> {
    /// Precomputes the key from the big-endian modulus and exponent (leading
    /// zero bytes allowed). Accepts what `rsa` 0.9 accepts: odd n, odd e with
    /// 3 <= e <= 2^33 - 1 and e < n, with the same messages. The caller
    /// bounds the modulus size before calling.
    pub(crate) fn new(modulus: &[u8], exponent: &[u8]) -> Result<Self, CryptoError> {
        let modulus = strip_zeros(modulus);
        let exponent = strip_zeros(exponent);
        if exponent.len() > 8 {
            return Err(malformed("public exponent too large"));
        }
        let e = exponent
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        // e >= n: e fits in one u64; n is at most that small only if short.
        let e_ge_n = match modulus.len() {
            0..=8 => {
                e >= modulus
                    .iter()
                    .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
            }
            _ => false,
        };
        let arithmetic = M::new(modulus).filter(|_| !e_ge_n);
        let Some(arithmetic) = arithmetic else {
            return Err(malformed("invalid modulus"));
        };
        if e & 1 == 0 {
            return Err(malformed("invalid exponent"));
        }
        if e < MIN_EXPONENT {
            return Err(malformed("public exponent too small"));
        }
        if e > MAX_EXPONENT {
            return Err(malformed("public exponent too large"));
        }
        let bits = (modulus.len() - 1) * 8 + (8 - modulus[0].leading_zeros() as usize);
        Ok(RsaPublic {
            modulus: arithmetic,
            e,
            k: modulus.len(),
            bits,
        })
    }

    /// Modulus length in bytes.
    pub(crate) fn size(&self) -> usize {
        self.k
    }

    /// Bit length of the modulus.
    pub(crate) fn modulus_bits(&self) -> usize {
        self.bits
    }

    /// s·R mod n (Montgomery form) by long division: R = 2^(LIMB_BITS·limbs).
    fn to_montgomery(&self, s: &[M::Limb]) -> Vec<M::Limb> {
        let mut x = s.to_vec();
        for _ in 0..self.modulus.limbs() {
            self.modulus.shift_mod(&mut x);
        }
        x
    }

    /// RSAVP1: `s^e mod n` as big-endian bytes of the modulus length.
    /// The signature must be exactly k bytes and represent a value below n
    /// (the caller's error messages are kept: `out_of_range` / `bad_length`).
    pub(crate) fn public_op(
        &self,
        signature: &[u8],
        bad: impl Fn(&str) -> CryptoError,
    ) -> Result<Vec<u8>, CryptoError> {
        if signature.len() != self.k {
            return Err(bad("signature length differs from the modulus length"));
        }
        let m = &self.modulus;
        let s = m
            .value_from_be(signature)
            .ok_or_else(|| bad("signature representative out of range"))?;
        let mut scratch = m.scratch();
        let base = self.to_montgomery(&s);
        let mut acc = base.clone();
        let mut tmp = base.clone();
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            m.square(&acc, &mut tmp, &mut scratch);
            std::mem::swap(&mut acc, &mut tmp);
            if (self.e >> bit) & 1 == 1 {
                m.mul(&acc, &base, &mut tmp, &mut scratch);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        // Out of Montgomery form: multiply by 1.
        let one = m.power_of_two(0);
        m.mul(&acc, &one, &mut tmp, &mut scratch);
        Ok(m.to_be(&tmp, self.k))
    }
}

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

    type Cios = RsaPublic<cios::Cios>;
    type Scanning = RsaPublic<product_scanning::ProductScanning>;

    /// The key in both representations (product scanning is what wasm32
    /// runs).
    fn both(key: &rsa::RsaPublicKey) -> (Cios, Scanning) {
        let (n, e) = (key.n().to_bytes_be(), key.e().to_bytes_be());
        (
            Cios::new(&n, &e).expect("valid key"),
            Scanning::new(&n, &e).expect("valid key"),
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
    fn montgomery_form_is_right() {
        fn check<M: Montgomery>(ours: &RsaPublic<M>, n: &BigUint, rng: &mut TestRng) {
            let r = BigUint::from(1u8) << (M::LIMB_BITS * ours.modulus.limbs());
            assert!(
                r > *n && (&r >> M::LIMB_BITS) <= *n,
                "R is the smallest power of the limb base above n"
            );
            let k = ours.size();
            let mut values = vec![
                BigUint::from(0u8),
                BigUint::from(1u8),
                n - 1u8,
                n - 2u8,
                n >> 1,
            ];
            values.extend((0..8).map(|_| {
                let mut bytes = vec![0u8; k + 8];
                rng.fill_bytes(&mut bytes);
                BigUint::from_bytes_be(&bytes) % n
            }));
            for v in values {
                let x = ours.modulus.value_from_be(&pad(&v, k)).expect("below n");
                let got = ours.modulus.to_be(&ours.to_montgomery(&x), k);
                let expected = pad(&((&v * &r) % n), k);
                assert_eq!(got, expected, "{} bits, v = {v:x}", n.bits());
            }
        }
        let mut rng = TestRng::new(27);
        for key in test_keys() {
            let (cios, scanning) = both(&key.to_public_key());
            check(&cios, key.n(), &mut rng);
            check(&scanning, key.n(), &mut rng);
        }
        // Odd moduli of every length mod 27 and mod 64 (the top limb from 1
        // bit to full), tiny ones (exact digits, shift 0) and ones whose top
        // bits are all set or all clear below the leading one (the estimate's
        // worst cases).
        let one = || BigUint::from(1u8);
        let mut moduli: Vec<BigUint> = (1000..1064)
            .map(|bits| {
                let mut bytes = vec![0u8; bits / 8 + 1];
                rng.fill_bytes(&mut bytes);
                (BigUint::from_bytes_be(&bytes) % (one() << bits)) | (one() << (bits - 1)) | one()
            })
            .collect();
        moduli.extend([5u64, 0x13, (1 << 62) + 1, u64::MAX, (1 << 63) + 1].map(BigUint::from));
        moduli.push((one() << 2048) - 1u8);
        moduli.push((one() << 2047) + 1u8);
        moduli.push((one() << 1100) - (one() << 1000) + 1u8);
        for n in moduli {
            let bytes = n.to_bytes_be();
            check(&Cios::new(&bytes, &[3]).expect("cios key"), &n, &mut rng);
            check(
                &Scanning::new(&bytes, &[3]).expect("scanning key"),
                &n,
                &mut rng,
            );
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
        fn msg<M: Montgomery>(r: Result<RsaPublic<M>, CryptoError>) -> String {
            match r {
                Err(CryptoError::MalformedKey(m)) => m,
                Ok(_) => "ok".into(),
                Err(other) => panic!("{other:?}"),
            }
        }
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
            assert_eq!(msg(Cios::new(&modulus, &e)), expected, "{e:?}");
            assert_eq!(msg(Scanning::new(&modulus, &e)), expected, "{e:?}");
        }
    }
}
