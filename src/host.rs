//! The engine's host on Node's thread: it runs the engine's turns, carries
//! the requests a turn queued, and hands what the turn produced to
//! JavaScript (the calls that ended, the core's messages).
//!
//! A turn starts from JavaScript (a call starts, a wake is answered) or from
//! libuv, when one of the store's sockets is readable or a time limit runs
//! out. A turn started by libuv runs inside a callback scope, as Node's own
//! stream callbacks do: promises settled in it resolve, `process.nextTick`
//! callbacks run, and an exception thrown by the app's callback is an
//! uncaught exception, exactly as on a Node socket.

#[cfg(unix)]
use std::cell::RefCell;
#[cfg(unix)]
use std::ffi::c_int;
#[cfg(unix)]
use std::net::SocketAddr;
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{within_runtime_if_available, Buffer, FnArgs, FunctionRef, JsError};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{sys, Env, Result, Status};

use crate::engine::Engine;
use crate::logger::{CoreMessage, Logger};
#[cfg(unix)]
use crate::sockets::{self, Delivery, Events, Pool};
use crate::store::Store;
use crate::transport::{JsTransport, Lost};
use crate::Answer;
#[cfg(unix)]
use crate::{tls, uv};

/// `send(requestId, bytes, timeoutMs)`: Node's sockets carry a request (lib/transport.js).
pub type SendArgs = FnArgs<(u32, Buffer, f64)>;
pub type SendFn = FunctionRef<SendArgs, ()>;
/// `done(callId, errorCode, errorMessage, value, expires, version)`: a call
/// of the engine finished (the last two only for a session read).
pub type DoneArgs = FnArgs<(u32, Option<String>, Option<String>, Answer, Option<f64>, Option<f64>)>;
pub type DoneFn = FunctionRef<DoneArgs, ()>;
/// `wake(callId)` from any thread: JavaScript answers with `poll(callId)`.
pub type WakeFn = ThreadsafeFunction<u32, (), u32, Status, false, true>;
/// `trustedCertificates()`: the PEM certificates Node trusts, for HTTPS on the core's sockets.
pub type CertificatesFn = FunctionRef<(), Vec<String>>;

/// Who carries the bytes of a request.
pub enum Carrier {
    /// The core's own sockets, watched by libuv (`sockets.rs`).
    #[cfg(unix)]
    Sockets {
        /// Opened by the first request (the endpoint is known by then).
        pool: Box<RefCell<Option<Pool>>>,
        certificates: CertificatesFn,
    },
    /// Node's sockets (`lib/transport.js`), where the core's cannot run.
    Node(SendFn),
}

pub struct Host {
    env: sys::napi_env,
    engine: Engine<Answer>,
    outbox: Arc<JsTransport>,
    carrier: Carrier,
    store: Arc<Store>,
    done: DoneFn,
    log: Option<FunctionRef<CoreMessage, ()>>,
    logger: Logger,
    wake: Arc<Mutex<WakeFn>>,
    scope: CallbackScope,
    me: Weak<Host>,
}

pub struct Parts {
    pub engine: Engine<Answer>,
    pub outbox: Arc<JsTransport>,
    pub carrier: Carrier,
    pub store: Arc<Store>,
    pub done: DoneFn,
    pub log: Option<FunctionRef<CoreMessage, ()>>,
    pub logger: Logger,
    pub wake: Arc<Mutex<WakeFn>>,
}

impl Host {
    pub fn new(env: &Env, parts: Parts) -> Result<Rc<Host>> {
        let scope = CallbackScope::new(env)?;
        Ok(Rc::new_cyclic(|me| Host {
            env: env.raw(),
            engine: parts.engine,
            outbox: parts.outbox,
            carrier: parts.carrier,
            store: parts.store,
            done: parts.done,
            log: parts.log,
            logger: parts.logger,
            wake: parts.wake,
            scope,
            me: me.clone(),
        }))
    }

    pub fn engine(&self) -> &Engine<Answer> {
        &self.engine
    }

    /// One turn of the engine: `first`, then every call that can go on, with
    /// the requests they queue carried as they are queued; then the messages
    /// the turn raised go to `log` and the calls that ended to `done`. A JS
    /// function that throws (an app's callback or event listener) stops none
    /// of the others: every call still ends, and the first error is returned
    /// once all are handed over.
    pub fn turn(&self, first: impl FnOnce()) -> Result<()> {
        let env = Env::from_raw(self.env);
        let finished = within_runtime_if_available(|| self.engine.turn(first, || self.carry()));
        let mut first_error = self.keep_alive(&env).err();
        let mut note = |result: Result<()>| {
            if let Err(err) = result {
                first_error.get_or_insert(err);
            }
        };
        if let Carrier::Node(send) = &self.carrier {
            note(self.send_on_node(&env, send));
        }
        if let Some(log) = &self.log {
            let held = self.logger.take_held();
            if !held.is_empty() {
                // Messages that cannot be handed over are dropped; the calls below still end.
                match log.borrow_back(&env) {
                    Ok(log) => held.into_iter().for_each(|message| note(log.call(message))),
                    Err(err) => note(Err(err)),
                }
            }
        }
        if !finished.is_empty() {
            let done = self.done.borrow_back(&env)?;
            for (id, result) in finished {
                let args = match result.map(Answer::into_parts) {
                    Ok((value, expires, version)) => (id, None, None, value, expires, version),
                    Err(err) => (id, Some(err.code), Some(err.message), Answer::Nothing, None, None),
                };
                note(done.call(FnArgs::from(args)));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// The JavaScript carrier: every queued request goes to `send`. One that
    /// cannot be handed over fails its call at once instead of leaving it waiting.
    fn send_on_node(&self, env: &Env, send: &SendFn) -> Result<()> {
        let outgoing = self.outbox.take_outgoing();
        if outgoing.is_empty() {
            return Ok(());
        }
        let send = send.borrow_back(env)?;
        let mut first_error = None;
        for request in outgoing {
            let id = request.id;
            let sent = send.call(FnArgs::from((id, Buffer::from(request.bytes), request.timeout_ms)));
            if let Err(err) = sent {
                let why = format!("the request could not be handed to the transport: {}", err.reason);
                self.outbox.deliver(id, Err(Lost::Network(why)));
                first_error.get_or_insert(err);
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// While calls are pending, a wake from another thread must keep Node alive.
    #[allow(deprecated)] // refer/unref toggle one function; clones would not
    fn keep_alive(&self, env: &Env) -> Result<()> {
        let Ok(mut wake) = self.wake.lock() else {
            return Ok(());
        };
        if self.engine.pending() > 0 {
            wake.refer(env)
        } else {
            wake.unref(env)
        }
    }

    /// Hands the queued requests to the core's sockets, inside the turn; true
    /// when some failed at once (their calls are ready again).
    #[cfg(not(unix))]
    fn carry(&self) -> bool {
        false
    }

    /// Closes the core's idle sockets (there are none here).
    #[cfg(not(unix))]
    pub fn close(&self) {}
}

#[cfg(unix)]
impl Host {
    /// Hands the queued requests to the core's sockets, inside the turn; true
    /// when some failed at once (their calls are ready again).
    fn carry(&self) -> bool {
        let Carrier::Sockets { pool, certificates } = &self.carrier else {
            return false;
        };
        let outgoing = self.outbox.take_outgoing();
        if outgoing.is_empty() {
            return false;
        }
        let mut delivered: Vec<Delivery> = Vec::new();
        let mut pool = match pool.try_borrow_mut() {
            Ok(pool) => pool,
            // Not reachable (the pool is never borrowed across a turn), but a
            // request taken from the outbox must end its call, never vanish.
            Err(_) => return self.lose(outgoing.iter().map(|r| r.id), "the store's sockets are busy"),
        };
        if pool.is_none() {
            match self.open_pool(certificates) {
                Ok(opened) => *pool = Some(opened),
                Err(why) => return self.lose(outgoing.iter().map(|r| r.id), &why),
            }
        }
        if let Some(pool) = pool.as_mut() {
            for request in outgoing {
                delivered.extend(pool.send(request));
            }
        }
        let any = !delivered.is_empty();
        self.deliver(delivered);
        any
    }

    fn open_pool(&self, certificates: &CertificatesFn) -> std::result::Result<Pool, String> {
        let wire = self.store.wire().ok_or("the store is not connected yet")?;
        let endpoint = wire.endpoint();
        let tls = if endpoint.https {
            let env = Env::from_raw(self.env);
            let pems = certificates
                .borrow_back(&env)
                .and_then(|get| get.call(()))
                .map_err(|e| format!("could not read Node's trusted certificates: {}", e.reason))?;
            Some(tls::client_config(&pems)?)
        } else {
            None
        };
        let target = sockets::Target {
            host: endpoint.host.clone(),
            port: endpoint.port,
            connect_timeout_ms: wire.limits().connect.as_millis() as u64,
            tls,
        };
        let event_loop = event_loop(self.env)?;
        let events: Weak<dyn Events> = self.me.clone();
        Pool::new(event_loop, target, events)
    }

    /// Ends the calls of these requests with a network loss; true (some were).
    fn lose(&self, ids: impl Iterator<Item = u32>, why: &str) -> bool {
        self.deliver(ids.map(|id| (id, Err(Lost::Network(why.to_string())))).collect());
        true
    }

    fn deliver(&self, delivered: Vec<Delivery>) {
        for (id, reply) in delivered {
            self.outbox.deliver(id, reply);
        }
    }

    /// Closes the core's idle sockets; requests still waiting fail.
    pub fn close(&self) {
        let Carrier::Sockets { pool, .. } = &self.carrier else {
            return;
        };
        let delivered = match pool.try_borrow_mut() {
            Ok(mut pool) => pool.as_mut().map(Pool::close).unwrap_or_default(),
            Err(_) => return,
        };
        if !delivered.is_empty() {
            let _ = self.turn(|| self.deliver(delivered));
        }
    }

    /// A turn for a libuv event, in a callback scope. An error a JS function
    /// threw goes to Node as an uncaught exception, as it would from a socket's callback.
    fn on_loop_event(&self, event: impl FnOnce(&mut Pool) -> Vec<Delivery>) {
        let Carrier::Sockets { pool, .. } = &self.carrier else {
            return;
        };
        self.scope.run(self.env, || {
            self.turn(|| {
                let delivered = match pool.try_borrow_mut() {
                    Ok(mut pool) => pool.as_mut().map(event).unwrap_or_default(),
                    Err(_) => Vec::new(),
                };
                self.deliver(delivered);
            })
        });
    }
}

#[cfg(unix)]
impl Events for Host {
    fn socket(&self, conn: usize, status: c_int, events: c_int) {
        self.on_loop_event(|pool| pool.on_socket(conn, status, events));
    }

    fn timer(&self) {
        self.on_loop_event(Pool::on_timer);
    }

    fn resolved(&self, addresses: std::result::Result<Vec<SocketAddr>, String>) {
        self.on_loop_event(|pool| pool.on_resolved(addresses));
    }
}

#[cfg(unix)]
fn event_loop(env: sys::napi_env) -> std::result::Result<*mut uv::uv_loop_t, String> {
    let mut event_loop = ptr::null_mut();
    let status = unsafe { sys::napi_get_uv_event_loop(env, &mut event_loop) };
    if status != sys::Status::napi_ok || event_loop.is_null() {
        return Err("Node's event loop is not available to the store".into());
    }
    Ok(event_loop as *mut uv::uv_loop_t)
}

/// An async context for the turns libuv starts (async_hooks see them as
/// `connect-dynamodb-rs` resources).
struct CallbackScope {
    env: sys::napi_env,
    context: sys::napi_async_context,
    resource: sys::napi_ref,
}

impl Drop for CallbackScope {
    fn drop(&mut self) {
        unsafe {
            sys::napi_async_destroy(self.env, self.context);
            sys::napi_delete_reference(self.env, self.resource);
        }
    }
}

impl CallbackScope {
    fn new(env: &Env) -> Result<Self> {
        let raw = env.raw();
        let mut resource = ptr::null_mut();
        let mut name = ptr::null_mut();
        let mut context = ptr::null_mut();
        let mut reference = ptr::null_mut();
        let label = "connect-dynamodb-rs";
        unsafe {
            check(sys::napi_create_object(raw, &mut resource))?;
            check(sys::napi_create_string_utf8(
                raw,
                label.as_ptr().cast(),
                label.len() as isize,
                &mut name,
            ))?;
            check(sys::napi_async_init(raw, resource, name, &mut context))?;
            check(sys::napi_create_reference(raw, resource, 1, &mut reference))?;
        }
        Ok(CallbackScope {
            env: raw,
            context,
            resource: reference,
        })
    }

    /// Runs `turn` as Node runs a callback from libuv: in a handle scope and
    /// a callback scope, whose end runs the microtasks and ticks it queued.
    fn run(&self, env: sys::napi_env, turn: impl FnOnce() -> Result<()>) {
        unsafe {
            let mut handles = ptr::null_mut();
            if sys::napi_open_handle_scope(env, &mut handles) != sys::Status::napi_ok {
                return;
            }
            let mut resource = ptr::null_mut();
            let mut scope = ptr::null_mut();
            let opened = sys::napi_get_reference_value(env, self.resource, &mut resource) == sys::Status::napi_ok
                && sys::napi_open_callback_scope(env, resource, self.context, &mut scope) == sys::Status::napi_ok;
            if let Err(err) = turn() {
                let value = JsError::from(err).into_value(env);
                sys::napi_fatal_exception(env, value);
            }
            if opened {
                sys::napi_close_callback_scope(env, scope);
            }
            sys::napi_close_handle_scope(env, handles);
        }
    }
}

fn check(status: sys::napi_status) -> Result<()> {
    if status == sys::Status::napi_ok {
        Ok(())
    } else {
        Err(napi::Error::new(
            Status::from(status),
            "could not set up the store's callback scope",
        ))
    }
}
