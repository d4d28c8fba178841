//! Messages from the core to the shim, delivered to the JS thread without
//! waiting for it: warnings for the app's operators, debug notes, and the
//! events the store emits. Each crosses as `{ kind, text }`, never as text
//! the shim would have to pick apart.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;
use napi_derive::napi;
use std::sync::Arc;

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
}

impl Logger {
    pub fn new(js: Option<JsLog>) -> Self {
        Logger { js: js.map(Arc::new) }
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
        if let Some(js) = &self.js {
            js.call(CoreMessage { kind, text }, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}
