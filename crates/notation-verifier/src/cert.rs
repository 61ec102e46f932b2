//! A parsed X.509 certificate with the accessors the Notation rules need.
//!
//! The DER bytes are kept (trust anchoring is DER equality); the subject,
//! the raw names, the to-be-signed bytes and the public key are derived once
//! at parse time so that chain checks never re-parse.

use chrono::{DateTime, Utc};
use der::asn1::ObjectIdentifier;
use der::{Decode, Encode, Reader, Tag};
use sha2::Digest;
use x509_cert::ext::pkix::{
    name::{DistributionPointName, GeneralName},
    AuthorityInfoAccessSyntax, BasicConstraints as BcExt, CrlDistributionPoints, ExtendedKeyUsage,
    KeyUsage, KeyUsages,
};

use crate::crypto::{CryptoError, PublicKey};
use crate::dn::{DnMap, NameParts};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum CertError {
    #[error("malformed certificate: {0}")]
    Malformed(String),
    #[error("no certificate found in {0}")]
    Empty(String),
    #[error("certificate with subject \"{subject}\": {source}")]
    Key {
        subject: String,
        source: CryptoError,
    },
    /// The issuer may not sign certificates (Go: "parent certificate cannot
    /// sign this kind of certificate").
    #[error("x509: invalid signature: parent certificate cannot sign this kind of certificate")]
    ParentCannotSign,
    #[error("{0}")]
    BadSignature(CryptoError),
}

/// Key usage bits as named in RFC 5280.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeyUsageBits {
    pub digital_signature: bool,
    pub content_commitment: bool,
    pub key_encipherment: bool,
    pub data_encipherment: bool,
    pub key_agreement: bool,
    pub key_cert_sign: bool,
    pub crl_sign: bool,
    pub encipher_only: bool,
    pub decipher_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension<T> {
    pub critical: bool,
    pub value: T,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BasicConstraints {
    pub ca: bool,
    pub path_len: Option<u8>,
}

/// Well-known extended key usages.
pub mod eku {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SERVER_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.1");
    pub const CLIENT_AUTH: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.2");
    pub const CODE_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.3");
    pub const EMAIL_PROTECTION: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.4");
    pub const TIME_STAMPING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.8");
    pub const OCSP_SIGNING: Oid = Oid::new_unwrap("1.3.6.1.5.5.7.3.9");
    pub const ANY: Oid = Oid::new_unwrap("2.5.29.37.0");
}

/// Extensions Go's verifier understands; any other critical extension makes
/// `x509.Verify` fail, which matters for TSA path building (§i.2).
const HANDLED_EXTENSIONS: &[&str] = &[
    "2.5.29.15",         // key usage
    "2.5.29.19",         // basic constraints
    "2.5.29.37",         // extended key usage
    "2.5.29.17",         // subject alternative name
    "2.5.29.30",         // name constraints
    "2.5.29.31",         // CRL distribution points
    "2.5.29.35",         // authority key identifier
    "2.5.29.14",         // subject key identifier
    "2.5.29.32",         // certificate policies
    "2.5.29.33",         // policy mappings
    "2.5.29.36",         // policy constraints
    "2.5.29.54",         // inhibit any policy
    "1.3.6.1.5.5.7.1.1", // authority information access
];

fn to_chrono(t: &x509_cert::time::Time) -> DateTime<Utc> {
    let secs = t.to_unix_duration().as_secs();
    i64::try_from(secs)
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, 0))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    inner: x509_cert::Certificate,
    tbs: std::ops::Range<usize>,
    subject: String,
    issuer: String,
    subject_map: Result<DnMap, String>,
    raw_subject: Vec<u8>,
    raw_issuer: Vec<u8>,
    public_key: Result<PublicKey, CryptoError>,
    /// [`Certificate::sha256_fingerprint`], computed on first use and
    /// shared by clones.
    fingerprint: std::sync::Arc<std::sync::OnceLock<String>>,
    /// Whether the signature verifies with the certificate's own key,
    /// computed on first use and shared by clones: a self-signed
    /// certificate is checked when its trust store loads and again when it
    /// is a chain's only certificate, one public-key operation each.
    self_signature: std::sync::Arc<std::sync::OnceLock<Result<(), CertError>>>,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}
impl Eq for Certificate {}

/// Byte range of the TBSCertificate inside the certificate DER, so the
/// signature is checked over the bytes as received rather than a re-encoding.
fn tbs_range(der: &[u8]) -> Result<std::ops::Range<usize>, der::Error> {
    let mut reader = der::SliceReader::new(der)?;
    let outer = der::Header::decode(&mut reader)?;
    if outer.tag != Tag::Sequence {
        return Err(der::ErrorKind::Failed.into());
    }
    let start: usize = reader.position().try_into()?;
    let tbs = reader.tlv_bytes()?;
    Ok(start..start + tbs.len())
}

impl Certificate {
    pub fn from_der(der: &[u8]) -> Result<Self, CertError> {
        let inner = x509_cert::Certificate::from_der(der)
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        let tbs = tbs_range(der).map_err(|e| CertError::Malformed(e.to_string()))?;
        // RFC 5280 4.1.1.2: the outer algorithm must equal the signed one
        // (the outer copy is not covered by the signature).
        if inner.signature_algorithm != inner.tbs_certificate.signature {
            return Err(CertError::Malformed(
                "x509: inner and outer signature algorithm identifiers don't match".into(),
            ));
        }
        let tbs_cert = &inner.tbs_certificate;
        let subject_parts = NameParts::from_name(&tbs_cert.subject);
        let issuer_parts = NameParts::from_name(&tbs_cert.issuer);
        let raw_subject = tbs_cert
            .subject
            .to_der()
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        let raw_issuer = tbs_cert
            .issuer
            .to_der()
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        let spki_der = tbs_cert
            .subject_public_key_info
            .to_der()
            .map_err(|e| CertError::Malformed(e.to_string()))?;
        let public_key = spki::SubjectPublicKeyInfoRef::from_der(&spki_der)
            .map_err(|e| CryptoError::MalformedKey(e.to_string()))
            .and_then(PublicKey::from_spki);
        Ok(Certificate {
            der: der.to_vec(),
            subject: subject_parts.render(),
            issuer: issuer_parts.render(),
            subject_map: subject_parts.matchable(),
            inner,
            tbs,
            raw_subject,
            raw_issuer,
            public_key,
            fingerprint: Default::default(),
            self_signature: Default::default(),
        })
    }

    /// All certificates of a PEM text (one or more `CERTIFICATE` blocks).
    pub fn parse_pem_bundle(pem: &str) -> Result<Vec<Self>, CertError> {
        let mut certs = Vec::new();
        let mut rest = pem;
        const BEGIN: &str = "-----BEGIN ";
        while let Some(start) = rest.find(BEGIN) {
            let block = &rest[start..];
            let end_marker = block
                .find("-----END ")
                .ok_or_else(|| CertError::Malformed("PEM block without an END line".into()))?;
            let end = block[end_marker + 9..]
                .find("-----")
                .map(|i| end_marker + 9 + i + 5)
                .ok_or_else(|| CertError::Malformed("PEM END line is not terminated".into()))?;
            let (label, der) = pem_rfc7468::decode_vec(&block.as_bytes()[..end])
                .map_err(|e| CertError::Malformed(format!("PEM: {e}")))?;
            if label == "CERTIFICATE" {
                certs.push(Self::from_der(&der)?);
            }
            rest = &block[end..];
        }
        if certs.is_empty() {
            return Err(CertError::Empty("PEM text (no CERTIFICATE block)".into()));
        }
        Ok(certs)
    }

    /// PEM (any number of blocks) or DER (one or concatenated), as Notation
    /// trust store files are read.
    pub fn parse_pem_or_der(bytes: &[u8]) -> Result<Vec<Self>, CertError> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            if text.contains("-----BEGIN") {
                return Self::parse_pem_bundle(text);
            }
        }
        let mut certs = Vec::new();
        let mut rest = bytes;
        while !rest.is_empty() {
            let len = der_element_len(rest).map_err(|e| CertError::Malformed(e.to_string()))?;
            // The header's length is untrusted: it may point past the input.
            let (element, remainder) = match (rest.get(..len), rest.get(len..)) {
                (Some(e), Some(r)) => (e, r),
                _ => {
                    return Err(CertError::Malformed(format!(
                        "a DER element claims {len} bytes but only {} remain",
                        rest.len()
                    )))
                }
            };
            certs.push(Self::from_der(element)?);
            rest = remainder;
        }
        if certs.is_empty() {
            return Err(CertError::Empty("empty input".into()));
        }
        Ok(certs)
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.inner
    }

    /// The exact to-be-signed bytes as received.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.clone()]
    }

    /// Subject rendered like Go's `pkix.Name.String()` (`CN=..,O=..,C=..`).
    pub fn subject(&self) -> String {
        self.subject.clone()
    }

    pub fn issuer(&self) -> String {
        self.issuer.clone()
    }

    /// The subject as an `x509.subject` map, or why it can never match one.
    pub fn subject_dn(&self) -> Result<&DnMap, &str> {
        self.subject_map.as_ref().map_err(String::as_str)
    }

    /// DER of the subject and issuer Names (raw comparison = "self-issued").
    pub fn raw_subject(&self) -> &[u8] {
        &self.raw_subject
    }
    pub fn raw_issuer(&self) -> &[u8] {
        &self.raw_issuer
    }

    /// The subjectPublicKey BIT STRING contents (what OCSP's issuerKeyHash
    /// hashes).
    pub fn public_key_bytes(&self) -> &[u8] {
        self.inner
            .tbs_certificate
            .subject_public_key_info
            .subject_public_key
            .raw_bytes()
    }

    pub fn not_before(&self) -> DateTime<Utc> {
        to_chrono(&self.inner.tbs_certificate.validity.not_before)
    }
    pub fn not_after(&self) -> DateTime<Utc> {
        to_chrono(&self.inner.tbs_certificate.validity.not_after)
    }
    pub fn is_valid_at(&self, time: DateTime<Utc>) -> bool {
        self.not_before() <= time && time <= self.not_after()
    }

    pub fn serial_number(&self) -> &[u8] {
        self.inner.tbs_certificate.serial_number.as_bytes()
    }

    /// Whether both come from one parse (clones share the fingerprint and
    /// the key's precomputation).
    #[cfg(test)]
    pub(crate) fn shares_parse_with(&self, other: &Certificate) -> bool {
        std::sync::Arc::ptr_eq(&self.fingerprint, &other.fingerprint)
    }

    /// Lowercase hex SHA-256 of the DER.
    pub fn sha256_fingerprint(&self) -> String {
        self.fingerprint
            .get_or_init(|| hex::encode(sha2::Sha256::digest(&self.der)))
            .clone()
    }

    fn extension<'a, T>(&'a self, what: &str) -> Result<Option<(bool, T)>, CertError>
    where
        T: Decode<'a> + der::oid::AssociatedOid,
    {
        self.inner.tbs_certificate.get::<T>().map_err(|e| {
            CertError::Malformed(format!("{what} extension of \"{}\": {e}", self.subject))
        })
    }

    pub fn basic_constraints(&self) -> Result<Option<Extension<BasicConstraints>>, CertError> {
        Ok(self
            .extension::<BcExt>("basic constraints")?
            .map(|(critical, bc)| Extension {
                critical,
                value: BasicConstraints {
                    ca: bc.ca,
                    path_len: bc.path_len_constraint,
                },
            }))
    }

    pub fn key_usage(&self) -> Result<Option<Extension<KeyUsageBits>>, CertError> {
        Ok(self
            .extension::<KeyUsage>("key usage")?
            .map(|(critical, ku)| {
                let f = ku.0;
                Extension {
                    critical,
                    value: KeyUsageBits {
                        digital_signature: f.contains(KeyUsages::DigitalSignature),
                        content_commitment: f.contains(KeyUsages::NonRepudiation),
                        key_encipherment: f.contains(KeyUsages::KeyEncipherment),
                        data_encipherment: f.contains(KeyUsages::DataEncipherment),
                        key_agreement: f.contains(KeyUsages::KeyAgreement),
                        key_cert_sign: f.contains(KeyUsages::KeyCertSign),
                        crl_sign: f.contains(KeyUsages::CRLSign),
                        encipher_only: f.contains(KeyUsages::EncipherOnly),
                        decipher_only: f.contains(KeyUsages::DecipherOnly),
                    },
                }
            }))
    }

    pub fn extended_key_usage(
        &self,
    ) -> Result<Option<Extension<Vec<ObjectIdentifier>>>, CertError> {
        Ok(self
            .extension::<ExtendedKeyUsage>("extended key usage")?
            .map(|(critical, eku)| Extension {
                critical,
                value: eku.0,
            }))
    }

    /// OIDs of critical extensions this crate does not interpret.
    pub fn unhandled_critical_extensions(&self) -> Vec<ObjectIdentifier> {
        self.inner
            .tbs_certificate
            .extensions
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .filter(|e| e.critical && !HANDLED_EXTENSIONS.contains(&e.extn_id.to_string().as_str()))
            .map(|e| e.extn_id)
            .collect()
    }

    /// AIA OCSP responder URLs.
    pub fn ocsp_urls(&self) -> Vec<String> {
        const OCSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.48.1");
        match self.extension::<AuthorityInfoAccessSyntax>("authority information access") {
            Ok(Some((_, aia))) => aia
                .0
                .iter()
                .filter(|d| d.access_method == OCSP)
                .filter_map(|d| match &d.access_location {
                    GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// CRL distribution point URLs.
    pub fn crl_urls(&self) -> Vec<String> {
        match self.extension::<CrlDistributionPoints>("CRL distribution points") {
            Ok(Some((_, cdp))) => cdp
                .0
                .iter()
                .filter_map(|dp| match &dp.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The CRLDistributionPoints extension (each point with its reasons and
    /// cRLIssuer), for the CRL scope rules of RFC 5280 §6.3.3.
    pub fn crl_distribution_points(&self) -> Result<Option<CrlDistributionPoints>, CertError> {
        Ok(self
            .extension::<CrlDistributionPoints>("CRL distribution points")?
            .map(|(_, points)| points))
    }

    /// Whether the certificate names any revocation source.
    pub fn has_revocation_sources(&self) -> bool {
        !self.ocsp_urls().is_empty() || !self.crl_urls().is_empty()
    }

    /// The parsed public key (RSA up to 8192 bits, EC P-256/384/521).
    pub fn public_key(&self) -> Result<PublicKey, CertError> {
        self.public_key.clone().map_err(|source| CertError::Key {
            subject: self.subject.clone(),
            source,
        })
    }

    /// Borrowed key, for hot paths.
    pub fn key(&self) -> Result<&PublicKey, CertError> {
        self.public_key.as_ref().map_err(|source| CertError::Key {
            subject: self.subject.clone(),
            source: source.clone(),
        })
    }

    /// This certificate's signature checks with `signer`'s key (no
    /// constraint on `signer`: Go's `CheckSignature`).
    pub fn signature_verifies_with(&self, signer: &Certificate) -> Result<(), CertError> {
        if signer.der == self.der {
            return self
                .self_signature
                .get_or_init(|| self.verify_with_key_of(self))
                .clone();
        }
        self.verify_with_key_of(signer)
    }

    fn verify_with_key_of(&self, signer: &Certificate) -> Result<(), CertError> {
        let key = signer.key()?;
        let signature = self.inner.signature.as_bytes().ok_or_else(|| {
            CertError::Malformed("signature bit string is not octet aligned".into())
        })?;
        key.verify_x509_signature(&self.inner.signature_algorithm, self.tbs_der(), signature)
            .map_err(CertError::BadSignature)
    }

    /// Verifies this certificate's signature with `issuer`'s key, after
    /// checking that `issuer` may sign certificates (Go's `CheckSignatureFrom`:
    /// a v3 issuer needs basic constraints with cA, and keyCertSign if it has
    /// a key usage extension).
    pub fn verify_signed_by(&self, issuer: &Certificate) -> Result<(), CertError> {
        let bc = issuer.basic_constraints()?;
        let is_v3 = issuer.inner.tbs_certificate.version == x509_cert::certificate::Version::V3;
        let may_sign = match &bc {
            Some(ext) => ext.value.ca,
            None => !is_v3,
        };
        if !may_sign {
            return Err(CertError::ParentCannotSign);
        }
        if let Some(ku) = issuer.key_usage()? {
            if ku.value != KeyUsageBits::default() && !ku.value.key_cert_sign {
                return Err(CertError::ParentCannotSign);
            }
        }
        self.signature_verifies_with(issuer)
    }

    /// `verify_signed_by` and the issuer name equals the parent's subject.
    pub fn is_issued_by(&self, issuer: &Certificate) -> Result<bool, CertError> {
        self.verify_signed_by(issuer)?;
        Ok(self.raw_issuer == issuer.raw_subject)
    }

    /// Signature verifies with its own key (Go's notion of self-signed).
    pub fn is_self_signed(&self) -> bool {
        self.signature_verifies_with(self).is_ok()
    }

    /// Records the self-signature as verified without verifying it: for a
    /// trust-store certificate whose self-signature was verified when the
    /// settings were validated (the same bytes, so the same answer). Has no
    /// effect once the result is known.
    pub(crate) fn assume_self_signed(&self) {
        let _ = self.self_signature.set(Ok(()));
    }

    /// The self-signature's result if it is known (tests).
    #[cfg(test)]
    pub(crate) fn self_signature_known(&self) -> Option<&Result<(), CertError>> {
        self.self_signature.get()
    }

    /// Raw subject equals raw issuer.
    pub fn is_self_issued(&self) -> bool {
        self.raw_subject == self.raw_issuer
    }

    pub fn is_ca(&self) -> bool {
        matches!(
            self.basic_constraints(),
            Ok(Some(Extension {
                value: BasicConstraints { ca: true, .. },
                ..
            }))
        )
    }
}

/// Length of the first DER element of `bytes` (for concatenated DER files).
fn der_element_len(bytes: &[u8]) -> Result<usize, der::Error> {
    let mut reader = der::SliceReader::new(bytes)?;
    let header = der::Header::decode(&mut reader)?;
    let header_len: usize = reader.position().try_into()?;
    let body: usize = header.length.try_into()?;
    Ok(header_len + body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert!(matches!(
            Certificate::from_der(b"\x30\x03\x02\x01"),
            Err(CertError::Malformed(_))
        ));
        assert!(matches!(
            Certificate::parse_pem_or_der(b"\x30"),
            Err(CertError::Malformed(_))
        ));
        assert!(matches!(
            Certificate::parse_pem_bundle("no pem here"),
            Err(CertError::Empty(_))
        ));
    }

    /// The self-signature is checked once per certificate and its clones,
    /// and a failed check stays failed.
    #[test]
    fn the_self_signature_result_is_shared_by_clones() {
        let pem = std::fs::read(testdata::path(
            "notation/synthetic/truststore/x509/ca/synthetic-root/root.pem",
        ))
        .unwrap();
        let root = Certificate::parse_pem_or_der(&pem).unwrap().remove(0);
        let copy = root.clone();
        assert!(root.is_self_signed());
        assert_eq!(copy.self_signature.get(), Some(&Ok(())));
        // The same bytes parsed again share nothing: they are checked anew.
        let again = Certificate::from_der(root.der()).unwrap();
        assert!(again.self_signature.get().is_none());

        // One flipped bit in the signature: not self-signed, every time.
        let mut der = root.der().to_vec();
        let last = der.len() - 1;
        der[last] ^= 1;
        let broken = Certificate::from_der(&der).unwrap();
        assert!(!broken.is_self_signed());
        assert!(matches!(
            broken.clone().signature_verifies_with(&broken),
            Err(CertError::BadSignature(_))
        ));
        // Another certificate as signer is never answered from the memo:
        // `broken` carries the root's key, so the root's own signature
        // verifies with it while `broken`'s does not.
        assert!(broken.signature_verifies_with(&root).is_err());
        assert_eq!(root.signature_verifies_with(&broken), Ok(()));
    }

    #[test]
    fn a_der_length_past_the_input_is_an_error() {
        // SEQUENCE claiming 0x70 bytes with 2 present (the upstream "invalid" file).
        let err = Certificate::parse_pem_or_der(&[0x30, 0x70, 0x02, 0x01]).unwrap_err();
        assert!(matches!(err, CertError::Malformed(m) if m.contains("claims")));
    }
}
