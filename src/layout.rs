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

/// The placeholders of a condition on an item's end: of `expires`, of the
/// end to the millisecond, and of the three `NowValues`.
pub struct EndTest<'a> {
    pub e: &'a str,
    pub x: &'a str,
    pub now: &'a str,
    pub ms: &'a str,
    pub next: &'a str,
}

/// The usual placeholders, for expressions that have no others of these names.
pub const END_TEST: EndTest<'static> = EndTest {
    e: "#e",
    x: "#x",
    now: ":now",
    ms: ":nowms",
    next: ":nownext",
};

/// Now, as a condition on an item's end compares with it.
pub struct NowValues {
    /// In the unit of `expires`.
    pub stored: AttributeValue,
    /// Epoch ms, and the next whole second (epoch s).
    pub exact: Option<(AttributeValue, AttributeValue)>,
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

    /// When an item ends, from its attributes (None: it never does, as an
    /// item without `expires` never does). The end to the millisecond counts
    /// only while `expires` still agrees with it: a writer that knows only
    /// `expires` (connect-dynamodb, this store before `expiresMs`) moves
    /// `expires` alone, and then its whole second is the end.
    pub fn end_of(self, item: &Item) -> Option<End> {
        let stored = read_number(item.get(EXPIRES_ATTR))?;
        if let Some(ms) = self.exact_attr().and_then(|name| read_number(item.get(name))) {
            if stored == (ms / 1000.0).ceil() {
                return Some(End { ms, exact: true });
            }
        }
        Some(match self {
            // Live while `floor(now_s) < expires`, however many fractions it has.
            Layout::ConnectDynamoDB => End {
                ms: stored.ceil() * 1000.0,
                exact: false,
            },
            Layout::ConnectDynamoDBSession => End {
                ms: stored,
                exact: true,
            },
        })
    }

    /// The values a condition on an item's end compares with (see `live`):
    /// now in the unit of `expires`, and where items hold `expiresMs`, now in
    /// epoch ms and the next whole second.
    pub fn now_values(self, now_ms: f64) -> NowValues {
        NowValues {
            stored: number(self.now(now_ms)),
            exact: self
                .exact_attr()
                .map(|_| (number(now_ms.floor() as i64), number((now_ms / 1000.0).ceil() as i64))),
        }
    }

    /// DynamoDB's condition that an item is live now, as `has_ended` judges
    /// it: by `expiresMs` where `expires` agrees with it, else by `expires`.
    /// A condition cannot check that they agree; but an `expires` past the
    /// next whole second is live whatever `expiresMs` says, and one within it
    /// agrees with a live `expiresMs`. So the two rules differ only for an
    /// item whose `expiresMs` a foreign write left behind, in the last second
    /// of its life, where this is the stricter. An item without `expires`
    /// fails it (callers that count such items live say so themselves).
    pub fn live(self, at: &EndTest) -> String {
        let EndTest { e, x, now, ms, next } = at;
        match self.exact_attr() {
            Some(_) => format!("({e} > {now} AND (attribute_not_exists({x}) OR {x} > {ms} OR {e} > {next}))"),
            None => format!("{e} > {now}"),
        }
    }

    /// DynamoDB's condition that an item has ended (the negation of `live`,
    /// except that an item without `expires` never ends).
    pub fn ended(self, at: &EndTest) -> String {
        let EndTest { e, x, now, ms, next } = at;
        match self.exact_attr() {
            Some(_) => format!("({e} <= {now} OR ({x} <= {ms} AND {e} <= {next}))"),
            None => format!("{e} <= {now}"),
        }
    }

    /// The names a condition of `live` or `ended` uses, for `at`.
    pub fn end_names<'a>(self, at: &EndTest<'a>) -> Vec<(&'a str, &'static str)> {
        let mut names = vec![(at.e, EXPIRES_ATTR)];
        names.extend(self.exact_attr().map(|exact| (at.x, exact)));
        names
    }

    /// The values a condition of `live` or `ended` uses, for `at`, now.
    pub fn end_values<'a>(self, at: &EndTest<'a>, now_ms: f64) -> Vec<(&'a str, AttributeValue)> {
        let NowValues { stored, exact } = self.now_values(now_ms);
        let mut values = vec![(at.now, stored)];
        if let Some((ms, next)) = exact {
            values.extend([(at.ms, ms), (at.next, next)]);
        }
        values
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
        assert!(ended(l, &[("expires", "1699999999.75")]));
        // So its end is the whole second after them.
        assert_eq!(
            l.end_of(&item(&[("expires", "1700000000.25")])).map(|end| end.ms),
            Some(1_700_000_001_000.0)
        );
        assert_eq!(
            l.end_of(&item(&[("expires", "1700000001")])),
            Some(End {
                ms: 1_700_000_001_000.0,
                exact: false
            })
        );
    }

    #[test]
    fn an_end_to_the_millisecond_counts_only_while_expires_agrees_with_it() {
        let l = Layout::ConnectDynamoDB;
        // connect-dynamodb (or this store before expiresMs) touched it: `expires` moved alone.
        let touched = [("expires", "1700003600"), ("expiresMs", "1700000000200")];
        assert!(!ended(l, &touched));
        assert_eq!(
            l.end_of(&item(&touched)),
            Some(End {
                ms: 1_700_003_600_000.0,
                exact: false
            })
        );
        // A stale expiresMs later than `expires` does not keep it alive either.
        assert!(ended(l, &[("expires", "1700000000"), ("expiresMs", "1700009999000")]));
        // An item without `expires` never ends, whatever else it holds.
        assert_eq!(l.end_of(&item(&[("expiresMs", "1")])), None);
    }

    /// Evaluates `live`/`ended` as DynamoDB would, on an item of `expires` and `expiresMs`.
    fn condition_holds(condition: &str, e: Option<f64>, x: Option<f64>, now_ms: f64) -> bool {
        let now = (now_ms / 1000.0).floor();
        let next = (now_ms / 1000.0).ceil();
        let (e_le_now, x_le_ms, e_le_next) = (
            e.is_some_and(|e| e <= now),
            x.is_some_and(|x| x <= now_ms.floor()),
            e.is_some_and(|e| e <= next),
        );
        match condition {
            "live" => {
                e.is_some_and(|e| e > now)
                    && (x.is_none() || x.is_some_and(|x| x > now_ms.floor()) || e.is_some_and(|e| e > next))
            }
            _ => e_le_now || (x_le_ms && e_le_next),
        }
    }

    #[test]
    fn the_conditions_on_dynamodb_s_side_judge_as_has_ended_does() {
        let l = Layout::ConnectDynamoDB;
        let at = END_TEST;
        assert_eq!(
            l.live(&at),
            "(#e > :now AND (attribute_not_exists(#x) OR #x > :nowms OR #e > :nownext))"
        );
        assert_eq!(l.ended(&at), "(#e <= :now OR (#x <= :nowms AND #e <= :nownext))");
        assert_eq!(Layout::ConnectDynamoDBSession.live(&at), "#e > :now");
        assert_eq!(Layout::ConnectDynamoDBSession.ended(&at), "#e <= :now");
        let names = l.end_names(&at);
        assert_eq!(names, vec![("#e", "expires"), ("#x", "expiresMs")]);
        let values = l.end_values(&at, 1_700_000_000_500.0);
        assert_eq!(
            values,
            vec![
                (":now", AttributeValue::N("1700000000".into())),
                (":nowms", AttributeValue::N("1700000000500".into())),
                (":nownext", AttributeValue::N("1700000001".into())),
            ]
        );
        // Every end this store writes, around now: the conditions agree with has_ended.
        for now_ms in [1_700_000_000_000.0, 1_700_000_000_500.0, 1_700_000_000_999.0] {
            for end_ms in (1_699_999_998_000..1_700_000_003_000).step_by(100) {
                let written: Item = l
                    .expiry_attributes(end_ms)
                    .into_iter()
                    .map(|(n, v)| (n.to_string(), v))
                    .collect();
                let (e, x) = (
                    read_number(written.get("expires")),
                    read_number(written.get("expiresMs")),
                );
                let ended = l.has_ended(l.end_of(&written), now_ms);
                assert_eq!(
                    condition_holds("ended", e, x, now_ms),
                    ended,
                    "end {end_ms} now {now_ms}"
                );
                assert_eq!(
                    condition_holds("live", e, x, now_ms),
                    !ended,
                    "end {end_ms} now {now_ms}"
                );
            }
        }
        // A touch by a writer of `expires` alone: live by `expires`, on both sides.
        let now_ms = 1_700_000_000_500.0;
        let (e, x) = (Some(1_700_003_600.0), Some(1_700_000_000_200.0));
        assert!(condition_holds("live", e, x, now_ms) && !condition_holds("ended", e, x, now_ms));
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
