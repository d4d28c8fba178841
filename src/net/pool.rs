//! The pool: which request goes on which connection, and when time runs out,
//! without I/O. Events go in (`send`, `connected`, `received`, `closed`,
//! `timer`, `dispatch`, `close`), each with the time it happened; actions
//! come out (`Open`, `Write`, `Close`, `Deliver`, `Arm`) for a carrier to
//! carry out. So every rule below holds whichever carrier moves the bytes,
//! and is tested here on a clock the tests turn by hand.
//!
//! The rules:
//! - Every request is delivered exactly once: a reply, or why there is none.
//! - At most `max_conns` connections; one request on each at a time; the
//!   rest wait in order. A new connection is opened for the request at the
//!   head of the queue and carries it once connected. Connection ids are
//!   never reused, so a late event about a closed connection finds nothing.
//! - A reply ends its request only if it came on that request's connection
//!   while that request was on it, and no larger than that request may get.
//!   A connection is used again only when it is clean: its request fully
//!   sent, exactly one reply read, no byte left over, and the server not
//!   closing. Anything else closes it. A clean connection waits idle until
//!   the caller `dispatch`es, after it has judged the replies just read: a
//!   reply that turns out to be for something else (`drop_idle`) closes
//!   the connection before it carries anything more.
//! - A reused connection that turns out closed before any byte of the reply
//!   came back carries its request again on a new connection, once, without
//!   that counting as a failed attempt: the server closed it while idle.
//!   The reply it then gets is marked `resent`: the first may have landed.
//! - Deadlines are judged on the time given with each event (a fresh
//!   clock), and the carrier takes in what has arrived before the timer is
//!   reported, so a stalled event loop never times out a reply that came.
//!   A timer that comes late (the loop was stalled: a long synchronous
//!   stretch of the app's) does not count the stall against requests the
//!   loop could not serve: one not yet written starts its time again, and
//!   one written since the timer was due is timed from its write; once
//!   per request, so that an overloaded loop still ends every request.

use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use super::http::{Reply, ReplyReader};
use super::lost::Lost;

pub type ConnId = usize;

/// A request's bytes, shared by the pool (which may send them again) and
/// the carrier writing them.
pub type Bytes = Rc<Vec<u8>>;

/// What the pool asks of its carrier, and what it hands back to its callers.
#[derive(Debug, PartialEq)]
pub enum Action {
    /// Connect a new connection to the endpoint.
    Open(ConnId),
    /// Write these bytes (one whole request) on the connection.
    Write(ConnId, Bytes),
    /// Close the connection; nothing it receives any more is read.
    Close(ConnId),
    /// The answer to request `id`.
    Deliver(u32, Result<Reply, Lost>),
    /// Call `timer` at this time (ms on the pool's clock), or not at all.
    Arm(Option<u64>),
}

#[derive(Clone, Debug)]
pub struct Settings {
    pub max_conns: usize,
    pub idle_ms: u64,
    pub connect_ms: u64,
    /// `host:port`, for messages.
    pub label: String,
}

/// A request to carry.
pub struct Ask {
    pub id: u32,
    pub bytes: Bytes,
    /// 0: no time limit.
    pub timeout_ms: u64,
    /// The largest reply body it may get (what DynamoDB can send for it).
    pub max_reply: u64,
}

/// A timer this late means the loop was stalled.
const STALL_MS: u64 = 100;

#[derive(Debug)]
struct Request {
    id: u32,
    bytes: Bytes,
    timeout_ms: u64,
    max_reply: u64,
    deadline: Option<u64>,
    /// Already carried again after a reused connection turned out closed.
    retried: bool,
    /// Already given its time again after a stall.
    restarted: bool,
}

impl Request {
    /// Its time limit again, from `from`, once; whether it was.
    fn restart(&mut self, from: u64) -> bool {
        if self.restarted {
            return false;
        }
        self.restarted = true;
        if self.timeout_ms > 0 {
            self.deadline = Some(from.saturating_add(self.timeout_ms));
        }
        true
    }
}

#[derive(Debug)]
enum Conn {
    Connecting {
        until: u64,
        request: Request,
    },
    Busy {
        request: Request,
        reader: ReplyReader,
        /// It carried a request before this one.
        reused: bool,
        written_at: u64,
    },
    Idle {
        since: u64,
        reader: ReplyReader,
    },
}

pub struct Pool {
    settings: Settings,
    conns: BTreeMap<ConnId, Conn>,
    next_conn: ConnId,
    /// Idle connections, the most recently used last.
    idle: Vec<ConnId>,
    waiting: VecDeque<Request>,
    closing: bool,
    armed: Option<u64>,
    actions: Vec<Action>,
}

impl Pool {
    pub fn new(settings: Settings) -> Self {
        Pool {
            settings,
            conns: BTreeMap::new(),
            next_conn: 0,
            idle: Vec::new(),
            waiting: VecDeque::new(),
            closing: false,
            armed: None,
            actions: Vec::new(),
        }
    }

    /// What the pool asks for since the last call, in order.
    pub fn take_actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.actions)
    }

    /// No request waiting or in flight, no connection open.
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty() && self.conns.is_empty()
    }

    /// Requests wait for a connection (then the caller should `dispatch`).
    pub fn has_waiting(&self) -> bool {
        !self.waiting.is_empty()
    }

    /// Sends a request (on an idle connection, a new one, or in its turn).
    pub fn send(&mut self, ask: Ask, now: u64) {
        let deadline = (ask.timeout_ms > 0).then(|| now.saturating_add(ask.timeout_ms));
        self.waiting.push_back(Request {
            id: ask.id,
            bytes: ask.bytes,
            timeout_ms: ask.timeout_ms,
            max_reply: ask.max_reply,
            deadline,
            retried: false,
            restarted: false,
        });
        self.dispatch(now);
    }

    /// The connection is up: its request goes out.
    pub fn connected(&mut self, conn: ConnId, now: u64) {
        if let Some(Conn::Connecting { .. }) = self.conns.get(&conn) {
            if let Some(Conn::Connecting { request, .. }) = self.conns.remove(&conn) {
                self.start(conn, request, ReplyReader::default(), false, now);
            }
        }
        self.arm();
    }

    /// Bytes arrived on the connection; `sent_all`: every byte written to it
    /// has left; `peer_closed`: the server closed it right after them.
    pub fn received(&mut self, conn: ConnId, bytes: &[u8], sent_all: bool, peer_closed: bool, now: u64) {
        match self.conns.get_mut(&conn) {
            Some(Conn::Busy { reader, .. }) => match reader.feed(bytes) {
                Ok(None) => {}
                Ok(Some(done)) if done.extra > 0 => self.fail(
                    conn,
                    Lost::invalid("the server sent more than one reply to one request"),
                ),
                Ok(Some(done)) => {
                    let reusable = !done.close && sent_all && !peer_closed;
                    self.finish(conn, done.reply, reusable, now);
                }
                Err(why) => self.fail(conn, Lost::invalid(why)),
            },
            // Nothing was asked: a server that talks unasked is out of step.
            Some(Conn::Idle { .. }) => self.drop_conn(conn),
            Some(Conn::Connecting { .. }) => {
                self.fail(conn, Lost::invalid("the server spoke before it was asked").unsent())
            }
            None => {}
        }
        if peer_closed {
            self.closed(conn, None, now);
        } else {
            self.arm();
        }
    }

    /// The connection closed: by the peer (`why` None), or failed. The
    /// carrier has let go of it already.
    pub fn closed(&mut self, conn: ConnId, why: Option<String>, now: u64) {
        let Some(state) = self.conns.remove(&conn) else {
            self.arm();
            return;
        };
        self.idle.retain(|&idle| idle != conn);
        match state {
            Conn::Connecting { request, .. } => {
                let why = why.unwrap_or_else(|| format!("{} closed the connection", self.settings.label));
                self.deliver(request.id, Err(Lost::network(why).unsent()));
            }
            Conn::Busy {
                mut request,
                mut reader,
                reused,
                ..
            } => {
                let ended = if why.is_none() {
                    reader.end()
                } else {
                    Err(String::new())
                };
                match ended {
                    Ok(Some(done)) => self.deliver_reply(&request, done.reply),
                    _ if reused && !reader.started() && !request.retried => {
                        request.retried = true;
                        self.waiting.push_front(request);
                        // A new connection for it now; no idle one is handed out here.
                        self.open_for_front(now);
                    }
                    _ => {
                        let why = why.unwrap_or_else(|| "the connection closed before the reply was complete".into());
                        self.deliver(request.id, Err(Lost::network(why)));
                    }
                }
            }
            Conn::Idle { .. } => {}
        }
        self.arm();
    }

    /// The armed time has come: every limit that has run out.
    pub fn timer(&mut self, now: u64) {
        if let Some(due) = self.armed.take() {
            if now.saturating_sub(due) >= STALL_MS {
                self.stalled(due, now);
            }
        }
        let expired = |deadline: Option<u64>| deadline.is_some_and(|at| at <= now);
        let mut still = VecDeque::with_capacity(self.waiting.len());
        for request in std::mem::take(&mut self.waiting) {
            if expired(request.deadline) {
                self.deliver(request.id, Err(Lost::timeout("").unsent()));
            } else {
                still.push_back(request);
            }
        }
        self.waiting = still;
        let ids: Vec<ConnId> = self.conns.keys().copied().collect();
        for conn in ids {
            let lost = match self.conns.get(&conn) {
                Some(Conn::Connecting { request, .. }) if expired(request.deadline) => Some(Lost::timeout("").unsent()),
                Some(Conn::Connecting { until, .. }) if *until <= now => Some(
                    Lost::timeout(format!(
                        "connecting to {} timed out after {} ms",
                        self.settings.label, self.settings.connect_ms
                    ))
                    .unsent(),
                ),
                Some(Conn::Busy { request, .. }) if expired(request.deadline) => Some(Lost::timeout("")),
                Some(Conn::Idle { since, .. }) if since.saturating_add(self.settings.idle_ms) <= now => {
                    self.drop_conn(conn);
                    None
                }
                _ => None,
            };
            if let Some(lost) = lost {
                self.fail(conn, lost);
            }
        }
        self.arm();
    }

    /// Hands waiting requests to idle connections, opening new ones while
    /// allowed. The caller does this once it has judged the replies it read.
    pub fn dispatch(&mut self, now: u64) {
        while let Some(front) = self.waiting.front() {
            if !front.retried {
                if let Some(conn) = self.idle.pop() {
                    if let (Some(Conn::Idle { reader, .. }), Some(request)) =
                        (self.conns.remove(&conn), self.waiting.pop_front())
                    {
                        self.start(conn, request, reader, true, now);
                    }
                    continue;
                }
            }
            if !self.open_for_front(now) {
                break;
            }
        }
        self.arm();
    }

    /// Closes every idle connection (one of them may be out of step).
    pub fn drop_idle(&mut self) {
        for conn in std::mem::take(&mut self.idle) {
            self.drop_conn(conn);
        }
        self.arm();
    }

    /// No new connection is kept: idle ones close now, busy ones once no
    /// request waits for them. Requests already given are still carried.
    pub fn close(&mut self) {
        self.closing = true;
        for conn in std::mem::take(&mut self.idle) {
            self.drop_conn(conn);
        }
        self.arm();
    }

    /// The timer was due at `due` and came at `now`: the stall does not
    /// count against what the loop could not serve meanwhile.
    fn stalled(&mut self, due: u64, now: u64) {
        let connect_ms = self.settings.connect_ms;
        for request in &mut self.waiting {
            let _ = request.restart(now);
        }
        for conn in self.conns.values_mut() {
            match conn {
                Conn::Connecting { until, request } => {
                    // Its connect gets its time again with it.
                    let again = request.restart(now);
                    *until = if again { now.saturating_add(connect_ms) } else { *until };
                }
                Conn::Busy {
                    request, written_at, ..
                } if *written_at >= due => {
                    request.restart(*written_at);
                }
                _ => {}
            }
        }
    }

    /// Opens a new connection for the request at the head of the queue, if
    /// the limit allows (closing an idle one to make room); whether it did.
    fn open_for_front(&mut self, now: u64) -> bool {
        if self.waiting.is_empty() {
            return false;
        }
        if self.conns.len() >= self.settings.max_conns {
            match self.idle.pop() {
                Some(idle) => self.drop_conn(idle),
                None => return false,
            }
        }
        let Some(request) = self.waiting.pop_front() else {
            return false;
        };
        let conn = self.next_conn;
        self.next_conn = self.next_conn.wrapping_add(1);
        let until = now.saturating_add(self.settings.connect_ms);
        self.conns.insert(conn, Conn::Connecting { until, request });
        self.actions.push(Action::Open(conn));
        true
    }

    /// Puts `request` on connection `conn` and asks for it to be written.
    fn start(&mut self, conn: ConnId, request: Request, mut reader: ReplyReader, reused: bool, now: u64) {
        self.actions.push(Action::Write(conn, request.bytes.clone()));
        reader.limit_body(request.max_reply);
        self.conns.insert(
            conn,
            Conn::Busy {
                request,
                reader,
                reused,
                written_at: now,
            },
        );
    }

    /// The connection's request got its reply: the connection waits idle
    /// for `dispatch`, or closes.
    fn finish(&mut self, conn: ConnId, reply: Reply, reusable: bool, now: u64) {
        let Some(Conn::Busy {
            request, mut reader, ..
        }) = self.conns.remove(&conn)
        else {
            return;
        };
        self.deliver_reply(&request, reply);
        let wanted = self.waiting.iter().any(|r| !r.retried);
        if !reusable || (self.closing && !wanted) {
            self.actions.push(Action::Close(conn));
            return;
        }
        reader.reset();
        self.conns.insert(conn, Conn::Idle { since: now, reader });
        self.idle.push(conn);
    }

    /// Closes the connection; its request, if any, gets `lost`.
    fn fail(&mut self, conn: ConnId, lost: Lost) {
        let Some(state) = self.conns.remove(&conn) else {
            return;
        };
        self.idle.retain(|&idle| idle != conn);
        self.actions.push(Action::Close(conn));
        if let Conn::Connecting { request, .. } | Conn::Busy { request, .. } = state {
            self.deliver(request.id, Err(lost));
        }
    }

    fn drop_conn(&mut self, conn: ConnId) {
        if self.conns.remove(&conn).is_some() {
            self.idle.retain(|&idle| idle != conn);
            self.actions.push(Action::Close(conn));
        }
    }

    fn deliver_reply(&mut self, request: &Request, reply: Reply) {
        let resent = request.retried;
        self.deliver(request.id, Ok(Reply { resent, ..reply }));
    }

    fn deliver(&mut self, id: u32, answer: Result<Reply, Lost>) {
        self.actions.push(Action::Deliver(id, answer));
    }

    /// Arms the timer for the earliest limit, unless it is armed earlier
    /// already (then it fires, finds nothing, and is armed again).
    fn arm(&mut self) {
        let idle_ms = self.settings.idle_ms;
        let conns = self.conns.values().map(|conn| match conn {
            Conn::Connecting { until, request } => Some(request.deadline.map_or(*until, |at| at.min(*until))),
            Conn::Busy { request, .. } => request.deadline,
            Conn::Idle { since, .. } => Some(since.saturating_add(idle_ms)),
        });
        let next = self.waiting.iter().map(|r| r.deadline).chain(conns).flatten().min();
        match (next, self.armed) {
            (Some(at), Some(armed)) if armed <= at => {}
            (Some(at), _) => {
                self.armed = Some(at);
                self.actions.push(Action::Arm(Some(at)));
            }
            (None, Some(_)) if self.is_empty() => {
                self.armed = None;
                self.actions.push(Action::Arm(None));
            }
            (None, _) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::lost::LostKind;

    const REPLY: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";

    fn pool(max_conns: usize) -> Pool {
        Pool::new(Settings {
            max_conns,
            idle_ms: 30_000,
            connect_ms: 1_000,
            label: "db:80".into(),
        })
    }

    /// Request `id`, whose bytes are `text`.
    fn ask(id: u32, text: &str, timeout_ms: u64) -> Ask {
        Ask {
            id,
            bytes: Rc::new(text.as_bytes().to_vec()),
            timeout_ms,
            max_reply: 1024,
        }
    }

    /// The actions but timers, with replies shown as their status and losses as their kind.
    fn actions(pool: &mut Pool) -> Vec<String> {
        timed(pool).into_iter().filter(|a| !a.starts_with("arm")).collect()
    }

    /// Every action, timers too.
    fn timed(pool: &mut Pool) -> Vec<String> {
        pool.take_actions()
            .into_iter()
            .map(|action| match action {
                Action::Open(c) => format!("open {c}"),
                Action::Write(c, b) => format!("write {c} {}", String::from_utf8_lossy(&b)),
                Action::Close(c) => format!("close {c}"),
                Action::Deliver(id, Ok(reply)) if reply.resent => format!("deliver {id} {} resent", reply.status),
                Action::Deliver(id, Ok(reply)) => format!("deliver {id} {}", reply.status),
                Action::Deliver(id, Err(lost)) => format!("deliver {id} {:?} sent={}", lost.kind, lost.sent),
                Action::Arm(at) => format!("arm {at:?}"),
            })
            .collect()
    }

    #[test]
    fn a_request_opens_a_connection_is_written_once_connected_and_its_reply_delivered() {
        let mut pool = pool(2);
        pool.send(ask(1, "a", 500), 0);
        assert_eq!(timed(&mut pool), ["open 0", "arm Some(500)"]);
        pool.connected(0, 10);
        assert_eq!(actions(&mut pool), ["write 0 a"]);
        pool.received(0, &REPLY[..10], true, false, 20);
        assert!(actions(&mut pool).is_empty());
        pool.received(0, &REPLY[10..], true, false, 30);
        assert_eq!(actions(&mut pool), ["deliver 1 200"]);
        // The idle connection carries the next request; no new connection.
        pool.send(ask(2, "b", 500), 40);
        assert_eq!(actions(&mut pool), ["write 0 b"]);
    }

    #[test]
    fn requests_beyond_the_connection_limit_wait_their_turn_in_order() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.send(ask(2, "b", 0), 0);
        pool.send(ask(3, "c", 0), 0);
        pool.connected(0, 1);
        assert_eq!(actions(&mut pool), ["open 0", "write 0 a"]);
        pool.received(0, REPLY, true, false, 2);
        // The connection waits until its caller has judged the reply.
        assert_eq!(actions(&mut pool), ["deliver 1 200"]);
        pool.dispatch(2);
        assert_eq!(actions(&mut pool), ["write 0 b"]);
        pool.received(0, REPLY, true, false, 3);
        pool.dispatch(3);
        assert_eq!(actions(&mut pool), ["deliver 2 200", "write 0 c"]);
    }

    #[test]
    fn a_connection_found_out_of_step_is_closed_before_it_carries_anything_more() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.send(ask(2, "b", 0), 0);
        pool.connected(0, 1);
        pool.received(0, REPLY, true, false, 2);
        actions(&mut pool);
        // The caller finds the reply was for another item.
        pool.drop_idle();
        pool.dispatch(3);
        assert_eq!(actions(&mut pool), ["close 0", "open 1"]);
    }

    #[test]
    fn bytes_after_the_reply_close_the_connection_and_fail_the_request() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        actions(&mut pool);
        let mut twice = REPLY.to_vec();
        twice.extend_from_slice(REPLY);
        pool.received(0, &twice, true, false, 1);
        assert_eq!(actions(&mut pool), ["close 0", "deliver 1 Invalid sent=true"]);
    }

    #[test]
    fn a_reply_for_nobody_closes_the_idle_connection_it_came_on() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, REPLY, true, false, 1);
        actions(&mut pool);
        // A stale or duplicated reply arriving while idle: the connection is out of step.
        pool.received(0, REPLY, true, false, 2);
        assert_eq!(actions(&mut pool), ["close 0"]);
        pool.send(ask(2, "b", 0), 3);
        assert_eq!(actions(&mut pool), ["open 1"]);
    }

    #[test]
    fn a_reply_before_the_request_has_left_ends_the_request_and_the_connection() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.send(ask(2, "b", 0), 0);
        pool.connected(0, 0);
        actions(&mut pool);
        pool.received(0, REPLY, false, false, 1);
        pool.dispatch(1);
        // The rest of request 1 would go out as the head of request 2: a new connection.
        assert_eq!(actions(&mut pool), ["deliver 1 200", "close 0", "open 1"]);
    }

    #[test]
    fn connection_close_http_1_0_and_a_close_right_after_are_never_reused() {
        for (reply, peer_closed) in [
            (
                &b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..],
                false,
            ),
            (&b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"[..], false),
            (&b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..], true),
        ] {
            let mut pool = pool(1);
            pool.send(ask(1, "a", 0), 0);
            pool.connected(0, 0);
            actions(&mut pool);
            pool.received(0, reply, true, peer_closed, 1);
            assert_eq!(actions(&mut pool), ["deliver 1 200", "close 0"]);
            assert!(pool.is_empty());
        }
    }

    #[test]
    fn a_reused_connection_found_closed_carries_its_request_again_on_a_new_one_once() {
        let mut pool = pool(2);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, REPLY, true, false, 1);
        pool.send(ask(2, "b", 0), 2);
        actions(&mut pool);
        // The server had closed it while idle: no reply byte, no failed attempt.
        pool.closed(0, Some("reset".into()), 3);
        assert_eq!(actions(&mut pool), ["open 1"]);
        pool.connected(1, 4);
        assert_eq!(actions(&mut pool), ["write 1 b"]);
        pool.received(1, REPLY, true, false, 5);
        // Its reply says it went out twice: a write may have landed with the first.
        assert_eq!(actions(&mut pool), ["deliver 2 200 resent"]);
    }

    #[test]
    fn a_request_goes_out_again_at_most_once() {
        let mut pool = pool(2);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, REPLY, true, false, 1);
        pool.send(ask(2, "b", 0), 2);
        pool.closed(0, Some("reset".into()), 3);
        pool.connected(1, 4);
        actions(&mut pool);
        pool.closed(1, Some("reset".into()), 5);
        assert_eq!(actions(&mut pool), ["deliver 2 Network sent=true"]);
    }

    #[test]
    fn a_late_event_about_a_closed_connection_finds_nothing() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(
            0,
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            true,
            false,
            1,
        );
        pool.send(ask(2, "b", 0), 2);
        actions(&mut pool);
        // The close of connection 0 is reported after a new one opened: the new one is not hurt.
        pool.closed(0, None, 3);
        pool.received(0, REPLY, true, false, 3);
        assert!(actions(&mut pool).is_empty());
        pool.connected(1, 4);
        assert_eq!(actions(&mut pool), ["write 1 b"]);
    }

    #[test]
    fn a_connection_closed_mid_reply_fails_its_request_even_when_reused() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, REPLY, true, false, 1);
        pool.send(ask(2, "b", 0), 2);
        pool.received(0, &REPLY[..5], true, false, 3);
        actions(&mut pool);
        pool.closed(0, None, 4);
        assert_eq!(actions(&mut pool), ["deliver 2 Network sent=true"]);
    }

    #[test]
    fn a_body_until_the_close_ends_with_it() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, b"HTTP/1.0 200 OK\r\n\r\n{}", true, false, 1);
        actions(&mut pool);
        pool.closed(0, None, 2);
        assert_eq!(actions(&mut pool), ["deliver 1 200"]);
    }

    #[test]
    fn a_reply_larger_than_its_request_may_get_is_refused() {
        let mut pool = pool(1);
        pool.send(
            Ask {
                max_reply: 1,
                ..ask(1, "a", 0)
            },
            0,
        );
        pool.connected(0, 0);
        actions(&mut pool);
        pool.received(0, REPLY, true, false, 1);
        assert_eq!(actions(&mut pool), ["close 0", "deliver 1 Invalid sent=true"]);
    }

    #[test]
    fn time_limits_run_on_the_time_given() {
        let mut pool = pool(2);
        pool.send(ask(1, "a", 100), 0);
        pool.connected(0, 10);
        assert_eq!(timed(&mut pool), ["open 0", "arm Some(100)", "write 0 a"]);
        // The timer fires late (a stalled loop) but the reply was read first: no timeout.
        pool.received(0, REPLY, true, false, 1_200);
        pool.timer(1_200);
        assert_eq!(timed(&mut pool), ["deliver 1 200", "arm Some(31200)"]);
        // A request is timed from when it is given, on the clock given.
        pool.send(ask(2, "b", 100), 2_000);
        assert_eq!(timed(&mut pool), ["write 0 b", "arm Some(2100)"]);
        // A timer that fires early finds nothing due, and is armed again.
        pool.timer(2_099);
        assert_eq!(timed(&mut pool), ["arm Some(2100)"]);
        pool.timer(2_100);
        assert_eq!(timed(&mut pool), ["close 0", "deliver 2 Timeout sent=true"]);
    }

    #[test]
    fn a_stalled_loop_does_not_count_against_requests_it_could_not_serve() {
        let mut pool = pool(2);
        pool.send(ask(1, "a", 500), 0);
        assert_eq!(timed(&mut pool), ["open 0", "arm Some(500)"]);
        // The loop stalls for 1.2 s while connecting: the timer comes 700 ms late.
        pool.timer(1_200);
        assert_eq!(timed(&mut pool), ["arm Some(1700)"]);
        pool.connected(0, 1_210);
        pool.received(0, REPLY, true, false, 1_220);
        pool.timer(1_700);
        assert_eq!(actions(&mut pool), ["write 0 a", "deliver 1 200"]);
        // A request written before the timer was due is judged as it is.
        pool.send(ask(2, "b", 100), 2_000);
        assert_eq!(timed(&mut pool), ["write 0 b", "arm Some(2100)"]);
        pool.timer(2_300);
        assert_eq!(actions(&mut pool), ["close 0", "deliver 2 Timeout sent=true"]);
        // And a request gets its time again once: a loop that stays overloaded still ends it.
        pool.send(ask(3, "c", 100), 3_000);
        pool.timer(3_400);
        pool.timer(3_900);
        assert_eq!(
            actions(&mut pool),
            ["open 1", "close 1", "deliver 3 Timeout sent=false"]
        );
    }

    #[test]
    fn a_connect_that_takes_too_long_fails_its_request_as_unsent() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        assert_eq!(timed(&mut pool), ["open 0", "arm Some(1000)"]);
        pool.timer(999);
        assert_eq!(timed(&mut pool), ["arm Some(1000)"]);
        pool.timer(1_000);
        let taken = pool.take_actions();
        // The timer has fired: nothing left to arm, or to disarm.
        assert_eq!(taken.len(), 2);
        match &taken[1] {
            Action::Deliver(1, Err(lost)) => {
                assert_eq!((lost.kind, lost.sent), (LostKind::Timeout, false));
                assert!(lost.why.contains("connecting to db:80 timed out after 1000 ms"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn idle_connections_close_after_the_idle_time() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.connected(0, 0);
        pool.received(0, REPLY, true, false, 5);
        actions(&mut pool);
        pool.timer(30_005);
        assert_eq!(timed(&mut pool), ["close 0"]);
        assert!(pool.is_empty());
    }

    #[test]
    fn close_lets_every_request_given_finish_then_closes_each_connection() {
        let mut pool = pool(1);
        for id in 1..=3 {
            pool.send(ask(id, "x", 0), 0);
        }
        pool.connected(0, 0);
        pool.close();
        actions(&mut pool);
        for now in 2..=4 {
            pool.received(0, REPLY, true, false, now);
            pool.dispatch(now);
        }
        assert_eq!(
            timed(&mut pool),
            [
                "deliver 1 200",
                "write 0 x",
                "deliver 2 200",
                "write 0 x",
                "deliver 3 200",
                "close 0",
                "arm None"
            ]
        );
        assert!(pool.is_empty());
    }

    #[test]
    fn a_failed_connect_fails_its_request_and_the_next_opens_anew() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        pool.send(ask(2, "b", 0), 0);
        actions(&mut pool);
        pool.closed(0, Some("connection refused".into()), 1);
        pool.dispatch(1);
        assert_eq!(actions(&mut pool), ["deliver 1 Network sent=false", "open 1"]);
    }

    #[test]
    fn garbage_and_unasked_bytes_close_the_connection_with_a_coded_loss() {
        let mut pool = pool(1);
        pool.send(ask(1, "a", 0), 0);
        actions(&mut pool);
        // A server that speaks before it is asked: nothing was sent.
        pool.received(0, b"SSH-2.0\r\n", true, false, 0);
        assert_eq!(actions(&mut pool), ["close 0", "deliver 1 Invalid sent=false"]);
        pool.send(ask(2, "b", 0), 0);
        pool.connected(1, 0);
        actions(&mut pool);
        pool.received(
            1,
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
            true,
            false,
            1,
        );
        assert_eq!(actions(&mut pool), ["close 1", "deliver 2 Invalid sent=true"]);
    }
}

#[cfg(test)]
mod properties {
    use std::collections::{HashMap, HashSet};

    use proptest::prelude::*;

    use super::*;

    /// What the pool is asked to go through, in a random order.
    #[derive(Clone, Debug)]
    enum Step {
        Send {
            timeout: u64,
        },
        Connect(usize),
        /// The server answers the request on a connection: whole, cut at a
        /// point, with bytes after it, or twice.
        Answer {
            conn: usize,
            cut: usize,
            extra: bool,
        },
        /// A reply the pool never asked for, on a connection.
        Stale(usize),
        /// A whole reply, and the server closes in the same breath.
        AnswerAndClose(usize),
        Garbage(usize),
        Close {
            conn: usize,
            peer: bool,
        },
        Wait(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => (1u64..500).prop_map(|timeout| Step::Send { timeout }),
            3 => (0usize..4).prop_map(Step::Connect),
            4 => (0usize..4, 0usize..80, any::<bool>()).prop_map(|(conn, cut, extra)| Step::Answer { conn, cut, extra }),
            1 => (0usize..4).prop_map(Step::Stale),
            1 => (0usize..4).prop_map(Step::AnswerAndClose),
            1 => (0usize..4).prop_map(Step::Garbage),
            1 => (0usize..4, any::<bool>()).prop_map(|(conn, peer)| Step::Close { conn, peer }),
            2 => (1u64..300).prop_map(Step::Wait),
        ]
    }

    fn reply_for(id: u32) -> Vec<u8> {
        let body = id.to_string();
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    /// The connections as a carrier sees them: which are open, whether
    /// connected, which request was last written on each, what part of a
    /// reply was already sent.
    #[derive(Default)]
    struct Server {
        open: HashMap<ConnId, (bool, Option<u32>, usize)>,
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn every_request_ends_once_and_only_with_its_own_reply(steps in prop::collection::vec(step(), 1..80)) {
            let max_conns = 3;
            let mut pool = Pool::new(Settings { max_conns, idle_ms: 1_000, connect_ms: 200, label: "db:80".into() });
            let mut server = Server::default();
            let mut now = 0u64;
            let mut next_id = 0u32;
            let mut sent: HashSet<u32> = HashSet::new();
            let mut delivered: HashSet<u32> = HashSet::new();
            let mut armed: Option<u64> = None;
            let check = |pool: &mut Pool, server: &mut Server, delivered: &mut HashSet<u32>, armed: &mut Option<u64>| -> Result<(), TestCaseError> {
                for action in pool.take_actions() {
                    match action {
                        Action::Open(conn) => {
                            prop_assert!(!server.open.contains_key(&conn), "opened {} twice", conn);
                            server.open.insert(conn, (false, None, 0));
                        }
                        Action::Write(conn, bytes) => {
                            let id: u32 = String::from_utf8_lossy(&bytes).parse().unwrap();
                            let state = server.open.get_mut(&conn);
                            prop_assert!(state.as_ref().is_some_and(|s| s.0), "wrote on {} before it was up", conn);
                            if let Some(state) = state {
                                *state = (true, Some(id), 0);
                            }
                        }
                        Action::Close(conn) => {
                            server.open.remove(&conn);
                        }
                        Action::Deliver(id, answer) => {
                            prop_assert!(delivered.insert(id), "request {} delivered twice", id);
                            if let Ok(reply) = answer {
                                prop_assert_eq!(reply.body, id.to_string().into_bytes(), "request {} got another's reply", id);
                            }
                        }
                        Action::Arm(at) => *armed = at,
                    }
                }
                prop_assert!(server.open.len() <= max_conns);
                Ok(())
            };
            for step in steps {
                match step {
                    Step::Send { timeout } => {
                        next_id += 1;
                        sent.insert(next_id);
                        pool.send(Ask { id: next_id, bytes: Rc::new(next_id.to_string().into_bytes()), timeout_ms: timeout, max_reply: 1024 }, now);
                    }
                    Step::Connect(n) => {
                        if let Some(&conn) = server.open.iter().filter(|(_, s)| !s.0).map(|(c, _)| c).nth(n) {
                            server.open.insert(conn, (true, None, 0));
                            pool.connected(conn, now);
                        }
                    }
                    Step::Answer { conn: n, cut, extra } => {
                        let target = server.open.iter().filter(|(_, s)| s.1.is_some()).map(|(c, s)| (*c, s.1, s.2)).nth(n);
                        if let Some((conn, Some(id), done)) = target {
                            let mut raw = reply_for(id);
                            if extra {
                                raw.extend_from_slice(&reply_for(id));
                            }
                            let upto = if done == 0 { cut.min(raw.len()) } else { raw.len() };
                            let upto = upto.max(done);
                            server.open.insert(conn, (true, if upto == raw.len() { None } else { Some(id) }, upto));
                            pool.received(conn, &raw[done..upto], true, false, now);
                        }
                    }
                    Step::AnswerAndClose(n) => {
                        let target = server.open.iter().filter(|(_, s)| s.1.is_some() && s.2 == 0).map(|(c, s)| (*c, s.1)).nth(n);
                        if let Some((conn, Some(id))) = target {
                            server.open.remove(&conn);
                            pool.received(conn, &reply_for(id), true, true, now);
                        }
                    }
                    Step::Stale(n) => {
                        // A reply for an earlier request, arriving while the connection is idle.
                        let idle = server.open.iter().filter(|(_, s)| s.0 && s.1.is_none()).map(|(c, _)| *c).nth(n);
                        if let (Some(conn), true) = (idle, next_id > 0) {
                            pool.received(conn, &reply_for(1), true, false, now);
                        }
                    }
                    Step::Garbage(n) => {
                        if let Some(&conn) = server.open.keys().nth(n) {
                            pool.received(conn, b"\x00garbage\r\n\r\n", true, false, now);
                        }
                    }
                    Step::Close { conn: n, peer } => {
                        if let Some(&conn) = server.open.keys().nth(n) {
                            server.open.remove(&conn);
                            pool.closed(conn, (!peer).then(|| "reset".to_string()), now);
                        }
                    }
                    Step::Wait(ms) => {
                        now += ms;
                        if armed.is_some_and(|at| at <= now) {
                            armed = None;
                            pool.timer(now);
                        }
                    }
                }
                // As the host does between the engine's polls.
                pool.dispatch(now);
                check(&mut pool, &mut server, &mut delivered, &mut armed)?;
            }
            // Time runs out for everything: every request has ended, once.
            for _ in 0..10 {
                now += 2_000;
                pool.timer(now);
                check(&mut pool, &mut server, &mut delivered, &mut armed)?;
            }
            prop_assert_eq!(&delivered, &sent);
            prop_assert!(pool.is_empty() || server.open.values().all(|s| !s.0 && s.1.is_none()));
        }
    }
}
