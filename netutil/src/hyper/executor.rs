//! [`LoopExecutor`]: hyper's [`Executor`] on the loop.

use std::future::Future;

use hyper::rt::Executor;
use ioloop::IOLoop;

/// Spawns hyper's background tasks on a loop with
/// [`IOLoop::spawn`]: the futures need not be `Send`, and their panics are
/// caught and reported as every task's are.
///
/// # Examples
///
/// ```
/// use hyper::rt::Executor;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let executor = netutil::hyper::LoopExecutor::new(&ioloop);
/// let flag = std::rc::Rc::new(std::cell::Cell::new(false));
/// let f = flag.clone();
/// executor.execute(async move { f.set(true) });
/// ioloop.run_sync(|| ioloop::yield_now(), None)?;
/// assert!(flag.get());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct LoopExecutor {
    ioloop: IOLoop,
}

impl LoopExecutor {
    /// An executor spawning on `ioloop`.
    pub fn new(ioloop: &IOLoop) -> LoopExecutor {
        LoopExecutor {
            ioloop: ioloop.clone(),
        }
    }
}

impl<F> Executor<F> for LoopExecutor
where
    F: Future + 'static,
    F::Output: 'static,
{
    fn execute(&self, future: F) {
        self.ioloop.spawn(future).detach();
    }
}
