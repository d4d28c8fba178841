//! `rotate(oldSid, newSid)`: a new id for a session, keeping its data, in
//! one DynamoDB transaction. The new item holds the same session, user,
//! device and `createdAt` (the absolute lifetime goes on; `regenerate` is the
//! way to start a new one); the old one becomes a tombstone, so a request
//! still holding the old id finds no session and cannot write it back. This
//! is what OWASP asks for on login or a privilege change, without the data
//! loss of express-session's `regenerate`.

use aws_sdk_dynamodb::types::AttributeValue;

use super::lifetime::Lifetime;
use super::shared::{random_token, Shared};
use super::users::Users;
use crate::codec;
use crate::error::{code, StoreError, StoreResult};
use crate::item::{now_ms, number, Item};
use crate::schema::{CREATED_ATTR, DEVICE_ATTR, SEEN_ATTR, VERSION_ATTR};
use crate::wire::{self, Target};
use crate::wire_json::Body;

/// `rotate` over the shared parts and the concerns it keeps: the session's
/// lifetime and its user.
pub struct Rotation<'a> {
    pub shared: &'a Shared,
    pub lifetime: Lifetime<'a>,
    pub users: Users<'a>,
}

impl Rotation<'_> {
    /// Moves the live session `old_sid` to `new_sid`. Refused, writing
    /// nothing: the same sid (ERR_INVALID_ARGUMENT), no live session at
    /// `old_sid` (ERR_SESSION_NOT_FOUND), a session already at `new_sid`
    /// (ERR_SESSION_EXISTS), `old_sid` changed while it was moved
    /// (ERR_SESSION_CONFLICT: read it again and retry).
    pub async fn rotate(&self, old_sid: &str, new_sid: &str) -> StoreResult<()> {
        if old_sid == new_sid {
            return Err(StoreError::invalid_argument(
                "rotate() needs a new sid different from the old one",
            ));
        }
        let (old_key, new_key) = (self.shared.key(old_sid)?, self.shared.key(new_sid)?);
        let wire = &self.shared.ready().await?.wire;
        let now_ms = now_ms();
        let old = self.shared.read_consistent(wire, &old_key, None).await?;
        let found = match &old {
            Some(item) if !self.lifetime.past(item, now_ms) => self.shared.decode(&old_key, item.clone(), now_ms)?,
            _ => None,
        };
        let (Some(old), Some(found)) = (old, found) else {
            return Err(StoreError::new(
                code::SESSION_NOT_FOUND,
                "there is no live session with the old id to rotate",
            ));
        };
        let end_ms = found.end.map_or(i64::MAX, |end| end.ms.ceil() as i64);
        // The session sealed (or compressed) again under its new key; its user and special keys with it.
        let mut item = codec::encode_item(&self.shared.options, new_key.clone(), found.sess, end_ms)?;
        for name in [CREATED_ATTR, DEVICE_ATTR, VERSION_ATTR] {
            if let Some(value) = old.get(name) {
                item.insert(name.to_string(), value.clone());
            }
        }
        if self.lifetime.tracks() {
            item.insert(SEEN_ATTR.to_string(), number(now_ms.floor() as i64));
        }
        let tombstone = codec::tombstone(
            self.shared.layout(),
            &self.shared.options.hash_key,
            old_key.clone(),
            now_ms,
        );
        let as_read = old.get(self.shared.layout().sess_attr()).cloned();
        let new_user = self.users.to_register(&item, &new_key);
        if let Some(user) = &new_user {
            self.users
                .index(wire)
                .register(user, &new_key, (now_ms / 1000.0).floor() as i64)
                .await?;
        }
        let body = self.rotation(&item, &tombstone, as_read)?;
        let reply = match wire.call(Target::TransactWriteItems, body).await.and_then(|o| o.done()) {
            Ok(reply) => reply,
            Err(err) => return Err(cancelled(err)),
        };
        self.shared.stats.write_units(wire::capacity_units(&reply));
        self.users.recent.forget(&old_key);
        if let Some(user) = new_user {
            self.users.remember(new_key, user);
        }
        Ok(())
    }

    /// The transaction: the new item where there is none, the tombstone over
    /// the old one as it was read.
    fn rotation(&self, item: &Item, tombstone: &Item, as_read: Option<AttributeValue>) -> StoreResult<Vec<u8>> {
        let table = &self.shared.options.table;
        let put_new = Body::untitled()
            .string("TableName", table)
            .item(item)?
            .string("ConditionExpression", "attribute_not_exists(#k)")
            .names(&[("#k", &self.shared.options.hash_key)])
            .finish();
        // Only over the session as read: a save or destroy since then wins (a touch may pass).
        let as_read = as_read.unwrap_or(AttributeValue::Null(true));
        let put_tombstone = Body::untitled()
            .string("TableName", table)
            .item(tombstone)?
            .string("ConditionExpression", "#s = :s")
            .names(&[("#s", self.shared.layout().sess_attr())])
            .values(&[(":s", &as_read)])?
            .finish();
        let mut actions = b"[{\"Put\":".to_vec();
        actions.extend_from_slice(&put_new);
        actions.extend_from_slice(b"},{\"Put\":");
        actions.extend_from_slice(&put_tombstone);
        actions.extend_from_slice(b"}]");
        // Every attempt of this call carries one token: DynamoDB applies the
        // transaction once, and an attempt that lands after an earlier one did
        // (a timeout, a lost connection) succeeds instead of being refused.
        let token = random_token()?;
        Ok(Body::untitled()
            .raw("TransactItems", &actions)
            .string("ClientRequestToken", &token)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish())
    }
}

/// What a cancelled rotation means: DynamoDB names each action's reason in
/// order (the new item's, then the old one's).
fn cancelled(err: StoreError) -> StoreError {
    if !err.is("TransactionCanceledException") {
        return err;
    }
    let reasons = err
        .message
        .rsplit_once('[')
        .map(|(_, list)| list.trim_end_matches(']').split(',').map(str::trim).collect::<Vec<_>>())
        .unwrap_or_default();
    match reasons.as_slice() {
        ["ConditionalCheckFailed", ..] => StoreError::new(
            code::SESSION_EXISTS,
            "a session with the new id exists already; nothing was written",
        ),
        [_, "ConditionalCheckFailed", ..] => StoreError::new(
            code::SESSION_CONFLICT,
            "the session changed while it was being rotated; nothing was written (read it again and retry)",
        ),
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_name_the_action_that_failed() {
        let reason = |list: &str| {
            let message =
                format!("Transaction cancelled, please refer cancellation reasons for specific reasons [{list}]");
            cancelled(StoreError::new("TransactionCanceledException", message)).code
        };
        assert_eq!(reason("ConditionalCheckFailed, None"), code::SESSION_EXISTS);
        assert_eq!(reason("None, ConditionalCheckFailed"), code::SESSION_CONFLICT);
        assert_eq!(reason("TransactionConflict, None"), "TransactionCanceledException");
        assert_eq!(
            cancelled(StoreError::new("ValidationException", "x")).code,
            "ValidationException"
        );
    }
}
