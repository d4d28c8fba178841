//! connect-dynamodb-rs: the native core of a DynamoDB session store for
//! express-session. This file is the N-API surface; the work happens in the
//! modules below it.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod answer;
mod breaker;
mod client;
mod codec;
mod credentials;
mod engine;
mod error;
mod expiry;
mod host;
mod item;
mod layout;
mod logger;
mod net;
mod options;
mod payload;
mod recent;
mod schema;
mod sigv4;
mod stats;
mod store;
mod table;
mod trace;
mod transport;
mod wire;
mod wire_json;

use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use napi::bindgen_prelude::{BufferSlice, Either, Function, JsObjectValue, Object, Promise, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Result, ValueType};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::answer::Answer;
use crate::client::{JsClient, JsClientConfig, JsCredentials};
use crate::codec::UserArg;
use crate::engine::Engine;
use crate::error::{code, StoreError, StoreResult};
use crate::expiry::CookieTimes;
use crate::host::{Carriers, DoneArgs, Host, TraceEvent};
use crate::item::now_ms;
use crate::logger::{CoreMessage, Logger};
use crate::net::node_carrier;
use crate::net::Io;
use crate::options::{StoreOptions, OPTIONS};
use crate::stats::Stats;
use crate::store::devices::Device;
use crate::store::Store;
use crate::transport::JsTransport;

/// Added to a call's id: record its attempts (the shim's ids stay below it).
const TRACED: u32 = 0x8000_0000;

/// Whether the core carries requests on its own sockets here (libuv poll handles on a Unix socket).
const OWN_SOCKETS: bool = cfg!(unix);

/// One small runtime for the process, whatever the core count: a session
/// store's calls are I/O-bound. `CONNECT_DYNAMODB_RS_WORKER_THREADS` overrides.
#[napi_derive::module_init]
fn init_runtime() {
    let workers = std::env::var("CONNECT_DYNAMODB_RS_WORKER_THREADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name("connect-dynamodb-rs")
        .enable_all()
        .build();
    // Should building fail, napi falls back to its own default runtime.
    if let Ok(runtime) = runtime {
        napi::bindgen_prelude::create_custom_tokio_runtime(runtime);
    }
}

/// The connection settings given in the options, for building a JS SDK client
/// that matches the store (`store.client` when the app passed none).
#[napi(object)]
pub struct ConnectionInfo {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
}

/// `store.stats()`, in the shape the shim hands to the app.
#[napi(object)]
pub struct StoreStats {
    /// Calls sent to DynamoDB, per operation.
    pub operations: OperationCounts,
    /// Touches and unchanged saves that sent nothing (touchAfter).
    pub skipped_writes: f64,
    /// Unchanged saves sent as a touch instead of the whole item.
    pub downgraded_sets: f64,
    pub retries: f64,
    pub consumed_capacity: ConsumedCapacity,
}

#[napi(object)]
pub struct OperationCounts {
    pub get: f64,
    pub set: f64,
    pub touch: f64,
    pub destroy: f64,
}

#[napi(object)]
pub struct ConsumedCapacity {
    pub read_units: f64,
    pub write_units: f64,
}

/// The native half of `DynamoDBStore`. Sessions cross as JSON strings.
/// Every call runs on the engine (see engine.rs and host.rs): it takes the
/// caller's call id and finishes through `done`.
#[napi]
pub struct NativeStore {
    store: Arc<Store>,
    host: Rc<Host>,
    /// Where traced calls record their attempts (trace.rs).
    traces: trace::Sink,
}

#[napi]
impl NativeStore {
    /// Everything the shim hands the core, in one object (lib/store.js makes it):
    /// - `options`: the options the core reads;
    /// - `clientConfig`, `clientCredentials`: the async providers of a JS SDK
    ///   client the app passed in (without them the store connects from its
    ///   own options and the AWS default chain);
    /// - `log`: the core's messages; `done` and `wake`: the engine's half in
    ///   JavaScript (lib/engine.js); `trace`: each traced call's attempts
    ///   (lib/diagnostics.js), at the end of the turn they happened in;
    /// - `certificates`: the PEM certificates to trust for HTTPS, on both
    ///   ways to DynamoDB (asked once, before the first call);
    /// - `sockets` (`{ open, write, close, closeAll, arm }`): Node's sockets
    ///   (lib/sockets.js) carry the requests; without it, the core's own do;
    /// - `sessionMetadata`: the app passed that hook, so saves carry device fields.
    #[napi(constructor)]
    pub fn new(env: Env, parts: Object) -> Result<Self> {
        let raw = match parts.get::<Object>("options")? {
            Some(object) => read_options(&object)?,
            None => Map::new(),
        };
        // A bug in the option rules fails the constructor, never the process.
        let parsed = std::panic::catch_unwind(|| StoreOptions::parse(&raw, |path| std::fs::read_to_string(path)));
        let mut options = parsed.map_err(|_| StoreError::new(code::INTERNAL, "the options could not be read"))??;
        // The shim's `sessionMetadata` hook sends device fields with every save.
        options.devices |= parts.get::<bool>("sessionMetadata")? == Some(true);
        let client_config: Option<Function<(), Promise<JsClientConfig>>> = parts.get("clientConfig")?;
        let client_credentials: Option<Function<(), Promise<JsCredentials>>> = parts.get("clientCredentials")?;
        let js_client = match (client_config, client_credentials) {
            (Some(config), Some(credentials)) => Some(JsClient {
                config: config.build_threadsafe_function().weak::<true>().build()?,
                credentials: Arc::new(credentials.build_threadsafe_function().weak::<true>().build()?),
            }),
            _ => None,
        };
        let (logger, log) = match parts.get::<Function<CoreMessage, ()>>("log")? {
            Some(log) => (
                Logger::new(Some(log.build_threadsafe_function().weak::<true>().build()?)),
                Some(log.create_ref()?),
            ),
            None => (Logger::default(), None),
        };
        let trace = match parts.get::<Function<Vec<TraceEvent>, ()>>("trace")? {
            Some(trace) => Some(trace.create_ref()?),
            None => None,
        };
        let done: Function<DoneArgs, ()> = parts.get_named_property("done")?;
        let wake: Function<u32, ()> = parts.get_named_property("wake")?;
        let certificates: Function<(), Vec<String>> = parts.get_named_property("certificates")?;
        let wake = Arc::new(Mutex::new(wake.build_threadsafe_function().weak::<true>().build()?));
        let remote = {
            let wake = wake.clone();
            move |id: u32| {
                if let Ok(wake) = wake.lock() {
                    wake.call(id, ThreadsafeFunctionCallMode::NonBlocking);
                }
            }
        };
        let transport = Arc::new(JsTransport::default());
        // A request queued by a tokio task: id 0 asks JavaScript for a turn that sends it.
        let flush = remote.clone();
        transport.set_notify(Arc::new(move || flush(0)));
        let carriers = match parts.get::<Object>("sockets")? {
            Some(sockets) => Carriers::Node(Rc::new(node_carrier::Hooks {
                open: hook(&sockets, "open")?,
                write: hook(&sockets, "write")?,
                close: hook(&sockets, "close")?,
                close_all: hook(&sockets, "closeAll")?,
                arm: hook(&sockets, "arm")?,
            })),
            #[cfg(unix)]
            None => Carriers::Own,
            #[cfg(not(unix))]
            None => {
                let why = "no carrier: pass sockets where the store's own sockets do not run";
                return Err(StoreError::new(code::INTERNAL, why).into());
            }
        };
        let trust = Arc::new(OnceLock::new());
        let traces = trace::Sink::default();
        let store = Arc::new(Store::new(
            options,
            js_client,
            Arc::new(transport.clone()),
            logger.clone(),
            trust.clone(),
        ));
        let host = Host::new(
            &env,
            host::Parts {
                engine: Engine::new(remote),
                outbox: transport.clone(),
                carriers,
                certificates: certificates.create_ref()?,
                trust,
                store: store.clone(),
                done: done.create_ref()?,
                log,
                logger,
                traces: traces.clone(),
                trace,
                wake,
            },
        )?;
        Ok(NativeStore { store, host, traces })
    }

    /// Starts call `id` (the caller's number) on the store, under its
    /// breaker. An id with `TRACED` added asks for the call's attempts to be
    /// recorded (a `diagnostics_channel` subscriber listens).
    fn start<F>(&self, id: u32, call: impl FnOnce(Arc<Store>) -> F) -> Result<()>
    where
        F: std::future::Future<Output = StoreResult<Answer>> + Send + 'static,
    {
        self.host.trust()?;
        let (traced, id) = (id & TRACED != 0, id & !TRACED);
        let (store, call) = (self.store.clone(), call(self.store.clone()));
        let call = async move { store.shared().guarded(call).await };
        let call: engine::Call<Answer> = if traced {
            Box::pin(trace::traced(id, self.traces.clone(), call))
        } else {
            Box::pin(call)
        };
        let engine = self.host.engine();
        self.host.turn(|| engine.start(id, call))
    }

    /// Node's sockets (lib/sockets.js): connection `conn` is up.
    #[napi]
    pub fn connected(&self, conn: u32) -> Result<()> {
        self.host.on_io(Io::Connected(conn as usize))
    }

    /// Node's sockets: bytes arrived on `conn`; `sent_all`: all written to it has left.
    #[napi]
    pub fn data(&self, conn: u32, bytes: BufferSlice, sent_all: bool) -> Result<()> {
        self.host.on_io(Io::Data {
            conn: conn as usize,
            bytes: &bytes,
            sent_all,
        })
    }

    /// Node's sockets: `conn` closed, by the peer (`why` null) or failing.
    #[napi]
    pub fn closed(&self, conn: u32, why: Option<String>) -> Result<()> {
        self.host.on_io(Io::Closed {
            conn: conn as usize,
            why,
        })
    }

    /// Node's sockets: the time the network asked for (`arm`) has come.
    #[napi]
    pub fn timer(&self) -> Result<()> {
        self.host.on_io(Io::Timer)
    }

    /// Answers `wake(call_id)`: polls that call (0: only sends what is queued).
    #[napi]
    pub fn poll(&self, call_id: u32) -> Result<()> {
        let engine = self.host.engine();
        self.host.turn(|| engine.wake(call_id))
    }

    /// Every option the store takes, as declared in options/table.rs.
    #[napi]
    pub fn option_table() -> Vec<OptionInfo> {
        OPTIONS
            .iter()
            .map(|spec| OptionInfo {
                name: spec.name.to_string(),
                aliases: spec.aliases.iter().map(|alias| alias.to_string()).collect(),
                takes: spec.takes.to_string(),
                default: spec.default.describe(),
                shim: spec.shim,
                meaning: spec.meaning.to_string(),
            })
            .collect()
    }

    /// Every call the store answers on the engine, as declared below: the
    /// shim makes the store's methods from it.
    #[napi]
    pub fn operation_table() -> Vec<OperationInfo> {
        OPERATIONS
            .iter()
            .map(|op| OperationInfo {
                method: op.method.to_string(),
                native: camel_case(op.native),
                args: op.args.iter().map(|kind| kind.to_string()).collect(),
                answer: op.answer.to_string(),
                admin: op.admin,
            })
            .collect()
    }

    /// Whether this build can carry requests on the core's own sockets.
    #[napi]
    pub fn own_sockets() -> bool {
        OWN_SOCKETS
    }

    /// The validated `reapInterval` (ms); the shim runs the timer.
    #[napi(getter)]
    pub fn reap_interval(&self) -> f64 {
        self.store.shared().options.reap_interval_ms
    }

    #[napi(getter)]
    pub fn table(&self) -> String {
        self.store.shared().options.table.clone()
    }

    #[napi(getter)]
    pub fn prefix(&self) -> String {
        self.store.shared().options.prefix.clone()
    }

    #[napi(getter)]
    pub fn hash_key(&self) -> String {
        self.store.shared().options.hash_key.clone()
    }

    #[napi(getter)]
    pub fn connection(&self) -> ConnectionInfo {
        let connection = &self.store.shared().options.connection;
        let credentials = connection.credentials.as_ref();
        ConnectionInfo {
            region: connection.region.clone(),
            endpoint: connection.endpoint.clone(),
            access_key_id: credentials.map(|c| c.access_key_id.clone()),
            secret_access_key: credentials.map(|c| c.secret_access_key.clone()),
            session_token: credentials.and_then(|c| c.session_token.clone()),
        }
    }

    /// The item layout (`format`), so the JS side can describe it.
    #[napi(getter)]
    pub fn format(&self) -> String {
        self.store.shared().options.layout.name().to_string()
    }

    /// Whether saves should carry the device's fields (the user index is on,
    /// or the shim has a `sessionMetadata` hook).
    #[napi(getter)]
    pub fn devices(&self) -> bool {
        self.store.shared().options.devices
    }

    #[napi(getter)]
    pub fn versioning(&self) -> bool {
        self.store.shared().options.versioning
    }

    /// `getParsedSession`: the session JSON of an item in DynamoDB JSON, or null.
    #[napi]
    pub fn parse_item(&self, item_json: String) -> Option<String> {
        self.store.shared().parse_item(&item_json)
    }

    /// `getExpiresValue`: the `expires` a save now would write, in epoch seconds.
    #[napi]
    pub fn expires_value(&self, cookie_expires: Option<f64>, max_age: Option<f64>, ttl: Option<f64>) -> f64 {
        let shared = self.store.shared();
        let end = shared.end_at(now_ms(), cookie_times(cookie_expires, max_age, ttl));
        shared.options.layout.reported_seconds(end)
    }

    /// Counts since the store was made, and the capacity DynamoDB reported.
    #[napi]
    pub fn stats(&self) -> StoreStats {
        let stats = &self.store.shared().stats;
        StoreStats {
            operations: OperationCounts {
                get: Stats::load(&stats.gets),
                set: Stats::load(&stats.sets),
                touch: Stats::load(&stats.touches),
                destroy: Stats::load(&stats.destroys),
            },
            skipped_writes: Stats::load(&stats.skipped_writes),
            downgraded_sets: Stats::load(&stats.downgraded_sets),
            retries: Stats::load(&stats.retries),
            consumed_capacity: ConsumedCapacity {
                read_units: stats.read_capacity_units(),
                write_units: stats.write_capacity_units(),
            },
        }
    }

    /// Later calls fail with ERR_STORE_CLOSED; calls in flight finish, then
    /// every connection closes.
    #[napi]
    pub fn close(&self) -> Result<()> {
        self.store.shared().close();
        self.host.close()
    }
}

/// Declares each call the store answers on the engine once: its N-API method
/// (taking the call's id, then its arguments; it starts the call under the
/// breaker and its answer goes to `done`) and its row of `OPERATIONS`, from
/// which the shim makes the store's method of that name and checks its
/// arguments by kind (lib/operations.js). `admin` calls are the command
/// line's, not the store's methods.
macro_rules! operations {
    ($(
        $(#[doc = $doc:literal])*
        $method:literal $($admin:ident)? => fn $native:ident($($arg:ident: $ty:ty = $kind:literal),*)
            -> $answer:literal |$store:ident| $body:expr;
    )*) => {
        /// Every call of the engine: its JS method, its N-API name, its arguments' kinds and its answer's.
        const OPERATIONS: &[Operation] = &[$(Operation {
            method: $method,
            native: stringify!($native),
            args: &[$($kind),*],
            answer: $answer,
            admin: operations!(@admin $($admin)?),
        }),*];

        #[napi]
        impl NativeStore {
            $(
                $(#[doc = $doc])*
                #[napi]
                #[allow(clippy::too_many_arguments)]
                pub fn $native(&self, id: u32, $($arg: $ty),*) -> Result<()> {
                    self.start(id, move |$store| async move { $body.map(Answer::from) })
                }
            )*
        }
    };
    (@admin admin) => { true };
    (@admin) => { false };
}

operations! {
    /// Makes sure the table exists (creating it if needed) and is ACTIVE.
    "initialize" => fn initialize() -> "nothing" |store| store.shared().initialize().await;
    /// DescribeTable's answer, as DynamoDB's JSON.
    "describeSessionsTable" => fn describe_sessions_table() -> "table" |store| store.shared().describe_table().await;
    "createSessionsTable" => fn create_sessions_table() -> "nothing" |store| store.shared().create_table().await;
    /// The stored session, or null.
    "get" => fn get(sid: String = "sid") -> "session" |store| store.sessions().get(&sid).await;
    /// With `versioning`, `version` is the version read; resolves the new one.
    /// `ttl` is the app's `ttl(session)` answer, when `ttl` is a function.
    "set" => fn set(
        sid: String = "sid",
        sess: String = "session",
        cookie_expires: Option<f64> = "ms?",
        max_age: Option<f64> = "ms?",
        ttl: Option<f64> = "ms?",
        version: Option<f64> = "version?",
        device: Option<String> = "device?"
    ) -> "value" |store| {
        let times = cookie_times(cookie_expires, max_age, ttl);
        match device.map(|json| Device::from_json(&json)).transpose() {
            Ok(device) => store.sessions().set(&sid, sess, times, version, device.flatten()).await,
            Err(err) => Err(err),
        }
    };
    /// The new expiry in epoch seconds, or null when no live session exists.
    "touch" => fn touch(
        sid: String = "sid",
        cookie_expires: Option<f64> = "ms?",
        max_age: Option<f64> = "ms?",
        ttl: Option<f64> = "ms?"
    ) -> "expiry" |store| {
        let times = cookie_times(cookie_expires, max_age, ttl);
        store.sessions().touch(&sid, times).await.map(|end| end.map(|seconds| seconds as f64))
    };
    "destroy" => fn destroy(sid: String = "sid") -> "nothing" |store| store.sessions().destroy(&sid).await;
    /// `verification` is the JSON of the value the session's
    /// lockVerificationProperty must still hold. Resolves the lease's owner token.
    "lock" => fn lock(sid: String = "sid", verification: String = "json") -> "value"
        |store| store.locks().lock(&sid, &verification).await;
    /// True when a lease was released; false when none of ours was there.
    "unlock" => fn unlock(sid: String = "sid", token: Option<String> = "token?") -> "value"
        |store| store.locks().unlock(&sid, token.as_deref()).await;
    "holdsLock" => fn holds_lock(sid: String = "sid", token: String = "token") -> "value"
        |store| store.locks().holds_lock(&sid, &token).await;
    /// Every live session as `{ sid, sess }`.
    "all" => fn all() -> "sessions" |store| store.scans().all().await;
    "ids" => fn ids() -> "value" |store| store.scans().ids().await;
    "length" => fn length() -> "value" |store| store.scans().length().await;
    "clear" => fn clear() -> "value" |store| store.scans().clear().await;
    "reap" => fn reap() -> "value" |store| store.scans().reap().await;
    "ensureUserIndex" => fn ensure_user_index() -> "nothing" |store| store.users().ensure_index().await;
    /// The user's live sessions as `{ sid, expires }` (epoch seconds).
    "listSessionsForUser" => fn list_sessions_for_user(user: Either<String, f64> = "user") -> "userSessions"
        |store| store.users().sessions_for_user(user_arg(user)).await;
    /// Ends the session `sid` if it is a live session of `user`.
    "destroySessionForUser" => fn destroy_session_for_user(user: Either<String, f64> = "user", sid: String = "sid")
        -> "nothing" |store| store.users().destroy_session_for_user(user_arg(user), &sid).await;
    /// Destroys the user's sessions but `keep_sid`; resolves how many.
    "destroyOtherSessionsForUser" => fn destroy_other_sessions_for_user(
        user: Either<String, f64> = "user",
        keep_sid: String = "sid"
    ) -> "value" |store| store.users().destroy_sessions_for_user(user_arg(user), Some(&keep_sid)).await;
    /// Destroys every session of the user; resolves how many.
    "destroyAllSessionsForUser" => fn destroy_all_sessions_for_user(user: Either<String, f64> = "user") -> "value"
        |store| store.users().destroy_sessions_for_user(user_arg(user), None).await;
    /// Moves the session `old_sid` to `new_sid` in one transaction, leaving a tombstone behind.
    "rotate" => fn rotate(old_sid: String = "sid", new_sid: String = "sid") -> "nothing"
        |store| store.rotation().rotate(&old_sid, &new_sid).await;
    /// One page of the table, each item classified.
    "scanPage" admin => fn scan_page(start: Option<String> = "text?", limit: u32 = "count", measure: bool = "flag")
        -> "value" |store| store.admin().scan_page(start, limit, measure).await;
    /// Moves the session at `key` from the other layout (keys `from_prefix` + sid) to this store's.
    "moveToLayout" admin => fn move_to_layout(key: String = "text", from_prefix: String = "text") -> "value"
        |store| store.admin().move_to_layout(&key, &from_prefix).await;
    /// Deletes the items with these table keys; resolves how many.
    "deleteKeys" admin => fn delete_keys(keys: Vec<String> = "keys") -> "value"
        |store| store.admin().delete_keys(keys).await;
    "ttlSetting" admin => fn ttl_setting() -> "value" |store| store.admin().ttl_setting().await;
    /// Which of the actions the store needs are allowed (each tried harmlessly).
    "probePermissions" admin => fn probe_permissions() -> "value" |store| store.admin().probe_permissions().await;
}

/// One call of the engine, as `operations!` declares it.
struct Operation {
    method: &'static str,
    native: &'static str,
    args: &'static [&'static str],
    answer: &'static str,
    admin: bool,
}

/// One call as `NativeStore.operationTable()` lists it.
#[napi(object)]
pub struct OperationInfo {
    /// The store's method (or, for `admin`, the command line's).
    pub method: String,
    /// The N-API method that starts it.
    pub native: String,
    /// Each argument's kind: what the shim checks and passes (`?`: may be left out).
    pub args: Vec<String>,
    /// How the shim shapes the answer.
    pub answer: String,
    pub admin: bool,
}

/// `snake_case` as N-API names it: `camelCase`.
fn camel_case(name: &str) -> String {
    let mut words = name.split('_');
    let first = words.next().unwrap_or_default().to_string();
    words.fold(first, |mut out, word| {
        let mut chars = word.chars();
        if let Some(c) = chars.next() {
            out.extend(c.to_uppercase());
            out.push_str(chars.as_str());
        }
        out
    })
}

/// The function `name` of the sockets object, held for the carrier.
fn hook<Args: napi::bindgen_prelude::JsValuesTupleIntoVec>(
    object: &Object,
    name: &str,
) -> Result<napi::bindgen_prelude::FunctionRef<Args, ()>> {
    let function: Function<Args, ()> = object.get_named_property(name)?;
    function.create_ref()
}

fn cookie_times(expires_ms: Option<f64>, max_age_ms: Option<f64>, ttl_ms: Option<f64>) -> CookieTimes {
    CookieTimes {
        expires_ms,
        max_age_ms,
        ttl_ms,
    }
}

fn user_arg(user: Either<String, f64>) -> UserArg {
    match user {
        Either::A(text) => UserArg::Text(text),
        Either::B(number) => UserArg::Number(number),
    }
}

/// Copies the options the core reads (each under its own name, whichever of
/// its names was given) into plain JSON values, so that validating them is
/// pure Rust. A value JSON cannot hold (a function, a symbol) is refused here,
/// naming the option; two names of one option with different values too.
fn read_options(object: &Object) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for spec in OPTIONS.iter().filter(|spec| !spec.shim) {
        let mut given: Option<(&str, Value)> = None;
        for &name in std::iter::once(&spec.name).chain(spec.aliases) {
            let Some(value) = read_option(object, name)? else {
                continue;
            };
            match &given {
                Some((first, seen)) if *seen != value => return Err(options::same_thing_twice(first, name).into()),
                Some(_) => {}
                None => given = Some((name, value)),
            }
        }
        if let Some((_, value)) = given {
            map.insert(spec.name.to_string(), value);
        }
    }
    Ok(map)
}

/// One option's value as JSON; None when it is undefined.
fn read_option(object: &Object, name: &str) -> Result<Option<Value>> {
    let value: Unknown = object.get_named_property_unchecked(name)?;
    let unsupported = match value.get_type()? {
        ValueType::Undefined => return Ok(None),
        ValueType::Function | ValueType::Symbol | ValueType::External | ValueType::BigInt => true,
        _ => false,
    };
    let converted = if unsupported {
        None
    } else {
        unsafe { value.cast::<Value>() }.ok()
    };
    match converted {
        Some(json) => Ok(Some(json)),
        None => {
            let err = StoreError::new(
                code::INVALID_OPTION,
                format!("option \"{name}\" has an unsupported type"),
            );
            Err(err.into())
        }
    }
}

/// One option as `NativeStore.optionTable()` lists it.
#[napi(object)]
pub struct OptionInfo {
    pub name: String,
    pub aliases: Vec<String>,
    pub takes: String,
    /// As the options table (docs/options.md) shows it.
    pub default: String,
    /// Read by the shim (a function or the SDK client), not the core.
    pub shim: bool,
    /// What it does, in markdown, as docs/options.md shows it; empty for an
    /// option documented only as an alias (`region`, `endpoint`).
    pub meaning: String,
}
