//! Every kind of bad input gets its precise error code, the connection stays open (unless the
//! protocol itself was violated) and the state does not change.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

/// Sends raw text and returns the error it must produce.
async fn error_for(c: &mut Client, text: &str) -> Value {
    c.send_text(text).await;
    let e = c.until("error").await;
    assert!(
        e["message"].as_str().is_some_and(|m| !m.is_empty()),
        "errors explain themselves: {e}"
    );
    e
}

async fn sitrep_seq(c: &mut Client) -> u64 {
    c.query(json!({"type": "sitrep"})).await["seq"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn malformed_and_mistyped_messages() {
    let server = TestServer::start().await;
    let mut c = server.client(Role::Dispatcher, None).await;
    let before = sitrep_seq(&mut c).await;
    let cases: &[(&str, &str)] = &[
        ("{\"type\":\"command\",", "malformed_json"),
        ("not json at all", "malformed_json"),
        ("[1, 2, 3]", "invalid_message"),
        (r#"{"type":"teleport"}"#, "unknown_message"),
        (r#"{"id":"x"}"#, "missing_field"),
        (
            r#"{"type":"command","id":"c1","command":{"type":"summon_boat"}}"#,
            "unknown_command",
        ),
        (
            r#"{"type":"command","id":"c2","command":{"type":"check_in","shelter_id":"S-NZ-01"}}"#,
            "missing_field",
        ),
        (
            r#"{"type":"command","id":"c3","command":{"type":"check_in","shelter_id":"S-NZ-01","count":1,"colour":"red"}}"#,
            "unknown_field",
        ),
        (
            r#"{"type":"command","id":"c4","command":{"type":"check_in","shelter_id":"S-NZ-01","count":"many"}}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"command","id":"c5","command":{"type":"check_in","shelter_id":"S-NZ-01","count":-3}}"#,
            "invalid_value",
        ),
        (
            r#"{"type":"command","id":"c6","command":{"type":"report_hazard","kind":"tsunami","severity":"general","position":[113.1,27.6]}}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"command","id":"c7","command":{"type":"update_position","team_id":"T-01","position":[27.65,113.118]}}"#,
            "invalid_coordinates",
        ),
        (
            r#"{"type":"command","id":"c8","command":{"type":"update_position","team_id":"T-01","position":[-181,0]}}"#,
            "invalid_coordinates",
        ),
        (
            r#"{"type":"command","id":"c9","command":{"type":"update_position","team_id":"T-01","position":[NaN,27.6]}}"#,
            "malformed_json",
        ),
        (
            r#"{"type":"command","id":"c10","command":{"type":"update_position","team_id":"T-01","position":[1e999,27.6]}}"#,
            "invalid_number",
        ),
        (
            r#"{"type":"command","id":"c11","command":{"type":"update_position","team_id":"T-01","position":[113.1]}}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"query","id":"q1","query":{"type":"nearest_teams","point":[113.1,95]}}"#,
            "invalid_coordinates",
        ),
        (
            r#"{"type":"subscribe","layers":["rivers"]}"#,
            "invalid_field",
        ),
        (
            r#"{"type":"subscribe","layers":["teams"],"viewport":[113,28,114,27]}"#,
            "invalid_coordinates",
        ),
        (
            r#"{"type":"command","id":"","command":{"type":"open_shelter","shelter_id":"S-GT-01"}}"#,
            "invalid_request_id",
        ),
        (
            r#"{"type":"command","id":"c12","command":{"type":"define_shelter","id":"S-X","name":"x","position":[113.1,27.6],"capacity":10,"supplies":{"water":{"stock":1,"per_person_daily":3,"colour":"blue"}}}}"#,
            "unknown_field",
        ),
        (
            r#"{"type":"command","id":"c13","command":{"type":"set_supply","shelter_id":"S-NZ-01","item":"water","stock":1.7e308,"per_person_daily":3}}"#,
            "invalid_value",
        ),
    ];
    for (text, code) in cases {
        let e = error_for(&mut c, text).await;
        assert_eq!(e["code"], *code, "{text} -> {e}");
    }
    // The error names the command it answers when the id could be read.
    let e = error_for(
        &mut c,
        r#"{"type":"command","id":"named","command":{"type":"check_in"}}"#,
    )
    .await;
    assert_eq!(e["id"], "named");
    // A binary frame is not part of the protocol.
    c.send_raw(Message::Binary(vec![1u8, 2, 3].into())).await;
    assert_eq!(c.until("error").await["code"], "unsupported_frame");
    c.assert_alive().await;
    assert_eq!(
        sitrep_seq(&mut c).await,
        before,
        "no bad message changed the state"
    );
    server.stop().await;
}

#[tokio::test]
async fn domain_refusals_leave_state_untouched() {
    let server = TestServer::start().await;
    let mut d = server.client(Role::Dispatcher, None).await;
    let before = sitrep_seq(&mut d).await;
    d.refused(
        json!({"type": "check_in", "shelter_id": "S-NOPE", "count": 1}),
        "not_found",
    )
    .await;
    d.refused(
        json!({"type": "confirm_hazard", "hazard_id": "HZ-404"}),
        "not_found",
    )
    .await;
    d.refused(move_team("T-99", 113.1, 27.6), "not_found").await;
    d.refused(
        json!({"type": "check_in", "shelter_id": "S-GT-01", "count": 1}),
        "shelter_closed",
    )
    .await;
    d.refused(
        json!({"type": "check_in", "shelter_id": "S-LK-01", "count": 401}),
        "over_capacity",
    )
    .await;
    d.refused(
        json!({"type": "check_out", "shelter_id": "S-LK-01", "count": 1}),
        "occupancy_underflow",
    )
    .await;
    d.refused(
        json!({"type": "open_shelter", "shelter_id": "S-NZ-01"}),
        "illegal_transition",
    )
    .await;
    d.refused(
        json!({"type": "issue_supply", "shelter_id": "S-NZ-01", "item": "water", "quantity": 1e9}),
        "insufficient_stock",
    )
    .await;
    d.refused(json!({"type": "register_team", "id": "T-01", "name": "dup", "kind": "militia", "headcount": 3, "travel_mode": "foot"}), "already_exists").await;
    d.refused(
        json!({"type": "set_response_level", "jurisdiction": "fukou", "level": null}),
        "illegal_transition",
    )
    .await;
    assert_eq!(sitrep_seq(&mut d).await, before);
    // Then a hazard through its lifecycle, with an illegal jump refused on the way.
    let h = d.ok(json!({"type": "report_hazard", "kind": "seepage", "severity": "general", "position": [113.093, 27.63]})).await;
    let hid = h["created"].as_str().unwrap();
    d.refused(
        json!({"type": "eliminate_hazard", "hazard_id": hid}),
        "illegal_transition",
    )
    .await;
    d.refused(
        json!({"type": "escalate_hazard", "hazard_id": hid, "severity": "general"}),
        "not_an_escalation",
    )
    .await;
    d.ok(json!({"type": "confirm_hazard", "hazard_id": hid}))
        .await;
    d.ok(json!({"type": "escalate_hazard", "hazard_id": hid, "kind": "breach", "reason": "口门扩大"})).await;
    d.assert_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn authentication_failures() {
    let server = TestServer::start().await;
    // Not yet authenticated: commands are refused, the connection stays.
    let mut c = Client::connect(&server.ws_url()).await;
    c.send(json!({"type": "command", "id": "x", "command": move_team("T-01", 113.1, 27.6)}))
        .await;
    assert_eq!(c.until("error").await["code"], "unauthenticated");
    // However malformed, a frame before authentication is answered `unauthenticated`: the
    // server says nothing about its protocol to a stranger but how to authenticate.
    for text in [
        "{\"type\":\"command\",",
        "not json",
        "[1]",
        r#"{"type":"teleport"}"#,
        r#"{"type":"command","id":"x","command":{"type":"summon_boat"}}"#,
        r#"{"type":"command","id":"x","command":{"type":"check_in","count":"many"}}"#,
    ] {
        c.send_text(text).await;
        let e = c.until("error").await;
        assert_eq!(e["code"], "unauthenticated", "{text} -> {e}");
    }
    c.send_raw(Message::Binary(vec![1u8, 2, 3].into())).await;
    assert_eq!(c.until("error").await["code"], "unauthenticated", "binary");
    c.send_text(&format!("\"{}\"", "x".repeat(70 * 1024))).await;
    assert_eq!(
        c.until("error").await["code"],
        "unauthenticated",
        "oversized"
    );
    // A malformed `auth` is the client trying: it gets the precise error.
    c.send_text(r#"{"type":"auth","token":5}"#).await;
    assert_eq!(c.until("error").await["code"], "invalid_field");
    c.send(json!({"type": "auth", "token": "crest_0000"})).await;
    assert_eq!(c.until("error").await["code"], "invalid_token");
    c.assert_alive().await;
    // A revoked token.
    let token = server.token(Role::Field, Some("T-07")).await;
    let id = server
        .store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.team.as_deref() == Some("T-07"))
        .unwrap()
        .id;
    assert!(server.store.revoke_token(&id, 1).await.unwrap());
    c.send(json!({"type": "auth", "token": token})).await;
    assert_eq!(c.until("error").await["code"], "revoked_token");
    // Repeated failures close the connection with a policy violation.
    for _ in 0..3 {
        c.send(json!({"type": "auth", "token": "crest_bad"})).await;
    }
    while c.try_next().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1008), "{:?}", c.closed);
    // A bad token on the upgrade request is refused before the upgrade.
    let r = tokio_tungstenite::connect_async(format!("{}?token=crest_nope", server.ws_url())).await;
    match r {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => assert_eq!(resp.status(), 401),
        other => panic!("expected HTTP 401, got {other:?}"),
    }
    // A good one on the upgrade request authenticates at once.
    let token = server.token(Role::Observer, None).await;
    let (mut ws, _) =
        tokio_tungstenite::connect_async(format!("{}?token={token}", server.ws_url()))
            .await
            .unwrap();
    use futures_util::StreamExt;
    let hello = ws.next().await.unwrap().unwrap();
    let hello: Value = serde_json::from_str(hello.to_text().unwrap()).unwrap();
    assert_eq!(
        (hello["authenticated"].as_bool(), hello["role"].as_str()),
        (Some(true), Some("observer"))
    );
    server.stop().await;
}

#[tokio::test]
async fn revoking_a_token_closes_its_open_sessions() {
    let server =
        TestServer::start_with(|c| c.revocation_poll = std::time::Duration::from_millis(50)).await;
    let lost = server.token(Role::Field, Some("T-07")).await;
    let mut tablet = Client::connect(&format!("{}?token={lost}", server.ws_url())).await;
    let mut other = server.client(Role::Field, Some("T-07")).await;
    tablet.ok(move_team("T-07", 113.1, 27.62)).await;
    let id = server
        .store
        .token_by_hash(&crest::auth::hash_token(&lost))
        .await
        .unwrap()
        .unwrap()
        .id;
    assert!(
        server
            .store
            .revoke_token(&id, crest::clock::now_ms())
            .await
            .unwrap()
    );
    // The lost tablet's session is closed; the other tablet of the same team keeps working.
    while tablet.try_next().await.is_some() {}
    assert_eq!(tablet.closed, Some((1008, "token revoked".to_string())));
    other.ok(move_team("T-07", 113.1, 27.63)).await;
    let again = tokio_tungstenite::connect_async(format!("{}?token={lost}", server.ws_url())).await;
    assert!(
        matches!(again, Err(tokio_tungstenite::tungstenite::Error::Http(r)) if r.status() == 401)
    );
    server.stop().await;
}

#[tokio::test]
async fn oversized_frames_and_floods() {
    let server = TestServer::start_with(|c| {
        c.limits.max_message_bytes = 4096;
        c.limits.hard_frame_bytes = 64 * 1024;
        c.limits.messages_per_second = 5.0;
        c.limits.burst = 20.0;
    })
    .await;
    let mut c = server.client(Role::Dispatcher, None).await;
    // Over the soft limit: refused, connection kept.
    let big = json!({"type": "command", "id": "big", "command": {"type": "report_hazard", "kind": "crack", "severity": "general", "position": [113.1, 27.6], "description": "x".repeat(5000)}});
    c.send(big).await;
    assert_eq!(c.until("error").await["code"], "frame_too_large");
    // Flood: far more than the burst in a moment; the excess is dropped, answered by one error
    // for the whole window (not one per message), and the connection stays.
    for i in 0..60 {
        c.send(json!({"type": "ping", "nonce": i})).await;
    }
    // Past the notice window the bucket has refilled (5 per second): a ping is answered again.
    // (Waiting here is not a timing assertion: more time only refills more.)
    tokio::time::sleep(std::time::Duration::from_millis(1200)).await;
    c.send(json!({"type": "ping", "nonce": "after"})).await;
    let (mut limited, mut pongs) = (Vec::new(), 0);
    loop {
        let m = c.next().await;
        match (m["type"].as_str(), m["nonce"].as_str()) {
            (Some("pong"), Some("after")) => break,
            (Some("pong"), _) => pongs += 1,
            (Some("error"), _) => {
                assert_eq!(m["code"], "rate_limited");
                limited.push(m);
            }
            _ => {}
        }
    }
    assert_eq!(
        limited.len(),
        1,
        "one error answers the window: {limited:?}"
    );
    assert!(
        (15..40).contains(&pongs),
        "the burst itself is served: {pongs}"
    );
    // The next window's notice reports how many the previous one dropped unanswered: all of the
    // flood but the served burst and the one answered drop.
    for i in 0..60 {
        c.send(json!({"type": "ping", "nonce": i})).await;
    }
    let notice = c.until("error").await;
    assert_eq!(notice["code"], "rate_limited");
    let unanswered = 60 - pongs - 1;
    assert!(
        notice["message"]
            .as_str()
            .unwrap()
            .contains(&format!("({unanswered} more were dropped unanswered")),
        "{notice}"
    );
    // Over the hard limit: the WebSocket layer closes the connection with 1009.
    c.send_text(&"y".repeat(100 * 1024)).await;
    while c.try_next().await.is_some() {}
    assert_eq!(c.closed.as_ref().map(|c| c.0), Some(1009), "{:?}", c.closed);
    // Others are unaffected.
    let mut other = server.client(Role::Observer, None).await;
    other.assert_alive().await;
    server.stop().await;
}

#[tokio::test]
async fn session_and_query_errors_that_only_a_confused_client_meets() {
    let server = TestServer::start().await;
    let mut c = server.client(Role::Dispatcher, None).await;
    let token = server.token(Role::Observer, None).await;
    c.send(json!({"type": "auth", "token": token})).await;
    assert_eq!(c.until("error").await["code"], "already_authenticated");
    c.send(json!({"type": "set_viewport", "viewport": [113.0, 27.0, 113.2, 27.2]}))
        .await;
    assert_eq!(c.until("error").await["code"], "not_subscribed");
    c.send(json!({"type": "subscribe", "layers": []})).await;
    assert_eq!(c.until("error").await["code"], "invalid_field");
    let bad_queries = [
        (
            json!({"type": "nearest_teams", "point": [113.1, 27.6], "limit": 0}),
            "invalid_value",
            "query.limit: value out of bounds",
        ),
        (
            json!({"type": "nearest_shelters", "point": [113.1, 27.6], "limit": 101}),
            "invalid_value",
            "limit",
        ),
        (
            json!({"type": "snap_to_levee", "point": [113.1, 27.6], "tolerance_m": 9000}),
            "invalid_value",
            "tolerance_m",
        ),
        (
            json!({"type": "chainage_to_point", "levee_id": "NOPE", "chainage": "K1+000"}),
            "not_found",
            "NOPE",
        ),
        (
            json!({"type": "chainage_to_point", "levee_id": "XJ-E-NZ", "chainage": "K99+000"}),
            "invalid_value",
            "outside levee",
        ),
        (
            json!({"type": "chainage_to_point", "levee_id": "XJ-E-NZ", "chainage": "K1+2000"}),
            "invalid_field",
            "K12+300",
        ),
    ];
    for (i, (query, code, says)) in bad_queries.into_iter().enumerate() {
        let id = format!("bad-q-{i}");
        c.send(json!({"type": "query", "id": id, "query": query}))
            .await;
        let e = c.reply(&id).await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str()),
            (Some("error"), Some(code)),
            "{query} -> {e}"
        );
        assert!(
            e["message"].as_str().unwrap().contains(says),
            "{query} -> {e}"
        );
    }
    c.assert_alive().await;
    server.stop().await;
}

/// The rate limit belongs to the token: reconnecting does not buy a fresh burst.
#[tokio::test]
async fn reconnecting_does_not_reset_the_rate_limit() {
    let server = TestServer::start_with(|c| {
        c.limits.messages_per_second = 0.001; // no refill within the test
        c.limits.burst = 5.0;
    })
    .await;
    let token = server.token(Role::Observer, None).await;
    let url = format!("{}?token={token}", server.ws_url());
    let mut first = Client::connect(&url).await;
    for i in 0..5 {
        first.send(json!({"type": "ping", "nonce": i})).await;
        assert_eq!(first.next().await["type"], "pong");
    }
    first.close().await;
    let mut again = Client::connect(&url).await;
    again.send(json!({"type": "ping", "nonce": "again"})).await;
    let m = again.next().await;
    assert_eq!(m["code"], "rate_limited", "{m}");
    // Another token is not affected.
    let other_token = server.token(Role::Observer, None).await;
    let mut other = Client::connect(&format!("{}?token={other_token}", server.ws_url())).await;
    other.assert_alive().await;
    server.stop().await;
}

/// Revoking through the server closes the token's sessions at once, without waiting for the
/// periodic check (set to an hour here, so only the immediate path can close it).
#[tokio::test]
async fn revoking_through_the_server_closes_sessions_at_once() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server =
        TestServer::start_with(|c| c.revocation_poll = std::time::Duration::from_secs(3600)).await;
    let lost = server.token(Role::Field, Some("T-07")).await;
    let lost_id = server
        .store
        .tokens()
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.team.as_deref() == Some("T-07"))
        .unwrap()
        .id;
    let mut tablet = Client::connect(&format!("{}?token={lost}", server.ws_url())).await;
    tablet.assert_alive().await;
    let post = |token: String| {
        let (addr, id) = (server.addr, lost_id.clone());
        async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let req = format!(
                "POST /api/v1/tokens/{id}/revoke HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            let text = String::from_utf8(buf).unwrap();
            text.split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u16>()
                .unwrap()
        }
    };
    // Only a dispatcher may revoke.
    let observer = server.token(Role::Observer, None).await;
    assert_eq!(post(observer).await, 403);
    let dispatcher = server.token(Role::Dispatcher, None).await;
    assert_eq!(post(dispatcher.clone()).await, 200);
    while tablet.try_next().await.is_some() {}
    assert_eq!(
        tablet.closed.as_ref().map(|c| (c.0, c.1.as_str())),
        Some((1008, "token revoked"))
    );
    assert_eq!(post(dispatcher).await, 404, "already revoked");
    server.stop().await;
}
