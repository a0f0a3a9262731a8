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

/// A civil date and time: year, month, day, hour, minute, second.
pub type Civil = (i64, u32, u32, u32, u32, u32);

/// Milliseconds since the Unix epoch as a civil date and time at `offset_h` hours east of UTC
/// (0 for UTC, 8 for Beijing time).
pub fn civil(ms: i64, offset_h: i64) -> Civil {
    let secs = ms.div_euclid(1000).saturating_add(offset_h * 3_600);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month as u32,
        day as u32,
        (rem / 3600) as u32,
        (rem % 3600 / 60) as u32,
        (rem % 60) as u32,
    )
}

/// The inverse of [`civil`] at UTC: milliseconds since the Unix epoch of a civil date and time.
pub fn from_civil((year, month, day, h, m, s): Civil) -> i64 {
    let (y, month, day) = (
        year - i64::from(month <= 2),
        i64::from(month),
        i64::from(day),
    );
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + i64::from(h) * 3_600 + i64::from(m) * 60 + i64::from(s)) * 1000
}

/// Parses an RFC 3339 date-time (`2026-07-15T08:00:00+08:00`, `2026-07-15T00:00:00Z`, a
/// fraction of a second allowed, `t`/space for `T`, `z` for `Z`) into milliseconds since the
/// Unix epoch.
pub fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not an RFC 3339 time such as 2026-07-15T08:00:00+08:00 or 2026-07-15T00:00:00Z"
        )
    };
    let b = text.as_bytes();
    if b.len() < 20 || !text.is_ascii() {
        return Err(bad());
    }
    let num = |from: usize, to: usize| -> Result<u32, String> {
        let s = &text[from..to];
        if s.bytes().all(|c| c.is_ascii_digit()) {
            s.parse().map_err(|_| bad())
        } else {
            Err(bad())
        }
    };
    let seps = [(4, b'-'), (7, b'-'), (13, b':'), (16, b':')];
    if seps.iter().any(|&(i, c)| b[i] != c) || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let (year, month, day) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, m, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut i = 19;
    let mut ms = 0u32;
    if b[i] == b'.' {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(bad());
        }
        let frac = &text[start..i.min(start + 3)];
        ms = format!("{frac:0<3}").parse().map_err(|_| bad())?;
    }
    let offset_min: i64 = match &text[i..] {
        "Z" | "z" => 0,
        zone if zone.len() == 6
            && matches!(zone.as_bytes()[0], b'+' | b'-')
            && zone.as_bytes()[3] == b':' =>
        {
            let (oh, om) = (num(i + 1, i + 3)?, num(i + 4, i + 6)?);
            if oh > 23 || om > 59 {
                return Err(bad());
            }
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            sign * i64::from(oh * 60 + om)
        }
        _ => return Err(bad()),
    };
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if day == 0 || day > days_in_month || h > 23 || m > 59 || s > 60 {
        return Err(bad());
    }
    let local = from_civil((i64::from(year), month, day, h, m, s.min(59)));
    Ok(local - offset_min * 60_000 + i64::from(ms))
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
    fn civil_dates_round_trip() {
        for ms in [
            0,
            951_782_400_000,
            1_700_000_000_000,
            4_107_542_399_000,
            -86_400_000,
        ] {
            assert_eq!(from_civil(civil(ms, 0)), ms, "{ms}");
        }
        assert_eq!(civil(1_700_000_000_000, 8), (2023, 11, 15, 6, 13, 20));
    }

    #[test]
    fn rfc_3339_times_parse_with_their_offset() {
        let t = parse_rfc3339("2026-07-15T08:00:00+08:00").unwrap();
        assert_eq!(t, parse_rfc3339("2026-07-15T00:00:00Z").unwrap());
        assert_eq!(civil(t, 0), (2026, 7, 15, 0, 0, 0));
        assert_eq!(parse_rfc3339("2026-07-15 00:00:00.25z").unwrap(), t + 250);
        assert_eq!(parse_rfc3339("1969-12-31T23:59:59-00:00").unwrap(), -1_000);
        for bad in [
            "2026-07-15",
            "2026-07-15T08:00:00",
            "2026-02-30T08:00:00Z",
            "2026-07-15T24:00:00Z",
            "2026-07-15T08:00:00+8:00",
            "2026-07-15T08:00:00.Z",
            "２026-07-15T08:00:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

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
