//! Server memory per idle connection: the real binary in its own process, N authenticated tablets
//! subscribed to teams and hazards that then sit idle (as most tablets do most of the night).
//!
//! `CREST_IDLE_CONNECTIONS=2000 cargo bench --bench idle` — prints the server's resident memory
//! before and after, and the difference per connection (Linux `/proc`).

use futures_util::{SinkExt, StreamExt};
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let n: usize = std::env::var("CREST_IDLE_CONNECTIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("idle.db");
    let map = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou");
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(&db)
        .arg("--map")
        .arg(&map)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("crest starts");
    let pid = child.id().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut token = String::new();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .unwrap()
            .expect("server prints its address");
        if line.trim().starts_with("crest_") {
            token = line.trim().to_string();
        }
        if let Some(rest) = line.strip_prefix("Crest listening on http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    let url = format!("ws://{addr}/ws?token={token}");
    // Let the map import settle, then measure the baseline.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let before = rss_kib(pid);
    // Small client buffers so the load generator itself stays light.
    let config = WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(&url, Some(config), false)
            .await
            .expect("connect");
        ws.send(Message::Text(r#"{"type":"subscribe","layers":["teams","hazards"],"viewport":[113.08,27.60,113.13,27.66]}"#.into()))
            .await
            .unwrap();
        // hello, then the snapshot
        for _ in 0..2 {
            ws.next().await.unwrap().unwrap();
        }
        clients.push(ws);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let after = rss_kib(pid);
    println!("idle connections: {n}");
    println!(
        "server RSS before: {:.1} MiB, after: {:.1} MiB",
        before as f64 / 1024.0,
        after as f64 / 1024.0
    );
    println!(
        "per connection: {:.1} KiB",
        (after.saturating_sub(before)) as f64 / n as f64
    );
    drop(clients);
    let _ = child.kill().await;
}
