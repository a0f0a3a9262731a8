//! A client that stops reading neither slows the others nor grows the server's memory: it is
//! told to resync from a fresh snapshot once it reads again.

use crate::harness::*;
use crest::domain::Role;
use serde_json::json;

#[tokio::test]
async fn a_stalled_client_is_resynced_and_others_get_every_event() {
    let server = TestServer::start_with(|c| {
        c.hub_capacity = 1024;
        c.limits.write_timeout = std::time::Duration::from_secs(120);
    })
    .await;
    let mut stalled = server.client(Role::Observer, None).await;
    stalled.subscribe(&["hazards"], None).await;
    let mut fast = server.client(Role::Observer, None).await;
    let start = fast.subscribe(&["hazards"], None).await["seq"]
        .as_u64()
        .unwrap();

    // ~12 MB of hazard frames: more than the kernel buffers between the server and the stalled
    // client can hold, so its session blocks and falls more than the ring's 1024 frames behind.
    const REPORTS: u64 = 5000;
    let description = "堤脚出现多处管涌，直径约10厘米，带沙。".repeat(35); // 1,960 bytes, under the 2,000-byte limit
    let fast_reader = tokio::spawn(async move {
        let mut seqs = Vec::new();
        while (seqs.len() as u64) < REPORTS {
            let m = fast.next().await;
            assert_ne!(m["type"], "resync", "the fast client never falls behind");
            if m["type"] == "event" {
                seqs.push(m["seq"].as_u64().unwrap());
            }
        }
        seqs
    });
    let mut d = server.client(Role::Dispatcher, None).await;
    let mut last_seq = 0;
    let mut sent = 0;
    while sent < REPORTS {
        let batch = (REPORTS - sent).min(48);
        for i in 0..batch {
            let cmd = json!({"type": "report_hazard", "kind": "piping", "severity": "general", "position": [113.09 + (i as f64) * 1e-5, 27.64], "description": description});
            d.send(json!({"type": "command", "id": format!("r{}", sent + i), "command": cmd}))
                .await;
        }
        for i in 0..batch {
            let ack = d.reply(&format!("r{}", sent + i)).await;
            assert_eq!(ack["type"], "ack", "{ack}");
            last_seq = last_seq.max(ack["seqs"][0].as_u64().unwrap());
        }
        sent += batch;
    }
    let got = fast_reader.await.unwrap();
    assert_eq!(
        got,
        ((start + 1)..=last_seq).collect::<Vec<_>>(),
        "every event, in order, no gap"
    );

    // The stalled client reads again: it is told to resync and gets a snapshot of the present.
    let resync = stalled.until("resync").await;
    assert_eq!(resync["reason"], "lagged");
    let snap = stalled.until("snapshot").await;
    assert_eq!(snap["reason"], "resync");
    assert!(snap["seq"].as_u64().unwrap() <= last_seq);
    assert!(snap["layers"]["hazards"].as_array().unwrap().len() as u64 >= REPORTS - 1024);
    stalled.assert_alive().await;
    server.stop().await;
}
