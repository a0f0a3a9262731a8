//! Bounds on every number a client can send, and the checks on them that depend on the state.
//!
//! A value outside its bound is refused when the command is deserialized: the types of
//! [`super::values`] hold only values within these bounds. A computation on client numbers whose
//! result would leave its bound (a delivery that pushes a stock past the maximum, a check-in past
//! the largest occupancy), or a device time too far ahead of the server's clock, is refused by the
//! decider with the checks below. Either way the answer is `invalid_value`. The bounds keep every stored value finite
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
/// Longest supply item name, bytes (an item name is never empty).
pub const MAX_ITEM: usize = 64;
/// Widest buffer around a protected asset, metres.
pub const MAX_BUFFER_M: f64 = 5_000.0;
/// Longest patrol interval a dispatcher may set, minutes (a day).
pub const MAX_INTERVAL_MIN: u32 = 1_440;
/// How far ahead a patrol shift may start, milliseconds (a week).
pub const MAX_SHIFT_AHEAD_MS: i64 = 7 * 24 * 3_600_000;
/// Longest patrol shift, milliseconds (a day).
pub const MAX_SHIFT_MS: i64 = 24 * 3_600_000;
/// Most patrol points in one section.
pub const MAX_PATROL_POINTS: usize = 64;
/// Most results a nearest query may ask for (`limit`).
pub const MAX_QUERY_LIMIT: u32 = 100;
/// Largest snapping tolerance of a `snap_to_levee` query, metres.
pub const MAX_SNAP_TOLERANCE_M: f64 = 5_000.0;
/// Flood materials: a depot's stock or low-stock level of an item, a quantity issued, consumed,
/// returned or requested, and a stock after a restock or a return (whole units of the item).
pub const MAX_MATERIAL: u32 = 1_000_000_000;
/// How far ahead of the server's clock a forecast peak may be expected, milliseconds (30 days).
pub const MAX_FORECAST_AHEAD_MS: i64 = 30 * 24 * 3_600_000;

/// A value the domain refuses: the message in English and in Chinese, with the same numbers.
pub(super) fn invalid(en: impl Into<String>, zh: impl Into<String>) -> DomainError {
    DomainError::Invalid(super::error::Bilingual::new(en, zh))
}

/// `a + b` as a count: refused when it would exceed [`MAX_COUNT`].
pub fn add_counts(field: &str, a: u32, b: u32) -> Result<u32, DomainError> {
    a.checked_add(b).filter(|n| *n <= MAX_COUNT).ok_or_else(|| {
        invalid(
            format!("{field} would exceed {MAX_COUNT}"),
            format!("{field}将超过{MAX_COUNT}"),
        )
    })
}

/// `stock + delta` as a stock: refused when not finite or above [`MAX_QUANTITY`]. A negative
/// result is the caller's to judge (insufficient stock).
pub fn moved_stock(stock: f64, delta: f64) -> Result<f64, DomainError> {
    let s = stock + delta;
    if !s.is_finite() || s > MAX_QUANTITY {
        return Err(invalid(
            format!("the stock would exceed {MAX_QUANTITY}"),
            format!("库存将超过{MAX_QUANTITY}"),
        ));
    }
    Ok(s)
}

/// A device's time: not before the epoch, not more than [`MAX_CLOCK_SKEW_MS`] after `now`.
pub fn check_device_time(field: &str, t: TimeMs, now: TimeMs) -> Result<(), DomainError> {
    if t < MIN_TIME_MS {
        return Err(invalid(
            format!("{field} {t} is before the Unix epoch"),
            format!("{field} {t}早于Unix纪元"),
        ));
    }
    if t > now.saturating_add(MAX_CLOCK_SKEW_MS) {
        return Err(invalid(
            format!(
                "{field} {t} is more than {} s ahead of the server's clock ({now}); check the device's clock",
                MAX_CLOCK_SKEW_MS / 1000
            ),
            format!(
                "{field} {t}比服务器时钟（{now}）快{}秒以上；请检查设备时钟",
                MAX_CLOCK_SKEW_MS / 1000
            ),
        ));
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
    fn device_time_may_run_a_little_ahead_but_not_far() {
        let now = 1_700_000_000_000;
        assert!(check_device_time("t", now + MAX_CLOCK_SKEW_MS, now).is_ok());
        assert!(check_device_time("t", now + MAX_CLOCK_SKEW_MS + 1, now).is_err());
        assert!(check_device_time("t", 9_000_000_000_000_000, now).is_err());
        assert!(check_device_time("t", -1, now).is_err());
        assert!(check_device_time("t", i64::MAX, i64::MAX).is_ok());
    }
}
