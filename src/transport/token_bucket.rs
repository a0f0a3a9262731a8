//! A token bucket: the rate limit of a connection's messages and of the server's resume budget.

use std::time::Instant;

#[derive(Debug)]
pub struct TokenBucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket refilled at `per_second` tokens per second, holding at most `burst`.
    pub fn new(per_second: f64, burst: f64) -> TokenBucket {
        TokenBucket {
            per_second,
            burst,
            tokens: burst,
            last: Instant::now(),
        }
    }

    /// Takes `n` tokens; false (and nothing taken) when the bucket holds fewer.
    pub fn try_take(&mut self, n: f64) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.per_second;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= n {
            self.tokens -= n;
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
        let mut b = TokenBucket::new(0.0, 100.0);
        assert!(b.try_take(60.0));
        assert!(!b.try_take(41.0), "only 40 left");
        assert!(b.try_take(40.0));
        assert!(!b.try_take(1.0));
        assert!(b.try_take(0.0), "taking nothing always works");
    }
}
