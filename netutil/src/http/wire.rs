//! Writing HTTP/1.1 responses into a buffer, and the cached `Date` header.

use chrono::{DateTime, Utc};

/// The `Server` header's value.
pub const SERVER: &str = concat!("ioloop-httpserver/", env!("CARGO_PKG_VERSION"));

/// The `Date` header's value, formatted once a second rather than per
/// response (RFC 9110 §6.6.1 asks for one-second resolution anyway).
#[derive(Debug, Clone)]
pub struct DateCache {
    second: i64,
    /// Whole responses that depend on nothing but the date: see
    /// [`DateCache::rendered`]. Emptied when the second changes.
    rendered: Vec<(RenderKey, Vec<u8>)>,
    text: String,
    /// `\r\nServer: ...\r\nDate: ...`, the header lines every response
    /// starts with, formatted with the date.
    common: Vec<u8>,
}

impl DateCache {
    /// A cache holding `now`.
    pub fn new(now: DateTime<Utc>) -> DateCache {
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
    pub fn update(&mut self, now: DateTime<Utc>) {
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
    pub fn rendered(
        &mut self,
        key: RenderKey,
        render: impl FnOnce(&DateCache, &mut Vec<u8>),
    ) -> &[u8] {
        let index = match self.rendered.iter().position(|(k, _)| *k == key) {
            Some(index) => index,
            None => {
                let mut bytes = Vec::new();
                render(self, &mut bytes);
                // Bounded: the keys come from a fixed set of static responses.
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
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// The most rendered responses a [`DateCache`] keeps.
const MAX_RENDERED: usize = 32;

/// What identifies a response whose bytes depend only on the date: its
/// status, static content type, static body and `Allow`, and how the
/// connection continues. Static strings compare by address.
#[derive(Debug, Clone, Copy)]
pub struct RenderKey {
    /// The status.
    pub status: u16,
    /// The content type.
    pub content_type: Option<&'static str>,
    /// The body.
    pub body: &'static [u8],
    /// The `Allow` header.
    pub allow: Option<&'static str>,
    /// Whether the connection stays open.
    pub keep_alive: bool,
    /// An HTTP/1.0 request.
    pub http10: bool,
    /// A `HEAD` request (no body).
    pub head: bool,
}

impl PartialEq for RenderKey {
    fn eq(&self, other: &RenderKey) -> bool {
        fn same_str(a: Option<&'static str>, b: Option<&'static str>) -> bool {
            match (a, b) {
                (Some(a), Some(b)) => std::ptr::eq(a, b),
                (None, None) => true,
                _ => false,
            }
        }
        self.status == other.status
            && std::ptr::eq(self.body, other.body)
            && same_str(self.content_type, other.content_type)
            && same_str(self.allow, other.allow)
            && self.keep_alive == other.keep_alive
            && self.http10 == other.http10
            && self.head == other.head
    }
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// `Content-Length: n`.
    Fixed(usize),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// The status line (without CRLF) for the statuses this server sends.
fn status_line(status: u16) -> Option<&'static [u8]> {
    Some(match status {
        200 => b"HTTP/1.1 200 OK",
        400 => b"HTTP/1.1 400 Bad Request",
        404 => b"HTTP/1.1 404 Not Found",
        405 => b"HTTP/1.1 405 Method Not Allowed",
        _ => return None,
    })
}

/// The reason phrase for the statuses this server sends.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Unknown",
    }
}

/// Appends a status line and headers (ending with the blank line) to `out`.
///
/// Every response carries `Date`, `Server`, and `Content-Length` or
/// chunked framing; `Connection: close` when the connection closes after
/// it, `Connection: keep-alive` when an HTTP/1.0 client asked for it.
#[allow(clippy::too_many_arguments)]
pub fn write_head(
    out: &mut Vec<u8>,
    status: u16,
    content_type: Option<&str>,
    length: BodyLength,
    extra: &[(&str, &str)],
    keep_alive: bool,
    http10: bool,
    date: &DateCache,
) {
    match status_line(status) {
        Some(line) => out.extend_from_slice(line),
        None => {
            out.extend_from_slice(b"HTTP/1.1 ");
            out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
            out.push(b' ');
            out.extend_from_slice(reason(status).as_bytes());
        }
    }
    out.extend_from_slice(&date.common);
    if let Some(content_type) = content_type {
        out.extend_from_slice(b"\r\nContent-Type: ");
        out.extend_from_slice(content_type.as_bytes());
    }
    match length {
        BodyLength::Fixed(n) => {
            out.extend_from_slice(b"\r\nContent-Length: ");
            out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
        }
        BodyLength::Chunked => out.extend_from_slice(b"\r\nTransfer-Encoding: chunked"),
    }
    for (name, value) in extra {
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
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    debug_assert!(!data.is_empty(), "an empty chunk ends the body");
    out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk of a chunked body.
pub fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
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
    fn heads_carry_date_server_and_framing() {
        let date = DateCache::new(Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap());
        let mut out = Vec::new();
        write_head(
            &mut out,
            405,
            Some("text/plain"),
            BodyLength::Fixed(19),
            &[("Allow", "GET, HEAD")],
            false,
            false,
            &date,
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            format!(
                "HTTP/1.1 405 Method Not Allowed\r\nServer: {SERVER}\r\nDate: Fri, 02 Jan 2026 03:04:05 GMT\r\n\
                 Content-Type: text/plain\r\nContent-Length: 19\r\nAllow: GET, HEAD\r\nConnection: close\r\n\r\n"
            )
        );
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"chunk 1\n");
        write_last_chunk(&mut out);
        assert_eq!(out, b"8\r\nchunk 1\n\r\n0\r\n\r\n");
    }
}
