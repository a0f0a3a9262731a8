//! Issue 10 §4: drills in a running server, each in an exercise space of its own — isolated both
//! ways, marked as an exercise everywhere, controlled (pause, resume, speed, end) from the live
//! space.

use crate::harness::*;
use crate::http::get;
use crest::domain::Role;
use serde_json::{Value, json};
use std::path::Path;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A minimal HTTP/1.1 POST with a JSON body.
pub(crate) async fn post(
    server: &TestServer,
    path: &str,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let body = body.to_string();
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

async fn get_json(server: &TestServer, path: &str, token: &str) -> (u16, Value) {
    let auth = format!("Bearer {token}");
    let (status, _, body) = get(server, path, &[("Authorization", &auth)]).await;
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A drill scenario on the test map: a hazard at 01:00, a cue at 02:00 that a simulated trainee
/// answers, a note at 12:00; one day long.
pub(crate) fn write_scenario(dir: &Path) {
    let map = map_dir();
    let text = format!(
        r#"title = "test drill"
map = "{}"
start = "2019-07-06T00:00:00+08:00"
duration = "1d"
tick_every = "10m"

[[inject]]
at = "+0d01:00"
as = "field:T-01"
ref = "h"
[inject.command]
type = "report_hazard"
kind = "seepage"
severity = "general"
position = [113.118, 27.65]

[[inject]]
at = "+0d02:00"
[inject.cue]
id = "CUE-1"
text = "请确认险情"
deadline = "30m"
expect_event = "hazard_status_changed"
respond_after = "10m"
[inject.cue.response]
type = "confirm_hazard"
hazard_id = "$h"

[[inject]]
at = "+0d12:00"
note = {{ text = "雨停" }}
"#,
        map.display()
    );
    std::fs::write(dir.join("test-drill.toml"), text).unwrap();
}

#[tokio::test]
async fn a_drill_runs_in_its_own_space_and_never_touches_live_data() {
    let scenarios = tempfile::tempdir().unwrap();
    write_scenario(scenarios.path());
    let dir = scenarios.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.scenarios = dir).await;
    let live_dispatcher = server.token(Role::Dispatcher, None).await;

    // Started paused-fast: as fast as possible, it runs to its end.
    let (status, drill) = post(
        &server,
        "/api/v1/drills",
        &live_dispatcher,
        json!({"scenario": "test-drill", "as_fast_as_possible": true}),
    )
    .await;
    assert_eq!(status, 201, "{drill}");
    let id = drill["id"].as_str().unwrap().to_string();
    assert_eq!(drill["title"], "test drill");

    // A token for the drill, issued by a live dispatcher.
    let (status, issued) = post(
        &server,
        &format!("/api/v1/drills/{id}/tokens"),
        &live_dispatcher,
        json!({"role": "dispatcher", "label": "trainee desk"}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let drill_token = issued["secret"].as_str().unwrap().to_string();
    assert!(
        drill_token.starts_with(&format!("crest_{id}_")),
        "{drill_token}"
    );

    // The drill's connection says it is an exercise, and sees the drill's hazard.
    let mut trainee = Client::connect(&server.ws_url()).await;
    trainee
        .send(json!({"type": "auth", "token": drill_token}))
        .await;
    let hello = trainee.until("authenticated").await;
    assert_eq!(hello["exercise"]["drill_id"], id.as_str(), "{hello}");
    // Wait for the end of the timeline (as fast as possible: it is quick), then look.
    loop {
        let (_, view) = get_json(&server, &format!("/api/v1/drills/{id}"), &live_dispatcher).await;
        if view["state"] == "finished" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (status, hazards) = get_json(&server, "/api/v1/layers/hazards", &drill_token).await;
    assert_eq!(status, 200);
    assert_eq!(hazards["crest_exercise"]["title"], "test drill");
    assert_eq!(hazards["features"][0]["properties"]["status"], "confirmed");
    let (_, journal) = get_json(&server, "/api/v1/layers/journal", &drill_token).await;
    let ids: Vec<&str> = journal["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["exercise", "NT-1", "CUE-1"], "{journal}");
    let (_, sitrep) = get_json(&server, "/api/v1/sitrep", &drill_token).await;
    assert_eq!(
        sitrep["sitrep"]["exercise"]["title"], "test drill",
        "{sitrep}"
    );

    // The drill's commands act in the drill: its events are marked.
    let snapshot = trainee.subscribe(&["hazards"], None).await;
    assert_eq!(snapshot["exercise"], true, "{snapshot}");
    trainee
        .ok(json!({"type": "report_hazard", "kind": "crack", "severity": "general", "position": [113.12, 27.65]}))
        .await;
    let event = trainee.until("event").await;
    assert_eq!(event["exercise"], true, "{event}");

    // Live data never changed: no hazard there, no exercise mark, no note.
    let (_, live_hazards) = get_json(&server, "/api/v1/layers/hazards", &live_dispatcher).await;
    assert_eq!(live_hazards["features"], json!([]), "{live_hazards}");
    assert!(live_hazards.get("crest_exercise").is_none());
    let (_, live_journal) = get_json(&server, "/api/v1/layers/journal", &live_dispatcher).await;
    assert_eq!(live_journal["features"], json!([]));

    // And the other way: a live token acts only in the live space.
    let mut desk = server.client(Role::Dispatcher, None).await;
    desk.ok(json!({"type": "record_note", "text": "实战值班记录"}))
        .await;
    let (_, drill_journal) = get_json(&server, "/api/v1/layers/journal", &drill_token).await;
    assert_eq!(drill_journal["features"].as_array().unwrap().len(), 3);
    // A live log can never be marked as a drill's.
    desk.refused(
        json!({"type": "start_exercise", "title": "x"}),
        "invalid_value",
    )
    .await;

    // A drill's token cannot control drills, nor revoke live tokens.
    let (status, _) = post(
        &server,
        &format!("/api/v1/drills/{id}/control"),
        &drill_token,
        json!({"action": "end"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = post(
        &server,
        "/api/v1/tokens/tk_x/revoke",
        &drill_token,
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    // A token of a drill the server does not host is unknown.
    let (status, _) = get_json(&server, "/api/v1/layers/hazards", "crest_DR-99_00").await;
    assert_eq!(status, 401);
    server.stop().await;
}

#[tokio::test]
async fn the_controller_pauses_resumes_speeds_up_and_ends_a_drill() {
    let scenarios = tempfile::tempdir().unwrap();
    write_scenario(scenarios.path());
    let dir = scenarios.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.scenarios = dir).await;
    let token = server.token(Role::Dispatcher, None).await;
    // Real time: one scenario second per real second, so nothing happens while the test looks.
    let (status, drill) = post(
        &server,
        "/api/v1/drills",
        &token,
        json!({"scenario": "test-drill", "speed": 1}),
    )
    .await;
    assert_eq!(status, 201, "{drill}");
    let id = drill["id"].as_str().unwrap().to_string();
    let control = |action: Value| {
        let (server, token, id) = (&server, &token, &id);
        async move {
            post(
                server,
                &format!("/api/v1/drills/{id}/control"),
                token,
                action,
            )
            .await
        }
    };
    let (status, view) = control(json!({"action": "pause"})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("paused")));
    // Paused, the scenario clock stands still.
    let t = view["scenario_time_ms"].as_i64().unwrap();
    let (_, again) = get_json(&server, &format!("/api/v1/drills/{id}"), &token).await;
    assert_eq!(again["scenario_time_ms"].as_i64().unwrap(), t);
    let (status, view) = control(json!({"action": "speed", "speed": 3600})).await;
    assert_eq!((status, view["speed"].as_f64()), (200, Some(3600.0)));
    let (status, view) = control(json!({"action": "resume"})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("running")));
    // Bad requests get a code.
    let (status, e) = control(json!({"action": "speed", "speed": -1})).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_value")));
    let (status, e) = control(json!({"action": "jump"})).await;
    assert_eq!((status, e["code"].as_str()), (400, Some("invalid_field")));
    let (status, e) = post(
        &server,
        "/api/v1/drills",
        &token,
        json!({"scenario": "../etc/passwd"}),
    )
    .await;
    assert_eq!((status, e["code"].as_str()), (404, Some("not_found")));
    let observer = server.token(Role::Observer, None).await;
    let (status, _) = post(
        &server,
        "/api/v1/drills",
        &observer,
        json!({"scenario": "test-drill"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, view) = control(json!({"action": "end"})).await;
    assert_eq!((status, view["state"].as_str()), (200, Some("ended")));
    let (status, e) = control(json!({"action": "resume"})).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (409, Some("illegal_transition"))
    );
    let (_, list) = get_json(&server, "/api/v1/drills", &token).await;
    assert_eq!(list["drills"][0]["id"], id.as_str());
    // An ended drill is removed: its tokens no longer act.
    let (_, issued) = post(
        &server,
        &format!("/api/v1/drills/{id}/tokens"),
        &token,
        json!({"role": "observer"}),
    )
    .await;
    let drill_token = issued["secret"].as_str().unwrap().to_string();
    assert_eq!(
        get_json(&server, "/api/v1/layers/hazards", &drill_token)
            .await
            .0,
        200
    );
    // A tablet still connected to the drill when it is removed.
    let mut tablet = Client::connect(&server.ws_url()).await;
    tablet.auth(&drill_token).await;
    assert_eq!(
        delete(&server, &format!("/api/v1/drills/{id}"), &token).await,
        200
    );
    // Its connection is closed, saying why, instead of idling on a space that stopped.
    while tablet.try_next().await.is_some() {}
    assert_eq!(tablet.closed, Some((1001, "drill removed".to_string())));
    assert_eq!(
        get_json(&server, "/api/v1/layers/hazards", &drill_token)
            .await
            .0,
        401
    );
    assert_eq!(
        delete(&server, &format!("/api/v1/drills/{id}"), &token).await,
        404
    );
    server.stop().await;
}

async fn delete(server: &TestServer, path: &str, token: &str) -> u16 {
    let mut s = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let req = format!(
        "DELETE {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8(buf).unwrap();
    text.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_drill_token_is_bound_as_asked_and_a_live_dispatcher_revokes_it() {
    let scenarios = tempfile::tempdir().unwrap();
    write_scenario(scenarios.path());
    let dir = scenarios.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.scenarios = dir).await;
    let token = server.token(Role::Dispatcher, None).await;
    let (_, drill) = post(
        &server,
        "/api/v1/drills",
        &token,
        json!({"scenario": "test-drill", "speed": 1}),
    )
    .await;
    let tokens = format!("/api/v1/drills/{}/tokens", drill["id"].as_str().unwrap());
    // A field token names a team of the drill, and only a team.
    for (body, status) in [
        (json!({"role": "field", "grid_worker": "GW-1"}), 400),
        (json!({"role": "grid_worker", "team": "T-01"}), 400),
        (json!({"role": "dispatcher", "team": "T-01"}), 400),
        (json!({"role": "field", "team": "T-99"}), 404),
    ] {
        assert_eq!(
            post(&server, &tokens, &token, body.clone()).await.0,
            status,
            "{body}"
        );
    }
    let (status, issued) = post(
        &server,
        &tokens,
        &token,
        json!({"role": "field", "team": "T-01"}),
    )
    .await;
    assert_eq!(status, 201, "{issued}");
    let secret = issued["secret"].as_str().unwrap().to_string();
    let mut tablet = Client::connect(&server.ws_url()).await;
    tablet.send(json!({"type": "auth", "token": secret})).await;
    assert_eq!(tablet.until("authenticated").await["team"], "T-01");
    // Revoked through the live space, it closes and no longer authenticates.
    let (status, body) = post(
        &server,
        &format!("/api/v1/tokens/{}/revoke", issued["id"].as_str().unwrap()),
        &token,
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        get_json(&server, "/api/v1/layers/teams", &secret).await.0,
        401
    );
    server.stop().await;
}

/// Copies a directory tree (the web pages, for a demo of their own).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The README's run command: `crest demo` serves the map and plays a scenario as a drill; its
/// printed drill token reads the drill (marked), and its cue report says who answered. On a fresh
/// checkout it installs the web pages' npm packages itself and serves the dashboard and the field
/// app (when npm is there: without it the demo says so and runs on, and this part is skipped
/// except under CI).
#[tokio::test]
async fn crest_demo_plays_a_scenario_in_its_own_space_and_prints_how_to_watch_it() {
    use tokio::io::AsyncBufReadExt;
    let dir = tempfile::tempdir().unwrap();
    write_scenario(dir.path());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // The pages as a fresh checkout has them: no node_modules.
    let web = dir.path().join("web");
    copy_tree(&root.join("web/app"), &web.join("app"));
    for f in ["package.json", "package-lock.json"] {
        std::fs::copy(root.join("web").join(f), web.join(f)).unwrap();
    }
    let npm = std::process::Command::new("npm")
        .arg("--version")
        .output()
        .is_ok();
    assert!(
        npm || std::env::var_os("CI").is_none(),
        "npm is needed to install the web pages' packages"
    );
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crest"))
        .args([
            "demo",
            "--listen",
            "127.0.0.1:0",
            "--minutes",
            "0.1",
            "--db",
        ])
        .arg(dir.path().join("demo.db"))
        .arg("--map")
        .arg(root.join("maps/fukou"))
        .arg("--scenario")
        .arg(dir.path().join("test-drill.toml"))
        .arg("--web")
        .arg(&web)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("crest demo starts");
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut addr, mut drill_token, mut live_token) = (None, None, None);
    let (mut dashboard, mut field_token) = (None, None);
    while addr.is_none()
        || drill_token.is_none()
        || live_token.is_none()
        || dashboard.is_none()
        || field_token.is_none()
    {
        let line = tokio::time::timeout(HANG_GUARD, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("the demo prints its address and tokens");
        // The pages' lines first: they mention the drill's token too.
        if let Some(rest) = line.trim().strip_prefix("dispatcher dashboard: http://") {
            dashboard = rest.split_whitespace().next().map(str::to_string);
        } else if line.trim().starts_with("field app:") {
            field_token = line
                .split_whitespace()
                .last()
                .map(|t| t.trim_end_matches(')').to_string());
        } else if let Some(rest) = line.trim().strip_prefix("listening on http://") {
            addr = rest.split_whitespace().next().map(str::to_string);
        } else if line.contains("the drill's token") {
            drill_token = line.split_whitespace().last().map(str::to_string);
        } else if line.contains("live dispatcher's token") {
            live_token = line.split_whitespace().last().map(str::to_string);
        }
    }
    let field_token = field_token.unwrap();
    assert!(field_token.starts_with("crest_DR-"), "{field_token}");
    let (addr, drill_token, live_token) =
        (addr.unwrap(), drill_token.unwrap(), live_token.unwrap());
    assert_eq!(dashboard.unwrap(), format!("{addr}/dashboard/"));
    // The pages are served, and their map library was installed from the lockfile.
    let page = |path: &'static str| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            String::from_utf8_lossy(&buf).to_string()
        }
    };
    for path in ["/dashboard/", "/field/"] {
        let answer = page(path).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{path}: {answer}");
        assert!(
            answer
                .to_ascii_lowercase()
                .contains("content-security-policy")
        );
    }
    if npm {
        assert!(
            web.join("node_modules/leaflet/dist/leaflet-src.esm.js")
                .is_file()
        );
        let leaflet = page("/vendor/leaflet/leaflet-src.esm.js").await;
        assert!(leaflet.starts_with("HTTP/1.1 200"), "{}", &leaflet[..200]);
    }
    assert!(drill_token.starts_with("crest_DR-"), "{drill_token}");
    let http = |path: String, token: String| {
        let addr = addr.clone();
        async move {
            let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
            let req = format!(
                "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"
            );
            s.write_all(req.as_bytes()).await.unwrap();
            let mut buf = Vec::new();
            s.read_to_end(&mut buf).await.unwrap();
            let text = String::from_utf8(buf).unwrap();
            let body = text.split_once("\r\n\r\n").unwrap().1.to_string();
            serde_json::from_str::<Value>(&body).unwrap()
        }
    };
    // A day in six seconds: wait until the drill has played it.
    loop {
        let drills = http("/api/v1/drills".into(), live_token.clone()).await;
        if drills["drills"][0]["state"] == "finished" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let sitrep = http("/api/v1/sitrep".into(), drill_token.clone()).await;
    assert_eq!(
        sitrep["sitrep"]["exercise"]["title"], "test drill",
        "{sitrep}"
    );
    assert_eq!(sitrep["sitrep"]["hazards"]["total"], 1);
    let cues = http("/api/v1/review/cues".into(), drill_token.clone()).await;
    let cue = &cues["cues"][0];
    assert_eq!(cue["cue_id"], "CUE-1", "{cues}");
    assert_eq!(cue["answered_by"], "simulated trainee");
    assert_eq!(cue["on_time"], true);
    assert_eq!(cue["response_min"], 10.0);
    // The live space stayed empty.
    let live = http("/api/v1/sitrep".into(), live_token.clone()).await;
    assert_eq!(live["sitrep"]["hazards"]["total"], 0, "{live}");
    assert!(live["sitrep"].get("exercise").is_none());
    child.kill().await.unwrap();
}

#[tokio::test]
async fn a_scenario_with_a_mistake_is_refused_with_its_line() {
    let scenarios = tempfile::tempdir().unwrap();
    write_scenario(scenarios.path());
    let broken = std::fs::read_to_string(scenarios.path().join("test-drill.toml"))
        .unwrap()
        .replace("kind = \"seepage\"", "kind = \"tsunami\"");
    let line = broken.lines().position(|l| l.contains("tsunami")).unwrap() + 1;
    std::fs::write(scenarios.path().join("broken.toml"), broken).unwrap();
    let dir = scenarios.path().to_path_buf();
    let server = TestServer::start_with(move |c| c.scenarios = dir).await;
    let token = server.token(Role::Dispatcher, None).await;
    let (status, e) = post(
        &server,
        "/api/v1/drills",
        &token,
        json!({"scenario": "broken"}),
    )
    .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (422, Some("invalid_value")),
        "{e}"
    );
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("inject[0].command.kind") && message.contains("tsunami"),
        "{message}"
    );
    assert!(message.contains(&format!("line {line},")), "{message}");
    let (_, list) = get_json(&server, "/api/v1/drills", &token).await;
    assert_eq!(list["drills"], json!([]), "nothing was started");
    server.stop().await;
}
