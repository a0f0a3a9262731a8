//! Corrections of reference data after it was defined (by a dispatcher; the role gate refuses
//! field and observer tokens): a shelter's capacity, a gauge's thresholds, a team's roster and
//! headcount, a protected asset's buffer. Each is one `reference_corrected` event with the old
//! and the new value, the reason (required), who and when. A correction must change something.
//!
//! What follows from a correction (alerts of the shelter, the gauge's threshold alerts and the
//! patrol requirement of its levees, the `asset_threatened` alerts of open hazards) is the
//! watch's: see `watch.rs`.

use super::{Decision, not_found};
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::corrections::{Change, Correction, MAX_ROSTER_NAMES, Roster};
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::CorrectionId;
use crate::domain::model::Thresholds;
use crate::domain::state::{Context, State};
use crate::domain::values::Text;
use std::collections::BTreeSet;

fn corrected(s: &State, change: Change, reason: &Text, ctx: &Context<'_>) -> Decision {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("a correction needs a reason", "更正须写明理由"));
    }
    Ok(vec![Event::ReferenceCorrected {
        correction: Correction {
            id: CorrectionId::from(format!("CR-{}", s.next_correction + 1)),
            change,
            reason: reason.to_string(),
            by: ctx.actor.name.clone(),
            at: ctx.now_ms,
        },
    }])
}

fn unchanged(what: &str, id: &str) -> DomainError {
    invalid(
        format!("the {what} of {id} is already that: nothing to correct"),
        format!("{id}的{}已是该值，无需更正", what_zh(what)),
    )
}

fn what_zh(what: &str) -> &str {
    match what {
        "capacity" => "容量",
        "thresholds" => "特征水位",
        "roster" => "花名册",
        "buffer" => "保护范围",
        other => other,
    }
}

/// A capacity below the people already sheltered is refused unless `allow_over_capacity`: then
/// the shelter is over capacity and, while open, raises `shelter_full`.
pub(super) fn shelter_capacity(
    s: &State,
    c: &CorrectShelterCapacity,
    ctx: &Context<'_>,
) -> Decision {
    let shelter = s.shelter(&c.shelter_id)?;
    let new = c.capacity.get();
    if new == shelter.capacity {
        return Err(unchanged("capacity", shelter.id.as_str()));
    }
    if new < shelter.occupancy && !c.allow_over_capacity {
        return Err(DomainError::CapacityBelowOccupancy {
            shelter: shelter.id.to_string(),
            occupancy: shelter.occupancy,
            capacity: new,
        });
    }
    let change = Change::ShelterCapacity {
        shelter_id: shelter.id.clone(),
        old: shelter.capacity,
        new,
        occupancy: shelter.occupancy,
    };
    corrected(s, change, &c.reason, ctx)
}

/// Thresholds in strict order: 设防 < 警戒 < 保证.
pub(super) fn gauge_thresholds(
    s: &State,
    c: &CorrectGaugeThresholds,
    ctx: &Context<'_>,
) -> Decision {
    let g = s.gauge(&c.gauge_id)?;
    let new = Thresholds::from(c.thresholds);
    if !(new.guard_m < new.warning_m && new.warning_m < new.guaranteed_m) {
        return Err(invalid(
            "corrected thresholds must be in strict order guard < warning < guaranteed",
            "更正后的特征水位须满足 设防 < 警戒 < 保证",
        ));
    }
    if new == g.thresholds {
        return Err(unchanged("thresholds", g.id.as_str()));
    }
    let change = Change::GaugeThresholds {
        gauge_id: g.id.clone(),
        old: g.thresholds,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}

/// A name on a roster: not blank, kept as trimmed.
fn name(field: &str, t: &Text) -> Result<String, DomainError> {
    let n = t.trim();
    if n.is_empty() {
        return Err(invalid(
            format!("{field}: a name must not be blank"),
            format!("{field}：姓名不能为空"),
        ));
    }
    Ok(n.to_string())
}

/// The roster: the members named (each once, the leader not among them) and the head count of
/// everyone. With members named, the head count is the number of names (leader included), and
/// a `headcount` given must say the same; with none named, `headcount` is required.
pub(super) fn team_roster(s: &State, c: &CorrectTeamRoster, ctx: &Context<'_>) -> Decision {
    let team = s.team(&c.team_id)?;
    let leader = c.leader.as_ref().map(|l| name("leader", l)).transpose()?;
    let members = c
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| name(&format!("members[{i}]"), m))
        .collect::<Result<Vec<_>, _>>()?;
    let named = members.len() + usize::from(leader.is_some());
    if named > MAX_ROSTER_NAMES {
        return Err(invalid(
            format!("a roster names at most {MAX_ROSTER_NAMES} people, not {named}"),
            format!("花名册最多{MAX_ROSTER_NAMES}人，而不是{named}人"),
        ));
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = leader
        .iter()
        .chain(&members)
        .find(|n| !seen.insert(n.as_str()))
    {
        return Err(invalid(
            format!("{twice} is named twice on the roster"),
            format!("{twice}在花名册上出现两次"),
        ));
    }
    let headcount = match (c.headcount.map(|h| h.get()), members.is_empty()) {
        (Some(h), true) => h,
        (None, true) => {
            return Err(invalid(
                "give the headcount, or name the members (the headcount is then their number)",
                "请给出人数，或列出队员姓名（人数即为姓名数）",
            ));
        }
        (given, false) => {
            let counted = named as u32; // at most MAX_ROSTER_NAMES
            if given.is_some_and(|h| h != counted) {
                return Err(invalid(
                    format!(
                        "headcount {} does not match the {counted} people the roster names",
                        given.unwrap_or_default()
                    ),
                    format!(
                        "人数{}与花名册所列{counted}人不符",
                        given.unwrap_or_default()
                    ),
                ));
            }
            counted
        }
    };
    let old = Roster {
        headcount: team.headcount,
        leader: team.leader.clone(),
        members: team.members.clone(),
    };
    let new = Roster {
        headcount,
        leader,
        members,
    };
    if new == old {
        return Err(unchanged("roster", team.id.as_str()));
    }
    let change = Change::TeamRoster {
        team_id: team.id.clone(),
        old,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}

pub(super) fn asset_buffer(s: &State, c: &CorrectAssetBuffer, ctx: &Context<'_>) -> Decision {
    let asset = s
        .assets
        .get(&c.asset_id)
        .ok_or_else(|| not_found("protected asset", &c.asset_id))?;
    let new = c.buffer_m.get();
    if new == asset.buffer_m {
        return Err(unchanged("buffer", asset.id.as_str()));
    }
    let change = Change::AssetBuffer {
        asset_id: asset.id.clone(),
        old: asset.buffer_m,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::alerts::AlertKind;
    use crate::domain::corrections::*;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use crate::domain::patrol::WaterStage;
    use serde_json::{Value, json};

    fn correction(n: u64, change: Change, reason: &str) -> Event {
        Event::ReferenceCorrected {
            correction: Correction {
                id: CorrectionId::from(format!("CR-{n}")),
                change,
                reason: reason.into(),
                by: "desk-1".into(),
                at: NOW,
            },
        }
    }

    fn capacity(capacity: u32, allow: bool) -> Value {
        json!({"type": "correct_shelter_capacity", "shelter_id": "S-1", "capacity": capacity,
               "reason": "二楼教室不能用", "allow_over_capacity": allow})
    }

    fn capacity_changed(n: u64, old: u32, new: u32, occupancy: u32) -> Event {
        correction(
            n,
            Change::ShelterCapacity {
                shelter_id: ShelterId::from("S-1"),
                old,
                new,
                occupancy,
            },
            "二楼教室不能用",
        )
    }

    fn raised(follow: &[Event]) -> Vec<(AlertKind, String)> {
        follow
            .iter()
            .filter_map(|e| match e {
                Event::AlertRaised { alert } => Some((alert.kind, alert.qualifier.clone())),
                _ => None,
            })
            .collect()
    }

    fn resolved(follow: &[Event]) -> usize {
        follow
            .iter()
            .filter(|e| matches!(e, Event::AlertResolved { .. }))
            .count()
    }

    #[test]
    fn only_a_dispatcher_corrects_reference_data() {
        let commands = [
            capacity(80, false),
            json!({"type": "correct_gauge_thresholds", "gauge_id": "G-XJ", "reason": "r",
                   "thresholds": {"guard_m": 38.5, "warning_m": 40, "guaranteed_m": 42.5}}),
            json!({"type": "correct_team_roster", "team_id": "T-07", "headcount": 10, "reason": "r"}),
            json!({"type": "correct_asset_buffer", "asset_id": "PA-1", "buffer_m": 300, "reason": "r"}),
        ];
        for c in commands {
            given(&world())
                .when(&field("T-07"), c.clone())
                .then_error("forbidden");
            given(&world()).when(&observer(), c).then_error("forbidden");
        }
    }

    #[test]
    fn a_correction_records_old_and_new_value_reason_who_and_when() {
        let g = given(&world())
            .when(&dispatcher(), capacity(80, false))
            .then(&[capacity_changed(1, 100, 80, 0)])
            .when(&dispatcher(), capacity(120, false))
            .then(&[correction(
                2,
                Change::ShelterCapacity {
                    shelter_id: ShelterId::from("S-1"),
                    old: 80,
                    new: 120,
                    occupancy: 0,
                },
                "二楼教室不能用",
            )]);
        let s = g.state();
        assert_eq!(s.shelters[&ShelterId::from("S-1")].capacity, 120);
        assert_eq!(s.corrections.len(), 2);
        assert_eq!(s.next_correction, 2);
    }

    #[test]
    fn a_correction_needs_a_reason_a_subject_and_a_change() {
        let d = dispatcher();
        let no_reason =
            json!({"type": "correct_shelter_capacity", "shelter_id": "S-1", "capacity": 80});
        given(&world())
            .when(&d, no_reason)
            .then_error("missing_field");
        let blank = json!({"type": "correct_shelter_capacity", "shelter_id": "S-1", "capacity": 80,
                           "reason": "  "});
        given(&world()).when(&d, blank).then_error("invalid_value");
        let unknown = json!({"type": "correct_shelter_capacity", "shelter_id": "S-9", "capacity": 80,
                             "reason": "r"});
        given(&world()).when(&d, unknown).then_error("not_found");
        given(&world())
            .when(&d, capacity(100, false))
            .then_error("invalid_value");
        given(&world())
            .when(&d, capacity(10_000_001, false))
            .then_error("invalid_value");
    }

    #[test]
    fn a_capacity_below_the_people_sheltered_needs_allow_over_capacity_and_raises_shelter_full() {
        let d = dispatcher();
        given(&world())
            .when(
                &d,
                json!({"type": "check_in", "shelter_id": "S-1", "count": 70}),
            )
            .then_events(|_| {})
            .when(&d, capacity(60, false))
            .then_error("over_capacity")
            .when(&d, capacity(60, true))
            .then_watched(|own, follow| {
                assert_eq!(own, [capacity_changed(1, 100, 60, 70)]);
                assert_eq!(raised(follow), [(AlertKind::ShelterFull, String::new())]);
            })
            // Room again: the alert resolves.
            .when(&d, capacity(90, false))
            .then_watched(|_, follow| {
                assert_eq!(resolved(follow), 1);
                assert_eq!(raised(follow), []);
            });
    }

    fn thresholds(guard: f64, warning: f64, guaranteed: f64) -> Value {
        json!({"type": "correct_gauge_thresholds", "gauge_id": "G-XJ", "reason": "新测量",
               "thresholds": {"guard_m": guard, "warning_m": warning, "guaranteed_m": guaranteed}})
    }

    #[test]
    fn corrected_thresholds_keep_their_strict_order() {
        let d = dispatcher();
        given(&world())
            .when(&d, thresholds(39.0, 39.0, 42.5))
            .then_error("invalid_value");
        given(&world())
            .when(&d, thresholds(40.0, 39.0, 42.5))
            .then_error("invalid_value");
        given(&world())
            .when(&d, thresholds(38.0, 40.0, 42.5))
            .then_error("invalid_value");
        let g = given(&world())
            .when(&d, thresholds(38.5, 40.0, 42.5))
            .then(&[correction(
                1,
                Change::GaugeThresholds {
                    gauge_id: GaugeId::from("G-XJ"),
                    old: Thresholds {
                        guard_m: 38.0,
                        warning_m: 40.0,
                        guaranteed_m: 42.5,
                    },
                    new: Thresholds {
                        guard_m: 38.5,
                        warning_m: 40.0,
                        guaranteed_m: 42.5,
                    },
                },
                "新测量",
            )]);
        assert_eq!(
            g.state().gauges[&GaugeId::from("G-XJ")].thresholds.guard_m,
            38.5
        );
    }

    #[test]
    fn corrected_thresholds_re_evaluate_the_gauge_alerts_and_the_patrols_they_require() {
        let d = dispatcher();
        let levee = LeveeId::from("XJ-E1");
        let g = given(&world())
            .when(
                &d,
                json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": 39.5}),
            )
            .then_events(|_| {});
        assert_eq!(g.state().levee_water[&levee], WaterStage::Guard);
        // 警戒 lowered below the water: its alert is raised and the levee is at warning stage.
        let g = g
            .when(&d, thresholds(38.0, 39.2, 42.5))
            .then_watched(|_, follow| {
                assert_eq!(
                    raised(follow),
                    [(AlertKind::GaugeThreshold, "warning".to_string())]
                );
                assert!(follow.iter().any(|e| matches!(
                    e,
                    Event::PatrolRequirementChanged {
                        stage: WaterStage::Warning,
                        ..
                    }
                )));
            });
        assert_eq!(g.state().levee_water[&levee], WaterStage::Warning);
        // 设防 and 警戒 raised above the water: both alerts resolve, no patrol is required.
        let g = g
            .when(&d, thresholds(39.6, 40.0, 42.5))
            .then_watched(|_, follow| {
                assert_eq!(resolved(follow), 2);
                assert_eq!(raised(follow), []);
            });
        assert_eq!(g.state().levee_water[&levee], WaterStage::Normal);
        assert_eq!(g.state().open_alerts.len(), 0);
    }

    fn roster(v: Value) -> Value {
        let mut c = json!({"type": "correct_team_roster", "team_id": "T-07", "reason": "点名"});
        c.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        c
    }

    fn roster_changed(n: u64, old: Roster, new: Roster) -> Event {
        correction(
            n,
            Change::TeamRoster {
                team_id: TeamId::from("T-07"),
                old,
                new,
            },
            "点名",
        )
    }

    #[test]
    fn a_roster_names_everyone_or_gives_the_headcount() {
        let d = dispatcher();
        let unnamed = Roster {
            headcount: 12,
            leader: None,
            members: vec![],
        };
        let named = Roster {
            headcount: 3,
            leader: Some("王队长".into()),
            members: vec!["李".into(), "张".into()],
        };
        let g = given(&world())
            .when(
                &d,
                roster(json!({"leader": "王队长", "members": ["李", " 张 "]})),
            )
            .then(&[roster_changed(1, unnamed, named.clone())]);
        let t = &g.state().teams[&TeamId::from("T-07")];
        assert_eq!((t.headcount, t.members.len()), (3, 2));
        assert_eq!(t.leader.as_deref(), Some("王队长"));
        // A leader and a head count, nobody else named.
        let g = g
            .when(&d, roster(json!({"leader": "王队长", "headcount": 30})))
            .then(&[roster_changed(
                2,
                named,
                Roster {
                    headcount: 30,
                    leader: Some("王队长".into()),
                    members: vec![],
                },
            )]);
        assert_eq!(g.state().teams[&TeamId::from("T-07")].headcount, 30);
        // The same roster again changes nothing.
        g.when(&d, roster(json!({"leader": "王队长", "headcount": 30})))
            .then_error("invalid_value");
    }

    #[test]
    fn a_roster_must_add_up() {
        let d = dispatcher();
        for bad in [
            json!({"leader": "王", "members": ["李", "张"], "headcount": 4}),
            json!({"leader": "王"}),
            json!({}),
            json!({"members": ["李", "李"]}),
            json!({"leader": "李", "members": ["李"]}),
            json!({"members": ["李", " "]}),
            json!({"leader": "", "headcount": 5}),
        ] {
            given(&world())
                .when(&d, roster(bad))
                .then_error("invalid_value");
        }
        given(&world())
            .when(&d, roster(json!({"headcount": 0})))
            .then_error("invalid_value");
        let too_many: Vec<String> = (0..=MAX_ROSTER_NAMES).map(|i| format!("m{i}")).collect();
        given(&world())
            .when(&d, roster(json!({"members": too_many})))
            .then_error("invalid_value");
        // Named members with the matching head count are fine.
        given(&world())
            .when(
                &d,
                roster(json!({"leader": "王", "members": ["李", "张"], "headcount": 3})),
            )
            .then_events(|e| assert_eq!(e.len(), 1));
    }

    fn asset() -> Value {
        json!({"type": "define_protected_asset", "id": "PA-1", "name": "南洲变电站",
               "kind": "substation", "priority": 1, "buffer_m": 200, "position": [113.12, 27.65]})
    }

    fn buffer(buffer_m: f64) -> Value {
        json!({"type": "correct_asset_buffer", "asset_id": "PA-1", "buffer_m": buffer_m,
               "reason": "设计院复核"})
    }

    #[test]
    fn a_wider_buffer_raises_the_threat_of_open_hazards_and_a_narrower_one_resolves_it() {
        let d = dispatcher();
        // About 296 m east of the substation: outside its 200 m buffer.
        let report = json!({"type": "report_hazard", "kind": "piping", "severity": "major",
                            "position": [113.123, 27.65]});
        let g = given(&world())
            .when(&d, asset())
            .then_events(|_| {})
            .when(&d, report.clone())
            .then_watched(|_, follow| assert_eq!(raised(follow), []))
            .when(&d, buffer(500.0))
            .then_watched(|own, follow| {
                assert_eq!(
                    own,
                    [correction(
                        1,
                        Change::AssetBuffer {
                            asset_id: AssetId::from("PA-1"),
                            old: 200.0,
                            new: 500.0,
                        },
                        "设计院复核",
                    )]
                );
                assert_eq!(
                    raised(follow),
                    [(AlertKind::AssetThreatened, "PA-1".to_string())]
                );
                let Event::AlertRaised { alert } = &follow[0] else {
                    panic!("{follow:?}")
                };
                assert_eq!(alert.subject_id, "HZ-1");
                let near = alert.asset.as_ref().unwrap();
                assert!((near.distance_m - 296.0).abs() < 3.0, "{near:?}");
            });
        assert_eq!(g.state().assets[&AssetId::from("PA-1")].buffer_m, 500.0);
        // Narrower again: resolved. A closed hazard is not looked at.
        g.when(&d, buffer(250.0))
            .then_watched(|_, follow| assert_eq!(resolved(follow), 1))
            .when(&d, json!({"type": "mark_false_alarm", "hazard_id": "HZ-1"}))
            .then_events(|_| {})
            .when(&d, buffer(600.0))
            .then_watched(|_, follow| assert_eq!(raised(follow), []));
    }

    #[test]
    fn an_unknown_asset_or_an_unchanged_buffer_is_refused() {
        let d = dispatcher();
        given(&world())
            .when(&d, buffer(300.0))
            .then_error("not_found");
        given(&world())
            .when(&d, asset())
            .then_events(|_| {})
            .when(&d, buffer(200.0))
            .then_error("invalid_value")
            .when(&d, buffer(5_001.0))
            .then_error("invalid_value");
    }

    #[test]
    fn the_state_keeps_the_newest_corrections() {
        let events: Vec<Event> = (1..=CORRECTIONS_KEPT as u64 + 1)
            .map(|n| capacity_changed(n, 100, 100 + n as u32, 0))
            .collect();
        let g = given(&world()).and(&events);
        let kept = &g.state().corrections;
        assert_eq!(kept.len(), CORRECTIONS_KEPT);
        assert_eq!(kept.front().unwrap().id.as_str(), "CR-2");
        assert_eq!(g.state().next_correction, CORRECTIONS_KEPT as u64 + 1);
        // Numbering goes on past what is kept.
        g.when(&dispatcher(), capacity(90, false)).then_events(|e| {
            let Event::ReferenceCorrected { correction } = &e[0] else {
                panic!()
            };
            assert_eq!(correction.id.as_str(), "CR-1002");
        });
    }
}
