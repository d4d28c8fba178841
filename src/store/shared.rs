//! What every concern of the store shares: the options, the connection
//! (built on first use, the table made sure of once however many calls
//! arrive at the same time), the breaker around every call, the counters
//! and the logger; and the few things every concern does the same way —
//! the key of a sid, a read that must come back with the key it asked for,
//! a session decoded from its item. The concerns (`sessions.rs`, `locks.rs`,
//! …) are views that borrow this and their own state; none of them holds
//! another's.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::types::AttributeValue;
use ring::rand::{SecureRandom, SystemRandom};
use tokio::sync::OnceCell;

use super::batch::Batch;
use crate::breaker::{self, Breaker, Transition};
use crate::client::{connect, Connection, JsClient};
use crate::codec::{self, Decoded};
use crate::error::{code, StoreError, StoreResult};
use crate::expiry::{self, CookieTimes};
use crate::item::{item_size, now_ms, Item};
use crate::layout::Layout;
use crate::logger::Logger;
use crate::options::StoreOptions;
use crate::schema::{EXPIRES_ATTR, RESERVED_MARKS};
use crate::stats::Stats;
use crate::table;
use crate::transport::Transport;
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{self, Body};

/// Whether an unsealed session served under `acceptUnsealed` was reported.
static UNSEALED_REPORTED: AtomicBool = AtomicBool::new(false);

/// A per-process memo keyed by table key: cleared whole when it reaches
/// `Memo::LIMIT` entries, so it costs bounded memory, and a poisoned lock
/// only makes it forget.
pub struct Memo<V>(Mutex<HashMap<String, V>>);

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

impl<V> Memo<V> {
    pub const LIMIT: usize = 10_000;

    /// Runs `f` on the entries (None when the lock was poisoned).
    pub fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, V>) -> T) -> Option<T> {
        self.0.lock().ok().map(|mut entries| f(&mut entries))
    }

    /// The entry for `key`, made room for first.
    pub fn entry<T>(&self, key: String, f: impl FnOnce(&mut V) -> T) -> Option<T>
    where
        V: Default,
    {
        self.with(|entries| {
            if entries.len() >= Self::LIMIT && !entries.contains_key(&key) {
                entries.clear();
            }
            f(entries.entry(key).or_default())
        })
    }

    pub fn insert(&self, key: String, value: V) {
        self.with(|entries| {
            if entries.len() >= Self::LIMIT {
                entries.clear();
            }
            entries.insert(key, value);
        });
    }

    pub fn get(&self, key: &str) -> Option<V>
    where
        V: Clone,
    {
        self.with(|entries| entries.get(key).cloned()).flatten()
    }

    pub fn remove(&self, key: &str) {
        self.with(|entries| entries.remove(key));
    }
}

/// The parts of the store every concern uses.
pub struct Shared {
    pub options: StoreOptions,
    pub stats: Arc<Stats>,
    pub logger: Logger,
    js_client: Option<JsClient>,
    transport: Arc<dyn Transport>,
    connection: OnceCell<Connection>,
    table_ready: OnceCell<()>,
    closed: Arc<AtomicBool>,
    breaker: Arc<Breaker>,
    /// The PEM certificates the store trusts for HTTPS, on both ways to
    /// DynamoDB; the host sets them before the first call starts.
    trust: Arc<OnceLock<Vec<String>>>,
}

impl Shared {
    pub fn new(
        options: StoreOptions,
        js_client: Option<JsClient>,
        transport: Arc<dyn Transport>,
        logger: Logger,
        trust: Arc<OnceLock<Vec<String>>>,
    ) -> Self {
        Shared {
            trust,
            breaker: Arc::new(Breaker::new(options.breaker.clone())),
            options,
            stats: Arc::new(Stats::default()),
            logger,
            js_client,
            transport,
            connection: OnceCell::new(),
            table_ready: OnceCell::new(),
            closed: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn layout(&self) -> Layout {
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
    pub async fn connected(&self) -> StoreResult<&Connection> {
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
                self.trust.get().map_or(&[][..], Vec::as_slice),
            ))
        };
        Box::pin(self.connection.get_or_try_init(connect)).await
    }

    /// The connection, with the table known to exist (unless `initialized`).
    pub async fn ready(&self) -> StoreResult<&Connection> {
        let connection = self.connected().await?;
        if !self.options.initialized && !self.table_ready.initialized() {
            let ensure = || Box::pin(table::ensure_table(&connection.sdk, &self.options, &self.logger));
            Box::pin(self.table_ready.get_or_try_init(ensure)).await?;
        }
        Ok(connection)
    }

    /// The batch calls on this store's table.
    pub fn batch<'a>(&'a self, wire: &'a Wire) -> Batch<'a> {
        Batch {
            wire,
            table: &self.options.table,
            hash_key: &self.options.hash_key,
            stats: &self.stats,
        }
    }

    /// The table key of a sid (its hash under `hashIds`); a sid may not
    /// start with a mark of the store's own items.
    pub fn key(&self, sid: &str) -> StoreResult<String> {
        if let Some(mark) = RESERVED_MARKS.into_iter().find(|mark| sid.starts_with(mark)) {
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
    pub fn expiry_and_session(&self) -> Vec<&'static str> {
        let layout = self.layout();
        [layout.sess_attr(), EXPIRES_ATTR]
            .into_iter()
            .chain(layout.exact_attr())
            .collect()
    }

    /// That a read item is the one asked for: a connection out of step (a
    /// broken proxy, a desync) could hand this call another's reply, and a
    /// session read must never serve another user's session.
    pub fn same_key(&self, wire: &Wire, item: &Item, key: &str) -> StoreResult<()> {
        match item.get(&self.options.hash_key) {
            Some(AttributeValue::S(read)) if read == key => Ok(()),
            _ => Err(wire.distrust()),
        }
    }

    /// A strongly consistent read of one item: every attribute, or those named.
    pub async fn read_consistent(
        &self,
        wire: &Wire,
        key: &str,
        attributes: Option<&[&str]>,
    ) -> StoreResult<Option<Item>> {
        let mut body = Body::new(&self.options.table, key.len())
            .key(&self.options.hash_key, key)
            .boolean("ConsistentRead", true);
        if let Some(attributes) = attributes {
            let placeholders: Vec<String> = (0..=attributes.len()).map(|i| format!("#a{i}")).collect();
            let names: Vec<(&str, &str)> = placeholders
                .iter()
                .map(String::as_str)
                .zip(attributes.iter().copied().chain([self.options.hash_key.as_str()]))
                .collect();
            body = body
                .string("ProjectionExpression", &placeholders.join(", "))
                .names(&names);
        }
        let body = body.string("ReturnConsumedCapacity", "TOTAL").finish();
        let mut reply = wire.call(Target::GetItem, body).await?.done()?;
        self.stats.read_units(wire::capacity_units(&reply));
        let item = reply.remove("Item").map(wire_json::read_item).transpose()?;
        if let Some(item) = &item {
            self.same_key(wire, item, key)?;
        }
        Ok(item)
    }

    /// Writes `item` unless its key is taken; whether it was written.
    pub async fn put_if_absent(&self, wire: &Wire, item: &Item) -> StoreResult<bool> {
        let body = Body::new(&self.options.table, item_size(item))
            .item(item)?
            .string("ConditionExpression", "attribute_not_exists(#k)")
            .names(&[("#k", &self.options.hash_key)])
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => {
                self.stats.write_units(wire::capacity_units(&reply));
                Ok(true)
            }
            Outcome::ConditionFailed(_) => Ok(false),
        }
    }

    /// all(), ids() and listSessionsForUser() return sids, which a table of
    /// hashed ids does not hold.
    pub fn refuse_with_hashed_ids(&self, method: &str) -> StoreResult<()> {
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
    pub fn decode(&self, key: &str, item: Item, now_ms: f64) -> StoreResult<Option<Decoded>> {
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
        self.decode(&key, item, now_ms()).ok().flatten().map(|found| found.sess)
    }

    /// The end (epoch ms) of a session saved or touched now.
    pub fn end_at(&self, now_ms: f64, times: CookieTimes) -> i64 {
        expiry::end_ms(now_ms, times, self.options.costs.ttl_ms)
    }
}

/// A random token: a lock's owner, a transaction's idempotency token.
pub fn random_token() -> StoreResult<String> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::new(code::INTERNAL, "the system random generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_differ() {
        let (a, b) = (random_token().unwrap(), random_token().unwrap());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn a_memo_is_bounded_and_forgets_whole() {
        let memo = Memo::<u32>::default();
        for n in 0..Memo::<u32>::LIMIT as u32 {
            memo.insert(format!("k{n}"), n);
        }
        assert_eq!(memo.get("k7"), Some(7));
        memo.insert("one more".into(), 1);
        assert_eq!(memo.get("k7"), None);
        assert_eq!(memo.with(|entries| entries.len()), Some(1));
        memo.entry("k".into(), |n| *n += 2);
        assert_eq!(memo.get("k"), Some(2));
        memo.remove("k");
        assert_eq!(memo.get("k"), None);
    }
}
