//! [`Session`]: the rustls connection inside a TLS [`IOStream`](crate::IOStream),
//! with the few operations the stream needs.
//!
//! The stream keeps doing its own system calls and readiness bookkeeping;
//! the session turns ciphertext read from the descriptor into plaintext
//! for the read buffer, and plaintext written into ciphertext for the
//! write buffer. Everything rustls wants to send (handshake messages,
//! session tickets, alerts) is moved into the write buffer as soon as it
//! is produced, so the stream's write buffer and counters hold and count
//! ciphertext.

use std::fs::File;
use std::io::{self, IoSlice, Read, Write};

use rustls::Connection;

use crate::stream::buffer::WriteBuffer;

/// What [`Session::read_plaintext`] found.
pub(crate) enum Plaintext {
    /// This many bytes were copied out.
    Data(usize),
    /// Nothing decrypted is waiting: read more ciphertext.
    Empty,
    /// The peer closed: a `close_notify`, or the end of the transport
    /// (in which case the cause says the close was not announced).
    Closed(Option<io::Error>),
}

/// A rustls connection, client or server side.
pub(crate) struct Session {
    conn: Connection,
    /// The peer's `close_notify` has arrived.
    peer_closed: bool,
}

impl Session {
    /// A session over `conn`. Its plaintext buffers are unlimited: the
    /// stream bounds what it accepts itself.
    pub(crate) fn new(mut conn: Connection) -> Session {
        conn.set_buffer_limit(None);
        Session {
            conn,
            peer_closed: false,
        }
    }

    /// True until the handshake completes.
    pub(crate) fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The protocol the peers agreed on through ALPN.
    pub(crate) fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The negotiated protocol version, as rustls names it.
    pub(crate) fn protocol_version(&self) -> Option<rustls::ProtocolVersion> {
        self.conn.protocol_version()
    }

    /// The server name the client asked for (server side, SNI).
    pub(crate) fn server_name(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(server) => server.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// True once the peer's `close_notify` has arrived (data decrypted
    /// before it may still wait to be read).
    pub(crate) fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Copies decrypted data into `out` (not empty).
    pub(crate) fn read_plaintext(&mut self, out: &mut [u8]) -> Plaintext {
        match self.conn.reader().read(out) {
            Ok(0) => Plaintext::Closed(None),
            Ok(n) => Plaintext::Data(n),
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => Plaintext::Empty,
            Err(err) if err.kind() == io::ErrorKind::UnexpectedEof => {
                Plaintext::Closed(Some(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "end of file: the peer closed the connection without a tls close_notify",
                )))
            }
            Err(err) => Plaintext::Closed(Some(err)),
        }
    }

    /// One `read` of ciphertext from `file`, processed at once: returns
    /// `(bytes read, bytes asked for)`, or the error that ends the stream
    /// (a system call's, or rustls' inside an `InvalidData` error, in which
    /// case an alert for the peer may wait in the output).
    pub(crate) fn read_tls(&mut self, file: &File) -> io::Result<(usize, usize)> {
        let mut source = Counted {
            file,
            asked: 0,
            got: 0,
        };
        loop {
            match self.conn.read_tls(&mut source) {
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
                Ok(_) => break,
            }
        }
        if source.got > 0 {
            let state = self
                .conn
                .process_new_packets()
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err))?;
            self.peer_closed = state.peer_has_closed();
        }
        Ok((source.got, source.asked))
    }

    /// Encrypts `bufs` into the session's output.
    pub(crate) fn write_plaintext(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<()> {
        let mut writer = self.conn.writer();
        for buf in bufs {
            writer.write_all(buf)?;
        }
        Ok(())
    }

    /// Queues a `close_notify` alert.
    pub(crate) fn send_close_notify(&mut self) {
        self.conn.send_close_notify();
    }

    /// Moves everything rustls has to send into `wbuf`; returns how many
    /// bytes.
    pub(crate) fn drain_output(&mut self, wbuf: &mut WriteBuffer) -> usize {
        let mut sink = Sink { wbuf, moved: 0 };
        while self.conn.wants_write() {
            // Writing into memory cannot fail.
            if self.conn.write_tls(&mut sink).is_err() {
                break;
            }
        }
        sink.moved
    }
}

/// A reader over the stream's descriptor that remembers its last call, so
/// the stream can tell a short read (the kernel had no more) as it does on
/// plain streams.
struct Counted<'a> {
    file: &'a File,
    asked: usize,
    got: usize,
}

impl Read for Counted<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.asked = buf.len();
        self.got = 0;
        let n = (&*self.file).read(buf)?;
        self.got = n;
        Ok(n)
    }
}

/// The write buffer as an `io::Write` for rustls' `write_tls`.
struct Sink<'a> {
    wbuf: &'a mut WriteBuffer,
    moved: usize,
}

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.wbuf.push(buf);
        self.moved += buf.len();
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        let mut n = 0;
        for buf in bufs {
            n += self.write(buf)?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
