//! OCSP responses (RFC 6960) about one certificate: issuer or delegated
//! responder signature, CertID, freshness, status.

use chrono::{DateTime, Duration, Utc};
use der::{Decode, Encode};
use x509_ocsp::{BasicOcspResponse, CertStatus as OcspStatus, OcspResponse, OcspResponseStatus};

use super::{gtime, invalid_after_signing, oid, CertStatus, RevocationMaterial};
use crate::cert::{eku, Certificate};
use crate::crypto::HashAlgorithm;

/// Whether one DER OCSP response decides the status of `cert` (issued by
/// `issuer`) at `time`: it verifies, is fresh, is about this certificate
/// and says good or revoked. Fetchers use it to skip CRLs, as
/// notation-core-go does when OCSP answers.
pub fn ocsp_decides(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    time: DateTime<Utc>,
) -> bool {
    matches!(
        ocsp_answer(der, cert, issuer, time, None),
        Ok(Some(CertStatus::Good | CertStatus::Revoked))
    )
}

/// A DER OCSP request for `cert` (CertID hashed with SHA-1, as
/// notation-core-go sends it), for callers that fetch material.
pub fn ocsp_request(cert: &Certificate, issuer: &Certificate) -> Result<Vec<u8>, String> {
    use sha1::Digest;
    let key = issuer.public_key_bytes();
    let cert_id = x509_ocsp::CertId {
        hash_algorithm: x509_cert::spki::AlgorithmIdentifierOwned {
            oid: oid::SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: der::asn1::OctetString::new(
            sha1::Sha1::digest(issuer.raw_subject()).to_vec(),
        )
        .map_err(|e| e.to_string())?,
        issuer_key_hash: der::asn1::OctetString::new(sha1::Sha1::digest(key).to_vec())
            .map_err(|e| e.to_string())?,
        serial_number: cert.inner().tbs_certificate.serial_number.clone(),
    };
    let request = x509_ocsp::OcspRequest {
        tbs_request: x509_ocsp::TbsRequest {
            version: x509_ocsp::Version::V1,
            requestor_name: None,
            request_list: vec![x509_ocsp::Request {
                req_cert: cert_id,
                single_request_extensions: None,
            }],
            request_extensions: None,
        },
        optional_signature: None,
    };
    request.to_der().map_err(|e| e.to_string())
}

pub(super) fn status(
    cert: &Certificate,
    issuer: &Certificate,
    material: &RevocationMaterial,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> CertStatus {
    let mut last = "no OCSP response was supplied for it".to_string();
    for der in &material.ocsp_responses {
        match ocsp_answer(der, cert, issuer, time, authentic_signing_time) {
            Ok(Some(status)) => return status,
            Ok(None) => {}
            Err(e) => last = e,
        }
    }
    CertStatus::Unknown(last)
}

/// `Ok(None)`: the response is about another certificate.
fn ocsp_answer(
    der: &[u8],
    cert: &Certificate,
    issuer: &Certificate,
    time: DateTime<Utc>,
    authentic_signing_time: Option<DateTime<Utc>>,
) -> Result<Option<CertStatus>, String> {
    let response =
        OcspResponse::from_der(der).map_err(|e| format!("malformed OCSP response: {e}"))?;
    if response.response_status != OcspResponseStatus::Successful {
        return Err(format!(
            "OCSP responder answered {:?}",
            response.response_status
        ));
    }
    let bytes = response
        .response_bytes
        .ok_or("OCSP response without a body")?;
    if bytes.response_type != oid::OCSP_BASIC {
        return Err(format!(
            "unsupported OCSP response type {}",
            bytes.response_type
        ));
    }
    let basic = BasicOcspResponse::from_der(bytes.response.as_bytes())
        .map_err(|e| format!("malformed basic OCSP response: {e}"))?;
    let Some(single) = basic
        .tbs_response_data
        .responses
        .iter()
        .find(|r| cert_id_matches(&r.cert_id, cert, issuer))
    else {
        return Ok(None);
    };
    verify_ocsp_signature(&basic, issuer, time)?;
    let this_update = gtime(&single.this_update.0);
    if this_update > time + Duration::minutes(5) {
        return Err(format!(
            "the OCSP response is from the future ({this_update})"
        ));
    }
    // A response without nextUpdate is expired, as notation-core-go treats
    // it (its zero NextUpdate is always in the past): a staple cannot be
    // asked again, so it must say how long it holds.
    let Some(next) = &single.next_update else {
        return Err(format!(
            "the OCSP response of {this_update} has no nextUpdate, so it is treated as expired (as notation-core-go does)"
        ));
    };
    if gtime(&next.0) < time {
        return Err(format!(
            "the OCSP response expired at {} (stale)",
            gtime(&next.0)
        ));
    }
    Ok(Some(match &single.cert_status {
        OcspStatus::Good(_) => CertStatus::Good,
        OcspStatus::Revoked(_)
            if invalid_after_signing(&single.single_extensions, authentic_signing_time) =>
        {
            CertStatus::Good
        }
        OcspStatus::Revoked(_) => CertStatus::Revoked,
        OcspStatus::Unknown(_) => {
            CertStatus::Unknown("the OCSP responder does not know the certificate".into())
        }
    }))
}

fn cert_id_matches(id: &x509_ocsp::CertId, cert: &Certificate, issuer: &Certificate) -> bool {
    if id.serial_number.as_bytes() != cert.serial_number() {
        return false;
    }
    let name = issuer.raw_subject();
    let key = issuer.public_key_bytes();
    let (name_hash, key_hash) = if id.hash_algorithm.oid == oid::SHA1 {
        use sha1::Digest;
        (
            sha1::Sha1::digest(name).to_vec(),
            sha1::Sha1::digest(key).to_vec(),
        )
    } else if let Some(h) = HashAlgorithm::from_oid(&id.hash_algorithm.oid) {
        (h.digest(name), h.digest(key))
    } else {
        return false;
    };
    id.issuer_name_hash.as_bytes() == name_hash && id.issuer_key_hash.as_bytes() == key_hash
}

/// Signed by the issuer itself, or by a responder certificate in the
/// response that the issuer issued for OCSP signing and that is valid now.
fn verify_ocsp_signature(
    basic: &BasicOcspResponse,
    issuer: &Certificate,
    time: DateTime<Utc>,
) -> Result<(), String> {
    let tbs = basic
        .tbs_response_data
        .to_der()
        .map_err(|e| e.to_string())?;
    let signature = basic
        .signature
        .as_bytes()
        .ok_or("OCSP signature is not octet aligned")?;
    let check = |signer: &Certificate| {
        signer
            .key()
            .map_err(|e| e.to_string())?
            .verify_x509_signature(&basic.signature_algorithm, &tbs, signature)
            .map_err(|e| e.to_string())
    };
    if check(issuer).is_ok() {
        return Ok(());
    }
    for responder in basic.certs.as_deref().unwrap_or(&[]) {
        let Ok(der) = responder.to_der() else {
            continue;
        };
        let Ok(responder) = Certificate::from_der(&der) else {
            continue;
        };
        let delegated = responder.signature_verifies_with(issuer).is_ok()
            && responder.raw_issuer() == issuer.raw_subject()
            && responder.is_valid_at(time)
            && matches!(responder.extended_key_usage(), Ok(Some(e)) if e.value.contains(&eku::OCSP_SIGNING));
        if delegated && check(&responder).is_ok() {
            return Ok(());
        }
    }
    Err("the OCSP response is not signed by the issuer or a responder it delegated".into())
}
