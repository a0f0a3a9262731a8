//! Wall-clock time in the unit the domain uses, and the engine's clock, which tests and drills
//! may move forward.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The engine's clock: the wall clock plus an offset that only grows. A server runs on the wall
/// clock; a test (or a drill at speed) moves it forward to see what time does — patrol intervals
/// running out, silent teams — without waiting.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        now_ms().saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `ms` (a negative `ms` is ignored: time does not go back).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms.max(0), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advancing_moves_every_copy_forward_and_never_back() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now_ms();
        clock.advance(3_600_000);
        clock.advance(-7_200_000);
        let after = copy.now_ms();
        assert!(after >= before + 3_600_000, "{before} → {after}");
        assert!(after < before + 3_700_000);
    }
}
