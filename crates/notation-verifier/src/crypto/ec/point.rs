//! Points of a short Weierstrass curve y² = x³ − 3x + b over the field of
//! [`Modulus`] `P` (P-256 and P-384 both have a = −3), in Jacobian
//! coordinates (x = X/Z², y = Y/Z³; Z = 0 is the point at infinity).
//!
//! Why not the complete projective formulas that the curve crates use: they
//! cost about 12 multiplications per addition and 11 per doubling and need
//! no case analysis, which matters for constant time. Verification handles
//! public data only, so the cheaper, incomplete Jacobian formulas are used
//! (the a = −3 doubling and the mixed Jacobian + affine addition, arranged
//! as 5M + 3S and 8M + 3S with few reduced additions: see `double_into`),
//! with the exceptional cases (an operand at infinity, equal points,
//! opposite points) tested explicitly so that every sum is exact.
//!
//! Field elements are in Montgomery form throughout.

use super::field::{Modulus, Residue};

/// An affine point (never infinity: tables and keys hold finite points).
pub(crate) struct Affine<P, const L: usize> {
    pub(super) x: Residue<P, L>,
    pub(super) y: Residue<P, L>,
}

impl<P, const L: usize> Clone for Affine<P, L> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, const L: usize> Copy for Affine<P, L> {}

/// A point in Jacobian coordinates.
pub(crate) struct Jacobian<P, const L: usize> {
    pub(super) x: Residue<P, L>,
    pub(super) y: Residue<P, L>,
    pub(super) z: Residue<P, L>,
}

impl<P, const L: usize> Clone for Jacobian<P, L> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, const L: usize> Copy for Jacobian<P, L> {}

impl<P: Modulus<L>, const L: usize> Affine<P, L> {
    /// Hexadecimal Montgomery-form coordinates (the generator tables).
    pub(super) const fn from_hex(x: &str, y: &str) -> Self {
        Affine {
            x: Residue::from_hex(x),
            y: Residue::from_hex(y),
        }
    }

    /// Whether y² = x³ − 3x + b (`b` in Montgomery form).
    pub(super) fn is_on_curve(&self, b: &Residue<P, L>) -> bool {
        let x3 = self.x.square().mul(&self.x);
        let three_x = self.x.double().add(&self.x);
        self.y.square() == x3.sub(&three_x).add(b)
    }

    pub(super) fn neg(&self) -> Self {
        Affine {
            x: self.x,
            y: self.y.neg(),
        }
    }
}

impl<P: Modulus<L>, const L: usize> Jacobian<P, L> {
    pub(super) const INFINITY: Self = Jacobian {
        x: Residue::ONE,
        y: Residue::ONE,
        z: Residue::ZERO,
    };

    pub(super) fn from_affine(a: &Affine<P, L>) -> Self {
        Jacobian {
            x: a.x,
            y: a.y,
            z: Residue::ONE,
        }
    }

    pub(super) fn is_infinity(&self) -> bool {
        self.z.is_zero()
    }

    /// 2·self (dbl-2001-b, a = −3). The curves have prime order, so no
    /// finite point has y = 0 and the double of a finite point is finite.
    ///
    /// 5M + 3S instead of the formula's 3M + 5S: in wasm a reduced addition
    /// or subtraction (two carry chains and a selection) costs about half a
    /// multiplication, so 4β = x·(4γ), 8γ² = (2γ)·(4γ) and Z3 = (2Y)·Z
    /// replace three doublings of β, three of γ² and the square of Y + Z
    /// with its two subtractions; the small multiples are unreduced (one
    /// carry chain each).
    pub(super) fn double(&self) -> Self {
        let mut out = Self::INFINITY;
        self.double_into(&mut out);
        out
    }

    /// [`Self::double`] into `out`: the accumulator of [`interleaved`]
    /// alternates between two points instead of being assigned a returned
    /// one, which in wasm was a bulk copy (a call into the engine) per bit.
    pub(super) fn double_into(&self, out: &mut Self) {
        if self.is_infinity() {
            *out = *self;
            return;
        }
        let delta = self.z.square();
        let gamma = self.y.square();
        let gamma4 = gamma.times_unreduced::<4>();
        let beta4 = self.x.unreduced().mul(&gamma4);
        // Sums, differences and multiples that only feed a multiplication
        // stay unreduced (below 4p; see `Unreduced`).
        let (x_minus, x_plus) = (self.x.sub_unreduced(&delta), self.x.add_unreduced(&delta));
        let t = x_minus.mul(&x_plus);
        let alpha = t.times_unreduced::<3>();
        let x = alpha.square().sub(&beta4.double());
        let gamma2_8 = gamma.times_unreduced::<2>().mul(&gamma4);
        out.y = alpha.mul(&beta4.sub_unreduced(&x)).sub(&gamma2_8);
        out.x = x;
        // Last, straight into `out` (assigned from a local, it was copied).
        out.z = self.y.times_unreduced::<2>().mul(&self.z.unreduced());
    }

    /// self + a, or self − a when `negate` (madd-2007-bl), with the
    /// exceptional cases: self at infinity, self = ±a (a doubling), self =
    /// ∓a (infinity). The sign is applied to S2 = ±y·Z³ here rather than to
    /// a negated copy of the table's point, which in wasm cost a bulk copy
    /// of the point (a call into the engine) per negative digit. 8M + 3S
    /// (the formula's 7M + 4S plus reduced doublings and subtractions; see
    /// `double`). Into `out` rather than returned: see
    /// [`Self::double_into`].
    pub(super) fn add_affine_into(&self, a: &Affine<P, L>, negate: bool, out: &mut Self) {
        if self.is_infinity() {
            *out = Self::from_affine(&if negate { a.neg() } else { *a });
            return;
        }
        let z1z1 = self.z.square();
        let u2 = a.x.mul(&z1z1);
        let s2 = a.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&self.x);
        // −s2 − y1 = −(s2 + y1): as many reduced operations as s2 − y1
        // after negating a.y.
        let s_diff = if negate {
            s2.add(&self.y).neg()
        } else {
            s2.sub(&self.y)
        };
        if h.is_zero() {
            // Same x: the same point or its opposite.
            if s_diff.is_zero() {
                self.double_into(out);
            } else {
                *out = Self::INFINITY;
            }
            return;
        }
        let hh = h.square();
        let i = hh.times_unreduced::<4>();
        let j = h.unreduced().mul(&i);
        let r = s_diff.times_unreduced::<2>();
        let v = self.x.unreduced().mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        // 2·Y1·J and Z3 = 2·Z1·H (the formula's (Z1 + H)² − Z1Z1 − HH) as
        // products of unreduced small multiples: a multiplication instead
        // of reduced doublings and subtractions (see `double`).
        let y1_j2 = self.y.times_unreduced::<2>().mul(&j.unreduced());
        out.y = r.mul(&v.sub_unreduced(&x)).sub(&y1_j2);
        out.x = x;
        out.z = self.z.times_unreduced::<2>().mul(&h.unreduced());
    }

    /// self + other (add-2007-bl), with the same exceptional cases; used
    /// only to build the public key's table.
    pub(super) fn add(&self, other: &Self) -> Self {
        if self.is_infinity() {
            return *other;
        }
        if other.is_infinity() {
            return *self;
        }
        let z1z1 = self.z.square();
        let z2z2 = other.z.square();
        let u1 = self.x.mul(&z2z2);
        let u2 = other.x.mul(&z1z1);
        let s1 = self.y.mul(&other.z).mul(&z2z2);
        let s2 = other.y.mul(&self.z).mul(&z1z1);
        let h = u2.sub(&u1);
        let s_diff = s2.sub(&s1);
        if h.is_zero() {
            return if s_diff.is_zero() {
                self.double()
            } else {
                Self::INFINITY
            };
        }
        let i = h.times_unreduced::<2>().square();
        let j = h.mul(&i);
        let r = s_diff.times_unreduced::<2>();
        let v = u1.mul(&i);
        let x = r.square().sub(&j).sub(&v.double());
        let y = r.mul(&v.sub_unreduced(&x)).sub(&s1.mul(&j).double());
        let z1_plus_z2 = self.z.add_unreduced(&other.z);
        let z = z1_plus_z2.square().sub(&z1z1).sub(&z2z2).mul(&h);
        Jacobian { x, y, z }
    }

    /// The affine point, `None` at infinity (the tests compare points;
    /// verification compares X with r·Z² instead).
    #[cfg(test)]
    pub(super) fn to_affine(self) -> Option<Affine<P, L>> {
        let z_inv = self.z.invert()?;
        let z_inv2 = z_inv.square();
        Some(Affine {
            x: self.x.mul(&z_inv2),
            y: self.y.mul(&z_inv2).mul(&z_inv),
        })
    }
}

/// All points to affine with one field inversion (Montgomery's trick:
/// invert the product of the Z's, then peel one factor off per point);
/// `None` if any point is at infinity.
pub(super) fn batch_to_affine<P: Modulus<L>, const L: usize, const N: usize>(
    points: &[Jacobian<P, L>; N],
) -> Option<[Affine<P, L>; N]> {
    // prefix[i] = z_0·...·z_i.
    let mut prefix = [Residue::ONE; N];
    let mut running = Residue::<P, L>::ONE;
    for (p, slot) in points.iter().zip(prefix.iter_mut()) {
        running = running.mul(&p.z);
        *slot = running;
    }
    // Zero if any z is: invert refuses it.
    let mut inverse = running.invert()?;
    let mut out = [Affine {
        x: Residue::ZERO,
        y: Residue::ZERO,
    }; N];
    for i in (0..N).rev() {
        // inverse = (z_0·...·z_i)^-1 here.
        let z_inv = if i == 0 {
            inverse
        } else {
            inverse.mul(&prefix[i - 1])
        };
        inverse = inverse.mul(&points[i].z);
        let z_inv2 = z_inv.square();
        out[i] = Affine {
            x: points[i].x.mul(&z_inv2),
            y: points[i].y.mul(&z_inv2).mul(&z_inv),
        };
    }
    Some(out)
}

/// `[Q, 3Q, 5Q, ..., (2N − 1)Q]` in affine coordinates.
pub(super) fn odd_multiples<P: Modulus<L>, const L: usize, const N: usize>(
    q: &Affine<P, L>,
) -> Option<[Affine<P, L>; N]> {
    let first = Jacobian::from_affine(q);
    let twice = first.double();
    let mut table = [first; N];
    for i in 1..N {
        table[i] = table[i - 1].add(&twice);
    }
    batch_to_affine(&table)
}

/// `Σ d_i·2^i·table` for the wNAF digits of each scalar (least significant
/// first; digit d picks `table[|d| / 2]`, negated when d < 0), over one
/// shared chain of doublings (Straus/Shamir interleaving). `None` if a
/// digit has no table entry (digits wider than the table: a caller's bug).
pub(super) fn interleaved<P: Modulus<L>, const L: usize>(
    terms: &[(&[i8], &[Affine<P, L>])],
) -> Option<Jacobian<P, L>> {
    let length = terms.iter().map(|(d, _)| d.len()).max().unwrap_or(0);
    // The accumulator alternates between two points (see `double_into`).
    let (mut first, mut second) = (Jacobian::INFINITY, Jacobian::INFINITY);
    let (mut acc, mut spare) = (&mut first, &mut second);
    for i in (0..length).rev() {
        acc.double_into(spare);
        std::mem::swap(&mut acc, &mut spare);
        for (digits, table) in terms {
            let Some(&d) = digits.get(i).filter(|&&d| d != 0) else {
                continue;
            };
            let p = table.get(usize::from(d.unsigned_abs() / 2))?;
            acc.add_affine_into(p, d < 0, spare);
            std::mem::swap(&mut acc, &mut spare);
        }
    }
    Some(*acc)
}
