//! A connection's bytes on one of the core's own (non-blocking) sockets:
//! plain TCP, or TLS wrapping it. The carrier sees one `Stream` either way,
//! so writing and reading exist once; TLS is rustls, driven by hand (it does
//! no I/O of its own) over the plain socket.

use std::io::{self, ErrorKind, Read, Write};
use std::mem::MaybeUninit;
use std::sync::Arc;

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection};
use socket2::Socket;

use super::pool::Bytes;

/// What one read takes from a socket at most.
const READ_CHUNK: usize = 16 * 1024;
/// What one `receive` takes at most; the poll reports the rest.
const RECEIVE_MAX: usize = 1024 * 1024;

pub trait Stream {
    fn socket(&self) -> &Socket;
    /// Queues one whole request; it leaves as the socket takes it (`flush`).
    fn queue(&mut self, bytes: Bytes) -> io::Result<()>;
    /// Writes what the socket takes now.
    fn flush(&mut self) -> io::Result<()>;
    /// Whether bytes are still to be written.
    fn wants_write(&self) -> bool;
    /// Appends what has arrived (plaintext) to `into`; true when the peer
    /// closed. A read that does not fill its buffer is all there is for now:
    /// the poll (level-triggered) reports the rest, so no read is spent on EAGAIN.
    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<bool>;
}

/// Plain TCP.
pub struct Plain {
    socket: Socket,
    /// The request being written, and how much of it has left.
    out: Option<(Bytes, usize)>,
}

impl Plain {
    pub fn new(socket: Socket) -> Self {
        Plain { socket, out: None }
    }
}

impl Stream for Plain {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn queue(&mut self, bytes: Bytes) -> io::Result<()> {
        if self.out.is_some() {
            return Err(io::Error::other("a request is still being written"));
        }
        self.out = Some((bytes, 0));
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        while let Some((bytes, sent)) = &mut self.out {
            let Some(rest) = bytes.get(*sent..).filter(|rest| !rest.is_empty()) else {
                self.out = None;
                break;
            };
            match self.socket.send_with_flags(rest, libc::MSG_NOSIGNAL) {
                Ok(0) => return Err(io::Error::new(ErrorKind::WriteZero, "the connection closed")),
                Ok(n) => *sent = sent.saturating_add(n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn wants_write(&self) -> bool {
        self.out.is_some()
    }

    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<bool> {
        loop {
            into.reserve(READ_CHUNK);
            let spare: &mut [MaybeUninit<u8>] = into.spare_capacity_mut();
            let room = spare.len();
            match self.socket.recv(spare) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    let n = n.min(room);
                    // SAFETY: recv initialised the first n bytes of the spare capacity.
                    unsafe { into.set_len(into.len() + n) };
                    if n < room || into.len() >= RECEIVE_MAX {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// TLS over a plain socket.
pub struct Tls {
    session: ClientConnection,
    socket: Socket,
}

impl Tls {
    pub fn new(socket: Socket, config: Arc<ClientConfig>, host: &str) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("TLS server name {host}: {e}"))?;
        let mut session = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        // A request is queued whole (an item can be 400 KB) and leaves as
        // the socket takes it; rustls's default limit (64 KB) would cut it.
        session.set_buffer_limit(None);
        Ok(Tls { session, socket })
    }

    /// Moves the decrypted bytes to `into`; true when the peer closed the session.
    fn take_plaintext(&mut self, into: &mut Vec<u8>) -> io::Result<bool> {
        let mut scratch = [0u8; 4096];
        loop {
            match self.session.reader().read(&mut scratch) {
                Ok(0) => return Ok(true),
                Ok(n) => into.extend_from_slice(&scratch[..n.min(scratch.len())]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(true),
                Err(e) => return Err(e),
            }
        }
    }
}

impl Stream for Tls {
    fn socket(&self) -> &Socket {
        &self.socket
    }

    fn queue(&mut self, bytes: Bytes) -> io::Result<()> {
        self.session.writer().write_all(&bytes)
    }

    fn flush(&mut self) -> io::Result<()> {
        while self.session.wants_write() {
            match self.session.write_tls(&mut Io(&self.socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn wants_write(&self) -> bool {
        self.session.wants_write()
    }

    /// Reads the records that arrived; the plaintext is taken after every
    /// read, as rustls holds at most 16 KB of it and refuses to read on when full.
    fn receive(&mut self, into: &mut Vec<u8>) -> io::Result<bool> {
        let ended = loop {
            let socket_closed = match self.session.read_tls(&mut Io(&self.socket)) {
                Ok(0) => true,
                Ok(_) => {
                    self.session
                        .process_new_packets()
                        .map_err(|e| io::Error::other(format!("TLS: {e}")))?;
                    false
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break self.take_plaintext(into)?,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if self.take_plaintext(into)? || socket_closed {
                break true;
            }
            if into.len() >= RECEIVE_MAX {
                break false;
            }
        };
        // A handshake or key update may need an answer.
        self.flush()?;
        Ok(ended)
    }
}

/// A socket as rustls's reader and writer; writes never raise SIGPIPE.
struct Io<'a>(&'a Socket);

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.send_with_flags(buf, libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
