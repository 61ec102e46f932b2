//! Header rules shared by JWS and COSE: the Notary Project header names,
//! signing scheme, signing/expiry times, content type and the plugin
//! attributes (spec digest §c.2, §d.2, §h.4, §h.5).
//!
//! Both envelope parsers reduce their protected header to the same typed
//! values and hand them to these functions, so a rule is written once.

use chrono::{DateTime, Utc};

use super::{EnvelopeError, SigningScheme, PAYLOAD_CONTENT_TYPE};

pub(crate) const SIGNING_SCHEME: &str = "io.cncf.notary.signingScheme";
pub(crate) const SIGNING_TIME: &str = "io.cncf.notary.signingTime";
pub(crate) const AUTHENTIC_SIGNING_TIME: &str = "io.cncf.notary.authenticSigningTime";
pub(crate) const EXPIRY: &str = "io.cncf.notary.expiry";
pub(crate) const VERIFICATION_PLUGIN: &str = "io.cncf.notary.verificationPlugin";
pub(crate) const VERIFICATION_PLUGIN_MIN_VERSION: &str =
    "io.cncf.notary.verificationPluginMinVersion";
pub(crate) const SIGNING_AGENT: &str = "io.cncf.notary.signingAgent";
pub(crate) const TIMESTAMP_SIGNATURE: &str = "io.cncf.notary.timestampSignature";

/// The Notary Project header names that are not extended attributes.
pub(crate) const NOTARY_HEADERS: [&str; 4] =
    [SIGNING_SCHEME, SIGNING_TIME, AUTHENTIC_SIGNING_TIME, EXPIRY];

/// What the protected header says, once the envelope-specific syntax rules
/// have run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NotaryHeaders {
    pub scheme: SigningScheme,
    /// `signingTime` or `authenticSigningTime`, per the scheme.
    pub signing_time: DateTime<Utc>,
    pub expiry: Option<DateTime<Utc>>,
    pub verification_plugin: Option<String>,
    pub verification_plugin_min_version: Option<String>,
    /// Critical extended attributes other than the two plugin ones.
    pub critical_extended_attributes: Vec<String>,
}

pub(crate) fn parse_scheme(value: &str) -> Result<SigningScheme, EnvelopeError> {
    match value {
        "notary.x509" => Ok(SigningScheme::X509),
        "notary.x509.signingAuthority" => Ok(SigningScheme::SigningAuthority),
        other => Err(EnvelopeError::malformed(format!(
            "unsupported signing scheme \"{other}\""
        ))),
    }
}

/// Applies the scheme/time rules of §c.2 (used for COSE too, see §d.2 REC):
/// each scheme has exactly its own time header, and an expiry must come
/// strictly after the signing time. Returns (signing time, expiry).
pub(crate) fn resolve_times(
    scheme: SigningScheme,
    signing_time: Option<DateTime<Utc>>,
    authentic_signing_time: Option<DateTime<Utc>>,
    expiry: Option<DateTime<Utc>>,
) -> Result<(DateTime<Utc>, Option<DateTime<Utc>>), EnvelopeError> {
    let time = match scheme {
        SigningScheme::X509 => {
            if authentic_signing_time.is_some() {
                return Err(EnvelopeError::malformed(format!(
                    "\"{AUTHENTIC_SIGNING_TIME}\" header must not be present for notary.x509 signing scheme"
                )));
            }
            signing_time.ok_or_else(|| {
                EnvelopeError::malformed(format!(
                    "\"{SIGNING_TIME}\" header must be present for notary.x509 signing scheme"
                ))
            })?
        }
        SigningScheme::SigningAuthority => {
            if signing_time.is_some() {
                return Err(EnvelopeError::malformed(format!(
                    "\"{SIGNING_TIME}\" header must not be present for notary.x509.signingAuthority signing scheme"
                )));
            }
            authentic_signing_time.ok_or_else(|| {
                EnvelopeError::malformed(format!(
                    "\"{AUTHENTIC_SIGNING_TIME}\" header must be present for notary.x509.signingAuthority signing scheme"
                ))
            })?
        }
    };
    if let Some(expiry) = expiry {
        if expiry <= time {
            return Err(EnvelopeError::malformed(format!(
                "expiry ({}) cannot be equal to or before the signing time ({})",
                expiry.to_rfc3339(),
                time.to_rfc3339()
            )));
        }
    }
    Ok((time, expiry))
}

/// The headers notation requires to be listed in `crit` (§c.2 step 1, §d.2).
pub(crate) fn must_be_critical(scheme: SigningScheme, has_expiry: bool) -> Vec<&'static str> {
    let mut names = vec![SIGNING_SCHEME];
    if has_expiry {
        names.push(EXPIRY);
    }
    if scheme == SigningScheme::SigningAuthority {
        names.push(AUTHENTIC_SIGNING_TIME);
    }
    names
}

pub(crate) fn not_marked_critical(missing: &[&str]) -> EnvelopeError {
    EnvelopeError::malformed(format!(
        "these required headers are not marked as critical: [{}]",
        missing.join(", ")
    ))
}

/// RFC 3339 as Go's `time.RFC3339` parses it: upper-case `T` and `Z`,
/// optional fractional seconds, `Z` or a numeric offset.
pub(crate) fn parse_rfc3339(header: &str, value: &str) -> Result<DateTime<Utc>, EnvelopeError> {
    let shape_ok = value.as_bytes().get(10) == Some(&b'T')
        && value
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'+' | b'T' | b'Z'));
    let parsed = if shape_ok {
        DateTime::parse_from_rfc3339(value).ok()
    } else {
        None
    };
    parsed.map(|t| t.with_timezone(&Utc)).ok_or_else(|| {
        EnvelopeError::malformed(format!(
            "header \"{header}\" is not an RFC 3339 time: \"{}\"",
            truncate(value)
        ))
    })
}

/// CBOR epoch seconds (tag 1) to a UTC time; floats keep their fraction.
pub(crate) fn epoch_seconds_to_time(
    header: &str,
    seconds: EpochSeconds,
) -> Result<DateTime<Utc>, EnvelopeError> {
    let out_of_range =
        || EnvelopeError::malformed(format!("header \"{header}\" time value is out of range"));
    match seconds {
        EpochSeconds::Int(s) => DateTime::from_timestamp(s, 0).ok_or_else(out_of_range),
        EpochSeconds::Float(f) => {
            // Checked before the casts: NaN, infinities and values beyond
            // chrono's range are refused instead of saturating silently.
            if !f.is_finite() || f.abs() > 1e13 {
                return Err(out_of_range());
            }
            let whole = f.floor();
            let nanos = ((f - whole) * 1e9).round();
            let (secs, nanos) = if nanos >= 1e9 {
                (whole + 1.0, 0.0)
            } else {
                (whole, nanos)
            };
            DateTime::from_timestamp(secs as i64, nanos as u32).ok_or_else(out_of_range)
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum EpochSeconds {
    Int(i64),
    Float(f64),
}

pub(crate) fn check_content_type(cty: &str) -> Result<(), EnvelopeError> {
    if cty == PAYLOAD_CONTENT_TYPE {
        Ok(())
    } else {
        Err(EnvelopeError::malformed(format!(
            "payload content type \"{}\" not supported",
            truncate(cty)
        )))
    }
}

/// A plugin attribute as found in the protected header.
pub(crate) enum PluginValue<'a> {
    Absent,
    Text(&'a str),
    /// Present with another type (name of the type for the message).
    Other(&'static str),
}

/// §h.5: a plugin attribute, when present, is a non-blank string marked
/// critical. Anything else is a malformed envelope.
pub(crate) fn plugin_attribute(
    name: &str,
    value: PluginValue<'_>,
    critical: bool,
) -> Result<Option<String>, EnvelopeError> {
    let text = match value {
        PluginValue::Absent => return Ok(None),
        PluginValue::Other(kind) => {
            return Err(EnvelopeError::malformed(format!(
                "{name} from extended attribute is not a string (found {kind})"
            )))
        }
        PluginValue::Text(text) => text,
    };
    if text.trim().is_empty() {
        return Err(EnvelopeError::malformed(format!(
            "{name} from extended attribute is an empty string"
        )));
    }
    if !critical {
        return Err(EnvelopeError::malformed(format!(
            "{name} is not a critical extended attribute"
        )));
    }
    Ok(Some(text.to_owned()))
}

/// Attacker-controlled strings are cut before they go into messages.
pub(crate) fn truncate(value: &str) -> String {
    const MAX: usize = 128;
    match value.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", value.get(..end).unwrap_or_default()),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::ReasonCode;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn schemes() {
        assert_eq!(parse_scheme("notary.x509"), Ok(SigningScheme::X509));
        assert_eq!(
            parse_scheme("notary.x509.signingAuthority"),
            Ok(SigningScheme::SigningAuthority)
        );
        for bad in ["notary.x509.v2", "", "Notary.x509", "notary.x509 "] {
            assert_eq!(
                parse_scheme(bad).unwrap_err().reason,
                ReasonCode::MalformedEnvelope
            );
        }
    }

    #[test]
    fn scheme_time_exclusivity() {
        let time = t("2020-01-01T00:00:00Z");
        let a = Some(time);
        let x509 = SigningScheme::X509;
        let sa = SigningScheme::SigningAuthority;
        assert_eq!(resolve_times(x509, a, None, None), Ok((time, None)));
        assert_eq!(resolve_times(sa, None, a, None), Ok((time, None)));
        // Wrong or extra time header for the scheme.
        assert!(resolve_times(x509, a, a, None)
            .unwrap_err()
            .message
            .contains("must not be present"));
        assert!(resolve_times(x509, None, a, None).is_err());
        assert!(resolve_times(sa, a, a, None)
            .unwrap_err()
            .message
            .contains("must not be present"));
        assert!(resolve_times(sa, a, None, None).is_err());
        // Missing time.
        assert!(resolve_times(x509, None, None, None)
            .unwrap_err()
            .message
            .contains("must be present"));
        assert!(resolve_times(sa, None, None, None)
            .unwrap_err()
            .message
            .contains("must be present"));
    }

    #[test]
    fn expiry_strictly_after_signing_time() {
        let st = Some(t("2020-01-01T00:00:00Z"));
        let x509 = SigningScheme::X509;
        assert!(resolve_times(x509, st, None, Some(t("2020-01-01T00:00:01Z"))).is_ok());
        assert!(resolve_times(x509, st, None, st).is_err());
        assert!(resolve_times(x509, st, None, Some(t("2019-12-31T23:59:59Z"))).is_err());
    }

    #[test]
    fn critical_sets() {
        assert_eq!(
            must_be_critical(SigningScheme::X509, false),
            vec![SIGNING_SCHEME]
        );
        assert_eq!(
            must_be_critical(SigningScheme::X509, true),
            vec![SIGNING_SCHEME, EXPIRY]
        );
        assert_eq!(
            must_be_critical(SigningScheme::SigningAuthority, true),
            vec![SIGNING_SCHEME, EXPIRY, AUTHENTIC_SIGNING_TIME]
        );
    }

    #[test]
    fn rfc3339_times() {
        assert_eq!(
            parse_rfc3339("h", "2023-01-19T00:21:36-08:00"),
            Ok(t("2023-01-19T08:21:36Z"))
        );
        assert_eq!(
            parse_rfc3339("h", "2020-11-09T07:00:00.5Z"),
            Ok(t("2020-11-09T07:00:00.5Z"))
        );
        for bad in [
            "",
            "2020-11-09",
            "2020-11-09 07:00:00Z",
            "2020-11-09t07:00:00Z",
            "2020-11-09T07:00:00z",
            "2020-11-09T07:00:00",
            "2020-13-09T07:00:00Z",
            "1605000000",
        ] {
            assert!(parse_rfc3339("h", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn epoch_times() {
        assert_eq!(
            epoch_seconds_to_time("h", EpochSeconds::Int(1_767_225_600)),
            Ok(t("2026-01-01T00:00:00Z"))
        );
        assert_eq!(
            epoch_seconds_to_time("h", EpochSeconds::Float(1.5)),
            Ok(t("1970-01-01T00:00:01.5Z"))
        );
        assert_eq!(
            epoch_seconds_to_time("h", EpochSeconds::Float(-0.25)),
            Ok(t("1969-12-31T23:59:59.75Z"))
        );
        for bad in [f64::NAN, f64::INFINITY, 1e300, -1e300] {
            assert!(epoch_seconds_to_time("h", EpochSeconds::Float(bad)).is_err());
        }
        assert!(epoch_seconds_to_time("h", EpochSeconds::Int(i64::MAX)).is_err());
    }

    #[test]
    fn content_type() {
        assert!(check_content_type(PAYLOAD_CONTENT_TYPE).is_ok());
        assert!(check_content_type("application/json").is_err());
        assert!(check_content_type("application/vnd.cncf.notary.payload.v1+json ").is_err());
    }

    #[test]
    fn plugin_attributes() {
        let p = VERIFICATION_PLUGIN;
        assert_eq!(plugin_attribute(p, PluginValue::Absent, false), Ok(None));
        assert_eq!(
            plugin_attribute(p, PluginValue::Text("x"), true),
            Ok(Some("x".into()))
        );
        assert!(plugin_attribute(p, PluginValue::Text("x"), false).is_err());
        assert!(plugin_attribute(p, PluginValue::Text("  "), true).is_err());
        assert!(plugin_attribute(p, PluginValue::Other("integer"), true).is_err());
    }

    #[test]
    fn truncation_is_char_safe() {
        let long = "é".repeat(300);
        let cut = truncate(&long);
        assert!(cut.ends_with("..."));
        assert_eq!(cut.chars().count(), 131);
        assert_eq!(truncate("short"), "short");
    }
}
