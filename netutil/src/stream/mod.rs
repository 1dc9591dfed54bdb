//! Byte streams on the loop: [`IOStream`](crate::IOStream) with its
//! `futures::io` and hyper adapters (children of `iostream`, since they
//! work on its state), the pooled buffers every stream reads into and
//! writes from, and [`StreamClosedError`](crate::StreamClosedError), which
//! says why a stream closed.

pub(crate) mod buffer;
pub(crate) mod closed;
pub(crate) mod iostream;
