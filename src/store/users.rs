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
use serde_json::Value;

use super::batch::Batch;
use super::devices::{Device, DEVICE_ATTR};
use super::lifetime::{CREATED_ATTR, SEEN_ATTR};
use super::scans::{next_start, read_items};
use super::{Store, MEMO_LIMIT};
use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::options::{StoreOptions, UserOptions, EXPIRES_ATTR, EXPIRES_MS_ATTR, TYPE_ATTR};
use crate::stats::Stats;
use crate::table;
use crate::wire::{self, Target, Wire};
use crate::wire_json::Body;

/// A session re-saved under the same user within this time needs no new
/// registry entry: the one made before still covers the index's lag.
const REGISTERED_FRESH: Duration = Duration::from_secs(REGISTRY_WINDOW_S as u64 / 2);

/// How long one registry bucket covers, in seconds. It bounds the index lag
/// the registry can hide; DynamoDB's index lag is normally under a second.
pub const REGISTRY_WINDOW_S: i64 = 60;
/// Buckets read: the current one and the two before it, so every entry from
/// the last two windows is seen.
const REGISTRY_BUCKETS_READ: i64 = 3;
/// Marks registry keys among session keys; no session id may start with it.
pub const REGISTRY_MARK: &str = "~user~";
const REGISTRY_TYPE: &str = "connect-session-users";
pub const REGISTRY_SIDS_ATTR: &str = "sids";
/// Users are index keys; this leaves room for the prefix in registry keys.
const MAX_USER_BYTES: usize = 1024;

/// The user attribute `set` writes for this session, if any: the value at
/// `userPath` (strings as is, numbers and booleans as JSON), or with
/// `indexAnonymous` the session key for sessions without a user.
pub fn user_attribute(users: &UserOptions, session: &Value, key: &str) -> StoreResult<Option<String>> {
    if !users.enabled() {
        return Ok(None);
    }
    let value = users.path.iter().try_fold(session, |value, segment| value.get(segment));
    let invalid = |what: &str| {
        StoreError::new(
            code::INVALID_USER,
            format!("the session value at userPath \"{}\" {what}", users.path.join(".")),
        )
    };
    let user = match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(value @ (Value::Number(_) | Value::Bool(_))) => Some(value.to_string()),
        Some(Value::Object(_) | Value::Array(_)) => {
            return Err(invalid("is an object or array; it must be a string or a number"))
        }
    };
    match user {
        Some(user) if user.len() > MAX_USER_BYTES => Err(invalid(&format!("is over {MAX_USER_BYTES} bytes"))),
        Some(user) => Ok(Some(user)),
        None if users.index_anonymous => Ok(Some(key.to_string())),
        None => Ok(None),
    }
}

/// A user given to one of the user methods, as `set` would have stored it.
pub fn user_argument(user: UserArg) -> StoreResult<String> {
    let text = match user {
        UserArg::Text(text) => text,
        UserArg::Number(n) => match serde_json::Number::from_f64(n) {
            Some(_) if n.fract() == 0.0 && n.abs() < 9_007_199_254_740_992.0 => format!("{}", n as i64),
            Some(number) => number.to_string(),
            None => String::new(),
        },
    };
    if text.is_empty() || text.len() > MAX_USER_BYTES {
        return Err(StoreError::new(
            code::INVALID_USER,
            format!("user must be a non-empty string of at most {MAX_USER_BYTES} bytes, or a finite number"),
        ));
    }
    Ok(text)
}

pub enum UserArg {
    Text(String),
    Number(f64),
}

pub fn is_registry_sid(sid: &str) -> bool {
    sid.starts_with(REGISTRY_MARK)
}

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
                (":e", &codec::number(expires)),
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
        let now_ms = codec::now_ms();
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
        let current = bucket_of((codec::now_ms() / 1000.0).floor() as i64);
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

impl Store {
    pub(super) fn user_index<'a>(&'a self, wire: &'a Wire) -> UserIndex<'a> {
        UserIndex {
            wire,
            options: &self.options,
            stats: &self.stats,
        }
    }

    /// The user this write gives the session, unless this store registered
    /// the same pair recently. Anonymous sessions indexed under their own key
    /// are never looked up by user, so they are not registered.
    pub(super) fn user_to_register(&self, item: &Item, key: &str) -> Option<String> {
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

    pub(super) fn remember_registered(&self, key: String, user: String) {
        if let Ok(mut registered) = self.registered.lock() {
            if registered.len() >= MEMO_LIMIT {
                registered.clear();
            }
            registered.insert(key, (user, Instant::now()));
        }
    }

    /// Destroys the sessions of `user` that expire soonest until at most
    /// `max` are left; the session just saved is never one of them.
    pub(super) async fn limit_sessions(&self, wire: &Wire, user: &str, keep: &str, max: u32) -> StoreResult<u32> {
        let sessions = self.user_index(wire).sessions(user).await?;
        let excess = sessions.len().saturating_sub(max as usize);
        let oldest = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| key != keep)
            .take(excess)
            .collect();
        self.batch(wire).tombstone_keys(self.layout(), oldest).await
    }

    /// Makes sure the table has the user index, adding it if needed.
    pub async fn ensure_user_index(&self) -> StoreResult<()> {
        let client = &self.ready().await?.sdk;
        table::ensure_user_index(client, &self.options, &self.logger).await
    }

    /// The live sessions of a user, each with its sid.
    pub async fn sessions_for_user(&self, user: UserArg) -> StoreResult<Vec<(String, UserSession)>> {
        let user = user_argument(user)?;
        self.refuse_with_hashed_ids("listSessionsForUser()")?;
        let wire = &self.ready().await?.wire;
        let sessions = self.user_index(wire).sessions(&user).await?;
        Ok(sessions
            .into_iter()
            .filter_map(|session| {
                let sid = codec::sid_of(&self.options.prefix, &session.key)?.to_string();
                Some((sid, session))
            })
            .collect())
    }

    /// Destroys every session of a user except `keep_sid`; returns how many.
    pub async fn destroy_sessions_for_user(&self, user: UserArg, keep_sid: Option<&str>) -> StoreResult<u32> {
        let user = user_argument(user)?;
        let keep = keep_sid.map(|sid| self.key(sid)).transpose()?;
        let wire = &self.ready().await?.wire;
        let sessions = self.user_index(wire).sessions(&user).await?;
        let doomed = sessions
            .into_iter()
            .map(|session| session.key)
            .filter(|key| Some(key) != keep.as_ref())
            .collect();
        self.batch(wire).tombstone_keys(self.layout(), doomed).await
    }
}

/// A session item read back for a user's list, unless it has expired (or outlived `absolute`).
fn live_session(mut item: Item, hash_key: &str, now_ms: f64, absolute: Option<f64>) -> Option<UserSession> {
    let expires = codec::read_number(item.get(EXPIRES_ATTR));
    let created_ms = codec::read_number(item.get(CREATED_ATTR));
    let ended = matches!((created_ms, absolute), (Some(created), Some(absolute)) if created + absolute <= now_ms);
    if codec::has_ended(&item, now_ms) || ended {
        return None;
    }
    match item.remove(hash_key) {
        Some(AttributeValue::S(key)) => Some(UserSession {
            key,
            expires: expires.map_or(i64::MAX, |e| e.ceil() as i64),
            created_ms,
            seen_ms: codec::read_number(item.get(SEEN_ATTR)),
            device: Device::fields(item.get(DEVICE_ATTR)),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn users(path: &str, index_anonymous: bool) -> UserOptions {
        UserOptions {
            path: path.split('.').map(str::to_string).collect(),
            attribute: "user".into(),
            index: "user-id-index".into(),
            index_anonymous,
            max_sessions: None,
        }
    }

    #[test]
    fn user_attribute_follows_the_path() {
        let u = users("passport.user", false);
        let at = |session: Value| user_attribute(&u, &session, "sess:k");
        assert_eq!(
            at(json!({"passport": {"user": "ann"}})).unwrap().as_deref(),
            Some("ann")
        );
        assert_eq!(at(json!({"passport": {"user": 42}})).unwrap().as_deref(), Some("42"));
        assert_eq!(at(json!({"passport": {"user": 1.5}})).unwrap().as_deref(), Some("1.5"));
        assert_eq!(at(json!({"passport": {}})).unwrap(), None);
        assert_eq!(at(json!({"passport": "x"})).unwrap(), None);
        assert_eq!(at(json!({"passport": {"user": ""}})).unwrap(), None);
        assert_eq!(at(json!({"passport": {"user": null}})).unwrap(), None);
        let object = at(json!({"passport": {"user": {"id": 1}}})).unwrap_err();
        assert_eq!(object.code, code::INVALID_USER);
        assert!(object.message.contains("passport.user"));
        assert_eq!(
            at(json!({"passport": {"user": "x".repeat(1025)}})).unwrap_err().code,
            code::INVALID_USER
        );
    }

    #[test]
    fn anonymous_sessions_are_indexed_only_when_asked() {
        let fork = users("passport.user", true);
        assert_eq!(
            user_attribute(&fork, &json!({}), "sess:k").unwrap().as_deref(),
            Some("sess:k")
        );
        let off = UserOptions {
            path: Vec::new(),
            ..users("u", true)
        };
        assert_eq!(user_attribute(&off, &json!({"u": "ann"}), "k").unwrap(), None);
    }

    #[test]
    fn user_arguments_match_what_set_stores() {
        let u = users("u", false);
        for value in [json!(42), json!(1.5), json!(-7), json!(1e21)] {
            let stored = user_attribute(&u, &json!({ "u": value }), "k").unwrap();
            let given = user_argument(UserArg::Number(value.as_f64().unwrap())).unwrap();
            assert_eq!(stored.as_deref(), Some(given.as_str()), "{value}");
        }
        assert_eq!(user_argument(UserArg::Text("ann".into())).unwrap(), "ann");
        assert_eq!(
            user_argument(UserArg::Text(String::new())).unwrap_err().code,
            code::INVALID_USER
        );
        assert_eq!(
            user_argument(UserArg::Number(f64::NAN)).unwrap_err().code,
            code::INVALID_USER
        );
        assert_eq!(
            user_argument(UserArg::Text("x".repeat(1025))).unwrap_err().code,
            code::INVALID_USER
        );
    }

    #[test]
    fn registry_keys_are_distinct_per_bucket_and_user() {
        assert_eq!(registry_key("sess:", 5, "a~b"), "sess:~user~5~a~b");
        assert_ne!(registry_key("p", 1, "2~x"), registry_key("p", 12, "x"));
        assert_eq!(bucket_of(119), 1);
        assert_eq!(bucket_of(120), 2);
        assert!(is_registry_sid("~user~1~ann") && !is_registry_sid("abc"));
    }
}
