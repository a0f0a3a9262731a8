//! Shelters (安置点): opening and closing, occupancy (check-in and check-out) and supplies.

use super::evacuations::{Leaving, Origin, departures};
use super::{Decision, illegal, not_found};
use crate::domain::bounds::{add_counts, invalid, moved_stock};
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::evacuation::DepartureWay;
use crate::domain::events::Event;
use crate::domain::flood::{FloodRiskOverride, FloodZone};
use crate::domain::ids::ShelterId;
use crate::domain::model::*;
use crate::domain::state::{Context, State};

/// Whether a shelter is open, by its name in messages.
#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Opening {
    Open,
    Closed,
}

impl From<bool> for Opening {
    fn from(open: bool) -> Opening {
        if open { Opening::Open } else { Opening::Closed }
    }
}

pub(super) fn set_open(s: &State, id: &ShelterId, open: bool) -> Decision {
    let sh = s.shelter(id)?;
    if sh.open == open {
        let (from, to) = (Opening::from(sh.open), Opening::from(open));
        return Err(illegal("shelter", &sh.id, from.into(), to.into()));
    }
    Ok(vec![Event::ShelterOpenChanged {
        shelter_id: sh.id.clone(),
        open,
        flood_risk_override: None,
    }])
}

/// Opens a shelter. Inside the flood zone of a breached levee (an open breach, or an open
/// incident, on it) a shelter that is not on high ground is refused — people would be sent into
/// the flood — unless the command overrides the flood risk with a reason, which the event keeps
/// with the zones it overrode.
pub(super) fn open(s: &State, o: &OpenShelter) -> Decision {
    let mut events = set_open(s, &o.shelter_id, true)?;
    let sh = s.shelter(&o.shelter_id)?;
    let zones = s.breach_flood_zones_at(sh);
    if zones.is_empty() {
        return Ok(events);
    }
    let reason = o
        .override_flood_risk
        .as_ref()
        .map(|r| r.trim())
        .unwrap_or("");
    if reason.is_empty() {
        let join = |f: fn(&FloodZone) -> &str| {
            let mut v: Vec<&str> = zones.iter().map(|z| f(z)).collect();
            v.dedup();
            v.join(", ")
        };
        return Err(DomainError::ShelterInFloodArea {
            shelter: sh.id.to_string(),
            zones: join(|z| z.id.as_str()),
            levees: join(|z| z.levee_id.as_str()),
        });
    }
    if let Some(Event::ShelterOpenChanged {
        flood_risk_override,
        ..
    }) = events.first_mut()
    {
        *flood_risk_override = Some(FloodRiskOverride {
            reason: reason.to_string(),
            flood_zones: zones.iter().map(|z| z.id.clone()).collect(),
        });
    }
    Ok(events)
}

/// People arriving at a shelter. Against an order (an order, cell or village named) they are also
/// counted as evacuated, once; otherwise they only fill the shelter (a transfer from another
/// shelter, people who first went to relatives, rescued people already counted).
pub(super) fn check_in(s: &State, c: &CheckIn, ctx: &Context<'_>) -> Decision {
    let sh = s.shelter(&c.shelter_id)?;
    if !sh.open {
        return Err(DomainError::ShelterClosed(sh.id.to_string()));
    }
    let count = c.count.get();
    let occupancy = add_counts("occupancy", sh.occupancy, count)?;
    let over_capacity = occupancy > sh.capacity;
    if over_capacity && !c.allow_over_capacity {
        return Err(DomainError::OverCapacity {
            shelter: sh.id.to_string(),
            free: sh.free_places(),
            requested: count,
        });
    }
    let mut events = vec![Event::EvacueesCheckedIn {
        shelter_id: sh.id.clone(),
        count,
        occupancy,
        over_capacity,
    }];
    let origin = Origin {
        evacuation: c.evacuation_id.as_ref(),
        cell: c.from_cell.as_ref(),
        village: c.from_village.as_ref().map(|v| v.as_str()),
    };
    if origin.evacuation.is_some() || origin.cell.is_some() || origin.village.is_some() {
        events.extend(departures(
            s,
            &origin,
            &Leaving {
                way: DepartureWay::Shelter,
                count,
                vulnerable: c.vulnerable.get(),
                shelter_id: Some(&sh.id),
                casualty_id: None,
                note: "",
            },
            ctx,
        )?);
    } else if !c.vulnerable.is_zero() {
        return Err(invalid(
            "vulnerable people are counted against an order: name where they come from",
            "重点人员按转移令统计：请写明他们来自哪里",
        ));
    }
    Ok(events)
}

pub(super) fn check_out(s: &State, c: &CheckOut) -> Decision {
    let sh = s.shelter(&c.shelter_id)?;
    let count = c.count.get();
    let Some(occupancy) = sh.occupancy.checked_sub(count) else {
        return Err(DomainError::OccupancyUnderflow {
            shelter: sh.id.to_string(),
            occupancy: sh.occupancy,
            requested: count,
        });
    };
    Ok(vec![Event::EvacueesCheckedOut {
        shelter_id: sh.id.clone(),
        count,
        occupancy,
    }])
}

pub(super) fn set_supply(s: &State, c: &SetSupply) -> Decision {
    let sh = s.shelter(&c.shelter_id)?;
    Ok(vec![Event::SupplySet {
        shelter_id: sh.id.clone(),
        item: c.item.to_string(),
        supply: Supply {
            stock: c.stock.get(),
            per_person_daily: c.per_person_daily.get(),
            unit: c.unit.to_string(),
        },
    }])
}

/// Which way a supply moves: into the shelter's stock or out of it.
#[derive(Clone, Copy)]
pub(super) enum Movement {
    Deliver,
    Issue,
}

pub(super) fn move_supply(s: &State, m: &SupplyMovement, way: Movement) -> Decision {
    let sh = s.shelter(&m.shelter_id)?;
    let supply = sh
        .supplies
        .get(m.item.as_str())
        .ok_or_else(|| not_found("supply item", format!("{} at shelter {}", m.item, sh.id)))?;
    let quantity = m.quantity.get();
    let delta = match way {
        Movement::Deliver => quantity,
        Movement::Issue => -quantity,
    };
    let stock = moved_stock(supply.stock, delta)?;
    if stock < 0.0 {
        return Err(DomainError::InsufficientStock {
            shelter: sh.id.to_string(),
            item: m.item.to_string(),
            stock: supply.stock,
            requested: quantity,
        });
    }
    Ok(vec![Event::SupplyChanged {
        shelter_id: sh.id.clone(),
        item: m.item.to_string(),
        delta,
        stock,
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::bounds::MAX_COUNT;
    use crate::domain::events::Event;
    use crate::domain::flood::FloodRiskOverride;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    fn s1() -> ShelterId {
        ShelterId::from("S-1")
    }

    fn check_in(count: impl Into<Value>, allow_over_capacity: bool) -> Value {
        json!({"type": "check_in", "shelter_id": "S-1", "count": count.into(),
               "allow_over_capacity": allow_over_capacity})
    }

    fn check_out(count: u32) -> Value {
        json!({"type": "check_out", "shelter_id": "S-1", "count": count})
    }

    fn checked_in(count: u32, occupancy: u32, over_capacity: bool) -> Event {
        Event::EvacueesCheckedIn {
            shelter_id: s1(),
            count,
            occupancy,
            over_capacity,
        }
    }

    fn checked_out(count: u32, occupancy: u32) -> Event {
        Event::EvacueesCheckedOut {
            shelter_id: s1(),
            count,
            occupancy,
        }
    }

    fn supply(kind: &str, item: &str, quantity: impl Into<Value>) -> Value {
        json!({"type": kind, "shelter_id": "S-1", "item": item, "quantity": quantity.into()})
    }

    fn supply_changed(item: &str, delta: f64, stock: f64) -> Event {
        Event::SupplyChanged {
            shelter_id: s1(),
            item: item.into(),
            delta,
            stock,
        }
    }

    fn set_supply(stock: impl Into<Value>, per_person_daily: impl Into<Value>) -> Value {
        json!({"type": "set_supply", "shelter_id": "S-1", "item": "water", "stock": stock.into(),
               "per_person_daily": per_person_daily.into(), "unit": "L"})
    }

    #[test]
    fn a_standard_items_chinese_name_is_the_same_item() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, json!({"type": "set_supply", "shelter_id": "S-1", "item": "mosquito_coils",
                             "stock": 40, "per_person_daily": 0.5, "unit": "盘"}))
            .then_events(|_| {})
            .when(&d, json!({"type": "issue_supply", "shelter_id": "S-1", "item": "蚊香", "quantity": 15}))
            .then_events(|e| {
                assert!(matches!(&e[0], Event::SupplyChanged { item, stock, .. }
                    if item.as_str() == "mosquito_coils" && *stock == 25.0), "{e:?}");
            });
        assert!(!g.state().shelters[&s1()].supplies.contains_key("蚊香"));
    }

    #[test]
    fn check_ins_fill_the_shelter_and_use_up_supplies() {
        let g = given(&world())
            .when(&field("T-07"), check_in(60, false))
            .then(&[checked_in(60, 60, false)]);
        assert_eq!(
            g.state().shelters[&s1()].days_of_supply_left(),
            Some(300.0 / (3.0 * 60.0))
        );
    }

    #[test]
    fn a_check_in_beyond_capacity_needs_an_explicit_decision() {
        let sixty = [world(), vec![checked_in(60, 60, false)]].concat();
        given(&sixty)
            .when(&field("T-07"), check_in(41, false))
            .then_error("over_capacity");
        given(&sixty)
            .when(&dispatcher(), check_in(41, true))
            .then(&[checked_in(41, 101, true)]);
    }

    #[test]
    fn a_check_in_is_at_least_one_person_and_within_the_largest_occupancy() {
        let d = dispatcher();
        for bad in [json!(0), json!(-3), json!(MAX_COUNT + 1)] {
            given(&world())
                .when(&d, check_in(bad, false))
                .then_error("invalid_value");
        }
        given(&world())
            .when(&d, check_in(2.5, false))
            .then_error("invalid_field");
        given(&world())
            .when(&d, check_in("many", false))
            .then_error("invalid_field");
        // Occupancy is checked arithmetic, even over capacity.
        given(&world())
            .when(&d, check_in(MAX_COUNT, true))
            .then(&[checked_in(MAX_COUNT, MAX_COUNT, true)])
            .when(&d, check_in(1, true))
            .then_error("invalid_value");
    }

    #[test]
    fn check_outs_cannot_take_more_people_than_are_there() {
        let f = field("T-07");
        let full = [world(), vec![checked_in(101, 101, true)]].concat();
        given(&full)
            .when(&f, check_out(102))
            .then_error("occupancy_underflow");
        let empty = given(&full)
            .when(&f, check_out(101))
            .then(&[checked_out(101, 0)]);
        let s = &empty.state().shelters[&s1()];
        assert_eq!(s.occupancy, 0);
        assert_eq!(s.days_of_supply_left(), None);
        given(&world())
            .when(
                &f,
                json!({"type": "check_out", "shelter_id": "S-1", "count": 0}),
            )
            .then_error("invalid_value");
        given(&world())
            .when(
                &f,
                json!({"type": "check_out", "shelter_id": "S-9", "count": 1}),
            )
            .then_error("not_found");
    }

    #[test]
    fn a_closed_shelter_takes_nobody_and_closes_once() {
        let d = dispatcher();
        let closed = given(&world())
            .when(&d, json!({"type": "close_shelter", "shelter_id": "S-1"}))
            .then(&[Event::ShelterOpenChanged {
                shelter_id: s1(),
                open: false,
                flood_risk_override: None,
            }]);
        let closed = closed
            .when(&field("T-07"), check_in(1, false))
            .then_error("shelter_closed")
            .when(&d, json!({"type": "close_shelter", "shelter_id": "S-1"}))
            .then_error("illegal_transition");
        closed
            .when(&d, json!({"type": "open_shelter", "shelter_id": "S-1"}))
            .then(&[Event::ShelterOpenChanged {
                shelter_id: s1(),
                open: true,
                flood_risk_override: None,
            }])
            .when(&d, json!({"type": "open_shelter", "shelter_id": "S-1"}))
            .then_error("illegal_transition");
    }

    #[test]
    fn supplies_are_issued_from_stock_and_delivered_into_it() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, supply("issue_supply", "water", 301))
            .then_error("insufficient_stock")
            .when(&d, supply("issue_supply", "water", 100))
            .then(&[supply_changed("water", -100.0, 200.0)])
            .when(&d, supply("deliver_supply", "water", 50))
            .then(&[supply_changed("water", 50.0, 250.0)]);
        assert_eq!(g.state().shelters[&s1()].supplies["water"].stock, 250.0);
    }

    #[test]
    fn only_a_stocked_item_moves() {
        let d = dispatcher();
        given(&world())
            .when(&d, supply("deliver_supply", "instant_noodles", 1))
            .then_error("not_found");
        given(&world())
            .when(
                &d,
                json!({"type": "set_supply", "shelter_id": "S-1", "item": "instant_noodles",
                       "stock": 500, "per_person_daily": 2, "unit": "packs"}),
            )
            .then(&[Event::SupplySet {
                shelter_id: s1(),
                item: "instant_noodles".into(),
                supply: Supply {
                    stock: 500.0,
                    per_person_daily: 2.0,
                    unit: "packs".into(),
                },
            }])
            .when(&d, supply("deliver_supply", "instant_noodles", 1))
            .then(&[supply_changed("instant_noodles", 1.0, 501.0)]);
    }

    #[test]
    fn stocks_and_quantities_beyond_their_bounds_are_refused() {
        let d = dispatcher();
        // The reproduction from the field: a huge stock, then a huge delivery.
        given(&world())
            .when(&d, set_supply(1.7e308, 3))
            .then_error("invalid_value");
        let full = given(&world())
            .when(&d, set_supply(1e9, 3))
            .then_events(|_| {});
        let full = full
            .when(&d, supply("deliver_supply", "water", 1.7e308))
            .then_error("invalid_value")
            .when(&d, supply("deliver_supply", "water", -1))
            .then_error("invalid_value")
            .when(&d, supply("issue_supply", "water", "lots"))
            .then_error("invalid_field");
        // A stock past 1e9 after a delivery.
        full.when(&d, supply("deliver_supply", "water", 1))
            .then_error("invalid_value");
        given(&world())
            .when(&d, set_supply(10, 5e-324))
            .then_error("invalid_value");
        given(&world())
            .when(&d, set_supply(10, 0))
            .then(&[Event::SupplySet {
                shelter_id: s1(),
                item: "water".into(),
                supply: Supply {
                    stock: 10.0,
                    per_person_daily: 0.0,
                    unit: "L".into(),
                },
            }]);
        given(&world())
            .when(&d, supply("deliver_supply", "", 1))
            .then_error("invalid_value");
    }

    // ------------------------------------------------------------ flood safety (溃口淹没区)

    /// FZ-1: what a breach of XJ-E1 floods — the 3 km strip east of it, where S-1 stands.
    fn flood_zone() -> Value {
        json!({"type": "define_flood_zone", "id": "FZ-1", "name": "一段溃口淹没区", "levee_id": "XJ-E1",
               "ring": [[113.10, 27.60], [113.13, 27.60], [113.13, 27.70], [113.10, 27.70], [113.10, 27.60]]})
    }

    /// The world with FZ-1 and S-1 closed.
    fn closed_in_zone() -> Given {
        let d = dispatcher();
        given(&world())
            .when(&d, flood_zone())
            .then_events(|e| assert!(matches!(e[0], Event::FloodZoneDefined { .. }), "{e:?}"))
            .when(&d, json!({"type": "close_shelter", "shelter_id": "S-1"}))
            .then_events(|_| {})
    }

    /// A hazard of `kind` on XJ-E1 (30 m off its line, landside), reported by the desk.
    fn on_the_levee(kind: &str) -> Value {
        json!({"type": "report_hazard", "kind": kind, "severity": "critical", "position": [113.1003, 27.64]})
    }

    fn open_s1() -> Value {
        json!({"type": "open_shelter", "shelter_id": "S-1"})
    }

    fn opened(flood_risk_override: Option<FloodRiskOverride>) -> Event {
        Event::ShelterOpenChanged {
            shelter_id: s1(),
            open: true,
            flood_risk_override,
        }
    }

    #[test]
    fn a_flood_zone_names_a_known_levee_once() {
        let d = dispatcher();
        let g = given(&world()).when(&d, flood_zone()).then_events(|_| {});
        assert_eq!(
            g.state().flood_zones[&FloodZoneId::from("FZ-1")]
                .levee_id
                .as_str(),
            "XJ-E1"
        );
        g.when(&d, flood_zone()).then_error("already_exists");
        let mut elsewhere = flood_zone();
        elsewhere["id"] = json!("FZ-2");
        elsewhere["levee_id"] = json!("XJ-W9");
        given(&world()).when(&d, elsewhere).then_error("not_found");
        let mut flat = flood_zone();
        flat["ring"] = json!([[113.1, 27.6], [113.2, 27.6], [113.15, 27.6], [113.1, 27.6]]);
        given(&world()).when(&d, flat).then_error("invalid_value");
        given(&world())
            .when(&field("T-07"), flood_zone())
            .then_error("forbidden");
    }

    #[test]
    fn a_shelter_in_a_zone_opens_while_its_levee_holds() {
        closed_in_zone()
            .when(&dispatcher(), open_s1())
            .then(&[opened(None)]);
    }

    #[test]
    fn a_shelter_in_the_flood_area_of_an_open_breach_is_refused() {
        let d = dispatcher();
        let g = closed_in_zone()
            .when(&d, on_the_levee("breach"))
            .then_events(|e| {
                assert!(
                    matches!(&e[0], Event::HazardReported { hazard } if hazard.levee.is_some()),
                    "{e:?}"
                )
            });
        let refused = g.when(&d, open_s1()).then_error("shelter_in_flood_area");
        let view = refused
            .state()
            .shelter_flood_safety(&refused.state().shelters[&s1()]);
        assert!(!view.flood_safe && view.in_breach_flood_area, "{view:?}");
        assert_eq!(view.flood_zones, [FloodZoneId::from("FZ-1")]);
        // A blank reason is no override.
        refused
            .when(
                &d,
                json!({"type": "open_shelter", "shelter_id": "S-1", "override_flood_risk": "  "}),
            )
            .then_error("shelter_in_flood_area");
    }

    #[test]
    fn an_explicit_override_opens_it_and_is_recorded() {
        let d = dispatcher();
        closed_in_zone()
            .when(&d, on_the_levee("breach"))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "open_shelter", "shelter_id": "S-1",
                             "override_flood_risk": "教学楼三层以上可用，仅作临时避险"}),
            )
            .then(&[opened(Some(FloodRiskOverride {
                reason: "教学楼三层以上可用，仅作临时避险".into(),
                flood_zones: vec![FloodZoneId::from("FZ-1")],
            }))]);
    }

    #[test]
    fn a_shelter_on_high_ground_opens_in_the_flood_area() {
        let d = dispatcher();
        let g = given(&world())
            .when(&d, flood_zone())
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "define_shelter", "id": "S-2", "name": "镇政府礼堂",
                             "position": [113.11, 27.65], "capacity": 200, "high_ground": true}),
            )
            .then_events(|_| {})
            .when(&d, on_the_levee("breach"))
            .then_events(|_| {});
        let s2 = &g.state().shelters[&ShelterId::from("S-2")];
        let view = g.state().shelter_flood_safety(s2);
        assert!(view.flood_safe && !view.in_breach_flood_area, "{view:?}");
        assert_eq!(
            view.flood_zones,
            [FloodZoneId::from("FZ-1")],
            "in the zone, above it"
        );
        g.when(&d, json!({"type": "open_shelter", "shelter_id": "S-2"}))
            .then(&[Event::ShelterOpenChanged {
                shelter_id: ShelterId::from("S-2"),
                open: true,
                flood_risk_override: None,
            }]);
    }

    #[test]
    fn a_shelter_outside_every_zone_is_flood_safe() {
        let d = dispatcher();
        let g = closed_in_zone()
            .when(
                &d,
                json!({"type": "define_shelter", "id": "S-3", "name": "山上学校",
                             "position": [113.2, 27.65], "capacity": 200}),
            )
            .then_events(|_| {})
            .when(&d, on_the_levee("breach"))
            .then_events(|_| {});
        let view = g
            .state()
            .shelter_flood_safety(&g.state().shelters[&ShelterId::from("S-3")]);
        assert!(view.flood_safe && view.flood_zones.is_empty(), "{view:?}");
        g.when(&d, json!({"type": "open_shelter", "shelter_id": "S-3"}))
            .then_events(|e| assert_eq!(e.len(), 1));
    }

    #[test]
    fn a_breach_elsewhere_or_a_lesser_hazard_does_not_close_the_zone() {
        let d = dispatcher();
        // A breach off every levee (no levee it would flood behind) and piping on XJ-E1.
        closed_in_zone()
            .when(
                &d,
                json!({"type": "report_hazard", "kind": "breach", "severity": "critical",
                             "position": [113.3, 27.64]}),
            )
            .then_events(|_| {})
            .when(&d, on_the_levee("piping"))
            .then_events(|_| {})
            .when(&d, open_s1())
            .then(&[opened(None)]);
    }

    #[test]
    fn an_open_incident_on_the_levee_is_a_breach_until_it_closes() {
        let d = dispatcher();
        let g = closed_in_zone()
            .when(&d, on_the_levee("piping"))
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "open_incident", "hazard_id": "HZ-1", "name": "管涌群"}),
            )
            .then_events(|_| {});
        let g = g.when(&d, open_s1()).then_error("shelter_in_flood_area");
        g.when(&d, json!({"type": "close_incident", "incident_id": "IN-1"}))
            .then_events(|_| {})
            .when(&d, open_s1())
            .then(&[opened(None)]);
    }

    #[test]
    fn an_eliminated_or_false_breach_opens_the_zone_again() {
        let d = dispatcher();
        for (closing, then) in [
            ("mark_false_alarm", None),
            ("eliminate_hazard", Some("start_hazard_handling")),
        ] {
            let mut g = closed_in_zone()
                .when(&d, on_the_levee("breach"))
                .then_events(|_| {})
                .when(&d, json!({"type": "confirm_hazard", "hazard_id": "HZ-1"}))
                .then_events(|_| {});
            if let Some(step) = then {
                g = g
                    .when(&d, json!({"type": step, "hazard_id": "HZ-1"}))
                    .then_events(|_| {});
            }
            // The breach's own incident (opened by the watch) still stands: close it too.
            let g = g
                .when(&d, json!({"type": closing, "hazard_id": "HZ-1"}))
                .then_events(|_| {});
            let g = if g.state().incidents.values().any(|i| i.is_open()) {
                g.when(&d, open_s1())
                    .then_error("shelter_in_flood_area")
                    .when(&d, json!({"type": "close_incident", "incident_id": "IN-1"}))
                    .then_events(|_| {})
            } else {
                g
            };
            assert!(g.state().breached_levees().is_empty(), "{closing}");
            g.when(&d, open_s1()).then(&[opened(None)]);
        }
    }
}
