//! TLS certificates for test servers and clients on loopback: a CA, a
//! server certificate for an IP address and a client certificate, so
//! tests can run real HTTPS (with or without client authentication)
//! instead of plain HTTP.

use std::net::IpAddr;

use der::asn1::{BitString, OctetString};
use der::oid::{AssociatedOid, ObjectIdentifier};
use der::{Encode, EncodePem};
use rsa::pkcs8::LineEnding;
use sha2::{Digest, Sha256};
use x509_cert::certificate::{Certificate as X509Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectAltName, SubjectKeyIdentifier,
};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;

use super::certs::{extension, key_identifier, parse_dn, serial_from};
use super::{Cert, CertifiedKey, KeyKind, PkiError, PrivateKey, Validity};

/// RFC 5280 id-kp-serverAuth and id-kp-clientAuth.
const KP_SERVER_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.1");
const KP_CLIENT_AUTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.2");

/// A self-signed TLS CA (P-256) that issues server and client certificates.
pub struct TlsCa {
    ca: CertifiedKey,
    name: Name,
}

impl TlsCa {
    /// A CA named `CN=<label>`; the key is cached under `label`, so the
    /// same label gives the same CA.
    pub fn new(label: &str) -> Result<Self, PkiError> {
        let key = PrivateKey::cached(KeyKind::P256, &format!("tls-ca-{label}"))?;
        let subject = format!("CN={label}");
        let name = parse_dn(&subject)?;
        let cert = sign(&key, &name, &key, &name, &subject, Use::Ca)?;
        Ok(TlsCa {
            ca: CertifiedKey { cert, key },
            name,
        })
    }

    /// The CA certificate, PEM.
    pub fn pem(&self) -> &str {
        self.ca.cert.pem()
    }

    /// A server certificate for `ip` (subjectAltName iPAddress).
    pub fn server(&self, ip: IpAddr) -> Result<CertifiedKey, PkiError> {
        self.leaf(&format!("CN={ip}"), Use::Server(ip))
    }

    /// A client certificate for `cn`.
    pub fn client(&self, cn: &str) -> Result<CertifiedKey, PkiError> {
        self.leaf(&format!("CN={cn}"), Use::Client)
    }

    fn leaf(&self, subject: &str, usage: Use) -> Result<CertifiedKey, PkiError> {
        let key = PrivateKey::cached(KeyKind::P256, &format!("tls-leaf-{subject}"))?;
        let name = parse_dn(subject)?;
        let cert = sign(&key, &name, &self.ca.key, &self.name, subject, usage)?;
        Ok(CertifiedKey { cert, key })
    }
}

enum Use {
    Ca,
    Server(IpAddr),
    Client,
}

fn sign(
    key: &PrivateKey,
    subject_name: &Name,
    issuer_key: &PrivateKey,
    issuer_name: &Name,
    subject: &str,
    usage: Use,
) -> Result<Cert, PkiError> {
    let spki = key.spki()?;
    let validity = Validity::default_test().to_x509()?;
    let ca = matches!(usage, Use::Ca);
    let key_usage = if ca {
        KeyUsages::KeyCertSign | KeyUsages::CRLSign
    } else {
        KeyUsages::DigitalSignature.into()
    };
    let mut extensions = vec![
        extension(
            &BasicConstraints {
                ca,
                path_len_constraint: None,
            },
            true,
            BasicConstraints::OID,
        )?,
        extension(&KeyUsage(key_usage), true, KeyUsage::OID)?,
        extension(
            &SubjectKeyIdentifier(key_identifier(&spki)?),
            false,
            SubjectKeyIdentifier::OID,
        )?,
        extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(key_identifier(&issuer_key.spki()?)?),
                authority_cert_issuer: None,
                authority_cert_serial_number: None,
            },
            false,
            AuthorityKeyIdentifier::OID,
        )?,
    ];
    match usage {
        Use::Ca => {}
        Use::Server(ip) => {
            let octets = match ip {
                IpAddr::V4(v4) => v4.octets().to_vec(),
                IpAddr::V6(v6) => v6.octets().to_vec(),
            };
            let san = SubjectAltName(vec![GeneralName::IpAddress(OctetString::new(octets)?)]);
            extensions.push(extension(&san, false, SubjectAltName::OID)?);
            let eku = ExtendedKeyUsage(vec![KP_SERVER_AUTH]);
            extensions.push(extension(&eku, false, ExtendedKeyUsage::OID)?);
        }
        Use::Client => {
            let eku = ExtendedKeyUsage(vec![KP_CLIENT_AUTH]);
            extensions.push(extension(&eku, false, ExtendedKeyUsage::OID)?);
        }
    }
    let mut hasher = Sha256::new();
    hasher.update(subject_name.to_der()?);
    hasher.update(spki.to_der()?);
    hasher.update(issuer_name.to_der()?);
    let serial = serial_from(hasher);
    let (algorithm, _) = issuer_key.x509_algorithm()?;
    let tbs = TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial)?,
        signature: algorithm.clone(),
        issuer: issuer_name.clone(),
        validity,
        subject: subject_name.clone(),
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
    Ok(Cert {
        der: cert.to_der()?,
        pem: cert.to_pem(LineEnding::LF)?,
        subject: subject.to_string(),
    })
}
