//! Reference data: levees, shelters, gauges, grid cells and teams — defined once, by a dispatcher
//! or the map loader. The only rules that depend on the state: an id is defined once, and a gauge
//! governs levees that exist.

use super::{Decision, exists, not_found};
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::events::Event;
use crate::domain::flood::FloodZone;
use crate::domain::levee::{Levee, LeveeSpec};
use crate::domain::model::*;
use crate::domain::state::{Context, State};

pub(super) fn define_levee(s: &State, d: &DefineLevee) -> Decision {
    if s.levees.contains_key(&d.id) {
        return Err(exists("levee", &d.id));
    }
    let levee = Levee::try_from(LeveeSpec::from(d)).map_err(|e| invalid(e.to_string(), e.zh()))?;
    Ok(vec![Event::LeveeDefined { levee }])
}

pub(super) fn define_shelter(s: &State, d: &DefineShelter) -> Decision {
    if s.shelters.contains_key(&d.id) {
        return Err(exists("shelter", &d.id));
    }
    Ok(vec![Event::ShelterDefined {
        shelter: Shelter {
            id: d.id.clone(),
            name: d.name.to_string(),
            position: d.position,
            capacity: d.capacity.get(),
            occupancy: 0,
            open: d.open,
            supplies: d
                .supplies
                .iter()
                .map(|(item, supply)| (item.to_string(), Supply::from(supply)))
                .collect(),
            town: d.town.to_string(),
            kind: d.kind.to_string(),
            high_ground: d.high_ground,
        },
    }])
}

pub(super) fn define_gauge(s: &State, d: &DefineGauge) -> Decision {
    if s.gauges.contains_key(&d.id) {
        return Err(exists("gauge", &d.id));
    }
    if let Some(l) = d.levee_ids.iter().find(|l| !s.levees.contains_key(*l)) {
        return Err(not_found("levee", l));
    }
    Ok(vec![Event::GaugeDefined {
        gauge: Gauge {
            id: d.id.clone(),
            name: d.name.to_string(),
            river: d.river.to_string(),
            position: d.position,
            datum: d.datum.to_string(),
            thresholds: d.thresholds.into(),
            levee_ids: d.levee_ids.clone(),
            last: None,
            record: d.record.as_ref().map(Into::into),
            forecast: None,
        },
    }])
}

pub(super) fn define_grid_cell(s: &State, d: &DefineGridCell) -> Decision {
    if s.grid_cells.contains_key(&d.id) {
        return Err(exists("grid cell", &d.id));
    }
    // Cells tile the district: a person lives in one cell, so two cells that overlap would
    // count the people of the overlap twice in every evacuation order over it.
    let zone = crate::domain::geo::Zone::from_ring(d.ring.points());
    let (lo, hi) = zone.bounding_box();
    let area = zone.area_deg2();
    for other in s.grid_cells.values() {
        let (olo, ohi) = crate::domain::geo::envelope(&other.ring);
        if olo[0] >= hi[0] || ohi[0] <= lo[0] || olo[1] >= hi[1] || ohi[1] <= lo[1] {
            continue;
        }
        let shape = crate::domain::geo::Zone::from_ring(&other.ring);
        let shared = zone.intersection_area_deg2(&shape);
        let smaller = area.min(shape.area_deg2()).max(f64::MIN_POSITIVE);
        if shared > crate::domain::evacuation::CELL_OVERLAP_TOLERANCE * smaller {
            return Err(invalid(
                format!(
                    "grid cell {} overlaps grid cell {} ({:.1} % of it): cells must not overlap",
                    d.id,
                    other.id,
                    shared / area.max(f64::MIN_POSITIVE) * 100.0
                ),
                format!("网格{}与网格{}重叠：网格之间不得重叠", d.id, other.id),
            ));
        }
    }
    Ok(vec![Event::GridCellDefined {
        cell: GridCell {
            id: d.id.clone(),
            name: d.name.to_string(),
            ring: d.ring.points().to_vec(),
            population: d.population.get(),
            households: d.households.get(),
            grid_worker: d.grid_worker.to_string(),
            town: d.town.to_string(),
            village: d.village.to_string(),
            town_name: d.town_name.to_string(),
            village_name: d.village_name.to_string(),
            grid_worker_id: d.grid_worker_id.clone(),
            vulnerable: d.vulnerable.get(),
        },
    }])
}

pub(super) fn define_flood_zone(s: &State, d: &DefineFloodZone) -> Decision {
    if s.flood_zones.contains_key(&d.id) {
        return Err(exists("flood zone", &d.id));
    }
    if !s.levees.contains_key(&d.levee_id) {
        return Err(not_found("levee", &d.levee_id));
    }
    if crate::domain::geo::Zone::from_ring(d.ring.points()).area_deg2() <= 0.0 {
        return Err(invalid(
            "ring: the flood zone's ring encloses no area",
            "ring：淹没区边界未围成面积",
        ));
    }
    Ok(vec![Event::FloodZoneDefined {
        zone: FloodZone {
            id: d.id.clone(),
            name: d.name.to_string(),
            levee_id: d.levee_id.clone(),
            ring: d.ring.points().to_vec(),
        },
    }])
}

pub(super) fn register_team(s: &State, r: &RegisterTeam, ctx: &Context<'_>) -> Decision {
    if s.teams.contains_key(&r.id) {
        return Err(exists("team", &r.id));
    }
    let fix = r.position.map(|position| Fix {
        position,
        time_ms: ctx.now_ms,
        accuracy_m: 0.0,
    });
    Ok(vec![Event::TeamRegistered {
        team: Team {
            id: r.id.clone(),
            name: r.name.to_string(),
            kind: r.kind,
            headcount: r.headcount.get(),
            capabilities: r.capabilities.clone(),
            travel_mode: r.travel_mode,
            on_duty: true,
            registered_at: ctx.now_ms,
            on_levee: None,
            fix,
            assignment: None,
            leader: None,
            members: Vec::new(),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::bounds::{MAX_COUNT, MAX_TEXT};
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::levee::{Hand, Levee, LeveeSpec};
    use crate::domain::model::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    fn levee_command() -> Value {
        json!({"type": "define_levee", "id": "XJ-E1", "name": "湘江东岸一段", "river": "湘江",
               "bank": "east", "line": [[113.10, 27.60], [113.10, 27.70]], "riverside": "left",
               "crest_elevation_m": 44.0, "design_flood_level_m": 42.5})
    }

    fn with(mut v: Value, field: &str, value: Value) -> Value {
        v[field] = value;
        v
    }

    #[test]
    fn a_levee_is_defined_with_its_lengths() {
        given(&[])
            .when(&dispatcher(), levee_command())
            .then(&[levee_defined()]);
    }

    #[test]
    fn a_levee_is_defined_once() {
        given(&[levee_defined()])
            .when(&dispatcher(), levee_command())
            .then_error("already_exists");
    }

    #[test]
    fn a_levee_needs_a_line_of_positive_length() {
        let d = dispatcher();
        given(&[])
            .when(&d, with(levee_command(), "line", json!([[113.1, 27.6]])))
            .then_error("invalid_value");
        given(&[])
            .when(
                &d,
                with(
                    levee_command(),
                    "line",
                    json!([[113.1, 27.6], [113.1, 27.6]]),
                ),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn a_levee_s_numbers_and_text_have_bounds() {
        let d = dispatcher();
        for (field, bad) in [
            ("chainage_origin_m", json!(-1.0)),
            ("chainage_origin_m", json!(1e300)),
            ("crest_elevation_m", json!(1e300)),
            ("design_flood_level_m", json!(-1.7e308)),
            ("name", json!("x".repeat(MAX_TEXT + 1))),
            ("river", json!("x".repeat(MAX_TEXT + 1))),
        ] {
            given(&[])
                .when(&d, with(levee_command(), field, bad))
                .then_error("invalid_value");
        }
        let at_origin = Levee::try_from(LeveeSpec {
            id: LeveeId::from("XJ-E1"),
            name: "湘江东岸一段".into(),
            river: "湘江".into(),
            bank: "east".into(),
            line: vec![p(113.10, 27.60), p(113.10, 27.70)],
            chainage_origin_m: 12_300.0,
            riverside: Hand::Left,
            crest_elevation_m: Some(44.0),
            design_flood_level_m: Some(42.5),
        })
        .unwrap();
        given(&[])
            .when(
                &d,
                with(levee_command(), "chainage_origin_m", json!(12_300)),
            )
            .then(&[Event::LeveeDefined { levee: at_origin }]);
    }

    fn shelter_command() -> Value {
        json!({"type": "define_shelter", "id": "S-1", "name": "南洲中学", "position": [113.12, 27.64],
               "capacity": 100, "open": true, "town": "南洲镇", "kind": "school",
               "supplies": {"water": {"stock": 300, "per_person_daily": 3, "unit": "L"}}})
    }

    #[test]
    fn a_shelter_is_defined_empty_with_its_supplies() {
        given(&[])
            .when(&dispatcher(), shelter_command())
            .then(&[shelter_defined()]);
    }

    #[test]
    fn a_shelter_is_defined_once() {
        given(&world())
            .when(
                &dispatcher(),
                json!({"type": "define_shelter", "id": "S-1", "name": "dup", "position": [113.0, 27.0],
                       "capacity": 1, "open": true}),
            )
            .then_error("already_exists");
    }

    #[test]
    fn a_shelter_s_capacity_and_supplies_have_bounds() {
        let d = dispatcher();
        let supply = |stock: Value, ration: Value| {
            with(
                shelter_command(),
                "supplies",
                json!({"water": {"stock": stock, "per_person_daily": ration, "unit": "L"}}),
            )
        };
        for bad in [
            with(shelter_command(), "capacity", json!(MAX_COUNT + 1)),
            with(shelter_command(), "capacity", json!(-1)),
            supply(json!(1.7e308), json!(3)),
            supply(json!(-1), json!(3)),
            supply(json!(10), json!(5e-324)),
            supply(json!(10), json!(10_001)),
            with(
                shelter_command(),
                "supplies",
                json!({"": {"stock": 1, "per_person_daily": 1, "unit": "L"}}),
            ),
            with(
                shelter_command(),
                "supplies",
                json!({"x".repeat(65): {"stock": 1, "per_person_daily": 1, "unit": "L"}}),
            ),
            with(shelter_command(), "town", json!("镇".repeat(700))),
        ] {
            given(&[]).when(&d, bad).then_error("invalid_value");
        }
        given(&[])
            .when(&d, with(shelter_command(), "capacity", json!(2.5)))
            .then_error("invalid_field");
        given(&[])
            .when(&d, with(shelter_command(), "capacity", json!("many")))
            .then_error("invalid_field");
        // The edges of the bounds are accepted.
        given(&[])
            .when(
                &d,
                with(supply(json!(1e9), json!(0)), "capacity", json!(MAX_COUNT)),
            )
            .then_events(|events| {
                let [Event::ShelterDefined { shelter }] = events else {
                    panic!("{events:?}")
                };
                assert_eq!(shelter.capacity, MAX_COUNT);
                assert_eq!(shelter.supplies["water"].stock, 1e9);
            });
    }

    fn gauge_command(id: &str, levee: &str) -> Value {
        json!({"type": "define_gauge", "id": id, "name": "涪口", "river": "湘江",
               "position": [113.14, 27.709], "datum": "吴淞",
               "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5},
               "levee_ids": [levee]})
    }

    #[test]
    fn a_gauge_governs_known_levees() {
        let d = dispatcher();
        given(&[levee_defined()])
            .when(&d, gauge_command("G-XJ", "HJ-404"))
            .then_error("not_found");
        given(&[levee_defined()])
            .when(&d, gauge_command("G-XJ", "XJ-E1"))
            .then(&[gauge_defined()]);
        given(&[levee_defined(), gauge_defined()])
            .when(&d, gauge_command("G-XJ", "XJ-E1"))
            .then_error("already_exists");
    }

    #[test]
    fn a_gauge_s_thresholds_are_levels_in_order() {
        let d = dispatcher();
        for thresholds in [
            json!({"guard_m": 40.0, "warning_m": 38.0, "guaranteed_m": 42.5}),
            json!({"guard_m": 38.0, "warning_m": 43.0, "guaranteed_m": 42.5}),
            json!({"guard_m": -1e308, "warning_m": 38.0, "guaranteed_m": 42.5}),
            json!({"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 1.7e308}),
        ] {
            given(&[levee_defined()])
                .when(
                    &d,
                    with(gauge_command("G-XJ", "XJ-E1"), "thresholds", thresholds),
                )
                .then_error("invalid_value");
        }
    }

    fn cell_command() -> Value {
        json!({"type": "define_grid_cell", "id": "GC-1", "name": "将军村一组",
               "ring": [[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]],
               "population": 320, "households": 110, "grid_worker": "李", "town": "南洲镇",
               "village": "将军村"})
    }

    #[test]
    fn a_grid_cell_is_a_closed_ring_with_counts() {
        let d = dispatcher();
        let cell = Event::GridCellDefined {
            cell: GridCell {
                id: GridCellId::from("GC-1"),
                name: "将军村一组".into(),
                ring: vec![
                    p(113.0, 27.6),
                    p(113.1, 27.6),
                    p(113.1, 27.7),
                    p(113.0, 27.6),
                ],
                population: 320,
                households: 110,
                grid_worker: "李".into(),
                town: "南洲镇".into(),
                village: "将军村".into(),
                town_name: String::new(),
                village_name: String::new(),
                grid_worker_id: None,
                vulnerable: Vulnerable::default(),
            },
        };
        given(&[])
            .when(&d, cell_command())
            .then(std::slice::from_ref(&cell));
        given(&[cell])
            .when(&d, cell_command())
            .then_error("already_exists");
        for (field, bad) in [
            (
                "ring",
                json!([[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.7]]),
            ),
            ("ring", json!([[113.0, 27.6], [113.1, 27.6], [113.0, 27.6]])),
            ("population", json!(MAX_COUNT + 1)),
            ("households", json!(-1)),
        ] {
            given(&[])
                .when(&d, with(cell_command(), field, bad))
                .then_error("invalid_value");
        }
    }

    fn team_command() -> Value {
        json!({"type": "register_team", "id": "T-07", "name": "T-07", "kind": "militia",
               "headcount": 12, "travel_mode": "foot", "position": [113.11, 27.65]})
    }

    #[test]
    fn a_team_registers_on_duty_at_its_position() {
        let d = dispatcher();
        given(&[])
            .when(&d, team_command())
            .then(&[team_registered("T-07", TravelMode::Foot, &[])]);
        given(&[])
            .when(
                &d,
                json!({"type": "register_team", "id": "T-01", "name": "T-01", "kind": "militia",
                       "headcount": 12, "capabilities": ["pump"], "travel_mode": "vehicle",
                       "position": [113.11, 27.65]}),
            )
            .then(&[team_registered(
                "T-01",
                TravelMode::Vehicle,
                &[Capability::Pump],
            )]);
        // Without a position it has no fix.
        let mut no_position = team_command();
        no_position.as_object_mut().unwrap().remove("position");
        given(&[]).when(&d, no_position).then_events(|events| {
            assert!(matches!(events, [Event::TeamRegistered { team }] if team.fix.is_none()))
        });
    }

    #[test]
    fn a_team_registers_once_with_at_least_one_person() {
        let d = dispatcher();
        given(&world())
            .when(&d, team_command())
            .then_error("already_exists");
        for bad in [json!(0), json!(-12), json!(MAX_COUNT + 1), json!(u64::MAX)] {
            given(&[])
                .when(&d, with(team_command(), "headcount", bad))
                .then_error("invalid_value");
        }
    }

    #[test]
    fn supplies_keep_their_items() {
        // The supplies map keeps every item, in item order.
        let events = given(&[])
            .when(
                &dispatcher(),
                with(
                    shelter_command(),
                    "supplies",
                    json!({"water": {"stock": 1, "per_person_daily": 3, "unit": "L"},
                           "instant_noodles": {"stock": 500, "per_person_daily": 2, "unit": "packs"}}),
                ),
            )
            .then_events(|_| {});
        let s = &events.state().shelters[&ShelterId::from("S-1")];
        assert_eq!(
            s.supplies,
            BTreeMap::from([
                (
                    "instant_noodles".to_string(),
                    Supply {
                        stock: 500.0,
                        per_person_daily: 2.0,
                        unit: "packs".into()
                    }
                ),
                (
                    "water".to_string(),
                    Supply {
                        stock: 1.0,
                        per_person_daily: 3.0,
                        unit: "L".into()
                    }
                ),
            ])
        );
    }

    #[test]
    fn grid_cells_do_not_overlap() {
        let d = dispatcher();
        let cell = |id: &str, x: f64| {
            json!({"type": "define_grid_cell", "id": id, "population": 10,
                   "ring": [[x, 27.6], [x + 0.1, 27.6], [x + 0.1, 27.7], [x, 27.7], [x, 27.6]]})
        };
        given(&[])
            .when(&d, cell("GC-1", 113.0))
            .then_events(|e| assert_eq!(e.len(), 1))
            // Side by side: sharing an edge is no overlap.
            .when(&d, cell("GC-2", 113.1))
            .then_events(|e| assert_eq!(e.len(), 1))
            .when(&d, cell("GC-3", 113.05))
            .then_error("invalid_value");
    }
}
