//! Unit tests of the key types and the signature primitives.

use der::asn1::ObjectIdentifier;
use der::Decode;
use spki::SubjectPublicKeyInfoRef;
use x509_cert::spki::AlgorithmIdentifierOwned;

use super::algorithm::X509Scheme;
use super::rsa_padding::{digest_info, verify_pkcs1v15, verify_pss};
use super::*;

#[test]
fn algorithm_names_round_trip() {
    for alg in [
        SignatureAlgorithm::Ps256,
        SignatureAlgorithm::Ps384,
        SignatureAlgorithm::Ps512,
        SignatureAlgorithm::Es256,
        SignatureAlgorithm::Es384,
        SignatureAlgorithm::Es512,
    ] {
        assert_eq!(SignatureAlgorithm::from_jws(alg.jws_name()), Some(alg));
        assert_eq!(SignatureAlgorithm::from_cose(alg.cose_id()), Some(alg));
    }
    assert_eq!(SignatureAlgorithm::from_jws("ES222"), None);
    assert_eq!(SignatureAlgorithm::from_jws("RS256"), None);
    assert_eq!(SignatureAlgorithm::from_cose(-8), None);
}

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa_public::tests::{test_keys, TestRng};
use spki::EncodePublicKey;

fn our_key(key: &rsa::RsaPrivateKey) -> (PublicKey, RsaKey) {
    let der = key.to_public_key().to_public_key_der().expect("spki der");
    let spki = SubjectPublicKeyInfoRef::from_der(der.as_bytes()).expect("spki");
    let public = PublicKey::from_spki(spki).expect("our key");
    match &public {
        PublicKey::Rsa(k) => {
            assert_eq!(public.bits(), key.size() * 8);
            let rsa = k.clone();
            (public, rsa)
        }
        other => panic!("{other:?}"),
    }
}

fn rsa_hash(i: usize) -> HashAlgorithm {
    [
        HashAlgorithm::Sha256,
        HashAlgorithm::Sha384,
        HashAlgorithm::Sha512,
    ][i % 3]
}

/// Every single-byte change of a valid signature is refused.
fn every_flip_fails(verify: impl Fn(&[u8]) -> Result<(), CryptoError>, signature: &[u8]) {
    verify(signature).expect("the unmodified signature verifies");
    let mut rng = TestRng::new(signature.len() as u64);
    let mut flipped = signature.to_vec();
    for i in 0..flipped.len() {
        let delta = 1 + rng.below(255) as u8;
        flipped[i] ^= delta;
        assert!(verify(&flipped).is_err(), "byte {i} ^ {delta:#x} accepted");
        flipped[i] ^= delta;
    }
}

#[test]
fn pss_signatures_made_by_rsa_verify() {
    let mut rng = TestRng::new(2);
    for (i, private) in test_keys().iter().enumerate() {
        let (_, key) = our_key(private);
        let hash = rsa_hash(i);
        let h_len = hash.output_len();
        let em_len = (private.n().bits() - 1).div_ceil(8);
        let max_salt = em_len - h_len - 2;
        for salt_len in [0, h_len, rng.below(max_salt + 1), max_salt] {
            let digest = hash.digest(format!("message {i} {salt_len}").as_bytes());
            let padding = match hash {
                HashAlgorithm::Sha256 => rsa::Pss::new_with_salt::<sha2::Sha256>(salt_len),
                HashAlgorithm::Sha384 => rsa::Pss::new_with_salt::<sha2::Sha384>(salt_len),
                HashAlgorithm::Sha512 => rsa::Pss::new_with_salt::<sha2::Sha512>(salt_len),
            };
            let signature = private
                .sign_with_rng(&mut rng, padding, &digest)
                .expect("rsa pss signature");
            verify_pss(&key, hash, &digest, &signature, PssSalt::AutoDetect)
                .expect("auto-detected salt");
            verify_pss(&key, hash, &digest, &signature, PssSalt::Exact(salt_len))
                .expect("exact salt");
            if salt_len != h_len {
                assert!(verify_pss(&key, hash, &digest, &signature, PssSalt::HashLength).is_err());
            }
            let other = hash.digest(b"another message");
            assert!(verify_pss(&key, hash, &other, &signature, PssSalt::AutoDetect).is_err());
            if salt_len == h_len {
                every_flip_fails(
                    |s| verify_pss(&key, hash, &digest, s, PssSalt::AutoDetect),
                    &signature,
                );
            }
        }
    }
}

#[test]
fn pkcs1v15_signatures_made_by_rsa_verify() {
    for (i, private) in test_keys().iter().enumerate() {
        let (_, key) = our_key(private);
        for h in 0..3 {
            let hash = rsa_hash(i + h);
            let digest = hash.digest(format!("tbs {i} {h}").as_bytes());
            let padding = match hash {
                HashAlgorithm::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
                HashAlgorithm::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
                HashAlgorithm::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
            };
            let signature = private.sign(padding, &digest).expect("rsa pkcs1 signature");
            verify_pkcs1v15(&key, hash, &digest, &signature).expect("verifies");
            // The same signature under another hash's DigestInfo fails.
            let other = rsa_hash(i + h + 1);
            let mut wrong = digest.clone();
            wrong.resize(other.output_len(), 0);
            assert!(verify_pkcs1v15(&key, other, &wrong, &signature).is_err());
            if h == 0 {
                every_flip_fails(|s| verify_pkcs1v15(&key, hash, &digest, s), &signature);
            }
        }
    }
}

#[test]
fn pkcs1v15_encoding_is_compared_in_full() {
    let private = &test_keys()[0];
    let (_, key) = our_key(private);
    let digest = HashAlgorithm::Sha256.digest(b"x");
    let k = key.size();
    // Raw "signatures" of hand-made encodings: m^d mod n.
    let sign_raw = |em: &[u8]| {
        let m = rsa::BigUint::from_bytes_be(em);
        let s = m.modpow(private.d(), private.n()).to_bytes_be();
        let mut out = vec![0u8; k - s.len()];
        out.extend_from_slice(&s);
        out
    };
    let encode = |info: &[u8], ps: u8| {
        let mut em = vec![0x00, 0x01];
        em.resize(k - info.len() - 1, ps);
        em.push(0);
        em.extend_from_slice(info);
        em
    };
    let info = digest_info(HashAlgorithm::Sha256, &digest);
    assert_eq!(
        info[..19],
        hex::decode("3031300d060960864801650304020105000420").expect("hex")[..]
    );
    let good = encode(&info, 0xff);
    verify_pkcs1v15(&key, HashAlgorithm::Sha256, &digest, &sign_raw(&good)).expect("good");
    let mut variants = Vec::new();
    variants.push(encode(&info, 0xfe));
    let mut no_null = info.clone();
    no_null.drain(13..15);
    no_null[1] -= 2;
    no_null[3] -= 2;
    variants.push(encode(&no_null, 0xff));
    for (pos, value) in [(0usize, 0x01u8), (1, 0x02), (k - info.len() - 1, 0xff)] {
        let mut v = good.clone();
        v[pos] = value;
        variants.push(v);
    }
    for v in variants {
        assert!(verify_pkcs1v15(&key, HashAlgorithm::Sha256, &digest, &sign_raw(&v)).is_err());
    }
}

#[test]
fn rsa_public_operation_is_public() {
    let private = &test_keys()[1];
    let (_, key) = our_key(private);
    let s = vec![7u8; key.size()];
    let expected =
        rsa::hazmat::rsa_encrypt(&private.to_public_key(), &rsa::BigUint::from_bytes_be(&s))
            .expect("rsa")
            .to_bytes_be();
    let got = key.public_operation(&s).expect("ours");
    assert_eq!(got[key.size() - expected.len()..], expected[..]);
}

#[test]
fn sha1_certificate_signatures_are_refused() {
    let alg = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.5"),
        parameters: None,
    };
    assert!(matches!(
        X509Scheme::from_algorithm(&alg),
        Err(CryptoError::UnsupportedAlgorithm(_))
    ));
}
