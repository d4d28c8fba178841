//! The store: a thin front over one module per concern (`sessions`, `locks`,
//! `scans`, `users`, `migrate`, `batch`), each holding its own calls on the
//! wire. The front holds what they share: the options, the connection (built
//! on first use, the table made sure of once however many calls arrive at
//! the same time), the breaker around every call, and the key of a sid.

pub(crate) mod admin;
mod batch;
pub(crate) mod devices;
pub(crate) mod lifetime;
pub(crate) mod locks;
mod migrate;
mod rotate;
mod scans;
mod sessions;
pub(crate) mod users;

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::types::AttributeValue;
use tokio::sync::OnceCell;

use self::batch::Batch;
use crate::breaker::{self, Breaker, Transition};
use crate::client::{connect, Connection, JsClient};
use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::expiry::{self, CookieTimes};
use crate::layout::Layout;
use crate::logger::Logger;
use crate::options::{StoreOptions, EXPIRES_ATTR};
use crate::recent::RecentSessions;
use crate::stats::Stats;
use crate::table;
use crate::transport::Transport;
use crate::wire::{Target, Wire};
use crate::wire_json::{self, Body};

/// Entries kept in each per-process memo before it is cleared.
pub(crate) const MEMO_LIMIT: usize = 10_000;
/// Whether an unsealed session served under `acceptUnsealed` was reported.
static UNSEALED_REPORTED: AtomicBool = AtomicBool::new(false);

pub struct Store {
    options: StoreOptions,
    js_client: Option<JsClient>,
    transport: Arc<dyn Transport>,
    connection: OnceCell<Connection>,
    table_ready: OnceCell<()>,
    closed: Arc<AtomicBool>,
    /// Session key -> (user, when this store registered it).
    registered: Mutex<HashMap<String, (String, Instant)>>,
    /// With `absoluteTimeout`: session key -> its `createdAt` as last read,
    /// so a save or touch can cap its expiry in one write (the condition
    /// checks it; a wrong entry costs a second write, never a longer life).
    created: Mutex<HashMap<String, f64>>,
    /// Lock key -> the owner tokens of this store's `lock()` calls not yet
    /// unlocked (more than one only when a lease outlived `maxLockTime`).
    held_locks: Mutex<HashMap<String, Vec<String>>>,
    recent: RecentSessions,
    stats: Arc<Stats>,
    breaker: Arc<Breaker>,
    logger: Logger,
}

/// A stored session as `get` returns it: its JSON and its end.
pub struct Found {
    pub sess: String,
    pub end: Option<crate::layout::End>,
    /// With `versioning`: the version read (0 for an item written without).
    pub version: Option<f64>,
}

impl Store {
    pub fn new(
        options: StoreOptions,
        js_client: Option<JsClient>,
        transport: Arc<dyn Transport>,
        logger: Logger,
    ) -> Self {
        Store {
            transport,
            breaker: Arc::new(Breaker::new(options.breaker.clone())),
            options,
            js_client,
            connection: OnceCell::new(),
            table_ready: OnceCell::new(),
            closed: Arc::new(AtomicBool::new(false)),
            registered: Mutex::new(HashMap::new()),
            created: Mutex::new(HashMap::new()),
            held_locks: Mutex::new(HashMap::new()),
            recent: RecentSessions::default(),
            stats: Arc::new(Stats::default()),
            logger,
        }
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    fn layout(&self) -> Layout {
        self.options.layout
    }

    /// Runs one store call under the circuit breaker: refused at once while
    /// the circuit is open; the call that opens it starts the probe.
    pub async fn guarded<T>(&self, call: impl Future<Output = StoreResult<T>>) -> StoreResult<T> {
        self.breaker.check()?;
        let result = call.await;
        if self.breaker.record(&result) == Transition::Opened {
            self.start_probe();
        }
        result
    }

    fn start_probe(&self) {
        self.logger
            .warn("DynamoDB is unreachable: the store stops sending and probes until it answers");
        self.logger.event("disconnect");
        let (Some(wire), Ok(runtime)) = (
            self.connection.get().map(|c| c.wire.clone()),
            tokio::runtime::Handle::try_current(),
        ) else {
            // No connection yet means nothing was ever reachable; the next call retries for real.
            self.breaker.close();
            return;
        };
        // A key no session has: the probe reads nothing, whatever the table holds.
        let probe = Body::new(&self.options.table, 0)
            .key(&self.options.hash_key, &format!("{}~probe", self.options.prefix))
            .string("ProjectionExpression", "#k")
            .names(&[("#k", &self.options.hash_key)])
            .finish();
        let probe = breaker::probe(
            self.breaker.clone(),
            move |limit| {
                let wire = wire.clone();
                let probe = probe.clone();
                async move { wire.once(Target::GetItem, probe, limit).await.map(|_| ()) }
            },
            self.closed.clone(),
            self.logger.clone(),
        );
        runtime.spawn(probe);
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The hand-built path, once the store has connected.
    pub fn wire(&self) -> Option<&Wire> {
        self.connection.get().map(|connection| connection.wire.as_ref())
    }

    /// The connection, built on first use. Building it (and making sure of
    /// the table) happens once; those futures are boxed, so that every call's
    /// own future stays small.
    async fn connected(&self) -> StoreResult<&Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::new(code::STORE_CLOSED, "the store was closed"));
        }
        if let Some(connection) = self.connection.get() {
            return Ok(connection);
        }
        let connect = || {
            Box::pin(connect(
                &self.options.connection,
                self.js_client.as_ref(),
                self.transport.clone(),
                self.stats.clone(),
            ))
        };
        Box::pin(self.connection.get_or_try_init(connect)).await
    }

    /// The connection, with the table known to exist (unless `initialized`).
    async fn ready(&self) -> StoreResult<&Connection> {
        let connection = self.connected().await?;
        if !self.options.initialized && !self.table_ready.initialized() {
            let ensure = || Box::pin(table::ensure_table(&connection.sdk, &self.options, &self.logger));
            Box::pin(self.table_ready.get_or_try_init(ensure)).await?;
        }
        Ok(connection)
    }

    /// The batch calls on this store's table.
    fn batch<'a>(&'a self, wire: &'a Wire) -> Batch<'a> {
        Batch {
            wire,
            table: &self.options.table,
            hash_key: &self.options.hash_key,
            stats: &self.stats,
        }
    }

    fn key(&self, sid: &str) -> StoreResult<String> {
        if let Some(mark) = [users::REGISTRY_MARK, locks::LOCK_MARK]
            .into_iter()
            .find(|mark| sid.starts_with(mark))
        {
            return Err(StoreError::invalid_argument(format!(
                "sid must not start with \"{mark}\" (reserved for the store's own items)"
            )));
        }
        match &self.options.hash_ids {
            Some(secret) => codec::session_key(&self.options.prefix, &codec::hashed_sid(secret, sid)?),
            None => codec::session_key(&self.options.prefix, sid),
        }
    }

    /// The attributes a read needs to serve a session: it, and its end.
    fn expiry_and_session(&self) -> Vec<&'static str> {
        let layout = self.layout();
        [layout.sess_attr(), EXPIRES_ATTR]
            .into_iter()
            .chain(layout.exact_attr())
            .collect()
    }

    /// That a read item is the one asked for: a connection out of step (a
    /// broken proxy, a desync) could hand this call another's reply, and a
    /// session read must never serve another user's session.
    fn same_key(&self, wire: &Wire, item: &Item, key: &str) -> StoreResult<()> {
        match item.get(&self.options.hash_key) {
            Some(AttributeValue::S(read)) if read == key => Ok(()),
            _ => Err(wire.distrust()),
        }
    }

    /// all(), ids() and listSessionsForUser() return sids, which a table of
    /// hashed ids does not hold.
    fn refuse_with_hashed_ids(&self, method: &str) -> StoreResult<()> {
        if self.options.hash_ids.is_some() {
            return Err(StoreError::new(
                code::HASHED_IDS,
                format!("{method} cannot return session ids with hashIds on: the table holds only their hashes"),
            ));
        }
        Ok(())
    }

    pub async fn initialize(&self) -> StoreResult<()> {
        self.ready().await.map(|_| ())
    }

    /// DescribeTable's answer for the table, as DynamoDB sent it (JSON);
    /// connect-dynamodb's `describeSessionsTable`. Never creates the table.
    pub async fn describe_table(&self) -> StoreResult<String> {
        let wire = &self.connected().await?.wire;
        let body = Body::new(&self.options.table, 0).finish();
        let reply = wire.call(Target::DescribeTable, body).await?.done()?;
        serde_json::to_string(&reply).map_err(|e| StoreError::new(code::INTERNAL, e.to_string()))
    }

    /// Creates the table as `initialize` would when it is missing
    /// (connect-dynamodb's `createSessionsTable`); an existing table is left
    /// as it is.
    pub async fn create_table(&self) -> StoreResult<()> {
        let client = &self.connected().await?.sdk;
        table::create(client, &self.options, &self.logger).await.map(|_| ())
    }

    /// A live session from its item. The first unsealed session served under
    /// `encryption.acceptUnsealed` is reported once per process, so that the
    /// migration's end can be seen.
    fn decode(&self, key: &str, item: Item, now_ms: f64) -> StoreResult<Option<codec::Decoded>> {
        let found = codec::decode_session(self.layout(), &self.options.payload, key, item, now_ms)?;
        if found.as_ref().is_some_and(|found| found.unsealed) && !UNSEALED_REPORTED.swap(true, Ordering::Relaxed) {
            self.logger.warn(
                "served a session that is not encrypted (encryption.acceptUnsealed); \
                 turn acceptUnsealed off once sessions older than encryption have expired",
            );
        }
        Ok(found)
    }

    /// The session JSON of an item given as DynamoDB JSON, as `get` would
    /// read it; None when it is missing, expired, damaged or holds no session
    /// (connect-dynamodb's `getParsedSession`; it never fails).
    pub fn parse_item(&self, item_json: &str) -> Option<String> {
        let item = wire_json::read_item(serde_json::from_str(item_json).ok()?).ok()?;
        let key = match item.get(&self.options.hash_key) {
            Some(AttributeValue::S(key)) => key.clone(),
            _ => String::new(),
        };
        self.decode(&key, item, codec::now_ms())
            .ok()
            .flatten()
            .map(|found| found.sess)
    }

    /// The end (epoch ms) of a session saved or touched now.
    pub fn end_at(&self, now_ms: f64, times: CookieTimes) -> i64 {
        expiry::end_ms(now_ms, times, self.options.costs.ttl_ms)
    }
}
