//! The engine: runs the store's calls on the JavaScript thread, polled in
//! turns, so that a session call's only I/O is Node's own socket and no
//! thread hands anything over.
//!
//! A call is an ordinary Rust future (the store's code is written once, as
//! async functions). A turn polls every call that is ready; a call waiting on
//! DynamoDB has queued its request with the transport, which JavaScript sends
//! after the turn and whose reply it brings back in the next one. The rare
//! waits that tokio serves (the credentials chain, the SDK's calls, a retry's
//! backoff) wake their call from another thread: that wake goes through
//! `remote`, which asks JavaScript for a turn.

use std::cell::Cell;
use std::collections::HashMap;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use crate::error::{code, StoreError, StoreResult};

thread_local! {
    /// How many engine turns are running on this thread.
    static TURNS: Cell<u32> = const { Cell::new(0) };
}

/// Whether this thread is inside an engine's turn.
pub fn in_turn() -> bool {
    TURNS.with(Cell::get) > 0
}

pub type Call<T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send>>;

pub struct Engine<T> {
    calls: Mutex<HashMap<u32, (Call<T>, Waker)>>,
    shared: Arc<Shared>,
}

struct Shared {
    /// Calls woken during this engine's turn, polled before it ends.
    ready: Mutex<Vec<u32>>,
    turning: AtomicBool,
    remote: Box<dyn Fn(u32) + Send + Sync>,
}

struct CallWaker {
    id: u32,
    shared: Arc<Shared>,
}

impl Wake for CallWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if in_turn() && self.shared.turning.load(Ordering::Acquire) {
            if let Ok(mut ready) = self.shared.ready.lock() {
                ready.push(self.id);
                return;
            }
        }
        (self.shared.remote)(self.id);
    }
}

/// Marks a turn as running on this thread until dropped, even by an unwind.
struct InTurn<'a>(&'a Shared);

impl<'a> InTurn<'a> {
    fn enter(shared: &'a Shared) -> Self {
        TURNS.with(|turns| turns.set(turns.get() + 1));
        shared.turning.store(true, Ordering::Release);
        InTurn(shared)
    }
}

impl Drop for InTurn<'_> {
    fn drop(&mut self) {
        self.0.turning.store(false, Ordering::Release);
        TURNS.with(|turns| turns.set(turns.get().saturating_sub(1)));
    }
}

impl<T> Engine<T> {
    /// `remote(id)` must lead to `turn(|| engine.wake(id))` on this thread.
    pub fn new(remote: impl Fn(u32) + Send + Sync + 'static) -> Self {
        Engine {
            calls: Mutex::new(HashMap::new()),
            shared: Arc::new(Shared {
                ready: Mutex::new(Vec::new()),
                turning: AtomicBool::new(false),
                remote: Box::new(remote),
            }),
        }
    }

    /// Adds a call under the caller's id; it runs in the turn this is called in.
    pub fn start(&self, id: u32, call: Call<T>) {
        let waker = Waker::from(Arc::new(CallWaker {
            id,
            shared: self.shared.clone(),
        }));
        if let Ok(mut calls) = self.calls.lock() {
            calls.insert(id, (call, waker));
        }
        self.wake(id);
    }

    pub fn wake(&self, id: u32) {
        if let Ok(mut ready) = self.shared.ready.lock() {
            ready.push(id);
        }
    }

    /// How many calls have not finished.
    pub fn pending(&self) -> usize {
        self.calls.lock().map_or(0, |calls| calls.len())
    }

    /// Runs `first` (a start, a delivered reply, a wake), then polls every
    /// call that is ready until none is; each time none is, `between` runs
    /// (it carries the requests the calls queued) and the turn goes on while
    /// it says calls may be ready again. Returns the calls that finished.
    pub fn turn(&self, first: impl FnOnce(), mut between: impl FnMut() -> bool) -> Vec<(u32, StoreResult<T>)> {
        let _turn = InTurn::enter(&self.shared);
        first();
        let mut finished = Vec::new();
        loop {
            while let Some(id) = self.next_ready() {
                if let Some(result) = self.poll(id) {
                    finished.push((id, result));
                }
            }
            if !between() {
                break;
            }
        }
        finished
    }

    fn next_ready(&self) -> Option<u32> {
        self.shared.ready.lock().ok()?.pop()
    }

    /// Polls one call; its result once it is done. A panic fails the call, never the process.
    fn poll(&self, id: u32) -> Option<StoreResult<T>> {
        let (mut call, waker) = self.calls.lock().ok()?.remove(&id)?;
        let mut context = Context::from_waker(&waker);
        match catch_unwind(AssertUnwindSafe(|| call.as_mut().poll(&mut context))) {
            Ok(Poll::Pending) => {
                if let Ok(mut calls) = self.calls.lock() {
                    calls.insert(id, (call, waker));
                }
                None
            }
            Ok(Poll::Ready(result)) => Some(result),
            Err(_) => Some(Err(StoreError::new(
                code::INTERNAL,
                "the store's call failed unexpectedly",
            ))),
        }
    }
}

/// A future that is ready when its flag is set, for tests of the engine.
#[cfg(test)]
type GateState = Arc<Mutex<(bool, Option<Waker>)>>;

#[cfg(test)]
struct Gate(GateState);

#[cfg(test)]
impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            Poll::Ready(())
        } else {
            state.1 = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    fn gate() -> (Gate, GateState) {
        let state = Arc::new(Mutex::new((false, None)));
        (Gate(state.clone()), state)
    }

    fn open(state: &Mutex<(bool, Option<Waker>)>) {
        let waker = {
            let mut state = state.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        waker.unwrap().wake();
    }

    #[test]
    fn a_call_that_needs_nothing_finishes_in_its_first_turn() {
        let engine: Engine<u32> = Engine::new(|_| panic!("no remote wake expected"));
        let done = engine.turn(|| engine.start(7, Box::pin(async { Ok(42) })), || false);
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].0, done[0].1.as_ref().ok()), (7, Some(&42)));
        assert_eq!(engine.pending(), 0);
    }

    #[test]
    fn a_wake_inside_a_turn_is_polled_in_that_turn() {
        let engine: Engine<u32> = Engine::new(|_| panic!("no remote wake expected"));
        let (gate, state) = gate();
        assert!(engine
            .turn(
                || engine.start(
                    1,
                    Box::pin(async move {
                        gate.await;
                        Ok(1)
                    })
                ),
                || false
            )
            .is_empty());
        assert_eq!(engine.pending(), 1);
        let done = engine.turn(|| open(&state), || false);
        assert_eq!(done.len(), 1);
        assert_eq!(engine.pending(), 0);
    }

    #[test]
    fn a_wake_outside_a_turn_goes_through_remote() {
        let woken = Arc::new(AtomicU32::new(0));
        let seen = woken.clone();
        let engine: Engine<u32> = Engine::new(move |id| seen.store(id, Ordering::SeqCst));
        let (gate, state) = gate();
        engine.turn(
            || {
                engine.start(
                    9,
                    Box::pin(async move {
                        gate.await;
                        Ok(9)
                    }),
                )
            },
            || false,
        );
        std::thread::spawn(move || open(&state)).join().unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 9);
        let done = engine.turn(|| engine.wake(9), || false);
        assert_eq!(done.len(), 1);
    }

    #[test]
    fn a_panicking_call_fails_with_an_internal_error() {
        let engine: Engine<u32> = Engine::new(|_| {});
        let done = engine.turn(|| engine.start(3, Box::pin(async { panic!("bug") })), || false);
        assert_eq!(done[0].1.as_ref().err().map(|e| e.code.as_str()), Some(code::INTERNAL));
    }
}
