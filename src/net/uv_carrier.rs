//! The libuv carrier: sockets the core owns, watched by Node's own event
//! loop (libuv poll handles), so a request goes from the core to the kernel
//! in one write and its reply comes back in the poll callback: no Node
//! stream, no extra thread, no copy into JavaScript. Names are looked up on
//! a thread of their own, never with a libuv request, so nothing of the
//! lookup is left on the loop when a worker ends.

use std::collections::HashMap;
use std::ffi::{c_int, c_void};
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::pool::{Bytes, ConnId, Pool};
use super::stream::{Plain, Stream, Tls};
use super::uv::{self, Handles, Poll, Timer};
use super::{Carrier, Clock, Io};

/// Resolved addresses are used for this long before the name is looked up again.
const ADDRESSES_FOR: Duration = Duration::from_secs(60);
/// A `receive` that grew the inbox past this gives the memory back.
const KEEP_INBOX: usize = 256 * 1024;

/// Where the carrier connects.
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// HTTPS: the trust roots for TLS (the server name is `host`).
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

/// What the carrier's libuv callbacks call: the owner, which runs a turn
/// around the event. Its `io` should not unwind; if it does, the callback stops it.
pub trait Events {
    fn io(&self, io: Io<'_>);
}

/// What a libuv handle's `data` points to.
struct Link {
    events: Weak<dyn Events>,
    conn: ConnId,
}

/// Fields drop in order: the poll handle stops before its socket closes
/// (libuv must not watch a closed descriptor), and its link goes last.
struct Conn {
    poll: Poll,
    stream: Box<dyn Stream>,
    _link: Box<Link>,
    connecting: bool,
    watching: c_int,
    /// How many of the name's addresses this connection has tried.
    tries: usize,
}

/// A name's addresses, and the lookup that refreshes them.
struct Names {
    addresses: Vec<SocketAddr>,
    /// None: an IP address, good for ever.
    until: Option<Instant>,
    next: usize,
    /// Connections waiting for an address.
    waiting: Vec<ConnId>,
    lookup: Option<Lookup>,
    /// Asks for a turn on the loop's thread (then `Io::Wake` comes).
    wake: Arc<dyn Fn() + Send + Sync>,
}

type LookupResult = Result<Vec<SocketAddr>, String>;

struct Lookup {
    done: Arc<AtomicBool>,
    result: Arc<Mutex<Option<LookupResult>>>,
}

pub struct UvCarrier {
    event_loop: *mut uv::uv_loop_t,
    target: Target,
    events: Weak<dyn Events>,
    conns: HashMap<ConnId, Conn>,
    timer: Option<Timer>,
    _timer_link: Box<Link>,
    names: Names,
    /// Where replies are read into (shared: reads are done one at a time).
    inbox: Vec<u8>,
    handles: Rc<Handles>,
}

impl UvCarrier {
    /// `handles` counts this carrier's handles (see `uv::Handles`).
    pub fn new(
        event_loop: *mut uv::uv_loop_t,
        target: Target,
        events: Weak<dyn Events>,
        handles: Rc<Handles>,
        wake: Arc<dyn Fn() + Send + Sync>,
    ) -> Result<Self, String> {
        let mut timer_link = Box::new(Link {
            events: events.clone(),
            conn: usize::MAX,
        });
        let timer = Timer::new(event_loop, &mut *timer_link as *mut Link as *mut c_void, &handles)?;
        let ip = target.host.parse::<IpAddr>().ok();
        Ok(UvCarrier {
            event_loop,
            names: Names {
                addresses: ip.map(|ip| SocketAddr::new(ip, target.port)).into_iter().collect(),
                until: None,
                next: 0,
                waiting: Vec::new(),
                lookup: None,
                wake,
            },
            target,
            events,
            conns: HashMap::new(),
            timer: Some(timer),
            _timer_link: timer_link,
            inbox: Vec::new(),
            handles,
        })
    }

    fn is_ip(&self) -> bool {
        self.target.host.parse::<IpAddr>().is_ok()
    }

    /// Whether the addresses may be used now.
    fn fresh(&self) -> bool {
        !self.names.addresses.is_empty()
            && (self.is_ip() || self.names.until.is_some_and(|until| Instant::now() < until))
    }

    /// A connect failed: the name is looked up again before the next.
    fn forget_addresses(&mut self) {
        if !self.is_ip() {
            self.names.until = None;
        }
    }

    /// Starts a lookup on a thread of its own, unless one is under way.
    fn look_up(&mut self) -> Result<(), String> {
        if self.names.lookup.is_some() {
            return Ok(());
        }
        let lookup = Lookup {
            done: Arc::new(AtomicBool::new(false)),
            result: Arc::new(Mutex::new(None)),
        };
        let (done, result, wake) = (lookup.done.clone(), lookup.result.clone(), self.names.wake.clone());
        let (host, port) = (self.target.host.clone(), self.target.port);
        std::thread::Builder::new()
            .name("connect-dynamodb-rs-lookup".into())
            .spawn(move || {
                let found = (host.as_str(), port)
                    .to_socket_addrs()
                    .map(Iterator::collect)
                    .map_err(|e| e.to_string());
                if let Ok(mut slot) = result.lock() {
                    *slot = Some(found);
                }
                done.store(true, Ordering::Release);
                wake();
            })
            .map_err(|e| format!("could not look up {}: {e}", self.target.host))?;
        self.names.lookup = Some(lookup);
        Ok(())
    }

    /// A lookup that finished: its connections connect, or fail with its reason.
    fn looked_up(&mut self, pool: &mut Pool, clock: &Clock) {
        let finished = self
            .names
            .lookup
            .as_ref()
            .is_some_and(|lookup| lookup.done.load(Ordering::Acquire));
        if !finished {
            return;
        }
        let Some(lookup) = self.names.lookup.take() else { return };
        let found = lookup.result.lock().ok().and_then(|mut slot| slot.take());
        let found = match found {
            Some(Ok(addresses)) if !addresses.is_empty() => Ok(addresses),
            Some(Ok(_)) => Err("no address".to_string()),
            Some(Err(why)) => Err(why),
            None => Err("the lookup went away".to_string()),
        };
        let waiting = std::mem::take(&mut self.names.waiting);
        match found {
            Ok(addresses) => {
                self.names.addresses = addresses;
                self.names.until = Some(Instant::now() + ADDRESSES_FOR);
                for conn in waiting {
                    if let Err(why) = self.connect(conn, 0) {
                        pool.closed(conn, Some(why), clock.now());
                    }
                }
            }
            Err(why) => {
                let why = format!("could not look up {}: {why}", self.target.host);
                for conn in waiting {
                    pool.closed(conn, Some(why.clone()), clock.now());
                }
            }
        }
    }

    /// Starts connecting `conn` to the next address; `tried`: how many of the
    /// name's addresses it has tried already. A connect refused at once
    /// moves on to the next address.
    fn connect(&mut self, conn: ConnId, tried: usize) -> Result<(), String> {
        let count = self.names.addresses.len();
        let mut tried = tried;
        loop {
            let address = *self
                .names
                .addresses
                .get(self.names.next % count.max(1))
                .ok_or("no address to connect to")?;
            self.names.next = self.names.next.wrapping_add(1);
            tried += 1;
            match self.connect_to(conn, address, tried) {
                Ok(()) => return Ok(()),
                Err(why) if tried >= count => {
                    self.forget_addresses();
                    return Err(why);
                }
                Err(_) => {}
            }
        }
    }

    fn connect_to(&mut self, conn: ConnId, address: SocketAddr, tries: usize) -> Result<(), String> {
        let socket =
            Socket::new(Domain::for_address(address), Type::STREAM, Some(Protocol::TCP)).map_err(|e| e.to_string())?;
        socket.set_nonblocking(true).map_err(|e| e.to_string())?;
        let _ = socket.set_tcp_nodelay(true);
        match socket.connect(&SockAddr::from(address)) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) || e.kind() == ErrorKind::WouldBlock => {}
            Err(e) => return Err(format!("connect {} to {address}: {e}", e.kind())),
        }
        let stream: Box<dyn Stream> = match &self.target.tls {
            Some(config) => Box::new(Tls::new(socket, config.clone(), &self.target.host)?),
            None => Box::new(Plain::new(socket)),
        };
        let mut link = Box::new(Link {
            events: self.events.clone(),
            conn,
        });
        let poll = Poll::new(
            self.event_loop,
            fd(stream.socket()),
            &mut *link as *mut Link as *mut c_void,
            &self.handles,
        )?;
        self.conns.insert(
            conn,
            Conn {
                poll,
                stream,
                _link: link,
                connecting: true,
                watching: 0,
                tries,
            },
        );
        self.watch(conn)
    }

    /// Polls for what the connection waits on: writable while connecting or
    /// with bytes unsent, readable always (an idle one notices its close).
    fn watch(&mut self, conn: ConnId) -> Result<(), String> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Ok(());
        };
        let mut events = uv::READABLE;
        if c.connecting || c.stream.wants_write() {
            events |= uv::WRITABLE;
        }
        if events != c.watching {
            c.poll.start(events, on_poll)?;
            c.watching = events;
        }
        Ok(())
    }

    /// Reads what arrived on `conn` and hands it to the pool; the connection
    /// is let go of here when it ended or failed (the pool is told).
    fn take_in(&mut self, conn: ConnId, pool: &mut Pool, clock: &Clock) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        self.inbox.clear();
        let received = c.stream.receive(&mut self.inbox);
        let sent_all = !c.stream.wants_write();
        let ended = matches!(received, Ok(true));
        if ended || received.is_err() {
            self.close(conn);
        }
        if !self.inbox.is_empty() {
            pool.received(conn, &self.inbox, sent_all, ended, clock.now());
        } else if ended {
            pool.closed(conn, None, clock.now());
        }
        if self.inbox.capacity() > KEEP_INBOX {
            self.inbox = Vec::new();
        }
        if let Err(e) = received {
            pool.closed(conn, Some(e.to_string()), clock.now());
        }
    }

    /// A connect that failed: the next address, or the pool is told.
    fn connect_failed(&mut self, conn: ConnId, tries: usize, why: String, pool: &mut Pool, clock: &Clock) {
        self.close(conn);
        if tries < self.names.addresses.len() && self.connect(conn, tries).is_ok() {
            return;
        }
        self.forget_addresses();
        let why = format!("connect to {}:{}: {why}", self.target.host, self.target.port);
        pool.closed(conn, Some(why), clock.now());
    }

    /// A poll event on `conn`.
    fn polled(&mut self, conn: ConnId, status: i32, events: i32, pool: &mut Pool, clock: &Clock) {
        let Some(c) = self.conns.get_mut(&conn) else { return };
        let (connecting, tries) = (c.connecting, c.tries);
        if connecting {
            let error = if status < 0 {
                // libuv reports a socket error as EBADF: the socket says which it was.
                Some(match c.stream.socket().take_error() {
                    Ok(Some(err)) => err.to_string(),
                    _ => uv::error_text(status),
                })
            } else if events & (uv::WRITABLE | uv::READABLE) != 0 {
                c.stream.socket().take_error().ok().flatten().map(|e| e.to_string())
            } else {
                return;
            };
            if let Some(why) = error {
                return self.connect_failed(conn, tries, why, pool, clock);
            }
            c.connecting = false;
            if let Err(why) = self.watch(conn) {
                self.close(conn);
                pool.closed(conn, Some(why), clock.now());
                return;
            }
            pool.connected(conn, clock.now());
            return;
        }
        if status < 0 {
            // A reply already in may sit before the error (a reset after an
            // answer): read it first, then the error ends the connection.
            let why = match c.stream.socket().take_error() {
                Ok(Some(err)) => err.to_string(),
                _ => uv::error_text(status),
            };
            self.take_in(conn, pool, clock);
            if self.conns.contains_key(&conn) {
                self.close(conn);
                pool.closed(conn, Some(why), clock.now());
            }
            return;
        }
        if events & uv::WRITABLE != 0 || c.stream.wants_write() {
            if let Err(e) = c.stream.flush() {
                // What the server said before it stopped reading is still read.
                self.take_in(conn, pool, clock);
                if self.conns.contains_key(&conn) {
                    self.close(conn);
                    pool.closed(conn, Some(e.to_string()), clock.now());
                }
                return;
            }
        }
        if events & uv::READABLE != 0 {
            self.take_in(conn, pool, clock);
        }
        if let Err(why) = self.watch(conn) {
            self.close(conn);
            pool.closed(conn, Some(why), clock.now());
        }
    }
}

impl Carrier for UvCarrier {
    fn open(&mut self, conn: ConnId) -> Result<(), String> {
        if self.fresh() {
            return self.connect(conn, 0);
        }
        self.names.waiting.push(conn);
        self.look_up()
    }

    fn write(&mut self, conn: ConnId, bytes: Bytes) -> Result<(), String> {
        let Some(c) = self.conns.get_mut(&conn) else {
            return Err("the connection went away".into());
        };
        c.stream.queue(bytes).map_err(|e| e.to_string())?;
        c.stream.flush().map_err(|e| e.to_string())?;
        self.watch(conn)
    }

    fn close(&mut self, conn: ConnId) {
        self.conns.remove(&conn);
        self.names.waiting.retain(|&waiting| waiting != conn);
    }

    fn close_all(&mut self) {
        self.conns.clear();
        self.names.waiting.clear();
    }

    fn arm(&mut self, at: Option<u64>, now: u64) {
        let Some(timer) = &self.timer else { return };
        match at {
            Some(at) => timer.start(at.saturating_sub(now), on_timer),
            None => timer.stop(),
        }
    }

    fn on_io(&mut self, io: Io<'_>, pool: &mut Pool, clock: &Clock) {
        match io {
            Io::Poll { conn, status, events } => self.polled(conn, status, events, pool, clock),
            Io::Wake => self.looked_up(pool, clock),
            _ => {}
        }
    }

    /// Reads every connection that waits for a reply: after a stall, the
    /// timer runs before the loop polls, and replies may already be in.
    fn drain(&mut self, pool: &mut Pool, clock: &Clock) {
        let open: Vec<ConnId> = self
            .conns
            .iter()
            .filter(|(_, c)| !c.connecting)
            .map(|(id, _)| *id)
            .collect();
        for conn in open {
            self.take_in(conn, pool, clock);
        }
    }
}

impl Drop for UvCarrier {
    fn drop(&mut self) {
        self.conns.clear();
        self.timer.take();
        self.handles.release();
    }
}

fn fd(socket: &Socket) -> c_int {
    use std::os::fd::AsRawFd;
    socket.as_raw_fd()
}

unsafe fn link<'a>(handle: *mut c_void) -> Option<&'a Link> {
    uv::data_of::<Link>(handle).as_ref()
}

// libuv calls these: a panic must stop here, never unwind into libuv (that aborts Node).
// The owner fails the calls a panic leaves behind (host.rs); here it is only contained.

unsafe extern "C" fn on_poll(handle: *mut c_void, status: c_int, events: c_int) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Some((owner, conn)) = link(handle).and_then(|link| Some((link.events.upgrade()?, link.conn))) else {
            return;
        };
        owner.io(Io::Poll { conn, status, events });
    }));
}

unsafe extern "C" fn on_timer(handle: *mut c_void) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        if let Some(owner) = link(handle).and_then(|link| link.events.upgrade()) {
            owner.io(Io::Timer);
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An owner whose every event panics.
    struct Panicking;
    impl Events for Panicking {
        fn io(&self, _io: Io<'_>) {
            panic!("an owner that fails");
        }
    }

    #[test]
    fn a_panic_in_the_owner_stops_at_the_libuv_callback() {
        let owner: Rc<dyn Events> = Rc::new(Panicking);
        let link = Link {
            events: Rc::downgrade(&owner),
            conn: 7,
        };
        // A handle as libuv hands it over: its first field is `data`, here the link.
        let mut handle: *const Link = &link;
        let handle = &mut handle as *mut *const Link as *mut c_void;
        // Without the guard the panic unwinds out of an `extern "C"` fn: the test process aborts.
        unsafe {
            on_poll(handle, 0, 1);
            on_timer(handle);
        }
    }
}
