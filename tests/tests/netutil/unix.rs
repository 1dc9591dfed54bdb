//! `bind_unix_socket` (tornado-semantics §3.2).

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;

use netutil::bind_unix_socket;

use crate::util::TempDir;

#[test]
fn binds_listens_and_applies_the_mode() {
    let dir = TempDir::new("unix-mode");
    let path = dir.0.join("s.sock");
    let listener = bind_unix_socket(&path, 0o600, 128).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let _client = UnixStream::connect(&path).unwrap();
    listener.set_nonblocking(false).unwrap();
    listener.accept().unwrap();
    drop(listener);
    let listener = bind_unix_socket(&path, 0o660, 128).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    drop(listener);
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let dir = TempDir::new("unix-stale");
    let path = dir.0.join("s.sock");
    let first = bind_unix_socket(&path, 0o600, 128).unwrap();
    drop(first); // the file stays, nobody listens
    assert!(path.exists());
    let second = bind_unix_socket(&path, 0o600, 128).unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    drop(second);
}

#[test]
fn a_live_socket_is_not_stolen() {
    let dir = TempDir::new("unix-live");
    let path = dir.0.join("s.sock");
    let _first = bind_unix_socket(&path, 0o600, 128).unwrap();
    let err = bind_unix_socket(&path, 0o600, 128).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    assert!(err.to_string().contains("s.sock"), "{err}");
}

#[test]
fn a_file_that_is_not_a_socket_is_refused_naming_the_path() {
    let dir = TempDir::new("unix-file");
    let path = dir.0.join("precious.txt");
    std::fs::write(&path, b"keep me").unwrap();
    let err = bind_unix_socket(&path, 0o600, 128).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
    assert!(err.to_string().contains("precious.txt"), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_names_need_no_file() {
    use std::os::linux::net::SocketAddrExt;
    use std::os::unix::net::SocketAddr;
    for prefix in ["@", "\0"] {
        let name = format!("netutil-test-{}-{}", std::process::id(), prefix.len());
        let listener = bind_unix_socket(format!("{prefix}{name}"), 0o600, 16).unwrap();
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let _client = UnixStream::connect_addr(&addr).unwrap();
        // Nothing in the file system under either spelling.
        assert!(!std::path::Path::new(&format!("{prefix}{name}")).exists());
        assert!(!std::path::Path::new(&name).exists());
        drop(listener);
    }
}
