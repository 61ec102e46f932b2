//! A test revocation authority: CRLs and OCSP responses for certificates of
//! the test PKI, and a loopback HTTP server that publishes them.
//!
//! Why: certificates that name OCSP responders or CRL distribution points
//! (see [`crate::pki::TestPkiBuilder::leaf_ocsp_url`]) can only verify at
//! `strict` with fresh, signed status material. Tests need that material
//! for chosen states (good, revoked, unknown, stale), and `vns attach` must
//! fetch it over HTTP as it would from a real CA, so the server speaks just
//! enough HTTP/1.1 for `GET /<name>.crl` and `POST /ocsp` (RFC 6960 A.1).
//!
//! The material is what CAs issue: CRLs version 2 with thisUpdate,
//! nextUpdate, the revoked serials (with reasonCode when given), a CRLNumber
//! and an AuthorityKeyIdentifier; OCSP responses `successful` with a
//! BasicOCSPResponse signed by the issuer itself (responderID byName), the
//! CertID of the request echoed (SHA-1 as notation-core-go and `vns` send
//! it), thisUpdate and nextUpdate.

mod authority;
mod material;
mod server;

pub use authority::RevocationAuthority;
pub use material::{
    crl, crl_with_scope, fresh_crl, ocsp_error_response, ocsp_response, ocsp_response_of, CrlScope,
};
pub use server::RevocationServer;

use std::time::Duration as StdDuration;

use chrono::{DateTime, Utc};
use der::asn1::{GeneralizedTime, OctetString};
use der::Encode;
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::certificate::Certificate as X509Certificate;
use x509_cert::ext::pkix::CrlReason;
use x509_ocsp::{CertId, OcspGeneralizedTime};

use crate::pki::{Cert, PkiError};

/// Why material could not be issued or served.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("encoding failed: {0}")]
    Encoding(String),
    #[error("{0} cannot be encoded (before 1970?)")]
    Time(DateTime<Utc>),
    #[error("no issuer named {0:?} is registered with the revocation authority")]
    UnknownIssuer(String),
    #[error("the issuer of {0:?} is not registered with the revocation authority")]
    NotIssued(String),
    #[error("an issuer named {0:?} is already registered")]
    DuplicateIssuer(String),
    #[error("malformed OCSP request: {0}")]
    MalformedRequest(String),
    #[error("the revocation server failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<der::Error> for RevocationError {
    fn from(e: der::Error) -> Self {
        RevocationError::Encoding(e.to_string())
    }
}

mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SHA1: Oid = Oid::new_unwrap("1.3.14.3.2.26");
    pub const SHA256: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.1");
    pub const SHA384: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.2");
    pub const SHA512: Oid = Oid::new_unwrap("2.16.840.1.101.3.4.2.3");
    pub const OCSP_BASIC: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.48.1.1");
    pub const CRL_NUMBER: Oid = Oid::new_unwrap("2.5.29.20");
    pub const REASON_CODE: Oid = Oid::new_unwrap("2.5.29.21");
    pub const ISSUING_DISTRIBUTION_POINT: Oid = Oid::new_unwrap("2.5.29.28");
}

/// The status the authority gives a certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CertificateStatus {
    Good,
    /// Listed on the CRL; OCSP answers `revoked`.
    Revoked {
        at: DateTime<Utc>,
        reason: Option<CrlReason>,
    },
    /// Not listed on the CRL; OCSP answers `unknown`.
    Unknown,
}

/// One revoked serial on a CRL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokedSerial {
    /// The serial number's bytes, as in the certificate.
    pub serial: Vec<u8>,
    pub revoked_at: DateTime<Utc>,
    /// Written as a non-critical reasonCode entry extension when present.
    pub reason: Option<CrlReason>,
}

fn generalized(t: DateTime<Utc>) -> Result<GeneralizedTime, RevocationError> {
    let secs = u64::try_from(t.timestamp()).map_err(|_| RevocationError::Time(t))?;
    GeneralizedTime::from_unix_duration(StdDuration::from_secs(secs))
        .map_err(|_| RevocationError::Time(t))
}

pub(crate) fn ocsp_time(t: DateTime<Utc>) -> Result<OcspGeneralizedTime, RevocationError> {
    Ok(OcspGeneralizedTime(generalized(t)?))
}

/// The serial number bytes of a certificate.
pub fn serial_of(cert: &Cert) -> Result<Vec<u8>, RevocationError> {
    Ok(cert
        .x509()?
        .tbs_certificate
        .serial_number
        .as_bytes()
        .to_vec())
}

/// What identifies an issuer in a CertID: its subject DER and public key bits.
pub(crate) struct IssuerId {
    subject_der: Vec<u8>,
    key_bits: Vec<u8>,
}

impl IssuerId {
    pub(crate) fn of(cert: &X509Certificate) -> Result<Self, RevocationError> {
        Ok(Self {
            subject_der: cert.tbs_certificate.subject.to_der()?,
            key_bits: cert
                .tbs_certificate
                .subject_public_key_info
                .subject_public_key
                .raw_bytes()
                .to_vec(),
        })
    }

    /// Whether a CertID's issuer hashes name this issuer (SHA-1 or SHA-2).
    pub(crate) fn matches(&self, id: &CertId) -> bool {
        let hash = |data: &[u8]| -> Option<Vec<u8>> {
            let a = id.hash_algorithm.oid;
            Some(if a == oid::SHA1 {
                sha1::Sha1::digest(data).to_vec()
            } else if a == oid::SHA256 {
                Sha256::digest(data).to_vec()
            } else if a == oid::SHA384 {
                Sha384::digest(data).to_vec()
            } else if a == oid::SHA512 {
                Sha512::digest(data).to_vec()
            } else {
                return None;
            })
        };
        match (hash(&self.subject_der), hash(&self.key_bits)) {
            (Some(name), Some(key)) => {
                id.issuer_name_hash.as_bytes() == name && id.issuer_key_hash.as_bytes() == key
            }
            _ => false,
        }
    }
}

/// The CertID of `cert` issued by `issuer`, hashed with SHA-1 (parameters
/// NULL), as notation-core-go and `vns` put it into their requests.
pub fn sha1_cert_id(issuer: &Cert, cert: &Cert) -> Result<CertId, RevocationError> {
    let id = IssuerId::of(&issuer.x509()?)?;
    Ok(CertId {
        hash_algorithm: spki::AlgorithmIdentifierOwned {
            oid: oid::SHA1,
            parameters: Some(der::asn1::Null.into()),
        },
        issuer_name_hash: OctetString::new(sha1::Sha1::digest(&id.subject_der).to_vec())?,
        issuer_key_hash: OctetString::new(sha1::Sha1::digest(&id.key_bits).to_vec())?,
        serial_number: cert.x509()?.tbs_certificate.serial_number,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyKind, TestPki};
    use chrono::Duration;
    use der::asn1::Uint;
    use der::Decode;
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use x509_cert::certificate::Version;
    use x509_cert::crl::CertificateList;
    use x509_ocsp::{
        BasicOcspResponse, CertStatus, OcspRequest, OcspResponse, OcspResponseStatus, ResponderId,
        SingleResponse,
    };

    fn setup() -> (TestPki, RevocationAuthority) {
        let pki = TestPki::builder(KeyKind::P256)
            .name("revocation-unit")
            .leaf_ocsp_url("http://127.0.0.1:1/ocsp")
            .leaf_crl_url("http://127.0.0.1:1/inter.crl")
            .build()
            .unwrap();
        let authority = RevocationAuthority::new();
        authority.add_issuer("inter", &pki.intermediate).unwrap();
        authority.add_issuer("root", &pki.root).unwrap();
        (pki, authority)
    }

    fn http(method: &str, url: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
        let rest = url.strip_prefix("http://").unwrap();
        let (host, path) = rest.split_once('/').unwrap();
        let mut s = TcpStream::connect(host).unwrap();
        write!(
            s,
            "{method} /{path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .unwrap();
        s.write_all(body).unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).unwrap();
        let end = out.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let head = String::from_utf8_lossy(&out[..end]).to_string();
        let status = head[9..12].parse().unwrap();
        (status, head, out[end..].to_vec())
    }

    fn request_for(issuer: &Cert, cert: &Cert) -> Vec<u8> {
        OcspRequest {
            tbs_request: x509_ocsp::TbsRequest {
                version: x509_ocsp::Version::V1,
                requestor_name: None,
                request_list: vec![x509_ocsp::Request {
                    req_cert: sha1_cert_id(issuer, cert).unwrap(),
                    single_request_extensions: None,
                }],
                request_extensions: None,
            },
            optional_signature: None,
        }
        .to_der()
        .unwrap()
    }

    fn single(der: &[u8]) -> (BasicOcspResponse, SingleResponse) {
        let r = OcspResponse::from_der(der).unwrap();
        assert_eq!(r.response_status, OcspResponseStatus::Successful);
        let bytes = r.response_bytes.unwrap();
        assert_eq!(bytes.response_type, oid::OCSP_BASIC);
        let basic = BasicOcspResponse::from_der(bytes.response.as_bytes()).unwrap();
        let single = basic.tbs_response_data.responses[0].clone();
        (basic, single)
    }

    #[test]
    fn crl_lists_revoked_serials_and_counts_up() {
        let (pki, authority) = setup();
        let first = CertificateList::from_der(&authority.crl("inter").unwrap()).unwrap();
        assert_eq!(first.tbs_cert_list.version, Version::V2);
        assert!(first.tbs_cert_list.revoked_certificates.is_none());
        authority.revoke(&pki.leaf.cert, Utc::now()).unwrap();
        let second = CertificateList::from_der(&authority.crl("inter").unwrap()).unwrap();
        let tbs = &second.tbs_cert_list;
        assert_eq!(
            tbs.issuer.to_der().unwrap(),
            pki.intermediate
                .cert
                .x509()
                .unwrap()
                .tbs_certificate
                .subject
                .to_der()
                .unwrap()
        );
        let revoked = tbs.revoked_certificates.as_ref().unwrap();
        assert_eq!(
            revoked[0].serial_number.as_bytes(),
            serial_of(&pki.leaf.cert).unwrap()
        );
        let number = tbs.crl_extensions.as_ref().unwrap()[0].clone();
        assert_eq!(number.extn_id, oid::CRL_NUMBER);
        assert_eq!(
            Uint::from_der(number.extn_value.as_bytes())
                .unwrap()
                .as_bytes(),
            &[2]
        );
        let now = Utc::now().timestamp() as u64;
        assert!(tbs.this_update.to_unix_duration().as_secs() < now);
        let next = tbs.next_update.unwrap().to_unix_duration().as_secs();
        assert!(next > now + 23 * 3600 && next <= now + 24 * 3600);
        // The signature verifies with the issuer's key (through the verifier's parser).
        let issuer =
            notation_verifier::cert::Certificate::from_der(pki.intermediate.cert.der()).unwrap();
        issuer
            .key()
            .unwrap()
            .verify_x509_signature(
                &second.signature_algorithm,
                &tbs.to_der().unwrap(),
                second.signature.as_bytes().unwrap(),
            )
            .unwrap();
        assert!(matches!(
            authority.crl("nope"),
            Err(RevocationError::UnknownIssuer(_))
        ));
    }

    #[test]
    fn ocsp_answers_good_revoked_unknown_and_refuses_strangers() {
        let (pki, authority) = setup();
        let request = request_for(&pki.intermediate.cert, &pki.leaf.cert);
        let (basic, good) = single(&authority.answer_ocsp_request(&request).unwrap());
        assert_eq!(good.cert_status, CertStatus::good());
        assert_eq!(
            good.cert_id,
            sha1_cert_id(&pki.intermediate.cert, &pki.leaf.cert).unwrap()
        );
        assert!(good.next_update.is_some());
        assert!(matches!(
            basic.tbs_response_data.responder_id,
            ResponderId::ByName(_)
        ));

        authority.revoke(&pki.leaf.cert, Utc::now()).unwrap();
        let (_, revoked) = single(&authority.answer_ocsp_request(&request).unwrap());
        assert!(matches!(revoked.cert_status, CertStatus::Revoked(_)));
        authority
            .set_status(&pki.leaf.cert, CertificateStatus::Unknown)
            .unwrap();
        let (_, unknown) = single(&authority.ocsp_response(&pki.leaf.cert).unwrap());
        assert_eq!(unknown.cert_status, CertStatus::unknown());
        authority.reinstate(&pki.leaf.cert).unwrap();
        assert_eq!(
            authority.status(&pki.leaf.cert).unwrap(),
            CertificateStatus::Good
        );

        let stranger = TestPki::builder(KeyKind::P256)
            .name("revocation-stranger")
            .build()
            .unwrap();
        let foreign = request_for(&stranger.intermediate.cert, &stranger.leaf.cert);
        let r = OcspResponse::from_der(&authority.answer_ocsp_request(&foreign).unwrap()).unwrap();
        assert_eq!(r.response_status, OcspResponseStatus::Unauthorized);
        let r = OcspResponse::from_der(&authority.answer_ocsp_request(b"junk").unwrap()).unwrap();
        assert_eq!(r.response_status, OcspResponseStatus::MalformedRequest);
    }

    #[test]
    fn the_verifier_accepts_the_material_and_sees_revocation() {
        use notation_verifier::revocation::{
            check_chain, Purpose, RevocationMaterial, RevocationStatus,
        };
        let (pki, authority) = setup();
        let chain: Vec<_> = pki
            .chain()
            .iter()
            .map(|c| notation_verifier::cert::Certificate::from_der(c.der()).unwrap())
            .collect();
        let now = Utc::now();
        let ocsp_only = RevocationMaterial {
            crls: vec![],
            ocsp_responses: vec![authority.ocsp_response(&pki.leaf.cert).unwrap()],
        };
        let crl_only = RevocationMaterial {
            crls: vec![authority.crl("inter").unwrap()],
            ocsp_responses: vec![],
        };
        for m in [&ocsp_only, &crl_only] {
            assert_eq!(
                check_chain(&chain, Purpose::CodeSigning, m, now, None),
                RevocationStatus::Good
            );
        }
        authority.revoke(&pki.leaf.cert, now).unwrap();
        for m in [
            RevocationMaterial {
                crls: vec![],
                ocsp_responses: vec![authority.ocsp_response(&pki.leaf.cert).unwrap()],
            },
            RevocationMaterial {
                crls: vec![authority.crl("inter").unwrap()],
                ocsp_responses: vec![],
            },
        ] {
            assert!(matches!(
                check_chain(&chain, Purpose::CodeSigning, &m, now, None),
                RevocationStatus::Revoked { subject } if subject.contains("revocation-unit")
            ));
        }
        // Already stale when issued.
        authority.reinstate(&pki.leaf.cert).unwrap();
        authority.set_freshness(Duration::days(-2), Duration::days(-1));
        let stale = RevocationMaterial {
            crls: vec![authority.crl("inter").unwrap()],
            ocsp_responses: vec![authority.ocsp_response(&pki.leaf.cert).unwrap()],
        };
        assert!(matches!(
            check_chain(&chain, Purpose::CodeSigning, &stale, now, None),
            RevocationStatus::Unknown { detail, .. } if detail.contains("stale")
        ));
    }

    #[test]
    fn the_server_serves_crls_and_ocsp_until_stopped() {
        let (pki, authority) = setup();
        let mut server = authority.serve().unwrap();
        let (status, head, body) = http("GET", &server.crl_url("inter"), b"");
        assert_eq!(status, 200);
        assert!(head.contains("application/pkix-crl"), "{head}");
        CertificateList::from_der(&body).unwrap();
        let request = request_for(&pki.intermediate.cert, &pki.leaf.cert);
        let (status, head, body) = http("POST", &server.ocsp_url(), &request);
        assert_eq!(status, 200);
        assert!(head.contains("application/ocsp-response"), "{head}");
        let (_, good) = single(&body);
        assert_eq!(good.cert_status, CertStatus::good());
        assert_eq!(http("GET", &server.crl_url("nope"), b"").0, 404);
        assert_eq!(http("GET", &format!("{}/x", server.base_url()), b"").0, 404);
        assert_eq!(server.requests().len(), 4, "{:?}", server.requests());

        let addr = server.base_url().trim_start_matches("http://").to_string();
        server.stop();
        assert!(!server.is_running());
        assert!(TcpStream::connect(&addr).is_err());
        server.restart().unwrap();
        assert_eq!(http("GET", &server.crl_url("root"), b"").0, 200);
        drop(server);
        assert!(TcpStream::connect(&addr).is_err());
    }
}
