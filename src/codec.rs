//! Session items: byte-compatible with connect-dynamodb 3.0.5
//! (`<hashKey>` S = prefix + sid, `expires` N = epoch seconds,
//! `type` S = "connect-session", `sess` S = the session JSON, plus special
//! keys) or with connect-dynamodb-session (see `layout.rs`).

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use crate::error::{code, StoreError, StoreResult};
use crate::item::{extend, item_size, number, read_number, Item, MAX_ITEM_BYTES};
use crate::layout::{End, Layout};
use crate::options::{AttrKind, PayloadOptions, SpecialKey, StoreOptions, UserOptions};
use crate::payload;
use crate::schema::{DESTROYED_ATTR, EXPIRES_ATTR, SESSION_TYPE};

/// DynamoDB's limit on a partition key value.
const MAX_KEY_BYTES: usize = 2048;
/// Whether an item of the connect-dynamodb layout has ended (to the
/// millisecond where it says; else by connect-dynamodb's rule). An item
/// without `expires` never ends. (The user index lives only in this layout.)
pub fn has_ended(item: &Item, now_ms: f64) -> bool {
    let layout = Layout::ConnectDynamoDB;
    layout.has_ended(layout.end_of(item), now_ms)
}

/// The table key of a session id.
pub fn session_key(prefix: &str, sid: &str) -> StoreResult<String> {
    if sid.is_empty() {
        return Err(StoreError::invalid_argument("sid must be a non-empty string"));
    }
    let key = format!("{prefix}{sid}");
    if key.len() > MAX_KEY_BYTES {
        return Err(StoreError::invalid_argument(format!(
            "prefix + sid is {} bytes; DynamoDB keys hold at most {MAX_KEY_BYTES}",
            key.len()
        )));
    }
    Ok(key)
}

/// What `hashIds` stores instead of a sid: HMAC-SHA256 under the secret,
/// base64url. Cookies cannot be recovered from it, and it is stable.
pub fn hashed_sid(secret: &[u8], sid: &str) -> StoreResult<String> {
    use base64::Engine;
    if sid.is_empty() {
        return Err(StoreError::invalid_argument("sid must be a non-empty string"));
    }
    let tag = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret), sid.as_bytes());
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(tag.as_ref()))
}

/// The session id of a table key, when the key belongs to this store's prefix.
pub fn sid_of<'a>(prefix: &str, key: &'a str) -> Option<&'a str> {
    key.strip_prefix(prefix).filter(|sid| !sid.is_empty())
}

/// The full item for `set`, ending at `end_ms`. Refuses sessions DynamoDB would refuse, before
/// anything is sent.
pub fn encode_item(options: &StoreOptions, key: String, sess: String, end_ms: i64) -> StoreResult<Item> {
    let mut item = Item::with_capacity(5 + options.special_keys.len());
    // Only these features need the session parsed.
    if !options.special_keys.is_empty() || options.users.enabled() {
        let parsed: Value = serde_json::from_str(&sess)
            .map_err(|e| StoreError::invalid_argument(format!("session is not valid JSON: {e}")))?;
        for (name, value) in special_values(options, &parsed)? {
            item.insert(name, value);
        }
        if let Some(user) = user_attribute(&options.users, &parsed, &key)? {
            item.insert(options.users.attribute.clone(), AttributeValue::S(user));
        }
    }
    let layout = options.layout;
    item.insert(
        layout.sess_attr().to_string(),
        payload::encode(&options.payload, &key, sess)?,
    );
    item.insert(options.hash_key.clone(), AttributeValue::S(key));
    extend(&mut item, layout.expiry_attributes(end_ms));
    extend(&mut item, layout.type_attribute(SESSION_TYPE));
    let size = item_size(&item);
    if size > MAX_ITEM_BYTES {
        return Err(StoreError::new(
            code::SESSION_TOO_LARGE,
            format!("the session item is {size} bytes; DynamoDB stores at most {MAX_ITEM_BYTES}"),
        ));
    }
    Ok(item)
}

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

/// How long a destroyed session's tombstone refuses saves: far longer than
/// any save can be in flight (a call gives up after `timeout`).
pub const DESTROY_GUARD_S: i64 = 300;

/// What `destroy` leaves in place of a session: no `sess` (so every reader,
/// connect-dynamodb included, sees no session), and an `expires` that keeps
/// it until the guard ends and then lets DynamoDB TTL delete it. A save that
/// was in flight when the session was destroyed finds it and is dropped.
pub fn tombstone(layout: Layout, hash_key: &str, key: String, now_ms: f64) -> Item {
    let now_s = (now_ms / 1000.0).floor() as i64;
    let mut item = Item::from([
        (hash_key.to_string(), AttributeValue::S(key)),
        (DESTROYED_ATTR.to_string(), number(now_s)),
    ]);
    extend(
        &mut item,
        layout.expiry_attributes((now_ms + DESTROY_GUARD_S as f64 * 1000.0).ceil() as i64),
    );
    extend(&mut item, layout.type_attribute(SESSION_TYPE));
    item
}

/// The stored session JSON of an item and its end, or None when the item
/// has ended or holds no session.
pub fn decode_session(
    layout: Layout,
    payload: &PayloadOptions,
    key: &str,
    mut item: Item,
    now_ms: f64,
) -> StoreResult<Option<Decoded>> {
    let end = layout.end_of(&item);
    if layout.has_ended(end, now_ms) {
        return Ok(None);
    }
    let expires = read_number(item.get(EXPIRES_ATTR));
    let Some(opened) = payload::decode(payload, key, item.remove(layout.sess_attr()))? else {
        return Ok(None);
    };
    // `expires` is not sealed: without it an item would live forever, so a
    // sealed session carries one or is refused.
    if opened.sealed && expires.is_none() {
        return Err(StoreError::new(
            code::SESSION_CORRUPT,
            "the stored session is encrypted but has no expires: its lifetime was removed",
        ));
    }
    Ok(Some(Decoded {
        sess: opened.json,
        end,
        unsealed: payload.encryption.is_some() && !opened.sealed,
    }))
}

/// A live session read from its item.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    pub sess: String,
    /// When it ends (None: never).
    pub end: Option<End>,
    /// Served unsealed although encryption is on (`encryption.acceptUnsealed`).
    pub unsealed: bool,
}

/// The top-level session values copied to their own attributes.
fn special_values(options: &StoreOptions, parsed: &Value) -> StoreResult<Vec<(String, AttributeValue)>> {
    let mut values = Vec::with_capacity(options.special_keys.len());
    let mut missing = Vec::new();
    for key in &options.special_keys {
        match parsed.get(&key.name).filter(|v| !v.is_null()) {
            Some(value) => values.push((key.name.clone(), special_value(key, value)?)),
            None => missing.push(key.name.as_str()),
        }
    }
    if !missing.is_empty() && !options.skip_throw_missing_special_keys {
        return Err(StoreError::new(
            code::MISSING_SPECIAL_KEY,
            format!("session is missing special keys: {}", missing.join(", ")),
        ));
    }
    Ok(values)
}

fn special_value(key: &SpecialKey, value: &Value) -> StoreResult<AttributeValue> {
    let as_text = || match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let invalid = |expected: &str| {
        StoreError::new(
            code::INVALID_SPECIAL_KEY,
            format!("special key \"{}\" must be {expected} in the session", key.name),
        )
    };
    match key.kind {
        AttrKind::S => Ok(AttributeValue::S(as_text())),
        AttrKind::B => Ok(AttributeValue::B(Blob::new(as_text().into_bytes()))),
        AttrKind::Bool => value
            .as_bool()
            .map(AttributeValue::Bool)
            .ok_or_else(|| invalid("a boolean")),
        AttrKind::N => match value {
            Value::Number(n) => Ok(AttributeValue::N(n.to_string())),
            Value::String(s) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
                Ok(AttributeValue::N(s.trim().to_string()))
            }
            _ => Err(invalid("a number")),
        },
    }
}

/// True when two session JSON objects hold the same data apart from their
/// `cookie` (which express-session and @fastify/session refresh on every
/// request). Anything that does not parse as an object counts as changed.
pub fn same_content(stored: &str, given: &str) -> bool {
    type Members<'a> = std::collections::BTreeMap<String, &'a serde_json::value::RawValue>;
    let without_cookie = |json| {
        let mut members = serde_json::from_str::<Members>(json).ok()?;
        members.remove("cookie");
        Some(members)
    };
    match (without_cookie(stored), without_cookie(given)) {
        (Some(a), Some(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(&b)
                    .all(|((ka, va), (kb, vb))| ka == kb && va.get() == vb.get())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn same_content_ignores_only_the_cookie() {
        let stored = r#"{"cookie":{"expires":"2026-01-01T00:00:00.000Z"},"n":1,"cart":[1,2]}"#;
        assert!(same_content(
            stored,
            r#"{"cookie":{"expires":"2027-01-01T00:00:00.000Z"},"n":1,"cart":[1,2]}"#
        ));
        assert!(same_content(stored, r#"{"cart":[1,2],"n":1}"#));
        assert!(!same_content(stored, r#"{"cookie":{},"n":2,"cart":[1,2]}"#));
        assert!(!same_content(
            stored,
            r#"{"cookie":{},"n":1,"cart":[1,2],"extra":null}"#
        ));
        assert!(!same_content(stored, r#"{"cookie":{},"n":1}"#));
        assert!(!same_content(stored, r#"{"cookie":{},"n":1,"cart":[1,2,3]}"#));
        assert!(!same_content("not json", "not json"));
        assert!(!same_content("[1]", "[1]"));
    }

    use super::*;
    use serde_json::json;

    const NOW: f64 = 1_700_000_000_500.0;

    fn options(value: Value) -> StoreOptions {
        StoreOptions::parse(value.as_object().unwrap(), |_| Err(std::io::Error::other("none"))).unwrap()
    }

    #[test]
    fn expired_exactly_at_the_stored_second_or_millisecond() {
        let ends = |attributes: &[(&str, &str)]| {
            let item: Item = attributes
                .iter()
                .map(|(name, n)| (name.to_string(), AttributeValue::N(n.to_string())))
                .collect();
            has_ended(&item, NOW)
        };
        assert!(!ends(&[("expires", "1700000001")]));
        assert!(ends(&[("expires", "1700000000")]));
        // connect-dynamodb 3.0.5 writes fractional seconds.
        assert!(!ends(&[("expires", "1700000000.25")]));
        assert!(!ends(&[]));
        assert!(ends(&[("expires", "1700000001"), ("expiresMs", "1700000000500")]));
    }

    #[test]
    fn key_is_prefix_plus_sid_and_must_fit() {
        assert_eq!(session_key("sess:", "abc").unwrap(), "sess:abc");
        assert_eq!(session_key("sess:", "").unwrap_err().code, code::INVALID_ARGUMENT);
        assert_eq!(
            session_key("", &"x".repeat(2049)).unwrap_err().code,
            code::INVALID_ARGUMENT
        );
        assert_eq!(sid_of("sess:", "sess:abc"), Some("abc"));
        assert_eq!(sid_of("sess:", "other:abc"), None);
    }

    #[test]
    fn item_has_connect_dynamodb_layout_and_its_end_to_the_millisecond() {
        let end_ms = 1_700_000_060_250;
        let item = encode_item(&options(json!({})), "sess:a".into(), "{\"n\":1}".into(), end_ms).unwrap();
        assert_eq!(item.len(), 5);
        assert_eq!(item["id"], AttributeValue::S("sess:a".into()));
        assert_eq!(item["expires"], AttributeValue::N("1700000061".into()));
        assert_eq!(item["expiresMs"], AttributeValue::N("1700000060250".into()));
        assert_eq!(item["type"], AttributeValue::S("connect-session".into()));
        assert_eq!(item["sess"], AttributeValue::S("{\"n\":1}".into()));
    }

    #[test]
    fn special_keys_are_copied_with_their_types() {
        let o = options(json!({"specialKeys": [
            {"name": "user", "type": "S"}, {"name": "n", "type": "N"},
            {"name": "ok", "type": "BOOL"}, {"name": "id2", "type": "S"}]}));
        let sess = r#"{"user":"ann","n":42,"ok":true,"id2":7}"#;
        let item = encode_item(&o, "sess:a".into(), sess.into(), 1).unwrap();
        assert_eq!(item["user"], AttributeValue::S("ann".into()));
        assert_eq!(item["n"], AttributeValue::N("42".into()));
        assert_eq!(item["ok"], AttributeValue::Bool(true));
        assert_eq!(item["id2"], AttributeValue::S("7".into()));
    }

    #[test]
    fn missing_or_mistyped_special_keys_are_refused() {
        let o = options(json!({"specialKeys": [{"name": "user", "type": "N"}]}));
        let missing = encode_item(&o, "k".into(), "{}".into(), 1).unwrap_err();
        assert_eq!(missing.code, code::MISSING_SPECIAL_KEY);
        let mistyped = encode_item(&o, "k".into(), r#"{"user":"ann"}"#.into(), 1).unwrap_err();
        assert_eq!(mistyped.code, code::INVALID_SPECIAL_KEY);

        let lenient = options(json!({"specialKeys": [{"name": "user", "type": "N"}],
                                     "skipThrowMissingSpecialKeys": true}));
        let item = encode_item(&lenient, "k".into(), "{}".into(), 1).unwrap();
        assert!(!item.contains_key("user"));
    }

    #[test]
    fn oversized_sessions_are_refused_before_sending() {
        let o = options(json!({}));
        let fits = format!("\"{}\"", "x".repeat(MAX_ITEM_BYTES - 100));
        assert!(encode_item(&o, "sess:a".into(), fits, 1).is_ok());
        let too_big = format!("\"{}\"", "x".repeat(MAX_ITEM_BYTES));
        assert_eq!(
            encode_item(&o, "sess:a".into(), too_big, 1).unwrap_err().code,
            code::SESSION_TOO_LARGE
        );
    }

    #[test]
    fn decode_returns_live_sessions_only() {
        let live = |expires: &str, sess: AttributeValue| {
            Item::from([
                ("expires".to_string(), AttributeValue::N(expires.into())),
                ("sess".to_string(), sess),
            ])
        };
        let o = options(json!({}));
        let decode = |item| decode_session(o.layout, &o.payload, "k", item, NOW).unwrap();
        assert_eq!(
            decode(live("1700000001", AttributeValue::S("{}".into()))),
            Some(Decoded {
                sess: "{}".to_string(),
                end: Some(End {
                    ms: 1_700_000_001_000.0,
                    exact: false
                }),
                unsealed: false
            })
        );
        assert_eq!(decode(live("1700000000", AttributeValue::S("{}".into()))), None);
        assert_eq!(decode(live("1700000001", AttributeValue::Bool(true))), None);
        assert_eq!(decode(Item::new()), None);
        let corrupt = live("1700000001", AttributeValue::B(Blob::new(vec![0x7f])));
        assert_eq!(
            decode_session(o.layout, &o.payload, "k", corrupt, NOW)
                .unwrap_err()
                .code,
            code::SESSION_CORRUPT
        );
    }

    #[test]
    fn a_sealed_session_without_expires_is_refused() {
        let o = options(json!({
            "encryption": {"keys": {"k": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}, "primaryKeyId": "k"}
        }));
        let sealed = payload::encode(&o.payload, "k", "{}".into()).unwrap();
        let without = Item::from([("sess".to_string(), sealed.clone())]);
        let err = decode_session(o.layout, &o.payload, "k", without, NOW).unwrap_err();
        assert!(
            err.code == code::SESSION_CORRUPT && err.message.contains("expires"),
            "{err:?}"
        );
        let with = Item::from([
            ("sess".to_string(), sealed),
            ("expires".to_string(), AttributeValue::N("1700000001".into())),
        ]);
        let found = decode_session(o.layout, &o.payload, "k", with, NOW).unwrap().unwrap();
        assert!(!found.unsealed);
    }

    #[test]
    fn accept_unsealed_serves_plain_sessions_and_says_so() {
        let o = options(json!({
            "encryption": {"keys": {"k": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}, "primaryKeyId": "k", "acceptUnsealed": true}
        }));
        let plain = Item::from([("sess".to_string(), AttributeValue::S("{}".into()))]);
        let found = decode_session(o.layout, &o.payload, "k", plain, NOW).unwrap().unwrap();
        assert!(found.unsealed);
    }

    /// Property test: whatever a table holds, decoding never panics; it
    /// returns a session, no session, or an error. Random items, plus valid
    /// compressed and encrypted envelopes with random damage.
    #[test]
    fn decoding_arbitrary_items_never_panics() {
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let o = options(json!({
            "compress": {"minBytes": 0},
            "encryption": {"keys": {"k": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="}, "primaryKeyId": "k"}
        }));
        let valid: Vec<Vec<u8>> = [
            r#"{"a":1}"#.to_string(),
            format!(r#"{{"cart":"{}"}}"#, "ab".repeat(500)),
        ]
        .into_iter()
        .map(|json| match payload::encode(&o.payload, "k", json).unwrap() {
            AttributeValue::B(blob) => blob.into_inner(),
            other => panic!("expected an envelope, got {other:?}"),
        })
        .collect();
        let mut outcomes = [0usize; 3];
        for round in 0..20_000 {
            let bytes: Vec<u8> = match round % 4 {
                0 => (0..next() % 64).map(|_| next() as u8).collect(),
                1 => valid[round % 2].clone(),
                _ => {
                    let mut bytes = valid[round % 2].clone();
                    for _ in 0..1 + next() % 3 {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] ^= 1 << (next() % 8);
                    }
                    bytes.truncate(1 + (next() as usize) % bytes.len());
                    bytes
                }
            };
            let sess = match next() % 5 {
                0 => AttributeValue::S(String::from_utf8_lossy(&bytes).into_owned()),
                1 => AttributeValue::N(format!("{}", next())),
                2 => AttributeValue::Bool(true),
                _ => AttributeValue::B(Blob::new(bytes)),
            };
            let expires = match next() % 4 {
                0 => AttributeValue::S("soon".into()),
                1 => AttributeValue::N("NaN".into()),
                2 => AttributeValue::N("-1e400".into()),
                _ => AttributeValue::N("99999999999".into()),
            };
            let item = Item::from([("expires".to_string(), expires), ("sess".to_string(), sess)]);
            match decode_session(o.layout, &o.payload, "k", item, NOW) {
                Ok(Some(_)) => outcomes[0] += 1,
                Ok(None) => outcomes[1] += 1,
                Err(err) => {
                    assert!(
                        [code::SESSION_CORRUPT, code::DECRYPT, code::SESSION_UNSEALED].contains(&err.code.as_str()),
                        "{err:?}"
                    );
                    outcomes[2] += 1
                }
            }
        }
        // The generator reaches every outcome.
        assert!(outcomes.iter().all(|n| *n > 0), "{outcomes:?}");
    }

    #[test]
    fn hashed_ids_are_keyed_stable_and_distinct() {
        let a = hashed_sid(b"secret one, at least 16 bytes", "sid-1").unwrap();
        assert_eq!(a, hashed_sid(b"secret one, at least 16 bytes", "sid-1").unwrap());
        assert_eq!(a.len(), 43);
        assert!(!a.contains("sid-1"));
        assert_ne!(a, hashed_sid(b"secret one, at least 16 bytes", "sid-2").unwrap());
        assert_ne!(a, hashed_sid(b"secret two, at least 16 bytes", "sid-1").unwrap());
        assert_eq!(hashed_sid(b"s", "").unwrap_err().code, code::INVALID_ARGUMENT);
    }

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
}
