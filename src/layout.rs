//! The two item layouts the store reads and writes.
//!
//! - `connect-dynamodb` (the default): `<hashKey>` = prefix + sid, `expires`
//!   in whole epoch seconds (DynamoDB TTL uses it; connect-dynamodb reads
//!   it), `type`, `sess`, and `expiresMs`: the same end to the millisecond,
//!   which this store judges by (express-session ends a session when its
//!   cookie's expiry passes, to the ms). An item without it (written by
//!   connect-dynamodb or an older version) ends at its whole second.
//! - `connect-dynamodb-session` (1.x): `id` = the bare sid, `expires` in epoch
//!   **milliseconds**, `content`. TTL cannot use milliseconds, so the store
//!   also writes `ttl` in seconds; that package ignores attributes it does not
//!   know, so both packages can serve one table.
//!
//! Everything that depends on the layout (attribute names, the unit of
//! `expires`, the expiry rule) is answered here, so the session operations
//! are written once: they all hold a session's end as one instant in epoch
//! ms, and this module writes and reads it in each layout's attributes.

use aws_sdk_dynamodb::types::AttributeValue;

use crate::item::{number, read_number, Item};
use crate::schema::{CONTENT_ATTR, EXPIRES_ATTR, EXPIRES_MS_ATTR, SESS_ATTR, TTL_ATTR, TYPE_ATTR};

/// When a session ends: epoch ms, and whether to the millisecond (else its
/// whole second is all that is known).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct End {
    pub ms: f64,
    pub exact: bool,
}

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

    /// The stored `expires` for an end at `end_ms`, rounded up so that the
    /// item never dies before the cookie does.
    pub fn stored_expiry(self, end_ms: i64) -> i64 {
        (end_ms as f64 / self.unit_ms()).ceil() as i64
    }

    /// The attribute that holds the end to the millisecond, besides `expires`.
    pub fn exact_attr(self) -> Option<&'static str> {
        match self {
            Layout::ConnectDynamoDB => Some(EXPIRES_MS_ATTR),
            Layout::ConnectDynamoDBSession => None,
        }
    }

    /// When an item ends, from its attributes (None: it never does).
    pub fn end_of(self, item: &Item) -> Option<End> {
        if let Some(ms) = self.exact_attr().and_then(|name| read_number(item.get(name))) {
            return Some(End { ms, exact: true });
        }
        let stored = read_number(item.get(EXPIRES_ATTR))?;
        Some(End {
            ms: stored * self.unit_ms(),
            exact: self == Layout::ConnectDynamoDBSession,
        })
    }

    /// The expiry rule. To the millisecond, ended once its end has come
    /// (express-session's MemoryStore; connect-dynamodb-session: once it has
    /// passed, as that package reads it). To the second (connect-dynamodb's
    /// items): its rule, `floor(now_s) >= expires`.
    pub fn has_ended(self, end: Option<End>, now_ms: f64) -> bool {
        end.is_some_and(|end| match (self, end.exact) {
            (Layout::ConnectDynamoDBSession, _) => end.ms < now_ms.floor(),
            (Layout::ConnectDynamoDB, true) => end.ms <= now_ms,
            (Layout::ConnectDynamoDB, false) => end.ms / 1000.0 <= (now_ms / 1000.0).floor(),
        })
    }

    /// `now` in the unit of `expires`, for conditions on it: an item is
    /// expired once `expires <= now`. connect-dynamodb: `floor(now_s) >=
    /// expires`; connect-dynamodb-session: live while `Date.now() <= expires`.
    pub fn now(self, now_ms: f64) -> i64 {
        match self {
            Layout::ConnectDynamoDB => (now_ms / 1000.0).floor() as i64,
            Layout::ConnectDynamoDBSession => now_ms.floor() as i64 - 1,
        }
    }

    /// The attributes that say when an item ends (at `end_ms`).
    pub fn expiry_attributes(self, end_ms: i64) -> Vec<(&'static str, AttributeValue)> {
        let stored = self.stored_expiry(end_ms);
        match self {
            Layout::ConnectDynamoDB => vec![(EXPIRES_ATTR, number(stored)), (EXPIRES_MS_ATTR, number(end_ms))],
            Layout::ConnectDynamoDBSession => vec![
                (EXPIRES_ATTR, number(stored)),
                (TTL_ATTR, number((end_ms as f64 / 1000.0).ceil() as i64)),
            ],
        }
    }

    /// The `expires` a store reports for an end (connect-dynamodb's
    /// `touch` and `getExpiresValue`): epoch seconds, as stored.
    pub fn reported_seconds(self, end_ms: i64) -> f64 {
        self.stored_expiry(end_ms) as f64 * self.unit_ms() / 1000.0
    }

    /// `type`, for the layouts that have it.
    pub fn type_attribute(self, value: &str) -> Option<(&'static str, AttributeValue)> {
        match self {
            Layout::ConnectDynamoDB => Some((TYPE_ATTR, AttributeValue::S(value.to_string()))),
            Layout::ConnectDynamoDBSession => None,
        }
    }

    /// An UpdateItem's `SET` of the expiry attributes, with their placeholders.
    pub fn expiry_update(self) -> &'static str {
        "SET #e = :e, #t = :t"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: f64 = 1_700_000_000_500.0;

    fn item(attributes: &[(&str, &str)]) -> Item {
        attributes
            .iter()
            .map(|(name, n)| (name.to_string(), AttributeValue::N(n.to_string())))
            .collect()
    }

    fn ended(l: Layout, attributes: &[(&str, &str)]) -> bool {
        l.has_ended(l.end_of(&item(attributes)), NOW)
    }

    #[test]
    fn connect_dynamodb_writes_whole_seconds_and_the_millisecond_beside_them() {
        let l = Layout::ConnectDynamoDB;
        assert_eq!(l.stored_expiry(1_700_000_100_001), 1_700_000_101);
        let attrs = l.expiry_attributes(1_700_000_100_001);
        assert_eq!(attrs[0], ("expires", AttributeValue::N("1700000101".into())));
        assert_eq!(attrs[1], ("expiresMs", AttributeValue::N("1700000100001".into())));
        assert_eq!(l.reported_seconds(1_700_000_100_001), 1_700_000_101.0);
        assert_eq!(l.sess_attr(), "sess");
        assert_eq!(l.ttl_attr(), "expires");
    }

    #[test]
    fn an_end_to_the_millisecond_is_judged_to_the_millisecond() {
        let l = Layout::ConnectDynamoDB;
        assert!(ended(l, &[("expires", "1700000001"), ("expiresMs", "1700000000500")]));
        assert!(!ended(l, &[("expires", "1700000001"), ("expiresMs", "1700000000501")]));
        assert!(!ended(l, &[]), "an item without an end never ends");
    }

    #[test]
    fn connect_dynamodb_s_own_items_end_by_its_rule() {
        let l = Layout::ConnectDynamoDB;
        assert!(!ended(l, &[("expires", "1700000001")]));
        assert!(ended(l, &[("expires", "1700000000")]));
        // connect-dynamodb writes fractional seconds and reads `floor(now_s) >= expires`.
        assert!(!ended(l, &[("expires", "1700000000.25")]));
        assert_eq!(
            l.end_of(&item(&[("expires", "1700000001")])),
            Some(End {
                ms: 1_700_000_001_000.0,
                exact: false
            })
        );
    }

    #[test]
    fn connect_dynamodb_session_counts_milliseconds_and_writes_ttl_seconds() {
        let l = Layout::ConnectDynamoDBSession;
        assert_eq!(l.stored_expiry(1_700_000_100_001), 1_700_000_100_001);
        // Live while Date.now() <= expires.
        assert!(!ended(l, &[("expires", "1700000000500")]));
        assert!(ended(l, &[("expires", "1700000000499")]));
        assert_eq!(l.reported_seconds(1_700_000_000_500), 1_700_000_000.5);
        let attrs = l.expiry_attributes(1_700_000_000_500);
        assert_eq!(attrs[0], ("expires", AttributeValue::N("1700000000500".into())));
        assert_eq!(attrs[1], ("ttl", AttributeValue::N("1700000001".into())));
        assert_eq!(l.type_attribute("x"), None);
        assert_eq!(l.exact_attr(), None);
        assert_eq!((l.sess_attr(), l.ttl_attr()), ("content", "ttl"));
        assert_eq!(Layout::parse("connect-dynamodb-session"), Some(l));
        assert_eq!(Layout::parse("other"), None);
    }
}
