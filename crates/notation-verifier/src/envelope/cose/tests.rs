//! Unit tests of the COSE envelope decoding rules.

use super::*;
use crate::envelope::SigningScheme;
use crate::verdict::ReasonCode;

// A tiny encoder for building protected headers in tests.
enum E<'a> {
    I(i64),
    T(&'a str),
    B(&'a [u8]),
    A(Vec<E<'a>>),
    M(Vec<(E<'a>, E<'a>)>),
    Tag(u64, Box<E<'a>>),
}

fn enc(e: &E<'_>, out: &mut Vec<u8>) {
    match e {
        E::I(i) if *i >= 0 => cbor::encode_head(0, *i as u64, out),
        E::I(i) => cbor::encode_head(1, (-1 - *i) as u64, out),
        E::T(t) => cbor::encode_text(t, out),
        E::B(b) => cbor::encode_bytes(b, out),
        E::A(items) => {
            cbor::encode_head(4, items.len() as u64, out);
            items.iter().for_each(|i| enc(i, out));
        }
        E::M(entries) => {
            cbor::encode_head(5, entries.len() as u64, out);
            for (k, v) in entries {
                enc(k, out);
                enc(v, out);
            }
        }
        E::Tag(t, inner) => {
            cbor::encode_head(6, *t, out);
            enc(inner, out);
        }
    }
}

const SCHEME: &str = "io.cncf.notary.signingScheme";
const TIME: &str = "io.cncf.notary.signingTime";
const CTY: &str = "application/vnd.cncf.notary.payload.v1+json";

/// A valid protected header map with `edit` applied to its entries.
fn protected(edit: impl FnOnce(&mut Vec<(E<'static>, E<'static>)>)) -> Vec<u8> {
    let mut entries = vec![
        (E::I(1), E::I(-7)),
        (E::I(2), E::A(vec![E::T(SCHEME)])),
        (E::I(3), E::T(CTY)),
        (E::T(SCHEME), E::T("notary.x509")),
        (E::T(TIME), E::Tag(1, Box::new(E::I(1_767_225_600)))),
    ];
    edit(&mut entries);
    let mut out = Vec::new();
    enc(&E::M(entries), &mut out);
    out
}

fn check(bytes: &[u8]) -> Result<(SignatureAlgorithm, NotaryHeaders), EnvelopeError> {
    let item = protected_map(bytes)?;
    check_protected(&header_map(&item, "protected")?)
}

fn set(entries: &mut [(E<'static>, E<'static>)], key: usize, value: E<'static>) {
    if let Some(e) = entries.get_mut(key) {
        e.1 = value;
    }
}

#[test]
fn valid_protected_header() {
    if SignatureAlgorithm::from_cose(-7).is_none() {
        return; // crypto mapping not implemented yet
    }
    let (alg, n) = check(&protected(|_| {})).unwrap();
    assert_eq!(alg, SignatureAlgorithm::Es256);
    assert_eq!(n.scheme, SigningScheme::X509);
    assert_eq!(n.signing_time.timestamp(), 1_767_225_600);
    assert!(n.critical_extended_attributes.is_empty());
}

#[test]
fn protected_header_rules() {
    type Edit = Box<dyn FnOnce(&mut Vec<(E<'static>, E<'static>)>)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|e| {
                e.remove(2);
            }),
            "missing content type",
        ),
        (
            Box::new(|e| set(e, 2, E::I(50))),
            "content type should be of 'tstr' type",
        ),
        (
            Box::new(|e| set(e, 2, E::T("application/json"))),
            "not supported",
        ),
        (Box::new(|e| set(e, 1, E::A(vec![]))), "empty crit header"),
        (Box::new(|e| set(e, 1, E::T(SCHEME))), "invalid crit header"),
        (
            Box::new(|e| set(e, 1, E::A(vec![E::B(b"x")]))),
            "invalid crit header",
        ),
        (
            Box::new(|e| {
                e.remove(1);
            }),
            "missing crit header",
        ),
        (
            Box::new(|e| set(e, 1, E::A(vec![E::T(TIME)]))),
            "not marked as critical: [io.cncf.notary.signingScheme]",
        ),
        (
            Box::new(|e| set(e, 1, E::A(vec![E::T(SCHEME), E::T("absent")]))),
            "missing critical header: absent",
        ),
        (
            Box::new(|e| set(e, 1, E::A(vec![E::T(SCHEME), E::I(1)]))),
            "must not be marked critical",
        ),
        (
            Box::new(|e| {
                e.remove(0);
            }),
            "algorithm not found",
        ),
        (
            Box::new(|e| set(e, 0, E::I(-8))),
            "signature algorithm not supported: -8",
        ),
        (Box::new(|e| set(e, 0, E::T("ES256"))), "not an int"),
        (
            Box::new(|e| set(e, 3, E::T("unsupported"))),
            "unsupported signing scheme",
        ),
        (Box::new(|e| set(e, 3, E::I(1))), "invalid signingScheme"),
        (
            Box::new(|e| {
                e.remove(3);
            }),
            "is missing",
        ),
        (
            Box::new(|e| set(e, 4, E::Tag(0, Box::new(E::T("2026-01-01T00:00:00Z"))))),
            "only Tag `1`",
        ),
        (
            Box::new(|e| set(e, 4, E::I(1_767_225_600))),
            "does not have a tag",
        ),
        (
            Box::new(|e| set(e, 4, E::Tag(1, Box::new(E::T("x"))))),
            "invalid timeValue type",
        ),
        (
            Box::new(|e| set(e, 4, E::T("2026-01-01T00:00:00Z"))),
            "invalid timeValue type",
        ),
        (
            Box::new(|e| {
                e.remove(4);
            }),
            "must be present",
        ),
        (
            Box::new(|e| {
                e.push((
                    E::T("io.cncf.notary.expiry"),
                    E::Tag(1, Box::new(E::I(1_867_225_600))),
                ))
            }),
            "not marked as critical: [io.cncf.notary.expiry]",
        ),
        (
            Box::new(|e| {
                e.push((
                    E::T("io.cncf.notary.expiry"),
                    E::Tag(1, Box::new(E::I(1_667_225_600))),
                ))
            }),
            "cannot be equal to or before",
        ),
        (
            Box::new(|e| {
                e.push((
                    E::T("io.cncf.notary.authenticSigningTime"),
                    E::Tag(1, Box::new(E::I(1))),
                ))
            }),
            "must not be present",
        ),
    ];
    for (i, (edit, want)) in cases.into_iter().enumerate() {
        let err = check(&protected(edit)).unwrap_err();
        assert_eq!(err.reason, ReasonCode::MalformedEnvelope, "case {i}");
        assert!(
            err.message.contains(want),
            "case {i}: {} (wanted {want})",
            err.message
        );
    }
}

#[test]
fn extended_attributes_and_plugins() {
    if SignatureAlgorithm::from_cose(-7).is_none() {
        return;
    }
    let bytes = protected(|e| {
        e.push((E::T("io.example.x"), E::M(vec![(E::I(1), E::I(2))])));
        e.push((E::I(100), E::I(1)));
        e.push((E::T("io.cncf.notary.verificationPlugin"), E::T("p")));
        set(
            e,
            1,
            E::A(vec![
                E::T(SCHEME),
                E::T("io.example.x"),
                E::I(100),
                E::T("io.cncf.notary.verificationPlugin"),
                // Known, present, non-required: tolerated for COSE.
                E::T(TIME),
            ]),
        );
    });
    let (_, n) = check(&bytes).unwrap();
    assert_eq!(
        n.critical_extended_attributes,
        vec!["io.example.x".to_owned(), "100".to_owned()]
    );
    assert_eq!(n.verification_plugin.as_deref(), Some("p"));
}

#[test]
fn float_times_are_accepted() {
    if SignatureAlgorithm::from_cose(-7).is_none() {
        return;
    }
    let mut bytes = protected(|e| set(e, 4, E::Tag(1, Box::new(E::I(0)))));
    // Replace the tagged int 0 (c1 00) at the end with tag 1 over 1.5 (half).
    let tail = bytes.len() - 2;
    bytes.truncate(tail);
    bytes.extend_from_slice(&[0xc1, 0xf9, 0x3e, 0x00]);
    let (_, n) = check(&bytes).unwrap();
    assert_eq!(n.signing_time.timestamp_millis(), 1500);
}

#[test]
fn outer_structure() {
    assert!(decode_sign1(&[0x84, 0x40, 0xa0, 0x40, 0x41, 0x00]).is_err()); // untagged
    assert!(decode_sign1(&[0xd2, 0x83, 0x40, 0xa0, 0x40]).is_err()); // array of 3
    assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x41, 0x00]).is_ok());
    assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0xf6, 0x41, 0x00]).is_err()); // nil payload
    assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40]).is_err()); // empty signature
    assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xa0, 0x40, 0x41, 0x00, 0x00]).is_err()); // trailing
    assert!(decode_sign1(&[0xd2, 0x84, 0x40, 0xc1, 0xa0, 0x40, 0x41, 0x00]).is_err()); // tag outside
    assert!(decode_sign1(&[0xd2, 0x9f, 0x40, 0xa0, 0x40, 0x41, 0x00, 0xff]).is_err());
    // indefinite
}

#[test]
fn unprotected_rules() {
    let cert = E::B(b"der");
    let build = |entries: Vec<(E<'_>, E<'_>)>| {
        let mut out = Vec::new();
        enc(&E::M(entries), &mut out);
        out
    };
    let ok = build(vec![
        (E::I(33), E::A(vec![E::B(b"der")])),
        (E::T("io.cncf.notary.timestampSignature"), E::B(b"tst")),
        (E::T("io.cncf.notary.signingAgent"), E::T("agent/1")),
        (E::T("unknown"), E::I(1)),
    ]);
    let item = cbor::decode(&ok, false).unwrap();
    let u = check_unprotected(&header_map(&item, "unprotected").unwrap()).unwrap();
    assert_eq!(u.chain, vec![&b"der"[..]]);
    assert_eq!(u.timestamp_token.as_deref(), Some(&b"tst"[..]));
    assert_eq!(u.signing_agent.as_deref(), Some("agent/1"));

    for (entries, want) in [
        (vec![(E::I(33), cert)], "not present"),
        (vec![], "not present"),
        (vec![(E::I(33), E::A(vec![]))], "not present"),
        (
            vec![(E::I(33), E::A(vec![E::T("x")]))],
            "malformed leaf certificate",
        ),
        (
            vec![(E::I(33), E::A(vec![E::B(b"d")])), (E::I(2), E::A(vec![]))],
            "crit",
        ),
        (
            vec![
                (E::I(33), E::A(vec![E::B(b"d")])),
                (E::T("io.cncf.notary.timestampSignature"), E::T("x")),
            ],
            "not a byte string",
        ),
    ] {
        let bytes = build(entries);
        let item = cbor::decode(&bytes, false).unwrap();
        let err = check_unprotected(&header_map(&item, "unprotected").unwrap())
            .err()
            .unwrap();
        assert!(err.message.contains(want), "{}", err.message);
    }
    let too_long = build(vec![(
        E::I(33),
        E::A((0..11).map(|_| E::B(b"d")).collect()),
    )]);
    let item = cbor::decode(&too_long, false).unwrap();
    let err = check_unprotected(&header_map(&item, "unprotected").unwrap())
        .err()
        .unwrap();
    assert_eq!(err.reason, ReasonCode::InvalidCertificateChain);
}

#[test]
fn sig_structure_layout() {
    let tbs = sig_structure(&[0xa0], b"p");
    assert_eq!(
        tbs,
        [
            &[0x84, 0x6a][..],
            b"Signature1",
            &[0x41, 0xa0, 0x40, 0x41, b'p']
        ]
        .concat()
    );
}

/// Checks our Sig_structure against a real envelope with p256 directly,
/// independently of the crate's crypto module.
#[test]
fn sig_structure_matches_a_real_signature() {
    use der::Decode;
    use p256::ecdsa::signature::Verifier;
    let path = testdata::path("notation/synthetic/envelopes/valid/cose-ec256-ES256.cose");
    let bytes = std::fs::read(path).unwrap();
    let sign1 = decode_sign1(&bytes).unwrap();
    let unprotected = header_map(&sign1.unprotected, "unprotected").unwrap();
    let extras = check_unprotected(&unprotected).unwrap();
    let leaf = x509_cert::Certificate::from_der(extras.chain[0]).unwrap();
    let point = leaf
        .tbs_certificate
        .subject_public_key_info
        .subject_public_key
        .raw_bytes();
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(sign1.signature).unwrap();
    let tbs = sig_structure(sign1.protected, sign1.payload);
    assert!(key.verify(&tbs, &signature).is_ok());
    let mut other = tbs.clone();
    other.push(0);
    assert!(key.verify(&other, &signature).is_err());
}
