//! The session operations. One store owns one client (built on first use) and
//! makes sure of its table once, however many calls arrive at the same time.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnConsumedCapacity};
use aws_sdk_dynamodb::Client;
use tokio::sync::OnceCell;

use crate::batch;
use crate::breaker::{self, Breaker, Transition};
use crate::client::{connect, Connection, JsClient};
use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::layout::Layout;
use crate::lock;
use crate::logger::Logger;
use crate::options::{StoreOptions, DESTROYED_ATTR, EXPIRES_ATTR, TTL_ATTR, VERSION_ATTR};
use crate::payload::{self, PayloadOptions};
use crate::recent::{within_touch_after, RecentSessions};
use crate::stats::Stats;
use crate::table;
use crate::transport::Transport;
use crate::users::{self, UserArg, UserIndex, UserSession};
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{self, Body};

/// A session re-saved under the same user within this time needs no new
/// registry entry: the one made before still covers the index's lag.
const REGISTERED_FRESH: Duration = Duration::from_secs(users::REGISTRY_WINDOW_S as u64 / 2);
/// Entries kept in each per-process memo before it is cleared.
const MEMO_LIMIT: usize = 10_000;
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
    /// Lock key -> the owner tokens of this store's `lock()` calls not yet
    /// unlocked (more than one only when a lease outlived `maxLockTime`).
    held_locks: Mutex<HashMap<String, Vec<String>>>,
    recent: RecentSessions,
    stats: Arc<Stats>,
    breaker: Arc<Breaker>,
    logger: Logger,
}

/// The cookie's absolute expiry and maxAge, and the `ttl` function's answer
/// (all ms); `expires_at` picks the rule.
#[derive(Clone, Copy, Default)]
pub struct CookieTimes {
    pub expires_ms: Option<f64>,
    pub max_age_ms: Option<f64>,
    pub ttl_ms: Option<f64>,
}

/// A stored session as `get` returns it: its JSON and its expiry (epoch s,
/// fractional in the connect-dynamodb-session layout).
pub struct Found {
    pub sess: String,
    pub expires: Option<f64>,
    /// With `versioning`: the version read (0 for an item written without).
    pub version: Option<f64>,
}

/// Which of this store's items a scan returns.
#[derive(Clone, Copy)]
enum Scope {
    Live,
    Expired,
    All,
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

    /// `touchAfter` in the unit of the stored expiry.
    fn touch_after(&self) -> f64 {
        self.layout().units(self.options.costs.touch_after_ms)
    }

    /// Whether saves and touches look at what this process last saw stored.
    fn tracks_recent(&self) -> bool {
        self.options.costs.skip_unchanged_writes || self.options.costs.touch_after_ms > 0.0
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
        let breaker = self.breaker.clone();
        let closed = self.closed.clone();
        let logger = self.logger.clone();
        // A key no session has: the probe reads nothing, whatever the table holds.
        let probe = Body::new(&self.options.table, 0)
            .key(&self.options.hash_key, &format!("{}~probe", self.options.prefix))
            .string("ProjectionExpression", "#k")
            .names(&[("#k", &self.options.hash_key)])
            .finish();
        runtime.spawn(async move {
            loop {
                tokio::time::sleep(breaker.probe_interval()).await;
                if closed.load(Ordering::Acquire) {
                    return;
                }
                // One attempt per probe, given up within the interval, so a probe stuck
                // on a dead connection does not delay noticing DynamoDB is back.
                let answer = wire
                    .once(Target::GetItem, probe.clone(), breaker.probe_interval())
                    .await;
                if answer.map_err(|err| breaker::is_outage(&err)).err() != Some(true) {
                    breaker.close();
                    logger.warn("DynamoDB answers again: the store resumes");
                    logger.event("connect");
                    return;
                }
            }
        });
    }

    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// The hand-built path, once the store has connected.
    pub fn wire(&self) -> Option<&Wire> {
        self.connection.get().map(|connection| connection.wire.as_ref())
    }

    /// The connection, built on first use.
    async fn connected(&self) -> StoreResult<&Connection> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::new(code::STORE_CLOSED, "the store was closed"));
        }
        self.connection
            .get_or_try_init(|| {
                connect(
                    &self.options.connection,
                    self.js_client.as_ref(),
                    self.transport.clone(),
                    self.stats.clone(),
                )
            })
            .await
    }

    /// The connection, with the table known to exist (unless `initialized`).
    async fn ready(&self) -> StoreResult<&Connection> {
        let connection = self.connected().await?;
        if !self.options.initialized {
            self.table_ready
                .get_or_try_init(|| table::ensure_table(&connection.sdk, &self.options, &self.logger))
                .await?;
        }
        Ok(connection)
    }

    fn key(&self, sid: &str) -> StoreResult<String> {
        if let Some(mark) = [users::REGISTRY_MARK, lock::LOCK_MARK]
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

    /// The GetItem body of `get`.
    fn get_body(&self, key: &str) -> Vec<u8> {
        let sess_attr = self.layout().sess_attr();
        let (projection, names): (&str, &[(&str, &str)]) = if self.options.versioning {
            (
                "#s, #e, #v",
                &[("#s", sess_attr), ("#e", EXPIRES_ATTR), ("#v", VERSION_ATTR)],
            )
        } else {
            ("#s, #e", &[("#s", sess_attr), ("#e", EXPIRES_ATTR)])
        };
        Body::new(&self.options.table, key.len())
            .key(&self.options.hash_key, key)
            .boolean("ConsistentRead", self.options.costs.consistent_read)
            .string("ProjectionExpression", projection)
            .names(names)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish()
    }

    /// With `versioning`: the version an item holds (0 for one written without).
    fn version_of(&self, item: Option<&Item>) -> Option<f64> {
        let versioning = self.options.versioning;
        versioning.then(|| codec::read_number(item.and_then(|item| item.get(VERSION_ATTR))).unwrap_or(0.0))
    }

    /// What `get` hands back for a session read, remembered for `touchAfter`
    /// and unchanged saves; a missing one is forgotten.
    fn served(&self, key: &str, found: Option<codec::Decoded>, version: Option<f64>) -> Option<Found> {
        let Some(found) = found else {
            self.recent.forget(key);
            return None;
        };
        if let (true, Some(expires)) = (self.tracks_recent(), found.expires) {
            let kept = self.options.costs.skip_unchanged_writes.then(|| found.sess.clone());
            self.recent.remember(key, kept, expires);
        }
        Some(Found {
            expires: found.expires.map(|stored| self.layout().seconds(stored)),
            sess: found.sess,
            version,
        })
    }

    /// The stored session, or None when missing or expired.
    pub async fn get(&self, sid: &str) -> StoreResult<Option<Found>> {
        let key = self.key(sid)?;
        let wire = &self.ready().await?.wire;
        let sess_attr = self.layout().sess_attr();
        let body = self.get_body(&key);
        let mut reply = wire.call(Target::GetItem, body).await?.done()?;
        let output_item = reply.remove("Item").map(wire_json::read_item).transpose()?;
        Stats::count(&self.stats.gets);
        self.stats.read_units(wire::capacity_units(&reply));
        let version = self.version_of(output_item.as_ref());
        // Under acceptUnsealed a plain session is sealed in place once read.
        let as_read = match (&output_item, &self.options.payload.encryption) {
            (Some(item), Some(encryption)) if encryption.accept_unsealed => item.get(sess_attr).cloned(),
            _ => None,
        };
        let found = match output_item {
            Some(item) => self.decode(&key, item, codec::now_ms())?,
            None if self.options.migrate_from.is_some() => self.migrate(wire, sid, &key).await?,
            None => None,
        };
        if let (Some(found), Some(as_read)) = (&found, as_read) {
            if found.unsealed {
                self.reseal(wire, &key, &found.sess, as_read).await;
            }
        }
        Ok(self.served(&key, found, version))
    }

    /// Writes a session served unsealed (under `acceptUnsealed`) back sealed,
    /// unless a save changed it since it was read: sessions kept alive by
    /// touches alone leave their plaintext behind too. A failure only delays it.
    async fn reseal(&self, wire: &Wire, key: &str, sess: &str, as_read: AttributeValue) {
        let body = payload::encode(&self.options.payload, key, sess.to_string()).and_then(|sealed| {
            Ok(Body::new(&self.options.table, key.len() + 2 * sess.len())
                .key(&self.options.hash_key, key)
                .string("UpdateExpression", "SET #s = :sealed")
                .string("ConditionExpression", "#s = :read")
                .names(&[("#s", self.layout().sess_attr())])
                .values(&[(":sealed", &sealed), (":read", &as_read)])?
                .string("ReturnConsumedCapacity", "TOTAL")
                .finish())
        });
        let written = match body {
            Ok(body) => wire.call(Target::UpdateItem, body).await,
            Err(err) => Err(err),
        };
        match written {
            Ok(Outcome::Done(reply)) => self.stats.write_units(wire::capacity_units(&reply)),
            Ok(Outcome::ConditionFailed(_)) => {} // a save got there first, sealed
            Err(err) => self
                .logger
                .debug(format!("an unsealed session was not sealed yet: {}", err.message)),
        }
    }

    /// With `migrateFrom`: a session missing under its key may still be
    /// stored in the old layout, under its bare sid. It is served, and moved:
    /// written under its key (unless a save got there first), then its old
    /// item deleted. A session that cannot be moved is still served.
    async fn migrate(&self, wire: &Wire, sid: &str, key: &str) -> StoreResult<Option<codec::Decoded>> {
        let Some(old) = self.options.migrate_from else {
            return Ok(None);
        };
        let body = Body::new(&self.options.table, sid.len())
            .key(&self.options.hash_key, sid)
            .boolean("ConsistentRead", self.options.costs.consistent_read)
            .string("ProjectionExpression", "#s, #e")
            .names(&[("#s", old.sess_attr()), ("#e", EXPIRES_ATTR)])
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let mut reply = wire.call(Target::GetItem, body).await?.done()?;
        self.stats.read_units(wire::capacity_units(&reply));
        let Some(item) = reply.remove("Item").map(wire_json::read_item).transpose()? else {
            return Ok(None);
        };
        let now_ms = codec::now_ms();
        // The old layout stores plain JSON.
        let Some(codec::Decoded {
            sess,
            expires: old_expires,
            ..
        }) = codec::decode_session(old, &PayloadOptions::default(), sid, item, now_ms)?
        else {
            return Ok(None);
        };
        let at_ms = old_expires.map_or(now_ms + self.options.costs.ttl_ms, |stored| {
            old.seconds(stored) * 1000.0
        });
        let expires = self.layout().stored_expiry(at_ms);
        if let Err(err) = self.move_session(wire, sid, key, sess.clone(), expires).await {
            self.logger.warn(format!(
                "a {} session could not be moved to its new key yet: {}",
                old.name(),
                err.message
            ));
        }
        Ok(Some(codec::Decoded {
            sess,
            expires: Some(expires as f64),
            unsealed: false,
        }))
    }

    async fn move_session(&self, wire: &Wire, sid: &str, key: &str, sess: String, expires: i64) -> StoreResult<()> {
        let item = codec::encode_item(&self.options, key.to_string(), sess, expires)?;
        let body = Body::new(&self.options.table, codec::item_size(&item))
            .item(&item)?
            .string("ConditionExpression", "attribute_not_exists(#k)")
            .names(&[("#k", &self.options.hash_key)])
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => self.stats.write_units(wire::capacity_units(&reply)),
            // A save got there first: it is the newer session; the old item stays until it expires.
            Outcome::ConditionFailed(_) => return Ok(()),
        }
        self.delete_old(wire, sid).await
    }

    /// Deletes a session's item in the `migrateFrom` layout (under its bare sid).
    async fn delete_old(&self, wire: &Wire, sid: &str) -> StoreResult<()> {
        let body = Body::new(&self.options.table, sid.len())
            .key(&self.options.hash_key, sid)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let reply = wire.call(Target::DeleteItem, body).await?.done()?;
        self.stats.write_units(wire::capacity_units(&reply));
        Ok(())
    }

    /// Saves the session. With `versioning`, `read_version` is the version
    /// the caller read (0 or None: it read none) and the new version is
    /// returned; a session changed since fails with ERR_SESSION_CONFLICT.
    pub async fn set(
        &self,
        sid: &str,
        sess: String,
        times: CookieTimes,
        read_version: Option<f64>,
    ) -> StoreResult<Option<f64>> {
        let now_ms = codec::now_ms();
        let expires = self.expires_at(now_ms, times);
        let key = self.key(sid)?;
        let read_version = self.options.versioning.then(|| {
            read_version
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0)
                .floor()
        });
        if self.options.costs.skip_unchanged_writes {
            if let Some(stored_expires) = self.recent.unchanged(&key, &sess) {
                self.save_unchanged(key, stored_expires, expires, now_ms).await?;
                return Ok(read_version);
            }
        }
        let kept = self.options.costs.skip_unchanged_writes.then(|| sess.clone());
        let mut item = codec::encode_item(&self.options, key.clone(), sess, expires)?;
        let new_version = read_version.map(|read| read + 1.0);
        if let Some(version) = new_version {
            item.insert(VERSION_ATTR.to_string(), codec::number(version as i64));
        }
        let connection = self.ready().await?;
        let client = &connection.sdk;
        let new_user = self.user_to_register(&item, &key);
        let put = self.put_session(&connection.wire, item, read_version, self.layout().now(now_ms));
        let landed = match &new_user {
            // Both land before the save is acknowledged, so a session whose
            // save was acknowledged is always in the registry.
            Some(user) => {
                let index = self.user_index(client);
                let register = index.register(user, &key, (now_ms / 1000.0).floor() as i64);
                tokio::try_join!(register, put)?.1
            }
            None => put.await?,
        };
        Stats::count(&self.stats.sets);
        if !landed {
            self.recent.forget(&key);
            self.logger.debug(format!(
                "a save of \"{key}\" arrived after it was destroyed; the session stays destroyed"
            ));
            return Ok(read_version);
        }
        if self.tracks_recent() {
            self.recent.remember(&key, kept, expires as f64);
        }
        if let Some(user) = new_user {
            self.remember_registered(key.clone(), user.clone());
            if let Some(max) = self.options.users.max_sessions {
                self.limit_sessions(client, &user, &key, max).await.map_err(|err| {
                    StoreError::new(
                        &err.code,
                        format!(
                            "the session was saved, but enforcing maxSessionsPerUser failed: {}",
                            err.message
                        ),
                    )
                })?;
            }
        }
        Ok(new_version)
    }

    /// The PutItem of a save; false when a tombstone refused it (the session
    /// was destroyed while this save was on its way: the destroy wins).
    async fn put_session(&self, wire: &Wire, item: Item, read_version: Option<f64>, now: i64) -> StoreResult<bool> {
        let now = codec::number(now);
        let body = Body::new(&self.options.table, codec::item_size(&item)).item(&item)?;
        let body = match read_version {
            None => body
                .string("ConditionExpression", "attribute_not_exists(#d) OR #e <= :now")
                .names(&[("#d", DESTROYED_ATTR), ("#e", EXPIRES_ATTR)])
                .values(&[(":now", &now)])?,
            // Read nothing: only over no session, an unversioned or an expired one.
            Some(0.0) => body
                .string(
                    "ConditionExpression",
                    "attribute_not_exists(#v) AND attribute_not_exists(#d) OR #e <= :now",
                )
                .names(&[("#d", DESTROYED_ATTR), ("#e", EXPIRES_ATTR), ("#v", VERSION_ATTR)])
                .values(&[(":now", &now)])?
                .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD"),
            // Only over the version read: a session removed since (clear(), an
            // admin's delete) is a change too, and is not brought back.
            Some(read) => body
                .string(
                    "ConditionExpression",
                    "#v = :read AND (attribute_not_exists(#d) OR #e <= :now)",
                )
                .names(&[("#d", DESTROYED_ATTR), ("#e", EXPIRES_ATTR), ("#v", VERSION_ATTR)])
                .values(&[(":now", &now), (":read", &codec::number(read as i64))])?
                .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD"),
        };
        let body = body.string("ReturnConsumedCapacity", "TOTAL").finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => {
                self.stats.write_units(wire::capacity_units(&reply));
                Ok(true)
            }
            Outcome::ConditionFailed(mut failed) => {
                let old = failed.remove("Item").map(wire_json::read_item).transpose()?;
                let destroyed = old.as_ref().is_some_and(|old| old.contains_key(DESTROYED_ATTR));
                match read_version {
                    Some(read) if !destroyed => Err(conflict(read, old.as_ref())),
                    _ => Ok(false),
                }
            }
        }
    }

    fn user_index<'a>(&'a self, client: &'a Client) -> UserIndex<'a> {
        UserIndex {
            client,
            options: &self.options,
        }
    }

    /// The user this write gives the session, unless this store registered
    /// the same pair recently. Anonymous sessions indexed under their own key
    /// are never looked up by user, so they are not registered.
    fn user_to_register(&self, item: &Item, key: &str) -> Option<String> {
        let user = match item.get(&self.options.users.attribute) {
            Some(AttributeValue::S(user)) if self.options.users.enabled() && user != key => user,
            _ => return None,
        };
        let Ok(registered) = self.registered.lock() else {
            return Some(user.clone());
        };
        match registered.get(key) {
            Some((known, at)) if known == user && at.elapsed() < REGISTERED_FRESH => None,
            _ => Some(user.clone()),
        }
    }

    fn remember_registered(&self, key: String, user: String) {
        if let Ok(mut registered) = self.registered.lock() {
            if registered.len() >= MEMO_LIMIT {
                registered.clear();
            }
            registered.insert(key, (user, Instant::now()));
        }
    }

    /// Destroys the sessions of `user` that expire soonest until at most
    /// `max` are left; the session just saved is never one of them.
    async fn limit_sessions(&self, client: &Client, user: &str, keep: &str, max: u32) -> StoreResult<u32> {
        let sessions = self.user_index(client).sessions(user).await?;
        let excess = sessions.len().saturating_sub(max as usize);
        let oldest = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| key != keep)
            .take(excess)
            .collect();
        batch::tombstone_keys(
            client,
            &self.options.table,
            self.options.layout,
            &self.options.hash_key,
            oldest,
        )
        .await
    }

    /// Makes sure the table has the user index, adding it if needed.
    pub async fn ensure_user_index(&self) -> StoreResult<()> {
        let client = &self.ready().await?.sdk;
        table::ensure_user_index(client, &self.options, &self.logger).await
    }

    /// The live sessions of a user as (sid, expiry in epoch seconds).
    pub async fn sessions_for_user(&self, user: UserArg) -> StoreResult<Vec<(String, i64)>> {
        let user = users::user_argument(user)?;
        self.refuse_with_hashed_ids("listSessionsForUser()")?;
        let client = &self.ready().await?.sdk;
        let sessions = self.user_index(client).sessions(&user).await?;
        Ok(sessions
            .into_iter()
            .filter_map(|UserSession { key, expires }| {
                codec::sid_of(&self.options.prefix, &key).map(|sid| (sid.to_string(), expires))
            })
            .collect())
    }

    /// Destroys every session of a user except `keep_sid`; returns how many.
    pub async fn destroy_sessions_for_user(&self, user: UserArg, keep_sid: Option<&str>) -> StoreResult<u32> {
        let user = users::user_argument(user)?;
        let keep = keep_sid.map(|sid| self.key(sid)).transpose()?;
        let client = &self.ready().await?.sdk;
        let sessions = self.user_index(client).sessions(&user).await?;
        let doomed = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| Some(key) != keep.as_ref())
            .collect();
        batch::tombstone_keys(
            client,
            &self.options.table,
            self.options.layout,
            &self.options.hash_key,
            doomed,
        )
        .await
    }

    /// Moves the expiry of a live session; returns the new expiry (epoch
    /// seconds), or None when there is no live session to touch. Never
    /// creates an item. Within `touchAfter` of the last refresh this process
    /// saw, writes nothing and returns the stored expiry.
    pub async fn touch(&self, sid: &str, times: CookieTimes) -> StoreResult<Option<i64>> {
        let now_ms = codec::now_ms();
        let expires = self.expires_at(now_ms, times);
        let key = self.key(sid)?;
        if let Some(stored) = self.recent.expires(&key) {
            if within_touch_after(stored, expires, self.touch_after()) {
                Stats::count(&self.stats.skipped_writes);
                return Ok(Some(self.layout().seconds(stored).ceil() as i64));
            }
        }
        let touched = self.touch_key(&key, expires, now_ms).await?;
        Ok(touched.map(|stored| self.layout().seconds(stored as f64).ceil() as i64))
    }

    /// A save whose content equals what is stored: a touch, or nothing within
    /// `touchAfter`. A session destroyed meanwhile stays destroyed.
    async fn save_unchanged(&self, key: String, stored_expires: f64, expires: i64, now_ms: f64) -> StoreResult<()> {
        if within_touch_after(stored_expires, expires, self.touch_after()) {
            Stats::count(&self.stats.skipped_writes);
            return Ok(());
        }
        Stats::count(&self.stats.downgraded_sets);
        if self.touch_key(&key, expires, now_ms).await?.is_none() {
            self.logger.debug(format!(
                "an unchanged save found no live session \"{key}\"; not recreating it"
            ));
        }
        Ok(())
    }

    async fn touch_key(&self, key: &str, expires: i64, now_ms: f64) -> StoreResult<Option<i64>> {
        let wire = &self.ready().await?.wire;
        let layout = self.layout();
        let [(_, e), ttl @ ..] = &layout.expiry_attributes(expires)[..] else {
            return Err(StoreError::new(code::INTERNAL, "a layout without an expiry attribute"));
        };
        let now = codec::number(layout.now(now_ms));
        let mut names = vec![("#e", EXPIRES_ATTR), ("#s", layout.sess_attr())];
        let mut values = vec![(":e", e), (":now", &now)];
        if let [(_, t)] = ttl {
            names.push(("#t", TTL_ATTR));
            values.push((":t", t));
        }
        let body = Body::new(&self.options.table, key.len())
            .key(&self.options.hash_key, key)
            .string("UpdateExpression", layout.expiry_update())
            .string("ConditionExpression", "attribute_exists(#s) AND #e > :now")
            .names(&names)
            .values(&values)?
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let result = wire.call(Target::UpdateItem, body).await;
        Stats::count(&self.stats.touches);
        match result? {
            Outcome::Done(reply) => {
                self.stats.write_units(wire::capacity_units(&reply));
                self.recent.refreshed(key, expires as f64);
                Ok(Some(expires))
            }
            Outcome::ConditionFailed(_) => {
                self.recent.forget(key);
                Ok(None)
            }
        }
    }

    /// The stored `expires` (in the layout's unit) for a save or touch now.
    pub fn expires_at(&self, now_ms: f64, times: CookieTimes) -> i64 {
        let ttl_ms = times
            .ttl_ms
            .filter(|ms| ms.is_finite() && *ms > 0.0)
            .unwrap_or(self.options.costs.ttl_ms);
        self.layout()
            .stored_expiry(codec::expiry_ms(now_ms, times.expires_ms, times.max_age_ms, ttl_ms))
    }

    pub async fn destroy(&self, sid: &str) -> StoreResult<()> {
        let key = self.key(sid)?;
        self.recent.forget(&key);
        let wire = &self.ready().await?.wire;
        let tombstone = codec::tombstone(self.layout(), &self.options.hash_key, key, codec::now_ms());
        let body = Body::new(&self.options.table, 0)
            .item(&tombstone)?
            // Only over an item: destroying a sid that was never saved (every
            // regenerate does) leaves nothing behind.
            .string("ConditionExpression", "attribute_exists(#k)")
            .names(&[("#k", &self.options.hash_key)])
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let result = match self.options.migrate_from {
            // The session may still be stored in the old layout too.
            Some(_) => {
                tokio::try_join!(wire.call(Target::PutItem, body), self.delete_old(wire, sid)).map(|(put, _)| put)
            }
            None => wire.call(Target::PutItem, body).await,
        };
        Stats::count(&self.stats.destroys);
        if let Outcome::Done(reply) = result? {
            self.stats.write_units(wire::capacity_units(&reply));
        }
        Ok(())
    }

    /// Takes the session's lease lock for `maxLockTime`, if no one holds it
    /// and the session's verification property still equals
    /// `verification_json`; otherwise ERR_SESSION_LOCKED. Resolves the lease's
    /// owner token: only it releases the lease.
    pub async fn lock(&self, sid: &str, verification_json: &str) -> StoreResult<String> {
        let key = self.key(sid)?;
        let lock_key = lock::lock_key(&self.options.prefix, &key);
        let owner = lock::new_owner_token()?;
        let client = &self.ready().await?.sdk;
        let now_ms = codec::now_ms();
        let until_ms = now_ms + self.options.lock.max_lock_ms;
        let taken = client
            .put_item()
            .table_name(&self.options.table)
            .set_item(Some(lock::lock_item(
                self.layout(),
                &self.options.hash_key,
                lock_key.clone(),
                owner.clone(),
                until_ms,
            )))
            .condition_expression("attribute_not_exists(#k) OR #u <= :now")
            .expression_attribute_names("#k", &self.options.hash_key)
            .expression_attribute_names("#u", lock::UNTIL_ATTR)
            .expression_attribute_values(":now", codec::number(now_ms.floor() as i64))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from);
        match taken {
            Ok(output) => self.stats.write(output.consumed_capacity.as_ref()),
            Err(err) if err.is("ConditionalCheckFailedException") => {
                return Err(StoreError::new(
                    code::SESSION_LOCKED,
                    "another request holds the lock on this session; reload the session",
                ));
            }
            Err(err) => return Err(err),
        }
        // Read only once the lock is held: a rotation finished before it is seen.
        let verified = self
            .read_for_lock(client, &key, now_ms)
            .await
            .and_then(|sess| lock::verify(&sess, &self.options.lock.verification_property, verification_json));
        if let Err(err) = verified {
            // The caller needs the reason it was refused; a lock left behind ends with its lease.
            if let Err(release) = self.release_lock(client, &lock_key, &owner).await {
                self.logger.debug(format!(
                    "a refused lock was not released ({}); its lease ends it",
                    release.message
                ));
            }
            return Err(err);
        }
        if let Ok(mut held) = self.held_locks.lock() {
            if held.len() >= MEMO_LIMIT {
                // Forgotten tokens release nothing: those leases end by themselves.
                held.clear();
            }
            held.entry(lock_key).or_default().push(owner.clone());
        }
        Ok(owner)
    }

    /// A consistent read of two attributes of one item (the lock's calls).
    async fn consistent_get(&self, client: &Client, key: &str, names: [&str; 2]) -> StoreResult<Option<Item>> {
        let output = client
            .get_item()
            .table_name(&self.options.table)
            .key(&self.options.hash_key, AttributeValue::S(key.to_string()))
            .consistent_read(true)
            .projection_expression("#a, #b")
            .expression_attribute_names("#a", names[0])
            .expression_attribute_names("#b", names[1])
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await?;
        self.stats.read(output.consumed_capacity.as_ref());
        Ok(output.item)
    }

    async fn read_for_lock(&self, client: &Client, key: &str, now_ms: f64) -> StoreResult<String> {
        let item = self
            .consistent_get(client, key, [self.layout().sess_attr(), EXPIRES_ATTR])
            .await?;
        let found = match item {
            Some(item) => self.decode(key, item, now_ms)?,
            None => None,
        };
        found
            .map(|found| found.sess)
            .ok_or_else(|| StoreError::new(code::SESSION_NOT_FOUND, "there is no live session to lock"))
    }

    /// Releases the lease `token` names, or without a token the one lease this
    /// store took on the session. True when a lease was released; false when
    /// there was none of ours to release (it ran out, perhaps taken by another).
    /// Nothing is ever deleted without the owner's condition.
    pub async fn unlock(&self, sid: &str, token: Option<&str>) -> StoreResult<bool> {
        let key = self.key(sid)?;
        let lock_key = lock::lock_key(&self.options.prefix, &key);
        let owner = match token {
            Some(token) => {
                self.forget_lock(&lock_key, Some(token))?;
                Some(token.to_string())
            }
            None => self.forget_lock(&lock_key, None)?,
        };
        let Some(owner) = owner else { return Ok(false) };
        let client = &self.ready().await?.sdk;
        self.release_lock(client, &lock_key, &owner).await
    }

    /// Takes a token out of the memo: the given one, or the only one held for
    /// the key. Two held tokens mean a lease outlived `maxLockTime` and another
    /// call took the lock: which of them unlocks cannot be guessed.
    fn forget_lock(&self, lock_key: &str, token: Option<&str>) -> StoreResult<Option<String>> {
        let Ok(mut held) = self.held_locks.lock() else {
            return Ok(None);
        };
        let Some(tokens) = held.get_mut(lock_key) else {
            return Ok(None);
        };
        let taken = match token {
            Some(token) => tokens.iter().position(|t| t == token).map(|at| tokens.remove(at)),
            None if tokens.len() > 1 => {
                return Err(StoreError::new(
                    code::LOCK_AMBIGUOUS,
                    "this store took the lock on this session more than once (a lease outlived maxLockTime): \
                     pass unlock() the token its lock() resolved",
                ))
            }
            None => tokens.pop(),
        };
        if tokens.is_empty() {
            held.remove(lock_key);
        }
        Ok(taken)
    }

    /// Whether the lease `token` names is still held: a holder that may have
    /// outlived `maxLockTime` checks before it writes (1 consistent read; it
    /// narrows the window, it does not fence).
    pub async fn holds_lock(&self, sid: &str, token: &str) -> StoreResult<bool> {
        let key = self.key(sid)?;
        let lock_key = lock::lock_key(&self.options.prefix, &key);
        let client = &self.ready().await?.sdk;
        let item = self
            .consistent_get(client, &lock_key, [lock::OWNER_ATTR, lock::UNTIL_ATTR])
            .await?;
        Ok(item.is_some_and(|item| lock::held_by(&item, token, codec::now_ms())))
    }

    async fn release_lock(&self, client: &Client, lock_key: &str, owner: &str) -> StoreResult<bool> {
        let result = client
            .delete_item()
            .table_name(&self.options.table)
            .key(&self.options.hash_key, AttributeValue::S(lock_key.to_string()))
            .condition_expression("#o = :o")
            .expression_attribute_names("#o", lock::OWNER_ATTR)
            .expression_attribute_values(":o", AttributeValue::S(owner.to_string()))
            .return_consumed_capacity(ReturnConsumedCapacity::Total)
            .send()
            .await
            .map_err(StoreError::from);
        match result {
            Ok(output) => {
                self.stats.write(output.consumed_capacity.as_ref());
                Ok(true)
            }
            // The lease ran out and someone else took it: nothing of ours to release.
            Err(err) if err.is("ConditionalCheckFailedException") => Ok(false),
            Err(err) => Err(err),
        }
    }

    /// Every live session of this store as (sid, session JSON).
    pub async fn all(&self) -> StoreResult<Vec<(String, String)>> {
        self.refuse_with_hashed_ids("all()")?;
        let items = self.scan(Scope::Live, true).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let sid = self.sid_of_item(&item)?;
                let key = format!("{}{sid}", self.options.prefix);
                match self.decode(&key, item, codec::now_ms()) {
                    Ok(found) => Some((sid, found?.sess)),
                    Err(err) => {
                        self.logger
                            .warn(format!("all() leaves out session \"{sid}\": {}", err.message));
                        None
                    }
                }
            })
            .collect())
    }

    pub async fn ids(&self) -> StoreResult<Vec<String>> {
        self.refuse_with_hashed_ids("ids()")?;
        let items = self.scan(Scope::Live, false).await?;
        Ok(items.iter().filter_map(|item| self.sid_of_item(item)).collect())
    }

    pub async fn length(&self) -> StoreResult<u32> {
        let items = self.scan(Scope::Live, false).await?;
        Ok(items.iter().filter(|item| self.sid_of_item(item).is_some()).count() as u32)
    }

    /// Deletes every session of this store's prefix; returns how many.
    pub async fn clear(&self) -> StoreResult<u32> {
        self.delete_scope(Scope::All).await
    }

    /// Deletes the expired sessions of this store's prefix; returns how many.
    pub async fn reap(&self) -> StoreResult<u32> {
        self.delete_scope(Scope::Expired).await
    }

    async fn delete_scope(&self, scope: Scope) -> StoreResult<u32> {
        let client = &self.ready().await?.sdk;
        let mut pages = Pages::new(self.scan_request(client, scope, false));
        let mut deleted = 0;
        while let Some(items) = pages.next().await? {
            let keys = items
                .into_iter()
                .filter_map(|mut item| match item.remove(&self.options.hash_key) {
                    Some(AttributeValue::S(key)) => Some(key),
                    _ => None,
                })
                .collect();
            deleted += batch::delete_keys(client, &self.options.table, &self.options.hash_key, keys).await?;
        }
        Ok(deleted)
    }

    /// All pages of a scan of this store's items.
    async fn scan(&self, scope: Scope, with_session: bool) -> StoreResult<Vec<Item>> {
        let client = &self.ready().await?.sdk;
        let mut pages = Pages::new(self.scan_request(client, scope, with_session));
        let mut items = Vec::new();
        while let Some(page) = pages.next().await? {
            items.extend(page);
        }
        Ok(items)
    }

    /// A Scan of this store's prefix. Expiry is judged as `get` judges it:
    /// expired once `floor(now_s) >= expires`.
    fn scan_request(&self, client: &Client, scope: Scope, with_session: bool) -> ScanFluentBuilder {
        let mut conditions = Vec::new();
        let mut request = client
            .scan()
            .table_name(&self.options.table)
            // A sealed session is judged with its expires, so both come along.
            .projection_expression(if with_session { "#k, #s, #e" } else { "#k" })
            .expression_attribute_names("#k", &self.options.hash_key);
        if with_session || matches!(scope, Scope::Live) {
            request = request.expression_attribute_names("#s", self.layout().sess_attr());
        }
        if with_session {
            request = request.expression_attribute_names("#e", EXPIRES_ATTR);
        }
        if !self.options.prefix.is_empty() {
            conditions.push("begins_with(#k, :p)");
            request = request.expression_attribute_values(":p", AttributeValue::S(self.options.prefix.clone()));
        }
        let now = codec::number(self.layout().now(codec::now_ms()));
        match scope {
            Scope::Live => conditions.push("attribute_exists(#s) AND (attribute_not_exists(#e) OR #e > :now)"),
            Scope::Expired => conditions.push("#e <= :now"),
            Scope::All => {}
        }
        if !matches!(scope, Scope::All) {
            request = request
                .expression_attribute_names("#e", EXPIRES_ATTR)
                .expression_attribute_values(":now", now);
        }
        if !conditions.is_empty() {
            request = request.filter_expression(conditions.join(" AND "));
        }
        request
    }

    fn sid_of_item(&self, item: &Item) -> Option<String> {
        match item.get(&self.options.hash_key) {
            Some(AttributeValue::S(key)) => codec::sid_of(&self.options.prefix, key).map(str::to_string),
            _ => None,
        }
    }
}

fn conflict(read: f64, stored: Option<&Item>) -> StoreError {
    let Some(stored) = stored else {
        return StoreError::new(
            code::SESSION_CONFLICT,
            format!("the session was removed since it was read (read version {read}); it is not recreated from a stale copy"),
        );
    };
    let stored = codec::read_number(stored.get(VERSION_ATTR)).unwrap_or(0.0);
    StoreError::new(
        code::SESSION_CONFLICT,
        format!("the session changed since it was read (read version {read}, stored version {stored}); reload it and apply the change again"),
    )
}

/// A cursor over the pages of a Scan (`LastEvaluatedKey` to `ExclusiveStartKey`).
struct Pages {
    request: ScanFluentBuilder,
    start: Option<Item>,
    done: bool,
}

impl Pages {
    fn new(request: ScanFluentBuilder) -> Self {
        Pages {
            request,
            start: None,
            done: false,
        }
    }

    async fn next(&mut self) -> StoreResult<Option<Vec<Item>>> {
        if self.done {
            return Ok(None);
        }
        let output = self
            .request
            .clone()
            .set_exclusive_start_key(self.start.take())
            .send()
            .await?;
        self.start = output.last_evaluated_key.filter(|key| !key.is_empty());
        self.done = self.start.is_none();
        Ok(Some(output.items.unwrap_or_default()))
    }
}
