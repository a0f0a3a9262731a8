//! Issue 9 §6 end to end: errors in both languages over the WebSocket and HTTP, and the
//! situation report (汛情快报) from the `sitrep` query and `GET /api/v1/sitrep`.

use crate::harness::*;
use crate::http::{get, header};
use crest::domain::Role;
use serde_json::{Value, json};

fn has_chinese(s: &str) -> bool {
    s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c))
}

#[tokio::test]
async fn a_refused_command_says_why_in_english_and_in_chinese() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    // A domain rule, with its ids and numbers in both messages.
    d.ok(json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 3}))
        .await;
    let e = d
        .refused(
            json!({"type": "check_out", "shelter_id": "S-NZ-01", "count": 9}),
            "occupancy_underflow",
        )
        .await;
    assert_eq!(
        e["message"],
        "shelter S-NZ-01 holds 3 people, cannot check out 9"
    );
    assert_eq!(e["message_zh"], "安置点S-NZ-01现有3人，不能离开9人");
    // A state change the lifecycle refuses: the states named through the vocabulary.
    d.ok(json!({"type": "report_hazard", "kind": "piping", "severity": "general", "position": [113.0933, 27.6301]}))
        .await;
    let e = d
        .refused(
            json!({"type": "eliminate_hazard", "hazard_id": "HZ-1"}),
            "illegal_transition",
        )
        .await;
    assert_eq!(
        e["message"],
        "hazard HZ-1 cannot go from reported to eliminated"
    );
    assert_eq!(e["message_zh"], "险情HZ-1不能从“已报告”变为“已排除”", "{e}");
    // A free-text refusal written in both languages where it is raised.
    let mut observer = server.client(Role::Observer, None).await;
    let e = observer
        .refused(move_team("T-01", 113.12, 27.65), "forbidden")
        .await;
    assert_eq!(
        (e["message"].as_str(), e["message_zh"].as_str()),
        (
            Some("observers cannot send commands"),
            Some("观察员不能发送指令")
        )
    );
    // A message that does not parse: the path in both, the cause in Chinese.
    let id = d.fresh_id("c");
    let e = d
        .command(
            &id,
            json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": "many"}),
        )
        .await;
    assert_eq!(e["code"], "invalid_field", "{e}");
    let zh = e["message_zh"].as_str().unwrap();
    assert!(
        zh.starts_with("command.count：类型无效：字符串 \"many\""),
        "{e}"
    );
    // A query's refusal, and a session error.
    d.send(json!({"type": "query", "id": "q-1", "query": {"type": "patrol_history", "section_id": "PS-404"}}))
        .await;
    let e = d.reply("q-1").await;
    assert_eq!(
        (e["code"].as_str(), e["message_zh"].as_str()),
        (Some("not_found"), Some("巡查责任段PS-404不存在"))
    );
    d.send(json!({"type": "set_viewport", "viewport": null}))
        .await;
    let e = d.find(|m| m["code"] == "not_subscribed").await;
    assert_eq!(e["message_zh"], "请先订阅再设置视口");
    // Before authentication too.
    let mut anonymous = Client::connect(&server.ws_url()).await;
    anonymous
        .send(json!({"type": "subscribe", "layers": ["teams"]}))
        .await;
    let e = anonymous.next().await;
    assert_eq!(e["code"], "unauthenticated");
    assert!(has_chinese(e["message_zh"].as_str().unwrap()), "{e}");
    server.stop().await;
}

#[tokio::test]
async fn http_errors_carry_both_messages() {
    let server = TestServer::start().await;
    let (status, _, body) = get(&server, "/api/v1/sitrep", &[]).await;
    assert_eq!(status, 401);
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "unauthenticated");
    assert!(has_chinese(e["message_zh"].as_str().unwrap()), "{e}");
    let (status, _, body) = get(&server, "/api/v1/layers/rivers", &[]).await;
    assert_eq!(status, 401, "{body}");
    let token = server.token(Role::Observer, None).await;
    let bearer = format!("Bearer {token}");
    let (status, _, body) = get(
        &server,
        "/api/v1/layers/rivers",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 404);
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "unknown_layer");
    assert!(
        e["message_zh"].as_str().unwrap().contains("\"rivers\""),
        "{e}"
    );
    let (status, _, body) = get(
        &server,
        "/api/v1/sitrep?lang=fr",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let e: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(e["code"], "invalid_field");
    assert!(has_chinese(e["message_zh"].as_str().unwrap()), "{e}");
    server.stop().await;
}

/// A morning on the test map: a reading over 警戒, a response level, a breach with a team on
/// scene, an evacuation.
async fn a_flood_morning(d: &mut Client) {
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.62}))
        .await;
    d.ok(json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "III", "reason": "湘江涪口站超警戒"}))
        .await;
    d.ok(json!({"type": "report_hazard", "kind": "breach", "severity": "critical", "position": [113.094, 27.645], "description": "将军村溃口"}))
        .await;
    d.ok(json!({"type": "commit_team", "incident_id": "IN-1", "team_id": "T-01", "state": "on_scene"}))
        .await;
    d.ok(json!({"type": "issue_evacuation_order", "name": "将军村", "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.655], [113.095, 27.63]], "target_shelters": ["S-NZ-01"]}))
        .await;
    // 800 leave the order's one cell: 540 into the shelter, 260 to relatives.
    d.ok(
        json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 540, "from_cell": "NZ-JJ-01"}),
    )
    .await;
    d.ok(json!({"type": "record_self_evacuation", "cell_id": "NZ-JJ-01", "count": 260}))
        .await;
}

#[tokio::test]
async fn the_sitrep_query_answers_json_or_a_report_in_either_language() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    a_flood_morning(&mut d).await;
    let mut observer = server.client(Role::Observer, None).await;
    // As before: the figures.
    let json = observer.query(json!({"type": "sitrep"})).await;
    assert_eq!(
        json["sitrep"]["evacuation"]["total"]["evacuated"], 800,
        "{json}"
    );
    assert_eq!(
        json["sitrep"]["incidents"]["headcount_on_scene"], 60,
        "{json}"
    );
    assert!(json["at_ms"].is_i64() && json["seq"].is_u64(), "{json}");
    let zh = observer
        .query(json!({"type": "sitrep", "format": "markdown"}))
        .await;
    assert_eq!(
        (zh["format"].as_str(), zh["lang"].as_str()),
        (Some("markdown"), Some("zh"))
    );
    assert_eq!(zh["seq"], json["seq"]);
    let md = zh["markdown"].as_str().unwrap();
    for part in [
        "# 汛情快报\n",
        "## 一、应急响应",
        "- fukou：Ⅲ级应急响应",
        "| 湘江涪口站（G-XJ-LK） | 湘江 | 40.62 |",
        "溃口",
        "在现场 60 人",
        "应转移 1240 人，已转移 800 人（64.5%）",
        "安置去向：南洲镇中学",
    ] {
        assert!(md.contains(part), "{part:?} missing:\n{md}");
    }
    let en = observer
        .query(json!({"type": "sitrep", "format": "markdown", "lang": "en"}))
        .await;
    let md = en["markdown"].as_str().unwrap();
    assert!(md.starts_with("# Flood situation report\n"), "{md}");
    assert!(
        md.contains("level III response") && md.contains("60 people on scene"),
        "{md}"
    );
    // An unknown language is a field error, in both languages.
    observer
        .send(json!({"type": "query", "id": "q-fr", "query": {"type": "sitrep", "lang": "fr"}}))
        .await;
    let e = observer.reply("q-fr").await;
    assert_eq!(e["code"], "invalid_field", "{e}");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("query.lang: unknown variant `fr`"),
        "{e}"
    );
    assert!(
        e["message_zh"]
            .as_str()
            .unwrap()
            .starts_with("query.lang：未知取值 `fr`"),
        "{e}"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_sitrep_over_http_is_markdown_or_json_with_any_token() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    a_flood_morning(&mut d).await;
    let token = server.token(Role::Observer, None).await;
    let bearer = format!("Bearer {token}");
    let (status, head, body) = get(
        &server,
        "/api/v1/sitrep?lang=zh&format=markdown",
        &[("Authorization", &bearer)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&head, "content-type"),
        "text/markdown; charset=utf-8"
    );
    assert!(
        body.starts_with("# 汛情快报\n") && body.contains("在现场 60 人"),
        "{body}"
    );
    // `?token=` like the layers; JSON by default.
    let (status, head, body) = get(&server, &format!("/api/v1/sitrep?token={token}"), &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&head, "content-type"), "application/json");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        json["sitrep"]["evacuation"]["total"]["evacuated"], 800,
        "{json}"
    );
    let (_, _, body) = get(
        &server,
        "/api/v1/sitrep?format=markdown&lang=en",
        &[("Authorization", &bearer)],
    )
    .await;
    assert!(body.starts_with("# Flood situation report\n"), "{body}");
    server.stop().await;
}
