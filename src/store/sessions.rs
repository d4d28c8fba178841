//! The four calls on every request: `get`, `set`, `touch` and `destroy`,
//! each one request on the wire (plus the user registry's entry on a save
//! that gives a session a user). The rules they share live here: a destroy
//! leaves a tombstone that refuses late saves, and a versioned save writes
//! only over the version it read. They reach the table through `recent.rs`,
//! the layer that skips writes which would change nothing worth paying for
//! (`touchAfter`, unchanged saves); below it, every call is sent.

use aws_sdk_dynamodb::types::AttributeValue;

use super::devices::Device;
use super::lifetime::{Lifetime, Write};
use super::migrate::Migration;
use super::shared::Shared;
use super::users::Users;
use super::versions::{conflict, holds_save, version_of};
use crate::codec;
use crate::error::{code, StoreError, StoreResult};
use crate::expiry::CookieTimes;
use crate::item::{item_size, now_ms, number, Item};
use crate::layout::{End, EndTest, END_TEST};
use crate::payload;
use crate::recent::{Read, RecentSessions, Remembering, Rules, SessionCalls, Written};
use crate::schema::{CREATED_ATTR, DESTROYED_ATTR, EXPIRES_ATTR, VERSION_ATTR};
use crate::stats::Stats;
use crate::wire::{self, Outcome, Target, Wire};
use crate::wire_json::{self, Body};

/// A stored session as `get` returns it: its JSON and its end.
pub struct Found {
    pub sess: String,
    pub end: Option<End>,
    /// With `versioning`: the version read (0 for an item written without).
    pub version: Option<f64>,
}

/// The session calls over the shared parts, the memo of what was read, and
/// the concerns a save or read passes through.
pub struct Sessions<'a> {
    pub shared: &'a Shared,
    pub recent: &'a RecentSessions,
    pub lifetime: Lifetime<'a>,
    pub users: Users<'a>,
    pub migration: Migration<'a>,
}

impl Sessions<'_> {
    /// The session calls, behind the layer that remembers what was read.
    fn remembering(&self) -> Remembering<'_, Self> {
        Remembering {
            calls: self,
            memo: self.recent,
            rules: Rules {
                touch_after: self.shared.options.costs.touch_after_ms,
                keep_content: self.shared.options.costs.skip_unchanged_writes,
            },
            stats: &self.shared.stats,
        }
    }

    /// The stored session, or None when missing or expired.
    pub async fn get(&self, sid: &str) -> StoreResult<Option<Found>> {
        let key = self.shared.key(sid)?;
        let read = self.remembering().get(sid, &key).await?;
        Ok(read.map(|read| Found {
            end: read.end,
            sess: read.sess,
            version: read.version,
        }))
    }

    /// Saves the session. With `versioning`, `read_version` is the version
    /// the caller read (0 or None: it read none) and the new version is
    /// returned; a session changed since fails with ERR_SESSION_CONFLICT.
    /// `device`: the fields of the device saving it (recorded by the first save).
    pub async fn set(
        &self,
        sid: &str,
        sess: String,
        times: CookieTimes,
        read_version: Option<f64>,
        device: Option<Device>,
    ) -> StoreResult<Option<f64>> {
        let expires = self.shared.end_at(now_ms(), times);
        let key = self.shared.key(sid)?;
        let read_version = self.shared.options.versioning.then(|| {
            read_version
                .filter(|v| v.is_finite() && *v >= 0.0)
                .unwrap_or(0.0)
                .floor()
        });
        match self
            .remembering()
            .set(&key, sess, expires, read_version, &device)
            .await?
        {
            Written::Saved(version) => Ok(version),
            Written::Ended => {
                self.shared.logger.debug(format!(
                    "a save of \"{key}\" came after the session's absoluteTimeout; nothing was written"
                ));
                Ok(read_version)
            }
            Written::Unchanged | Written::Touched(_) => Ok(read_version),
            Written::Gone => {
                self.shared.logger.debug(format!(
                    "an unchanged save found no live session \"{key}\"; not recreating it"
                ));
                Ok(read_version)
            }
            Written::Refused => {
                self.shared.logger.debug(format!(
                    "a save of \"{key}\" arrived after it was destroyed; the session stays destroyed"
                ));
                Ok(read_version)
            }
        }
    }

    /// Moves the expiry of a live session; returns the new expiry (epoch
    /// seconds), or None when there is no live session to touch. Never
    /// creates an item. Within `touchAfter` of the last refresh this process
    /// saw, writes nothing and returns the stored expiry.
    pub async fn touch(&self, sid: &str, times: CookieTimes) -> StoreResult<Option<i64>> {
        let end = self.shared.end_at(now_ms(), times);
        let key = self.shared.key(sid)?;
        let touched = self.remembering().touch(&key, end).await?;
        Ok(touched.map(|end| (end / 1000.0).ceil() as i64))
    }

    pub async fn destroy(&self, sid: &str) -> StoreResult<()> {
        let key = self.shared.key(sid)?;
        self.remembering().destroy(sid, &key).await
    }

    /// The GetItem body of `get`.
    fn get_body(&self, key: &str) -> Vec<u8> {
        let hash_key = self.shared.options.hash_key.as_str();
        let mut names = vec![
            ("#s", self.shared.layout().sess_attr()),
            ("#e", EXPIRES_ATTR),
            ("#k", hash_key),
        ];
        names.extend(self.shared.layout().exact_attr().map(|exact| ("#x", exact)));
        if self.shared.options.versioning {
            names.push(("#v", VERSION_ATTR));
        }
        if self.shared.options.absolute_timeout_ms.is_some() {
            names.push(("#c", CREATED_ATTR));
        }
        let projection: Vec<&str> = names.iter().map(|(placeholder, _)| *placeholder).collect();
        Body::new(&self.shared.options.table, key.len())
            .key(&self.shared.options.hash_key, key)
            .boolean("ConsistentRead", self.shared.options.costs.consistent_read)
            .string("ProjectionExpression", &projection.join(", "))
            .names(&names)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish()
    }

    /// Writes a session served unsealed (under `acceptUnsealed`) back sealed,
    /// unless a save changed it since it was read: sessions kept alive by
    /// touches alone leave their plaintext behind too. A failure only delays it.
    async fn reseal(&self, wire: &Wire, key: &str, sess: &str, as_read: AttributeValue) {
        let body = payload::encode(&self.shared.options.payload, key, sess.to_string()).and_then(|sealed| {
            Ok(Body::new(&self.shared.options.table, key.len() + 2 * sess.len())
                .key(&self.shared.options.hash_key, key)
                .string("UpdateExpression", "SET #s = :sealed")
                .string("ConditionExpression", "#s = :read")
                .names(&[("#s", self.shared.layout().sess_attr())])
                .values(&[(":sealed", &sealed), (":read", &as_read)])?
                .string("ReturnConsumedCapacity", "TOTAL")
                .finish())
        });
        let written = match body {
            Ok(body) => wire.call(Target::UpdateItem, body).await,
            Err(err) => Err(err),
        };
        match written {
            Ok(Outcome::Done(reply)) => self.shared.stats.write_units(wire::capacity_units(&reply)),
            Ok(Outcome::ConditionFailed(_)) => {} // a save got there first, sealed
            Err(err) => self
                .shared
                .logger
                .debug(format!("an unsealed session was not sealed yet: {}", err.message)),
        }
    }

    /// The PutItem of a save; false when a tombstone refused it (the session
    /// was destroyed while this save was on its way: the destroy wins).
    async fn put_session(&self, wire: &Wire, item: Item, read_version: Option<f64>, now_ms: f64) -> StoreResult<bool> {
        let layout = self.shared.layout();
        let read = read_version.map(|read| number(read as i64));
        let mut names = vec![("#d", DESTROYED_ATTR)];
        names.extend(layout.end_names(&END_TEST));
        let now = layout.end_values(&END_TEST, now_ms);
        let mut values: Vec<(&str, &AttributeValue)> = now.iter().map(|(at, value)| (*at, value)).collect();
        // What may be saved over has ended.
        let ended = layout.ended(&END_TEST);
        let condition = match (read_version, &read) {
            (None, _) | (_, None) => format!("attribute_not_exists(#d) OR {ended}"),
            // Read nothing: only over no session, an unversioned or an ended one.
            (Some(0.0), _) => format!("attribute_not_exists(#v) AND attribute_not_exists(#d) OR {ended}"),
            // Only over the version read: a session removed since (clear(), an
            // admin's delete) is a change too, and is not brought back.
            (Some(_), Some(read)) => {
                values.push((":read", read));
                format!("#v = :read AND (attribute_not_exists(#d) OR {ended})")
            }
        };
        if read_version.is_some() {
            names.push(("#v", VERSION_ATTR));
        }
        let mut body = Body::new(&self.shared.options.table, item_size(&item))
            .item(&item)?
            .string("ConditionExpression", &condition)
            .names(&names)
            .values(&values)?;
        if read_version.is_some() {
            body = body.string("ReturnValuesOnConditionCheckFailure", "ALL_OLD");
        }
        let body = body.string("ReturnConsumedCapacity", "TOTAL").finish();
        match wire.call(Target::PutItem, body).await? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                Ok(true)
            }
            Outcome::ConditionFailed(mut failed) => {
                let old = failed.body.remove("Item").map(wire_json::read_item).transpose()?;
                if failed.maybe_ours
                    && old
                        .as_ref()
                        .is_some_and(|old| holds_save(self.shared.layout(), old, &item))
                {
                    return Ok(true);
                }
                let destroyed = old.as_ref().is_some_and(|old| old.contains_key(DESTROYED_ATTR));
                match read_version {
                    Some(read) if !destroyed => Err(conflict(read, old.as_ref())),
                    _ => Ok(false),
                }
            }
        }
    }
}

/// The session calls as they reach the table: every one is sent.
impl SessionCalls for Sessions<'_> {
    type Extra = Option<Device>;

    async fn read(&self, sid: &str, key: &str) -> StoreResult<Option<Read>> {
        let wire = &self.shared.ready().await?.wire;
        let sess_attr = self.shared.layout().sess_attr();
        let mut reply = wire.call(Target::GetItem, self.get_body(key)).await?.done()?;
        let item = reply.remove("Item").map(wire_json::read_item).transpose()?;
        if let Some(item) = &item {
            self.shared.same_key(wire, item, key)?;
        }
        Stats::count(&self.shared.stats.gets);
        self.shared.stats.read_units(wire::capacity_units(&reply));
        let version = version_of(self.shared.options.versioning, item.as_ref());
        // Under acceptUnsealed a plain session is sealed in place once read.
        let as_read = match (&item, &self.shared.options.payload.encryption) {
            (Some(item), Some(encryption)) if encryption.accept_unsealed => item.get(sess_attr).cloned(),
            _ => None,
        };
        let now_ms = now_ms();
        if let Some(item) = &item {
            self.lifetime.note_created(key, item);
        }
        let found = match item {
            Some(item) if self.lifetime.past(&item, now_ms) => None,
            Some(item) => self.shared.decode(key, item, now_ms)?,
            None if self.shared.options.migrate_from.is_some() => self.migration.migrate(wire, sid, key).await?,
            None => None,
        };
        if let (Some(found), Some(as_read)) = (&found, as_read) {
            if found.unsealed {
                self.reseal(wire, key, &found.sess, as_read).await;
            }
        }
        Ok(found.map(|found| Read {
            sess: found.sess,
            end: found.end,
            version,
        }))
    }

    async fn write(
        &self,
        key: &str,
        sess: String,
        expires: i64,
        read_version: Option<f64>,
        device: &Option<Device>,
    ) -> StoreResult<Written> {
        let now_ms = now_ms();
        let mut item = codec::encode_item(&self.shared.options, key.to_string(), sess, expires)?;
        let new_version = read_version.map(|read| read + 1.0);
        if let Some(version) = new_version {
            item.insert(VERSION_ATTR.to_string(), number(version as i64));
        }
        let wire = &self.shared.ready().await?.wire;
        let new_user = self.users.to_register(&item, key);
        let save = async {
            if self.lifetime.tracks() {
                let write = Write {
                    key,
                    item: Some(item),
                    expires,
                    read_version,
                    device: device.as_ref(),
                };
                return self.lifetime.write_tracked(wire, write).await;
            }
            let landed = self.put_session(wire, item, read_version, now_ms).await?;
            Ok(if landed {
                Written::Saved(new_version)
            } else {
                Written::Refused
            })
        };
        let written = match &new_user {
            // Both land before the save is acknowledged, so a session whose
            // save was acknowledged is always in the registry.
            Some(user) => {
                let index = self.users.index(wire);
                let register = index.register(user, key, (now_ms / 1000.0).floor() as i64);
                tokio::try_join!(register, save)?.1
            }
            None => save.await?,
        };
        Stats::count(&self.shared.stats.sets);
        if let (Written::Saved(_), Some(user)) = (&written, new_user) {
            self.users.remember(key.to_string(), user.clone());
            if let Some(max) = self.shared.options.users.max_sessions {
                self.users.limit_sessions(wire, &user, key, max).await.map_err(|err| {
                    StoreError::new(
                        &err.code,
                        format!(
                            "the session was saved, but enforcing maxSessionsPerUser failed: {}",
                            err.message
                        ),
                    )
                })?;
            }
        }
        Ok(written)
    }

    async fn refresh(&self, key: &str, expires: i64) -> StoreResult<Option<i64>> {
        let wire = &self.shared.ready().await?.wire;
        if self.lifetime.tracks() {
            let write = Write {
                key,
                item: None,
                expires,
                read_version: None,
                device: None,
            };
            let touched = self.lifetime.write_tracked(wire, write).await;
            Stats::count(&self.shared.stats.touches);
            return Ok(match touched? {
                Written::Touched(stored) => Some(stored),
                _ => None,
            });
        }
        let layout = self.shared.layout();
        let [(_, e), (second, t)] = &layout.expiry_attributes(expires)[..] else {
            return Err(StoreError::new(
                code::INTERNAL,
                "a layout without two expiry attributes",
            ));
        };
        // Only a live session; `#t`, the second expiry attribute, is `expiresMs` where there is one.
        let at = EndTest { x: "#t", ..END_TEST };
        let now = layout.end_values(&at, now_ms());
        let names = [("#e", EXPIRES_ATTR), ("#s", layout.sess_attr()), ("#t", second)];
        let mut values: Vec<(&str, &AttributeValue)> = vec![(":e", e), (":t", t)];
        values.extend(now.iter().map(|(at, value)| (*at, value)));
        let condition = format!("attribute_exists(#s) AND {}", layout.live(&at));
        let body = Body::new(&self.shared.options.table, key.len())
            .key(&self.shared.options.hash_key, key)
            .string("UpdateExpression", layout.expiry_update())
            .string("ConditionExpression", &condition)
            .names(&names)
            .values(&values)?
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let result = wire.call(Target::UpdateItem, body).await;
        Stats::count(&self.shared.stats.touches);
        match result? {
            Outcome::Done(reply) => {
                self.shared.stats.write_units(wire::capacity_units(&reply));
                Ok(Some(expires))
            }
            Outcome::ConditionFailed(_) => Ok(None),
        }
    }

    async fn remove(&self, sid: &str, key: &str) -> StoreResult<()> {
        let wire = &self.shared.ready().await?.wire;
        let tombstone = codec::tombstone(
            self.shared.layout(),
            &self.shared.options.hash_key,
            key.to_string(),
            now_ms(),
        );
        let body = Body::new(&self.shared.options.table, 0)
            .item(&tombstone)?
            // Only over an item: destroying a sid that was never saved (every
            // regenerate does) leaves nothing behind.
            .string("ConditionExpression", "attribute_exists(#k)")
            .names(&[("#k", &self.shared.options.hash_key)])
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let result = match self.shared.options.migrate_from {
            // The session may still be stored in the old layout too.
            Some(_) => tokio::try_join!(wire.call(Target::PutItem, body), self.migration.delete_old(wire, sid))
                .map(|(put, _)| put),
            None => wire.call(Target::PutItem, body).await,
        };
        Stats::count(&self.shared.stats.destroys);
        if let Outcome::Done(reply) = result? {
            self.shared.stats.write_units(wire::capacity_units(&reply));
        }
        Ok(())
    }
}
