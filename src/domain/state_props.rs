//! Property tests of the domain: random command sequences from every role never break the
//! invariants, and the state is always exactly the fold of the accepted events.

use super::access::{Actor, Role};
use super::commands::*;
use super::events::Event;
use super::geo::LonLat;
use super::ids::*;
use super::levee::LeveeLocation;
use super::model::*;
use super::state::{Context, LeveeSnapper, State};
use super::values::*;
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;

struct NoLevees;

impl LeveeSnapper for NoLevees {
    fn snap(&self, _: LonLat, _: f64) -> Option<LeveeLocation> {
        None
    }
}

const TEAMS: [&str; 3] = ["T-1", "T-2", "T-3"];

fn actor(i: u8) -> Actor {
    match i % 5 {
        0 | 1 => Actor {
            role: Role::Dispatcher,
            team: None,
            grid_worker: None,
            name: "desk".into(),
        },
        2 => Actor {
            role: Role::Field,
            team: Some(TeamId::from("T-1")),
            grid_worker: None,
            name: "tablet-1".into(),
        },
        3 => Actor {
            role: Role::Field,
            team: Some(TeamId::from("T-2")),
            grid_worker: None,
            name: "tablet-2".into(),
        },
        _ => Actor {
            role: Role::Observer,
            team: None,
            grid_worker: None,
            name: "obs".into(),
        },
    }
}

fn state_name(i: u8) -> AssignmentState {
    [
        AssignmentState::Accepted,
        AssignmentState::EnRoute,
        AssignmentState::OnScene,
        AssignmentState::Completed,
        AssignmentState::Proposed,
    ][i as usize % 5]
}

/// A command over a small world: three teams, hazards HZ-1.., one shelter of 50 places.
fn command() -> impl Strategy<Value = Command> {
    let team = (0..3usize).prop_map(|i| TeamId::from(TEAMS[i]));
    prop_oneof![
        (0.0..1.0f64).prop_map(|x| Command::ReportHazard(ReportHazard {
            kind: HazardKind::Piping,
            severity: Severity::General,
            position: Some(LonLat::new(113.0 + x / 10.0, 27.6).unwrap()),
            at_asset: None,
            description: Text::default(),
        })),
        (1..4u32, 0..4u8).prop_map(|(h, s)| {
            let r = HazardRef {
                hazard_id: HazardId::from(format!("HZ-{h}")),
                reason: Text::default(),
            };
            match s {
                0 => Command::ConfirmHazard(r),
                1 => Command::StartHazardHandling(r),
                2 => Command::EliminateHazard(r),
                _ => Command::MarkFalseAlarm(r),
            }
        }),
        (team.clone(), 1..4u32, any::<bool>()).prop_map(|(team_id, h, to_hazard)| {
            Command::CreateAssignment(CreateAssignment {
                team_id,
                target: if to_hazard {
                    AssignmentTarget::Hazard {
                        hazard_id: HazardId::from(format!("HZ-{h}")),
                    }
                } else {
                    AssignmentTarget::Shelter {
                        shelter_id: ShelterId::from("S-1"),
                    }
                },
                note: Text::default(),
            })
        }),
        (1..6u32, any::<u8>()).prop_map(|(a, s)| Command::AdvanceAssignment(AdvanceAssignment {
            assignment_id: AssignmentId::from(format!("AS-{a}")),
            to: state_name(s),
        })),
        (1..6u32).prop_map(|a| Command::CancelAssignment(CancelAssignment {
            assignment_id: AssignmentId::from(format!("AS-{a}")),
            reason: Text::default(),
        })),
        (team.clone(), any::<bool>())
            .prop_map(|(team_id, on_duty)| Command::SetTeamDuty(SetTeamDuty { team_id, on_duty })),
        (team, 0.0..1.0f64).prop_map(|(team_id, x)| Command::UpdatePosition(UpdatePosition {
            team_id,
            position: LonLat::new(113.0 + x / 10.0, 27.6).unwrap(),
            time_ms: None,
            accuracy_m: None,
        })),
        // A count of 0 does not parse (see `values.rs`); every count here reaches the decider.
        (1..30u32, any::<bool>(), any::<bool>()).prop_map(|(count, out, allow)| {
            let count = PositiveCount::new(count).unwrap();
            if out {
                Command::CheckOut(CheckOut {
                    shelter_id: ShelterId::from("S-1"),
                    count,
                })
            } else {
                Command::CheckIn(CheckIn {
                    shelter_id: ShelterId::from("S-1"),
                    count,
                    allow_over_capacity: allow,
                    evacuation_id: None,
                    from_cell: None,
                    from_village: None,
                    vulnerable: VulnerableCounts::default(),
                })
            }
        }),
    ]
}

fn world() -> (State, Vec<Event>) {
    let mut s = State::default();
    let mut log = Vec::new();
    let d = Actor::system();
    let mut cmds: Vec<Command> = TEAMS
        .iter()
        .map(|t| {
            Command::RegisterTeam(RegisterTeam {
                id: TeamId::from(*t),
                name: Text::new(*t).unwrap(),
                kind: TeamKind::Militia,
                headcount: PositiveCount::new(5).unwrap(),
                capabilities: Default::default(),
                travel_mode: TravelMode::Foot,
                position: None,
            })
        })
        .collect();
    cmds.push(Command::DefineShelter(DefineShelter {
        id: ShelterId::from("S-1"),
        name: Text::new("school").unwrap(),
        position: LonLat::new(113.05, 27.6).unwrap(),
        capacity: Count::new(50).unwrap(),
        open: true,
        supplies: BTreeMap::new(),
        town: Text::default(),
        kind: Text::default(),
        high_ground: false,
    }));
    for c in cmds {
        for e in s
            .decide(
                &c,
                &Context {
                    now_ms: 0,
                    actor: &d,
                    snapper: &NoLevees,
                },
            )
            .unwrap()
        {
            s.apply(&e);
            log.push(e);
        }
    }
    (s, log)
}

fn check_invariants(s: &State, over_capacity_allowed: bool) -> Result<(), TestCaseError> {
    for team in s.teams.values() {
        let active: Vec<&Assignment> = s
            .assignments
            .values()
            .filter(|a| a.team_id == team.id && a.state.is_active())
            .collect();
        prop_assert!(
            active.len() <= 1,
            "{} has {} active assignments",
            team.id,
            active.len()
        );
        prop_assert_eq!(
            team.assignment.as_ref(),
            active.first().map(|a| &a.id),
            "team record and assignments disagree for {}",
            team.id
        );
        let status = s.team_status(team);
        match active.first() {
            Some(a) => prop_assert_eq!(status, a.state.team_status()),
            None if team.on_duty => prop_assert_eq!(status, TeamStatus::Available),
            None => prop_assert_eq!(status, TeamStatus::OffDuty),
        }
        if !team.on_duty {
            prop_assert!(
                active.is_empty(),
                "off-duty {} holds an assignment",
                team.id
            );
        }
    }
    for a in s.assignments.values() {
        let states: Vec<AssignmentState> = a.history.iter().map(|h| h.state).collect();
        prop_assert_eq!(states.first(), Some(&AssignmentState::Proposed));
        prop_assert_eq!(states.last(), Some(&a.state));
        prop_assert!(
            states.windows(2).all(|w| w[0].can_become(w[1])),
            "illegal history {:?}",
            states
        );
    }
    let shelter = &s.shelters[&ShelterId::from("S-1")];
    prop_assert!(over_capacity_allowed || shelter.occupancy <= shelter.capacity);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn random_commands_never_break_the_invariants(steps in prop::collection::vec((command(), any::<u8>()), 1..80)) {
        let (mut s, mut log) = world();
        let mut over_capacity = false;
        for (i, (cmd, who)) in steps.iter().enumerate() {
            let actor = actor(*who);
            let before = s.clone();
            match s.decide(cmd, &Context { now_ms: i as i64, actor: &actor, snapper: &NoLevees }) {
                Ok(events) => {
                    prop_assert!(actor.role != Role::Observer, "an observer's command was accepted");
                    prop_assert!(!events.is_empty());
                    for e in &events {
                        if let Event::EvacueesCheckedIn { over_capacity: true, .. } = e {
                            over_capacity = true;
                        }
                        s.apply(e);
                        log.push(e.clone());
                    }
                }
                Err(_) => prop_assert_eq!(&s, &before, "a refused command changed the state"),
            }
            check_invariants(&s, over_capacity)?;
        }
        // The state is exactly the fold of the log, also through JSON (what the store keeps).
        let mut replayed = State::default();
        for e in &log {
            let stored: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
            replayed.apply(&stored);
        }
        prop_assert_eq!(replayed, s);
    }
}

// ------------------------------------------------------------------ extreme values

const NOW: i64 = 1_700_000_000_000;

/// Floats a client can send (JSON has no NaN or infinity): the largest and smallest, subnormals,
/// huge exponents, signed zero, the edges of Crest's own bounds, and anything finite.
fn extreme_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        Just(f64::MAX),
        Just(f64::MIN),
        Just(1.7e308),
        Just(-1.7e308),
        Just(1e300),
        Just(f64::MIN_POSITIVE),
        Just(5e-324),
        Just(-5e-324),
        Just(0.0),
        Just(-0.0),
        Just(1.0),
        Just(super::bounds::MAX_QUANTITY),
        Just(super::bounds::MAX_QUANTITY + 1.0),
        Just(10_000.0),
        any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite()),
    ]
}

fn extreme_u32() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0),
        Just(1),
        Just(super::bounds::MAX_COUNT),
        Just(super::bounds::MAX_COUNT + 1),
        Just(u32::MAX),
        any::<u32>(),
    ]
}

fn extreme_time() -> impl Strategy<Value = Option<i64>> {
    prop_oneof![
        Just(None),
        Just(Some(i64::MAX)),
        Just(Some(i64::MIN)),
        Just(Some(-1)),
        Just(Some(0)),
        Just(Some(9_000_000_000_000_000)),
        Just(Some(NOW + super::bounds::MAX_CLOCK_SKEW_MS)),
        Just(Some(NOW + super::bounds::MAX_CLOCK_SKEW_MS + 1)),
        any::<i64>().prop_map(Some),
    ]
}

fn extreme_position() -> impl Strategy<Value = LonLat> {
    prop_oneof![
        Just(LonLat::new(180.0, 90.0).unwrap()),
        Just(LonLat::new(-180.0, -90.0).unwrap()),
        Just(LonLat::new(5e-324, -5e-324).unwrap()),
        (-180.0..=180.0f64, -90.0..=90.0f64).prop_map(|(x, y)| LonLat::new(x, y).unwrap()),
    ]
}

/// Every command that carries a number, with extreme numbers, as a client sends it (JSON), over a
/// world of one team (T-1), one shelter (S-1, with water), one gauge (G-1), one levee (L-1), one
/// protected asset (PA-1) and one evacuation (EV-1). What does not parse is refused before the decider.
fn extreme_command() -> impl Strategy<Value = Value> {
    let zone = json!([[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]]);
    prop_oneof![
        (
            extreme_u32(),
            extreme_f64(),
            extreme_f64(),
            extreme_position()
        )
            .prop_map(|(capacity, stock, ration, position)| json!({
                "type": "define_shelter", "id": format!("S-{capacity}"), "name": "x",
                "position": position, "capacity": capacity, "open": true,
                "supplies": {"water": {"stock": stock, "per_person_daily": ration, "unit": ""}}
            })),
        (extreme_f64(), extreme_f64(), extreme_f64()).prop_map(|(g, w, c)| json!({
            "type": "define_gauge", "id": format!("G-{}", g.to_bits()), "name": "x",
            "position": [113.0, 27.6], "datum": "wusong",
            "thresholds": {"guard_m": g, "warning_m": w, "guaranteed_m": c}
        })),
        // Beside GC-1, each on a spot of its own (cells may not overlap), so that extreme
        // populations reach an order over them and the check-ins from them.
        (extreme_u32(), extreme_u32(), 0..8u32).prop_map(|(population, households, spot)| {
            let x = 113.2 + 0.01 * f64::from(spot);
            json!({
                "type": "define_grid_cell", "id": format!("GC-X{spot}"),
                "ring": [[x, 27.6], [x + 0.01, 27.6], [x + 0.01, 27.61], [x, 27.61], [x, 27.6]],
                "population": population, "households": households,
                "vulnerable": {"elderly_alone": households}
            })
        }),
        Just(json!({"type": "issue_evacuation_order", "name": "x",
                    "zone": [[113.2, 27.6], [113.28, 27.6], [113.28, 27.61], [113.2, 27.61], [113.2, 27.6]]})),
        (extreme_u32(), 0..8u32).prop_map(|(count, spot)| json!({
            "type": "check_in", "shelter_id": "S-1", "count": count, "from_cell": format!("GC-X{spot}"),
            "allow_over_capacity": true
        })),
        (extreme_u32(), extreme_position()).prop_map(|(headcount, position)| json!({
            "type": "register_team", "id": format!("T-{headcount}"), "name": "x",
            "kind": "militia", "headcount": headcount, "travel_mode": "boat", "position": position
        })),
        (extreme_f64(), extreme_f64(), extreme_f64()).prop_map(|(origin, crest, flood)| json!({
            "type": "define_levee", "id": format!("L-{}", origin.to_bits()), "name": "x",
            "line": [[113.0, 27.6], [113.0, 27.7]], "chainage_origin_m": origin,
            "riverside": "left", "crest_elevation_m": crest, "design_flood_level_m": flood
        })),
        extreme_position().prop_map(|position| json!({
            "type": "report_hazard", "kind": "piping", "severity": "major", "position": position
        })),
        (
            extreme_position(),
            extreme_time(),
            prop::option::of(extreme_f64())
        )
            .prop_map(|(position, time_ms, accuracy_m)| json!({
                "type": "update_position", "team_id": "T-1", "position": position,
                "time_ms": time_ms, "accuracy_m": accuracy_m
            })),
        (extreme_u32(), any::<bool>()).prop_map(|(count, allow_over_capacity)| json!({
            "type": "check_in", "shelter_id": "S-1", "count": count,
            "allow_over_capacity": allow_over_capacity
        })),
        extreme_u32().prop_map(|count| json!({
            "type": "check_out", "shelter_id": "S-1", "count": count
        })),
        (extreme_f64(), extreme_f64()).prop_map(|(stock, per_person_daily)| json!({
            "type": "set_supply", "shelter_id": "S-1", "item": "water", "stock": stock,
            "per_person_daily": per_person_daily
        })),
        (extreme_f64(), any::<bool>()).prop_map(|(quantity, deliver)| json!({
            "type": if deliver { "deliver_supply" } else { "issue_supply" },
            "shelter_id": "S-1", "item": "water", "quantity": quantity
        })),
        (extreme_f64(), extreme_time()).prop_map(|(level_m, time_ms)| json!({
            "type": "record_reading", "gauge_id": "G-1", "level_m": level_m, "time_ms": time_ms
        })),
        Just(json!({"type": "issue_evacuation_order", "name": "x", "zone": zone})),
        (extreme_u32(), extreme_u32()).prop_map(|(count, elderly)| json!({
            "type": "check_in", "shelter_id": "S-1", "count": count, "from_cell": "GC-1",
            "allow_over_capacity": true, "vulnerable": {"elderly_alone": elderly}
        })),
        extreme_u32().prop_map(|count| json!({
            "type": "record_self_evacuation", "cell_id": "GC-1", "count": count
        })),
        extreme_u32().prop_map(|count| json!({
            "type": "record_evacuation_progress", "evacuation_id": "EV-1", "count": count
        })),
        (extreme_f64(), extreme_f64()).prop_map(|(from_m, to_m)| json!({
            "type": "create_assignment", "team_id": "T-1",
            "target": {"kind": "patrol_stretch", "levee_id": "L-1", "from_m": from_m, "to_m": to_m}
        })),
        (extreme_f64(), extreme_time()).prop_map(|(peak_m, peak_at)| json!({
            "type": "enter_gauge_forecast", "gauge_id": "G-1", "peak_m": peak_m, "peak_at": peak_at
        })),
        (extreme_u32(), any::<bool>()).prop_map(|(capacity, allow_over_capacity)| json!({
            "type": "correct_shelter_capacity", "shelter_id": "S-1", "capacity": capacity,
            "reason": "r", "allow_over_capacity": allow_over_capacity
        })),
        (extreme_f64(), extreme_f64(), extreme_f64()).prop_map(|(g, w, c)| json!({
            "type": "correct_gauge_thresholds", "gauge_id": "G-1", "reason": "r",
            "thresholds": {"guard_m": g, "warning_m": w, "guaranteed_m": c}
        })),
        extreme_u32().prop_map(|headcount| json!({
            "type": "correct_team_roster", "team_id": "T-1", "headcount": headcount, "reason": "r"
        })),
        extreme_f64().prop_map(|buffer_m| json!({
            "type": "correct_asset_buffer", "asset_id": "PA-1", "buffer_m": buffer_m, "reason": "r"
        })),
    ]
}

fn extreme_world() -> State {
    let setup = serde_json::json!([
        {"type": "register_team", "id": "T-1", "name": "t", "kind": "militia", "headcount": 5, "travel_mode": "foot"},
        {"type": "define_shelter", "id": "S-1", "name": "s", "position": [113.05, 27.6], "capacity": 50, "open": true,
         "supplies": {"water": {"stock": 100.0, "per_person_daily": 3.0, "unit": "L"}}},
        {"type": "define_gauge", "id": "G-1", "name": "g", "position": [113.0, 27.6], "datum": "wusong",
         "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}},
        {"type": "define_levee", "id": "L-1", "name": "l", "line": [[113.0, 27.6], [113.0, 27.7]], "riverside": "left"},
        {"type": "define_grid_cell", "id": "GC-1", "population": 100,
         "ring": [[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]],
         "vulnerable": {"elderly_alone": 5}},
        {"type": "define_protected_asset", "id": "PA-1", "name": "a", "kind": "school", "priority": 2,
         "buffer_m": 300, "position": [113.01, 27.6]},
        {"type": "issue_evacuation_order", "name": "e",
         "zone": [[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]]},
    ]);
    let mut s = State::default();
    let d = Actor::system();
    for c in setup.as_array().unwrap() {
        let c: Command = serde_json::from_value(c.clone()).unwrap();
        let ctx = Context {
            now_ms: NOW,
            actor: &d,
            snapper: &NoLevees,
        };
        for e in s.decide(&c, &ctx).unwrap() {
            s.apply(&e);
        }
    }
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Whatever numbers a client sends, what is accepted can be written to the log and read back
    /// into exactly the live state, event by event and as a snapshot.
    #[test]
    fn extreme_values_never_make_the_log_unreplayable(
        steps in prop::collection::vec((extreme_command(), any::<u8>(), 0..1000i64), 1..40)
    ) {
        let mut live = extreme_world();
        let mut replayed = live.clone();
        for (sent, who, tick) in &steps {
            let Ok(cmd) = serde_json::from_value::<Command>(sent.clone()) else { continue };
            let cmd = &cmd;
            let actor = actor(*who);
            let ctx = Context { now_ms: NOW + tick, actor: &actor, snapper: &NoLevees };
            let Ok(events) = live.decide(cmd, &ctx) else { continue };
            for e in &events {
                live.apply(e);
                let text = serde_json::to_string(e).unwrap();
                let stored: Event = serde_json::from_str(&text)
                    .map_err(|err| TestCaseError::fail(format!("event {text} does not load: {err}")))?;
                prop_assert_eq!(&stored, e);
                replayed.apply(&stored);
            }
        }
        prop_assert_eq!(&replayed, &live);
        let snapshot = serde_json::to_string(&live).unwrap();
        let restored: State = serde_json::from_str(&snapshot)
            .map_err(|err| TestCaseError::fail(format!("snapshot does not load: {err}")))?;
        prop_assert_eq!(&restored, &live);
        for s in live.shelters.values() {
            prop_assert!(s.occupancy <= super::bounds::MAX_COUNT);
            prop_assert!(s.days_of_supply_left().is_none_or(f64::is_finite), "{:?}", s);
            for supply in s.supplies.values() {
                prop_assert!((0.0..=super::bounds::MAX_QUANTITY).contains(&supply.stock));
            }
        }
    }
}

// ------------------------------------------------------------------ evacuation counted once

/// Three cells side by side (GC-A 100 people, 5 elderly living alone; GC-B 60; GC-C 40; villages
/// 甲 = A and B, 乙 = C) and an open shelter with room for everyone.
fn people_world() -> State {
    let mut s = State::default();
    let d = Actor::system();
    let cell = |id: &str, x: f64, population: u32, village: &str, elderly: u32| {
        json!({"type": "define_grid_cell", "id": id, "population": population, "village": village,
               "ring": [[x, 27.0], [x + 0.01, 27.0], [x + 0.01, 27.01], [x, 27.01], [x, 27.0]],
               "vulnerable": {"elderly_alone": elderly}})
    };
    for c in [
        cell("GC-A", 113.00, 100, "甲", 5),
        cell("GC-B", 113.01, 60, "甲", 0),
        cell("GC-C", 113.02, 40, "乙", 0),
        json!({"type": "define_shelter", "id": "S-1", "name": "s", "position": [113.05, 27.05],
               "capacity": 1000, "open": true}),
    ] {
        let cmd: Command = serde_json::from_value(c).unwrap();
        let ctx = Context {
            now_ms: NOW,
            actor: &d,
            snapper: &NoLevees,
        };
        for e in s.decide(&cmd, &ctx).unwrap() {
            s.apply(&e);
        }
    }
    s
}

/// Commands that move people: orders over a few zones (whole or part cells), lifting them,
/// check-ins by cell or village, self-arranged departures, trapped people and their rescue.
fn people_command() -> impl Strategy<Value = Value> {
    let zones = [
        json!([
            [113.0, 27.0],
            [113.01, 27.0],
            [113.01, 27.01],
            [113.0, 27.01],
            [113.0, 27.0]
        ]),
        json!([
            [113.005, 27.0],
            [113.015, 27.0],
            [113.015, 27.01],
            [113.005, 27.01],
            [113.005, 27.0]
        ]),
        json!([
            [113.0, 27.0],
            [113.03, 27.0],
            [113.03, 27.01],
            [113.0, 27.01],
            [113.0, 27.0]
        ]),
        json!([
            [113.012, 27.002],
            [113.028, 27.002],
            [113.028, 27.008],
            [113.012, 27.002]
        ]),
    ];
    let cells = ["GC-A", "GC-B", "GC-C"];
    prop_oneof![
        (0..zones.len()).prop_map(
            move |z| json!({"type": "issue_evacuation_order", "name": "z", "zone": zones[z]})
        ),
        (1..6u32).prop_map(
            |n| json!({"type": "lift_evacuation_order", "evacuation_id": format!("EV-{n}")})
        ),
        (0..3usize, 1..70u32, 0..3u32, any::<bool>()).prop_map(move |(c, n, old, by_village)| {
            let mut cmd = json!({"type": "check_in", "shelter_id": "S-1", "count": n,
                                 "vulnerable": {"elderly_alone": old}});
            if by_village {
                cmd["from_village"] = json!(if c == 2 { "乙" } else { "甲" });
            } else {
                cmd["from_cell"] = json!(cells[c]);
            }
            cmd
        }),
        (0..3usize, 1..70u32, 0..3u32).prop_map(move |(c, n, ev)| {
            let mut cmd =
                json!({"type": "record_self_evacuation", "cell_id": cells[c], "count": n});
            if ev > 0 {
                cmd["evacuation_id"] = json!(format!("EV-{ev}"));
            }
            cmd
        }),
        (1..4u32, 1..40u32).prop_map(
            |(ev, n)| json!({"type": "check_in", "shelter_id": "S-1", "count": n,
            "evacuation_id": format!("EV-{ev}")})
        ),
        (0..3usize, 1..10u32).prop_map(
            move |(c, n)| json!({"type": "record_casualty", "kind": "trapped", "count": n,
            "cell_id": cells[c], "place": "屋顶", "source": "s"})
        ),
        (0..4usize, 1..10u32).prop_map(
            |(c, n)| json!({"type": "record_casualty", "kind": "trapped", "count": n,
            "position": [113.005 + 0.01 * c as f64, 27.005], "source": "s"})
        ),
        (1..6u32, 1..10u32).prop_map(
            |(id, n)| json!({"type": "record_rescue", "casualty_id": format!("CA-{id}"), "count": n,
            "shelter_id": "S-1"})
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Whatever the desk records in whatever order, nobody is counted twice: a cell never has
    /// more people at risk under active orders, gone under lifted ones and rescued outside any
    /// order than live in it; an order's cells never lose more people (or vulnerable people)
    /// than were at risk in them; an order's figures are the sums of its cells'.
    #[test]
    fn nobody_is_counted_twice(steps in prop::collection::vec(people_command(), 1..60)) {
        let mut s = people_world();
        let d = Actor::system();
        let (mut rescued, mut uncounted) = (0u64, 0u64);
        for (i, c) in steps.iter().enumerate() {
            let cmd: Command = serde_json::from_value(c.clone()).unwrap();
            let ctx = Context { now_ms: NOW + i as i64, actor: &d, snapper: &NoLevees };
            if let Ok(events) = s.decide(&cmd, &ctx) {
                for e in &events {
                    if let Event::PeopleRescued { count, uncounted: u, .. } = e {
                        rescued += u64::from(*count);
                        uncounted += u64::from(*u);
                    }
                    s.apply(e);
                }
            }
            // Everyone rescued is accounted for: under an order, outside any, or not counted
            // again because already counted.
            let under_orders: u64 = s.evacuations.values().map(|o| u64::from(o.departures.rescued)).sum();
            prop_assert_eq!(rescued, under_orders + s.rescued_outside_orders + uncounted, "{}", c);
            for cell in s.grid_cells.values() {
                let mut counted = u64::from(s.rescued_outside_by_cell.get(&cell.id).copied().unwrap_or(0));
                for o in s.evacuations.values() {
                    for oc in o.cells.iter().filter(|oc| oc.cell_id == cell.id) {
                        counted += u64::from(if o.status == EvacuationStatus::Active {
                            oc.at_risk
                        } else {
                            oc.left.total()
                        });
                    }
                }
                prop_assert!(counted <= u64::from(cell.population), "{} counts {counted} of {}: {c}", cell.id, cell.population);
                let mut elderly = 0u32;
                for o in s.evacuations.values() {
                    for oc in o.cells.iter().filter(|oc| oc.cell_id == cell.id) {
                        elderly += if o.status == EvacuationStatus::Active {
                            oc.vulnerable_at_risk.elderly_alone
                        } else {
                            oc.vulnerable_left.elderly_alone
                        };
                    }
                }
                prop_assert!(elderly <= cell.vulnerable.elderly_alone, "{}: {elderly} elderly counted: {c}", cell.id);
            }
            for o in s.evacuations.values() {
                let mut left = 0u32;
                for oc in &o.cells {
                    prop_assert!(oc.left.total() <= oc.at_risk, "{}/{}: {c}", o.id, oc.cell_id);
                    prop_assert!(super::evacuation::within(&oc.vulnerable_left, &oc.vulnerable_at_risk));
                    prop_assert!(oc.vulnerable_left.total() <= oc.left.total());
                    prop_assert!(oc.vulnerable_at_risk.total() <= oc.at_risk);
                    prop_assert!(oc.vulnerable_remaining().total() <= oc.remaining());
                    left += oc.left.total();
                }
                prop_assert_eq!(o.evacuated, left);
                prop_assert_eq!(o.departures.total(), left);
                prop_assert_eq!(o.population, o.cells.iter().map(|oc| oc.at_risk).sum::<u32>());
            }
        }
    }
}
