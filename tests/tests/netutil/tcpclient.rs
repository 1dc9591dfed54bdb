//! `TCPClient`: connect through the resolver.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::time::Duration;

use netutil::{Family, OverrideResolver, TCPClient, ThreadedResolver};

use crate::util::run;

#[test]
fn connects_by_name_through_the_resolver() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TCPClient::with_resolver(
        OverrideResolver::new(ThreadedResolver::new()).host("service.test", "127.0.0.1"),
    );
    let stream = run(|| client.connect("service.test", port)).unwrap();
    assert_eq!(stream.peer_addr().unwrap(), listener.local_addr().unwrap());
}

#[test]
fn localhost_falls_back_across_families() {
    // Only IPv4 listens: whichever family localhost gives first, the
    // client ends up on 127.0.0.1.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = TCPClient::new();
    let stream = run(|| client.connect("localhost", port)).unwrap();
    assert!(stream.peer_addr().unwrap().is_ipv4());
    if crate::util::localhost_has_ipv6() {
        let v6 = TcpListener::bind("[::1]:0").unwrap();
        let port = v6.local_addr().unwrap().port();
        let stream = run(|| client.connect_with("localhost", port, Family::Inet6, None)).unwrap();
        assert!(stream.peer_addr().unwrap().is_ipv6());
    }
}

#[test]
fn errors_name_the_host_or_address() {
    let client = TCPClient::new();
    let host = crate::util::UNRESOLVABLE;
    let err = run(|| client.connect(host, 80)).unwrap_err();
    assert!(err.to_string().contains(host), "{err}");
    let (_held, free) = crate::util::refusing_addr();
    let err = run(|| client.connect("127.0.0.1", free.port())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert!(err.to_string().contains(&free.to_string()), "{err}");
}

#[test]
fn the_timeout_is_an_error_naming_the_host() {
    // 192.0.2.0/24 (TEST-NET-1) is never routed: the connect hangs or is
    // refused as unreachable at once, depending on the host.
    let client = TCPClient::new();
    let result = run(|| {
        client.connect_with(
            "192.0.2.1",
            9,
            Family::Unspec,
            Some(Duration::from_millis(100)),
        )
    });
    if let Err(err) = result
        && err.kind() == ErrorKind::TimedOut
    {
        assert!(err.to_string().contains("192.0.2.1"), "{err}");
    }
}
