//! The server-wide budget for resume catch-up: how many logged events per second all
//! connections together may be sent from the log. A resume that the budget cannot cover gets a
//! fresh snapshot instead (`reason: "resume_unavailable"`), whose cost is bounded by the size of
//! the state, not the length of the history — so one cheap request cannot make the server read
//! and decode tens of thousands of events while every other client waits.

use std::sync::Mutex;
use std::time::Instant;

pub struct CatchupBudget {
    per_second: f64,
    burst: f64,
    bucket: Mutex<(f64, Instant)>,
}

impl CatchupBudget {
    /// A budget refilled at `per_second` events per second, holding at most `burst`.
    pub fn new(per_second: f64, burst: f64) -> CatchupBudget {
        CatchupBudget {
            per_second,
            burst,
            bucket: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes `events` from the budget; false (and nothing taken) when it holds fewer.
    pub fn try_take(&self, events: u64) -> bool {
        let mut b = self.bucket.lock().expect("not poisoned");
        let now = Instant::now();
        let refill = now.duration_since(b.1).as_secs_f64() * self.per_second;
        b.0 = (b.0 + refill).min(self.burst);
        b.1 = now;
        let events = events as f64;
        if b.0 >= events {
            b.0 -= events;
            true
        } else {
            false
        }
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
        assert!(b.try_take(0), "an empty catch-up costs nothing");
    }
}
