//! Stream write limits: awaited writes are the back-pressure and never
//! meet the limit; writes not awaited pile up only to the default limit.

use std::os::unix::net::UnixStream;

use futures::FutureExt;
use netutil::{DEFAULT_MAX_WRITE_BUFFER_SIZE, IOStream, StreamOptions};

use crate::util::run;

#[test]
fn a_write_larger_than_the_limit_into_an_empty_buffer_is_taken() {
    let received = run(|| async {
        let (a, b) = UnixStream::pair().unwrap();
        let a = StreamOptions::new()
            .max_write_buffer_size(1000)
            .build(a)
            .unwrap();
        let b = IOStream::new(b).unwrap();
        let data = vec![7u8; 1 << 20];
        let reader =
            ioloop::IOLoop::current().spawn(async move { b.read_bytes(1 << 20, false).await });
        // The kernel takes part of it; the rest waits in the buffer, far
        // over the limit, and the future completes once it is flushed.
        a.write(&data)
            .await
            .expect("an awaited write is never refused");
        assert!(!a.writing(), "flushed when the write completed");
        reader.await.unwrap().unwrap()
    });
    assert_eq!(received.len(), 1 << 20);
}

#[test]
fn the_default_limit_bounds_writes_not_awaited_for_a_peer_that_never_reads() {
    let accepted = run(|| async {
        let (a, _b) = UnixStream::pair().unwrap();
        let a = IOStream::new(a).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        let mut accepted = 0usize;
        // 64 MiB at most: far past the default limit and the kernel's
        // buffer, and short of the 100 MiB the limit used to be.
        for _ in 0..1024 {
            match a.write(&chunk).now_or_never() {
                Some(Err(err)) => {
                    assert!(err.to_string().contains("max_write_buffer_size"), "{err}");
                    return accepted;
                }
                _ => accepted += chunk.len(),
            }
        }
        panic!("{accepted} bytes taken for a peer that never reads");
    });
    // What the kernel holds plus at most the limit.
    let kernel = 8 * 1024 * 1024;
    assert!(
        accepted <= DEFAULT_MAX_WRITE_BUFFER_SIZE + kernel,
        "{accepted} bytes accepted"
    );
    assert!(accepted >= DEFAULT_MAX_WRITE_BUFFER_SIZE, "{accepted}");
}
