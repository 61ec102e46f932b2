//! Arithmetic modulo a fixed odd prime (a curve's field prime p or its
//! group order n), written for wasm32: 29-bit limbs in u64 words,
//! Montgomery multiplication: the product into uncarried columns (operand
//! scanning), then the reduction word by word, carrying once per column.
//! `rsa_public/product_scanning.rs` uses the same limbs for RSA; here, with
//! a fixed size, operand scanning unrolls into straight-line code (the
//! column loops of product scanning, with bounds that depend on the column,
//! were left as loops: 4.37M instructions per P-256 verification in V8
//! against 2.28M now).
//!
//! Why 29 bits: wasm32 has a 64x64->64 multiply (one instruction in the
//! engines) but no 64x64->128 one. With limbs below 2^29 a product is below
//! 2^58 and a whole column of a·b + m·p (at most 2L products, L ≤ 14 here)
//! sums in one u64 without carry handling; the carry moves once per column.
//! RustCrypto's 32-bit fiat-crypto code pays a carry per product instead.
//! The limb count is a const parameter and the column loops are unrolled by
//! hand (`unroll!`), so the columns are locals and the modulus limbs are
//! constants. The field primes, sparse in signed binary, are reduced with
//! shifts and additions instead of multiplications (`reduce::sparse`).
//!
//! Values are kept fully reduced (canonical, below the modulus) after every
//! operation, so equality and zero tests compare limbs; the one exception,
//! [`Unreduced`], can only be multiplied. Everything here
//! handles public data only (keys, digests, signatures): inversion and the
//! conditional subtractions branch on the values, deliberately.

use std::marker::PhantomData;

/// `$body` for `$i` = 0, 1, ..., 15, each copy with `$i` a constant and
/// guarded by `$i < $n` (a constant too, so the guards fold away): a loop
/// unrolled by hand. LLVM unrolled the 9-limb loops of P-256 by itself but
/// left P-384's 14-limb ones rolled, with the columns in memory; and it
/// would not unroll the sparse reduction (a loop over the modulus's digits
/// inside the loop over columns) even for P-256. Unrolled, the columns are
/// locals. Up to 16 = `MAX_LIMBS` iterations.
macro_rules! unroll {
    ($i:ident < $n:expr => $body:block) => {
        unroll!(@ $i, $n, $body, 0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15)
    };
    (@ $i:ident, $n:expr, $body:block, $($k:literal)*) => {
        $({
            let $i: usize = $k;
            if $i < $n $body
        })*
    };
}

pub(super) mod reduce;
use reduce::Sparse;

pub(super) const LIMB_BITS: u32 = 29;
const MASK: u64 = (1 << LIMB_BITS) - 1;
/// The column bound (see `reduce::dense`) holds up to 16 limbs (464
/// bits); P-384 needs 14.
const MAX_LIMBS: usize = 16;

/// A prime modulus of at most `8 * BYTES` bits in `L` limbs of 29 bits, with
/// room to spare: 2·modulus < 2^(29·L), so sums of two reduced values and
/// the Montgomery product before its final subtraction fit in `L` limbs.
pub(crate) trait Modulus<const L: usize>: Copy + 'static {
    /// The modulus, big-endian hexadecimal.
    const HEX: &'static str;
    /// Bytes of a value's big-endian encoding (32 for P-256, 48 for P-384).
    const BYTES: usize;
    const LIMBS: [u64; L] = limbs_from_hex(Self::HEX);
    /// -modulus^-1 mod 2^29 (1 for both field primes, which are -1 mod 2^32).
    const N0_INV: u64 = neg_inverse(Self::LIMBS[0]);
    /// Evaluated (at compile time) by every reduction: the column bound.
    const FITS: () = assert!(L <= MAX_LIMBS, "too many limbs for one u64 column");
    /// Evaluated by the [`Unreduced`] operations: modulus < R/16, so a value
    /// below 4·modulus fits in `L` limbs and the product of two such values
    /// is below 16·modulus² < modulus·R, which the Montgomery reduction
    /// brings below 2·modulus (its final subtraction's precondition).
    const UNREDUCED_FITS: () = assert!(
        Self::LIMBS[L - 1] < 1 << (LIMB_BITS - 4),
        "the modulus leaves no room for unreduced values"
    );
    /// The modulus as a few signed powers of two, when it has that shape
    /// (the field primes; not the group orders): the reduction then adds
    /// shifted copies of m instead of multiplying by every limb.
    const SPARSE: Option<Sparse> = reduce::sparse_form(&Self::LIMBS);
    /// R mod modulus, R = 2^(29·L): one in Montgomery form.
    const R1: [u64; L] = power_of_r(&Self::LIMBS, 1);
    /// R^2 mod modulus: converts into Montgomery form.
    const R2: [u64; L] = power_of_r(&Self::LIMBS, 2);
}

/// `x` as `L` little-endian 29-bit limbs, from big-endian hexadecimal
/// (compile time only: a malformed constant fails the build).
pub(super) const fn limbs_from_hex<const L: usize>(hex: &str) -> [u64; L] {
    let hex = hex.as_bytes();
    let mut out = [0u64; L];
    let mut bit = 0usize;
    let mut i = hex.len();
    while i > 0 {
        i -= 1;
        let digit = match hex[i] {
            b'0'..=b'9' => hex[i] - b'0',
            b'a'..=b'f' => hex[i] - b'a' + 10,
            b'A'..=b'F' => hex[i] - b'A' + 10,
            _ => panic!("not a hexadecimal digit"),
        } as u64;
        let limb = bit / LIMB_BITS as usize;
        let shift = bit % LIMB_BITS as usize;
        if digit != 0 {
            assert!(limb < L, "the constant does not fit");
            out[limb] |= (digit << shift) & MASK;
            if shift + 4 > LIMB_BITS as usize {
                assert!(limb + 1 < L, "the constant does not fit");
                out[limb + 1] |= digit >> (LIMB_BITS as usize - shift);
            }
        }
        bit += 4;
    }
    out
}

/// `-n0^-1 mod 2^29` for odd `n0`, by Newton's iteration (each step doubles
/// the number of correct low bits: 1, 2, 4, ..., 32).
const fn neg_inverse(n0: u64) -> u64 {
    let mut x = n0;
    let mut i = 0;
    while i < 5 {
        x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
        i += 1;
    }
    x.wrapping_neg() & MASK
}

/// `2^(k·29·L) mod m` by doubling 1 that many times (compile time only).
const fn power_of_r<const L: usize>(m: &[u64; L], k: usize) -> [u64; L] {
    let mut x = [0u64; L];
    x[0] = 1;
    let mut i = 0;
    while i < k * LIMB_BITS as usize * L {
        let mut carry = 0;
        let mut j = 0;
        while j < L {
            let d = (x[j] << 1) | carry;
            x[j] = d & MASK;
            carry = d >> LIMB_BITS;
            j += 1;
        }
        // x < m before doubling, so 2x < 2m < 2^(29L): no carry out.
        if !less_than(&x, m) {
            x = sub(&x, m).0;
        }
        i += 1;
    }
    x
}

/// `a < b` as little-endian limbs.
const fn less_than<const L: usize>(a: &[u64; L], b: &[u64; L]) -> bool {
    let mut i = L;
    while i > 0 {
        i -= 1;
        if a[i] != b[i] {
            return a[i] < b[i];
        }
    }
    false
}

/// `a - b` and whether it borrowed (limbs below 2^29).
const fn sub<const L: usize>(a: &[u64; L], b: &[u64; L]) -> ([u64; L], bool) {
    let mut out = [0u64; L];
    let mut borrow = 0u64;
    let mut i = 0;
    while i < L {
        let d = a[i].wrapping_sub(b[i] + borrow);
        out[i] = d & MASK;
        borrow = d >> 63;
        i += 1;
    }
    (out, borrow != 0)
}

/// `a + b` without reduction (the caller knows it fits in `L` limbs).
pub(super) fn add_raw<const L: usize>(a: &[u64; L], b: &[u64; L]) -> [u64; L] {
    let mut out = [0u64; L];
    let mut carry = 0u64;
    for i in 0..L {
        let s = a[i] + b[i] + carry;
        out[i] = s & MASK;
        carry = s >> LIMB_BITS;
    }
    out
}

fn is_even<const L: usize>(a: &[u64; L]) -> bool {
    a[0] & 1 == 0
}

/// `a >>= k` for `k` in 1..=29 (limbs below 2^29).
fn shift_right<const L: usize>(a: &mut [u64; L], k: u32) {
    for i in 0..L - 1 {
        a[i] = (a[i] >> k) | ((a[i + 1] << (LIMB_BITS - k)) & MASK);
    }
    a[L - 1] >>= k;
}

/// A residue modulo `M`, in Montgomery form (x·R mod M) or plain, as the
/// caller tracks; always below the modulus.
pub(crate) struct Residue<M, const L: usize> {
    limbs: [u64; L],
    modulus: PhantomData<M>,
}

impl<M, const L: usize> Clone for Residue<M, L> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, const L: usize> Copy for Residue<M, L> {}
impl<M, const L: usize> PartialEq for Residue<M, L> {
    fn eq(&self, other: &Self) -> bool {
        self.limbs == other.limbs
    }
}
impl<M, const L: usize> Eq for Residue<M, L> {}
impl<M, const L: usize> std::fmt::Debug for Residue<M, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Residue({:x?})", self.limbs)
    }
}

impl<M: Modulus<L>, const L: usize> Residue<M, L> {
    pub(super) const ZERO: Self = Self::from_limbs([0; L]);
    /// One in Montgomery form.
    pub(super) const ONE: Self = Self::from_limbs(M::R1);

    /// Limbs known to be below the modulus (constants, tables).
    pub(super) const fn from_limbs(limbs: [u64; L]) -> Self {
        Residue {
            limbs,
            modulus: PhantomData,
        }
    }

    /// Limbs below 2^29 each; `None` unless the value is below the modulus.
    pub(super) fn from_limbs_checked(limbs: [u64; L]) -> Option<Self> {
        (limbs.iter().all(|&l| l <= MASK) && less_than(&limbs, &M::LIMBS))
            .then(|| Self::from_limbs(limbs))
    }

    /// A constant from hexadecimal (compile time), already in the form the
    /// caller wants (tables hold Montgomery form).
    pub(super) const fn from_hex(hex: &str) -> Self {
        Self::from_limbs(limbs_from_hex(hex))
    }

    /// Big-endian bytes (leading zeros allowed); `None` unless the value is
    /// below the modulus.
    pub(super) fn from_be_bytes(bytes: &[u8]) -> Option<Self> {
        let mut limbs = [0u64; L];
        let (mut bits, mut held, mut index) = (0u64, 0u32, 0usize);
        for &byte in bytes.iter().rev() {
            bits |= u64::from(byte) << held;
            held += 8;
            if held >= LIMB_BITS {
                *limbs.get_mut(index)? = bits & MASK;
                bits >>= LIMB_BITS;
                held -= LIMB_BITS;
                index += 1;
            }
        }
        if bits != 0 {
            *limbs.get_mut(index)? = bits;
        }
        less_than(&limbs, &M::LIMBS).then(|| Self::from_limbs(limbs))
    }

    /// The value as `M::BYTES` big-endian bytes.
    pub(super) fn to_be_bytes(self) -> Vec<u8> {
        let mut out = vec![0u8; M::BYTES];
        let (mut bits, mut held) = (0u64, 0u32);
        let mut limbs = self.limbs.iter();
        for byte in out.iter_mut().rev() {
            if held < 8 {
                bits |= limbs.next().copied().unwrap_or(0) << held;
                held += LIMB_BITS;
            }
            *byte = bits as u8;
            bits >>= 8;
            held -= 8;
        }
        out
    }

    pub(super) fn is_zero(&self) -> bool {
        self.limbs.iter().all(|&l| l == 0)
    }

    /// Plain value to Montgomery form.
    pub(super) fn to_montgomery(self) -> Self {
        self.mul(&Self::from_limbs(M::R2))
    }

    /// Montgomery form to plain value (the tests' conversions).
    #[cfg(test)]
    pub(super) fn out_of_montgomery(self) -> Self {
        let mut one = [0u64; L];
        one[0] = 1;
        self.mul(&Self::from_limbs(one))
    }

    #[inline]
    pub(super) fn add(&self, other: &Self) -> Self {
        // Both below M, so the sum is below 2M < 2^(29L); subtracting M
        // borrows exactly when the sum was already below M (no comparison
        // loop: straight-line code).
        let sum = add_raw(&self.limbs, &other.limbs);
        let (reduced, borrowed) = sub(&sum, &M::LIMBS);
        Self::from_limbs(if borrowed { sum } else { reduced })
    }

    #[inline]
    pub(super) fn sub(&self, other: &Self) -> Self {
        let (difference, borrowed) = sub(&self.limbs, &other.limbs);
        Self::from_limbs(if borrowed {
            // Wrapped to difference + 2^(29L); adding M wraps back.
            // (add_raw drops the carry out of the top limb).
            add_raw(&difference, &M::LIMBS)
        } else {
            difference
        })
    }

    pub(super) fn double(&self) -> Self {
        self.add(self)
    }

    pub(super) fn neg(&self) -> Self {
        Self::ZERO.sub(self)
    }

    /// `self + other`, left below 2M for a multiplication (no conditional
    /// subtraction).
    #[inline]
    pub(super) fn add_unreduced(&self, other: &Self) -> Unreduced<M, L> {
        Unreduced::new(add_raw(&self.limbs, &other.limbs))
    }

    /// `self − other + M`, in (0, 2M), for a multiplication: one signed
    /// carry chain instead of a borrow chain and a conditional addition.
    #[inline]
    pub(super) fn sub_unreduced(&self, other: &Self) -> Unreduced<M, L> {
        let mut out = [0u64; L];
        let mut carry = 0i64;
        for (i, limb) in out.iter_mut().enumerate() {
            // Each term is below 2^29 and the carry is −1, 0 or 1: no overflow.
            let v = self.limbs[i] as i64 + M::LIMBS[i] as i64 - other.limbs[i] as i64 + carry;
            *limb = (v & MASK as i64) as u64;
            carry = v >> LIMB_BITS;
        }
        // The value is positive and below 2M < 2^(29L): no carry out.
        debug_assert_eq!(carry, 0);
        Unreduced::new(out)
    }

    /// `K·self` (K ≤ 4), below K·M, for a multiplication: one carry chain
    /// where doubling twice costs two carry chains and two subtractions.
    #[inline]
    pub(super) fn times_unreduced<const K: u64>(&self) -> Unreduced<M, L> {
        const { assert!(K <= 4, "unreduced values stay below 4M") };
        let mut out = [0u64; L];
        let mut carry = 0u64;
        for (limb, &a) in out.iter_mut().zip(&self.limbs) {
            let v = a * K + carry;
            *limb = v & MASK;
            carry = v >> LIMB_BITS;
        }
        // K·self < 4M < 2^(29L).
        debug_assert_eq!(carry, 0);
        Unreduced::new(out)
    }

    /// The same value, as a multiplication operand beside an unreduced one.
    pub(super) fn unreduced(self) -> Unreduced<M, L> {
        Unreduced::new(self.limbs)
    }

    /// Montgomery product `a·b·R^-1 mod M`.
    #[inline]
    pub(super) fn mul(&self, other: &Self) -> Self {
        let (a, b) = (&self.limbs, &other.limbs);
        // Operand scanning into uncarried columns: t_k = Σ a_i·b_j over
        // i + j = k. Constant trip counts, so the compiler unrolls it.
        let mut t: reduce::Columns = [0; 2 * MAX_LIMBS];
        unroll!(i < L => {
            unroll!(j < L => {
                t[i + j] += a[i] * b[j];
            });
        });
        Self::reduce(t)
    }

    /// Montgomery square: each cross product a_i·a_j (i < j) once, with 2·a_i
    /// (below 2^30, so the product stays below 2^59: the column bound holds).
    #[inline]
    pub(super) fn square(&self) -> Self {
        let a = &self.limbs;
        let mut t: reduce::Columns = [0; 2 * MAX_LIMBS];
        unroll!(i < L => {
            t[2 * i] += a[i] * a[i];
            let twice = 2 * a[i];
            unroll!(j < L => {
                if j > i {
                    t[i + j] += twice * a[j];
                }
            });
        });
        Self::reduce(t)
    }

    /// Montgomery reduction of the columns (see `reduce`), then one
    /// conditional subtraction: the reduction leaves a value below 2M.
    #[inline(always)]
    fn reduce(t: reduce::Columns) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = M::FITS;
        let out = match M::SPARSE {
            Some(form) => reduce::sparse::<L>(t, &form, M::N0_INV),
            None => reduce::dense(t, &M::LIMBS, M::N0_INV),
        };
        let (reduced, borrowed) = sub(&out, &M::LIMBS);
        Self::from_limbs(if borrowed { out } else { reduced })
    }

    /// `self^-1` for a plain (not Montgomery) value, `None` for zero: the
    /// binary extended Euclidean algorithm (variable time; about 2·bits
    /// halvings and subtractions, much cheaper than Fermat's ~1.2·bits
    /// multiplications). Requires a prime modulus.
    pub(super) fn invert_plain(&self) -> Option<Self> {
        if self.is_zero() {
            return None;
        }
        let modulus = M::LIMBS;
        let mut one = [0u64; L];
        one[0] = 1;
        let (mut u, mut v) = (self.limbs, modulus);
        let (mut x1, mut x2) = (Self::from_limbs(one), Self::ZERO);
        // Invariants: x1·self ≡ u and x2·self ≡ v (mod M); u, v odd after
        // the halvings; gcd(u, v) = 1 because M is prime and self ≠ 0, so
        // u = v only when both are 1, and the loop stops before that.
        // u, v lose a run of k trailing zeros at once (up to a limb), and
        // x1, x2 are divided by 2^k mod M in one pass instead of k halvings:
        // m = x·(−M^-1) mod 2^k makes x + m·M divisible by 2^k, and with
        // x < M and m < 2^k the quotient is below M: already reduced.
        // Runs average about two bits.
        let strip = |w: &mut [u64; L], x: &mut Self| {
            let k = w[0].trailing_zeros().min(LIMB_BITS);
            shift_right(w, k);
            let m = x.limbs[0].wrapping_mul(M::N0_INV) & ((1 << k) - 1);
            let mut sum = [0u64; L];
            let mut carry = 0u64;
            for ((s, &limb), &n) in sum.iter_mut().zip(&x.limbs).zip(&modulus) {
                // Below 2^29 + 2^58 + 2^30: no overflow.
                let v = limb + m * n + carry;
                *s = v & MASK;
                carry = v >> LIMB_BITS;
            }
            // The sum is sum + carry·2^(29L), and its quotient by 2^k is
            // below M < 2^(29L), so the carry lands in the top limb.
            shift_right(&mut sum, k);
            sum[L - 1] |= (carry << (LIMB_BITS - k)) & MASK;
            x.limbs = sum;
        };
        // Each round halves u or v at least once: the bound only guards
        // against a modulus that is not prime (a programming error).
        for _ in 0..4 * LIMB_BITS as usize * L {
            if u == one {
                return Some(x1);
            }
            if v == one {
                return Some(x2);
            }
            while is_even(&u) {
                strip(&mut u, &mut x1);
            }
            while is_even(&v) {
                strip(&mut v, &mut x2);
            }
            if less_than(&u, &v) {
                v = sub(&v, &u).0;
                x2 = x2.sub(&x1);
            } else {
                u = sub(&u, &v).0;
                x1 = x1.sub(&x2);
            }
            // Only with a modulus that is not prime (a programming error):
            // halving zero would never end.
            if u == [0; L] || v == [0; L] {
                return None;
            }
        }
        None
    }

    /// `self^-1` in Montgomery form: (aR)^-1 = a^-1·R^-1, times R^2 twice.
    pub(super) fn invert(&self) -> Option<Self> {
        let r2 = Self::from_limbs(M::R2);
        Some(self.invert_plain()?.mul(&r2).mul(&r2))
    }

    /// The limbs, little-endian (to compare plain values).
    pub(super) fn limbs(&self) -> &[u64; L] {
        &self.limbs
    }
}

/// A value modulo `M` below 4M, limbs below 2^29, not canonical: the result
/// of an addition, subtraction or small multiple whose only use is a
/// multiplication, which skips the conditional subtraction (see
/// [`Modulus::UNREDUCED_FITS`] for why the product is still exact and
/// canonical). It has no comparison, on purpose.
pub(crate) struct Unreduced<M, const L: usize> {
    limbs: [u64; L],
    modulus: PhantomData<M>,
}

impl<M, const L: usize> Clone for Unreduced<M, L> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<M, const L: usize> Copy for Unreduced<M, L> {}

impl<M: Modulus<L>, const L: usize> Unreduced<M, L> {
    #[inline(always)]
    fn new(limbs: [u64; L]) -> Self {
        #[allow(clippy::let_unit_value)]
        let () = M::UNREDUCED_FITS;
        Unreduced {
            limbs,
            modulus: PhantomData,
        }
    }

    /// The Montgomery product, canonical. `Residue::mul` needs only limbs
    /// below 2^29 (the column bound) and a product below M·R (the final
    /// subtraction's), which values below 4M meet.
    #[inline(always)]
    pub(super) fn mul(&self, other: &Self) -> Residue<M, L> {
        Residue::from_limbs(self.limbs).mul(&Residue::from_limbs(other.limbs))
    }

    #[inline(always)]
    pub(super) fn square(&self) -> Residue<M, L> {
        Residue::from_limbs(self.limbs).square()
    }
}
