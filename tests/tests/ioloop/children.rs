//! Child exit watchers (`add_child_handler`), on pidfds.

#![allow(
    clippy::zombie_processes,
    reason = "the loop under test reaps the children it watches"
)]

use std::cell::{Cell, RefCell};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::rc::Rc;

use crate::util::{self, TestLoop};

#[test]
fn a_child_exit_status_arrives() {
    let ioloop = TestLoop::new();
    let child = Command::new("/bin/sh")
        .args(["-c", "exit 3"])
        .spawn()
        .unwrap();
    let status: Rc<Cell<Option<ExitStatus>>> = Rc::default();
    let s = status.clone();
    ioloop
        .add_child_handler(child.id(), move |st| s.set(Some(st)))
        .unwrap();
    util::run_until_idle(&ioloop); // the watcher keeps run going until the exit
    let status = status.get().expect("exit status");
    assert_eq!(status.code(), Some(3));
    assert!(!status.success());
    assert!(
        !ioloop.remove_child_handler(child.id()),
        "gone once reported"
    );
}

#[test]
fn a_child_killed_by_a_signal_reports_the_signal() {
    let ioloop = TestLoop::new();
    let mut child = Command::new("/bin/sleep").arg("60").spawn().unwrap();
    let status: Rc<Cell<Option<ExitStatus>>> = Rc::default();
    let s = status.clone();
    ioloop
        .add_child_handler(child.id(), move |st| s.set(Some(st)))
        .unwrap();
    child.kill().unwrap();
    util::run_until_idle(&ioloop);
    assert_eq!(status.get().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn a_child_that_already_exited_is_reported() {
    let ioloop = TestLoop::new();
    let child = Command::new("/bin/true").spawn().unwrap();
    // Wait for it to exit without reaping it: poll for the zombie state.
    let stat = format!("/proc/{}/stat", child.id());
    let started = std::time::Instant::now();
    while !std::fs::read_to_string(&stat).unwrap().contains(") Z ") {
        assert!(started.elapsed().as_secs() < 10, "child never exited");
        std::thread::yield_now();
    }
    let codes = Rc::new(RefCell::new(Vec::new()));
    let c = codes.clone();
    ioloop
        .add_child_handler(child.id(), move |st| c.borrow_mut().push(st.code()))
        .unwrap();
    util::run_until_idle(&ioloop);
    assert_eq!(*codes.borrow(), [Some(0)]);
}

#[test]
fn watching_a_process_that_is_not_a_child_is_an_error_naming_it() {
    let ioloop = TestLoop::new();
    let err = ioloop.add_child_handler(1, |_| {}).unwrap_err();
    assert!(err.to_string().contains("pid 1"), "{err}");
    let me = std::process::id();
    let err = ioloop.add_child_handler(me, |_| {}).unwrap_err();
    assert!(err.to_string().contains(&format!("pid {me}")), "{err}");
    assert!(!ioloop.is_alive());
}

#[test]
fn a_pid_is_watched_once_and_can_be_unwatched() {
    let ioloop = TestLoop::new();
    let mut child = Command::new("/bin/sleep").arg("60").spawn().unwrap();
    let pid = child.id();
    ioloop
        .add_child_handler(pid, |_| unreachable!("removed"))
        .unwrap();
    let err = ioloop.add_child_handler(pid, |_| {}).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
    assert!(ioloop.is_alive());
    assert!(ioloop.set_child_ref(pid, false));
    assert!(
        !ioloop.is_alive(),
        "an unreferenced watcher does not keep run going"
    );
    util::run_until_idle(&ioloop);
    assert!(ioloop.remove_child_handler(pid));
    assert!(!ioloop.remove_child_handler(pid));
    assert!(!ioloop.set_child_ref(pid, true));
    child.kill().unwrap();
    child.wait().unwrap(); // not watched any more: reap it here
}

#[test]
fn the_exit_callback_runs_as_a_callback_and_may_panic() {
    let ioloop = TestLoop::new();
    let kinds = Rc::new(RefCell::new(Vec::new()));
    let k = kinds.clone();
    ioloop.set_exception_handler(move |p| k.borrow_mut().push((p.kind(), p.site().line())));
    let pid = Command::new("/bin/true").spawn().unwrap().id();
    let added = ioloop.add_child_handler(pid, |_| panic!("exit"));
    let line = line!() - 1;
    added.unwrap();
    util::run_until_idle(&ioloop);
    assert_eq!(*kinds.borrow(), [(ioloop::CallbackKind::Callback, line)]);
}
