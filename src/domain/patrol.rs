//! Patrol coverage (巡堤查险): levees divided into patrol sections with fixed patrol points, the
//! passes teams make (walking along the levee, or checking in at a point), and the gaps — stretches
//! not passed within the interval the water requires, and sections nobody is on shift for.
//!
//! A *stretch* is the levee between two consecutive patrol points of a section. A point is passed
//! when a team walks over it (two fixes of the team snapped to the levee, the point between them
//! or within `pass_radius_m` of one) or checks in at it. A stretch is passed when both its ends
//! are: its last pass is the older of its two points' last passes.
//!
//! The interval follows the water: from 设防 (guard) on the gauges that govern a levee its stretches
//! must be passed every `guard_interval_min`, from 警戒 (warning) every `warning_interval_min`
//! (30 minutes, day and night); a dispatcher may set a tighter interval for a section. A stretch's
//! clock starts at its last pass or when patrols became required on its section, whichever is later.

use super::ids::*;
use super::model::{Thresholds, TimeMs};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// How patrols are organised: data with these defaults (the practice of the 巡堤查险 rules), not
/// constants, so a district can set its own.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatrolRules {
    /// A section is at most this long (one group's responsibility), metres.
    pub max_section_m: f64,
    /// Adjacent sections of a levee overlap by at least this much, metres.
    pub min_overlap_m: f64,
    /// Consecutive patrol points are at most this far apart, metres.
    pub max_point_spacing_m: f64,
    /// Interval between passes from 设防 (guard level), minutes.
    pub guard_interval_min: u32,
    /// Interval between passes from 警戒 (warning level), minutes.
    pub warning_interval_min: u32,
    /// A fix within this distance of a patrol point (along the levee) passes it, metres.
    pub pass_radius_m: f64,
    /// A fix further than this from the levee line is not on the levee, metres.
    pub on_levee_m: f64,
    /// Two fixes further apart in time than this are not one walk, minutes.
    pub walk_gap_min: u32,
    /// Two fixes further apart along the levee than this are not one walk (a vehicle, a jump of
    /// the GPS), metres.
    pub walk_max_m: f64,
    /// Nor are two fixes further apart than this pace allows, metres per second (9 km/h).
    pub walk_max_speed_mps: f64,
}

impl Default for PatrolRules {
    fn default() -> Self {
        PatrolRules {
            max_section_m: 1_000.0,
            min_overlap_m: 10.0,
            max_point_spacing_m: 300.0,
            guard_interval_min: 60,
            warning_interval_min: 30,
            pass_radius_m: 30.0,
            on_levee_m: 100.0,
            walk_gap_min: 15,
            walk_max_m: 2_000.0,
            walk_max_speed_mps: 2.5,
        }
    }
}

/// Where the water stands against a gauge's (or a levee's governing gauges') thresholds.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum WaterStage {
    /// Below 设防, or no reading yet.
    #[default]
    Normal,
    /// At or above 设防.
    Guard,
    /// At or above 警戒.
    Warning,
    /// At or above 保证.
    Guaranteed,
}

impl WaterStage {
    pub fn of(level_m: f64, t: &Thresholds) -> WaterStage {
        if level_m >= t.guaranteed_m {
            WaterStage::Guaranteed
        } else if level_m >= t.warning_m {
            WaterStage::Warning
        } else if level_m >= t.guard_m {
            WaterStage::Guard
        } else {
            WaterStage::Normal
        }
    }

    /// The interval the water requires between passes, minutes; `None` below 设防.
    pub fn interval_min(self, rules: &PatrolRules) -> Option<u32> {
        match self {
            WaterStage::Normal => None,
            WaterStage::Guard => Some(rules.guard_interval_min),
            WaterStage::Warning | WaterStage::Guaranteed => Some(rules.warning_interval_min),
        }
    }
}

#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PointKind {
    /// A regular point (every 200–300 m).
    #[default]
    Regular,
    /// A structure through the levee: a sluice, culvert or pumping station.
    Structure,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum PassHow {
    /// Walked over, from the team's positions.
    Walked,
    /// Checked in at the point.
    CheckedIn,
}

/// One pass of a patrol point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pass {
    pub at: TimeMs,
    pub team_id: TeamId,
    pub how: PassHow,
}

/// The same team passing a point again within this long counts once, milliseconds.
pub const REPASS_MS: TimeMs = 60_000;

/// Passes kept per point for the history query: the newest ones.
pub const POINT_HISTORY: usize = 32;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolPoint {
    pub id: PatrolPointId,
    pub chainage_m: f64,
    pub kind: PointKind,
    pub name: String,
    /// The newest passes, oldest first; at most [`POINT_HISTORY`].
    #[serde(default)]
    pub passes: VecDeque<Pass>,
}

impl PatrolPoint {
    pub fn last_pass(&self) -> Option<&Pass> {
        self.passes.back()
    }

    /// Records a pass. An older pass than the newest changes nothing, and so does the same team
    /// passing again within [`REPASS_MS`] (a walk's consecutive fixes near one point).
    pub fn record(&mut self, pass: Pass) {
        if let Some(last) = self.passes.back()
            && (last.at > pass.at
                || (last.team_id == pass.team_id && pass.at - last.at < REPASS_MS))
        {
            return;
        }
        if self.passes.len() == POINT_HISTORY {
            self.passes.pop_front();
        }
        self.passes.push_back(pass);
    }
}

/// A team's patrol shift on a section (交接班: the next shift is the relief).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolShift {
    pub team_id: TeamId,
    pub from_ms: TimeMs,
    pub until_ms: TimeMs,
}

/// Shifts kept per section: the newest ones (ended shifts matter only for the record).
pub const SECTION_SHIFTS: usize = 16;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatrolSection {
    pub id: PatrolSectionId,
    pub levee_id: LeveeId,
    pub name: String,
    pub from_m: f64,
    pub to_m: f64,
    /// Sorted by chainage; the first at `from_m`'s end, the last at `to_m`'s.
    pub points: Vec<PatrolPoint>,
    /// A dispatcher's tighter interval, minutes.
    pub interval_override_min: Option<u32>,
    /// The interval in force, minutes: the tighter of the water's and the dispatcher's; `None`
    /// while no patrol is required.
    pub interval_min: Option<u32>,
    /// When patrols became required on this section (the clock of a never-passed stretch).
    pub required_since: Option<TimeMs>,
    /// Newest last; at most [`SECTION_SHIFTS`].
    pub shifts: Vec<PatrolShift>,
}

/// A stretch's state at a time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stretch<'a> {
    pub from_m: f64,
    pub to_m: f64,
    pub from_point: &'a PatrolPointId,
    pub to_point: &'a PatrolPointId,
    /// The older of its two ends' last passes.
    pub last_passed: Option<&'a Pass>,
    /// When it must be passed next (its clock plus the interval); `None` while no patrol is
    /// required. A stretch is a gap once the clock is past this.
    pub due_at: Option<TimeMs>,
    /// Minutes it is past its interval, when it is; `None` when it is not overdue.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overdue_min: Option<u64>,
}

impl PatrolSection {
    /// The team on shift at `t`, if any (the newest shift that covers `t`).
    pub fn on_shift(&self, t: TimeMs) -> Option<&TeamId> {
        self.shifts
            .iter()
            .rev()
            .find(|s| s.from_ms <= t && t < s.until_ms)
            .map(|s| &s.team_id)
    }

    /// Whether the section overlaps the chainage interval `[lo, hi]`.
    pub fn overlaps(&self, lo: f64, hi: f64) -> bool {
        self.from_m <= hi && lo <= self.to_m
    }

    /// The section's stretches at time `now`, in chainage order.
    pub fn stretches(&self, now: TimeMs) -> impl Iterator<Item = Stretch<'_>> {
        self.points.windows(2).map(move |w| {
            let (a, b) = (&w[0], &w[1]);
            let last_passed = match (a.last_pass(), b.last_pass()) {
                (Some(x), Some(y)) => Some(if x.at <= y.at { x } else { y }),
                _ => None,
            };
            let due_at = self.due_at(last_passed.map(|p| p.at));
            Stretch {
                from_m: a.chainage_m,
                to_m: b.chainage_m,
                from_point: &a.id,
                to_point: &b.id,
                last_passed,
                due_at,
                overdue_min: due_at
                    .and_then(|due| now.checked_sub(due))
                    .filter(|late| *late > 0)
                    .map(|late| (late / 60_000) as u64),
            }
        })
    }

    /// When a stretch last passed at `last` is due again; `None` while no patrol is required.
    fn due_at(&self, last: Option<TimeMs>) -> Option<TimeMs> {
        let interval_ms = i64::from(self.interval_min?) * 60_000;
        let since = self.required_since?;
        Some(
            last.map_or(since, |l| l.max(since))
                .saturating_add(interval_ms),
        )
    }

    /// Whether any stretch is overdue at `now`.
    pub fn has_gap(&self, now: TimeMs) -> bool {
        self.stretches(now).any(|s| s.overdue_min.is_some())
    }

    /// The earliest time after `now` at which a stretch that is not overdue now becomes overdue.
    pub fn next_due(&self, now: TimeMs) -> Option<TimeMs> {
        self.stretches(now)
            .filter(|s| s.overdue_min.is_none())
            .filter_map(|s| s.due_at)
            .min()
    }

    /// Records a pass of every point within `[lo, hi]` (see `OnLevee::passes`). Returns whether
    /// any point was passed.
    pub fn record_walk(&mut self, lo: f64, hi: f64, pass: &Pass) -> bool {
        let start = self.points.partition_point(|p| p.chainage_m < lo);
        let mut any = false;
        for p in self.points[start..]
            .iter_mut()
            .take_while(|p| p.chainage_m <= hi)
        {
            p.record(pass.clone());
            any = true;
        }
        any
    }

    /// Recomputes the interval in force from the levee's water stage, at time `at`.
    pub fn set_requirement(&mut self, water: Option<u32>, at: TimeMs) {
        let interval = match (water, self.interval_override_min) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        match (self.interval_min, interval) {
            (None, Some(_)) => self.required_since = Some(at),
            (_, None) => self.required_since = None,
            _ => {}
        }
        self.interval_min = interval;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section() -> PatrolSection {
        let point = |i: usize, c: f64| PatrolPoint {
            id: PatrolPointId::from(format!("P{i}")),
            chainage_m: c,
            kind: PointKind::Regular,
            name: String::new(),
            passes: VecDeque::new(),
        };
        PatrolSection {
            id: "PS-1".into(),
            levee_id: "L".into(),
            name: String::new(),
            from_m: 0.0,
            to_m: 750.0,
            points: vec![
                point(0, 0.0),
                point(1, 250.0),
                point(2, 500.0),
                point(3, 750.0),
            ],
            interval_override_min: None,
            interval_min: None,
            required_since: None,
            shifts: Vec::new(),
        }
    }

    fn pass(at: TimeMs) -> Pass {
        Pass {
            at,
            team_id: "T-1".into(),
            how: PassHow::Walked,
        }
    }

    const MIN: TimeMs = 60_000;

    #[test]
    fn nothing_is_overdue_while_no_patrol_is_required() {
        let s = section();
        assert!(!s.has_gap(1_000 * MIN));
        assert_eq!(s.next_due(0), None);
    }

    #[test]
    fn a_stretch_is_overdue_after_its_interval_from_when_patrols_started() {
        let mut s = section();
        s.set_requirement(Some(30), 10 * MIN);
        assert!(!s.has_gap(40 * MIN), "exactly the interval is not late");
        assert!(s.has_gap(40 * MIN + 1));
        assert_eq!(s.next_due(0), Some(40 * MIN));
    }

    #[test]
    fn a_walk_passes_the_points_it_covers_and_a_stretch_needs_both_ends() {
        let mut s = section();
        s.set_requirement(Some(30), 0);
        assert!(s.record_walk(210.0, 540.0, &pass(20 * MIN)));
        let at = 45 * MIN;
        let overdue: Vec<bool> = s.stretches(at).map(|x| x.overdue_min.is_some()).collect();
        assert_eq!(
            overdue,
            [true, false, true],
            "only P1–P2 has both ends passed"
        );
        assert!(
            !s.record_walk(570.0, 670.0, &pass(21 * MIN)),
            "no point there"
        );
    }

    #[test]
    fn warning_tightens_the_interval_and_a_dispatcher_may_tighten_more() {
        let rules = PatrolRules::default();
        let mut s = section();
        s.set_requirement(WaterStage::Guard.interval_min(&rules), 0);
        assert_eq!(s.interval_min, Some(60));
        s.set_requirement(WaterStage::Warning.interval_min(&rules), 5 * MIN);
        assert_eq!(s.interval_min, Some(30));
        assert_eq!(s.required_since, Some(0), "still required since the start");
        s.interval_override_min = Some(20);
        s.set_requirement(WaterStage::Warning.interval_min(&rules), 6 * MIN);
        assert_eq!(s.interval_min, Some(20));
        s.set_requirement(WaterStage::Normal.interval_min(&rules), 7 * MIN);
        assert_eq!(
            s.interval_min,
            Some(20),
            "the dispatcher's interval alone keeps patrols on"
        );
        s.interval_override_min = None;
        s.set_requirement(None, 8 * MIN);
        assert_eq!((s.interval_min, s.required_since), (None, None));
    }

    #[test]
    fn history_keeps_the_newest_passes_and_ignores_older_ones() {
        let mut p = section().points.remove(0);
        let n = POINT_HISTORY as i64 + 5;
        for i in 0..n {
            p.record(pass(i * REPASS_MS));
        }
        assert_eq!(p.passes.len(), POINT_HISTORY);
        assert_eq!(p.last_pass().unwrap().at, (n - 1) * REPASS_MS);
        p.record(pass(0));
        assert_eq!(p.last_pass().unwrap().at, (n - 1) * REPASS_MS, "older");
        p.record(pass(n * REPASS_MS - 1));
        assert_eq!(
            p.last_pass().unwrap().at,
            (n - 1) * REPASS_MS,
            "the same team again at once"
        );
    }

    #[test]
    fn shifts_say_who_is_on_and_when_nobody_is() {
        let mut s = section();
        s.shifts.push(PatrolShift {
            team_id: "T-1".into(),
            from_ms: 0,
            until_ms: 100,
        });
        s.shifts.push(PatrolShift {
            team_id: "T-2".into(),
            from_ms: 100,
            until_ms: 200,
        });
        assert_eq!(s.on_shift(99).map(|t| t.as_str()), Some("T-1"));
        assert_eq!(s.on_shift(100).map(|t| t.as_str()), Some("T-2"));
        assert_eq!(s.on_shift(200), None);
    }

    #[test]
    fn water_stage_follows_the_thresholds() {
        let t = Thresholds {
            guard_m: 38.0,
            warning_m: 40.0,
            guaranteed_m: 42.5,
        };
        assert_eq!(WaterStage::of(37.9, &t), WaterStage::Normal);
        assert_eq!(WaterStage::of(38.0, &t), WaterStage::Guard);
        assert_eq!(WaterStage::of(40.1, &t), WaterStage::Warning);
        assert_eq!(WaterStage::of(43.0, &t), WaterStage::Guaranteed);
    }
}
