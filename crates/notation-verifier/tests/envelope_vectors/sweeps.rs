//! Sweeps: every signed byte matters; truncation, garbage and hostile nesting
//! never panic.

use super::*;

// Sweeps.

// The byte sweeps flip one bit (xor 0x01) of every byte of the signed parts
// and of the certificate DER. Single-certificate envelopes keep them fast in
// debug builds (a couple of RSA-2048 verifications per case); the
// self-signed leaf's own signature covers its certificate bytes.

/// A short summary of edits that unexpectedly kept integrity.
fn report(passed: &[String]) -> String {
    let shown: Vec<&String> = passed.iter().take(20).collect();
    format!(
        "integrity passed after {} edits, e.g. {shown:?}",
        passed.len()
    )
}

#[test]
fn jws_every_signed_byte_matters() {
    let base = jws("notation-go/oci-layout-signatures/jws_signature.sig");
    assert!(parse(&to_bytes(&base)).is_ok(), "baseline must pass");
    let mut passed = Vec::new();
    let mut tried = 0;
    for name in ["protected", "payload", "signature"] {
        let decoded = member(&base, name);
        for i in 0..decoded.len() {
            let mut edited = decoded.clone();
            edited[i] ^= 0x01;
            let mut env = base.clone();
            env.insert(name.into(), b64u(&edited).into());
            tried += 1;
            if parse(&to_bytes(&env)).is_ok() {
                passed.push(format!("{name}[{i}]"));
            }
        }
    }
    let certs = x5c(&base);
    for (c, der) in certs.iter().enumerate() {
        for i in 0..der.len() {
            let mut edited = certs.clone();
            edited[c][i] ^= 0x01;
            let mut env = base.clone();
            set_x5c(&mut env, &edited);
            tried += 1;
            if parse(&to_bytes(&env)).is_ok() {
                passed.push(format!("x5c[{c}][{i}]"));
            }
        }
    }
    assert!(tried > 1000, "{tried}");
    assert!(passed.is_empty(), "{}", report(&passed));
}

#[test]
fn cose_every_signed_byte_matters() {
    let original = read("notation-go/oci-layout-signatures/cose_signature.sig");
    assert!(parse(&original).is_ok(), "baseline must pass");
    let s = spans(&original);
    let mut ranges = vec![
        ("protected", s.protected.clone()),
        ("payload", s.payload.clone()),
        ("signature", s.signature.clone()),
    ];
    ranges.extend(s.certs.iter().map(|r| ("x5chain", r.clone())));
    let mut passed = Vec::new();
    let mut tried = 0;
    for (name, range) in ranges {
        for i in range {
            let mut edited = original.clone();
            edited[i] ^= 0x01;
            tried += 1;
            if parse(&edited).is_ok() {
                passed.push(format!("{name} byte {i}"));
            }
        }
    }
    assert!(tried > 1000, "{tried}");
    assert!(passed.is_empty(), "{}", report(&passed));
}

#[test]
fn truncations_and_garbage_never_panic() {
    for rel in [
        JWS_X509,
        COSE_VALID,
        "notation-go/timestamp/sigEnv/coseWithTimestamp.sig",
    ] {
        let bytes = read(rel);
        for n in 0..bytes.len() {
            assert!(
                parse(&bytes[..n]).is_err(),
                "{rel} truncated to {n} bytes passed"
            );
        }
    }
    // Deterministic pseudo-random garbage, raw and behind each format's prefix.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for len in [1usize, 2, 3, 8, 64, 512, 4096] {
        for _ in 0..50 {
            let noise: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            for prefix in [&b""[..], b"\xd2\x84", b"{\"payload\":\""] {
                let input = [prefix, &noise[..]].concat();
                for media in [MEDIA_TYPE_JWS, MEDIA_TYPE_COSE] {
                    assert!(parse_and_verify(media, &input).is_err());
                }
            }
        }
    }
}

#[test]
fn hostile_nesting_and_sizes_are_bounded() {
    // Deep JSON nesting inside an ignored unprotected member.
    let deep = format!(
        "{{\"payload\":\"e30\",\"protected\":\"e30\",\"header\":{{\"x\":{}{}}},\"signature\":\"AA\"}}",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert!(parse_and_verify(MEDIA_TYPE_JWS, deep.as_bytes()).is_err());
    // Deep CBOR nesting in the unprotected header and in the protected one.
    let mut deep_cbor = vec![0xd2, 0x84, 0x40];
    deep_cbor.extend(std::iter::repeat_n(0x81u8, 100_000));
    deep_cbor.push(0x00);
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &deep_cbor).is_err());
    let mut nested_protected = vec![0x81u8; 50_000];
    nested_protected.push(0x00);
    let envelope = sign1(&nested_protected, &[0xa0], b"{}", b"sig");
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &envelope).is_err());
    // Lengths that claim more than the input holds.
    let lying = [
        0xd2, 0x84, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &lying).is_err());
    let lying_map = [
        0xd2, 0x84, 0x40, 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    ];
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &lying_map).is_err());
    // Many labels, all listed in crit: lookups are indexed, so this stays
    // fast (a quadratic scan would take minutes). Integrity still fails.
    let names: Vec<String> = (0..20_000).map(|i| format!("io.example.{i}")).collect();
    let mut protected = vec![
        (C::I(1), C::I(-7)),
        (C::I(3), C::T(CTY)),
        (C::T(SIGNING_TIME), C::Tag(1, Box::new(C::I(1_767_225_600)))),
        (C::T(SCHEME), C::T("notary.x509")),
    ];
    let mut crit = vec![C::T(SCHEME)];
    for name in &names {
        protected.push((C::Raw(cbor_text(name)), C::I(0)));
        crit.push(C::Raw(cbor_text(name)));
    }
    protected.push((C::I(2), C::A(crit)));
    let unprotected: Vec<(C, C)> = (0..20_000).map(|i| (C::I(1000 + i), C::I(0))).collect();
    let started = std::time::Instant::now();
    let envelope = sign1(
        &cbor(&C::M(protected)),
        &cbor(&C::M(unprotected)),
        b"{}",
        b"sig",
    );
    assert!(parse_and_verify(MEDIA_TYPE_COSE, &envelope).is_err());
    let mut header = Map::new();
    header.insert("alg".into(), "ES256".into());
    header.insert("cty".into(), CTY.into());
    header.insert(SCHEME.into(), "notary.x509".into());
    header.insert(SIGNING_TIME.into(), "2026-01-01T00:00:00Z".into());
    for name in &names {
        header.insert(name.clone(), json!(0));
    }
    let mut crit: Vec<Value> = names.iter().map(|n| json!(n)).collect();
    crit.push(json!(SCHEME));
    header.insert("crit".into(), Value::Array(crit));
    let mut env = jws(JWS_X509);
    env.insert(
        "protected".into(),
        b64u(&serde_json::to_vec(&header).unwrap()).into(),
    );
    assert!(parse(&to_bytes(&env)).is_err());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    let huge = vec![b' '; notation_verifier::envelope::MAX_ENVELOPE_SIZE + 1];
    let e = parse_and_verify(MEDIA_TYPE_JWS, &huge).unwrap_err();
    assert!(e.message.contains("limit"), "{}", e.message);
}
