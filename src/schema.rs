//! Every name the store writes into a table, in one place: the attributes of
//! its items in either layout, the `type` values that mark them, and the
//! marks that set its own items' keys apart from sessions'. The layers above
//! take these names from here; none of them declares its own.

/// The session's end, in the layout's unit (TTL reads it in seconds).
pub const EXPIRES_ATTR: &str = "expires";
/// The end to the millisecond beside connect-dynamodb's whole seconds.
pub const EXPIRES_MS_ATTR: &str = "expiresMs";
/// What kind of item it is (`SESSION_TYPE`, `LOCK_TYPE`, `REGISTRY_TYPE`).
pub const TYPE_ATTR: &str = "type";
/// The session JSON in connect-dynamodb's layout.
pub const SESS_ATTR: &str = "sess";
/// connect-dynamodb-session's name for the session JSON.
pub const CONTENT_ATTR: &str = "content";
/// The seconds attribute TTL uses beside connect-dynamodb-session's milliseconds.
pub const TTL_ATTR: &str = "ttl";
/// On a destroyed session's tombstone: when it was destroyed (epoch s).
pub const DESTROYED_ATTR: &str = "destroyed";
/// With `versioning`: the count of content writes, checked by every save.
pub const VERSION_ATTR: &str = "version";
/// When a session was first saved (epoch ms).
pub const CREATED_ATTR: &str = "createdAt";
/// When a save or touch last wrote the session (epoch ms).
pub const SEEN_ATTR: &str = "lastSeenAt";
/// The device a session was created from: a small Map of strings.
pub const DEVICE_ATTR: &str = "device";
/// A lock item's holder: the owner token its `lock()` resolved.
pub const OWNER_ATTR: &str = "owner";
/// When a lease ends, in epoch ms (`expires`, in seconds, is for TTL).
pub const UNTIL_ATTR: &str = "lockedUntil";
/// A user registry item's session keys (a string set).
pub const REGISTRY_SIDS_ATTR: &str = "sids";

/// Every attribute name the store writes on its own items (sessions,
/// tombstones, locks, user registries, either layout): no hashKey, rangeKey
/// or special key may reuse one, or the store would overwrite it.
pub const STORE_ATTRS: [&str; 14] = [
    SESS_ATTR,
    EXPIRES_ATTR,
    EXPIRES_MS_ATTR,
    TYPE_ATTR,
    DESTROYED_ATTR,
    VERSION_ATTR,
    OWNER_ATTR,
    UNTIL_ATTR,
    REGISTRY_SIDS_ATTR,
    CONTENT_ATTR,
    TTL_ATTR,
    CREATED_ATTR,
    SEEN_ATTR,
    DEVICE_ATTR,
];

/// The `type` of a session item (and of its tombstone).
pub const SESSION_TYPE: &str = "connect-session";
/// The `type` of a lock item.
pub const LOCK_TYPE: &str = "connect-session-lock";
/// The `type` of a user registry item.
pub const REGISTRY_TYPE: &str = "connect-session-users";

/// Marks lock keys among session keys; no session id may start with it.
pub const LOCK_MARK: &str = "~lock~";
/// Marks registry keys among session keys; no session id may start with it.
pub const REGISTRY_MARK: &str = "~user~";
/// The marks no session id may start with.
pub const RESERVED_MARKS: [&str; 2] = [REGISTRY_MARK, LOCK_MARK];

/// Whether a session id (a key without its prefix) names a lock item.
pub fn is_lock_sid(sid: &str) -> bool {
    sid.starts_with(LOCK_MARK)
}

/// Whether a session id (a key without its prefix) names a user registry item.
pub fn is_registry_sid(sid: &str) -> bool {
    sid.starts_with(REGISTRY_MARK)
}
