//! A plain tokio-tungstenite pub/sub relay: the fan-out ceiling of a Rust WebSocket server that
//! keeps no state and filters nothing beyond topics (the peer of `benches/peers/uws/relay.js`).
//!
//! `cargo bench --bench relay -- PORT` — listens on `127.0.0.1:PORT`, prints `listening PORT` on
//! stdout when ready and runs until killed. With no port (or with `--list`) it returns at once, so
//! `cargo test --benches` does not hang. Pin it like the measured server: the scripts in
//! `benches/peers/` and the load generator start it under `taskset -c 0`.
//!
//! Protocol (JSON text frames at `ws://127.0.0.1:PORT/`):
//! - `{"sub":["all"]}` subscribes this connection to those topics (adds; may repeat);
//! - `{"pub":["c:12:7"],"msg":"<string>"}` sends `<string>` verbatim, as one text frame, to every
//!   connection subscribed to any listed topic;
//! - the relay sends nothing else (no acks).
//!
//! Choices, so the comparison with Crest is fair: a `current_thread` runtime (the server is pinned
//! to one core; a multi-thread runtime would only add cross-thread wake-ups), `TCP_NODELAY`, one
//! shared buffer per published message (`Utf8Bytes` is a reference-counted `Bytes`: a delivery
//! clones a pointer, never the text), frames queued while a socket was busy written together (one
//! flush per drained queue), and a bounded queue per connection (1,024 frames): a
//! subscriber that does not keep up loses frames (counted, printed on stderr every 10 s when
//! non-zero) instead of growing memory — the same policy as uWebSockets.js' `maxBackpressure`
//! with `closeOnBackpressureLimit: false`.

use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames queued per connection before frames for it are dropped.
const QUEUE: usize = 1024;

type Subscriber = (u64, mpsc::Sender<Utf8Bytes>);

#[derive(Default)]
struct Relay {
    topics: Mutex<HashMap<String, Vec<Subscriber>>>,
    dropped: AtomicU64,
}

#[derive(Deserialize)]
struct Frame {
    #[serde(default)]
    sub: Vec<String>,
    #[serde(default, rename = "pub")]
    publish: Vec<String>,
    msg: Option<String>,
}

fn port_from_args() -> Option<u16> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return None;
    }
    // `cargo bench` appends `--bench`; the port is the first argument that is a number.
    args.iter().find_map(|a| a.parse().ok())
}

fn main() {
    let Some(port) = port_from_args() else {
        if !std::env::args().any(|a| a == "--list") {
            eprintln!("usage: cargo bench --bench relay -- PORT");
        }
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(serve(port));
}

async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    let relay = Arc::new(Relay::default());
    println!("listening {port}");
    let watcher = relay.clone();
    tokio::spawn(async move {
        let mut reported = 0;
        loop {
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            let dropped = watcher.dropped.load(Ordering::Relaxed);
            if dropped != reported {
                eprintln!("relay: {dropped} frames dropped (full queues) so far");
                reported = dropped;
            }
        }
    });
    let mut next_id = 0u64;
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        next_id += 1;
        tokio::spawn(connection(relay.clone(), next_id, stream));
    }
}

async fn connection(relay: Arc<Relay>, id: u64, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    // Writer: batch whatever is queued into one flush.
    let writer = tokio::spawn(async move {
        while let Some(text) = rx.recv().await {
            if sink.feed(Message::Text(text)).await.is_err() {
                return;
            }
            while let Ok(text) = rx.try_recv() {
                if sink.feed(Message::Text(text)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let mut mine: Vec<String> = Vec::new();
    while let Some(Ok(message)) = source.next().await {
        let text = match message {
            Message::Text(text) => text,
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Frame>(&text) else {
            continue;
        };
        if !frame.sub.is_empty() {
            let mut topics = relay.topics.lock().unwrap();
            for topic in frame.sub {
                if mine.contains(&topic) {
                    continue;
                }
                topics
                    .entry(topic.clone())
                    .or_default()
                    .push((id, tx.clone()));
                mine.push(topic);
            }
        }
        if let Some(msg) = frame.msg {
            let shared = Utf8Bytes::from(msg);
            let topics = relay.topics.lock().unwrap();
            for topic in &frame.publish {
                for (_, subscriber) in topics.get(topic.as_str()).into_iter().flatten() {
                    if let Err(mpsc::error::TrySendError::Full(_)) =
                        subscriber.try_send(shared.clone())
                    {
                        relay.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    {
        let mut topics = relay.topics.lock().unwrap();
        for topic in &mine {
            if let Some(subscribers) = topics.get_mut(topic.as_str()) {
                subscribers.retain(|(sid, _)| *sid != id);
                if subscribers.is_empty() {
                    topics.remove(topic.as_str());
                }
            }
        }
    }
    drop(tx);
    writer.abort();
}
