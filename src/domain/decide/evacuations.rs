//! Evacuation orders: issued for a zone whose people at risk come from the grid cells it covers;
//! people leave by one of three ways, each counted once (see `domain::evacuation`); lifted.

use super::{Decision, forbidden, illegal, not_found};
use crate::domain::access::Role;
use crate::domain::bounds::{add_counts, invalid};
use crate::domain::commands::*;
use crate::domain::error::{Bilingual, DomainError};
use crate::domain::evacuation::{DepartureWay, Misfit, OrderCell, allocate, cells_at_risk, minus};
use crate::domain::events::Event;
use crate::domain::geo::Zone;
use crate::domain::ids::*;
use crate::domain::model::*;
use crate::domain::state::{Context, State};

pub(super) fn issue(s: &State, o: &IssueEvacuationOrder, ctx: &Context<'_>) -> Decision {
    if o.population.is_some() {
        return Err(invalid(
            "population is computed from the grid cells the zone covers; leave it out",
            "转移人口由转移区覆盖的网格计算得出，请勿填写 population",
        ));
    }
    for shelter in &o.target_shelters {
        s.shelter(shelter)?;
    }
    let cells = people_at_risk(s, o.zone.points());
    if cells.is_empty() {
        return Err(invalid(
            "the zone covers no people: no populated grid cell lies in it, or all of its people are under active orders or have left already",
            "转移区内没有需转移的人员：没有有人口的网格，或其人员已在生效的转移令之下或已转移",
        ));
    }
    let mut population = 0u32;
    for c in &cells {
        population = add_counts("population", population, c.at_risk)?;
    }
    let id = EvacuationId::from(format!("EV-{}", s.next_evacuation + 1));
    Ok(vec![Event::EvacuationOrdered {
        order: EvacuationOrder {
            id,
            name: o.name.to_string(),
            zone: o.zone.points().to_vec(),
            population,
            evacuated: 0,
            target_shelters: o.target_shelters.clone(),
            status: EvacuationStatus::Active,
            issued_at: ctx.now_ms,
            lifted_at: None,
            cells,
            departures: Default::default(),
        },
    }])
}

/// The cells an order over `zone` (a closed ring) would take, with the people at risk in each —
/// only those with someone at risk. The same figures `issue_evacuation_order` records, so a
/// dispatcher drawing a zone sees beforehand what the order will count.
pub fn people_at_risk(s: &State, zone: &[crate::domain::geo::LonLat]) -> Vec<OrderCell> {
    let zone = Zone::from_ring(zone);
    let mut cells = cells_at_risk(&zone, s.grid_cells.values());
    // A person is counted once: a cell's people already at risk under an active order, already
    // gone under a lifted one, or already rescued from it outside any order, are not at risk
    // again; a later order over the cell takes only the people beyond them.
    for c in &mut cells {
        let (taken, taken_v) = counted_in_cell(s, &c.cell_id);
        let cell = &s.grid_cells[&c.cell_id];
        c.at_risk = c.at_risk.min(cell.population.saturating_sub(taken));
        let free_v = minus(&cell.vulnerable, &taken_v);
        let v = &mut c.vulnerable_at_risk;
        v.elderly_alone = v.elderly_alone.min(free_v.elderly_alone);
        v.disabled = v.disabled.min(free_v.disabled);
        v.pregnant = v.pregnant.min(free_v.pregnant);
        v.unaccompanied_children = v.unaccompanied_children.min(free_v.unaccompanied_children);
        c.vulnerable_at_risk =
            crate::domain::evacuation::cap_total(c.vulnerable_at_risk, c.at_risk);
    }
    cells.retain(|c| c.at_risk > 0);
    cells
}

/// The people of a cell already counted: at risk under an active order, gone under a lifted one,
/// or rescued from it outside any order (and the vulnerable people among them). The rest of its
/// people may be counted once more, no further.
pub(super) fn counted_in_cell(s: &State, cell: &GridCellId) -> (u32, Vulnerable) {
    let mut taken = s.rescued_outside_by_cell.get(cell).copied().unwrap_or(0);
    let mut taken_v = Vulnerable::default();
    for order in s.evacuations.values() {
        let active = order.status == EvacuationStatus::Active;
        for other in order.cells.iter().filter(|o| &o.cell_id == cell) {
            let (n, v) = if active {
                (other.at_risk, other.vulnerable_at_risk)
            } else {
                (other.left.total(), other.vulnerable_left)
            };
            taken = taken.saturating_add(n);
            taken_v = crate::domain::evacuation::plus(&taken_v, &v);
        }
    }
    (taken, taken_v)
}

fn active(o: &EvacuationOrder, to: &'static str) -> Result<(), DomainError> {
    if o.status != EvacuationStatus::Active {
        return Err(illegal("evacuation", &o.id, o.status.into(), to));
    }
    Ok(())
}

/// Progress is no longer typed in: it is counted from check-ins, self-arranged records and
/// rescues. The command stays known so that its resends from old logs are still duplicates.
pub(super) fn record_progress(_: &State, p: &RecordEvacuationProgress) -> Decision {
    Err(invalid(
        format!(
            "evacuation {}: progress is counted from check-ins against the order, self-arranged evacuees and rescues; record those instead",
            p.evacuation_id
        ),
        format!(
            "转移令{}：转移进度由按转移令入住安置点、投亲靠友和救援转移的记录统计，请记录这些",
            p.evacuation_id
        ),
    ))
}

pub(super) fn lift(s: &State, r: &EvacuationRef, ctx: &Context<'_>) -> Decision {
    let o = s.evacuation(&r.evacuation_id)?;
    active(o, "lifted")?;
    Ok(vec![Event::EvacuationLifted {
        evacuation_id: o.id.clone(),
        at: Some(ctx.now_ms),
    }])
}

/// Where people leave from: an order, a cell, a village — any of them, at least one.
pub(super) struct Origin<'a> {
    pub evacuation: Option<&'a EvacuationId>,
    pub cell: Option<&'a GridCellId>,
    pub village: Option<&'a str>,
}

/// Who and how: everything of a departure but where it is from.
pub(super) struct Leaving<'a> {
    pub note: &'a str,
    pub way: DepartureWay,
    pub count: u32,
    pub vulnerable: Vulnerable,
    pub shelter_id: Option<&'a ShelterId>,
    pub casualty_id: Option<&'a CasualtyId>,
}

/// The events of people leaving from `origin`: one `evacuees_left` per (order, cell) they are
/// counted in, filling the oldest active order's cells first. Refused when no active order covers
/// the origin or when more people (or vulnerable people) leave than remain there.
pub(super) fn departures(
    s: &State,
    origin: &Origin<'_>,
    l: &Leaving<'_>,
    ctx: &Context<'_>,
) -> Decision {
    if l.vulnerable.total() > l.count {
        return Err(invalid(
            format!(
                "{} vulnerable people among {} is more than all of them",
                l.vulnerable.total(),
                l.count
            ),
            format!(
                "{}人中有{}名重点人员，多于总人数",
                l.count,
                l.vulnerable.total()
            ),
        ));
    }
    if let Some(cell) = origin.cell
        && !s.grid_cells.contains_key(cell)
    {
        return Err(not_found("grid cell", cell));
    }
    let orders: Vec<&EvacuationOrder> = match origin.evacuation {
        Some(id) => {
            let o = s.evacuation(id)?;
            active(o, "evacuees_left")?;
            vec![o]
        }
        None => s.active_orders().collect(),
    };
    let place = match (origin.cell, origin.village) {
        (Some(c), _) => Bilingual::new(format!("cell {c}"), format!("网格{c}")),
        (None, Some(v)) => Bilingual::new(format!("village {v}"), format!("村{v}")),
        (None, None) => match origin.evacuation {
            Some(id) => Bilingual::new(
                format!("the zone of evacuation {id}"),
                format!("转移令{id}的转移区"),
            ),
            None => {
                return Err(invalid(
                    "name the order (evacuation_id), or the grid cell (from_cell) or village (from_village) the people come from",
                    "请写明转移令（evacuation_id），或转移人员来自的网格（from_cell）或村（from_village）",
                ));
            }
        },
    };
    let matches = |c: &OrderCell| match (origin.cell, origin.village) {
        (Some(cell), _) => &c.cell_id == cell,
        (None, Some(v)) => c.village == v || (!c.village_name.is_empty() && c.village_name == v),
        // The order alone: any of its cells, in order.
        (None, None) => true,
    };
    let mut slots: Vec<(&EvacuationOrder, &OrderCell)> = Vec::new();
    for o in &orders {
        slots.extend(o.cells.iter().filter(|c| matches(c)).map(|c| (*o, c)));
    }
    if slots.is_empty() {
        return Err(match origin.evacuation {
            Some(id) => invalid(
                format!("{place} is not in evacuation {id}'s zone"),
                format!("{}不在转移令{id}的转移区内", place.zh),
            ),
            None => DomainError::NoActiveOrder(place),
        });
    }
    let cells: Vec<&OrderCell> = slots.iter().map(|(_, c)| *c).collect();
    let placed = allocate(&cells, l.count, &l.vulnerable).map_err(|m| match m {
        Misfit::People(remaining) => DomainError::OverPopulation {
            place: match origin.evacuation {
                Some(id) => Bilingual::new(
                    format!("evacuation {id} ({place})"),
                    format!("转移令{id}（{}）", place.zh),
                ),
                None => Bilingual::new(
                    format!("{place} under the active orders"),
                    format!("生效转移令下的{}", place.zh),
                ),
            },
            remaining,
            requested: l.count,
        },
        Misfit::Vulnerable => invalid(
            format!(
                "more vulnerable people of some kind than remain in {place} under active orders"
            ),
            format!("某类重点人员多于生效转移令下{}尚未转移的人数", place.zh),
        ),
    })?;
    let mut evacuated: std::collections::BTreeMap<&EvacuationId, u32> =
        orders.iter().map(|o| (&o.id, o.evacuated)).collect();
    let mut events = Vec::with_capacity(placed.len());
    for (i, n, v) in placed {
        let (order, cell) = slots[i];
        let total = evacuated
            .get_mut(&order.id)
            .expect("every slot's order is listed");
        *total = add_counts("evacuated", *total, n)?;
        events.push(Event::EvacueesLeft {
            evacuation_id: Some(order.id.clone()),
            cell_id: Some(cell.cell_id.clone()),
            way: l.way,
            count: n,
            vulnerable: v,
            shelter_id: l.shelter_id.cloned(),
            casualty_id: l.casualty_id.cloned(),
            evacuated: *total,
            note: l.note.to_string(),
            by: ctx.actor.name.clone(),
            at: ctx.now_ms,
        });
    }
    Ok(events)
}

/// 投亲靠友: people of a cell gone to relatives, recorded by the cell's grid worker (or command).
pub(super) fn self_evacuation(s: &State, r: &RecordSelfEvacuation, ctx: &Context<'_>) -> Decision {
    own_cell(s, &r.cell_id, ctx)?;
    departures(
        s,
        &Origin {
            evacuation: r.evacuation_id.as_ref(),
            cell: Some(&r.cell_id),
            village: None,
        },
        &Leaving {
            way: DepartureWay::SelfArranged,
            count: r.count.get(),
            vulnerable: r.vulnerable.get(),
            shelter_id: None,
            casualty_id: None,
            note: r.note.as_str(),
        },
        ctx,
    )
}

/// A grid worker acts only on the cells bound to their token.
pub(super) fn own_cell(s: &State, cell: &GridCellId, ctx: &Context<'_>) -> Result<(), DomainError> {
    let c = s
        .grid_cells
        .get(cell)
        .ok_or_else(|| not_found("grid cell", cell))?;
    if ctx.actor.role == Role::GridWorker
        && (ctx.actor.grid_worker.is_none() || c.grid_worker_id != ctx.actor.grid_worker)
    {
        return Err(forbidden(
            format!("grid cell {cell} is not one of this grid worker's cells"),
            format!("网格{cell}不是本网格员负责的网格"),
        ));
    }
    Ok(())
}

pub(super) fn report_cell_status(s: &State, r: &ReportCellStatus, ctx: &Context<'_>) -> Decision {
    own_cell(s, &r.cell_id, ctx)?;
    let remaining = r.people_remaining.map(|n| n.get());
    if r.status == crate::domain::evacuation::CellStatus::Clear && remaining.is_some_and(|n| n > 0)
    {
        return Err(invalid(
            "a clear cell has nobody remaining; report `evacuating` while people remain",
            "已清空的网格不应有留守人员；尚有人员时请报告“转移中”",
        ));
    }
    Ok(vec![Event::CellStatusReported {
        cell_id: r.cell_id.clone(),
        report: crate::domain::evacuation::CellReport {
            status: r.status,
            people_remaining: remaining,
            note: r.note.to_string(),
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::evacuation::{DepartureWay, Departures};
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    /// Two cells side by side, 0.01° square: GC-A (将军村, 1,000 people, 10 elderly living alone,
    /// worker GW-1) and GC-B (石门村, 400 people, worker GW-2).
    fn cell(id: &str, x: f64, population: u32, elderly: u32, village: &str, worker: &str) -> Event {
        Event::GridCellDefined {
            cell: GridCell {
                id: GridCellId::from(id),
                name: id.into(),
                ring: [
                    [x, 27.0],
                    [x + 0.01, 27.0],
                    [x + 0.01, 27.01],
                    [x, 27.01],
                    [x, 27.0],
                ]
                .iter()
                .map(|[a, b]| p(*a, *b))
                .collect(),
                population,
                households: population / 3,
                grid_worker: "网格员".into(),
                town: "南洲镇".into(),
                village: village.into(),
                town_name: String::new(),
                village_name: String::new(),
                grid_worker_id: Some(GridWorkerId::from(worker)),
                vulnerable: Vulnerable {
                    elderly_alone: elderly,
                    ..Vulnerable::default()
                },
            },
        }
    }

    fn people() -> Vec<Event> {
        let mut w = world();
        w.push(cell("GC-A", 113.00, 1000, 10, "将军村", "GW-1"));
        w.push(cell("GC-B", 113.01, 400, 0, "石门村", "GW-2"));
        w.push(Event::ShelterOpenChanged {
            shelter_id: ShelterId::from("S-1"),
            open: true,
            flood_risk_override: None,
        });
        w
    }

    /// All of GC-A and the west half of GC-B.
    const ZONE: [[f64; 2]; 5] = [
        [113.0, 27.0],
        [113.015, 27.0],
        [113.015, 27.01],
        [113.0, 27.01],
        [113.0, 27.0],
    ];

    fn issue(zone: Value) -> Value {
        json!({"type": "issue_evacuation_order", "name": "将军村", "zone": zone,
               "target_shelters": ["S-1"]})
    }

    /// EV-1 as `issue(ZONE)` makes it.
    fn ordered() -> Event {
        given(&people())
            .when(&dispatcher(), issue(json!(ZONE)))
            .then_events(|_| {})
            .state()
            .evacuations[&EvacuationId::from("EV-1")]
            .clone()
            .into_event()
    }

    trait IntoEvent {
        fn into_event(self) -> Event;
    }

    impl IntoEvent for EvacuationOrder {
        fn into_event(self) -> Event {
            Event::EvacuationOrdered { order: self }
        }
    }

    fn check_in(count: u32, origin: Value) -> Value {
        let mut c = json!({"type": "check_in", "shelter_id": "S-1", "count": count,
                           "allow_over_capacity": true});
        c.as_object_mut()
            .unwrap()
            .extend(origin.as_object().unwrap().clone());
        c
    }

    fn order(g: &Given) -> &EvacuationOrder {
        &g.state().evacuations[&EvacuationId::from("EV-1")]
    }

    #[test]
    fn an_orders_people_at_risk_come_from_the_cells_it_covers_by_area_share() {
        let g = given(&people())
            .when(&dispatcher(), issue(json!(ZONE)))
            .then_events(|events| {
                let [Event::EvacuationOrdered { order }] = events else {
                    panic!("{events:?}")
                };
                assert_eq!(order.id.as_str(), "EV-1");
                let cells: Vec<(&str, u32)> = order
                    .cells
                    .iter()
                    .map(|c| (c.cell_id.as_str(), c.at_risk))
                    .collect();
                assert_eq!(cells, [("GC-A", 1000), ("GC-B", 200)]);
                assert_eq!(order.cells[0].vulnerable_at_risk.elderly_alone, 10);
                assert_eq!((order.population, order.evacuated), (1200, 0));
            });
        assert_eq!(order(&g).remaining(), 1200);
    }

    #[test]
    fn an_order_is_refused_with_a_typed_population_an_empty_zone_or_unknown_shelters() {
        let d = dispatcher();
        let mut typed = issue(json!(ZONE));
        typed["population"] = json!(500);
        given(&people()).when(&d, typed).then_error("invalid_value");
        let far = json!([[114.0, 28.0], [114.1, 28.0], [114.1, 28.1], [114.0, 28.0]]);
        given(&people())
            .when(&d, issue(far))
            .then_error("invalid_value");
        let open_ring = json!([[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.1]]);
        given(&people())
            .when(&d, issue(open_ring))
            .then_error("invalid_value");
        let mut unknown = issue(json!(ZONE));
        unknown["target_shelters"] = json!(["S-404"]);
        given(&people()).when(&d, unknown).then_error("not_found");
    }

    #[test]
    fn a_later_order_over_the_same_cells_takes_only_the_people_beyond_the_active_one() {
        let whole_b = json!([
            [113.0, 27.0],
            [113.02, 27.0],
            [113.02, 27.01],
            [113.0, 27.01],
            [113.0, 27.0]
        ]);
        given(&people())
            .and(&[ordered()])
            .when(&dispatcher(), issue(whole_b))
            .then_events(|events| {
                let [Event::EvacuationOrdered { order }] = events else {
                    panic!("{events:?}")
                };
                // GC-A is all under EV-1 already; of GC-B, the 200 beyond EV-1's half.
                let cells: Vec<(&str, u32)> = order
                    .cells
                    .iter()
                    .map(|c| (c.cell_id.as_str(), c.at_risk))
                    .collect();
                assert_eq!(cells, [("GC-B", 200)]);
            });
    }

    #[test]
    fn people_checked_in_against_an_order_leave_it_once() {
        let d = dispatcher();
        let g = given(&people())
            .and(&[ordered()])
            .when(
                &d,
                check_in(300, json!({"evacuation_id": "EV-1", "from_cell": "GC-A"})),
            )
            .then(&[
                Event::EvacueesCheckedIn {
                    shelter_id: ShelterId::from("S-1"),
                    count: 300,
                    occupancy: 300,
                    over_capacity: true,
                },
                Event::EvacueesLeft {
                    evacuation_id: Some(EvacuationId::from("EV-1")),
                    cell_id: Some(GridCellId::from("GC-A")),
                    way: DepartureWay::Shelter,
                    count: 300,
                    vulnerable: Vulnerable::default(),
                    shelter_id: Some(ShelterId::from("S-1")),
                    casualty_id: None,
                    evacuated: 300,
                    note: String::new(),
                    by: "desk-1".into(),
                    at: NOW,
                },
            ]);
        assert_eq!((order(&g).evacuated, order(&g).remaining()), (300, 900));
        assert_eq!(order(&g).cells[0].remaining(), 700);
        assert_eq!(order(&g).cells[1].remaining(), 200);
        // GC-B has 200 left: 201 from it is refused whole (no check-in either).
        let g = g
            .when(&d, check_in(201, json!({"from_cell": "GC-B"})))
            .then_error("over_population");
        assert_eq!(g.state().shelters[&ShelterId::from("S-1")].occupancy, 300);
    }

    #[test]
    fn a_check_in_is_matched_to_the_active_order_by_village_or_cell() {
        let d = dispatcher();
        // By village: 将军村 is GC-A, under EV-1.
        let g = given(&people())
            .and(&[ordered()])
            .when(&d, check_in(50, json!({"from_village": "将军村"})))
            .then_events(|events| {
                assert!(matches!(
                    &events[1],
                    Event::EvacueesLeft { evacuation_id: Some(e), cell_id: Some(c), count: 50, .. }
                        if e.as_str() == "EV-1" && c.as_str() == "GC-A"
                ));
            });
        assert_eq!(order(&g).departures.shelter, 50);
        // No active order covers a village or cell outside every zone, nor anything at all once
        // the order is lifted.
        given(&people())
            .and(&[ordered()])
            .when(&d, check_in(5, json!({"from_village": "桃花村"})))
            .then_error("no_active_order");
        given(&people())
            .and(&[
                ordered(),
                Event::EvacuationLifted {
                    evacuation_id: EvacuationId::from("EV-1"),
                    at: Some(NOW),
                },
            ])
            .when(&d, check_in(5, json!({"from_cell": "GC-A"})))
            .then_error("no_active_order");
        // A cell that is not in the named order's zone, and one that does not exist.
        given(&people())
            .and(&[ordered()])
            .when(
                &d,
                check_in(
                    5,
                    json!({"evacuation_id": "EV-1", "from_village": "桃花村"}),
                ),
            )
            .then_error("invalid_value");
        given(&people())
            .and(&[ordered()])
            .when(&d, check_in(5, json!({"from_cell": "GC-404"})))
            .then_error("not_found");
        // The order alone: its cells in order (GC-A first).
        let g = given(&people())
            .and(&[ordered()])
            .when(&d, check_in(5, json!({"evacuation_id": "EV-1"})))
            .then_events(|e| assert_eq!(e.len(), 2));
        assert_eq!(order(&g).cells[0].remaining(), 995);
    }

    #[test]
    fn a_check_in_without_an_origin_only_fills_the_shelter() {
        let g = given(&people())
            .and(&[ordered()])
            .when(&field("T-07"), check_in(20, json!({})))
            .then_events(|events| {
                assert!(matches!(
                    events,
                    [Event::EvacueesCheckedIn { count: 20, .. }]
                ));
            });
        assert_eq!(order(&g).evacuated, 0);
        given(&people())
            .and(&[ordered()])
            .when(
                &dispatcher(),
                check_in(20, json!({"vulnerable": {"pregnant": 1}})),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn the_three_ways_together_never_count_more_people_than_were_at_risk() {
        let d = dispatcher();
        let self_arranged = |n: u32| {
            json!({"type": "record_self_evacuation", "cell_id": "GC-B", "count": n,
                   "note": "投亲靠友 到株洲市区"})
        };
        let g = given(&people())
            .and(&[ordered()])
            .when(&d, check_in(150, json!({"from_cell": "GC-B"})))
            .then_events(|_| {})
            .when(&grid_worker("GW-2"), self_arranged(50))
            .then(&[Event::EvacueesLeft {
                evacuation_id: Some(EvacuationId::from("EV-1")),
                cell_id: Some(GridCellId::from("GC-B")),
                way: DepartureWay::SelfArranged,
                count: 50,
                vulnerable: Vulnerable::default(),
                shelter_id: None,
                casualty_id: None,
                evacuated: 200,
                note: "投亲靠友 到株洲市区".into(),
                by: "phone-GW-2".into(),
                at: NOW,
            }]);
        assert_eq!(
            order(&g).cells[1].left,
            Departures {
                shelter: 150,
                self_arranged: 50,
                rescued: 0
            }
        );
        assert_eq!(order(&g).cells[1].remaining(), 0);
        // GC-B is empty under EV-1: neither way counts one more person from it.
        g.when(&grid_worker("GW-2"), self_arranged(1))
            .then_error("over_population")
            .when(&d, check_in(1, json!({"from_cell": "GC-B"})))
            .then_error("over_population");
    }

    #[test]
    fn a_grid_worker_records_only_for_their_own_cells() {
        let self_a = json!({"type": "record_self_evacuation", "cell_id": "GC-A", "count": 3});
        given(&people())
            .and(&[ordered()])
            .when(&grid_worker("GW-2"), self_a.clone())
            .then_error("forbidden");
        given(&people())
            .and(&[ordered()])
            .when(&grid_worker("GW-1"), self_a)
            .then_events(|e| assert_eq!(e.len(), 1));
        // A grid worker's phone does not run shelters or orders.
        given(&people())
            .and(&[ordered()])
            .when(
                &grid_worker("GW-1"),
                check_in(1, json!({"from_cell": "GC-A"})),
            )
            .then_error("forbidden");
        given(&people())
            .when(&grid_worker("GW-1"), issue(json!(ZONE)))
            .then_error("forbidden");
    }

    #[test]
    fn vulnerable_people_are_counted_per_cell_until_none_remain() {
        let d = dispatcher();
        let g = given(&people())
            .and(&[ordered()])
            .when(
                &d,
                check_in(
                    4,
                    json!({"from_cell": "GC-A", "vulnerable": {"elderly_alone": 4}}),
                ),
            )
            .then_events(|_| {});
        assert_eq!(order(&g).cells[0].vulnerable_remaining().elderly_alone, 6);
        // More than remain of a kind, or more vulnerable people than people, is refused.
        g.when(
            &d,
            check_in(
                20,
                json!({"from_cell": "GC-A", "vulnerable": {"elderly_alone": 7}}),
            ),
        )
        .then_error("invalid_value")
        .when(
            &d,
            check_in(
                1,
                json!({"from_cell": "GC-A", "vulnerable": {"elderly_alone": 2}}),
            ),
        )
        .then_error("invalid_value");
    }

    #[test]
    fn progress_is_no_longer_typed_in_and_a_lifted_order_takes_no_departures() {
        let d = dispatcher();
        given(&people())
            .and(&[ordered()])
            .when(
                &d,
                json!({"type": "record_evacuation_progress", "evacuation_id": "EV-1", "count": 5}),
            )
            .then_error("invalid_value");
        let lift = json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"});
        let lifted = given(&people())
            .and(&[ordered()])
            .when(&d, lift.clone())
            .then(&[Event::EvacuationLifted {
                evacuation_id: EvacuationId::from("EV-1"),
                at: Some(NOW),
            }]);
        assert_eq!(order(&lifted).status, EvacuationStatus::Lifted);
        assert_eq!(order(&lifted).lifted_at, Some(NOW));
        lifted
            .when(
                &d,
                check_in(1, json!({"evacuation_id": "EV-1", "from_cell": "GC-A"})),
            )
            .then_error("illegal_transition")
            .when(&d, lift)
            .then_error("illegal_transition");
    }

    #[test]
    fn a_grid_worker_reports_the_status_of_their_cells() {
        let report = |cell: &str, status: &str, remaining: Option<u32>| {
            json!({"type": "report_cell_status", "cell_id": cell, "status": status,
                   "people_remaining": remaining, "note": "王奶奶 needs a boat"})
        };
        let g = given(&people())
            .when(&grid_worker("GW-1"), report("GC-A", "evacuating", Some(12)))
            .then_events(|e| assert_eq!(e.len(), 1));
        let r = &g.state().cell_reports[&GridCellId::from("GC-A")];
        assert_eq!(
            (r.people_remaining, r.by.as_str()),
            (Some(12), "phone-GW-1")
        );
        g.when(&grid_worker("GW-1"), report("GC-A", "clear", Some(3)))
            .then_error("invalid_value")
            .when(&grid_worker("GW-1"), report("GC-B", "clear", None))
            .then_error("forbidden")
            .when(&field("T-07"), report("GC-A", "clear", None))
            .then_error("forbidden");
    }

    #[test]
    fn a_person_is_at_risk_once_across_lifted_orders_and_rescues_outside_them() {
        let d = dispatcher();
        let whole_a = json!([
            [113.0, 27.0],
            [113.01, 27.0],
            [113.01, 27.01],
            [113.0, 27.01],
            [113.0, 27.0]
        ]);
        // 300 leave GC-A under EV-1, which is lifted; EV-2 over GC-A takes the 700 others.
        let g = given(&people())
            .and(&[ordered()])
            .when(
                &d,
                check_in(
                    300,
                    json!({"from_cell": "GC-A", "vulnerable": {"elderly_alone": 4}}),
                ),
            )
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"}),
            )
            .then_events(|_| {})
            .when(&d, issue(whole_a.clone()))
            .then_events(|events| {
                let [Event::EvacuationOrdered { order }] = events else {
                    panic!("{events:?}")
                };
                assert_eq!((order.cells[0].at_risk, order.population), (700, 700));
                assert_eq!(order.cells[0].vulnerable_at_risk.elderly_alone, 6);
            });
        assert_eq!(g.state().evacuations.len(), 2);
        let lifted = &g.state().evacuations[&EvacuationId::from("EV-1")];
        assert_eq!((lifted.remaining(), lifted.released()), (0, 900));
        // Two people rescued from GC-A while no order covers it have left it too.
        let rescued_outside = given(&people())
            .when(
                &d,
                json!({"type": "record_casualty", "kind": "trapped", "count": 2,
                       "position": [113.005, 27.005], "source": "GW-1"}),
            )
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 2}),
            )
            .then_events(|_| {})
            .when(&d, issue(whole_a))
            .then_events(|events| {
                let [Event::EvacuationOrdered { order }] = events else {
                    panic!("{events:?}")
                };
                assert_eq!(order.cells[0].at_risk, 998);
            });
        assert_eq!(rescued_outside.state().rescued_outside_orders, 2);
    }

    #[test]
    fn a_rescue_from_a_cell_already_counted_empty_is_recorded_but_not_counted_again() {
        let d = dispatcher();
        let trapped = |x: f64| {
            json!({"type": "record_casualty", "kind": "trapped", "count": 3,
                   "position": [x, 27.005], "source": "GW"})
        };
        // All of GC-A (under EV-1) is recorded as gone to relatives; then a boat brings 3 out.
        given(&people())
            .and(&[ordered()])
            .when(
                &grid_worker("GW-1"),
                json!({"type": "record_self_evacuation", "cell_id": "GC-A", "count": 1000}),
            )
            .then_events(|_| {})
            .when(&d, trapped(113.005))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 3}),
            )
            .then_events(|events| {
                assert!(
                    matches!(
                        events,
                        [Event::PeopleRescued {
                            count: 3,
                            rescued: 3,
                            uncounted: 3,
                            ..
                        }]
                    ),
                    "{events:?}"
                );
            });
        // GC-B's 200 under EV-1 are gone too, but its other 200 are under no order: 3 rescued
        // there are counted, outside any order.
        given(&people())
            .and(&[ordered()])
            .when(
                &grid_worker("GW-2"),
                json!({"type": "record_self_evacuation", "cell_id": "GC-B", "count": 200}),
            )
            .then_events(|_| {})
            .when(&d, trapped(113.012))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 3}),
            )
            .then_events(|events| {
                assert!(
                    matches!(
                        events,
                        [
                            Event::PeopleRescued { uncounted: 0, .. },
                            Event::EvacueesLeft {
                                evacuation_id: None,
                                count: 3,
                                ..
                            }
                        ]
                    ),
                    "{events:?}"
                );
            });
    }
}
