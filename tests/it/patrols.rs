//! Watching the levees end to end, over real WebSockets: patrol coverage from a team walking the
//! levee, gap alerts raised by the clock and resolved by a pass, the interval tightening at 警戒,
//! and the alerts surviving a restart exactly as they were logged.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};

const MIN: i64 = 60_000;

/// Levee L-T runs due north from (113.30, 27.30) for about 2.2 km, chainage from 0.
fn on_levee(chainage: f64) -> [f64; 2] {
    [113.30, 27.30 + chainage / 111_194.9]
}

fn section(id: &str, from: f64, to: f64) -> Value {
    let points: Vec<Value> = (0..=2)
        .map(|i| {
            let c = from + (to - from) * f64::from(i) / 2.0;
            json!({"id": format!("{id}-{i}"), "chainage": c})
        })
        .collect();
    json!({"type": "define_patrol_section", "id": id, "levee_id": "L-T", "from": from, "to": to,
           "points": points})
}

/// Levee L-T, gauge G-T governing it, and team T-P (at `position`, if given).
async fn levee_gauge_and_team(d: &mut Client, position: Option<[f64; 2]>) {
    d.ok(
        json!({"type": "define_levee", "id": "L-T", "name": "test levee",
                "line": [on_levee(0.0), on_levee(2_200.0)], "riverside": "left"}),
    )
    .await;
    d.ok(
        json!({"type": "define_gauge", "id": "G-T", "name": "g", "position": [113.31, 27.31],
                "datum": "吴淞", "levee_ids": ["L-T"],
                "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}}),
    )
    .await;
    d.ok(
        json!({"type": "register_team", "id": "T-P", "name": "巡堤组", "kind": "militia",
                "headcount": 6, "travel_mode": "foot", "position": position}),
    )
    .await;
}

/// The alerts (`alert_raised`) among the events a client has seen, as (kind, subject, seq).
fn raised(events: &[Value]) -> Vec<(String, String, u64)> {
    events
        .iter()
        .filter(|m| m["event"]["type"] == "alert_raised")
        .map(|m| {
            let a = &m["event"]["alert"];
            (
                a["kind"].as_str().unwrap().to_string(),
                a["subject_id"].as_str().unwrap().to_string(),
                m["seq"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// Every event message the client has received up to and including `seq`.
async fn events_through(c: &mut Client, seq: u64) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let m = c.until("event").await;
        let s = m["seq"].as_u64().unwrap();
        out.push(m);
        if s >= seq {
            return out;
        }
    }
}

#[tokio::test]
async fn a_team_walking_the_levee_clears_the_gaps_it_passes_and_time_raises_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let server = TestServer::start_on(&db, |c| {
        c.map = None;
        c.tick_every = None; // ticks only when the test asks
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut watcher = server.client(Role::Observer, None).await;
    watcher
        .subscribe(&["alerts", "patrol_sections"], None)
        .await;
    levee_gauge_and_team(&mut d, Some(on_levee(0.0))).await;
    d.ok(section("PS-A", 0.0, 500.0)).await;
    d.ok(section("PS-B", 480.0, 980.0)).await;
    // The river reaches 警戒: every stretch every 30 minutes; both sections need a team.
    let ack = d
        .ok(json!({"type": "record_reading", "gauge_id": "G-T", "level_m": 40.3}))
        .await;
    let last = ack["seqs"].as_array().unwrap().last().unwrap().clone();
    let seen = events_through(&mut watcher, last.as_u64().unwrap()).await;
    let kinds: Vec<String> = raised(&seen).into_iter().map(|r| r.0).collect();
    assert_eq!(
        kinds.iter().filter(|k| *k == "patrol_unstaffed").count(),
        2,
        "{kinds:?}"
    );
    for s in ["PS-A", "PS-B"] {
        let shift = json!({"type": "assign_patrol", "section_id": s, "team_id": "T-P",
                           "until_ms": server.clock.now_ms() + 8 * 60 * MIN});
        d.ok(shift).await;
    }

    // Twenty minutes on, the team walks PS-A from end to end.
    server.clock.advance(20 * MIN);
    let mut tablet = server.client(Role::Field, Some("T-P")).await;
    // A fix a minute, at a walking pace.
    for c in [0.0, 120.0, 260.0, 380.0, 505.0] {
        let t = server.clock.now_ms();
        tablet
            .ok(json!({"type": "update_position", "team_id": "T-P", "position": on_levee(c), "time_ms": t}))
            .await;
        server.clock.advance(MIN);
    }
    // 35 minutes in: PS-B was never passed since patrols began; PS-A was, 11–15 minutes ago.
    server.clock.advance(10 * MIN);
    let seq = server.engine.tick().await.unwrap();
    let seen = events_through(&mut watcher, seq).await;
    let gaps: Vec<_> = raised(&seen)
        .into_iter()
        .filter(|r| r.0 == "patrol_gap")
        .collect();
    assert_eq!(gaps.len(), 1, "{gaps:?}");
    assert_eq!(gaps[0].1, "PS-B");
    // The same condition never raises a second alert.
    let again = server.engine.tick().await.unwrap();
    assert_eq!(again, seq, "a tick that changes nothing writes nothing");

    // The board says what the dispatcher needs: who passed what and when, and what is late.
    let board = d
        .query(json!({"type": "patrol_coverage", "levee_id": "L-T"}))
        .await;
    let sections = board["sections"].as_array().unwrap();
    assert_eq!(sections.len(), 2);
    let a = &sections[0];
    assert_eq!(a["section_id"], "PS-A");
    for s in a["stretches"].as_array().unwrap() {
        assert_eq!(s["last_passed_by"], "T-P", "{s}");
        assert!(s["overdue_min"].is_null(), "{s}");
    }
    let b = &sections[1];
    assert!(
        b["stretches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["overdue_min"].as_u64() == Some(5)),
        "{b}"
    );
    let gaps_now = d.query(json!({"type": "patrol_gaps"})).await;
    let overdue: Vec<&Value> = gaps_now["gaps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|g| g["kind"] == "overdue")
        .collect();
    assert_eq!(overdue.len(), 2, "PS-B's two stretches: {gaps_now}");
    assert!(overdue.iter().all(|g| g["section_id"] == "PS-B"));
    let history = d
        .query(json!({"type": "patrol_history", "section_id": "PS-A"}))
        .await;
    assert_eq!(history["passes"].as_array().unwrap().len(), 3, "{history}");

    // The team walks on into PS-B: the pass resolves the gap, in the events of that update.
    // (The first update also ends the team's silence: 11 minutes without a fix.)
    let mut with_alerts = Vec::new();
    for c in [620.0, 760.0, 900.0, 985.0] {
        let t = server.clock.now_ms();
        let ack = tablet
            .ok(json!({"type": "update_position", "team_id": "T-P", "position": on_levee(c), "time_ms": t}))
            .await;
        if ack["seqs"].as_array().unwrap().len() > 1 {
            with_alerts.push(c);
        }
        server.clock.advance(MIN);
    }
    assert_eq!(
        with_alerts,
        [620.0, 985.0],
        "the gap resolves once its last point is passed"
    );
    let gaps_now = d.query(json!({"type": "patrol_gaps"})).await;
    assert_eq!(gaps_now["gaps"], json!([]), "{gaps_now}");

    // A restart replays the log: the same alerts, raised at the same seqs.
    let mut before = server.client(Role::Observer, None).await;
    before
        .send(json!({"type": "subscribe", "layers": ["alerts"], "resume_from": 0}))
        .await;
    let resumed = before.until("resumed").await;
    let to = resumed["to_seq"].as_u64().unwrap();
    let logged = raised(&events_through(&mut before, to).await);
    let snapshot_before = before.subscribe(&["alerts"], None).await["layers"]["alerts"].clone();
    server.stop().await;
    let server = TestServer::start_on(&db, |c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut after = server.client(Role::Observer, None).await;
    after
        .send(json!({"type": "subscribe", "layers": ["alerts"], "resume_from": 0}))
        .await;
    let resumed = after.until("resumed").await;
    assert_eq!(resumed["to_seq"].as_u64().unwrap(), to);
    assert_eq!(raised(&events_through(&mut after, to).await), logged);
    let snapshot_after = after.subscribe(&["alerts"], None).await["layers"]["alerts"].clone();
    assert_eq!(snapshot_after, snapshot_before);
    server.stop().await;
}

#[tokio::test]
async fn crossing_warning_tightens_the_interval_and_raises_the_gap_with_the_reading() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    levee_gauge_and_team(&mut d, None).await;
    d.ok(section("PS-A", 0.0, 500.0)).await;
    // 设防: every 60 minutes. The team is on shift and checks in at every point.
    d.ok(json!({"type": "record_reading", "gauge_id": "G-T", "level_m": 38.6}))
        .await;
    d.ok(
        json!({"type": "assign_patrol", "section_id": "PS-A", "team_id": "T-P",
                "until_ms": server.clock.now_ms() + 8 * 60 * MIN}),
    )
    .await;
    for p in ["PS-A-0", "PS-A-1", "PS-A-2"] {
        d.ok(json!({"type": "check_in_patrol_point", "section_id": "PS-A", "point_id": p, "team_id": "T-P"}))
            .await;
    }
    d.ok(json!({"type": "update_position", "team_id": "T-P", "position": on_levee(250.0)}))
        .await;
    // 45 minutes on: within the hour, no gap.
    server.clock.advance(45 * MIN);
    d.ok(json!({"type": "update_position", "team_id": "T-P", "position": on_levee(250.0)}))
        .await;
    server.engine.tick().await.unwrap();
    let gaps = d.query(json!({"type": "patrol_gaps"})).await;
    assert_eq!(gaps["gaps"], json!([]), "{gaps}");
    // The river reaches 警戒: 30 minutes now, so the 45-minute-old passes are late at once.
    let mut watcher = server.client(Role::Observer, None).await;
    watcher.subscribe(&["alerts"], None).await;
    let ack = d
        .ok(json!({"type": "record_reading", "gauge_id": "G-T", "level_m": 40.2}))
        .await;
    let last = ack["seqs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap();
    let seen = events_through(&mut watcher, last).await;
    let gap: Vec<_> = raised(&seen)
        .into_iter()
        .filter(|r| r.0 == "patrol_gap")
        .collect();
    assert_eq!(gap.len(), 1, "{seen:?}");
    assert!(
        ack["seqs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s.as_u64() == Some(gap[0].2)),
        "raised in the reading's own events"
    );
    let board = d
        .query(json!({"type": "patrol_coverage", "levee_id": "L-T"}))
        .await;
    assert_eq!(board["sections"][0]["interval_min"], 30);
    server.stop().await;
}
