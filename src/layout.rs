//! The two item layouts the store reads and writes.
//!
//! - `connect-dynamodb` (the default): `<hashKey>` = prefix + sid, `expires`
//!   in epoch seconds (DynamoDB TTL can use it), `type`, `sess`.
//! - `connect-dynamodb-session` (1.x): `id` = the bare sid, `expires` in epoch
//!   **milliseconds**, `content`. TTL cannot use milliseconds, so the store
//!   also writes `ttl` in seconds; that package ignores attributes it does not
//!   know, so both packages can serve one table.
//!
//! Everything that depends on the layout (attribute names, the unit of
//! `expires`, the expiry rule) is answered here, so the session operations
//! are written once.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::codec::number;

pub const EXPIRES_ATTR: &str = "expires";
pub const TYPE_ATTR: &str = "type";
pub const SESS_ATTR: &str = "sess";
/// connect-dynamodb-session's name for the session JSON.
pub const CONTENT_ATTR: &str = "content";
/// The seconds attribute TTL uses beside connect-dynamodb-session's milliseconds.
pub const TTL_ATTR: &str = "ttl";
pub const SESSION_TYPE: &str = "connect-session";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    ConnectDynamoDB,
    ConnectDynamoDBSession,
}

impl Layout {
    pub fn parse(name: &str) -> Option<Layout> {
        match name {
            "connect-dynamodb" => Some(Layout::ConnectDynamoDB),
            "connect-dynamodb-session" => Some(Layout::ConnectDynamoDBSession),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Layout::ConnectDynamoDB => "connect-dynamodb",
            Layout::ConnectDynamoDBSession => "connect-dynamodb-session",
        }
    }

    /// The attribute holding the session JSON.
    pub fn sess_attr(self) -> &'static str {
        match self {
            Layout::ConnectDynamoDB => SESS_ATTR,
            Layout::ConnectDynamoDBSession => CONTENT_ATTR,
        }
    }

    /// The attribute DynamoDB TTL must be set on.
    pub fn ttl_attr(self) -> &'static str {
        match self {
            Layout::ConnectDynamoDB => EXPIRES_ATTR,
            Layout::ConnectDynamoDBSession => TTL_ATTR,
        }
    }

    /// Milliseconds per unit of the stored `expires`.
    fn unit_ms(self) -> f64 {
        match self {
            Layout::ConnectDynamoDB => 1000.0,
            Layout::ConnectDynamoDBSession => 1.0,
        }
    }

    /// The stored `expires` for an expiry instant (ms), rounded up so that
    /// the item never dies before the cookie does.
    pub fn stored_expiry(self, at_ms: f64) -> i64 {
        (at_ms / self.unit_ms()).ceil() as i64
    }

    /// A stored `expires` in epoch seconds (what the JS side and `touch` report).
    pub fn seconds(self, stored: f64) -> f64 {
        stored * self.unit_ms() / 1000.0
    }

    /// A duration in stored units.
    pub fn units(self, ms: f64) -> f64 {
        ms / self.unit_ms()
    }

    /// `now` in stored units, for the one expiry rule: an item is expired
    /// once `expires <= now`. connect-dynamodb: `floor(now_s) >= expires`;
    /// connect-dynamodb-session: live while `Date.now() <= expires`.
    pub fn now(self, now_ms: f64) -> i64 {
        match self {
            Layout::ConnectDynamoDB => (now_ms / 1000.0).floor() as i64,
            Layout::ConnectDynamoDBSession => now_ms.floor() as i64 - 1,
        }
    }

    /// The expiry rule. An item without `expires` never expires.
    pub fn is_expired(self, expires: Option<f64>, now_ms: f64) -> bool {
        expires.is_some_and(|expires| expires <= self.now(now_ms) as f64)
    }

    /// The attributes that say when an item expires.
    pub fn expiry_attributes(self, stored: i64) -> Vec<(&'static str, AttributeValue)> {
        match self {
            Layout::ConnectDynamoDB => vec![(EXPIRES_ATTR, number(stored))],
            Layout::ConnectDynamoDBSession => vec![
                (EXPIRES_ATTR, number(stored)),
                (TTL_ATTR, number((stored as f64 / 1000.0).ceil() as i64)),
            ],
        }
    }

    /// `type`, for the layouts that have it.
    pub fn type_attribute(self, value: &str) -> Option<(&'static str, AttributeValue)> {
        match self {
            Layout::ConnectDynamoDB => Some((TYPE_ATTR, AttributeValue::S(value.to_string()))),
            Layout::ConnectDynamoDBSession => None,
        }
    }

    /// An UpdateItem's `SET` of the expiry, with its placeholders.
    pub fn expiry_update(self) -> &'static str {
        match self {
            Layout::ConnectDynamoDB => "SET #e = :e",
            Layout::ConnectDynamoDBSession => "SET #e = :e, #t = :t",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000_500.0;

    #[test]
    fn connect_dynamodb_counts_whole_seconds() {
        let l = Layout::ConnectDynamoDB;
        assert_eq!(l.stored_expiry(1_700_000_100_001.0), 1_700_000_101);
        assert!(!l.is_expired(Some(1_700_000_001.0), NOW));
        assert!(l.is_expired(Some(1_700_000_000.0), NOW));
        assert!(!l.is_expired(Some(1_700_000_000.25), NOW));
        assert_eq!(l.seconds(1_700_000_001.0), 1_700_000_001.0);
        assert_eq!(l.sess_attr(), "sess");
        assert_eq!(l.ttl_attr(), "expires");
    }

    #[test]
    fn connect_dynamodb_session_counts_milliseconds_and_writes_ttl_seconds() {
        let l = Layout::ConnectDynamoDBSession;
        assert_eq!(l.stored_expiry(1_700_000_100_001.0), 1_700_000_100_001);
        // Live while Date.now() <= expires.
        assert!(!l.is_expired(Some(NOW), NOW));
        assert!(l.is_expired(Some(NOW - 1.0), NOW));
        assert_eq!(l.seconds(1_700_000_000_500.0), 1_700_000_000.5);
        let attrs = l.expiry_attributes(1_700_000_000_500);
        assert_eq!(attrs[0], ("expires", AttributeValue::N("1700000000500".into())));
        assert_eq!(attrs[1], ("ttl", AttributeValue::N("1700000001".into())));
        assert_eq!(l.type_attribute("x"), None);
        assert_eq!((l.sess_attr(), l.ttl_attr()), ("content", "ttl"));
        assert_eq!(Layout::parse("connect-dynamodb-session"), Some(l));
        assert_eq!(Layout::parse("other"), None);
    }
}
