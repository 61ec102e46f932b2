//! A test Time Stamping Authority issuing RFC 3161 timestamp tokens.
//!
//! Why: a Notation `notary.x509` signature whose leaf has expired still
//! verifies when it carries a TSA countersignature made while the leaf was
//! valid (spec digest §i). Tests need such tokens at an arbitrary `genTime`
//! (in the past, inside or outside a leaf's validity), which no real TSA
//! issues, so this one is offline and takes the time from the caller.
//!
//! The token is exactly the shape notation-go (tspclient-go) verifies:
//! CMS SignedData version 3 over an id-ct-TSTInfo, TSTInfo version 1, one
//! SignerInfo version 1 identified by issuerAndSerialNumber, with signed
//! attributes contentType, messageDigest and signingCertificateV2 (an
//! ESSCertIDv2 naming the TSA leaf by SHA-256 hash and issuerSerial), the
//! signature over the DER SET OF those attributes, and the TSA leaf in the
//! certificate set.

use chrono::{DateTime, Utc};
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{GeneralizedTime, Int, ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Encode};
use sha2::{Digest, Sha256};
use x509_cert::attr::Attribute;
use x509_cert::ext::pkix::name::GeneralName;
use x509_tsp::{Accuracy, MessageImprint, TspVersion, TstInfo};

use crate::pki::{HashKind, KeyKind, PkiError, TsaPki};

/// Why a token could not be issued.
#[derive(Debug, thiserror::Error)]
pub enum TsaError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("encoding the timestamp token failed: {0}")]
    Encoding(String),
    #[error("genTime {0} cannot be encoded (before 1970?)")]
    GenTime(DateTime<Utc>),
}

impl From<der::Error> for TsaError {
    fn from(e: der::Error) -> Self {
        TsaError::Encoding(e.to_string())
    }
}

/// What the verifier reads, the test TSA writes: the same identifiers and
/// attribute types.
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub use notation_verifier::timestamp::oid::*;
    /// The TSA policy this test TSA claims (an arbitrary test arc).
    pub const TEST_POLICY: Oid = Oid::new_unwrap("1.2.3.4.1");
}

use notation_verifier::timestamp::ess::{EssCertIdV2, IssuerSerial, SigningCertificateV2};

/// Per-token choices; the default is what a typical TSA answers.
#[derive(Debug, Clone)]
pub struct TimestampOptions {
    /// Hash of the message imprint (default SHA-256).
    pub imprint_hash: HashKind,
    /// `accuracy.seconds` (default 1 s; `None` omits accuracy).
    pub accuracy_seconds: Option<u64>,
    /// TSTInfo policy (default [`oid::TEST_POLICY`]).
    pub policy: ObjectIdentifier,
    /// Also put the TSA root in the token's certificate set (default: only
    /// the leaf, the minimum a verifier needs besides its trust store).
    pub include_root: bool,
}

impl Default for TimestampOptions {
    fn default() -> Self {
        Self {
            imprint_hash: HashKind::Sha256,
            accuracy_seconds: Some(1),
            policy: oid::TEST_POLICY,
            include_root: false,
        }
    }
}

/// An offline TSA over a [`TsaPki`].
#[derive(Debug, Clone)]
pub struct TestTsa {
    pki: TsaPki,
    /// What [`Self::timestamp`] uses (default: [`TimestampOptions::default`]).
    options: TimestampOptions,
}

impl TestTsa {
    /// A TSA with the default timestamping chain of `kind`.
    pub fn new(kind: KeyKind) -> Result<Self, TsaError> {
        Ok(Self {
            pki: TsaPki::new(kind)?,
            options: TimestampOptions::default(),
        })
    }

    /// A TSA over a chain built by the caller (custom name or validity).
    pub fn from_pki(pki: TsaPki) -> Self {
        Self {
            pki,
            options: TimestampOptions::default(),
        }
    }

    /// The options [`Self::timestamp`] (and so the signer) uses, for
    /// example to put the TSA root into every token, as TSAs that send
    /// their whole chain do.
    pub fn with_options(mut self, options: TimestampOptions) -> Self {
        self.options = options;
        self
    }

    pub fn options(&self) -> &TimestampOptions {
        &self.options
    }

    pub fn pki(&self) -> &TsaPki {
        &self.pki
    }

    /// The TSA root as PEM, for a `tsa` trust store.
    pub fn root_pem(&self) -> &str {
        self.pki.root_pem()
    }

    /// A token over `message` (for Notation: the envelope's raw signature
    /// bytes) at `gen_time` (sub-second precision is dropped), DER
    /// ContentInfo, made with this TSA's options.
    pub fn timestamp(&self, message: &[u8], gen_time: DateTime<Utc>) -> Result<Vec<u8>, TsaError> {
        self.timestamp_with(message, gen_time, &self.options)
    }

    /// [`Self::timestamp`] with explicit options.
    pub fn timestamp_with(
        &self,
        message: &[u8],
        gen_time: DateTime<Utc>,
        options: &TimestampOptions,
    ) -> Result<Vec<u8>, TsaError> {
        let secs = u64::try_from(gen_time.timestamp()).map_err(|_| TsaError::GenTime(gen_time))?;
        let gen = GeneralizedTime::from_unix_duration(std::time::Duration::from_secs(secs))
            .map_err(|_| TsaError::GenTime(gen_time))?;

        // A serial unique per (message, time), stable across runs.
        let mut hasher = Sha256::new();
        hasher.update(message);
        hasher.update(secs.to_be_bytes());
        let mut serial = hasher.finalize()[..10].to_vec();
        serial[0] = (serial[0] & 0x7f) | 0x01;

        let tst = TstInfo {
            version: TspVersion::V1,
            policy: options.policy,
            message_imprint: MessageImprint {
                hash_algorithm: options.imprint_hash.algorithm_identifier(),
                hashed_message: OctetString::new(options.imprint_hash.digest(message))?,
            },
            serial_number: Int::new(&serial)?,
            gen_time: gen,
            accuracy: options.accuracy_seconds.map(|s| Accuracy {
                seconds: Some(s),
                millis: None,
                micros: None,
            }),
            ordering: false,
            nonce: None,
            tsa: None,
            extensions: None,
        };
        let tst_der = tst.to_der()?;

        let leaf = self.pki.leaf.cert.x509()?;
        let key = &self.pki.leaf.key;
        let (signature_algorithm, hash) = key.x509_algorithm()?;

        let signing_certificate = SigningCertificateV2 {
            certs: vec![EssCertIdV2 {
                hash_algorithm: None,
                cert_hash: OctetString::new(Sha256::digest(self.pki.leaf.cert.der()).to_vec())?,
                issuer_serial: Some(IssuerSerial {
                    issuer: vec![GeneralName::DirectoryName(
                        leaf.tbs_certificate.issuer.clone(),
                    )],
                    serial_number: leaf.tbs_certificate.serial_number.clone(),
                }),
            }],
            policies: None,
        };
        let attribute = |oid: ObjectIdentifier, value: Any| -> Result<Attribute, TsaError> {
            Ok(Attribute {
                oid,
                values: SetOfVec::try_from(vec![value])?,
            })
        };
        let signed_attrs = SetOfVec::try_from(vec![
            attribute(oid::CONTENT_TYPE, Any::encode_from(&oid::TST_INFO)?)?,
            attribute(
                oid::MESSAGE_DIGEST,
                Any::encode_from(&OctetString::new(hash.digest(&tst_der))?)?,
            )?,
            attribute(
                oid::SIGNING_CERTIFICATE_V2,
                Any::encode_from(&signing_certificate)?,
            )?,
        ])?;
        // CMS signs the DER of the attributes as a SET OF (tag 0x31), not
        // the [0] IMPLICIT form they take inside SignerInfo.
        let signed = key.sign_x509(&signed_attrs.to_der()?)?;

        let signer_info = SignerInfo {
            version: CmsVersion::V1,
            sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
                issuer: leaf.tbs_certificate.issuer.clone(),
                serial_number: leaf.tbs_certificate.serial_number.clone(),
            }),
            digest_alg: hash.algorithm_identifier(),
            signed_attrs: Some(signed_attrs),
            signature_algorithm,
            signature: OctetString::new(signed.signature)?,
            unsigned_attrs: None,
        };
        let mut certs = vec![CertificateChoices::Certificate(leaf)];
        if options.include_root {
            certs.push(CertificateChoices::Certificate(self.pki.root.cert.x509()?));
        }
        let signed_data = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: SetOfVec::try_from(vec![hash.algorithm_identifier()])?,
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: oid::TST_INFO,
                econtent: Some(Any::encode_from(&OctetString::new(tst_der)?)?),
            },
            certificates: Some(CertificateSet(SetOfVec::try_from(certs)?)),
            crls: None,
            signer_infos: SignerInfos(SetOfVec::try_from(vec![signer_info])?),
        };
        let info = ContentInfo {
            content_type: oid::SIGNED_DATA,
            content: Any::encode_from(&signed_data)?,
        };
        Ok(info.to_der()?)
    }
}
