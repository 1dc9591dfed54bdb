//! HTTP/1.1 requests, without I/O: head parsing (with `httparse`), message
//! framing, and body decoding.
//!
//! Framing follows RFC 9112 strictly, so a request is never read two ways
//! by two servers (request smuggling):
//!
//! * `Transfer-Encoding` and `Content-Length` together: 400;
//! * a `Transfer-Encoding` other than exactly `chunked`: 400;
//! * a `Content-Length` that is not all digits, overflows, or appears twice
//!   with different values: 400;
//! * only space and horizontal tab are optional whitespace around the values
//!   the server acts on (`Content-Length`, `Transfer-Encoding`, `Connection`,
//!   `Expect`, `Host`); any other byte, Unicode spaces included, makes the
//!   value malformed: 400;
//! * `Connection` options must be tokens, and `Host` a `uri-host [":" port]`
//!   (RFC 9110 §7.2): 400 otherwise; an empty `Host` is accepted (RFC 9112
//!   §3.2);
//! * the request target is printable ASCII in origin form (`/path?query`),
//!   absolute form (`scheme://...`), or `*` for `OPTIONS`: 400 otherwise;
//! * every line of the head ends with CRLF; a bare LF or CR: 400;
//! * a malformed version (`FOO/1.1`, `HTTP/1.x`) is 400; a well-formed
//!   `HTTP/<digit>.<digit>` other than 1.0 and 1.1 is 505;
//! * a chunk size line must be `chunk-size [ chunk-ext ] CRLF` (RFC 9112
//!   §7.1.1), extensions being `;` name [`=` token or quoted-string] with
//!   optional space or tab around `;` and `=` (and, tolerated, before the
//!   CRLF): 400 otherwise;
//! * each trailer line must be a field line `name ":" value` (RFC 9112 §5):
//!   400 otherwise.
//!
//! Limits are enforced while bytes arrive, so no buffer grows past them: a
//! head or a trailer section longer than `max_header_bytes` is 431, a body
//! longer than `max_body_bytes` is 413, and a chunk that would take the body
//! past it is 413 as soon as its size line is complete.

use std::fmt;
use std::mem::MaybeUninit;
use std::net::Ipv6Addr;

/// Size limits for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// The most bytes a request line plus headers may take (431 beyond).
    pub(crate) max_header_bytes: usize,
    /// The most bytes a decoded body may take (413 beyond).
    pub(crate) max_body_bytes: usize,
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
pub(crate) const MAX_HEADERS: usize = 100;

/// The HTTP version of a request.
///
/// # Examples
///
/// ```
/// use netutil::http::Version;
///
/// assert_eq!(Version::Http11.as_str(), "HTTP/1.1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// `HTTP/1.0` or `HTTP/1.1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Version;
    ///
    /// assert_eq!(Version::Http10.as_str(), "HTTP/1.0");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// A request method.
///
/// # Examples
///
/// ```
/// use netutil::http::{Method, Request, Response};
///
/// async fn handler(request: Request) -> Response {
///     match request.method() {
///         Method::Get | Method::Head => Response::text(200, "here it is"),
///         Method::Post => Response::new(201),
///         Method::Other(_) => Response::error(405, "method not allowed"),
///     }
/// }
/// # let _ = handler;
/// ```
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
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::http::Method;
    ///
    /// assert_eq!(Method::Post.as_str(), "POST");
    /// assert_eq!(Method::Other("PATCH".into()).as_str(), "PATCH");
    /// ```
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
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A parsed request line and the headers the server acts on. Its strings
/// borrow from the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RequestHead<'a> {
    /// The method.
    pub(crate) method: Method,
    /// The request target as sent (path and query).
    pub(crate) target: &'a str,
    /// The version.
    pub(crate) version: Version,
    /// Whether the connection stays open after the response: HTTP/1.1
    /// unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub(crate) keep_alive: bool,
    /// How the body is delimited.
    pub(crate) framing: Framing,
    /// `Expect: 100-continue` was sent (HTTP/1.1).
    pub(crate) expect_continue: bool,
    /// The `Content-Type` header, if any.
    pub(crate) content_type: Option<&'a str>,
}

#[cfg(test)]
impl RequestHead<'_> {
    /// The path part of the target (before `?`).
    pub(crate) fn path(&self) -> &str {
        match self.target.as_bytes().iter().position(|&b| b == b'?') {
            Some(end) => &self.target[..end],
            None => self.target,
        }
    }

    /// The value of query parameter `name`, if present.
    pub(crate) fn query_param(&self, name: &str) -> Option<&str> {
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
pub(crate) struct HttpError {
    /// The response status (400, 413, 417, 431, 505).
    pub(crate) status: u16,
    /// A short, lower-case reason for logs and the response body.
    pub(crate) reason: &'static str,
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
pub(crate) enum Parsed<'a> {
    /// More bytes are needed.
    Partial,
    /// A complete head, which took this many bytes of the buffer.
    Complete(RequestHead<'a>, usize),
}

/// Parses a request head at the start of `buf`; with `fields`, also
/// records where each header field lies in it.
///
/// # Errors
///
/// An [`HttpError`] with the status to answer: 400 for a malformed or
/// ambiguous request, 431 for a head over the limit or with too many
/// fields, 417 for an unsupported `Expect`, 505 for a well-formed but
/// unsupported version.
#[inline]
pub(crate) fn parse_head<'a>(
    buf: &'a [u8],
    limits: &Limits,
    mut fields: Option<&mut Vec<Field>>,
) -> Result<Parsed<'a>, HttpError> {
    // Left uninitialised: httparse writes only the headers it finds.
    let mut headers = [const { MaybeUninit::<httparse::Header<'a>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    let consumed = match request.parse_with_uninit_headers(buf, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return partial(buf, limits),
        Err(httparse::Error::TooManyHeaders) => {
            return Err(HttpError::new(431, "too many header fields"));
        }
        Err(httparse::Error::Version) => return other_version(buf, request.path, limits),
        Err(_) => return Err(HttpError::new(400, "malformed request")),
    };
    if consumed > limits.max_header_bytes {
        return Err(HttpError::new(431, "request header fields too large"));
    }
    // httparse also takes a bare LF for CRLF; a front end that does not
    // would read the fields differently. Each LF in the head ends a line
    // (httparse ends values there and refuses CR without LF), so looking
    // before each line start suffices: the empty lines httparse skips before
    // the request line, each field name, and the empty line at the end.
    let method_at = request
        .method
        .map_or(0, |method| method.as_ptr() as usize - buf.as_ptr() as usize);
    if !buf[..method_at].chunks(2).all(|line| line == b"\r\n")
        || !buf[..consumed].ends_with(b"\r\n\r\n")
    {
        return Err(bare_lf());
    }
    let version = match request.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let method = Method::parse(request.method.unwrap_or(""));
    let target = request.path.unwrap_or("");
    if !is_valid_target(target, &method) {
        return Err(HttpError::new(400, "malformed request target"));
    }

    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut connection_close = false;
    let mut connection_keep_alive = false;
    let mut expect_continue = false;
    let mut host = false;
    let mut content_type = None;
    if let Some(fields) = fields.as_deref_mut() {
        fields.clear();
    }
    let base = buf.as_ptr() as usize;
    for header in request.headers.iter() {
        let name = header.name;
        let name_at = name.as_ptr() as usize - base;
        let value_at = header.value.as_ptr() as usize - base;
        if name_at.checked_sub(2).map(|at| buf[at]) != Some(b'\r') {
            return Err(bare_lf());
        }
        if let Some(fields) = fields.as_deref_mut() {
            fields.push(Field {
                name: name_at..name_at + name.len(),
                value: value_at..value_at + header.value.len(),
            });
        }
        // Only the headers acted on are inspected; the length picks at most
        // one name to compare. httparse has already dropped the space and
        // tab around the value, and checked that its bytes are VCHAR,
        // obs-text, space or tab.
        match name.len() {
            4 if name.eq_ignore_ascii_case("host") => {
                if host {
                    return Err(HttpError::new(400, "duplicate host header"));
                }
                if !is_valid_host(header.value) {
                    return Err(HttpError::new(400, "malformed host header"));
                }
                host = true;
            }
            14 if name.eq_ignore_ascii_case("content-length") => {
                for part in header.value.split(|&b| b == b',') {
                    let length = parse_content_length(trim_ows(part))?;
                    if content_length.is_some_and(|existing| existing != length) {
                        return Err(HttpError::new(400, "conflicting content-length"));
                    }
                    content_length = Some(length);
                }
            }
            17 if name.eq_ignore_ascii_case("transfer-encoding") => {
                if transfer_encoding || !trim_ows(header.value).eq_ignore_ascii_case(b"chunked") {
                    return Err(HttpError::new(400, "unsupported transfer-encoding"));
                }
                transfer_encoding = true;
            }
            10 if name.eq_ignore_ascii_case("connection") => {
                for option in header.value.split(|&b| b == b',').map(trim_ows) {
                    if !option.iter().all(|&b| is_tchar(b)) {
                        return Err(HttpError::new(400, "malformed connection header"));
                    }
                    if option.eq_ignore_ascii_case(b"close") {
                        connection_close = true;
                    } else if option.eq_ignore_ascii_case(b"keep-alive") {
                        connection_keep_alive = true;
                    }
                }
            }
            6 if name.eq_ignore_ascii_case("expect") => {
                let value = trim_ows(header.value);
                if !value.eq_ignore_ascii_case(b"100-continue") {
                    if !value.is_ascii() {
                        return Err(HttpError::new(400, "malformed expect header"));
                    }
                    return Err(HttpError::new(417, "expectation failed"));
                }
                expect_continue = version == Version::Http11;
            }
            12 if name.eq_ignore_ascii_case("content-type") => {
                let value = std::str::from_utf8(header.value)
                    .map_err(|_| HttpError::new(400, "malformed header value"))?;
                content_type = Some(value);
            }
            _ => {}
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
    let framing = if transfer_encoding {
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
        method,
        target,
        version,
        keep_alive,
        framing,
        expect_continue: expect_continue && framing != Framing::Empty,
        content_type,
    };
    Ok(Parsed::Complete(head, consumed))
}

/// An incomplete head: wait for more, unless it is already over the limit.
fn partial<'a>(buf: &[u8], limits: &Limits) -> Result<Parsed<'a>, HttpError> {
    if buf.len() > limits.max_header_bytes {
        return Err(HttpError::new(431, "request header fields too large"));
    }
    Ok(Parsed::Partial)
}

/// The answer to a request line whose version httparse refused: it refuses
/// everything but `HTTP/1.0` and `HTTP/1.1` alike. A well-formed
/// `HTTP/<digit>.<digit>` ending its line is 505, anything else 400; a line
/// that could still become either waits for more bytes. `target` is the
/// request target httparse found, which a single space follows.
fn other_version<'a>(
    buf: &[u8],
    target: Option<&str>,
    limits: &Limits,
) -> Result<Parsed<'a>, HttpError> {
    const SHAPE: &[u8; 10] = b"HTTP/0.0\r\n";
    let malformed = HttpError::new(400, "malformed http version");
    let Some(target) = target else {
        return Err(malformed);
    };
    let start = target.as_ptr() as usize - buf.as_ptr() as usize + target.len() + 1;
    let rest = buf.get(start..).unwrap_or_default();
    for (&b, &expected) in rest.iter().zip(SHAPE) {
        let fits = match expected {
            b'0' => b.is_ascii_digit(),
            _ => b == expected,
        };
        if !fits {
            return Err(malformed);
        }
    }
    if rest.len() < SHAPE.len() {
        return partial(buf, limits);
    }
    Err(HttpError::new(505, "http version not supported"))
}

fn bare_lf() -> HttpError {
    HttpError::new(400, "bare lf in request head")
}

/// Space and horizontal tab, the only optional whitespace (RFC 9110 §5.6.3).
fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `bytes` without the optional whitespace at either end.
fn trim_ows(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|&b| !is_ows(b))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |at| at + 1);
    &bytes[start..end]
}

/// Which bytes are `tchar`s, the characters of a token (RFC 9110 §5.6.2).
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(
            b as u8,
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
                | b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+'
                | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
        );
        b += 1;
    }
    table
};

fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

/// Which bytes are RFC 3986 `unreserved` or `sub-delims`: the bytes of a
/// `reg-name` besides percent-encodings.
static UNRESERVED_OR_SUB_DELIM: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = matches!(
            b as u8,
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z'
                | b'-' | b'.' | b'_' | b'~'
                | b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
        );
        b += 1;
    }
    table
};

fn is_unreserved_or_sub_delim(b: u8) -> bool {
    UNRESERVED_OR_SUB_DELIM[usize::from(b)]
}

/// Whether `target` is printable ASCII in a form the server takes (RFC 9112
/// §3.2): origin form, absolute form, or `*` for `OPTIONS`.
fn is_valid_target(target: &str, method: &Method) -> bool {
    // httparse has refused controls, space and DEL; what it lets through
    // beyond them is UTF-8 above ASCII.
    if !target.is_ascii() {
        return false;
    }
    if target.starts_with('/') {
        return true;
    }
    if target == "*" {
        return method.as_str() == "OPTIONS";
    }
    // Absolute form: scheme "://" ..., scheme = ALPHA *(ALPHA / DIGIT / + - .)
    match target.split_once("://") {
        Some((scheme, _)) => {
            scheme
                .as_bytes()
                .first()
                .is_some_and(u8::is_ascii_alphabetic)
                && scheme
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        }
        None => false,
    }
}

/// Whether `value` is a `Host` value, `uri-host [ ":" port ]` (RFC 9110
/// §7.2, RFC 3986 §3.2.2): an `[IP-literal]`, or a possibly empty
/// `reg-name` (unreserved and sub-delims bytes and `%` HEXDIG HEXDIG, which
/// covers IPv4 addresses), then an optional port of digits.
fn is_valid_host(value: &[u8]) -> bool {
    let port_at = if let Some(literal) = value.strip_prefix(b"[") {
        let Some(end) = literal.iter().position(|&b| b == b']') else {
            return false;
        };
        if !is_ip_literal(&literal[..end]) {
            return false;
        }
        end + 2
    } else {
        // The reg-name: unreserved and sub-delims bytes, and `%` HEXDIG HEXDIG.
        let mut i = 0;
        loop {
            while i < value.len() && is_unreserved_or_sub_delim(value[i]) {
                i += 1;
            }
            match value.get(i..i + 3) {
                Some([b'%', hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit() => i += 3,
                _ => break i,
            }
        }
    };
    match &value[port_at..] {
        [] => true,
        [b':', port @ ..] => port.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

/// The inside of an RFC 3986 `IP-literal`: an IPv6 address, or `IPvFuture`
/// (`v` 1*HEXDIG `.` 1*( unreserved / sub-delims / `:` )).
fn is_ip_literal(inside: &[u8]) -> bool {
    if let Some(future) = inside
        .strip_prefix(b"v")
        .or_else(|| inside.strip_prefix(b"V"))
    {
        let Some(dot) = future.iter().position(|&b| b == b'.') else {
            return false;
        };
        let (version, rest) = (&future[..dot], &future[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !rest.is_empty()
            && rest
                .iter()
                .all(|&b| b == b':' || is_unreserved_or_sub_delim(b));
    }
    std::str::from_utf8(inside).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// One `Content-Length` value: one or more digits (leading zeros allowed).
fn parse_content_length(text: &[u8]) -> Result<u64, HttpError> {
    let invalid = || HttpError::new(400, "invalid content-length");
    if text.is_empty() {
        return Err(invalid());
    }
    text.iter().try_fold(0u64, |length, &b| {
        if !b.is_ascii_digit() {
            return Err(invalid());
        }
        length
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or_else(invalid)
    })
}

/// Decodes a request body as bytes arrive.
#[derive(Debug)]
pub(crate) struct BodyDecoder {
    state: DecodeState,
    /// Decoded bytes so far. INVARIANT: at most `max_body`, since bytes
    /// that would pass it are refused, not counted.
    decoded: u64,
    max_body: u64,
    max_trailer: usize,
}

/// Where a [`BodyDecoder`] is in the body's framing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DecodeState {
    /// `remaining` bytes of a `Content-Length` body.
    Length {
        remaining: u64,
    },
    /// Reading a chunk size line: the size so far, from `digits` hex digits,
    /// `line` bytes of the line so far, and where in the line's grammar.
    Size {
        size: u64,
        digits: u32,
        line: usize,
        at: SizeLine,
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
    /// Reading the trailer section after the last chunk, `total` bytes of it
    /// so far.
    Trailer {
        at: TrailerLine,
        total: usize,
    },
    Done,
}

/// Where a chunk size line is, in RFC 9112 §7.1.1's grammar:
/// `chunk-size *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] ) CRLF`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SizeLine {
    /// In the hex digits of the size.
    Digits,
    /// After the size or an extension's value: space or tab, `;`, or the
    /// end (space or tab before the end is outside the grammar, but cannot
    /// be read two ways, and is tolerated).
    Between,
    /// After `;`: space or tab, then an extension name.
    BeforeName,
    /// In an extension name.
    Name,
    /// After an extension name and space or tab: `=`, `;`, or the end.
    AfterName,
    /// After `=`: space or tab, then a token or a quoted string.
    BeforeValue,
    /// In a token value.
    Token,
    /// In a quoted string value.
    Quoted,
    /// After a backslash in a quoted string.
    QuotedPair,
}

impl SizeLine {
    /// Whether CRLF may end the line here.
    fn may_end(self) -> bool {
        matches!(
            self,
            SizeLine::Digits
                | SizeLine::Between
                | SizeLine::Name
                | SizeLine::AfterName
                | SizeLine::Token
        )
    }

    /// Where byte `b` (not CR, nor a size digit) leads, if the grammar allows
    /// it here.
    fn next(self, b: u8) -> Option<SizeLine> {
        let next = match self {
            SizeLine::Digits | SizeLine::Between => match b {
                b' ' | b'\t' => SizeLine::Between,
                b';' => SizeLine::BeforeName,
                _ => return None,
            },
            SizeLine::BeforeName => match b {
                b' ' | b'\t' => SizeLine::BeforeName,
                _ if is_tchar(b) => SizeLine::Name,
                _ => return None,
            },
            SizeLine::Name | SizeLine::AfterName => match b {
                _ if self == SizeLine::Name && is_tchar(b) => SizeLine::Name,
                b' ' | b'\t' => SizeLine::AfterName,
                b'=' => SizeLine::BeforeValue,
                b';' => SizeLine::BeforeName,
                _ => return None,
            },
            SizeLine::BeforeValue => match b {
                b' ' | b'\t' => SizeLine::BeforeValue,
                b'"' => SizeLine::Quoted,
                _ if is_tchar(b) => SizeLine::Token,
                _ => return None,
            },
            SizeLine::Token => match b {
                _ if is_tchar(b) => SizeLine::Token,
                b' ' | b'\t' => SizeLine::Between,
                b';' => SizeLine::BeforeName,
                _ => return None,
            },
            // qdtext, and what a quoted-pair may escape: HTAB, SP, VCHAR and
            // obs-text.
            SizeLine::Quoted => match b {
                b'"' => SizeLine::Between,
                b'\\' => SizeLine::QuotedPair,
                _ if is_quotable(b) => SizeLine::Quoted,
                _ => return None,
            },
            SizeLine::QuotedPair if is_quotable(b) => SizeLine::Quoted,
            SizeLine::QuotedPair => return None,
        };
        Some(next)
    }
}

/// HTAB, SP, VCHAR or obs-text: what may stand in a quoted string (with
/// `"` and `\` escaped) or a field value.
fn is_quotable(b: u8) -> bool {
    b == b'\t' || (b >= b' ' && b != 0x7f)
}

/// Where a trailer line is: `field-name ":" OWS field-value OWS CRLF`, or the
/// empty line that ends the section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TrailerLine {
    /// At the start of a line.
    Start,
    /// In the field name.
    Name,
    /// After the colon, in the value and the whitespace around it.
    Value,
    /// Expecting the LF after a CR; `last` for the empty line.
    Lf { last: bool },
}

/// How far [`BodyDecoder::decode`] got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// Bytes of the input consumed.
    pub(crate) consumed: usize,
    /// True once the body is complete.
    pub(crate) done: bool,
}

const MAX_CHUNK_LINE: usize = 4096;

const FIRST_SIZE_LINE: DecodeState = DecodeState::Size {
    size: 0,
    digits: 0,
    line: 0,
    at: SizeLine::Digits,
};

impl BodyDecoder {
    /// A decoder for `framing`, under `limits`.
    pub(crate) fn new(framing: Framing, limits: &Limits) -> BodyDecoder {
        let state = match framing {
            Framing::Empty => DecodeState::Done,
            Framing::Length(n) => DecodeState::Length { remaining: n },
            Framing::Chunked => FIRST_SIZE_LINE,
        };
        BodyDecoder {
            state,
            decoded: 0,
            max_body: limits.max_body_bytes as u64,
            max_trailer: limits.max_header_bytes,
        }
    }

    /// True once the whole body has been decoded.
    pub(crate) fn is_done(&self) -> bool {
        self.state == DecodeState::Done
    }

    /// Decodes what it can of `input`, appending body bytes to `out`.
    ///
    /// # Errors
    ///
    /// 400 for malformed chunk framing or trailer lines; 413 once a chunk
    /// size line announces more than the limit leaves, or the decoded body
    /// passes the limit; 431 for a trailer section over `max_header_bytes`.
    pub(crate) fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, HttpError> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                DecodeState::Done => break,
                DecodeState::Length { remaining } | DecodeState::Data { remaining } => {
                    let take = remaining.min((input.len() - i) as u64) as usize;
                    self.push(&input[i..i + take], out)?;
                    i += take;
                    let left = remaining - take as u64;
                    self.state = match (self.state, left) {
                        (DecodeState::Length { .. }, 0) => DecodeState::Done,
                        (DecodeState::Length { .. }, n) => DecodeState::Length { remaining: n },
                        (_, 0) => DecodeState::DataCr,
                        (_, n) => DecodeState::Data { remaining: n },
                    };
                }
                DecodeState::Size {
                    size,
                    digits,
                    line,
                    at,
                } => {
                    let b = input[i];
                    i += 1;
                    if line + 1 > MAX_CHUNK_LINE {
                        return Err(HttpError::new(400, "chunk size line too long"));
                    }
                    let malformed = HttpError::new(400, "malformed chunk size");
                    if b == b'\r' {
                        if digits == 0 || !at.may_end() {
                            return Err(malformed);
                        }
                        self.state = DecodeState::SizeLf { size };
                    } else if at == SizeLine::Digits && b.is_ascii_hexdigit() {
                        if digits >= 16 {
                            return Err(HttpError::new(400, "chunk size overflows"));
                        }
                        let value = u64::from((b as char).to_digit(16).expect("hex digit"));
                        self.state = DecodeState::Size {
                            size: size * 16 + value,
                            digits: digits + 1,
                            line: line + 1,
                            at,
                        };
                    } else {
                        let at = at.next(b).filter(|_| digits > 0).ok_or(malformed)?;
                        self.state = DecodeState::Size {
                            size,
                            digits,
                            line: line + 1,
                            at,
                        };
                    }
                }
                DecodeState::SizeLf { size } => {
                    if input[i] != b'\n' {
                        return Err(HttpError::new(400, "malformed chunk size"));
                    }
                    i += 1;
                    // No underflow: `decoded` is at most `max_body`.
                    if size > self.max_body - self.decoded {
                        return Err(HttpError::new(413, "content too large"));
                    }
                    self.state = if size == 0 {
                        DecodeState::Trailer {
                            at: TrailerLine::Start,
                            total: 0,
                        }
                    } else {
                        DecodeState::Data { remaining: size }
                    };
                }
                DecodeState::DataCr => {
                    if input[i] != b'\r' {
                        return Err(HttpError::new(400, "malformed chunk"));
                    }
                    i += 1;
                    self.state = DecodeState::DataLf;
                }
                DecodeState::DataLf => {
                    if input[i] != b'\n' {
                        return Err(HttpError::new(400, "malformed chunk"));
                    }
                    i += 1;
                    self.state = FIRST_SIZE_LINE;
                }
                DecodeState::Trailer { at, total } => {
                    let b = input[i];
                    i += 1;
                    if total + 1 > self.max_trailer {
                        return Err(HttpError::new(431, "trailer fields too large"));
                    }
                    let at = match (at, b) {
                        (TrailerLine::Start, b'\r') => TrailerLine::Lf { last: true },
                        (TrailerLine::Start | TrailerLine::Name, _) if is_tchar(b) => {
                            TrailerLine::Name
                        }
                        (TrailerLine::Name, b':') => TrailerLine::Value,
                        (TrailerLine::Value, b'\r') => TrailerLine::Lf { last: false },
                        (TrailerLine::Value, _) if is_quotable(b) => TrailerLine::Value,
                        (TrailerLine::Lf { last: true }, b'\n') => {
                            self.state = DecodeState::Done;
                            continue;
                        }
                        (TrailerLine::Lf { last: false }, b'\n') => TrailerLine::Start,
                        _ => return Err(HttpError::new(400, "malformed trailer")),
                    };
                    self.state = DecodeState::Trailer {
                        at,
                        total: total + 1,
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
        if data.len() as u64 > self.max_body - self.decoded {
            return Err(HttpError::new(413, "content too large"));
        }
        self.decoded += data.len() as u64;
        out.extend_from_slice(data);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> Result<Parsed<'_>, HttpError> {
        parse_head(raw.as_bytes(), &Limits::default(), None)
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
            parse_head(long.as_bytes(), &limits, None)
                .unwrap_err()
                .status,
            431
        );
        let too_big = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
        assert_eq!(
            parse_head(too_big.as_bytes(), &limits, None)
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
    fn chunked_bodies_with_extensions_and_trailers_decode_at_every_split() {
        let bodies: [(&[u8], &[u8]); 6] = [
            (b"0\r\n\r\n", b""),
            (b"3;a\r\nabc\r\n0\r\n\r\n", b"abc"),
            (
                b"3 ; a = b ;c=\"x;\\\"y\\\\\" \r\nabc\r\n1;n=\"\"\r\n\r\r\n0;last\r\nX: 1\r\nY-Z:\r\nW: a \"b\" \xc3\xa9\t\r\n\r\n",
                b"abc\r",
            ),
            (b"A\r\n0123456789\r\n0\r\nGET-Like: / HTTP/1.1\r\n\r\n", b"0123456789"),
            (b"1\r\n\n\r\n1\r\n\r\r\n0\r\n\r\n", b"\n\r"),
            (
                b"1A\r\nabcdefghijklmnopqrstuvwxyz\r\n010\r\n0123456789ABCDEF\r\n0\r\n\r\n",
                b"abcdefghijklmnopqrstuvwxyz0123456789ABCDEF",
            ),
        ];
        for (raw, body) in bodies {
            let text = String::from_utf8_lossy(raw);
            // Two pieces, split at every point.
            for at in 0..=raw.len() {
                let mut d = BodyDecoder::new(Framing::Chunked, &Limits::default());
                let mut out = Vec::new();
                let first = d.decode(&raw[..at], &mut out).unwrap();
                assert_eq!(first.consumed, at, "{text:?} at {at}");
                let second = d.decode(&raw[at..], &mut out).unwrap();
                assert_eq!(second.consumed, raw.len() - at, "{text:?} at {at}");
                assert!(second.done, "{text:?} at {at}");
                assert_eq!(out, body, "{text:?} at {at}");
            }
            // Pieces of every size.
            for split in 1..=raw.len() {
                assert_eq!(
                    decode_all(Framing::Chunked, raw, split).unwrap(),
                    body,
                    "{text:?} in pieces of {split}"
                );
            }
        }
    }

    /// Times `parse_head` on a typical three-header GET:
    /// `cargo test --release -p netutil --lib parse_head_timing -- --ignored --nocapture`.
    #[test]
    #[ignore = "a timing to read, not a check"]
    fn parse_head_timing() {
        let raw: &[u8] =
            b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: bench/1.0\r\nAccept: */*\r\n\r\n";
        let limits = Limits::default();
        let mut fields = Vec::with_capacity(MAX_HEADERS);
        let rounds = 2_000_000;
        let mut best = f64::INFINITY;
        for _ in 0..5 {
            let start = std::time::Instant::now();
            for _ in 0..rounds {
                let parsed = parse_head(std::hint::black_box(raw), &limits, Some(&mut fields));
                assert!(matches!(parsed, Ok(Parsed::Complete(_, n)) if n == raw.len()));
            }
            let ns = start.elapsed().as_secs_f64() * 1e9 / f64::from(rounds);
            best = best.min(ns);
        }
        println!("parse_head: {best:.1} ns per three-header GET (best of 5)");
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

    fn post(header: &str) -> String {
        format!("POST / HTTP/1.1\r\nHost: a\r\n{header}\r\n\r\n")
    }

    #[test]
    fn only_space_and_tab_surround_framing_values() {
        // Unicode whitespace (NBSP, NEL, ideographic space) and other bytes
        // are not optional whitespace: the value is malformed.
        let cases = [
            post("Content-Length: 5\u{a0}"),
            post("Content-Length: \u{a0}5"),
            post("Content-Length: 5\u{85}"),
            post("Content-Length: 5\u{3000}"),
            post("Content-Length: 5,\u{a0}5"),
            post("Transfer-Encoding: chunked\u{3000}"),
            post("Transfer-Encoding: \u{a0}chunked"),
            post("Transfer-Encoding: chunked\u{85}"),
            post("Connection: close\u{a0}"),
            post("Connection: \u{3000}keep-alive"),
            post("Expect: 100-continue\u{a0}"),
            post("Expect: \u{85}100-continue"),
        ];
        for raw in &cases {
            assert_eq!(status(raw), 400, "{raw:?}");
        }
        // Space and tab are optional whitespace.
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \t5 \t\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5 ,\t5\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(5));
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \tchunked \r\n\r\n");
        assert_eq!(h.framing, Framing::Chunked);
        let h = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive ,\t close\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head("GET / HTTP/1.1\r\nHost: a\r\nConnection: , close,\r\n\r\n");
        assert!(!h.keep_alive);
        let h = head(
            "POST / HTTP/1.1\r\nHost: a\r\nExpect: \t100-Continue \r\nContent-Length: 1\r\n\r\n",
        );
        assert!(h.expect_continue);
        // Leading zeros are digits.
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 007\r\n\r\n");
        assert_eq!(h.framing, Framing::Length(7));
    }

    #[test]
    fn connection_options_are_tokens() {
        for value in ["close;x", "\"close\"", "close keep-alive", "clo\u{e9}se"] {
            let raw = format!("GET / HTTP/1.1\r\nHost: a\r\nConnection: {value}\r\n\r\n");
            assert_eq!(status(&raw), 400, "{raw:?}");
        }
        // An option the server does not act on is fine.
        assert!(head("GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\n\r\n").keep_alive);
    }

    #[test]
    fn transfer_coding_must_be_exactly_chunked() {
        for value in [
            "chunked, chunked",
            "chunked,",
            ",chunked",
            "chunked;q=1",
            "chunk ed",
            "",
        ] {
            let raw = post(&format!("Transfer-Encoding: {value}"));
            assert_eq!(status(&raw), 400, "{raw:?}");
        }
    }

    #[test]
    fn host_must_be_a_uri_host_and_port() {
        for value in [
            "foo bar",
            "a/b",
            "a?b",
            "a#b",
            "user@a",
            "a:80:80",
            "a:8x",
            "[::1",
            "[::1]x",
            "[not-an-ip]",
            "[v1.]",
            "a%2",
            "a%zz",
            "a%4g",
            "a%g4",
            "a\u{a0}",
            "caf\u{e9}",
            "\"a\"",
            "a\\b",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            assert_eq!(status(&raw), 400, "{raw:?}");
        }
        for value in [
            "a",
            "example.com:8080",
            "example.com:",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::7f00:1]",
            "[::ffff:127.0.0.1]",
            "[v1.fe:x]",
            "a-b_c~d!$&'()*+,;=.e",
            "%41b",
        ] {
            let raw = format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n");
            assert!(matches!(parse(&raw), Ok(Parsed::Complete(..))), "{raw:?}");
        }
    }

    #[test]
    fn an_empty_host_is_accepted() {
        // RFC 9112 §3.2: a client sends an empty Host when the target URI has
        // no authority.
        assert_eq!(head("GET / HTTP/1.1\r\nHost:\r\n\r\n").path(), "/");
        assert_eq!(head("GET / HTTP/1.1\r\nHost: \r\n\r\n").path(), "/");
        // An absolute-form target carries its own authority.
        let h = head("GET http://a/b?c HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(h.target, "http://a/b?c");
        assert_eq!(status("GET / HTTP/1.1\r\nHost:\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn targets_are_printable_ascii() {
        let cases: [&[u8]; 6] = [
            "GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes(),
            "GET /\u{a0} HTTP/1.1\r\nHost: a\r\n\r\n".as_bytes(),
            b"GET /\xff HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET /a\tb HTTP/1.1\r\nHost: a\r\n\r\n",
        ];
        for raw in cases {
            let err = parse_head(raw, &Limits::default(), None).unwrap_err();
            assert_eq!(err.status, 400, "{:?}", String::from_utf8_lossy(raw));
        }
        assert_eq!(
            head("GET /%C3%A9?q=%20 HTTP/1.1\r\nHost: a\r\n\r\n").path(),
            "/%C3%A9"
        );
        assert_eq!(status("GET ://a HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET 1http://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET a/b://c HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(
            head("GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n").path(),
            "https://a/"
        );
        assert_eq!(head("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n").target, "*");
    }

    #[test]
    fn malformed_versions_are_400_and_unsupported_ones_505() {
        let malformed = [
            "GET / FOO/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.x\r\nHost: a\r\n\r\n",
            "GET / HTTP/11\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/2\r\nHost: a\r\n\r\n",
            "GET / http/1.1\r\nHost: a\r\n\r\n",
            "GET / HTTP/2.0x\r\nHost: a\r\n\r\n",
            "GET / HTTP/2.0 \r\nHost: a\r\n\r\n",
            "GET / HTTP/2.0\rX\r\n\r\n",
            "GET / HTTP/2.0\nHost: a\n\n",
            "GET / \x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03\r\n\r\n",
            "abc def ghijklmnop\r\n\r\n",
        ];
        for raw in malformed {
            assert_eq!(status(raw), 400, "{raw:?}");
        }
        for raw in [
            "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "GET / HTTP/3.0\r\n\r\n",
            "GET / HTTP/0.9\r\n",
        ] {
            assert_eq!(status(raw), 505, "{raw:?}");
        }
        // A version not yet complete waits for more, whatever it will be.
        for raw in [
            "GET / HTTP/2",
            "GET / HTTP/2.0",
            "GET / HTTP/2.0\r",
            "GET / H",
        ] {
            assert_eq!(parse(raw), Ok(Parsed::Partial), "{raw:?}");
        }
        // But not past the head limit.
        let limits = Limits {
            max_header_bytes: 12,
            max_body_bytes: 10,
        };
        let err = parse_head(b"GET / HTTP/2.0", &limits, None).unwrap_err();
        assert_eq!(err.status, 431);
    }

    #[test]
    fn header_lines_are_strict() {
        let cases: [&[u8]; 9] = [
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nContent-Length : 5\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n Content-Length: 5\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\n\n",
        ];
        for raw in cases {
            let err = parse_head(raw, &Limits::default(), None).unwrap_err();
            assert_eq!(err.status, 400, "{:?}", String::from_utf8_lossy(raw));
        }
        // Values the server does not act on may carry obs-text.
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nX: caf\u{e9}\r\n\r\n";
        assert!(matches!(parse(raw), Ok(Parsed::Complete(..))));
        // An empty line before the request line is ignored.
        assert_eq!(head("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n").path(), "/");
    }

    fn chunked_error(raw: &[u8], limits: &Limits) -> Option<HttpError> {
        let mut d = BodyDecoder::new(Framing::Chunked, limits);
        d.decode(raw, &mut Vec::new()).err()
    }

    #[test]
    fn chunk_size_lines_follow_the_grammar() {
        let bad: [&[u8]; 26] = [
            b"5 garbage\r\n",
            b"5garbage\r\n",
            b"5;\r\n",
            b"5; \r\n",
            b"5;a=\r\n",
            b"5;a= \r\n",
            b"5;=b\r\n",
            b"5;a=b c\r\n",
            b"5;a b\r\n",
            b"5;a;\r\n",
            b"5;a=\"b\r\n",
            b"5;a=\"b\"c\r\n",
            b"5;a=\"b\x01\"\r\n",
            b"5;a=\"\\\x01\"\r\n",
            b"5;a=b\x00\r\n",
            b"5;a=\xc3\xa9\r\n",
            b"5\n",
            b"5;a\n",
            b"5;a=b\n",
            b"5\rx",
            b"5\x0b\r\n",
            b"\xc2\xa05\r\n",
            b"5;a=@\r\n",
            b"5;a=,\r\n",
            // Refused at once, before any line end.
            b";",
            b" ",
        ];
        for raw in bad {
            let err = chunked_error(raw, &Limits::default());
            assert_eq!(
                err.map(|e| e.status),
                Some(400),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let good: [&[u8]; 11] = [
            b"5\r\n",
            b"5 \t\r\n",
            b"5;a\r\n",
            b"5 ; a = b ;c\r\n",
            b"5;a=b;c=d\r\n",
            b"5;a;b\r\n",
            b"5;a ;b\r\n",
            b"5;a=\"\"\r\n",
            b"5;a=\"x y;\\\"z\\\\\"\r\n",
            b"5;a=\"caf\xc3\xa9\"\r\n",
            b"5;!#$%&'*+-.^_`|~09az=!#$%&'*+-.^_`|~09AZ\r\n",
        ];
        for raw in good {
            let mut d = BodyDecoder::new(Framing::Chunked, &Limits::default());
            let r = d.decode(raw, &mut Vec::new());
            assert_eq!(
                r,
                Ok(Decoded {
                    consumed: raw.len(),
                    done: false
                }),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
    }

    #[test]
    fn trailer_lines_are_field_lines() {
        let bad: [&[u8]; 11] = [
            b"0\r\nGET / HTTP/1.1\r\n\r\n",
            b"0\r\n: v\r\n\r\n",
            b"0\r\nX : v\r\n\r\n",
            b"0\r\n X: v\r\n\r\n",
            b"0\r\nX: v\r\n folded\r\n\r\n",
            b"0\r\nX\r\n\r\n",
            b"0\r\nX: a\rb\r\n\r\n",
            b"0\r\nX: a\0b\r\n\r\n",
            b"0\r\nX: a\x7f\r\n\r\n",
            b"0\r\nX: a\nY: b\r\n\r\n",
            b"0\r\nX\xc3\xa9: a\r\n\r\n",
        ];
        for raw in bad {
            let err = chunked_error(raw, &Limits::default());
            assert_eq!(
                err.map(|e| e.status),
                Some(400),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        let good: [&[u8]; 4] = [
            b"0\r\n\r\n",
            b"0\r\nX:\r\n\r\n",
            b"0\r\nX: a b\t\r\nY-Z:caf\xc3\xa9 \r\n\r\n",
            b"0\r\nX: \"q\" (c)\r\n\r\n",
        ];
        for raw in good {
            let mut d = BodyDecoder::new(Framing::Chunked, &Limits::default());
            assert_eq!(
                d.decode(raw, &mut Vec::new()),
                Ok(Decoded {
                    consumed: raw.len(),
                    done: true
                }),
                "{:?}",
                String::from_utf8_lossy(raw)
            );
        }
        // The trailer section is bounded like a head.
        let limits = Limits {
            max_header_bytes: 16,
            max_body_bytes: 10,
        };
        // 16 bytes: "X: 012345678\r\n" and the empty line.
        let fits = b"0\r\nX: 012345678\r\n\r\n";
        let mut d = BodyDecoder::new(Framing::Chunked, &limits);
        assert!(d.decode(fits, &mut Vec::new()).unwrap().done);
        let over = b"0\r\nX: 0123456789\r\n\r\n";
        assert_eq!(chunked_error(over, &limits).map(|e| e.status), Some(431));
    }

    #[test]
    fn a_chunk_over_the_body_limit_is_413_at_its_size_line() {
        let limits = Limits {
            max_header_bytes: 1024,
            max_body_bytes: 8,
        };
        // Refused before any of its data arrives.
        assert_eq!(
            chunked_error(b"9\r\n", &limits).map(|e| e.status),
            Some(413)
        );
        assert_eq!(
            chunked_error(b"fffffffffffffff;a=b\r\n", &limits).map(|e| e.status),
            Some(413)
        );
        // What is left of the limit counts, not the limit.
        assert_eq!(
            chunked_error(b"5\r\n12345\r\n4\r\n", &limits).map(|e| e.status),
            Some(413)
        );
        let mut d = BodyDecoder::new(Framing::Chunked, &limits);
        let mut out = Vec::new();
        let raw = b"5\r\n12345\r\n3\r\n678\r\n0\r\n\r\n";
        assert!(d.decode(raw, &mut out).unwrap().done);
        assert_eq!(out, b"12345678");
    }

    #[test]
    fn a_chunk_size_line_is_bounded() {
        // MAX_CHUNK_LINE bytes with the CR, no more.
        let line = |len: usize| [b"1;".as_slice(), &vec![b'x'; len - 2], b"\r\n"].concat();
        let mut d = BodyDecoder::new(Framing::Chunked, &Limits::default());
        let fits = line(MAX_CHUNK_LINE - 1);
        assert_eq!(
            d.decode(&fits, &mut Vec::new()).unwrap().consumed,
            fits.len()
        );
        let over = line(MAX_CHUNK_LINE);
        assert_eq!(
            chunked_error(&over, &Limits::default()).map(|e| e.status),
            Some(400)
        );
    }

    #[test]
    fn fields_locate_names_and_values() {
        let raw = "GET / HTTP/1.1\r\nHost: a\r\nX-Long:  two words \r\nEmpty:\r\n\r\n";
        let mut fields = Vec::new();
        let parsed = parse_head(raw.as_bytes(), &Limits::default(), Some(&mut fields)).unwrap();
        assert!(matches!(parsed, Parsed::Complete(..)));
        let found: Vec<(&str, &str)> = fields
            .iter()
            .map(|f| (&raw[f.name.clone()], &raw[f.value.clone()]))
            .collect();
        assert_eq!(
            found,
            [("Host", "a"), ("X-Long", "two words"), ("Empty", "")]
        );
    }

    #[test]
    fn only_the_named_headers_are_acted_on() {
        // Names as long as the ones acted on, with values those would refuse.
        let h = head(
            "POST / HTTP/1.1\r\nHost: a\r\nHoss: b c\r\nContent-Lengtx: x\r\n\
             Transfer-Encodinx: gzip\r\nConnectiox: a b\r\nExpecx: magic\r\n\
             Content-Typx: caf\u{e9}\r\n\r\n",
        );
        assert_eq!(h.framing, Framing::Empty);
        assert!(h.keep_alive);
        assert_eq!(h.content_type, None);
        let h = head("POST / HTTP/1.1\r\nHost: a\r\nContent-Type: text/plain\r\n\r\n");
        assert_eq!(h.content_type, Some("text/plain"));
    }

    #[test]
    fn limits_are_inclusive() {
        let raw = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n";
        let exact = Limits {
            max_header_bytes: raw.len(),
            max_body_bytes: 10,
        };
        let parsed = parse_head(raw.as_bytes(), &exact, None).unwrap();
        assert!(matches!(parsed, Parsed::Complete(ref h, _) if h.framing == Framing::Length(10)));
        let partial = &raw.as_bytes()[..raw.len() - 1];
        let short = Limits {
            max_header_bytes: raw.len() - 1,
            ..exact
        };
        assert_eq!(parse_head(partial, &short, None), Ok(Parsed::Partial));
        let err = parse_head(raw.as_bytes(), &short, None).unwrap_err();
        assert_eq!(err.status, 431);
        let small = Limits {
            max_body_bytes: 9,
            ..exact
        };
        let err = parse_head(raw.as_bytes(), &small, None).unwrap_err();
        assert_eq!(err.status, 413);
    }

    #[test]
    fn errors_and_versions_display() {
        assert_eq!(
            HttpError::new(400, "malformed request").to_string(),
            "400 malformed request"
        );
        assert_eq!(Version::Http10.as_str(), "HTTP/1.0");
        assert_eq!(Version::Http11.as_str(), "HTTP/1.1");
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
        // The decoder holds the limit by itself, also for a length that no
        // head checked: 413 at the byte that passes it.
        let mut d = BodyDecoder::new(Framing::Length(10), &limits);
        let mut out = Vec::new();
        assert_eq!(d.decode(b"12345", &mut out).unwrap().consumed, 5);
        assert_eq!(d.decode(b"678", &mut out).unwrap().consumed, 3);
        assert_eq!(d.decode(b"9", &mut out).unwrap_err().status, 413);
        assert_eq!(out, b"12345678");
        let mut d = BodyDecoder::new(Framing::Chunked, &limits);
        let long_line = [b"1;".as_slice(), &[b'x'; MAX_CHUNK_LINE]].concat();
        assert_eq!(
            d.decode(&long_line, &mut Vec::new()).unwrap_err().status,
            400
        );
    }
}
