//! Montgomery multiplication for targets without a 64x64->128 multiply
//! (wasm32, where CIOS over u32 limbs pays a carry per product): 27-bit
//! limbs in u64 words, multiplied by product scanning with the reduction
//! folded into each column (FIPS, Koç, Acar and Kaliski 1996).
//!
//! A product of two limbs is below 2^54, so a whole column of a*b + m*n
//! (at most 2 * limbs products, fewer than 2^10) sums in one u64 with no
//! carry handling; the carry moves once per column. Columns also make
//! squaring cheap: each cross product a_j a_k is taken once and doubled,
//! and 16 of the 17 multiplications of e = 65537 are squarings.
//!
//! Measured in wasmtime with callgrind (one Pod evaluation, 5 images through
//! one RSA-3072 chain, the host included): 70M instructions with CIOS over
//! u32 limbs, 66M with product scanning, 43M with product-scanning
//! squaring.
//!
//! Wasm SIMD was tried against these columns and not kept (#20, 2026-12-06):
//! the same columns over u32 limb buffers, the
//! second operand and n reversed so that a column is two forward runs, four
//! limbs per `i64x2.extmul_{low,high}_i32x4_u` pair, the whole module built
//! with simd128. Cranelift lowers each extmul to two `pshufd` and one
//! `pmuludq`, so four products cost four shuffles, about what the scalar
//! loop's four `imul` cost. Instructions per evaluation (testkit wasmtime
//! host, callgrind, 30 evaluations minus 10, over 20): RSA-3072 chain
//! 14.98M -> 11.87M (-21%), e2e by digest 3.65M -> 3.23M (-12%), five
//! images 15.95M -> 13.87M (-13%). In time (`kwctl bench`, 4 s per row,
//! alternating, three rounds at load 1.5-2.6) the RSA-3072 chain moved by
//! -7%, -17% and +5% in the mean (-10%, -15%, -6% in the median), the RSA-2048
//! rows by +6% to -10%: about 10%, short of the 15% asked for tying the
//! module to hosts with SIMD enabled. The untried candidate:
//! `i32x4.dot_i16x8_s` (one `pmaddwd`, eight 16x16 products, no shuffle)
//! with 14-bit limbs, 3.7x the products at eight per instruction instead
//! of four per six.

use super::{Montgomery, TopBits};

const LIMB_BITS: usize = 27;
const MASK: u64 = (1 << LIMB_BITS) - 1;
/// A column holds at most 2 * limbs products below 2^54, plus a carry
/// below 2^37: the sum stays below 2^64 up to 511 limbs (13,797 bits;
/// keys are refused above `MAX_RSA_BITS`, 8192, before this).
const MAX_LIMBS: usize = 511;

/// An odd modulus in 27-bit limbs with -n^-1 mod 2^27.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ProductScanning {
    /// Little-endian 27-bit limbs, the top limb non-zero.
    n: Vec<u64>,
    /// -n^-1 mod 2^27.
    n0_inv: u64,
    /// For the quotient digits of [`Montgomery::shift_mod`].
    top: TopBits,
}

/// Big-endian bytes (leading zeros allowed) to `len` little-endian 27-bit
/// limbs; `None` if the value does not fit.
fn limbs_from_be(bytes: &[u8], len: usize) -> Option<Vec<u64>> {
    let mut out = vec![0u64; len];
    let (mut bits, mut held, mut index) = (0u64, 0usize, 0usize);
    let mut put = |limb: u64, index: usize| -> Option<()> {
        if limb != 0 {
            *out.get_mut(index)? = limb;
        }
        Some(())
    };
    for &byte in bytes.iter().rev() {
        bits |= u64::from(byte) << held;
        held += 8;
        if held >= LIMB_BITS {
            put(bits & MASK, index)?;
            bits >>= LIMB_BITS;
            held -= LIMB_BITS;
            index += 1;
        }
    }
    put(bits, index)?;
    Some(out)
}

/// `a -= b` (same length, limbs below 2^27), returning the borrow.
fn sub_in_place(a: &mut [u64], b: &[u64]) -> bool {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y + borrow);
        *x = d & MASK;
        borrow = d >> 63;
    }
    borrow != 0
}

/// `-n0^-1 mod 2^27` for odd `n0` (Newton's iteration, as in CIOS).
fn neg_inverse(n0: u64) -> u64 {
    let mut x = n0;
    for _ in 0..5 {
        x = x.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg() & MASK
}

impl Montgomery for ProductScanning {
    type Limb = u64;
    #[cfg(test)]
    const LIMB_BITS: usize = LIMB_BITS;

    fn new(modulus: &[u8]) -> Option<Self> {
        let limbs = (modulus.len() * 8).div_ceil(LIMB_BITS);
        if limbs > MAX_LIMBS {
            return None;
        }
        let mut n = limbs_from_be(modulus, limbs)?;
        while n.len() > 1 && n.last() == Some(&0) {
            n.pop();
        }
        let n0 = *n.first().filter(|l| *l & 1 == 1)?;
        Some(ProductScanning {
            n0_inv: neg_inverse(n0),
            top: TopBits::of(&n, LIMB_BITS),
            n,
        })
    }

    fn limbs(&self) -> usize {
        self.n.len()
    }

    fn value_from_be(&self, bytes: &[u8]) -> Option<Vec<u64>> {
        limbs_from_be(bytes, self.n.len()).filter(|x| super::less_than(x, &self.n))
    }

    fn to_be(&self, x: &[u64], k: usize) -> Vec<u8> {
        let mut out = vec![0u8; k];
        let (mut bits, mut held) = (0u64, 0usize);
        let mut limbs = x.iter();
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

    fn power_of_two(&self, exponent: usize) -> Vec<u64> {
        let mut x = vec![0u64; self.n.len()];
        x[exponent / LIMB_BITS] = 1 << (exponent % LIMB_BITS);
        x
    }

    fn shift_mod(&self, x: &mut [u64]) {
        let n = &self.n;
        let (mut hi, q) = super::shift_up(x, LIMB_BITS, self.top);
        // y -= q·n: q < 2^27, so q·n_i + carry < 2^55 + 2^28 fits a u64.
        let mut carry = 0u64;
        for (xi, &ni) in x.iter_mut().zip(n) {
            let p = q * ni + carry;
            let d = xi.wrapping_sub(p & MASK);
            *xi = d & MASK;
            carry = (p >> LIMB_BITS) + (d >> 63);
        }
        // q·n <= y, so hi covers the final borrow.
        hi = hi.wrapping_sub(carry);
        // The digit is at most two below the true one.
        while hi != 0 || !super::less_than(x, n) {
            hi = hi.wrapping_sub(u64::from(sub_in_place(x, n)));
        }
    }

    /// Holds m, the reduction multipliers.
    fn scratch(&self) -> Vec<u64> {
        vec![0; self.n.len()]
    }

    /// `out = a * b * 2^(-27 limbs) mod n` for `a, b < n`; `scratch` holds
    /// `limbs` words.
    fn mul(&self, a: &[u64], b: &[u64], out: &mut [u64], scratch: &mut [u64]) {
        self.columns(out, scratch, |i, from| {
            // a_j b_(i-j) for j in from..=i (within the limbs).
            let to = i.min(a.len() - 1);
            a[from..=to]
                .iter()
                .zip(b[i - to..=i - from].iter().rev())
                .map(|(&x, &y)| x * y)
                .sum()
        })
    }

    /// Squaring: a_j a_k for j < k once, doubled, plus the squares.
    fn square(&self, a: &[u64], out: &mut [u64], scratch: &mut [u64]) {
        self.columns(out, scratch, |i, from| {
            // Pairs j < k with j + k = i, j >= from, k < limbs.
            let to = i.div_ceil(2);
            let cross: u64 = a[from..to.max(from)]
                .iter()
                .zip(a[i + 1 - to.max(from)..=i - from].iter().rev())
                .map(|(&x, &y)| x * y)
                .sum();
            let middle = if i % 2 == 0 { a[i / 2] * a[i / 2] } else { 0 };
            2 * cross + middle
        })
    }
}

impl ProductScanning {
    /// The Montgomery reduction folded into product scanning: column i of
    /// the product is `product(i, from)` (terms with indices from `from`),
    /// to which m_j n_(i-j) are added; m_i makes the low column zero and is
    /// shifted out, and columns limbs..2 limbs are the result. Every column
    /// sums in a u64 without carries (see [`MAX_LIMBS`]).
    fn columns(&self, out: &mut [u64], m: &mut [u64], product: impl Fn(usize, usize) -> u64) {
        let n = &self.n;
        let len = n.len();
        let mut acc = 0u64;
        for i in 0..len {
            let reduction: u64 = m[..i]
                .iter()
                .zip(n[1..=i].iter().rev())
                .map(|(&x, &y)| x * y)
                .sum();
            acc += product(i, 0) + reduction;
            let mi = acc.wrapping_mul(self.n0_inv) & MASK;
            m[i] = mi;
            acc = (acc + mi * n[0]) >> LIMB_BITS;
        }
        for i in len..2 * len {
            let from = i + 1 - len;
            let reduction: u64 = m[from..]
                .iter()
                .zip(n[from..].iter().rev())
                .map(|(&x, &y)| x * y)
                .sum();
            acc += product(i, from) + reduction;
            out[i - len] = acc & MASK;
            acc >>= LIMB_BITS;
        }
        // The result is below 2n: acc is its bit 27 * limbs.
        if acc != 0 || !super::less_than(out, n) {
            sub_in_place(out, n);
        }
    }
}
