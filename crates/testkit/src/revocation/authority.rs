//! The revocation authority: issuers registered by name, a status per
//! serial, and the CRLs and OCSP answers that follow from them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, SubsecRound, Utc};
use der::{Decode, Encode};
use x509_cert::ext::pkix::CrlReason;
use x509_ocsp::{OcspRequest, OcspResponseStatus};

use super::material::{crl, ocsp_error_response, ocsp_response, ocsp_response_of, single_response};
use super::RevocationServer;
use super::{CertificateStatus, IssuerId, RevocationError, RevokedSerial};
use crate::pki::{Cert, CertifiedKey};

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
