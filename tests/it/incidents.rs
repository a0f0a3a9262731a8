//! Protected assets and breach incidents end to end, over real WebSockets.

use crate::harness::*;
use crest::domain::Role;
use serde_json::json;

#[tokio::test]
async fn a_hazard_300_m_from_the_railway_raises_the_asset_alert_and_a_breach_masses_its_teams() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut watcher = server.client(Role::Observer, None).await;
    watcher.subscribe(&["alerts", "incidents"], None).await;
    d.ok(
        json!({"type": "define_protected_asset", "id": "PA-RAIL", "name": "京广铁路",
                "kind": "railway", "priority": 1, "buffer_m": 500,
                "line": [[113.20, 27.60], [113.20, 27.70]], "chainage_origin_m": 1_670_000}),
    )
    .await;
    // 300 m east of the line, 3.2 km along it.
    let ack = d
        .ok(json!({"type": "report_hazard", "kind": "breach", "severity": "critical",
                   "position": [113.203045, 27.60 + 3_200.0 / 111_194.9], "description": "将军村溃口"}))
        .await;
    assert_eq!(ack["created"], "HZ-1");
    let alert = watcher.find(|m| m["event"]["type"] == "alert_raised").await;
    let alert = &alert["event"]["alert"];
    assert_eq!(alert["kind"], "asset_threatened");
    assert_eq!(alert["subject_id"], "HZ-1");
    assert_eq!(alert["asset"]["asset_id"], "PA-RAIL");
    assert_eq!(alert["asset"]["chainage"], "K1673+200");
    let distance = alert["asset"]["distance_m"].as_f64().unwrap();
    assert!((distance - 300.0).abs() < 3.0, "{alert}");
    // A breach always has an incident: opened with the report.
    let opened = watcher
        .find(|m| m["event"]["type"] == "incident_opened")
        .await;
    assert_eq!(opened["event"]["incident"]["hazard_id"], "HZ-1");
    let incident = opened["event"]["incident"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Teams mass at the breach; the headcount on scene follows them.
    for (i, headcount) in [40, 60, 25].into_iter().enumerate() {
        let team = format!("T-{i}");
        d.ok(
            json!({"type": "register_team", "id": team, "name": team, "kind": "armed_police",
                    "headcount": headcount, "travel_mode": "vehicle"}),
        )
        .await;
        d.ok(json!({"type": "commit_team", "incident_id": incident, "team_id": team, "state": "requested"}))
            .await;
    }
    let on_scene =
        |sitrep: &serde_json::Value| sitrep["sitrep"]["incidents"]["headcount_on_scene"].as_u64();
    assert_eq!(on_scene(&d.query(json!({"type": "sitrep"})).await), Some(0));
    d.ok(json!({"type": "commit_team", "incident_id": incident, "team_id": "T-0", "state": "on_scene"}))
        .await;
    d.ok(json!({"type": "commit_team", "incident_id": incident, "team_id": "T-1", "state": "on_scene", "headcount": 55}))
        .await;
    assert_eq!(
        on_scene(&d.query(json!({"type": "sitrep"})).await),
        Some(40 + 55)
    );
    d.ok(json!({"type": "commit_team", "incident_id": incident, "team_id": "T-0", "state": "released"}))
        .await;
    let sitrep = d.query(json!({"type": "sitrep"})).await;
    assert_eq!(on_scene(&sitrep), Some(55));
    assert_eq!(
        sitrep["sitrep"]["incidents"]["open"][0]["reinforcements_coming"],
        1
    );
    let snapshot = watcher.subscribe(&["incidents"], None).await;
    assert_eq!(
        snapshot["layers"]["incidents"][0]["headcount_on_scene"], 55,
        "{snapshot}"
    );
    server.stop().await;
}
