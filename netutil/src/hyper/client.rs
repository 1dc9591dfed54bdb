//! [`Client`]: an HTTP/1.1 client on hyper over [`TCPClient`], with a
//! keep-alive pool per host (Tornado's `AsyncHTTPClient`, `HTTPRequest`
//! and `HTTPResponse`).

use std::cell::RefCell;
use std::error::Error as StdError;
use std::fmt;
use std::future::Future;
use std::io;
use std::rc::Rc;
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::{Bytes, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::http::uri::PathAndQuery;
use hyper::{Method, StatusCode, Uri, Version};
use ioloop::IOLoop;

use super::deadlines::{Deadline, Deadlines};
use crate::TCPClient;
#[cfg(feature = "tls")]
use crate::tls::{ClientTls, TlsRole};

/// The default [`Request::timeout`]: 20 s, Tornado's `request_timeout`.
///
/// # Examples
///
/// ```
/// use netutil::hyper::{DEFAULT_TIMEOUT, Request};
///
/// let patient = Request::get("http://127.0.0.1:8080/report").timeout(2 * DEFAULT_TIMEOUT);
/// # let _ = patient;
/// ```
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);
/// The default [`Request::max_body_size`]: 16 MiB.
///
/// # Examples
///
/// ```
/// use netutil::hyper::{DEFAULT_MAX_BODY_SIZE, Request};
///
/// let big = Request::get("http://127.0.0.1:8080/dump").max_body_size(4 * DEFAULT_MAX_BODY_SIZE);
/// # let _ = big;
/// ```
pub const DEFAULT_MAX_BODY_SIZE: usize = 16 * 1024 * 1024;
/// The most idle connections [`Client`] keeps per host.
///
/// # Examples
///
/// ```
/// // The pool keeps at most this many idle connections to one host.
/// assert!(netutil::hyper::MAX_IDLE_PER_HOST >= 1);
/// ```
pub const MAX_IDLE_PER_HOST: usize = 8;

/// An HTTP request for [`Client::fetch`] (Tornado's `HTTPRequest`).
///
/// Redirects are not followed unless asked for
/// ([`follow_redirects`](Request::follow_redirects)), unlike Tornado's
/// default: a 3xx response is returned as it is.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use netutil::hyper::Request;
///
/// let request = Request::post("http://127.0.0.1:8888/items", "name=a")
///     .header("content-type", "application/x-www-form-urlencoded")
///     .timeout(Duration::from_secs(5))
///     .follow_redirects(3);
/// assert_eq!(request.method(), "POST");
/// ```
#[derive(Clone, Debug)]
pub struct Request {
    method: Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Bytes,
    timeout: Duration,
    max_redirects: usize,
    max_body_size: usize,
}

impl Request {
    /// A request with `method` for `url`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::new(hyper::Method::PUT, &url).body("data");
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"PUT /hello data");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(method: Method, url: impl Into<String>) -> Request {
        Request {
            method,
            url: url.into(),
            headers: Vec::new(),
            body: Bytes::new(),
            timeout: DEFAULT_TIMEOUT,
            max_redirects: 0,
            max_body_size: DEFAULT_MAX_BODY_SIZE,
        }
    }

    /// A `GET` of `url`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"GET /hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(url: impl Into<String>) -> Request {
        Request::new(Method::GET, url)
    }

    /// A `POST` of `body` to `url`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::post(&url, "name=value");
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"POST /hello name=value");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn post(url: impl Into<String>, body: impl Into<Bytes>) -> Request {
        Request::new(Method::POST, url).body(body)
    }

    /// Adds a header (checked when the request is sent: an invalid name or
    /// value fails the fetch as a bad request).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::get(&url).header("accept", "text/plain");
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Request {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The body, sent with a `Content-Length`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::new(hyper::Method::POST, &url).body(vec![b'x'; 3]);
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"POST /hello xxx");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(mut self, body: impl Into<Bytes>) -> Request {
        self.body = body.into();
        self
    }

    /// The time allowed for the whole fetch (connection, request,
    /// response and body, redirects included); [`DEFAULT_TIMEOUT`] unless
    /// set.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::get(&url).timeout(std::time::Duration::from_secs(5));
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Request {
        self.timeout = timeout;
        self
    }

    /// Follows up to `max` redirects (301, 302, 303, 307, 308); 0, the
    /// default, follows none. A 303, and a 301 or 302 answering a `POST`,
    /// is followed with a `GET` without a body, as browsers do.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::get(format!("http://127.0.0.1:{port}/old")).follow_redirects(3);
    /// let response = ioloop.run_sync(|| async { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"GET /new");
    /// assert!(response.url().ends_with("/new")); // where it ended up
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn follow_redirects(mut self, max: usize) -> Request {
        self.max_redirects = max;
        self
    }

    /// The largest response body accepted, in bytes; a larger one fails
    /// the fetch with [`FetchErrorKind::BodyTooLarge`] and its connection
    /// is closed. [`DEFAULT_MAX_BODY_SIZE`] unless set.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let request = Request::get(&url).max_body_size(4);
    /// let err = ioloop.run_sync(|| async move { Client::new().fetch(request).await }, Some(std::time::Duration::from_secs(10)))?.unwrap_err();
    /// assert!(matches!(err.kind(), netutil::hyper::FetchErrorKind::BodyTooLarge(4)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_body_size(mut self, bytes: usize) -> Request {
        self.max_body_size = bytes;
        self
    }

    /// The method.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Request;
    ///
    /// assert_eq!(Request::post("http://127.0.0.1/", "x").method(), hyper::Method::POST);
    /// ```
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Request;
    ///
    /// assert_eq!(Request::get("http://127.0.0.1/a").url(), "http://127.0.0.1/a");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// A complete response (Tornado's `HTTPResponse`): status, headers and the
/// whole body.
///
/// # Examples
///
/// ```
/// use netutil::hyper::Response;
///
/// # // A server on the loop that answers "<method> <path> <body>", sends a
/// # // header of its own, and redirects /old to /new.
/// # let ioloop = ioloop::IOLoop::new()?;
/// # let server = netutil::http::HTTPServer::new(
/// #     |mut request: netutil::http::Request| async move {
/// #         use netutil::http::Response;
/// #         if request.path() == "/old" {
/// #             return Response::new(302).with_header("Location", "/new").unwrap();
/// #         }
/// #         let body = request.body().read_all().await.unwrap_or_default();
/// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
/// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
/// #     },
/// #     Default::default(),
/// # );
/// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
/// let url = format!("http://127.0.0.1:{port}/hello");
/// let response: Response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
/// assert_eq!((response.status(), response.body()), (hyper::StatusCode::OK, &b"GET /hello"[..]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct Response {
    url: String,
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// A response with `head`'s status, version and headers, and `body`;
    /// its URL is set by [`Client::fetch`].
    fn new(head: hyper::http::response::Parts, body: Bytes) -> Response {
        Response {
            url: String::new(),
            status: head.status,
            version: head.version,
            headers: head.headers,
            body,
        }
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.status(), hyper::StatusCode::OK);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The status line, for example `HTTP/1.1 200 OK`.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.status_line(), "HTTP/1.1 200 OK");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn status_line(&self) -> String {
        format!(
            "{:?} {} {}",
            self.version,
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or("")
        )
        .trim_end()
        .to_owned()
    }

    /// The protocol version of the response.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.version(), hyper::Version::HTTP_11);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn version(&self) -> Version {
        self.version
    }

    /// The headers.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.headers()["x-served-by"], "netutil");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body (decoded from chunked transfer coding if need be).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"GET /hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, owned.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// let bytes: hyper::body::Bytes = response.into_body();
    /// assert_eq!(&bytes[..], b"GET /hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// The URL that answered: the request's, or the last redirect's.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Response;
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.url(), url);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }
}

/// Why a fetch failed: [`FetchError::kind`].
///
/// # Examples
///
/// ```
/// use netutil::hyper::{fetch, FetchErrorKind};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// // A port nobody listens on.
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let url = format!("http://127.0.0.1:{port}/");
/// let err = ioloop.run_sync(|| fetch(&url), Some(std::time::Duration::from_secs(10)))?.unwrap_err();
/// match err.kind() {
///     FetchErrorKind::Connect(cause) => assert_eq!(cause.kind(), std::io::ErrorKind::ConnectionRefused),
///     other => panic!("unexpected {other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum FetchErrorKind {
    /// The URL cannot be fetched as written: not an absolute `http://` URL,
    /// or a header that is not valid.
    BadUrl(String),
    /// The URL's scheme is neither `http` nor `https` (or `https` in a
    /// build without the `tls` feature).
    UnsupportedScheme(String),
    /// Name resolution, the TCP connection or the TLS handshake failed; a
    /// certificate that does not verify is a
    /// [`TlsError`](crate::tls::TlsError) inside (find it with
    /// [`TlsError::find`](crate::tls::TlsError::find)).
    Connect(io::Error),
    /// The fetch did not complete within [`Request::timeout`].
    Timeout(Duration),
    /// The response body exceeds [`Request::max_body_size`].
    BodyTooLarge(usize),
    /// More redirects than [`Request::follow_redirects`] allows.
    TooManyRedirects(usize),
    /// The server broke the protocol or the connection.
    Http(hyper::Error),
}

/// A failed fetch, naming the method and URL.
///
/// # Examples
///
/// ```
/// use netutil::hyper::{fetch, FetchErrorKind};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// // A port nobody listens on.
/// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
/// let url = format!("http://127.0.0.1:{port}/");
/// let err = ioloop.run_sync(|| fetch(&url), Some(std::time::Duration::from_secs(10)))?.unwrap_err();
/// assert!(err.to_string().contains(&url)); // names the URL
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FetchError {
    method: Method,
    url: String,
    kind: FetchErrorKind,
}

impl FetchError {
    fn new(request: &Request, kind: FetchErrorKind) -> FetchError {
        FetchError {
            method: request.method.clone(),
            url: request.url.clone(),
            kind,
        }
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{fetch, FetchErrorKind};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// // A port nobody listens on.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let url = format!("http://127.0.0.1:{port}/");
    /// let err = ioloop.run_sync(|| fetch(&url), Some(std::time::Duration::from_secs(10)))?.unwrap_err();
    /// assert!(matches!(err.kind(), FetchErrorKind::Connect(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> &FetchErrorKind {
        &self.kind
    }

    /// The URL that failed (the last redirect's, if redirects were
    /// followed).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{fetch, FetchErrorKind};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// // A port nobody listens on.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let url = format!("http://127.0.0.1:{port}/");
    /// let err = ioloop.run_sync(|| fetch(&url), Some(std::time::Duration::from_secs(10)))?.unwrap_err();
    /// assert_eq!(err.url(), url);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// True for [`FetchErrorKind::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use netutil::hyper::{Client, Request};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// // A server that accepts connections (in the kernel's backlog) and never answers.
    /// let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let url = format!("http://{}/", silent.local_addr()?);
    /// let request = Request::get(&url).timeout(Duration::from_millis(200));
    /// let err = ioloop.run_sync(|| async move { Client::new().fetch(request).await }, Some(Duration::from_secs(10)))?.unwrap_err();
    /// assert!(err.is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind, FetchErrorKind::Timeout(_))
    }

    /// True for [`FetchErrorKind::Connect`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{fetch, FetchErrorKind};
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// // A port nobody listens on.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    /// let url = format!("http://127.0.0.1:{port}/");
    /// let err = ioloop.run_sync(|| fetch(&url), Some(std::time::Duration::from_secs(10)))?.unwrap_err();
    /// assert!(err.is_connect());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_connect(&self) -> bool {
        matches!(self.kind, FetchErrorKind::Connect(_))
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: ", self.method, self.url)?;
        match &self.kind {
            FetchErrorKind::BadUrl(why) => write!(f, "bad url: {why}"),
            FetchErrorKind::UnsupportedScheme(scheme) => {
                write!(f, "{scheme} is not supported by this build")
            }
            FetchErrorKind::Connect(err) => write!(f, "connect: {err}"),
            FetchErrorKind::Timeout(limit) => write!(f, "timed out after {limit:?}"),
            FetchErrorKind::BodyTooLarge(limit) => {
                write!(f, "response body exceeds {limit} bytes")
            }
            FetchErrorKind::TooManyRedirects(max) => write!(f, "more than {max} redirects"),
            FetchErrorKind::Http(err) => write!(f, "{err}"),
        }
    }
}

impl StdError for FetchError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            FetchErrorKind::Connect(err) => Some(err),
            FetchErrorKind::Http(err) => Some(err),
            _ => None,
        }
    }
}

impl From<FetchError> for io::Error {
    fn from(err: FetchError) -> io::Error {
        let kind = match &err.kind {
            FetchErrorKind::BadUrl(_) | FetchErrorKind::UnsupportedScheme(_) => {
                io::ErrorKind::InvalidInput
            }
            FetchErrorKind::Connect(e) => e.kind(),
            FetchErrorKind::Timeout(_) => io::ErrorKind::TimedOut,
            FetchErrorKind::BodyTooLarge(_) | FetchErrorKind::TooManyRedirects(_) => {
                io::ErrorKind::InvalidData
            }
            FetchErrorKind::Http(_) => io::ErrorKind::Other,
        };
        io::Error::new(kind, err)
    }
}

/// Fetches `url` with a `GET` on a client of its own (Tornado's
/// `AsyncHTTPClient().fetch(url)`); use a [`Client`] to reuse connections
/// across fetches.
///
/// # Errors
///
/// As [`Client::fetch`].
///
/// # Examples
///
/// ```
/// use netutil::hyper::fetch;
///
/// # // A server on the loop that answers "<method> <path> <body>", sends a
/// # // header of its own, and redirects /old to /new.
/// # let ioloop = ioloop::IOLoop::new()?;
/// # let server = netutil::http::HTTPServer::new(
/// #     |mut request: netutil::http::Request| async move {
/// #         use netutil::http::Response;
/// #         if request.path() == "/old" {
/// #             return Response::new(302).with_header("Location", "/new").unwrap();
/// #         }
/// #         let body = request.body().read_all().await.unwrap_or_default();
/// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
/// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
/// #     },
/// #     Default::default(),
/// # );
/// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
/// let url = format!("http://127.0.0.1:{port}/hello");
/// let response = ioloop.run_sync(|| async { netutil::hyper::fetch(&url).await }, Some(std::time::Duration::from_secs(10)))??;
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.body(), b"GET /hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn fetch(url: &str) -> Result<Response, FetchError> {
    Client::new().fetch(Request::get(url)).await
}

/// Where a URL points: what a connection is pooled by.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Origin {
    /// `https`: the connection is TLS, verified for `host`.
    tls: bool,
    host: Rc<str>,
    port: u16,
}

/// A parsed `http://` or `https://` URL, shared by the fetches of it.
struct Target {
    origin: Origin,
    /// The `Host` header: the host and any explicit port, as written.
    authority: HeaderValue,
    /// The request target: the path and query.
    path: Uri,
}

fn parse_url(url: &str) -> Result<Target, FetchErrorKind> {
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| FetchErrorKind::BadUrl(e.to_string()))?;
    let tls = match uri.scheme_str() {
        Some("http") => false,
        #[cfg(feature = "tls")]
        Some("https") => true,
        Some(scheme) => return Err(FetchErrorKind::UnsupportedScheme(scheme.to_owned())),
        None => {
            return Err(FetchErrorKind::BadUrl(
                "not an absolute http:// or https:// url".into(),
            ));
        }
    };
    let authority = uri
        .authority()
        .ok_or_else(|| FetchErrorKind::BadUrl("no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(FetchErrorKind::BadUrl(
            "credentials in urls are not supported".into(),
        ));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(FetchErrorKind::BadUrl("no host".into()));
    }
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let path = uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    Ok(Target {
        origin: Origin {
            tls,
            host: host.into(),
            port: authority.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        },
        authority: HeaderValue::from_str(authority.as_str())
            .map_err(|e| FetchErrorKind::BadUrl(format!("host: {e}")))?,
        path: Uri::from(path),
    })
}

/// An HTTP/1.1 client on the loop, with a pool of keep-alive connections
/// per host and port (Tornado's `AsyncHTTPClient`). Cheap to clone: the
/// clones share the pool.
///
/// Connections come from a [`TCPClient`] (its resolver and stream
/// options); each is driven by a task on the current loop. A connection
/// goes back to the pool once its response body has been read in full; a
/// fetch that fails or is dropped (cancelled) closes its connection.
///
/// `https://` URLs are fetched over TLS (the `tls` feature), with the
/// server's certificate and host name verified: against the system's roots
/// by default, or the configuration given to [`tls`](Client::tls). A
/// certificate that does not verify fails the fetch with
/// [`FetchErrorKind::Connect`].
///
/// # Examples
///
/// ```no_run
/// use netutil::hyper::{Client, Request};
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let client = Client::new();
/// let response = ioloop.run_sync(
///     || async move {
///         let first = client.fetch(Request::get("http://127.0.0.1:8888/")).await?;
///         // The same connection, kept alive.
///         let second = client.fetch(Request::get("http://127.0.0.1:8888/")).await?;
///         Ok::<_, netutil::hyper::FetchError>((first, second))
///     },
///     None,
/// )??;
/// println!("{}", response.0.status_line());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Thread safety
///
/// Not `Send`: a client belongs to its loop's thread.
#[derive(Clone, Default)]
pub struct Client {
    inner: Rc<ClientInner>,
}

#[derive(Default)]
struct ClientInner {
    tcp: TCPClient,
    /// The configuration of `https` connections, set by [`Client::tls`] or
    /// made from the system's roots on the first `https` fetch.
    #[cfg(feature = "tls")]
    tls: RefCell<Option<ClientTls>>,
    /// The last URL fetched and what it parsed to: a client fetching the
    /// same URL again parses it once.
    last_target: RefCell<Option<(String, Rc<Target>)>>,
    /// Idle connections with where they lead, most recently used last (a
    /// short list: at most [`MAX_IDLE_PER_HOST`] per host).
    idle: RefCell<Vec<(Origin, SendRequest<RequestBody>)>>,
    /// The timeouts of the fetches in flight, on one loop timeout.
    deadlines: Rc<Deadlines>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("idle_connections", &self.idle_connections())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with a default [`TCPClient`].
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let client = Client::new(); // one per loop: it keeps connections alive
    /// let (a, b) = ioloop.run_sync(|| async {
    ///     let a = client.fetch(Request::get(&url)).await?;
    ///     let b = client.fetch(Request::post(&url, "again")).await?;
    ///     Ok::<_, netutil::hyper::FetchError>((a, b))
    /// }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!((a.body(), b.body()), (&b"GET /hello"[..], &b"POST /hello again"[..]));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Client {
        Client::with_tcp_client(TCPClient::new())
    }

    /// A client connecting through `tcp` (its resolver and stream
    /// options).
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let resolver = netutil::OverrideResolver::new(netutil::ThreadedResolver::new())
    ///     .host("api.test", "127.0.0.1");
    /// let client = Client::with_tcp_client(netutil::TCPClient::with_resolver(resolver));
    /// let url = format!("http://api.test:{port}/hello");
    /// let response = ioloop.run_sync(|| async { client.fetch(Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"GET /hello");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_tcp_client(tcp: TCPClient) -> Client {
        Client {
            inner: Rc::new(ClientInner {
                tcp,
                #[cfg(feature = "tls")]
                tls: RefCell::default(),
                last_target: RefCell::default(),
                idle: RefCell::default(),
                deadlines: Rc::default(),
            }),
        }
    }

    /// `url` parsed, from the one-entry cache if it was the last one.
    fn target(&self, url: &str) -> Result<Rc<Target>, FetchErrorKind> {
        if let Some((last, target)) = &*self.inner.last_target.borrow()
            && last == url
        {
            return Ok(Rc::clone(target));
        }
        let target = Rc::new(parse_url(url)?);
        *self.inner.last_target.borrow_mut() = Some((url.to_owned(), Rc::clone(&target)));
        Ok(target)
    }

    /// Verifies `https` servers with `tls` (for example
    /// [`ClientTls::with_ca_file`] for a private authority) instead of the
    /// system's roots. The client speaks HTTP/1.1: a configuration's ALPN
    /// protocols, if any, must offer `http/1.1` only.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::Client;
    /// use netutil::tls::ClientTls;
    ///
    /// # let dir = std::env::temp_dir().join(format!("netutil-doc-{}-h1", std::process::id()));
    /// # std::fs::create_dir_all(&dir)?;
    /// # let made = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
    /// # let (cert_pem, key_pem) = (dir.join("cert.pem"), dir.join("key.pem"));
    /// # std::fs::write(&cert_pem, made.cert.pem())?;
    /// # std::fs::write(&key_pem, made.signing_key.serialize_pem())?;
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let server = netutil::http::HTTPServer::new(
    ///     |_request: netutil::http::Request| async { netutil::http::Response::text(200, "secure") },
    ///     Default::default(),
    /// );
    /// server.set_tls(Some(netutil::tls::ServerTls::from_pem_files(&cert_pem, &key_pem)?));
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// // Trust the server's private authority rather than the system's roots.
    /// let client = Client::new().tls(ClientTls::with_ca_file(&cert_pem)?);
    /// let url = format!("https://localhost:{port}/");
    /// let response = ioloop.run_sync(|| async { client.fetch(netutil::hyper::Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"secure");
    /// # std::fs::remove_dir_all(&dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "tls")]
    pub fn tls(self, tls: ClientTls) -> Client {
        *self.inner.tls.borrow_mut() = Some(tls);
        self
    }

    /// The configuration for an `https` connection.
    #[cfg(feature = "tls")]
    fn tls_config(&self) -> io::Result<ClientTls> {
        let mut tls = self.inner.tls.borrow_mut();
        if let Some(tls) = &*tls {
            return Ok(tls.clone());
        }
        let made = ClientTls::new()?.alpn_protocols(["http/1.1"]);
        *tls = Some(made.clone());
        Ok(made)
    }

    /// The number of idle connections in the pool, all hosts together.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let client = Client::new();
    /// ioloop.run_sync(|| async { client.fetch(Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(client.idle_connections(), 1); // kept alive for the next fetch
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.inner.idle.borrow().len()
    }

    /// Closes every idle connection.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let client = Client::new();
    /// ioloop.run_sync(|| async { client.fetch(Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// client.close_idle();
    /// assert_eq!(client.idle_connections(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_idle(&self) {
        self.inner.idle.borrow_mut().clear();
    }

    /// Sends `request` and reads the whole response (Tornado's
    /// `AsyncHTTPClient.fetch`, with `raise_error=False`: any status is a
    /// response).
    ///
    /// # Errors
    ///
    /// A [`FetchError`] naming the URL: a bad or unsupported URL, a
    /// connection or name resolution failure, the timeout, a body over the
    /// limit, too many redirects, or a protocol error.
    ///
    /// # Examples
    ///
    /// ```
    /// use netutil::hyper::{Client, Request};
    ///
    /// # // A server on the loop that answers "<method> <path> <body>", sends a
    /// # // header of its own, and redirects /old to /new.
    /// # let ioloop = ioloop::IOLoop::new()?;
    /// # let server = netutil::http::HTTPServer::new(
    /// #     |mut request: netutil::http::Request| async move {
    /// #         use netutil::http::Response;
    /// #         if request.path() == "/old" {
    /// #             return Response::new(302).with_header("Location", "/new").unwrap();
    /// #         }
    /// #         let body = request.body().read_all().await.unwrap_or_default();
    /// #         let text = format!("{} {} {}", request.method().as_str(), request.path(), String::from_utf8_lossy(&body));
    /// #         Response::text(200, text.trim_end().to_owned()).with_header("X-Served-By", "netutil").unwrap()
    /// #     },
    /// #     Default::default(),
    /// # );
    /// # let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/hello");
    /// let client = Client::new();
    /// let response = ioloop.run_sync(|| async { client.fetch(Request::get(&url)).await }, Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.status(), 200);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fetch(
        &self,
        request: Request,
    ) -> impl Future<Output = Result<Response, FetchError>> + '_ {
        // An async block rather than an `async fn`: its `request` is kept
        // once in the future, not twice (argument and local).
        let mut request = request;
        async move {
            let mut deadline = self.inner.deadlines.start(request.timeout);
            let follow = {
                let outcome = deadline.run(self.exchange(&request)).await;
                match outcome {
                    // Boxed: redirects are rare, and inline their loop
                    // would make every fetch's future larger.
                    Ok(Ok(response)) if request.max_redirects > 0 && is_redirect(&response) => {
                        Box::pin(self.follow(request, deadline, response))
                    }
                    outcome => return finish(&mut request, outcome),
                }
            };
            follow.await
        }
    }

    /// Follows the redirects from `response`, the answer to `request`,
    /// under `deadline`.
    async fn follow(
        &self,
        mut request: Request,
        mut deadline: Deadline<'_>,
        mut response: Response,
    ) -> Result<Response, FetchError> {
        let mut redirects = 0;
        let outcome = deadline
            .run(async {
                while let Some(next) = redirect(&request, &response) {
                    if redirects == request.max_redirects {
                        return Err(FetchErrorKind::TooManyRedirects(request.max_redirects));
                    }
                    redirects += 1;
                    request = next;
                    response = self.exchange(&request).await?;
                }
                Ok(response)
            })
            .await;
        finish(&mut request, outcome)
    }

    /// One request and its response, on a pooled connection or a new one.
    async fn exchange(&self, request: &Request) -> Result<Response, FetchErrorKind> {
        let target = self.target(&request.url)?;
        let message = build_request(request, &target)?;
        let (mut sender, reused) = self.connection(&target.origin).await?;
        let answer = match sender.send_request(message).await {
            Ok(answer) => answer,
            // A pooled connection the server closed meanwhile: once more
            // on a new one, as the request never reached it. Boxed: rare.
            Err(err) if reused && (err.is_canceled() || err.is_incomplete_message()) => {
                let (new, answer) = Box::pin(self.resend(request, &target)).await?;
                sender = new;
                answer
            }
            Err(err) => return Err(FetchErrorKind::Http(err)),
        };
        let (head, body) = answer.into_parts();
        let body = read_body(body, request.max_body_size).await?;
        self.release(target, sender);
        Ok(Response::new(head, body))
    }

    /// `request` sent again on a new connection to `target`.
    async fn resend(
        &self,
        request: &Request,
        target: &Target,
    ) -> Result<(SendRequest<RequestBody>, hyper::Response<Incoming>), FetchErrorKind> {
        let mut sender = self.connect(&target.origin).await?;
        let answer = sender
            .send_request(build_request(request, target)?)
            .await
            .map_err(FetchErrorKind::Http)?;
        Ok((sender, answer))
    }

    /// A ready connection to `origin`: an idle one if the pool has one
    /// that is still open (and then `true`), else a new one.
    async fn connection(
        &self,
        origin: &Origin,
    ) -> Result<(SendRequest<RequestBody>, bool), FetchErrorKind> {
        loop {
            let pooled = {
                let mut idle = self.inner.idle.borrow_mut();
                idle.iter()
                    .rposition(|(o, _)| o == origin)
                    .map(|i| idle.remove(i).1)
            };
            let Some(mut sender) = pooled else { break };
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Ok((sender, true));
            }
        }
        // Boxed: the connect path (resolver, TLS handshake) is rare, and
        // inline it would make every fetch's future several times larger.
        Ok((Box::pin(self.connect(origin)).await?, false))
    }

    async fn connect(&self, origin: &Origin) -> Result<SendRequest<RequestBody>, FetchErrorKind> {
        let stream = self
            .inner
            .tcp
            .connect(&origin.host, origin.port)
            .await
            .map_err(FetchErrorKind::Connect)?;
        let _ = stream.set_nodelay(true);
        #[cfg(feature = "tls")]
        let stream = if origin.tls {
            let tls = self.tls_config().map_err(FetchErrorKind::Connect)?;
            stream
                .start_tls(TlsRole::client(&tls, &origin.host))
                .await
                .map_err(FetchErrorKind::Connect)?
        } else {
            stream
        };
        let (sender, connection) = http1::Builder::new()
            .handshake(stream)
            .await
            .map_err(FetchErrorKind::Http)?;
        IOLoop::current()
            .spawn(async move {
                if let Err(err) = connection.await {
                    log::debug!(target: "netutil", "http client connection: {err}");
                }
            })
            .detach();
        Ok(sender)
    }

    /// Puts a connection whose exchange is complete back in the pool.
    fn release(&self, target: Rc<Target>, sender: SendRequest<RequestBody>) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.inner.idle.borrow_mut();
        if idle.iter().filter(|(o, _)| *o == target.origin).count() < MAX_IDLE_PER_HOST {
            idle.push((target.origin.clone(), sender));
        }
    }
}

/// What a fetch of `request` (the last one sent) comes to, from the
/// outcome of its exchanges under its deadline (`Err(())`: it passed).
fn finish(
    request: &mut Request,
    outcome: Result<Result<Response, FetchErrorKind>, ()>,
) -> Result<Response, FetchError> {
    match outcome {
        Ok(Ok(mut response)) => {
            // The URL answered: the last one sent, moved, not copied.
            response.url = std::mem::take(&mut request.url);
            Ok(response)
        }
        Ok(Err(kind)) => Err(FetchError::new(request, kind)),
        Err(()) => Err(FetchError::new(
            request,
            FetchErrorKind::Timeout(request.timeout),
        )),
    }
}

/// The whole body, refused past `limit` bytes; a body that comes in one
/// piece is kept as it is, without a copy.
async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, FetchErrorKind> {
    let mut first: Option<Bytes> = None;
    let mut rest: Vec<u8> = Vec::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame.map_err(FetchErrorKind::Http)?.into_data() else {
            continue; // trailers
        };
        total += chunk.len();
        if total > limit {
            return Err(FetchErrorKind::BodyTooLarge(limit));
        }
        match &first {
            None => first = Some(chunk),
            Some(head) => {
                if rest.is_empty() {
                    rest.extend_from_slice(head);
                }
                rest.extend_from_slice(&chunk);
            }
        }
    }
    Ok(if rest.is_empty() {
        first.unwrap_or_default()
    } else {
        Bytes::from(rest)
    })
}

#[inline]
fn build_request(
    request: &Request,
    target: &Target,
) -> Result<hyper::Request<RequestBody>, FetchErrorKind> {
    // Made in place rather than with `hyper::Request::builder`, whose
    // every step moves the whole head.
    let mut message = hyper::Request::new(RequestBody::new(&request.body));
    *message.method_mut() = request.method.clone();
    *message.uri_mut() = target.path.clone();
    let headers = message.headers_mut();
    headers.insert(header::HOST, target.authority.clone());
    for (name, value) in &request.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|e| FetchErrorKind::BadUrl(format!("header name {name:?}: {e}")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|e| FetchErrorKind::BadUrl(format!("header {name} value: {e}")))?;
        headers.append(name, value);
    }
    if !request.body.is_empty() || request.method == Method::POST || request.method == Method::PUT {
        headers.insert(
            header::CONTENT_LENGTH,
            HeaderValue::from(request.body.len()),
        );
    }
    Ok(message)
}

/// True for a status that redirects (301, 302, 303, 307, 308).
fn is_redirect(response: &Response) -> bool {
    matches!(response.status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

/// A request's body as hyper sends it: none, or one buffer.
///
/// Boxed, unlike `http_body_util::Full`: a request without a body (the
/// common `GET`) is then 24 bytes smaller, and hyper moves each request
/// several times on its way to the connection.
struct RequestBody(Option<Box<Bytes>>);

impl RequestBody {
    fn new(body: &Bytes) -> RequestBody {
        RequestBody((!body.is_empty()).then(|| Box::new(body.clone())))
    }
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.get_mut().0.take().map(|data| Ok(Frame::data(*data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.as_ref().map_or(0, |data| data.len() as u64))
    }
}

/// The request a redirect response asks for, if it is one.
fn redirect(request: &Request, response: &Response) -> Option<Request> {
    if !is_redirect(response) {
        return None;
    }
    let status = response.status.as_u16();
    let location = response.headers.get(header::LOCATION)?.to_str().ok()?;
    let url = if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        let base: Uri = request.url.parse().ok()?;
        let scheme = base.scheme_str()?;
        let authority = base.authority()?.as_str();
        if location.starts_with('/') {
            format!("{scheme}://{authority}{location}")
        } else {
            let path = base.path();
            let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
            format!("{scheme}://{authority}{dir}{location}")
        }
    };
    let mut next = request.clone();
    next.url = url;
    if status == 303 || (matches!(status, 301 | 302) && request.method == Method::POST) {
        next.method = Method::GET;
        next.body = Bytes::new();
    }
    Some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let t = parse_url("http://example.com:8080/a?b=1").unwrap();
        assert_eq!(
            t.origin,
            Origin {
                tls: false,
                host: "example.com".into(),
                port: 8080
            }
        );
        assert_eq!(t.authority, "example.com:8080");
        assert_eq!(t.path, "/a?b=1");
        let t = parse_url("http://[::1]/").unwrap();
        assert_eq!(
            t.origin,
            Origin {
                tls: false,
                host: "::1".into(),
                port: 80
            }
        );
        assert_eq!(parse_url("http://h").unwrap().path, "/");
        for bad in ["", "/path", "http://", "not a url", "http://u:p@h/"] {
            assert!(
                matches!(parse_url(bad), Err(FetchErrorKind::BadUrl(_))),
                "{bad}"
            );
        }
        let secure = parse_url("https://example.com/x").unwrap();
        assert_eq!(
            secure.origin,
            Origin {
                tls: true,
                host: "example.com".into(),
                port: 443
            }
        );
        assert!(!parse_url("http://example.com:443/").unwrap().origin.tls);
        assert!(matches!(
            parse_url("ftp://example.com/"),
            Err(FetchErrorKind::UnsupportedScheme(s)) if s == "ftp"
        ));
    }

    #[test]
    fn the_last_url_is_parsed_once_and_a_new_one_replaces_it() {
        let client = Client::new();
        let a = client.target("http://a.test:81/x?q").unwrap();
        let b = client.target("https://b.test/y").unwrap();
        let a_again = client.target("http://a.test:81/x?q").unwrap();
        assert_eq!(
            (&*a.origin.host, a.origin.port, a.path.to_string()),
            ("a.test", 81, "/x?q".into())
        );
        assert_eq!(
            (&*b.origin.host, b.origin.port, b.path.to_string()),
            ("b.test", 443, "/y".into())
        );
        assert_eq!(a_again.origin, a.origin);
        assert_eq!(a_again.authority, "a.test:81");
        assert!(client.target("not a url").is_err());
        assert_eq!(client.target("https://b.test/y").unwrap().origin, b.origin);
    }

    /// Every fetch's future is moved into its caller's: kept small, the
    /// move is cheap (the rare connect, retry and redirect paths are
    /// boxed).
    #[test]
    fn the_fetch_future_stays_small() {
        let client = Client::new();
        let fetch = client.fetch(Request::get("http://127.0.0.1:1/"));
        let size = std::mem::size_of_val(&fetch);
        assert!(size <= 896, "the fetch future takes {size} bytes");
    }

    #[test]
    fn redirects() {
        let response = |status: u16, location: &str| Response {
            url: String::new(),
            status: StatusCode::from_u16(status).unwrap(),
            version: Version::HTTP_11,
            headers: [(header::LOCATION, HeaderValue::from_str(location).unwrap())]
                .into_iter()
                .collect(),
            body: Bytes::new(),
        };
        let post = Request::post("http://h:1/a/b", "x");
        let next = redirect(&post, &response(302, "/c")).unwrap();
        assert_eq!(
            (next.url.as_str(), next.method.as_str()),
            ("http://h:1/c", "GET")
        );
        assert!(next.body.is_empty());
        let next = redirect(&post, &response(307, "d")).unwrap();
        assert_eq!(
            (next.url.as_str(), next.method.as_str()),
            ("http://h:1/a/d", "POST")
        );
        assert!(redirect(&post, &response(200, "/c")).is_none());
    }
}
