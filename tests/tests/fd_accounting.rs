//! Descriptor accounting: the loop's own fds are released by `close`
//! (rules L10, L11; Tornado's issue #2340 leaked them). A test binary of its
//! own, its tests serialised, because it counts the process's open fds.

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ioloop::{Events, IOLoop, MakeCurrent};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap()
}

#[test]
fn l10_close_frees_the_loops_own_fds_even_with_remotes_alive() {
    let _serial = serial();
    let before = open_fds();
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let remote = ioloop.remote();
    assert_eq!(
        open_fds(),
        before + 3,
        "an epoll fd, an eventfd and a timerfd"
    );
    ioloop.close(false).unwrap();
    assert_eq!(open_fds(), before, "all closed, though a Remote is alive");
    remote.add_callback(|| unreachable!("the loop is closed"));
    assert!(remote.is_closed());
}

#[test]
fn l11_close_all_fds_returns_the_fd_count_to_its_baseline() {
    let _serial = serial();
    let before = open_fds();
    let ioloop = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    for _ in 0..10 {
        let (a, b) = UnixStream::pair().unwrap();
        ioloop
            .add_handler_owned(a, Events::READ, |_, _| {})
            .unwrap();
        ioloop
            .add_handler_owned(b, Events::WRITE, |_, _| {})
            .unwrap();
    }
    assert_eq!(open_fds(), before + 23);
    ioloop.close(true).unwrap();
    assert_eq!(open_fds(), before);
}

#[test]
fn many_loops_created_and_closed_leak_nothing() {
    let _serial = serial();
    let before = open_fds();
    for _ in 0..200 {
        let ioloop = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .build()
            .unwrap();
        let (a, _b) = UnixStream::pair().unwrap();
        ioloop
            .add_handler(a.as_raw_fd(), Events::READ, |_, _| {})
            .unwrap();
        let l = ioloop.clone();
        ioloop.add_callback(move || l.stop());
        integration_tests::run_for_at_most(&ioloop, std::time::Duration::from_secs(10));
        ioloop.remove_handler(a.as_raw_fd());
        ioloop.close(true).unwrap();
    }
    assert_eq!(open_fds(), before);
}

#[test]
fn open_loops_counts_loops_neither_closed_nor_dropped() {
    let _serial = serial();
    let before = IOLoop::open_loops();
    let a = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    let b = IOLoop::builder()
        .make_current(MakeCurrent::Never)
        .build()
        .unwrap();
    assert_eq!(IOLoop::open_loops(), before + 2);
    a.close(false).unwrap();
    a.close(false).unwrap(); // closing twice counts once
    assert_eq!(IOLoop::open_loops(), before + 1);
    drop(a);
    assert_eq!(IOLoop::open_loops(), before + 1);
    drop(b);
    assert_eq!(IOLoop::open_loops(), before);
}
