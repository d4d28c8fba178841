//! `migrateFrom`: sessions still stored in another layout (under their bare
//! sid) are read there when missing under their key, and moved on first read.

use super::shared::Shared;
use crate::codec::{self, Decoded};
use crate::error::StoreResult;
use crate::item::now_ms;
use crate::layout::End;
use crate::options::PayloadOptions;
use crate::schema::EXPIRES_ATTR;
use crate::wire::{self, Target, Wire};
use crate::wire_json::{self, Body};

/// `migrateFrom` over the shared parts.
pub struct Migration<'a> {
    pub shared: &'a Shared,
}

impl Migration<'_> {
    /// With `migrateFrom`: a session missing under its key may still be
    /// stored in the old layout, under its bare sid. It is served, and moved:
    /// written under its key (unless a save got there first), then its old
    /// item deleted. A session that cannot be moved is still served.
    pub async fn migrate(&self, wire: &Wire, sid: &str, key: &str) -> StoreResult<Option<Decoded>> {
        let Some(old) = self.shared.options.migrate_from else {
            return Ok(None);
        };
        let mut names = vec![
            ("#s", old.sess_attr()),
            ("#e", EXPIRES_ATTR),
            ("#k", &self.shared.options.hash_key),
        ];
        names.extend(old.exact_attr().map(|exact| ("#x", exact)));
        let projection: Vec<&str> = names.iter().map(|(placeholder, _)| *placeholder).collect();
        let body = Body::new(&self.shared.options.table, sid.len())
            .key(&self.shared.options.hash_key, sid)
            .boolean("ConsistentRead", self.shared.options.costs.consistent_read)
            .string("ProjectionExpression", &projection.join(", "))
            .names(&names)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let mut reply = wire.call(Target::GetItem, body).await?.done()?;
        self.shared.stats.read_units(wire::capacity_units(&reply));
        let Some(item) = reply.remove("Item").map(wire_json::read_item).transpose()? else {
            return Ok(None);
        };
        self.shared.same_key(wire, &item, sid)?;
        let now_ms = now_ms();
        // The old layout stores plain JSON.
        let Some(Decoded { sess, end, .. }) =
            codec::decode_session(old, &PayloadOptions::default(), sid, item, now_ms)?
        else {
            return Ok(None);
        };
        let end_ms = end
            .map_or(now_ms + self.shared.options.costs.ttl_ms, |end| end.ms)
            .ceil() as i64;
        if let Err(err) = self.move_session(wire, sid, key, sess.clone(), end_ms).await {
            self.shared.logger.warn(format!(
                "a {} session could not be moved to its new key yet: {}",
                old.name(),
                err.message
            ));
        }
        Ok(Some(Decoded {
            sess,
            end: Some(End {
                ms: end_ms as f64,
                exact: true,
            }),
            unsealed: false,
        }))
    }

    async fn move_session(&self, wire: &Wire, sid: &str, key: &str, sess: String, end_ms: i64) -> StoreResult<()> {
        let item = codec::encode_item(&self.shared.options, key.to_string(), sess, end_ms)?;
        if !self.shared.put_if_absent(wire, &item).await? {
            // A save got there first: it is the newer session; the old item stays until it expires.
            return Ok(());
        }
        self.delete_old(wire, sid).await
    }

    /// Deletes a session's item in the `migrateFrom` layout (under its bare sid).
    pub async fn delete_old(&self, wire: &Wire, sid: &str) -> StoreResult<()> {
        let body = Body::new(&self.shared.options.table, sid.len())
            .key(&self.shared.options.hash_key, sid)
            .string("ReturnConsumedCapacity", "TOTAL")
            .finish();
        let reply = wire.call(Target::DeleteItem, body).await?.done()?;
        self.shared.stats.write_units(wire::capacity_units(&reply));
        Ok(())
    }
}
