//! CRLs and OCSP responses as CAs issue them, for chosen states.

use chrono::{DateTime, Duration, Utc};
use der::asn1::{BitString, OctetString, Uint};
use der::Encode;
use x509_cert::certificate::Version;
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::AuthorityKeyIdentifier;
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspResponse, OcspResponseStatus, ResponderId,
    ResponseBytes, ResponseData, RevokedInfo, SingleResponse,
};

use super::{ocsp_time, oid, sha1_cert_id, CertificateStatus, RevocationError, RevokedSerial};
use crate::pki::{Cert, CertifiedKey};

/// A DER CRL (version 2) of `issuer` listing `revoked`, with CRLNumber
/// `number` and the issuer's key identifier, signed by the issuer's key.
/// A complete CRL of the issuer (no IssuingDistributionPoint).
pub fn crl(
    issuer: &CertifiedKey,
    revoked: &[RevokedSerial],
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    number: u64,
) -> Result<Vec<u8>, RevocationError> {
    crl_with_scope(
        issuer,
        revoked,
        this_update,
        next_update,
        number,
        &CrlScope::default(),
    )
}

/// What a CRL says it covers: its IssuingDistributionPoint extension
/// (RFC 5280 §5.2.5, critical). The default writes no IDP (a complete CRL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrlScope {
    /// The distribution point's fullName URIs (a CRL partition).
    pub distribution_point: Vec<String>,
    pub only_user_certs: bool,
    pub only_ca_certs: bool,
    /// onlySomeReasons, as RFC 5280 ReasonFlags bits (1 << reason code).
    pub only_some_reasons: Option<u16>,
    pub indirect: bool,
}

impl CrlScope {
    /// The CRL of the partition at `url`.
    pub fn partition(url: impl Into<String>) -> Self {
        Self {
            distribution_point: vec![url.into()],
            ..Self::default()
        }
    }

    fn is_complete(&self) -> bool {
        *self == Self::default()
    }

    fn extension(&self) -> Result<Extension, RevocationError> {
        use x509_cert::ext::pkix::crl::dp::{IssuingDistributionPoint, ReasonFlags};
        use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
        let names = self
            .distribution_point
            .iter()
            .map(|u| {
                Ok(GeneralName::UniformResourceIdentifier(
                    der::asn1::Ia5String::new(u)?,
                ))
            })
            .collect::<Result<Vec<_>, RevocationError>>()?;
        let idp = IssuingDistributionPoint {
            distribution_point: (!names.is_empty())
                .then_some(DistributionPointName::FullName(names)),
            only_contains_user_certs: self.only_user_certs,
            only_contains_ca_certs: self.only_ca_certs,
            only_some_reasons: self
                .only_some_reasons
                .map(|bits| {
                    ReasonFlags::new(bits).map_err(|e| {
                        RevocationError::Encoding(format!("reason flags {bits:#x}: {e:?}"))
                    })
                })
                .transpose()?,
            indirect_crl: self.indirect,
            only_contains_attribute_certs: false,
        };
        // Not IssuingDistributionPoint::OID: x509-cert 0.2 gives it another.
        Ok(Extension {
            extn_id: oid::ISSUING_DISTRIBUTION_POINT,
            critical: true,
            extn_value: OctetString::new(idp.to_der()?)?,
        })
    }
}

/// A CRL of `issuer` with `scope`, fresh now (issued an hour ago, next
/// update in a week), listing `revoked` as revoked a day ago: the usual
/// material of a scope test.
pub fn fresh_crl(
    issuer: &CertifiedKey,
    revoked: &[&Cert],
    number: u64,
    scope: &CrlScope,
) -> Result<Vec<u8>, RevocationError> {
    let now = Utc::now();
    let serials = revoked
        .iter()
        .map(|c| {
            Ok(RevokedSerial {
                serial: super::serial_of(c)?,
                revoked_at: now - Duration::days(1),
                reason: None,
            })
        })
        .collect::<Result<Vec<_>, RevocationError>>()?;
    crl_with_scope(
        issuer,
        &serials,
        now - Duration::hours(1),
        now + Duration::days(7),
        number,
        scope,
    )
}

/// [`crl`] with the scope `scope` written as its IssuingDistributionPoint.
pub fn crl_with_scope(
    issuer: &CertifiedKey,
    revoked: &[RevokedSerial],
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    number: u64,
    scope: &CrlScope,
) -> Result<Vec<u8>, RevocationError> {
    use der::oid::AssociatedOid;
    let issuer_cert = issuer.cert.x509()?;
    let (algorithm, _) = issuer.key.x509_algorithm()?;
    let entries = revoked
        .iter()
        .map(|r| {
            let crl_entry_extensions = match r.reason {
                Some(reason) => Some(vec![Extension {
                    extn_id: oid::REASON_CODE,
                    critical: false,
                    extn_value: OctetString::new(reason.to_der()?)?,
                }]),
                None => None,
            };
            Ok(RevokedCert {
                serial_number: SerialNumber::new(&r.serial)?,
                revocation_date: crate::pki::x509_time(r.revoked_at)?,
                crl_entry_extensions,
            })
        })
        .collect::<Result<Vec<_>, RevocationError>>()?;
    let aki = AuthorityKeyIdentifier {
        key_identifier: Some(crate::pki::key_identifier(
            &issuer_cert.tbs_certificate.subject_public_key_info,
        )?),
        authority_cert_issuer: None,
        authority_cert_serial_number: None,
    };
    let mut extensions = vec![
        Extension {
            extn_id: oid::CRL_NUMBER,
            critical: false,
            extn_value: OctetString::new(Uint::new(&number.to_be_bytes())?.to_der()?)?,
        },
        Extension {
            extn_id: AuthorityKeyIdentifier::OID,
            critical: false,
            extn_value: OctetString::new(aki.to_der()?)?,
        },
    ];
    if !scope.is_complete() {
        extensions.push(scope.extension()?);
    }
    let tbs = TbsCertList {
        version: Version::V2,
        signature: algorithm.clone(),
        issuer: issuer_cert.tbs_certificate.subject.clone(),
        this_update: crate::pki::x509_time(this_update)?,
        next_update: Some(crate::pki::x509_time(next_update)?),
        revoked_certificates: (!entries.is_empty()).then_some(entries),
        crl_extensions: Some(extensions),
    };
    let signed = issuer.key.sign_x509(&tbs.to_der()?)?;
    let list = CertificateList {
        tbs_cert_list: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signed.signature)?,
    };
    Ok(list.to_der()?)
}

pub(super) fn single_response(
    cert_id: CertId,
    status: CertificateStatus,
    this_update: DateTime<Utc>,
    next_update: Option<DateTime<Utc>>,
) -> Result<SingleResponse, RevocationError> {
    let cert_status = match status {
        CertificateStatus::Good => CertStatus::good(),
        CertificateStatus::Revoked { at, reason } => CertStatus::revoked(RevokedInfo {
            revocation_time: ocsp_time(at)?,
            revocation_reason: reason,
        }),
        CertificateStatus::Unknown => CertStatus::unknown(),
    };
    Ok(SingleResponse {
        cert_id,
        cert_status,
        this_update: ocsp_time(this_update)?,
        next_update: next_update.map(ocsp_time).transpose()?,
        single_extensions: None,
    })
}

/// A `successful` DER OCSPResponse whose BasicOCSPResponse, signed by
/// `issuer` (responderID byName, producedAt now), holds `responses`.
pub fn ocsp_response_of(
    issuer: &CertifiedKey,
    responses: Vec<SingleResponse>,
) -> Result<Vec<u8>, RevocationError> {
    let issuer_cert = issuer.cert.x509()?;
    let tbs = ResponseData {
        version: x509_ocsp::Version::V1,
        responder_id: ResponderId::ByName(issuer_cert.tbs_certificate.subject.clone()),
        produced_at: ocsp_time(Utc::now())?,
        responses,
        response_extensions: None,
    };
    let signed = issuer.key.sign_x509(&tbs.to_der()?)?;
    let basic = BasicOcspResponse {
        tbs_response_data: tbs,
        signature_algorithm: signed.algorithm,
        signature: BitString::from_bytes(&signed.signature)?,
        certs: None,
    };
    let response = OcspResponse {
        response_status: OcspResponseStatus::Successful,
        response_bytes: Some(ResponseBytes {
            response_type: oid::OCSP_BASIC,
            response: OctetString::new(basic.to_der()?)?,
        }),
    };
    Ok(response.to_der()?)
}

/// A DER OCSP response of `issuer` about `cert` (SHA-1 CertID).
pub fn ocsp_response(
    issuer: &CertifiedKey,
    cert: &Cert,
    status: CertificateStatus,
    this_update: DateTime<Utc>,
    next_update: Option<DateTime<Utc>>,
) -> Result<Vec<u8>, RevocationError> {
    let id = sha1_cert_id(&issuer.cert, cert)?;
    ocsp_response_of(
        issuer,
        vec![single_response(id, status, this_update, next_update)?],
    )
}

/// An OCSPResponse without body (`malformedRequest`, `unauthorized`, ...).
pub fn ocsp_error_response(status: OcspResponseStatus) -> Result<Vec<u8>, RevocationError> {
    Ok(OcspResponse {
        response_status: status,
        response_bytes: None,
    }
    .to_der()?)
}
