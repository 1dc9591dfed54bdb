//! Idle hooks run only in iterations whose poll found nothing ready: never
//! in one that dispatched a handler.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::Duration;

use integration_tests::run_for_at_most;
use ioloop::{Events, IOLoop, MakeCurrent, PollerKind};

#[test]
fn idle_hooks_skip_the_iterations_that_dispatched_handlers() {
    for poller in [PollerKind::Native, PollerKind::Portable] {
        let ioloop = IOLoop::builder()
            .make_current(MakeCurrent::Never)
            .poller(poller)
            .build()
            .unwrap();
        let (mut a, b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        a.write_all(b"123").unwrap();

        // The handler reads one byte per call: ready on three iterations.
        let handled = Rc::new(RefCell::new(Vec::new()));
        let done = Rc::new(Cell::new(false));
        let (h, d, l) = (handled.clone(), done.clone(), ioloop.clone());
        ioloop
            .add_handler(b.as_raw_fd(), Events::READ, move |fd, _| {
                h.borrow_mut().push(l.iteration());
                (&b).read_exact(&mut [0]).unwrap();
                if h.borrow().len() == 3 {
                    l.remove_handler(fd);
                    d.set(true);
                }
            })
            .unwrap();
        // The idle hook keeps every poll from blocking; it ends the run on
        // its first call after the handler is gone.
        let idled = Rc::new(RefCell::new(Vec::new()));
        let (i, l) = (idled.clone(), ioloop.clone());
        ioloop.add_idle(move |hook| {
            i.borrow_mut().push(l.iteration());
            if done.get() {
                hook.stop();
                l.stop();
            }
        });
        run_for_at_most(&ioloop, Duration::from_secs(5));

        let (handled, idled) = (handled.take(), idled.take());
        assert_eq!(handled.len(), 3, "{poller} poller");
        assert!(
            idled.iter().all(|n| !handled.contains(n)),
            "{poller} poller: idle hooks ran in iterations {idled:?}, handlers in {handled:?}"
        );
        assert!(
            idled.last() > handled.last(),
            "{poller} poller: {idled:?}, {handled:?}"
        );
        ioloop.close(true).unwrap();
    }
}
