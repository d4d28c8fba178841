//! Messages for the app's `log` hook (or console.warn when it has none),
//! delivered to the JS thread without waiting for it.

use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::Status;

/// Weak: a pending message never keeps Node alive.
pub type JsLog = ThreadsafeFunction<String, (), String, Status, false, true>;

#[derive(Default)]
pub struct Logger {
    js: Option<JsLog>,
}

impl Logger {
    pub fn new(js: Option<JsLog>) -> Self {
        Logger { js }
    }

    /// Something the app's operators should act on (also shown without a hook).
    pub fn warn(&self, message: impl std::fmt::Display) {
        self.send(format!("warn: {message}"));
    }

    pub fn debug(&self, message: impl std::fmt::Display) {
        self.send(format!("debug: {message}"));
    }

    fn send(&self, message: String) {
        if let Some(js) = &self.js {
            js.call(message, ThreadsafeFunctionCallMode::NonBlocking);
        }
    }
}
