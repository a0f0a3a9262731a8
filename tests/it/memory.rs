//! Memory must not grow with the number of commands handled: the real binary in its own
//! process, its resident set read from /proc, before and after 200,000 position updates, and
//! again after a restart on the same log.

use crate::harness::*;
use serde_json::json;

/// Resident set size of a process, bytes (Linux).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Sends `n` position updates over `connections` connections with 32 in flight each; every one
/// must be acknowledged.
async fn send_positions(url: &str, token: &str, run: &str, n: usize, connections: usize) {
    let per = n / connections;
    let tasks: Vec<_> = (0..connections)
        .map(|w| {
            let (url, token, run) = (url.to_string(), token.to_string(), run.to_string());
            tokio::spawn(async move {
                let mut c = Client::connect(&url).await;
                c.auth(&token).await;
                let team = ["T-01", "T-02", "T-07", "T-11"][w % 4];
                let (mut sent, mut acked) = (0, 0);
                while acked < per {
                    while sent < per && sent - acked < 32 {
                        let lon = 113.1 + (sent % 1000) as f64 * 1e-5;
                        c.send(json!({"type": "command", "id": format!("{run}-{w}-{sent}"),
                            "command": move_team(team, lon, 27.65)}))
                            .await;
                        sent += 1;
                    }
                    let m = c
                        .find(|m| matches!(m["type"].as_str(), Some("ack" | "error")))
                        .await;
                    assert_eq!(m["type"], "ack", "{m}");
                    acked += 1;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn memory_does_not_grow_with_commands_nor_with_the_log_after_a_restart() {
    let Some(_) = rss_bytes(std::process::id()) else {
        eprintln!("SKIPPED: /proc/<pid>/status is not readable here");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crest.db");
    let (mut child, addr) = spawn_binary(&db).await;
    let pid = child.id().unwrap();
    let url = format!("ws://{addr}/ws");
    let token = cli_token(&db, "dispatcher");

    // Warm up: caches, pools and allocator arenas reach their working size.
    send_positions(&url, &token, "warm", 40_000, 4).await;
    let before = rss_bytes(pid).unwrap();
    const N: u64 = 200_000;
    send_positions(&url, &token, "load", N as usize, 4).await;
    let after = rss_bytes(pid).unwrap();
    let per_command = after.saturating_sub(before) as f64 / N as f64;
    eprintln!(
        "resident memory: {before} B after warm-up, {after} B after {N} more commands: {per_command:.1} B per command"
    );
    assert!(
        per_command < 100.0,
        "resident memory grew by {per_command:.1} bytes per command ({before} -> {after})"
    );

    // Restart on the 240,000-event log: memory close to what the running server held.
    let stop = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(stop.success());
    child.wait().await.unwrap();
    let (mut child, addr) = spawn_binary(&db).await;
    let pid = child.id().unwrap();
    // One command through the restarted server, so it is fully up.
    send_positions(&format!("ws://{addr}/ws"), &token, "after", 4, 4).await;
    let restarted = rss_bytes(pid).unwrap();
    eprintln!("resident memory after a restart on the same log: {restarted} B");
    assert!(
        restarted < after + 16 * 1024 * 1024,
        "a restart on a {N}-command log holds {restarted} B, the running server held {after} B"
    );
    child.kill().await.unwrap();
}
