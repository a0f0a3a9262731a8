//! CAP 1.2 over HTTP: the Atom feed of the current messages and each message, from a real server
//! driven by real commands, every message checked against the specification (`cap_spec`).

use crate::cap_spec::{assert_valid, is_cap_date_time};
use crate::harness::TestServer;
use crate::http::{get, header};
use crest::domain::Role;
use serde_json::json;
use std::collections::BTreeMap;

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// One CAP message as fetched: the fields the thread checks need.
struct Fetched {
    sender: String,
    sent: String,
    msg_type: String,
    references: Vec<String>,
    status: String,
    languages: Vec<String>,
}

async fn fetch(server: &TestServer, token: &str, href: &str) -> Fetched {
    let auth = format!("Bearer {token}");
    let (status, head, body) = get(server, href, &[("Authorization", &auth)]).await;
    assert_eq!(status, 200, "{href}: {body}");
    assert_eq!(header(&head, "content-type"), "application/cap+xml");
    assert_valid(&body);
    let doc = roxmltree::Document::parse(&body).unwrap();
    let text = |name: &str| -> Vec<String> {
        doc.descendants()
            .filter(|n| n.tag_name().name() == name)
            .map(|n| n.text().unwrap_or("").to_string())
            .collect()
    };
    let identifier = text("identifier").remove(0);
    assert_eq!(
        href.rsplit('/').next(),
        Some(identifier.as_str()),
        "the link names the message"
    );
    Fetched {
        sender: text("sender").remove(0),
        sent: text("sent").remove(0),
        msg_type: text("msgType").remove(0),
        references: text("references")
            .first()
            .map(|r| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default(),
        status: text("status").remove(0),
        languages: text("language"),
    }
}

#[tokio::test]
async fn evacuations_response_levels_and_gauge_alerts_are_served_as_cap_1_2() {
    crate::cap_spec::self_test();
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(json!({"type": "issue_evacuation_order", "name": "将军村 <低洼区> & \"沿河\"",
                "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.655], [113.095, 27.63]],
                "target_shelters": ["S-NZ-01"]}))
        .await;
    server.clock.advance(3_600_000);
    d.ok(json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"}))
        .await;
    d.ok(json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "IV", "reason": "强降雨"}))
        .await;
    server.clock.advance(3_600_000);
    d.ok(json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "III", "reason": "超警戒"}))
        .await;
    // Above guard (38 m) and warning (40 m) on 湘江涪口站: two threshold alerts.
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.62}))
        .await;

    // Like every read of the picture, the feed needs a token.
    let (status, _, body) = get(&server, "/api/v1/cap", &[]).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["code"],
        "unauthenticated"
    );
    let token = server.token(Role::Observer, None).await;
    let auth = format!("Bearer {token}");
    let (status, head, feed) = get(&server, "/api/v1/cap", &[("Authorization", &auth)]).await;
    assert_eq!(status, 200, "{feed}");
    assert_eq!(
        header(&head, "content-type"),
        "application/atom+xml; charset=utf-8"
    );
    let doc = roxmltree::Document::parse(&feed).unwrap();
    assert_eq!(doc.root_element().tag_name().namespace(), Some(ATOM));
    let mut entries: BTreeMap<String, (String, String)> = BTreeMap::new();
    for entry in doc
        .descendants()
        .filter(|n| n.has_tag_name((ATOM, "entry")))
    {
        let child = |name: &str| {
            entry
                .children()
                .find(|n| n.has_tag_name((ATOM, name)))
                .unwrap_or_else(|| panic!("an entry without <{name}>"))
        };
        let updated = child("updated").text().unwrap().to_string();
        assert!(is_cap_date_time(&updated), "{updated}");
        assert!(!child("title").text().unwrap().is_empty());
        assert!(child("id").text().unwrap().starts_with("urn:crest:cap:"));
        let link = entry
            .children()
            .find(|n| n.has_tag_name((ATOM, "link")) && n.attribute("rel") == Some("alternate"))
            .expect("a link to the message");
        assert_eq!(link.attribute("type"), Some("application/cap+xml"));
        let href = link.attribute("href").unwrap().to_string();
        let id = href.rsplit('/').next().unwrap().to_string();
        entries.insert(id, (href, updated));
    }
    let ids: Vec<&str> = entries.keys().map(String::as_str).collect();
    let alerts: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|i| i.starts_with("crest.AL-"))
        .collect();
    assert_eq!(alerts.len(), 2, "{ids:?}");
    // The small map has no district layer: the sender is plain `crest`.
    for expected in ["crest.EV-1.2", "crest.RL-fukou.2"] {
        assert!(ids.contains(&expected), "{expected} not in {ids:?}");
    }
    assert!(
        !ids.contains(&"crest.EV-1.1"),
        "superseded: not in the feed"
    );

    // Each message over HTTP, valid, and its thread consistent: an Alert references nothing; an
    // Update or Cancel references earlier messages that can be fetched and match.
    for (id, (href, updated)) in &entries {
        let m = fetch(&server, &token, href).await;
        assert_eq!(&m.sent, updated, "{id}");
        assert_eq!(m.status, "Actual");
        assert_eq!(m.languages, ["zh-CN", "en-US"]);
        let expected_type = match id.as_str() {
            "crest.EV-1.2" => "Cancel",
            "crest.RL-fukou.2" => "Update",
            _ => "Alert",
        };
        assert_eq!(m.msg_type, expected_type, "{id}");
        if m.msg_type == "Alert" {
            assert!(m.references.is_empty(), "{id}");
            continue;
        }
        assert_eq!(m.references.len(), 1, "{id}: {:?}", m.references);
        for r in &m.references {
            let [sender, identifier, sent] = r.split(',').collect::<Vec<_>>()[..] else {
                panic!("{r}");
            };
            let earlier = fetch(&server, &token, &format!("/api/v1/cap/{identifier}")).await;
            assert_eq!(earlier.sender, sender);
            assert_eq!(earlier.sent, sent);
            assert_eq!(earlier.msg_type, "Alert");
            assert!(earlier.sent <= m.sent, "{identifier} before {id}");
        }
    }
    assert_eq!(
        fetch(&server, &token, "/api/v1/cap/crest.EV-1.2")
            .await
            .references,
        [format!(
            "crest,crest.EV-1.1,{}",
            fetch(&server, &token, "/api/v1/cap/crest.EV-1.1")
                .await
                .sent
        )]
    );

    // The order's name came back exactly, through the escaping.
    let (_, _, body) = get(
        &server,
        "/api/v1/cap/crest.EV-1.1",
        &[("Authorization", &auth)],
    )
    .await;
    let doc = roxmltree::Document::parse(&body).unwrap();
    let area = doc
        .descendants()
        .find(|n| n.has_tag_name("areaDesc"))
        .unwrap();
    assert_eq!(area.text(), Some("将军村 <低洼区> & \"沿河\""));
    let polygon = doc
        .descendants()
        .find(|n| n.has_tag_name("polygon"))
        .unwrap()
        .text()
        .unwrap();
    assert!(polygon.starts_with("27.63,113.095 "), "lat,lon: {polygon}");

    // Unknown identifiers: 404 with the usual error body; a token is still required.
    for unknown in ["crest.EV-9.1", "crest.EV-1.3", "other.EV-1.1"] {
        let (status, head, body) = get(
            &server,
            &format!("/api/v1/cap/{unknown}"),
            &[("Authorization", &auth)],
        )
        .await;
        assert_eq!(status, 404, "{unknown}: {body}");
        assert_eq!(header(&head, "content-type"), "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "not_found");
        assert!(v["message_zh"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let (status, _, _) = get(&server, "/api/v1/cap/crest.EV-1.1", &[]).await;
    assert_eq!(status, 401);
    d.close().await;
    server.stop().await;
}
