//! The server's settings.

use std::time::Duration;

use crate::http1::Limits;

/// How the server listens and what it tolerates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The address to listen on.
    pub address: String,
    /// The port (0 picks a free one).
    pub port: u16,
    /// Worker processes sharing the listening sockets (1: no fork).
    pub processes: usize,
    /// The most bytes of a request line and headers (431 beyond).
    pub max_header_bytes: usize,
    /// The most bytes of a request body (413 beyond).
    pub max_body_bytes: usize,
    /// How long a request head may take to arrive, from its first byte
    /// (or from the connection's start); then 408 and close.
    pub header_timeout: Duration,
    /// How long a keep-alive connection may sit idle between requests,
    /// or a body or response make no progress; then close.
    pub idle_timeout: Duration,
    /// How long a graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            address: "127.0.0.1".to_owned(),
            port: 8888,
            processes: 1,
            max_header_bytes: 64 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Config {
    /// The request size limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_header_bytes: self.max_header_bytes,
            max_body_bytes: self.max_body_bytes,
        }
    }
}
