//! The server-wide budget for resume catch-up: how many logged events per second all
//! connections together may be sent from the log. A resume that the budget cannot cover gets a
//! fresh snapshot instead (`reason: "resume_unavailable"`), whose cost is bounded by the size of
//! the state, not the length of the history — so one cheap request cannot make the server read
//! and decode tens of thousands of events while every other client waits.

use super::rate_limits::quota;
use governor::DefaultDirectRateLimiter;
use std::num::NonZeroU32;

pub struct CatchupBudget(DefaultDirectRateLimiter);

impl CatchupBudget {
    /// A budget refilled at `per_second` events per second, holding at most `burst`.
    pub fn new(per_second: f64, burst: f64) -> CatchupBudget {
        CatchupBudget(DefaultDirectRateLimiter::direct(quota(per_second, burst)))
    }

    /// Takes `events` from the budget at once; false (and nothing taken) when it holds fewer, or
    /// when `events` is more than it can ever hold (such a resume never fits).
    pub fn try_take(&self, events: u64) -> bool {
        let Ok(events) = u32::try_from(events) else {
            return false;
        };
        let Some(events) = NonZeroU32::new(events) else {
            return true;
        };
        // `Err(InsufficientCapacity)`: more than the burst; `Ok(Err(_))`: not yet.
        matches!(self.0.check_n(events), Ok(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_what_it_holds_and_no_more() {
        let b = CatchupBudget::new(0.0, 100.0);
        assert!(b.try_take(60));
        assert!(!b.try_take(41), "only 40 left");
        assert!(b.try_take(40));
        assert!(!b.try_take(1));
        assert!(b.try_take(0), "taking nothing always works");
    }

    #[test]
    fn more_than_the_burst_never_fits() {
        let b = CatchupBudget::new(1e9, 100.0);
        assert!(!b.try_take(101));
        assert!(!b.try_take(u64::from(u32::MAX) + 1));
        assert!(b.try_take(100), "and took nothing");
    }
}
