//! The HTTP/1.1 server example. It is built on `netutil`, which has not
//! landed yet; until then this binary says so and exits with status 2.
//! Run `cargo run --release -p ioloop --example echo` for a server on the loop.

fn main() {
    env_logger::init();
    eprintln!(
        "httpserver-example: the HTTP server needs netutil, which has not landed yet; \
         run `cargo run --release -p ioloop --example echo` for a TCP echo server on the loop"
    );
    std::process::exit(2);
}
