//! When a session began and when it was last seen, and `absoluteTimeout`:
//! a session ends a fixed time after it was first saved, however active it
//! is (OWASP's absolute timeout), enforced here, never trusted from a cookie.
//!
//! Both times are top-level attributes in epoch ms. A store that records them
//! saves with an UpdateItem instead of a PutItem, so that `createdAt` (and the
//! device) are kept from the first save without a read. With
//! `absoluteTimeout`, no save or touch moves `expires` past `createdAt +
//! absoluteTimeout` (so TTL removes the item then too): each write is
//! conditional on it, and the rare one that would pass it is written again,
//! capped, using the `createdAt` its failed condition returned.

use aws_sdk_dynamodb::types::AttributeValue;

use super::devices::Device;
use super::shared::{Memo, Shared};
use super::versions::{conflict, holds_save};
use crate::error::{code, StoreError, StoreResult};
use crate::item::{item_size, now_ms, number, read_number, Item};
use crate::layout::{EndTest, Layout, NowValues};
use crate::recent::Written;
use crate::schema::{CREATED_ATTR, DESTROYED_ATTR, DEVICE_ATTR, EXPIRES_ATTR, SEEN_ATTR, VERSION_ATTR};
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{self, Body};

/// The lifetime rules over the shared parts, and this concern's own state.
pub struct Lifetime<'a> {
    pub shared: &'a Shared,
    /// With `absoluteTimeout`: session key -> its `createdAt` as last read,
    /// so a save or touch can cap its expiry in one write (the condition
    /// checks it; a wrong entry costs a second write, never a longer life).
    pub created: &'a Memo<f64>,
}

/// A save or touch, as far as its lifetime goes.
pub struct Write<'a> {
    pub key: &'a str,
    /// The item a save writes (key included); None for a touch.
    pub item: Option<Item>,
    /// The stored `expires` asked for, in the layout's unit.
    pub expires: i64,
    pub read_version: Option<f64>,
    pub device: Option<&'a Device>,
}

impl Lifetime<'_> {
    /// Whether saves and touches record when a session began and was last seen.
    pub fn tracks(&self) -> bool {
        self.shared.options.devices || self.shared.options.absolute_timeout_ms.is_some()
    }

    /// Whether an item read has outlived `absoluteTimeout`.
    pub fn past(&self, item: &Item, now_ms: f64) -> bool {
        let Some(absolute) = self.shared.options.absolute_timeout_ms else {
            return false;
        };
        read_number(item.get(CREATED_ATTR)).is_some_and(|created| created + absolute <= now_ms)
    }

    /// The latest end (epoch ms) a session created at `created_ms` may have.
    fn lifetime_end(&self, created_ms: f64) -> Option<i64> {
        let absolute = self.shared.options.absolute_timeout_ms?;
        Some((created_ms + absolute).ceil() as i64)
    }

    /// With `absoluteTimeout`: notes a session's `createdAt` as read.
    pub fn note_created(&self, key: &str, item: &Item) {
        if self.shared.options.absolute_timeout_ms.is_none() {
            return;
        }
        let Some(created) = read_number(item.get(CREATED_ATTR)) else {
            return;
        };
        self.created.insert(key.to_string(), created);
    }

    fn noted_created(&self, key: &str) -> Option<f64> {
        self.shared.options.absolute_timeout_ms?;
        self.created.get(key)
    }

    /// A save or touch that records `lastSeenAt` (and on a save `createdAt`
    /// and the device, kept from the first save), within `absoluteTimeout`.
    /// A touch that finds no live session: `Written::Gone`.
    pub async fn write_tracked(&self, wire: &Wire, write: Write<'_>) -> StoreResult<Written> {
        let now_ms = now_ms();
        // Capped where the lifetime is known (a session created now, or as last read).
        let created = self.noted_created(write.key);
        if created.is_some_and(|created| created + self.shared.options.absolute_timeout_ms.unwrap_or(0.0) <= now_ms) {
            return Ok(Written::Ended);
        }
        let end = self.lifetime_end(created.unwrap_or(now_ms));
        let expires = end.map_or(write.expires, |end| end.min(write.expires));
        match self.send_tracked(wire, &write, expires, created, now_ms).await? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                Ok(written(&write, expires))
            }
            Outcome::ConditionFailed(mut failed) => {
                let old = failed.body.remove("Item").map(wire_json::read_item).transpose()?;
                let ours = |old: &Item| {
                    write
                        .item
                        .as_ref()
                        .is_some_and(|item| holds_save(self.shared.layout(), old, item))
                };
                if failed.maybe_ours && old.as_ref().is_some_and(ours) {
                    return Ok(written(&write, expires));
                }
                self.after_condition(wire, write, old, created, now_ms).await
            }
        }
    }

    fn forget_created(&self, key: &str) {
        self.created.remove(key);
    }

    /// Why a tracked write's condition failed, and the capped write when the
    /// session would have outlived `absoluteTimeout`.
    async fn after_condition(
        &self,
        wire: &Wire,
        write: Write<'_>,
        old: Option<Item>,
        pinned: Option<f64>,
        now_ms: f64,
    ) -> StoreResult<Written> {
        let layout = self.shared.layout();
        // Lost to another write: a save stays unwritten, a touch finds no session.
        let lost = if write.item.is_some() {
            Written::Refused
        } else {
            Written::Gone
        };
        let Some(old) = old else {
            self.forget_created(write.key);
            return match write.read_version {
                Some(read) if write.item.is_some() && read > 0.0 => Err(conflict(read, None)),
                // The session noted is gone (removed since): this save starts a new one.
                _ if write.item.is_some() && pinned.is_some() => {
                    let expires = self
                        .lifetime_end(now_ms)
                        .map_or(write.expires, |end| end.min(write.expires));
                    match self.send_tracked(wire, &write, expires, None, now_ms).await? {
                        Outcome::Done(reply) => {
                            self.shared.stats.write_units(wire::capacity_units(&reply));
                            Ok(written(&write, expires))
                        }
                        Outcome::ConditionFailed(_) => Ok(lost),
                    }
                }
                _ => Ok(lost),
            };
        };
        let live = !layout.has_ended(layout.end_of(&old), now_ms);
        if old.contains_key(DESTROYED_ATTR) && live {
            return Ok(Written::Refused);
        }
        if write.item.is_none() && (!live || !old.contains_key(layout.sess_attr())) {
            return Ok(Written::Gone);
        }
        if let (Some(read), Some(_)) = (write.read_version, &write.item) {
            let stored = read_number(old.get(VERSION_ATTR)).unwrap_or(0.0);
            if stored != read {
                return Err(conflict(read, Some(&old)));
            }
        }
        self.note_created(write.key, &old);
        let created = read_number(old.get(CREATED_ATTR));
        let Some((created, end)) = created.and_then(|created| Some((created, self.lifetime_end(created)?))) else {
            return Ok(lost);
        };
        if created + self.shared.options.absolute_timeout_ms.unwrap_or(0.0) <= now_ms {
            return Ok(Written::Ended);
        }
        // The session would outlive its lifetime: write it again, ending with it.
        let capped = end.min(write.expires);
        match self.send_tracked(wire, &write, capped, Some(created), now_ms).await? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                Ok(written(&write, capped))
            }
            // Changed in between: this write loses, as any later write would win.
            Outcome::ConditionFailed(_) => Ok(lost),
        }
    }

    /// The UpdateItem of a tracked write; `created` pins the `createdAt` a
    /// capped retry read.
    async fn send_tracked(
        &self,
        wire: &Wire,
        write: &Write<'_>,
        expires: i64,
        created: Option<f64>,
        now_ms: f64,
    ) -> StoreResult<Outcome> {
        let layout = self.shared.layout();
        let mut update = Update::default();
        let now = number(now_ms.floor() as i64);
        match &write.item {
            Some(item) => {
                let expiry = layout.expiry_attributes(expires);
                for (name, value) in item {
                    if name != &self.shared.options.hash_key && !expiry.iter().any(|(written, _)| written == name) {
                        update.set(name, value.clone());
                    }
                }
                // What a save may drop: the user, special keys, a tombstone's mark.
                let droppable = self
                    .shared
                    .options
                    .special_keys
                    .iter()
                    .map(|key| key.name.as_str())
                    .chain(
                        self.shared
                            .options
                            .users
                            .enabled()
                            .then_some(self.shared.options.users.attribute.as_str()),
                    )
                    .chain([DESTROYED_ATTR]);
                for name in droppable.filter(|name| !item.contains_key(*name)) {
                    update.remove(name);
                }
                update.set_if_missing(CREATED_ATTR, now.clone());
                if let Some(device) = write.device {
                    update.set_if_missing(DEVICE_ATTR, device.attribute());
                }
            }
            None => {
                let s = update.name(layout.sess_attr());
                update.condition(&format!("attribute_exists({s}) AND"));
            }
        }
        for (name, value) in layout.expiry_attributes(expires) {
            update.set(name, value);
        }
        update.set(SEEN_ATTR, now);
        match (&write.item, write.read_version) {
            // A touch only on a live session.
            (None, _) => {
                let live = end_test(&mut update, layout, now_ms, Layout::live);
                update.condition(&live);
            }
            (Some(_), None) => {
                let d = update.name(DESTROYED_ATTR);
                let ended = end_test(&mut update, layout, now_ms, Layout::ended);
                update.condition(&format!("(attribute_not_exists({d}) OR {ended})"));
            }
            (Some(_), Some(read)) => {
                let (d, v) = (update.name(DESTROYED_ATTR), update.name(VERSION_ATTR));
                let ended = end_test(&mut update, layout, now_ms, Layout::ended);
                let version = if read == 0.0 {
                    format!("attribute_not_exists({v})")
                } else {
                    format!("{v} = {}", update.value(number(read as i64)))
                };
                update.condition(&format!("{version} AND (attribute_not_exists({d}) OR {ended})"));
            }
        }
        match (created, self.shared.options.absolute_timeout_ms) {
            (Some(created), _) => {
                let c = update.name(CREATED_ATTR);
                let pinned = update.value(number(created as i64));
                update.condition(&format!("AND {c} = {pinned}"));
            }
            (None, Some(absolute)) => {
                let c = update.name(CREATED_ATTR);
                let earliest = update.value(number((expires as f64 - absolute).ceil() as i64));
                update.condition(&format!("AND (attribute_not_exists({c}) OR {c} >= {earliest})"));
            }
            (None, None) => {}
        }
        let body = update.body(self.shared, write.key, write.item.as_ref().map_or(0, item_size))?;
        wire.call(Target::UpdateItem, body).await
    }
}

/// A condition on the stored item's end, now (`Layout::live` or
/// `Layout::ended`), with this update's placeholders.
fn end_test(update: &mut Update, layout: Layout, now_ms: f64, condition: fn(Layout, &EndTest) -> String) -> String {
    let e = update.name(EXPIRES_ATTR);
    let x = layout.exact_attr().map(|exact| update.name(exact)).unwrap_or_default();
    let NowValues { stored, exact } = layout.now_values(now_ms);
    let now = update.value(stored);
    let (ms, next) = match exact {
        Some((ms, next)) => (update.value(ms), update.value(next)),
        None => Default::default(),
    };
    condition(
        layout,
        &EndTest {
            e: &e,
            x: &x,
            now: &now,
            ms: &ms,
            next: &next,
        },
    )
}

/// What a write that landed did (`expires`: what it stored).
fn written(write: &Write<'_>, expires: i64) -> Written {
    match write.item {
        Some(_) => Written::Saved(write.read_version.map(|read| read + 1.0)),
        None => Written::Touched(expires),
    }
}

/// An UpdateItem's expression, built a clause at a time with numbered placeholders.
#[derive(Default)]
struct Update {
    set: Vec<String>,
    remove: Vec<String>,
    condition: Vec<String>,
    names: Vec<(String, String)>,
    values: Vec<(String, AttributeValue)>,
}

impl Update {
    /// The placeholder of attribute `name` (one per name).
    fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.push((placeholder.clone(), name.to_string()));
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.push((placeholder.clone(), value));
        placeholder
    }

    fn set(&mut self, name: &str, value: AttributeValue) {
        let clause = format!("{} = {}", self.name(name), self.value(value));
        self.set.push(clause);
    }

    fn set_if_missing(&mut self, name: &str, value: AttributeValue) {
        let placeholder = self.name(name);
        let clause = format!("{placeholder} = if_not_exists({placeholder}, {})", self.value(value));
        self.set.push(clause);
    }

    fn remove(&mut self, name: &str) {
        let placeholder = self.name(name);
        self.remove.push(placeholder);
    }

    fn condition(&mut self, part: &str) {
        self.condition.push(part.to_string());
    }

    fn body(self, shared: &Shared, key: &str, size: usize) -> StoreResult<Vec<u8>> {
        let mut expression = format!("SET {}", self.set.join(", "));
        if !self.remove.is_empty() {
            expression.push_str(&format!(" REMOVE {}", self.remove.join(", ")));
        }
        let names: Vec<(&str, &str)> = self.names.iter().map(|(p, n)| (p.as_str(), n.as_str())).collect();
        let values: Vec<(&str, &AttributeValue)> = self.values.iter().map(|(p, v)| (p.as_str(), v)).collect();
        if self.condition.is_empty() {
            return Err(StoreError::new(code::INTERNAL, "a tracked write without a condition"));
        }
        Ok(Body::new(&shared.options.table, key.len() + size)
            .key(&shared.options.hash_key, key)
            .string("UpdateExpression", &expression)
            .string("ConditionExpression", &self.condition.join(" "))
            .names(&names)
            .values(&values)?
            .string("ReturnValuesOnConditionCheckFailure", "ALL_OLD")
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_names_each_attribute_once_and_numbers_its_values() {
        let mut update = Update::default();
        update.set("sess", AttributeValue::S("{}".into()));
        update.set_if_missing(CREATED_ATTR, number(5));
        update.remove("user");
        let e = update.name("expires");
        let now = update.value(number(9));
        update.condition(&format!("{e} > {now}"));
        assert_eq!(update.name("sess"), "#n0");
        assert_eq!(
            update.set,
            vec!["#n0 = :v0".to_string(), "#n1 = if_not_exists(#n1, :v1)".to_string()]
        );
        assert_eq!(update.remove, vec!["#n2".to_string()]);
        assert_eq!(update.condition, vec!["#n3 > :v2".to_string()]);
    }
}
