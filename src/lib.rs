//! connect-dynamodb-rs: the native core of a DynamoDB session store for
//! express-session. This file is the N-API surface; the work happens in the
//! modules below it.
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod breaker;
mod client;
mod codec;
mod credentials;
mod engine;
mod error;
mod layout;
mod logger;
mod options;
mod payload;
mod recent;
mod sigv4;
mod stats;
mod store;
mod table;
mod transport;
mod trust;
mod wire;
mod wire_json;

use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{
    within_runtime_if_available, Buffer, Either, FnArgs, Function, FunctionRef, JsObjectValue, Object, Promise,
    ToNapiValue, Unknown,
};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{sys, Env, Result, Status, ValueType};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::client::{JsClient, JsClientConfig, JsCredentials};
use crate::engine::Engine;
use crate::error::{code, StoreError, StoreResult};
use crate::logger::{CoreMessage, Logger};
use crate::options::{StoreOptions, KNOWN_OPTIONS};
use crate::stats::Stats;
use crate::store::users::UserArg;
use crate::store::{CookieTimes, Found, Store};
use crate::transport::{JsTransport, Lost, Reply};

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

/// One live session as `all()` returns it.
#[napi(object)]
pub struct StoredSession {
    pub sid: String,
    pub sess: String,
}

/// A stored session: its JSON and its expiry (epoch seconds).
#[napi(object)]
pub struct FoundSession {
    pub sess: String,
    pub expires: Option<f64>,
    /// With `versioning`: the version read, for the save that follows.
    pub version: Option<f64>,
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

/// One live session of a user as `listSessionsForUser()` returns it.
#[napi(object)]
pub struct UserSessionInfo {
    pub sid: String,
    /// Epoch seconds.
    pub expires: i64,
}

/// What a call of the engine resolves with.
pub enum Answer {
    Nothing,
    Session(Option<FoundSession>),
    Number(Option<f64>),
    Text(String),
}

impl From<Option<Found>> for Answer {
    fn from(found: Option<Found>) -> Self {
        Answer::Session(found.map(|found| FoundSession {
            sess: found.sess,
            expires: found.expires,
            version: found.version,
        }))
    }
}

impl ToNapiValue for Answer {
    unsafe fn to_napi_value(env: sys::napi_env, answer: Self) -> Result<sys::napi_value> {
        match answer {
            Answer::Nothing => <()>::to_napi_value(env, ()),
            Answer::Session(found) => Option::<FoundSession>::to_napi_value(env, found),
            Answer::Number(number) => Option::<f64>::to_napi_value(env, number),
            Answer::Text(text) => String::to_napi_value(env, text),
        }
    }
}

/// Where the transport connects, once the store knows (after its first call).
#[napi(object)]
pub struct TransportEndpoint {
    pub https: bool,
    pub host: String,
    pub port: u32,
    pub connect_timeout_ms: f64,
}

/// `send(requestId, bytes, timeoutMs)`: JavaScript sends a request on its pool.
type SendArgs = FnArgs<(u32, Buffer, f64)>;
type SendFn = FunctionRef<SendArgs, ()>;
/// `done(callId, errorCode, errorMessage, value)`: a call of the engine finished.
type DoneArgs = FnArgs<(u32, Option<String>, Option<String>, Answer)>;
type DoneFn = FunctionRef<DoneArgs, ()>;
/// `wake(callId)` from any thread: JavaScript answers with `poll(callId)`.
type WakeFn = ThreadsafeFunction<u32, (), u32, Status, false, true>;

/// The native half of `DynamoDBStore`. Sessions cross as JSON strings.
/// The session calls run on the engine (see engine.rs): each takes the
/// caller's call id and finishes through `done`.
#[napi]
pub struct NativeStore {
    store: Arc<Store>,
    engine: Engine<Answer>,
    transport: Arc<JsTransport>,
    send: SendFn,
    done: DoneFn,
    wake: Arc<Mutex<WakeFn>>,
    logger: Logger,
    log: Option<FunctionRef<CoreMessage, ()>>,
}

#[napi]
impl NativeStore {
    /// `client_config` and `client_credentials` are the async providers of a
    /// JS SDK client the app passed in; without them the store connects from
    /// its own options and the AWS default chain. `send`, `done` and `wake`
    /// connect the engine to the shim's transport (lib/engine.js).
    #[napi(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        options: Option<Object>,
        client_config: Option<Function<(), Promise<JsClientConfig>>>,
        client_credentials: Option<Function<(), Promise<JsCredentials>>>,
        log: Option<Function<CoreMessage, ()>>,
        send: Function<SendArgs, ()>,
        done: Function<DoneArgs, ()>,
        wake: Function<u32, ()>,
    ) -> Result<Self> {
        let raw = match options {
            Some(object) => read_options(&object)?,
            None => Map::new(),
        };
        let options = StoreOptions::parse(&raw, |path| std::fs::read_to_string(path))?;
        let js_client = match (client_config, client_credentials) {
            (Some(config), Some(credentials)) => Some(JsClient {
                config: config.build_threadsafe_function().weak::<true>().build()?,
                credentials: Arc::new(credentials.build_threadsafe_function().weak::<true>().build()?),
            }),
            _ => None,
        };
        let (logger, log) = match log {
            Some(log) => (
                Logger::new(Some(log.build_threadsafe_function().weak::<true>().build()?)),
                Some(log.create_ref()?),
            ),
            None => (Logger::default(), None),
        };
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
        Ok(NativeStore {
            store: Arc::new(Store::new(
                options,
                js_client,
                Arc::new(transport.clone()),
                logger.clone(),
            )),
            logger,
            log,
            engine: Engine::new(remote),
            transport,
            send: send.create_ref()?,
            done: done.create_ref()?,
            wake,
        })
    }

    /// One turn of the engine: `first`, then every call that can go on; then
    /// the requests it queued go to `send`, the messages it raised to `log`,
    /// and the calls that ended to `done`. A JS function that throws (an app's
    /// event listener) stops none of the others: every call still ends, and
    /// the first error is returned once all are handed over.
    fn turn(&self, env: &Env, first: impl FnOnce()) -> Result<()> {
        let finished = within_runtime_if_available(|| self.engine.turn(first));
        let mut first_error = self.keep_alive(env).err();
        let mut note = |result: Result<()>| {
            if let Err(err) = result {
                first_error.get_or_insert(err);
            }
        };
        let outgoing = self.transport.take_outgoing();
        if !outgoing.is_empty() {
            let send = self.send.borrow_back(env)?;
            for request in outgoing {
                let id = request.id;
                let sent = send.call(FnArgs::from((id, Buffer::from(request.bytes), request.timeout_ms)));
                if let Err(err) = &sent {
                    // Its call must not wait for a reply that will never come.
                    let why = format!("the request could not be handed to the transport: {}", err.reason);
                    self.transport.deliver(id, Err(Lost::Network(why)));
                }
                note(sent);
            }
        }
        if let Some(log) = &self.log {
            let held = self.logger.take_held();
            if !held.is_empty() {
                let log = log.borrow_back(env)?;
                held.into_iter().for_each(|message| note(log.call(message)));
            }
        }
        if !finished.is_empty() {
            let done = self.done.borrow_back(env)?;
            for (id, result) in finished {
                let args = match result {
                    Ok(answer) => (id, None, None, answer),
                    Err(err) => (id, Some(err.code), Some(err.message), Answer::Nothing),
                };
                note(done.call(FnArgs::from(args)));
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

    /// Starts call `id` (the caller's number) on the store, under its breaker.
    fn start<F>(&self, env: &Env, id: u32, call: impl FnOnce(Arc<Store>) -> F) -> Result<()>
    where
        F: std::future::Future<Output = StoreResult<Answer>> + Send + 'static,
    {
        let call = call(self.store.clone());
        self.turn(env, || self.engine.start(id, Box::pin(call)))
    }

    /// The reply to request `request_id`, as the transport read it.
    #[napi]
    pub fn reply(
        &self,
        env: Env,
        request_id: u32,
        status: u32,
        date: Option<String>,
        error_type: Option<String>,
        body: Buffer,
    ) -> Result<()> {
        let reply = Reply {
            status: u16::try_from(status).unwrap_or(0),
            date,
            error_type,
            body: body.to_vec(),
        };
        self.turn(&env, || self.transport.deliver(request_id, Ok(reply)))
    }

    /// Request `request_id` got no reply: it timed out (`why` empty: the
    /// attempt's limit; else what timed out) or its connection failed.
    #[napi]
    pub fn lost(&self, env: Env, request_id: u32, timed_out: bool, why: String) -> Result<()> {
        let lost = if timed_out {
            Lost::Timeout(why)
        } else {
            Lost::Network(why)
        };
        self.turn(&env, || self.transport.deliver(request_id, Err(lost)))
    }

    /// Answers `wake(call_id)`: polls that call (0: only sends what is queued).
    #[napi]
    pub fn poll(&self, env: Env, call_id: u32) -> Result<()> {
        self.turn(&env, || self.engine.wake(call_id))
    }

    /// Where the transport connects; null until the store has connected.
    #[napi(getter)]
    pub fn endpoint(&self) -> Option<TransportEndpoint> {
        let wire = self.store.wire()?;
        let endpoint = wire.endpoint();
        Some(TransportEndpoint {
            https: endpoint.https,
            host: endpoint.host.clone(),
            port: u32::from(endpoint.port),
            connect_timeout_ms: wire.limits().connect.as_millis() as f64,
        })
    }

    /// The validated `reapInterval` (ms); the shim runs the timer.
    #[napi(getter)]
    pub fn reap_interval(&self) -> f64 {
        self.store.options().reap_interval_ms
    }

    #[napi(getter)]
    pub fn table(&self) -> String {
        self.store.options().table.clone()
    }

    #[napi(getter)]
    pub fn prefix(&self) -> String {
        self.store.options().prefix.clone()
    }

    #[napi(getter)]
    pub fn hash_key(&self) -> String {
        self.store.options().hash_key.clone()
    }

    #[napi(getter)]
    pub fn connection(&self) -> ConnectionInfo {
        let connection = &self.store.options().connection;
        let credentials = connection.credentials.as_ref();
        ConnectionInfo {
            region: connection.region.clone(),
            endpoint: connection.endpoint.clone(),
            access_key_id: credentials.map(|c| c.access_key_id.clone()),
            secret_access_key: credentials.map(|c| c.secret_access_key.clone()),
            session_token: credentials.and_then(|c| c.session_token.clone()),
        }
    }

    #[napi]
    pub async fn initialize(&self) -> Result<()> {
        Ok(self.store.guarded(self.store.initialize()).await?)
    }

    /// DescribeTable's answer (DynamoDB's JSON) for `describeSessionsTable`.
    #[napi]
    pub fn describe_table(&self, env: Env, id: u32) -> Result<()> {
        self.start(&env, id, |store| async move {
            store.guarded(store.describe_table()).await.map(Answer::Text)
        })
    }

    #[napi]
    pub async fn create_table(&self) -> Result<()> {
        Ok(self.store.guarded(self.store.create_table()).await?)
    }

    /// `getParsedSession`: the session JSON of an item in DynamoDB JSON, or null.
    #[napi]
    pub fn parse_item(&self, item_json: String) -> Option<String> {
        self.store.parse_item(&item_json)
    }

    /// `getExpiresValue`: the `expires` a save now would write, in epoch seconds.
    #[napi]
    pub fn expires_value(&self, cookie_expires: Option<f64>, max_age: Option<f64>, ttl: Option<f64>) -> f64 {
        let options = self.store.options();
        let stored = self
            .store
            .expires_at(codec::now_ms(), cookie_times(cookie_expires, max_age, ttl));
        options.layout.seconds(stored as f64)
    }

    /// The item layout (`format`), so the JS side can describe it.
    #[napi(getter)]
    pub fn format(&self) -> String {
        self.store.options().layout.name().to_string()
    }

    /// The stored session, or null.
    #[napi]
    pub fn get(&self, env: Env, id: u32, sid: String) -> Result<()> {
        self.start(&env, id, |store| async move {
            store.guarded(store.get(&sid)).await.map(Answer::from)
        })
    }

    /// `ttl` is the app's `ttl(session)` answer, when `ttl` is a function.
    /// With `versioning`, `version` is the version read; resolves the new one.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn set(
        &self,
        env: Env,
        id: u32,
        sid: String,
        sess: String,
        cookie_expires: Option<f64>,
        max_age: Option<f64>,
        ttl: Option<f64>,
        version: Option<f64>,
    ) -> Result<()> {
        let times = cookie_times(cookie_expires, max_age, ttl);
        self.start(&env, id, |store| async move {
            store
                .guarded(store.set(&sid, sess, times, version))
                .await
                .map(Answer::Number)
        })
    }

    #[napi(getter)]
    pub fn versioning(&self) -> bool {
        self.store.options().versioning
    }

    /// `verification` is the JSON of the value the session's
    /// lockVerificationProperty must still hold.
    #[napi]
    /// Resolves the lease's owner token.
    pub async fn lock(&self, sid: String, verification: String) -> Result<String> {
        Ok(self.store.guarded(self.store.lock(&sid, &verification)).await?)
    }

    /// True when a lease was released; false when none of ours was there.
    #[napi]
    pub async fn unlock(&self, sid: String, token: Option<String>) -> Result<bool> {
        Ok(self.store.guarded(self.store.unlock(&sid, token.as_deref())).await?)
    }

    #[napi]
    pub async fn holds_lock(&self, sid: String, token: String) -> Result<bool> {
        Ok(self.store.guarded(self.store.holds_lock(&sid, &token)).await?)
    }

    /// The new expiry in epoch seconds, or null when no live session exists.
    #[napi]
    pub fn touch(
        &self,
        env: Env,
        id: u32,
        sid: String,
        cookie_expires: Option<f64>,
        max_age: Option<f64>,
        ttl: Option<f64>,
    ) -> Result<()> {
        let times = cookie_times(cookie_expires, max_age, ttl);
        self.start(&env, id, |store| async move {
            let expires = store.guarded(store.touch(&sid, times)).await?;
            Ok(Answer::Number(expires.map(|seconds| seconds as f64)))
        })
    }

    /// Counts since the store was made, and the capacity DynamoDB reported.
    #[napi]
    pub fn stats(&self) -> StoreStats {
        let stats = self.store.stats();
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

    #[napi]
    pub fn destroy(&self, env: Env, id: u32, sid: String) -> Result<()> {
        self.start(&env, id, |store| async move {
            store.guarded(store.destroy(&sid)).await.map(|()| Answer::Nothing)
        })
    }

    #[napi]
    pub async fn all(&self) -> Result<Vec<StoredSession>> {
        let sessions = self.store.guarded(self.store.all()).await?;
        Ok(sessions
            .into_iter()
            .map(|(sid, sess)| StoredSession { sid, sess })
            .collect())
    }

    #[napi]
    pub async fn ids(&self) -> Result<Vec<String>> {
        Ok(self.store.guarded(self.store.ids()).await?)
    }

    #[napi]
    pub async fn length(&self) -> Result<u32> {
        Ok(self.store.guarded(self.store.length()).await?)
    }

    #[napi]
    pub async fn clear(&self) -> Result<u32> {
        Ok(self.store.guarded(self.store.clear()).await?)
    }

    #[napi]
    pub async fn reap(&self) -> Result<u32> {
        Ok(self.store.guarded(self.store.reap()).await?)
    }

    #[napi]
    pub async fn ensure_user_index(&self) -> Result<()> {
        Ok(self.store.guarded(self.store.ensure_user_index()).await?)
    }

    #[napi]
    pub async fn list_sessions_for_user(&self, user: Either<String, f64>) -> Result<Vec<UserSessionInfo>> {
        let sessions = self.store.guarded(self.store.sessions_for_user(user_arg(user))).await?;
        Ok(sessions
            .into_iter()
            .map(|(sid, expires)| UserSessionInfo { sid, expires })
            .collect())
    }

    /// Destroys the user's sessions except `keep_sid`; resolves how many.
    #[napi]
    pub async fn destroy_sessions_for_user(&self, user: Either<String, f64>, keep_sid: Option<String>) -> Result<u32> {
        let keep = keep_sid.as_deref();
        Ok(self
            .store
            .guarded(self.store.destroy_sessions_for_user(user_arg(user), keep))
            .await?)
    }

    /// Later calls fail with ERR_STORE_CLOSED; calls in flight finish.
    #[napi]
    pub fn close(&self) {
        self.store.close();
    }
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

/// Copies the known options into plain JSON values, so that validating them
/// is pure Rust. A value JSON cannot hold (a function, a symbol) is refused
/// here, naming the option.
fn read_options(object: &Object) -> Result<Map<String, Value>> {
    let mut map = Map::new();
    for &name in KNOWN_OPTIONS {
        let value: Unknown = object.get_named_property_unchecked(name)?;
        let unsupported = match value.get_type()? {
            ValueType::Undefined => continue,
            ValueType::Function | ValueType::Symbol | ValueType::External | ValueType::BigInt => true,
            _ => false,
        };
        let converted = if unsupported {
            None
        } else {
            unsafe { value.cast::<Value>() }.ok()
        };
        match converted {
            Some(json) => map.insert(name.to_string(), json),
            None => {
                let err = StoreError::new(
                    code::INVALID_OPTION,
                    format!("option \"{name}\" has an unsupported type"),
                );
                return Err(err.into());
            }
        };
    }
    Ok(map)
}
