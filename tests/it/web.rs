//! The web pages as the server serves them (content types, caching, the Content-Security-Policy,
//! paths that try to leave the web directory), and the two queries the pages rely on: `layer`
//! and `evacuation_preview`.

use crate::harness::*;
use crate::http::{exchange, get, header};
use crest::domain::Role;
use serde_json::json;
use std::path::{Path, PathBuf};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

/// A web directory of our own: the pages as committed, and a stand-in for the npm package (the
/// tests of serving must not depend on `npm ci` having run).
fn fake_web() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("field")).unwrap();
    std::fs::create_dir_all(app.join("shared")).unwrap();
    std::fs::copy(web_dir().join("app/index.html"), app.join("index.html")).unwrap();
    std::fs::copy(
        web_dir().join("app/shared/client.js"),
        app.join("shared/client.js"),
    )
    .unwrap();
    std::fs::write(
        app.join("field/index.html"),
        "<!doctype html><title>field</title>",
    )
    .unwrap();
    std::fs::write(app.join("field/manifest.webmanifest"), "{}").unwrap();
    let leaflet = dir.path().join("node_modules/leaflet/dist");
    std::fs::create_dir_all(&leaflet).unwrap();
    std::fs::write(leaflet.join("leaflet.css"), ".leaflet-pane{}").unwrap();
    std::fs::write(dir.path().join("package.json"), "{\"secret\":true}").unwrap();
    dir
}

#[tokio::test]
async fn pages_are_served_with_their_types_caching_and_policy() {
    let web = fake_web();
    let root = web.path().to_path_buf();
    let server = TestServer::start_with(|c| c.web = Some(root)).await;

    let (status, head, body) = get(&server, "/", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), "text/html; charset=utf-8");
    assert_eq!(header(&head, "cache-control"), "no-cache");
    let csp = header(&head, "content-security-policy");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{csp} lacks {part}");
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    assert_eq!(header(&head, "x-content-type-options"), "nosniff");
    assert_eq!(header(&head, "referrer-policy"), "no-referrer");
    assert!(body.contains("/dashboard/") && body.contains("/field/"));

    // Revalidation: the same ETag gives 304 without a body.
    let etag = header(&head, "etag");
    let (status, head304, body304) = get(&server, "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body304.is_empty());
    assert_eq!(header(&head304, "etag"), etag);
    // A changed file has a new tag.
    std::fs::write(web.path().join("app/index.html"), "<!doctype html><p>new").unwrap();
    let (status, head, body) = get(&server, "/", &[("If-None-Match", &etag)]).await;
    assert_eq!(status, 200, "a changed page is sent again");
    assert_ne!(header(&head, "etag"), etag);
    assert!(body.contains("new"));

    for (path, ty) in [
        ("/shared/client.js", "text/javascript; charset=utf-8"),
        ("/field/", "text/html; charset=utf-8"),
        ("/field/manifest.webmanifest", "application/manifest+json"),
        ("/vendor/leaflet/leaflet.css", "text/css; charset=utf-8"),
    ] {
        let (status, head, _) = get(&server, path, &[]).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(header(&head, "content-type"), ty, "{path}");
        assert!(header(&head, "content-security-policy").contains("default-src 'self'"));
    }

    // A directory without its slash is redirected to it (relative links then resolve).
    let (status, head, _) = get(&server, "/field", &[]).await;
    assert_eq!(status, 308);
    assert_eq!(header(&head, "location"), "/field/");
    assert!(header(&head, "content-security-policy").contains("default-src 'self'"));

    // Nothing outside app/ and Leaflet's dist/, however the path is spelled.
    for path in [
        "/../package.json",
        "/%2e%2e/package.json",
        "/vendor/leaflet/..%2f..%2f..%2fpackage.json",
        "/vendor/leaflet/%2e%2e/%2e%2e/%2e%2e/package.json",
        "/.hidden",
        "/nothing-here.js",
        "/field/%ff",
    ] {
        let (status, head, body) = get(&server, path, &[]).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(header(&head, "content-type"), "application/json");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["code"], "not_found", "{path}");
        assert!(!body.contains("secret"));
    }

    // HEAD answers the headers only; other methods are refused.
    let (status, head, body) = exchange(
        &server,
        "HEAD /shared/client.js HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 200);
    assert!(body.is_empty());
    assert!(header(&head, "content-length").parse::<u64>().unwrap() > 1000);
    let (status, head, body) = exchange(
        &server,
        "POST /field/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(status, 405);
    assert!(body.contains("invalid_message"));
    assert_eq!(header(&head, "x-content-type-options"), "nosniff");

    // The API is not shadowed by the pages.
    let (status, _, body) = get(&server, "/api/v1/vocabulary", &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("hazard_kind"));
    server.stop().await;
}

#[tokio::test]
async fn without_a_web_directory_pages_are_404_with_a_reason() {
    let server = TestServer::start().await;
    let (status, _, body) = get(&server, "/", &[]).await;
    assert_eq!(status, 404);
    assert!(body.contains("not_found"));
    server.stop().await;
}

#[tokio::test]
async fn layer_query_answers_entities_as_a_snapshot_does_and_at_a_past_moment() {
    let server = TestServer::start().await;
    let mut c = server.client(Role::Dispatcher, None).await;
    let snap = c.subscribe(&["shelters", "hazards"], None).await;
    let before = c.query(json!({"type": "layer", "layer": "hazards"})).await;
    assert_eq!(before["layer"], "hazards");
    assert_eq!(before["entities"], json!([]));
    let shelters = c.query(json!({"type": "layer", "layer": "shelters"})).await;
    assert_eq!(
        shelters["entities"], snap["layers"]["shelters"],
        "the same entities as the snapshot's"
    );
    let seq_before = before["seq"].as_u64().unwrap();
    c.ok(
        json!({"type": "report_hazard", "kind": "piping", "severity": "major",
                "position": [113.0933, 27.6301]}),
    )
    .await;
    let after = c.query(json!({"type": "layer", "layer": "hazards"})).await;
    let hazards = after["entities"].as_array().unwrap();
    assert_eq!(hazards.len(), 1);
    assert_eq!(hazards[0]["status"], "reported");
    // At the moment before the report: none.
    let id = c.fresh_id("q");
    c.send(json!({"type": "query", "id": id, "at": seq_before,
                  "query": {"type": "layer", "layer": "hazards"}}))
        .await;
    let past = c.reply(&id).await;
    assert_eq!(past["result"]["entities"], json!([]));
    // Bad input: an unknown layer, a missing one, an extra field.
    for (q, code) in [
        (
            json!({"type": "layer", "layer": "rumours"}),
            "invalid_field",
        ),
        (json!({"type": "layer"}), "missing_field"),
        (
            json!({"type": "layer", "layer": "hazards", "bbox": [0, 0, 1, 1]}),
            "unknown_field",
        ),
    ] {
        let id = c.fresh_id("q");
        c.send(json!({"type": "query", "id": id, "query": q})).await;
        let r = c.reply(&id).await;
        assert_eq!(r["type"], "error", "{q}");
        assert_eq!(r["code"], code, "{q}");
    }
    server.stop().await;
}

#[tokio::test]
async fn evacuation_preview_counts_what_the_order_will_count_and_changes_nothing() {
    let server = TestServer::start().await;
    let mut c = server.client(Role::Dispatcher, None).await;
    // A zone over the whole small map.
    let zone = json!([
        [112.0, 27.0],
        [114.0, 27.0],
        [114.0, 28.5],
        [112.0, 28.5],
        [112.0, 27.0]
    ]);
    let preview = c
        .query(json!({"type": "evacuation_preview", "zone": zone}))
        .await;
    let r = &preview;
    let population = r["population"].as_u64().unwrap();
    assert!(population > 0, "{r}");
    let sum: u64 = r["cells"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["at_risk"].as_u64().unwrap())
        .sum();
    assert_eq!(sum, population);
    assert_eq!(
        preview["seq"],
        c.query(json!({"type": "layer", "layer": "evacuations"}))
            .await["seq"],
        "a preview writes nothing"
    );
    c.subscribe(&["evacuations"], None).await;
    let ack = c
        .ok(json!({"type": "issue_evacuation_order", "name": "全区", "zone": zone}))
        .await;
    let id = ack["created"].as_str().unwrap().to_string();
    let order = c
        .find(|m| m["type"] == "event" && m["event"]["type"] == "evacuation_ordered")
        .await;
    assert_eq!(order["event"]["order"]["id"], id.as_str());
    assert_eq!(
        order["event"]["order"]["population"].as_u64().unwrap(),
        population
    );
    // Once they are under an order, nobody is at risk a second time.
    let again = c
        .query(json!({"type": "evacuation_preview", "zone": zone}))
        .await;
    assert_eq!(again["population"], 0);
    assert_eq!(again["cells"], json!([]));
    // An open ring is bad input.
    let id = c.fresh_id("q");
    c.send(
        json!({"type": "query", "id": id, "query": {"type": "evacuation_preview",
                  "zone": [[112.0, 27.0], [114.0, 27.0], [114.0, 28.5], [112.0, 28.5]]}}),
    )
    .await;
    let r = c.reply(&id).await;
    assert_eq!(r["code"], "invalid_value");
    server.stop().await;
}
