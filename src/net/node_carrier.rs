//! The Node carrier: Node's own sockets (`lib/sockets.js`), where the core
//! cannot own sockets (Windows, Bun, Deno, or by choice). JavaScript only
//! opens, writes and closes connections and runs one timer; the raw bytes it
//! receives come back to the same pool and reader as the libuv carrier's
//! (`Io::Connected`, `Io::Data`, `Io::Closed`, `Io::Timer`). TLS is Node's.
//!
//! Calls into JavaScript happen inside the host's turn; the functions called
//! never call the core back before they return (their sockets' events come
//! later, from Node's loop).

use napi::bindgen_prelude::{Buffer, FnArgs, FunctionRef};
use napi::{sys, Env};

use super::pool::{Bytes, ConnId};
use super::Carrier;

/// `open(conn, host, port, https)`.
pub type OpenFn = FunctionRef<FnArgs<(u32, String, u32, bool)>, ()>;
/// `write(conn, bytes)`.
pub type WriteFn = FunctionRef<FnArgs<(u32, Buffer)>, ()>;
/// `close(conn)`.
pub type CloseFn = FunctionRef<u32, ()>;
/// `arm(delayMs)`: report the timer after that long; -1: never.
pub type ArmFn = FunctionRef<f64, ()>;
/// `closeAll()`: close every connection.
pub type CloseAllFn = FunctionRef<(), ()>;

/// The functions of `lib/sockets.js` the carrier calls.
pub struct Hooks {
    pub open: OpenFn,
    pub write: WriteFn,
    pub close: CloseFn,
    pub close_all: CloseAllFn,
    pub arm: ArmFn,
}

pub struct NodeCarrier {
    env: sys::napi_env,
    hooks: std::rc::Rc<Hooks>,
    host: String,
    port: u16,
    https: bool,
}

impl NodeCarrier {
    pub fn new(env: sys::napi_env, hooks: std::rc::Rc<Hooks>, host: String, port: u16, https: bool) -> Self {
        NodeCarrier {
            env,
            hooks,
            host,
            port,
            https,
        }
    }

    fn env(&self) -> Env {
        Env::from_raw(self.env)
    }
}

fn id(conn: ConnId) -> Result<u32, String> {
    u32::try_from(conn).map_err(|_| "too many connections".to_string())
}

impl Carrier for NodeCarrier {
    fn open(&mut self, conn: ConnId) -> Result<(), String> {
        let env = self.env();
        let open = self.hooks.open.borrow_back(&env).map_err(|e| e.reason)?;
        let args = (id(conn)?, self.host.clone(), u32::from(self.port), self.https);
        open.call(FnArgs::from(args))
            .map_err(|e| format!("could not open a connection: {}", e.reason))
    }

    fn write(&mut self, conn: ConnId, bytes: Bytes) -> Result<(), String> {
        let env = self.env();
        let write = self.hooks.write.borrow_back(&env).map_err(|e| e.reason)?;
        // The pool keeps its copy, to send it again on a new connection.
        let bytes = Buffer::from(bytes.as_slice().to_vec());
        write
            .call(FnArgs::from((id(conn)?, bytes)))
            .map_err(|e| format!("could not write the request: {}", e.reason))
    }

    fn close(&mut self, conn: ConnId) {
        let env = self.env();
        if let (Ok(close), Ok(conn)) = (self.hooks.close.borrow_back(&env), id(conn)) {
            let _ = close.call(conn);
        }
    }

    fn close_all(&mut self) {
        let env = self.env();
        if let Ok(close_all) = self.hooks.close_all.borrow_back(&env) {
            let _ = close_all.call(());
        }
    }

    fn arm(&mut self, at: Option<u64>, now: u64) {
        let delay = at.map_or(-1.0, |at| at.saturating_sub(now) as f64);
        let env = self.env();
        if let Ok(arm) = self.hooks.arm.borrow_back(&env) {
            let _ = arm.call(delay);
        }
    }
}
