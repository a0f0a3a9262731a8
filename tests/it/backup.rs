//! Backups restore the same state: the procedures of `deploy/README.md` ("Backup and restore"),
//! run with the real tools against a running server, then a server started on the restored copy
//! shows the same picture at the same seq and goes on numbering after it.
//!
//! SQLite: `sqlite3 crest.db ".backup copy.db"` while the server runs. PostgreSQL: `pg_dump -Fc`
//! of the server's schema while it runs, `pg_restore` into an empty database. Without the tools
//! (or PostgreSQL) the tests say SKIPPED, except under CI, where they fail.

use crate::harness::*;
use crest::domain::Role;
use serde_json::{Value, json};
use std::process::Command;

const LAYERS: [&str; 8] = [
    "hazards",
    "teams",
    "assignments",
    "shelters",
    "gauges",
    "response",
    "evacuations",
    "alerts",
];

/// A morning's work on the test map.
async fn some_work(server: &TestServer) {
    let mut d = server.client(Role::Dispatcher, None).await;
    let h = d.ok(json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.0945, 27.645], "description": "管涌"})).await;
    let hid = h["created"].as_str().unwrap().to_string();
    d.ok(json!({"type": "confirm_hazard", "hazard_id": hid}))
        .await;
    d.ok(json!({"type": "create_assignment", "team_id": "T-07", "target": {"kind": "hazard", "hazard_id": hid}}))
        .await;
    d.ok(json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 37}))
        .await;
    d.ok(json!({"type": "record_reading", "gauge_id": "G-XJ-LK", "level_m": 40.31}))
        .await;
    d.ok(move_team("T-01", 113.2, 27.7)).await;
}

async fn picture(server: &TestServer) -> (u64, Value) {
    let mut c = server.client(Role::Observer, None).await;
    let snap = c.subscribe(&LAYERS, None).await;
    (snap["seq"].as_u64().unwrap(), snap["layers"].clone())
}

/// The restored server has the picture, and numbers the next event after it.
async fn same_picture_and_goes_on(restored: TestServer, before: (u64, Value)) {
    assert_eq!(picture(&restored).await, before, "the restored state");
    let mut d = restored.client(Role::Dispatcher, None).await;
    let ack = d.ok(move_team("T-02", 113.21, 27.71)).await;
    assert_eq!(ack["seqs"], json!([before.0 + 1]));
    restored.stop().await;
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is needed for the backup tests"
        );
        eprintln!("SKIPPED: no {name}");
    }
    found
}

#[tokio::test]
async fn an_online_sqlite_backup_restores_the_same_state() {
    if on_postgres() || !tool("sqlite3") {
        return; // on PostgreSQL: the test below
    }
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let copy = dir.path().join("backup.db");
    let server = TestServer::start_on(&db, |_| {}).await;
    some_work(&server).await;
    let before = picture(&server).await;
    // While the server runs, as the operator's guide says.
    let out = Command::new("sqlite3")
        .arg(&db)
        .arg(format!(".backup {}", copy.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
    let restored = TestServer::start_on(&copy, |_| {}).await;
    same_picture_and_goes_on(restored, before).await;
}

#[tokio::test]
async fn a_pg_dump_restored_into_an_empty_database_restores_the_same_state() {
    if !tool("pg_dump") || !tool("pg_restore") {
        return;
    }
    let base = pg_base();
    if !sqlx_connects(&base).await {
        assert!(std::env::var_os("CI").is_none(), "no PostgreSQL at {base}");
        eprintln!("SKIPPED: no PostgreSQL at {base}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let schema = schema_for(&format!("backup-{}", dir.path().display()));
    let url = pg_url(&schema);
    let server =
        TestServer::start_with_location(crest::store::Location::Postgres(url), dir.path()).await;
    some_work(&server).await;
    let before = picture(&server).await;
    let dump = dir.path().join("crest.dump");
    run(Command::new("pg_dump")
        .args(["-Fc", "-n", &schema, "-f"])
        .arg(&dump)
        .arg(&base));
    server.stop().await;
    // An empty database, as in the guide, named after the schema so runs never collide.
    let restored_db = format!("{schema}_restored");
    let admin = base.rsplit_once('/').map(|(a, _)| a).unwrap().to_string();
    run(Command::new("psql").args([
        &format!("{admin}/postgres"),
        "-qc",
        &format!("DROP DATABASE IF EXISTS {restored_db}"),
    ]));
    run(Command::new("psql").args([
        &format!("{admin}/postgres"),
        "-qc",
        &format!("CREATE DATABASE {restored_db}"),
    ]));
    run(Command::new("pg_restore")
        .args(["--no-owner", "-d", &format!("{admin}/{restored_db}")])
        .arg(&dump));
    let restored_url = format!("{admin}/{restored_db}?options=-csearch_path%3D{schema}");
    let restored = TestServer::start_with_location(
        crest::store::Location::Postgres(restored_url),
        &dir.path().join("restored"),
    )
    .await;
    same_picture_and_goes_on(restored, before).await;
    run(Command::new("psql").args([
        &format!("{admin}/postgres"),
        "-qc",
        &format!("DROP DATABASE IF EXISTS {restored_db} WITH (FORCE)"),
    ]));
}

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("the tool runs");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

async fn sqlx_connects(url: &str) -> bool {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.is_ok()
}
