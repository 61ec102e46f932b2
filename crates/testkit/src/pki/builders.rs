//! The PKI builders: a code-signing chain ([`TestPki`]), a timestamping
//! chain ([`TsaPki`]), and leaves for keys nobody holds.

use chrono::{DateTime, Utc};
use der::asn1::{BitString, ObjectIdentifier};
use der::{Any, Encode, EncodePem};
use rand::rngs::StdRng;
use rand::SeedableRng;
use rsa::pkcs8::LineEnding;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::certificate::{Certificate as X509Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages,
    SubjectKeyIdentifier,
};
use x509_cert::serial_number::SerialNumber;

use super::{
    cached_keys, default_leaf_subject, extension, issue, key_identifier, oid, parse_dn,
    serial_from, Cert, CertifiedKey, Issue, KeyKind, PkiError, PrivateKey, Profile,
    RevocationSources, Validity,
};

/// Builds a [`TestPki`]; every setting has a working default.
#[derive(Debug, Clone)]
pub struct TestPkiBuilder {
    kind: KeyKind,
    ca_kind: Option<KeyKind>,
    name: String,
    leaf_subject: Option<String>,
    leaf_validity: Validity,
    ca_validity: Validity,
    leaf_revocation: RevocationSources,
    intermediate_revocation: RevocationSources,
}

impl TestPkiBuilder {
    /// Names the PKI: the CA common names derive from it, the default leaf
    /// CN is it, and it labels the keys, so two PKIs with different names
    /// have unrelated keys and roots (for "untrusted signer" tests).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The full leaf subject DN, replacing [`default_leaf_subject`].
    pub fn leaf_subject(mut self, dn: impl Into<String>) -> Self {
        self.leaf_subject = Some(dn.into());
        self
    }

    /// The leaf's validity (to make expired or not-yet-valid leaves).
    pub fn leaf_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.leaf_validity = Validity::new(not_before, not_after);
        self
    }

    /// The validity of both CA certificates.
    pub fn ca_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.ca_validity = Validity::new(not_before, not_after);
        self
    }

    /// The key kind of the two CAs (default: the leaf's kind). Lets a test
    /// use, say, an RSA-4096 leaf under fast P-256 CAs.
    pub fn ca_key_kind(mut self, kind: KeyKind) -> Self {
        self.ca_kind = Some(kind);
        self
    }

    /// Adds an OCSP responder URL to the leaf (AuthorityInfoAccess,
    /// id-ad-ocsp, non-critical). Repeat for several.
    pub fn leaf_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.ocsp_urls.push(url.into());
        self
    }

    /// Adds a CRL distribution point URL to the leaf (CRLDistributionPoints,
    /// fullName URI, non-critical). Repeat for several.
    pub fn leaf_crl_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.crl_urls.push(url.into());
        self
    }

    /// [`Self::leaf_ocsp_url`] for the intermediate CA certificate.
    pub fn intermediate_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.intermediate_revocation.ocsp_urls.push(url.into());
        self
    }

    /// [`Self::leaf_crl_url`] for the intermediate CA certificate.
    pub fn intermediate_crl_url(mut self, url: impl Into<String>) -> Self {
        self.intermediate_revocation.crl_urls.push(url.into());
        self
    }

    pub fn build(self) -> Result<TestPki, PkiError> {
        let ca_kind = self.ca_kind.unwrap_or(self.kind);
        let name = &self.name;
        let [root_key, inter_key, leaf_key] = cached_keys([
            (ca_kind, format!("{name}/root")),
            (ca_kind, format!("{name}/intermediate")),
            (self.kind, format!("{name}/leaf")),
        ])?;

        let root_subject = format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} Root CA");
        let root = issue(Issue {
            subject: &root_subject,
            subject_key: &root_key,
            issuer: None,
            validity: self.ca_validity,
            profile: Profile::Ca { path_len: None },
            revocation: &RevocationSources::default(),
        })?;
        let inter_subject =
            format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} Intermediate CA");
        let root_name = parse_dn(&root_subject)?;
        let intermediate = issue(Issue {
            subject: &inter_subject,
            subject_key: &inter_key,
            issuer: Some((&root_name, &root_key)),
            validity: self.ca_validity,
            profile: Profile::Ca { path_len: Some(0) },
            revocation: &self.intermediate_revocation,
        })?;
        let leaf_subject = self
            .leaf_subject
            .clone()
            .unwrap_or_else(|| default_leaf_subject(name));
        let inter_name = parse_dn(&inter_subject)?;
        let leaf = issue(Issue {
            subject: &leaf_subject,
            subject_key: &leaf_key,
            issuer: Some((&inter_name, &inter_key)),
            validity: self.leaf_validity,
            profile: Profile::CodeSigning,
            revocation: &self.leaf_revocation,
        })?;
        Ok(TestPki {
            kind: self.kind,
            root: CertifiedKey {
                cert: root,
                key: root_key,
            },
            intermediate: CertifiedKey {
                cert: intermediate,
                key: inter_key,
            },
            leaf: CertifiedKey {
                cert: leaf,
                key: leaf_key,
            },
        })
    }
}

/// A Notation code-signing PKI: root CA -> intermediate CA -> leaf.
#[derive(Debug, Clone)]
pub struct TestPki {
    kind: KeyKind,
    pub root: CertifiedKey,
    pub intermediate: CertifiedKey,
    pub leaf: CertifiedKey,
}

impl TestPki {
    /// The default PKI for a key kind (name `testkit`, default validity).
    pub fn new(kind: KeyKind) -> Result<Self, PkiError> {
        Self::builder(kind).build()
    }

    pub fn builder(kind: KeyKind) -> TestPkiBuilder {
        TestPkiBuilder {
            kind,
            ca_kind: None,
            name: "testkit".into(),
            leaf_subject: None,
            leaf_validity: Validity::default_test(),
            ca_validity: Validity::default_test(),
            leaf_revocation: RevocationSources::default(),
            intermediate_revocation: RevocationSources::default(),
        }
    }

    /// The leaf's key kind (which fixes the envelope algorithm).
    pub fn kind(&self) -> KeyKind {
        self.kind
    }

    /// The chain as Notation envelopes carry it: leaf, intermediate, root.
    pub fn chain(&self) -> [&Cert; 3] {
        [&self.leaf.cert, &self.intermediate.cert, &self.root.cert]
    }

    /// DER of the chain, leaf first.
    pub fn chain_der(&self) -> Vec<Vec<u8>> {
        self.chain().iter().map(|c| c.der().to_vec()).collect()
    }

    /// PEM bundle of the chain, leaf first.
    pub fn chain_pem(&self) -> String {
        self.chain().iter().map(|c| c.pem()).collect()
    }

    /// The root certificate as PEM, for a `ca` trust store.
    pub fn root_pem(&self) -> &str {
        self.root.cert.pem()
    }

    pub fn leaf_key(&self) -> &PrivateKey {
        &self.leaf.key
    }
}

/// Builds a [`TsaPki`].
#[derive(Debug, Clone)]
pub struct TsaPkiBuilder {
    kind: KeyKind,
    name: String,
    leaf_validity: Validity,
    root_validity: Validity,
    leaf_revocation: RevocationSources,
}

impl TsaPkiBuilder {
    /// Names the TSA (CNs and key labels), like [`TestPkiBuilder::name`].
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The TSA leaf's validity: tokens only verify for a genTime inside it.
    pub fn leaf_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.leaf_validity = Validity::new(not_before, not_after);
        self
    }

    pub fn root_validity(mut self, not_before: DateTime<Utc>, not_after: DateTime<Utc>) -> Self {
        self.root_validity = Validity::new(not_before, not_after);
        self
    }

    /// Adds an OCSP responder URL to the TSA leaf, like
    /// [`TestPkiBuilder::leaf_ocsp_url`].
    pub fn leaf_ocsp_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.ocsp_urls.push(url.into());
        self
    }

    /// Adds a CRL distribution point URL to the TSA leaf, like
    /// [`TestPkiBuilder::leaf_crl_url`].
    pub fn leaf_crl_url(mut self, url: impl Into<String>) -> Self {
        self.leaf_revocation.crl_urls.push(url.into());
        self
    }

    pub fn build(self) -> Result<TsaPki, PkiError> {
        let name = &self.name;
        let [root_key, leaf_key] = cached_keys([
            (self.kind, format!("{name}/tsa-root")),
            (self.kind, format!("{name}/tsa-leaf")),
        ])?;
        let root_subject =
            format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} TSA Root CA");
        let root = issue(Issue {
            subject: &root_subject,
            subject_key: &root_key,
            issuer: None,
            validity: self.root_validity,
            profile: Profile::Ca { path_len: None },
            revocation: &RevocationSources::default(),
        })?;
        let root_name = parse_dn(&root_subject)?;
        let leaf_subject = format!("C=US, ST=WA, L=Seattle, O=Notation Test, CN={name} TSA");
        let leaf = issue(Issue {
            subject: &leaf_subject,
            subject_key: &leaf_key,
            issuer: Some((&root_name, &root_key)),
            validity: self.leaf_validity,
            profile: Profile::Timestamping,
            revocation: &self.leaf_revocation,
        })?;
        Ok(TsaPki {
            root: CertifiedKey {
                cert: root,
                key: root_key,
            },
            leaf: CertifiedKey {
                cert: leaf,
                key: leaf_key,
            },
        })
    }
}

/// A timestamping chain: a self-signed root CA and a TSA leaf whose EKU is
/// exactly id-kp-timeStamping, marked critical (spec digest §f.2).
#[derive(Debug, Clone)]
pub struct TsaPki {
    pub root: CertifiedKey,
    pub leaf: CertifiedKey,
}

impl TsaPki {
    /// The default TSA chain of a key kind (name `testkit`).
    pub fn new(kind: KeyKind) -> Result<Self, PkiError> {
        Self::builder(kind).build()
    }

    pub fn builder(kind: KeyKind) -> TsaPkiBuilder {
        TsaPkiBuilder {
            kind,
            name: "testkit".into(),
            leaf_validity: Validity::default_test(),
            root_validity: Validity::default_test(),
            leaf_revocation: RevocationSources::default(),
        }
    }

    /// TSA leaf then root.
    pub fn chain(&self) -> [&Cert; 2] {
        [&self.leaf.cert, &self.root.cert]
    }

    /// The root as PEM, for a `tsa` trust store.
    pub fn root_pem(&self) -> &str {
        self.root.cert.pem()
    }
}

/// `rsaEncryption` (RFC 8017 A.1), the SubjectPublicKeyInfo algorithm of
/// RSA keys.
const RSA_ENCRYPTION_OID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The SubjectPublicKeyInfo of an RSA public key of exactly `bits` bits
/// whose private key nobody holds: a random odd modulus (seeded by `seed`)
/// with its top bit set, and e = 65537. For tests of oversized keys
/// (a 16,384-bit key would take hours to generate in a debug build); no
/// signature can verify under it, which such tests do not need.
pub fn unowned_rsa_spki(bits: usize, seed: u64) -> Result<SubjectPublicKeyInfoOwned, PkiError> {
    use rand::RngCore;
    if bits < 16 || !bits.is_multiple_of(8) {
        return Err(PkiError::Encoding(format!(
            "an RSA modulus of {bits} bits: use a multiple of 8, at least 16"
        )));
    }
    let mut modulus = vec![0u8; bits / 8];
    StdRng::seed_from_u64(seed).fill_bytes(&mut modulus);
    modulus[0] |= 0x80;
    if let Some(last) = modulus.last_mut() {
        *last |= 1;
    }
    let exponent = [0x01, 0x00, 0x01];
    let public_key = rsa::pkcs1::RsaPublicKey {
        modulus: der::asn1::UintRef::new(&modulus)?,
        public_exponent: der::asn1::UintRef::new(&exponent)?,
    };
    Ok(SubjectPublicKeyInfoOwned {
        algorithm: AlgorithmIdentifierOwned {
            oid: RSA_ENCRYPTION_OID,
            parameters: Some(Any::null()),
        },
        subject_public_key: BitString::from_bytes(&public_key.to_der()?)?,
    })
}

impl TestPki {
    /// A code-signing leaf (the profile of [`TestPki::leaf`]) for any
    /// public key, issued by this PKI's intermediate CA with the default
    /// validity: for keys no [`PrivateKey`] can hold, such as
    /// [`unowned_rsa_spki`]. Envelopes then embed
    /// `[leaf, intermediate, root]` and carry a signature of any bytes.
    pub fn issue_leaf_for_spki(
        &self,
        subject: &str,
        spki: SubjectPublicKeyInfoOwned,
    ) -> Result<Cert, PkiError> {
        use der::oid::AssociatedOid;

        let issuer_key = &self.intermediate.key;
        let issuer_name = self.intermediate.cert.x509()?.tbs_certificate.subject;
        let subject_name = parse_dn(subject)?;
        let validity = Validity::default_test().to_x509()?;
        let extensions = vec![
            extension(
                &BasicConstraints {
                    ca: false,
                    path_len_constraint: None,
                },
                true,
                BasicConstraints::OID,
            )?,
            extension(
                &KeyUsage(KeyUsages::DigitalSignature.into()),
                true,
                KeyUsage::OID,
            )?,
            extension(
                &ExtendedKeyUsage(vec![oid::KP_CODE_SIGNING]),
                false,
                ExtendedKeyUsage::OID,
            )?,
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
        let mut hasher = Sha256::new();
        hasher.update(subject_name.to_der()?);
        hasher.update(spki.to_der()?);
        hasher.update(validity.to_der()?);
        hasher.update(issuer_name.to_der()?);
        let serial = serial_from(hasher);

        let (algorithm, _) = issuer_key.x509_algorithm()?;
        let tbs = TbsCertificate {
            version: Version::V3,
            serial_number: SerialNumber::new(&serial)?,
            signature: algorithm.clone(),
            issuer: issuer_name,
            validity,
            subject: subject_name,
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
}
