//! The Montgomery reductions (sparse for the field primes, dense for the
//! group orders) and the unreduced operations, at the edges of the bounds
//! their comments prove, against big integers. Compiled for wasm32-wasip1
//! too, with overflow checks, where a column leaving its range would trap.

use super::super::field::reduce::{self, Columns, Sparse};
use super::*;

const LIMB_MAX: u64 = (1 << LIMB_BITS) - 1;

/// Σ t_k·2^(29k): the value of uncarried columns.
fn columns_value(t: &Columns) -> BigUint {
    t.iter().rev().fold(BigUint::from(0u8), |acc, &c| {
        (acc << LIMB_BITS as usize) + c
    })
}

/// (t + m·M)/R with m = −t·M^-1 mod R: the Montgomery reduction by its
/// definition (M^-1 mod R = M^(R/2 − 1), R a power of two), before the final
/// subtraction; checks the precondition t < M·R and that the result is
/// below 2M.
fn reference_reduction<M: Modulus<L>, const L: usize>(t: &Columns) -> BigUint {
    let m = modulus::<M, L>();
    let bits = LIMB_BITS as usize * L;
    let r = BigUint::from(1u8) << bits;
    let value = columns_value(t);
    assert!(value < &m * &r, "the reduction's precondition");
    let m_inv = m.modpow(&((BigUint::from(1u8) << (bits - 1)) - 1u8), &r);
    let k = (&r - &value % &r) % &r * m_inv % &r;
    let reduced = (value + k * &m) >> bits;
    assert!(reduced < &m * 2u8);
    reduced
}

fn limbs_value<const L: usize>(limbs: &[u64; L]) -> BigUint {
    let mut t = [0u64; 2 * 16];
    t[..L].copy_from_slice(limbs);
    columns_value(&t)
}

/// The digits of each modulus's sparse form, as (bit, negative), and the
/// placements in 29-bit limbs that the reduction uses.
#[test]
fn sparse_forms() {
    fn digits<M: Modulus<L>, const L: usize>() -> Option<Vec<(usize, bool)>> {
        let form = M::SPARSE?;
        let (mut plus, mut minus) = (BigUint::from(0u8), BigUint::from(0u8));
        let mut out = Vec::new();
        for term in form.terms() {
            assert!(term.shift < LIMB_BITS && term.limb < L);
            let bit = LIMB_BITS as usize * term.limb + term.shift as usize;
            *(if term.negative { &mut minus } else { &mut plus }) += BigUint::from(1u8) << bit;
            out.push((bit, term.negative));
        }
        assert_eq!(plus - minus, modulus::<M, L>());
        Some(out)
    }
    // p = 2^256 − 2^224 + 2^192 + 2^96 − 1.
    assert_eq!(
        digits::<P256Field, P256_LIMBS>(),
        Some(vec![
            (0, true),
            (96, false),
            (192, false),
            (224, true),
            (256, false)
        ])
    );
    // p = 2^384 − 2^128 − 2^96 + 2^32 − 1.
    assert_eq!(
        digits::<P384Field, P384_LIMBS>(),
        Some(vec![
            (0, true),
            (32, false),
            (96, true),
            (128, true),
            (384, false)
        ])
    );
    let placed = |form: Option<Sparse>| {
        form.map(|f| {
            f.terms()
                .iter()
                .map(|t| (t.limb, t.shift, t.negative))
                .collect::<Vec<_>>()
        })
    };
    assert_eq!(
        placed(<P256Field as Modulus<P256_LIMBS>>::SPARSE),
        Some(vec![
            (0, 0, true),
            (3, 9, false),
            (6, 18, false),
            (7, 21, true),
            (8, 24, false)
        ])
    );
    assert_eq!(
        placed(<P384Field as Modulus<P384_LIMBS>>::SPARSE),
        Some(vec![
            (0, 0, true),
            (1, 3, false),
            (3, 9, true),
            (4, 12, true),
            (13, 7, false)
        ])
    );
    // The group orders are dense: the generic reduction.
    assert_eq!(digits::<P256Order, P256_LIMBS>(), None);
    assert_eq!(digits::<P384Order, P384_LIMBS>(), None);
    // A dense form is refused rather than truncated.
    assert!(reduce::sparse_form(&[LIMB_MAX >> 1; 4]).is_some());
    assert!(reduce::sparse_form(&[0x0555_5555; 4]).is_none());
}

/// Both reductions on column vectors at the extremes of their bounds,
/// against the definition: the low half at the largest a product makes
/// (every limb 2^29 − 1), on its own (negative columns and long borrow
/// chains in the sparse form) and on top of the columns of (M − 1)², and
/// single small columns (m at its maximum, most of the m·M terms
/// negative).
fn reductions_at_the_bounds<M: Modulus<L>, const L: usize>() {
    let top = LIMB_MAX * LIMB_MAX;
    let mut cases: Vec<Columns> = Vec::new();
    let mut low_half = [0u64; 32];
    for (k, c) in low_half.iter_mut().enumerate().take(L) {
        *c = (k as u64 + 1) * top;
    }
    cases.push(low_half);
    let minus_one = {
        let mut l = M::LIMBS;
        l[0] -= 1;
        l
    };
    let mut square = [0u64; 32];
    for i in 0..L {
        for j in 0..L {
            square[i + j] += minus_one[i] * minus_one[j];
        }
    }
    cases.push(square);
    let mut both = square;
    for k in 0..L {
        both[k] = both[k].max(low_half[k]);
    }
    cases.push(both);
    for c0 in [1, 2, LIMB_MAX, LIMB_MAX - 1, 1 << 28, top] {
        let mut t = [0u64; 32];
        t[0] = c0;
        cases.push(t);
        let mut t = [0u64; 32];
        t[L - 1] = c0;
        cases.push(t);
    }
    for t in &cases {
        let expected = reference_reduction::<M, L>(t);
        let dense = reduce::dense::<L>(*t, &M::LIMBS, M::N0_INV);
        assert_eq!(limbs_value(&dense), expected, "dense, {t:x?}");
        assert!(dense.iter().all(|&l| l <= LIMB_MAX));
        if let Some(form) = M::SPARSE {
            let sparse = reduce::sparse::<L>(*t, &form, M::N0_INV);
            assert_eq!(sparse, dense, "sparse, {t:x?}");
        }
    }
}

#[test]
fn reductions_match_the_definition_at_their_bounds() {
    reductions_at_the_bounds::<P256Field, P256_LIMBS>();
    reductions_at_the_bounds::<P384Field, P384_LIMBS>();
    reductions_at_the_bounds::<P256Order, P256_LIMBS>();
    reductions_at_the_bounds::<P384Order, P384_LIMBS>();
}

/// Multiplication and squaring (through the sparse reduction for the
/// primes) on values that make columns maximal: every limb at 2^29 − 1
/// below the top one, M − 1, M − 2, and random values whose limbs are
/// mostly 0 or 2^29 − 1; all pairs, against big integers.
fn products_at_the_bounds<M: Modulus<L>, const L: usize>() {
    let m = modulus::<M, L>();
    let r_inv = ((BigUint::from(1u8) << (LIMB_BITS as usize * L)) % &m).modpow(&(&m - 2u8), &m);
    let mut values: Vec<[u64; L]> = Vec::new();
    let mut full = [LIMB_MAX; L];
    full[L - 1] = M::LIMBS[L - 1] - 1;
    values.push(full);
    let mut low = [LIMB_MAX; L];
    low[L - 1] = 0;
    values.push(low);
    for k in [1u64, 2, 3] {
        let mut l = M::LIMBS;
        l[0] -= k;
        values.push(l);
    }
    values.push([0; L]);
    let mut one = [0; L];
    one[0] = 1;
    values.push(one);
    let mut rng = TestRng::new(0x5ba5e + L as u64);
    while values.len() < 48 {
        let mut l = [0u64; L];
        for limb in l.iter_mut() {
            *limb = match rng.next_u32() % 4 {
                0 => 0,
                1 => u64::from(rng.next_u32()) & LIMB_MAX,
                _ => LIMB_MAX,
            };
        }
        if Residue::<M, L>::from_limbs_checked(l).is_some() {
            values.push(l);
        }
    }
    let residues: Vec<_> = values
        .iter()
        .map(|l| Residue::<M, L>::from_limbs_checked(*l).expect("below the modulus"))
        .collect();
    for a in &residues {
        let ab = limbs_value(a.limbs());
        assert_eq!(limbs_value(a.square().limbs()), &ab * &ab * &r_inv % &m);
        for b in &residues {
            let bb = limbs_value(b.limbs());
            assert_eq!(limbs_value(a.mul(b).limbs()), &ab * &bb * &r_inv % &m);
        }
    }
}

#[test]
fn products_match_big_integers_at_their_bounds() {
    products_at_the_bounds::<P256Field, P256_LIMBS>();
    products_at_the_bounds::<P384Field, P384_LIMBS>();
    products_at_the_bounds::<P256Order, P256_LIMBS>();
    products_at_the_bounds::<P384Order, P384_LIMBS>();
}

/// Random products against big integers, many more than the sweep above.
fn random_products<M: Modulus<L>, const L: usize>() {
    let m = modulus::<M, L>();
    let r_inv = ((BigUint::from(1u8) << (LIMB_BITS as usize * L)) % &m).modpow(&(&m - 2u8), &m);
    let mut rng = TestRng::new(0xf1e1d + L as u64);
    let mut random = || {
        let mut bytes = vec![0u8; M::BYTES];
        rng.fill_bytes(&mut bytes);
        let x = BigUint::from_bytes_be(&bytes) % &m;
        (
            Residue::<M, L>::from_be_bytes(&x.to_bytes_be()).expect("below"),
            x,
        )
    };
    for _ in 0..1000 {
        let ((a, ab), (b, bb)) = (random(), random());
        assert_eq!(big(&a.mul(&b)), &ab * &bb * &r_inv % &m);
        assert_eq!(big(&a.square()), &ab * &ab * &r_inv % &m);
    }
}

#[test]
fn random_products_match_big_integers() {
    random_products::<P256Field, P256_LIMBS>();
    random_products::<P384Field, P384_LIMBS>();
}

/// The unreduced operations (below 4M) through a multiplication, against
/// the reduced ones, on values at the edges: the largest operands they
/// allow are 4(M − 1), 3(M − 1) and 2(M − 1).
fn unreduced_products<M: Modulus<L>, const L: usize>() {
    let mut rng = TestRng::new(0xabc + L as u64);
    let values = samples::<M, L>(&mut rng);
    for a in &values {
        for b in values.iter().step_by(5) {
            let c = b.neg();
            let expected = a.add(b).mul(&c);
            assert_eq!(a.add_unreduced(b).mul(&c.unreduced()), expected);
            assert_eq!(a.sub_unreduced(b).mul(&c.unreduced()), a.sub(b).mul(&c));
            let four_a = a.double().double();
            assert_eq!(
                a.times_unreduced::<4>().mul(&b.times_unreduced::<4>()),
                four_a.mul(&b.double().double())
            );
            assert_eq!(
                a.times_unreduced::<3>().square(),
                a.double().add(a).square()
            );
            assert_eq!(
                a.times_unreduced::<2>().mul(&b.sub_unreduced(a)),
                a.double().mul(&b.sub(a))
            );
            assert_eq!(a.add_unreduced(b).square(), a.add(b).square());
        }
    }
}

#[test]
fn unreduced_operations_match_the_reduced_ones() {
    unreduced_products::<P256Field, P256_LIMBS>();
    unreduced_products::<P384Field, P384_LIMBS>();
}
