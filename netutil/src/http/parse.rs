//! HTTP/1.1 requests, without I/O: head parsing (with `httparse`), message
//! framing, and body decoding.
//!
//! Framing follows RFC 9112 §6 strictly, so a request is never read two
//! ways by two servers (request smuggling):
//!
//! * `Transfer-Encoding` and `Content-Length` together: 400;
//! * a `Transfer-Encoding` other than exactly `chunked`: 400;
//! * a `Content-Length` that is not all digits, overflows, or appears twice
//!   with different values: 400;
//! * chunk framing must use CRLF; a malformed chunk size line: 400.
//!
//! Limits are enforced while bytes arrive, so no buffer grows past them: a
//! head longer than `max_header_bytes` is 431, a body longer than
//! `max_body_bytes` is 413.

use std::borrow::Cow;
use std::fmt;
use std::mem::MaybeUninit;

/// Size limits for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes a request line plus headers may take (431 beyond).
    pub max_header_bytes: usize,
    /// The most bytes a decoded body may take (413 beyond).
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_header_bytes: 64 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}

/// The most header fields a request may have (431 beyond).
pub const MAX_HEADERS: usize = 100;

/// The HTTP version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `HEAD`.
    Head,
    /// `POST`.
    Post,
    /// Any other token.
    Other(String),
}

impl Method {
    fn parse(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            other => Method::Other(other.to_owned()),
        }
    }

    /// The method's token.
    pub fn as_str(&self) -> &str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Other(token) => token,
        }
    }
}

/// How the request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request line and the headers the server acts on. Its strings
/// borrow from the read buffer; [`into_owned`](RequestHead::into_owned)
/// detaches it (needed only while a body is read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead<'a> {
    /// The method.
    pub method: Method,
    /// The request target as sent (path and query).
    pub target: Cow<'a, str>,
    /// The version.
    pub version: Version,
    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub framing: Framing,
    /// `Expect: 100-continue` was sent (HTTP/1.1).
    pub expect_continue: bool,
    /// The `Content-Type` header, if any.
    pub content_type: Option<Cow<'a, str>>,
}

impl RequestHead<'_> {
    /// The same head, owning its strings.
    pub fn into_owned(self) -> RequestHead<'static> {
        RequestHead {
            method: self.method,
            target: Cow::Owned(self.target.into_owned()),
            version: self.version,
            keep_alive: self.keep_alive,
            framing: self.framing,
            expect_continue: self.expect_continue,
            content_type: self.content_type.map(|c| Cow::Owned(c.into_owned())),
        }
    }

    /// The path part of the target (before `?`).
    pub fn path(&self) -> &str {
        match self.target.as_bytes().iter().position(|&b| b == b'?') {
            Some(end) => &self.target[..end],
            None => &self.target,
        }
    }

    /// The value of query parameter `name`, if present.
    pub fn query_param(&self, name: &str) -> Option<&str> {
        let query = self.target.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (key == name).then_some(value)
        })
    }
}

/// A request the server must refuse: the status to answer with (then the
/// connection is closed) and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpError {
    /// The response status (400, 413, 417, 431, 505).
    pub status: u16,
    /// A short, lower-case reason for logs and the response body.
    pub reason: &'static str,
}

impl HttpError {
    const fn new(status: u16, reason: &'static str) -> HttpError {
        HttpError { status, reason }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status, self.reason)
    }
}

impl std::error::Error for HttpError {}

/// Where one header field lies in the buffer the head was parsed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    /// The name's byte range.
    pub(crate) name: std::ops::Range<usize>,
    /// The value's byte range (without surrounding whitespace).
    pub(crate) value: std::ops::Range<usize>,
}

/// The result of [`parse_head`].
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// More bytes are needed.
    Partial,
    /// A complete head, which took this many bytes of the buffer.
    Complete(RequestHead<'a>, usize),
}

/// Parses a request head at the start of `buf`.
///
/// # Errors
///
/// An [`HttpError`] with the status to answer: 400 for a malformed or
/// ambiguous request, 431 for a head over the limit or with too many
/// fields, 417 for an unsupported `Expect`, 505 for an unsupported version.
#[inline]
pub(crate) fn parse_head<'a>(
    buf: &'a [u8],
    limits: &Limits,
    fields: &mut Vec<Field>,
) -> Result<Parsed<'a>, HttpError> {
    // Left uninitialised: httparse writes only the headers it finds.
    let mut headers = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let consumed = match request.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_header_bytes {
                return Err(HttpError::new(431, "request header fields too large"));
            }
            return Ok(Parsed::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"));
        }
        Err(httparse::Error::Version) => {
            return Err(HttpError::new(505, "http version not supported"));
        }
        Err(_) => return Err(HttpError::new(400, "malformed request")),
    };
    if consumed > limits.max_header_bytes {
        return Err(HttpError::new(431, "request header fields too large"));
    }
    let version = match request.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let target = request.path.unwrap_or("");
    if !(target.starts_with('/') || target == "*" || target.contains("://")) {
        return Err(HttpError::new(400, "malformed request target"));
    }

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut transfer_encoding = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut expect_continue = false;
    let mut host = false;
    let mut content_type = None;
    fields.clear();
    let base = buf.as_ptr() as usize;
    for header in request.headers.iter() {
        let name = header.name;
        let name_at = name.as_ptr() as usize - base;
        let value_at = header.value.as_ptr() as usize - base;
        fields.push(Field {
            name: name_at..name_at + name.len(),
            value: value_at..value_at + header.value.len(),
        });
        // Only the headers acted on are decoded.
        let value = || {
            std::str::from_utf8(header.value)
                .map_err(|_| HttpError::new(400, "malformed header value"))
        };
        if name.eq_ignore_ascii_case("host") {
            if host {
                return Err(HttpError::new(400, "duplicate host header"));
            }
            host = true;
        } else if name.eq_ignore_ascii_case("content-length") {
            let value = value()?;
            for part in value.split(',') {
                let length = parse_content_length(part.trim())?;
                if content_length.is_some_and(|existing| existing != length) {
                    return Err(HttpError::new(400, "conflicting content-length"));
                }
                content_length = Some(length);
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            let value = value()?;
            if transfer_encoding || !value.trim().eq_ignore_ascii_case("chunked") {
                return Err(HttpError::new(400, "unsupported transfer-encoding"));
            }
            transfer_encoding = true;
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in value()?.split(',') {
                let token = token.trim();
                if token.eq_ignore_ascii_case("close") {
                    connection_close = true;
                } else if token.eq_ignore_ascii_case("keep-alive") {
                    connection_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !value()?.trim().eq_ignore_ascii_case("100-continue") {
                return Err(HttpError::new(417, "expectation failed"));
            }
            expect_continue = version == Version::Http11;
        } else if name.eq_ignore_ascii_case("content-type") {
            content_type = Some(Cow::Borrowed(value()?));
        }
    }
    if transfer_encoding && content_length.is_some() {
        return Err(HttpError::new(
            400,
            "both transfer-encoding and content-length",
        ));
    }
    if transfer_encoding && version == Version::Http10 {
        return Err(HttpError::new(
            400,
            "transfer-encoding in an http/1.0 request",
        ));
    }
    if version == Version::Http11 && !host {
        return Err(HttpError::new(400, "missing host header"));
    }
    let framing = if chunked {
        Framing::Chunked
    } else {
        match content_length {
            Some(0) | None => Framing::Empty,
            Some(n) => Framing::Length(n),
        }
    };
    if let Framing::Length(n) = framing
        && n > limits.max_body_bytes as u64
    {
        return Err(HttpError::new(413, "content too large"));
    }
    let keep_alive = match version {
        Version::Http11 => !connection_close,
        Version::Http10 => connection_keep_alive && !connection_close,
    };
    let head = RequestHead {
        method: Method::parse(request.method.unwrap_or("")),
        target: Cow::Borrowed(target),
        version,
        keep_alive,
        framing,
        expect_continue: expect_continue && framing != Framing::Empty,
        content_type,
    };
    Ok(Parsed::Complete(head, consumed))
}

fn parse_content_length(text: &str) -> Result<u64, HttpError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(HttpError::new(400, "invalid content-length"));
    }
    text.parse::<u64>()
        .map_err(|_| HttpError::new(400, "invalid content-length"))
}

/// Decodes a request body as bytes arrive.
#[derive(Debug)]
pub struct BodyDecoder {
    state: BodyState,
    /// Decoded bytes so far.
    decoded: u64,
    max_body: u64,
    max_trailer: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyState {
    /// `remaining` bytes of a `Content-Length` body.
    Length {
        remaining: u64,
    },
    /// Reading a chunk size line.
    Size {
        size: u64,
        digits: u32,
        /// After the digits: whitespace or an extension until CR.
        tail: bool,
        line: usize,
    },
    /// Expecting the LF of a chunk size line.
    SizeLf {
        size: u64,
    },
    /// Inside a chunk's data.
    Data {
        remaining: u64,
    },
    /// Expecting the CR, then the LF, after a chunk's data.
    DataCr,
    DataLf,
    /// Reading trailer lines after the last chunk; `line` bytes of the
    /// current line so far.
    Trailer {
        line: usize,
        total: usize,
    },
    TrailerLf {
        empty: bool,
        total: usize,
    },
    Done,
}

/// How far [`BodyDecoder::decode`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Bytes of the input consumed.
    pub consumed: usize,
    /// True once the body is complete.
    pub done: bool,
}

const MAX_CHUNK_LINE: usize = 4096;

impl BodyDecoder {
    /// A decoder for `framing`, under `limits`.
    pub fn new(framing: Framing, limits: &Limits) -> BodyDecoder {
        let state = match framing {
            Framing::Empty => BodyState::Done,
            Framing::Length(n) => BodyState::Length { remaining: n },
            Framing::Chunked => BodyState::Size {
                size: 0,
                digits: 0,
                tail: false,
                line: 0,
            },
        };
        BodyDecoder {
            state,
            decoded: 0,
            max_body: limits.max_body_bytes as u64,
            max_trailer: limits.max_header_bytes,
        }
    }

    /// True once the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == BodyState::Done
    }

    /// Decodes what it can of `input`, appending body bytes to `out`.
    ///
    /// # Errors
    ///
    /// 400 for malformed chunk framing, 413 once the decoded body passes
    /// the limit.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, HttpError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                BodyState::Done => break,
                BodyState::Length { remaining } | BodyState::Data { remaining } => {
                    let take = remaining.min((input.len() - i) as u64) as usize;
                    self.push(&input[i..i + take], out)?;
                    i += take;
                    let left = remaining - take as u64;
                    self.state = match (self.state, left) {
                        (BodyState::Length { .. }, 0) => BodyState::Done,
                        (BodyState::Length { .. }, n) => BodyState::Length { remaining: n },
                        (_, 0) => BodyState::DataCr,
                        (_, n) => BodyState::Data { remaining: n },
                    };
                }
                BodyState::Size {
                    size,
                    digits,
                    tail,
                    line,
                } => {
                    let b = input[i];
                    i += 1;
                    if line + 1 > MAX_CHUNK_LINE {
                        return Err(HttpError::new(400, "chunk size line too long"));
                    }
                    if b == b'\r' {
                        if digits == 0 {
                            return Err(HttpError::new(400, "malformed chunk size"));
                        }
                        self.state = BodyState::SizeLf { size };
                    } else if !tail && b.is_ascii_hexdigit() {
                        if digits >= 16 {
                            return Err(HttpError::new(400, "chunk size overflows"));
                        }
                        let value = u64::from((b as char).to_digit(16).expect("hex digit"));
                        self.state = BodyState::Size {
                            size: size << 4 | value,
                            digits: digits + 1,
                            tail,
                            line: line + 1,
                        };
                    } else if digits > 0 && (tail || b == b';' || b == b' ' || b == b'\t') {
                        // Whitespace or a chunk extension: ignored, bounded.
                        if b == b'\n' {
                            return Err(HttpError::new(400, "malformed chunk size"));
                        }
                        self.state = BodyState::Size {
                            size,
                            digits,
                            tail: true,
                            line: line + 1,
                        };
                    } else {
                        return Err(HttpError::new(400, "malformed chunk size"));
                    }
                }
                BodyState::SizeLf { size } => {
                    if input[i] != b'\n' {
                        return Err(HttpError::new(400, "malformed chunk size"));
                    }
                    i += 1;
                    self.state = if size == 0 {
                        BodyState::Trailer { line: 0, total: 0 }
                    } else {
                        BodyState::Data { remaining: size }
                    };
                }
                BodyState::DataCr => {
                    if input[i] != b'\r' {
                        return Err(HttpError::new(400, "malformed chunk"));
                    }
                    i += 1;
                    self.state = BodyState::DataLf;
                }
                BodyState::DataLf => {
                    if input[i] != b'\n' {
                        return Err(HttpError::new(400, "malformed chunk"));
                    }
                    i += 1;
                    self.state = BodyState::Size {
                        size: 0,
                        digits: 0,
                        tail: false,
                        line: 0,
                    };
                }
                BodyState::Trailer { line, total } => {
                    let b = input[i];
                    i += 1;
                    if total + 1 > self.max_trailer {
                        return Err(HttpError::new(431, "trailer fields too large"));
                    }
                    if b == b'\r' {
                        self.state = BodyState::TrailerLf {
                            empty: line == 0,
                            total: total + 1,
                        };
                    } else if b == b'\n' {
                        return Err(HttpError::new(400, "malformed trailer"));
                    } else {
                        self.state = BodyState::Trailer {
                            line: line + 1,
                            total: total + 1,
                        };
                    }
                }
                BodyState::TrailerLf { empty, total } => {
                    if input[i] != b'\n' {
                        return Err(HttpError::new(400, "malformed trailer"));
                    }
                    i += 1;
                    self.state = if empty {
                        BodyState::Done
                    } else {
                        BodyState::Trailer {
                            line: 0,
                            total: total + 1,
                        }
                    };
                }
            }
        }
        Ok(Decoded {
            consumed: i,
            done: self.is_done(),
        })
    }

    fn push(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), HttpError> {
        self.decoded += data.len() as u64;
        if self.decoded > self.max_body {
            return Err(HttpError::new(413, "content too large"));
        }
        out.extend_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Parsed<'_>, HttpError> {
        parse_head(raw.as_bytes(), &Limits::default(), &mut Vec::new())
    }

    fn head(raw: &str) -> RequestHead<'_> {
        match parse(raw) {
            Ok(Parsed::Complete(head, n)) => {
                assert_eq!(n, raw.len());
                head
            }
            other => panic!("{raw:?}: {other:?}"),
        }
    }

    fn status(raw: &str) -> u16 {
        match parse(raw) {
            Err(e) => e.status,
            other => panic!("{raw:?} was accepted: {other:?}"),
        }
    }

    #[test]
    fn a_simple_get() {
        let h = head("GET /delay?ms=5&x=1 HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.path(), "/delay");
        assert_eq!(h.query_param("ms"), Some("5"));
        assert_eq!(h.query_param("x"), Some("1"));
        assert_eq!(h.query_param("y"), None);
        assert_eq!(h.version, Version::Http11);
        assert!(h.keep_alive);
        assert_eq!(h.framing, Framing::Empty);
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!head("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!head("GET / HTTP/1.0\r\n\r\n").keep_alive);
        assert!(head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").keep_alive);
        assert!(
            !head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n\r\n").keep_alive
        );
    }

    #[test]
    fn partial_heads_wait_for_more() {
        assert_eq!(parse("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(Parsed::Partial));
        assert_eq!(parse(""), Ok(Parsed::Partial));
    }

    #[test]
    fn framing_is_unambiguous() {
        // (request, expected status) — request smuggling vectors are 400.
        let cases = [
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n",
                400,
            ),
            (
                "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                400,
            ),
            ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\n\r\n", 400), // no Host
            ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
            ("GET nothing HTTP/1.1\r\nHost: a\r\n\r\n", 400),
            ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
            ("GET / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\n\r\n", 417),
            ("GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400),
            ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400),
            ("\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03", 400), // like a TLS hello
        ];
        for (raw, expected) in cases {
            assert_eq!(status(raw), expected, "{raw:?}");
        }
    }

    #[test]
    fn identical_content_lengths_are_accepted() {
        let h =
            head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(3));
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
    }

    #[test]
    fn limits_are_enforced_while_bytes_arrive() {
        let limits = Limits {
            max_header_bytes: 64,
            max_body_bytes: 10,
        };
        let long = format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}", "a".repeat(100));
        assert_eq!(
            parse_head(long.as_bytes(), &limits, &mut Vec::new())
                .unwrap_err()
                .status,
            431
        );
        let too_big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
        assert_eq!(
            parse_head(too_big.as_bytes(), &limits, &mut Vec::new())
                .unwrap_err()
                .status,
            413
        );
        let many: String = (0..MAX_HEADERS + 1)
            .map(|i| format!("X{i}: v\r\n"))
            .collect();
        let raw = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(parse(&raw).unwrap_err().status, 431);
    }

    #[test]
    fn expect_continue_only_for_bodies_in_http_1_1() {
        let h = head(
            "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        );
        assert!(h.expect_continue);
        let h = head("GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n");
        assert!(!h.expect_continue);
    }

    fn decode_all(framing: Framing, input: &[u8], split: usize) -> Result<Vec<u8>, HttpError> {
        let mut d = BodyDecoder::new(framing, &Limits::default());
        let mut out = Vec::new();
        let mut rest = input;
        while !rest.is_empty() {
            let n = split.min(rest.len());
            let r = d.decode(&rest[..n], &mut out)?;
            assert!(r.consumed <= n);
            rest = &rest[r.consumed..];
            if r.done {
                break;
            }
            assert_eq!(
                r.consumed, n,
                "a decoder consumes all it is given until done"
            );
        }
        assert!(d.is_done(), "incomplete body");
        Ok(out)
    }

    #[test]
    fn chunked_bodies_decode_in_any_split() {
        let raw = b"4\r\nWiki\r\n5;ext=1\r\npedia\r\nE \r\n in\r\n\r\nchunks.\r\n0\r\nX-Trailer: 1\r\n\r\n";
        for split in 1..raw.len() {
            assert_eq!(
                decode_all(Framing::Chunked, raw, split).unwrap(),
                b"Wikipedia in\r\n\r\nchunks.",
                "split {split}"
            );
        }
    }

    #[test]
    fn length_bodies_stop_at_the_length() {
        let mut d = BodyDecoder::new(Framing::Length(3), &Limits::default());
        let mut out = Vec::new();
        let r = d.decode(b"abcGET / HTTP/1.1", &mut out).unwrap();
        assert_eq!(
            r,
            Decoded {
                consumed: 3,
                done: true
            }
        );
        assert_eq!(out, b"abc");
    }

    #[test]
    fn malformed_chunks_are_400() {
        let bad: [&[u8]; 8] = [
            b"g\r\n",
            b"\r\n",
            b"4\nWiki\r\n0\r\n\r\n",
            b"4\r\nWikiXX",
            b"4\r\nWiki\r\n0\r\n\n",
            b"11111111111111111\r\n",
            b";ext\r\n",
            b"4\r\nWiki\r\n0\r\nTrailer\n",
        ];
        for raw in bad {
            let mut d = BodyDecoder::new(Framing::Chunked, &Limits::default());
            let err = d.decode(raw, &mut Vec::new()).unwrap_err();
            assert_eq!(err.status, 400, "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn oversized_bodies_are_413_as_they_arrive() {
        let limits = Limits {
            max_header_bytes: 1024,
            max_body_bytes: 8,
        };
        let mut d = BodyDecoder::new(Framing::Chunked, &limits);
        let err = d
            .decode(b"9\r\n123456789\r\n0\r\n\r\n", &mut Vec::new())
            .unwrap_err();
        assert_eq!(err.status, 413);
        let mut d = BodyDecoder::new(Framing::Chunked, &limits);
        let long_line = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert_eq!(
            d.decode(&long_line, &mut Vec::new()).unwrap_err().status,
            400
        );
    }
}
