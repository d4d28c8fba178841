//! How a request's bytes reach DynamoDB and its reply comes back: one HTTP
//! client, in layers that only look down.
//!
//! - `lost`: why a request got no reply, and whether it may have been sent.
//! - `http`: HTTP/1.1 without I/O (a request's bytes; a reply reader with limits).
//! - `pool`: which request goes on which connection, and every time limit,
//!   without I/O: events in, actions out.
//! - a `Carrier` moves the bytes the pool asks it to: the core's own sockets
//!   watched by Node's libuv (`uv_carrier`, over `stream`, `tls` and `uv`),
//!   or Node's sockets (`node_carrier`, with `lib/sockets.js`), which hand
//!   their raw bytes to the same pool and reader. So every rule and limit
//!   holds on both, because it is written once.
//! - `Net`: a pool and its carrier, on a fresh clock; what its caller gets
//!   back are the deliveries, to end requests with.

pub mod http;
pub mod lost;
pub mod node_carrier;
pub mod pool;
#[cfg(unix)]
pub mod stream;
#[cfg(unix)]
pub mod tls;
#[cfg(unix)]
pub mod uv;
#[cfg(unix)]
pub mod uv_carrier;

use std::time::Instant;

pub use self::http::Reply;
pub use self::lost::{Lost, LostKind};
use self::pool::{Action, Ask, Bytes, ConnId, Pool, Settings};

/// A reply, or why there is none, for request `id`.
pub type Delivery = (u32, Result<Reply, Lost>);

/// What a carrier's I/O reports.
pub enum Io<'a> {
    /// The connection is up.
    Connected(ConnId),
    /// Bytes arrived; `sent_all`: every byte written to the connection has left.
    Data {
        conn: ConnId,
        bytes: &'a [u8],
        sent_all: bool,
    },
    /// The connection closed: by the peer (`why` None), or failed.
    Closed { conn: ConnId, why: Option<String> },
    /// The time the pool asked for has come.
    Timer,
    /// libuv: a socket of the core's own is readable or writable, or failed.
    Poll { conn: ConnId, status: i32, events: i32 },
    /// Work done off the loop (a name lookup) may have finished.
    Wake,
}

/// Moves bytes for the pool.
pub trait Carrier {
    /// Connects connection `conn` to the endpoint; it reports `Connected` or `Closed`.
    fn open(&mut self, conn: ConnId) -> Result<(), String>;
    /// Writes one whole request on `conn`.
    fn write(&mut self, conn: ConnId, bytes: Bytes) -> Result<(), String>;
    /// Closes `conn`; nothing more is reported of it.
    fn close(&mut self, conn: ConnId);
    /// Closes every connection it has open.
    fn close_all(&mut self);
    /// Reports `Timer` at `at` (ms on the clock), or never.
    fn arm(&mut self, at: Option<u64>, now: u64);
    /// Turns this carrier's own kind of I/O event (`Poll`, `Wake`) into the pool's events.
    fn on_io(&mut self, _io: Io<'_>, _pool: &mut Pool, _clock: &Clock) {}
    /// Takes in what has already arrived, so that no deadline is judged
    /// before a reply that is there has been read.
    fn drain(&mut self, _pool: &mut Pool, _clock: &Clock) {}
}

/// Milliseconds since the network started, read fresh each time (never the
/// loop's cached time: a stalled loop would make time stand still).
pub struct Clock(Instant);

impl Clock {
    pub fn now(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// A pool and the carrier that moves its bytes.
pub struct Net {
    pool: Pool,
    carrier: Box<dyn Carrier>,
    clock: Clock,
}

impl Net {
    pub fn new(settings: Settings, carrier: Box<dyn Carrier>) -> Self {
        Net {
            pool: Pool::new(settings),
            carrier,
            clock: Clock(Instant::now()),
        }
    }

    /// Sends request `id`; `timeout_ms` 0: no limit; `max_reply`: the
    /// largest reply body it may get.
    pub fn send(&mut self, id: u32, bytes: Vec<u8>, timeout_ms: u64, max_reply: u64) -> Vec<Delivery> {
        let now = self.clock.now();
        let ask = Ask {
            id,
            bytes: Bytes::new(bytes),
            timeout_ms,
            max_reply,
        };
        self.pool.send(ask, now);
        self.settle()
    }

    /// Hands waiting requests to the connections that are free, once the
    /// replies read in this turn have been judged.
    pub fn dispatch(&mut self) -> Vec<Delivery> {
        if !self.pool.has_waiting() {
            return Vec::new();
        }
        let now = self.clock.now();
        self.pool.dispatch(now);
        self.settle()
    }

    /// An event of the carrier's I/O.
    pub fn io(&mut self, io: Io<'_>) -> Vec<Delivery> {
        let now = self.clock.now();
        match io {
            Io::Connected(conn) => self.pool.connected(conn, now),
            Io::Data { conn, bytes, sent_all } => self.pool.received(conn, bytes, sent_all, false, now),
            Io::Closed { conn, why } => self.pool.closed(conn, why, now),
            Io::Timer => {
                self.carrier.drain(&mut self.pool, &self.clock);
                let now = self.clock.now();
                self.pool.timer(now);
            }
            other => self.carrier.on_io(other, &mut self.pool, &self.clock),
        }
        self.settle()
    }

    /// No idle connection is used again.
    pub fn drop_idle(&mut self) -> Vec<Delivery> {
        self.pool.drop_idle();
        self.settle()
    }

    /// No new connection is kept; requests given still finish.
    pub fn close(&mut self) -> Vec<Delivery> {
        self.pool.close();
        self.settle()
    }

    /// Whether requests wait for a connection.
    pub fn has_waiting(&self) -> bool {
        self.pool.has_waiting()
    }

    /// Lets go of every connection at once (the network is being dropped
    /// after a failure of its own): nothing of it stays open.
    pub fn abandon(&mut self) {
        self.carrier.close_all();
    }

    /// Nothing waits, nothing is in flight, no connection is open.
    pub fn is_empty(&self) -> bool {
        self.pool.is_empty()
    }

    /// Carries out what the pool asks until it asks nothing more; the deliveries.
    fn settle(&mut self) -> Vec<Delivery> {
        let mut delivered = Vec::new();
        loop {
            let actions = self.pool.take_actions();
            if actions.is_empty() {
                return delivered;
            }
            for action in actions {
                let now = self.clock.now();
                match action {
                    Action::Open(conn) => {
                        if let Err(why) = self.carrier.open(conn) {
                            self.pool.closed(conn, Some(why), now);
                        }
                    }
                    Action::Write(conn, bytes) => {
                        if let Err(why) = self.carrier.write(conn, bytes) {
                            self.carrier.close(conn);
                            self.pool.closed(conn, Some(why), now);
                        }
                    }
                    Action::Close(conn) => self.carrier.close(conn),
                    Action::Arm(at) => self.carrier.arm(at, now),
                    Action::Deliver(id, answer) => delivered.push((id, answer)),
                }
            }
        }
    }
}
