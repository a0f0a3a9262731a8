//! HTTP endpoints on the same port: health, readiness, metrics and GeoJSON layers.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 GET over a real socket (keeps the dependency tree free of an HTTP client).
pub async fn get(
    server: &TestServer,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, String, String) {
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    exchange(server, &req).await
}

/// Sends one whole HTTP/1.1 request as written (any method) and reads the answer to its end:
/// status, lower-cased head, body.
pub async fn exchange(server: &TestServer, request: &str) -> (u16, String, String) {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    s.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, head.to_ascii_lowercase(), body.to_string())
}

/// A header's value from the lower-cased response head returned by [`get`].
pub fn header(head: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    head.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .unwrap_or_else(|| panic!("no {name} header"))
        .trim()
        .to_string()
}

#[tokio::test]
async fn health_readiness_metrics_and_layers() {
    let server = TestServer::start().await;
    assert_eq!(get(&server, "/healthz", &[]).await.0, 200);
    assert_eq!(get(&server, "/readyz", &[]).await.0, 200);
    let mut d = server.client(Role::Dispatcher, None).await;
    d.ok(move_team("T-01", 113.12, 27.65)).await;
    d.refused(move_team("T-99", 113.12, 27.65), "not_found")
        .await;
    let (status, head, metrics) = get(&server, "/metrics", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&head, "content-type"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    // The client authenticated by message: it moved from role "none" to "dispatcher".
    for line in [
        "crest_connections_open{role=\"dispatcher\"} 1",
        "crest_connections_open{role=\"none\"} 0",
        "crest_connections_total{role=\"dispatcher\"} 1",
        "crest_commands_accepted_total{command=\"update_position\"} 1",
        "crest_commands_rejected_total{command=\"update_position\",code=\"not_found\"} 1",
        "crest_client_errors_total{code=\"not_found\"} 1",
    ] {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} missing from:\n{metrics}"
        );
    }
    for name in ["crest_commit_seconds_bucket", "crest_engine_queue_depth"] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }

    let (status, _, body) = get(&server, "/api/v1/layers/teams", &[]).await;
    assert_eq!(status, 401);
    let err: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(err["code"], "unauthenticated");
    let token = server.token(Role::Observer, None).await;
    let bearer = format!("Bearer {token}");
    let (status, head, body) = get(
        &server,
        "/api/v1/layers/teams",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/geo+json"));
    let fc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fc["type"], "FeatureCollection");
    let t1 = fc["features"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "T-01")
        .unwrap();
    assert_eq!(
        t1["geometry"]["coordinates"],
        serde_json::json!([113.12, 27.65])
    );
    assert_eq!(t1["properties"]["status"], "available");
    // (`get` lower-cases the head; the weak indicator is `W/`.)
    let etag = header(&head, "etag").replacen("w/", "W/", 1);
    assert!(etag.starts_with("W/\""), "a weak tag: {etag}");
    let (status, _, _) = get(
        &server,
        "/api/v1/layers/teams",
        &[("Authorization", &bearer), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(status, 304, "unchanged layer is not sent again");
    // Another layer's change keeps the tag; this layer's change replaces it; weak comparison
    // and lists work (RFC 9110).
    let teams_etag = |head: &str| header(head, "etag").replacen("w/", "W/", 1);
    d.ok(
        json!({"type": "report_hazard", "kind": "seepage", "severity": "general",
        "position": [113.12, 27.65]}),
    )
    .await;
    let weak = etag.clone();
    let strong = etag.trim_start_matches("W/").to_string();
    let list = format!("\"other\", {weak}");
    for inm in [strong.as_str(), weak.as_str(), list.as_str(), "*"] {
        let (status, head, _) = get(
            &server,
            "/api/v1/layers/teams",
            &[("Authorization", &bearer), ("If-None-Match", inm)],
        )
        .await;
        assert_eq!(
            status, 304,
            "a hazard does not change the teams layer ({inm})"
        );
        assert_eq!(teams_etag(&head), etag);
    }
    d.ok(move_team("T-01", 113.13, 27.65)).await;
    let (status, head, _) = get(
        &server,
        "/api/v1/layers/teams",
        &[("Authorization", &bearer), ("If-None-Match", &etag)],
    )
    .await;
    assert_eq!(status, 200, "the team moved");
    assert_ne!(teams_etag(&head), etag);
    // An Authorization header that is not `Bearer <token>` is refused, not ignored; the
    // scheme is case-insensitive.
    for refused in ["Bearer ", "Basic dXNlcjpwdw=="] {
        let (status, _, body) = get(
            &server,
            "/api/v1/layers/teams",
            &[("Authorization", refused)],
        )
        .await;
        assert_eq!(status, 401, "{refused}: {body}");
    }
    let lower = format!("bearer {token}");
    assert_eq!(
        get(
            &server,
            "/api/v1/layers/teams",
            &[("Authorization", &lower)]
        )
        .await
        .0,
        200
    );
    let (status, _, body) = get(
        &server,
        "/api/v1/layers/levees",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200);
    let fc: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(fc["features"][0]["geometry"]["type"], "LineString");
    let (status, _, body) = get(
        &server,
        "/api/v1/layers/rivers",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        body.contains("teams") && body.contains("hazards"),
        "lists the layers: {body}"
    );
    server.stop().await;
}

/// What the web framework would refuse in plain text is answered `{code, message}` like every
/// other HTTP error.
#[tokio::test]
async fn malformed_requests_get_a_code_and_a_message() {
    let server = TestServer::start().await;
    for (path, status, code) in [
        ("/ws", 400, "invalid_message"),
        ("/api/v1/layers/teams?token=a&token=b", 400, "invalid_field"),
        ("/ws?token=a&token=b", 400, "invalid_message"),
    ] {
        let (got, head, body) = get(&server, path, &[]).await;
        assert_eq!(got, status, "{path}: {body}");
        assert_eq!(header(&head, "content-type"), "application/json", "{path}");
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["code"], code, "{path}: {body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    server.stop().await;
}

/// Display names for clients and exports: every value set, in Chinese and English, over HTTP
/// (public) and as a query.
#[tokio::test]
async fn the_vocabulary_names_every_value_in_chinese_and_english() {
    let server = TestServer::start().await;
    let (status, head, body) = get(&server, "/api/v1/vocabulary", &[]).await;
    assert_eq!(status, 200);
    assert_eq!(header(&head, "content-type"), "application/json");
    let v: Value = serde_json::from_str(&body).unwrap();
    let kinds = v["vocabulary"]["hazard_kind"].as_array().unwrap();
    assert!(kinds.contains(&json!({"value": "breach", "zh": "溃口", "en": "breach"})));
    let items = v["vocabulary"]["supply_item"].as_array().unwrap();
    assert!(
        items
            .iter()
            .any(|t| t["value"] == "mosquito_coils" && t["zh"] == "蚊香")
    );
    let mut c = server.client(Role::Observer, None).await;
    let answer = c.query(json!({"type": "vocabulary"})).await;
    assert_eq!(answer["vocabulary"], v["vocabulary"]);
    server.stop().await;
}
