//! The store: what its concerns share (`shared.rs`) and one view per
//! concern, each borrowing the shared parts and its own state:
//!
//! - `sessions`: get, set, touch and destroy, behind the memo of `recent.rs`;
//!   a save or read passes through `lifetime`, `users` and `migrate`.
//! - `locks`, `scans`, `rotate`, `admin` (the command line's calls).
//! - `devices`, `batch` and `versions` hold no state: a type, the batch
//!   calls, the rules of versioned saves.
//!
//! Modules here import only those below them in that order (`scripts/layers.js`
//! checks it); this file only puts the parts together.

pub mod admin;
mod batch;
pub mod devices;
mod lifetime;
mod locks;
mod migrate;
mod rotate;
mod scans;
mod sessions;
mod shared;
pub mod users;
mod versions;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

pub use self::admin::Admin;
use self::lifetime::Lifetime;
pub use self::locks::Locks;
use self::migrate::Migration;
pub use self::rotate::Rotation;
pub use self::scans::Scans;
pub use self::sessions::{Found, Sessions};
use self::shared::Memo;
pub use self::shared::Shared;
pub use self::users::Users;
use crate::client::JsClient;
use crate::logger::Logger;
use crate::options::StoreOptions;
use crate::recent::RecentSessions;
use crate::transport::Transport;

pub struct Store {
    shared: Shared,
    /// What the session calls last read and wrote (`recent.rs`).
    recent: RecentSessions,
    /// `lifetime`'s: session key -> its `createdAt` as last read.
    created: Memo<f64>,
    /// `users`'s: session key -> (user, when this store registered it).
    registered: Memo<(String, Instant)>,
    /// `locks`'s: lock key -> the owner tokens of this store's leases.
    held_locks: Memo<Vec<String>>,
}

impl Store {
    pub fn new(
        options: StoreOptions,
        js_client: Option<JsClient>,
        transport: Arc<dyn Transport>,
        logger: Logger,
        trust: Arc<OnceLock<Vec<String>>>,
    ) -> Self {
        Store {
            shared: Shared::new(options, js_client, transport, logger, trust),
            recent: RecentSessions::default(),
            created: Memo::default(),
            registered: Memo::default(),
            held_locks: Memo::default(),
        }
    }

    /// The options, the connection, the breaker, the counters.
    pub fn shared(&self) -> &Shared {
        &self.shared
    }

    pub fn sessions(&self) -> Sessions<'_> {
        Sessions {
            shared: &self.shared,
            recent: &self.recent,
            lifetime: self.lifetime(),
            users: self.users(),
            migration: Migration { shared: &self.shared },
        }
    }

    pub fn users(&self) -> Users<'_> {
        Users {
            shared: &self.shared,
            registered: &self.registered,
            recent: &self.recent,
        }
    }

    pub fn locks(&self) -> Locks<'_> {
        Locks {
            shared: &self.shared,
            held: &self.held_locks,
        }
    }

    pub fn scans(&self) -> Scans<'_> {
        Scans { shared: &self.shared }
    }

    pub fn rotation(&self) -> Rotation<'_> {
        Rotation {
            shared: &self.shared,
            lifetime: self.lifetime(),
            users: self.users(),
        }
    }

    pub fn admin(&self) -> Admin<'_> {
        Admin {
            shared: &self.shared,
            lifetime: self.lifetime(),
        }
    }

    fn lifetime(&self) -> Lifetime<'_> {
        Lifetime {
            shared: &self.shared,
            created: &self.created,
        }
    }
}
