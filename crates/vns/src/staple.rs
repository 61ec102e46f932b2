//! Fetches OCSP responses and CRLs for the signing and TSA chains of an
//! envelope, to staple them into the bundle (issue: offline revocation).
//! As notation-core-go: OCSP first, CRL when OCSP gives no usable answer;
//! `http://` only; short timeouts; bounded sizes. What cannot be fetched is
//! reported, never silently dropped.

use std::time::Duration;

use futures_util::StreamExt;
use notation_verifier::bundle::{Staple, StapleKind};
use notation_verifier::cert::Certificate;
use notation_verifier::envelope;

use crate::revocation_cache::{Kind, RevocationCache};

/// OCSP answers are small; CRLs can be big but a bundle is a manifest
/// (4 MiB in total), so larger CRLs are reported instead of stapled.
pub const MAX_OCSP_SIZE: usize = 20 * 1024;
pub const MAX_STAPLED_CRL_SIZE: usize = 512 * 1024;
const OCSP_TIMEOUT: Duration = Duration::from_secs(2);
const CRL_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Default, Clone)]
pub struct Stapled {
    pub staples: Vec<Staple>,
    /// One line per certificate whose status could not be stapled.
    pub problems: Vec<String>,
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(2))
        .build()
        .unwrap_or_default()
}

/// Certificate pairs (certificate, issuer) whose status a verifier checks:
/// the signing chain without its root, and the TSA certificates the token
/// carries (their issuer must be in the token too). A TSA certificate that
/// names revocation sources but whose issuer the token lacks cannot be
/// asked about: it is reported in `problems`.
fn pairs(
    media_type: &str,
    bytes: &[u8],
    problems: &mut Vec<String>,
) -> Result<Vec<(Certificate, Certificate)>, String> {
    let env = envelope::parse_and_verify(media_type, bytes).map_err(|e| e.message)?;
    let mut pairs: Vec<(Certificate, Certificate)> = env
        .chain
        .windows(2)
        .map(|w| (w[0].clone(), w[1].clone()))
        .collect();
    if let Some(token) = &env.timestamp_token {
        let certs =
            notation_verifier::timestamp::token_certificates(token).map_err(|e| e.to_string())?;
        for c in &certs {
            if let Some(issuer) = certs
                .iter()
                .find(|i| i.der() != c.der() && i.raw_subject() == c.raw_issuer())
            {
                pairs.push((c.clone(), issuer.clone()));
            } else if c.raw_subject() != c.raw_issuer() && c.has_revocation_sources() {
                problems.push(format!(
                    "{}: the timestamp token does not carry its issuer \"{}\", so its OCSP/CRL status cannot be requested",
                    c.subject(),
                    c.issuer()
                ));
            }
        }
    }
    Ok(pairs)
}

async fn fetch(
    client: &reqwest::Client,
    request: reqwest::RequestBuilder,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    let _ = client;
    let response = tokio::time::timeout(timeout, request.send())
        .await
        .map_err(|_| format!("timed out after {timeout:?}"))?
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("HTTP {}", response.status()));
    }
    let mut body = Vec::new();
    let mut stream = response.bytes_stream();
    while let Some(chunk) = tokio::time::timeout(timeout, stream.next())
        .await
        .map_err(|_| "timed out".to_string())?
    {
        let chunk = chunk.map_err(|e| e.to_string())?;
        if body.len() + chunk.len() > limit {
            return Err(format!("larger than {limit} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn ocsp_is_definite(der: &[u8], cert: &Certificate, issuer: &Certificate) -> bool {
    // Definite = the verifier would decide good or revoked with it now.
    // (Not `check_chain` on `[cert, issuer]`: that validates the pair as a
    // whole code-signing chain ending in a root, which an intermediate
    // issuer, a CA certificate or a TSA certificate never is.)
    notation_verifier::revocation::ocsp_decides(der, cert, issuer, chrono::Utc::now())
}

pub async fn staple(client: &reqwest::Client, media_type: &str, envelope: &[u8]) -> Stapled {
    staple_cached(client, None, media_type, envelope).await
}

/// Fetches through `cache` first (`vns serve`): an answer kept there is
/// used as fetched, and a fetched one is kept until its nextUpdate.
async fn fetch_cached(
    client: &reqwest::Client,
    cache: Option<&RevocationCache>,
    (kind, url, request): (Kind, &str, &[u8]),
    builder: reqwest::RequestBuilder,
    limit: usize,
    timeout: Duration,
) -> Result<Vec<u8>, String> {
    match cache {
        Some(c) => {
            c.get_or_fetch(kind, url, request, chrono::Utc::now(), || {
                fetch(client, builder, limit, timeout)
            })
            .await
        }
        None => fetch(client, builder, limit, timeout).await,
    }
}

pub async fn staple_cached(
    client: &reqwest::Client,
    cache: Option<&RevocationCache>,
    media_type: &str,
    envelope: &[u8],
) -> Stapled {
    let mut out = Stapled::default();
    let pairs = match pairs(media_type, envelope, &mut out.problems) {
        Ok(p) => p,
        Err(e) => {
            out.problems
                .push(format!("cannot read the envelope's certificates: {e}"));
            return out;
        }
    };
    for (cert, issuer) in pairs {
        let ocsp_urls = cert.ocsp_urls();
        let crl_urls = cert.crl_urls();
        if ocsp_urls.is_empty() && crl_urls.is_empty() {
            continue;
        }
        let mut answered = false;
        if let Ok(request) = notation_verifier::revocation::ocsp_request(&cert, &issuer) {
            for url in ocsp_urls.iter() {
                if !url.starts_with("http://") {
                    out.problems.push(format!(
                        "{}: OCSP {url}: only http:// is fetched",
                        cert.subject()
                    ));
                    continue;
                }
                let req = client
                    .post(url)
                    .header("Content-Type", "application/ocsp-request")
                    .body(request.clone());
                let key = (Kind::Ocsp, url.as_str(), request.as_slice());
                match fetch_cached(client, cache, key, req, MAX_OCSP_SIZE, OCSP_TIMEOUT).await {
                    Ok(der) => {
                        // Certificates without a CRL keep even an "unknown" answer.
                        let definite =
                            ocsp_is_definite(&der, &cert, &issuer) || crl_urls.is_empty();
                        out.staples.push(Staple {
                            kind: StapleKind::Ocsp,
                            for_certificate: cert.sha256_fingerprint(),
                            source: url.clone(),
                            der,
                        });
                        answered = definite;
                        break;
                    }
                    Err(e) => out
                        .problems
                        .push(format!("{}: OCSP {url}: {e}", cert.subject())),
                }
            }
        }
        if answered {
            continue;
        }
        // notation-core-go fetches every CRL distribution point.
        for url in &crl_urls {
            if !url.starts_with("http://") {
                out.problems.push(format!(
                    "{}: CRL {url}: only http:// is fetched",
                    cert.subject()
                ));
                continue;
            }
            let key = (Kind::Crl, url.as_str(), &[][..]);
            let get = client.get(url);
            match fetch_cached(client, cache, key, get, MAX_STAPLED_CRL_SIZE, CRL_TIMEOUT).await {
                Ok(der) => out.staples.push(Staple {
                    kind: StapleKind::Crl,
                    for_certificate: issuer.sha256_fingerprint(),
                    source: url.clone(),
                    der,
                }),
                Err(e) => out.problems.push(format!(
                    "{}: CRL {url}: {e}{}",
                    cert.subject(),
                    if e.starts_with("larger") {
                        " (too large to staple; verification needs it online)"
                    } else {
                        ""
                    }
                )),
            }
        }
    }
    out
}
