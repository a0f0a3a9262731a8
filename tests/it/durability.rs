//! Durability: a restart restores exactly the same state, and after SIGKILL in the middle of a
//! load every acknowledged command is in the log and nothing is half there.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};
use std::collections::HashMap;

const ALL_LAYERS: [&str; 9] = [
    "levees",
    "hazards",
    "teams",
    "assignments",
    "shelters",
    "gauges",
    "response",
    "evacuations",
    "grid_cells",
];

/// Drives a little of everything through the protocol.
async fn busy_day(d: &mut Client, f: &mut Client) {
    let h = d.ok(json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.0945, 27.645], "description": "管涌群"})).await;
    let hid = h["created"].as_str().unwrap().to_string();
    d.ok(json!({"type": "confirm_hazard", "hazard_id": hid}))
        .await;
    let a = d.ok(json!({"type": "create_assignment", "team_id": "T-07", "target": {"kind": "hazard", "hazard_id": hid}, "note": "反滤围井"})).await;
    let aid = a["created"].as_str().unwrap().to_string();
    for to in ["accepted", "en_route"] {
        f.ok(json!({"type": "advance_assignment", "assignment_id": aid, "to": to}))
            .await;
    }
    f.ok(move_team("T-07", 113.0946, 27.6449)).await;
    f.ok(json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 37}))
        .await;
    d.ok(json!({"type": "issue_supply", "shelter_id": "S-NZ-01", "item": "water", "quantity": 111.5})).await;
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.31}))
        .await;
    d.ok(json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "II", "reason": "超警戒"})).await;
    d.ok(json!({"type": "issue_evacuation_order", "name": "将军村", "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.63]], "target_shelters": ["S-NZ-01"]})).await;
}

/// Every layer's snapshot, without the envelope.
async fn picture(server: &TestServer) -> (u64, Value) {
    let mut c = server.client(Role::Observer, None).await;
    let snap = c.subscribe(&ALL_LAYERS, None).await;
    (snap["seq"].as_u64().unwrap(), snap["layers"].clone())
}

/// Removes every snapshot, so that the next start must replay the whole log.
async fn drop_snapshots(db: &std::path::Path) {
    exec_sql(db, "DELETE FROM snapshots").await;
}

async fn restart_restores(snapshot_every: u64, replay_whole_log: bool) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let server = TestServer::start_on(&db, |c| c.snapshot_every = snapshot_every).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut f = server.client(Role::Field, Some("T-07")).await;
    busy_day(&mut d, &mut f).await;
    if !replay_whole_log && (picture(&server).await.0 % snapshot_every == 0) {
        // Make sure some events come after the last periodic snapshot.
        d.ok(move_team("T-11", 113.17, 27.71)).await;
    }
    let before = picture(&server).await;
    if replay_whole_log {
        server.stop().await;
        drop_snapshots(&db).await;
    } else {
        let store = server.store.clone();
        server.abandon();
        let snap = store
            .latest_snapshot()
            .await
            .unwrap()
            .expect("a periodic snapshot");
        assert!(
            snap.seq < before.0,
            "the restart must replay a tail after the snapshot"
        );
    }

    let server = TestServer::start_on(&db, |c| c.snapshot_every = snapshot_every).await;
    let after = picture(&server).await;
    assert_eq!(
        after.0, before.0,
        "same sequence number, and the map import added nothing"
    );
    assert_eq!(after.1, before.1, "the same state, field for field");
    // And the log keeps going from there without a gap.
    let mut d = server.client(Role::Dispatcher, None).await;
    let ack = d.ok(move_team("T-01", 113.2, 27.7)).await;
    assert_eq!(ack["seqs"], json!([before.0 + 1]));
    server.stop().await;
}

#[tokio::test]
async fn a_graceful_stop_closes_sessions_and_writes_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let server = TestServer::start_on(&db, |c| c.snapshot_every = 0).await;
    let store = server.store.clone();
    let mut d = server.client(Role::Dispatcher, None).await;
    let ack = d.ok(move_team("T-01", 113.2, 27.7)).await;
    let last = ack["seqs"][0].as_u64().unwrap();
    assert_eq!(
        store.latest_snapshot().await.unwrap(),
        None,
        "no snapshot before the stop"
    );
    let stopping = tokio::spawn(server.stop());
    while d.try_next().await.is_some() {}
    assert_eq!(d.closed, Some((1001, "server shutting down".to_string())));
    stopping.await.unwrap();
    let snap = store
        .latest_snapshot()
        .await
        .unwrap()
        .expect("snapshot written at the stop");
    assert_eq!(snap.seq, last);
}

#[tokio::test]
async fn restart_restores_the_same_state_from_the_log() {
    restart_restores(0, true).await;
}

#[tokio::test]
async fn restart_restores_the_same_state_from_a_snapshot_and_the_log_after_it() {
    // A snapshot every 4 events, then events after the last one, and no stop snapshot: the start
    // combines a snapshot with a replay of the tail.
    restart_restores(4, false).await;
}

/// A snapshot that cannot be decoded does not keep Crest from starting: it is logged and skipped,
/// the whole log is replayed, and the stop writes a good snapshot in its place.
#[tokio::test]
async fn a_snapshot_that_cannot_be_decoded_is_skipped_and_the_whole_log_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let server = TestServer::start_on(&db, |c| c.snapshot_every = 0).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut f = server.client(Role::Field, Some("T-07")).await;
    busy_day(&mut d, &mut f).await;
    let before = picture(&server).await;
    server.stop().await;
    let garbled = exec_sql(&db, "UPDATE snapshots SET state = '{\"levees\": garbage'").await;
    assert_eq!(garbled, 1, "the stop had written a snapshot");

    let server = TestServer::start_on(&db, |c| c.snapshot_every = 0).await;
    let store = server.store.clone();
    assert_eq!(
        picture(&server).await,
        before,
        "the same state, from the log alone"
    );
    server.stop().await;
    let snapshot = store.latest_snapshot().await.unwrap().expect("a snapshot");
    assert_eq!(snapshot.seq, before.0);
    crest::codec::decode_snapshot(&snapshot).expect("the stop wrote a good snapshot again");
}

/// Starts the real binary and returns it with its address.
#[tokio::test]
async fn sigkill_during_a_load_loses_no_acknowledged_command() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let (mut child, addr) = spawn_binary(&db).await;
    let url = format!("ws://{addr}/ws");
    let token = cli_token(&db, "dispatcher");

    // Four writers, each keeping up to 32 commands in flight, until the server dies.
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<(String, Value, Value)>();
    let mut writers = Vec::new();
    for w in 0..4 {
        let (url, token, acked_tx) = (url.clone(), token.clone(), acked_tx.clone());
        writers.push(tokio::spawn(async move {
            let mut c = Client::connect(&url).await;
            c.auth(&token).await;
            let mut sent: HashMap<String, Value> = HashMap::new();
            let mut n = 0u64;
            loop {
                while sent.len() < 32 {
                    n += 1;
                    let id = format!("w{w}-{n}");
                    let cmd = if n.is_multiple_of(2) {
                        json!({"type": "check_in", "shelter_id": "S-LK-01", "count": 1, "allow_over_capacity": true})
                    } else {
                        move_team(["T-01", "T-02", "T-07", "T-11"][w], 113.1 + (n % 100) as f64 * 1e-4, 27.65)
                    };
                    if !c.try_send(json!({"type": "command", "id": id, "command": cmd})).await {
                        return;
                    }
                    sent.insert(id, cmd);
                }
                let Some(m) = c.try_next().await else { return };
                if m["type"] == "ack" {
                    let id = m["id"].as_str().unwrap().to_string();
                    let cmd = sent.remove(&id).unwrap();
                    let _ = acked_tx.send((id, cmd, m["seqs"].clone()));
                } else if m["type"] == "error" {
                    panic!("unexpected error under load: {m}");
                }
            }
        }));
    }
    drop(acked_tx);
    let mut acked = Vec::new();
    while acked.len() < 400 {
        acked.push(acked_rx.recv().await.expect("writers keep acknowledging"));
    }
    child.start_kill().expect("SIGKILL");
    child.wait().await.unwrap();
    for w in writers {
        w.await.unwrap();
    }
    while let Ok(a) = acked_rx.try_recv() {
        acked.push(a);
    }

    // Restart on the same file.
    let server = TestServer::start_on(&db, |_| {}).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    for (id, cmd, seqs) in &acked {
        let r = d.command(id, cmd.clone()).await;
        assert_eq!(r["type"], "ack", "acknowledged command {id} survives: {r}");
        assert_eq!(
            r["duplicate"], true,
            "{id} is in the log, so the resend is not applied again"
        );
        assert_eq!(&r["seqs"], seqs);
    }
    // Nothing half there: every command's events are all present, the log has no gap, and the
    // shelter holds exactly one person per logged check-in.
    let events = server.store.events_after(0, u32::MAX).await.unwrap();
    let mut logged_ids: Vec<&str> = events.iter().map(|e| e.command_id.as_str()).collect();
    logged_ids.dedup();
    let outcomes = server.store.command_outcomes(&logged_ids).await.unwrap();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "gap-free log");
    }
    let mut per_command: HashMap<&str, Vec<u64>> = HashMap::new();
    for e in &events {
        per_command
            .entry(e.command_id.as_str())
            .or_default()
            .push(e.seq);
    }
    assert_eq!(per_command.len(), outcomes.len());
    for o in &outcomes {
        assert_eq!(
            per_command[o.command_id.as_str()],
            (o.first_seq..=o.last_seq).collect::<Vec<_>>(),
            "{}",
            o.command_id
        );
    }
    let check_ins = events
        .iter()
        .filter(|e| e.body.contains("\"evacuees_checked_in\""))
        .count();
    let shelters = d.query(json!({"type": "nearest_shelters", "point": [113.152, 27.721], "min_free": 0, "limit": 1})).await;
    assert_eq!(shelters["shelters"][0]["shelter_id"], "S-LK-01");
    let snap = d.subscribe(&["shelters"], None).await;
    let s = snap["layers"]["shelters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "S-LK-01")
        .unwrap()
        .clone();
    assert_eq!(s["occupancy"].as_u64().unwrap() as usize, check_ins);
    server.stop().await;
}
