//! What this process last read or wrote for each session, kept briefly, as a
//! layer in front of the session calls: a save or touch in the same request
//! can then tell, without a read, whether the session changed and when its
//! expiry was last refreshed, and skip the write (`skipUnchangedWrites`,
//! `touchAfter`).
//!
//! Skipping on this basis never drops a change the caller made: a save is
//! skipped only when its content equals what this process last saw stored,
//! so whatever another process wrote since is left as it is.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::codec;
use crate::error::StoreResult;
use crate::expiry::within_touch_after;
use crate::layout::End;
use crate::stats::Stats;

/// Longer than any request (an entry serves the save or touch that ends the
/// request that read it); older entries are ignored.
const FRESH: Duration = Duration::from_secs(60);
/// Session JSON kept at most, over all entries, before starting afresh:
/// small enough for a 128 MB Lambda. Losing entries only costs skipped skips.
const MAX_BYTES: usize = 16 << 20;

/// A session as read, with its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub sess: String,
    pub end: Option<End>,
    /// With `versioning`: the version read (0 for an item written without).
    pub version: Option<f64>,
}

/// What a save did.
#[derive(Debug, PartialEq)]
pub enum Written {
    /// Written; with `versioning`, the new version.
    Saved(Option<f64>),
    /// A tombstone refused it: the session was destroyed meanwhile.
    Refused,
    /// Its content was what is stored: it became a touch, or nothing.
    Unchanged,
    /// Its content was what this process last saw stored, but the session
    /// is gone (destroyed or expired since): it is not recreated.
    Gone,
    /// The session outlived `absoluteTimeout`: nothing was written.
    Ended,
    /// A touch moved the end to this (epoch ms).
    Touched(i64),
}

/// The session calls the layer stands in front of, by table key (and sid,
/// for the calls that also look under the sid in an older layout).
pub trait SessionCalls {
    /// What else a save carries to the table (the layer passes it on unread).
    type Extra: Sync;

    fn read(&self, sid: &str, key: &str) -> impl Future<Output = StoreResult<Option<Read>>> + Send;
    /// `expires`: the session's end (epoch ms); `read_version` with `versioning`.
    fn write(
        &self,
        key: &str,
        sess: String,
        expires: i64,
        read_version: Option<f64>,
        extra: &Self::Extra,
    ) -> impl Future<Output = StoreResult<Written>> + Send;
    /// Moves a live session's end; the end stored (at most `expires`, epoch
    /// ms), or None when there is no live session.
    fn refresh(&self, key: &str, expires: i64) -> impl Future<Output = StoreResult<Option<i64>>> + Send;
    fn remove(&self, sid: &str, key: &str) -> impl Future<Output = StoreResult<()>> + Send;
}

/// When the layer skips writes.
#[derive(Clone, Copy)]
pub struct Rules {
    /// `touchAfter`, in ms; 0: never skip a touch.
    pub touch_after: f64,
    /// `skipUnchangedWrites`: keep what was read, to tell unchanged saves.
    pub keep_content: bool,
}

impl Rules {
    fn remembers(&self) -> bool {
        self.keep_content || self.touch_after > 0.0
    }
}

/// The session calls `calls` with this process's memory `memo` in front of them.
pub struct Remembering<'a, S> {
    pub calls: &'a S,
    pub memo: &'a RecentSessions,
    pub rules: Rules,
    pub stats: &'a Stats,
}

impl<S: SessionCalls + Sync> Remembering<'_, S> {
    pub async fn get(&self, sid: &str, key: &str) -> StoreResult<Option<Read>> {
        let read = self.calls.read(sid, key).await?;
        match &read {
            Some(Read {
                sess, end: Some(end), ..
            }) if self.rules.remembers() => {
                let kept = self.rules.keep_content.then(|| sess.clone());
                self.memo.remember(key, kept, end.ms);
            }
            Some(_) => {}
            None => self.memo.forget(key),
        }
        Ok(read)
    }

    /// A save whose content equals what is stored is a touch, or nothing
    /// within `touchAfter`; a session destroyed meanwhile stays destroyed.
    pub async fn set(
        &self,
        key: &str,
        sess: String,
        expires: i64,
        read_version: Option<f64>,
        extra: &S::Extra,
    ) -> StoreResult<Written> {
        if self.rules.keep_content {
            if let Some(stored) = self.memo.unchanged(key, &sess) {
                if within_touch_after(stored, expires, self.rules.touch_after) {
                    Stats::count(&self.stats.skipped_writes);
                } else {
                    Stats::count(&self.stats.downgraded_sets);
                    if self.refresh(key, expires).await?.is_none() {
                        return Ok(Written::Gone);
                    }
                }
                return Ok(Written::Unchanged);
            }
        }
        let kept = self.rules.keep_content.then(|| sess.clone());
        let written = self.calls.write(key, sess, expires, read_version, extra).await?;
        match written {
            Written::Saved(_) if self.rules.remembers() => self.memo.remember(key, kept, expires as f64),
            Written::Saved(_) | Written::Unchanged | Written::Touched(_) => {}
            Written::Refused | Written::Gone | Written::Ended => self.memo.forget(key),
        }
        Ok(written)
    }

    /// The stored expiry after the touch (in the layout's unit), or None when
    /// there is no live session. Within `touchAfter` of the last refresh this
    /// process saw, it writes nothing and returns the stored expiry.
    pub async fn touch(&self, key: &str, expires: i64) -> StoreResult<Option<f64>> {
        if let Some(stored) = self.memo.expires(key) {
            if within_touch_after(stored, expires, self.rules.touch_after) {
                Stats::count(&self.stats.skipped_writes);
                return Ok(Some(stored));
            }
        }
        Ok(self.refresh(key, expires).await?.map(|stored| stored as f64))
    }

    async fn refresh(&self, key: &str, expires: i64) -> StoreResult<Option<i64>> {
        let refreshed = self.calls.refresh(key, expires).await?;
        match refreshed {
            Some(stored) => self.memo.refreshed(key, stored as f64),
            None => self.memo.forget(key),
        }
        Ok(refreshed)
    }

    pub async fn destroy(&self, sid: &str, key: &str) -> StoreResult<()> {
        self.memo.forget(key);
        self.calls.remove(sid, key).await
    }
}

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
    fn remember(&self, key: &str, sess: Option<String>, expires: f64) {
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

    fn refreshed(&self, key: &str, expires: f64) {
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
    fn expires(&self, key: &str) -> Option<f64> {
        let guard = self.entries.lock().ok()?;
        guard.0.get(key).filter(|r| r.at.elapsed() < FRESH).map(|r| r.expires)
    }

    /// The stored expiry, when the stored session recently seen holds the
    /// same data as `sess` (apart from the cookie).
    fn unchanged(&self, key: &str, sess: &str) -> Option<f64> {
        let guard = self.entries.lock().ok()?;
        let recent = guard.0.get(key).filter(|r| r.at.elapsed() < FRESH)?;
        let stored = recent.sess.as_deref()?;
        codec::same_content(stored, sess).then_some(recent.expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Session calls against a map, counting what reaches them.
    #[derive(Default)]
    struct Calls {
        stored: Mutex<HashMap<String, (String, i64)>>,
        reads: AtomicU32,
        writes: AtomicU32,
        refreshes: AtomicU32,
    }

    impl SessionCalls for Calls {
        type Extra = ();

        async fn read(&self, _sid: &str, key: &str) -> StoreResult<Option<Read>> {
            self.reads.fetch_add(1, Ordering::SeqCst);
            Ok(self.stored.lock().unwrap().get(key).map(|(sess, expires)| Read {
                sess: sess.clone(),
                end: Some(End {
                    ms: *expires as f64,
                    exact: true,
                }),
                version: None,
            }))
        }

        async fn write(
            &self,
            key: &str,
            sess: String,
            expires: i64,
            _read: Option<f64>,
            _: &(),
        ) -> StoreResult<Written> {
            self.writes.fetch_add(1, Ordering::SeqCst);
            self.stored.lock().unwrap().insert(key.into(), (sess, expires));
            Ok(Written::Saved(None))
        }

        async fn refresh(&self, key: &str, expires: i64) -> StoreResult<Option<i64>> {
            self.refreshes.fetch_add(1, Ordering::SeqCst);
            let mut stored = self.stored.lock().unwrap();
            Ok(stored.get_mut(key).map(|entry| {
                entry.1 = expires;
                expires
            }))
        }

        async fn remove(&self, _sid: &str, key: &str) -> StoreResult<()> {
            self.stored.lock().unwrap().remove(key);
            Ok(())
        }
    }

    fn run<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(future)
    }

    /// The layer over mock calls, with its memory and counters.
    #[derive(Default)]
    struct Fixture {
        calls: Calls,
        memo: RecentSessions,
        stats: Stats,
    }

    impl Fixture {
        fn layer(&self, touch_after: f64, keep_content: bool) -> Remembering<'_, Calls> {
            Remembering {
                calls: &self.calls,
                memo: &self.memo,
                rules: Rules {
                    touch_after,
                    keep_content,
                },
                stats: &self.stats,
            }
        }
    }

    const SESS: &str = r#"{"cookie":{"a":1},"n":1}"#;

    #[test]
    fn an_unchanged_save_is_a_touch_or_nothing_within_touch_after() {
        let fixture = Fixture::default();
        let (calls, stats) = (&fixture.calls, &fixture.stats);
        let sessions = fixture.layer(60.0, true);
        run(async {
            sessions.set("k", SESS.into(), 1000, None, &()).await.unwrap();
            assert!(sessions.get("s", "k").await.unwrap().is_some());
            let same_but_cookie = r#"{"cookie":{"a":2},"n":1}"#.to_string();
            assert_eq!(
                sessions
                    .set("k", same_but_cookie.clone(), 1030, None, &())
                    .await
                    .unwrap(),
                Written::Unchanged
            );
            assert_eq!(
                calls.writes.load(Ordering::SeqCst),
                1,
                "within touchAfter: nothing sent"
            );
            assert_eq!(
                sessions.set("k", same_but_cookie, 1100, None, &()).await.unwrap(),
                Written::Unchanged
            );
            assert_eq!(
                calls.refreshes.load(Ordering::SeqCst),
                1,
                "past touchAfter: a touch, not a save"
            );
            assert_eq!(calls.stored.lock().unwrap()["k"].1, 1100);
            let changed = r#"{"cookie":{},"n":2}"#.to_string();
            assert_eq!(
                sessions.set("k", changed, 1100, None, &()).await.unwrap(),
                Written::Saved(None)
            );
            assert_eq!(calls.writes.load(Ordering::SeqCst), 2);
        });
        assert_eq!(
            (Stats::load(&stats.skipped_writes), Stats::load(&stats.downgraded_sets)),
            (1.0, 1.0)
        );
    }

    #[test]
    fn touches_within_touch_after_send_nothing_and_a_missing_session_is_forgotten() {
        let fixture = Fixture::default();
        let calls = &fixture.calls;
        let sessions = fixture.layer(60.0, false);
        run(async {
            sessions.set("k", SESS.into(), 1000, None, &()).await.unwrap();
            assert_eq!(sessions.touch("k", 1030).await.unwrap(), Some(1000.0));
            assert_eq!(calls.refreshes.load(Ordering::SeqCst), 0);
            assert_eq!(sessions.touch("k", 1070).await.unwrap(), Some(1070.0));
            assert_eq!(
                sessions.touch("k", 1075).await.unwrap(),
                Some(1070.0),
                "refreshed at 1070"
            );
            assert_eq!(
                sessions.touch("k", 990).await.unwrap(),
                Some(990.0),
                "a shorter expiry is written"
            );
            sessions.destroy("s", "k").await.unwrap();
            assert_eq!(sessions.touch("k", 1000).await.unwrap(), None);
            assert_eq!(
                sessions.touch("k", 1001).await.unwrap(),
                None,
                "nothing remembered: asked again"
            );
            assert_eq!(calls.refreshes.load(Ordering::SeqCst), 4);
            assert_eq!(
                sessions.set("k", SESS.into(), 1000, None, &()).await.unwrap(),
                Written::Saved(None)
            );
        });
    }

    #[test]
    fn without_either_option_every_call_reaches_the_table() {
        let fixture = Fixture::default();
        let (calls, stats) = (&fixture.calls, &fixture.stats);
        let sessions = fixture.layer(0.0, false);
        run(async {
            sessions.set("k", SESS.into(), 1000, None, &()).await.unwrap();
            sessions.get("s", "k").await.unwrap();
            sessions.set("k", SESS.into(), 1000, None, &()).await.unwrap();
            sessions.touch("k", 1000).await.unwrap();
        });
        assert_eq!(calls.writes.load(Ordering::SeqCst), 2);
        assert_eq!(calls.refreshes.load(Ordering::SeqCst), 1);
        assert_eq!(Stats::load(&stats.skipped_writes), 0.0);
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
