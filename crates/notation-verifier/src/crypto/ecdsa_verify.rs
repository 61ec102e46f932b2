//! Variable-time ECDSA verification for P-521 (P-256 and P-384 run on our
//! own arithmetic in `ec`, which shares [`wnaf`] from here).
//!
//! Everything a verifier handles is public (key, digest, signature), so
//! nothing here needs to run in constant time. `ecdsa` 0.16 computes
//! `u1·G + u2·Q` as two independent constant-time scalar multiplications
//! (4-bit windows with masked table lookups, `2·bits` doublings); this
//! module computes the same point with one shared doubling chain and the
//! two scalars in width-w non-adjacent form (Straus/Shamir interleaving):
//! about `bits` doublings and `bits/(w+1)` additions per scalar.
//!
//! The field and point arithmetic are the curve crates' own (`primeorder`
//! complete formulas through the `group` traits); only the order in which
//! doublings and additions happen changes. The verification equation is
//! SEC 1 §4.1.4 / FIPS 186-5 §6.4.2, with the digest turned into a scalar
//! exactly as `ecdsa` 0.16 does (`bits2field`, then reduction mod n), so
//! both accept and reject the same inputs.

use std::sync::OnceLock;

use ecdsa::elliptic_curve::ff::PrimeField;
use ecdsa::elliptic_curve::group::{Curve as _, Group};
use ecdsa::elliptic_curve::ops::{Invert, Reduce};
use ecdsa::elliptic_curve::point::AffineCoordinates;
use ecdsa::elliptic_curve::{AffinePoint, CurveArithmetic, PrimeCurve, ProjectivePoint, Scalar};
use ecdsa::{Error, Signature, SignatureSize};

/// NAF width for the generator: its table of odd multiples is fixed, so it
/// is built once per process (lazily) and shared by every verification. The
/// policy runs in a fresh wasm instance per request, so the table is built
/// again for each request that verifies on the curve: it stays small and
/// projective (an affine table would cost one field inversion per entry;
/// `primeorder` 0.13 has no batch normalisation for these curves).
const G_WIDTH: u32 = 6;
/// Entries in the generator's table: G, 3G, ..., (2^(w-1) - 1)G.
const G_TABLE: usize = 1 << (G_WIDTH - 2);
/// NAF width for the public key, whose table is built per verification.
const Q_WIDTH: u32 = 5;
const Q_TABLE: usize = 1 << (Q_WIDTH - 2);

/// A curve with a precomputed table of odd multiples of its generator.
pub(super) trait VarTimeCurve: CurveArithmetic + PrimeCurve {
    fn generator_table() -> &'static [ProjectivePoint<Self>; G_TABLE];
}

macro_rules! generator_table {
    ($curve:ty) => {
        impl VarTimeCurve for $curve {
            fn generator_table() -> &'static [ProjectivePoint<Self>; G_TABLE] {
                static TABLE: OnceLock<[ProjectivePoint<$curve>; G_TABLE]> = OnceLock::new();
                TABLE.get_or_init(|| {
                    odd_multiples::<$curve, G_TABLE>(ProjectivePoint::<$curve>::generator())
                })
            }
        }
    };
}

generator_table!(p521::NistP521);

/// `[P, 3P, 5P, ..., (2N - 1)P]`.
fn odd_multiples<C: CurveArithmetic, const N: usize>(
    p: ProjectivePoint<C>,
) -> [ProjectivePoint<C>; N] {
    let twice = p.double();
    let mut table = [p; N];
    for i in 1..N {
        table[i] = table[i - 1] + twice;
    }
    table
}

/// Width-`w` non-adjacent form of the big-endian integer `be`, least
/// significant digit first: `k = Σ d_i·2^i` with every non-zero `d_i` odd,
/// `|d_i| < 2^(w-1)`, and at most one non-zero digit in any `w` consecutive
/// ones.
pub(super) fn wnaf(be: &[u8], w: u32) -> Vec<i8> {
    // Little-endian 64-bit limbs, one spare for the carry of `k - d` when
    // `d` is negative.
    let mut k: Vec<u64> = be
        .rchunks(8)
        .map(|chunk| chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
        .collect();
    k.push(0);
    let modulus = 1u64 << w;
    let half = modulus >> 1;
    let mut digits = Vec::with_capacity(k.len() * 64);
    while k.iter().any(|&limb| limb != 0) {
        // A run of zero digits at once (after each non-zero digit, k is
        // divisible by 2^w, so runs are the common case): one shift of
        // the limbs per run instead of one per bit.
        let zeros = k[0].trailing_zeros();
        if zeros > 0 {
            digits.resize(digits.len() + zeros as usize, 0);
            shift_right(&mut k, zeros);
            continue;
        }
        // k is odd: the residue of k mod 2^w, taken in (-2^(w-1), 2^(w-1)).
        let residue = k[0] & (modulus - 1);
        let digit = if residue >= half {
            add_small(&mut k, modulus - residue);
            -((modulus - residue) as i8)
        } else {
            sub_small(&mut k, residue);
            residue as i8
        };
        digits.push(digit);
        shift_right(&mut k, 1);
    }
    digits
}

fn add_small(k: &mut [u64], mut carry: u64) {
    for limb in k.iter_mut() {
        if carry == 0 {
            break;
        }
        let (sum, overflow) = limb.overflowing_add(carry);
        *limb = sum;
        carry = u64::from(overflow);
    }
}

fn sub_small(k: &mut [u64], mut borrow: u64) {
    for limb in k.iter_mut() {
        if borrow == 0 {
            break;
        }
        let (difference, underflow) = limb.overflowing_sub(borrow);
        *limb = difference;
        borrow = u64::from(underflow);
    }
}

/// `k >>= s` for `s` in 1..=64 (64: a whole zero limb).
fn shift_right(k: &mut [u64], s: u32) {
    for i in 0..k.len() {
        let next = k.get(i + 1).copied().unwrap_or(0);
        k[i] = if s == 64 {
            next
        } else {
            (k[i] >> s) | (next << (64 - s))
        };
    }
}

/// `u1·G + u2·Q`, interleaving the two NAF expansions over one chain of
/// doublings.
fn double_scalar_mul<C: VarTimeCurve>(
    u1: &Scalar<C>,
    u2: &Scalar<C>,
    q: &AffinePoint<C>,
) -> ProjectivePoint<C> {
    let g_table = C::generator_table();
    let q_table = odd_multiples::<C, Q_TABLE>(ProjectivePoint::<C>::from(*q));
    let g_digits = wnaf(&u1.to_repr(), G_WIDTH);
    let q_digits = wnaf(&u2.to_repr(), Q_WIDTH);
    let mut acc = ProjectivePoint::<C>::identity();
    // Doubling the identity is wasted work: start at the first digit.
    let mut started = false;
    for i in (0..g_digits.len().max(q_digits.len())).rev() {
        if started {
            acc = acc.double();
        }
        if let Some(&d) = g_digits.get(i).filter(|&&d| d != 0) {
            let p = g_table[usize::from(d.unsigned_abs() / 2)];
            acc = if d > 0 { acc + p } else { acc - p };
            started = true;
        }
        if let Some(&d) = q_digits.get(i).filter(|&&d| d != 0) {
            let p = q_table[usize::from(d.unsigned_abs() / 2)];
            acc = if d > 0 { acc + p } else { acc - p };
            started = true;
        }
    }
    acc
}

/// ECDSA verification of `signature` over the digest `prehash` with the
/// public key `q`; the same result as `ecdsa` 0.16's
/// `VerifyingKey::verify_prehash`.
// `ArrayLength` (generic-array 0.14, as `ecdsa` 0.16 uses it) is deprecated.
#[allow(deprecated)]
pub(super) fn verify_prehash<C>(
    q: &AffinePoint<C>,
    prehash: &[u8],
    signature: &Signature<C>,
) -> Result<(), Error>
where
    C: VarTimeCurve,
    SignatureSize<C>: ecdsa::elliptic_curve::generic_array::ArrayLength<u8>,
{
    // e: the leftmost field-size bytes of the digest (left-padded when
    // shorter; fewer than half the field size is an error), mod n.
    let e = <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&ecdsa::hazmat::bits2field::<C>(prehash)?);
    // r and s are in [1, n-1]: `Signature` cannot hold anything else.
    let (r, s) = signature.split_scalars();
    let w = *s.invert_vartime();
    let u1 = e * w;
    let u2 = *r * w;
    let point = double_scalar_mul::<C>(&u1, &u2, q);
    if bool::from(point.is_identity()) {
        return Err(Error::new());
    }
    let x = <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&point.to_affine().x());
    if x == *r {
        Ok(())
    } else {
        Err(Error::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naf_value(digits: &[i8]) -> Vec<u8> {
        // Σ d_i·2^i as a big-endian byte string (no leading zeros), summed
        // in 32-bit little-endian limbs held in i128 (digits are signed).
        let mut limbs = vec![0i128; digits.len() / 32 + 2];
        for (i, &d) in digits.iter().enumerate() {
            limbs[i / 32] += i128::from(d) << (i % 32);
        }
        // Normalise the 32-bit limbs (carries may be negative).
        let mut out = Vec::new();
        let mut carry = 0i128;
        for limb in limbs {
            let v = limb + carry;
            out.push(v.rem_euclid(1 << 32) as u32);
            carry = v.div_euclid(1 << 32);
        }
        assert_eq!(carry, 0);
        let mut be: Vec<u8> = out.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        while be.first() == Some(&0) {
            be.remove(0);
        }
        be
    }

    #[test]
    fn wnaf_digits_are_a_naf_of_the_scalar() {
        let mut inputs: Vec<Vec<u8>> = vec![
            vec![0],
            vec![1],
            vec![0xff; 32],
            vec![0xff; 66],
            vec![0x80; 48],
            vec![0x01, 0, 0, 0, 0, 0, 0, 0, 0],
        ];
        let mut state = [7u8; 66];
        for i in 0..200u32 {
            for (j, b) in state.iter_mut().enumerate() {
                *b = b
                    .wrapping_mul(181)
                    .wrapping_add((j as u8) ^ (i as u8))
                    .rotate_left(3);
            }
            inputs.push(state[..(i as usize % 66) + 1].to_vec());
        }
        // Up to 8: the generator's width.
        for w in 2..=8 {
            for be in &inputs {
                let digits = wnaf(be, w);
                let mut expected = be.clone();
                while expected.first() == Some(&0) {
                    expected.remove(0);
                }
                assert_eq!(naf_value(&digits), expected, "w={w} {be:02x?}");
                for (i, &d) in digits.iter().enumerate() {
                    if d != 0 {
                        assert!(d % 2 != 0 && i32::from(d).abs() < 1 << (w - 1));
                        let next = &digits[i + 1..digits.len().min(i + w as usize)];
                        assert!(next.iter().all(|&x| x == 0), "w={w} {digits:?}");
                    }
                }
                assert!(digits.last().is_none_or(|&d| d > 0));
            }
        }
    }
    use crate::crypto::rsa_public::tests::TestRng;
    use crate::crypto::{CryptoError, PublicKey};
    use sha2::Digest;
    use signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};

    /// Deterministic test bytes: SHA-512 of a label and a counter.
    fn bytes(label: &str, i: usize, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut block = 0u32;
        while out.len() < len {
            let mut h = sha2::Sha512::new();
            h.update(label.as_bytes());
            h.update((i as u64).to_be_bytes());
            h.update(block.to_be_bytes());
            out.extend_from_slice(&h.finalize());
            block += 1;
        }
        out.truncate(len);
        out
    }

    /// Counts of the comparisons a differential run made.
    #[derive(Default, Debug)]
    struct Counts {
        compared: usize,
        accepted: usize,
    }

    /// One curve: `$keys` deterministic keys, each signing digests of 32,
    /// 48 and 64 bytes; every comparison runs the signature through
    /// `PublicKey::verify_ecdsa_prehash` (ours) and through the parser and
    /// `verify_prehash` of `ecdsa` 0.16 (the reference), in both the raw
    /// `r || s` and the DER encodings, and requires the same result.
    macro_rules! differential {
        ($test:ident, $curve:ident, $variant:ident, $keys:expr, $every_flip:expr) => {
            #[test]
            fn $test() {
                use $curve::ecdsa::{Signature, SigningKey, VerifyingKey};
                let field = <$curve::FieldBytes>::default().len();
                let reference = |vk: &VerifyingKey,
                                 digest: &[u8],
                                 sig: &[u8],
                                 der: bool|
                 -> Result<(), CryptoError> {
                    let bad = |e: ecdsa::Error| CryptoError::BadSignature(e.to_string());
                    let sig = if der {
                        Signature::from_der(sig).map_err(bad)?
                    } else {
                        Signature::from_slice(sig).map_err(bad)?
                    };
                    vk.verify_prehash(digest, &sig).map_err(bad)
                };
                let mut rng = TestRng::new(field as u64);
                let mut counts = Counts::default();
                let mut compare = |vk: &VerifyingKey, digest: &[u8], raw: &[u8], what: &str| {
                    let ours = PublicKey::$variant(vk.clone());
                    let mut encodings = vec![(raw.to_vec(), false)];
                    if let Ok(sig) = Signature::from_slice(raw) {
                        encodings.push((sig.to_der().as_bytes().to_vec(), true));
                    }
                    let mut accepted = None;
                    for (sig, der) in encodings {
                        let expected = reference(vk, digest, &sig, der);
                        let got = ours.verify_ecdsa_prehash(digest, &sig, der);
                        assert_eq!(
                            got,
                            expected,
                            "{what} (der={der}, digest {} bytes)",
                            digest.len()
                        );
                        assert!(accepted.is_none_or(|a| a == got.is_ok()));
                        accepted = Some(got.is_ok());
                        counts.compared += 1;
                        counts.accepted += usize::from(got.is_ok());
                    }
                    accepted.unwrap_or(false)
                };
                let keys: Vec<SigningKey> = (0..=$keys)
                    .map(|i| {
                        SigningKey::from_slice(&bytes(stringify!($curve), i, field.min(64)))
                            .expect("key")
                    })
                    .collect();
                for i in 0..$keys {
                    let vk = VerifyingKey::from(&keys[i]);
                    let other = VerifyingKey::from(&keys[i + 1]);
                    for len in [32usize, 48, 64] {
                        let mut digest = bytes("digest", i * 3 + len, len);
                        if i == 1 {
                            // e = 0: u1 = 0, R = u2·Q only.
                            digest.fill(0);
                        }
                        let Ok(sig): Result<Signature, _> =
                            keys[i].sign_prehash_with_rng(&mut rng, &digest)
                        else {
                            // Too short for the curve (SHA-256 with P-521):
                            // any signature must be refused by both.
                            let sig: Signature = keys[i]
                                .sign_prehash_with_rng(&mut rng, &bytes("x", i, 64))
                                .expect("sign");
                            assert!(!compare(&vk, &digest, &sig.to_bytes(), "short digest"));
                            continue;
                        };
                        let raw = sig.to_bytes().to_vec();
                        assert!(compare(&vk, &digest, &raw, "valid"), "a valid signature");
                        // The other s (n - s): ecdsa 0.16 accepts high S.
                        let (r, s) = sig.split_scalars();
                        let flipped = Signature::from_scalars(*r, -*s).expect("n - s");
                        assert!(compare(&vk, &digest, &flipped.to_bytes(), "n - s"));
                        assert!(!compare(&other, &digest, &raw, "wrong key"));
                        // Truncated to below half the field: refused.
                        assert!(!compare(
                            &vk,
                            &digest[..field / 2 - 1],
                            &raw,
                            "short digest"
                        ));
                        // Single-bit flips: all of them for the first keys,
                        // a few at pseudo-random positions for the rest.
                        let positions: Vec<usize> = if i < $every_flip {
                            (0..(raw.len() + digest.len()) * 8).collect()
                        } else {
                            bytes("flip", i * 3 + len, 16)
                                .chunks(2)
                                .map(|c| {
                                    usize::from(u16::from_be_bytes([c[0], c[1]]))
                                        % ((raw.len() + digest.len()) * 8)
                                })
                                .collect()
                        };
                        for bit in positions {
                            let (mut raw, mut digest) = (raw.clone(), digest.clone());
                            // Digest bytes past the field size are not
                            // used (bits2field truncates): still valid.
                            let mut unused = false;
                            if bit < raw.len() * 8 {
                                raw[bit / 8] ^= 1 << (bit % 8);
                            } else {
                                let bit = bit - raw.len() * 8;
                                digest[bit / 8] ^= 1 << (bit % 8);
                                unused = bit / 8 >= field;
                            }
                            assert_eq!(compare(&vk, &digest, &raw, "flipped bit"), unused);
                        }
                    }
                    // r or s = 0, = n, > n, all ones: refused by both parsers.
                    let digest = bytes("digest", i, 48);
                    let sig: Signature = keys[i]
                        .sign_prehash_with_rng(&mut rng, &digest)
                        .expect("sign");
                    let raw = sig.to_bytes().to_vec();
                    let n = {
                        // n = (n - 1) + 1, big-endian.
                        let mut n = (-$curve::Scalar::ONE).to_repr().to_vec();
                        for b in n.iter_mut().rev() {
                            let (v, carry) = b.overflowing_add(1);
                            *b = v;
                            if !carry {
                                break;
                            }
                        }
                        n
                    };
                    let mut n_plus = n.clone();
                    *n_plus.last_mut().expect("n") += 5;
                    for replacement in [vec![0u8; field], n.clone(), n_plus, vec![0xff; field]] {
                        for half in 0..2 {
                            let mut bad = raw.clone();
                            bad[half * field..(half + 1) * field].copy_from_slice(&replacement);
                            assert!(!compare(&vk, &digest, &bad, "out of range"));
                        }
                    }
                    // Wrong lengths.
                    assert!(!compare(&vk, &digest, &raw[1..], "short signature"));
                }
                eprintln!("{}: {counts:?}", stringify!($curve));
                assert!(counts.accepted > 0 && counts.compared > counts.accepted);
            }
        };
    }

    differential!(differential_p256, p256, P256, KEYS, EVERY_FLIP);
    differential!(differential_p384, p384, P384, KEYS, EVERY_FLIP);
    differential!(differential_p521, p521, P521, KEYS, EVERY_FLIP);

    /// Keys per curve, and how many of them get every single-bit flip of
    /// r, s and the digest (the others get eight at pseudo-random
    /// positions): a few hundred keys in optimised builds (`cargo test
    /// --release`), a handful in debug ones, where the curve crates are
    /// unoptimised and a verification takes tens of milliseconds.
    const KEYS: usize = if cfg!(debug_assertions) { 2 } else { 300 };
    const EVERY_FLIP: usize = if cfg!(debug_assertions) { 0 } else { 2 };
}
