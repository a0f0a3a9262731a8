//! People dead, missing, injured and trapped: recorded, corrected with a reason (every change an
//! event, kept with the record), rescued from trapped positions (counted as evacuated, once), and
//! the figures confirmed by command so that a zero is a recorded fact.

use super::evacuations::{Leaving, Origin, departures};
use super::{Decision, forbidden, not_found};
use crate::domain::access::Role;
use crate::domain::bounds::{check_device_time, invalid};
use crate::domain::casualties::*;
use crate::domain::commands::*;
use crate::domain::error::{Bilingual, DomainError};
use crate::domain::evacuation::DepartureWay;
use crate::domain::events::Event;
use crate::domain::ids::*;
use crate::domain::model::Vulnerable;
use crate::domain::state::{Context, State};
use crate::domain::vocabulary::Named;

impl State {
    fn casualty(&self, id: &CasualtyId) -> Result<&CasualtyRecord, DomainError> {
        self.casualties
            .get(id)
            .ok_or_else(|| not_found("casualty record", id))
    }
}

pub(super) fn record(s: &State, r: &RecordCasualty, ctx: &Context<'_>) -> Decision {
    if r.position.is_none() && r.cell_id.is_none() && r.place.as_str().trim().is_empty() {
        return Err(invalid(
            "say where: a position, a place, or both",
            "请写明地点：位置坐标或地名，或两者",
        ));
    }
    let from_position = r.position.and_then(|p| s.cell_at(p)).map(|c| c.id.clone());
    let cell_id = match (&r.cell_id, from_position) {
        (Some(c), _) if !s.grid_cells.contains_key(c) => {
            return Err(not_found("grid cell", c));
        }
        (Some(c), Some(p)) if *c != p => {
            return Err(invalid(
                format!("position lies in grid cell {p}, not {c}"),
                format!("位置在网格{p}内，不在{c}内"),
            ));
        }
        (Some(c), None) if r.position.is_some() => {
            return Err(invalid(
                format!("position lies in no grid cell, not in {c}"),
                format!("位置不在任何网格内，不在{c}内"),
            ));
        }
        (Some(c), _) => Some(c.clone()),
        (None, p) => p,
    };
    if r.source.as_str().trim().is_empty() {
        return Err(invalid(
            "source must say who reported it",
            "source 须写明报告来源",
        ));
    }
    let occurred_at = match r.occurred_at {
        Some(t) => {
            check_device_time("occurred_at", t.get(), ctx.now_ms)?;
            t.get()
        }
        None => ctx.now_ms,
    };
    let id = CasualtyId::from(format!("CA-{}", s.next_casualty + 1));
    Ok(vec![Event::CasualtyRecorded {
        record: CasualtyRecord {
            id,
            kind: r.kind,
            count: r.count.get(),
            rescued: 0,
            position: r.position,
            place: r.place.to_string(),
            cell_id,
            occurred_at,
            source: r.source.to_string(),
            note: r.note.to_string(),
            recorded_at: ctx.now_ms,
            recorded_by: ctx.actor.name.clone(),
            corrections: Vec::new(),
        },
    }])
}

pub(super) fn correct(s: &State, c: &CorrectCasualty, ctx: &Context<'_>) -> Decision {
    let r = s.casualty(&c.casualty_id)?;
    if c.reason.as_str().trim().is_empty() {
        return Err(invalid("a correction needs its reason", "更正须写明理由"));
    }
    let to_kind = c.kind.unwrap_or(r.kind);
    let to_count = c.count.map_or(r.count, |n| n.get());
    if (to_kind, to_count) == (r.kind, r.count) {
        return Err(invalid(
            format!(
                "casualty record {} already says {} {}",
                r.id,
                to_count,
                <&str>::from(to_kind)
            ),
            format!("伤亡记录{}已是{}{}人", r.id, to_kind.zh(), to_count),
        ));
    }
    if r.rescued > 0 && (to_kind != CasualtyKind::Trapped || to_count < r.rescued) {
        return Err(invalid(
            format!(
                "{} people were already brought out of {}: it stays a trapped record of at least {}",
                r.rescued, r.id, r.rescued
            ),
            format!(
                "{}已有{}人被救出：它仍是被困记录，人数不少于{}",
                r.id, r.rescued, r.rescued
            ),
        ));
    }
    Ok(vec![Event::CasualtyCorrected {
        casualty_id: r.id.clone(),
        correction: CasualtyCorrection {
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
            from_kind: r.kind,
            to_kind,
            from_count: r.count,
            to_count,
            reason: c.reason.to_string(),
        },
    }])
}

/// People brought out of a trapped position: the record's count of still trapped goes down, the
/// people are counted as evacuated (under the active order covering where they were trapped, or
/// as rescued outside any order), and if a shelter is named they are checked in there.
pub(super) fn rescue(s: &State, r: &RecordRescue, ctx: &Context<'_>) -> Decision {
    let rec = s.casualty(&r.casualty_id)?;
    if rec.kind != CasualtyKind::Trapped {
        return Err(invalid(
            format!(
                "casualty record {} is of people {}, not trapped",
                rec.id,
                <&str>::from(rec.kind)
            ),
            format!(
                "伤亡记录{}记的是{}人员，不是被困人员",
                rec.id,
                rec.kind.zh()
            ),
        ));
    }
    if ctx.actor.role == Role::Field {
        match &r.team_id {
            Some(t) if ctx.actor.is_field_of(t) => {}
            _ => {
                return Err(forbidden(
                    "a field tablet records the rescues of its own team: set team_id to it",
                    "现场终端只能记录本队的救援：team_id 须为本队",
                ));
            }
        }
    }
    if let Some(t) = &r.team_id {
        s.team(t)?;
    }
    let count = r.count.get();
    if count > rec.still_trapped() {
        return Err(DomainError::OverPopulation {
            place: Bilingual::new(
                format!("trapped record {}", rec.id),
                format!("被困记录{}", rec.id),
            ),
            remaining: rec.still_trapped(),
            requested: count,
        });
    }
    // Counted once: first under the active orders covering the cell, up to the people who
    // remain there; then, outside every order, up to the cell's people nobody has counted yet
    // (not at risk under an active order, not gone under a lifted one, not rescued before).
    // Beyond that they were counted as gone another way already: recorded, not counted again.
    // Without a cell they count district-wide only.
    let (under_orders, outside) = match &rec.cell_id {
        Some(cell) => {
            let remaining = s
                .active_orders()
                .flat_map(|o| &o.cells)
                .filter(|x| &x.cell_id == cell)
                .fold(0u32, |n, x| n.saturating_add(x.remaining()));
            let a = count.min(remaining);
            let population = s.grid_cells.get(cell).map_or(0, |c| c.population);
            let free = population.saturating_sub(super::evacuations::counted_in_cell(s, cell).0);
            (a, (count - a).min(free))
        }
        None => (0, count),
    };
    let mut events = vec![Event::PeopleRescued {
        casualty_id: rec.id.clone(),
        count,
        rescued: rec.rescued + count,
        uncounted: count - under_orders - outside,
        team_id: r.team_id.clone(),
        at: ctx.now_ms,
    }];
    if let Some(shelter_id) = &r.shelter_id {
        events.extend(super::shelters::check_in(
            s,
            &CheckIn {
                shelter_id: shelter_id.clone(),
                count: r.count,
                allow_over_capacity: r.allow_over_capacity,
                evacuation_id: None,
                from_cell: None,
                from_village: None,
                vulnerable: VulnerableCounts::default(),
            },
            ctx,
        )?);
    }
    if let (Some(cell), true) = (&rec.cell_id, under_orders > 0) {
        events.extend(departures(
            s,
            &Origin {
                evacuation: None,
                cell: Some(cell),
                village: None,
            },
            &Leaving {
                note: "",
                way: DepartureWay::Rescued,
                count: under_orders,
                vulnerable: Vulnerable::default(),
                shelter_id: r.shelter_id.as_ref(),
                casualty_id: Some(&rec.id),
            },
            ctx,
        )?);
    }
    if outside > 0 {
        events.push(Event::EvacueesLeft {
            evacuation_id: None,
            cell_id: rec.cell_id.clone(),
            way: DepartureWay::Rescued,
            count: outside,
            vulnerable: Vulnerable::default(),
            shelter_id: r.shelter_id.clone(),
            casualty_id: Some(rec.id.clone()),
            evacuated: 0,
            note: String::new(),
            by: ctx.actor.name.clone(),
            at: ctx.now_ms,
        });
    }
    Ok(events)
}

pub(super) fn confirm(s: &State, c: &ConfirmCasualties, ctx: &Context<'_>) -> Decision {
    Ok(vec![Event::CasualtiesConfirmed {
        confirmation: CasualtyConfirmation {
            figures: CasualtyFigures::of(s.casualties.values()),
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
            note: c.note.to_string(),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::casualties::*;
    use crate::domain::evacuation::DepartureWay;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    /// One cell (GC-A, 将军村, 1,000 people) with order EV-1 over all of it, shelter S-1 open.
    fn world_with_order() -> Vec<Event> {
        let ring: Vec<_> = [
            [113.0, 27.0],
            [113.01, 27.0],
            [113.01, 27.01],
            [113.0, 27.01],
            [113.0, 27.0],
        ]
        .iter()
        .map(|[a, b]| p(*a, *b))
        .collect();
        let mut w = world();
        w.push(Event::GridCellDefined {
            cell: GridCell {
                id: GridCellId::from("GC-A"),
                name: "将军村一组".into(),
                ring: ring.clone(),
                population: 1000,
                households: 340,
                grid_worker: "王".into(),
                town: "南洲镇".into(),
                village: "将军村".into(),
                town_name: String::new(),
                village_name: String::new(),
                grid_worker_id: Some(GridWorkerId::from("GW-1")),
                vulnerable: Vulnerable::default(),
            },
        });
        w.push(Event::ShelterOpenChanged {
            shelter_id: ShelterId::from("S-1"),
            open: true,
            flood_risk_override: None,
        });
        let order = given(&w)
            .when(
                &dispatcher(),
                json!({"type": "issue_evacuation_order", "name": "将军村", "zone": ring}),
            )
            .then_events(|_| {})
            .state()
            .evacuations[&EvacuationId::from("EV-1")]
            .clone();
        w.push(Event::EvacuationOrdered { order });
        w
    }

    fn record(kind: &str, count: u32, position: [f64; 2]) -> Value {
        json!({"type": "record_casualty", "kind": kind, "count": count, "position": position,
               "place": "将军村三组", "source": "南洲镇派出所"})
    }

    const IN_ZONE: [f64; 2] = [113.005, 27.005];
    const OUTSIDE: [f64; 2] = [113.2, 27.3];

    #[test]
    fn a_record_says_what_where_when_and_who_reported_it() {
        let g = given(&world_with_order())
            .when(&grid_worker("GW-1"), record("missing", 2, IN_ZONE))
            .then_events(|e| assert_eq!(e.len(), 1));
        let r = &g.state().casualties[&CasualtyId::from("CA-1")];
        assert_eq!((r.kind, r.count), (CasualtyKind::Missing, 2));
        assert_eq!(r.cell_id.as_ref().map(|c| c.as_str()), Some("GC-A"));
        assert_eq!((r.occurred_at, r.recorded_at), (NOW, NOW));
        assert_eq!(r.recorded_by, "phone-GW-1");
        let d = dispatcher();
        given(&world())
            .when(
                &d,
                json!({"type": "record_casualty", "kind": "dead", "count": 1, "source": "x"}),
            )
            .then_error("invalid_value");
        given(&world())
            .when(&d, json!({"type": "record_casualty", "kind": "dead", "count": 1, "place": "x", "source": " "}))
            .then_error("invalid_value");
        given(&world())
            .when(&d, json!({"type": "record_casualty", "kind": "dead", "count": 0, "place": "x", "source": "y"}))
            .then_error("invalid_value");
        given(&world())
            .when(&d, json!({"type": "record_casualty", "kind": "drowned", "count": 1, "place": "x", "source": "y"}))
            .then_error("invalid_field");
    }

    #[test]
    fn a_missing_person_found_alive_moves_the_count_with_an_audited_correction() {
        let d = dispatcher();
        let found = json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 1,
                           "reason": "李某 found alive at relatives in 株洲"});
        let g = given(&world_with_order())
            .when(&d, record("missing", 2, IN_ZONE))
            .then_events(|_| {})
            .when(&d, found)
            .then(&[Event::CasualtyCorrected {
                casualty_id: CasualtyId::from("CA-1"),
                correction: CasualtyCorrection {
                    at: NOW,
                    by: "desk-1".into(),
                    from_kind: CasualtyKind::Missing,
                    to_kind: CasualtyKind::Missing,
                    from_count: 2,
                    to_count: 1,
                    reason: "李某 found alive at relatives in 株洲".into(),
                },
            }]);
        let r = &g.state().casualties[&CasualtyId::from("CA-1")];
        assert_eq!((r.count, r.corrections.len()), (1, 1));
        assert_eq!(
            CasualtyFigures::of(g.state().casualties.values()).missing,
            1
        );
        // The last one found injured: the record changes kind, and both changes are kept.
        let g = g
            .when(
                &d,
                json!({"type": "correct_casualty", "casualty_id": "CA-1", "kind": "injured",
                       "reason": "found with a broken leg"}),
            )
            .then_events(|_| {});
        let f = CasualtyFigures::of(g.state().casualties.values());
        assert_eq!((f.missing, f.injured), (0, 1));
        assert_eq!(
            g.state().casualties[&CasualtyId::from("CA-1")]
                .corrections
                .len(),
            2
        );
        // A correction needs a reason and a change, and only command makes one.
        g.when(&d, json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 1, "reason": ""}))
            .then_error("invalid_value")
            .when(&d, json!({"type": "correct_casualty", "casualty_id": "CA-1", "kind": "injured", "reason": "again"}))
            .then_error("invalid_value")
            .when(&field("T-07"), json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 0, "reason": "x"}))
            .then_error("forbidden")
            .when(&d, json!({"type": "correct_casualty", "casualty_id": "CA-9", "count": 0, "reason": "x"}))
            .then_error("not_found");
    }

    #[test]
    fn trapped_people_are_a_rescue_task_and_are_evacuated_once_when_brought_out() {
        let d = dispatcher();
        let g = given(&world_with_order())
            .when(&d, record("trapped", 5, IN_ZONE))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "create_assignment", "team_id": "T-07",
                       "target": {"kind": "trapped", "casualty_id": "CA-1"}}),
            )
            .then_events(|e| assert_eq!(e.len(), 1))
            .when(
                &field("T-07"),
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 3,
                       "team_id": "T-07", "shelter_id": "S-1", "allow_over_capacity": true}),
            )
            .then_events(|events| {
                assert!(matches!(
                    events[0],
                    Event::PeopleRescued {
                        count: 3,
                        rescued: 3,
                        ..
                    }
                ));
                assert!(matches!(
                    events[1],
                    Event::EvacueesCheckedIn {
                        count: 3,
                        occupancy: 3,
                        ..
                    }
                ));
                let Event::EvacueesLeft {
                    evacuation_id,
                    way,
                    count,
                    evacuated,
                    casualty_id,
                    ..
                } = &events[2]
                else {
                    panic!("{events:?}")
                };
                assert_eq!(evacuation_id.as_ref().unwrap().as_str(), "EV-1");
                assert_eq!((*way, *count, *evacuated), (DepartureWay::Rescued, 3, 3));
                assert_eq!(casualty_id.as_ref().unwrap().as_str(), "CA-1");
                assert_eq!(events.len(), 3, "counted once: not again as a check-in");
            });
        let s = g.state();
        let order = &s.evacuations[&EvacuationId::from("EV-1")];
        assert_eq!(
            (
                order.evacuated,
                order.departures.rescued,
                order.departures.shelter
            ),
            (3, 3, 0)
        );
        let f = CasualtyFigures::of(s.casualties.values());
        assert_eq!((f.trapped, f.rescued), (2, 3));
        // Not more than are still trapped; not by another team's tablet; not from a dead record.
        g.when(&d, json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 3}))
            .then_error("over_population")
            .when(&field("T-07"), json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 1, "team_id": "T-01"}))
            .then_error("forbidden")
            .when(&d, json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 2, "reason": "miscount"}))
            .then_error("invalid_value")
            .when(&d, record("dead", 1, IN_ZONE))
            .then_events(|_| {})
            .when(&d, json!({"type": "record_rescue", "casualty_id": "CA-2", "count": 1}))
            .then_error("invalid_value");
    }

    #[test]
    fn people_rescued_outside_every_order_are_still_counted_once() {
        let d = dispatcher();
        let g = given(&world_with_order())
            .when(&d, record("trapped", 2, OUTSIDE))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 2}),
            )
            .then_events(|events| {
                assert!(matches!(
                    &events[1],
                    Event::EvacueesLeft {
                        evacuation_id: None,
                        count: 2,
                        evacuated: 0,
                        ..
                    }
                ));
            });
        assert_eq!(g.state().rescued_outside_orders, 2);
        assert_eq!(
            g.state().evacuations[&EvacuationId::from("EV-1")].evacuated,
            0
        );
    }

    #[test]
    fn confirming_the_figures_makes_zero_a_recorded_fact() {
        given(&world())
            .when(
                &dispatcher(),
                json!({"type": "confirm_casualties", "note": "18:00 all towns reported"}),
            )
            .then(&[Event::CasualtiesConfirmed {
                confirmation: CasualtyConfirmation {
                    figures: CasualtyFigures::default(),
                    at: NOW,
                    by: "desk-1".into(),
                    note: "18:00 all towns reported".into(),
                },
            }])
            .when(&field("T-07"), json!({"type": "confirm_casualties"}))
            .then_error("forbidden");
    }
}
