//! The store's sockets: keep-alive HTTP/1.1 connections to DynamoDB, owned
//! by the core and watched by Node's own event loop (libuv's poll handles).
//! A session call's request goes from the core to the kernel in one write,
//! and its reply comes back in the poll callback: no Node stream, no extra
//! thread, no copy into JavaScript.
//!
//! The pool is plain state: `send`, `on_socket`, `on_timer` and `on_resolved`
//! return the replies (or losses) they produced, and the caller delivers
//! them inside an engine turn. At most `MAX_SOCKETS` connections, one
//! request in flight on each; the rest wait in order. One timer enforces
//! every time limit: the attempt's, the connection's, and the idle one.

use std::collections::VecDeque;
use std::ffi::{c_int, c_void};
use std::io::{ErrorKind, Read};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::http::{self, Parsed};
use crate::tls::Tls;
use crate::transport::{Lost, Outgoing, Reply};
use crate::uv::{self, Poll, Timer};

/// An idle connection is closed after this long (DynamoDB's own limit is longer).
const IDLE_MS: u64 = 30_000;
/// Resolved addresses are used for this long before the name is looked up again.
const ADDRESSES_MS: u64 = 60_000;
pub const MAX_SOCKETS: usize = 128;
/// What one read takes from a socket at most.
const READ_CHUNK: usize = 16 * 1024;

/// A reply or a loss for request `id`, to be delivered in a turn.
pub type Delivery = (u32, Result<Reply, Lost>);

/// Where the pool connects.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub connect_timeout_ms: u64,
    /// HTTPS: the trust roots and server name for TLS.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// What the pool's libuv callbacks call back into: the owner, which runs a
/// turn around the pool's `on_*` method for the event.
pub trait Events {
    fn socket(&self, conn: usize, status: c_int, events: c_int);
    fn timer(&self);
    fn resolved(&self, addresses: Result<Vec<SocketAddr>, String>);
}

/// What a libuv handle's `data` points to.
struct Link {
    events: std::rc::Weak<dyn Events>,
    conn: usize,
}

struct Request {
    id: u32,
    bytes: Vec<u8>,
    /// Loop time (ms) when the attempt gives up; None: no limit.
    deadline: Option<u64>,
}

/// Fields drop in order: the poll handle stops before its socket closes
/// (libuv must not watch a closed descriptor), and its link goes last.
struct Conn {
    poll: Poll,
    socket: Socket,
    _link: Box<Link>,
    /// Loop time the connection must be up by, while connecting.
    connecting_until: Option<u64>,
    tls: Option<Tls>,
    request: Option<Request>,
    /// Bytes of the request not yet taken by the socket.
    unsent: Vec<u8>,
    received: Vec<u8>,
    /// Where reads land (allocated once per connection, not zeroed per read).
    scratch: Box<[u8]>,
    idle_since: u64,
    watching: c_int,
}

pub struct Pool {
    event_loop: *mut uv::uv_loop_t,
    target: Target,
    events: std::rc::Weak<dyn Events>,
    conns: Vec<Option<Conn>>,
    idle: Vec<usize>,
    waiting: VecDeque<Request>,
    addresses: Vec<SocketAddr>,
    addresses_until: u64,
    next_address: usize,
    resolving: bool,
    timer: Timer,
    /// What the timer's `data` points to.
    _timer_link: Box<Link>,
    timer_at: Option<u64>,
    closed: bool,
}

impl Pool {
    pub fn new(
        event_loop: *mut uv::uv_loop_t,
        target: Target,
        events: std::rc::Weak<dyn Events>,
    ) -> Result<Self, String> {
        let mut timer_link = Box::new(Link {
            events: events.clone(),
            conn: usize::MAX,
        });
        let timer = Timer::new(event_loop, &mut *timer_link as *mut Link as *mut c_void)?;
        timer.keep_alive(false);
        let addresses = match target.host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, target.port)],
            Err(_) => Vec::new(),
        };
        Ok(Pool {
            event_loop,
            addresses_until: if addresses.is_empty() { 0 } else { u64::MAX },
            target,
            events,
            conns: Vec::new(),
            idle: Vec::new(),
            waiting: VecDeque::new(),
            addresses,
            next_address: 0,
            resolving: false,
            timer,
            _timer_link: timer_link,
            timer_at: None,
            closed: false,
        })
    }

    fn now(&self) -> u64 {
        uv::now(self.event_loop)
    }

    /// Sends a request on an idle connection, a new one, or after the ones before it.
    pub fn send(&mut self, outgoing: Outgoing) -> Vec<Delivery> {
        let deadline = (outgoing.timeout_ms > 0.0).then(|| self.now() + outgoing.timeout_ms as u64);
        let request = Request {
            id: outgoing.id,
            bytes: outgoing.bytes,
            deadline,
        };
        if self.closed {
            return vec![(request.id, Err(Lost::Network("the store was closed".into())))];
        }
        self.waiting.push_back(request);
        let delivered = self.dispatch();
        self.arm_timer();
        delivered
    }

    /// Hands waiting requests to idle connections, opening new ones while allowed.
    fn dispatch(&mut self) -> Vec<Delivery> {
        let mut delivered = Vec::new();
        while !self.waiting.is_empty() {
            if let Some(conn) = self.idle.pop() {
                if let Some(request) = self.waiting.pop_front() {
                    delivered.extend(self.start(conn, request));
                }
                continue;
            }
            if self.open_count() >= MAX_SOCKETS {
                break;
            }
            if self.addresses.is_empty() || self.now() >= self.addresses_until {
                self.resolve(&mut delivered);
                break;
            }
            let Some(request) = self.waiting.pop_front() else { break };
            match self.open() {
                Ok(conn) => delivered.extend(self.start(conn, request)),
                Err(why) => delivered.push((request.id, Err(Lost::Network(why)))),
            }
        }
        delivered
    }

    fn open_count(&self) -> usize {
        self.conns.iter().filter(|conn| conn.is_some()).count()
    }

    fn resolve(&mut self, delivered: &mut Vec<Delivery>) {
        if self.resolving {
            return;
        }
        let link = Box::into_raw(Box::new(Link {
            events: self.events.clone(),
            conn: usize::MAX,
        }));
        match uv::resolve(
            self.event_loop,
            &self.target.host,
            self.target.port,
            link as *mut c_void,
            on_resolved,
        ) {
            Ok(()) => self.resolving = true,
            Err(why) => {
                drop(unsafe { Box::from_raw(link) });
                let why = format!("could not look up {}: {why}", self.target.host);
                delivered.extend(self.waiting.drain(..).map(|r| (r.id, Err(Lost::Network(why.clone())))));
            }
        }
    }

    pub fn on_resolved(&mut self, addresses: Result<Vec<SocketAddr>, String>) -> Vec<Delivery> {
        self.resolving = false;
        match addresses {
            Ok(addresses) if !addresses.is_empty() => {
                self.addresses = addresses;
                self.addresses_until = self.now() + ADDRESSES_MS;
                let delivered = self.dispatch();
                self.arm_timer();
                delivered
            }
            other => {
                let why = match other {
                    Err(why) => why,
                    Ok(_) => "no address".into(),
                };
                let why = format!("could not look up {}: {why}", self.target.host);
                self.waiting
                    .drain(..)
                    .map(|r| (r.id, Err(Lost::Network(why.clone()))))
                    .collect()
            }
        }
    }

    /// A new connection, connecting.
    fn open(&mut self) -> Result<usize, String> {
        let address = self.addresses[self.next_address % self.addresses.len()];
        self.next_address = self.next_address.wrapping_add(1);
        let socket =
            Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP)).map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let _ = socket.set_tcp_nodelay(true);
        let connected = match socket.connect(&SockAddr::from(address)) {
            Ok(()) => true,
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == ErrorKind::WouldBlock => false,
            Err(e) => {
                self.forget_addresses();
                return Err(format!("connect {} to {address}: {e}", e.kind()));
            }
        };
        let at = self.conns.iter().position(Option::is_none).unwrap_or(self.conns.len());
        let mut link = Box::new(Link {
            events: self.events.clone(),
            conn: at,
        });
        let poll = Poll::new(self.event_loop, fd(&socket), &mut *link as *mut Link as *mut c_void)?;
        let tls = match &self.target.tls {
            Some(config) => Some(Tls::new(config.clone(), &self.target.host)?),
            None => None,
        };
        let now = self.now();
        let conn = Conn {
            poll,
            socket,
            _link: link,
            connecting_until: (!connected).then_some(now + self.target.connect_timeout_ms),
            tls,
            request: None,
            unsent: Vec::new(),
            received: Vec::new(),
            scratch: vec![0; READ_CHUNK].into_boxed_slice(),
            idle_since: now,
            watching: 0,
        };
        if at == self.conns.len() {
            self.conns.push(Some(conn));
        } else {
            self.conns[at] = Some(conn);
        }
        Ok(at)
    }

    /// What a socket error says; one while connecting also makes the name be looked up again.
    fn socket_error(&mut self, connecting: bool, err: std::io::Error) -> String {
        if !connecting {
            return err.to_string();
        }
        self.forget_addresses();
        format!("connect to {}:{}: {err}", self.target.host, self.target.port)
    }

    fn forget_addresses(&mut self) {
        if self.target.host.parse::<IpAddr>().is_err() {
            self.addresses_until = 0;
        }
    }

    /// Puts `request` on connection `at` and writes what the socket takes
    /// now; a failure ends the connection and hands the request its loss.
    fn start(&mut self, at: usize, request: Request) -> Option<Delivery> {
        let Some(conn) = self.conns.get_mut(at).and_then(Option::as_mut) else {
            return Some((request.id, Err(Lost::Network("the connection went away".into()))));
        };
        conn.received.clear();
        let mut request = request;
        // An idle connection has sent everything before: the bytes move, uncopied.
        let bytes = std::mem::take(&mut request.bytes);
        let queued = match &mut conn.tls {
            Some(tls) => tls.queue(&bytes),
            None => {
                conn.unsent = bytes;
                Ok(())
            }
        };
        conn.request = Some(request);
        conn.poll.keep_alive(true);
        let written = match conn.connecting_until {
            Some(_) => queued,
            None => queued.and_then(|()| conn.flush()),
        };
        match written.and_then(|()| self.watch(at)) {
            Ok(()) => None,
            Err(why) => self.fail(at, Lost::Network(why)),
        }
    }

    /// Polls for what the connection waits on: writable while connecting or
    /// with bytes unsent, readable always (an idle one notices its close).
    fn watch(&mut self, at: usize) -> Result<(), String> {
        let Some(conn) = self.conns[at].as_mut() else {
            return Ok(());
        };
        let mut events = uv::READABLE;
        if conn.connecting_until.is_some() || conn.wants_write() {
            events |= uv::WRITABLE;
        }
        if events != conn.watching {
            conn.poll.start(events, on_poll)?;
            conn.watching = events;
        }
        Ok(())
    }

    /// A libuv poll event on connection `at`.
    pub fn on_socket(&mut self, at: usize, status: c_int, events: c_int) -> Vec<Delivery> {
        let mut delivered = Vec::new();
        if let Some(done) = self.socket_event(at, status, events) {
            delivered.push(done);
        }
        delivered.extend(self.dispatch());
        self.arm_timer();
        delivered
    }

    fn socket_event(&mut self, at: usize, status: c_int, events: c_int) -> Option<Delivery> {
        let conn = self.conns.get_mut(at)?.as_mut()?;
        if status < 0 {
            // libuv reports a socket error as EBADF: the socket says which it was.
            let (connecting, error) = (conn.connecting_until.is_some(), conn.socket.take_error());
            let why = match error {
                Ok(Some(err)) => self.socket_error(connecting, err),
                _ => uv::error_text(status),
            };
            return self.fail(at, Lost::Network(why));
        }
        if conn.connecting_until.is_some() && events & (uv::WRITABLE | uv::READABLE) != 0 {
            if let Some(err) = conn.socket.take_error().ok().flatten() {
                let why = self.socket_error(true, err);
                return self.fail(at, Lost::Network(why));
            }
            conn.connecting_until = None;
        }
        if events & uv::WRITABLE != 0 || conn.wants_write() {
            if let Err(why) = conn.flush() {
                return self.fail(at, Lost::Network(why));
            }
        }
        if events & uv::READABLE != 0 {
            let ended = match conn.receive() {
                Ok(ended) => ended,
                Err(why) => return self.fail(at, Lost::Network(why)),
            };
            if conn.request.is_none() {
                // Nothing was asked: a server that talks unasked (or closes) is dropped.
                if ended || !conn.received.is_empty() {
                    self.drop_conn(at);
                }
                return None;
            }
            match http::parse(&conn.received, ended) {
                Ok(Some(parsed)) => return self.finish(at, parsed),
                Ok(None) if ended => {
                    return self.fail(
                        at,
                        Lost::Network("the connection closed before the reply was complete".into()),
                    )
                }
                Ok(None) => {}
                Err(why) => return self.fail(at, Lost::Network(format!("DynamoDB's reply could not be read: {why}"))),
            }
        }
        if let Err(why) = self.watch(at) {
            return self.fail(at, Lost::Network(why));
        }
        None
    }

    fn finish(&mut self, at: usize, parsed: Parsed) -> Option<Delivery> {
        let now = self.now();
        let conn = self.conns[at].as_mut()?;
        let request = conn.request.take()?;
        conn.received.clear();
        if parsed.close {
            self.drop_conn(at);
        } else {
            conn.idle_since = now;
            conn.poll.keep_alive(false);
            let _ = self.watch(at);
            self.idle.push(at);
        }
        Some((request.id, Ok(parsed.reply)))
    }

    /// Ends connection `at`; its request, if any, gets `lost`.
    fn fail(&mut self, at: usize, lost: Lost) -> Option<Delivery> {
        let conn = self.conns.get_mut(at)?.take()?;
        self.idle.retain(|&idle| idle != at);
        conn.request.map(|request| (request.id, Err(lost)))
    }

    fn drop_conn(&mut self, at: usize) {
        if let Some(Some(conn)) = self.conns.get_mut(at).map(Option::take) {
            drop(conn);
        }
        self.idle.retain(|&idle| idle != at);
    }

    /// Every time limit that has run out: attempts, connects, idle connections.
    pub fn on_timer(&mut self) -> Vec<Delivery> {
        self.timer_at = None;
        let now = self.now();
        let mut delivered = Vec::new();
        let expired = |deadline: Option<u64>| deadline.is_some_and(|at| at <= now);
        let (late, waiting): (Vec<Request>, Vec<Request>) = self.waiting.drain(..).partition(|r| expired(r.deadline));
        self.waiting = waiting.into();
        delivered.extend(late.into_iter().map(|r| (r.id, Err(Lost::Timeout(String::new())))));
        for at in 0..self.conns.len() {
            let Some(conn) = &self.conns[at] else { continue };
            if conn.request.as_ref().is_some_and(|r| expired(r.deadline)) {
                delivered.extend(self.fail(at, Lost::Timeout(String::new())));
            } else if expired(conn.connecting_until) {
                let why = format!(
                    "connecting to {}:{} timed out after {} ms",
                    self.target.host, self.target.port, self.target.connect_timeout_ms
                );
                delivered.extend(self.fail(at, Lost::Timeout(why)));
            } else if conn.request.is_none() && now >= conn.idle_since + IDLE_MS {
                self.drop_conn(at);
            }
        }
        delivered.extend(self.dispatch());
        self.arm_timer();
        delivered
    }

    /// Arms the timer for the next limit; it keeps Node alive only while requests wait.
    fn arm_timer(&mut self) {
        let mut next: Option<u64> = None;
        let mut busy = !self.waiting.is_empty();
        let mut earliest = |at: Option<u64>| {
            if let Some(at) = at {
                next = Some(next.map_or(at, |n| n.min(at)));
            }
        };
        for request in &self.waiting {
            earliest(request.deadline);
        }
        for conn in self.conns.iter().flatten() {
            earliest(conn.request.as_ref().and_then(|r| r.deadline));
            earliest(conn.connecting_until);
            if conn.request.is_none() {
                earliest(Some(conn.idle_since + IDLE_MS));
            } else {
                busy = true;
            }
        }
        let Some(at) = next else {
            if self.timer_at.take().is_some() {
                self.timer.stop();
            }
            return;
        };
        self.timer.keep_alive(busy);
        if self.timer_at != Some(at) {
            self.timer_at = Some(at);
            self.timer.start(at.saturating_sub(self.now()), on_timer);
        }
    }

    /// Closes idle connections now; busy ones end with their reply.
    pub fn close(&mut self) -> Vec<Delivery> {
        self.closed = true;
        for at in std::mem::take(&mut self.idle) {
            self.drop_conn(at);
        }
        let delivered = self
            .waiting
            .drain(..)
            .map(|r| (r.id, Err(Lost::Network("the store was closed".into()))))
            .collect();
        self.arm_timer();
        delivered
    }
}

impl Conn {
    fn wants_write(&self) -> bool {
        !self.unsent.is_empty() || self.tls.as_ref().is_some_and(Tls::wants_write)
    }

    /// Writes what the socket takes now.
    fn flush(&mut self) -> Result<(), String> {
        if let Some(tls) = &mut self.tls {
            return tls.write_to(&self.socket);
        }
        while !self.unsent.is_empty() {
            match self.socket.send_with_flags(&self.unsent, libc::MSG_NOSIGNAL) {
                Ok(0) => return Err("the connection closed".into()),
                Ok(n) => {
                    self.unsent.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    }

    /// Reads what has arrived into `received`; true when the peer closed. A
    /// read that does not fill the buffer is all there is for now: the poll
    /// (level-triggered) calls again for more, so no read is spent on EAGAIN.
    fn receive(&mut self) -> Result<bool, String> {
        if let Some(tls) = &mut self.tls {
            let ended = tls.read_from(&self.socket, &mut self.scratch, &mut self.received)?;
            tls.write_to(&self.socket)?;
            return Ok(ended);
        }
        loop {
            match (&self.socket).read(&mut self.scratch) {
                Ok(0) => return Ok(true),
                Ok(n) => {
                    self.received.extend_from_slice(&self.scratch[..n]);
                    if n < self.scratch.len() {
                        return Ok(false);
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

fn fd(socket: &Socket) -> c_int {
    use std::os::fd::AsRawFd;
    socket.as_raw_fd()
}

unsafe fn link<'a>(handle: *mut c_void) -> Option<&'a Link> {
    uv::data_of::<Link>(handle).as_ref()
}

unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    if let Some(link) = link(handle) {
        if let Some(owner) = link.events.upgrade() {
            owner.socket(link.conn, status, events);
        }
    }
}

unsafe extern "C" fn on_timer(handle: *mut c_void) {
    if let Some(owner) = link(handle).and_then(|link| link.events.upgrade()) {
        owner.timer();
    }
}

unsafe extern "C" fn on_resolved(req: *mut c_void, status: c_int, info: *mut libc::addrinfo) {
    let link = Box::from_raw(uv::data_of::<Link>(req));
    let addresses = uv::finish_resolve(req, info);
    let result = if status < 0 {
        Err(uv::error_text(status))
    } else {
        Ok(addresses)
    };
    if let Some(owner) = link.events.upgrade() {
        owner.resolved(result);
    }
}
