//! Where a DynamoDB call's request waits for the network. The core builds
//! and signs each request and reads each reply's meaning (`wire.rs`); the
//! request is queued here, the host hands it to the network (`net/`) within
//! the engine's turn, and the network's answer comes back with `deliver`.
//! No thread is involved, so a session call costs no cross-thread wake-up.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

pub use crate::net::{Lost, Reply};

pub type Exchange = Pin<Box<dyn Future<Output = Result<Reply, Lost>> + Send>>;

/// Carries one signed HTTP/1.1 request and brings back its reply, within
/// `timeout` when one is given, with a body of at most `max_reply` bytes.
pub trait Transport: Send + Sync {
    fn send(&self, request: Vec<u8>, timeout: Option<Duration>, max_reply: u64) -> Exchange;

    /// A reply did not answer what was asked (another item's key): a
    /// connection is out of step, so no idle connection is used again.
    fn distrust(&self) {}
}

/// A request waiting for the network to send it.
pub struct Outgoing {
    pub id: u32,
    pub bytes: Vec<u8>,
    /// 0 when the attempt has no time limit.
    pub timeout_ms: f64,
    /// The largest reply body DynamoDB can send for it.
    pub max_reply: u64,
}

/// The requests of one store, between the calls that make them and the network.
#[derive(Default)]
pub struct JsTransport {
    next_id: AtomicU32,
    outbox: Mutex<Vec<Outgoing>>,
    waiting: Mutex<HashMap<u32, oneshot::Sender<Result<Reply, Lost>>>>,
    /// Set when a reply answered something else: the next turn closes every
    /// idle connection.
    distrusted: std::sync::atomic::AtomicBool,
    /// Called when a request is queued outside the engine's turn (from a
    /// tokio task), so that a turn comes to take it.
    notify: Mutex<Option<Arc<dyn Fn() + Send + Sync>>>,
}

impl JsTransport {
    pub fn set_notify(&self, notify: Arc<dyn Fn() + Send + Sync>) {
        if let Ok(mut slot) = self.notify.lock() {
            *slot = Some(notify);
        }
    }

    /// The requests queued since the last call, for the network to send.
    pub fn take_outgoing(&self) -> Vec<Outgoing> {
        self.outbox
            .lock()
            .map(|mut outbox| std::mem::take(&mut *outbox))
            .unwrap_or_default()
    }

    /// A reply (or its loss) for request `id`; one nobody waits for any more is dropped.
    pub fn deliver(&self, id: u32, reply: Result<Reply, Lost>) {
        let waiter = self.waiting.lock().ok().and_then(|mut waiting| waiting.remove(&id));
        if let Some(waiter) = waiter {
            let _ = waiter.send(reply);
        }
    }

    /// Whether a reply answered something else since the last call.
    pub fn take_distrust(&self) -> bool {
        self.distrusted.swap(false, Ordering::AcqRel)
    }

    /// Every request still waiting gets `lost` (the network failed as a whole).
    pub fn fail_all(&self, lost: &Lost) {
        self.take_outgoing();
        let waiters: Vec<_> = match self.waiting.lock() {
            Ok(mut waiting) => waiting.drain().map(|(_, waiter)| waiter).collect(),
            Err(_) => Vec::new(),
        };
        for waiter in waiters {
            let _ = waiter.send(Err(lost.clone()));
        }
    }

    fn forget(&self, id: u32) {
        if let Ok(mut waiting) = self.waiting.lock() {
            waiting.remove(&id);
        }
    }
}

impl Transport for Arc<JsTransport> {
    fn send(&self, bytes: Vec<u8>, timeout: Option<Duration>, max_reply: u64) -> Exchange {
        let (sender, receiver) = oneshot::channel();
        let mut id = 0;
        if let Ok(mut waiting) = self.waiting.lock() {
            // Ids wrap after 2^32 requests: never one still waiting.
            loop {
                id = self.next_id.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
                if id != 0 && !waiting.contains_key(&id) {
                    break;
                }
            }
            waiting.insert(id, sender);
        }
        let timeout_ms = timeout.map_or(0.0, |limit| limit.as_millis().max(1) as f64);
        let was_empty = match self.outbox.lock() {
            Ok(mut outbox) => {
                outbox.push(Outgoing {
                    id,
                    bytes,
                    timeout_ms,
                    max_reply,
                });
                outbox.len() == 1
            }
            Err(_) => false,
        };
        if was_empty && !crate::engine::in_turn() {
            if let Some(notify) = self.notify.lock().ok().and_then(|slot| slot.clone()) {
                notify();
            }
        }
        Box::pin(Pending {
            id,
            receiver,
            transport: self.clone(),
        })
    }

    fn distrust(&self) {
        self.distrusted.store(true, Ordering::Release);
    }
}

/// One request in flight. Dropped early (its call given up), it stops waiting.
struct Pending {
    id: u32,
    receiver: oneshot::Receiver<Result<Reply, Lost>>,
    transport: Arc<JsTransport>,
}

impl Future for Pending {
    type Output = Result<Reply, Lost>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.receiver)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Err(Lost::network("the store's network went away"))))
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        self.transport.forget(self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn a_request_waits_in_the_outbox_until_its_reply_is_delivered() {
        let transport = Arc::new(JsTransport::default());
        let exchange = transport.send(
            b"POST / HTTP/1.1\r\n\r\n".to_vec(),
            Some(Duration::from_millis(250)),
            1024,
        );
        let outgoing = transport.take_outgoing();
        assert_eq!(outgoing.len(), 1);
        assert_eq!(outgoing[0].timeout_ms, 250.0);
        assert!(transport.take_outgoing().is_empty());
        transport.deliver(
            outgoing[0].id,
            Ok(Reply {
                status: 200,
                body: b"{}".to_vec(),
                ..Reply::default()
            }),
        );
        let reply = block_on(exchange).unwrap();
        assert_eq!((reply.status, reply.body.as_slice()), (200, b"{}".as_slice()));
    }

    #[test]
    fn a_late_reply_for_a_request_given_up_is_dropped() {
        let transport = Arc::new(JsTransport::default());
        drop(transport.send(Vec::new(), None, 1024));
        let id = transport.take_outgoing()[0].id;
        assert!(transport.waiting.lock().unwrap().is_empty());
        transport.deliver(id, Err(Lost::timeout("late")));
    }
}
