//! The calls that walk the whole table: `all`, `ids`, `length`, `clear` and
//! `reap`. Each is one paged Scan of this store's prefix; the deletes go out
//! in batches.

use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::Value;

use super::shared::Shared;
use crate::codec;
use crate::error::StoreResult;
use crate::item::{now_ms, Item};
use crate::layout::END_TEST;
use crate::wire::{self, Target, Wire};
use crate::wire_json::{next_start, read_items, Body};

/// Which of this store's items a scan returns.
#[derive(Clone, Copy)]
enum Scope {
    Live,
    Expired,
    All,
}

/// The calls that walk the table, over the shared parts.
pub struct Scans<'a> {
    pub shared: &'a Shared,
}

impl Scans<'_> {
    /// Every live session of this store as (sid, session JSON).
    pub async fn all(&self) -> StoreResult<Vec<(String, String)>> {
        self.shared.refuse_with_hashed_ids("all()")?;
        let items = self.scan(Scope::Live, true).await?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let sid = self.sid_of_item(&item)?;
                let key = format!("{}{sid}", self.shared.options.prefix);
                match self.shared.decode(&key, item, now_ms()) {
                    Ok(found) => Some((sid, found?.sess)),
                    Err(err) => {
                        self.shared
                            .logger
                            .warn(format!("all() leaves out session \"{sid}\": {}", err.message));
                        None
                    }
                }
            })
            .collect())
    }

    pub async fn ids(&self) -> StoreResult<Vec<String>> {
        self.shared.refuse_with_hashed_ids("ids()")?;
        let items = self.scan(Scope::Live, false).await?;
        Ok(items.iter().filter_map(|item| self.sid_of_item(item)).collect())
    }

    pub async fn length(&self) -> StoreResult<u32> {
        let items = self.scan(Scope::Live, false).await?;
        Ok(items.iter().filter(|item| self.sid_of_item(item).is_some()).count() as u32)
    }

    /// Deletes every session of this store's prefix; returns how many.
    pub async fn clear(&self) -> StoreResult<u32> {
        self.delete_scope(Scope::All).await
    }

    /// Deletes the expired sessions of this store's prefix; returns how many.
    pub async fn reap(&self) -> StoreResult<u32> {
        self.delete_scope(Scope::Expired).await
    }

    /// Deletes page by page, so a large table is never held in memory.
    async fn delete_scope(&self, scope: Scope) -> StoreResult<u32> {
        let wire = &self.shared.ready().await?.wire;
        let mut pages = Pages::new(self.scan_request(scope, false));
        let mut deleted = 0;
        while let Some(items) = pages.next(self.shared, wire).await? {
            let keys = items
                .into_iter()
                .filter_map(|mut item| match item.remove(&self.shared.options.hash_key) {
                    Some(AttributeValue::S(key)) => Some(key),
                    _ => None,
                })
                .collect();
            deleted += self.shared.batch(wire).delete_keys(keys).await?;
        }
        Ok(deleted)
    }

    /// All pages of a scan of this store's items.
    async fn scan(&self, scope: Scope, with_session: bool) -> StoreResult<Vec<Item>> {
        let wire = &self.shared.ready().await?.wire;
        let mut pages = Pages::new(self.scan_request(scope, with_session));
        let mut items = Vec::new();
        while let Some(page) = pages.next(self.shared, wire).await? {
            items.extend(page);
        }
        Ok(items)
    }

    /// The Scan of this store's prefix, without its start key. Expiry is
    /// judged as `get` judges it: to the millisecond where the item says
    /// (`expiresMs`), else by its whole-second `expires`.
    fn scan_request(&self, scope: Scope, with_session: bool) -> ScanRequest {
        let layout = self.shared.layout();
        let exact = layout.exact_attr();
        let mut names = vec![("#k", self.shared.options.hash_key.clone())];
        let mut values = Vec::new();
        let mut conditions = Vec::new();
        if with_session || matches!(scope, Scope::Live) {
            names.push(("#s", layout.sess_attr().to_string()));
        }
        if with_session || !matches!(scope, Scope::All) {
            names.extend(
                layout
                    .end_names(&END_TEST)
                    .into_iter()
                    .map(|(at, name)| (at, name.to_string())),
            );
        }
        if !self.shared.options.prefix.is_empty() {
            conditions.push("begins_with(#k, :p)".to_string());
            values.push((":p", AttributeValue::S(self.shared.options.prefix.clone())));
        }
        match scope {
            // An item without `expires` never ends.
            Scope::Live => conditions.push(format!(
                "attribute_exists(#s) AND (attribute_not_exists(#e) OR {})",
                layout.live(&END_TEST)
            )),
            Scope::Expired => conditions.push(layout.ended(&END_TEST)),
            Scope::All => {}
        }
        if !matches!(scope, Scope::All) {
            values.extend(layout.end_values(&END_TEST, now_ms()));
        }
        ScanRequest {
            // A sealed session is judged with its expires, so they come along.
            projection: match (with_session, exact) {
                (false, _) => "#k",
                (true, None) => "#k, #s, #e",
                (true, Some(_)) => "#k, #s, #e, #x",
            },
            names,
            values,
            filter: conditions.join(" AND "),
        }
    }

    fn sid_of_item(&self, item: &Item) -> Option<String> {
        match item.get(&self.shared.options.hash_key) {
            Some(AttributeValue::S(key)) => codec::sid_of(&self.shared.options.prefix, key).map(str::to_string),
            _ => None,
        }
    }
}

struct ScanRequest {
    projection: &'static str,
    names: Vec<(&'static str, String)>,
    values: Vec<(&'static str, AttributeValue)>,
    filter: String,
}

impl ScanRequest {
    fn body(&self, table: &str, start: Option<&Value>) -> StoreResult<Vec<u8>> {
        let names: Vec<(&str, &str)> = self.names.iter().map(|(p, n)| (*p, n.as_str())).collect();
        let values: Vec<(&str, &AttributeValue)> = self.values.iter().map(|(p, v)| (*p, v)).collect();
        let mut body = Body::new(table, 256)
            .string("ProjectionExpression", self.projection)
            .names(&names);
        if !values.is_empty() {
            body = body.values(&values)?;
        }
        if !self.filter.is_empty() {
            body = body.string("FilterExpression", &self.filter);
        }
        if let Some(start) = start {
            body = body.json("ExclusiveStartKey", start);
        }
        Ok(body.string("ReturnConsumedCapacity", "TOTAL").finish())
    }
}

/// A cursor over the pages of a Scan (`LastEvaluatedKey` to `ExclusiveStartKey`).
struct Pages {
    request: ScanRequest,
    start: Option<Value>,
    done: bool,
}

impl Pages {
    fn new(request: ScanRequest) -> Self {
        Pages {
            request,
            start: None,
            done: false,
        }
    }

    async fn next(&mut self, shared: &Shared, wire: &Wire) -> StoreResult<Option<Vec<Item>>> {
        if self.done {
            return Ok(None);
        }
        let body = self.request.body(&shared.options.table, self.start.as_ref())?;
        let mut reply = wire.call(Target::Scan, body).await?.done()?;
        shared.stats.read_units(wire::capacity_units(&reply));
        self.start = next_start(&mut reply);
        self.done = self.start.is_none();
        read_items(&mut reply).map(Some)
    }
}
