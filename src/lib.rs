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
mod transport;
mod trust;
mod wire;
mod wire_json;

use std::rc::Rc;
use std::sync::{Arc, Mutex};

use napi::bindgen_prelude::{BufferSlice, Either, Function, JsObjectValue, Object, Promise, Unknown};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, Result, ValueType};
use napi_derive::napi;
use serde_json::{Map, Value};

use crate::answer::{Answer, StoredSession, TtlInfo, UserSessionInfo};
use crate::client::{JsClient, JsClientConfig, JsCredentials};
use crate::codec::UserArg;
use crate::engine::Engine;
use crate::error::{code, StoreError, StoreResult};
use crate::expiry::CookieTimes;
use crate::host::{Carriers, DoneArgs, Host};
use crate::item::now_ms;
use crate::logger::{CoreMessage, Logger};
use crate::net::node_carrier;
use crate::net::Io;
use crate::options::{StoreOptions, OPTIONS};
use crate::stats::Stats;
use crate::store::devices::Device;
use crate::store::Store;
use crate::transport::JsTransport;

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
}

#[napi]
impl NativeStore {
    /// `client_config` and `client_credentials` are the async providers of a
    /// JS SDK client the app passed in; without them the store connects from
    /// its own options and the AWS default chain. `done` and `wake` connect
    /// the engine to the shim (lib/engine.js); the requests travel on the
    /// core's own sockets, which trust `certificates()` for HTTPS, or, given
    /// `sockets` (`{ open, write, close, arm }`), on Node's (lib/sockets.js).
    /// `metadata_hook`: the app passed `sessionMetadata`, so saves carry
    /// device fields.
    #[napi(constructor)]
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        env: Env,
        options: Option<Object>,
        client_config: Option<Function<(), Promise<JsClientConfig>>>,
        client_credentials: Option<Function<(), Promise<JsCredentials>>>,
        log: Option<Function<CoreMessage, ()>>,
        done: Function<DoneArgs, ()>,
        wake: Function<u32, ()>,
        certificates: Option<Function<(), Vec<String>>>,
        sockets: Option<Object>,
        metadata_hook: Option<bool>,
    ) -> Result<Self> {
        let raw = match options {
            Some(object) => read_options(&object)?,
            None => Map::new(),
        };
        // A bug in the option rules fails the constructor, never the process.
        let parsed = std::panic::catch_unwind(|| StoreOptions::parse(&raw, |path| std::fs::read_to_string(path)));
        let mut options = parsed.map_err(|_| StoreError::new(code::INTERNAL, "the options could not be read"))??;
        // The shim's `sessionMetadata` hook sends device fields with every save.
        options.devices |= metadata_hook == Some(true);
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
        let carriers = match (sockets, certificates) {
            (Some(sockets), _) => Carriers::Node(Rc::new(node_carrier::Hooks {
                open: hook(&sockets, "open")?,
                write: hook(&sockets, "write")?,
                close: hook(&sockets, "close")?,
                close_all: hook(&sockets, "closeAll")?,
                arm: hook(&sockets, "arm")?,
            })),
            #[cfg(unix)]
            (None, Some(certificates)) => Carriers::Own(certificates.create_ref()?),
            _ => {
                let why = "no carrier: pass sockets, or certificates where the store's own sockets run";
                return Err(StoreError::new(code::INTERNAL, why).into());
            }
        };
        let store = Arc::new(Store::new(
            options,
            js_client,
            Arc::new(transport.clone()),
            logger.clone(),
        ));
        let host = Host::new(
            &env,
            host::Parts {
                engine: Engine::new(remote),
                outbox: transport.clone(),
                carriers,
                store: store.clone(),
                done: done.create_ref()?,
                log,
                logger,
                wake,
            },
        )?;
        Ok(NativeStore { store, host })
    }

    /// Starts call `id` (the caller's number) on the store, under its breaker.
    fn start<F>(&self, id: u32, call: impl FnOnce(Arc<Store>) -> F) -> Result<()>
    where
        F: std::future::Future<Output = StoreResult<Answer>> + Send + 'static,
    {
        let (store, call) = (self.store.clone(), call(self.store.clone()));
        let call = Box::pin(async move { store.shared().guarded(call).await });
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

    #[napi]
    pub fn initialize(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            store.shared().initialize().await.map(|()| Answer::Nothing)
        })
    }

    /// DescribeTable's answer (DynamoDB's JSON) for `describeSessionsTable`.
    #[napi]
    pub fn describe_table(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            store.shared().describe_table().await.map(Answer::Text)
        })
    }

    #[napi]
    pub fn create_table(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            store.shared().create_table().await.map(|()| Answer::Nothing)
        })
    }

    /// `getParsedSession`: the session JSON of an item in DynamoDB JSON, or null.
    #[napi]
    pub fn parse_item(&self, item_json: String) -> Option<String> {
        self.store.shared().parse_item(&item_json)
    }

    /// `getExpiresValue`: the `expires` a save now would write, in epoch seconds.
    #[napi]
    pub fn expires_value(&self, cookie_expires: Option<f64>, max_age: Option<f64>, ttl: Option<f64>) -> f64 {
        let options = &self.store.shared().options;
        let end = self
            .store
            .shared()
            .end_at(now_ms(), cookie_times(cookie_expires, max_age, ttl));
        options.layout.reported_seconds(end)
    }

    /// The item layout (`format`), so the JS side can describe it.
    #[napi(getter)]
    pub fn format(&self) -> String {
        self.store.shared().options.layout.name().to_string()
    }

    /// The stored session, or null.
    #[napi]
    pub fn get(&self, id: u32, sid: String) -> Result<()> {
        self.start(id, |store| async move {
            store.sessions().get(&sid).await.map(Answer::Session)
        })
    }

    /// `ttl` is the app's `ttl(session)` answer, when `ttl` is a function.
    /// With `versioning`, `version` is the version read; resolves the new one.
    #[napi]
    #[allow(clippy::too_many_arguments)]
    pub fn set(
        &self,
        id: u32,
        sid: String,
        sess: String,
        cookie_expires: Option<f64>,
        max_age: Option<f64>,
        ttl: Option<f64>,
        version: Option<f64>,
        device: Option<String>,
    ) -> Result<()> {
        let times = cookie_times(cookie_expires, max_age, ttl);
        self.start(id, |store| async move {
            let device = match device {
                Some(json) => Device::from_json(&json)?,
                None => None,
            };
            store
                .sessions()
                .set(&sid, sess, times, version, device)
                .await
                .map(Answer::Number)
        })
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

    /// `verification` is the JSON of the value the session's
    /// lockVerificationProperty must still hold. Resolves the lease's owner token.
    #[napi]
    pub fn lock(&self, id: u32, sid: String, verification: String) -> Result<()> {
        self.start(id, |store| async move {
            store.locks().lock(&sid, &verification).await.map(Answer::Text)
        })
    }

    /// True when a lease was released; false when none of ours was there.
    #[napi]
    pub fn unlock(&self, id: u32, sid: String, token: Option<String>) -> Result<()> {
        self.start(id, |store| async move {
            store.locks().unlock(&sid, token.as_deref()).await.map(Answer::Bool)
        })
    }

    #[napi]
    pub fn holds_lock(&self, id: u32, sid: String, token: String) -> Result<()> {
        self.start(id, |store| async move {
            store.locks().holds_lock(&sid, &token).await.map(Answer::Bool)
        })
    }

    /// The new expiry in epoch seconds, or null when no live session exists.
    #[napi]
    pub fn touch(
        &self,
        id: u32,
        sid: String,
        cookie_expires: Option<f64>,
        max_age: Option<f64>,
        ttl: Option<f64>,
    ) -> Result<()> {
        let times = cookie_times(cookie_expires, max_age, ttl);
        self.start(id, |store| async move {
            let expires = store.sessions().touch(&sid, times).await?;
            Ok(Answer::Number(expires.map(|seconds| seconds as f64)))
        })
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

    #[napi]
    pub fn destroy(&self, id: u32, sid: String) -> Result<()> {
        self.start(id, |store| async move {
            store.sessions().destroy(&sid).await.map(|()| Answer::Nothing)
        })
    }

    /// Every live session as `{ sid, sess }`.
    #[napi]
    pub fn all(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            let sessions = store.scans().all().await?;
            Ok(Answer::Sessions(
                sessions
                    .into_iter()
                    .map(|(sid, sess)| StoredSession { sid, sess })
                    .collect(),
            ))
        })
    }

    #[napi]
    pub fn ids(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move { store.scans().ids().await.map(Answer::Texts) })
    }

    #[napi]
    pub fn length(&self, id: u32) -> Result<()> {
        self.start(
            id,
            |store| async move { store.scans().length().await.map(Answer::count) },
        )
    }

    #[napi]
    pub fn clear(&self, id: u32) -> Result<()> {
        self.start(
            id,
            |store| async move { store.scans().clear().await.map(Answer::count) },
        )
    }

    #[napi]
    pub fn reap(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move { store.scans().reap().await.map(Answer::count) })
    }

    #[napi]
    pub fn ensure_user_index(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            store.users().ensure_index().await.map(|()| Answer::Nothing)
        })
    }

    /// The user's live sessions as `{ sid, expires }` (epoch seconds).
    #[napi]
    pub fn list_sessions_for_user(&self, id: u32, user: Either<String, f64>) -> Result<()> {
        self.start(id, |store| async move {
            let sessions = store.users().sessions_for_user(user_arg(user)).await?;
            Ok(Answer::UserSessions(
                sessions
                    .into_iter()
                    .map(|(sid, session)| UserSessionInfo {
                        sid,
                        expires: session.expires,
                        created_at: session.created_ms,
                        last_seen_at: session.seen_ms,
                        device: (!session.device.is_empty()).then(|| session.device.into_iter().collect()),
                    })
                    .collect(),
            ))
        })
    }

    /// Ends the session `sid` if it is a live session of `user`.
    #[napi]
    pub fn destroy_session_for_user(&self, id: u32, user: Either<String, f64>, sid: String) -> Result<()> {
        self.start(id, |store| async move {
            store
                .users()
                .destroy_session_for_user(user_arg(user), &sid)
                .await
                .map(|()| Answer::Nothing)
        })
    }

    /// One page of the table (for the command line), each item classified.
    #[napi]
    pub fn scan_page(&self, id: u32, start: Option<String>, limit: u32, measure: bool) -> Result<()> {
        self.start(id, |store| async move {
            Ok(Answer::ScanPage(store.admin().scan_page(start, limit, measure).await?))
        })
    }

    /// Moves the session at `key` from the other layout (keys `from_prefix` + sid) to this store's.
    #[napi]
    pub fn move_to_layout(&self, id: u32, key: String, from_prefix: String) -> Result<()> {
        self.start(id, |store| async move {
            store.admin().move_to_layout(&key, &from_prefix).await.map(Answer::Bool)
        })
    }

    /// Deletes the items with these table keys; resolves how many.
    #[napi]
    pub fn delete_keys(&self, id: u32, keys: Vec<String>) -> Result<()> {
        self.start(id, |store| async move {
            store.admin().delete_keys(keys).await.map(Answer::count)
        })
    }

    #[napi]
    pub fn ttl_setting(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            let (status, attribute) = store.admin().ttl_setting().await?;
            Ok(Answer::Ttl(TtlInfo { status, attribute }))
        })
    }

    /// Which of the actions the store needs are allowed (each tried harmlessly).
    #[napi]
    pub fn probe_permissions(&self, id: u32) -> Result<()> {
        self.start(id, |store| async move {
            Ok(Answer::Probes(store.admin().probe_permissions().await?))
        })
    }

    /// Moves the session `old_sid` to `new_sid` in one transaction, leaving a tombstone behind.
    #[napi]
    pub fn rotate(&self, id: u32, old_sid: String, new_sid: String) -> Result<()> {
        self.start(id, |store| async move {
            store
                .rotation()
                .rotate(&old_sid, &new_sid)
                .await
                .map(|()| Answer::Nothing)
        })
    }

    /// Destroys the user's sessions except `keep_sid`; resolves how many.
    #[napi]
    pub fn destroy_sessions_for_user(
        &self,
        id: u32,
        user: Either<String, f64>,
        keep_sid: Option<String>,
    ) -> Result<()> {
        self.start(id, |store| async move {
            store
                .users()
                .destroy_sessions_for_user(user_arg(user), keep_sid.as_deref())
                .await
                .map(Answer::count)
        })
    }

    /// Later calls fail with ERR_STORE_CLOSED; calls in flight finish, then
    /// every connection closes.
    #[napi]
    pub fn close(&self) -> Result<()> {
        self.store.shared().close();
        self.host.close()
    }
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
