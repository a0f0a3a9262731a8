//! Times in a scenario file: relative times (`+1d02:30`) and durations (`30m`, `2h30m`, `7d`).

/// Milliseconds in a day, an hour, a minute.
const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;

/// The longest scenario, and so the latest relative time: 60 days.
pub const MAX_SPAN_MS: i64 = 60 * DAY;

/// Parses a relative time `+DdHH:MM[:SS]` or `+HH:MM[:SS]` (days after the start, then the time
/// of day counted from the start's own time of day): milliseconds after the start.
pub fn parse_relative(text: &str) -> Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not a relative time such as +0d18:00 (18 hours after the start), +3d23:00 or +02:30:15"
        )
    };
    let rest = text.strip_prefix('+').ok_or_else(bad)?;
    let (days, clock) = match rest.split_once('d') {
        Some((d, c)) => (number(d).ok_or_else(bad)?, c),
        None => (0, rest),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if !(2..=3).contains(&parts.len()) || parts.iter().any(|p| p.len() != 2) {
        return Err(bad());
    }
    let h = number(parts[0]).ok_or_else(bad)?;
    let m = number(parts[1]).ok_or_else(bad)?;
    let s = parts
        .get(2)
        .map_or(Some(0), |p| number(p))
        .ok_or_else(bad)?;
    if h > 23 || m > 59 || s > 59 {
        return Err(bad());
    }
    let ms = days
        .checked_mul(DAY)
        .and_then(|d| d.checked_add(h * HOUR + m * MINUTE + s * 1000))
        .ok_or_else(bad)?;
    if ms > MAX_SPAN_MS {
        return Err(format!("{text:?} is later than 60 days after the start"));
    }
    Ok(ms)
}

/// Parses a duration: one or more of `<n>d`, `<n>h`, `<n>m`, `<n>s` in that order (`30m`,
/// `2h30m`, `7d`, `45s`).
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a duration such as 30m, 2h30m, 7d or 45s");
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut last_unit = 0;
    let mut any = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let (rank, unit) = match c {
            'd' => (1, DAY),
            'h' => (2, HOUR),
            'm' => (3, MINUTE),
            's' => (4, 1000),
            _ => return Err(bad()),
        };
        if rank <= last_unit || digits.is_empty() {
            return Err(bad());
        }
        last_unit = rank;
        let n = number(&digits).ok_or_else(bad)?;
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
        digits.clear();
        any = true;
    }
    if !digits.is_empty() || !any {
        return Err(bad());
    }
    if total > MAX_SPAN_MS {
        return Err(format!("{text:?} is longer than 60 days"));
    }
    Ok(total)
}

fn number(s: &str) -> Option<i64> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// A relative time written back: `+3d23:00` (seconds when there are any).
pub fn format_relative(ms: i64) -> String {
    let (d, rem) = (ms / DAY, ms % DAY);
    let (h, m, s) = (rem / HOUR, rem % HOUR / MINUTE, rem % MINUTE / 1000);
    if s == 0 {
        format!("+{d}d{h:02}:{m:02}")
    } else {
        format!("+{d}d{h:02}:{m:02}:{s:02}")
    }
}

/// Parses a UTC offset `+08:00`, `-05:30` or `Z`: minutes east of UTC.
pub fn parse_offset(text: &str) -> Result<i64, String> {
    let bad = || format!("{text:?} is not a UTC offset such as +08:00 or Z");
    if text == "Z" || text == "UTC" {
        return Ok(0);
    }
    let b = text.as_bytes();
    if b.len() != 6 || !matches!(b[0], b'+' | b'-') || b[3] != b':' {
        return Err(bad());
    }
    let h = number(&text[1..3]).ok_or_else(bad)?;
    let m = number(&text[4..6]).ok_or_else(bad)?;
    if h > 14 || m > 59 {
        return Err(bad());
    }
    Ok(if b[0] == b'-' { -1 } else { 1 } * (h * 60 + m))
}

/// The UTC offset an RFC 3339 time is written with, minutes east (`Z`: 0).
pub fn offset_of_rfc3339(text: &str) -> Option<i64> {
    if text.ends_with(['Z', 'z']) {
        return Some(0);
    }
    text.get(text.len().checked_sub(6)?..)
        .and_then(|o| parse_offset(o).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times_count_days_hours_minutes_and_seconds_after_the_start() {
        assert_eq!(parse_relative("+0d00:00"), Ok(0));
        assert_eq!(parse_relative("+3d23:00"), Ok(3 * DAY + 23 * HOUR));
        assert_eq!(
            parse_relative("+02:30:15"),
            Ok(2 * HOUR + 30 * MINUTE + 15_000)
        );
        for bad in [
            "3d23:00",
            "+3d24:00",
            "+1d2:30",
            "+1d02:60",
            "+xd02:00",
            "+02",
            "+60d00:01",
            "",
            "+1d02:30:5",
        ] {
            assert!(parse_relative(bad).is_err(), "{bad}");
        }
        for ms in [0, 3 * DAY + 23 * HOUR, 2 * HOUR + 30 * MINUTE + 15_000] {
            assert_eq!(parse_relative(&format_relative(ms)), Ok(ms));
        }
    }

    #[test]
    fn durations_are_units_in_order() {
        assert_eq!(parse_duration("30m"), Ok(30 * MINUTE));
        assert_eq!(parse_duration("2h30m"), Ok(2 * HOUR + 30 * MINUTE));
        assert_eq!(parse_duration("7d"), Ok(7 * DAY));
        assert_eq!(parse_duration("45s"), Ok(45_000));
        for bad in [
            "",
            "30",
            "m",
            "30m2h",
            "1h1h",
            "-5m",
            "1.5h",
            "61d",
            "99999999999d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+08:00"), Ok(480));
        assert_eq!(parse_offset("-05:30"), Ok(-330));
        assert_eq!(parse_offset("Z"), Ok(0));
        assert!(parse_offset("+8:00").is_err());
        assert_eq!(offset_of_rfc3339("2019-07-06T00:00:00+08:00"), Some(480));
        assert_eq!(offset_of_rfc3339("2019-07-06T00:00:00Z"), Some(0));
    }
}
