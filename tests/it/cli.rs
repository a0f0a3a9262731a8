//! The command line as an operator meets it: the real `crest` binary, its messages and its
//! refusals, and what a restart with an edited map reports.

use crate::harness::*;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary to its end. One that is still running after the hang guard (a server that
/// started when it should have refused) is killed and fails the test.
fn crest(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(args)
        .env_remove("CREST_DB")
        .env_remove("CREST_MAP")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the crest binary runs");
    let deadline = Instant::now() + HANG_GUARD;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "crest {args:?} did not exit: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Starts the server once on `db` with the test map, so the log knows its teams, and stops it.
async fn with_test_map(db: &Path) {
    TestServer::start_on(db, |_| {}).await.stop().await;
}

#[test]
fn a_missing_or_empty_map_directory_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let missing = dir.path().join("no-such-map");
    let out = crest(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        s(&db),
        "--map",
        s(&missing),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(s(&missing)) && err.contains("does not exist"),
        "{err}"
    );
    let empty = dir.path().join("empty-map");
    std::fs::create_dir(&empty).unwrap();
    let out = crest(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        s(&db),
        "--map",
        s(&empty),
    ]);
    assert!(!out.status.success(), "an empty map directory is refused");
    let err = stderr(&out);
    assert!(
        err.contains(s(&empty)) && err.contains("no layer file"),
        "{err}"
    );
    assert!(!db.exists(), "nothing was written");
}

#[test]
fn a_database_that_cannot_be_opened_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("no-such-dir").join("crest.db");
    for args in [
        vec!["token", "list", "--db", s(&db)],
        vec!["token", "issue", "--role", "dispatcher", "--db", s(&db)],
        vec!["token", "revoke", "tk_x", "--db", s(&db)],
        vec!["serve", "--listen", "127.0.0.1:0", "--db", s(&db)],
    ] {
        let out = crest(&args);
        assert!(!out.status.success(), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("cannot open the database {}", s(&db)))
                && err.contains("no-such-dir does not exist"),
            "{args:?}: {err}"
        );
    }
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let db = file.join("crest.db");
    let out = crest(&["token", "list", "--db", s(&db)]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("cannot open the database {}", s(&db)))
            && err.contains("a-file is not a directory"),
        "{err}"
    );
}

#[tokio::test]
async fn a_field_token_needs_a_known_team() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    // Before any map: no team is known.
    let out = crest(&[
        "token",
        "issue",
        "--role",
        "field",
        "--team",
        "T-01",
        "--db",
        &db_arg(&db),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no team is registered yet"),
        "{}",
        stderr(&out)
    );
    with_test_map(&db).await;
    let out = crest(&[
        "token",
        "issue",
        "--role",
        "field",
        "--team",
        "T-99",
        "--db",
        &db_arg(&db),
    ]);
    assert!(
        !out.status.success(),
        "a token for an unknown team is refused"
    );
    let err = stderr(&out);
    assert!(
        err.contains("team T-99 is not known")
            && err.contains("T-01, T-02, T-07, T-11")
            && err.contains("--allow-unknown-team"),
        "{err}"
    );
    assert!(stdout(&out).is_empty(), "no token printed");
    let out = crest(&[
        "token",
        "issue",
        "--role",
        "field",
        "--team",
        "T-01",
        "--db",
        &db_arg(&db),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("crest_"), "{}", stdout(&out));
    let out = crest(&[
        "token",
        "issue",
        "--role",
        "field",
        "--team",
        "T-99",
        "--allow-unknown-team",
        "--db",
        &db_arg(&db),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: team T-99 is not known"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn token_list_has_a_header_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    with_test_map(&db).await;
    assert!(
        crest(&[
            "token",
            "issue",
            "--role",
            "observer",
            "--label",
            "wall",
            "--db",
            s(&db)
        ])
        .status
        .success()
    );
    let out = crest(&["token", "list", "--db", s(&db)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    for column in [
        "ID",
        "ROLE",
        "TEAM",
        "STATE",
        "ISSUED (UTC)",
        "REVOKED (UTC)",
        "LABEL",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let row = lines.next().expect("one token");
    let year = crest::cli::utc(crest::clock::now_ms())[..10].to_string();
    assert!(
        row.starts_with("tk_")
            && row.contains("observer")
            && row.contains(&year)
            && row.ends_with("wall"),
        "{row}"
    );
}

#[test]
fn help_lists_the_roles() {
    let help = stdout(&crest(&["token", "issue", "-h"]));
    assert!(
        help.contains("[possible values: dispatcher, field, observer, grid-worker]"),
        "{help}"
    );
    let help = stdout(&crest(&["token", "issue", "--help"]));
    for role in ["dispatcher", "field", "observer", "grid-worker"] {
        assert!(help.contains(&format!("- {role}:")), "{help}");
    }
    let out = crest(&["token", "issue", "--role", "admin"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("[possible values: dispatcher, field, observer, grid-worker]"),
        "{}",
        stderr(&out)
    );
}

#[tokio::test]
async fn an_edited_map_feature_is_reported_as_changed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let map = dir.path().join("map");
    std::fs::create_dir(&map).unwrap();
    for f in std::fs::read_dir(map_dir()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), map.join(f.file_name())).unwrap();
    }
    let start = |map: &Path| {
        let mut config = test_config(&db);
        config.map = Some(map.to_path_buf());
        crest::server::Server::build(config)
    };
    let first = start(&map).await.expect("starts");
    let report = first.map_import().clone();
    assert!(report.added > 0 && report.changed.is_empty());
    first.run(async {}).await.unwrap();
    // Edit one shelter's capacity.
    let shelters = map.join("shelters.geojson");
    let text = std::fs::read_to_string(&shelters).unwrap();
    let edited = text.replacen("\"capacity\": 600", "\"capacity\": 650", 1);
    assert_ne!(text, edited, "the fixture has a shelter of 600 places");
    std::fs::write(&shelters, edited).unwrap();
    let second = start(&map).await.expect("starts");
    let again = second.map_import().clone();
    assert_eq!(again.changed, ["map:shelters:S-NZ-01"]);
    assert_eq!(again.added, 0);
    assert_eq!(
        again.unchanged,
        report.added - 1,
        "the others are unchanged"
    );
    second.run(async {}).await.unwrap();
}

#[test]
fn a_grid_workers_token_is_bound_to_a_grid_worker_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let issue = |args: &[&str]| {
        let mut all = vec!["token", "issue", "--db", s(&db)];
        all.extend_from_slice(args);
        crest(&all)
    };
    let out = issue(&["--role", "grid-worker"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--grid-worker"), "{}", stderr(&out));
    let out = issue(&["--role", "grid-worker", "--team", "T-01"]);
    assert!(
        !out.status.success(),
        "a grid worker's token is not a team's"
    );
    let out = issue(&["--role", "field", "--grid-worker", "GW-017"]);
    assert!(
        !out.status.success(),
        "--grid-worker is for grid-worker tokens"
    );
    let out = issue(&[
        "--role",
        "grid-worker",
        "--grid-worker",
        "GW-017",
        "--label",
        "phone",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("crest_"), "{}", stdout(&out));
    let list = stdout(&crest(&["token", "list", "--db", s(&db)]));
    let row = list.lines().nth(1).expect("one token");
    assert!(
        row.contains("grid_worker") && row.contains("GW-017"),
        "{row}"
    );
}

/// `crest sitrep` folds a server's database without a server: the whole log, or up to a time
/// or a seq, as the Chinese or English report or the JSON figures.
#[tokio::test]
async fn crest_sitrep_reports_the_log_up_to_a_moment() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let server = TestServer::start_on(&db, |_| {}).await;
    let mut d = server.client(crest::domain::Role::Dispatcher, None).await;
    d.ok(serde_json::json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.62}))
        .await;
    let ack = d
        .ok(serde_json::json!({"type": "set_response_level", "jurisdiction": "fukou", "level": "III", "reason": "超警戒"}))
        .await;
    let seq_before_breach = ack["seqs"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_u64()
        .unwrap();
    let half_an_hour_later = server.clock.now_ms() + 1_800_000;
    server.clock.advance(3_600_000);
    d.ok(serde_json::json!({"type": "report_hazard", "kind": "breach", "severity": "critical", "position": [113.094, 27.645], "description": "将军村溃口"}))
        .await;
    d.ok(serde_json::json!({"type": "issue_evacuation_order", "name": "将军村", "zone": [[113.095, 27.63], [113.12, 27.63], [113.12, 27.655], [113.095, 27.655], [113.095, 27.63]], "target_shelters": ["S-NZ-01"]}))
        .await;
    // 800 leave the order's one cell: 540 into the shelter, 260 to relatives.
    d.ok(serde_json::json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 540, "from_cell": "NZ-JJ-01"}))
        .await;
    d.ok(
        serde_json::json!({"type": "record_self_evacuation", "cell_id": "NZ-JJ-01", "count": 260}),
    )
    .await;
    server.stop().await;

    let out = crest(&["sitrep", "--db", &db_arg(&db), "--district", "涪口区"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let zh = stdout(&out);
    assert!(zh.starts_with("# 涪口区汛情快报\n\n截至"), "{zh}");
    for part in [
        "Ⅲ级应急响应",
        "溃口",
        "已转移 800 人",
        "| 湘江涪口站（G-XJ-LK） | 湘江 | 40.62 |",
    ] {
        assert!(zh.contains(part), "{part:?} missing:\n{zh}");
    }

    // Half an hour after the reading: the response level, not yet the breach.
    let (y, mo, day, h, mi, sec) = crest::clock::civil(half_an_hour_later, 0);
    let at = format!(
        "{y:04}-{mo:02}-{day:02}T{h:02}:{mi:02}:{sec:02}.{:03}Z",
        half_an_hour_later.rem_euclid(1000)
    );
    let out = crest(&["sitrep", "--db", &db_arg(&db), "--at", &at]);
    assert!(out.status.success(), "{}", stderr(&out));
    let earlier = stdout(&out);
    assert!(
        earlier.contains(&format!("事件日志第 {seq_before_breach} 号")),
        "{earlier}"
    );
    assert!(
        earlier.contains("Ⅲ级应急响应") && earlier.contains("未发现险情"),
        "{earlier}"
    );
    // The same moment by its seq.
    let out = crest(&[
        "sitrep",
        "--db",
        &db_arg(&db),
        "--at",
        &seq_before_breach.to_string(),
    ]);
    assert!(stdout(&out).contains("未发现险情"), "{}", stdout(&out));

    let out = crest(&[
        "sitrep",
        "--db",
        &db_arg(&db),
        "--lang",
        "en",
        "--district",
        "涪口区",
    ]);
    assert!(
        stdout(&out).starts_with("# Flood situation report: 涪口区\n"),
        "{}",
        stdout(&out)
    );
    let out = crest(&["sitrep", "--db", &db_arg(&db), "--json"]);
    let json: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        json["sitrep"]["evacuation"]["total"]["evacuated"], 800,
        "{json}"
    );

    // A time that is not RFC 3339, and a database that is not there (not created).
    let out = crest(&["sitrep", "--db", &db_arg(&db), "--at", "yesterday"]);
    assert!(
        !out.status.success() && stderr(&out).contains("RFC 3339"),
        "{}",
        stderr(&out)
    );
    let missing = dir.path().join("no-such.db");
    let out = crest(&["sitrep", "--db", s(&missing)]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("no database file"),
        "{}",
        stderr(&out)
    );
    assert!(!missing.exists());
}
