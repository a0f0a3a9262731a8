//! Message rate limits kept per token, so a client that reconnects does not get a fresh burst.
//! A connection that has not authenticated has a bucket of its own.

use super::token_bucket::TokenBucket;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub type SharedBucket = Arc<Mutex<TokenBucket>>;

pub struct RateLimits {
    per_second: f64,
    burst: f64,
    /// One bucket per token id. Bounded by the number of tokens ever issued and used.
    by_token: Mutex<HashMap<String, SharedBucket>>,
}

impl RateLimits {
    pub fn new(per_second: f64, burst: f64) -> RateLimits {
        RateLimits {
            per_second,
            burst,
            by_token: Mutex::new(HashMap::new()),
        }
    }

    /// A bucket for a connection that has not authenticated yet.
    pub fn anonymous(&self) -> SharedBucket {
        Arc::new(Mutex::new(TokenBucket::new(self.per_second, self.burst)))
    }

    /// The bucket of a token, shared by every connection that uses it, now and later.
    pub fn for_token(&self, token_id: &str) -> SharedBucket {
        let mut map = self.by_token.lock().expect("not poisoned");
        map.entry(token_id.to_string())
            .or_insert_with(|| self.anonymous())
            .clone()
    }
}

/// Takes one message's token from a shared bucket.
pub fn take_one(bucket: &SharedBucket) -> bool {
    bucket.lock().expect("not poisoned").try_take(1.0)
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
}
