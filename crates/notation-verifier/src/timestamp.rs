//! RFC 3161 timestamp countersignatures (spec digest §i).
//!
//! A token is CMS SignedData (version 3) over a TSTInfo whose message imprint
//! is the hash of the envelope's raw signature bytes. The TSA certificate is
//! selected by the signingCertificateV2 attribute, its path is built to a
//! trusted TSA root at the token's genTime, and the signed attributes are
//! verified with its key.

use chrono::{DateTime, Duration, Utc};
use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier, SignerInfo};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Decode, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_tsp::TstInfo;

use crate::cert::Certificate;
use crate::chain;
use crate::crypto::{oid as alg, HashAlgorithm};

#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[error("{0}")]
pub struct TimestampError(pub String);

fn err(m: impl Into<String>) -> TimestampError {
    TimestampError(m.into())
}

/// A token that verified: its time, accuracy and the TSA path that signed it.
#[derive(Debug, Clone)]
pub struct VerifiedTimestamp {
    pub gen_time: DateTime<Utc>,
    pub accuracy: Duration,
    /// TSA leaf first, ending with the trusted root.
    pub tsa_chain: Vec<Certificate>,
}

impl VerifiedTimestamp {
    pub fn earliest(&self) -> DateTime<Utc> {
        self.gen_time - self.accuracy
    }
    pub fn latest(&self) -> DateTime<Utc> {
        self.gen_time + self.accuracy
    }
}

/// Object identifiers of RFC 3161 / RFC 5652 / RFC 5035 (shared with the
/// test TSA, which writes what this module reads).
pub mod oid {
    use der::asn1::ObjectIdentifier as Oid;
    pub const SIGNED_DATA: Oid = Oid::new_unwrap("1.2.840.113549.1.7.2");
    pub const TST_INFO: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.1.4");
    pub const CONTENT_TYPE: Oid = Oid::new_unwrap("1.2.840.113549.1.9.3");
    pub const MESSAGE_DIGEST: Oid = Oid::new_unwrap("1.2.840.113549.1.9.4");
    pub const SIGNING_TIME: Oid = Oid::new_unwrap("1.2.840.113549.1.9.5");
    pub const SIGNING_CERTIFICATE_V2: Oid = Oid::new_unwrap("1.2.840.113549.1.9.16.2.47");
    /// The CA/Browser Forum baseline timestamp policy: no accuracy means 1 s.
    pub const BASELINE_POLICY: Oid = Oid::new_unwrap("0.4.0.2023.1.1");
}

/// The RFC 5035 signingCertificateV2 attribute value.
pub mod ess {
    use der::asn1::OctetString;
    use der::Sequence;
    use x509_cert::ext::pkix::name::GeneralNames;
    use x509_cert::serial_number::SerialNumber;
    use x509_cert::spki::AlgorithmIdentifierOwned;

    /// ESSCertIDv2: `hashAlgorithm` is DEFAULT sha256, so DER omits it.
    #[derive(Clone, Debug, Sequence)]
    pub struct EssCertIdV2 {
        #[asn1(optional = "true")]
        pub hash_algorithm: Option<AlgorithmIdentifierOwned>,
        pub cert_hash: OctetString,
        #[asn1(optional = "true")]
        pub issuer_serial: Option<IssuerSerial>,
    }

    #[derive(Clone, Debug, Sequence)]
    pub struct IssuerSerial {
        pub issuer: GeneralNames,
        pub serial_number: SerialNumber,
    }

    /// SigningCertificateV2 (policies are read past, never interpreted).
    #[derive(Clone, Debug, Sequence)]
    pub struct SigningCertificateV2 {
        pub certs: Vec<EssCertIdV2>,
        #[asn1(optional = "true")]
        pub policies: Option<der::Any>,
    }
}

use ess::SigningCertificateV2;

/// The largest token accepted (real tokens are a few KiB).
pub const MAX_TOKEN_SIZE: usize = 64 * 1024;

/// Verifies `token` (a CMS ContentInfo) as a countersignature over
/// `signature` (the envelope's raw signature bytes) against `tsa_roots`
/// (steps 2-7 of §i.2: everything except the code-signing validity range and
/// TSA revocation, which the caller does with the result).
pub fn verify_token(
    token: &[u8],
    signature: &[u8],
    tsa_roots: &[&Certificate],
) -> Result<VerifiedTimestamp, TimestampError> {
    let parsed = ParsedToken::parse_bounded(token)?;
    let tst = parsed.tst_info()?;
    check_imprint(&tst, signature)?;
    if tsa_roots.is_empty() {
        return Err(err("no trusted TSA certificate found in trust store"));
    }
    let gen_time = to_chrono(tst.gen_time.to_unix_duration());
    let roots: Vec<Certificate> = tsa_roots.iter().map(|c| (*c).clone()).collect();
    let mut last_error =
        err("failed to verify the timestamp countersignature with error: the token has no signer");
    for signer in parsed.signed_data.signer_infos.0.iter() {
        match parsed.verify_signer(signer, &roots, gen_time) {
            Ok(tsa_chain) => {
                chain::validate_timestamping_chain(&tsa_chain).map_err(|e| {
                    err(format!("failed to validate the timestamping certificate chain with error: {e}"))
                })?;
                return Ok(VerifiedTimestamp {
                    gen_time,
                    accuracy: accuracy(&tst),
                    tsa_chain,
                });
            }
            Err(e) => {
                last_error = err(format!(
                    "failed to verify the timestamp countersignature with error: failed to verify signed token: {e}"
                ))
            }
        }
    }
    Err(last_error)
}

/// The certificates a token carries (TSA leaf and intermediates), for
/// callers that fetch revocation material for the TSA chain.
pub fn token_certificates(token: &[u8]) -> Result<Vec<Certificate>, TimestampError> {
    Ok(ParsedToken::parse_bounded(token)?.certificates)
}

/// What a token claims, read without verifying anything: for the inspector,
/// which shows a token even when it will not verify.
#[derive(Debug, Clone)]
pub struct TokenSummary {
    pub gen_time: DateTime<Utc>,
    pub accuracy: Duration,
    /// The TSA policy OID, dotted.
    pub policy: String,
    /// The message imprint's hash algorithm (`SHA-256`, or the OID when unknown).
    pub imprint_hash: String,
    /// Certificates carried in the token, as found (usually the TSA leaf first).
    pub certificates: Vec<Certificate>,
}

/// Parses a token and returns its claims without checking them.
pub fn token_summary(token: &[u8]) -> Result<TokenSummary, TimestampError> {
    let parsed = ParsedToken::parse_bounded(token)?;
    let tst = parsed.tst_info()?;
    let hash_oid = tst.message_imprint.hash_algorithm.oid;
    Ok(TokenSummary {
        gen_time: to_chrono(tst.gen_time.to_unix_duration()),
        accuracy: accuracy(&tst),
        policy: tst.policy.to_string(),
        imprint_hash: HashAlgorithm::from_oid(&hash_oid)
            .map(|h| h.name().to_string())
            .unwrap_or_else(|| hash_oid.to_string()),
        certificates: parsed.certificates,
    })
}

fn to_chrono(d: std::time::Duration) -> DateTime<Utc> {
    i64::try_from(d.as_secs())
        .ok()
        .and_then(|s| DateTime::<Utc>::from_timestamp(s, d.subsec_nanos()))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn accuracy(tst: &TstInfo) -> Duration {
    let (s, ms, us) = match &tst.accuracy {
        Some(a) => (
            a.seconds.unwrap_or(0),
            i64::from(a.millis.unwrap_or(0)),
            i64::from(a.micros.unwrap_or(0)),
        ),
        None => (0, 0, 0),
    };
    let total = Duration::seconds(
        i64::try_from(s)
            .unwrap_or(i64::MAX / 1_000_000)
            .min(86_400 * 365),
    ) + Duration::milliseconds(ms)
        + Duration::microseconds(us);
    if total.is_zero() && tst.policy == oid::BASELINE_POLICY {
        return Duration::seconds(1);
    }
    total
}

fn check_imprint(tst: &TstInfo, signature: &[u8]) -> Result<(), TimestampError> {
    let hash_oid = tst.message_imprint.hash_algorithm.oid;
    let hash = HashAlgorithm::from_oid(&hash_oid).ok_or_else(|| {
        err(format!(
            "failed to get timestamp from timestamp countersignature with error: unrecognized hash algorithm: {hash_oid}"
        ))
    })?;
    if hash.digest(signature) != tst.message_imprint.hashed_message.as_bytes() {
        return Err(err(
            "failed to get timestamp from timestamp countersignature with error: invalid TSTInfo: mismatched message",
        ));
    }
    Ok(())
}

struct ParsedToken {
    signed_data: SignedData,
    certificates: Vec<Certificate>,
    /// The DER of the TSTInfo (content of the eContent OCTET STRING).
    econtent: Vec<u8>,
}

impl ParsedToken {
    /// The size limit, BER to DER, then [`ParsedToken::parse`].
    fn parse_bounded(token: &[u8]) -> Result<Self, TimestampError> {
        if token.len() > MAX_TOKEN_SIZE {
            return Err(err(format!(
                "timestamp token is {} bytes, more than the limit of {MAX_TOKEN_SIZE}",
                token.len()
            )));
        }
        let der = crate::ber::to_der(token).map_err(|e| {
            err(format!(
                "failed to parse timestamp countersignature with error: {e}"
            ))
        })?;
        Self::parse(&der)
    }

    fn parse(der: &[u8]) -> Result<Self, TimestampError> {
        let parse_err = |m: String| {
            err(format!(
                "failed to parse timestamp countersignature with error: {m}"
            ))
        };
        let info = ContentInfo::from_der(der).map_err(|e| parse_err(e.to_string()))?;
        if info.content_type != oid::SIGNED_DATA {
            return Err(parse_err(format!(
                "content type {} is not signedData",
                info.content_type
            )));
        }
        let signed_data: SignedData = info
            .content
            .decode_as()
            .map_err(|e| parse_err(format!("signed data: {e}")))?;
        if signed_data.version != cms::content_info::CmsVersion::V3 {
            return Err(parse_err(format!(
                "signed data version {:?} is not 3",
                signed_data.version
            )));
        }
        let econtent_type = signed_data.encap_content_info.econtent_type;
        if econtent_type != oid::TST_INFO {
            return Err(parse_err(format!(
                "unexpected content type: {econtent_type}. Expected to be id-ct-TSTInfo (1.2.840.113549.1.9.16.1.4)"
            )));
        }
        let econtent = signed_data
            .encap_content_info
            .econtent
            .as_ref()
            .ok_or_else(|| parse_err("the token has no TSTInfo content".into()))?
            .decode_as::<OctetString>()
            .map_err(|e| parse_err(format!("TSTInfo content: {e}")))?
            .as_bytes()
            .to_vec();
        let mut certificates = Vec::new();
        if let Some(set) = &signed_data.certificates {
            for choice in set.0.iter() {
                if let CertificateChoices::Certificate(c) = choice {
                    let der = c.to_der().map_err(|e| parse_err(e.to_string()))?;
                    certificates
                        .push(Certificate::from_der(&der).map_err(|e| parse_err(e.to_string()))?);
                }
            }
        }
        Ok(ParsedToken {
            signed_data,
            certificates,
            econtent,
        })
    }

    fn tst_info(&self) -> Result<TstInfo, TimestampError> {
        let tst = TstInfo::from_der(&self.econtent).map_err(|e| {
            err(format!(
                "failed to get the timestamp TSTInfo with error: cannot unmarshal TSTInfo from timestamp token: {e}"
            ))
        })?;
        if tst.version != x509_tsp::TspVersion::V1 {
            return Err(err(format!(
                "failed to get the timestamp TSTInfo with error: timestamp token info version must be 1, but got {:?}",
                tst.version
            )));
        }
        Ok(tst)
    }

    /// One SignerInfo: certificate selection by signingCertificateV2, path to
    /// a trusted root at genTime, signed attributes, signature.
    fn verify_signer(
        &self,
        signer: &SignerInfo,
        roots: &[Certificate],
        gen_time: DateTime<Utc>,
    ) -> Result<Vec<Certificate>, String> {
        if signer.version != cms::content_info::CmsVersion::V1 {
            return Err("signer info version must be 1 (issuerAndSerialNumber)".into());
        }
        let attrs = signer
            .signed_attrs
            .as_ref()
            .ok_or("the signer info has no signed attributes")?;
        let attr = |wanted: ObjectIdentifier| -> Result<&der::Any, String> {
            let found = attrs
                .iter()
                .find(|a| a.oid == wanted)
                .ok_or_else(|| format!("signed attribute {wanted} is missing"))?;
            if found.values.len() != 1 {
                return Err(format!(
                    "signed attribute {wanted} must have exactly one value"
                ));
            }
            found
                .values
                .iter()
                .next()
                .ok_or_else(|| format!("signed attribute {wanted} is empty"))
        };
        let cert = self.signing_certificate(signer, attr(oid::SIGNING_CERTIFICATE_V2)?)?;

        let content_type: ObjectIdentifier = attr(oid::CONTENT_TYPE)?
            .decode_as()
            .map_err(|e| format!("content type attribute: {e}"))?;
        if content_type != oid::TST_INFO {
            return Err(format!(
                "content type attribute {content_type} is not id-ct-TSTInfo"
            ));
        }
        let digest_hash = HashAlgorithm::from_oid(&signer.digest_alg.oid)
            .ok_or_else(|| format!("unsupported digest algorithm {}", signer.digest_alg.oid))?;
        let message_digest: OctetString = attr(oid::MESSAGE_DIGEST)?
            .decode_as()
            .map_err(|e| format!("message digest attribute: {e}"))?;
        if digest_hash.digest(&self.econtent) != message_digest.as_bytes() {
            return Err("message digest attribute does not match the TSTInfo".into());
        }

        let path = chain::build_path(&cert, &self.certificates, roots, gen_time)
            .map_err(|e| format!("cms verification failure: {e}"))?;

        if let Ok(time_attr) = attr(oid::SIGNING_TIME) {
            let t =
                x509_cert::time::Time::from_der(&time_attr.to_der().map_err(|e| e.to_string())?)
                    .map_err(|e| format!("signing time attribute: {e}"))?;
            let t = to_chrono(t.to_unix_duration());
            if let Some(c) = path.iter().find(|c| !c.is_valid_at(t)) {
                return Err(format!(
                    "signing time {t} is outside the validity of certificate \"{}\"",
                    c.subject()
                ));
            }
        }

        // The signature covers the DER SET OF the signed attributes.
        let signed_bytes = attrs.to_der().map_err(|e| e.to_string())?;
        let algorithm = signature_algorithm(signer, digest_hash)?;
        cert.key()
            .map_err(|e| e.to_string())?
            .verify_x509_signature(&algorithm, &signed_bytes, signer.signature.as_bytes())
            .map_err(|e| format!("cms signature: {e}"))?;
        Ok(path)
    }

    /// The certificate named by the first ESSCertIDv2, which must be in the
    /// token and match the hash.
    fn signing_certificate(
        &self,
        signer: &SignerInfo,
        value: &der::Any,
    ) -> Result<Certificate, String> {
        let scv2: SigningCertificateV2 = value
            .decode_as()
            .map_err(|e| format!("signingCertificateV2 attribute: {e}"))?;
        let first = scv2
            .certs
            .first()
            .ok_or("signingCertificateV2 attribute lists no certificate")?;
        let hash = match &first.hash_algorithm {
            None => HashAlgorithm::Sha256,
            Some(a) => HashAlgorithm::from_oid(&a.oid).ok_or(
                "unsupported certificate hash algorithm in SigningCertificateV2 attribute",
            )?,
        };
        let candidate = self
            .certificates
            .iter()
            .find(|c| match &first.issuer_serial {
                Some(is) => {
                    c.serial_number() == is.serial_number.as_bytes()
                        && is.issuer.iter().any(|n| match n {
                            x509_cert::ext::pkix::name::GeneralName::DirectoryName(name) => {
                                name.to_der().map(|d| d == c.raw_issuer()).unwrap_or(false)
                            }
                            _ => false,
                        })
                }
                None => matches_sid(c, &signer.sid),
            });
        let cert = candidate.ok_or("signing certificate not found in the timestamp token")?;
        if hash.digest(cert.der()) != first.cert_hash.as_bytes() {
            return Err("signing certificate hash in SigningCertificateV2 does not match".into());
        }
        if !matches_sid(cert, &signer.sid) {
            return Err("the signer identifier does not name the signing certificate".into());
        }
        Ok(cert.clone())
    }
}

fn matches_sid(cert: &Certificate, sid: &SignerIdentifier) -> bool {
    match sid {
        SignerIdentifier::IssuerAndSerialNumber(is) => {
            cert.serial_number() == is.serial_number.as_bytes()
                && is
                    .issuer
                    .to_der()
                    .map(|d| d == cert.raw_issuer())
                    .unwrap_or(false)
        }
        SignerIdentifier::SubjectKeyIdentifier(_) => false,
    }
}

/// CMS allows `rsaEncryption` / `id-ecPublicKey` as the signature algorithm
/// with the hash taken from the digest algorithm; map those to the
/// hash-specific identifiers the certificate verifier knows.
fn signature_algorithm(
    signer: &SignerInfo,
    digest: HashAlgorithm,
) -> Result<AlgorithmIdentifierOwned, String> {
    let oid = signer.signature_algorithm.oid;
    let mapped = match oid {
        alg::RSA_ENCRYPTION => Some(match digest {
            HashAlgorithm::Sha256 => alg::SHA256_WITH_RSA,
            HashAlgorithm::Sha384 => alg::SHA384_WITH_RSA,
            HashAlgorithm::Sha512 => alg::SHA512_WITH_RSA,
        }),
        alg::EC_PUBLIC_KEY => Some(match digest {
            HashAlgorithm::Sha256 => alg::ECDSA_SHA256,
            HashAlgorithm::Sha384 => alg::ECDSA_SHA384,
            HashAlgorithm::Sha512 => alg::ECDSA_SHA512,
        }),
        _ => None,
    };
    Ok(match mapped {
        Some(oid) => AlgorithmIdentifierOwned {
            oid,
            parameters: None,
        },
        None => signer.signature_algorithm.clone(),
    })
}
