//! One user, many sessions. `set` copies the user (the session value at
//! `userPath`) into its own attribute, and a sparse KEYS_ONLY index over that
//! attribute finds a user's sessions.
//!
//! The index is eventually consistent: a session written a moment ago may not
//! be in it yet. So each write that gives a session a user also records the
//! session key in a small registry item, read strongly consistent. Registry
//! items are bucketed by time and only the recent buckets are read: the index
//! has caught up with anything older. Whatever the index or the registry
//! yields is then read back consistently and kept only if it still belongs to
//! the user and is live, so no other user's session is ever touched.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::AttributeValue;

use super::batch::Batch;
use super::devices::Device;
use super::shared::{Memo, Shared};
use crate::codec::{self, user_argument, UserArg};
use crate::error::{code, StoreError, StoreResult};
use crate::item::{now_ms, number, read_number, Item};
use crate::layout::END_TEST;
use crate::options::StoreOptions;
use crate::recent::RecentSessions;
use crate::schema::{
    is_registry_sid, CREATED_ATTR, DESTROYED_ATTR, DEVICE_ATTR, EXPIRES_ATTR, EXPIRES_MS_ATTR, REGISTRY_MARK,
    REGISTRY_SIDS_ATTR, REGISTRY_TYPE, SEEN_ATTR, TYPE_ATTR,
};
use crate::stats::Stats;
use crate::table;
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{next_start, read_items, Body};

/// A session re-saved under the same user within this time needs no new
/// registry entry: the one made before still covers the index's lag.
const REGISTERED_FRESH: Duration = Duration::from_secs(REGISTRY_WINDOW_S as u64 / 2);

/// How long one registry bucket covers, in seconds. It bounds the index lag
/// the registry can hide; DynamoDB's index lag is normally under a second.
pub const REGISTRY_WINDOW_S: i64 = 60;
/// Buckets read: the current one and the two before it, so every entry from
/// the last two windows is seen.
const REGISTRY_BUCKETS_READ: i64 = 3;

fn registry_key(prefix: &str, bucket: i64, user: &str) -> String {
    format!("{prefix}{REGISTRY_MARK}{bucket}~{user}")
}

fn bucket_of(now_s: i64) -> i64 {
    now_s.div_euclid(REGISTRY_WINDOW_S)
}

/// A live session of a user: its table key, expiry (epoch seconds), and,
/// where the store recorded them, when it began and was last seen (epoch ms)
/// and the device it was created from.
pub struct UserSession {
    pub key: String,
    pub expires: i64,
    pub created_ms: Option<f64>,
    pub seen_ms: Option<f64>,
    pub device: Vec<(String, String)>,
}

/// The user operations over one table.
pub struct UserIndex<'a> {
    pub wire: &'a Wire,
    pub options: &'a StoreOptions,
    pub stats: &'a Stats,
}

impl UserIndex<'_> {
    /// Records that the session `key` belongs to `user`, before the session
    /// itself is written. A bucket full to DynamoDB's 400 KB limit (thousands
    /// of new sessions of one user within a minute) takes no more entries:
    /// those sessions are found through the index alone, once it catches up.
    pub async fn register(&self, user: &str, key: &str, now_s: i64) -> StoreResult<()> {
        match self.add_to_registry(user, key, now_s).await {
            Err(err) if err.is("ValidationException") && err.message.to_lowercase().contains("size") => Ok(()),
            other => other,
        }
    }

    async fn add_to_registry(&self, user: &str, key: &str, now_s: i64) -> StoreResult<()> {
        let bucket = bucket_of(now_s);
        // Kept past the window it is read in; DynamoDB TTL or reap removes it.
        let expires = (bucket + REGISTRY_BUCKETS_READ + 1) * REGISTRY_WINDOW_S;
        let registry = registry_key(&self.options.prefix, bucket, user);
        let body = Body::new(&self.options.table, registry.len() + key.len())
            .key(&self.options.hash_key, &registry)
            .string("UpdateExpression", "ADD #sids :sid SET #e = :e, #t = :t")
            .names(&[("#sids", REGISTRY_SIDS_ATTR), ("#e", EXPIRES_ATTR), ("#t", TYPE_ATTR)])
            .values(&[
                (":sid", &AttributeValue::Ss(vec![key.to_string()])),
                (":e", &number(expires)),
                (":t", &AttributeValue::S(REGISTRY_TYPE.to_string())),
            ])?
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let reply = self.wire.call(Target::UpdateItem, body).await?.done()?;
        self.stats.write_units(wire::capacity_units(&reply));
        Ok(())
    }

    fn batch(&self) -> Batch<'_> {
        Batch {
            wire: self.wire,
            table: &self.options.table,
            hash_key: &self.options.hash_key,
            stats: self.stats,
        }
    }

    /// The live sessions of `user` under this store's prefix, soonest expiry first.
    pub async fn sessions(&self, user: &str) -> StoreResult<Vec<UserSession>> {
        let (mut keys, registered) = tokio::try_join!(self.indexed_keys(user), self.registered_keys(user))?;
        keys.extend(registered);
        let prefix = &self.options.prefix;
        keys.retain(|key| codec::sid_of(prefix, key).is_some_and(|sid| !is_registry_sid(sid)));
        let attribute = self.options.users.attribute.as_str();
        let hash_key = self.options.hash_key.as_str();
        let attributes = [
            hash_key,
            attribute,
            EXPIRES_ATTR,
            EXPIRES_MS_ATTR,
            CREATED_ATTR,
            SEEN_ATTR,
            DEVICE_ATTR,
        ];
        let items = self.batch().get_keys(keys.into_iter().collect(), &attributes).await?;
        let now_ms = now_ms();
        let absolute = self.options.absolute_timeout_ms;
        let mut sessions: Vec<UserSession> = items
            .into_iter()
            .filter(|item| matches!(item.get(attribute), Some(AttributeValue::S(owner)) if owner == user))
            .filter_map(|item| live_session(item, hash_key, now_ms, absolute))
            .collect();
        sessions.sort_by(|a, b| a.expires.cmp(&b.expires).then_with(|| a.key.cmp(&b.key)));
        Ok(sessions)
    }

    /// Every key the index holds for `user`, page by page.
    async fn indexed_keys(&self, user: &str) -> StoreResult<BTreeSet<String>> {
        let mut keys = BTreeSet::new();
        let mut start = None;
        loop {
            let mut body = Body::new(&self.options.table, user.len() + 64)
                .string("IndexName", &self.options.users.index)
                .string("KeyConditionExpression", "#u = :u")
                .string("ProjectionExpression", "#k")
                .names(&[("#u", &self.options.users.attribute), ("#k", &self.options.hash_key)])
                .values(&[(":u", &AttributeValue::S(user.to_string()))])?;
            if let Some(start) = &start {
                body = body.json("ExclusiveStartKey", start);
            }
            let body = body.string("ReturnConsumedCapacity", "TOTAL").finish();
            let answer = self
                .wire
                .call(Target::Query, body)
                .await
                .and_then(|outcome| outcome.done());
            let mut reply = answer.map_err(|err| self.index_error(err))?;
            self.stats.read_units(wire::capacity_units(&reply));
            for mut item in read_items(&mut reply)? {
                if let Some(AttributeValue::S(key)) = item.remove(&self.options.hash_key) {
                    keys.insert(key);
                }
            }
            start = next_start(&mut reply);
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    /// The keys registered for `user` in the recent buckets.
    async fn registered_keys(&self, user: &str) -> StoreResult<Vec<String>> {
        let current = bucket_of((now_ms() / 1000.0).floor() as i64);
        let buckets = (0..REGISTRY_BUCKETS_READ)
            .map(|back| registry_key(&self.options.prefix, current - back, user))
            .collect();
        let items = self.batch().get_keys(buckets, &[REGISTRY_SIDS_ATTR]).await?;
        Ok(items
            .into_iter()
            .filter_map(|mut item| match item.remove(REGISTRY_SIDS_ATTR) {
                Some(AttributeValue::Ss(keys)) => Some(keys),
                _ => None,
            })
            .flatten()
            .collect())
    }

    /// DynamoDB answers a Query on a missing or still-building index with a
    /// ValidationException; say what to do about it.
    fn index_error(&self, err: StoreError) -> StoreError {
        if err.is("ValidationException") && err.message.to_lowercase().contains("index") {
            return StoreError::new(
                code::USER_INDEX_MISSING,
                format!(
                    "table \"{}\" has no usable index \"{}\" (call ensureUserIndex() once): {}",
                    self.options.table, self.options.users.index, err.message
                ),
            );
        }
        err
    }
}

/// The user calls over the shared parts, and this concern's own state.
pub struct Users<'a> {
    pub shared: &'a Shared,
    /// Session key -> (user, when this store registered it).
    pub registered: &'a Memo<(String, Instant)>,
    /// What the session calls remember, which a session ended here leaves.
    pub recent: &'a RecentSessions,
}

impl Users<'_> {
    pub fn index<'a>(&'a self, wire: &'a Wire) -> UserIndex<'a> {
        UserIndex {
            wire,
            options: &self.shared.options,
            stats: &self.shared.stats,
        }
    }

    /// The user this write gives the session, unless this store registered
    /// the same pair recently. Anonymous sessions indexed under their own key
    /// are never looked up by user, so they are not registered.
    pub fn to_register(&self, item: &Item, key: &str) -> Option<String> {
        let user = match item.get(&self.shared.options.users.attribute) {
            Some(AttributeValue::S(user)) if self.shared.options.users.enabled() && user != key => user,
            _ => return None,
        };
        match self.registered.get(key) {
            Some((known, at)) if &known == user && at.elapsed() < REGISTERED_FRESH => None,
            _ => Some(user.clone()),
        }
    }

    pub fn remember(&self, key: String, user: String) {
        self.registered.insert(key, (user, Instant::now()));
    }

    /// Destroys the sessions of `user` that expire soonest until at most
    /// `max` are left; the session just saved is never one of them.
    pub async fn limit_sessions(&self, wire: &Wire, user: &str, keep: &str, max: u32) -> StoreResult<u32> {
        let sessions = self.index(wire).sessions(user).await?;
        let excess = sessions.len().saturating_sub(max as usize);
        let oldest = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| key != keep)
            .take(excess)
            .collect();
        self.shared
            .batch(wire)
            .tombstone_keys(self.shared.layout(), oldest)
            .await
    }

    /// Makes sure the table has the user index, adding it if needed.
    pub async fn ensure_index(&self) -> StoreResult<()> {
        let client = &self.shared.ready().await?.sdk;
        table::ensure_user_index(client, &self.shared.options, &self.shared.logger).await
    }

    /// The live sessions of a user, each with its sid.
    pub async fn sessions_for_user(&self, user: UserArg) -> StoreResult<Vec<(String, UserSession)>> {
        let user = user_argument(user)?;
        self.shared.refuse_with_hashed_ids("listSessionsForUser()")?;
        let wire = &self.shared.ready().await?.wire;
        let sessions = self.index(wire).sessions(&user).await?;
        Ok(sessions
            .into_iter()
            .filter_map(|session| {
                let sid = codec::sid_of(&self.shared.options.prefix, &session.key)?.to_string();
                Some((sid, session))
            })
            .collect())
    }

    /// Destroys every session of a user except `keep_sid`; returns how many.
    pub async fn destroy_sessions_for_user(&self, user: UserArg, keep_sid: Option<&str>) -> StoreResult<u32> {
        let user = user_argument(user)?;
        let keep = keep_sid.map(|sid| self.shared.key(sid)).transpose()?;
        let wire = &self.shared.ready().await?.wire;
        let sessions = self.index(wire).sessions(&user).await?;
        let doomed = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| Some(key) != keep.as_ref())
            .collect();
        self.shared
            .batch(wire)
            .tombstone_keys(self.shared.layout(), doomed)
            .await
    }

    /// Ends the session `sid` if it is a live session of `user` (one row of
    /// "Your devices"); ERR_SESSION_NOT_FOUND when it is not, and then
    /// nothing is written.
    pub async fn destroy_session_for_user(&self, user: UserArg, sid: &str) -> StoreResult<()> {
        let user = user_argument(user)?;
        let key = self.shared.key(sid)?;
        let wire = &self.shared.ready().await?.wire;
        let now_ms = now_ms();
        let tombstone = codec::tombstone(self.shared.layout(), &self.shared.options.hash_key, key.clone(), now_ms);
        let layout = self.shared.layout();
        let condition = format!("#u = :u AND attribute_exists(#s) AND {}", layout.live(&END_TEST));
        let mut names = vec![
            ("#u", self.shared.options.users.attribute.as_str()),
            ("#s", layout.sess_attr()),
        ];
        names.extend(layout.end_names(&END_TEST));
        let user = AttributeValue::S(user);
        let now = layout.end_values(&END_TEST, now_ms);
        let values: Vec<(&str, &AttributeValue)> = [(":u", &user)]
            .into_iter()
            .chain(now.iter().map(|(at, value)| (*at, value)))
            .collect();
        let body = Body::new(&self.shared.options.table, key.len() + 64)
            .item(&tombstone)?
            .string("ConditionExpression", &condition)
            .names(&names)
            .values(&values)?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                self.recent.forget(&key);
                Ok(())
            }
            // An earlier attempt ended it after all: the tombstone is there.
            Outcome::ConditionFailed(failed)
                if failed.maybe_ours
                    && failed
                        .body
                        .get("Item")
                        .is_some_and(|item| item.get(DESTROYED_ATTR).is_some()) =>
            {
                self.recent.forget(&key);
                Ok(())
            }
            Outcome::ConditionFailed(_) => Err(StoreError::new(
                code::SESSION_NOT_FOUND,
                "that user has no live session with this id",
            )),
        }
    }
}

/// A session item read back for a user's list, unless it has expired (or outlived `absolute`).
fn live_session(mut item: Item, hash_key: &str, now_ms: f64, absolute: Option<f64>) -> Option<UserSession> {
    let expires = read_number(item.get(EXPIRES_ATTR));
    let created_ms = read_number(item.get(CREATED_ATTR));
    let ended = matches!((created_ms, absolute), (Some(created), Some(absolute)) if created + absolute <= now_ms);
    if codec::has_ended(&item, now_ms) || ended {
        return None;
    }
    match item.remove(hash_key) {
        Some(AttributeValue::S(key)) => Some(UserSession {
            key,
            expires: expires.map_or(i64::MAX, |e| e.ceil() as i64),
            created_ms,
            seen_ms: read_number(item.get(SEEN_ATTR)),
            device: Device::fields(item.get(DEVICE_ATTR)),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_keys_are_distinct_per_bucket_and_user() {
        assert_eq!(registry_key("sess:", 5, "a~b"), "sess:~user~5~a~b");
        assert_ne!(registry_key("p", 1, "2~x"), registry_key("p", 12, "x"));
        assert_eq!(bucket_of(119), 1);
        assert_eq!(bucket_of(120), 2);
        assert!(is_registry_sid("~user~1~ann") && !is_registry_sid("abc"));
    }
}
