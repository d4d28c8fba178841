//! HTTPS on the store's own sockets: rustls, driven by hand over a
//! non-blocking socket (rustls does no I/O of its own), trusting the
//! certificate authorities Node trusts. The shim hands over Node's list
//! (its bundled roots, `NODE_EXTRA_CA_CERTS`, the system's where Node was
//! told to use them) plus `AWS_CA_BUNDLE`, so Node's CA settings apply here
//! as they would on a Node socket.

use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};
use socket2::Socket;

/// The client configuration for every connection of a store: these roots, HTTP/1.1.
pub fn client_config(pems: &[String]) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for pem in pems {
        for cert in CertificateDer::pem_slice_iter(pem.as_bytes()).flatten() {
            // A certificate rustls cannot use is skipped, as Node skips it.
            let _ = roots.add(cert);
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// One connection's TLS session.
pub struct Tls(ClientConnection);

impl Tls {
    pub fn new(config: Arc<ClientConfig>, host: &str) -> Result<Self, String> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| format!("TLS server name {host}: {e}"))?;
        let mut connection = ClientConnection::new(config, name).map_err(|e| format!("TLS: {e}"))?;
        // A request is queued whole (an item can be 400 KB) and leaves as
        // the socket takes it; rustls's default limit (64 KB) would cut it.
        connection.set_buffer_limit(None);
        Ok(Tls(connection))
    }

    /// Plaintext to send; it goes out (encrypted) once the handshake is done.
    pub fn queue(&mut self, plaintext: &[u8]) -> Result<(), String> {
        self.0.writer().write_all(plaintext).map_err(|e| format!("TLS: {e}"))
    }

    pub fn wants_write(&self) -> bool {
        self.0.wants_write()
    }

    /// Writes the TLS records the socket takes now.
    pub fn write_to(&mut self, socket: &Socket) -> Result<(), String> {
        while self.0.wants_write() {
            match self.0.write_tls(&mut Io(socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    /// Reads the records that arrived and appends their plaintext to `out`;
    /// true when the peer closed. The plaintext is taken after every read:
    /// rustls holds at most 16 KB of it and refuses to read on when full.
    pub fn read_from(&mut self, socket: &Socket, scratch: &mut [u8], out: &mut Vec<u8>) -> Result<bool, String> {
        loop {
            let socket_closed = match self.0.read_tls(&mut Io(socket)) {
                Ok(0) => true,
                Ok(_) => {
                    self.0.process_new_packets().map_err(|e| format!("TLS: {e}"))?;
                    false
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return self.take_plaintext(scratch, out),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.to_string()),
            };
            if self.take_plaintext(scratch, out)? || socket_closed {
                return Ok(true);
            }
        }
    }

    /// Moves the decrypted bytes to `out`; true when the peer closed the session.
    fn take_plaintext(&mut self, scratch: &mut [u8], out: &mut Vec<u8>) -> Result<bool, String> {
        loop {
            match self.0.reader().read(scratch) {
                Ok(0) => return Ok(true),
                Ok(n) => out.extend_from_slice(&scratch[..n]),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::UnexpectedEof => return Ok(true),
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

/// A socket as rustls's reader and writer; writes never raise SIGPIPE.
struct Io<'a>(&'a Socket);

impl Read for Io<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for Io<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.send_with_flags(buf, libc::MSG_NOSIGNAL)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
