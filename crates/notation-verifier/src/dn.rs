//! Distinguished names as notation-go sees them: an X.509 `Name` reduced to
//! the attributes Go's `pkix.Name` knows, rendered as Go renders it, and the
//! [`DnMap`] that `x509.subject` identities are matched against.
//!
//! Below both [`crate::cert`] (which renders subjects and issuers once at
//! parse time) and [`crate::identity`] (which parses the policy's DNs into
//! the same map).

use std::collections::BTreeMap;

use der::{Encode, Tag, Tagged};
use x509_cert::name::Name;

/// Attribute type (short name, e.g. `CN`, `ST`) -> value.
pub type DnMap = BTreeMap<String, String>;

/// The attributes Go's `pkix.Name` knows, with the short names it renders.
/// Values of CN and SERIALNUMBER are single (the last one wins in Go); the
/// others are lists, and two values of one type render as a multi-valued RDN.
const KNOWN_ATTRIBUTES: &[(&str, &str, bool)] = &[
    ("2.5.4.6", "C", true),
    ("2.5.4.8", "ST", true),
    ("2.5.4.7", "L", true),
    ("2.5.4.9", "STREET", true),
    ("2.5.4.17", "POSTALCODE", true),
    ("2.5.4.10", "O", true),
    ("2.5.4.11", "OU", true),
    ("2.5.4.3", "CN", false),
    ("2.5.4.5", "SERIALNUMBER", false),
];

/// Go's rendering order of `pkix.Name.String()` (reverse of ToRDNSequence).
const RENDER_ORDER: &[&str] = &[
    "SERIALNUMBER",
    "CN",
    "OU",
    "O",
    "POSTALCODE",
    "STREET",
    "L",
    "ST",
    "C",
];

/// A subject name reduced to what Go keeps of it.
#[derive(Debug, Clone, Default)]
pub(crate) struct NameParts {
    /// short name -> values in certificate order
    known: Vec<(&'static str, Vec<String>)>,
    /// attributes Go renders as `<oid>=#<hex>`
    unknown: Vec<(String, String)>,
}

impl NameParts {
    pub(crate) fn from_name(name: &Name) -> Self {
        let mut parts = NameParts::default();
        for rdn in name.0.iter() {
            for atv in rdn.0.iter() {
                let oid = atv.oid.to_string();
                let known = KNOWN_ATTRIBUTES.iter().find(|(o, _, _)| *o == oid);
                match (known, attribute_string(&atv.value)) {
                    (Some((_, short, multi)), Some(value)) => {
                        match parts.known.iter_mut().find(|(s, _)| s == short) {
                            Some((_, values)) if *multi => values.push(value),
                            Some((_, values)) => *values = vec![value],
                            None => parts.known.push((short, vec![value])),
                        }
                    }
                    _ => {
                        let hex_der = atv.value.to_der().map(hex::encode).unwrap_or_default();
                        parts.unknown.push((oid, hex_der));
                    }
                }
            }
        }
        parts
    }

    pub(crate) fn render(&self) -> String {
        let mut out: Vec<String> = Vec::new();
        for (oid, hex_der) in self.unknown.iter().rev() {
            out.push(format!("{oid}=#{hex_der}"));
        }
        for short in RENDER_ORDER {
            if let Some((_, values)) = self.known.iter().find(|(s, _)| s == short) {
                let rdn: Vec<String> = values
                    .iter()
                    .map(|v| format!("{short}={}", escape_dn_value(v)))
                    .collect();
                out.push(rdn.join("+"));
            }
        }
        out.join(",")
    }

    /// The subject as a matchable map, or why it can never match an
    /// `x509.subject` identity (what notation-go gets by rendering and
    /// re-parsing the leaf subject).
    pub(crate) fn matchable(&self) -> Result<DnMap, String> {
        if let Some((oid, _)) = self.unknown.first() {
            return Err(format!(
                "the subject has attribute {oid}, which notation renders as hex (\"=#\")"
            ));
        }
        let mut map = DnMap::new();
        for (short, values) in &self.known {
            if values.len() > 1 {
                return Err(format!("the subject has several values for {short}"));
            }
            if let Some(v) = values.first() {
                if v.contains("=#") {
                    return Err(format!("the subject value {short}={v} contains \"=#\""));
                }
                map.insert((*short).to_string(), v.clone());
            }
        }
        for mandatory in ["C", "ST", "O"] {
            if !map.contains_key(mandatory) {
                return Err(format!(
                    "the subject has no {mandatory} attribute (C, ST and O are mandatory)"
                ));
            }
        }
        Ok(map)
    }
}

/// Directory string value as text (Printable, UTF8, IA5, Teletex, BMP, ...).
fn attribute_string(value: &der::Any) -> Option<String> {
    let bytes = value.value();
    match value.tag() {
        Tag::PrintableString | Tag::Utf8String | Tag::Ia5String | Tag::VisibleString => {
            std::str::from_utf8(bytes).ok().map(str::to_owned)
        }
        // Go reads T61String as ISO-8859-1.
        Tag::TeletexString => Some(bytes.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !bytes.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = bytes
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// RFC 4514 escaping as Go applies it when rendering names.
fn escape_dn_value(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    let mut out = String::with_capacity(value.len());
    for (i, &c) in chars.iter().enumerate() {
        let edge_space = c == ' ' && (i == 0 || i == chars.len() - 1);
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';')
            || edge_space
            || (i == 0 && c == '#')
        {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_values_are_escaped_like_go() {
        assert_eq!(escape_dn_value("a,b"), "a\\,b");
        assert_eq!(escape_dn_value(" x "), "\\ x\\ ");
        assert_eq!(escape_dn_value("#x"), "\\#x");
        assert_eq!(escape_dn_value("Bad=#CN"), "Bad=#CN");
    }
}
