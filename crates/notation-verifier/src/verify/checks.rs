//! The per-signature validations after integrity, in notation-go's order:
//! authenticity (trust anchoring, trusted identities), the authentic
//! timestamp, expiry and revocation. Each records its outcome on the
//! [`SignatureRun`] and says whether the signature is still standing.

use chrono::{DateTime, Utc};

use crate::cert::Certificate;
use crate::envelope::{SigningScheme, VerifiedEnvelope};
use crate::revocation::{self, RevocationStatus};
use crate::timestamp;
use crate::trust_policy::{Statement, TrustStoreRef, VerifyTimestamp};
use crate::trust_store::StoreType;
use crate::verdict::{Action, ReasonCode, ValidationKind};

use super::run::SignatureRun;
use super::{fmt_time, VerificationInput, Verifier};

impl Verifier {
    /// Trust anchoring (any chain certificate DER-equal to a store certificate
    /// of the scheme's type) and trusted identities.
    pub(super) fn check_authenticity(
        &self,
        run: &mut SignatureRun,
        statement: &Statement,
        env: &VerifiedEnvelope,
    ) -> bool {
        let store_type = match env.scheme {
            SigningScheme::X509 => StoreType::Ca,
            SigningScheme::SigningAuthority => StoreType::SigningAuthority,
        };
        let trusted = match self.store_certificates(&statement.trust_stores, store_type) {
            Ok(certs) => certs,
            Err(message) => {
                return run.fail(
                    ValidationKind::Authenticity,
                    ReasonCode::TrustStoreError,
                    message,
                )
            }
        };
        let mut ok = true;
        if trusted.is_empty() {
            ok = run.fail(
                ValidationKind::Authenticity,
                ReasonCode::UntrustedSigner,
                format!(
                    "no trusted certificates are found to verify authenticity: statement \"{}\" names no {} trust store for the {} signing scheme",
                    statement.name,
                    store_type.as_str(),
                    env.scheme.as_str()
                ),
            );
        } else if !env
            .chain
            .iter()
            .any(|c| trusted.iter().any(|t| t.der() == c.der()))
        {
            ok = run.fail(
                ValidationKind::Authenticity,
                ReasonCode::UntrustedSigner,
                format!(
                    "the signature's certificate chain (signer \"{}\", root \"{}\") does not contain any certificate of the {} trust stores of statement \"{}\"",
                    env.chain.first().map(Certificate::subject).unwrap_or_default(),
                    env.chain.last().map(Certificate::subject).unwrap_or_default(),
                    store_type.as_str(),
                    statement.name
                ),
            );
        }
        if !ok {
            return false;
        }
        // notation-go runs the identity check even after a logged authenticity failure.
        let Some(leaf) = env.chain.first() else {
            return run.fail(
                ValidationKind::Authenticity,
                ReasonCode::MalformedEnvelope,
                "empty certificate chain".into(),
            );
        };
        match statement
            .trusted_identities
            .check_leaf(leaf, &statement.name)
        {
            Ok(()) => {
                run.pass(ValidationKind::Authenticity);
                true
            }
            Err(e) => run.fail(
                ValidationKind::Authenticity,
                ReasonCode::IdentityMismatch,
                // Say who did sign: the fix is either side of this pair.
                format!("{e}; the signer is \"{}\"", leaf.subject()),
            ),
        }
    }

    pub(super) fn check_authentic_timestamp(
        &self,
        run: &mut SignatureRun,
        statement: &Statement,
        env: &VerifiedEnvelope,
        input: &VerificationInput<'_>,
    ) -> bool {
        const KIND: ValidationKind = ValidationKind::AuthenticTimestamp;
        if run.action(KIND) == Action::Skip {
            return true;
        }
        if env.scheme == SigningScheme::SigningAuthority {
            // The authentic signing time must fall inside every certificate's validity.
            for cert in &env.chain {
                if !cert.is_valid_at(env.signing_time) {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "certificate \"{}\" (valid {} to {}) was not valid when the digital signature was produced at {}",
                            cert.subject(),
                            fmt_time(cert.not_before()),
                            fmt_time(cert.not_after()),
                            fmt_time(env.signing_time)
                        ),
                    );
                }
            }
            run.pass(KIND);
            return true;
        }
        let tsa_refs: Vec<&TrustStoreRef> = statement
            .trust_stores
            .iter()
            .filter(|r| r.store_type == StoreType::Tsa)
            .collect();
        let any_expired = env.chain.iter().any(|c| input.time > c.not_after());
        let use_timestamp = !tsa_refs.is_empty()
            && (statement.verify_timestamp == VerifyTimestamp::Always || any_expired);
        if !use_timestamp {
            for cert in &env.chain {
                if input.time < cert.not_before() {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "verification time is before certificate \"{}\" validity period, it will be valid from {}",
                            cert.subject(),
                            fmt_time(cert.not_before())
                        ),
                    );
                }
                if input.time > cert.not_after() {
                    return run.fail(
                        KIND,
                        ReasonCode::CertExpiredNoTimestamp,
                        format!(
                            "verification time is after certificate \"{}\" validity period, it was expired at {}",
                            cert.subject(),
                            fmt_time(cert.not_after())
                        ),
                    );
                }
            }
            run.pass(KIND);
            return true;
        }
        let Some(token) = env.timestamp_token.as_deref() else {
            return run.fail(
                KIND,
                ReasonCode::TimestampInvalid,
                "no timestamp countersignature was found in the signature envelope, but the trust policy requires one (it names a tsa trust store)".into(),
            );
        };
        let tsa_roots =
            match self.store_certificates(statement.trust_stores.as_slice(), StoreType::Tsa) {
                Ok(c) if c.is_empty() => {
                    return run.fail(
                        KIND,
                        ReasonCode::TimestampInvalid,
                        "no trusted TSA certificate found in trust store".into(),
                    )
                }
                Ok(c) => c,
                Err(message) => {
                    return run.fail(
                        KIND,
                        ReasonCode::TimestampInvalid,
                        format!("failed to load tsa trust store: {message}"),
                    )
                }
            };
        let ts = match timestamp::verify_token(token, &env.signature, &tsa_roots) {
            Ok(ts) => ts,
            Err(e) => {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!("the timestamp countersignature does not verify: {e}"),
                )
            }
        };
        run.timestamp_time = Some(ts.gen_time);
        for cert in &env.chain {
            if ts.earliest() < cert.not_before() {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!(
                        "timestamp can be before certificate \"{}\" validity period, it will be valid from {}",
                        cert.subject(),
                        fmt_time(cert.not_before())
                    ),
                );
            }
            if ts.latest() > cert.not_after() {
                return run.fail(
                    KIND,
                    ReasonCode::TimestampInvalid,
                    format!(
                        "timestamp can be after certificate \"{}\" validity period, it was expired at {}",
                        cert.subject(),
                        fmt_time(cert.not_after())
                    ),
                );
            }
        }
        // The TSA chain is always revocation-checked (notation-go cannot turn it off).
        // verify_token validated the TSA chain's shape.
        match revocation::check_validated_chain(&ts.tsa_chain, input.revocation, input.time, None) {
            RevocationStatus::Good => {}
            RevocationStatus::Revoked { subject } => {
                return run.fail(
                    KIND,
                    ReasonCode::Revoked,
                    format!("timestamping certificate with subject \"{subject}\" is revoked"),
                )
            }
            RevocationStatus::Unknown { subject, detail } => {
                return run.fail(
                    KIND,
                    ReasonCode::RevocationUnknown,
                    format!("timestamping certificate with subject \"{subject}\" revocation status is unknown: {detail}"),
                )
            }
        }
        run.pass(KIND);
        true
    }
}

pub(super) fn check_expiry(
    run: &mut SignatureRun,
    env: &VerifiedEnvelope,
    now: DateTime<Utc>,
) -> bool {
    const KIND: ValidationKind = ValidationKind::Expiry;
    if run.action(KIND) == Action::Skip {
        return true;
    }
    match env.expiry {
        Some(expiry) if now >= expiry => run.fail(
            KIND,
            ReasonCode::ExpiredSignature,
            format!("digital signature has expired on {}", fmt_time(expiry)),
        ),
        _ => {
            run.pass(KIND);
            true
        }
    }
}

pub(super) fn check_revocation(
    run: &mut SignatureRun,
    env: &VerifiedEnvelope,
    input: &VerificationInput<'_>,
) -> bool {
    const KIND: ValidationKind = ValidationKind::Revocation;
    if run.action(KIND) == Action::Skip {
        return true;
    }
    // Only an authentic signing time may be compared with an invalidity date.
    let authentic_time =
        (env.scheme == SigningScheme::SigningAuthority).then_some(env.signing_time);
    // The chain passed the code-signing shape rules in the integrity step.
    match revocation::check_validated_chain(&env.chain, input.revocation, input.time, authentic_time) {
        RevocationStatus::Good => {
            run.pass(KIND);
            true
        }
        RevocationStatus::Revoked { subject } => run.fail(
            KIND,
            ReasonCode::Revoked,
            format!("signing certificate with subject \"{subject}\" is revoked"),
        ),
        RevocationStatus::Unknown { subject, detail } => run.fail(
            KIND,
            ReasonCode::RevocationUnknown,
            format!("signing certificate with subject \"{subject}\" revocation status is unknown: {detail}"),
        ),
    }
}
