//! What the store tells about each DynamoDB request it sends, while someone
//! listens (lib/diagnostics.js publishes it on `diagnostics_channel`): each
//! attempt's start and end, recorded for the call being polled when that call
//! was started traced, and handed to JavaScript at the end of the engine's
//! turn. A call started untraced records nothing and costs one check per
//! attempt. Nothing here names a session: only the operation, the attempt and
//! what DynamoDB answered.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

tokio::task_local! {
    static CALL: Traced;
}

/// Where a traced call's events go, and the call they belong to.
#[derive(Clone)]
struct Traced {
    call: u32,
    sink: Sink,
    /// The DynamoDB calls this call has made so far.
    sequence: Arc<AtomicU32>,
}

/// The events of the traced calls since the last turn ended.
pub type Sink = Arc<Mutex<Vec<Event>>>;

/// One attempt's start or end.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The engine's id of the call the attempt serves.
    pub call: u32,
    /// Which of that call's DynamoDB calls (1, 2, …): its attempts share it.
    pub sequence: u32,
    /// DynamoDB's name of the operation (`GetItem`).
    pub operation: &'static str,
    /// 1 for the first attempt, 2 for the first retry, …
    pub attempt: u32,
    /// When, in epoch ms.
    pub time_ms: f64,
    pub what: What,
}

#[derive(Debug, Clone, PartialEq)]
pub enum What {
    /// The attempt's request is on its way, to `host` in `region`;
    /// `consistent_read`: it asks for a strongly consistent read.
    Start {
        region: String,
        host: String,
        consistent_read: bool,
    },
    End(Ended),
}

/// How an attempt ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ended {
    /// The HTTP status of the reply (none when no reply came).
    pub status: Option<u16>,
    /// DynamoDB's `x-amzn-RequestId`.
    pub request_id: Option<String>,
    /// DynamoDB's exception, or the store's code when there was no reply.
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// DynamoDB's `ConsumedCapacity`, as its JSON.
    pub consumed_capacity: Option<String>,
    /// Another attempt follows after this many ms.
    pub retry_after_ms: Option<f64>,
}

/// `future`, with every attempt it makes recorded into `sink` as call `call`'s.
pub fn traced<F: Future>(call: u32, sink: Sink, future: F) -> impl Future<Output = F::Output> {
    CALL.scope(
        Traced {
            call,
            sink,
            sequence: Arc::default(),
        },
        future,
    )
}

/// The number of the next DynamoDB call of the call being polled (0 when it is not traced).
pub fn next_sequence() -> u32 {
    CALL.try_with(|traced| traced.sequence.fetch_add(1, Ordering::Relaxed) + 1)
        .unwrap_or(0)
}

/// Whether the call being polled is traced.
pub fn tracing() -> bool {
    CALL.try_with(|_| ()).is_ok()
}

/// Records an event of the call being polled, if it is traced.
pub fn record(sequence: u32, operation: &'static str, attempt: u32, what: What) {
    let _ = CALL.try_with(|traced| {
        let event = Event {
            call: traced.call,
            sequence,
            operation,
            attempt,
            time_ms: crate::item::now_ms(),
            what,
        };
        if let Ok(mut events) = traced.sink.lock() {
            events.push(event);
        }
    });
}

/// The events recorded since the last call, in order.
pub fn take(sink: &Sink) -> Vec<Event> {
    sink.lock()
        .map(|mut events| std::mem::take(&mut *events))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    #[test]
    fn only_a_traced_call_records_and_each_event_names_its_call() {
        let sink = Sink::default();
        record(1, "GetItem", 1, What::End(Ended::default()));
        assert!(!tracing());
        assert_eq!(next_sequence(), 0);
        run(traced(7, sink.clone(), async {
            assert!(tracing());
            let sequence = next_sequence();
            record(
                sequence,
                "GetItem",
                1,
                What::Start {
                    region: "r".into(),
                    host: "h".into(),
                    consistent_read: true,
                },
            );
            record(sequence, "GetItem", 1, What::End(Ended::default()));
            assert_eq!(next_sequence(), 2);
        }));
        let events = take(&sink);
        assert_eq!(events.len(), 2);
        assert!(events
            .iter()
            .all(|event| event.call == 7 && event.attempt == 1 && event.sequence == 1));
        assert!(take(&sink).is_empty());
    }
}
