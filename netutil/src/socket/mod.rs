//! Sockets below the stream: listening sockets ([`bind_sockets`](crate::bind_sockets),
//! [`bind_unix_socket`](crate::bind_unix_socket)), accepting connections on
//! the loop ([`add_accept_handler`](crate::add_accept_handler)), and
//! datagrams ([`UdpSocket`](crate::UdpSocket)).

pub(crate) mod accept;
pub(crate) mod bind;
pub(crate) mod udp;
