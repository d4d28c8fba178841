//! What the command line (cli.js) asks of a table, with the store's own
//! options and codecs: one page of its items at a time, each classified as
//! the store reads it; moving a session between the two item layouts;
//! deleting by key; the table's TTL setting; and harmless probes of the
//! permissions the store's calls need.

use aws_sdk_dynamodb::types::AttributeValue;
use napi_derive::napi;
use serde_json::Value;

use super::lifetime::Lifetime;
use super::shared::Shared;
use crate::codec;
use crate::error::{StoreError, StoreResult};
use crate::item::{item_size, now_ms, read_number, Item};
use crate::layout::Layout;
use crate::options::{PayloadOptions, TIMEOUT_MS};
use crate::payload;
use crate::schema::{is_lock_sid, is_registry_sid, CREATED_ATTR, DESTROYED_ATTR, DEVICE_ATTR, EXPIRES_ATTR, SEEN_ATTR};
use crate::table;
use crate::wire::{self, Outcome, Target};
use crate::wire_json::{self, next_start, read_items, Body};

/// One item of a scan, as the store sees it (and as `scanPage()` hands it to JS).
#[napi(object)]
pub struct Scanned {
    pub key: String,
    /// live, expired, destroyed, lock, registry, damaged, other-format, foreign.
    pub kind: String,
    /// DynamoDB's size of the item (names and values).
    pub bytes: u32,
    pub user: Option<String>,
    /// Epoch seconds.
    pub expires: Option<f64>,
    /// For a damaged item: why the store cannot read it.
    pub detail: Option<String>,
    /// For a live session, when asked: the bytes of its JSON, and deflated.
    pub json_bytes: Option<u32>,
    pub deflated_bytes: Option<u32>,
}

/// A page of a scan, and where the next one starts (DynamoDB's key, as JSON;
/// pass it back for the next page, null after the last).
#[napi(object)]
pub struct ScanPage {
    pub items: Vec<Scanned>,
    pub next: Option<String>,
    pub read_units: f64,
}

/// What a probe of one action found.
#[napi(object)]
pub struct Probe {
    pub action: String,
    /// allowed, denied, or error.
    pub outcome: String,
    pub message: Option<String>,
}

/// What the command line asks of the table, over the shared parts and the
/// lifetime rules (an item past its lifetime is expired).
pub struct Admin<'a> {
    pub shared: &'a Shared,
    pub lifetime: Lifetime<'a>,
}

impl Admin<'_> {
    /// One page of at most `limit` items from `start` (a `next` of the last
    /// page), eventually consistent, each classified; with `measure`, each
    /// live session's JSON size plain and deflated too.
    pub async fn scan_page(&self, start: Option<String>, limit: u32, measure: bool) -> StoreResult<ScanPage> {
        let wire = &self.shared.connected().await?.wire;
        let mut body = Body::new(&self.shared.options.table, 64).number("Limit", i64::from(limit.max(1)));
        if let Some(start) = start {
            let start: Value = serde_json::from_str(&start)
                .map_err(|_| StoreError::invalid_argument("the scan's start key is not the JSON a page gave"))?;
            body = body.json("ExclusiveStartKey", &start);
        }
        let body = body.string("ReturnConsumedCapacity", "TOTAL").finish();
        let mut reply = wire.call(Target::Scan, body).await?.done()?;
        let read_units = wire::capacity_units(&reply).unwrap_or(0.0);
        self.shared.stats.read_units(Some(read_units));
        let next = next_start(&mut reply).map(|key| key.to_string());
        let now_ms = now_ms();
        let items = read_items(&mut reply)?
            .into_iter()
            .map(|item| self.classify(item, now_ms, measure))
            .collect();
        Ok(ScanPage {
            items,
            next,
            read_units,
        })
    }

    /// How the store reads an item of its table.
    pub fn classify(&self, mut item: Item, now_ms: f64, measure: bool) -> Scanned {
        let bytes = item_size(&item) as u32;
        let user = match item.get(&self.shared.options.users.attribute) {
            Some(AttributeValue::S(user)) if self.shared.options.users.enabled() => Some(user.clone()),
            _ => None,
        };
        let scanned = |key: String, kind: &str, expires, detail| Scanned {
            key,
            kind: kind.to_string(),
            bytes,
            user: user.clone(),
            expires,
            detail,
            json_bytes: None,
            deflated_bytes: None,
        };
        let key = match item.get(&self.shared.options.hash_key) {
            Some(AttributeValue::S(key)) => key.clone(),
            Some(_) => return scanned(String::new(), "damaged", None, Some("its key is not a string".into())),
            None => return scanned(String::new(), "damaged", None, Some("it has no key".into())),
        };
        let layout = self.shared.layout();
        let stored = read_number(item.get(EXPIRES_ATTR));
        let expires = layout.end_of(&item).map(|end| end.ms / 1000.0);
        let Some(sid) = codec::sid_of(&self.shared.options.prefix, &key) else {
            let other = other_layout(layout);
            let kind = if is_session_of(other, &item) {
                "other-format"
            } else {
                "foreign"
            };
            return scanned(key, kind, None, None);
        };
        if is_lock_sid(sid) {
            return scanned(key, "lock", expires, None);
        }
        if is_registry_sid(sid) {
            // Registry items count their expiry in seconds, whatever the layout.
            return scanned(key, "registry", stored, None);
        }
        if self.shared.options.prefix.is_empty()
            && is_session_of(other_layout(layout), &item)
            && !is_session_of(layout, &item)
        {
            return scanned(key, "other-format", None, None);
        }
        if item.contains_key(DESTROYED_ATTR) {
            return scanned(key, "destroyed", expires, None);
        }
        if layout.has_ended(layout.end_of(&item), now_ms) || self.lifetime.past(&item, now_ms) {
            return scanned(key, "expired", expires, None);
        }
        if !item.contains_key(layout.sess_attr()) {
            let why = format!("it holds no \"{}\" (a stub left by a touch?)", layout.sess_attr());
            return scanned(key, "damaged", expires, Some(why));
        }
        let session = item.remove(layout.sess_attr());
        match payload::decode(&self.shared.options.payload, &key, session) {
            Ok(Some(opened)) if serde_json::from_str::<Value>(&opened.json).is_ok_and(|v| v.is_object()) => {
                let mut live = scanned(key, "live", expires, None);
                if measure {
                    live.json_bytes = Some(opened.json.len() as u32);
                    live.deflated_bytes = Some(payload::deflated_size(opened.json.as_bytes()) as u32);
                }
                live
            }
            Ok(_) => scanned(key, "damaged", expires, Some("its session is not a JSON object".into())),
            Err(err) => scanned(key, "damaged", expires, Some(format!("[{}] {}", err.code, err.message))),
        }
    }

    /// Moves the session stored under `key` in the other layout (whose keys
    /// are `from_prefix` + sid) to this store's layout and key, the new item
    /// first and the old one deleted only if unchanged, so a session is never
    /// missing in between. False when there is nothing to move (gone or
    /// expired, or changed meanwhile: the next run moves it).
    pub async fn move_to_layout(&self, key: &str, from_prefix: &str) -> StoreResult<bool> {
        let from = other_layout(self.shared.layout());
        let wire = &self.shared.ready().await?.wire;
        let Some(old) = self.shared.read_consistent(wire, key, None).await? else {
            return Ok(false);
        };
        let as_read = old.get(from.sess_attr()).cloned();
        let now_ms = now_ms();
        let Some(sid) = codec::sid_of(from_prefix, key).map(str::to_string) else {
            return Err(StoreError::invalid_argument(format!(
                "\"{key}\" does not start with the old layout's prefix \"{from_prefix}\""
            )));
        };
        let Some(found) = codec::decode_session(from, &PayloadOptions::default(), key, old.clone(), now_ms)? else {
            return Ok(false);
        };
        let end_ms = found
            .end
            .map_or(now_ms + self.shared.options.costs.ttl_ms, |end| end.ms);
        let new_key = self.shared.key(&sid)?;
        let mut item = codec::encode_item(&self.shared.options, new_key, found.sess, end_ms.ceil() as i64)?;
        for name in [CREATED_ATTR, SEEN_ATTR, DEVICE_ATTR] {
            if let Some(value) = old.get(name) {
                item.insert(name.to_string(), value.clone());
            }
        }
        // Already there (moved by a read, or saved since): the newer item stays, the old one goes.
        self.shared.put_if_absent(wire, &item).await?;
        let delete = Body::new(&self.shared.options.table, key.len())
            .key(&self.shared.options.hash_key, key)
            .string("ConditionExpression", "#s = :s")
            .names(&[("#s", from.sess_attr())])
            .values(&[(":s", &as_read.unwrap_or(AttributeValue::Null(true)))])?
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        match wire.call(Target::DeleteItem, delete).await? {
            Outcome::Done(reply) => self.shared.stats.write_units(wire::capacity_units(&reply)),
            // Changed by the old store meanwhile: the next run moves it again.
            Outcome::ConditionFailed(_) => return Ok(false),
        }
        Ok(true)
    }

    /// Deletes the items with these table keys; returns how many.
    pub async fn delete_keys(&self, keys: Vec<String>) -> StoreResult<u32> {
        let wire = &self.shared.connected().await?.wire;
        self.shared.batch(wire).delete_keys(keys).await
    }

    /// The table's TTL status and attribute (DescribeTimeToLive).
    pub async fn ttl_setting(&self) -> StoreResult<(String, Option<String>)> {
        let client = &self.shared.connected().await?.sdk;
        table::ttl_setting(client, &self.shared.options.table).await
    }

    /// Tries each action the store's features need in a way that changes
    /// nothing (a read of a key no session has; writes whose condition
    /// cannot hold), and reports which are allowed.
    pub async fn probe_permissions(&self) -> StoreResult<Vec<Probe>> {
        let wire = &self.shared.connected().await?.wire;
        let table = &self.shared.options.table;
        let probe_key = format!("{}~probe", self.shared.options.prefix);
        let never = "attribute_exists(#k) AND attribute_not_exists(#k)";
        let names = [("#k", self.shared.options.hash_key.as_str())];
        let keyed = || Body::new(table, 64).key(&self.shared.options.hash_key, &probe_key);
        let item = Item::from([(
            self.shared.options.hash_key.clone(),
            AttributeValue::S(probe_key.clone()),
        )]);
        let mut probes = vec![
            ("dynamodb:GetItem", Target::GetItem, keyed().finish()),
            (
                "dynamodb:PutItem",
                Target::PutItem,
                Body::new(table, 64)
                    .item(&item)?
                    .string("ConditionExpression", never)
                    .names(&names)
                    .finish(),
            ),
            (
                "dynamodb:UpdateItem",
                Target::UpdateItem,
                keyed()
                    .string("UpdateExpression", "REMOVE #z")
                    .string("ConditionExpression", never)
                    .names(&[("#k", self.shared.options.hash_key.as_str()), ("#z", "probe")])
                    .finish(),
            ),
            (
                "dynamodb:DeleteItem",
                Target::DeleteItem,
                keyed().string("ConditionExpression", never).names(&names).finish(),
            ),
            (
                "dynamodb:Scan",
                Target::Scan,
                Body::new(table, 16).number("Limit", 1).finish(),
            ),
            (
                "dynamodb:DescribeTable",
                Target::DescribeTable,
                Body::new(table, 0).finish(),
            ),
        ];
        if self.shared.options.users.enabled() {
            let query = Body::new(table, 64)
                .string("IndexName", &self.shared.options.users.index)
                .string("KeyConditionExpression", "#u = :u")
                .names(&[("#u", self.shared.options.users.attribute.as_str())])
                .values(&[(":u", &AttributeValue::S("~probe".into()))])?
                .number("Limit", 1)
                .finish();
            probes.push(("dynamodb:Query", Target::Query, query));
            let mut keys = b"{\"Keys\":[".to_vec();
            wire_json::push_item(&mut keys, &item)?;
            keys.extend_from_slice(b"]}");
            let batch = Body::untitled().request_items(table, &keys).finish();
            probes.push(("dynamodb:BatchGetItem", Target::BatchGetItem, batch));
        }
        let mut found = Vec::with_capacity(probes.len());
        for (action, target, body) in probes {
            let (outcome, message) = match wire.once(target, body, self.probe_limit()).await {
                Ok(_) => ("allowed", None),
                Err(err) if is_denied(&err) => ("denied", Some(err.message)),
                Err(err) => ("error", Some(format!("[{}] {}", err.code, err.message))),
            };
            found.push(Probe {
                action: action.to_string(),
                outcome: outcome.to_string(),
                message,
            });
        }
        let ttl = match self.ttl_setting().await {
            Ok(_) => ("allowed", None),
            Err(err) if is_denied(&err) => ("denied", Some(err.message)),
            Err(err) => ("error", Some(format!("[{}] {}", err.code, err.message))),
        };
        found.push(Probe {
            action: "dynamodb:DescribeTimeToLive".to_string(),
            outcome: ttl.0.to_string(),
            message: ttl.1,
        });
        Ok(found)
    }

    fn probe_limit(&self) -> std::time::Duration {
        std::time::Duration::from_millis(TIMEOUT_MS)
    }
}

fn is_denied(err: &StoreError) -> bool {
    ["AccessDeniedException", "UnrecognizedClientException", "AccessDenied"].contains(&err.code.as_str())
}

/// The layout a migration moves from, for a store in `layout`.
fn other_layout(layout: Layout) -> Layout {
    match layout {
        Layout::ConnectDynamoDB => Layout::ConnectDynamoDBSession,
        Layout::ConnectDynamoDBSession => Layout::ConnectDynamoDB,
    }
}

/// Whether an item looks like a session written in `layout`.
fn is_session_of(layout: Layout, item: &Item) -> bool {
    matches!(item.get(layout.sess_attr()), Some(AttributeValue::S(_)))
}
