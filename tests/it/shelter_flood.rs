//! Shelter flood safety end to end on the 涪口 district map: the flood zones are imported with
//! the map, shelter views say which shelters are flood-safe, and a breach of the 南洲 levee at
//! 将军村 closes the shelters in its flood area to opening, unless one stands on high ground or the
//! dispatcher overrides the flood risk with a reason the log keeps.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};

fn fukou() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou")
}

fn shelter<'a>(snapshot: &'a Value, id: &str) -> &'a Value {
    snapshot["layers"]["shelters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("{id} in {snapshot}"))
}

#[tokio::test]
async fn a_breach_at_jiangjun_closes_its_flood_area_to_new_shelters_but_not_high_ground() {
    let server = TestServer::start_with(|c| {
        c.map = Some(fukou());
        c.tick_every = None;
    })
    .await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut watcher = server.client(Role::Observer, None).await;
    let before = watcher.subscribe(&["shelters", "flood_zones"], None).await;
    let zones = before["layers"]["flood_zones"].as_array().unwrap();
    assert_eq!(zones.len(), 11, "one per levee, imported with the map");
    assert!(
        zones
            .iter()
            .any(|z| z["id"] == "FZ-XJ-E-NZ" && z["levee_id"] == "XJ-E-NZ")
    );
    // 将军村小学 stands in the 南洲 levee's flood zone, on low ground; the town hall of 南洲 in it
    // too, on high ground; a shelter in the hills east is in no zone.
    let school = shelter(&before, "S-NZ-05");
    assert_eq!(school["name"], "将军村小学");
    assert_eq!(
        (
            school["flood_safe"].as_bool(),
            school["in_breach_flood_area"].as_bool()
        ),
        (Some(false), Some(false)),
        "{school}"
    );
    assert!(
        school["flood_zones"]
            .as_array()
            .unwrap()
            .contains(&json!("FZ-XJ-E-NZ"))
    );
    let hall = shelter(&before, "S-NZ-01");
    assert_eq!(hall["high_ground"], true);
    assert_eq!(hall["flood_safe"], true);
    assert!(
        hall["flood_zones"]
            .as_array()
            .unwrap()
            .contains(&json!("FZ-XJ-E-NZ"))
    );
    let hills = shelter(&before, "S-XJ-01");
    assert_eq!(hills["flood_safe"], true);
    assert_eq!(hills["flood_zones"], json!([]));

    // The breach: on the levee in front of 将军村 (~410 m west of the village).
    let villages: Value =
        serde_json::from_str(&std::fs::read_to_string(fukou().join("villages.geojson")).unwrap())
            .unwrap();
    let village = villages["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .unwrap();
    let c = &village["geometry"]["coordinates"];
    let at = json!([c[0].as_f64().unwrap() - 0.0041, c[1].as_f64().unwrap()]);
    let snapped = d
        .query(json!({"type": "snap_to_levee", "point": at, "tolerance_m": 150}))
        .await;
    assert_eq!(snapped["location"]["levee_id"], "XJ-E-NZ", "{snapped}");
    d.ok(
        json!({"type": "report_hazard", "kind": "breach", "severity": "critical",
                "position": at, "description": "将军村溃口"}),
    )
    .await;
    let refused = d
        .refused(
            json!({"type": "open_shelter", "shelter_id": "S-NZ-05"}),
            "shelter_in_flood_area",
        )
        .await;
    let message = refused["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("XJ-E-NZ") && message.contains("override_flood_risk"),
        "{refused}"
    );
    // High ground, and outside every zone: open as usual.
    d.ok(json!({"type": "open_shelter", "shelter_id": "S-NZ-01"}))
        .await;
    d.ok(json!({"type": "open_shelter", "shelter_id": "S-XJ-01"}))
        .await;
    // An explicit override opens it; the reason is in the event, for the record.
    d.ok(json!({"type": "open_shelter", "shelter_id": "S-NZ-05",
                "override_flood_risk": "教学楼三层临时避险，待转移"}))
        .await;
    let opened = watcher
        .find(|m| {
            m["event"]["type"] == "shelter_open_changed" && m["event"]["shelter_id"] == "S-NZ-05"
        })
        .await;
    assert_eq!(
        opened["event"]["flood_risk_override"],
        json!({"reason": "教学楼三层临时避险，待转移", "flood_zones": ["FZ-XJ-E-NZ"]}),
        "{opened}"
    );
    let after = d.subscribe(&["shelters"], None).await;
    let school = shelter(&after, "S-NZ-05");
    assert_eq!(school["open"], true);
    assert_eq!(school["in_breach_flood_area"], true, "{school}");
    assert_eq!(shelter(&after, "S-NZ-01")["in_breach_flood_area"], false);
    let sitrep = d.query(json!({"type": "sitrep"})).await;
    assert_eq!(
        sitrep["sitrep"]["flood_safety"],
        json!({"breached_levees": ["XJ-E-NZ"], "shelters_not_flood_safe": 4,
               "open_in_breach_flood_area": ["S-NZ-05"]}),
        "{sitrep}"
    );
    server.stop().await;
}
