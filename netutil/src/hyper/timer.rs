//! [`LoopTimer`]: hyper's [`Timer`] on the loop's timeouts.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use hyper::rt::{Sleep, Timer};
use ioloop::{IOLoop, Remote, TimeoutHandle};

/// hyper's [`Timer`] on a loop: each sleep is one of the loop's timeouts
/// ([`IOLoop::add_timeout`]), removed when the sleep is dropped early.
///
/// hyper requires timers and sleeps to be `Send + Sync`, so this holds the
/// loop's [`Remote`]: a sleep first polled on the loop's thread registers
/// its timeout directly, one polled elsewhere through the remote queue.
/// A deadline fires up to a millisecond late (the loop's poll has
/// millisecond granularity), never early.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use netutil::hyper::LoopTimer;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// let timer = LoopTimer::new(&ioloop);
/// let start = ioloop.time();
/// ioloop.run_sync(|| timer.sleep(Duration::from_millis(20)), Some(Duration::from_secs(5)))?;
/// assert!(ioloop.time() - start >= 0.020);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct LoopTimer {
    remote: Remote,
}

impl LoopTimer {
    /// A timer on `ioloop`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::convert::Infallible;
    /// use http_body_util::Full;
    /// use hyper::body::{Bytes, Incoming};
    /// use netutil::{IOStream, TCPServer};
    ///
    /// async fn hello(_: hyper::Request<Incoming>) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    ///     Ok(hyper::Response::new(Full::new(Bytes::from("Hello, World!"))))
    /// }
    ///
    /// let ioloop = ioloop::IOLoop::new()?;
    /// let mut builder = netutil::hyper::server_builder(&ioloop);
    /// // Header read timeouts on the loop's timers.
    /// builder.http1().timer(netutil::hyper::LoopTimer::new(&ioloop)).header_read_timeout(std::time::Duration::from_secs(5));
    /// let server = TCPServer::new(move |stream: IOStream, _| {
    ///     let builder = builder.clone();
    ///     async move {
    ///         let _ = builder.serve_connection(stream, hyper::service::service_fn(hello)).await;
    ///     }
    /// });
    /// let port = server.listen(0, Some("127.0.0.1"))?[0].port();
    /// let url = format!("http://127.0.0.1:{port}/");
    /// let response = ioloop.run_sync(|| netutil::hyper::fetch(&url), Some(std::time::Duration::from_secs(10)))??;
    /// assert_eq!(response.body(), b"Hello, World!");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(ioloop: &IOLoop) -> LoopTimer {
        LoopTimer {
            remote: ioloop.remote(),
        }
    }
}

impl Timer for LoopTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn Sleep>> {
        Box::pin(LoopSleep {
            deadline,
            remote: self.remote.clone(),
            shared: Arc::new(Mutex::new(SleepState::default())),
            timeout: None,
            registered: false,
        })
    }
}

/// What a [`LoopSleep`] shares with the loop-thread timeout that ends it.
#[derive(Default)]
struct SleepState {
    fired: bool,
    waker: Option<Waker>,
}

/// A sleep of [`LoopTimer`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use hyper::rt::Timer;
/// use netutil::hyper::LoopTimer;
///
/// let ioloop = ioloop::IOLoop::new()?;
/// // What hyper's timer gives: a LoopSleep, boxed.
/// let sleep = LoopTimer::new(&ioloop).sleep(Duration::from_millis(5));
/// ioloop.run_sync(|| sleep, Some(Duration::from_secs(5)))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LoopSleep {
    deadline: Instant,
    remote: Remote,
    shared: Arc<Mutex<SleepState>>,
    /// The loop's timeout, when it was registered from the loop's thread
    /// (so that dropping the sleep there can remove it).
    timeout: Option<TimeoutHandle>,
    /// INVARIANT: true once a timeout for `deadline` was added or queued.
    registered: bool,
}

impl std::fmt::Debug for LoopSleep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopSleep")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

/// The loop running on this thread, if it is the one `remote` belongs to.
fn local_loop(remote: &Remote) -> Option<IOLoop> {
    IOLoop::try_current().filter(|l| l.remote().same_loop(remote))
}

fn fire(shared: &Mutex<SleepState>) {
    let waker = {
        let mut shared = shared.lock().unwrap_or_else(|e| e.into_inner());
        shared.fired = true;
        shared.waker.take()
    };
    if let Some(waker) = waker {
        waker.wake();
    }
}

impl Future for LoopSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut shared = self.shared.lock().unwrap_or_else(|e| e.into_inner());
            if shared.fired {
                return Poll::Ready(());
            }
            match &shared.waker {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => shared.waker = Some(cx.waker().clone()),
            }
        }
        if !self.registered {
            self.registered = true;
            let (deadline, shared) = (self.deadline, Arc::clone(&self.shared));
            match local_loop(&self.remote) {
                Some(ioloop) => {
                    let handle = ioloop.add_timeout(deadline, move || fire(&shared));
                    self.timeout = Some(handle);
                }
                None => self.remote.add_callback(move || {
                    IOLoop::current().add_timeout(deadline, move || fire(&shared));
                }),
            }
        }
        Poll::Pending
    }
}

impl Sleep for LoopSleep {}

impl Drop for LoopSleep {
    fn drop(&mut self) {
        if let Some(handle) = self.timeout.take()
            && let Some(ioloop) = local_loop(&self.remote)
        {
            ioloop.remove_timeout(handle);
        }
    }
}
