//! Errors say what was being done once and the OS's reason once, and keep
//! the OS error's kind and number.

use std::error::Error as _;
use std::io::{self, ErrorKind};

use ioloop::ContextError;
use netutil::{IOStream, StreamClosedError, TCPClient};

use crate::util::run;

/// The texts an error reporter prints: the error, then each source.
fn chain(err: &io::Error) -> Vec<String> {
    let mut texts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(err) = source {
        texts.push(err.to_string());
        source = err.source();
    }
    texts
}

#[test]
fn a_refused_connect_names_the_address_and_the_reason_once() {
    let (_held, free) = crate::util::refusing_addr();
    let client = TCPClient::new();
    let err = run(|| client.connect("127.0.0.1", free.port())).unwrap_err();

    let reason = io::Error::from_raw_os_error(libc::ECONNREFUSED).to_string();
    let report = chain(&err).join("\ncaused by: ");
    assert_eq!(report, format!("connect to {free}: {reason}"));
    assert_eq!(report.matches(&free.to_string()).count(), 1, "{report}");
    assert_eq!(report.matches(&reason).count(), 1, "{report}");

    assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    assert_eq!(ioloop::raw_os_error(&err), Some(libc::ECONNREFUSED));
    let context = ContextError::find(&err).expect("the error carries its context");
    assert_eq!(context.context(), format!("connect to {free}"));
    assert_eq!(context.raw_os_error(), Some(libc::ECONNREFUSED));
    assert_eq!(context.kind(), ErrorKind::ConnectionRefused);
}

#[test]
fn a_unix_connect_to_a_missing_path_names_the_path_once() {
    let path = std::env::temp_dir().join(format!("netutil-missing-{}.sock", std::process::id()));
    let err = run(|| IOStream::connect_unix(&path)).unwrap_err();
    let report = chain(&err).join("\ncaused by: ");
    let shown = path.display().to_string();
    assert_eq!(report.matches(&shown).count(), 1, "{report}");
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(ioloop::raw_os_error(&err), Some(libc::ENOENT));
}

#[test]
fn a_stream_closed_by_a_reset_says_the_reason_once() {
    use std::net::{TcpListener, TcpStream};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let err = run(|| async move {
        let stream = IOStream::connect(addr).await?;
        let (peer, _) = listener.accept()?;
        // Unread data at close makes the kernel send a reset.
        stream.write(b"x").await?;
        socket2::SockRef::from(&peer).set_linger(Some(std::time::Duration::ZERO))?;
        drop::<TcpStream>(peer);
        loop {
            stream.read_bytes(1, true).await?;
        }
        #[allow(unreachable_code)]
        Ok::<(), io::Error>(())
    })
    .unwrap_err();
    let closed = StreamClosedError::find(&err).expect("a stream-closed error");
    let report = chain(&err).join("\ncaused by: ");
    let reason = io::Error::from_raw_os_error(libc::ECONNRESET).to_string();
    assert_eq!(report.matches(&reason).count(), 1, "{report}");
    assert_eq!(closed.raw_os_error(), Some(libc::ECONNRESET));
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
}
