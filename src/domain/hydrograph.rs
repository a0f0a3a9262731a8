//! A gauge over time: the readings the state keeps, and what is computed from them — the level
//! at any moment between two readings, the rate of rise, the time above a threshold — plus the
//! forecast peak a dispatcher enters and the record level a gauge is compared with.
//!
//! Every computation here interpolates linearly between consecutive readings and assumes nothing
//! before the first reading or after the last one. Pure: times come in as arguments.

use super::model::{Reading, TimeMs};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Readings kept per gauge in the state, the newest by time: 20,000 are about 70 days of
/// readings every 5 minutes. Older ones stay in the event log (`reading_recorded`).
pub const READINGS_KEPT: usize = 20_000;

/// The span the rate of rise is measured over.
pub const RISE_SPAN_MS: TimeMs = 3_600_000;

/// A forecast crest (洪峰预报) as a dispatcher entered it: the peak level and when it is expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forecast {
    pub peak_m: f64,
    pub peak_at: TimeMs,
    /// Who issued it (the hydrological bureau, the provincial command …); may be empty.
    #[serde(default)]
    pub source: String,
    pub entered_at: TimeMs,
    pub entered_by: String,
}

/// The highest level on record, for comparison: where (`station`) and when (`date`, a year or
/// a date as written) it was reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordLevel {
    pub level_m: f64,
    pub date: String,
    pub station: String,
}

/// Keeps `r` in `readings`, which are in strictly increasing time: a late reading goes to its
/// place in time, a reading at the time of a kept one replaces it (a resend with a corrected
/// level), and beyond [`READINGS_KEPT`] the oldest leaves — so a reading older than every kept
/// one, when the history is full, is not kept at all.
pub fn keep(readings: &mut VecDeque<Reading>, r: Reading) {
    let at = readings.partition_point(|k| k.time_ms < r.time_ms);
    if let Some(same) = readings.get_mut(at).filter(|k| k.time_ms == r.time_ms) {
        *same = r;
        return;
    }
    if readings.len() < READINGS_KEPT {
        readings.insert(at, r);
    } else if at > 0 {
        readings.pop_front();
        readings.insert(at - 1, r);
    }
}

fn between(a: &Reading, b: &Reading, t: f64) -> f64 {
    let (ta, tb) = (a.time_ms as f64, b.time_ms as f64);
    a.level_m + (b.level_m - a.level_m) * ((t - ta) / (tb - ta))
}

/// The level at `t`: a reading's own level at its time, interpolated between the two readings
/// around `t`, `None` before the first reading or after the last.
pub fn level_at(readings: &VecDeque<Reading>, t: TimeMs) -> Option<f64> {
    let i = readings.partition_point(|k| k.time_ms < t);
    let after = readings.get(i)?;
    if after.time_ms == t {
        return Some(after.level_m);
    }
    let before = readings.get(i.checked_sub(1)?)?;
    Some(between(before, after, t as f64))
}

/// The rate of rise at the newest reading at or before `until` (any, when `None`): the change of
/// level from one hour before that reading (interpolated) to it, per hour. When the readings do
/// not reach back an hour, over the span they cover (`from_ms` says where it starts). Negative
/// while the water falls; `None` with fewer than two readings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Rise {
    pub m_per_h: f64,
    pub from_ms: TimeMs,
    pub to_ms: TimeMs,
}

pub fn rate_of_rise(readings: &VecDeque<Reading>, until: Option<TimeMs>) -> Option<Rise> {
    let end = until.map_or(readings.len(), |u| {
        readings.partition_point(|k| k.time_ms <= u)
    });
    let last = readings.get(end.checked_sub(1)?)?;
    let first = readings.front()?;
    let from = last.time_ms.saturating_sub(RISE_SPAN_MS).max(first.time_ms);
    if from >= last.time_ms {
        return None;
    }
    let start = level_at(readings, from)?;
    let hours = (last.time_ms - from) as f64 / RISE_SPAN_MS as f64;
    Some(Rise {
        m_per_h: (last.level_m - start) / hours,
        from_ms: from,
        to_ms: last.time_ms,
    })
}

/// Milliseconds within `[from, until]` (either end open when `None`) that the water stood at or
/// above `threshold`, integrating the line between consecutive readings: a stretch between two
/// readings that crosses the threshold counts from (or up to) the moment the line crosses it.
/// Nothing is counted before the first reading or after the last.
pub fn time_above(
    readings: &VecDeque<Reading>,
    from: Option<TimeMs>,
    until: Option<TimeMs>,
    threshold: f64,
) -> f64 {
    let lo = from.map_or(f64::NEG_INFINITY, |t| t as f64);
    let hi = until.map_or(f64::INFINITY, |t| t as f64);
    // The pairs that can overlap the window: from the last reading before it to the first after.
    let start = from.map_or(0, |f| {
        readings
            .partition_point(|k| k.time_ms < f)
            .saturating_sub(1)
    });
    let end = until.map_or(readings.len(), |u| {
        (readings.partition_point(|k| k.time_ms <= u) + 1).min(readings.len())
    });
    let mut total = 0.0;
    for i in start..end.saturating_sub(1) {
        let (a, b) = (&readings[i], &readings[i + 1]);
        let ta = (a.time_ms as f64).max(lo);
        let tb = (b.time_ms as f64).min(hi);
        if ta >= tb {
            continue;
        }
        let (la, lb) = (between(a, b, ta), between(a, b, tb));
        total += match (la >= threshold, lb >= threshold) {
            (true, true) => tb - ta,
            (false, false) => 0.0,
            (above_first, _) => {
                let crossing = ta + (threshold - la) / (lb - la) * (tb - ta);
                if above_first {
                    crossing - ta
                } else {
                    tb - crossing
                }
            }
        };
    }
    total
}

/// The readings within `[from, until]` (either end open when `None`), oldest first.
pub fn window(
    readings: &VecDeque<Reading>,
    from: Option<TimeMs>,
    until: Option<TimeMs>,
) -> impl Iterator<Item = &Reading> {
    let start = from.map_or(0, |f| readings.partition_point(|k| k.time_ms < f));
    let end = until.map_or(readings.len(), |u| {
        readings.partition_point(|k| k.time_ms <= u)
    });
    readings.range(start..end.max(start))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: TimeMs = 3_600_000;

    fn r(time_ms: TimeMs, level_m: f64) -> Reading {
        Reading { level_m, time_ms }
    }

    fn history(readings: &[Reading]) -> VecDeque<Reading> {
        let mut kept = VecDeque::new();
        for x in readings {
            keep(&mut kept, *x);
        }
        kept
    }

    #[test]
    fn late_readings_go_to_their_place_and_a_resend_replaces() {
        let kept = history(&[r(0, 38.0), r(2 * H, 39.0), r(H, 38.4), r(2 * H, 39.1)]);
        assert_eq!(
            kept.iter().copied().collect::<Vec<_>>(),
            vec![r(0, 38.0), r(H, 38.4), r(2 * H, 39.1)]
        );
    }

    #[test]
    fn the_history_keeps_the_newest_by_time() {
        let mut kept: VecDeque<Reading> = (0..READINGS_KEPT as i64)
            .map(|i| r(i * 10 + 10, 1.0))
            .collect();
        keep(&mut kept, r(5, 2.0));
        assert_eq!(kept.len(), READINGS_KEPT);
        assert_eq!(
            kept.front(),
            Some(&r(10, 1.0)),
            "older than all kept: dropped"
        );
        keep(&mut kept, r(15, 3.0));
        assert_eq!(kept.len(), READINGS_KEPT);
        assert_eq!(kept.front(), Some(&r(15, 3.0)), "the oldest made room");
        keep(&mut kept, r(READINGS_KEPT as i64 * 10 + 10, 4.0));
        assert_eq!(kept.front(), Some(&r(20, 1.0)));
        assert_eq!(kept.back().unwrap().level_m, 4.0);
    }

    #[test]
    fn levels_between_readings_are_interpolated() {
        let kept = history(&[r(0, 38.0), r(H, 39.0)]);
        assert_eq!(level_at(&kept, 0), Some(38.0));
        assert_eq!(level_at(&kept, H / 4), Some(38.25));
        assert_eq!(level_at(&kept, H), Some(39.0));
        assert_eq!(level_at(&kept, H + 1), None);
        assert_eq!(level_at(&kept, -1), None);
    }

    #[test]
    fn the_rate_of_rise_is_the_change_over_the_last_hour() {
        // 5-minute readings would do the same; these are 30 minutes apart.
        let kept = history(&[
            r(0, 38.0),
            r(H / 2, 38.3),
            r(H, 38.5),
            r(3 * H / 2, 38.9),
            r(2 * H, 39.2),
        ]);
        let rise = rate_of_rise(&kept, None).unwrap();
        assert_eq!((rise.from_ms, rise.to_ms), (H, 2 * H));
        assert!((rise.m_per_h - 0.7).abs() < 1e-9, "{rise:?}");
        // At the end of an earlier window; the hour before 75 minutes is interpolated.
        let rise = rate_of_rise(&kept, Some(H + H / 4)).unwrap();
        assert_eq!((rise.from_ms, rise.to_ms), (0, H));
        assert!((rise.m_per_h - 0.5).abs() < 1e-9);
        // 20 minutes of readings: over those 20 minutes, per hour.
        let short = history(&[r(0, 40.0), r(H / 3, 39.9)]);
        let rise = rate_of_rise(&short, None).unwrap();
        assert!((rise.m_per_h + 0.3).abs() < 1e-9, "falling: {rise:?}");
        assert_eq!(rate_of_rise(&history(&[r(0, 40.0)]), None), None);
        assert_eq!(rate_of_rise(&kept, Some(-1)), None);
    }

    #[test]
    fn time_above_integrates_the_line_between_readings() {
        // Rises from 39 to 41 over two hours, stays, falls to 39 over two hours.
        let kept = history(&[r(0, 39.0), r(2 * H, 41.0), r(3 * H, 41.0), r(5 * H, 39.0)]);
        // Above 40 from 1 h (crossing) to 4 h (crossing back).
        assert_eq!(time_above(&kept, None, None, 40.0), (3 * H) as f64);
        assert_eq!(time_above(&kept, None, None, 38.0), (5 * H) as f64);
        assert_eq!(time_above(&kept, None, None, 42.0), 0.0);
        // Exactly at the top counts as at or above.
        assert_eq!(time_above(&kept, None, None, 41.0), H as f64);
        // A window cuts the stretches at its ends.
        assert_eq!(time_above(&kept, Some(H / 2), Some(2 * H), 40.0), H as f64);
        assert_eq!(
            time_above(&kept, Some(3 * H + H / 2), None, 40.0),
            (H / 2) as f64
        );
        // Beyond the readings nothing is assumed.
        assert_eq!(time_above(&kept, Some(6 * H), Some(9 * H), 0.0), 0.0);
    }

    #[test]
    fn a_window_holds_its_readings() {
        let kept = history(&[r(0, 1.0), r(10, 2.0), r(20, 3.0)]);
        let levels = |from, until| {
            window(&kept, from, until)
                .map(|x| x.level_m)
                .collect::<Vec<_>>()
        };
        assert_eq!(levels(None, None), vec![1.0, 2.0, 3.0]);
        assert_eq!(levels(Some(10), Some(10)), vec![2.0]);
        assert_eq!(levels(Some(11), None), vec![3.0]);
        assert_eq!(levels(Some(30), Some(5)), Vec::<f64>::new());
    }
}
