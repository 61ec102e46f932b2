//! COSE envelopes rebuilt here with one rule broken (§k item 10).

use super::*;

// COSE: a test-side CBOR writer and walker, to rebuild envelopes with one
// rule broken (§k item 10).

pub(crate) enum C {
    I(i64),
    T(&'static str),
    B(Vec<u8>),
    A(Vec<C>),
    M(Vec<(C, C)>),
    Tag(u64, Box<C>),
    Raw(Vec<u8>),
}

pub(crate) fn head(major: u8, n: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend_from_slice(&[m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        }
    }
}

pub(crate) fn enc(c: &C, out: &mut Vec<u8>) {
    match c {
        C::I(i) if *i >= 0 => head(0, *i as u64, out),
        C::I(i) => head(1, (-1 - *i) as u64, out),
        C::T(s) => {
            head(3, s.len() as u64, out);
            out.extend_from_slice(s.as_bytes());
        }
        C::B(b) => {
            head(2, b.len() as u64, out);
            out.extend_from_slice(b);
        }
        C::A(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|i| enc(i, out));
        }
        C::M(entries) => {
            head(5, entries.len() as u64, out);
            for (k, v) in entries {
                enc(k, out);
                enc(v, out);
            }
        }
        C::Tag(tag, inner) => {
            head(6, *tag, out);
            enc(inner, out);
        }
        C::Raw(bytes) => out.extend_from_slice(bytes),
    }
}

pub(crate) fn cbor_text(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    head(3, text.len() as u64, &mut out);
    out.extend_from_slice(text.as_bytes());
    out
}

pub(crate) fn cbor(c: &C) -> Vec<u8> {
    let mut out = Vec::new();
    enc(c, &mut out);
    out
}

/// Reads an item head at `pos`: (major, argument, position after the head).
pub(crate) fn read_head(bytes: &[u8], pos: usize) -> (u8, u64, usize) {
    let initial = bytes[pos];
    let info = initial & 0x1f;
    let (arg, len) = match info {
        0..=23 => (u64::from(info), 0),
        24 => (u64::from(bytes[pos + 1]), 1),
        25 => (
            u64::from(u16::from_be_bytes([bytes[pos + 1], bytes[pos + 2]])),
            2,
        ),
        26 => (
            u64::from(u32::from_be_bytes(
                bytes[pos + 1..pos + 5].try_into().unwrap(),
            )),
            4,
        ),
        _ => panic!("unexpected head"),
    };
    (initial >> 5, arg, pos + 1 + len)
}

/// Position after the item at `pos` (definite lengths only).
pub(crate) fn skip(bytes: &[u8], pos: usize) -> usize {
    let (major, arg, next) = read_head(bytes, pos);
    match major {
        0 | 1 | 7 => next,
        2 | 3 => next + arg as usize,
        4 => (0..arg).fold(next, |p, _| skip(bytes, p)),
        5 => (0..arg * 2).fold(next, |p, _| skip(bytes, p)),
        6 => skip(bytes, next),
        _ => unreachable!(),
    }
}

/// Byte ranges of a COSE_Sign1: protected content, unprotected map (whole
/// item), payload content, signature content, and each x5chain DER.
pub(crate) struct Spans {
    pub(crate) protected: std::ops::Range<usize>,
    pub(crate) unprotected: std::ops::Range<usize>,
    pub(crate) payload: std::ops::Range<usize>,
    pub(crate) signature: std::ops::Range<usize>,
    pub(crate) certs: Vec<std::ops::Range<usize>>,
}

pub(crate) fn bstr_content(bytes: &[u8], pos: usize) -> (std::ops::Range<usize>, usize) {
    let (major, len, start) = read_head(bytes, pos);
    assert_eq!(major, 2);
    let end = start + len as usize;
    (start..end, end)
}

pub(crate) fn spans(bytes: &[u8]) -> Spans {
    assert_eq!(&bytes[..2], &[0xd2, 0x84]);
    let (protected, pos) = bstr_content(bytes, 2);
    let unprotected_start = pos;
    let (major, entries, mut p) = read_head(bytes, pos);
    assert_eq!(major, 5);
    let mut certs = Vec::new();
    for _ in 0..entries {
        let key_end = skip(bytes, p);
        let is_x5chain = bytes[p..key_end] == [0x18, 0x21];
        let value_end = skip(bytes, key_end);
        if is_x5chain {
            let (major, count, mut q) = read_head(bytes, key_end);
            assert_eq!(major, 4);
            for _ in 0..count {
                let (range, next) = bstr_content(bytes, q);
                certs.push(range);
                q = next;
            }
        }
        p = value_end;
    }
    let unprotected = unprotected_start..p;
    let (payload, pos) = bstr_content(bytes, p);
    let (signature, end) = bstr_content(bytes, pos);
    assert_eq!(end, bytes.len());
    Spans {
        protected,
        unprotected,
        payload,
        signature,
        certs,
    }
}

pub(crate) fn sign1(
    protected: &[u8],
    unprotected: &[u8],
    payload: &[u8],
    signature: &[u8],
) -> Vec<u8> {
    cbor(&C::Tag(
        18,
        Box::new(C::A(vec![
            C::B(protected.to_vec()),
            C::Raw(unprotected.to_vec()),
            C::B(payload.to_vec()),
            C::B(signature.to_vec()),
        ])),
    ))
}

pub(crate) const COSE_VALID: &str = "synthetic/envelopes/valid/cose-ec256-ES256.cose";
pub(crate) const SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const CTY: &str = "application/vnd.cncf.notary.payload.v1+json";

/// The protected header of COSE_VALID as entries, for editing.
pub(crate) fn cose_protected_entries() -> Vec<(C, C)> {
    vec![
        (C::I(1), C::I(-7)),
        (C::I(2), C::A(vec![C::T(SCHEME)])),
        (C::I(3), C::T(CTY)),
        (C::T(SIGNING_TIME), C::Tag(1, Box::new(C::I(1_767_225_600)))),
        (C::T(SCHEME), C::T("notary.x509")),
    ]
}

/// COSE_VALID with its protected header rebuilt from `edit(entries)`.
pub(crate) fn cose_with_protected(edit: impl FnOnce(&mut Vec<(C, C)>)) -> Vec<u8> {
    let original = read(COSE_VALID);
    let s = spans(&original);
    let mut entries = cose_protected_entries();
    edit(&mut entries);
    sign1(
        &cbor(&C::M(entries)),
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    )
}

pub(crate) fn cose_with_unprotected(unprotected: &C) -> Vec<u8> {
    let original = read(COSE_VALID);
    let s = spans(&original);
    sign1(
        &original[s.protected.clone()],
        &cbor(unprotected),
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    )
}

pub(crate) fn cose_entry(entries: &mut [(C, C)], index: usize, value: C) {
    entries[index].1 = value;
}

#[test]
fn cose_builder_round_trips() {
    let original = read(COSE_VALID);
    let s = spans(&original);
    assert_eq!(s.certs.len(), 3);
    let rebuilt = sign1(
        &original[s.protected.clone()],
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    assert_eq!(rebuilt, original);
    assert!(parse(&rebuilt).is_ok());
    // Our entries describe the same header the file carries.
    let decoded_same = cose_with_protected(|_| {});
    let e = parse(&decoded_same).err();
    // Either byte-identical (passes) or a re-encoding (signature fails): never a header rule.
    if let Some(e) = e {
        assert_eq!(e.reason, ReasonCode::InvalidSignature, "{}", e.message);
    }
}

#[test]
fn cose_signs_the_received_protected_bytes() {
    // Same header, non-minimal encoding of the alg label (0x18 0x01 for 1):
    // a verifier that re-encoded the map would accept; the signature covers
    // the bytes as received, so it must fail.
    let original = read(COSE_VALID);
    let s = spans(&original);
    let protected = &original[s.protected.clone()];
    let at = protected
        .windows(2)
        .position(|w| w == [0x01, 0x26])
        .expect("alg -7 entry");
    let mut respelled = protected[..at].to_vec();
    respelled.extend_from_slice(&[0x18, 0x01, 0x26]);
    respelled.extend_from_slice(&protected[at + 2..]);
    let envelope = sign1(
        &respelled,
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    fails_with(
        &envelope,
        ReasonCode::InvalidSignature,
        "re-encoded protected header",
    );
}

#[test]
fn k10_cose_header_rules() {
    type Edit = Box<dyn FnOnce(&mut Vec<(C, C)>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "missing cty",
            Box::new(|e| {
                e.remove(2);
            }),
            "missing content type",
        ),
        ("cty uint", Box::new(|e| cose_entry(e, 2, C::I(50))), "tstr"),
        (
            "cty json",
            Box::new(|e| cose_entry(e, 2, C::T("application/json"))),
            "not supported",
        ),
        (
            "empty crit",
            Box::new(|e| cose_entry(e, 1, C::A(vec![]))),
            "empty crit",
        ),
        (
            "crit not array",
            Box::new(|e| cose_entry(e, 1, C::T(SCHEME))),
            "invalid crit",
        ),
        (
            "crit bstr entry",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::B(vec![1])]))),
            "invalid crit",
        ),
        (
            "crit lacks scheme",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SIGNING_TIME)]))),
            "[io.cncf.notary.signingScheme]",
        ),
        (
            "crit absent label",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SCHEME), C::T("nope")]))),
            "missing critical header",
        ),
        (
            "crit lists alg",
            Box::new(|e| cose_entry(e, 1, C::A(vec![C::T(SCHEME), C::I(1)]))),
            "must not be marked critical",
        ),
        (
            "alg missing",
            Box::new(|e| {
                e.remove(0);
            }),
            "algorithm not found",
        ),
        (
            "alg EdDSA",
            Box::new(|e| cose_entry(e, 0, C::I(-8))),
            "not supported: -8",
        ),
        (
            "alg text",
            Box::new(|e| cose_entry(e, 0, C::T("ES256"))),
            "not an int",
        ),
        (
            "scheme unsupported",
            Box::new(|e| cose_entry(e, 4, C::T("unsupported"))),
            "unsupported",
        ),
        (
            "scheme int",
            Box::new(|e| cose_entry(e, 4, C::I(1))),
            "invalid signingScheme",
        ),
        (
            "tag-0 time",
            Box::new(|e| cose_entry(e, 3, C::Tag(0, Box::new(C::T("2026-01-01T00:00:00Z"))))),
            "only Tag `1`",
        ),
        (
            "untagged time",
            Box::new(|e| cose_entry(e, 3, C::I(1_767_225_600))),
            "does not have a tag",
        ),
        (
            "text time",
            Box::new(|e| cose_entry(e, 3, C::T("2026-01-01T00:00:00Z"))),
            "invalid timeValue type",
        ),
        (
            "tag-1 text time",
            Box::new(|e| cose_entry(e, 3, C::Tag(1, Box::new(C::T("x"))))),
            "invalid timeValue type",
        ),
        (
            "missing time",
            Box::new(|e| {
                e.remove(3);
            }),
            "must be present",
        ),
        (
            "expiry not critical",
            Box::new(|e| {
                e.push((
                    C::T("io.cncf.notary.expiry"),
                    C::Tag(1, Box::new(C::I(1_867_225_600))),
                ))
            }),
            "[io.cncf.notary.expiry]",
        ),
        (
            "x509 with authenticSigningTime",
            Box::new(|e| {
                e.push((
                    C::T("io.cncf.notary.authenticSigningTime"),
                    C::Tag(1, Box::new(C::I(1_767_225_600))),
                ))
            }),
            "must not be present",
        ),
        (
            "plugin not critical",
            Box::new(|e| e.push((C::T("io.cncf.notary.verificationPlugin"), C::T("p")))),
            "not a critical",
        ),
        (
            "duplicate label",
            Box::new(|e| e.push((C::I(1), C::I(-7)))),
            "duplicate map key",
        ),
        (
            "x5chain label in both headers",
            Box::new(|e| e.push((C::I(33), C::A(vec![])))),
            "both",
        ),
    ];
    for (what, edit, want) in cases {
        let e = fails_with(
            &cose_with_protected(edit),
            ReasonCode::MalformedEnvelope,
            what,
        );
        assert!(
            e.message.contains(want),
            "{what}: {} (wanted {want})",
            e.message
        );
    }
}

#[test]
fn k10_cose_chain_and_structure_rules() {
    let original = read(COSE_VALID);
    let s = spans(&original);
    let certs: Vec<Vec<u8>> = s
        .certs
        .iter()
        .map(|r| original[r.clone()].to_vec())
        .collect();
    let agent = (C::T("io.cncf.notary.signingAgent"), C::T("x"));

    // x5chain missing, a single bstr, empty, leaf not a bstr.
    for (what, unprotected, want) in [
        ("x5chain missing", C::M(vec![agent]), "not present"),
        (
            "x5chain single bstr",
            C::M(vec![(C::I(33), C::B(certs[0].clone()))]),
            "not present",
        ),
        (
            "x5chain empty",
            C::M(vec![(C::I(33), C::A(vec![]))]),
            "not present",
        ),
        (
            "leaf not bstr",
            C::M(vec![(C::I(33), C::A(vec![C::T("leaf")]))]),
            "malformed leaf certificate",
        ),
        (
            "crit unprotected",
            C::M(vec![
                (C::I(33), C::A(vec![C::B(certs[0].clone())])),
                (C::I(2), C::A(vec![])),
            ]),
            "crit",
        ),
        ("unprotected not a map", C::A(vec![]), "not a map"),
        (
            "tag in unprotected",
            C::M(vec![(C::I(33), C::Tag(1, Box::new(C::A(vec![]))))]),
            "tag",
        ),
    ] {
        let e = fails_with(
            &cose_with_unprotected(&unprotected),
            ReasonCode::MalformedEnvelope,
            what,
        );
        assert!(e.message.contains(want), "{what}: {}", e.message);
    }

    // A garbage leaf is a chain failure.
    let garbage = C::M(vec![(C::I(33), C::A(vec![C::B(b"garbage".to_vec())]))]);
    fails_with(
        &cose_with_unprotected(&garbage),
        ReasonCode::InvalidCertificateChain,
        "garbage leaf",
    );

    // Leaf with an RSA-1024 key: refused as a chain (key size) failure.
    let small = pem_to_der(&read("notation-core-go/x509/inline/rsaKeyTooSmallLeaf.pem"));
    let original_protected = &original[s.protected.clone()];
    let mut entries = cose_protected_entries();
    cose_entry(&mut entries, 0, C::I(-37));
    let envelope = sign1(
        &cbor(&C::M(entries)),
        &cbor(&C::M(vec![(C::I(33), C::A(vec![C::B(small)]))])),
        &original[s.payload.clone()],
        &original[s.signature.clone()],
    );
    let e = fails_with(
        &envelope,
        ReasonCode::InvalidCertificateChain,
        "RSA-1024 leaf",
    );
    assert!(e.message.contains("1024"), "{}", e.message);

    // Outer structure: untagged, wrong arity, nil payload, empty signature,
    // indefinite-length array, trailing bytes.
    let untagged = original[1..].to_vec();
    fails_with(&untagged, ReasonCode::MalformedEnvelope, "untagged");
    let mut three = vec![0xd2, 0x83];
    three.extend_from_slice(&original[2..s.payload.start]);
    fails_with(&three, ReasonCode::MalformedEnvelope, "array of 3");
    let mut nil_payload = cbor(&C::Tag(18, Box::new(C::A(vec![]))));
    nil_payload.truncate(1);
    nil_payload.push(0x84);
    nil_payload.extend_from_slice(&cbor(&C::B(original_protected.to_vec())));
    nil_payload.extend_from_slice(&original[s.unprotected.clone()]);
    nil_payload.push(0xf6);
    nil_payload.extend_from_slice(&cbor(&C::B(original[s.signature.clone()].to_vec())));
    let e = fails_with(&nil_payload, ReasonCode::MalformedEnvelope, "nil payload");
    assert!(e.message.contains("detached"), "{}", e.message);
    let empty_sig = sign1(
        original_protected,
        &original[s.unprotected.clone()],
        &original[s.payload.clone()],
        &[],
    );
    fails_with(&empty_sig, ReasonCode::MalformedEnvelope, "empty signature");
    let mut indefinite = vec![0xd2, 0x9f];
    indefinite.extend_from_slice(&original[2..]);
    indefinite.push(0xff);
    fails_with(
        &indefinite,
        ReasonCode::MalformedEnvelope,
        "indefinite array",
    );
    let mut trailing = original.clone();
    trailing.push(0x00);
    fails_with(&trailing, ReasonCode::MalformedEnvelope, "trailing byte");
    let mut tag_1 = original.clone();
    tag_1[0] = 0xc1;
    fails_with(&tag_1, ReasonCode::MalformedEnvelope, "tag 1 instead of 18");
}
