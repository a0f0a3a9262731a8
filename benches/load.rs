//! End-to-end load: field tablets send positions over real WebSockets while dashboards watch.
//!
//! `cargo bench --bench load` — starts a server in this process on a fresh SQLite file with the
//! placeholder map, then runs two phases, each bounded in time:
//! 1. paced: every tablet sends `CREST_LOAD_RATE` positions/s; reports ack latency (send → ack)
//!    and delivery latency (send → dashboard receives the event) percentiles;
//! 2. flat out: every tablet keeps 32 commands in flight; reports commands/s and deliveries/s.
//!
//! Knobs (environment): CREST_LOAD_TABLETS (default 100), CREST_LOAD_DASHBOARDS (20),
//! CREST_LOAD_RATE (2 per tablet per second), CREST_LOAD_SECONDS (10 per phase).

use crest::domain::Role;
use crest::server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

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

    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::new(dir.path().join("load.db"));
    config.map =
        Some(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-map"));
    config.limits.messages_per_second = 10_000.0;
    config.limits.burst = 10_000.0;
    let server = Server::build(config).await.unwrap();
    let url = format!("ws://{}/ws", server.local_addr());
    let store = server.store();
    let engine = server.engine();
    tokio::spawn(server.run(std::future::pending()));

    // Register the tablets' teams.
    let dispatcher = crest::domain::Actor::system();
    for i in 0..tablets {
        let cmd: crest::domain::Command = serde_json::from_value(json!({
            "type": "register_team", "id": format!("L-{i}"), "name": format!("load {i}"), "kind": "militia",
            "headcount": 10, "travel_mode": "foot", "position": [113.1, 27.6]
        }))
        .unwrap();
        engine
            .submit(dispatcher.clone(), format!("load-reg-{i}"), cmd)
            .await
            .unwrap();
    }
    let observer_token = crest::auth::issue(store.as_ref(), Role::Observer, None, "load-dash")
        .await
        .unwrap()
        .secret;

    let delivered = Arc::new(AtomicU64::new(0));
    let delivery_lat: Arc<std::sync::Mutex<Vec<u64>>> = Arc::default();
    let measuring = Arc::new(std::sync::atomic::AtomicBool::new(false));
    for _ in 0..dashboards {
        let mut ws = connect(&url, &observer_token).await;
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
            let (url, sent, acked, ack_lat) =
                (url.clone(), sent.clone(), acked.clone(), ack_lat.clone());
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
    let metrics = reqwest_free_metrics(&url).await;
    for line in metrics.lines().filter(|l| {
        l.starts_with("crest_commit_batches_total")
            || l.starts_with("crest_events_committed_total")
            || l.starts_with("crest_frames_coalesced_total")
            || l.starts_with("crest_client_resyncs_total")
    }) {
        println!("  {line}");
    }
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
