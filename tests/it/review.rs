//! Issue 10 §5, the after-action review: the state at a past moment over HTTP and the WebSocket
//! equals the fold of the log up to that moment (done here independently, by
//! `engine::fold_until` on the same store); playback with pause, resume, seek and speed; and
//! every bad input refused with its code.

use crate::harness::*;
use crate::http::get;
use crest::domain::vocabulary::{Lang, SitrepFormat};
use crest::domain::{Layer, Role};
use crest::engine::{Folded, Until, fold_until};
use crest::history::rfc3339;
use crest::read::sitrep_markdown::{Header, report};
use serde_json::{Value, json};

const MIN: i64 = 60_000;

/// The figures of the situation report of a folded state, reported at `at_ms`.
fn figures(f: &Folded, at_ms: i64) -> Value {
    let header = Header {
        district: None,
        at_ms,
        seq: f.seq,
    };
    report(&f.state, &header, SitrepFormat::Json, Lang::Zh)["sitrep"].clone()
}

/// Every entity of a layer in a folded state, as a snapshot lists them.
fn views(f: &Folded, layer: Layer) -> Value {
    Value::Array(
        crest::read::layer_ids(&f.state, layer)
            .iter()
            .filter_map(|id| crest::read::entity_view(&f.state, layer, id))
            .collect(),
    )
}

/// The layer as GeoJSON features from a folded state.
fn features(f: &Folded, layer: Layer) -> Value {
    let c = crest::read::geojson::layer_collection(&f.state, layer, f.seq);
    serde_json::to_value(&c.features).unwrap()
}

async fn http_json(server: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let (status, _, body) = get(server, path, &[("Authorization", &auth)]).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Runs commands at different clock times: every 7 minutes a team moves, a hazard is reported or
/// a shelter takes people in. Returns each command's last seq and the time it was logged at.
async fn history(server: &TestServer, d: &mut Client, rounds: usize) -> Vec<(u64, i64)> {
    let mut done = Vec::new();
    for i in 0..rounds {
        server.clock.advance(7 * MIN);
        let f = i as f64;
        let ack = match i % 5 {
            1 => {
                d.ok(
                    json!({"type": "report_hazard", "kind": "seepage", "severity": "general",
                    "position": [113.09 + f * 0.001, 27.63]}),
                )
                .await
            }
            3 => {
                d.ok(json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 2}))
                    .await
            }
            _ => {
                d.ok(move_team("T-01", 113.10 + f * 0.001, 27.64 + f * 0.0005))
                    .await
            }
        };
        let last = ack["seqs"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()
            .as_u64()
            .unwrap();
        let logged = server.store.events_after(last - 1, 1).await.unwrap();
        done.push((last, logged[0].time_ms));
    }
    done
}

#[tokio::test]
async fn the_state_at_a_past_moment_is_the_fold_of_the_log_up_to_it() {
    let server = TestServer::start().await;
    let token = server.token(Role::Observer, None).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let done = history(&server, &mut d, 12).await;
    // The last moment asked, 3 minutes after the last command, is past.
    server.clock.advance(7 * MIN);
    let mut o = server.client(Role::Observer, None).await;

    // Moments between the commands, in no particular order (so later folds start from the
    // cached states of earlier ones, and earlier ones from scratch), each asked twice (the second
    // from the cache), by time and by seq.
    let mut moments = Vec::new();
    for i in [9usize, 2, 11, 0, 5, 5, 7] {
        let (seq, at) = done[i];
        moments.push((
            Until::Time(at + 3 * MIN),
            rfc3339(at + 3 * MIN),
            at + 3 * MIN,
        ));
        // Exactly at a command's time: its events are logged at that time, so they are in.
        moments.push((Until::Time(at), rfc3339(at), at));
        let f = fold_until(server.store.as_ref(), Until::Seq(seq))
            .await
            .unwrap();
        moments.push((Until::Seq(seq), seq.to_string(), f.last_time_ms.unwrap()));
    }
    for (until, at, at_ms) in &moments {
        let f = fold_until(server.store.as_ref(), *until).await.unwrap();
        // HTTP: the sitrep and a layer.
        let (status, sitrep) = http_json(&server, &format!("/api/v1/sitrep?at={at}"), &token).await;
        assert_eq!(status, 200, "{sitrep}");
        assert_eq!(sitrep["seq"], f.seq, "{at}");
        assert_eq!(sitrep["at"]["seq"], f.seq, "{at}");
        assert_eq!(sitrep["at"]["time_ms"], *at_ms, "{at}");
        assert_eq!(sitrep["sitrep"], figures(&f, *at_ms), "sitrep at {at}");
        for layer in [Layer::Teams, Layer::Hazards, Layer::Shelters] {
            let (status, geo) = http_json(
                &server,
                &format!("/api/v1/layers/{}?at={at}", layer.name()),
                &token,
            )
            .await;
            assert_eq!(status, 200, "{geo}");
            assert_eq!(geo["crest_seq"], f.seq);
            assert_eq!(geo["crest_at"]["seq"], f.seq);
            assert_eq!(
                geo["features"],
                features(&f, layer),
                "{} at {at}",
                layer.name()
            );
        }
        // WebSocket: queries with `at`.
        let at_json: Value = match until {
            Until::Seq(s) => json!(s),
            _ => json!(at),
        };
        let id = o.fresh_id("q");
        o.send(json!({"type": "query", "id": id, "at": at_json, "query": {"type": "sitrep"}}))
            .await;
        let answer = o.reply(&id).await;
        assert_eq!(answer["type"], "answer", "{answer}");
        assert_eq!(answer["result"]["seq"], f.seq);
        assert_eq!(answer["result"]["at_ms"], *at_ms);
        assert_eq!(
            answer["result"]["sitrep"],
            figures(&f, *at_ms),
            "ws sitrep at {at}"
        );
        let id = o.fresh_id("q");
        o.send(json!({"type": "query", "id": id, "at": at_json,
            "query": {"type": "in_bbox", "layer": "hazards", "bbox": [113.0, 27.5, 113.3, 27.8]}}))
            .await;
        let answer = o.reply(&id).await;
        let mut ids: Vec<String> = f.state.hazards.keys().map(|k| k.to_string()).collect();
        ids.sort();
        let mut got: Vec<String> = serde_json::from_value(answer["result"]["ids"].clone()).unwrap();
        got.sort();
        assert_eq!(got, ids, "hazards at {at}");
        assert_eq!(answer["result"]["at"]["seq"], f.seq);
    }
    // The live answer is unchanged by `at` elsewhere, and a moment later than every event is the
    // whole log.
    let end = fold_until(server.store.as_ref(), Until::End).await.unwrap();
    let now = server.clock.now_ms();
    let (_, sitrep) = http_json(
        &server,
        &format!("/api/v1/sitrep?at={}", rfc3339(now)),
        &token,
    )
    .await;
    assert_eq!(sitrep["seq"], end.seq);
    assert_eq!(sitrep["sitrep"], figures(&end, now));
    server.stop().await;
}

#[tokio::test]
async fn many_seeks_over_a_long_log_agree_with_the_fold() {
    // More events than a checkpoint interval several times over, so seeks start from
    // checkpoints, forward and backward.
    let server = TestServer::start().await;
    let token = server.token(Role::Observer, None).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    for batch in 0..64 {
        if batch % 8 == 0 {
            server.clock.advance(30 * MIN);
        }
        // Fifty in flight at a time (the server reads at most 64 ahead).
        let mut ids = Vec::new();
        for i in 0..50 {
            let id = d.fresh_id("m");
            let lon = 113.10 + i as f64 * 0.001;
            d.send(json!({"type": "command", "id": id, "command": move_team("T-02", lon, 27.64)}))
                .await;
            ids.push(id);
        }
        for id in &ids {
            assert_eq!(d.reply(id).await["type"], "ack");
        }
    }
    let last = fold_until(server.store.as_ref(), Until::End)
        .await
        .unwrap()
        .seq;
    assert!(last > 3200);
    for seq in [last - 10, 1500, 2999, 100, last, 2001, 1499, 0] {
        let f = fold_until(server.store.as_ref(), Until::Seq(seq))
            .await
            .unwrap();
        let (status, geo) =
            http_json(&server, &format!("/api/v1/layers/teams?at={seq}"), &token).await;
        assert_eq!(status, 200, "{geo}");
        assert_eq!(geo["crest_seq"], seq);
        assert_eq!(
            geo["features"],
            features(&f, Layer::Teams),
            "teams at seq {seq}"
        );
    }
    server.stop().await;
}

/// Every layer's name: a review of all of them plays every event.
fn all_layers() -> Vec<&'static str> {
    Layer::ALL.iter().map(|l| l.name()).collect()
}

/// Messages until (and with) the first whose type is `t`.
async fn through(c: &mut Client, t: &str) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let m = c.next().await;
        let stop = m["type"] == t;
        got.push(m);
        if stop {
            return got;
        }
    }
}

fn review_seqs(messages: &[Value]) -> Vec<u64> {
    let played: Vec<Value> = messages
        .iter()
        .filter(|m| m["type"] == "review_event")
        .cloned()
        .collect();
    seqs(&played)
}

#[tokio::test]
async fn a_review_plays_pauses_seeks_and_changes_speed() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let done = history(&server, &mut d, 15).await;
    let first = done[0].0 - 1;
    let last = fold_until(server.store.as_ref(), Until::End)
        .await
        .unwrap()
        .seq;
    let mut r = server.client(Role::Observer, None).await;
    // A subscription keeps running beside the review.
    r.subscribe(&["teams"], None).await;

    // At speed 0.1 the next event, 7 logged minutes on, is 70 minutes away: nothing plays.
    r.send(json!({"type": "review", "id": "rv-1", "from": first, "speed": 0.1, "layers": all_layers()}))
        .await;
    let snapshot = r.until("review_snapshot").await;
    assert_eq!(snapshot["id"], "rv-1");
    assert_eq!(snapshot["seq"], first);
    let f = fold_until(server.store.as_ref(), Until::Seq(first))
        .await
        .unwrap();
    assert_eq!(snapshot["time_ms"], f.last_time_ms.unwrap());
    assert_eq!(snapshot["layers"]["teams"], views(&f, Layer::Teams));
    assert_eq!(snapshot["layers"]["shelters"], views(&f, Layer::Shelters));

    // Paused, then as fast as possible: still nothing, proved by a round trip (unpaused, every
    // event would be due at once).
    r.send(json!({"type": "review_control", "action": "pause"}))
        .await;
    let state = r.until("review_state").await;
    assert_eq!(
        (state["state"].as_str(), state["seq"].as_u64()),
        (Some("paused"), Some(first))
    );
    r.send(json!({"type": "review_control", "action": "speed", "speed": "max"}))
        .await;
    let state = r.until("review_state").await;
    assert_eq!(state["state"], "paused");
    assert_eq!(state["speed"], "max");
    r.send(json!({"type": "ping", "nonce": "paused"})).await;
    let between = through(&mut r, "pong").await;
    assert!(
        between.iter().all(|m| m["type"] != "review_event"),
        "played while paused: {between:?}"
    );

    // Seek (while paused) to the middle: a new snapshot there, then nothing until resumed.
    let middle = done[7].0;
    r.send(json!({"type": "review_control", "action": "seek", "at": middle}))
        .await;
    let snapshot = r.until("review_snapshot").await;
    assert_eq!(snapshot["seq"], middle);
    let f = fold_until(server.store.as_ref(), Until::Seq(middle))
        .await
        .unwrap();
    assert_eq!(snapshot["layers"]["teams"], views(&f, Layer::Teams));
    assert_eq!(snapshot["layers"]["hazards"], views(&f, Layer::Hazards));
    r.send(json!({"type": "ping", "nonce": "sought"})).await;
    let between = through(&mut r, "pong").await;
    assert!(
        between.iter().all(|m| m["type"] != "review_event"),
        "{between:?}"
    );

    // Resumed: every event after the seek, in order, once, then the end.
    r.send(json!({"type": "review_control", "action": "resume"}))
        .await;
    let played = through(&mut r, "review_ended").await;
    let ended = played.last().unwrap();
    assert_eq!(
        (ended["reason"].as_str(), ended["seq"].as_u64()),
        (Some("end"), Some(last))
    );
    assert_eq!(
        review_seqs(&played),
        ((middle + 1)..=last).collect::<Vec<_>>()
    );
    let states: Vec<&Value> = played
        .iter()
        .filter(|m| m["type"] == "review_state")
        .collect();
    assert_eq!(states.len(), 1);
    assert_eq!(states[0]["state"], "playing");
    // Each played event is the logged one.
    let logged = server.store.events_after(middle, 1).await.unwrap();
    let one = played.iter().find(|m| m["type"] == "review_event").unwrap();
    assert_eq!(one["time_ms"], logged[0].time_ms);
    assert_eq!(
        one["event"],
        serde_json::from_str::<Value>(&logged[0].body).unwrap()
    );

    // A controlled stretch: `to` by time, only the hazards layer, as fast as possible.
    let to = done[10].1;
    r.send(
        json!({"type": "review", "id": "rv-2", "from": rfc3339(done[2].1), "to": rfc3339(to),
        "speed": "max", "layers": ["hazards"]}),
    )
    .await;
    let played = through(&mut r, "review_ended").await;
    let snapshot = played
        .iter()
        .find(|m| m["type"] == "review_snapshot")
        .unwrap();
    assert_eq!(snapshot["seq"], done[2].0);
    assert_eq!(snapshot["time_ms"], done[2].1);
    let hazards: Vec<u64> = done[3..=10]
        .iter()
        .enumerate()
        .filter(|(i, _)| (i + 3) % 5 == 1)
        .map(|(_, (seq, _))| *seq)
        .collect();
    let got = review_seqs(&played);
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{got:?}");
    for seq in &hazards {
        assert!(got.contains(seq), "hazard report {seq} not played: {got:?}");
    }
    assert!(
        got.iter().all(|s| *s > done[2].0 && *s <= done[10].0),
        "{got:?}"
    );
    assert_eq!(played.last().unwrap()["id"], "rv-2");

    // A new review replaces a running one; stop ends it; control after that has no review.
    r.send(json!({"type": "review", "id": "rv-3", "from": 0, "speed": 0.1, "layers": ["teams"]}))
        .await;
    r.until("review_snapshot").await;
    r.send(json!({"type": "review", "id": "rv-4", "from": 1, "speed": 0.1, "layers": ["teams"]}))
        .await;
    let ended = r.until("review_ended").await;
    assert_eq!(
        (ended["id"].as_str(), ended["reason"].as_str()),
        (Some("rv-3"), Some("replaced"))
    );
    assert_eq!(r.until("review_snapshot").await["id"], "rv-4");
    r.send(json!({"type": "review_control", "action": "stop"}))
        .await;
    let ended = r.until("review_ended").await;
    assert_eq!(
        (ended["id"].as_str(), ended["reason"].as_str()),
        (Some("rv-4"), Some("stopped"))
    );
    r.send(json!({"type": "review_control", "action": "resume"}))
        .await;
    assert_eq!(r.until("error").await["code"], "no_review");

    // The live subscription went on meanwhile.
    d.ok(move_team("T-01", 113.12, 27.65)).await;
    let live = r.until("event").await;
    assert_eq!(live["event"]["type"], "team_moved");
    server.stop().await;
}

#[tokio::test]
async fn bad_moments_speeds_and_controls_each_get_their_code() {
    let server = TestServer::start().await;
    let token = server.token(Role::Observer, None).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    history(&server, &mut d, 3).await;
    let last = fold_until(server.store.as_ref(), Until::End)
        .await
        .unwrap()
        .seq;
    let first_time = server.store.events_after(0, 1).await.unwrap()[0].time_ms;
    let future = rfc3339(server.clock.now_ms() + 3_600_000);
    let before = rfc3339(first_time - 1);

    // HTTP.
    for (path, status, code) in [
        (
            format!("/api/v1/sitrep?at={}", last + 1),
            400,
            "seq_out_of_range",
        ),
        (
            format!("/api/v1/sitrep?at={future}"),
            400,
            "time_out_of_range",
        ),
        (
            format!("/api/v1/layers/teams?at={before}"),
            400,
            "time_out_of_range",
        ),
        (
            "/api/v1/layers/teams?at=yesterday".into(),
            400,
            "invalid_field",
        ),
        ("/api/v1/layers/teams?at=-3".into(), 400, "invalid_field"),
        (
            "/api/v1/layers/teams?at=1&at=2".into(),
            400,
            "invalid_field",
        ),
        (
            "/api/v1/sitrep?at=99999999999999999999999".into(),
            400,
            "invalid_field",
        ),
    ] {
        let (got, body) = http_json(&server, &path, &token).await;
        assert_eq!(
            (got, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
        assert!(body["message_zh"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Queries.
    let mut o = server.client(Role::Observer, None).await;
    for (at, code) in [
        (json!(last + 1), "seq_out_of_range"),
        (json!(future), "time_out_of_range"),
        (json!(before), "time_out_of_range"),
        (json!("soon"), "invalid_field"),
        (json!(-1), "invalid_value"),
        (json!(1.5), "invalid_field"),
        (json!({"seq": 1}), "invalid_field"),
    ] {
        let id = o.fresh_id("q");
        o.send(json!({"type": "query", "id": id, "at": at, "query": {"type": "casualties"}}))
            .await;
        let e = o.reply(&id).await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some(code)),
            "{at}: {e}"
        );
    }
    // Without `at` (or with `null`), the live state.
    let live = o.query(json!({"type": "casualties"})).await;
    assert!(live.get("at").is_none());

    // Reviews.
    let layers = json!(["teams"]);
    for (review, code) in [
        (
            json!({"from": 0, "speed": 0, "layers": layers}),
            "invalid_value",
        ),
        (
            json!({"from": 0, "speed": 100001, "layers": layers}),
            "invalid_value",
        ),
        (
            json!({"from": 0, "speed": "fast", "layers": layers}),
            "invalid_field",
        ),
        (json!({"from": 0, "layers": []}), "invalid_field"),
        (
            json!({"from": last + 1, "layers": layers}),
            "seq_out_of_range",
        ),
        (
            json!({"from": 0, "to": last + 1, "layers": layers}),
            "seq_out_of_range",
        ),
        (
            json!({"from": 2, "to": 1, "layers": layers}),
            "invalid_value",
        ),
        (
            json!({"from": future, "layers": layers}),
            "time_out_of_range",
        ),
        (json!({"layers": layers}), "missing_field"),
        (
            json!({"from": 0, "layers": layers, "viewport": null}),
            "unknown_field",
        ),
    ] {
        let mut m = review.clone();
        m["type"] = json!("review");
        m["id"] = json!("rv-bad");
        o.send(m).await;
        let e = o.until("error").await;
        assert_eq!(e["code"], code, "{review}: {e}");
    }
    o.send(json!({"type": "review_control", "action": "pause"}))
        .await;
    assert_eq!(o.until("error").await["code"], "no_review");
    o.send(json!({"type": "review", "id": "rv-ok", "from": 0, "speed": 0.1, "layers": layers}))
        .await;
    o.until("review_snapshot").await;
    for (control, code) in [
        (json!({"action": "seek"}), "missing_field"),
        (json!({"action": "speed"}), "missing_field"),
        (json!({"action": "pause", "speed": 2}), "invalid_field"),
        (json!({"action": "resume", "at": 1}), "invalid_field"),
        (json!({"action": "rewind"}), "invalid_field"),
        (json!({"action": "speed", "speed": 0.01}), "invalid_value"),
        (
            json!({"action": "seek", "at": last + 1}),
            "seq_out_of_range",
        ),
    ] {
        let mut m = control.clone();
        m["type"] = json!("review_control");
        o.send(m).await;
        let e = o.until("error").await;
        assert_eq!(e["code"], code, "{control}: {e}");
    }
    // The review survived every refused control.
    o.send(json!({"type": "review_control", "action": "pause"}))
        .await;
    assert_eq!(o.until("review_state").await["id"], "rv-ok");
    server.stop().await;
}

#[tokio::test]
async fn a_drill_is_reviewed_in_its_own_log_and_marked_as_an_exercise() {
    let scenarios = tempfile::tempdir().unwrap();
    crate::drills::write_scenario(scenarios.path());
    let dir = scenarios.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.scenarios = dir).await;
    let live = server.token(Role::Dispatcher, None).await;
    let (status, drill) = crate::drills::post(
        &server,
        "/api/v1/drills",
        &live,
        json!({"scenario": "test-drill", "as_fast_as_possible": true}),
    )
    .await;
    assert_eq!(status, 201, "{drill}");
    let id = drill["id"].as_str().unwrap().to_string();
    let (_, issued) = crate::drills::post(
        &server,
        &format!("/api/v1/drills/{id}/tokens"),
        &live,
        json!({"role": "observer", "label": "review desk"}),
    )
    .await;
    let token = issued["secret"].as_str().unwrap().to_string();
    // Waiting for the drill's end is not a timing assertion: the hang guard bounds it.
    let deadline = std::time::Instant::now() + HANG_GUARD;
    loop {
        let (_, view) = http_json(&server, &format!("/api/v1/drills/{id}"), &live).await;
        if view["state"] == "finished" {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the drill did not finish"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The drill's past over HTTP is the drill's, marked; the live log at the same seq is not.
    let (status, sitrep) = http_json(&server, "/api/v1/sitrep?at=1", &token).await;
    assert_eq!(status, 200, "{sitrep}");
    assert_eq!(sitrep["sitrep"]["exercise"]["title"], "test drill");
    let (_, geo) = http_json(&server, "/api/v1/layers/hazards?at=1", &live).await;
    assert!(geo.get("crest_exercise").is_none(), "{geo}");

    // A review over the drill's connection plays the drill's log, marked as an exercise.
    let mut c = Client::connect(&server.ws_url()).await;
    c.send(json!({"type": "auth", "token": token})).await;
    c.until("authenticated").await;
    c.send(
        json!({"type": "review", "id": "aar", "from": 0, "speed": "max", "layers": all_layers()}),
    )
    .await;
    let played = through(&mut c, "review_ended").await;
    let snapshot = played
        .iter()
        .find(|m| m["type"] == "review_snapshot")
        .unwrap();
    assert_eq!(
        (snapshot["seq"].as_u64(), &snapshot["exercise"]),
        (Some(0), &json!(true))
    );
    let events: Vec<&Value> = played
        .iter()
        .filter(|m| m["type"] == "review_event")
        .collect();
    assert_eq!(events[0]["event"]["type"], "exercise_started");
    assert!(events.iter().all(|e| e["exercise"] == true));
    assert!(
        events
            .iter()
            .any(|e| e["event"]["type"] == "hazard_reported")
    );
    server.stop().await;
}
