//! Resolvers and `is_valid_ip` (tornado-semantics §3.4, §3.5).

use std::io;
use std::net::SocketAddr;

use netutil::{Family, OverrideResolver, ResolveFuture, Resolver, ThreadedResolver, is_valid_ip};

use crate::util::run;

#[test]
fn is_valid_ip_matches_tornados_vectors() {
    for ip in [
        "127.0.0.1",
        "4.4.4.4",
        "::1",
        "2620:0:1cfe:face:b00c::3",
        "fe80::1%lo",
    ] {
        assert!(is_valid_ip(ip), "{ip:?}");
    }
    let long = "a".repeat(100);
    for ip in [
        "www.google.com",
        "localhost",
        "4.4.4.4<",
        " 127.0.0.1",
        "",
        " ",
        "\n",
        "\x00",
        &long,
        "::1%",
        "1.1",
    ] {
        assert!(!is_valid_ip(ip), "{ip:?}");
    }
}

#[test]
fn localhost_resolves_to_the_loopback() {
    let addrs = run(|| ThreadedResolver::new().resolve("localhost", 80, Family::Unspec)).unwrap();
    assert!(
        addrs.contains(&"127.0.0.1:80".parse().unwrap()),
        "{addrs:?}"
    );
    let v4 = run(|| ThreadedResolver::new().resolve("localhost", 80, Family::Inet)).unwrap();
    assert!(v4.iter().all(SocketAddr::is_ipv4));
}

#[test]
fn numeric_hosts_resolve_without_a_thread() {
    let resolver = ThreadedResolver::new();
    let mut future = resolver.resolve("[::1]", 8080, Family::Unspec);
    // Ready on the first poll, before any loop runs.
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(addrs)) => assert_eq!(addrs, ["[::1]:8080".parse().unwrap()]),
        other => panic!("not ready at once: {other:?}"),
    }
    let err = run(|| ThreadedResolver::new().resolve("127.0.0.1", 1, Family::Inet6)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotFound);
}

#[test]
fn a_bad_host_is_an_error_naming_it() {
    let host = crate::util::UNRESOLVABLE;
    let err = run(|| ThreadedResolver::new().resolve(host, 80, Family::Unspec)).unwrap_err();
    assert!(err.to_string().contains(host), "{err}");
}

/// A resolver that answers every host with 10.0.0.<port % 256> and
/// records what it was asked, to see the overrides' rewrites.
struct Echo;

impl Resolver for Echo {
    fn resolve(&self, host: &str, port: u16, _family: Family) -> ResolveFuture {
        let result = match host {
            "a" | "b" | "c" | "d" => {
                let last = host.as_bytes()[0];
                Ok(vec![SocketAddr::from(([10, 0, 0, last], port))])
            }
            other => Err(io::Error::other(format!("unknown host {other}"))),
        };
        Box::pin(std::future::ready(result))
    }
}

#[test]
fn override_precedence_is_host_port_family_then_host_port_then_host() {
    // Tornado's test_resolve_multiaddr.
    let resolver = OverrideResolver::new(Echo)
        .host("google.com", "a")
        .host_port("google.com", 443, "b", 4443)
        .host_port_family("google.com", 443, Family::Inet6, "c", 6443)
        .host_port_family("google.com", 80, Family::Inet, "d", 8080);
    let ask = |host: &'static str, port, family| {
        let r = &resolver;
        run(move || r.resolve(host, port, family)).unwrap()[0]
    };
    assert_eq!(
        ask("google.com", 1, Family::Unspec),
        SocketAddr::from(([10, 0, 0, b'a'], 1))
    );
    assert_eq!(
        ask("google.com", 443, Family::Unspec),
        SocketAddr::from(([10, 0, 0, b'b'], 4443))
    );
    assert_eq!(
        ask("google.com", 443, Family::Inet),
        SocketAddr::from(([10, 0, 0, b'b'], 4443))
    );
    assert_eq!(
        ask("google.com", 443, Family::Inet6),
        SocketAddr::from(([10, 0, 0, b'c'], 6443))
    );
    assert_eq!(
        ask("google.com", 80, Family::Inet),
        SocketAddr::from(([10, 0, 0, b'd'], 8080))
    );
    assert_eq!(
        ask("google.com", 80, Family::Unspec),
        SocketAddr::from(([10, 0, 0, b'a'], 80))
    );
    // Other names pass through.
    assert_eq!(
        ask("b", 7, Family::Unspec),
        SocketAddr::from(([10, 0, 0, b'b'], 7))
    );
}
