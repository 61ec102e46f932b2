//! A loopback HTTP/1.1 server that publishes the authority's material:
//! `GET /<name>.crl` and `POST /ocsp` (RFC 6960 A.1).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration as StdDuration;

use super::{RevocationAuthority, RevocationError};

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
    /// Milliseconds to wait before each answer ([`Self::set_delay`]).
    delay_ms: Arc<AtomicU64>,
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
            delay_ms: Arc::new(AtomicU64::new(0)),
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
            let delay = self.delay_ms.clone();
            std::thread::Builder::new()
                .name("testkit-revocation-server".into())
                .spawn(move || accept_loop(listener, &stop, &authority, &log, &delay))?
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

    /// Waits this long before each answer (a slow responder, so that
    /// concurrent clients overlap).
    pub fn set_delay(&self, delay: StdDuration) {
        self.delay_ms
            .store(delay.as_millis() as u64, Ordering::SeqCst);
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
    delay_ms: &Arc<AtomicU64>,
) {
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let authority = authority.clone();
                let log = log.clone();
                let delay = StdDuration::from_millis(delay_ms.load(Ordering::SeqCst));
                // One thread per connection: a stuck client cannot block others.
                let _ = std::thread::Builder::new()
                    .name("testkit-revocation-conn".into())
                    .spawn(move || {
                        std::thread::sleep(delay);
                        handle(stream, &authority, &log)
                    });
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
