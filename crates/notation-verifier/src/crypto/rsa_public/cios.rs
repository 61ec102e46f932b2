//! Montgomery multiplication over u64 limbs with u128 products, the
//! multiplication and the reduction interleaved limb by limb (CIOS, Koç,
//! Acar and Kaliski 1996). The fastest of the two here wherever a
//! 64x64->128 multiply is one instruction (64-bit targets).

use super::{Montgomery, TopBits};

type Limb = u64;
type Wide = u128;
const LIMB_BITS: usize = Limb::BITS as usize;
const LIMB_BYTES: usize = LIMB_BITS / 8;

/// An odd modulus in u64 limbs with -n^-1 mod 2^64.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Cios {
    /// Little-endian limbs, the top limb non-zero.
    n: Vec<Limb>,
    /// -n^-1 mod 2^64.
    n0_inv: Limb,
    /// For the quotient digits of [`Montgomery::shift_mod`].
    top: TopBits,
}

/// Big-endian bytes (leading zeros allowed) to `len` little-endian limbs;
/// `None` if the value does not fit.
fn limbs_from_be(bytes: &[u8], len: usize) -> Option<Vec<Limb>> {
    let mut out = vec![0 as Limb; len];
    for (i, chunk) in bytes.rchunks(LIMB_BYTES).enumerate() {
        let mut limb: Limb = 0;
        for &b in chunk {
            limb = (limb << 8) | Limb::from(b);
        }
        if limb != 0 {
            *out.get_mut(i)? = limb;
        }
    }
    Some(out)
}

/// `a -= b` (same length), returning the borrow.
fn sub_in_place(a: &mut [Limb], b: &[Limb]) -> bool {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d1, b1) = x.overflowing_sub(y);
        let (d2, b2) = d1.overflowing_sub(Limb::from(borrow));
        *x = d2;
        borrow = b1 | b2;
    }
    borrow
}

/// `-n0^-1 mod 2^64` for odd `n0`, by Newton's iteration: for odd n,
/// x = n is an inverse to 3 bits and each step doubles the correct bits.
fn neg_inverse(n0: Limb) -> Limb {
    let mut x = n0;
    for _ in 0..6 {
        x = x.wrapping_mul((2 as Limb).wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

impl Montgomery for Cios {
    type Limb = Limb;
    #[cfg(test)]
    const LIMB_BITS: usize = LIMB_BITS;

    fn new(modulus: &[u8]) -> Option<Self> {
        let n = limbs_from_be(modulus, modulus.len().div_ceil(LIMB_BYTES))?;
        let n0 = *n.first().filter(|l| *l & 1 == 1)?;
        Some(Cios {
            n0_inv: neg_inverse(n0),
            top: TopBits::of(&n, LIMB_BITS),
            n,
        })
    }

    fn limbs(&self) -> usize {
        self.n.len()
    }

    fn value_from_be(&self, bytes: &[u8]) -> Option<Vec<Limb>> {
        limbs_from_be(bytes, self.n.len()).filter(|x| super::less_than(x, &self.n))
    }

    fn to_be(&self, x: &[Limb], k: usize) -> Vec<u8> {
        let mut out: Vec<u8> = x.iter().rev().flat_map(|l| l.to_be_bytes()).collect();
        out.split_off(out.len() - k)
    }

    fn power_of_two(&self, exponent: usize) -> Vec<Limb> {
        let mut x = vec![0 as Limb; self.n.len()];
        x[exponent / LIMB_BITS] = 1 << (exponent % LIMB_BITS);
        x
    }

    fn shift_mod(&self, x: &mut [Limb]) {
        let n = &self.n;
        let (mut hi, q) = super::shift_up(x, LIMB_BITS, self.top);
        // y -= q·n; q·n <= y, so the final borrow is covered by hi.
        let mut carry: Wide = 0;
        for (xi, &ni) in x.iter_mut().zip(n) {
            let p = Wide::from(q) * Wide::from(ni) + carry;
            let (d, borrow) = xi.overflowing_sub(p as Limb);
            *xi = d;
            carry = (p >> LIMB_BITS) + Wide::from(borrow);
        }
        hi = hi.wrapping_sub(carry as Limb);
        // The digit is at most a few below the true one.
        while hi != 0 || !super::less_than(x, n) {
            hi = hi.wrapping_sub(Limb::from(sub_in_place(x, n)));
        }
    }

    fn scratch(&self) -> Vec<Limb> {
        vec![0; self.n.len() + 2]
    }

    /// `out = a * b * R^-1 mod n` for `a, b < n`; `scratch` holds limbs + 2
    /// words.
    fn mul(&self, a: &[Limb], b: &[Limb], out: &mut [Limb], scratch: &mut [Limb]) {
        let n = &self.n;
        let len = n.len();
        let t = scratch;
        t.fill(0);
        for &bi in b {
            // t += a * b[i]
            let mut carry: Wide = 0;
            for (tj, &aj) in t[..len].iter_mut().zip(a) {
                let s = Wide::from(*tj) + Wide::from(aj) * Wide::from(bi) + carry;
                *tj = s as Limb;
                carry = s >> LIMB_BITS;
            }
            let s = Wide::from(t[len]) + carry;
            t[len] = s as Limb;
            t[len + 1] = (s >> LIMB_BITS) as Limb;
            // t = (t + m n) / 2^64, m chosen to zero the low limb
            let m = t[0].wrapping_mul(self.n0_inv);
            let s = Wide::from(t[0]) + Wide::from(m) * Wide::from(n[0]);
            let mut carry = s >> LIMB_BITS;
            for j in 1..len {
                let s = Wide::from(t[j]) + Wide::from(m) * Wide::from(n[j]) + carry;
                t[j - 1] = s as Limb;
                carry = s >> LIMB_BITS;
            }
            let s = Wide::from(t[len]) + carry;
            t[len - 1] = s as Limb;
            t[len] = t[len + 1] + (s >> LIMB_BITS) as Limb;
        }
        // t < 2n: subtract n once if t >= n.
        out.copy_from_slice(&t[..len]);
        if t[len] != 0 || !super::less_than(out, n) {
            sub_in_place(out, n);
        }
    }
}
