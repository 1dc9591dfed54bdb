//! Byte streams on the loop: [`IOStream`](crate::IOStream) with its
//! `futures::io` and hyper adapters (children of `iostream`, since they
//! work on its state), and the pooled buffers every stream reads into and
//! writes from.

pub(crate) mod buffer;
pub(crate) mod iostream;
