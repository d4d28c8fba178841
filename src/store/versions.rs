//! `versioning`'s two rules, shared by every write of a session: a save
//! whose condition failed after an attempt that may have landed is checked
//! against what is stored (so it never conflicts with itself), and a
//! conflict says what was read and what is stored.

use crate::error::{code, StoreError};
use crate::item::{read_number, Item};
use crate::layout::Layout;
use crate::schema::VERSION_ATTR;

/// Whether a stored item is this versioned save: after an attempt that may
/// have been applied, a failed condition is checked against it, so a save is
/// never reported as conflicting with itself.
pub fn holds_save(layout: Layout, stored: &Item, saved: &Item) -> bool {
    let sess = layout.sess_attr();
    stored.get(VERSION_ATTR).is_some()
        && stored.get(VERSION_ATTR) == saved.get(VERSION_ATTR)
        && stored.get(sess) == saved.get(sess)
}

/// ERR_SESSION_CONFLICT for a save of version `read` over `stored` (None: removed).
pub fn conflict(read: f64, stored: Option<&Item>) -> StoreError {
    let Some(stored) = stored else {
        return StoreError::new(
            code::SESSION_CONFLICT,
            format!("the session was removed since it was read (read version {read}); it is not recreated from a stale copy"),
        );
    };
    let stored = read_number(stored.get(VERSION_ATTR)).unwrap_or(0.0);
    StoreError::new(
        code::SESSION_CONFLICT,
        format!("the session changed since it was read (read version {read}, stored version {stored}); reload it and apply the change again"),
    )
}

/// With `versioning`: the version an item holds (0 for one written without).
pub fn version_of(versioning: bool, item: Option<&Item>) -> Option<f64> {
    versioning.then(|| read_number(item.and_then(|item| item.get(VERSION_ATTR))).unwrap_or(0.0))
}
