//! End-to-end load: field tablets send positions over real WebSockets while dashboards watch.
//!
//! `cargo bench --bench load` — starts a server in this process on a fresh SQLite file with the
//! placeholder map, then runs two phases, each bounded in time:
//! 1. paced: every tablet sends `CREST_LOAD_RATE` positions/s; reports ack latency (send → ack)
//!    and delivery latency (send → dashboard receives the event) percentiles;
//! 2. flat out: every tablet keeps 32 commands in flight; reports commands/s and deliveries/s.
//!
//! Knobs (environment): CREST_LOAD_TABLETS (default 100), CREST_LOAD_DASHBOARDS (20),
//! CREST_LOAD_RATE (2 per tablet per second), CREST_LOAD_SECONDS (10 per phase), and:
//! - CREST_LOAD_DB: the log, as `crest serve --db` takes it — a SQLite path or a `postgres://`
//!   URL (default: a fresh SQLite file in a temporary directory). A PostgreSQL URL that names no
//!   `search_path` gets a schema of the bench's own, `crest_bench_<pid>`, dropped at the end; one
//!   that names it is used as given (it must be empty: the bench registers its teams) and kept.
//! - CREST_LOAD_NODES=N: instead of a server in this process, N real `crest serve` processes
//!   (this build's binary) on one PostgreSQL — CREST_LOAD_DB, by default the local
//!   `postgres://postgres@127.0.0.1:5432/test` in a schema of the bench's own. Tablets and
//!   dashboards are spread round-robin over the nodes, so most deliveries cross nodes (commit on
//!   one, NOTIFY, catch-up read on the others). The nodes are killed at the end.
//!
//! On one machine every node, PostgreSQL and this load generator share the same cores: more
//! nodes there measure the cost of coordination, not added capacity.

use crest::domain::Role;
use crest::server::{Config, Server};
use crest::store::{Location, Store};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn micros_since_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(url: &str, token: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{url}?token={token}"))
        .await
        .expect("connect");
    let _hello = ws.next().await;
    ws
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo bench -- --list` / `cargo test --benches` probe
    }
    let tablets = env("CREST_LOAD_TABLETS", 100) as usize;
    let dashboards = env("CREST_LOAD_DASHBOARDS", 20) as usize;
    let rate = env("CREST_LOAD_RATE", 2);
    let seconds = env("CREST_LOAD_SECONDS", 10);

    let target = Target::start().await;
    let store = target.store.clone();
    println!(
        "target: {} — {tablets} tablets, {dashboards} dashboards",
        target.label
    );

    // The tablets' teams, registered by a dispatcher over WebSocket on the first server.
    let dispatcher = crest::auth::issue(store.as_ref(), Role::Dispatcher, None, "load-dispatch")
        .await
        .unwrap()
        .secret;
    let mut ws = connect(&target.urls[0], &dispatcher).await;
    for i in 0..tablets {
        let cmd = json!({"type": "command", "id": format!("load-reg-{i}"), "command": {
            "type": "register_team", "id": format!("L-{i}"), "name": format!("load {i}"), "kind": "militia",
            "headcount": 10, "travel_mode": "foot", "position": [113.1, 27.6]
        }});
        ws.send(Message::Text(cmd.to_string().into()))
            .await
            .unwrap();
    }
    let mut registered = 0;
    while registered < tablets {
        let Some(Ok(Message::Text(t))) = ws.next().await else {
            panic!("the dispatcher's connection closed")
        };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if v["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("load-reg-"))
        {
            assert_eq!(v["type"], "ack", "{v}");
            registered += 1;
        }
    }
    drop(ws);
    let observer_token = crest::auth::issue(store.as_ref(), Role::Observer, None, "load-dash")
        .await
        .unwrap()
        .secret;

    let delivered = Arc::new(AtomicU64::new(0));
    let delivery_lat: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for d in 0..dashboards {
        let mut ws = connect(target.url(d), &observer_token).await;
        ws.send(Message::Text(
            json!({"type": "subscribe", "layers": ["teams"]})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
        let (delivered, lat, measuring) =
            (delivered.clone(), delivery_lat.clone(), measuring.clone());
        tokio::spawn(async move {
            let mut local = Vec::new();
            while let Some(Ok(m)) = ws.next().await {
                let Message::Text(t) = m else { continue };
                if !t.as_str().contains("\"team_moved\"") {
                    continue;
                }
                delivered.fetch_add(1, Relaxed);
                if measuring.load(Relaxed) {
                    // The tablet sends its clock (ms) as the fix time: receive time minus fix time.
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if let Some(sent_ms) = v["event"]["fix"]["time_ms"].as_u64() {
                        local.push((micros_since_epoch() / 1000).saturating_sub(sent_ms) * 1000);
                    }
                    if local.len() >= 1000 {
                        lat.lock().unwrap().append(&mut local);
                    }
                }
            }
            lat.lock().unwrap().append(&mut local);
        });
    }

    for (phase, paced) in [("paced", true), ("flat out", false)] {
        let sent = Arc::new(AtomicU64::new(0));
        let acked = Arc::new(AtomicU64::new(0));
        let ack_lat: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
        delivered.store(0, Relaxed);
        delivery_lat.lock().unwrap().clear();
        measuring.store(paced, Relaxed);
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut handles = Vec::new();
        for i in 0..tablets {
            let token =
                crest::auth::issue(store.as_ref(), Role::Field, Some(&format!("L-{i}")), "load")
                    .await
                    .unwrap()
                    .secret;
            let (url, sent, acked, ack_lat) = (
                target.url(i).to_string(),
                sent.clone(),
                acked.clone(),
                ack_lat.clone(),
            );
            handles.push(tokio::spawn(async move {
                let mut ws = connect(&url, &token).await;
                let mut n = 0u64;
                let mut in_flight = std::collections::HashMap::new();
                let mut local = Vec::new();
                let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
                let window = if paced { 1 } else { 32 };
                loop {
                    let done = Instant::now() >= deadline;
                    if done && in_flight.is_empty() {
                        break;
                    }
                    if !done && in_flight.len() < window {
                        if paced {
                            tick.tick().await;
                        }
                        n += 1;
                        let id = format!("{phase}-{i}-{n}");
                        let t = micros_since_epoch();
                        let cmd = json!({"type": "command", "id": id, "command": {"type": "update_position", "team_id": format!("L-{i}"),
                            "position": [113.0 + (n % 1000) as f64 * 1e-4, 27.5 + i as f64 * 1e-4], "time_ms": t / 1000}});
                        ws.send(Message::Text(cmd.to_string().into())).await.unwrap();
                        in_flight.insert(id, Instant::now());
                        sent.fetch_add(1, Relaxed);
                        if !paced && in_flight.len() < window {
                            continue;
                        }
                    }
                    let Some(Ok(Message::Text(t))) = ws.next().await else { break };
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if let Some(id) = v["id"].as_str()
                        && let Some(start) = in_flight.remove(id)
                    {
                        assert_eq!(v["type"], "ack", "{v}");
                        acked.fetch_add(1, Relaxed);
                        local.push(start.elapsed().as_micros() as u64);
                    }
                }
                ack_lat.lock().unwrap().append(&mut local);
            }));
        }
        let started = Instant::now();
        for h in handles {
            h.await.unwrap();
        }
        let elapsed = started.elapsed().as_secs_f64();
        let mut acks = std::mem::take(&mut *ack_lat.lock().unwrap());
        acks.sort_unstable();
        let mut del = std::mem::take(&mut *delivery_lat.lock().unwrap());
        del.sort_unstable();
        println!("phase: {phase} — {tablets} tablets, {dashboards} dashboards, {elapsed:.1} s");
        println!(
            "  commands acked: {} ({:.0}/s)",
            acked.load(Relaxed),
            acked.load(Relaxed) as f64 / elapsed
        );
        println!(
            "  ack latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
            percentile(&acks, 0.5),
            percentile(&acks, 0.9),
            percentile(&acks, 0.99),
            percentile(&acks, 1.0)
        );
        println!(
            "  deliveries to dashboards: {} ({:.0}/s)",
            delivered.load(Relaxed),
            delivered.load(Relaxed) as f64 / elapsed
        );
        if paced {
            println!(
                "  delivery latency ms (1 ms resolution): p50 {:.0}  p99 {:.0}  max {:.0}",
                percentile(&del, 0.5),
                percentile(&del, 0.99),
                percentile(&del, 1.0)
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await; // let dashboards drain before the next phase
    }
    for (k, url) in target.urls.iter().enumerate() {
        let metrics = reqwest_free_metrics(url).await;
        for line in metrics.lines().filter(|l| {
            l.starts_with("crest_commit_batches_total")
                || l.starts_with("crest_events_committed_total")
                || l.starts_with("crest_frames_coalesced_total")
                || l.starts_with("crest_client_resyncs_total")
        }) {
            if target.urls.len() > 1 {
                println!("  node {k}: {line}");
            } else {
                println!("  {line}");
            }
        }
    }
    drop(store);
    target.stop().await;
}

/// GET /metrics over a raw socket.
async fn reqwest_free_metrics(ws_url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = ws_url.trim_start_matches("ws://").trim_end_matches("/ws");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = String::new();
    s.read_to_string(&mut buf).await.unwrap();
    buf
}

/// Where the load goes: one server in this process, or N `crest serve` processes on one
/// PostgreSQL.
struct Target {
    label: String,
    /// One WebSocket URL per server.
    urls: Vec<String>,
    /// The log, for issuing tokens.
    store: Arc<dyn Store>,
    nodes: Vec<tokio::process::Child>,
    /// (URL, schema) of a PostgreSQL schema of the bench's own, dropped at the end.
    own_schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Target {
    async fn start() -> Target {
        let dir = tempfile::tempdir().unwrap();
        let nodes = env("CREST_LOAD_NODES", 0) as usize;
        let db = match std::env::var("CREST_LOAD_DB") {
            Ok(s) => Location::parse(&s),
            Err(_) if nodes > 0 => Location::Postgres(LOCAL_POSTGRES.to_string()),
            Err(_) => Location::Sqlite(dir.path().join("load.db")),
        };
        let (db, own_schema) = match db {
            Location::Postgres(url) if !url.contains("search_path") => {
                let schema = format!("crest_bench_{}", std::process::id());
                let sep = if url.contains('?') { '&' } else { '?' };
                let with = format!("{url}{sep}options=-csearch_path%3D{schema}");
                (Location::Postgres(with), Some((url, schema)))
            }
            other => (other, None),
        };
        let map = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-map");
        if nodes == 0 {
            let label = match &db {
                Location::Sqlite(_) => "SQLite, 1 node in this process",
                Location::Postgres(_) => "PostgreSQL, 1 node in this process",
            };
            let mut config = Config::new(db);
            config.map = Some(map);
            config.drill_logs = Some(dir.path().join("drills"));
            config.limits.messages_per_second = 10_000.0;
            config.limits.burst = 10_000.0;
            let server = Server::build(config).await.unwrap();
            let url = format!("ws://{}/ws", server.local_addr());
            let store = server.store();
            tokio::spawn(server.run(std::future::pending()));
            return Target {
                label: label.to_string(),
                urls: vec![url],
                store,
                nodes: Vec::new(),
                own_schema,
                _dir: dir,
            };
        }
        let Location::Postgres(url) = &db else {
            panic!("CREST_LOAD_NODES needs a postgres:// CREST_LOAD_DB");
        };
        // Open once first: the migrations run before the nodes start.
        let store = db
            .open()
            .await
            .expect("the bench's PostgreSQL schema opens");
        let mut children = Vec::new();
        let mut urls = Vec::new();
        for k in 0..nodes {
            let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crest"))
                .args(["serve", "--listen", "127.0.0.1:0", "--db", url])
                .args(["--rate-limit", "100000", "--rate-burst", "100000"])
                .arg("--map")
                .arg(&map)
                .arg("--drill-logs")
                .arg(dir.path().join(format!("drills-{k}")))
                .env("RUST_LOG", "error")
                .stdout(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .expect("the crest binary starts");
            let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
            let addr = loop {
                let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
                    .await
                    .expect("a node starts within a minute")
                    .unwrap()
                    .expect("the node prints its address");
                if let Some(rest) = line.strip_prefix("Crest listening on http://") {
                    break rest.split_whitespace().next().unwrap().to_string();
                }
            };
            // Keep reading stdout so the node never blocks on a full pipe.
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            urls.push(format!("ws://{addr}/ws"));
            children.push(child);
        }
        Target {
            label: format!("PostgreSQL, {nodes} node(s) as crest serve processes"),
            urls,
            store,
            nodes: children,
            own_schema,
            _dir: dir,
        }
    }

    /// The server of the `i`th client: round-robin.
    fn url(&self, i: usize) -> &str {
        &self.urls[i % self.urls.len()]
    }

    /// Kills the nodes and drops the bench's own schema.
    async fn stop(self) {
        for mut child in self.nodes {
            let _ = child.start_kill();
            let _ = child.wait().await;
        }
        drop(self.store);
        if let Some((url, schema)) = self.own_schema {
            use sqlx::Connection;
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
            println!("dropped schema {schema}");
        }
    }
}
