//! BER to DER, for RFC 3161 tokens: several timestamp authorities emit CMS
//! with indefinite lengths, which Go converts before parsing. Only the
//! length encodings are normalised; content is copied as is.

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("ber: {0}")]
pub struct BerError(pub &'static str);

/// Deepest nesting accepted: real tokens are far below this, and recursion
/// on hostile input stays bounded.
const MAX_DEPTH: usize = 64;

/// Converts one BER element (the whole input) to DER.
pub fn to_der(input: &[u8]) -> Result<Vec<u8>, BerError> {
    let mut out = Vec::with_capacity(input.len());
    let used = convert(input, &mut out, 0)?;
    if used != input.len() {
        return Err(BerError("trailing data after the top-level element"));
    }
    Ok(out)
}

fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

/// Converts the element at the start of `input` into `out`; returns the
/// number of input bytes it used.
fn convert(input: &[u8], out: &mut Vec<u8>, depth: usize) -> Result<usize, BerError> {
    if depth > MAX_DEPTH {
        return Err(BerError("nesting too deep"));
    }
    let mut pos = 0;
    let first = *input.first().ok_or(BerError("unexpected end of data"))?;
    let constructed = first & 0x20 != 0;
    let tag_start = pos;
    pos += 1;
    if first & 0x1f == 0x1f {
        // high tag number form
        loop {
            let b = *input.get(pos).ok_or(BerError("truncated tag"))?;
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos - tag_start > 6 {
                return Err(BerError("tag number too large"));
            }
        }
    }
    let tag = &input[tag_start..pos];
    let len_byte = *input.get(pos).ok_or(BerError("truncated length"))?;
    pos += 1;
    if len_byte == 0x80 {
        if !constructed {
            return Err(BerError("indefinite length on a primitive element"));
        }
        let mut body = Vec::new();
        loop {
            let rest = input.get(pos..).ok_or(BerError("unexpected end of data"))?;
            if rest.len() < 2 {
                return Err(BerError("missing end-of-contents"));
            }
            if rest[0] == 0 && rest[1] == 0 {
                pos += 2;
                break;
            }
            pos += convert(rest, &mut body, depth + 1)?;
        }
        out.extend_from_slice(tag);
        push_length(out, body.len());
        out.extend_from_slice(&body);
        return Ok(pos);
    }
    let len = if len_byte & 0x80 == 0 {
        usize::from(len_byte)
    } else {
        let n = usize::from(len_byte & 0x7f);
        if n > 4 {
            return Err(BerError("length too large"));
        }
        let bytes = input
            .get(pos..pos + n)
            .ok_or(BerError("truncated length"))?;
        pos += n;
        bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let content = input
        .get(pos..pos.checked_add(len).ok_or(BerError("length overflow"))?)
        .ok_or(BerError("element longer than the data"))?;
    out.extend_from_slice(tag);
    if constructed {
        let mut body = Vec::with_capacity(content.len());
        let mut inner = 0;
        while inner < content.len() {
            inner += convert(&content[inner..], &mut body, depth + 1)?;
        }
        push_length(out, body.len());
        out.extend_from_slice(&body);
    } else {
        push_length(out, content.len());
        out.extend_from_slice(content);
    }
    Ok(pos + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_become_definite() {
        // SEQUENCE (indefinite) { INTEGER 5 } EOC
        let ber = [0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00];
        assert_eq!(to_der(&ber).unwrap(), vec![0x30, 0x03, 0x02, 0x01, 0x05]);
        // non-minimal long-form length
        let ber = [0x04, 0x81, 0x01, 0xaa];
        assert_eq!(to_der(&ber).unwrap(), vec![0x04, 0x01, 0xaa]);
    }

    #[test]
    fn hostile_input_is_an_error() {
        assert!(to_der(&[0x30, 0x80]).is_err());
        assert!(to_der(&[0x04, 0x85, 1, 2, 3, 4, 5]).is_err());
        assert!(to_der(&[0x30, 0x05, 0x02]).is_err());
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 100).flatten().collect();
        assert!(to_der(&deep).is_err());
    }
}
