//! The live protocol with several concurrent clients: snapshot then deltas, viewports, resume,
//! idempotent resends and queries.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};

#[tokio::test]
async fn snapshot_then_ordered_deltas_across_concurrent_clients() {
    let server = TestServer::start().await;
    let mut dispatcher = server.client(Role::Dispatcher, None).await;
    let mut field7 = server.client(Role::Field, Some("T-07")).await;
    let mut field2 = server.client(Role::Field, Some("T-02")).await;
    let mut observer = server.client(Role::Observer, None).await;

    let snap = observer
        .subscribe(&["teams", "hazards", "shelters"], None)
        .await;
    let snap_seq = snap["seq"].as_u64().unwrap();
    assert_eq!(snap["reason"], "subscribe");
    assert_eq!(
        snap["layers"]["teams"].as_array().unwrap().len(),
        4,
        "map teams"
    );
    assert!(
        snap["layers"]["teams"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "available")
    );

    // Three clients write at once.
    let (a, b, c) = tokio::join!(
        field7.ok(move_team("T-07", 113.095, 27.63)),
        field2.ok(move_team("T-02", 113.150, 27.70)),
        dispatcher.ok(json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.0945, 27.645], "description": "管涌"})),
    );
    let hazard_id = c["created"].as_str().unwrap().to_string();
    let mut acked: Vec<u64> = [&a, &b, &c]
        .iter()
        .flat_map(|r| {
            r["seqs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_u64().unwrap())
        })
        .collect();
    acked.sort();

    let mut got = Vec::new();
    while got.len() < 3 {
        let m = observer.until("event").await;
        got.push(m);
    }
    let got_seqs = seqs(&got);
    assert!(
        got_seqs.windows(2).all(|w| w[0] < w[1]),
        "deltas in order: {got_seqs:?}"
    );
    assert!(got_seqs[0] > snap_seq, "deltas follow the snapshot");
    assert_eq!(
        got_seqs, acked,
        "every acknowledged event reaches the observer once"
    );
    let reported = got
        .iter()
        .find(|m| m["event"]["type"] == "hazard_reported")
        .unwrap();
    assert_eq!(
        reported["event"]["hazard"]["levee"]["levee_id"], "XJ-E-NZ",
        "GPS report is placed on the levee"
    );
    assert!(
        reported["event"]["hazard"]["levee"]["chainage"]
            .as_str()
            .unwrap()
            .starts_with('K')
    );

    // Rights: a field tablet moves only its own team; an observer sends no commands.
    field7
        .refused(move_team("T-02", 113.1, 27.6), "forbidden")
        .await;
    observer
        .refused(move_team("T-07", 113.1, 27.6), "forbidden")
        .await;
    field7
        .refused(
            json!({"type": "confirm_hazard", "hazard_id": hazard_id}),
            "forbidden",
        )
        .await;

    // Dispatch: assignment changes reach team subscribers too (team status is derived from it).
    let asg = dispatcher.ok(json!({"type": "create_assignment", "team_id": "T-07", "target": {"kind": "hazard", "hazard_id": hazard_id}})).await;
    let asg_id = asg["created"].as_str().unwrap();
    let ev = observer
        .find(|m| m["type"] == "event" && m["event"]["type"] == "assignment_created")
        .await;
    assert_eq!(ev["event"]["assignment"]["team_id"], "T-07");
    field7
        .ok(json!({"type": "advance_assignment", "assignment_id": asg_id, "to": "accepted"}))
        .await;
    field2
        .refused(
            json!({"type": "advance_assignment", "assignment_id": asg_id, "to": "en_route"}),
            "forbidden",
        )
        .await;
    field7
        .refused(
            json!({"type": "advance_assignment", "assignment_id": asg_id, "to": "completed"}),
            "illegal_transition",
        )
        .await;
    let teams = observer
        .query(json!({"type": "nearest_teams", "point": [113.0945, 27.645], "limit": 10}))
        .await;
    let ids: Vec<&str> = teams["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team_id"].as_str().unwrap())
        .collect();
    assert!(
        !ids.contains(&"T-07"),
        "an assigned team is not available: {ids:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn viewport_enter_leave_and_moving_the_viewport() {
    let server = TestServer::start().await;
    let mut dispatcher = server.client(Role::Dispatcher, None).await;
    let mut watcher = server.client(Role::Observer, None).await;
    // A box around 南洲: T-07 (113.105, 27.620) and T-01 (113.118, 27.650) are inside; T-02 and
    // T-11 near 涪口 are outside.
    let vp = [113.08, 27.60, 113.13, 27.66];
    let snap = watcher.subscribe(&["teams"], Some(vp)).await;
    let mut ids: Vec<&str> = snap["layers"]["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    ids.sort();
    assert_eq!(ids, ["T-01", "T-07"]);

    // Outside → outside: nothing. Outside → inside: enter with the whole team.
    dispatcher.ok(move_team("T-02", 113.16, 27.72)).await;
    dispatcher.ok(move_team("T-02", 113.10, 27.63)).await;
    let enter = watcher.next().await;
    assert_eq!(
        enter["type"], "enter",
        "the move outside the viewport was not delivered: {enter}"
    );
    assert_eq!(enter["layer"], "teams");
    assert_eq!(enter["entity"]["id"], "T-02");
    assert_eq!(enter["entity"]["name"], "消防救援冲锋舟队");
    assert_eq!(enter["entity"]["status"], "available");
    // Inside → inside: the delta.
    dispatcher.ok(move_team("T-02", 113.11, 27.64)).await;
    let delta = watcher.next().await;
    assert_eq!(delta["type"], "event");
    assert_eq!(delta["event"]["team_id"], "T-02");
    // Inside → outside: leave, then silence for that team.
    dispatcher.ok(move_team("T-02", 113.20, 27.72)).await;
    let leave = watcher.next().await;
    assert_eq!(
        (leave["type"].as_str(), leave["id"].as_str()),
        (Some("leave"), Some("T-02"))
    );
    dispatcher.ok(move_team("T-02", 113.21, 27.72)).await;
    dispatcher
        .ok(json!({"type": "set_team_duty", "team_id": "T-02", "on_duty": false}))
        .await;
    // Sentinel: the next thing the watcher gets must be this in-view move (frames arrive in
    // sequence order, so anything delivered for T-02 would have come first).
    dispatcher.ok(move_team("T-07", 113.106, 27.621)).await;
    let next = watcher.next().await;
    assert_eq!(
        (next["type"].as_str(), next["event"]["team_id"].as_str()),
        (Some("event"), Some("T-07")),
        "{next}"
    );

    // Move the viewport to 涪口: T-01 and T-07 leave, T-11 enters (T-02 is off to the east).
    watcher
        .send(json!({"type": "set_viewport", "viewport": [113.14, 27.70, 113.17, 27.73]}))
        .await;
    let set = watcher.next().await;
    assert_eq!(set["type"], "viewport_set");
    let mut changes = Vec::new();
    for _ in 0..3 {
        let m = watcher.next().await;
        changes.push(format!(
            "{} {}",
            m["type"].as_str().unwrap(),
            m["id"].as_str().or(m["entity"]["id"].as_str()).unwrap()
        ));
    }
    changes.sort();
    assert_eq!(changes, ["enter T-11", "leave T-01", "leave T-07"]);
    // Removing the viewport brings every team into view.
    watcher
        .send(json!({"type": "set_viewport", "viewport": null}))
        .await;
    assert_eq!(watcher.next().await["type"], "viewport_set");
    let mut entered = Vec::new();
    for _ in 0..3 {
        let m = watcher.next().await;
        assert_eq!(m["type"], "enter");
        entered.push(m["entity"]["id"].as_str().unwrap().to_string());
    }
    entered.sort();
    assert_eq!(entered, ["T-01", "T-02", "T-07"]);
    server.stop().await;
}

#[tokio::test]
async fn resume_sends_exactly_what_was_missed() {
    let server = TestServer::start().await;
    let mut dispatcher = server.client(Role::Dispatcher, None).await;
    // A reference client that never disconnects sees every teams/shelters event.
    let mut reference = server.client(Role::Observer, None).await;
    reference.subscribe(&["teams", "shelters"], None).await;

    let mut tablet = server.client(Role::Field, Some("T-07")).await;
    tablet.subscribe(&["teams", "shelters"], None).await;
    tablet.ok(move_team("T-07", 113.10, 27.62)).await;
    let seen = tablet.until("event").await;
    let last_seen = seen["seq"].as_u64().unwrap();
    tablet.close().await;

    // While the tablet is away: teams and shelter events, plus a gauge event it does not subscribe to.
    for i in 0..5 {
        dispatcher
            .ok(move_team("T-01", 113.118 + f64::from(i) * 0.001, 27.65))
            .await;
    }
    dispatcher
        .ok(json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 12}))
        .await;
    dispatcher
        .ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 38.4}))
        .await;

    let token = server.token(Role::Field, Some("T-07")).await;
    let mut back = Client::connect(&server.ws_url()).await;
    back.auth(&token).await;
    back.send(
        json!({"type": "subscribe", "layers": ["teams", "shelters"], "resume_from": last_seen}),
    )
    .await;
    let resumed = back.next().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    assert_eq!(resumed["from_seq"], last_seen);
    let to = resumed["to_seq"].as_u64().unwrap();
    let mut missed = Vec::new();
    while missed.len() < 6 {
        missed.push(back.next().await);
    }
    assert!(missed.iter().all(|m| m["type"] == "event"));
    // Live again: one more event arrives after the catch-up, with no duplicate in between.
    dispatcher.ok(move_team("T-01", 113.2, 27.7)).await;
    let live = back.until("event").await;
    assert!(live["seq"].as_u64().unwrap() > to);

    let mut want = Vec::new();
    while want.len() < 8 {
        want.push(reference.until("event").await);
    }
    let want: Vec<u64> = seqs(&want)
        .into_iter()
        .filter(|s| *s > last_seen && *s <= to)
        .collect();
    assert_eq!(seqs(&missed), want, "no gap, no duplicate, no other layer");
    server.stop().await;
}

#[tokio::test]
async fn resume_from_too_far_back_gets_a_snapshot() {
    let server = TestServer::start_with(|c| c.limits.max_catchup = 3).await;
    let mut dispatcher = server.client(Role::Dispatcher, None).await;
    for i in 0..5 {
        dispatcher
            .ok(move_team("T-01", 113.1 + f64::from(i) * 0.001, 27.65))
            .await;
    }
    let mut c = server.client(Role::Observer, None).await;
    c.send(json!({"type": "subscribe", "layers": ["teams"], "resume_from": 1}))
        .await;
    let m = c.next().await;
    assert_eq!(
        (m["type"].as_str(), m["reason"].as_str()),
        (Some("snapshot"), Some("resume_unavailable"))
    );
    // A resume point from the future (e.g. a database restored from backup) also gets a snapshot.
    c.send(json!({"type": "subscribe", "layers": ["teams"], "resume_from": 1_000_000}))
        .await;
    let m = c.next().await;
    assert_eq!(
        (m["type"].as_str(), m["reason"].as_str()),
        (Some("snapshot"), Some("resume_unavailable"))
    );
    server.stop().await;
}

/// Catch-up has a server-wide budget: resumes are served from the log while it lasts, then get
/// a snapshot (whose cost is bounded by the state, not the history), whoever asks.
#[tokio::test]
async fn resumes_share_one_catch_up_budget() {
    let server = TestServer::start_with(|c| {
        c.limits.max_catchup = 100;
        c.limits.catchup_per_second = 0.0; // no refill: the test decides exactly what is left
    })
    .await;
    let mut dispatcher = server.client(Role::Dispatcher, None).await;
    let mut last = 0;
    for i in 0..30 {
        let ack = dispatcher
            .ok(move_team("T-01", 113.1 + f64::from(i) * 0.001, 27.65))
            .await;
        last = ack["seqs"][0].as_u64().unwrap();
    }
    let from = last - 30;
    for round in 0..4 {
        let mut c = server.client(Role::Observer, None).await;
        c.send(json!({"type": "subscribe", "layers": ["teams"], "resume_from": from}))
            .await;
        let m = c.next().await;
        if round < 3 {
            assert_eq!(m["type"], "resumed", "round {round}: 90 of 100 events: {m}");
        } else {
            assert_eq!(
                (m["type"].as_str(), m["reason"].as_str()),
                (Some("snapshot"), Some("resume_unavailable")),
                "only 10 events of budget are left: {m}"
            );
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn resending_a_command_id_never_applies_twice() {
    let server = TestServer::start().await;
    let mut tablet = server.client(Role::Field, Some("T-07")).await;
    let check_in = json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 7});
    let first = tablet.command("tablet7-0001", check_in.clone()).await;
    assert_eq!(
        (first["type"].as_str(), first["duplicate"].as_bool()),
        (Some("ack"), Some(false))
    );
    // Same id, same content, on the same connection and after a reconnect: the original result.
    let again = tablet.command("tablet7-0001", check_in.clone()).await;
    assert_eq!(again["seqs"], first["seqs"]);
    assert_eq!(again["duplicate"], true);
    tablet.close().await;
    let mut tablet = server.client(Role::Field, Some("T-07")).await;
    let third = tablet.command("tablet7-0001", check_in.clone()).await;
    assert_eq!(
        (third["seqs"].clone(), third["duplicate"].clone()),
        (first["seqs"].clone(), json!(true))
    );
    // Same id, different content: refused.
    let other = tablet
        .command(
            "tablet7-0001",
            json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 8}),
        )
        .await;
    assert_eq!(other["code"], "command_id_conflict");
    let near = tablet.query(json!({"type": "nearest_shelters", "point": [113.121, 27.641], "min_free": 1, "limit": 1})).await;
    assert_eq!(
        near["shelters"][0]["free_places"],
        600 - 7,
        "applied exactly once"
    );
    // A burst of the same id sent back to back (one group-commit batch) also applies once.
    for _ in 0..5 {
        tablet.send(json!({"type": "command", "id": "burst-1", "command": {"type": "check_in", "shelter_id": "S-NZ-01", "count": 1}})).await;
    }
    let mut acks = Vec::new();
    for _ in 0..5 {
        acks.push(tablet.reply("burst-1").await);
    }
    assert!(
        acks.iter()
            .all(|a| a["type"] == "ack" && a["seqs"] == acks[0]["seqs"]),
        "{acks:?}"
    );
    assert_eq!(acks.iter().filter(|a| a["duplicate"] == false).count(), 1);
    let near = tablet
        .query(json!({"type": "nearest_shelters", "point": [113.121, 27.641], "limit": 1}))
        .await;
    assert_eq!(near["shelters"][0]["free_places"], 600 - 8);
    server.stop().await;
}

#[tokio::test]
async fn queries_answer_from_the_live_picture() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let pumps = d
        .query(json!({"type": "nearest_teams", "point": [113.16, 27.72], "capability": "pump"}))
        .await;
    let hits = pumps["teams"].as_array().unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["team_id"], "T-11");
    assert!(hits[0]["eta_s"].as_f64().unwrap() > 0.0);
    let shelters = d.query(json!({"type": "nearest_shelters", "point": [113.10, 27.58], "min_free": 500, "limit": 5})).await;
    let ids: Vec<&str> = shelters["shelters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["shelter_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["S-NZ-01"],
        "closed S-GT-01 and the 400-place S-LK-01 are left out"
    );
    let snap = d
        .query(json!({"type": "snap_to_levee", "point": [113.0945, 27.645], "tolerance_m": 200}))
        .await;
    assert_eq!(snap["location"]["levee_id"], "XJ-E-NZ");
    let ch = snap["location"]["chainage"].as_str().unwrap().to_string();
    let back = d
        .query(json!({"type": "chainage_to_point", "levee_id": "XJ-E-NZ", "chainage": ch}))
        .await;
    assert!(back["point"].is_array());
    let far = d
        .query(json!({"type": "snap_to_levee", "point": [113.30, 27.30]}))
        .await;
    assert_eq!(far["location"], Value::Null);
    let in_box = d
        .query(
            json!({"type": "in_bbox", "layer": "gauges", "bbox": [113.13, 27.70, 113.15, 27.72]}),
        )
        .await;
    assert_eq!(in_box["ids"], json!(["G-XJ-LK"]));
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.2}))
        .await;
    d.ok(json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "III", "reason": "警戒 exceeded"})).await;
    let rep = d.query(json!({"type": "sitrep"})).await;
    assert_eq!(rep["sitrep"]["shelters"]["open"], 2);
    assert_eq!(rep["sitrep"]["response_levels"]["fukou"], "III");
    assert_eq!(rep["sitrep"]["teams"]["available"]["teams"], 4);
    server.stop().await;
}
