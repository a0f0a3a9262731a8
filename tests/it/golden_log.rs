//! The golden log: a small event log written by format 1 (`tests/fixtures/golden-log/`), loaded
//! through the store into a real SQLite file and recovered. Every later version of Crest must
//! fold it to the same state and recognise resends of its commands as duplicates.

use crest::domain::{Actor, Command};
use crest::engine::{self, EngineConfig};
use crest::metrics::Metrics;
use crest::projection::Live;
use crest::store::{SqliteStore, Store};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;

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
            name: "tablet-T-07".into(),
        },
        _ => Actor {
            role: crest::domain::Role::Dispatcher,
            team: None,
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
        EngineConfig { snapshot_every: 0 },
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
