//! The application: which response each request gets.
//!
//! | route | methods | response |
//! |---|---|---|
//! | `/` | GET, HEAD | 200 `Hello, World!` (text/plain) |
//! | `/echo` | POST | 200 with the request body |
//! | `/delay?ms=N` | GET, HEAD | 200 `done` after N ms (a loop timeout; N ≤ 60000) |
//! | `/stream?chunks=N` | GET, HEAD | 200, chunked, N chunks `chunk K\n` (K = 1..=N; N ≤ 100000) |
//! | anything else | any | 404 |
//!
//! A known path with another method gets 405 with `Allow`.

use std::borrow::Cow;
use std::time::Duration;

use crate::http1::{Method, RequestHead};
use crate::response::{self, BodyLength, DateCache, RenderKey};

/// The longest `/delay` allowed.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The most chunks `/stream` sends.
pub const MAX_CHUNKS: u64 = 100_000;

/// A response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// A body known at compile time.
    Static(&'static [u8]),
    /// A body built for this request.
    Bytes(Vec<u8>),
    /// `/stream`'s chunked body: this many chunks.
    Chunks(u64),
}

impl Body {
    fn length(&self) -> BodyLength {
        match self {
            Body::Static(b) => BodyLength::Fixed(b.len()),
            Body::Bytes(b) => BodyLength::Fixed(b.len()),
            Body::Chunks(_) => BodyLength::Chunked,
        }
    }
}

/// A response, before it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The `Content-Type`.
    pub content_type: Option<Cow<'static, str>>,
    /// The body.
    pub body: Body,
    /// The `Allow` header, for 405.
    pub allow: Option<&'static str>,
}

impl Response {
    /// A `text/plain` response.
    pub fn text(status: u16, body: &'static str) -> Response {
        Response {
            status,
            content_type: Some(Cow::Borrowed("text/plain")),
            body: Body::Static(body.as_bytes()),
            allow: None,
        }
    }

    /// An error response whose body is the reason, for `status`.
    pub fn error(status: u16, reason: &str) -> Response {
        Response {
            status,
            content_type: Some(Cow::Borrowed("text/plain")),
            body: Body::Bytes(
                format!("{status} {}: {reason}\n", response::reason(status)).into_bytes(),
            ),
            allow: None,
        }
    }

    /// The body's length in bytes (for the access log); chunked bodies
    /// count their data.
    pub fn body_len(&self) -> usize {
        match &self.body {
            Body::Static(b) => b.len(),
            Body::Bytes(b) => b.len(),
            Body::Chunks(n) => (1..=*n).map(|k| format!("chunk {k}\n").len()).sum(),
        }
    }
}

/// What to send for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Respond at once.
    Now(Response),
    /// Respond after a delay, without blocking other connections.
    After(Duration, Response),
}

/// The reply for `head`, whose decoded body is `body`.
#[inline]
pub fn route(head: &RequestHead<'_>, body: Vec<u8>) -> Reply {
    let readable = matches!(head.method, Method::Get | Method::Head);
    match head.path() {
        "/" if readable => Reply::Now(Response::text(200, "Hello, World!")),
        "/echo" if head.method == Method::Post => Reply::Now(Response {
            status: 200,
            content_type: Some(match &head.content_type {
                Some(given) => Cow::Owned(given.to_string()),
                None => Cow::Borrowed("application/octet-stream"),
            }),
            body: Body::Bytes(body),
            allow: None,
        }),
        "/delay" if readable => match bounded_param(head, "ms", MAX_DELAY_MS) {
            Some(ms) => Reply::After(Duration::from_millis(ms), Response::text(200, "done")),
            None => Reply::Now(Response::error(
                400,
                "ms must be an integer from 0 to 60000",
            )),
        },
        "/stream" if readable => match bounded_param(head, "chunks", MAX_CHUNKS) {
            Some(n) => Reply::Now(Response {
                status: 200,
                content_type: Some(Cow::Borrowed("text/plain")),
                body: Body::Chunks(n),
                allow: None,
            }),
            None => Reply::Now(Response::error(
                400,
                "chunks must be an integer from 0 to 100000",
            )),
        },
        "/" | "/delay" | "/stream" => not_allowed("GET, HEAD"),
        "/echo" => not_allowed("POST"),
        _ => Reply::Now(Response::error(404, "no such path")),
    }
}

fn not_allowed(allow: &'static str) -> Reply {
    let mut response = Response::error(405, "method not allowed");
    response.allow = Some(allow);
    Reply::Now(response)
}

fn bounded_param(head: &RequestHead<'_>, name: &str, max: u64) -> Option<u64> {
    let value: u64 = head.query_param(name)?.parse().ok()?;
    (value <= max).then_some(value)
}

/// Appends `response` to `out` as the answer to a request with `method`
/// (no body for HEAD, headers unchanged).
pub fn write_response(
    out: &mut Vec<u8>,
    response: &Response,
    method: &Method,
    keep_alive: bool,
    http10: bool,
    date: &DateCache,
) {
    let extra: &[(&str, &str)] = match response.allow {
        Some(allow) => &[("Allow", allow)],
        None => &[],
    };
    response::write_head(
        out,
        response.status,
        response.content_type.as_deref(),
        response.body.length(),
        extra,
        keep_alive,
        http10,
        date,
    );
    if *method == Method::Head {
        return;
    }
    match &response.body {
        Body::Static(b) => out.extend_from_slice(b),
        Body::Bytes(b) => out.extend_from_slice(b),
        Body::Chunks(n) => {
            for k in 1..=*n {
                response::write_chunk(out, format!("chunk {k}\n").as_bytes());
            }
            response::write_last_chunk(out);
        }
    }
}

/// As [`write_response`], taking a response whose bytes depend only on
/// the date (a static body and content type) from `date`'s per-second
/// cache: one copy instead of formatting a head.
#[inline]
pub fn write_response_cached(
    out: &mut Vec<u8>,
    response: &Response,
    method: &Method,
    keep_alive: bool,
    http10: bool,
    date: &mut DateCache,
) {
    let static_parts = match (&response.body, &response.content_type) {
        (Body::Static(body), Some(Cow::Borrowed(content_type))) => {
            Some((*body, Some(*content_type)))
        }
        (Body::Static(body), None) => Some((*body, None)),
        _ => None,
    };
    let Some((body, content_type)) = static_parts else {
        return write_response(out, response, method, keep_alive, http10, date);
    };
    let key = RenderKey {
        status: response.status,
        content_type,
        body,
        allow: response.allow,
        keep_alive,
        http10,
        head: *method == Method::Head,
    };
    let bytes = date.rendered(key, |date, bytes| {
        write_response(bytes, response, method, keep_alive, http10, date);
    });
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http1::{Framing, Version};

    fn head(method: Method, target: &str) -> RequestHead<'_> {
        RequestHead {
            method,
            target: target.into(),
            version: Version::Http11,
            keep_alive: true,
            framing: Framing::Empty,
            expect_continue: false,
            content_type: None,
        }
    }

    fn status(reply: &Reply) -> u16 {
        match reply {
            Reply::Now(r) | Reply::After(_, r) => r.status,
        }
    }

    #[test]
    fn the_route_table() {
        let cases = [
            (Method::Get, "/", 200),
            (Method::Head, "/", 200),
            (Method::Post, "/", 405),
            (Method::Post, "/echo", 200),
            (Method::Get, "/echo", 405),
            (Method::Get, "/delay?ms=10", 200),
            (Method::Get, "/delay", 400),
            (Method::Get, "/delay?ms=-1", 400),
            (Method::Get, "/delay?ms=60001", 400),
            (Method::Get, "/stream?chunks=3", 200),
            (Method::Get, "/stream?chunks=x", 400),
            (Method::Get, "/nope", 404),
            (Method::Other("DELETE".into()), "/", 405),
        ];
        for (method, target, expected) in cases {
            let reply = route(&head(method.clone(), target), Vec::new());
            assert_eq!(status(&reply), expected, "{method:?} {target}");
        }
        match route(&head(Method::Get, "/delay?ms=25"), Vec::new()) {
            Reply::After(d, r) => {
                assert_eq!(d, Duration::from_millis(25));
                assert_eq!(r.body, Body::Static(b"done"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let Reply::Now(r) = route(&head(Method::Get, "/echo"), Vec::new()) else {
            panic!()
        };
        assert_eq!(r.allow, Some("POST"));
    }

    #[test]
    fn head_responses_have_get_headers_and_no_body() {
        let date = DateCache::new(chrono::Utc::now());
        let Reply::Now(r) = route(&head(Method::Head, "/"), Vec::new()) else {
            panic!()
        };
        let mut out = Vec::new();
        write_response(&mut out, &r, &Method::Head, true, false, &date);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Content-Length: 13\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"));
    }

    #[test]
    fn cached_static_responses_are_byte_for_byte_the_rendered_ones() {
        let mut date = DateCache::new(chrono::Utc::now());
        for (method, target, keep_alive, http10) in [
            (Method::Get, "/", true, false),
            (Method::Head, "/", true, false),
            (Method::Get, "/", false, true),
            (Method::Post, "/", true, false), // 405 with Allow: dynamic body
            (Method::Get, "/missing", true, false),
        ] {
            let Reply::Now(r) = route(&head(method.clone(), target), Vec::new()) else {
                panic!()
            };
            let mut plain = Vec::new();
            write_response(&mut plain, &r, &method, keep_alive, http10, &date);
            for _ in 0..2 {
                let mut cached = Vec::new();
                write_response_cached(&mut cached, &r, &method, keep_alive, http10, &mut date);
                assert_eq!(cached, plain, "{method:?} {target}");
            }
        }
    }

    #[test]
    fn streams_are_chunked() {
        let date = DateCache::new(chrono::Utc::now());
        let Reply::Now(r) = route(&head(Method::Get, "/stream?chunks=2"), Vec::new()) else {
            panic!()
        };
        let mut out = Vec::new();
        write_response(&mut out, &r, &Method::Get, true, false, &date);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("Transfer-Encoding: chunked\r\n"));
        assert!(
            text.ends_with("\r\n\r\n8\r\nchunk 1\n\r\n8\r\nchunk 2\n\r\n0\r\n\r\n"),
            "{text}"
        );
        assert_eq!(r.body_len(), 16);
    }
}
