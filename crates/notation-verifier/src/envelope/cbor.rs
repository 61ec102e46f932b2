//! A small, strict CBOR (RFC 8949) decoder for COSE envelopes.
//!
//! Why not `coset` on `ciborium` (the crate used to declare both and used
//! neither): the Notary Project COSE envelope rules (§d.1,
//! <https://github.com/notaryproject/specifications/blob/main/specs/signature-envelope-cose.md>)
//! refuse what a general-purpose decoder accepts quietly: `ciborium` reads
//! indefinite-length items, duplicate map keys (kept side by side, also when
//! one is written with a non-minimal head) and tags in any position into its
//! `Value` tree, so each rule would be a second pass over a tree already
//! allocated from hostile bytes. This decoder refuses indefinite lengths,
//! duplicate keys, misplaced tags and trailing bytes while it reads, within
//! the bounds below, and keeps the *exact* bytes of the protected header for
//! the Sig_structure by borrowing slices of the input.
//!
//! Hostile input is bounded three ways: nesting depth, the total number of
//! items, and declared lengths checked against the bytes that remain before
//! anything is allocated.

use std::collections::BTreeSet;

/// Deepest nesting accepted. Notation envelopes need 4 levels; extended
/// attributes may nest a little more.
pub(crate) const MAX_DEPTH: usize = 32;

/// Most data items accepted in one document (a Notation envelope has a few
/// dozen). Keeps the decoded tree small even for a large, dense input.
pub(crate) const MAX_ITEMS: usize = 65_536;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CborError {
    #[error("cbor: unexpected end of data at byte {0}")]
    Truncated(usize),
    #[error("cbor: indefinite-length item at byte {0} is not allowed")]
    Indefinite(usize),
    #[error("cbor: reserved additional information {info} at byte {at}")]
    Reserved { at: usize, info: u8 },
    #[error("cbor: nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("cbor: more than {MAX_ITEMS} data items")]
    TooManyItems,
    #[error("cbor: {0} extra bytes after the data item")]
    TrailingBytes(usize),
    #[error("cbor: text string at byte {0} is not valid UTF-8")]
    InvalidUtf8(usize),
    #[error("cbor: duplicate map key at byte {0}")]
    DuplicateKey(usize),
    #[error("cbor: tag {tag} at byte {at} is not allowed here")]
    TagNotAllowed { at: usize, tag: u64 },
    #[error("cbor: invalid simple value at byte {0}")]
    InvalidSimple(usize),
}

/// One decoded data item. Strings borrow from the input.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item<'a> {
    /// Major type 0.
    Uint(u64),
    /// Major type 1: the value is `-1 - n`.
    Nint(u64),
    Bytes(&'a [u8]),
    Text(&'a str),
    Array(Vec<Item<'a>>),
    Map(Vec<(Item<'a>, Item<'a>)>),
    Tag(u64, Box<Item<'a>>),
    Bool(bool),
    Null,
    Undefined,
    /// Half, single and double precision, widened.
    Float(f64),
}

impl Item<'_> {
    /// The item as a signed integer, when it is one and fits.
    pub(crate) fn as_i64(&self) -> Option<i64> {
        match self {
            Item::Uint(n) => i64::try_from(*n).ok(),
            Item::Nint(n) => i64::try_from(*n).ok().map(|v| -1 - v),
            _ => None,
        }
    }

    /// A short type name for error messages.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Item::Uint(_) | Item::Nint(_) => "integer",
            Item::Bytes(_) => "byte string",
            Item::Text(_) => "text string",
            Item::Array(_) => "array",
            Item::Map(_) => "map",
            Item::Tag(..) => "tagged item",
            Item::Bool(_) => "boolean",
            Item::Null => "null",
            Item::Undefined => "undefined",
            Item::Float(_) => "float",
        }
    }
}

/// Map keys as compared for duplicates: integers by value (whatever their
/// encoding width), strings by content, anything else by its encoded bytes.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum KeyRepr<'a> {
    Uint(u64),
    Nint(u64),
    Text(&'a str),
    Bytes(&'a [u8]),
    Other(&'a [u8]),
}

/// Decodes exactly one data item spanning all of `input`. `allow_tags`
/// decides whether tags may appear anywhere in it.
pub(crate) fn decode(input: &[u8], allow_tags: bool) -> Result<Item<'_>, CborError> {
    let mut decoder = Decoder {
        input,
        pos: 0,
        items: 0,
        allow_tags,
    };
    let item = decoder.item(0)?;
    let rest = input.len().saturating_sub(decoder.pos);
    if rest != 0 {
        return Err(CborError::TrailingBytes(rest));
    }
    Ok(item)
}

struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    items: usize,
    allow_tags: bool,
}

impl<'a> Decoder<'a> {
    fn byte(&mut self) -> Result<u8, CborError> {
        let b = *self
            .input
            .get(self.pos)
            .ok_or(CborError::Truncated(self.pos))?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], CborError> {
        let start = self.pos;
        let n = usize::try_from(n).map_err(|_| CborError::Truncated(start))?;
        let end = start.checked_add(n).ok_or(CborError::Truncated(start))?;
        let slice = self
            .input
            .get(start..end)
            .ok_or(CborError::Truncated(start))?;
        self.pos = end;
        Ok(slice)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CborError> {
        let at = self.pos;
        let bytes = self.take(N as u64)?;
        <[u8; N]>::try_from(bytes).map_err(|_| CborError::Truncated(at))
    }

    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// Reads the argument of an initial byte; `None` for indefinite length.
    fn argument(&mut self, at: usize, info: u8) -> Result<Option<u64>, CborError> {
        let width = match info {
            0..=23 => return Ok(Some(u64::from(info))),
            24 => 1,
            25 => 2,
            26 => 4,
            27 => 8,
            31 => return Ok(None),
            _ => return Err(CborError::Reserved { at, info }),
        };
        let bytes = self.take(width)?;
        Ok(Some(
            bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
        ))
    }

    fn item(&mut self, depth: usize) -> Result<Item<'a>, CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::TooDeep);
        }
        self.items += 1;
        if self.items > MAX_ITEMS {
            return Err(CborError::TooManyItems);
        }
        let at = self.pos;
        let initial = self.byte()?;
        let major = initial >> 5;
        let info = initial & 0x1f;
        if major == 7 {
            return self.simple(at, info);
        }
        let arg = self.argument(at, info)?.ok_or(CborError::Indefinite(at))?;
        match major {
            0 => Ok(Item::Uint(arg)),
            1 => Ok(Item::Nint(arg)),
            2 => Ok(Item::Bytes(self.take(arg)?)),
            3 => {
                let bytes = self.take(arg)?;
                let text = std::str::from_utf8(bytes).map_err(|_| CborError::InvalidUtf8(at))?;
                Ok(Item::Text(text))
            }
            4 => {
                // Every element takes at least one byte: a count larger than
                // what is left is a lie, refused before allocating.
                let count = self.count(at, arg, 1)?;
                let mut items = Vec::with_capacity(count);
                for _ in 0..count {
                    items.push(self.item(depth + 1)?);
                }
                Ok(Item::Array(items))
            }
            5 => self.map(at, arg, depth),
            6 => {
                if !self.allow_tags {
                    return Err(CborError::TagNotAllowed { at, tag: arg });
                }
                let inner = self.item(depth + 1)?;
                Ok(Item::Tag(arg, Box::new(inner)))
            }
            // `initial >> 5` of a u8 is at most 7, and 7 returned above.
            _ => Err(CborError::Reserved { at, info }),
        }
    }

    fn count(&self, at: usize, declared: u64, min_bytes_each: usize) -> Result<usize, CborError> {
        let declared = usize::try_from(declared).map_err(|_| CborError::Truncated(at))?;
        match declared.checked_mul(min_bytes_each) {
            Some(needed) if needed <= self.remaining() => Ok(declared),
            _ => Err(CborError::Truncated(at)),
        }
    }

    fn map(&mut self, at: usize, declared: u64, depth: usize) -> Result<Item<'a>, CborError> {
        let count = self.count(at, declared, 2)?;
        let mut entries = Vec::with_capacity(count);
        let mut seen = BTreeSet::new();
        for _ in 0..count {
            let key_start = self.pos;
            let key = self.item(depth + 1)?;
            let key_bytes = self.input.get(key_start..self.pos).unwrap_or_default();
            let repr = match &key {
                Item::Uint(n) => KeyRepr::Uint(*n),
                Item::Nint(n) => KeyRepr::Nint(*n),
                Item::Text(t) => KeyRepr::Text(t),
                Item::Bytes(b) => KeyRepr::Bytes(b),
                _ => KeyRepr::Other(key_bytes),
            };
            if !seen.insert(repr) {
                return Err(CborError::DuplicateKey(key_start));
            }
            let value = self.item(depth + 1)?;
            entries.push((key, value));
        }
        Ok(Item::Map(entries))
    }

    fn simple(&mut self, at: usize, info: u8) -> Result<Item<'a>, CborError> {
        match info {
            20 => Ok(Item::Bool(false)),
            21 => Ok(Item::Bool(true)),
            22 => Ok(Item::Null),
            23 => Ok(Item::Undefined),
            25 => {
                let raw = self.fixed::<2>()?;
                Ok(Item::Float(half_to_f64(u16::from_be_bytes(raw))))
            }
            26 => {
                let raw = self.fixed::<4>()?;
                Ok(Item::Float(f64::from(f32::from_be_bytes(raw))))
            }
            27 => {
                let raw = self.fixed::<8>()?;
                Ok(Item::Float(f64::from_be_bytes(raw)))
            }
            31 => Err(CborError::Indefinite(at)),
            // Unassigned simple values (0..=19, one-byte 24) have no meaning
            // in COSE; refusing them keeps the model small.
            _ => Err(CborError::InvalidSimple(at)),
        }
    }
}

/// IEEE 754 half precision to f64 (RFC 8949 Appendix D, in our own words:
/// 5 exponent bits, 10 mantissa bits, subnormals when the exponent is 0).
fn half_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((bits >> 10) & 0x1f);
    let mantissa = f64::from(bits & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 => {
            if mantissa == 0.0 {
                f64::INFINITY
            } else {
                f64::NAN
            }
        }
        e => (1024.0 + mantissa) * 2f64.powi(e - 25),
    };
    sign * magnitude
}

/// Minimal encoding helpers for the Sig_structure (we never re-encode
/// received data, only wrap it).
pub(crate) fn encode_head(major: u8, len: u64, out: &mut Vec<u8>) {
    let m = major << 5;
    if len < 24 {
        // `len < 24` fits in the 5 low bits.
        out.push(m | (len as u8));
    } else if let Ok(v) = u8::try_from(len) {
        out.push(m | 24);
        out.push(v);
    } else if let Ok(v) = u16::try_from(len) {
        out.push(m | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(len) {
        out.push(m | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(m | 27);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

pub(crate) fn encode_bytes(data: &[u8], out: &mut Vec<u8>) {
    encode_head(2, data.len() as u64, out);
    out.extend_from_slice(data);
}

pub(crate) fn encode_text(text: &str, out: &mut Vec<u8>) {
    encode_head(3, text.len() as u64, out);
    out.extend_from_slice(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_scalars_and_containers() {
        // [1, -2, h'ab', "x", {1: true}, null, 1.5 (half)]
        let bytes = [
            0x87, 0x01, 0x21, 0x41, 0xab, 0x61, b'x', 0xa1, 0x01, 0xf5, 0xf6, 0xf9, 0x3e, 0x00,
        ];
        let item = decode(&bytes, false).unwrap();
        assert_eq!(
            item,
            Item::Array(vec![
                Item::Uint(1),
                Item::Nint(1),
                Item::Bytes(&[0xab]),
                Item::Text("x"),
                Item::Map(vec![(Item::Uint(1), Item::Bool(true))]),
                Item::Null,
                Item::Float(1.5),
            ])
        );
        assert_eq!(Item::Nint(1).as_i64(), Some(-2));
    }

    #[test]
    fn refuses_indefinite_lengths() {
        assert_eq!(
            decode(&[0x9f, 0x01, 0xff], false),
            Err(CborError::Indefinite(0))
        );
        assert_eq!(
            decode(&[0x5f, 0x41, 0x00, 0xff], false),
            Err(CborError::Indefinite(0))
        );
        assert_eq!(decode(&[0xbf, 0xff], false), Err(CborError::Indefinite(0)));
    }

    #[test]
    fn refuses_duplicate_keys_whatever_their_encoding() {
        // {1: 0, 1: 0} and {1: 0, 0x18 0x01: 0} (non-minimal 1).
        assert!(matches!(
            decode(&[0xa2, 0x01, 0x00, 0x01, 0x00], false),
            Err(CborError::DuplicateKey(_))
        ));
        assert!(matches!(
            decode(&[0xa2, 0x01, 0x00, 0x18, 0x01, 0x00], false),
            Err(CborError::DuplicateKey(_))
        ));
        assert!(matches!(
            decode(&[0xa2, 0x61, b'a', 0x00, 0x61, b'a', 0x00], false),
            Err(CborError::DuplicateKey(_))
        ));
        assert!(decode(&[0xa2, 0x01, 0x00, 0x21, 0x00], false).is_ok());
    }

    #[test]
    fn tags_only_when_allowed() {
        let tagged = [0xc1, 0x1a, 0x00, 0x00, 0x00, 0x01];
        assert!(matches!(
            decode(&tagged, false),
            Err(CborError::TagNotAllowed { tag: 1, .. })
        ));
        assert_eq!(
            decode(&tagged, true),
            Ok(Item::Tag(1, Box::new(Item::Uint(1))))
        );
    }

    #[test]
    fn bounded_on_hostile_input() {
        // A huge declared array with nothing behind it: refused, no allocation.
        assert!(matches!(
            decode(
                &[0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                false
            ),
            Err(CborError::Truncated(_))
        ));
        assert!(matches!(
            decode(
                &[0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
                false
            ),
            Err(CborError::Truncated(_))
        ));
        // Deep nesting.
        let deep = vec![0x81u8; 1000];
        assert_eq!(decode(&deep, false), Err(CborError::TooDeep));
        // Too many items.
        let mut many = vec![0x9a, 0x00, 0x01, 0x86, 0xa0];
        many.extend(std::iter::repeat_n(0x00, 100_000));
        assert_eq!(decode(&many, false), Err(CborError::TooManyItems));
        // Trailing data and truncation.
        assert_eq!(
            decode(&[0x01, 0x02], false),
            Err(CborError::TrailingBytes(1))
        );
        assert!(matches!(
            decode(&[0x19, 0x01], false),
            Err(CborError::Truncated(_))
        ));
        assert!(decode(&[], false).is_err());
        assert!(matches!(
            decode(&[0x62, 0xff, 0xfe], false),
            Err(CborError::InvalidUtf8(0))
        ));
    }

    #[test]
    fn half_precision_values() {
        assert_eq!(half_to_f64(0x3c00), 1.0);
        assert_eq!(half_to_f64(0xc000), -2.0);
        assert_eq!(half_to_f64(0x0001), 2f64.powi(-24));
        assert_eq!(half_to_f64(0x7c00), f64::INFINITY);
        assert!(half_to_f64(0x7e00).is_nan());
    }

    #[test]
    fn encodes_heads_minimally() {
        let mut out = Vec::new();
        encode_head(2, 23, &mut out);
        encode_head(2, 24, &mut out);
        encode_head(2, 256, &mut out);
        encode_head(2, 65_536, &mut out);
        assert_eq!(
            out,
            [0x57, 0x58, 24, 0x59, 0x01, 0x00, 0x5a, 0x00, 0x01, 0x00, 0x00]
        );
    }
}
