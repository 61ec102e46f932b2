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

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SubsecRound, Utc};
use der::asn1::{BitString, GeneralizedTime, OctetString, Uint};
use der::{Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::certificate::{Certificate as X509Certificate, Version};
use x509_cert::crl::{CertificateList, RevokedCert, TbsCertList};
use x509_cert::ext::pkix::{AuthorityKeyIdentifier, CrlReason};
use x509_cert::ext::Extension;
use x509_cert::serial_number::SerialNumber;
use x509_ocsp::{
    BasicOcspResponse, CertId, CertStatus, OcspGeneralizedTime, OcspRequest, OcspResponse,
    OcspResponseStatus, ResponderId, ResponseBytes, ResponseData, RevokedInfo, SingleResponse,
};

use crate::pki::{Cert, CertifiedKey, PkiError};

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

fn ocsp_time(t: DateTime<Utc>) -> Result<OcspGeneralizedTime, RevocationError> {
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
struct IssuerId {
    subject_der: Vec<u8>,
    key_bits: Vec<u8>,
}

impl IssuerId {
    fn of(cert: &X509Certificate) -> Result<Self, RevocationError> {
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
    fn matches(&self, id: &CertId) -> bool {
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

/// A DER CRL (version 2) of `issuer` listing `revoked`, with CRLNumber
/// `number` and the issuer's key identifier, signed by the issuer's key.
pub fn crl(
    issuer: &CertifiedKey,
    revoked: &[RevokedSerial],
    this_update: DateTime<Utc>,
    next_update: DateTime<Utc>,
    number: u64,
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
    let extensions = vec![
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

fn single_response(
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

struct IssuerEntry {
    name: String,
    issuer: CertifiedKey,
    id: IssuerId,
    /// Status by serial; serials not listed are good.
    statuses: HashMap<Vec<u8>, CertificateStatus>,
    crl_number: u64,
}

struct State {
    issuers: Vec<IssuerEntry>,
    /// thisUpdate and nextUpdate of what is issued, relative to the time of issue.
    this_update: Duration,
    next_update: Duration,
}

/// Issues CRLs and OCSP responses for registered issuers from the status
/// it keeps per certificate. Clones share the state, so a test can revoke
/// a certificate while a [`RevocationServer`] serves the same authority.
///
/// Certificates of a registered issuer are good unless marked otherwise;
/// a CertID of an unregistered issuer gets `unauthorized` (RFC 6960 §2.3).
#[derive(Clone)]
pub struct RevocationAuthority {
    state: Arc<Mutex<State>>,
}

impl std::fmt::Debug for RevocationAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("RevocationAuthority")
            .field(
                "issuers",
                &state.issuers.iter().map(|i| &i.name).collect::<Vec<_>>(),
            )
            .field("this_update", &state.this_update)
            .field("next_update", &state.next_update)
            .finish()
    }
}

impl Default for RevocationAuthority {
    fn default() -> Self {
        Self::new()
    }
}

impl RevocationAuthority {
    /// An authority issuing material with thisUpdate one minute ago and
    /// nextUpdate one day ahead.
    pub fn new() -> Self {
        Self {
            state: Arc::new(Mutex::new(State {
                issuers: Vec::new(),
                this_update: Duration::minutes(-1),
                next_update: Duration::days(1),
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// thisUpdate and nextUpdate of material issued from now on, relative
    /// to the moment of issue (negative = in the past). For example
    /// `(-2 days, -1 day)` issues material that is already stale.
    pub fn set_freshness(&self, this_update: Duration, next_update: Duration) {
        let mut state = self.lock();
        state.this_update = this_update;
        state.next_update = next_update;
    }

    /// Registers an issuer: its CRL is served as `/<name>.crl`, and OCSP
    /// requests for certificates it issued are answered.
    pub fn add_issuer(&self, name: &str, issuer: &CertifiedKey) -> Result<(), RevocationError> {
        let id = IssuerId::of(&issuer.cert.x509()?)?;
        let mut state = self.lock();
        if state.issuers.iter().any(|i| i.name == name) {
            return Err(RevocationError::DuplicateIssuer(name.to_string()));
        }
        state.issuers.push(IssuerEntry {
            name: name.to_string(),
            issuer: issuer.clone(),
            id,
            statuses: HashMap::new(),
            crl_number: 0,
        });
        Ok(())
    }

    /// Index of the registered issuer of `cert`, and the cert's serial.
    fn locate(state: &State, cert: &Cert) -> Result<(usize, Vec<u8>), RevocationError> {
        let x509 = cert.x509()?;
        let issuer_der = x509.tbs_certificate.issuer.to_der()?;
        let index = state
            .issuers
            .iter()
            .position(|i| i.id.subject_der == issuer_der)
            .ok_or_else(|| RevocationError::NotIssued(cert.subject().to_string()))?;
        Ok((
            index,
            x509.tbs_certificate.serial_number.as_bytes().to_vec(),
        ))
    }

    /// Sets the status of a certificate of a registered issuer.
    pub fn set_status(
        &self,
        cert: &Cert,
        status: CertificateStatus,
    ) -> Result<(), RevocationError> {
        let mut state = self.lock();
        let (index, serial) = Self::locate(&state, cert)?;
        state.issuers[index].statuses.insert(serial, status);
        Ok(())
    }

    /// Revokes a certificate as of `at` (reason keyCompromise).
    pub fn revoke(&self, cert: &Cert, at: DateTime<Utc>) -> Result<(), RevocationError> {
        self.set_status(
            cert,
            CertificateStatus::Revoked {
                at: at.trunc_subsecs(0),
                reason: Some(CrlReason::KeyCompromise),
            },
        )
    }

    /// Makes a certificate good again.
    pub fn reinstate(&self, cert: &Cert) -> Result<(), RevocationError> {
        self.set_status(cert, CertificateStatus::Good)
    }

    pub fn status(&self, cert: &Cert) -> Result<CertificateStatus, RevocationError> {
        let state = self.lock();
        let (index, serial) = Self::locate(&state, cert)?;
        Ok(state.issuers[index]
            .statuses
            .get(&serial)
            .copied()
            .unwrap_or(CertificateStatus::Good))
    }

    fn times(state: &State) -> (DateTime<Utc>, DateTime<Utc>) {
        let now = Utc::now().trunc_subsecs(0);
        (now + state.this_update, now + state.next_update)
    }

    /// A fresh CRL of the issuer registered as `name` (every call gets the
    /// next CRLNumber).
    pub fn crl(&self, name: &str) -> Result<Vec<u8>, RevocationError> {
        let mut state = self.lock();
        let (this_update, next_update) = Self::times(&state);
        let entry = state
            .issuers
            .iter_mut()
            .find(|i| i.name == name)
            .ok_or_else(|| RevocationError::UnknownIssuer(name.to_string()))?;
        entry.crl_number += 1;
        let mut revoked: Vec<RevokedSerial> = entry
            .statuses
            .iter()
            .filter_map(|(serial, status)| match status {
                CertificateStatus::Revoked { at, reason } => Some(RevokedSerial {
                    serial: serial.clone(),
                    revoked_at: *at,
                    reason: *reason,
                }),
                _ => None,
            })
            .collect();
        revoked.sort_by(|a, b| a.serial.cmp(&b.serial));
        crl(
            &entry.issuer,
            &revoked,
            this_update,
            next_update,
            entry.crl_number,
        )
    }

    /// A fresh OCSP response about `cert` (SHA-1 CertID).
    pub fn ocsp_response(&self, cert: &Cert) -> Result<Vec<u8>, RevocationError> {
        let state = self.lock();
        let (index, serial) = Self::locate(&state, cert)?;
        let entry = &state.issuers[index];
        let status = entry
            .statuses
            .get(&serial)
            .copied()
            .unwrap_or(CertificateStatus::Good);
        let (this_update, next_update) = Self::times(&state);
        ocsp_response(&entry.issuer, cert, status, this_update, Some(next_update))
    }

    /// The DER OCSPResponse answering a DER OCSPRequest: one SingleResponse
    /// per requested CertID (all of one issuer), `malformedRequest` when
    /// the request does not parse, `unauthorized` when it names an issuer
    /// this authority does not know.
    pub fn answer_ocsp_request(&self, request: &[u8]) -> Result<Vec<u8>, RevocationError> {
        let Ok(request) = OcspRequest::from_der(request) else {
            return ocsp_error_response(OcspResponseStatus::MalformedRequest);
        };
        let list = request.tbs_request.request_list;
        if list.is_empty() {
            return ocsp_error_response(OcspResponseStatus::MalformedRequest);
        }
        let state = self.lock();
        let (this_update, next_update) = Self::times(&state);
        let mut issuer: Option<&IssuerEntry> = None;
        let mut responses = Vec::new();
        for r in list {
            let Some(entry) = state.issuers.iter().find(|i| i.id.matches(&r.req_cert)) else {
                return ocsp_error_response(OcspResponseStatus::Unauthorized);
            };
            if issuer.is_some_and(|i| i.name != entry.name) {
                return ocsp_error_response(OcspResponseStatus::MalformedRequest);
            }
            issuer = Some(entry);
            let status = entry
                .statuses
                .get(r.req_cert.serial_number.as_bytes())
                .copied()
                .unwrap_or(CertificateStatus::Good);
            responses.push(single_response(
                r.req_cert,
                status,
                this_update,
                Some(next_update),
            )?);
        }
        match issuer {
            Some(entry) => ocsp_response_of(&entry.issuer, responses),
            None => ocsp_error_response(OcspResponseStatus::MalformedRequest),
        }
    }

    /// Starts a [`RevocationServer`] for this authority on 127.0.0.1.
    pub fn serve(&self) -> Result<RevocationServer, RevocationError> {
        RevocationServer::start(self.clone())
    }
}

/// The largest request body the server reads (OCSP requests are tiny).
const MAX_BODY: usize = 64 * 1024;

struct Running {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

/// A loopback HTTP server publishing a [`RevocationAuthority`]:
/// `GET /<name>.crl` answers the issuer's CRL (`application/pkix-crl`),
/// `POST /ocsp` with a DER OCSP request answers an OCSP response
/// (`application/ocsp-response`). Anything else is 404.
///
/// It listens while the value lives; [`Self::stop`] closes the port (so a
/// client that still needs it fails), [`Self::restart`] opens the same
/// port again (certificates name it).
pub struct RevocationServer {
    addr: SocketAddr,
    authority: RevocationAuthority,
    log: Arc<Mutex<Vec<String>>>,
    running: Option<Running>,
}

impl std::fmt::Debug for RevocationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RevocationServer")
            .field("addr", &self.addr)
            .field("running", &self.running.is_some())
            .finish_non_exhaustive()
    }
}

impl RevocationServer {
    /// Listens on an ephemeral loopback port.
    pub fn start(authority: RevocationAuthority) -> Result<Self, RevocationError> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut server = Self {
            addr: listener.local_addr()?,
            authority,
            log: Arc::new(Mutex::new(Vec::new())),
            running: None,
        };
        server.run(listener)?;
        Ok(server)
    }

    fn run(&mut self, listener: TcpListener) -> Result<(), RevocationError> {
        listener.set_nonblocking(true)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let authority = self.authority.clone();
            let log = self.log.clone();
            std::thread::Builder::new()
                .name("testkit-revocation-server".into())
                .spawn(move || accept_loop(listener, &stop, &authority, &log))?
        };
        self.running = Some(Running { stop, thread });
        Ok(())
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The OCSP responder URL, for [`crate::pki::TestPkiBuilder::leaf_ocsp_url`].
    pub fn ocsp_url(&self) -> String {
        format!("{}/ocsp", self.base_url())
    }

    /// The CRL URL of the issuer registered as `name`.
    pub fn crl_url(&self, name: &str) -> String {
        format!("{}/{name}.crl", self.base_url())
    }

    pub fn authority(&self) -> &RevocationAuthority {
        &self.authority
    }

    pub fn is_running(&self) -> bool {
        self.running.is_some()
    }

    /// The requests answered so far, as `METHOD /path -> status`.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Closes the port and waits for the server thread; idempotent.
    pub fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.stop.store(true, Ordering::SeqCst);
            let _ = running.thread.join();
        }
    }

    /// Listens again on the same port after [`Self::stop`] (no-op when
    /// running).
    pub fn restart(&mut self) -> Result<(), RevocationError> {
        if self.running.is_some() {
            return Ok(());
        }
        let listener = TcpListener::bind(self.addr)?;
        self.run(listener)
    }
}

impl Drop for RevocationServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: &AtomicBool,
    authority: &RevocationAuthority,
    log: &Arc<Mutex<Vec<String>>>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let authority = authority.clone();
                let log = log.clone();
                // One thread per connection: a stuck client cannot block others.
                let _ = std::thread::Builder::new()
                    .name("testkit-revocation-conn".into())
                    .spawn(move || handle(stream, &authority, &log));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(StdDuration::from_millis(5));
            }
            Err(_) => std::thread::sleep(StdDuration::from_millis(5)),
        }
    }
}

struct Request {
    method: String,
    path: String,
    body: Vec<u8>,
}

fn read_request(stream: &mut TcpStream) -> Option<Request> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_BODY {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split_whitespace();
    let method = first.next()?.to_string();
    let path = first.next()?.to_string();
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return None;
    }
    let mut body = buf[header_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Some(Request { method, path, body })
}

fn respond(stream: &mut TcpStream, status: u16, content_type: &str, body: &[u8]) {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        _ => "Internal Server Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body))
        .and_then(|()| stream.flush());
}

/// Answers one request and logs it (before answering, so a client that
/// got its answer finds it in the log).
fn handle(mut stream: TcpStream, authority: &RevocationAuthority, log: &Mutex<Vec<String>>) {
    if stream.set_nonblocking(false).is_err()
        || stream
            .set_read_timeout(Some(StdDuration::from_secs(5)))
            .is_err()
    {
        return;
    }
    let Some(request) = read_request(&mut stream) else {
        return;
    };
    let path = request.path.split('?').next().unwrap_or_default();
    let (status, content_type, body): (u16, &str, Vec<u8>) = match (request.method.as_str(), path) {
        ("POST", "/ocsp" | "/ocsp/") => match authority.answer_ocsp_request(&request.body) {
            Ok(der) => (200, "application/ocsp-response", der),
            Err(e) => (500, "text/plain", e.to_string().into_bytes()),
        },
        ("GET", p) if p.ends_with(".crl") => {
            let name = p.trim_start_matches('/').trim_end_matches(".crl");
            match authority.crl(name) {
                Ok(der) => (200, "application/pkix-crl", der),
                Err(RevocationError::UnknownIssuer(n)) => {
                    (404, "text/plain", format!("no CRL {n}").into_bytes())
                }
                Err(e) => (500, "text/plain", e.to_string().into_bytes()),
            }
        }
        (_, "/ocsp" | "/ocsp/") => (405, "text/plain", b"POST an OCSP request".to_vec()),
        _ => (404, "text/plain", b"not found".to_vec()),
    };
    log.lock()
        .unwrap_or_else(|p| p.into_inner())
        .push(format!("{} {} -> {status}", request.method, request.path));
    respond(&mut stream, status, content_type, &body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{KeyKind, TestPki};

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
