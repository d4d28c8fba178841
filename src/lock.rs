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

use crate::codec::{self, Item};
use crate::error::{code, StoreError, StoreResult};
use crate::layout::Layout;

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
    codec::extend(&mut item, layout.expiry_attributes(layout.stored_expiry(until_ms)));
    codec::extend(&mut item, layout.type_attribute(LOCK_TYPE));
    item
}

/// Whether a lock item names `token` as its owner and its lease is running.
pub fn held_by(item: &Item, token: &str, now_ms: f64) -> bool {
    let owner = matches!(item.get(OWNER_ATTR), Some(AttributeValue::S(owner)) if owner == token);
    owner && codec::read_number(item.get(UNTIL_ATTR)).is_some_and(|until| until > now_ms)
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
