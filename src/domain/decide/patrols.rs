//! Patrols: sections and their points, shifts, the dispatcher's interval, check-ins at points, and
//! acknowledging alerts. The rules of a section's shape are data ([`PatrolRules`]).

use super::{Decision, exists, forbidden, not_found};
use crate::domain::access::Role;
use crate::domain::bounds::{
    MAX_PATROL_POINTS, MAX_SHIFT_AHEAD_MS, MAX_SHIFT_MS, check_device_time, invalid,
};
use crate::domain::commands::*;
use crate::domain::events::Event;
use crate::domain::patrol::{
    Pass, PassHow, PatrolPoint, PatrolSection, PatrolShift, SECTION_SHIFTS,
};
use crate::domain::state::{Context, State};
use std::collections::{BTreeSet, VecDeque};

pub(super) fn define_section(s: &State, d: &DefinePatrolSection, ctx: &Context<'_>) -> Decision {
    if s.patrol_sections.contains_key(&d.id) {
        return Err(exists("patrol section", &d.id));
    }
    let levee = s
        .levees
        .get(&d.levee_id)
        .ok_or_else(|| not_found("levee", &d.levee_id))?;
    let rules = &s.patrol_rules;
    let (from, to) = (d.from.metres(), d.to.metres());
    let (start, end) = (levee.start_chainage_m(), levee.end_chainage_m());
    if from < start - 1.0 || to > end + 1.0 {
        return Err(invalid(
            format!(
                "section {}–{} is outside levee {} ({start:.0}–{end:.0} m)",
                d.from, d.to, d.levee_id
            ),
            format!(
                "责任段{}–{}超出堤防{}（{start:.0}–{end:.0} 米）",
                d.from, d.to, d.levee_id
            ),
        ));
    }
    if to <= from {
        return Err(invalid(
            format!("section ends ({}) before it starts ({})", d.to, d.from),
            format!("责任段终点（{}）在起点（{}）之前", d.to, d.from),
        ));
    }
    if to - from > rules.max_section_m {
        return Err(invalid(
            format!(
                "section of {:.0} m is longer than {:.0} m (one group's responsibility)",
                to - from,
                rules.max_section_m
            ),
            format!(
                "责任段长{:.0} 米，超过{:.0} 米（一个巡查组的责任范围）",
                to - from,
                rules.max_section_m
            ),
        ));
    }
    // Adjacent sections overlap by at least the rule (接头), so no metre is nobody's. A section
    // that misses its neighbour by less than one point spacing is taken for a mistake (a gap
    // further than that is left for another section to fill).
    let near = rules.max_point_spacing_m;
    for other in s.sections_along(&d.levee_id, from - near, to + near) {
        let overlap = to.min(other.to_m) - from.max(other.from_m);
        if overlap < rules.min_overlap_m {
            return Err(invalid(
                format!(
                    "section meets {} ({:.0}–{:.0} m) with an overlap of {:.0} m; adjacent sections overlap by at least {:.0} m",
                    other.id,
                    other.from_m,
                    other.to_m,
                    overlap.max(0.0),
                    rules.min_overlap_m
                ),
                format!(
                    "责任段与{}（{:.0}–{:.0} 米）的搭接为{:.0} 米；相邻责任段至少搭接{:.0} 米",
                    other.id,
                    other.from_m,
                    other.to_m,
                    overlap.max(0.0),
                    rules.min_overlap_m
                ),
            ));
        }
    }
    if d.points.len() < 2 || d.points.len() > MAX_PATROL_POINTS {
        return Err(invalid(
            format!(
                "a section has 2 to {MAX_PATROL_POINTS} patrol points, not {}",
                d.points.len()
            ),
            format!(
                "一个责任段有2至{MAX_PATROL_POINTS}个巡查点，而不是{}个",
                d.points.len()
            ),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut points = Vec::with_capacity(d.points.len());
    let mut previous = from;
    for (i, p) in d.points.iter().enumerate() {
        let c = p.chainage.metres();
        if !ids.insert(&p.id) {
            return Err(invalid(
                format!("patrol point {} appears twice", p.id),
                format!("巡查点{}出现了两次", p.id),
            ));
        }
        if c < from || c > to {
            return Err(invalid(
                format!(
                    "patrol point {} at {} is outside the section",
                    p.id, p.chainage
                ),
                format!("位于{}的巡查点{}在责任段之外", p.chainage, p.id),
            ));
        }
        if i > 0 && c <= previous {
            return Err(invalid(
                format!(
                    "patrol point {} is not after the one before it: points go by chainage",
                    p.id
                ),
                format!("巡查点{}不在前一个点之后：巡查点须按桩号排列", p.id),
            ));
        }
        if c - previous > rules.max_point_spacing_m {
            return Err(invalid(
                format!(
                    "{:.0} m without a patrol point before {}; at most {:.0} m",
                    c - previous,
                    p.id,
                    rules.max_point_spacing_m
                ),
                format!(
                    "巡查点{}之前有{:.0} 米没有巡查点；最多{:.0} 米",
                    p.id,
                    c - previous,
                    rules.max_point_spacing_m
                ),
            ));
        }
        previous = c;
        points.push(PatrolPoint {
            id: p.id.clone(),
            chainage_m: c,
            kind: p.kind,
            name: p.name.to_string(),
            passes: VecDeque::new(),
        });
    }
    if to - previous > rules.max_point_spacing_m {
        return Err(invalid(
            format!(
                "{:.0} m without a patrol point at the section's end; at most {:.0} m",
                to - previous,
                rules.max_point_spacing_m
            ),
            format!(
                "责任段末端有{:.0} 米没有巡查点；最多{:.0} 米",
                to - previous,
                rules.max_point_spacing_m
            ),
        ));
    }
    let mut section = PatrolSection {
        id: d.id.clone(),
        levee_id: d.levee_id.clone(),
        name: d.name.to_string(),
        from_m: from,
        to_m: to,
        points,
        interval_override_min: None,
        interval_min: None,
        required_since: None,
        shifts: Vec::new(),
    };
    let water = s
        .levee_water
        .get(&d.levee_id)
        .copied()
        .unwrap_or_default()
        .interval_min(rules);
    section.set_requirement(water, ctx.now_ms);
    Ok(vec![Event::PatrolSectionDefined { section }])
}

/// Merges the given rules into those in force; the result must make sense (a shorter interval
/// at 警戒 than at 设防, overlaps shorter than sections, a pass radius within a point spacing).
pub(super) fn set_rules(s: &State, r: &SetWatchRules, ctx: &Context<'_>) -> Decision {
    let mut patrol = s.patrol_rules;
    let p = &r.patrol;
    let metres = |v: &Option<crate::domain::values::RuleMetres>, into: &mut f64| {
        if let Some(v) = v {
            *into = v.get();
        }
    };
    let minutes = |v: &Option<crate::domain::values::Minutes>, into: &mut u32| {
        if let Some(v) = v {
            *into = v.get();
        }
    };
    metres(&p.max_section_m, &mut patrol.max_section_m);
    metres(&p.min_overlap_m, &mut patrol.min_overlap_m);
    metres(&p.max_point_spacing_m, &mut patrol.max_point_spacing_m);
    metres(&p.pass_radius_m, &mut patrol.pass_radius_m);
    metres(&p.on_levee_m, &mut patrol.on_levee_m);
    metres(&p.walk_max_m, &mut patrol.walk_max_m);
    minutes(&p.guard_interval_min, &mut patrol.guard_interval_min);
    minutes(&p.warning_interval_min, &mut patrol.warning_interval_min);
    minutes(&p.walk_gap_min, &mut patrol.walk_gap_min);
    if let Some(v) = p.walk_max_speed_mps {
        patrol.walk_max_speed_mps = v.get();
    }
    let mut alerts = s.alert_rules;
    let a = &r.alerts;
    if let Some(v) = a.shelter_nearly_full_pct {
        alerts.shelter_nearly_full_pct = v.get();
    }
    if let Some(v) = a.supply_low_days {
        alerts.supply_low_days = v.get();
    }
    minutes(&a.team_silent_min, &mut alerts.team_silent_min);
    minutes(&a.assignment_accept_min, &mut alerts.assignment_accept_min);
    if patrol.warning_interval_min > patrol.guard_interval_min {
        return Err(invalid(
            "the interval at 警戒 (warning) cannot be longer than at 设防 (guard)",
            "警戒水位时的巡查间隔不能长于设防水位时",
        ));
    }
    if patrol.min_overlap_m >= patrol.max_section_m
        || patrol.max_point_spacing_m > patrol.max_section_m
        || patrol.pass_radius_m > patrol.max_point_spacing_m
    {
        return Err(invalid(
            "rules must keep overlap < section length, point spacing <= section length and pass radius <= point spacing",
            "规则须满足：搭接长度 < 责任段长度，巡查点间距 <= 责任段长度，到点半径 <= 巡查点间距",
        ));
    }
    Ok(vec![Event::WatchRulesSet {
        patrol,
        alerts,
        at: ctx.now_ms,
    }])
}

pub(super) fn assign(s: &State, a: &AssignPatrol, ctx: &Context<'_>) -> Decision {
    let section = s
        .patrol_sections
        .get(&a.section_id)
        .ok_or_else(|| not_found("patrol section", &a.section_id))?;
    let team = s.team(&a.team_id)?;
    let from = a.from_ms.map_or(ctx.now_ms, |t| t.get());
    let until = a.until_ms.get();
    if until <= from || until - from > MAX_SHIFT_MS {
        return Err(invalid(
            format!(
                "a shift ends after it starts and lasts at most {} h",
                MAX_SHIFT_MS / 3_600_000
            ),
            format!(
                "班次须在开始之后结束，且最长{}小时",
                MAX_SHIFT_MS / 3_600_000
            ),
        ));
    }
    if until <= ctx.now_ms {
        return Err(invalid("the shift has already ended", "该班次已经结束"));
    }
    if from > ctx.now_ms.saturating_add(MAX_SHIFT_AHEAD_MS) {
        return Err(invalid(
            "a shift starts at most 7 days ahead",
            "班次最多提前7天安排",
        ));
    }
    if section.shifts.len() >= SECTION_SHIFTS && section.shifts.iter().all(|sh| sh.until_ms > from)
    {
        return Err(invalid(
            format!(
                "section {} already has {SECTION_SHIFTS} shifts that have not ended by this one's start",
                section.id
            ),
            format!(
                "责任段{}已有{SECTION_SHIFTS}个在本班次开始时尚未结束的班次",
                section.id
            ),
        ));
    }
    Ok(vec![Event::PatrolShiftAssigned {
        section_id: section.id.clone(),
        shift: PatrolShift {
            team_id: team.id.clone(),
            from_ms: from,
            until_ms: until,
        },
    }])
}

pub(super) fn set_interval(s: &State, i: &SetPatrolInterval, ctx: &Context<'_>) -> Decision {
    let section = s
        .patrol_sections
        .get(&i.section_id)
        .ok_or_else(|| not_found("patrol section", &i.section_id))?;
    Ok(vec![Event::PatrolIntervalSet {
        section_id: section.id.clone(),
        interval_min: i.interval_min.map(|m| m.get()),
        at: ctx.now_ms,
    }])
}

pub(super) fn check_in(s: &State, c: &CheckInPatrolPoint, ctx: &Context<'_>) -> Decision {
    let section = s
        .patrol_sections
        .get(&c.section_id)
        .ok_or_else(|| not_found("patrol section", &c.section_id))?;
    let point = section
        .points
        .iter()
        .find(|p| p.id == c.point_id)
        .ok_or_else(|| not_found("patrol point", &c.point_id))?;
    let team = s.team(&c.team_id)?;
    if ctx.actor.role == Role::Field && !ctx.actor.is_field_of(&team.id) {
        return Err(forbidden(
            format!("this token may only check in its own team, not {}", team.id),
            format!("此令牌只能为本队打卡，不能为队伍{}打卡", team.id),
        ));
    }
    let at = c.time_ms.map_or(ctx.now_ms, |t| t.get());
    check_device_time("time_ms", at, ctx.now_ms)?;
    Ok(vec![Event::PatrolPointCheckedIn {
        section_id: section.id.clone(),
        point_id: point.id.clone(),
        pass: Pass {
            at,
            team_id: team.id.clone(),
            how: PassHow::CheckedIn,
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::events::Event;
    use serde_json::{Value, json};

    fn team(id: &str) -> Event {
        team_registered(id, crate::domain::model::TravelMode::Foot, &[])
    }

    /// XJ-E1 runs 0 → ~11,120 m; sections of 500 m with points every 250 m.
    fn section(id: &str, from: f64, to: f64) -> Value {
        let mid = (from + to) / 2.0;
        json!({"type": "define_patrol_section", "id": id, "levee_id": "XJ-E1",
               "from": from, "to": to,
               "points": [{"id": format!("{id}-a"), "chainage": from},
                          {"id": format!("{id}-b"), "chainage": mid, "kind": "structure", "name": "涵闸"},
                          {"id": format!("{id}-c"), "chainage": to}]})
    }

    #[test]
    fn a_section_lies_on_its_levee_and_keeps_the_rules() {
        let d = dispatcher();
        let g = given(&[levee_defined()]);
        let g = g
            .when(&d, section("PS-1", 0.0, 500.0))
            .then_events(|e| assert!(matches!(&e[0], Event::PatrolSectionDefined { .. })));
        let g = g
            .when(&d, section("PS-1", 0.0, 500.0))
            .then_error("already_exists");
        let g = g
            .when(&d, section("PS-2", 0.0, 1_200.0))
            .then_error("invalid_value");
        let g = g
            .when(&d, section("PS-2", 495.0, 900.0))
            .then_error("invalid_value"); // 5 m overlap
        let g = g
            .when(&d, section("PS-2", 520.0, 900.0))
            .then_error("invalid_value"); // a 20 m gap
        let g = g
            .when(&d, section("PS-2", 20_000.0, 20_400.0))
            .then_error("invalid_value"); // off the levee
        let g = g
            .when(
                &d,
                json!({"type": "define_patrol_section", "id": "PS-2", "levee_id": "XJ-E1",
                       "from": 480, "to": 980,
                       "points": [{"id": "x", "chainage": 480}, {"id": "y", "chainage": 980}]}),
            )
            .then_error("invalid_value"); // 500 m between points
        let g = g
            .when(&d, section("PS-2", 480.0, 980.0))
            .then_events(|e| assert_eq!(e.len(), 1));
        g.when(&field("T-1"), section("PS-3", 960.0, 1_400.0))
            .then_error("forbidden");
    }

    #[test]
    fn check_ins_need_the_point_and_a_field_tablet_checks_in_its_own_team() {
        let d = dispatcher();
        let g = given(&[levee_defined(), team("T-1"), team("T-2")])
            .when(&d, section("PS-1", 0.0, 500.0))
            .then_events(|_| {});
        let g = g
            .when(
                &field("T-1"),
                json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "PS-1-b", "team_id": "T-1"}),
            )
            .then_events(|e| assert!(matches!(&e[0], Event::PatrolPointCheckedIn { .. })));
        let g = g
            .when(
                &field("T-1"),
                json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "PS-1-b", "team_id": "T-2"}),
            )
            .then_error("forbidden");
        g.when(
            &field("T-1"),
            json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "nope", "team_id": "T-1"}),
        )
        .then_error("not_found");
    }

    #[test]
    fn shifts_end_after_they_start_and_last_at_most_a_day() {
        let d = dispatcher();
        let g = given(&[levee_defined(), team("T-1")])
            .when(&d, section("PS-1", 0.0, 500.0))
            .then_events(|_| {});
        let shift = |until: i64| json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": until});
        let g = g.when(&d, shift(NOW)).then_error("invalid_value");
        let g = g
            .when(&d, shift(NOW + 25 * 3_600_000))
            .then_error("invalid_value");
        let g = g
            .when(&d, shift(NOW + 8 * 3_600_000))
            .then_events(|e| assert!(matches!(&e[0], Event::PatrolShiftAssigned { .. })));
        g.when(
            &d,
            json!({"type": "assign_patrol", "section_id": "PS-9", "team_id": "T-1", "until_ms": NOW + 1}),
        )
        .then_error("not_found");
    }
}
