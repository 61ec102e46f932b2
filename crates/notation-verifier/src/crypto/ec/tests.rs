//! Our field, point and verification arithmetic against independent
//! references: big integers (`rsa`'s `BigUint`) for the field, the curve
//! crates (`p256`, `p384`) for points and `ecdsa` 0.16 for verification.
//! The signature-level sweeps (random keys, bit flips, out-of-range r and s)
//! are in `ecdsa_verify`'s tests, which go through `PublicKey`; these add
//! the exceptional cases a random signature never reaches. Compiled for
//! wasm32-wasip1 too (see the Makefile's `test-wasm` target).

use rsa::BigUint;
use signature::hazmat::PrehashVerifier;

use super::field::{Modulus, Residue, LIMB_BITS};
use super::point::{interleaved, odd_multiples, Affine, Jacobian};
use super::*;
use crate::crypto::rsa_public::tests::TestRng;
use ecdsa::elliptic_curve::rand_core::RngCore;

fn big<M: Modulus<L>, const L: usize>(x: &Residue<M, L>) -> BigUint {
    BigUint::from_bytes_be(&x.to_be_bytes())
}

fn modulus<M: Modulus<L>, const L: usize>() -> BigUint {
    BigUint::parse_bytes(M::HEX.as_bytes(), 16).expect("hex")
}

/// Values that stress carries and the final subtractions: 0, 1, 2, m − 1,
/// m − 2, every limb at its maximum (reduced), powers of two, and random.
fn samples<M: Modulus<L>, const L: usize>(rng: &mut TestRng) -> Vec<Residue<M, L>> {
    let m = modulus::<M, L>();
    let mut out: Vec<BigUint> = vec![
        BigUint::from(0u8),
        BigUint::from(1u8),
        BigUint::from(2u8),
        &m - 1u8,
        &m - 2u8,
        ((BigUint::from(1u8) << (LIMB_BITS as usize * L)) - 1u8) % &m,
        (&m >> 1) + 1u8,
    ];
    for bit in (0..M::BYTES * 8).step_by(29) {
        out.push((BigUint::from(1u8) << bit) % &m);
    }
    for _ in 0..64 {
        let mut bytes = vec![0u8; M::BYTES];
        rng.fill_bytes(&mut bytes);
        out.push(BigUint::from_bytes_be(&bytes) % &m);
    }
    out.iter()
        .map(|x| {
            let mut bytes = x.to_bytes_be();
            // Leading zeros, as a caller may pass them.
            bytes.insert(0, 0);
            Residue::from_be_bytes(&bytes).expect("below the modulus")
        })
        .collect()
}

fn field_matches_big_integers<M: Modulus<L>, const L: usize>() {
    let m = modulus::<M, L>();
    let r = (BigUint::from(1u8) << (LIMB_BITS as usize * L)) % &m;
    let r_inv = r.modpow(&(&m - 2u8), &m);
    let mut rng = TestRng::new(L as u64);
    let values = samples::<M, L>(&mut rng);
    // The modulus itself and above are refused.
    assert!(Residue::<M, L>::from_be_bytes(&m.to_bytes_be()).is_none());
    assert!(Residue::<M, L>::from_be_bytes(&vec![0xff; M::BYTES + 1]).is_none());
    assert_eq!(big(&Residue::<M, L>::ONE), r);
    for a in &values {
        let (ab, am) = (big(a), big(&a.to_montgomery()));
        assert_eq!(am, &ab * &r % &m);
        assert_eq!(a.to_montgomery().out_of_montgomery(), *a);
        assert_eq!(big(&a.square()), &ab * &ab * &r_inv % &m);
        assert_eq!(big(&a.neg()), (&m - &ab) % &m);
        match a.invert_plain() {
            None => assert_eq!(ab, BigUint::from(0u8)),
            Some(inv) => assert_eq!(big(&inv) * &ab % &m, BigUint::from(1u8)),
        }
        if let Some(inv) = a.to_montgomery().invert() {
            assert_eq!(inv.mul(&a.to_montgomery()), Residue::ONE);
        }
        for b in values.iter().step_by(3) {
            let bb = big(b);
            assert_eq!(big(&a.mul(b)), &ab * &bb * &r_inv % &m, "{ab:x} * {bb:x}");
            assert_eq!(big(&a.add(b)), (&ab + &bb) % &m);
            assert_eq!(big(&a.sub(b)), (&ab + &m - &bb) % &m);
        }
    }
}

#[test]
fn field_arithmetic_matches_big_integers() {
    field_matches_big_integers::<P256Field, P256_LIMBS>();
    field_matches_big_integers::<P256Order, P256_LIMBS>();
    field_matches_big_integers::<P384Field, P384_LIMBS>();
    field_matches_big_integers::<P384Order, P384_LIMBS>();
}

/// The reductions and the unreduced operations at their bounds.
mod bounds;

/// One curve's point tests against its crate.
macro_rules! curve_tests {
    ($module:ident, $curve:ident, $field:ty, $order:ty, $limbs:expr, $params:expr, $verify:ident, $file:literal) => {
        mod $module {
            use super::*;
            use $curve::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
            use $curve::elliptic_curve::PrimeField;
            use $curve::{AffinePoint, ProjectivePoint, Scalar};

            type F = Residue<$field, $limbs>;

            fn ours(p: &ProjectivePoint) -> Affine<$field, $limbs> {
                let encoded = p.to_affine().to_encoded_point(false);
                let coordinate = |b: Option<&_>| {
                    F::from_be_bytes(b.map(|b: &$curve::FieldBytes| &b[..]).expect("finite"))
                        .expect("below p")
                        .to_montgomery()
                };
                Affine {
                    x: coordinate(encoded.x()),
                    y: coordinate(encoded.y()),
                }
            }

            fn theirs(p: &Jacobian<$field, $limbs>) -> ProjectivePoint {
                let Some(a) = p.to_affine() else {
                    return ProjectivePoint::IDENTITY;
                };
                let mut sec1 = vec![4u8];
                sec1.extend(a.x.out_of_montgomery().to_be_bytes());
                sec1.extend(a.y.out_of_montgomery().to_be_bytes());
                let point = $curve::EncodedPoint::from_bytes(&sec1).expect("sec1");
                ProjectivePoint::from(
                    Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&point))
                        .expect("our point is on the curve"),
                )
            }

            fn random_scalar(rng: &mut TestRng) -> Scalar {
                let mut bytes = $curve::FieldBytes::default();
                loop {
                    rng.fill_bytes(&mut bytes);
                    if let Some(s) = Option::from(Scalar::from_repr(bytes)) {
                        return s;
                    }
                }
            }

            fn scalar(bytes: &[u8]) -> Scalar {
                let mut repr = $curve::FieldBytes::default();
                repr.copy_from_slice(bytes);
                Option::from(Scalar::from_repr(repr)).expect("below n")
            }

            /// The checked-in table is what our arithmetic computes from G,
            /// and each entry is the crate's (2i + 1)·G.
            #[test]
            fn generator_table() {
                let g = ours(&ProjectivePoint::GENERATOR);
                let b = F::from_hex($params.b).to_montgomery();
                assert!(g.is_on_curve(&b));
                let computed = odd_multiples::<$field, $limbs, G_TABLE>(&g).expect("finite");
                let mut source = String::new();
                for (i, (p, stored)) in computed.iter().zip($params.generator).enumerate() {
                    let expected = ProjectivePoint::GENERATOR * Scalar::from(2 * i as u64 + 1);
                    assert_eq!(theirs(&Jacobian::from_affine(p)), expected, "{}G", 2 * i + 1);
                    assert!(p.x == stored.x && p.y == stored.y, "entry {i}");
                    source.push_str(&format!(
                        "    // {}G\n    Affine::from_hex(\n        \"{}\",\n        \"{}\",\n    ),\n",
                        2 * i + 1,
                        hex::encode(p.x.to_be_bytes()),
                        hex::encode(p.y.to_be_bytes())
                    ));
                }
                let path = concat!(env!("CARGO_MANIFEST_DIR"), "/src/crypto/ec/", $file);
                let file = include_str!($file);
                let start = file.find("= [\n").expect("table start") + 4;
                let end = file.rfind("];").expect("table end");
                if std::env::var_os("VNS_UPDATE_TABLES").is_some() {
                    let updated = format!("{}{}{}", &file[..start], source, &file[end..]);
                    std::fs::write(path, updated).expect("write the table");
                }
                assert_eq!(&file[start..end], source, "rerun with VNS_UPDATE_TABLES=1");
            }

            /// u1·G + u2·Q against the crate, with the scalars and keys that
            /// reach the exceptional cases of the additions: Q = ±G, u1 = ±u2
            /// (a doubling or the point at infinity inside the sum), zero
            /// and n − 1.
            #[test]
            fn double_scalar_multiplication() {
                let mut rng = TestRng::new(29);
                let mut random = || random_scalar(&mut rng);
                let mut cases: Vec<(Scalar, Scalar, ProjectivePoint)> = Vec::new();
                let minus_one = -Scalar::ONE;
                for _ in 0..24 {
                    let (u1, u2, d) = (random(), random(), random());
                    let q = ProjectivePoint::GENERATOR * d;
                    cases.push((u1, u2, q));
                    cases.push((Scalar::ZERO, u2, q));
                    cases.push((u1, Scalar::ONE, ProjectivePoint::GENERATOR));
                    cases.push((u1, u1, ProjectivePoint::GENERATOR));
                    cases.push((u1, -u1, ProjectivePoint::GENERATOR));
                    cases.push((u1, u1, -ProjectivePoint::GENERATOR));
                    cases.push((u1, u1 * d.invert().unwrap(), q));
                    cases.push((u1, -(u1 * d.invert().unwrap()), q));
                    cases.push((minus_one, minus_one, q));
                }
                for small in 1..40u64 {
                    cases.push((Scalar::from(small), Scalar::from(small), ProjectivePoint::GENERATOR));
                    cases.push((Scalar::from(small), -Scalar::from(small + 1), ProjectivePoint::GENERATOR));
                }
                let mut infinities = 0;
                for (u1, u2, q) in cases {
                    let expected = ProjectivePoint::GENERATOR * u1 + q * u2;
                    let g_digits = wnaf(&u1.to_repr(), G_WIDTH);
                    let q_digits = wnaf(&u2.to_repr(), Q_WIDTH);
                    let q_table = odd_multiples::<$field, $limbs, Q_TABLE>(&ours(&q)).expect("finite");
                    let got = interleaved(&[
                        (&g_digits, &$params.generator[..]),
                        (&q_digits, &q_table[..]),
                    ])
                    .expect("digits in range");
                    assert_eq!(theirs(&got), expected);
                    infinities += usize::from(got.is_infinity());
                }
                assert!(infinities >= 24, "{infinities}");
            }

            /// Signatures whose R is the point at infinity (Q = ±G with
            /// e = ∓r) and whose x(R) is r + n (x ≥ n: the check that
            /// avoids inverting Z), against `ecdsa` 0.16.
            #[test]
            fn exceptional_signatures() {
                use $curve::ecdsa::{Signature, VerifyingKey};
                let n = modulus::<$order, $limbs>();
                let p = modulus::<$field, $limbs>();
                let mut rng = TestRng::new(31);
                let mut compared = 0;
                let check = |q: ProjectivePoint, e: &[u8], r: Scalar, s: Scalar, accept: bool| {
                    let vk = VerifyingKey::from_affine(q.to_affine()).expect("key");
                    let sig = Signature::from_scalars(r, s).expect("signature");
                    assert_eq!(vk.verify_prehash(e, &sig).is_ok(), accept, "reference");
                    let ours = $verify(&vk, e, &sig);
                    assert_eq!(ours.is_ok(), accept, "ours");
                };
                for _ in 0..8 {
                    let r = random_scalar(&mut rng);
                    let s = r * Scalar::from(7u64) + Scalar::ONE;
                    // Q = G, e = −r: R = (e + r)/s·G = infinity.
                    check(ProjectivePoint::GENERATOR, &(-r).to_repr(), r, s, false);
                    // Q = −G, e = r: R = (e − r)/s·G = infinity.
                    check(-ProjectivePoint::GENERATOR, &r.to_repr(), r, s, false);
                    compared += 2;
                }
                // x(R) ≥ n: choose R with x = n + k on the curve, r = x − n,
                // and the key that makes (e, r, s) a valid signature:
                // Q = (s·R − e·G)/r.
                let exponent = (&p + 1u8) >> 2;
                let b = BigUint::parse_bytes($params.b.as_bytes(), 16).expect("b");
                let mut found = 0;
                let mut k = 1u32;
                while found < 4 {
                    let x = &n + k;
                    k += 1;
                    let rhs = (&x * &x * &x + &b + &p * 3u8 - &x * 3u8) % &p;
                    let y = rhs.modpow(&exponent, &p);
                    if &y * &y % &p != rhs {
                        continue;
                    }
                    let pad = |v: &BigUint| {
                        let mut out = vec![0u8; <$field as Modulus<$limbs>>::BYTES];
                        let b = v.to_bytes_be();
                        out[<$field as Modulus<$limbs>>::BYTES - b.len()..].copy_from_slice(&b);
                        out
                    };
                    let mut sec1 = vec![4u8];
                    sec1.extend(pad(&x));
                    sec1.extend(pad(&y));
                    let point = $curve::EncodedPoint::from_bytes(&sec1).expect("sec1");
                    let big_r = ProjectivePoint::from(
                        Option::<AffinePoint>::from(AffinePoint::from_encoded_point(&point))
                            .expect("on the curve"),
                    );
                    let r = scalar(&pad(&(&x - &n)));
                    let (e, s) = (Scalar::from(12345u64 + u64::from(k)), Scalar::from(777u64));
                    let q = (big_r * s - ProjectivePoint::GENERATOR * e) * r.invert().unwrap();
                    check(q, &e.to_repr(), r, s, true);
                    // The same with r + 1: refused.
                    check(q, &e.to_repr(), r + Scalar::ONE, s, false);
                    found += 1;
                    compared += 2;
                }
                assert!(compared >= 24);
            }
        }
    };
}

curve_tests!(
    p256_points,
    p256,
    P256Field,
    P256Order,
    P256_LIMBS,
    P256,
    verify_p256,
    "g_p256.rs"
);
curve_tests!(
    p384_points,
    p384,
    P384Field,
    P384Order,
    P384_LIMBS,
    P384,
    verify_p384,
    "g_p384.rs"
);
