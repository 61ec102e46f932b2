//! ECDSA verification for P-256 and P-384 on our own arithmetic, tuned for
//! wasm32 (the policy's target), where the curve crates' 32-bit fiat-crypto
//! field code made a P-256 verification 13x openssl's.
//!
//! - [`field`]: arithmetic mod p and mod n in 29-bit limbs (Montgomery,
//!   uncarried columns, carries once per column; binary-GCD inversion);
//! - [`point`]: Jacobian coordinates with the a = −3 doubling and mixed
//!   additions against affine tables, exceptional cases handled;
//! - `g_p256`, `g_p384`: the generator's odd multiples G..127G, affine,
//!   checked in as constants (the policy runs a fresh instance per request,
//!   so a table built at run time would be rebuilt on every request); a test
//!   regenerates them and checks them against the curve crates.
//!
//! `u1·G + u2·Q` is computed by interleaved wNAF (width 8 for G, 5 for Q,
//! whose table of 8 odd multiples is normalised to affine with one field
//! inversion). The verification equation is SEC 1 §4.1.4 / FIPS 186-5
//! §6.4.2 with the digest turned into a scalar exactly as `ecdsa` 0.16 does
//! (its own `bits2field` and reduction mod n), the signature parsed by the
//! curve crates (r, s in [1, n − 1]) and the key validated by them when
//! parsed (a point on the curve, not the identity; checked again here). The
//! tests compare every result with `ecdsa` 0.16's `verify_prehash`.
//!
//! Everything is public (key, digest, signature): variable time is fine.

mod field;
mod g_p256;
mod g_p384;
mod point;
#[cfg(test)]
mod tests;

use ecdsa::elliptic_curve::ff::PrimeField;
use ecdsa::elliptic_curve::ops::Reduce;
use ecdsa::elliptic_curve::sec1::{FromEncodedPoint, ToEncodedPoint};
use ecdsa::elliptic_curve::{CurveArithmetic, PrimeCurve, Scalar};
use ecdsa::{Error, Signature, VerifyingKey};

use field::{Modulus, Residue};
use point::{interleaved, odd_multiples, Affine};

use super::ecdsa_verify::wnaf;

/// wNAF width for the generator: digits up to ±127, so the fixed table
/// holds G, 3G, ..., 127G (64 points) and about one addition in 9 bits.
const G_WIDTH: u32 = 8;
pub(super) const G_TABLE: usize = 1 << (G_WIDTH - 2);
/// wNAF width for the public key, whose table (Q, 3Q, ..., 15Q) is built
/// per verification: wider tables cost more to build than they save.
const Q_WIDTH: u32 = 5;
const Q_TABLE: usize = 1 << (Q_WIDTH - 2);

/// P-256's field prime and group order (FIPS 186-5 / SP 800-186 §3.2.1.3),
/// nine 29-bit limbs.
pub(crate) const P256_LIMBS: usize = 9;
#[derive(Clone, Copy, Debug)]
pub(crate) struct P256Field;
impl Modulus<P256_LIMBS> for P256Field {
    const HEX: &'static str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
    const BYTES: usize = 32;
}
#[derive(Clone, Copy, Debug)]
pub(crate) struct P256Order;
impl Modulus<P256_LIMBS> for P256Order {
    const HEX: &'static str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const BYTES: usize = 32;
}
const P256_B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";

/// P-384's (SP 800-186 §3.2.1.4), fourteen 29-bit limbs.
pub(crate) const P384_LIMBS: usize = 14;
#[derive(Clone, Copy, Debug)]
pub(crate) struct P384Field;
impl Modulus<P384_LIMBS> for P384Field {
    const HEX: &'static str = "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff";
    const BYTES: usize = 48;
}
#[derive(Clone, Copy, Debug)]
pub(crate) struct P384Order;
impl Modulus<P384_LIMBS> for P384Order {
    const HEX: &'static str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
    const BYTES: usize = 48;
}
const P384_B: &str = "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aef";

/// One curve: its constant b (plain, big-endian hex) and generator table.
struct Curve<P: 'static, const L: usize> {
    b: &'static str,
    generator: &'static [Affine<P, L>; G_TABLE],
}

static P256: Curve<P256Field, P256_LIMBS> = Curve {
    b: P256_B,
    generator: &g_p256::TABLE,
};
static P384: Curve<P384Field, P384_LIMBS> = Curve {
    b: P384_B,
    generator: &g_p384::TABLE,
};

/// ECDSA P-256: the same result as `ecdsa` 0.16's
/// `VerifyingKey::verify_prehash`.
pub(super) fn verify_p256(
    key: &VerifyingKey<p256::NistP256>,
    prehash: &[u8],
    signature: &Signature<p256::NistP256>,
) -> Result<(), Error> {
    let (q, e, r, s) = inputs(key, prehash, signature)?;
    verify::<P256Field, P256Order, P256_LIMBS>(&P256, &q, &e, &r, &s)
}

/// ECDSA P-384, likewise.
pub(super) fn verify_p384(
    key: &VerifyingKey<p384::NistP384>,
    prehash: &[u8],
    signature: &Signature<p384::NistP384>,
) -> Result<(), Error> {
    let (q, e, r, s) = inputs(key, prehash, signature)?;
    verify::<P384Field, P384Order, P384_LIMBS>(&P384, &q, &e, &r, &s)
}

/// The uncompressed key (x and y, big-endian), e = bits2field(digest) mod
/// n, r and s, as the curve crates compute and parse them.
type Inputs = ((Vec<u8>, Vec<u8>), Vec<u8>, Vec<u8>, Vec<u8>);

// `ArrayLength` (generic-array 0.14, as `ecdsa` 0.16 uses it) is deprecated.
#[allow(deprecated)]
fn inputs<C>(
    key: &VerifyingKey<C>,
    prehash: &[u8],
    signature: &Signature<C>,
) -> Result<Inputs, Error>
where
    C: CurveArithmetic + PrimeCurve,
    ecdsa::SignatureSize<C>: ecdsa::elliptic_curve::generic_array::ArrayLength<u8>,
    ecdsa::elliptic_curve::AffinePoint<C>: FromEncodedPoint<C> + ToEncodedPoint<C>,
    ecdsa::elliptic_curve::FieldBytesSize<C>: ecdsa::elliptic_curve::sec1::ModulusSize,
{
    // e: the leftmost field-size bytes of the digest (left-padded when
    // shorter; fewer than half the field size is an error), mod n.
    let e = <Scalar<C> as Reduce<C::Uint>>::reduce_bytes(&ecdsa::hazmat::bits2field::<C>(prehash)?);
    // r and s are in [1, n-1]: `Signature` cannot hold anything else.
    let (r, s) = signature.split_scalars();
    let point = key.as_affine().to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        // The identity: `VerifyingKey` refuses it, so this is unreachable.
        return Err(Error::new());
    };
    Ok((
        (x.to_vec(), y.to_vec()),
        e.to_repr().to_vec(),
        r.to_repr().to_vec(),
        s.to_repr().to_vec(),
    ))
}

/// `x(u1·G + u2·Q) mod n == r` with u1 = e/s and u2 = r/s mod n.
fn verify<P: Modulus<L>, N: Modulus<L>, const L: usize>(
    curve: &Curve<P, L>,
    (qx, qy): &(Vec<u8>, Vec<u8>),
    e: &[u8],
    r: &[u8],
    s: &[u8],
) -> Result<(), Error> {
    let field = |bytes: &[u8]| Residue::<P, L>::from_be_bytes(bytes).ok_or_else(Error::new);
    let scalar = |bytes: &[u8]| Residue::<N, L>::from_be_bytes(bytes).ok_or_else(Error::new);
    let q = Affine {
        x: field(qx)?.to_montgomery(),
        y: field(qy)?.to_montgomery(),
    };
    let b = Residue::<P, L>::from_hex(curve.b).to_montgomery();
    if !q.is_on_curve(&b) {
        return Err(Error::new());
    }
    let (e, r_n, s) = (scalar(e)?, scalar(r)?, scalar(s)?);
    if r_n.is_zero() || s.is_zero() {
        return Err(Error::new());
    }
    // w = s^-1 (plain). A Montgomery product of plain values carries R^-1,
    // and the product with R^2 takes it back out: u = a·w·R^-1·R^2·R^-1.
    let w = s.invert_plain().ok_or_else(Error::new)?;
    let r2 = Residue::<N, L>::from_limbs(N::R2);
    let u1 = e.mul(&w).mul(&r2);
    let u2 = r_n.mul(&w).mul(&r2);
    let g_digits = wnaf(&u1.to_be_bytes(), G_WIDTH);
    let q_digits = wnaf(&u2.to_be_bytes(), Q_WIDTH);
    let q_table = odd_multiples::<P, L, Q_TABLE>(&q).ok_or_else(Error::new)?;
    let point = interleaved(&[(&g_digits, &curve.generator[..]), (&q_digits, &q_table[..])])
        .ok_or_else(Error::new)?;
    if point.is_infinity() {
        return Err(Error::new());
    }
    // x = X/Z² is below p < 2n, so x mod n = r exactly when x = r or
    // x = r + n (possible only when r + n < p): compare X with r·Z² and
    // (r + n)·Z² instead of inverting Z.
    let z2 = point.z.square();
    let r_p = field(r)?;
    if r_p.to_montgomery().mul(&z2) == point.x {
        return Ok(());
    }
    let r_plus_n = field::add_raw(r_n.limbs(), &N::LIMBS);
    if let Some(x) = Residue::<P, L>::from_limbs_checked(r_plus_n) {
        if x.to_montgomery().mul(&z2) == point.x {
            return Ok(());
        }
    }
    Err(Error::new())
}
