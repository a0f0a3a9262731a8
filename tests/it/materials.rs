//! Flood materials end to end, over real WebSockets: a depot's stock issued to a breach,
//! delivered, used up and partly returned; the low-stock alert raised and cleared; a field
//! team's request approved and fulfilled.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};

fn event_of<'a>(m: &'a Value, kind: &str) -> Option<&'a Value> {
    (m["type"] == "event" && m["event"]["type"] == kind).then(|| &m["event"])
}

#[tokio::test]
async fn materials_go_from_a_depot_to_a_breach_and_back_and_a_field_request_is_filled() {
    let server = TestServer::start_with(|c| {
        c.map = None;
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(
        json!({"type": "register_team", "id": "T-1", "name": "武警抢险一队", "kind": "armed_police",
                "headcount": 60, "travel_mode": "vehicle"}),
    )
    .await;
    let mut tablet = server.client(Role::Field, Some("T-1")).await;
    let mut watcher = server.client(Role::Observer, None).await;
    watcher
        .subscribe(
            &["depots", "shipments", "material_requests", "alerts"],
            None,
        )
        .await;

    d.ok(
        json!({"type": "define_levee", "id": "L-1", "name": "湘江东岸南洲段",
                "line": [[113.10, 27.60], [113.10, 27.70]], "riverside": "left"}),
    )
    .await;
    d.ok(
        json!({"type": "define_depot", "id": "D-NZ", "name": "南洲镇防汛物资仓库",
                "position": [113.12, 27.63], "town": "南洲镇",
                "stock": {"sandbags": 5000, "土工布": 1000}, "low_stock": {"编织袋": 2000}}),
    )
    .await;
    // A breach opens its incident, IN-1.
    d.ok(
        json!({"type": "report_hazard", "kind": "breach", "severity": "critical",
                "position": [113.1, 27.65], "description": "将军村溃口"}),
    )
    .await;

    // Issued to the breach, for T-1 to receive: the depot drops below its level.
    let ack = d
        .ok(
            json!({"type": "issue_materials", "depot_id": "D-NZ", "team_id": "T-1",
                   "site": {"kind": "incident", "incident_id": "IN-1"},
                   "items": {"编织袋": 3500, "geotextile": 200}}),
        )
        .await;
    assert_eq!(ack["created"], "MS-1");
    let issued = watcher
        .find(|m| event_of(m, "materials_issued").is_some())
        .await;
    assert_eq!(issued["event"]["stock"]["sandbags"], 1500);
    assert_eq!(
        issued["event"]["shipment"]["lines"]["sandbags"]["issued"],
        3500
    );
    let raised = watcher
        .find(|m| event_of(m, "alert_raised").is_some())
        .await;
    let alert = &raised["event"]["alert"];
    assert_eq!(
        (&alert["kind"], &alert["subject_id"], &alert["qualifier"]),
        (
            &json!("depot_low_stock"),
            &json!("D-NZ"),
            &json!("sandbags")
        )
    );
    assert_eq!(alert["layer"], "depots");

    // The receiving team confirms delivery and reports what it used; only the desk takes returns.
    tablet
        .refused(
            json!({"type": "consume_materials", "shipment_id": "MS-1", "items": {"sandbags": 1}}),
            "illegal_transition",
        )
        .await;
    tablet
        .ok(json!({"type": "deliver_materials", "shipment_id": "MS-1"}))
        .await;
    tablet
        .ok(json!({"type": "consume_materials", "shipment_id": "MS-1", "items": {"sandbags": 3000}}))
        .await;
    tablet
        .refused(
            json!({"type": "return_materials", "shipment_id": "MS-1", "items": {"sandbags": 500}}),
            "forbidden",
        )
        .await;
    d.refused(
        json!({"type": "return_materials", "shipment_id": "MS-1", "items": {"sandbags": 501}}),
        "exceeds_shipment",
    )
    .await;
    d.ok(json!({"type": "return_materials", "shipment_id": "MS-1",
                "items": {"sandbags": 500, "geotextile": 200}}))
        .await;
    let returned = watcher
        .find(|m| event_of(m, "materials_returned").is_some())
        .await;
    assert_eq!(returned["event"]["stock"]["sandbags"], 2000);
    let cleared = watcher
        .find(|m| event_of(m, "alert_resolved").is_some())
        .await;
    assert_eq!(cleared["event"]["alert_id"], alert["id"]);
    d.refused(
        json!({"type": "consume_materials", "shipment_id": "MS-1", "items": {"sandbags": 1}}),
        "exceeds_shipment",
    )
    .await;

    // The team on the levee asks for sandbags for its stretch; the desk sees it open.
    let ack = tablet
        .ok(json!({"type": "request_materials", "team_id": "T-1",
                   "site": {"kind": "levee_stretch", "levee_id": "L-1", "from": "K0+100", "to": "K0+600"},
                   "items": {"编织袋": 800}, "note": "背水坡散浸"}))
        .await;
    assert_eq!(ack["created"], "MR-1");
    let board = d.query(json!({"type": "materials"})).await;
    assert_eq!(board["depots"][0]["stock"]["sandbags"], 2000);
    assert_eq!(board["depots"][0]["low"], json!([]));
    assert_eq!(board["shipments"], json!([]), "MS-1 is settled: {board}");
    assert_eq!(board["requests"][0]["id"], "MR-1");
    assert_eq!(board["requests"][0]["state"], "requested");
    assert_eq!(board["units"]["geotextile"]["en"], "m²");

    let ack = d
        .ok(json!({"type": "approve_material_request", "request_id": "MR-1", "depot_id": "D-NZ"}))
        .await;
    assert_eq!(ack["created"], "MS-2");
    let approved = watcher
        .find(|m| event_of(m, "material_request_approved").is_some())
        .await;
    assert_eq!(approved["event"]["shipment_id"], "MS-2");
    let board = d.query(json!({"type": "materials"})).await;
    assert_eq!(board["shipments"][0]["id"], "MS-2");
    assert_eq!(board["shipments"][0]["request_id"], "MR-1");
    assert_eq!(board["shipments"][0]["outstanding"]["sandbags"], 800);
    tablet
        .ok(json!({"type": "deliver_materials", "shipment_id": "MS-2"}))
        .await;
    let fulfilled = watcher
        .find(|m| event_of(m, "material_request_fulfilled").is_some())
        .await;
    assert_eq!(fulfilled["event"]["request_id"], "MR-1");

    let board = d.query(json!({"type": "materials"})).await;
    assert_eq!(board["requests"], json!([]), "no open request: {board}");
    let sitrep = d.query(json!({"type": "sitrep"})).await;
    let sandbags = &sitrep["sitrep"]["materials"]["items"]["sandbags"];
    assert_eq!(
        (
            &sandbags["in_stock"],
            &sandbags["issued"],
            &sandbags["consumed"],
            &sandbags["returned"],
            &sandbags["out"]
        ),
        (
            &json!(1200),
            &json!(4300),
            &json!(3000),
            &json!(500),
            &json!(800)
        )
    );
    assert_eq!(
        sitrep["sitrep"]["materials"]["low_stock"][0]["item"],
        "sandbags"
    );

    // A new subscriber's snapshot has the depot, the shipments and the request as they are now.
    let mut late = server.client(Role::Observer, None).await;
    let snap = late
        .subscribe(&["depots", "shipments", "material_requests"], None)
        .await;
    let layers = &snap["layers"];
    assert_eq!(layers["depots"][0]["stock"]["sandbags"], 1200);
    assert_eq!(layers["depots"][0]["low"], json!(["sandbags"]));
    assert_eq!(layers["shipments"].as_array().unwrap().len(), 2);
    assert_eq!(layers["shipments"][0]["settled"], true);
    assert_eq!(layers["material_requests"][0]["state"], "fulfilled");
    server.stop().await;
}
