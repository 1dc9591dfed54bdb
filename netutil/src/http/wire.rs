//! Writing responses into a buffer: status lines, heads, chunks, and the
//! cached `Date` header.

use chrono::{DateTime, Utc};

use crate::http::response::Response;

/// The `Server` header's value, unless a handler sets its own.
pub(crate) const SERVER: &str = concat!("netutil/", env!("CARGO_PKG_VERSION"));

/// The `Date` header's value, formatted once a second rather than per
/// response (RFC 9110 §6.6.1 asks for one-second resolution anyway), and
/// whole responses that depend on nothing else.
#[derive(Debug, Clone)]
pub(crate) struct DateCache {
    second: i64,
    /// Whole responses that depend on nothing but the date: see
    /// [`DateCache::rendered`]. Emptied when the second changes.
    rendered: Vec<(RenderKey, Vec<u8>)>,
    text: String,
    /// `\r\nServer: ...\r\nDate: ...`, formatted with the date.
    common: Vec<u8>,
}

impl DateCache {
    /// A cache holding `now`.
    pub(crate) fn new(now: DateTime<Utc>) -> DateCache {
        let mut cache = DateCache {
            second: i64::MIN,
            rendered: Vec::new(),
            text: String::new(),
            common: Vec::new(),
        };
        cache.update(now);
        cache
    }

    /// Reformats if `now` is in a later second than the cached value.
    pub(crate) fn update(&mut self, now: DateTime<Utc>) {
        let second = now.timestamp();
        if second != self.second {
            self.second = second;
            self.text = now.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
            self.common = format!("\r\nServer: {SERVER}\r\nDate: {}", self.text).into_bytes();
            self.rendered.clear();
        }
    }

    /// The bytes of a response identified by `key` (which must determine
    /// every byte but the date), rendered by `render` at most once a second.
    pub(crate) fn rendered(
        &mut self,
        key: RenderKey,
        render: impl FnOnce(&DateCache, &mut Vec<u8>),
    ) -> &[u8] {
        let index = match self.rendered.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let mut bytes = Vec::new();
                render(self, &mut bytes);
                // Bounded: the oldest goes first.
                if self.rendered.len() >= MAX_RENDERED {
                    self.rendered.remove(0);
                }
                self.rendered.push((key, bytes));
                self.rendered.len() - 1
            }
        };
        &self.rendered[index].1
    }

    /// The IMF-fixdate, for example `Sun, 06 Nov 1994 08:49:37 GMT`.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }
}

/// The most rendered responses a [`DateCache`] keeps.
const MAX_RENDERED: usize = 32;

/// What identifies a response whose bytes depend only on the date: its
/// status, static content type and static body, and how the connection
/// continues. Static strings compare by address.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RenderKey {
    pub(crate) status: u16,
    pub(crate) content_type: Option<&'static str>,
    pub(crate) body: &'static [u8],
    pub(crate) keep_alive: bool,
    pub(crate) http10: bool,
    pub(crate) head: bool,
}

impl PartialEq for RenderKey {
    fn eq(&self, other: &RenderKey) -> bool {
        let same_type = match (self.content_type, other.content_type) {
            (Some(a), Some(b)) => std::ptr::eq(a, b),
            (None, None) => true,
            _ => false,
        };
        self.status == other.status
            && std::ptr::eq(self.body, other.body)
            && same_type
            && self.keep_alive == other.keep_alive
            && self.http10 == other.http10
            && self.head == other.head
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// `Content-Length: n`.
    Length(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the connection closes (HTTP/1.0 streams).
    UntilClose,
    /// No body and no length (1xx, 204, 304).
    None,
}

/// True for statuses that never have a body (RFC 9110 §6.4.1).
pub(crate) fn bodiless(status: u16) -> bool {
    (100..200).contains(&status) || status == 204 || status == 304
}

/// The reason phrase for `status`.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

/// Appends the status line, the response's fields and the server's
/// (ending with the blank line) to `out`.
pub(crate) fn write_head(
    out: &mut Vec<u8>,
    response: &Response,
    framing: Framing,
    keep_alive: bool,
    http10: bool,
    date: &DateCache,
) {
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(response.status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(response.status).as_bytes());
    if response.has_server {
        out.extend_from_slice(b"\r\nDate: ");
        out.extend_from_slice(date.text.as_bytes());
    } else {
        out.extend_from_slice(&date.common);
    }
    if let Some(content_type) = &response.content_type {
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
    }
    match framing {
        Framing::Length(n) => {
            out.extend_from_slice(b"\r\nContent-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        Framing::Chunked => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked"),
        Framing::UntilClose | Framing::None => {}
    }
    for (name, value) in &response.headers {
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
    }
    if !keep_alive {
        out.extend_from_slice(b"\r\nConnection: close");
    } else if http10 {
        out.extend_from_slice(b"\r\nConnection: keep-alive");
    }
    out.extend_from_slice(b"\r\n\r\n");
}

/// Appends one chunk of a chunked body (`data` must not be empty).
pub(crate) fn write_chunk_head(out: &mut Vec<u8>, len: usize) {
    debug_assert!(len > 0, "an empty chunk ends the body");
    let mut hex = [0u8; 16];
    let mut i = hex.len();
    let mut n = len;
    while n > 0 || i == hex.len() {
        i -= 1;
        hex[i] = b"0123456789abcdef"[n & 15];
        n >>= 4;
    }
    out.extend_from_slice(&hex[i..]);
    out.extend_from_slice(b"\r\n");
}

/// The last chunk of a chunked body.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A complete error response the server sends on its own (400, 408, 413,
/// 431, 500, 503, …), closing the connection after it.
pub(crate) fn write_error(out: &mut Vec<u8>, status: u16, detail: &str, date: &DateCache) {
    let response = Response::error(status, detail);
    let body = match &response.body.kind {
        crate::http::response::BodyKind::Bytes(b) => b.as_slice(),
        _ => &[],
    };
    write_head(
        out,
        &response,
        Framing::Length(body.len()),
        false,
        false,
        date,
    );
    out.extend_from_slice(body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_are_imf_fixdate_and_cached_per_second() {
        let t = Utc.with_ymd_and_hms(1994, 11, 6, 8, 49, 37).unwrap();
        let mut cache = DateCache::new(t);
        assert_eq!(cache.as_str(), "Sun, 06 Nov 1994 08:49:37 GMT");
        cache.update(t + chrono::TimeDelta::milliseconds(400));
        assert_eq!(cache.as_str(), "Sun, 06 Nov 1994 08:49:37 GMT");
        cache.update(t + chrono::TimeDelta::seconds(1));
        assert_eq!(cache.as_str(), "Sun, 06 Nov 1994 08:49:38 GMT");
    }

    #[test]
    fn heads_carry_date_server_framing_and_fields() {
        let date = DateCache::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let response = Response::text(405, "no")
            .with_header("Allow", "GET, HEAD")
            .unwrap();
        let mut out = Vec::new();
        write_head(&mut out, &response, Framing::Length(2), false, false, &date);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "HTTP/1.1 405 Method Not Allowed\r\nServer: {SERVER}\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\n\
                 Content-Type: text/plain; charset=utf-8\r\nContent-Length: 2\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"
            )
        );
        let mine = Response::new(204).with_header("Server", "mine").unwrap();
        let mut out = Vec::new();
        write_head(&mut out, &mine, Framing::None, true, true, &date);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 204 No Content\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\nServer: mine\r\nConnection: keep-alive\r\n\r\n"
        );
    }

    const TYPE_A: &str = "text/plain";
    const TYPE_B: &str = "text/html";
    const BODY_A: &[u8] = b"a";
    const BODY_B: &[u8] = b"b";

    fn key() -> RenderKey {
        RenderKey {
            status: 200,
            content_type: Some(TYPE_A),
            body: BODY_A,
            keep_alive: true,
            http10: false,
            head: false,
        }
    }

    /// Renders `key` through `cache`, counting the renders.
    fn render(cache: &mut DateCache, key: RenderKey, tag: &[u8], renders: &mut u32) -> Vec<u8> {
        cache
            .rendered(key, |_, out| {
                *renders += 1;
                out.extend_from_slice(tag);
            })
            .to_vec()
    }

    #[test]
    fn a_rendered_response_is_reused_only_for_the_same_key() {
        let mut cache = DateCache::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let mut renders = 0;
        assert_eq!(render(&mut cache, key(), b"first", &mut renders), b"first");
        assert_eq!(render(&mut cache, key(), b"again", &mut renders), b"first");
        assert_eq!(renders, 1);
        // Each field alone makes another response.
        let others = [
            RenderKey {
                status: 404,
                ..key()
            },
            RenderKey {
                content_type: Some(TYPE_B),
                ..key()
            },
            RenderKey {
                content_type: None,
                ..key()
            },
            RenderKey {
                body: BODY_B,
                ..key()
            },
            RenderKey {
                keep_alive: false,
                ..key()
            },
            RenderKey {
                http10: true,
                ..key()
            },
            RenderKey {
                head: true,
                ..key()
            },
        ];
        for (i, other) in others.into_iter().enumerate() {
            assert!(other != key(), "{other:?}");
            let tag = format!("other {i}");
            assert_eq!(
                render(&mut cache, other, tag.as_bytes(), &mut renders),
                tag.as_bytes()
            );
        }
        assert_eq!(renders, 8);
        let none = RenderKey {
            content_type: None,
            ..key()
        };
        assert!(none == none);
        // A new second renders afresh.
        cache.update(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 6).unwrap());
        assert_eq!(
            render(&mut cache, key(), b"next second", &mut renders),
            b"next second"
        );
    }

    #[test]
    fn the_render_cache_keeps_the_newest_responses() {
        let mut cache = DateCache::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let mut renders = 0;
        let keys: Vec<RenderKey> = (0..=MAX_RENDERED as u16)
            .map(|i| RenderKey {
                status: 200 + i,
                ..key()
            })
            .collect();
        for (i, k) in keys.iter().enumerate() {
            let tag = format!("{i}");
            assert_eq!(
                render(&mut cache, *k, tag.as_bytes(), &mut renders),
                tag.as_bytes()
            );
        }
        assert_eq!(cache.rendered.len(), MAX_RENDERED);
        // The newest are still there; the oldest went first.
        let last = MAX_RENDERED.to_string();
        assert_eq!(
            render(&mut cache, keys[MAX_RENDERED], b"x", &mut renders),
            last.as_bytes()
        );
        assert_eq!(render(&mut cache, keys[1], b"x", &mut renders), b"1");
        assert_eq!(
            render(&mut cache, keys[0], b"renewed", &mut renders),
            b"renewed"
        );
    }

    #[test]
    fn informational_204_and_304_responses_have_no_body() {
        for status in [100, 101, 103, 199, 204, 304] {
            assert!(bodiless(status), "{status}");
        }
        for status in [99, 200, 201, 203, 205, 303, 305, 404, 500] {
            assert!(!bodiless(status), "{status}");
        }
    }

    #[test]
    fn every_status_the_server_knows_has_its_own_reason_phrase() {
        let known = [
            100, 101, 200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 307, 308, 400,
            401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413, 414, 415, 416, 417,
            421, 422, 425, 426, 428, 429, 431, 451, 500, 501, 502, 503, 504, 505,
        ];
        let mut seen = std::collections::HashSet::new();
        for status in known {
            let phrase = reason(status);
            assert!(!phrase.is_empty(), "{status} has no reason phrase");
            assert!(
                seen.insert(phrase),
                "{status} repeats the phrase {phrase:?}"
            );
        }
        assert_eq!(reason(404), "Not Found");
        assert_eq!(reason(599), "");
    }

    #[test]
    fn an_error_response_is_complete_and_closes() {
        let date = DateCache::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let mut out = Vec::new();
        write_error(&mut out, 400, "malformed request", &date);
        let text = String::from_utf8(out).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{head}");
        assert!(head.contains("\r\nConnection: close"), "{head}");
        assert!(!body.is_empty(), "{text:?}");
        assert!(
            head.contains(&format!("\r\nContent-Length: {}", body.len())),
            "{text:?}"
        );
    }

    #[test]
    fn chunk_heads_are_hex() {
        for (len, text) in [
            (1, "1\r\n"),
            (15, "f\r\n"),
            (16, "10\r\n"),
            (65536, "10000\r\n"),
        ] {
            let mut out = Vec::new();
            write_chunk_head(&mut out, len);
            assert_eq!(out, text.as_bytes());
        }
    }
}
