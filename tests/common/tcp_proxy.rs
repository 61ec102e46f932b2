//! A TCP proxy on loopback in front of a real registry, to make it slow or
//! silent without touching it: the registry's answers are delayed, or never
//! come at all.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Behaviour {
    /// Forward both ways; wait this long before passing on each read from
    /// the registry (about once per answer for the small answers of the
    /// manifest API).
    Delay(Duration),
    /// Accept connections and read requests, but never answer nor close.
    BlackHole,
    /// Close every connection as soon as it is accepted: a registry that is
    /// down, or blocked at the network with a reset.
    Refuse,
}

/// The proxy, stopped (and every connection it holds closed) when dropped.
pub struct TcpProxy {
    pub address: String,
    stop: Arc<AtomicBool>,
    refusing: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<TcpStream>>>,
    accepted: Arc<AtomicUsize>,
    tls_hellos: Arc<AtomicUsize>,
}

impl TcpProxy {
    /// Listens on a free loopback port; forwards to `upstream` (host:port).
    pub fn start(upstream: &str, behaviour: Behaviour) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let address = listener.local_addr().expect("proxy address").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let refusing = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(Mutex::new(Vec::new()));
        let accepted = Arc::new(AtomicUsize::new(0));
        let tls_hellos = Arc::new(AtomicUsize::new(0));
        let hellos = tls_hellos.clone();
        let upstream = upstream.to_string();
        let (stop2, refusing2) = (stop.clone(), refusing.clone());
        let (conns, count) = (connections.clone(), accepted.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                if refusing2.load(Ordering::SeqCst) || matches!(behaviour, Behaviour::Refuse) {
                    // Closed at once: the client sees the connection end.
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                match behaviour {
                    Behaviour::Refuse => {}
                    Behaviour::BlackHole => {
                        // Kept to be closed later (a delaying proxy's
                        // connections end when either side closes).
                        if let Ok(clone) = client.try_clone() {
                            conns.lock().unwrap().push(clone);
                        }
                        std::thread::spawn(move || drain(client));
                    }
                    Behaviour::Delay(delay) => {
                        let Ok(server) = TcpStream::connect(&upstream) else {
                            continue;
                        };
                        let (c2, s2) = (client.try_clone(), server.try_clone());
                        if let (Ok(c2), Ok(s2)) = (c2, s2) {
                            let hellos = hellos.clone();
                            std::thread::spawn(move || pipe(c2, s2, Duration::ZERO, Some(&hellos)));
                            std::thread::spawn(move || pipe(server, client, delay, None));
                        }
                    }
                }
            }
        });
        TcpProxy {
            address,
            stop,
            refusing,
            connections,
            accepted,
            tls_hellos,
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Connections forwarded so far whose client began with a TLS record
    /// (the others spoke plain HTTP, or nothing).
    pub fn tls_hellos(&self) -> usize {
        self.tls_hellos.load(Ordering::SeqCst)
    }

    /// From now on, closes every connection as soon as it is accepted, and
    /// closes those a black hole holds: a registry that went down for good.
    pub fn refuse(&self) {
        self.refusing.store(true, Ordering::SeqCst);
        self.close_connections();
    }

    fn close_connections(&self) {
        for c in self.connections.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.close_connections();
        // Wake the accept loop so that it sees `stop`.
        let _ = TcpStream::connect(&self.address);
    }
}

fn drain(mut client: TcpStream) {
    let mut buffer = [0u8; 8192];
    while matches!(client.read(&mut buffer), Ok(n) if n > 0) {}
}

/// Copies `from` to `to` until either ends; counts in `hellos` a stream
/// that begins with a TLS handshake record (content type 22).
fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration, hellos: Option<&AtomicUsize>) {
    let mut buffer = [0u8; 65536];
    let mut first = true;
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if std::mem::take(&mut first) && buffer[0] == 0x16 {
                    if let Some(hellos) = hellos {
                        hellos.fetch_add(1, Ordering::SeqCst);
                    }
                }
                if !delay.is_zero() {
                    std::thread::sleep(delay);
                }
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
