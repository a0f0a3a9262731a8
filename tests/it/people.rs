//! People end to end, over real WebSockets: an evacuation order whose population comes from the
//! grid cells, people leaving it by the three ways and counted once (resends included), a grid
//! worker's phone bound to its cells, trapped people rescued, casualty corrections audited, and
//! the figures in the sitrep — zero included.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};

fn square(x: f64, y: f64, side: f64) -> Value {
    json!([
        [x, y],
        [x + side, y],
        [x + side, y + side],
        [x, y + side],
        [x, y]
    ])
}

/// Two cells of 将军村 (V-NZ-02) in 南洲镇 and one of 石门村, a shelter, a boat team.
async fn district(d: &mut Client) {
    for (id, x, population, village, worker, elderly) in [
        ("GC-1", 113.00, 800, "V-NZ-02", "GW-017", 6),
        ("GC-2", 113.01, 400, "V-NZ-02", "GW-017", 0),
        ("GC-3", 113.02, 600, "V-NZ-03", "GW-018", 2),
    ] {
        d.ok(
            json!({"type": "define_grid_cell", "id": id, "ring": square(x, 27.0, 0.01),
                    "population": population, "households": population / 3,
                    "grid_worker": "网格员", "grid_worker_id": worker, "town": "T-NZ",
                    "village": village, "vulnerable": {"elderly_alone": elderly}}),
        )
        .await;
    }
    d.ok(json!({"type": "define_shelter", "id": "S-1", "name": "南洲中学", "position": [113.05, 27.05],
                "capacity": 2000, "open": true}))
        .await;
    d.ok(json!({"type": "register_team", "id": "T-BOAT", "name": "消防冲锋舟队", "kind": "fire_rescue",
                "headcount": 12, "capabilities": ["boat"], "travel_mode": "boat",
                "position": [113.03, 27.02]}))
        .await;
}

#[tokio::test]
async fn people_leave_an_order_by_three_ways_and_are_counted_once() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    district(&mut d).await;
    // The zone: all of GC-1 and GC-2, the west half of GC-3.
    let zone = json!([
        [113.0, 27.0],
        [113.025, 27.0],
        [113.025, 27.01],
        [113.0, 27.01],
        [113.0, 27.0]
    ]);
    let ack = d
        .ok(
            json!({"type": "issue_evacuation_order", "name": "将军村低洼区", "zone": zone,
                   "target_shelters": ["S-1"]}),
        )
        .await;
    assert_eq!(ack["created"], "EV-1");
    let status = d
        .query(json!({"type": "evacuation_status", "evacuation_id": "EV-1"}))
        .await;
    let e = &status["evacuation"];
    assert_eq!(e["order"]["population"], 800 + 400 + 300, "{e}");
    assert_eq!(e["total"]["remaining"], 1500);

    // 1. Checked into a shelter against the order, by cell; the resend of the same command is a
    //    duplicate and counts nobody again.
    let mut f = server.client(Role::Field, Some("T-BOAT")).await;
    let check_in = json!({"type": "check_in", "shelter_id": "S-1", "count": 500,
                          "from_cell": "GC-1", "vulnerable": {"elderly_alone": 6}});
    let first = f.command("ci-1", check_in.clone()).await;
    assert_eq!(first["type"], "ack", "{first}");
    let again = f.command("ci-1", check_in).await;
    assert_eq!(
        (again["type"].as_str(), again["duplicate"].as_bool()),
        (Some("ack"), Some(true)),
        "{again}"
    );

    // 2. Self-arranged (投亲靠友), from the grid worker's phone bound to GC-1 and GC-2.
    // The phone is told which grid worker it stands for.
    let token = server.token(Role::GridWorker, Some("GW-017")).await;
    let mut gw = Client::connect(&server.ws_url()).await;
    gw.send(json!({"type": "auth", "token": token})).await;
    let authenticated = gw.next().await;
    assert_eq!(
        (
            authenticated["role"].as_str(),
            authenticated["grid_worker"].as_str()
        ),
        (Some("grid_worker"), Some("GW-017")),
        "{authenticated}"
    );
    gw.ok(
        json!({"type": "record_self_evacuation", "cell_id": "GC-2", "count": 120,
                 "note": "投亲靠友 株洲市区"}),
    )
    .await;
    gw.refused(
        json!({"type": "record_self_evacuation", "cell_id": "GC-3", "count": 1}),
        "forbidden",
    )
    .await;
    gw.ok(
        json!({"type": "report_cell_status", "cell_id": "GC-2", "status": "evacuating",
                 "people_remaining": 280}),
    )
    .await;

    // 3. Trapped in GC-3, rescued by the boat team into the shelter.
    let trapped = d
        .ok(
            json!({"type": "record_casualty", "kind": "trapped", "count": 4,
                   "position": [113.021, 27.005], "place": "石门村三组 屋顶", "source": "GW-018"}),
        )
        .await;
    assert_eq!(trapped["created"], "CA-1");
    d.ok(json!({"type": "create_assignment", "team_id": "T-BOAT",
                "target": {"kind": "trapped", "casualty_id": "CA-1"}}))
        .await;
    f.ok(
        json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 4, "team_id": "T-BOAT",
                "shelter_id": "S-1"}),
    )
    .await;

    // Counted once each: 500 + 120 + 4.
    let status = d
        .query(json!({"type": "evacuation_status", "evacuation_id": "EV-1"}))
        .await;
    let e = &status["evacuation"];
    assert_eq!(e["order"]["evacuated"], 624, "{e}");
    assert_eq!(e["total"]["shelter"], 500);
    assert_eq!(e["total"]["self_arranged"], 120);
    assert_eq!(e["total"]["rescued"], 4);
    assert_eq!(e["total"]["remaining"], 1500 - 624);
    let cells = e["cells"].as_array().unwrap();
    let remaining: Vec<(&str, u64)> = cells
        .iter()
        .map(|c| {
            (
                c["cell_id"].as_str().unwrap(),
                c["tally"]["remaining"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(remaining, [("GC-1", 300), ("GC-2", 280), ("GC-3", 296)]);
    assert_eq!(cells[1]["report"]["status"], "evacuating");
    // Per village: 将军村 is GC-1 and GC-2; 石门村 is GC-3.
    let villages: Vec<(&str, u64)> = e["by_village"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["village"].as_str().unwrap(),
                v["tally"]["evacuated"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(villages, [("V-NZ-02", 620), ("V-NZ-03", 4)]);
    // GC-1's six elderly people living alone are out; GC-3's one (of the half in the zone) is
    // still shown.
    let vulnerable = e["vulnerable_remaining"].as_array().unwrap();
    assert_eq!(vulnerable.len(), 1, "{e}");
    assert_eq!(vulnerable[0]["cell_id"], "GC-3");
    // The shelter holds everyone who came to it: 500 checked in and 4 rescued.
    let snap = d.subscribe(&["shelters"], None).await;
    assert_eq!(snap["layers"]["shelters"][0]["occupancy"], 504, "{snap}");

    // More than remain in a village is refused whole.
    d.refused(
        json!({"type": "check_in", "shelter_id": "S-1", "count": 581, "from_village": "V-NZ-02"}),
        "over_population",
    )
    .await;
    server.stop().await;
}

#[tokio::test]
async fn casualty_corrections_are_audited_and_the_sitrep_reports_every_figure_zero_included() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let sitrep = d.query(json!({"type": "sitrep"})).await;
    let figures = &sitrep["sitrep"]["casualties"]["figures"];
    assert_eq!(
        (
            figures["dead"].as_u64(),
            figures["missing"].as_u64(),
            figures["injured"].as_u64(),
            figures["trapped"].as_u64()
        ),
        (Some(0), Some(0), Some(0), Some(0)),
        "{sitrep}"
    );
    assert!(sitrep["sitrep"]["casualties"]["confirmed"].is_null());
    d.ok(json!({"type": "confirm_casualties", "note": "18:00 八镇均已上报"}))
        .await;

    d.ok(
        json!({"type": "record_casualty", "kind": "missing", "count": 2, "place": "将军村",
                "source": "南洲镇派出所"}),
    )
    .await;
    let mut f = server.client(Role::Field, Some("T-X")).await;
    f.refused(
        json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 1,
                     "reason": "found"}),
        "forbidden",
    )
    .await;
    d.ok(
        json!({"type": "correct_casualty", "casualty_id": "CA-1", "count": 1,
                "reason": "李某 found alive at relatives"}),
    )
    .await;
    // Ten more records: the newest comes first, by number (CA-11 before CA-2).
    for _ in 0..10 {
        d.ok(
            json!({"type": "record_casualty", "kind": "injured", "count": 1, "place": "石门村",
                    "source": "南洲镇卫生院"}),
        )
        .await;
    }
    let answer = d.query(json!({"type": "casualties"})).await;
    let ids: Vec<&str> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids[..3], ["CA-11", "CA-10", "CA-9"], "{ids:?}");
    assert_eq!(ids[10], "CA-1");
    let record = &answer["records"][10];
    assert_eq!(record["count"], 1, "{answer}");
    let c = &record["corrections"][0];
    assert_eq!(
        (c["from_count"].as_u64(), c["to_count"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(c["reason"], "李某 found alive at relatives");
    assert!(c["by"].is_string() && c["at"].is_i64(), "{c}");
    assert_eq!(answer["casualties"]["figures"]["missing"], 1);
    // The confirmation was of the figures before the record: no longer current.
    assert_eq!(answer["casualties"]["confirmed_figures_current"], false);
    server.stop().await;
}
