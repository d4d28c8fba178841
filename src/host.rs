//! The engine's host on Node's thread: it runs the engine's turns, hands the
//! requests a turn queued to the network (`net/`), and hands what the turn
//! produced to JavaScript (the calls that ended, the core's messages).
//!
//! A turn starts from JavaScript (a call starts, a wake is answered, Node's
//! sockets report) or from libuv, when one of the core's own sockets is
//! ready or a time limit runs out. A turn started by libuv runs inside a
//! callback scope, as Node's own stream callbacks do: promises settled in it
//! resolve, `process.nextTick` callbacks run, and an exception thrown by the
//! app's callback is an uncaught exception, exactly as on a Node socket.
//!
//! Nothing from the network may unwind into libuv or N-API: every use of the
//! network is guarded, and a panic in it fails every request the network
//! held with ERR_INTERNAL and starts a fresh one for the next request.

use std::cell::{Cell, RefCell};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr;
use std::rc::{Rc, Weak};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::{within_runtime_if_available, FnArgs, FunctionRef, JsError};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Result, Status};
use napi_derive::napi;

use crate::answer::Answer;
use crate::engine::Engine;
use crate::logger::{CoreMessage, Logger};
use crate::net::node_carrier::{self, NodeCarrier};
use crate::net::pool::Settings;
use crate::net::{Carrier, Delivery, Io, Lost, Net};
use crate::store::Store;
use crate::trace;
use crate::transport::JsTransport;

/// Connections per store at most, whichever carrier.
pub const MAX_SOCKETS: usize = 128;
/// An idle connection is closed after this long (DynamoDB's own limit is longer).
const IDLE_MS: u64 = 30_000;

/// `done(callId, errorCode, errorMessage, value, endMs, version, exact)`: a
/// call of the engine finished (the last three only for a session read:
/// when it ends, epoch ms; its version; whether the end is to the ms).
pub type DoneArgs = FnArgs<(
    u32,
    Option<String>,
    Option<String>,
    Answer,
    Option<f64>,
    Option<f64>,
    bool,
)>;
pub type DoneFn = FunctionRef<DoneArgs, ()>;
/// `wake(callId)` from any thread: JavaScript answers with `poll(callId)`.
pub type WakeFn = ThreadsafeFunction<u32, (), u32, Status, false, true>;
/// `trustedCertificates()`: the PEM certificates Node trusts, for HTTPS on both ways to DynamoDB.
pub type CertificatesFn = FunctionRef<(), Vec<String>>;

/// Which carrier moves the store's bytes (chosen once, by the shim).
pub enum Carriers {
    /// The core's own sockets, watched by libuv (`net/uv_carrier.rs`).
    #[cfg(unix)]
    Own,
    /// Node's sockets (`net/node_carrier.rs`, `lib/sockets.js`).
    Node(Rc<node_carrier::Hooks>),
}

/// One attempt's start or end, as `trace(events)` hands it to lib/diagnostics.js.
#[napi(object)]
pub struct TraceEvent {
    /// The engine's id of the call it serves.
    pub call: u32,
    /// Which of that call's DynamoDB calls: its attempts share it.
    pub sequence: u32,
    /// "start" or "end".
    pub kind: String,
    /// DynamoDB's name of the operation (`GetItem`).
    pub operation: String,
    pub attempt: u32,
    /// When, in epoch ms.
    pub time: f64,
    pub region: Option<String>,
    pub host: Option<String>,
    pub consistent_read: Option<bool>,
    pub status_code: Option<u32>,
    pub request_id: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    /// DynamoDB's `ConsumedCapacity`, as its JSON.
    pub consumed_capacity: Option<String>,
    pub retry_after_ms: Option<f64>,
}

impl From<trace::Event> for TraceEvent {
    fn from(event: trace::Event) -> Self {
        let mut out = TraceEvent {
            call: event.call,
            sequence: event.sequence,
            kind: String::new(),
            operation: event.operation.to_string(),
            attempt: event.attempt,
            time: event.time_ms,
            region: None,
            host: None,
            consistent_read: None,
            status_code: None,
            request_id: None,
            error_type: None,
            error_message: None,
            consumed_capacity: None,
            retry_after_ms: None,
        };
        match event.what {
            trace::What::Start {
                region,
                host,
                consistent_read,
            } => {
                out.kind = "start".into();
                (out.region, out.host) = (Some(region), Some(host));
                out.consistent_read = Some(consistent_read);
            }
            trace::What::End(ended) => {
                out.kind = "end".into();
                out.status_code = ended.status.map(u32::from);
                out.request_id = ended.request_id;
                out.error_type = ended.error_type;
                out.error_message = ended.error_message;
                out.consumed_capacity = ended.consumed_capacity;
                out.retry_after_ms = ended.retry_after_ms;
            }
        }
        out
    }
}

pub struct Host {
    env: sys::napi_env,
    engine: Engine<Answer>,
    outbox: Arc<JsTransport>,
    carriers: Carriers,
    certificates: CertificatesFn,
    /// What `certificates()` answered, read before the first call starts.
    trust: Arc<OnceLock<Vec<String>>>,
    /// Opened by the first request (the endpoint is known by then).
    net: RefCell<Option<Net>>,
    /// A lookup off the loop finished: the next turn tells the network.
    looked_up: Arc<AtomicBool>,
    closing: Cell<bool>,
    store: Arc<Store>,
    done: DoneFn,
    log: Option<FunctionRef<CoreMessage, ()>>,
    logger: Logger,
    /// What traced calls recorded (trace.rs), for `trace`.
    traces: trace::Sink,
    trace: Option<FunctionRef<Vec<TraceEvent>, ()>>,
    wake: Arc<Mutex<WakeFn>>,
    scope: CallbackScope,
    me: Weak<Host>,
}

pub struct Parts {
    pub engine: Engine<Answer>,
    pub outbox: Arc<JsTransport>,
    pub carriers: Carriers,
    pub certificates: CertificatesFn,
    pub trust: Arc<OnceLock<Vec<String>>>,
    pub store: Arc<Store>,
    pub done: DoneFn,
    pub log: Option<FunctionRef<CoreMessage, ()>>,
    pub logger: Logger,
    pub traces: trace::Sink,
    pub trace: Option<FunctionRef<Vec<TraceEvent>, ()>>,
    pub wake: Arc<Mutex<WakeFn>>,
}

impl Host {
    pub fn new(env: &Env, parts: Parts) -> Result<Rc<Host>> {
        let scope = CallbackScope::new(env)?;
        Ok(Rc::new_cyclic(|me| Host {
            env: env.raw(),
            engine: parts.engine,
            outbox: parts.outbox,
            carriers: parts.carriers,
            certificates: parts.certificates,
            trust: parts.trust,
            net: RefCell::new(None),
            looked_up: Arc::new(AtomicBool::new(false)),
            closing: Cell::new(false),
            store: parts.store,
            done: parts.done,
            log: parts.log,
            logger: parts.logger,
            traces: parts.traces,
            trace: parts.trace,
            wake: parts.wake,
            scope,
            me: me.clone(),
        }))
    }

    pub fn engine(&self) -> &Engine<Answer> {
        &self.engine
    }

    /// The PEM certificates the store trusts (both its ways to DynamoDB):
    /// `certificates()`, asked once, before the first call needs them.
    pub fn trust(&self) -> Result<&[String]> {
        if self.trust.get().is_none() {
            let env = Env::from_raw(self.env);
            let pems = self.certificates.borrow_back(&env)?.call(())?;
            let _ = self.trust.set(pems);
        }
        Ok(self.trust.get().map_or(&[][..], Vec::as_slice))
    }

    /// One turn of the engine: `first`, then every call that can go on, with
    /// the requests they queue carried as they are queued; then the messages
    /// the turn raised go to `log` and the calls that ended to `done`. A JS
    /// function that throws (an app's callback or event listener) stops none
    /// of the others: every call still ends, and the first error is returned
    /// once all are handed over.
    pub fn turn(&self, first: impl FnOnce()) -> Result<()> {
        match catch_unwind(AssertUnwindSafe(|| self.run_turn(first))) {
            Ok(result) => result,
            Err(_) => {
                self.poisoned();
                Err(napi::Error::new(
                    Status::GenericFailure,
                    "the store failed unexpectedly",
                ))
            }
        }
    }

    fn run_turn(&self, first: impl FnOnce()) -> Result<()> {
        let env = Env::from_raw(self.env);
        let finished = within_runtime_if_available(|| self.engine.turn(first, || self.carry()));
        let mut first_error = self.keep_alive(&env).err();
        let mut note = |result: Result<()>| {
            if let Err(err) = result {
                first_error.get_or_insert(err);
            }
        };
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
        // Taken every turn, so that nothing piles up even without a listener to hand it to.
        let events = trace::take(&self.traces);
        if let (Some(trace), false) = (&self.trace, events.is_empty()) {
            match trace.borrow_back(&env) {
                Ok(trace) => note(trace.call(events.into_iter().map(TraceEvent::from).collect())),
                Err(err) => note(Err(err)),
            }
        }
        if !finished.is_empty() {
            let done = self.done.borrow_back(&env)?;
            for (id, result) in finished {
                let args = match result.map(Answer::into_parts) {
                    Ok((value, end, version, exact)) => (id, None, None, value, end, version, exact),
                    Err(err) => (
                        id,
                        Some(err.code),
                        Some(err.message),
                        Answer::Nothing,
                        None,
                        None,
                        false,
                    ),
                };
                note(done.call(FnArgs::from(args)));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// An event of the network's I/O, in a turn (Node's sockets report this way).
    pub fn on_io(&self, io: Io<'_>) -> Result<()> {
        self.turn(|| {
            self.use_net(false, |net| net.io(io));
        })
    }

    /// No connection is kept any more: the requests the network has finish
    /// (retries too), then every connection closes.
    pub fn close(&self) -> Result<()> {
        self.closing.set(true);
        self.turn(|| {
            self.use_net(false, Net::close);
        })
    }

    /// The environment is ending (a worker stops): the network goes now,
    /// closing every handle it holds.
    pub fn teardown(&self) {
        if let Ok(mut net) = self.net.try_borrow_mut() {
            let _ = catch_unwind(AssertUnwindSafe(|| drop(net.take())));
        }
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

    /// Between the engine's polls, once the calls have judged the replies
    /// they got: closes the idle connections if a reply was for something
    /// else, hands free connections to waiting requests, and the queued
    /// requests (and a finished lookup) to the network; true when some calls
    /// got their answer at once.
    fn carry(&self) -> bool {
        let distrusted = self.outbox.take_distrust();
        let outgoing = self.outbox.take_outgoing();
        let looked_up = self.looked_up.swap(false, Ordering::AcqRel);
        let waiting = self
            .net
            .try_borrow()
            .is_ok_and(|net| net.as_ref().is_some_and(Net::has_waiting));
        if outgoing.is_empty() && !looked_up && !distrusted && !waiting {
            return false;
        }
        self.use_net(!outgoing.is_empty(), |net| {
            let mut delivered = if distrusted { net.drop_idle() } else { Vec::new() };
            if looked_up {
                delivered.extend(net.io(Io::Wake));
            }
            delivered.extend(net.dispatch());
            for request in outgoing {
                let timeout_ms = if request.timeout_ms > 0.0 {
                    request.timeout_ms as u64
                } else {
                    0
                };
                delivered.extend(net.send(request.id, request.bytes, timeout_ms, request.max_reply));
            }
            delivered
        })
    }

    /// Runs `work` on the network (opened first when `open` and there is
    /// none) and hands its deliveries to their calls; true when there were
    /// any. A panic in it fails every request the network held, and the
    /// network is dropped.
    fn use_net(&self, open: bool, work: impl FnOnce(&mut Net) -> Vec<Delivery>) -> bool {
        let delivered = match self.net.try_borrow_mut() {
            Ok(mut slot) => {
                if slot.is_none() && open {
                    match self.open_net() {
                        // A retry after close() still goes out, on a network that keeps nothing open.
                        Ok(mut net) => {
                            if self.closing.get() {
                                net.close();
                            }
                            *slot = Some(net)
                        }
                        Err(why) => {
                            self.outbox.fail_all(&Lost::network(why).unsent());
                            return true;
                        }
                    }
                }
                let Some(net) = slot.as_mut() else {
                    return false;
                };
                match catch_unwind(AssertUnwindSafe(|| work(net))) {
                    Ok(delivered) => {
                        if self.closing.get() && net.is_empty() {
                            let _ = catch_unwind(AssertUnwindSafe(|| drop(slot.take())));
                        }
                        delivered
                    }
                    Err(_) => {
                        let _ = catch_unwind(AssertUnwindSafe(|| {
                            if let Some(mut net) = slot.take() {
                                net.abandon();
                            }
                        }));
                        self.poisoned();
                        return true;
                    }
                }
            }
            // The network is in use further up this stack: a carrier called
            // back into the core, which it must never do.
            Err(_) => {
                self.poisoned();
                return true;
            }
        };
        let any = !delivered.is_empty();
        for (id, answer) in delivered {
            self.outbox.deliver(id, answer);
        }
        any
    }

    fn poisoned(&self) {
        self.logger
            .warn("the store's network failed unexpectedly; its requests fail with ERR_INTERNAL");
        self.outbox
            .fail_all(&Lost::internal("the store's network failed unexpectedly"));
    }

    fn open_net(&self) -> std::result::Result<Net, String> {
        let wire = self.store.shared().wire().ok_or("the store is not connected yet")?;
        let endpoint = wire.endpoint();
        let connect_ms = u64::try_from(wire.limits().connect.as_millis()).unwrap_or(u64::MAX);
        let settings = Settings {
            max_conns: MAX_SOCKETS,
            idle_ms: IDLE_MS,
            connect_ms,
            label: format!("{}:{}", endpoint.host, endpoint.port),
        };
        let carrier: Box<dyn Carrier> = match &self.carriers {
            #[cfg(unix)]
            Carriers::Own => Box::new(self.own_carrier(endpoint)?),
            Carriers::Node(hooks) => Box::new(NodeCarrier::new(
                self.env,
                hooks.clone(),
                endpoint.host.clone(),
                endpoint.port,
                endpoint.https,
            )),
        };
        Ok(Net::new(settings, carrier))
    }

    #[cfg(unix)]
    fn own_carrier(
        &self,
        endpoint: &crate::wire::Endpoint,
    ) -> std::result::Result<crate::net::uv_carrier::UvCarrier, String> {
        use crate::net::uv_carrier::{Events, Target, UvCarrier};
        use crate::net::{tls, uv};
        let tls = if endpoint.https {
            let pems = self
                .trust()
                .map_err(|e| format!("could not read the trusted certificates: {}", e.reason))?;
            Some(tls::client_config(pems)?)
        } else {
            None
        };
        let target = Target {
            host: endpoint.host.clone(),
            port: endpoint.port,
            tls,
        };
        let mut event_loop = ptr::null_mut();
        let status = unsafe { sys::napi_get_uv_event_loop(self.env, &mut event_loop) };
        if status != sys::Status::napi_ok || event_loop.is_null() {
            return Err("Node's event loop is not available to the store".into());
        }
        let me = self.me.clone();
        let handles = uv::Handles::new(self.env, move || {
            if let Some(host) = me.upgrade() {
                host.teardown();
            }
        });
        let (looked_up, wake) = (self.looked_up.clone(), self.wake.clone());
        let wake = Arc::new(move || {
            looked_up.store(true, Ordering::Release);
            if let Ok(wake) = wake.lock() {
                wake.call(0, ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
        let events: Weak<dyn Events> = self.me.clone();
        UvCarrier::new(event_loop as *mut uv::uv_loop_t, target, events, handles, wake)
    }
}

/// libuv's events, each a turn in a callback scope. An error a JS function
/// threw goes to Node as an uncaught exception, as it would from a socket's
/// callback; nothing unwinds into libuv.
#[cfg(unix)]
impl crate::net::uv_carrier::Events for Host {
    fn io(&self, io: Io<'_>) {
        let _ = catch_unwind(AssertUnwindSafe(|| self.scope.run(self.env, || self.on_io(io))));
    }
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
    #[cfg_attr(not(unix), allow(dead_code))]
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
