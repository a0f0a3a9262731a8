//! Message rate limits kept per token, so a client that reconnects does not get a fresh burst.
//! A connection that has not authenticated has a limiter of its own.
//!
//! The limiters are `governor`'s (GCRA): `burst` messages at once, then one more every
//! `1 / per_second` seconds — the same budget as a token bucket holding `burst` tokens and
//! refilled at `per_second`.

use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Every this many token lookups, the per-token store drops the tokens whose budget is full again.
const PRUNE_EVERY: u64 = 64;

/// One limiter state per token id, shared by every connection of the token, now and later.
type ByToken = DefaultKeyedRateLimiter<String>;

pub struct RateLimits {
    quota: Quota,
    /// Holds at most one entry per token ever used; see [`RateLimits::for_token`] for how it
    /// shrinks again.
    by_token: Arc<ByToken>,
    lookups: AtomicU64,
}

/// The limit a connection's messages are checked against: its token's, shared with every
/// connection of that token, or (before authentication) one of its own.
pub enum SharedBucket {
    Anonymous(DefaultDirectRateLimiter),
    Token {
        limiter: Arc<ByToken>,
        token_id: String,
    },
}

impl RateLimits {
    pub fn new(per_second: f64, burst: f64) -> RateLimits {
        let quota = quota(per_second, burst);
        RateLimits {
            quota,
            by_token: Arc::new(ByToken::keyed(quota)),
            lookups: AtomicU64::new(0),
        }
    }

    /// A limiter for a connection that has not authenticated yet.
    pub fn anonymous(&self) -> SharedBucket {
        SharedBucket::Anonymous(DefaultDirectRateLimiter::direct(self.quota))
    }

    /// The limit of a token, shared by every connection that uses it, now and later.
    ///
    /// The store keeps an entry per token that has sent a message, so its size is bounded by the
    /// tokens ever used. Every [`PRUNE_EVERY`]th lookup drops the entries whose budget has filled
    /// up again (such an entry limits exactly as no entry does, so nothing is reset): between
    /// prunes it holds about the tokens active in the last few seconds. The prune walks the
    /// store once under its lock, which at one in 64 authentications costs next to nothing.
    pub fn for_token(&self, token_id: &str) -> SharedBucket {
        if self.lookups.fetch_add(1, Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.by_token.retain_recent();
        }
        SharedBucket::Token {
            limiter: self.by_token.clone(),
            token_id: token_id.to_string(),
        }
    }
}

/// Takes one message's worth from a connection's limit; false when it is spent.
pub fn take_one(bucket: &SharedBucket) -> bool {
    match bucket {
        SharedBucket::Anonymous(limiter) => limiter.check().is_ok(),
        SharedBucket::Token { limiter, token_id } => limiter.check_key(token_id).is_ok(),
    }
}

/// A `governor` quota of `per_second` sustained and `burst` at once.
///
/// `governor` needs a whole burst of at least one and a period between 1 ns and what its
/// nanosecond arithmetic holds, so `burst` is rounded down to at least 1, and the period
/// (`1 / per_second`) is at most the longest for which a whole burst spans under a quarter of
/// `u64` nanoseconds (about 146 years): a rate of 0 (or a negative or NaN one) refills once in
/// decades, that is never.
pub(super) fn quota(per_second: f64, burst: f64) -> Quota {
    let burst =
        NonZeroU32::new(burst.clamp(1.0, u32::MAX as f64) as u32).unwrap_or(NonZeroU32::MIN);
    let longest = Duration::from_nanos(u64::MAX / 4 / u64::from(burst.get()));
    let period = if per_second > 0.0 {
        Duration::try_from_secs_f64(1.0 / per_second).map_or(longest, |p| p.min(longest))
    } else {
        longest
    };
    Quota::with_period(period.max(Duration::from_nanos(1)))
        .expect("the period is at least 1 ns")
        .allow_burst(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_keeps_its_bucket_across_connections() {
        let limits = RateLimits::new(0.0, 3.0);
        let first = limits.for_token("tk_1");
        assert!(take_one(&first) && take_one(&first));
        let reconnected = limits.for_token("tk_1");
        assert!(take_one(&reconnected));
        assert!(
            !take_one(&reconnected),
            "the burst was spent before reconnecting"
        );
        assert!(
            take_one(&limits.for_token("tk_2")),
            "another token has its own"
        );
    }

    #[test]
    fn pruning_drops_full_budgets_and_resets_no_spent_one() {
        // 100 a second: an entry that took one message is full again after 10 ms; a spent
        // burst of 1,000 takes 10 s.
        let limits = RateLimits::new(100.0, 1000.0);
        let spent = limits.for_token("tk_1");
        while take_one(&spent) {}
        for i in 0..10 {
            assert!(take_one(&limits.for_token(&format!("other_{i}"))));
        }
        assert_eq!(limits.by_token.len(), 11);
        std::thread::sleep(Duration::from_millis(30));
        for _ in 0..PRUNE_EVERY {
            let _ = limits.for_token("nobody");
        }
        assert_eq!(limits.by_token.len(), 1, "only the spent token is kept");
        let again = limits.for_token("tk_1");
        let passed = (0..1000).take_while(|_| take_one(&again)).count();
        assert!(
            passed < 100,
            "still (nearly) spent, not reset: {passed} passed"
        );
    }

    #[test]
    fn anonymous_connections_have_their_own() {
        let limits = RateLimits::new(0.0, 1.0);
        let (a, b) = (limits.anonymous(), limits.anonymous());
        assert!(take_one(&a) && !take_one(&a));
        assert!(take_one(&b), "another connection's is untouched");
        assert!(take_one(&limits.for_token("tk_1")), "and so is a token's");
    }

    #[test]
    fn refills_at_the_rate() {
        let limits = RateLimits::new(1000.0, 1.0);
        let b = limits.for_token("tk_1");
        assert!(take_one(&b));
        assert!(!take_one(&b));
        std::thread::sleep(Duration::from_millis(5));
        assert!(take_one(&b), "one more after a millisecond");
    }

    #[test]
    fn any_configuration_makes_a_quota() {
        for per_second in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-300, 0.5, 50.0, 1e12] {
            for burst in [0.0, 0.5, -3.0, f64::NAN, f64::INFINITY, 1.0, 200.0, 1e12] {
                let q = quota(per_second, burst);
                let limits = RateLimits::new(per_second, burst);
                assert!(take_one(&limits.anonymous()), "{per_second} {burst}: {q:?}");
            }
        }
        assert_eq!(quota(50.0, 200.0).burst_size().get(), 200);
        assert_eq!(
            quota(50.0, 200.0).replenish_interval(),
            Duration::from_millis(20)
        );
    }
}
