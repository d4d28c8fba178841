//! Messages for the app's `log` hook (or console.warn when it has none),
//! delivered to the JS thread without waiting for it.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use std::sync::Arc;

use napi::Status;

/// Weak: a pending message never keeps Node alive.
pub type JsLog = ThreadsafeFunction<String, (), String, Status, false, true>;

#[derive(Default, Clone)]
pub struct Logger {
    js: Option<Arc<JsLog>>,
}

impl Logger {
    pub fn new(js: Option<JsLog>) -> Self {
        Logger { js: js.map(Arc::new) }
    }

    /// Something the app's operators should act on (also shown without a hook).
    pub fn warn(&self, message: impl std::fmt::Display) {
        self.send(format!("warn: {message}"));
    }

    pub fn debug(&self, message: impl std::fmt::Display) {
        self.send(format!("debug: {message}"));
    }

    /// An event the shim emits on the store ('connect', 'disconnect').
    pub fn event(&self, name: &str) {
        self.send(format!("event: {name}"));
    }

    fn send(&self, message: String) {
        if let Some(js) = &self.js {
            js.call(message, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}
