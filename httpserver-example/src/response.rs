//! Writing HTTP/1.1 responses into a buffer, and the cached `Date` header.

use chrono::{DateTime, Utc};

/// The `Server` header's value.
pub const SERVER: &str = concat!("ioloop-httpserver/", env!("CARGO_PKG_VERSION"));

/// The `Date` header's value, formatted once a second rather than per
/// response (RFC 9110 §6.6.1 asks for one-second resolution anyway).
#[derive(Debug, Clone)]
pub struct DateCache {
    second: i64,
    text: String,
}

impl DateCache {
    /// A cache holding `now`.
    pub fn new(now: DateTime<Utc>) -> DateCache {
        let mut cache = DateCache {
            second: i64::MIN,
            text: String::new(),
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
        }
    }

    /// The IMF-fixdate, for example `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn as_str(&self) -> &str {
        &self.text
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
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason(status).as_bytes());
    out.extend_from_slice(b"\r\nServer: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\nDate: ");
    out.extend_from_slice(date.as_str().as_bytes());
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
