//! What this process last read or wrote for each session, kept briefly: a
//! save or touch in the same request can then tell, without a read, whether
//! the session changed and when its expiry was last refreshed.
//!
//! Skipping on this basis never drops a change the caller made: a save is
//! skipped only when its content equals what this process last saw stored,
//! so whatever another process wrote since is left as it is.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::codec;

/// Longer than any request (an entry serves the save or touch that ends the
/// request that read it); older entries are ignored.
const FRESH: Duration = Duration::from_secs(60);
/// Session JSON kept at most, over all entries, before starting afresh:
/// small enough for a 128 MB Lambda. Losing entries only costs skipped skips.
const MAX_BYTES: usize = 16 << 20;

struct Recent {
    /// The session JSON, when unchanged saves are being skipped.
    sess: Option<String>,
    /// The stored expiry, in the layout's unit.
    expires: f64,
    at: Instant,
}

#[derive(Default)]
pub struct RecentSessions {
    entries: Mutex<(HashMap<String, Recent>, usize)>,
}

impl RecentSessions {
    pub fn remember(&self, key: &str, sess: Option<String>, expires: f64) {
        let Ok(mut guard) = self.entries.lock() else { return };
        let (entries, bytes) = &mut *guard;
        let added = sess.as_ref().map_or(0, String::len);
        if *bytes + added > MAX_BYTES {
            entries.clear();
            *bytes = 0;
        }
        *bytes += added;
        let recent = Recent {
            sess,
            expires,
            at: Instant::now(),
        };
        if let Some(old) = entries.insert(key.to_string(), recent) {
            *bytes -= old.sess.map_or(0, |s| s.len());
        }
    }

    pub fn refreshed(&self, key: &str, expires: f64) {
        if let Ok(mut guard) = self.entries.lock() {
            if let Some(recent) = guard.0.get_mut(key) {
                recent.expires = expires;
                recent.at = Instant::now();
            }
        }
    }

    pub fn forget(&self, key: &str) {
        if let Ok(mut guard) = self.entries.lock() {
            let (entries, bytes) = &mut *guard;
            if let Some(old) = entries.remove(key) {
                *bytes -= old.sess.map_or(0, |s| s.len());
            }
        }
    }

    /// The stored expiry, when this process saw it recently.
    pub fn expires(&self, key: &str) -> Option<f64> {
        let guard = self.entries.lock().ok()?;
        guard.0.get(key).filter(|r| r.at.elapsed() < FRESH).map(|r| r.expires)
    }

    /// The stored expiry, when the stored session recently seen holds the
    /// same data as `sess` (apart from the cookie).
    pub fn unchanged(&self, key: &str, sess: &str) -> Option<f64> {
        let guard = self.entries.lock().ok()?;
        let recent = guard.0.get(key).filter(|r| r.at.elapsed() < FRESH)?;
        let stored = recent.sess.as_deref()?;
        codec::same_content(stored, sess).then_some(recent.expires)
    }
}

/// True when the stored expiry was refreshed less than `touch_after` ago:
/// moving it from `stored` to `new` would move it by less than that (all in
/// the layout's unit of `expires`).
pub fn within_touch_after(stored: f64, new: i64, touch_after: f64) -> bool {
    touch_after > 0.0 && (0.0..touch_after).contains(&(new as f64 - stored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn touch_after_window() {
        assert!(within_touch_after(1000.0, 1030, 60.0));
        assert!(!within_touch_after(1000.0, 1060, 60.0));
        assert!(
            !within_touch_after(1000.0, 990, 60.0),
            "a shorter expiry is always written"
        );
        assert!(!within_touch_after(1000.0, 1000, 0.0), "0 means always write");
    }

    #[test]
    fn remembers_content_and_expiry() {
        let recent = RecentSessions::default();
        recent.remember("k", Some(r#"{"cookie":{"a":1},"n":1}"#.into()), 500.0);
        assert_eq!(recent.unchanged("k", r#"{"cookie":{"a":2},"n":1}"#), Some(500.0));
        assert_eq!(recent.unchanged("k", r#"{"cookie":{"a":2},"n":2}"#), None);
        recent.refreshed("k", 600.0);
        assert_eq!(recent.expires("k"), Some(600.0));
        recent.forget("k");
        assert_eq!(recent.expires("k"), None);
        recent.remember("e", None, 1.0);
        assert_eq!(recent.unchanged("e", "{}"), None, "no content kept: never unchanged");
    }
}
