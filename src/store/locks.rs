//! Lease locks on a session: `lock(sid, verificationValue)` lets one of a
//! browser's concurrent requests rotate a one-time secret (a refresh token);
//! the others are refused and reload the session.
//!
//! A lock is its own small item next to the session (`<prefix>~lock~<sid>`):
//! taking it costs 1 WCU whatever the session's size, and saves of the
//! session neither see nor release it. It ends on `unlock` or after
//! `maxLockTime`, so a crashed holder blocks no one for long.

use aws_sdk_dynamodb::types::AttributeValue;
use ring::rand::{SecureRandom, SystemRandom};
use serde_json::Value;

use super::{Store, MEMO_LIMIT};
use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::layout::Layout;
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{self, Body};

/// Marks lock keys among session keys; no session id may start with it.
pub const LOCK_MARK: &str = "~lock~";
const LOCK_TYPE: &str = "connect-session-lock";
pub const OWNER_ATTR: &str = "owner";
/// When the lease ends, in epoch ms (`expires`, in seconds, is for TTL).
pub const UNTIL_ATTR: &str = "lockedUntil";

/// The lock item's key for a session key (`prefix` + sid or its hash).
pub fn lock_key(prefix: &str, session_key: &str) -> String {
    let id = session_key.strip_prefix(prefix).unwrap_or(session_key);
    format!("{prefix}{LOCK_MARK}{id}")
}

/// A random token naming the holder, so that an unlock releases only its own lease.
pub fn new_owner_token() -> StoreResult<String> {
    use base64::Engine;
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| StoreError::new(code::INTERNAL, "the system random generator failed"))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The lock item, expiring (for TTL and connect-dynamodb-session's cleanup
/// alike) when its lease ends.
pub fn lock_item(layout: Layout, hash_key: &str, key: String, owner: String, until_ms: f64) -> Item {
    let mut item = Item::from([
        (hash_key.to_string(), AttributeValue::S(key)),
        (OWNER_ATTR.to_string(), AttributeValue::S(owner)),
        (UNTIL_ATTR.to_string(), codec::number(until_ms.ceil() as i64)),
    ]);
    codec::extend(&mut item, layout.expiry_attributes(until_ms.ceil() as i64));
    codec::extend(&mut item, layout.type_attribute(LOCK_TYPE));
    item
}

/// Whether a lock item names `token` as its owner and its lease is running.
pub fn held_by(item: &Item, token: &str, now_ms: f64) -> bool {
    let owner = matches!(item.get(OWNER_ATTR), Some(AttributeValue::S(owner)) if owner == token);
    owner && codec::read_number(item.get(UNTIL_ATTR)).is_some_and(|until| until > now_ms)
}

/// The owner token of the lock item a failed condition returned.
fn old_owner(failed: &crate::wire::Failed) -> Option<&str> {
    failed.body.get("Item")?.get(OWNER_ATTR)?.get("S")?.as_str()
}

/// Whether the stored session still holds the value the caller read: if not,
/// another request has already rotated it.
pub fn verify(session_json: &str, property: &str, expected_json: &str) -> StoreResult<()> {
    let expected: Value = serde_json::from_str(expected_json)
        .map_err(|e| StoreError::invalid_argument(format!("verificationValue is not JSON: {e}")))?;
    let session: Value = serde_json::from_str(session_json)
        .map_err(|_| StoreError::new(code::SESSION_CORRUPT, "the stored session is not JSON"))?;
    match session.get(property) {
        Some(stored) if *stored == expected => Ok(()),
        _ => Err(StoreError::new(
            code::SESSION_LOCKED,
            format!("the session's \"{property}\" is no longer the value given: another request changed it; reload the session"),
        )),
    }
}

impl Store {
    /// Takes the session's lease lock for `maxLockTime`, if no one holds it
    /// and the session's verification property still equals
    /// `verification_json`; otherwise ERR_SESSION_LOCKED. Resolves the lease's
    /// owner token: only it releases the lease.
    pub async fn lock(&self, sid: &str, verification_json: &str) -> StoreResult<String> {
        let key = self.key(sid)?;
        let lock_key = lock_key(&self.options.prefix, &key);
        let owner = new_owner_token()?;
        let wire = &self.ready().await?.wire;
        let now_ms = codec::now_ms();
        let until_ms = now_ms + self.options.lock.max_lock_ms;
        let item = lock_item(
            self.layout(),
            &self.options.hash_key,
            lock_key.clone(),
            owner.clone(),
            until_ms,
        );
        let body = Body::new(&self.options.table, 128)
            .item(&item)?
            .string("ConditionExpression", "attribute_not_exists(#k) OR #u <= :now")
            .names(&[("#k", &self.options.hash_key), ("#u", UNTIL_ATTR)])
            .values(&[(":now", &codec::number(now_ms.floor() as i64))])?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => self.stats.write_units(wire::capacity_units(&reply)),
            // An earlier attempt that took the lease after all: it is ours.
            Outcome::ConditionFailed(failed) if failed.maybe_ours && old_owner(&failed) == Some(owner.as_str()) => {}
            Outcome::ConditionFailed(_) => {
                return Err(StoreError::new(
                    code::SESSION_LOCKED,
                    "another request holds the lock on this session; reload the session",
                ))
            }
        }
        // Read only once the lock is held: a rotation finished before it is seen.
        let verified = self
            .read_for_lock(wire, &key, now_ms)
            .await
            .and_then(|sess| verify(&sess, &self.options.lock.verification_property, verification_json));
        if let Err(err) = verified {
            // The caller needs the reason it was refused; a lock left behind ends with its lease.
            if let Err(release) = self.release_lock(wire, &lock_key, &owner).await {
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

    /// A consistent read of some attributes of one item (the lock's calls).
    async fn consistent_get(&self, wire: &Wire, key: &str, attributes: &[&str]) -> StoreResult<Option<Item>> {
        const PLACEHOLDERS: [&str; 4] = ["#a", "#b", "#c", "#d"];
        let mut names: Vec<(&str, &str)> = PLACEHOLDERS.iter().copied().zip(attributes.iter().copied()).collect();
        names.push(("#k", &self.options.hash_key));
        let projection: Vec<&str> = names.iter().map(|(placeholder, _)| *placeholder).collect();
        let body = Body::new(&self.options.table, key.len())
            .key(&self.options.hash_key, key)
            .boolean("ConsistentRead", true)
            .string("ProjectionExpression", &projection.join(", "))
            .names(&names)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let mut reply = wire.call(Target::GetItem, body).await?.done()?;
        self.stats.read_units(wire::capacity_units(&reply));
        let item = reply.remove("Item").map(wire_json::read_item).transpose()?;
        if let Some(item) = &item {
            self.same_key(wire, item, key)?;
        }
        Ok(item)
    }

    async fn read_for_lock(&self, wire: &Wire, key: &str, now_ms: f64) -> StoreResult<String> {
        let item = self.consistent_get(wire, key, &self.expiry_and_session()).await?;
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
        let lock_key = lock_key(&self.options.prefix, &key);
        let owner = match token {
            Some(token) => {
                self.forget_lock(&lock_key, Some(token))?;
                Some(token.to_string())
            }
            None => self.forget_lock(&lock_key, None)?,
        };
        let Some(owner) = owner else { return Ok(false) };
        let wire = &self.ready().await?.wire;
        self.release_lock(wire, &lock_key, &owner).await
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
        let lock_key = lock_key(&self.options.prefix, &key);
        let wire = &self.ready().await?.wire;
        let item = self.consistent_get(wire, &lock_key, &[OWNER_ATTR, UNTIL_ATTR]).await?;
        Ok(item.is_some_and(|item| held_by(&item, token, codec::now_ms())))
    }

    async fn release_lock(&self, wire: &Wire, lock_key: &str, owner: &str) -> StoreResult<bool> {
        let body = Body::new(&self.options.table, lock_key.len() + owner.len())
            .key(&self.options.hash_key, lock_key)
            .string("ConditionExpression", "#o = :o")
            .names(&[("#o", OWNER_ATTR)])
            .values(&[(":o", &AttributeValue::S(owner.to_string()))])?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::DeleteItem, body).await? {
            Outcome::Done(reply) => {
                self.stats.write_units(wire::capacity_units(&reply));
                Ok(true)
            }
            // An earlier attempt deleted it after all.
            Outcome::ConditionFailed(failed) if failed.maybe_ours && !failed.body.contains_key("Item") => Ok(true),
            // The lease ran out and someone else took it: nothing of ours to release.
            Outcome::ConditionFailed(_) => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_sit_next_to_the_session() {
        assert_eq!(lock_key("sess:", "sess:abc"), "sess:~lock~abc");
        assert_eq!(lock_key("", "abc"), "~lock~abc");
    }

    #[test]
    fn owner_tokens_differ() {
        let (a, b) = (new_owner_token().unwrap(), new_owner_token().unwrap());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }

    #[test]
    fn verification_compares_json_values() {
        let sess = r#"{"refresh_token":"r1","n":2,"cookie":{}}"#;
        assert!(verify(sess, "refresh_token", r#""r1""#).is_ok());
        assert!(verify(sess, "n", "2").is_ok());
        assert_eq!(
            verify(sess, "refresh_token", r#""r0""#).unwrap_err().code,
            code::SESSION_LOCKED
        );
        assert_eq!(verify(sess, "missing", "null").unwrap_err().code, code::SESSION_LOCKED);
        assert_eq!(
            verify(sess, "refresh_token", "not json").unwrap_err().code,
            code::INVALID_ARGUMENT
        );
        assert_eq!(
            verify("garbage", "refresh_token", r#""r1""#).unwrap_err().code,
            code::SESSION_CORRUPT
        );
    }

    #[test]
    fn the_lock_item_expires_with_its_lease() {
        let item = lock_item(
            Layout::ConnectDynamoDB,
            "id",
            "sess:~lock~a".into(),
            "t".into(),
            1_700_000_000_500.0,
        );
        assert_eq!(item.get("expires"), Some(&AttributeValue::N("1700000001".into())));
        assert_eq!(item.get(UNTIL_ATTR), Some(&AttributeValue::N("1700000000500".into())));
    }
}
