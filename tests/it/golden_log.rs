//! The golden log: a small event log written by format 1 (`tests/fixtures/golden-log/`), loaded
//! through the store into a real SQLite file and recovered. Every later version of Crest must
//! fold it to the same state and recognise resends of its commands as duplicates.

use crest::codec;
use crest::domain::model::{AssignmentState, EvacuationStatus, HazardStatus, Severity};
use crest::domain::{Actor, Command, State};
use crest::engine::{self, EngineConfig};
use crest::metrics::Metrics;
use crest::projection::Live;
use crest::store::{CommandRecord, SqliteStore, Store, StoredEvent};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden-log")
        .join(name)
}

/// One line of `events.jsonl`.
#[derive(Deserialize)]
struct GoldenEvent {
    seq: u64,
    time_ms: i64,
    command_id: String,
    actor: String,
    format: u32,
    body: String,
}

/// One line of `commands.jsonl`.
#[derive(Deserialize)]
struct GoldenCommand {
    command_id: String,
    role: String,
    command: Value,
    request_hash: String,
    first_seq: u64,
    last_seq: u64,
    created_id: Option<String>,
}

fn lines<T: serde::de::DeserializeOwned>(name: &str) -> Vec<T> {
    std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every event type of format 1.
const FORMAT_1_EVENT_TYPES: [&str; 23] = [
    "levee_defined",
    "shelter_defined",
    "gauge_defined",
    "grid_cell_defined",
    "team_registered",
    "hazard_reported",
    "hazard_status_changed",
    "hazard_escalated",
    "team_moved",
    "team_duty_changed",
    "assignment_created",
    "assignment_state_changed",
    "shelter_open_changed",
    "evacuees_checked_in",
    "evacuees_checked_out",
    "supply_set",
    "supply_changed",
    "reading_recorded",
    "threshold_crossed",
    "response_level_changed",
    "evacuation_ordered",
    "evacuation_progressed",
    "evacuation_lifted",
];

/// Writes the golden log into a fresh SQLite file through the store's API, as the engine would
/// have: each command's events with its idempotency record, a few commands per transaction.
async fn load_golden_log(path: &Path) -> Arc<SqliteStore> {
    let events: Vec<GoldenEvent> = lines("events.jsonl");
    let commands: Vec<GoldenCommand> = lines("commands.jsonl");
    let records: Vec<CommandRecord> = commands
        .iter()
        .map(|c| CommandRecord {
            command_id: c.command_id.clone(),
            request_hash: c.request_hash.clone(),
            created_id: c.created_id.clone(),
            events: events
                .iter()
                .filter(|e| e.command_id == c.command_id)
                .map(|e| StoredEvent {
                    seq: e.seq,
                    time_ms: e.time_ms,
                    command_id: e.command_id.clone(),
                    actor: e.actor.clone(),
                    format: e.format,
                    body: e.body.clone(),
                })
                .collect(),
        })
        .collect();
    assert_eq!(
        records.iter().map(|r| r.events.len()).sum::<usize>(),
        events.len(),
        "every event belongs to a command"
    );
    let store = Arc::new(SqliteStore::open(path).await.unwrap());
    for batch in records.chunks(7) {
        store.append(batch).await.unwrap();
    }
    store
}

/// The state the golden log folds to: `state.json`, plus what later versions derive from the same
/// events and `state.json` (written before) cannot hold. Since issue 9 §4 the state keeps every
/// gauge's readings: the log's three `reading_recorded` events of G-XJ, listed here one by one.
fn expected_state() -> State {
    let mut s: State =
        serde_json::from_str(&std::fs::read_to_string(fixture("state.json")).unwrap()).unwrap();
    assert!(
        s.gauge_readings.is_empty(),
        "state.json predates the readings"
    );
    s.gauge_readings.insert(
        "G-XJ".into(),
        [
            (37.2, 1_795_844_346_868),
            (40.31, 1_795_844_346_872),
            (39.87, 1_795_844_346_876),
        ]
        .into_iter()
        .map(|(level_m, time_ms)| crest::domain::model::Reading { level_m, time_ms })
        .collect(),
    );
    s
}

/// Facts of the golden log, asserted one by one so they hold even if `State`'s own JSON
/// (and with it `state.json`) ever has to change.
fn assert_golden_facts(s: &State) {
    let hz1 = &s.hazards["HZ-1"];
    assert_eq!(
        (hz1.status, hz1.severity),
        (HazardStatus::Eliminated, Severity::Critical)
    );
    let on = hz1.levee.as_ref().expect("snapped to the levee");
    assert_eq!(
        (on.levee_id.as_str(), on.chainage.as_str()),
        ("XJ-E1", "K17+561")
    );
    assert_eq!(hz1.reported_by, "tablet-T-07");
    let hz2 = &s.hazards["HZ-2"];
    assert_eq!(hz2.status, HazardStatus::FalseAlarm);
    assert!(hz2.levee.is_none());
    let t07 = &s.teams["T-07"];
    let fix = t07.fix.expect("moved");
    assert_eq!(
        (fix.position.lon(), fix.position.lat(), fix.accuracy_m),
        (113.1006, 27.6499, 4.7)
    );
    assert_eq!(t07.assignment, None, "its assignment is completed");
    assert!(!s.teams["T-01"].on_duty);
    assert_eq!(s.assignments["AS-1"].state, AssignmentState::Completed);
    assert_eq!(s.assignments["AS-1"].history.len(), 5);
    assert_eq!(s.assignments["AS-2"].state, AssignmentState::Cancelled);
    let s1 = &s.shelters["S-NZ-01"];
    assert!(s1.open);
    assert_eq!(s1.occupancy, 32);
    assert_eq!(s1.supplies["water"].stock, 300.0 + 120.5 - 111.3);
    assert_eq!(s1.supplies["rice"].stock, 50.25);
    let s2 = &s.shelters["S-NZ-02"];
    assert_eq!((s2.open, s2.occupancy, s2.capacity), (false, 41, 40));
    assert_eq!(s.gauges["G-XJ"].last.expect("read").level_m, 39.87);
    assert_eq!(s.response["fukou"].len(), 2);
    assert_eq!(s.response_level(&"fukou".into()), None, "lifted again");
    let ev1 = &s.evacuations["EV-1"];
    assert_eq!((ev1.status, ev1.evacuated), (EvacuationStatus::Lifted, 400));
    assert_eq!(s.grid_cells["GC-001"].population, 1240);
    assert_eq!(s.levees.len(), 1);
    assert_eq!(
        (s.next_hazard, s.next_assignment, s.next_evacuation),
        (2, 2, 1)
    );
}

/// The log every Crest has written since format 1 still folds to the same state: through the
/// store into a real SQLite file, then `engine::recover`, every event through the codec.
#[tokio::test]
async fn every_version_folds_the_golden_log_to_the_same_state() {
    let events: Vec<GoldenEvent> = lines("events.jsonl");
    let types: BTreeSet<String> = events
        .iter()
        .map(|e| {
            let body: Value = serde_json::from_str(&e.body).unwrap();
            body["type"].as_str().unwrap().to_string()
        })
        .collect();
    let all: BTreeSet<String> = FORMAT_1_EVENT_TYPES.iter().map(|t| t.to_string()).collect();
    assert_eq!(
        types, all,
        "the golden log holds every event type of format 1"
    );
    assert!(events.iter().all(|e| e.format == 1));

    let dir = tempfile::tempdir().unwrap();
    let store = load_golden_log(&dir.path().join("golden.db")).await;
    for e in store.events_after(0, u32::MAX).await.unwrap() {
        codec::decode_event(&e).unwrap_or_else(|err| panic!("event {}: {err}", e.seq));
    }
    let recovered = engine::recover(store.as_ref()).await.unwrap();
    assert_eq!((recovered.seq, recovered.replayed), (42, 42));
    assert_eq!(recovered.state, expected_state());
    assert_golden_facts(&recovered.state);
}

/// After loading the golden log, the engine answers a resend of each of its commands as a
/// duplicate with the original outcome — their records hold the request hash of format 1's day
/// — and the snapshot it writes at its stop restores the same state.
#[tokio::test]
async fn resends_of_the_golden_commands_are_duplicates_and_a_snapshot_restores_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = load_golden_log(&dir.path().join("golden.db")).await;
    let recovered = engine::recover(store.as_ref()).await.unwrap();
    let live = Live::new(recovered.state.clone(), recovered.seq, 64);
    let handle = engine::spawn(
        store.clone(),
        live.clone(),
        Arc::new(Metrics::default()),
        recovered,
        EngineConfig {
            clock: Default::default(),
            tick_every: None,
            snapshot_every: 0,
        },
    );
    for c in lines::<GoldenCommand>("commands.jsonl") {
        let command: Command = serde_json::from_value(c.command.clone()).unwrap();
        let outcome = handle
            .submit(actor(&c.role), c.command_id.clone(), command)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", c.command_id));
        assert!(outcome.duplicate, "{}", c.command_id);
        assert_eq!(
            outcome.seqs,
            (c.first_seq..=c.last_seq).collect::<Vec<_>>(),
            "{}",
            c.command_id
        );
        assert_eq!(outcome.created, c.created_id, "{}", c.command_id);
    }
    assert_eq!(handle.stop().await, Some(42), "nothing was applied twice");
    let snapshot = store
        .latest_snapshot()
        .await
        .unwrap()
        .expect("written at the stop");
    assert_eq!(
        (snapshot.seq, snapshot.format),
        (42, codec::SNAPSHOT_FORMAT)
    );
    let again = engine::recover(store.as_ref()).await.unwrap();
    assert_eq!((again.seq, again.replayed), (42, 0), "from the snapshot");
    assert_eq!(again.state, expected_state());
}

/// The commands the golden log was generated from, in order, with who sent them.
fn script() -> Vec<(&'static str, &'static str, Value)> {
    let d = "dispatcher";
    let f = "field";
    vec![
        (
            "g-levee",
            d,
            json!({"type": "define_levee", "id": "XJ-E1", "name": "湘江东岸一段", "river": "湘江", "bank": "east",
                   "line": [[113.10, 27.60], [113.10, 27.65], [113.1012, 27.70]], "chainage_origin_m": 12000.0,
                   "riverside": "left", "crest_elevation_m": 44.0, "design_flood_level_m": 42.5}),
        ),
        (
            "g-shelter-1",
            d,
            json!({"type": "define_shelter", "id": "S-NZ-01", "name": "南洲中学", "position": [113.12, 27.64],
                   "capacity": 120, "supplies": {"water": {"stock": 300.0, "per_person_daily": 3.0, "unit": "L"}},
                   "town": "南洲镇", "kind": "school"}),
        ),
        (
            "g-shelter-2",
            d,
            json!({"type": "define_shelter", "id": "S-NZ-02", "name": "南洲镇政府", "position": [113.125, 27.645],
                   "capacity": 40, "open": true}),
        ),
        (
            "g-gauge",
            d,
            json!({"type": "define_gauge", "id": "G-XJ", "name": "涪口", "river": "湘江", "position": [113.14, 27.709],
                   "datum": "吴淞", "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5},
                   "levee_ids": ["XJ-E1"]}),
        ),
        (
            "g-cell",
            d,
            json!({"type": "define_grid_cell", "id": "GC-001", "name": "将军村一组",
                   "ring": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.63]],
                   "population": 1240, "households": 410, "grid_worker": "李四", "town": "南洲镇", "village": "将军村"}),
        ),
        (
            "g-team-07",
            d,
            json!({"type": "register_team", "id": "T-07", "name": "南洲民兵连", "kind": "militia", "headcount": 24,
                   "capabilities": ["engineering", "lighting"], "travel_mode": "foot", "position": [113.1011, 27.6502]}),
        ),
        (
            "g-team-01",
            d,
            json!({"type": "register_team", "id": "T-01", "name": "消防一中队", "kind": "fire_rescue", "headcount": 12,
                   "capabilities": ["pump", "boat"], "travel_mode": "vehicle"}),
        ),
        (
            "g-report-1",
            f,
            json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.1005, 27.65],
                   "description": "背水坡脚管涌"}),
        ),
        (
            "g-confirm-1",
            d,
            json!({"type": "confirm_hazard", "hazard_id": "HZ-1", "reason": "现场核实"}),
        ),
        (
            "g-assign-1",
            d,
            json!({"type": "create_assignment", "team_id": "T-07", "target": {"kind": "hazard", "hazard_id": "HZ-1"},
                   "note": "反滤围井"}),
        ),
        (
            "g-accept-1",
            f,
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "accepted"}),
        ),
        (
            "g-enroute-1",
            f,
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "en_route"}),
        ),
        (
            "g-move-07",
            f,
            json!({"type": "update_position", "team_id": "T-07", "position": [113.1006, 27.6499], "accuracy_m": 4.7}),
        ),
        (
            "g-onscene-1",
            f,
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "on_scene"}),
        ),
        (
            "g-handle-1",
            d,
            json!({"type": "start_hazard_handling", "hazard_id": "HZ-1"}),
        ),
        (
            "g-escalate-1",
            d,
            json!({"type": "escalate_hazard", "hazard_id": "HZ-1", "severity": "critical", "reason": "出水量增大"}),
        ),
        (
            "g-complete-1",
            f,
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "completed"}),
        ),
        (
            "g-eliminate-1",
            d,
            json!({"type": "eliminate_hazard", "hazard_id": "HZ-1", "reason": "险情排除"}),
        ),
        (
            "g-report-2",
            d,
            json!({"type": "report_hazard", "kind": "seepage", "severity": "general", "position": [113.2, 27.8]}),
        ),
        (
            "g-false-2",
            d,
            json!({"type": "mark_false_alarm", "hazard_id": "HZ-2", "reason": "雨水"}),
        ),
        (
            "g-assign-2",
            d,
            json!({"type": "create_assignment", "team_id": "T-01",
                   "target": {"kind": "patrol_stretch", "levee_id": "XJ-E1", "from_m": 12000.0, "to_m": 13500.5}}),
        ),
        (
            "g-cancel-2",
            d,
            json!({"type": "cancel_assignment", "assignment_id": "AS-2", "reason": "改派"}),
        ),
        (
            "g-duty-01",
            d,
            json!({"type": "set_team_duty", "team_id": "T-01", "on_duty": false}),
        ),
        (
            "g-open-1",
            d,
            json!({"type": "open_shelter", "shelter_id": "S-NZ-01"}),
        ),
        (
            "g-checkin-1",
            f,
            json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 37}),
        ),
        (
            "g-checkout-1",
            f,
            json!({"type": "check_out", "shelter_id": "S-NZ-01", "count": 5}),
        ),
        (
            "g-checkin-2",
            d,
            json!({"type": "check_in", "shelter_id": "S-NZ-02", "count": 41, "allow_over_capacity": true}),
        ),
        (
            "g-supply-set",
            d,
            json!({"type": "set_supply", "shelter_id": "S-NZ-01", "item": "rice", "stock": 50.25,
                   "per_person_daily": 0.4, "unit": "kg"}),
        ),
        (
            "g-deliver",
            d,
            json!({"type": "deliver_supply", "shelter_id": "S-NZ-01", "item": "water", "quantity": 120.5}),
        ),
        (
            "g-issue",
            d,
            json!({"type": "issue_supply", "shelter_id": "S-NZ-01", "item": "water", "quantity": 111.3}),
        ),
        (
            "g-close-2",
            d,
            json!({"type": "close_shelter", "shelter_id": "S-NZ-02"}),
        ),
        (
            "g-reading-1",
            d,
            json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": 37.2}),
        ),
        (
            "g-reading-2",
            d,
            json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": 40.31}),
        ),
        (
            "g-reading-3",
            d,
            json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": 39.87}),
        ),
        (
            "g-response-1",
            d,
            json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "II", "reason": "超警戒"}),
        ),
        (
            "g-evac",
            d,
            json!({"type": "issue_evacuation_order", "name": "将军村",
                   "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.63]],
                   "population": 1240, "target_shelters": ["S-NZ-01"]}),
        ),
        (
            "g-evac-progress",
            d,
            json!({"type": "record_evacuation_progress", "evacuation_id": "EV-1", "count": 400}),
        ),
        (
            "g-evac-lift",
            d,
            json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"}),
        ),
        (
            "g-response-2",
            d,
            json!({"type": "set_response_level", "jurisdiction": "fukou", "level": null, "reason": "退水"}),
        ),
    ]
}

fn actor(role: &str) -> Actor {
    match role {
        "field" => Actor {
            role: crest::domain::Role::Field,
            team: Some("T-07".into()),
            grid_worker: None,
            name: "tablet-T-07".into(),
        },
        _ => Actor {
            role: crest::domain::Role::Dispatcher,
            team: None,
            grid_worker: None,
            name: "desk 1".into(),
        },
    }
}

/// Writes the golden log from the commands above with the code of the day. Run once, by hand,
/// to produce `tests/fixtures/golden-log/`; never to replace the committed files (they are the
/// record of format 1): `GOLDEN_LOG_OUT=/tmp/golden cargo test --test it generate -- --ignored`.
#[tokio::test]
#[ignore]
async fn generate_the_golden_log() {
    let out = std::env::var("GOLDEN_LOG_OUT").expect("GOLDEN_LOG_OUT names a directory");
    let out = Path::new(&out);
    std::fs::create_dir_all(out).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("g.db")).await.unwrap());
    let recovered = engine::recover(store.as_ref()).await.unwrap();
    let live = Live::new(recovered.state.clone(), recovered.seq, 64);
    let handle = engine::spawn(
        store.clone(),
        live.clone(),
        Arc::new(Metrics::default()),
        recovered,
        EngineConfig {
            clock: Default::default(),
            tick_every: None,
            snapshot_every: 0,
        },
    );
    let mut commands = String::new();
    for (id, role, command) in script() {
        let parsed: Command = serde_json::from_value(command.clone()).unwrap();
        handle
            .submit(actor(role), id.into(), parsed)
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let outcome = store.command_outcomes(&[id]).await.unwrap().remove(0);
        commands.push_str(
            &json!({
                "command_id": id,
                "role": role,
                "command": command,
                "request_hash": outcome.request_hash,
                "first_seq": outcome.first_seq,
                "last_seq": outcome.last_seq,
                "created_id": outcome.created_id,
            })
            .to_string(),
        );
        commands.push('\n');
    }
    handle.stop().await;
    let mut events = String::new();
    for e in store.events_after(0, u32::MAX).await.unwrap() {
        events.push_str(
            &json!({
                "seq": e.seq,
                "time_ms": e.time_ms,
                "command_id": e.command_id,
                "actor": e.actor,
                "format": e.format,
                "body": e.body,
            })
            .to_string(),
        );
        events.push('\n');
    }
    let state = engine::recover(store.as_ref()).await.unwrap().state;
    std::fs::write(out.join("events.jsonl"), events).unwrap();
    std::fs::write(out.join("commands.jsonl"), commands).unwrap();
    std::fs::write(
        out.join("state.json"),
        serde_json::to_string_pretty(&state).unwrap() + "\n",
    )
    .unwrap();
}
