//! `x509.subject` trusted identities: DN parsing and matching (spec digest §g.6).
//!
//! The DN grammar is the LDAP one notation-go uses (RFC 4514 with `;` also
//! separating RDNs); notation then narrows it: no hex (`=#`) values, no
//! multi-valued RDNs, no repeated types, and C, ST, O mandatory. The leaf
//! subject goes through the same narrowing (see `Certificate::subject_dn`).

use crate::cert::Certificate;
/// Kept at its old path; the map itself lives in [`crate::dn`].
pub use crate::dn::DnMap;

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum IdentityError {
    #[error("{0}")]
    InvalidDn(String),
    #[error("{0}")]
    Mismatch(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedIdentity {
    /// `*`
    Any,
    /// `x509.subject: <DN>`
    X509Subject { raw: String, dn: DnMap },
    /// Another prefix: valid, ignored at match time (reserved for plugins).
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TrustedIdentities {
    pub identities: Vec<TrustedIdentity>,
}

const X509_SUBJECT: &str = "x509.subject";
const MANDATORY: [&str; 3] = ["C", "ST", "O"];

/// Splits `s` on unescaped occurrences of any of `seps`, keeping escapes.
fn split_unescaped<'a>(s: &'a str, seps: &[char]) -> Vec<(&'a str, Option<char>)> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
        } else if c == '\\' {
            escaped = true;
        } else if seps.contains(&c) {
            parts.push((&s[start..i], Some(c)));
            start = i + c.len_utf8();
        }
    }
    parts.push((&s[start..], None));
    parts
}

/// Decodes RFC 4514 escapes: `\` + special character, or `\XX` hex bytes.
fn unescape(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'\\' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let next = *bytes.get(i + 1).ok_or("got corrupted escaped character")?;
        let hex_pair = bytes
            .get(i + 1..i + 3)
            .filter(|p| p.iter().all(u8::is_ascii_hexdigit));
        if let Some(pair) = hex_pair {
            let text = std::str::from_utf8(pair).map_err(|e| e.to_string())?;
            out.push(u8::from_str_radix(text, 16).map_err(|e| e.to_string())?);
            i += 3;
        } else if b" \"#+,;<=>\\".contains(&next) {
            out.push(next);
            i += 2;
        } else {
            return Err("got corrupted escaped character".into());
        }
    }
    String::from_utf8(out).map_err(|_| "escaped value is not valid UTF-8".to_string())
}

/// Trims unescaped ASCII spaces at both ends (an escaped trailing space stays).
fn trim_unescaped(s: &str) -> &str {
    let start_trimmed = s.trim_start_matches(' ');
    let mut end = start_trimmed.len();
    while end > 0 && start_trimmed.as_bytes()[end - 1] == b' ' {
        // count the backslashes before this space
        let backslashes = start_trimmed.as_bytes()[..end - 1]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count();
        if backslashes % 2 == 1 {
            break;
        }
        end -= 1;
    }
    &start_trimmed[..end]
}

/// Parses an RFC 4514-style DN with notation-go's rules.
pub fn parse_dn(dn: &str) -> Result<DnMap, IdentityError> {
    if dn.contains("=#") {
        return Err(IdentityError::InvalidDn(format!(
            "unsupported distinguished name (DN) \"{dn}\": notation does not support x509.subject identities containing \"=#\""
        )));
    }
    let parse_failed = |why: &str| {
        IdentityError::InvalidDn(format!(
            "parsing distinguished name (DN) \"{dn}\" failed with err: {why}. A valid DN must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum, and follow RFC 4514 standard"
        ))
    };
    let mut map = DnMap::new();
    if dn.trim().is_empty() {
        return Err(IdentityError::InvalidDn(format!(
            "distinguished name (DN) \"{dn}\" has no mandatory RDN attribute for \"C\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
        )));
    }
    for (attribute, sep) in split_unescaped(dn, &[',', ';', '+']) {
        if sep == Some('+') {
            return Err(IdentityError::InvalidDn(format!(
                "distinguished name (DN) \"{dn}\" has multi-valued RDN attributes, remove multi-valued RDN attributes as they are not supported"
            )));
        }
        let (raw_type, raw_value) = attribute
            .split_once('=')
            .ok_or_else(|| parse_failed("incomplete type, value pair"))?;
        let attr_type = raw_type.trim_matches(' ');
        let raw_value = trim_unescaped(raw_value);
        if attr_type.is_empty() {
            return Err(parse_failed("incomplete type, value pair"));
        }
        if raw_value.starts_with('#') {
            return Err(IdentityError::InvalidDn(format!(
                "unsupported distinguished name (DN) \"{dn}\": notation does not support x509.subject identities containing \"=#\""
            )));
        }
        let value = unescape(raw_value).map_err(|e| parse_failed(&e))?;
        let attr_type = if attr_type == "S" { "ST" } else { attr_type };
        if map.insert(attr_type.to_string(), value).is_some() {
            return Err(IdentityError::InvalidDn(format!(
                "distinguished name (DN) \"{dn}\" has duplicate RDN attribute for \"{attr_type}\", DN can only have unique RDN attributes"
            )));
        }
    }
    if let Some(missing) = MANDATORY.iter().find(|m| !map.contains_key(**m)) {
        return Err(IdentityError::InvalidDn(format!(
            "distinguished name (DN) \"{dn}\" has no mandatory RDN attribute for \"{missing}\", it must contain 'C', 'ST' or 'S', and 'O' RDN attributes at a minimum"
        )));
    }
    Ok(map)
}

/// `a` ⊆ `b`: every attribute of `a` is in `b` with the same value.
fn is_subset(a: &DnMap, b: &DnMap) -> bool {
    a.iter().all(|(k, v)| b.get(k) == Some(v))
}

fn render_map(dn: &DnMap) -> String {
    let pairs: Vec<String> = dn.iter().map(|(k, v)| format!("{k}:{v}")).collect();
    format!("map[{}]", pairs.join(" "))
}

impl TrustedIdentities {
    /// Parses and validates a statement's `trustedIdentities`; `statement`
    /// names the statement in error messages.
    pub fn parse(values: &[String], statement: &str) -> Result<Self, IdentityError> {
        let invalid = |m: String| {
            IdentityError::InvalidDn(format!("trust policy statement \"{statement}\" {m}"))
        };
        if values.iter().any(|v| v == "*") {
            if values.len() > 1 {
                return Err(invalid("uses a wildcard trusted identity '*', a wildcard identity cannot be used in conjunction with other values".into()));
            }
            return Ok(Self {
                identities: vec![TrustedIdentity::Any],
            });
        }
        let mut identities = Vec::with_capacity(values.len());
        for value in values {
            if value.is_empty() {
                return Err(invalid("has an empty trusted identity".into()));
            }
            let (prefix, rest) = value.split_once(':').ok_or_else(|| {
                invalid(format!(
                    "has trusted identity \"{value}\" missing separator"
                ))
            })?;
            if prefix != X509_SUBJECT {
                identities.push(TrustedIdentity::Other(value.clone()));
                continue;
            }
            let dn_text = rest.trim();
            if dn_text.is_empty() {
                return Err(invalid(format!(
                    "has trusted identity \"{value}\" without an identity value"
                )));
            }
            let dn = parse_dn(dn_text).map_err(|e| {
                invalid(format!(
                    "has trusted identity \"{value}\" with invalid identity value: {e}"
                ))
            })?;
            identities.push(TrustedIdentity::X509Subject {
                raw: value.clone(),
                dn,
            });
        }
        let subjects: Vec<(&String, &DnMap)> = identities
            .iter()
            .filter_map(|i| match i {
                TrustedIdentity::X509Subject { raw, dn } => Some((raw, dn)),
                _ => None,
            })
            .collect();
        for (i, (raw_a, a)) in subjects.iter().enumerate() {
            for (raw_b, b) in subjects.iter().skip(i + 1) {
                if is_subset(a, b) || is_subset(b, a) {
                    return Err(invalid(format!(
                        "has overlapping x509 trustedIdentities, \"{raw_a}\" overlaps with \"{raw_b}\""
                    )));
                }
            }
        }
        Ok(Self { identities })
    }

    /// Matches the leaf certificate's subject.
    pub fn check_leaf(&self, leaf: &Certificate, statement: &str) -> Result<(), IdentityError> {
        if self.identities.contains(&TrustedIdentity::Any) {
            return Ok(());
        }
        let subjects: Vec<&DnMap> = self
            .identities
            .iter()
            .filter_map(|i| match i {
                TrustedIdentity::X509Subject { dn, .. } => Some(dn),
                _ => None,
            })
            .collect();
        if subjects.is_empty() {
            return Err(IdentityError::Mismatch(format!(
                "no x509 trusted identities are configured in the trust policy \"{statement}\""
            )));
        }
        let leaf_dn = leaf.subject_dn().map_err(|why| {
            IdentityError::Mismatch(format!(
                "error while parsing the certificate subject from the digital signature. error : {why} (subject \"{}\")",
                leaf.subject()
            ))
        })?;
        if subjects.iter().any(|dn| is_subset(dn, leaf_dn)) {
            return Ok(());
        }
        Err(IdentityError::Mismatch(format!(
            "signing certificate from the digital signature does not match the X.509 trusted identities [{}] defined in the trust policy \"{statement}\"",
            subjects.iter().map(|d| render_map(d)).collect::<Vec<_>>().join(" ")
        )))
    }

    /// Human-readable list of the identities, for messages.
    pub fn describe(&self) -> String {
        let list: Vec<String> = self
            .identities
            .iter()
            .map(|i| match i {
                TrustedIdentity::Any => "* (any signer in the trust stores)".to_string(),
                TrustedIdentity::X509Subject { raw, .. } => raw.clone(),
                TrustedIdentity::Other(v) => v.clone(),
            })
            .collect();
        list.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(dn: &str) -> DnMap {
        parse_dn(dn).unwrap_or_else(|e| panic!("{dn}: {e}"))
    }

    #[test]
    fn parses_the_upstream_examples() {
        let m = ok("C=US,ST=California,O=Notary Project");
        assert_eq!(m.get("O").map(String::as_str), Some("Notary Project"));
        let m = ok("C=US, S=WA, O=wabbit-networks.io");
        assert_eq!(m.get("ST").map(String::as_str), Some("WA"));
        let m = ok("C=US;ST=WA;O=a\\,b;CN=x\\2cy");
        assert_eq!(m.get("O").map(String::as_str), Some("a,b"));
        assert_eq!(m.get("CN").map(String::as_str), Some("x,y"));
        let m = ok("C=US,ST=WA,O=x,CN=a=b");
        assert_eq!(m.get("CN").map(String::as_str), Some("a=b"));
    }

    #[test]
    fn rejects_what_notation_rejects() {
        for (dn, needle) in [
            ("C=US,ST=WA", "mandatory RDN attribute for \"O\""),
            ("C=US,C=IN,ST=WA,O=x", "duplicate"),
            ("C=US,ST=WA,O=#0101", "=#"),
            ("OU=Sales+CN=J.  Smith,C=US,ST=WA,O=x", "multi-valued"),
            (",,,", "incomplete type, value pair"),
            ("C=US,S=WA,ST=WA,O=x", "duplicate"),
            ("C=US,ST=WA,O=x\\q", "corrupted"),
        ] {
            let err = parse_dn(dn).unwrap_err().to_string();
            assert!(err.contains(needle), "{dn}: {err}");
        }
    }

    #[test]
    fn identity_list_rules() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert!(TrustedIdentities::parse(&s(&["*", "x509.subject: C=US,ST=WA,O=x"]), "p").is_err());
        assert!(TrustedIdentities::parse(&s(&[""]), "p").is_err());
        assert!(TrustedIdentities::parse(&s(&["noseparator"]), "p").is_err());
        assert!(TrustedIdentities::parse(&s(&["x509.subject:"]), "p").is_err());
        assert!(TrustedIdentities::parse(&s(&["nonX509Prefix:foo"]), "p").is_ok());
        let overlap = TrustedIdentities::parse(
            &s(&[
                "x509.subject: C=US,ST=WA,O=MyOrg",
                "x509.subject: C=US,ST=WA,O=MyOrg,X=Y",
            ]),
            "p",
        )
        .unwrap_err();
        assert!(overlap.to_string().contains("overlapping"));
    }
}
