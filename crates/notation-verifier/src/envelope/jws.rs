//! JWS JSON (flattened) envelopes, `application/jose+json` (spec digest §c).

use super::{EnvelopeError, VerifiedEnvelope};

pub fn parse_and_verify(_bytes: &[u8]) -> Result<VerifiedEnvelope, EnvelopeError> {
    Err(EnvelopeError::malformed(
        "JWS envelopes are not implemented yet",
    ))
}
