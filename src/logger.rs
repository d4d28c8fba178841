//! Messages from the core to the shim: warnings for the app's operators,
//! debug notes, and the events the store emits. Each crosses as `{ kind,
//! text }`, never as text the shim would have to pick apart. A message from
//! an engine turn is held and handed over at the end of that turn, before
//! the calls it concerns settle; one from another thread is queued to the JS
//! thread without waiting for it.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use std::sync::{Arc, Mutex};

#[napi(string_enum = "lowercase")]
pub enum MessageKind {
    /// Something to act on: the shim also shows it when the app has no `log` hook.
    Warn,
    Debug,
    /// `connect` or `disconnect`, emitted on the store (express-session listens).
    Event,
}

#[napi(object)]
pub struct CoreMessage {
    pub kind: MessageKind,
    pub text: String,
}

/// Weak: a pending message never keeps Node alive.
pub type JsLog = ThreadsafeFunction<CoreMessage, (), CoreMessage, Status, false, true>;

#[derive(Default, Clone)]
pub struct Logger {
    js: Option<Arc<JsLog>>,
    held: Arc<Mutex<Vec<CoreMessage>>>,
}

impl Logger {
    pub fn new(js: Option<JsLog>) -> Self {
        Logger {
            js: js.map(Arc::new),
            held: Arc::default(),
        }
    }

    /// The messages of the turn that is ending.
    pub fn take_held(&self) -> Vec<CoreMessage> {
        self.held
            .lock()
            .map(|mut held| std::mem::take(&mut *held))
            .unwrap_or_default()
    }

    pub fn warn(&self, text: impl std::fmt::Display) {
        self.send(MessageKind::Warn, text.to_string());
    }

    pub fn debug(&self, text: impl std::fmt::Display) {
        self.send(MessageKind::Debug, text.to_string());
    }

    pub fn event(&self, name: &str) {
        self.send(MessageKind::Event, name.to_string());
    }

    fn send(&self, kind: MessageKind, text: String) {
        let Some(js) = &self.js else {
            return;
        };
        let message = CoreMessage { kind, text };
        if crate::engine::in_turn() {
            if let Ok(mut held) = self.held.lock() {
                return held.push(message);
            }
        }
        js.call(message, ThreadsafeFunctionCallMode::NonBlocking);
    }
}
