//! Wall-clock time in the unit the domain uses, and the engine's clock, which tests and drills
//! may move forward.

use std::sync::{Arc, Mutex};
use std::time::Instant;

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

/// The engine's clock. A server runs on the wall clock (plus an offset that only grows: a test
/// moves it forward to see what time does — patrol intervals running out, silent teams — without
/// waiting). A drill runs on a scenario clock: the scenario's time, which runs at a speed, can be
/// paused, and is moved forward by the replay. Clones share one clock. Time never goes back.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    mode: Arc<Mutex<Mode>>,
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Wall {
        offset_ms: i64,
    },
    Scenario {
        /// The scenario time at `anchor`.
        at_ms: i64,
        anchor: Instant,
        /// Scenario milliseconds per real millisecond while running.
        speed: f64,
        running: bool,
    },
}

impl Default for Mode {
    fn default() -> Mode {
        Mode::Wall { offset_ms: 0 }
    }
}

impl Mode {
    fn now_ms(&self) -> i64 {
        match *self {
            Mode::Wall { offset_ms } => now_ms().saturating_add(offset_ms),
            Mode::Scenario {
                at_ms,
                anchor,
                speed,
                running,
            } => {
                if running {
                    let ran = anchor.elapsed().as_secs_f64() * 1000.0 * speed;
                    at_ms.saturating_add(ran as i64)
                } else {
                    at_ms
                }
            }
        }
    }
}

impl Clock {
    /// A scenario clock standing still at `start_ms` (ms since the epoch), at speed 1.
    pub fn scenario(start_ms: i64) -> Clock {
        Clock {
            mode: Arc::new(Mutex::new(Mode::Scenario {
                at_ms: start_ms,
                anchor: Instant::now(),
                speed: 1.0,
                running: false,
            })),
        }
    }

    fn mode(&self) -> std::sync::MutexGuard<'_, Mode> {
        // A panic while holding this lock cannot leave the mode half-written (it is Copy).
        self.mode.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn now_ms(&self) -> i64 {
        self.mode().now_ms()
    }

    /// Moves the clock forward by `ms` (a negative `ms` is ignored: time does not go back).
    pub fn advance(&self, ms: i64) {
        let mut mode = self.mode();
        let now = mode.now_ms();
        match &mut *mode {
            Mode::Wall { offset_ms } => *offset_ms = offset_ms.saturating_add(ms.max(0)),
            Mode::Scenario { at_ms, anchor, .. } => {
                *at_ms = now.saturating_add(ms.max(0));
                *anchor = Instant::now();
            }
        }
    }

    /// Moves the clock forward to `ms` if it is earlier (time does not go back).
    pub fn advance_to(&self, ms: i64) {
        let now = self.now_ms();
        self.advance(ms - now);
    }

    /// A scenario clock: starts or stops its running (a wall clock always runs).
    pub fn set_running(&self, run: bool) {
        let mut mode = self.mode();
        let now = mode.now_ms();
        if let Mode::Scenario {
            at_ms,
            anchor,
            running,
            ..
        } = &mut *mode
        {
            *at_ms = now;
            *anchor = Instant::now();
            *running = run;
        }
    }

    /// A scenario clock: scenario milliseconds per real millisecond while it runs.
    pub fn set_speed(&self, new: f64) {
        let mut mode = self.mode();
        let now = mode.now_ms();
        if let Mode::Scenario {
            at_ms,
            anchor,
            speed,
            ..
        } = &mut *mode
        {
            *at_ms = now;
            *anchor = Instant::now();
            *speed = new;
        }
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

    #[test]
    fn a_scenario_clock_stands_still_until_it_runs_and_never_goes_back() {
        let clock = Clock::scenario(1_000_000);
        assert_eq!(clock.now_ms(), 1_000_000);
        clock.advance_to(2_000_000);
        clock.advance_to(1_500_000);
        assert_eq!(clock.now_ms(), 2_000_000);
        clock.set_speed(1e9);
        clock.set_running(true);
        // Not a timing assertion: any time at all that passes moves it forward, never back.
        let later = clock.now_ms();
        assert!(later >= 2_000_000);
        clock.set_running(false);
        let stopped = clock.now_ms();
        assert!(stopped >= later);
        assert_eq!(clock.now_ms(), stopped);
    }
}
