//! Bounds on every number a client can send, and the checks that enforce them.
//!
//! A number outside its bound, or a computation on client numbers whose result would leave its
//! bound (a delivery that pushes a stock past the maximum, a check-in past the largest
//! occupancy), refuses the command with `invalid_value`. The bounds keep every stored value finite
//! and every later computation on it free of overflow, so the log always replays. They are
//! documented in `docs/protocol.md` ("Bounds").

use super::error::DomainError;
use super::model::TimeMs;
use std::ops::RangeInclusive;

/// People in one record: head count, capacity, population, households, a check-in or evacuation
/// count, and a shelter's occupancy after a check-in.
pub const MAX_COUNT: u32 = 10_000_000;
/// A supply stock, a delivered or issued quantity, and a stock after a delivery.
pub const MAX_QUANTITY: f64 = 1e9;
/// A daily ration per person is 0 (not consumed) or in this range, so days of supply left stay
/// finite.
pub const DAILY_RATION: RangeInclusive<f64> = 0.001..=10_000.0;
/// Accuracy of a position fix, metres.
pub const MAX_ACCURACY_M: f64 = 100_000.0;
/// Water levels, thresholds and elevations, metres above the gauge's datum.
pub const LEVEL_M: RangeInclusive<f64> = -1_000.0..=10_000.0;
/// Chainage origin of a levee, metres (10,000 km).
pub const MAX_CHAINAGE_M: f64 = 10_000_000.0;
/// How far ahead of the server's clock a device's time may be. A fix or reading further in the
/// future is refused: it would make every real one after it look late.
pub const MAX_CLOCK_SKEW_MS: TimeMs = 120_000;
/// Earliest accepted device time (the Unix epoch).
pub const MIN_TIME_MS: TimeMs = 0;
/// Longest free-text field, bytes.
pub const MAX_TEXT: usize = 2_000;

pub(super) fn invalid(msg: impl Into<String>) -> DomainError {
    DomainError::Invalid(msg.into())
}

pub fn check_text(field: &str, s: &str) -> Result<(), DomainError> {
    if s.len() > MAX_TEXT {
        return Err(invalid(format!("{field} is longer than {MAX_TEXT} bytes")));
    }
    Ok(())
}

pub fn check_count(field: &str, n: u32) -> Result<(), DomainError> {
    if n > MAX_COUNT {
        return Err(invalid(format!("{field} {n} is above {MAX_COUNT}")));
    }
    Ok(())
}

/// `a + b` as a count: refused when it would exceed [`MAX_COUNT`].
pub fn add_counts(field: &str, a: u32, b: u32) -> Result<u32, DomainError> {
    a.checked_add(b)
        .filter(|n| *n <= MAX_COUNT)
        .ok_or_else(|| invalid(format!("{field} would exceed {MAX_COUNT}")))
}

fn check_range(field: &str, v: f64, range: &RangeInclusive<f64>) -> Result<(), DomainError> {
    if !v.is_finite() || !range.contains(&v) {
        return Err(invalid(format!(
            "{field} must be a number from {} to {}",
            range.start(),
            range.end()
        )));
    }
    Ok(())
}

pub fn check_quantity(field: &str, q: f64) -> Result<(), DomainError> {
    check_range(field, q, &(0.0..=MAX_QUANTITY))
}

/// `stock + delta` as a stock: refused when not finite or above [`MAX_QUANTITY`]. A negative
/// result is the caller's to judge (insufficient stock).
pub fn moved_stock(stock: f64, delta: f64) -> Result<f64, DomainError> {
    let s = stock + delta;
    if !s.is_finite() || s > MAX_QUANTITY {
        return Err(invalid(format!("the stock would exceed {MAX_QUANTITY}")));
    }
    Ok(s)
}

pub fn check_daily_ration(field: &str, r: f64) -> Result<(), DomainError> {
    if r == 0.0 {
        return Ok(());
    }
    check_range(field, r, &DAILY_RATION).map_err(|_| {
        invalid(format!(
            "{field} must be 0 or a number from {} to {}",
            DAILY_RATION.start(),
            DAILY_RATION.end()
        ))
    })
}

pub fn check_accuracy(field: &str, m: f64) -> Result<(), DomainError> {
    check_range(field, m, &(0.0..=MAX_ACCURACY_M))
}

pub fn check_level(field: &str, m: f64) -> Result<(), DomainError> {
    check_range(field, m, &LEVEL_M)
}

pub fn check_chainage(field: &str, m: f64) -> Result<(), DomainError> {
    check_range(field, m, &(0.0..=MAX_CHAINAGE_M))
}

/// A device's time: not before the epoch, not more than [`MAX_CLOCK_SKEW_MS`] after `now`.
pub fn check_device_time(field: &str, t: TimeMs, now: TimeMs) -> Result<(), DomainError> {
    if t < MIN_TIME_MS {
        return Err(invalid(format!("{field} {t} is before the Unix epoch")));
    }
    if t > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(invalid(format!(
            "{field} {t} is more than {} s ahead of the server's clock ({now}); check the device's clock",
            MAX_CLOCK_SKEW_MS / 1000
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_with_a_ceiling() {
        assert_eq!(add_counts("n", 3, 4), Ok(7));
        assert!(add_counts("n", MAX_COUNT, 1).is_err());
        assert!(add_counts("n", u32::MAX, u32::MAX).is_err());
    }

    #[test]
    fn stock_movements_stay_finite_and_bounded() {
        assert_eq!(moved_stock(10.0, -4.0), Ok(6.0));
        assert!(moved_stock(MAX_QUANTITY, 1.0).is_err());
        assert!(moved_stock(f64::MAX, f64::MAX).is_err());
        assert_eq!(
            moved_stock(1.0, -2.0),
            Ok(-1.0),
            "negative is the caller's call"
        );
    }

    #[test]
    fn quantities_levels_and_rations_have_ranges() {
        for bad in [
            f64::MAX,
            1.7e308,
            -1.0,
            f64::INFINITY,
            f64::NAN,
            MAX_QUANTITY * 2.0,
        ] {
            assert!(check_quantity("q", bad).is_err(), "{bad}");
        }
        assert!(check_quantity("q", 0.0).is_ok());
        assert!(check_quantity("q", f64::MIN_POSITIVE).is_ok());
        assert!(check_daily_ration("r", 0.0).is_ok());
        assert!(check_daily_ration("r", 5e-324).is_err(), "subnormal ration");
        assert!(check_daily_ration("r", 3.0).is_ok());
        assert!(check_level("l", 41.2).is_ok());
        assert!(check_level("l", -1e308).is_err());
        assert!(check_accuracy("a", 1e6).is_err());
        assert!(check_chainage("c", 12_300.0).is_ok());
        assert!(check_chainage("c", 1e300).is_err());
    }

    #[test]
    fn device_time_may_run_a_little_ahead_but_not_far() {
        let now = 1_700_000_000_000;
        assert!(check_device_time("t", now + MAX_CLOCK_SKEW_MS, now).is_ok());
        assert!(check_device_time("t", now + MAX_CLOCK_SKEW_MS + 1, now).is_err());
        assert!(check_device_time("t", 9_000_000_000_000_000, now).is_err());
        assert!(check_device_time("t", -1, now).is_err());
        assert!(check_device_time("t", i64::MAX, i64::MAX).is_ok());
    }
}
