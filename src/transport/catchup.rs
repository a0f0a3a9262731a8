//! The server-wide budget for resume catch-up: how many logged events per second all
//! connections together may be sent from the log. A resume that the budget cannot cover gets a
//! fresh snapshot instead (`reason: "resume_unavailable"`), whose cost is bounded by the size of
//! the state, not the length of the history — so one cheap request cannot make the server read
//! and decode tens of thousands of events while every other client waits.

use super::token_bucket::TokenBucket;
use std::sync::Mutex;

pub struct CatchupBudget(Mutex<TokenBucket>);

impl CatchupBudget {
    /// A budget refilled at `per_second` events per second, holding at most `burst`.
    pub fn new(per_second: f64, burst: f64) -> CatchupBudget {
        CatchupBudget(Mutex::new(TokenBucket::new(per_second, burst)))
    }

    /// Takes `events` from the budget; false (and nothing taken) when it holds fewer.
    pub fn try_take(&self, events: u64) -> bool {
        self.0.lock().expect("not poisoned").try_take(events as f64)
    }
}
