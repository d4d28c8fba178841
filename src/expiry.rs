//! When a session expires, in one place: the rule a save or touch uses to
//! pick its end (an instant in epoch ms, to the millisecond), the rule
//! `touchAfter` uses to skip a refresh, and the rule every read uses to call
//! an item expired (`Layout::has_ended`, which knows each layout's
//! attributes). The shim only reads the cookie's fields and, on a read,
//! brings the stored cookie's `expires` to the item's end (index.js
//! `foundSession`), because a touch moves only the item's.

/// The cookie's absolute expiry and maxAge, and the `ttl` function's answer
/// (all ms), as the shim read them from the session.
#[derive(Clone, Copy, Default)]
pub struct CookieTimes {
    pub expires_ms: Option<f64>,
    pub max_age_ms: Option<f64>,
    pub ttl_ms: Option<f64>,
}

/// When a session saved or touched at `now_ms` expires, in epoch ms: the
/// cookie's absolute expiry when it has one, else now + its maxAge, else now
/// + the `ttl` function's answer, else now + `default_ttl_ms` (the `ttl`
///   option).
pub fn expiry_ms(now_ms: f64, times: CookieTimes, default_ttl_ms: f64) -> f64 {
    let finite = |n: Option<f64>| n.filter(|n| n.is_finite());
    let ttl_ms = times
        .ttl_ms
        .filter(|ms| ms.is_finite() && *ms > 0.0)
        .unwrap_or(default_ttl_ms);
    match (finite(times.expires_ms), finite(times.max_age_ms)) {
        (Some(expires), _) => expires,
        (None, Some(max_age)) => now_ms + max_age,
        (None, None) => now_ms + ttl_ms,
    }
}

/// The end of a session saved or touched at `now_ms`, in whole epoch ms
/// (rounded up), as every layout stores it.
pub fn end_ms(now_ms: f64, times: CookieTimes, default_ttl_ms: f64) -> i64 {
    expiry_ms(now_ms, times, default_ttl_ms).ceil() as i64
}

/// True when the stored end was refreshed less than `touch_after` ago:
/// moving it from `stored` to `new` would move it by less than that (all in
/// ms). A shorter end is always written.
pub fn within_touch_after(stored: f64, new: i64, touch_after: f64) -> bool {
    touch_after > 0.0 && (0.0..touch_after).contains(&(new as f64 - stored))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::ONE_DAY_MS;

    const NOW: f64 = 1_700_000_000_500.0;

    fn end(expires_ms: Option<f64>, max_age_ms: Option<f64>, ttl_ms: Option<f64>, default: f64) -> i64 {
        let times = CookieTimes {
            expires_ms,
            max_age_ms,
            ttl_ms,
        };
        end_ms(NOW, times, default)
    }

    #[test]
    fn expiry_prefers_absolute_cookie_expiry_to_the_millisecond() {
        assert_eq!(
            end(Some(1_700_000_100_000.0), Some(5_000.0), None, ONE_DAY_MS),
            1_700_000_100_000
        );
        assert_eq!(
            end(Some(1_700_000_100_001.0), None, None, ONE_DAY_MS),
            1_700_000_100_001
        );
        assert_eq!(
            end(Some(1_700_000_100_000.2), None, None, ONE_DAY_MS),
            1_700_000_100_001
        );
    }

    #[test]
    fn expiry_falls_back_to_max_age_then_the_ttl_function_then_the_ttl_option() {
        assert_eq!(end(None, Some(5.0), None, ONE_DAY_MS), 1_700_000_000_505);
        assert_eq!(end(Some(f64::NAN), None, None, ONE_DAY_MS), 1_700_086_400_500);
        assert_eq!(end(None, None, Some(3_600_000.0), ONE_DAY_MS), 1_700_003_600_500);
        assert_eq!(end(None, None, Some(-1.0), ONE_DAY_MS), 1_700_086_400_500);
        assert_eq!(end(None, None, None, 3_600_000.0), 1_700_003_600_500);
    }

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
}
