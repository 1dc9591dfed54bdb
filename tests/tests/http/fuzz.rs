//! A bounded fuzz-style test: random and mutated requests, each on its own
//! connection. The server must never panic or hang, and must answer each
//! with a well-formed response or a close.

use std::io::{Read, Write};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use crate::util::TestServer;

/// xorshift64*: deterministic, so a failure reproduces from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const TEMPLATES: &[&[u8]] = &[
    b"GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"GET /delay?ms=1 HTTP/1.1\r\nHost: t\r\n\r\nGET /stream?chunks=3 HTTP/1.1\r\nHost: t\r\n\r\n",
    b"POST /echo HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b":",
    b"\0",
    b"Content-Length: 3\r\n",
    b"Transfer-Encoding: chunked\r\n",
    b"Content-Length: 99999999999999999999\r\n",
    b"ffffffffffffffffff\r\n",
    b"HTTP/1.1",
    b"\xff\xfe",
    b"%00",
    b"?ms=-1",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(out.len() + 1);
        match rng.below(6) {
            0 if !out.is_empty() => {
                let i = rng.below(out.len());
                out[i] = rng.next() as u8;
            }
            1 => {
                let token = TOKENS[rng.below(TOKENS.len())];
                out.splice(at..at, token.iter().copied());
            }
            2 if !out.is_empty() => {
                let end = (at + rng.below(16)).min(out.len());
                out.drain(at.min(end)..end);
            }
            3 => out.truncate(at),
            4 => {
                let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                out.splice(at..at, junk);
            }
            _ => {
                let copy = out[at.min(out.len())..].to_vec();
                out.extend_from_slice(&copy);
            }
        }
    }
    out
}

/// Checks `reply` is a sequence of well-formed responses, possibly cut
/// short by a close (a response interrupted mid-body is not allowed to be
/// malformed before the cut).
fn check_well_formed(reply: &[u8], input: &[u8]) {
    if reply.is_empty() {
        return; // closed without a word: allowed
    }
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(reply) {
        Ok(_) => {
            if let Some(code) = response.code {
                assert!(
                    (100..600).contains(&code),
                    "status {code} for {:?}",
                    String::from_utf8_lossy(input)
                );
            }
        }
        Err(e) => panic!(
            "malformed response ({e}) to {:?}: {:?}",
            String::from_utf8_lossy(input),
            String::from_utf8_lossy(&reply[..reply.len().min(200)])
        ),
    }
}

#[test]
fn random_and_mutated_requests_get_a_response_or_a_close() {
    let server = TestServer::default();
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    let started = Instant::now();
    let mut cases = 0;
    // Bounded in count and time.
    while cases < 400 && started.elapsed() < Duration::from_secs(20) {
        let input = if rng.below(4) == 0 {
            (0..rng.below(512)).map(|_| rng.next() as u8).collect()
        } else {
            let template = TEMPLATES[rng.below(TEMPLATES.len())];
            mutate(&mut rng, template)
        };
        let mut conn = server.connect();
        conn.set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        // Split the input in two writes, to exercise partial parsing.
        let split = rng.below(input.len() + 1);
        let _ = conn.write_all(&input[..split]);
        let _ = conn.write_all(&input[split..]);
        let _ = conn.shutdown(Shutdown::Write);
        let mut reply = Vec::new();
        match conn.read_to_end(&mut reply) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            Err(e) => panic!(
                "no answer and no close ({e}) for {:?}",
                String::from_utf8_lossy(&input)
            ),
        }
        check_well_formed(&reply, &input);
        cases += 1;
    }
    assert!(cases >= 50, "only {cases} cases ran");
    server.assert_healthy();
}
