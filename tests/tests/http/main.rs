//! End-to-end tests of the HTTP/1.1 server (`httpserver-example`), run
//! in-process on a loop thread and spoken to over loopback sockets; one
//! module per concern. The binary itself (signals, flags, worker
//! processes, descriptor limits) is tested in `httpserver-example/tests/`.

mod bad_input;
mod fuzz;
mod hostile;
mod keep_alive;
mod library;
mod robustness;
mod routes;
mod timeouts;
mod util;
