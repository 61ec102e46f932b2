//! The signed payload, `application/vnd.cncf.notary.payload.v1+json` (§b).
//!
//! Read only after the signature verified. Unknown members are ignored (as
//! Go's decoder does); the three descriptor fields are required, because a
//! payload without them cannot name an artifact. Member names that Go would
//! match by case folding (`"Digest"`, a second `"TargetArtifact"`) are
//! refused ([`crate::json_names`]).

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{EnvelopeError, Payload};
use crate::descriptor::Descriptor;
use crate::json_names::{self, Shape};

/// The payload as notation-go decodes it: `envelope.Payload` holding an OCI
/// descriptor (ocispec.Descriptor, with its platform).
static PAYLOAD: Shape = Shape::Object(&[("targetArtifact", DESCRIPTOR)]);
const DESCRIPTOR: Shape = Shape::Object(&[
    ("mediaType", Shape::Any),
    ("digest", Shape::Any),
    ("size", Shape::Any),
    ("urls", Shape::Any),
    ("annotations", Shape::Map),
    ("data", Shape::Any),
    ("artifactType", Shape::Any),
    (
        "platform",
        Shape::Object(&[
            ("architecture", Shape::Any),
            ("os", Shape::Any),
            ("os.version", Shape::Any),
            ("os.features", Shape::Any),
            ("variant", Shape::Any),
            ("features", Shape::Any),
        ]),
    ),
]);

#[derive(Deserialize)]
struct PayloadJson {
    #[serde(rename = "targetArtifact")]
    target_artifact: TargetArtifact,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TargetArtifact {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
}

pub(crate) fn parse_payload(bytes: &[u8]) -> Result<Payload, EnvelopeError> {
    if bytes.is_empty() {
        return Err(EnvelopeError::malformed("payload is empty"));
    }
    json_names::check(bytes, &PAYLOAD).map_err(|e| {
        EnvelopeError::malformed(format!(
            "payload is not a valid Notary Project payload: {e}"
        ))
    })?;
    let parsed: PayloadJson = serde_json::from_slice(bytes).map_err(|e| {
        EnvelopeError::malformed(format!(
            "payload is not a valid Notary Project payload: {e}"
        ))
    })?;
    let target = parsed.target_artifact;
    // Go decodes the size into an int64: a larger one fails there.
    if i64::try_from(target.size).is_err() {
        return Err(EnvelopeError::malformed(format!(
            "payload is not a valid Notary Project payload: size {} does not fit a signed 64-bit integer",
            target.size
        )));
    }
    Ok(Payload {
        target: Descriptor {
            media_type: target.media_type,
            digest: target.digest,
            size: target.size,
        },
        annotations: target.annotations.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_and_annotated_payloads() {
        let p =
            parse_payload(br#"{"targetArtifact":{"mediaType":"m","digest":"sha256:ab","size":3}}"#)
                .unwrap();
        assert_eq!(p.target.media_type, "m");
        assert_eq!(p.target.digest, "sha256:ab");
        assert_eq!(p.target.size, 3);
        assert!(p.annotations.is_empty());

        let p = parse_payload(
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1,"annotations":{"k":"v"},"artifactType":"x","urls":["u"]},"other":1}"#,
        )
        .unwrap();
        assert_eq!(p.annotations.get("k").map(String::as_str), Some("v"));
    }

    #[test]
    fn names_go_would_fold_are_refused() {
        for (bad, says) in [
            (
                &br#"{"targetArtifact":{"mediaType":"m","digest":"sha256:aa","Digest":"sha256:bb","size":1}}"#[..],
                "same name",
            ),
            (
                br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1},"TargetArtifact":{"mediaType":"m","digest":"e","size":1}}"#,
                "same name",
            ),
            (
                br#"{"targetArtifact":{"MediaType":"m","digest":"d","size":1}}"#,
                "not spelled \"mediaType\"",
            ),
            (
                br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1,"platform":{"OS":"linux"}}}"#,
                "not spelled \"os\"",
            ),
            (
                br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1,"annotations":{"a":"1","a":"2"}}}"#,
                "duplicate member",
            ),
        ] {
            let e = parse_payload(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{}: {e}", String::from_utf8_lossy(bad));
        }
        // Annotation keys are a map in Go: keys differing in case are distinct.
        parse_payload(
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1,"annotations":{"a":"1","A":"2"}}}"#,
        )
        .unwrap();
    }

    #[test]
    fn required_fields_and_types() {
        for bad in [
            &b""[..],
            b"null",
            b"[]",
            b"{}",
            br#"{"targetArtifact":{"digest":"d","size":1}}"#,
            br#"{"targetArtifact":{"mediaType":"m","size":1}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d"}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":-1}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":"1"}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":9223372036854775808}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1,"annotations":{"k":1}}}"#,
            br#"{"targetArtifact":{"mediaType":"m","digest":"d","size":1}} trailing"#,
        ] {
            assert!(
                parse_payload(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
