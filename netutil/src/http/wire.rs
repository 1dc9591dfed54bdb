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
