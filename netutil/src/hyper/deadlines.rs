//! The timeouts of a [`Client`](super::Client)'s fetches, all served by
//! one loop timeout at a time.
//!
//! Almost every fetch finishes long before its timeout, so a loop timeout
//! added and removed per fetch is work for nothing. Instead each fetch
//! writes its deadline into a table, and one unreferenced loop timeout is
//! armed for the earliest deadline; when it fires it expires the fetches
//! that are due, wakes them, and arms itself again for the next deadline
//! if there is one. A fetch that finishes only removes its row. (This is
//! libev's advice for timeouts that are mostly reset before they fire.)
//!
//! The table belongs to one loop: the first one a fetch runs on, or the
//! current one once that loop is gone. A fetch on any other loop falls back
//! to a timeout of its own ([`ioloop::timeout`]).

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use ioloop::{IOLoop, TimeoutHandle, WeakIOLoop};
use slab::Slab;

/// The deadlines of the fetches in flight on one loop.
#[derive(Default)]
pub(super) struct Deadlines {
    state: RefCell<State>,
}

#[derive(Default)]
struct State {
    /// The loop the table serves.
    ioloop: Option<WeakIOLoop>,
    fetches: Slab<Row>,
    /// The loop timeout armed, and the loop time it fires at.
    armed: Option<(TimeoutHandle, f64)>,
}

/// One fetch in flight.
struct Row {
    /// Loop time ([`IOLoop::time`]) past which the fetch has timed out.
    deadline: f64,
    /// Set by the loop timeout once the deadline has passed.
    expired: bool,
    /// The fetch's task, woken when it expires.
    waker: Option<Waker>,
}

impl Deadlines {
    /// A deadline `limit` from now, for the futures of one fetch
    /// ([`Deadline::run`]).
    pub(super) fn start(self: &Rc<Self>, limit: Duration) -> Deadline<'_> {
        let ioloop = IOLoop::current();
        match self.insert(&ioloop, limit) {
            Some(key) => Deadline::Row(RowGuard {
                deadlines: self,
                key,
            }),
            None => Deadline::Own(ioloop.sleep(limit)),
        }
    }

    /// A row for a fetch on `ioloop` timing out `limit` from now, and the
    /// loop timeout armed for it if it is the earliest; `None` if the table
    /// serves another loop that is still alive.
    fn insert(self: &Rc<Self>, ioloop: &IOLoop, limit: Duration) -> Option<usize> {
        let mut state = self.state.borrow_mut();
        let serves = match state.ioloop.as_ref().and_then(WeakIOLoop::upgrade) {
            Some(ours) => ours.ptr_eq(ioloop),
            None => {
                // First use, or the loop it served is gone with its timeout.
                state.ioloop = Some(ioloop.downgrade());
                state.armed = None;
                for (_, row) in &mut state.fetches {
                    row.expired = true;
                }
                true
            }
        };
        if !serves {
            return None;
        }
        let deadline = ioloop.time() + limit.as_secs_f64();
        let key = state.fetches.insert(Row {
            deadline,
            expired: false,
            waker: None,
        });
        if state.armed.is_none_or(|(_, at)| at > deadline) {
            if let Some((handle, _)) = state.armed.take() {
                ioloop.remove_timeout(handle);
            }
            state.armed = Some((arm(self, ioloop, deadline), deadline));
        }
        Some(key)
    }

    /// The loop timeout fired: expires what is due, arms for the next.
    fn fire(self: &Rc<Self>, ioloop: &IOLoop) {
        let mut wake = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            state.armed = None;
            let now = ioloop.time();
            let mut next: Option<f64> = None;
            for (_, row) in &mut state.fetches {
                if row.expired {
                    continue;
                }
                if row.deadline <= now {
                    row.expired = true;
                    wake.extend(row.waker.take());
                } else {
                    next = Some(next.map_or(row.deadline, |n| n.min(row.deadline)));
                }
            }
            if let Some(at) = next {
                state.armed = Some((arm(self, ioloop, at), at));
            }
        }
        // No borrow held while the wakers run.
        wake.into_iter().for_each(Waker::wake);
    }

    /// Removes the loop timeout, if the loop is still there.
    fn disarm(&self) {
        let mut state = self.state.borrow_mut();
        if let (Some((handle, _)), Some(ioloop)) = (
            state.armed.take(),
            state.ioloop.as_ref().and_then(WeakIOLoop::upgrade),
        ) {
            ioloop.remove_timeout(handle);
        }
    }
}

impl Drop for Deadlines {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// An unreferenced loop timeout at loop time `at` that fires `deadlines`:
/// it never keeps a loop running by itself.
fn arm(deadlines: &Rc<Deadlines>, ioloop: &IOLoop, at: f64) -> TimeoutHandle {
    let weak: Weak<Deadlines> = Rc::downgrade(deadlines);
    let on = ioloop.downgrade();
    let handle = ioloop.call_at(at, move || {
        if let (Some(deadlines), Some(ioloop)) = (weak.upgrade(), on.upgrade()) {
            deadlines.fire(&ioloop);
        }
    });
    ioloop.set_timeout_ref(handle, false);
    handle
}

/// What times a fetch out: one deadline for all the futures it runs (the
/// request, then each redirect's).
pub(super) enum Deadline<'a> {
    /// Its row in the client's table.
    Row(RowGuard<'a>),
    /// A timeout of its own, on a loop the table does not serve.
    Own(ioloop::Sleep),
}

impl<'a> Deadline<'a> {
    /// `future` under this deadline: it resolves to `Err(())` once the
    /// deadline has passed.
    pub(super) fn run<F: Future>(&mut self, future: F) -> Timed<'_, 'a, F> {
        Timed {
            deadline: self,
            future,
        }
    }
}

/// Removes a fetch's row when the fetch ends, however it ends.
pub(super) struct RowGuard<'a> {
    deadlines: &'a Rc<Deadlines>,
    key: usize,
}

impl Drop for RowGuard<'_> {
    fn drop(&mut self) {
        self.deadlines.state.borrow_mut().fetches.remove(self.key);
    }
}

pin_project_lite::pin_project! {
    /// `future` under a [`Deadline`], which the caller keeps: the next
    /// future it runs has what time is left.
    pub(super) struct Timed<'d, 'a, F> {
        deadline: &'d mut Deadline<'a>,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Timed<'_, '_, F> {
    type Output = Result<F::Output, ()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Deadline::Row(RowGuard { deadlines, key }) = &**this.deadline
            && deadlines.state.borrow().fetches[*key].expired
        {
            return Poll::Ready(Err(()));
        }
        if let Poll::Ready(output) = this.future.poll(cx) {
            return Poll::Ready(Ok(output));
        }
        let (deadlines, key) = match &mut **this.deadline {
            Deadline::Row(RowGuard { deadlines, key }) => (deadlines, key),
            Deadline::Own(sleep) => return Pin::new(sleep).poll(cx).map(|()| Err(())),
        };
        let mut state = deadlines.state.borrow_mut();
        let row = &mut state.fetches[*key];
        match &row.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => row.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
