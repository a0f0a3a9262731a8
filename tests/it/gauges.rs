//! Gauges over time and corrections of reference data, end to end over real WebSockets (and the
//! hydrograph over HTTP): issue 9 §4.

use crate::harness::*;
use crate::http::get;
use crest::domain::Role;
use serde_json::{Value, json};

const H: i64 = 3_600_000;

fn reading(time_ms: i64, level_m: f64) -> Value {
    json!({"type": "record_reading", "gauge_id": "G-ZZ", "level_m": level_m, "time_ms": time_ms})
}

fn levels(answer: &Value) -> Vec<(i64, f64)> {
    answer["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["time_ms"].as_i64().unwrap(),
                r["level_m"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_hydrograph_and_rate_of_rise_match_the_readings_sent() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(
        json!({"type": "define_gauge", "id": "G-ZZ", "name": "株洲站", "river": "湘江",
                "position": [113.13, 27.83], "datum": "吴淞",
                "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5},
                "record": {"level_m": 44.58, "date": "1994", "station": "株洲"}}),
    )
    .await;
    // Hourly readings from six hours ago, the last half-hour apart; the one at t0 + 2 h arrives
    // late, after all the others (a radio packet held up), and one is resent with a correction.
    let t0 = (crest::clock::now_ms() / H - 6) * H;
    let sent = [
        (0, 37.0),
        (H, 38.0),
        (3 * H, 40.0),
        (4 * H, 41.0),
        (4 * H + H / 2, 41.2),
        (5 * H, 41.5),
        (2 * H, 39.0),
        (4 * H + H / 2, 41.3),
    ];
    for (at, level) in sent {
        d.ok(reading(t0 + at, level)).await;
    }

    let all = d
        .query(json!({"type": "hydrograph", "gauge_id": "G-ZZ"}))
        .await;
    assert_eq!(
        levels(&all),
        [
            (t0, 37.0),
            (t0 + H, 38.0),
            (t0 + 2 * H, 39.0),
            (t0 + 3 * H, 40.0),
            (t0 + 4 * H, 41.0),
            (t0 + 4 * H + H / 2, 41.3),
            (t0 + 5 * H, 41.5),
        ],
        "in time order, the late one in its place, the resend replacing: {all}"
    );
    // The rate of rise: 41.5 m now, 41.0 m an hour before.
    assert_eq!(
        all["rate_of_rise"],
        json!({"m_per_h": 0.5, "from_ms": t0 + 4 * H, "to_ms": t0 + 5 * H})
    );
    // Above 设防 (38) from t0 + 1 h, above 警戒 (40) from t0 + 3 h; never at 保证 (42.5).
    assert_eq!(
        all["time_above_ms"],
        json!({"guard": 4 * H, "warning": 2 * H, "guaranteed": 0})
    );
    assert_eq!(all["peak"], json!({"level_m": 41.5, "time_ms": t0 + 5 * H}));
    assert_eq!(all["above_warning_m"], 1.5);
    assert_eq!(all["above_guaranteed_m"], -1.0);
    assert_eq!(all["above_record_m"], -3.08);
    assert_eq!(all["rate_of_rise_m_per_h"], 0.5);
    assert_eq!(
        all["record"],
        json!({"level_m": 44.58, "date": "1994", "station": "株洲"})
    );

    // A window: from t0 + 2.5 h to t0 + 4 h.
    let (from, until) = (t0 + 2 * H + H / 2, t0 + 4 * H);
    let window = d
        .query(
            json!({"type": "hydrograph", "gauge_id": "G-ZZ", "from_ms": from, "until_ms": until}),
        )
        .await;
    assert_eq!(levels(&window), [(t0 + 3 * H, 40.0), (t0 + 4 * H, 41.0)]);
    assert_eq!(
        window["time_above_ms"],
        json!({"guard": 3 * H / 2, "warning": H, "guaranteed": 0}),
        "the level at the window's start is interpolated: 39.5 m at t0 + 2.5 h"
    );
    assert_eq!(
        window["rate_of_rise"],
        json!({"m_per_h": 1.0, "from_ms": t0 + 3 * H, "to_ms": t0 + 4 * H}),
        "at the window's end"
    );

    // The forecast crest, shown in the answer, the gauge's view and the sitrep.
    d.ok(
        json!({"type": "enter_gauge_forecast", "gauge_id": "G-ZZ", "peak_m": 44.2,
                "peak_at": t0 + 12 * H, "source": "市水文局"}),
    )
    .await;
    let mut observer = server.client(Role::Observer, None).await;
    let answer = observer
        .query(json!({"type": "hydrograph", "gauge_id": "G-ZZ"}))
        .await;
    assert_eq!(answer["forecast"]["peak_m"], 44.2);
    assert_eq!(answer["forecast"]["peak_at"], t0 + 12 * H);
    assert_eq!(answer["forecast"]["source"], "市水文局");
    let snapshot = observer.subscribe(&["gauges"], None).await;
    let view = &snapshot["layers"]["gauges"][0];
    assert_eq!(view["rate_of_rise_m_per_h"], 0.5, "{view}");
    assert_eq!(view["above_warning_m"], 1.5);
    assert_eq!(view["above_guaranteed_m"], -1.0);
    assert_eq!(view["forecast"]["peak_m"], 44.2);
    assert_eq!(view["record"]["level_m"], 44.58);
    let sitrep = observer.query(json!({"type": "sitrep"})).await;
    let gauge = &sitrep["sitrep"]["gauges"][0];
    assert_eq!(gauge["id"], "G-ZZ");
    assert_eq!(gauge["level_m"], 41.5);
    assert_eq!(gauge["stage"], "warning");
    assert_eq!(gauge["above_warning_m"], 1.5);
    assert_eq!(gauge["rate_of_rise_m_per_h"], 0.5);
    assert_eq!(gauge["forecast"]["peak_m"], 44.2);
    assert_eq!(gauge["record"]["date"], "1994");

    // The same over HTTP, with any role's token.
    let token = server.token(Role::Observer, None).await;
    let bearer = format!("Bearer {token}");
    let path = format!("/api/v1/gauges/G-ZZ/hydrograph?from_ms={from}&until_ms={until}");
    let (status, _, body) = get(&server, &path, &[("Authorization", &bearer)]).await;
    assert_eq!(status, 200, "{body}");
    let over_http: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(levels(&over_http), levels(&window));
    assert_eq!(over_http["time_above_ms"], window["time_above_ms"]);
    assert_eq!(over_http["rate_of_rise"], window["rate_of_rise"]);
    assert_eq!(get(&server, &path, &[]).await.0, 401);
    let unknown = get(
        &server,
        "/api/v1/gauges/G-NONE/hydrograph",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(unknown.0, 404, "{}", unknown.2);
    assert!(unknown.2.contains("not_found"));
    let backwards = format!("/api/v1/gauges/G-ZZ/hydrograph?from_ms={until}&until_ms={from}");
    let refused = get(&server, &backwards, &[("Authorization", &bearer)]).await;
    assert_eq!(refused.0, 400);
    assert!(refused.2.contains("invalid_value"), "{}", refused.2);

    // Queries that do not make sense are refused with the usual codes.
    for (q, code) in [
        (
            json!({"type": "hydrograph", "gauge_id": "G-NONE"}),
            "not_found",
        ),
        (
            json!({"type": "hydrograph", "gauge_id": "G-ZZ", "from_ms": -1}),
            "invalid_value",
        ),
        (
            json!({"type": "hydrograph", "gauge_id": "G-ZZ", "from_ms": until, "until_ms": from}),
            "invalid_value",
        ),
    ] {
        let id = d.fresh_id("q");
        d.send(json!({"type": "query", "id": id, "query": q})).await;
        let r = d.reply(&id).await;
        assert_eq!(
            (r["type"].as_str(), r["code"].as_str()),
            (Some("error"), Some(code)),
            "{r}"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn a_reference_data_correction_is_refused_for_non_dispatchers_and_audited() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(json!({"type": "define_shelter", "id": "S-1", "name": "南洲中学", "position": [113.12, 27.64],
                "capacity": 300, "open": true}))
        .await;
    d.ok(
        json!({"type": "register_team", "id": "T-1", "name": "南洲民兵巡堤队", "kind": "militia",
                "headcount": 30, "travel_mode": "foot"}),
    )
    .await;
    let capacity = json!({"type": "correct_shelter_capacity", "shelter_id": "S-1",
                          "capacity": 220, "reason": "二楼教室漏水，不能住人"});
    let mut tablet = server.client(Role::Field, Some("T-1")).await;
    tablet.refused(capacity.clone(), "forbidden").await;
    let mut observer = server.client(Role::Observer, None).await;
    observer.refused(capacity.clone(), "forbidden").await;
    tablet
        .refused(
            json!({"type": "correct_team_roster", "team_id": "T-1", "headcount": 25, "reason": "r"}),
            "forbidden",
        )
        .await;
    let mut reasonless = capacity.clone();
    reasonless.as_object_mut().unwrap().remove("reason");
    d.refused(reasonless, "missing_field").await;
    let before = d.query(json!({"type": "corrections"})).await;
    assert_eq!(
        before["corrections"],
        json!([]),
        "nothing refused was recorded"
    );

    let mut watcher = server.client(Role::Observer, None).await;
    watcher.subscribe(&["shelters", "teams"], None).await;
    d.ok(capacity).await;
    let event = watcher
        .find(|m| m["event"]["type"] == "reference_corrected")
        .await;
    let c = &event["event"]["correction"];
    assert_eq!(c["id"], "CR-1");
    assert_eq!(
        c["change"],
        json!({"field": "shelter_capacity", "shelter_id": "S-1", "old": 300, "new": 220,
               "occupancy": 0})
    );
    assert_eq!(c["reason"], "二楼教室漏水，不能住人");
    assert_eq!(c["by"], "dispatcher-x");
    assert!(c["at"].as_i64().unwrap() > 0);
    d.ok(
        json!({"type": "correct_team_roster", "team_id": "T-1", "leader": "刘建国",
                "members": ["陈伟", "周强", "吴磊"], "reason": "按名册点名"}),
    )
    .await;
    let roster = watcher
        .find(|m| m["event"]["type"] == "reference_corrected")
        .await;
    assert_eq!(
        roster["event"]["correction"]["change"]["new"]["headcount"],
        4
    );

    // The audit trail: newest first, by subject, by field.
    let all = d.query(json!({"type": "corrections"})).await;
    let ids: Vec<&str> = all["corrections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["CR-2", "CR-1"]);
    assert_eq!(all["corrections"][0]["change"]["old"]["headcount"], 30);
    let of_shelter = observer
        .query(json!({"type": "corrections", "subject_id": "S-1"}))
        .await;
    assert_eq!(of_shelter["corrections"].as_array().unwrap().len(), 1);
    assert_eq!(of_shelter["corrections"][0]["id"], "CR-1");
    let rosters = observer
        .query(json!({"type": "corrections", "field": "team_roster", "limit": 1}))
        .await;
    assert_eq!(rosters["corrections"][0]["id"], "CR-2");

    // The corrected values are what everyone sees.
    let snapshot = observer.subscribe(&["shelters", "teams"], None).await;
    assert_eq!(snapshot["layers"]["shelters"][0]["capacity"], 220);
    assert_eq!(snapshot["layers"]["shelters"][0]["free_places"], 220);
    let team = &snapshot["layers"]["teams"][0];
    assert_eq!(team["headcount"], 4);
    assert_eq!(team["leader"], "刘建国");
    assert_eq!(team["members"], json!(["陈伟", "周强", "吴磊"]));
    server.stop().await;
}

#[tokio::test]
async fn the_xiang_gauge_at_fukou_is_compared_with_the_record_of_1994() {
    let fukou = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou");
    let server = TestServer::start_with(|c| {
        c.map = Some(fukou);
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 41.2}))
        .await;
    let answer = d
        .query(json!({"type": "hydrograph", "gauge_id": "G-XJ-LK"}))
        .await;
    assert_eq!(
        answer["record"],
        json!({"level_m": 44.58, "date": "1994", "station": "株洲"})
    );
    assert_eq!(answer["above_record_m"], -3.38);
    assert_eq!(answer["above_warning_m"], 1.2);
    assert_eq!(
        answer["rate_of_rise"],
        Value::Null,
        "one reading has no rate"
    );
    server.stop().await;
}
