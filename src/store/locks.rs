//! Lease locks on a session: `lock(sid, verificationValue)` lets one of a
//! browser's concurrent requests rotate a one-time secret (a refresh token);
//! the others are refused and reload the session.
//!
//! A lock is its own small item next to the session (`<prefix>~lock~<sid>`):
//! taking it costs 1 WCU whatever the session's size, and saves of the
//! session neither see nor release it. It ends on `unlock` or after
//! `maxLockTime`, so a crashed holder blocks no one for long.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::shared::{random_token, Memo, Shared};
use crate::error::{code, StoreError, StoreResult};
use crate::item::{extend, now_ms, number, read_number, Item};
use crate::layout::Layout;
use crate::schema::{LOCK_MARK, LOCK_TYPE, OWNER_ATTR, UNTIL_ATTR};
use crate::wire::{self, Failed, Outcome, Target, Wire};
use crate::wire_json::Body;

/// The lock item's key for a session key (`prefix` + sid or its hash).
pub fn lock_key(prefix: &str, session_key: &str) -> String {
    let id = session_key.strip_prefix(prefix).unwrap_or(session_key);
    format!("{prefix}{LOCK_MARK}{id}")
}

/// The lock item, expiring (for TTL and connect-dynamodb-session's cleanup
/// alike) when its lease ends.
pub fn lock_item(layout: Layout, hash_key: &str, key: String, owner: String, until_ms: f64) -> Item {
    let mut item = Item::from([
        (hash_key.to_string(), AttributeValue::S(key)),
        (OWNER_ATTR.to_string(), AttributeValue::S(owner)),
        (UNTIL_ATTR.to_string(), number(until_ms.ceil() as i64)),
    ]);
    extend(&mut item, layout.expiry_attributes(until_ms.ceil() as i64));
    extend(&mut item, layout.type_attribute(LOCK_TYPE));
    item
}

/// Whether a lock item names `token` as its owner and its lease is running.
pub fn held_by(item: &Item, token: &str, now_ms: f64) -> bool {
    let owner = matches!(item.get(OWNER_ATTR), Some(AttributeValue::S(owner)) if owner == token);
    owner && read_number(item.get(UNTIL_ATTR)).is_some_and(|until| until > now_ms)
}

/// The owner token of the lock item a failed condition returned.
fn old_owner(failed: &Failed) -> Option<&str> {
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

/// The lock calls over the shared parts, and this concern's own state.
pub struct Locks<'a> {
    pub shared: &'a Shared,
    /// Lock key -> the owner tokens of this store's `lock()` calls not yet
    /// unlocked (more than one only when a lease outlived `maxLockTime`).
    pub held: &'a Memo<Vec<String>>,
}

impl Locks<'_> {
    /// Takes the session's lease lock for `maxLockTime`, if no one holds it
    /// and the session's verification property still equals
    /// `verification_json`; otherwise ERR_SESSION_LOCKED. Resolves the lease's
    /// owner token: only it releases the lease.
    pub async fn lock(&self, sid: &str, verification_json: &str) -> StoreResult<String> {
        let key = self.shared.key(sid)?;
        let lock_key = lock_key(&self.shared.options.prefix, &key);
        let owner = random_token()?;
        let wire = &self.shared.ready().await?.wire;
        let now_ms = now_ms();
        let until_ms = now_ms + self.shared.options.lock.max_lock_ms;
        let item = lock_item(
            self.shared.layout(),
            &self.shared.options.hash_key,
            lock_key.clone(),
            owner.clone(),
            until_ms,
        );
        let body = Body::new(&self.shared.options.table, 128)
            .item(&item)?
            .string("ConditionExpression", "attribute_not_exists(#k) OR #u <= :now")
            .names(&[("#k", &self.shared.options.hash_key), ("#u", UNTIL_ATTR)])
            .values(&[(":now", &number(now_ms.floor() as i64))])?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => self.shared.stats.write_units(wire::capacity_units(&reply)),
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
        let verified = self.read_for_lock(wire, &key, now_ms).await.and_then(|sess| {
            verify(
                &sess,
                &self.shared.options.lock.verification_property,
                verification_json,
            )
        });
        if let Err(err) = verified {
            // The caller needs the reason it was refused; a lock left behind ends with its lease.
            if let Err(release) = self.release_lock(wire, &lock_key, &owner).await {
                self.shared.logger.debug(format!(
                    "a refused lock was not released ({}); its lease ends it",
                    release.message
                ));
            }
            return Err(err);
        }
        // Tokens the memo forgets release nothing: those leases end by themselves.
        self.held.entry(lock_key, |tokens| tokens.push(owner.clone()));
        Ok(owner)
    }

    async fn read_for_lock(&self, wire: &Wire, key: &str, now_ms: f64) -> StoreResult<String> {
        let item = self
            .shared
            .read_consistent(wire, key, Some(&self.shared.expiry_and_session()))
            .await?;
        let found = match item {
            Some(item) => self.shared.decode(key, item, now_ms)?,
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
        let key = self.shared.key(sid)?;
        let lock_key = lock_key(&self.shared.options.prefix, &key);
        let owner = match token {
            Some(token) => {
                self.forget_lock(&lock_key, Some(token))?;
                Some(token.to_string())
            }
            None => self.forget_lock(&lock_key, None)?,
        };
        let Some(owner) = owner else { return Ok(false) };
        let wire = &self.shared.ready().await?.wire;
        self.release_lock(wire, &lock_key, &owner).await
    }

    /// Takes a token out of the memo: the given one, or the only one held for
    /// the key. Two held tokens mean a lease outlived `maxLockTime` and another
    /// call took the lock: which of them unlocks cannot be guessed.
    fn forget_lock(&self, lock_key: &str, token: Option<&str>) -> StoreResult<Option<String>> {
        self.held
            .with(|held| take_token(held, lock_key, token))
            .unwrap_or(Ok(None))
    }

    /// Whether the lease `token` names is still held: a holder that may have
    /// outlived `maxLockTime` checks before it writes (1 consistent read; it
    /// narrows the window, it does not fence).
    pub async fn holds_lock(&self, sid: &str, token: &str) -> StoreResult<bool> {
        let key = self.shared.key(sid)?;
        let lock_key = lock_key(&self.shared.options.prefix, &key);
        let wire = &self.shared.ready().await?.wire;
        let item = self
            .shared
            .read_consistent(wire, &lock_key, Some(&[OWNER_ATTR, UNTIL_ATTR]))
            .await?;
        Ok(item.is_some_and(|item| held_by(&item, token, now_ms())))
    }

    async fn release_lock(&self, wire: &Wire, lock_key: &str, owner: &str) -> StoreResult<bool> {
        let body = Body::new(&self.shared.options.table, lock_key.len() + owner.len())
            .key(&self.shared.options.hash_key, lock_key)
            .string("ConditionExpression", "#o = :o")
            .names(&[("#o", OWNER_ATTR)])
            .values(&[(":o", &AttributeValue::S(owner.to_string()))])?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::DeleteItem, body).await? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                Ok(true)
            }
            // An earlier attempt deleted it after all.
            Outcome::ConditionFailed(failed) if failed.maybe_ours && !failed.body.contains_key("Item") => Ok(true),
            // The lease ran out and someone else took it: nothing of ours to release.
            Outcome::ConditionFailed(_) => Ok(false),
        }
    }
}

/// Takes a token out of the held ones: the given one, or the only one held
/// for the key.
fn take_token(
    held: &mut std::collections::HashMap<String, Vec<String>>,
    lock_key: &str,
    token: Option<&str>,
) -> StoreResult<Option<String>> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_sit_next_to_the_session() {
        assert_eq!(lock_key("sess:", "sess:abc"), "sess:~lock~abc");
        assert_eq!(lock_key("", "abc"), "~lock~abc");
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
