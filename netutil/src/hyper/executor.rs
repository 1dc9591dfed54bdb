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
    /// // What server_builder does: hyper's background tasks run on the loop.
    /// let builder = hyper_util::server::conn::auto::Builder::new(netutil::hyper::LoopExecutor::new(&ioloop));
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
