//! Rules E1, E2 (and H10's logging): panics in callbacks are caught,
//! reported with where the callback was registered, and the loop goes on.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use ioloop::{CallbackKind, IOLoop};

use crate::util::TestLoop;
use crate::util::{self, Log};

#[test]
fn e1_a_panicking_callback_is_logged_and_the_following_callbacks_run() {
    util::capture_logs();
    // The default exception handler: this test reads its log.
    let ioloop = IOLoop::new().unwrap();
    let log = Log::default();
    ioloop.add_callback(|| panic!("callback exploded"));
    let line = line!() - 1;
    let (g, l) = (log.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        g.push("after");
        l.stop();
    });
    util::run(&ioloop);
    assert_eq!(log.entries(), ["after"]);
    let errors = util::logged(log::Level::Error);
    let report = errors
        .iter()
        .find(|e| e.contains("callback exploded"))
        .unwrap_or_else(|| panic!("no report in {errors:?}"));
    // Names what it was and where it was registered.
    assert!(
        report.contains("panic in callback registered at"),
        "{report}"
    );
    assert!(
        report.contains(&format!("exceptions.rs:{line}")),
        "{report}"
    );
}

#[test]
fn e1_panics_in_timeouts_are_reported_as_timeouts() {
    let ioloop = TestLoop::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    ioloop.set_exception_handler(move |p| {
        s.borrow_mut()
            .push((p.kind(), p.message().map(str::to_owned), p.site().line()))
    });
    ioloop.call_later(Duration::from_millis(1), || panic!("late"));
    let line = line!() - 1;
    let l = ioloop.clone();
    ioloop.call_later(Duration::from_millis(5), move || l.stop());
    util::run(&ioloop);
    assert_eq!(
        *seen.borrow(),
        vec![(CallbackKind::Timeout, Some("late".to_owned()), line)]
    );
}

#[test]
fn e2_the_exception_handler_is_replaceable_and_resettable() {
    util::capture_logs();
    let ioloop = TestLoop::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    ioloop.set_exception_handler(move |p| s.borrow_mut().push(p.to_string()));
    ioloop.add_callback(|| panic!("to the custom handler"));
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(seen.borrow().len(), 1);
    assert!(seen.borrow()[0].contains("to the custom handler"));
    assert!(
        !util::logged(log::Level::Error)
            .iter()
            .any(|e| e.contains("to the custom handler")),
        "a custom handler replaces the log"
    );
    ioloop.reset_exception_handler();
    ioloop.add_callback(|| panic!("to the default handler"));
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(seen.borrow().len(), 1);
    assert!(
        util::logged(log::Level::Error)
            .iter()
            .any(|e| e.contains("to the default handler"))
    );
}

#[test]
fn a_panicking_exception_handler_is_caught_too() {
    util::capture_logs();
    let ioloop = TestLoop::new();
    ioloop.set_exception_handler(|_| panic!("handler of handlers"));
    ioloop.add_callback(|| panic!("first"));
    let ran = Rc::new(RefCell::new(false));
    let (r, l) = (ran.clone(), ioloop.clone());
    ioloop.add_callback(move || {
        *r.borrow_mut() = true;
        l.stop();
    });
    util::run(&ioloop);
    assert!(*ran.borrow());
    assert!(
        util::logged(log::Level::Error)
            .iter()
            .any(|e| e.contains("exception handler panicked") && e.contains("first"))
    );
}

#[test]
fn a_non_string_panic_payload_is_reported() {
    let ioloop = TestLoop::new();
    let seen = Rc::new(RefCell::new(Vec::new()));
    let s = seen.clone();
    ioloop.set_exception_handler(move |p| {
        s.borrow_mut().push((
            p.message().is_none(),
            p.payload().downcast_ref::<u32>().copied(),
        ))
    });
    ioloop.add_callback(|| std::panic::panic_any(7u32));
    let l = ioloop.clone();
    ioloop.add_callback(move || l.stop());
    util::run(&ioloop);
    assert_eq!(*seen.borrow(), vec![(true, Some(7))]);
}
