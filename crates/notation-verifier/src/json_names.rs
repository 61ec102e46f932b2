//! Member names of signed JSON, read so that no reader can see another
//! document than notation-go does.
//!
//! Go's `encoding/json` fills a struct field from the member whose name is
//! exactly the field's name, or failing that from any member whose name is
//! equal under Unicode simple case folding (`Digest`, `DIGEST`, and
//! `digeſt` with U+017F all fill `digest`), and when several members match,
//! the last one wins. A signed payload with `"Digest"` next to `"digest"`,
//! or a protected header with `"io.cncf.notary.Expiry"`, is therefore read
//! one way by notation-go and another way by an exact-name parser. Neither
//! reading is safe to pick, so such documents are refused:
//! - two members of one object whose names fold to the same key;
//! - a member whose name folds to a known field's name without being
//!   spelled exactly like it.
//!
//! [`fold`] is a superset of Go's folding (it also folds the dotted capital
//! I and the dotless i to `i`, which Go keeps apart): where the two differ
//! we refuse more, never less.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// The folded form of a member name: names that Go's decoder would match
/// to the same struct field fold to the same string.
pub fn fold(name: &str) -> String {
    name.chars().map(fold_char).collect()
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    match c {
        // Kelvin sign and long s fold to ASCII letters in Go (k, s).
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        // Not folded by Go; folded here so that lookalikes fail closed.
        '\u{0130}' | '\u{0131}' => 'i',
        _ => {
            let upper = single(c.to_uppercase()).unwrap_or(c);
            single(upper.to_lowercase()).unwrap_or(upper)
        }
    }
}

fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let first = chars.next()?;
    chars.next().is_none().then_some(first)
}

/// The known field that `name` matches only by folding (not spelled
/// exactly), if any.
pub fn misspelling_of<'k>(name: &str, known: &[&'k str]) -> Option<&'k str> {
    if known.contains(&name) {
        return None;
    }
    let folded = fold(name);
    known.iter().copied().find(|k| fold(k) == folded)
}

/// The member names of one object seen so far, folded.
#[derive(Default)]
pub struct FoldedNames {
    seen: HashMap<String, String>,
}

impl FoldedNames {
    /// Records `name`, refusing a second member that folds to the same key.
    pub fn insert(&mut self, name: &str) -> Result<(), String> {
        match self.seen.insert(fold(name), name.to_owned()) {
            None => Ok(()),
            Some(first) if first == name => {
                Err(format!("duplicate member \"{}\"", shown(name)))
            }
            Some(first) => Err(format!(
                "members \"{}\" and \"{}\" have the same name under case folding (notation-go would read only one of them)",
                shown(&first),
                shown(name)
            )),
        }
    }
}

/// The shape of a JSON value, as far as member names matter.
pub enum Shape {
    /// Anything; objects inside must not repeat a member name exactly.
    Any,
    /// A struct in Go: names matched by folding.
    Object(&'static [(&'static str, Shape)]),
    /// A map in Go: keys matched exactly, each at most once.
    Map,
}

/// Checks the member names of `json` against `shape` (see the module
/// documentation). Syntax errors are reported too; nesting is bounded by
/// serde_json's recursion limit.
pub fn check(json: &[u8], shape: &'static Shape) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    Walk(shape)
        .deserialize(&mut de)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())
}

struct Walk(&'static Shape);

impl<'de> DeserializeSeed<'de> for Walk {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        static ANY: Shape = Shape::Any;
        let mut folded = FoldedNames::default();
        let mut exact = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !exact.insert(key.clone()) {
                return Err(de::Error::custom(format!(
                    "duplicate member \"{}\"",
                    shown(&key)
                )));
            }
            let Shape::Object(fields) = self.0 else {
                map.next_value_seed(Walk(&ANY))?;
                continue;
            };
            folded.insert(&key).map_err(de::Error::custom)?;
            let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
            if let Some(known) = misspelling_of(&key, &names) {
                return Err(de::Error::custom(format!(
                    "member \"{}\" is not spelled \"{known}\" exactly (notation-go would read it as \"{known}\")",
                    shown(&key)
                )));
            }
            match fields.iter().find(|(n, _)| *n == key) {
                Some((_, shape)) => map.next_value_seed(Walk(shape))?,
                None => map.next_value_seed(Walk(&ANY))?,
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        static ANY: Shape = Shape::Any;
        while seq.next_element_seed(Walk(&ANY))?.is_some() {}
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A member name for a message: hostile names can be long.
fn shown(name: &str) -> String {
    const MAX: usize = 64;
    match name.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static DOC: Shape = Shape::Object(&[(
        "targetArtifact",
        Shape::Object(&[("digest", Shape::Any), ("annotations", Shape::Map)]),
    )]);

    #[test]
    fn folding_matches_go_and_more() {
        assert_eq!(fold("Digest"), fold("digest"));
        assert_eq!(fold("DIGEST"), fold("digest"));
        // U+017F LATIN SMALL LETTER LONG S and U+212A KELVIN SIGN.
        assert_eq!(fold("dige\u{17F}t"), fold("digest"));
        assert_eq!(fold("\u{212A}ey"), fold("key"));
        // Dotless i and dotted capital I: folded here, stricter than Go.
        assert_eq!(fold("d\u{131}gest"), fold("digest"));
        assert_eq!(fold("D\u{130}GEST"), fold("digest"));
        // Greek sigma forms fold together, as in Go.
        assert_eq!(fold("\u{3C3}"), fold("\u{3C2}"));
        assert_eq!(fold("\u{3A3}"), fold("\u{3C3}"));
        assert_ne!(fold("digest"), fold("digests"));
    }

    #[test]
    fn misspellings_of_known_fields_are_found() {
        let known = ["alg", "io.cncf.notary.expiry"];
        assert_eq!(misspelling_of("alg", &known), None);
        assert_eq!(misspelling_of("ALG", &known), Some("alg"));
        assert_eq!(
            misspelling_of("io.cncf.notary.Expiry", &known),
            Some("io.cncf.notary.expiry")
        );
        assert_eq!(misspelling_of("other", &known), None);
    }

    #[test]
    fn documents_with_folded_names_are_refused() {
        let ok =
            br#"{"targetArtifact":{"digest":"a","annotations":{"k":"1","K":"2"}},"x":{"y":1}}"#;
        check(ok, &DOC).unwrap();
        for (bad, says) in [
            (
                &br#"{"targetArtifact":{"digest":"a","Digest":"b"}}"#[..],
                "same name",
            ),
            (
                br#"{"targetArtifact":{"Digest":"b"}}"#,
                "not spelled \"digest\"",
            ),
            (br#"{"targetArtifact":{"dige\u017ft":"b"}}"#, "not spelled"),
            (br#"{"targetArtifact":{},"TargetArtifact":{}}"#, "same name"),
            (br#"{"TARGETARTIFACT":{}}"#, "not spelled"),
            (
                br#"{"targetArtifact":{"annotations":{"k":"1","k":"2"}}}"#,
                "duplicate member",
            ),
            (br#"{"x":{"y":1,"y":2}}"#, "duplicate member"),
            (br#"{"targetArtifact":{}} trailing"#, "trailing"),
            (br#"{"targetArtifact":"#, "EOF"),
        ] {
            let e = check(bad, &DOC).unwrap_err();
            assert!(e.contains(says), "{}: {e}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(check(deep.as_bytes(), &DOC).is_err());
    }
}
