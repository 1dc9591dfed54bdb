//! The floor of an httparse-based server: the raw mio server
//! (`mio_server.rs`) with one change, each request parsed by `httparse`
//! (request line and up to 32 headers, as a server on httparse must)
//! instead of found by scanning for "\r\n\r\n". Nothing is checked,
//! routed or logged; the reply is the same canned response. Its cost over
//! `mio_server` is what parsing with httparse alone costs, the least any
//! httparse-based server can add.
//! Usage: mio_httparse_server [PORT]  (or env PORT; default 8080)
use std::io::{ErrorKind, Read, Write};
use std::time::{SystemTime, UNIX_EPOCH};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(0);

struct Conn {
    sock: TcpStream,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
}

fn port() -> u16 {
    std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(8080)
}

fn make_response(now: SystemTime) -> Vec<u8> {
    let mut r = Vec::with_capacity(160);
    r.extend_from_slice(
        b"HTTP/1.1 200 OK\r\nServer: mio\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nDate: ",
    );
    r.extend_from_slice(httpdate::fmt_http_date(now).as_bytes());
    r.extend_from_slice(b"\r\n\r\nHello, World!");
    r
}

/// The length of the complete request at the start of `b`, `None` if it is
/// not all here, `Some(Err(()))` if it is malformed.
#[inline]
fn parse_request(b: &[u8]) -> Option<Result<usize, ()>> {
    // Uninitialised, as httparse writes only the headers it finds.
    let mut headers = [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; 32];
    let mut req = httparse::Request::new(&mut []);
    match req.parse_with_uninit_headers(b, &mut headers) {
        Ok(httparse::Status::Complete(n)) => Some(Ok(n)),
        Ok(httparse::Status::Partial) => None,
        Err(_) => Some(Err(())),
    }
}

/// Returns false when the connection must be closed.
fn on_ready(c: &mut Conn, resp: &[u8], tmp: &mut [u8]) -> bool {
    // Read until WouldBlock (edge-triggered).
    loop {
        match c.sock.read(tmp) {
            Ok(0) => return false,
            Ok(n) => {
                let data: &[u8] = if c.rbuf.is_empty() {
                    &tmp[..n]
                } else {
                    c.rbuf.extend_from_slice(&tmp[..n]);
                    &c.rbuf[..]
                };
                let mut start = 0;
                while let Some(parsed) = parse_request(&data[start..]) {
                    let Ok(n) = parsed else { return false };
                    c.wbuf.extend_from_slice(resp);
                    start += n;
                }
                if c.rbuf.is_empty() {
                    if start < n {
                        c.rbuf.extend_from_slice(&tmp[start..n]);
                    }
                } else {
                    c.rbuf.drain(..start);
                }
                if c.rbuf.len() > 1 << 20 {
                    return false; // garbage / oversized header
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    // Flush what we can; the WRITABLE edge wakes us for the rest.
    while c.wpos < c.wbuf.len() {
        match c.sock.write(&c.wbuf[c.wpos..]) {
            Ok(0) => return false,
            Ok(n) => c.wpos += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return false,
        }
    }
    c.wbuf.clear();
    c.wpos = 0;
    true
}

fn main() -> std::io::Result<()> {
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let addr = format!("127.0.0.1:{}", port()).parse().unwrap();
    let mut listener = TcpListener::bind(addr)?;
    poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;

    let mut conns: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut tmp = vec![0u8; 64 * 1024];
    let mut now = SystemTime::now();
    let mut last_sec = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
    let mut resp = make_response(now);

    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        now = SystemTime::now();
        let sec = now.duration_since(UNIX_EPOCH).unwrap().as_secs();
        if sec != last_sec {
            last_sec = sec;
            resp = make_response(now);
        }
        for ev in events.iter() {
            if ev.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut sock, _)) => {
                            let _ = sock.set_nodelay(true);
                            let idx = free.pop().unwrap_or_else(|| {
                                conns.push(None);
                                conns.len() - 1
                            });
                            poll.registry().register(
                                &mut sock,
                                Token(idx + 1),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            conns[idx] = Some(Conn {
                                sock,
                                rbuf: Vec::new(),
                                wbuf: Vec::with_capacity(4096),
                                wpos: 0,
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(e) => {
                            eprintln!("accept: {e}");
                            break;
                        }
                    }
                }
            } else {
                let idx = ev.token().0 - 1;
                let keep = match conns.get_mut(idx).and_then(|c| c.as_mut()) {
                    Some(c) => on_ready(c, &resp, &mut tmp),
                    None => continue,
                };
                if !keep {
                    if let Some(mut c) = conns[idx].take() {
                        let _ = poll.registry().deregister(&mut c.sock);
                    }
                    free.push(idx);
                }
            }
        }
    }
}
