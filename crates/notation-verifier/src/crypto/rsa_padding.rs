//! The RSA signature encodings (RFC 8017): EMSA-PKCS1-v1_5 and EMSA-PSS
//! checked over the message recovered by [`RsaKey`]'s public operation.

use super::{oid, CryptoError, HashAlgorithm, PssSalt, RsaKey};

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2): the recovered encoded
/// message must equal 0x00 0x01 FF..FF 0x00 DigestInfo(hash, digest), in full.
pub(super) fn verify_pkcs1v15(
    key: &RsaKey,
    hash: HashAlgorithm,
    digest: &[u8],
    signature: &[u8],
) -> Result<(), CryptoError> {
    let bad = || CryptoError::BadSignature("verification error".into());
    if digest.len() != hash.output_len() {
        return Err(bad());
    }
    let em = key.0.public_op(signature, |_| bad())?;
    let digest_info = digest_info(hash, digest);
    let k = em.len();
    // At least 8 bytes of 0xff padding (RFC 8017 §9.2 step 5).
    if k < digest_info.len() + 11 {
        return Err(bad());
    }
    let ps_end = k - digest_info.len() - 1;
    let well_formed = em[0] == 0x00
        && em[1] == 0x01
        && em[2..ps_end].iter().all(|&b| b == 0xff)
        && em[ps_end] == 0x00
        && em[ps_end + 1..] == digest_info[..];
    if well_formed {
        Ok(())
    } else {
        Err(bad())
    }
}

/// DER `DigestInfo ::= SEQUENCE { SEQUENCE { hash OID, NULL }, OCTET STRING digest }`
/// (RFC 8017 §9.2 note 1); every length here is below 128, so short form.
pub(super) fn digest_info(hash: HashAlgorithm, digest: &[u8]) -> Vec<u8> {
    let oid = match hash {
        HashAlgorithm::Sha256 => oid::SHA256,
        HashAlgorithm::Sha384 => oid::SHA384,
        HashAlgorithm::Sha512 => oid::SHA512,
    };
    let oid = oid.as_bytes();
    let algorithm_len = 2 + oid.len() + 2;
    let inner_len = 2 + algorithm_len + 2 + digest.len();
    let mut out = Vec::with_capacity(2 + inner_len);
    out.extend_from_slice(&[0x30, inner_len as u8, 0x30, algorithm_len as u8]);
    out.extend_from_slice(&[0x06, oid.len() as u8]);
    out.extend_from_slice(oid);
    out.extend_from_slice(&[0x05, 0x00, 0x04, digest.len() as u8]);
    out.extend_from_slice(digest);
    out
}

/// EMSA-PSS verification (RFC 8017 §9.1.2) over a message digest, with the
/// salt length either fixed or recovered from the encoded message (what
/// JWS verifiers do).
pub(super) fn verify_pss(
    key: &RsaKey,
    hash: HashAlgorithm,
    m_hash: &[u8],
    signature: &[u8],
    salt: PssSalt,
) -> Result<(), CryptoError> {
    let bad = |why: &str| CryptoError::BadSignature(format!("rsa-pss: {why}"));
    let m = key.0.public_op(signature, bad)?;
    let em_bits = key.0.modulus_bits() - 1;
    let em_len = em_bits.div_ceil(8);
    // m < n has k bytes; EM is its last em_len bytes, the others must be 0.
    let (high, em) = m.split_at(m.len() - em_len);
    if high.iter().any(|&b| b != 0) {
        return Err(bad("verification error"));
    }
    let h_len = hash.output_len();
    if em_len < h_len + 2 || em[em_len - 1] != 0xbc {
        return Err(bad("verification error"));
    }
    let (masked_db, rest) = em.split_at(em_len - h_len - 1);
    let h = &rest[..h_len];
    let unused_bits = 8 * em_len - em_bits;
    let top_mask = 0xffu8 >> unused_bits;
    if masked_db[0] & !top_mask != 0 {
        return Err(bad("verification error"));
    }
    let mut db = masked_db.to_vec();
    mgf1_xor(hash, h, &mut db);
    db[0] &= top_mask;
    // DB = PS (zeros) || 0x01 || salt
    let one = db
        .iter()
        .position(|&b| b != 0)
        .ok_or_else(|| bad("verification error"))?;
    if db[one] != 0x01 {
        return Err(bad("verification error"));
    }
    let salt_bytes = &db[one + 1..];
    let expected = match salt {
        PssSalt::AutoDetect => None,
        PssSalt::HashLength => Some(h_len),
        PssSalt::Exact(n) => Some(n),
    };
    if let Some(n) = expected {
        if salt_bytes.len() != n {
            return Err(bad("salt length differs from the required length"));
        }
    }
    let mut m_prime = Vec::with_capacity(8 + h_len + salt_bytes.len());
    m_prime.extend_from_slice(&[0u8; 8]);
    m_prime.extend_from_slice(m_hash);
    m_prime.extend_from_slice(salt_bytes);
    if hash.digest(&m_prime) != h {
        return Err(bad("verification error"));
    }
    Ok(())
}

/// MGF1 mask (RFC 8017 B.2.1) XOR-ed into `out`.
fn mgf1_xor(hash: HashAlgorithm, seed: &[u8], out: &mut [u8]) {
    let mut counter: u32 = 0;
    let mut offset = 0;
    while offset < out.len() {
        let mut input = Vec::with_capacity(seed.len() + 4);
        input.extend_from_slice(seed);
        input.extend_from_slice(&counter.to_be_bytes());
        let block = hash.digest(&input);
        for (o, b) in out[offset..].iter_mut().zip(block.iter()) {
            *o ^= b;
        }
        offset += block.len();
        counter = counter.wrapping_add(1);
    }
}
