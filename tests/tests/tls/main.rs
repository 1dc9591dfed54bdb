//! Integration tests for TLS streams, servers and clients (`netutil::tls`):
//! one module per concern. Certificates are made at run time by `rcgen`
//! (`pki`).

mod clients;
mod config;
mod http_client;
mod idle;
mod pki;
mod stream;
mod util;
mod verify;
