// The arithmetic for one limb size, included by `rsa_public.rs` into a
// module that defines `Limb` (the word) and `Wide` (twice its width).

use super::{malformed, strip_zeros, CryptoError, MAX_EXPONENT, MIN_EXPONENT};

pub(super) const LIMB_BITS: usize = Limb::BITS as usize;
const LIMB_BYTES: usize = LIMB_BITS / 8;

/// An RSA public key with what Montgomery arithmetic needs, precomputed
/// once: `n0_inv` at parse time, R^2 mod n on the first [`RsaPublic::public_op`]
/// (a key parsed but never used to verify, such as a trust-store root
/// that the envelope's chain carries itself, never pays for it).
#[derive(Clone)]
pub(crate) struct RsaPublic {
    /// The modulus, little-endian limbs, the top limb non-zero.
    pub(super) n: Vec<Limb>,
    /// -n^-1 mod 2^LIMB_BITS.
    pub(super) n0_inv: Limb,
    /// R^2 mod n, R = 2^(LIMB_BITS * limbs), computed on first use and
    /// shared by clones (a certificate cloned out of the per-request cache
    /// computes it once for all its copies).
    rr: std::sync::Arc<std::sync::OnceLock<Vec<Limb>>>,
    e: u64,
    /// Modulus length in bytes (k in RFC 8017) and in bits.
    k: usize,
    bits: usize,
}

/// The key is (n, e); whether R^2 is computed yet does not matter.
impl PartialEq for RsaPublic {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}
impl Eq for RsaPublic {}

impl std::fmt::Debug for RsaPublic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublic({} bits, e = {})", self.bits, self.e)
    }
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

/// `a >= b`, both of the same length.
fn ge(a: &[Limb], b: &[Limb]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x > y;
        }
    }
    true
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

/// `-n0^-1 mod 2^LIMB_BITS` for odd `n0`, by Newton's iteration: for odd n,
/// x = n is an inverse to 3 bits and each step doubles the correct bits.
fn neg_inverse(n0: Limb) -> Limb {
    let mut x = n0;
    for _ in 0..6 {
        x = x.wrapping_mul((2 as Limb).wrapping_sub(n0.wrapping_mul(x)));
    }
    x.wrapping_neg()
}

impl RsaPublic {
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
        let e = exponent.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let limbs = modulus.len().div_ceil(LIMB_BYTES);
        let n = limbs_from_be(modulus, limbs).ok_or_else(|| malformed("invalid modulus"))?;
        let n_is_odd = n.first().is_some_and(|l| l & 1 == 1);
        // e >= n: e fits in one u64; n is at most that small only if short.
        let e_ge_n = match modulus.len() {
            0..=8 => e >= modulus.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b)),
            _ => false,
        };
        if e_ge_n || !n_is_odd {
            return Err(malformed("invalid modulus"));
        }
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
            n0_inv: neg_inverse(n[0]),
            n,
            rr: Default::default(),
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

    /// `x = 2x mod n`, for `x < n`.
    fn double_mod(&self, x: &mut [Limb]) {
        let mut carry: Limb = 0;
        for limb in x.iter_mut() {
            let next = *limb >> (LIMB_BITS - 1);
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        // 2x < 2n: one subtraction at most; with a carry out, 2x > n surely
        // and the wrapped subtraction gives the right value.
        if carry != 0 || ge(x, &self.n) {
            sub_in_place(x, &self.n);
        }
    }

    /// R^2 mod n without long division: 2^(bits-1) < n doubled up to
    /// R mod n, doubled `limbs` more times to 2^limbs * R, then squared
    /// log2(LIMB_BITS) times in Montgomery form (Mont(2^j R, 2^j R) =
    /// 2^2j R) to 2^(limbs * LIMB_BITS) * R = R^2 mod n.
    pub(super) fn rr(&self) -> &[Limb] {
        self.rr.get_or_init(|| self.compute_rr())
    }

    fn compute_rr(&self) -> Vec<Limb> {
        let limbs = self.n.len();
        let mut x = vec![0 as Limb; limbs];
        let top = self.bits - 1;
        x[top / LIMB_BITS] = 1 << (top % LIMB_BITS);
        for _ in 0..(limbs * LIMB_BITS - top) + limbs {
            self.double_mod(&mut x);
        }
        let mut scratch = vec![0 as Limb; limbs + 2];
        let mut y = vec![0 as Limb; limbs];
        let mut squarings = LIMB_BITS;
        while squarings > 1 {
            self.mont_mul(&x, &x, &mut y, &mut scratch);
            std::mem::swap(&mut x, &mut y);
            squarings /= 2;
        }
        x
    }

    /// `out = a * b * R^-1 mod n` for `a, b < n` (CIOS). `scratch` holds
    /// limbs + 2 words.
    fn mont_mul(&self, a: &[Limb], b: &[Limb], out: &mut [Limb], scratch: &mut [Limb]) {
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
            // t = (t + m n) / 2^LIMB_BITS, m chosen to zero the low limb
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
        if t[len] != 0 || ge(out, n) {
            sub_in_place(out, n);
        }
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
        let len = self.n.len();
        let s = limbs_from_be(signature, len)
            .filter(|s| !ge(s, &self.n))
            .ok_or_else(|| bad("signature representative out of range"))?;
        let mut scratch = vec![0 as Limb; len + 2];
        let mut base = vec![0 as Limb; len];
        self.mont_mul(&s, self.rr(), &mut base, &mut scratch);
        let mut acc = base.clone();
        let mut tmp = vec![0 as Limb; len];
        let top = 63 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            self.mont_mul(&acc, &acc, &mut tmp, &mut scratch);
            std::mem::swap(&mut acc, &mut tmp);
            if (self.e >> bit) & 1 == 1 {
                self.mont_mul(&acc, &base, &mut tmp, &mut scratch);
                std::mem::swap(&mut acc, &mut tmp);
            }
        }
        // Out of Montgomery form: multiply by 1.
        let mut one = vec![0 as Limb; len];
        one[0] = 1;
        self.mont_mul(&acc, &one, &mut tmp, &mut scratch);
        let mut out = vec![0u8; len * LIMB_BYTES];
        for (i, limb) in tmp.iter().rev().enumerate() {
            out[i * LIMB_BYTES..(i + 1) * LIMB_BYTES].copy_from_slice(&limb.to_be_bytes());
        }
        Ok(out.split_off(len * LIMB_BYTES - self.k))
    }
}

