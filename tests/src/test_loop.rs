//! A loop for tests whose callback panics fail the test.
//!
//! The loop runs every callback under `catch_unwind` and reports a panic to
//! its exception handler, so an `assert!` inside a callback fails nothing by
//! itself. A [`TestLoop`] installs a handler that records each panic (its
//! message and where the callback was registered) and stops the loop, and
//! fails the test when it is dropped with panics recorded. Tests that make
//! a callback panic on purpose opt out by installing their own handler with
//! [`IOLoop::set_exception_handler`].

use std::cell::RefCell;
use std::fmt;
use std::ops::Deref;
use std::rc::Rc;
use std::thread;

use ioloop::IOLoop;

/// An [`IOLoop`] (through `Deref`) whose callback panics fail the test.
///
/// Every panic the loop catches in a callback, timeout, handler, hook or
/// task is recorded and stops the loop, so a failed assertion inside a
/// callback ends the run at once instead of waiting for the test's time
/// limit. The recorded panics fail the test when the `TestLoop` is dropped
/// (or earlier, at [`check`](TestLoop::check)); if the test is already
/// failing, they are printed to stderr instead.
///
/// # Examples
///
/// ```should_panic
/// use integration_tests::TestLoop;
///
/// let ioloop = TestLoop::new();
/// ioloop.add_callback(|| assert_eq!(1 + 1, 3, "caught by the loop"));
/// let l = ioloop.clone(); // an `IOLoop`
/// ioloop.add_callback(move || l.stop());
/// ioloop.start().unwrap();
/// // Dropping `ioloop` here fails the test with the assertion's message.
/// ```
pub struct TestLoop {
    ioloop: IOLoop,
    panics: Rc<RefCell<Vec<String>>>,
}

impl TestLoop {
    /// A fresh loop (as [`IOLoop::new`]) with the recording handler.
    ///
    /// # Panics
    ///
    /// If the loop cannot be created.
    pub fn new() -> TestLoop {
        TestLoop::watch(IOLoop::new().expect("a new loop"))
    }

    /// Installs the recording handler on `ioloop` (built some other way:
    /// with [`IOLoop::builder`], or [`IOLoop::current`]).
    pub fn watch(ioloop: IOLoop) -> TestLoop {
        let panics = Rc::new(RefCell::new(Vec::new()));
        let (p, weak) = (panics.clone(), ioloop.downgrade());
        ioloop.set_exception_handler(move |panic| {
            p.borrow_mut().push(panic.to_string());
            if let Some(ioloop) = weak.upgrade() {
                ioloop.stop();
            }
        });
        TestLoop { ioloop, panics }
    }

    /// Fails the test now if a callback panicked, with every recorded panic
    /// in the message (they are then forgotten).
    ///
    /// # Panics
    ///
    /// If the loop caught a panic since it was created or last checked.
    pub fn check(&self) {
        let panics = self.panics.take();
        if !panics.is_empty() {
            panic!("{}", Report(&panics));
        }
    }
}

impl Default for TestLoop {
    fn default() -> TestLoop {
        TestLoop::new()
    }
}

impl Deref for TestLoop {
    type Target = IOLoop;

    fn deref(&self) -> &IOLoop {
        &self.ioloop
    }
}

impl fmt::Debug for TestLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestLoop")
            .field("ioloop", &self.ioloop)
            .field("panics", &self.panics.borrow())
            .finish()
    }
}

impl Drop for TestLoop {
    fn drop(&mut self) {
        let panics = self.panics.take();
        if panics.is_empty() {
            return;
        }
        if thread::panicking() {
            eprintln!("{}", Report(&panics));
        } else {
            panic!("{}", Report(&panics));
        }
    }
}

/// The message listing the recorded panics.
struct Report<'a>(&'a [String]);

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the loop caught {} panic(s):", self.0.len())?;
        for panic in self.0 {
            write!(f, "\n  {panic}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::panic::{self, AssertUnwindSafe};

    use super::TestLoop;

    fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
        payload
            .downcast::<String>()
            .map(|s| *s)
            .unwrap_or_else(|p| p.downcast_ref::<&str>().unwrap_or(&"").to_string())
    }

    #[test]
    fn a_callback_panic_stops_the_loop_and_fails_the_check_with_its_site() {
        let ioloop = TestLoop::new();
        ioloop.add_callback(|| panic!("wrong value"));
        let line = line!() - 1;
        let l = ioloop.clone();
        // Would run on the next iteration if the panic did not stop the loop.
        ioloop.add_callback(move || l.add_callback(|| unreachable!("not stopped")));
        ioloop.start().unwrap();
        let failure = panic::catch_unwind(AssertUnwindSafe(|| ioloop.check())).unwrap_err();
        let message = panic_message(failure);
        assert!(message.contains("the loop caught 1 panic"), "{message}");
        assert!(message.contains("wrong value"), "{message}");
        assert!(
            message.contains(&format!("test_loop.rs:{line}")),
            "{message}"
        );
        ioloop.check(); // forgotten once reported
    }

    #[test]
    fn dropping_a_loop_that_caught_a_panic_fails_the_test() {
        let ioloop = TestLoop::new();
        ioloop.add_timeout(std::time::Duration::ZERO, || panic!("in a timeout"));
        let result = panic::catch_unwind(AssertUnwindSafe(move || {
            ioloop.run().unwrap();
            drop(ioloop);
        }));
        let message = panic_message(result.unwrap_err());
        assert!(message.contains("in a timeout"), "{message}");
    }

    #[test]
    fn a_loop_without_panics_passes() {
        let ioloop = TestLoop::new();
        let l = ioloop.clone();
        ioloop.add_callback(move || l.stop());
        ioloop.start().unwrap();
        ioloop.check();
    }
}
