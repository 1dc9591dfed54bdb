//! HTTP/1.1 server (work in progress).

pub(crate) mod parse;
pub(crate) mod wire;
