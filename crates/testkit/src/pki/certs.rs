//! Certificates: validity, names, the Notation certificate profiles and
//! their extensions, and issuing one certificate under an issuer key.

use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use der::asn1::{
    BitString, GeneralizedTime, Ia5StringRef, ObjectIdentifier, OctetString, PrintableStringRef,
    SetOfVec, UtcTime, Utf8StringRef,
};
use der::{Any, Decode, Encode, EncodePem};
use rsa::pkcs8::LineEnding;
use sha2::{Digest, Sha256};
use spki::SubjectPublicKeyInfoOwned;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate as X509Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AccessDescription, AuthorityInfoAccessSyntax, AuthorityKeyIdentifier, BasicConstraints,
    CrlDistributionPoints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Time;

use super::{oid, PkiError, PrivateKey};

/// A certificate: DER, PEM and the subject it was issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    pub(super) der: Vec<u8>,
    pub(super) pem: String,
    pub(super) subject: String,
}

impl Cert {
    /// Wraps DER produced elsewhere (for example a hand-made negative case).
    pub fn from_der(der: &[u8]) -> Result<Self, PkiError> {
        let parsed = X509Certificate::from_der(der)?;
        let pem = parsed.to_pem(LineEnding::LF)?;
        Ok(Self {
            der: der.to_vec(),
            pem,
            subject: parsed.tbs_certificate.subject.to_string(),
        })
    }

    pub fn der(&self) -> &[u8] {
        &self.der
    }

    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The subject DN as it was requested (`C=US, ST=WA, ...`).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Lowercase hex SHA-256 of the DER, as in the signature manifest's
    /// `io.cncf.notary.x509chain.thumbprint#S256` annotation.
    pub fn sha256_fingerprint(&self) -> String {
        hex::encode(Sha256::digest(&self.der))
    }

    /// The parsed certificate.
    pub fn x509(&self) -> Result<X509Certificate, PkiError> {
        Ok(X509Certificate::from_der(&self.der)?)
    }
}

/// A certificate and its private key.
#[derive(Debug, Clone)]
pub struct CertifiedKey {
    pub cert: Cert,
    pub key: PrivateKey,
}

/// A validity period (both ends inclusive, as X.509 defines them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

impl Validity {
    pub fn new(not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        Self {
            not_before,
            not_after,
        }
    }

    /// The default for every certificate: 2020-01-01 to 2099-12-31. Fixed
    /// rather than relative to "now" so certificates are identical on
    /// every run, and wide enough to be valid whenever tests run.
    pub fn default_test() -> Self {
        Self {
            not_before: Utc
                .with_ymd_and_hms(2020, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
            not_after: Utc
                .with_ymd_and_hms(2099, 12, 31, 23, 59, 59)
                .single()
                .unwrap_or_default(),
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    pub(super) fn to_x509(self) -> Result<x509_cert::time::Validity, PkiError> {
        if self.not_after < self.not_before {
            return Err(PkiError::Validity(format!(
                "not_after {} is before not_before {}",
                self.not_after, self.not_before
            )));
        }
        Ok(x509_cert::time::Validity {
            not_before: x509_time(self.not_before)?,
            not_after: x509_time(self.not_after)?,
        })
    }
}

impl Default for Validity {
    fn default() -> Self {
        Self::default_test()
    }
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
pub(crate) fn x509_time(t: DateTime<Utc>) -> Result<Time, PkiError> {
    let secs = u64::try_from(t.timestamp())
        .map_err(|_| PkiError::Validity(format!("{t} is before 1970")))?;
    let d = Duration::from_secs(secs);
    let year = der::DateTime::from_unix_duration(d)?.year();
    Ok(if year < 2050 {
        Time::UtcTime(UtcTime::from_unix_duration(d)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_unix_duration(d)?)
    })
}

/// The default subject of a leaf named `name`, as Notation's own test
/// certificates look (every mandatory identity attribute C, ST, O present).
pub fn default_leaf_subject(name: &str) -> String {
    format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name}")
}

/// Parses `C=US, ST=WA, O=x, CN=y` into a Name whose RDNs are in the
/// written order (so `C` is outermost, as Notation's test certificates).
/// Separators `,` or `;`; `\` escapes the next character; types C, ST (or
/// S), L, O, OU, CN, STREET, POSTALCODE, SERIALNUMBER, E/EMAILADDRESS.
/// Multi-valued RDNs (`+`) are not supported.
pub fn parse_dn(dn: &str) -> Result<Name, PkiError> {
    let bad = |message: String| PkiError::Name {
        dn: dn.to_string(),
        message,
    };
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(next) => current.push(next),
                None => return Err(bad("dangling escape".into())),
            },
            ',' | ';' => parts.push(std::mem::take(&mut current)),
            '+' => return Err(bad("multi-valued RDNs are not supported".into())),
            _ => current.push(c),
        }
    }
    parts.push(current);
    let mut rdns = Vec::new();
    for part in parts {
        let (ty, value) = part
            .split_once('=')
            .ok_or_else(|| bad(format!("{part:?} has no '='")))?;
        let (ty, value) = (ty.trim(), value.trim());
        if value.is_empty() {
            return Err(bad(format!("{ty} has an empty value")));
        }
        let (oid, any) = match ty.to_ascii_uppercase().as_str() {
            "C" => (
                oid::AT_COUNTRY,
                Any::encode_from(&PrintableStringRef::new(value)?)?,
            ),
            "E" | "EMAILADDRESS" => (oid::AT_EMAIL, Any::encode_from(&Ia5StringRef::new(value)?)?),
            other => {
                let oid = match other {
                    "ST" | "S" => oid::AT_STATE,
                    "L" => oid::AT_LOCALITY,
                    "O" => oid::AT_ORGANIZATION,
                    "OU" => oid::AT_ORG_UNIT,
                    "CN" => oid::AT_COMMON_NAME,
                    "STREET" => oid::AT_STREET,
                    "POSTALCODE" => oid::AT_POSTAL_CODE,
                    "SERIALNUMBER" => oid::AT_SERIAL_NUMBER,
                    _ => return Err(bad(format!("unsupported attribute type {ty:?}"))),
                };
                (oid, Any::encode_from(&Utf8StringRef::new(value)?)?)
            }
        };
        let atv = AttributeTypeAndValue { oid, value: any };
        rdns.push(RelativeDistinguishedName(SetOfVec::try_from(vec![atv])?));
    }
    Ok(RdnSequence(rdns))
}

/// Which Notation certificate profile to issue (spec digest §f.1, §f.2).
#[derive(Debug, Clone, Copy)]
pub(super) enum Profile {
    /// basicConstraints cA=true critical, keyUsage keyCertSign|cRLSign critical.
    Ca { path_len: Option<u8> },
    /// basicConstraints cA=false, keyUsage digitalSignature critical, EKU codeSigning.
    CodeSigning,
    /// keyUsage digitalSignature critical, EKU exactly timeStamping, critical.
    Timestamping,
}

/// Where a certificate says its revocation status can be found: OCSP
/// responders (AuthorityInfoAccess id-ad-ocsp URIs) and CRL distribution
/// points (CRLDistributionPoints fullName URIs), both non-critical. Empty
/// (the default) adds neither extension.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RevocationSources {
    pub ocsp_urls: Vec<String>,
    pub crl_urls: Vec<String>,
}

impl RevocationSources {
    pub fn is_empty(&self) -> bool {
        self.ocsp_urls.is_empty() && self.crl_urls.is_empty()
    }

    fn extensions(&self) -> Result<Vec<Extension>, PkiError> {
        use der::oid::AssociatedOid;
        let uri = |url: &str| -> Result<GeneralName, PkiError> {
            Ok(GeneralName::UniformResourceIdentifier(
                der::asn1::Ia5String::new(url)?,
            ))
        };
        let mut extensions = Vec::new();
        if !self.ocsp_urls.is_empty() {
            let aia = AuthorityInfoAccessSyntax(
                self.ocsp_urls
                    .iter()
                    .map(|url| {
                        Ok(AccessDescription {
                            access_method: oid::AD_OCSP,
                            access_location: uri(url)?,
                        })
                    })
                    .collect::<Result<_, PkiError>>()?,
            );
            extensions.push(extension(&aia, false, AuthorityInfoAccessSyntax::OID)?);
        }
        if !self.crl_urls.is_empty() {
            let cdp = CrlDistributionPoints(
                self.crl_urls
                    .iter()
                    .map(|url| {
                        Ok(DistributionPoint {
                            distribution_point: Some(DistributionPointName::FullName(vec![uri(
                                url,
                            )?])),
                            reasons: None,
                            crl_issuer: None,
                        })
                    })
                    .collect::<Result<_, PkiError>>()?,
            );
            extensions.push(extension(&cdp, false, CrlDistributionPoints::OID)?);
        }
        Ok(extensions)
    }
}

pub(super) struct Issue<'a> {
    pub(super) subject: &'a str,
    pub(super) subject_key: &'a PrivateKey,
    /// `None` = self-signed.
    pub(super) issuer: Option<(&'a Name, &'a PrivateKey)>,
    pub(super) validity: Validity,
    pub(super) profile: Profile,
    pub(super) revocation: &'a RevocationSources,
}

pub(super) fn extension<E: Encode>(
    value: &E,
    critical: bool,
    oid: ObjectIdentifier,
) -> Result<Extension, PkiError> {
    Ok(Extension {
        extn_id: oid,
        critical,
        extn_value: OctetString::new(value.to_der()?)?,
    })
}

/// RFC 7093 method 1: the leftmost 160 bits of the SHA-256 of the
/// subjectPublicKey bits.
pub(crate) fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Result<OctetString, PkiError> {
    let digest = Sha256::digest(spki.subject_public_key.raw_bytes());
    Ok(OctetString::new(&digest[..20])?)
}

pub(super) fn issue(req: Issue<'_>) -> Result<Cert, PkiError> {
    use der::oid::AssociatedOid;

    let subject = parse_dn(req.subject)?;
    let spki = req.subject_key.spki()?;
    let (issuer_name, issuer_key) = match req.issuer {
        Some((name, key)) => (name.clone(), key),
        None => (subject.clone(), req.subject_key),
    };
    let issuer_spki = issuer_key.spki()?;
    let validity = req.validity.to_x509()?;

    let mut extensions = Vec::new();
    match req.profile {
        Profile::Ca { path_len } => {
            let bc = BasicConstraints {
                ca: true,
                path_len_constraint: path_len,
            };
            extensions.push(extension(&bc, true, BasicConstraints::OID)?);
            let ku = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
        }
        Profile::CodeSigning => {
            let bc = BasicConstraints {
                ca: false,
                path_len_constraint: None,
            };
            extensions.push(extension(&bc, true, BasicConstraints::OID)?);
            let ku = KeyUsage(KeyUsages::DigitalSignature.into());
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
            let eku = ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]);
            extensions.push(extension(&eku, false, ExtendedKeyUsage::OID)?);
        }
        Profile::Timestamping => {
            let ku = KeyUsage(KeyUsages::DigitalSignature.into());
            extensions.push(extension(&ku, true, KeyUsage::OID)?);
            let eku = ExtendedKeyUsage(vec![oid::KP_TIME_STAMPING]);
            extensions.push(extension(&eku, true, ExtendedKeyUsage::OID)?);
        }
    }
    let ski = SubjectKeyIdentifier(key_identifier(&spki)?);
    extensions.push(extension(&ski, false, SubjectKeyIdentifier::OID)?);
    if req.issuer.is_some() {
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(key_identifier(&issuer_spki)?),
            authority_cert_issuer: None,
            authority_cert_serial_number: None,
        };
        extensions.push(extension(&aki, false, AuthorityKeyIdentifier::OID)?);
    }
    extensions.extend(req.revocation.extensions()?);

    // A serial unique per (subject, key, validity, issuer), but stable across runs.
    let mut hasher = Sha256::new();
    hasher.update(subject.to_der()?);
    hasher.update(spki.to_der()?);
    hasher.update(validity.to_der()?);
    hasher.update(issuer_name.to_der()?);
    // Only when present, so certificates without sources keep their serials;
    // with them, two certificates of one issuer that differ in their sources
    // still get different serials (revocation is by serial).
    if !req.revocation.is_empty() {
        for url in req
            .revocation
            .ocsp_urls
            .iter()
            .chain(&req.revocation.crl_urls)
        {
            hasher.update(url.as_bytes());
            hasher.update([0]);
        }
    }
    let serial = serial_from(hasher);

    let (algorithm, _) = issuer_key.x509_algorithm()?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial)?,
        signature: algorithm.clone(),
        issuer: issuer_name,
        validity,
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    };
    let signed = issuer_key.sign_x509(&tbs.to_der()?)?;
    let cert = X509Certificate {
        tbs_certificate: tbs,
        signature_algorithm: algorithm,
        signature: BitString::from_bytes(&signed.signature)?,
    };
    let der = cert.to_der()?;
    let pem = cert.to_pem(LineEnding::LF)?;
    Ok(Cert {
        der,
        pem,
        subject: req.subject.to_string(),
    })
}

/// A 16-byte positive serial number derived from what the certificate
/// holds, so that the same inputs always give the same certificate.
pub(super) fn serial_from(hasher: Sha256) -> Vec<u8> {
    let mut serial = hasher.finalize()[..16].to_vec();
    serial[0] = (serial[0] & 0x7f) | 0x40;
    serial
}
