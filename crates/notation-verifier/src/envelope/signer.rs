//! The signer side of integrity, shared by JWS and COSE: the certificate
//! chain carried in the envelope, the algorithm bound to the leaf key (§e),
//! the signature check, and the chain shape rules (§f.1).

use crate::cert::Certificate;
use crate::chain::{self, MAX_CHAIN_LENGTH};
use crate::crypto::{CryptoError, PssSalt, SignatureAlgorithm};

use super::EnvelopeError;

/// Refuses empty or over-long chains before any certificate is decoded, so
/// a hostile envelope cannot make us parse thousands of certificates.
pub(crate) fn check_chain_length(len: usize) -> Result<(), EnvelopeError> {
    if len == 0 {
        return Err(EnvelopeError::malformed("certificate chain is not present"));
    }
    if len > MAX_CHAIN_LENGTH {
        return Err(EnvelopeError::bad_chain(format!(
            "certificate chain has {len} certificates, more than the limit of {MAX_CHAIN_LENGTH}"
        )));
    }
    Ok(())
}

/// Parses the chain, leaf first (each distinct certificate once per
/// `cache`).
pub(crate) fn parse_chain<'a>(
    ders: impl ExactSizeIterator<Item = &'a [u8]>,
    cache: Option<&chain::ChainCache>,
) -> Result<Vec<Certificate>, EnvelopeError> {
    check_chain_length(ders.len())?;
    ders.enumerate()
        .map(|(i, der)| {
            match cache {
                Some(c) => c.parse_certificate(der),
                None => Certificate::from_der(der),
            }
            .map_err(|e| {
                let which = if i == 0 {
                    "leaf certificate".to_owned()
                } else {
                    format!("certificate at chain position {i}")
                };
                EnvelopeError::bad_chain(format!("malformed {which}: {e}"))
            })
        })
        .collect()
}

/// The algorithm comes from the leaf key, never from the header alone: the
/// header value must equal it (no algorithm substitution), then the
/// signature must verify with that key.
pub(crate) fn verify_signature(
    chain: &[Certificate],
    header_alg: SignatureAlgorithm,
    message: &[u8],
    signature: &[u8],
    salt: PssSalt,
) -> Result<(), EnvelopeError> {
    let leaf = chain
        .first()
        .ok_or_else(|| EnvelopeError::malformed("certificate chain is not present"))?;
    let key = leaf
        .public_key()
        .map_err(|e| EnvelopeError::bad_chain(format!("signing certificate: {e}")))?;
    let derived = key.notation_algorithm().map_err(|e| {
        EnvelopeError::bad_chain(format!(
            "certificate with subject \"{}\": {e}",
            leaf.subject()
        ))
    })?;
    if derived != header_alg {
        return Err(EnvelopeError::bad_signature(format!(
            "mismatch between signature algorithm derived from signing certificate ({}) and signing algorithm specified ({})",
            derived.jws_name(),
            header_alg.jws_name()
        )));
    }
    key.verify_envelope_signature(header_alg, message, signature, salt)
        .map_err(|e| match e {
            // Its message already reads "signature is invalid: ...".
            CryptoError::BadSignature(_) => EnvelopeError::bad_signature(e.to_string()),
            other => EnvelopeError::bad_signature(format!("signature is invalid: {other}")),
        })
}

/// Chain shape (§f.1) without time checks.
pub(crate) fn validate_chain(
    chain: &[Certificate],
    cache: Option<&chain::ChainCache>,
) -> Result<(), EnvelopeError> {
    match cache {
        Some(c) => c.validate_code_signing_chain(chain),
        None => chain::validate_code_signing_chain(chain),
    }
    .map_err(|e| EnvelopeError::bad_chain(format!("invalid certificate chain: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::ReasonCode;

    #[test]
    fn chain_length_bounds() {
        assert_eq!(
            check_chain_length(0).unwrap_err().reason,
            ReasonCode::MalformedEnvelope
        );
        assert!(check_chain_length(1).is_ok());
        assert!(check_chain_length(MAX_CHAIN_LENGTH).is_ok());
        assert_eq!(
            check_chain_length(MAX_CHAIN_LENGTH + 1).unwrap_err().reason,
            ReasonCode::InvalidCertificateChain
        );
    }

    #[test]
    fn garbage_certificates_are_chain_errors() {
        let garbage: [&[u8]; 1] = [b"not a certificate"];
        let err = parse_chain(garbage.into_iter(), None).unwrap_err();
        assert_eq!(err.reason, ReasonCode::InvalidCertificateChain);
        assert!(err.message.contains("leaf"));
    }
}
