//! TCP servers and clients over [`IOStream`](crate::IOStream):
//! [`TCPServer`](crate::TCPServer) accepts connections and runs a task for
//! each, [`TCPClient`](crate::TCPClient) connects by host name.

pub(crate) mod client;
pub(crate) mod server;
