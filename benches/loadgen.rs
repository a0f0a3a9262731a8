//! The load generator of the performance suite (issue 13): real WebSocket clients against a server
//! that runs as a separate process, the server's CPU and memory read from `/proc`.
//!
//! ```text
//! cargo bench --bench loadgen -- [SCENARIO ...] [OPTIONS]
//! ```
//!
//! By default it spawns this build's `crest serve` (`CARGO_BIN_EXE_crest`: the release binary
//! next to the bench under `cargo bench`) on a fresh SQLite file in a temporary directory, on a
//! random port, pinned to CPU 0 with `taskset -c 0`, and pins itself (every thread) to CPU 1.
//! Every scenario gets a server of its own, started afresh. Then for each scenario: setup
//! (registering teams, connecting clients), a warm-up that is not counted, and a measured window.
//!
//! Scenarios (`all`, the default, runs them in this order):
//! - `ingest32`: `--clients` (50) connections with the dispatcher's token each keep 32
//!   `update_position` commands in flight, over `--teams` (1,000) teams; acknowledged commands/s,
//!   ack latency (send → ack), server CPU µs per command.
//! - `ingest1`: the same with one command in flight per connection.
//! - `nearest`: `--teams` (10,000 here) teams registered with positions and capabilities; the
//!   clients ask `nearest_teams` with a `capability` (limit 5) one at a time; answers/s, latency
//!   (send → answer), server CPU µs per query.
//! - `district`: `--dashboards` (1,000) observer connections subscribed to `teams` with no
//!   viewport while 10 dispatcher connections send `--rate` (100) position updates/s in total
//!   over 100 teams; deliveries/s, latency (send → the dashboard reads it), server CPU seconds per
//!   million deliveries, messages lost, frames coalesced (`crest_frames_coalesced_total`).
//! - `viewport`: `--tablets` (1,000) observer connections, each with a viewport of 1/20 of the
//!   area the teams move in (a random box 0.06° × 0.10° inside 113.00–113.30 E, 27.30–27.70 N)
//!   while `--rate` (1,000) updates/s move 1,000 teams by a random walk over the whole area, so
//!   some enter and leave views; `event`, `enter` and `leave` messages all count as deliveries.
//! - `mixed`: `district` with the work of a flood night mixed in: `--dashboards` (300) dashboards
//!   subscribed to `teams`, `hazards` and `assignments`, `--rate` (200) commands/s in total, of
//!   which one in 20 starts a chain instead of a position update — `report_hazard` at the team's
//!   position, then (each on the previous one's ack) `create_assignment` of that team to the
//!   hazard, `cancel_assignment`, `mark_false_alarm` — so every dashboard receives hazard,
//!   assignment and team-status events beside the positions. Latency and loss count the
//!   `team_moved` deliveries; CPU per delivery counts every message; chains finished and
//!   refused commands are reported (a refusal is counted, not fatal: a chain's command may meet
//!   a state another chain changed).
//! - `zones`: ingest32, then `--zones` (10,000) observer tablets connect, each subscribed to
//!   `teams` with a viewport of one tile of a 100 × 100 grid over the area (the viewports of
//!   subscribed connections are the server's zones; no polygon zones are created), then ingest32
//!   again on the same server; both rates and their ratio.
//! - `idle`: `--idle` (2,000) observer connections subscribed to `teams` and `hazards` (a
//!   viewport in the district, as `benches/idle.rs`), then idle: the server's VmRSS before and
//!   after, divided by the number of connections.
//!
//! Latency without clock tricks: senders and receivers are in this one process. Every update of
//! team `LG-j` carries a slot number `k mod 256` as its `accuracy_m` (an integer number of metres,
//! echoed by the server in the fix of `team_moved` events and of `enter` entities); the sender
//! writes its send time (µs on this process's monotonic clock) into the table `sent[j][slot]`
//! and the receiver reads it back (`leave` messages carry no fix: they take the team's latest
//! send). Acks and answers are matched by command or query id to a per-connection table.
//! Only operations sent (ingest, queries: acknowledged) inside the measured window are counted.
//!
//! Loss: after the window the generator waits 2 s for deliveries to drain, then compares, for each
//! receiver that kept up (no `resync` received), the deliveries it should have had — in `district`
//! every acknowledged update sent in the window; in `viewport` those whose old or new position lies
//! in its viewport (for a relay: whose cell it subscribed to) — with those it received.
//!
//! Options:
//! - `--seconds N` (10): the measured window of each scenario; `--warmup N` (2) before it.
//! - `--crest-bin PATH`: the `crest` binary to drive (default: this build's), e.g. an older build
//!   such as `/tmp/crest-before` for before/after with the same generator.
//! - `--db URL`: `postgres://…` runs the server(s) on PostgreSQL, each scenario in a schema of its
//!   own (`crest_loadgen_<pid>_<n>`, dropped at the end). Default: a fresh SQLite file.
//! - `--nodes N` (1): N `crest serve` processes on the `--db` PostgreSQL (default
//!   `postgres://postgres@127.0.0.1:5432/test`), all pinned to CPU 0; clients are spread
//!   round-robin. The CPU and memory figures are the sum over the nodes.
//! - `--map DIR` (`maps/fukou`; `none` for no map): the map the server loads.
//! - `--target relay --relay-url ws://127.0.0.1:PORT/ --relay-pid PID`: drive a plain pub/sub
//!   relay started by the caller (scenarios `district`, `viewport`, `idle`): `{"sub":[topics]}`,
//!   `{"pub":[topics],"msg":"…"}`; `district` uses the topic `all`, `viewport` one topic per cell
//!   of a 20 × 20 grid over the area (`c:<col>:<row>`), a tablet subscribing to every cell its
//!   viewport touches. The relay's CPU and memory are read from `/proc/PID`.
//! - `--clients`, `--teams`, `--dashboards`, `--tablets`, `--rate`, `--zones`, `--idle`: sizes.
//! - `--json PATH`: append one JSON object per scenario (one line each) with every figure, the
//!   binary, store, node count, date, `nproc` and CPU model.
//! - `--label TEXT`: a name for this run in the JSON (e.g. `before`, `after`).
//! - `--smoke` (or `CREST_LOADGEN_SMOKE=1`): every Crest scenario at tiny sizes (10 clients,
//!   1 s, no warm-up, 200 teams, 50 idle connections, no pinning). The exit status is non-zero
//!   only when the generator fails (a protocol error, a server that died), never on a figure.
//! - `--no-pin`: no `taskset`.
//!
//! Under `cargo test --benches` (no `--bench` argument) and with `--list` it returns at once;
//! `cargo test --bench loadgen -- --smoke` runs the smoke in the test profile against
//! `target/debug/crest`.

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

type R<T> = Result<T, String>;
type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
/// The area the teams move in: [west, south, east, north].
const AREA: [f64; 4] = [113.00, 27.30, 113.30, 27.70];
/// Slots of the send-time table per team.
const SLOTS: usize = 256;
const ALL: [&str; 8] = [
    "ingest32", "ingest1", "nearest", "district", "viewport", "mixed", "zones", "idle",
];
const CAPABILITIES: [&str; 8] = [
    "boat",
    "pump",
    "engineering",
    "medical",
    "lighting",
    "communications",
    "diving",
    "heavy_machinery",
];

#[derive(clap::Parser, Debug, Clone)]
#[command(
    name = "loadgen",
    about = "Crest's load generator (see benches/loadgen.rs)"
)]
struct Args {
    /// Scenarios: ingest32 ingest1 nearest district viewport zones idle, or all.
    scenarios: Vec<String>,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 2)]
    warmup: u64,
    #[arg(long)]
    crest_bin: Option<PathBuf>,
    #[arg(long)]
    db: Option<String>,
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    #[arg(long)]
    map: Option<String>,
    #[arg(long, default_value = "crest")]
    target: String,
    #[arg(long)]
    relay_url: Option<String>,
    #[arg(long)]
    relay_pid: Option<u32>,
    #[arg(long)]
    json: Option<PathBuf>,
    #[arg(long)]
    label: Option<String>,
    #[arg(long)]
    smoke: bool,
    #[arg(long)]
    no_pin: bool,
    #[arg(long)]
    clients: Option<usize>,
    #[arg(long)]
    teams: Option<usize>,
    #[arg(long)]
    dashboards: Option<usize>,
    #[arg(long)]
    tablets: Option<usize>,
    #[arg(long)]
    rate: Option<u64>,
    #[arg(long)]
    zones: Option<usize>,
    #[arg(long)]
    idle: Option<usize>,
    /// Passed by `cargo bench`.
    #[arg(long, hide = true)]
    bench: bool,
    /// Passed by `cargo bench -- --list`.
    #[arg(long, hide = true)]
    list: bool,
}

impl Args {
    fn pick(&self, given: Option<usize>, normal: usize, smoke: usize) -> usize {
        given.unwrap_or(if self.smoke { smoke } else { normal })
    }
    fn relay(&self) -> bool {
        self.target == "relay"
    }
}

// ---------------------------------------------------------------------------------------------
// Clock, randomness, /proc

fn now_us() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_micros() as u64
}

/// xorshift64*: enough for positions and capabilities.
struct Rng(u64);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn point(&mut self) -> [f64; 2] {
        [
            AREA[0] + self.unit() * (AREA[2] - AREA[0]),
            AREA[1] + self.unit() * (AREA[3] - AREA[1]),
        ]
    }
}

fn clk_tck() -> f64 {
    static TCK: OnceLock<f64> = OnceLock::new();
    *TCK.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// utime + stime of a process, seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0.0;
    };
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    ticks as f64 / clk_tck()
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim_start_matches(':').split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn machine() -> Value {
    // The machine's processors, not this process's affinity (it is pinned to one).
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let nproc = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|v| v.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    json!({"nproc": nproc, "cpu_model": model})
}

fn utc_now() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The target: Crest processes or a relay

/// The server processes whose CPU and memory are measured.
#[derive(Clone)]
struct Measured {
    pids: Vec<u32>,
}
impl Measured {
    fn cpu(&self) -> f64 {
        self.pids.iter().map(|p| cpu_seconds(*p)).sum()
    }
    fn rss_kib(&self) -> u64 {
        self.pids.iter().map(|p| status_kib(*p, "VmRSS")).sum()
    }
    fn hwm_kib(&self) -> u64 {
        self.pids.iter().map(|p| status_kib(*p, "VmHWM")).sum()
    }
}

struct Crest {
    children: Vec<tokio::process::Child>,
    pids: Vec<u32>,
    /// Host:port of each node.
    addrs: Vec<String>,
    dispatcher: String,
    observer: String,
    store: String,
    own_schema: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn crest_bin(args: &Args) -> PathBuf {
    args.crest_bin
        .clone()
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_crest")))
}

impl Crest {
    async fn start(args: &Args, n: usize) -> R<Crest> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let bin = crest_bin(args);
        let nodes = args.nodes.max(1);
        let pg = match &args.db {
            Some(url) if url.starts_with("postgres") => Some(url.clone()),
            Some(other) => return Err(format!("--db takes a postgres:// URL, not {other}")),
            None if nodes > 1 => Some(LOCAL_POSTGRES.to_string()),
            None => None,
        };
        let (db, own_schema, store) = match pg {
            Some(url) => {
                let schema = format!("crest_loadgen_{}_{n}", std::process::id());
                use sqlx::Connection;
                let mut conn = sqlx::PgConnection::connect(&url)
                    .await
                    .map_err(|e| format!("PostgreSQL {url}: {e}"))?;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
                    .execute(&mut conn)
                    .await
                    .map_err(|e| e.to_string())?;
                let sep = if url.contains('?') { '&' } else { '?' };
                let with = format!("{url}{sep}options=-csearch_path%3D{schema}");
                (with, Some((url, schema)), "postgres".to_string())
            }
            None => (
                dir.path().join("crest.db").display().to_string(),
                None,
                "sqlite".to_string(),
            ),
        };
        let map = match args.map.as_deref() {
            Some("none") => None,
            Some(m) => Some(PathBuf::from(m)),
            None => Some(manifest_dir().join("maps/fukou")),
        };
        let mut crest = Crest {
            children: Vec::new(),
            pids: Vec::new(),
            addrs: Vec::new(),
            dispatcher: String::new(),
            observer: String::new(),
            store,
            own_schema,
            _dir: dir,
        };
        for _ in 0..nodes {
            let mut cmd = if pin(args) {
                let mut c = tokio::process::Command::new("taskset");
                c.args(["-c", "0"]).arg(&bin);
                c
            } else {
                tokio::process::Command::new(&bin)
            };
            cmd.args(["serve", "--listen", "127.0.0.1:0", "--db", &db])
                .args(["--rate-limit", "1000000", "--rate-burst", "1000000"])
                .args(["--max-connections", "30000"])
                .current_dir(manifest_dir())
                .env("RUST_LOG", "error")
                .stdout(Stdio::piped())
                .kill_on_drop(true);
            if let Some(map) = &map {
                cmd.arg("--map").arg(map);
            }
            let mut child = cmd
                .spawn()
                .map_err(|e| format!("{} does not start: {e}", bin.display()))?;
            let pid = child.id().ok_or("no pid")?;
            let mut lines = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
            let addr = loop {
                let line = tokio::time::timeout(Duration::from_secs(120), lines.next_line())
                    .await
                    .map_err(|_| "the server did not start within 2 minutes")?
                    .map_err(|e| e.to_string())?
                    .ok_or("the server exited before listening")?;
                if line.trim().starts_with("crest_") {
                    crest.dispatcher = line.trim().to_string();
                }
                if let Some(rest) = line.strip_prefix("Crest listening on http://") {
                    break rest.split_whitespace().next().unwrap_or("").to_string();
                }
            };
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            crest.children.push(child);
            crest.pids.push(pid);
            crest.addrs.push(addr);
        }
        if crest.dispatcher.is_empty() {
            return Err("the server printed no dispatcher token".into());
        }
        let out = tokio::process::Command::new(&bin)
            .args(["token", "issue", "--db", &db, "--role", "observer"])
            .args(["--label", "loadgen"])
            .current_dir(manifest_dir())
            .env("RUST_LOG", "error")
            .stderr(Stdio::null())
            .output()
            .await
            .map_err(|e| e.to_string())?;
        crest.observer = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !out.status.success() || !crest.observer.starts_with("crest_") {
            return Err("crest token issue --role observer failed".into());
        }
        // Let the map import and the first checkpoint settle.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(crest)
    }

    fn url(&self, i: usize, token: &str) -> String {
        format!("ws://{}/ws?token={token}", self.addrs[i % self.addrs.len()])
    }

    fn measured(&self) -> Measured {
        Measured {
            pids: self.pids.clone(),
        }
    }

    /// A node that exited is a failure of the run.
    fn check_alive(&mut self) -> R<()> {
        for c in &mut self.children {
            if let Ok(Some(status)) = c.try_wait() {
                return Err(format!("a crest serve process died: {status}"));
            }
        }
        Ok(())
    }

    /// The sum over the nodes of a counter of /metrics.
    async fn metric(&self, name: &str) -> f64 {
        let mut sum = 0.0;
        for addr in &self.addrs {
            let text = http_get(addr, "/metrics").await.unwrap_or_default();
            sum += text
                .lines()
                .filter(|l| l.starts_with(name))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
                .sum::<f64>();
        }
        sum
    }

    async fn stop(mut self) {
        for c in &mut self.children {
            let _ = c.start_kill();
            let _ = c.wait().await;
        }
        if let Some((url, schema)) = self.own_schema.take() {
            use sqlx::Connection;
            if let Ok(mut conn) = sqlx::PgConnection::connect(&url).await {
                let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"
                )))
                .execute(&mut conn)
                .await;
            }
        }
    }
}

async fn http_get(addr: &str, path: &str) -> R<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = String::new();
    s.read_to_string(&mut buf)
        .await
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

fn pin(args: &Args) -> bool {
    !args.no_pin && !args.smoke && std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2)
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

async fn connect(url: &str) -> R<Ws> {
    let (ws, _) = tokio_tungstenite::connect_async_with_config(url, Some(ws_config()), false)
        .await
        .map_err(|e| format!("connect {url}: {e}"))?;
    Ok(ws)
}

/// Connects to Crest and reads `hello`.
async fn connect_crest(url: &str) -> R<Ws> {
    let mut ws = connect(url).await?;
    let hello = next_text(&mut ws).await?;
    if !hello.contains("\"hello\"") {
        return Err(format!("expected hello, got {hello}"));
    }
    Ok(ws)
}

async fn next_text(ws: &mut Ws) -> R<String> {
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(t))) => return Ok(t.as_str().to_string()),
            Some(Ok(Message::Close(c))) => return Err(format!("closed by the server: {c:?}")),
            Some(Ok(_)) => continue,
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("connection closed".into()),
        }
    }
}

async fn send(ws: &mut Ws, text: String) -> R<()> {
    ws.send(Message::Text(text.into()))
        .await
        .map_err(|e| e.to_string())
}

/// Runs `n` futures made by `f` with at most `width` at once.
async fn batched<T, F, Fut>(n: usize, width: usize, f: F) -> R<Vec<T>>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = R<T>>,
{
    let mut out = Vec::with_capacity(n);
    let mut i = 0;
    while i < n {
        let end = (i + width).min(n);
        let batch = futures_util::future::join_all((i..end).map(&f)).await;
        for r in batch {
            out.push(r?);
        }
        i = end;
    }
    Ok(out)
}

/// Registers teams `LG-0` … over one dispatcher connection, 32 in flight; the positions given.
async fn register_teams(crest: &Crest, positions: &[[f64; 2]], rng: &mut Rng) -> R<()> {
    let mut ws = connect_crest(&crest.url(0, &crest.dispatcher)).await?;
    let mut sent = 0;
    let mut acked = 0;
    while acked < positions.len() {
        while sent < positions.len() && sent - acked < 32 {
            let caps: Vec<&str> = CAPABILITIES
                .iter()
                .filter(|_| rng.next_u64().is_multiple_of(3))
                .copied()
                .collect();
            let [x, y] = positions[sent];
            let cmd = json!({"type": "command", "id": format!("lg-reg-{sent}"), "command": {
                "type": "register_team", "id": format!("LG-{sent}"), "name": format!("loadgen {sent}"),
                "kind": "militia", "headcount": 8, "capabilities": caps, "travel_mode": "foot",
                "position": [x, y]}});
            send(&mut ws, cmd.to_string()).await?;
            sent += 1;
        }
        let t = next_text(&mut ws).await?;
        if t.contains("\"ack\"") {
            acked += 1;
        } else if t.contains("\"error\"") {
            return Err(format!("register_team refused: {t}"));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counting

/// What the clients of one scenario share.
struct Shared {
    /// Operations (acks, answers, deliveries) since the start, for the progress line.
    ops: AtomicU64,
    /// Operations whose send time lies in the window.
    measured: AtomicU64,
    win_start: AtomicU64,
    win_end: AtomicU64,
    lat: Mutex<Vec<u32>>,
    fatal: Mutex<Option<String>>,
    stop: AtomicBool,
    /// The generator's own CPU seconds over the window (microseconds), to tell a saturated
    /// generator from a slow server.
    gen_cpu_us: AtomicU64,
}

impl Shared {
    fn new() -> Arc<Shared> {
        Arc::new(Shared {
            ops: AtomicU64::new(0),
            measured: AtomicU64::new(0),
            win_start: AtomicU64::new(u64::MAX),
            win_end: AtomicU64::new(u64::MAX),
            lat: Mutex::new(Vec::new()),
            fatal: Mutex::new(None),
            stop: AtomicBool::new(false),
            gen_cpu_us: AtomicU64::new(0),
        })
    }
    fn in_window(&self, t: u64) -> bool {
        t >= self.win_start.load(Relaxed) && t < self.win_end.load(Relaxed)
    }
    fn sending(&self) -> bool {
        now_us() < self.win_end.load(Relaxed) && !self.stop.load(Relaxed)
    }
    fn fail(&self, e: String) {
        let mut f = self.fatal.lock().unwrap();
        if f.is_none() {
            *f = Some(e);
        }
        self.stop.store(true, Relaxed);
    }
    fn flush(&self, local: &mut Vec<u32>) {
        self.lat.lock().unwrap().append(local);
    }
    fn check(&self) -> R<()> {
        match self.fatal.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// The measured window: warm-up, then `seconds`, with a progress line; returns the server's CPU
/// seconds over the window and its duration.
async fn window(
    name: &str,
    args: &Args,
    shared: &Arc<Shared>,
    server: &Measured,
    unit: &str,
) -> (f64, f64) {
    let warmup = if args.smoke { 0 } else { args.warmup };
    let seconds = if args.smoke { 1 } else { args.seconds };
    let start = now_us() + warmup * 1_000_000;
    shared.win_start.store(start, Relaxed);
    shared.win_end.store(start + seconds * 1_000_000, Relaxed);
    let begun = Instant::now();
    let mut last = shared.ops.load(Relaxed);
    let mut cpu0 = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut k = 0u64;
    loop {
        tick.tick().await;
        let t = now_us();
        if cpu0.is_none() && t >= start {
            cpu0 = Some((
                server.cpu(),
                cpu_seconds(std::process::id()),
                Instant::now(),
            ));
        }
        if t >= start + seconds * 1_000_000 || shared.stop.load(Relaxed) {
            break;
        }
        k += 1;
        if k.is_multiple_of(4) {
            let ops = shared.ops.load(Relaxed);
            let phase = if t < start { "warm-up" } else { "measuring" };
            eprint!(
                "\r  {name}: {phase} {:>4.1} s  {:>9.0} {unit}/s    ",
                begun.elapsed().as_secs_f64(),
                (ops - last) as f64
            );
            last = ops;
        }
    }
    let (c0, g0, t0) = cpu0.unwrap_or_else(|| {
        (
            server.cpu(),
            cpu_seconds(std::process::id()),
            Instant::now(),
        )
    });
    let cpu = server.cpu() - c0;
    let gen_cpu = cpu_seconds(std::process::id()) - g0;
    shared.gen_cpu_us.store((gen_cpu * 1e6) as u64, Relaxed);
    let dur = t0.elapsed().as_secs_f64();
    eprintln!();
    (cpu, dur)
}

fn percentiles(mut v: Vec<u32>) -> [f64; 3] {
    v.sort_unstable();
    let p = |q: f64| {
        if v.is_empty() {
            f64::NAN
        } else {
            v[((v.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0
        }
    };
    [p(0.5), p(0.99), p(0.999)]
}

/// One scenario's figures.
#[derive(Default, Clone)]
struct Row {
    scenario: String,
    rate: f64,
    unit: String,
    lat_ms: [f64; 3],
    cpu_s: f64,
    cpu_us_per_op: Option<f64>,
    cpu_s_per_million: Option<f64>,
    rss_mib: f64,
    hwm_mib: f64,
    extra: serde_json::Map<String, Value>,
}

fn finish_row(
    scenario: &str,
    unit: &str,
    shared: &Shared,
    cpu: f64,
    dur: f64,
    server: &Measured,
    per_million: bool,
) -> Row {
    let n = shared.measured.load(Relaxed) as f64;
    let lat = std::mem::take(&mut *shared.lat.lock().unwrap());
    let mut extra = serde_json::Map::new();
    extra.insert("samples".into(), json!(lat.len()));
    extra.insert("count".into(), json!(n));
    extra.insert("window_s".into(), json!(dur));
    // The generator's CPU over the window as a fraction of one core (it is pinned to one): near
    // 1.0 means the generator, not the server, may bound the rate and the latencies.
    let gen_busy = shared.gen_cpu_us.load(Relaxed) as f64 / 1e6 / dur.max(1e-9);
    extra.insert("generator_cpu_busy".into(), json!(gen_busy));
    Row {
        scenario: scenario.to_string(),
        rate: n / dur,
        unit: unit.to_string(),
        lat_ms: percentiles(lat),
        cpu_s: cpu,
        cpu_us_per_op: (!per_million && n > 0.0).then_some(cpu * 1e6 / n),
        cpu_s_per_million: (per_million && n > 0.0).then_some(cpu * 1e6 / n),
        rss_mib: server.rss_kib() as f64 / 1024.0,
        hwm_mib: server.hwm_kib() as f64 / 1024.0,
        extra,
    }
}

// ---------------------------------------------------------------------------------------------
// Scenarios

/// Connects `clients` WebSocket clients with `token`, runs `client` for each in a task of its
/// own (it answers the latencies it measured in the window, and how it ended), measures the
/// window and answers the row: what every request/answer scenario shares.
async fn request_clients<F, Fut>(
    name: &str,
    unit: &str,
    args: &Args,
    crest: &Crest,
    clients: usize,
    token: &str,
    client: F,
) -> R<Row>
where
    F: Fn(usize, Ws, Arc<Shared>) -> Fut,
    Fut: std::future::Future<Output = (Vec<u32>, R<()>)> + Send + 'static,
{
    let shared = Shared::new();
    let wss = batched(clients, 50, |c| {
        let url = crest.url(c, token);
        async move { connect_crest(&url).await }
    })
    .await?;
    let mut handles = Vec::new();
    for (c, ws) in wss.into_iter().enumerate() {
        let run = client(c, ws, shared.clone());
        let shared = shared.clone();
        let name = name.to_string();
        handles.push(tokio::spawn(async move {
            let (mut local, result) = run.await;
            shared.flush(&mut local);
            if let Err(e) = result {
                shared.fail(format!("{name} client {c}: {e}"));
            }
        }));
    }
    let server = crest.measured();
    let (cpu, dur) = window(name, args, &shared, &server, unit).await;
    for h in handles {
        let _ = h.await;
    }
    shared.check()?;
    Ok(finish_row(name, unit, &shared, cpu, dur, &server, false))
}

/// `ingest32`/`ingest1`: acknowledged `update_position` commands.
async fn ingest(name: &str, args: &Args, crest: &Crest, window_n: usize, register: bool) -> R<Row> {
    let clients = args.pick(args.clients, 50, 10);
    let teams = args.pick(args.teams, 1000, 200).max(1);
    let mut rng = Rng::new(1);
    if register {
        let positions: Vec<[f64; 2]> = (0..teams).map(|_| rng.point()).collect();
        register_teams(crest, &positions, &mut rng).await?;
    }
    let token = crest.dispatcher.clone();
    request_clients(name, "acks", args, crest, clients, &token, |c, mut ws, shared| {
        let prefix = format!("{name}-{}-{c}", now_us());
        async move {
            let mut rng = Rng::new(c as u64 + 7);
            let mut in_flight: HashMap<u64, u64> = HashMap::new();
            let mut n = 0u64;
            let mut local = Vec::new();
            let result: R<()> = async {
                loop {
                    let sending = shared.sending();
                    if !sending && in_flight.is_empty() {
                        break;
                    }
                    while sending && in_flight.len() < window_n {
                        n += 1;
                        let team = (c + (n as usize) * clients) % teams;
                        let [x, y] = rng.point();
                        let cmd = format!(
                            r#"{{"type":"command","id":"{prefix}-{n}","command":{{"type":"update_position","team_id":"LG-{team}","position":[{x:.6},{y:.6}]}}}}"#
                        );
                        in_flight.insert(n, now_us());
                        send(&mut ws, cmd).await?;
                    }
                    let t = tokio::time::timeout(Duration::from_secs(30), next_text(&mut ws))
                        .await
                        .map_err(|_| "no ack within 30 s".to_string())??;
                    let v: Value = serde_json::from_str(&t).map_err(|e| e.to_string())?;
                    match v["type"].as_str() {
                        Some("ack") => {
                            let id = v["id"].as_str().unwrap_or("");
                            let k = id.rsplit('-').next().and_then(|k| k.parse().ok());
                            if let Some(sent) = k.and_then(|k| in_flight.remove(&k)) {
                                shared.ops.fetch_add(1, Relaxed);
                                let now = now_us();
                                if shared.in_window(sent) {
                                    shared.measured.fetch_add(1, Relaxed);
                                    local.push((now - sent) as u32);
                                }
                            }
                        }
                        Some("error") => return Err(format!("command refused: {t}")),
                        _ => {}
                    }
                }
                Ok(())
            }
            .await;
            (local, result)
        }
    })
    .await
}

/// `nearest`: `nearest_teams` with a capability, one in flight per client.
async fn nearest(args: &Args, crest: &Crest) -> R<Row> {
    let clients = args.pick(args.clients, 50, 10);
    let teams = args.pick(args.teams, 10_000, 200);
    let mut rng = Rng::new(2);
    let positions: Vec<[f64; 2]> = (0..teams).map(|_| rng.point()).collect();
    register_teams(crest, &positions, &mut rng).await?;
    let token = crest.observer.clone();
    let mut row = request_clients("nearest", "answers", args, crest, clients, &token, |c, mut ws, shared| async move {
        let mut rng = Rng::new(c as u64 + 99);
        let mut local = Vec::new();
        let mut n = 0u64;
        let result: R<()> = async {
            while shared.sending() {
                n += 1;
                let [x, y] = rng.point();
                let cap = CAPABILITIES[(rng.next_u64() % 8) as usize];
                let q = format!(
                    r#"{{"type":"query","id":"q{n}","query":{{"type":"nearest_teams","point":[{x:.6},{y:.6}],"capability":"{cap}","limit":5}}}}"#
                );
                let sent = now_us();
                send(&mut ws, q).await?;
                let t = tokio::time::timeout(Duration::from_secs(30), next_text(&mut ws))
                    .await
                    .map_err(|_| "no answer within 30 s".to_string())??;
                if !t.starts_with(r#"{"type":"answer""#) && !t.contains(r#""type":"answer""#) {
                    return Err(format!("expected an answer, got {t}"));
                }
                shared.ops.fetch_add(1, Relaxed);
                if shared.in_window(sent) {
                    shared.measured.fetch_add(1, Relaxed);
                    local.push((now_us() - sent) as u32);
                }
            }
            Ok(())
        }
        .await;
        (local, result)
    })
    .await?;
    row.extra.insert("teams".into(), json!(teams));
    Ok(row)
}

/// Where a fan-out scenario's messages go and come from.
enum Fan<'a> {
    Crest(&'a Crest),
    Relay { url: String, pid: Option<u32> },
}

fn contains(b: &[f64; 4], p: [f64; 2]) -> bool {
    (b[0]..=b[2]).contains(&p[0]) && (b[1]..=b[3]).contains(&p[1])
}

const GRID: usize = 20;
fn cell_of(p: [f64; 2]) -> (usize, usize) {
    let c = ((p[0] - AREA[0]) / (AREA[2] - AREA[0]) * GRID as f64) as isize;
    let r = ((p[1] - AREA[1]) / (AREA[3] - AREA[1]) * GRID as f64) as isize;
    (
        c.clamp(0, GRID as isize - 1) as usize,
        r.clamp(0, GRID as isize - 1) as usize,
    )
}

/// The send-time table: `sent[team][slot]` (µs), and each team's latest slot.
struct SendTable {
    sent: Vec<AtomicU64>,
    latest: Vec<AtomicU64>,
}
impl SendTable {
    fn new(teams: usize) -> SendTable {
        SendTable {
            sent: (0..teams * SLOTS).map(|_| AtomicU64::new(0)).collect(),
            latest: (0..teams).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

/// Finds the team index `j` of `"LG-j"` in a message.
fn team_of(t: &str) -> Option<usize> {
    let i = t.find("\"LG-")? + 4;
    let digits: &str = &t[i..];
    let end = digits.find('"')?;
    digits[..end].parse().ok()
}

fn slot_of(t: &str) -> Option<usize> {
    let i = t.find("\"accuracy_m\":")? + 13;
    let rest = &t[i..];
    let end = rest.find([',', '}'])?;
    rest[..end].trim().parse::<f64>().ok().map(|v| v as usize)
}

/// `district` and `viewport`: receivers (dashboards or tablets) and paced senders.
async fn fanout(name: &str, args: &Args, fan: Fan<'_>, viewports: bool) -> R<Row> {
    let mix = name == "mixed";
    let receivers = if viewports {
        args.pick(args.tablets, 1000, 10)
    } else {
        args.pick(args.dashboards, if mix { 300 } else { 1000 }, 10)
    };
    let rate = args
        .rate
        .unwrap_or(if viewports {
            1000
        } else if mix {
            200
        } else {
            100
        })
        .max(1);
    let rate = if args.smoke { rate.min(100) } else { rate };
    let teams = if viewports {
        args.pick(args.teams, 1000, 50)
    } else {
        args.pick(args.teams, 100, 20)
    };
    let senders = 10usize;
    let mut rng = Rng::new(3);
    let positions: Vec<[f64; 2]> = (0..teams).map(|_| rng.point()).collect();
    if let Fan::Crest(crest) = &fan {
        register_teams(crest, &positions, &mut rng).await?;
    }
    // Viewports: 1/20 of the area each, inside it.
    let (vw, vh) = ((AREA[2] - AREA[0]) / 5.0, (AREA[3] - AREA[1]) / 4.0);
    let boxes: Arc<Vec<[f64; 4]>> = Arc::new(
        (0..receivers)
            .map(|_| {
                let x = AREA[0] + rng.unit() * (AREA[2] - AREA[0] - vw);
                let y = AREA[1] + rng.unit() * (AREA[3] - AREA[1] - vh);
                [x, y, x + vw, y + vh]
            })
            .collect(),
    );
    // Relay topics of each tablet, and the tablets of each cell.
    let mut by_cell: Vec<Vec<u32>> = vec![Vec::new(); GRID * GRID];
    let mut topics: Vec<Vec<String>> = Vec::new();
    for (i, b) in boxes.iter().enumerate() {
        let (c0, r0) = cell_of([b[0], b[1]]);
        let (c1, r1) = cell_of([b[2], b[3]]);
        let mut t = Vec::new();
        for c in c0..=c1 {
            for r in r0..=r1 {
                t.push(format!("c:{c}:{r}"));
                by_cell[c * GRID + r].push(i as u32);
            }
        }
        topics.push(t);
    }
    let by_cell = Arc::new(by_cell);
    let shared = Shared::new();
    let table = Arc::new(SendTable::new(teams));
    let expected: Arc<Vec<AtomicU64>> =
        Arc::new((0..receivers).map(|_| AtomicU64::new(0)).collect());
    let received: Arc<Vec<AtomicU64>> =
        Arc::new((0..receivers).map(|_| AtomicU64::new(0)).collect());
    let lagged: Arc<Vec<AtomicBool>> =
        Arc::new((0..receivers).map(|_| AtomicBool::new(false)).collect());
    let relay = matches!(fan, Fan::Relay { .. });
    if mix && relay {
        return Err("mixed does not run against a relay".into());
    }
    // `mixed`: every message the dashboards receive within the window (CPU per delivery), chains
    // finished and commands refused.
    let all_deliveries = Arc::new(AtomicU64::new(0));
    let chains_done = Arc::new(AtomicU64::new(0));
    let mixed_refused = Arc::new(AtomicU64::new(0));

    // Receivers.
    let wss = batched(receivers, 50, |i| {
        let fan = &fan;
        let boxes = boxes.clone();
        let topics = &topics;
        async move {
            match fan {
                Fan::Crest(crest) => {
                    let mut ws = connect_crest(&crest.url(i, &crest.observer)).await?;
                    let sub = if viewports {
                        let b = boxes[i];
                        format!(
                            r#"{{"type":"subscribe","layers":["teams"],"viewport":[{:.6},{:.6},{:.6},{:.6}]}}"#,
                            b[0], b[1], b[2], b[3]
                        )
                    } else if mix {
                        r#"{"type":"subscribe","layers":["teams","hazards","assignments"]}"#
                            .to_string()
                    } else {
                        r#"{"type":"subscribe","layers":["teams"]}"#.to_string()
                    };
                    send(&mut ws, sub).await?;
                    loop {
                        let t = next_text(&mut ws).await?;
                        if t.contains("\"snapshot\"") {
                            break;
                        }
                        if t.contains("\"error\"") {
                            return Err(format!("subscribe refused: {t}"));
                        }
                    }
                    Ok(ws)
                }
                Fan::Relay { url, .. } => {
                    let mut ws = connect(url).await?;
                    let sub = if viewports {
                        json!({"sub": topics[i]}).to_string()
                    } else {
                        r#"{"sub":["all"]}"#.to_string()
                    };
                    send(&mut ws, sub).await?;
                    Ok(ws)
                }
            }
        }
    })
    .await?;
    if relay {
        // The relay answers nothing to a subscription: give it a moment.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let mut handles = Vec::new();
    for (i, mut ws) in wss.into_iter().enumerate() {
        let (shared, table, received, lagged, all_deliveries) = (
            shared.clone(),
            table.clone(),
            received.clone(),
            lagged.clone(),
            all_deliveries.clone(),
        );
        handles.push(tokio::spawn(async move {
            // Runs until aborted after the drain: samples go straight to the shared list.
            loop {
                let t = match ws.next().await {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Close(c))) => {
                        shared.fail(format!("receiver {i} closed by the server: {c:?}"));
                        break;
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => {
                        shared.fail(format!("receiver {i}: {e}"));
                        break;
                    }
                    None => break,
                };
                let t = t.as_str();
                if t.starts_with(r#"{"type":"resync""#) || t.contains(r#""type":"resync""#) {
                    lagged[i].store(true, Relaxed);
                    continue;
                }
                if t.contains(r#""type":"snapshot""#) {
                    continue;
                }
                if t.contains(r#""type":"error""#) {
                    shared.fail(format!("receiver {i} got an error: {t}"));
                    break;
                }
                if mix {
                    // Every message is a delivery (CPU per delivery); only positions are timed.
                    shared.ops.fetch_add(1, Relaxed);
                    if shared.in_window(now_us()) {
                        all_deliveries.fetch_add(1, Relaxed);
                    }
                    if !t.contains(r#""team_moved""#) {
                        continue;
                    }
                }
                let Some(j) = team_of(t) else { continue };
                if j >= table.latest.len() {
                    continue;
                }
                let slot = slot_of(t).unwrap_or_else(|| table.latest[j].load(Relaxed) as usize);
                let sent = table.sent[j * SLOTS + slot % SLOTS].load(Relaxed);
                if !mix {
                    shared.ops.fetch_add(1, Relaxed);
                }
                if sent > 0 && shared.in_window(sent) {
                    shared.measured.fetch_add(1, Relaxed);
                    received[i].fetch_add(1, Relaxed);
                    let lat = now_us().saturating_sub(sent) as u32;
                    shared.lat.lock().unwrap().push(lat);
                }
            }
        }));
    }
    let receivers_done = std::mem::take(&mut handles);

    // Senders: `senders` connections, team j on sender j % senders, paced at `rate` in total.
    let positions = Arc::new(Mutex::new(positions));
    for s in 0..senders {
        let ws = match &fan {
            Fan::Crest(crest) => connect_crest(&crest.url(s, &crest.dispatcher)).await?,
            Fan::Relay { url, .. } => connect(url).await?,
        };
        let (shared, table, expected, boxes, by_cell, positions, chains_done, mixed_refused) = (
            shared.clone(),
            table.clone(),
            expected.clone(),
            boxes.clone(),
            by_cell.clone(),
            positions.clone(),
            chains_done.clone(),
            mixed_refused.clone(),
        );
        let mine: Vec<usize> = (s..teams).step_by(senders).collect();
        let per_sender = rate as f64 / senders as f64;
        handles.push(tokio::spawn(async move {
            let mut rng = Rng::new(s as u64 + 1000);
            let (mut sink, mut stream) = ws.split();
            // Crest: what each command would deliver, counted when its ack comes.
            type Pending = HashMap<u64, (u64, [f64; 2], [f64; 2])>;
            let pending: Arc<Mutex<Pending>> = Arc::default();
            let count = |sent: u64, old: [f64; 2], new: [f64; 2]| {
                if !shared.in_window(sent) {
                    return;
                }
                if !viewports {
                    for e in expected.iter() {
                        e.fetch_add(1, Relaxed);
                    }
                } else if relay {
                    let (c, r) = cell_of(new);
                    for &i in &by_cell[c * GRID + r] {
                        expected[i as usize].fetch_add(1, Relaxed);
                    }
                } else {
                    for (i, b) in boxes.iter().enumerate() {
                        if contains(b, old) || contains(b, new) {
                            expected[i].fetch_add(1, Relaxed);
                        }
                    }
                }
            };
            let result: R<()> = async {
                if mine.is_empty() {
                    return Ok(());
                }
                let interval = Duration::from_secs_f64(1.0 / per_sender);
                let mut tick = tokio::time::interval(interval);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                let mut n = 0u64;
                let mut acks_due = 0u64;
                let mut draining_since: Option<Instant> = None;
                // `mixed`: the chains under way, by their number: (team, hazard id).
                let mut chains: HashMap<u64, (usize, String)> = HashMap::new();
                loop {
                    let sending = shared.sending();
                    if !sending {
                        let since = *draining_since.get_or_insert_with(Instant::now);
                        if relay || acks_due == 0 || since.elapsed() > Duration::from_secs(10) {
                            break;
                        }
                    }
                    tokio::select! {
                        _ = tick.tick(), if sending => {
                            n += 1;
                            let j = mine[(n as usize) % mine.len()];
                            if mix && n.is_multiple_of(20) {
                                let p = positions.lock().unwrap()[j];
                                chains.insert(n, (j, String::new()));
                                let text = format!(
                                    r#"{{"type":"command","id":"m{s}-{n}-h","command":{{"type":"report_hazard","kind":"seepage","severity":"general","position":[{:.6},{:.6}],"description":"loadgen"}}}}"#,
                                    p[0], p[1]
                                );
                                sink.send(Message::Text(text.into())).await.map_err(|e| e.to_string())?;
                                continue;
                            }
                            let (old, new) = {
                                let mut p = positions.lock().unwrap();
                                let old = p[j];
                                let step = 0.004;
                                let new = [
                                    (old[0] + (rng.unit() - 0.5) * 2.0 * step).clamp(AREA[0], AREA[2]),
                                    (old[1] + (rng.unit() - 0.5) * 2.0 * step).clamp(AREA[1], AREA[3]),
                                ];
                                p[j] = new;
                                (old, new)
                            };
                            let k = table.latest[j].load(Relaxed) + 1;
                            let slot = (k as usize) % SLOTS;
                            let sent = now_us();
                            table.sent[j * SLOTS + slot].store(sent, Relaxed);
                            table.latest[j].store(k, Relaxed);
                            let text = if relay {
                                let msg = format!(
                                    r#"{{"type":"event","seq":{n},"time_ms":0,"event":{{"type":"team_moved","team_id":"LG-{j}","fix":{{"position":[{:.6},{:.6}],"time_ms":0,"accuracy_m":{slot}}}}}}}"#,
                                    new[0], new[1]
                                );
                                let topic = if viewports {
                                    let (c, r) = cell_of(new);
                                    format!("c:{c}:{r}")
                                } else {
                                    "all".to_string()
                                };
                                count(sent, old, new);
                                json!({"pub": [topic], "msg": msg}).to_string()
                            } else {
                                pending.lock().unwrap().insert(n, (sent, old, new));
                                acks_due += 1;
                                format!(
                                    r#"{{"type":"command","id":"s{s}-{n}","command":{{"type":"update_position","team_id":"LG-{j}","position":[{:.6},{:.6}],"accuracy_m":{slot}}}}}"#,
                                    new[0], new[1]
                                )
                            };
                            sink.send(Message::Text(text.into())).await.map_err(|e| e.to_string())?;
                        }
                        m = stream.next() => {
                            let t = match m {
                                Some(Ok(Message::Text(t))) => t,
                                Some(Ok(_)) => continue,
                                Some(Err(e)) => return Err(e.to_string()),
                                None => return Err("the sender's connection closed".into()),
                            };
                            let t = t.as_str();
                            if mix && t.contains(r#""id":"m"#) {
                                let v: Value = serde_json::from_str(t).map_err(|e| e.to_string())?;
                                let id = v["id"].as_str().unwrap_or_default();
                                let mut parts = id.rsplitn(3, '-');
                                let (stage, k) = (parts.next(), parts.next().and_then(|k| k.parse::<u64>().ok()));
                                let Some(k) = k else { continue };
                                if v["type"] != "ack" {
                                    mixed_refused.fetch_add(1, Relaxed);
                                    chains.remove(&k);
                                    continue;
                                }
                                let created = v["created"].as_str().unwrap_or_default().to_string();
                                let Some((j, hazard)) = chains.get_mut(&k) else { continue };
                                let next = match stage {
                                    Some("h") => {
                                        *hazard = created;
                                        format!(r#""id":"m{s}-{k}-a","command":{{"type":"create_assignment","team_id":"LG-{j}","target":{{"kind":"hazard","hazard_id":"{hazard}"}}}}"#)
                                    }
                                    Some("a") => format!(r#""id":"m{s}-{k}-c","command":{{"type":"cancel_assignment","assignment_id":"{created}","reason":"loadgen"}}"#),
                                    Some("c") => format!(r#""id":"m{s}-{k}-f","command":{{"type":"mark_false_alarm","hazard_id":"{hazard}"}}"#),
                                    _ => {
                                        chains.remove(&k);
                                        chains_done.fetch_add(1, Relaxed);
                                        continue;
                                    }
                                };
                                let text = format!(r#"{{"type":"command",{next}}}"#);
                                sink.send(Message::Text(text.into())).await.map_err(|e| e.to_string())?;
                                continue;
                            }
                            if t.contains(r#""type":"ack""#) {
                                let v: Value = serde_json::from_str(t).map_err(|e| e.to_string())?;
                                let k = v["id"].as_str().and_then(|id| id.rsplit('-').next()?.parse().ok());
                                if let Some((sent, old, new)) = k.and_then(|k| pending.lock().unwrap().remove(&k)) {
                                    acks_due -= 1;
                                    count(sent, old, new);
                                }
                            } else if t.contains(r#""type":"error""#) {
                                return Err(format!("update refused: {t}"));
                            }
                        }
                        _ = tokio::time::sleep(Duration::from_millis(100)), if !sending => {}
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = result {
                shared.fail(format!("sender {s}: {e}"));
            }
        }));
    }

    let (measured, coalesced0) = match &fan {
        Fan::Crest(crest) => (
            crest.measured(),
            crest.metric("crest_frames_coalesced_total").await,
        ),
        Fan::Relay { pid, .. } => (
            Measured {
                pids: pid.iter().copied().collect(),
            },
            0.0,
        ),
    };
    let (cpu, dur) = window(name, args, &shared, &measured, "deliveries").await;
    let window_deliveries = all_deliveries.load(Relaxed);
    // Drain: deliveries of the window's last sends.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let coalesced = match &fan {
        Fan::Crest(crest) => crest.metric("crest_frames_coalesced_total").await - coalesced0,
        Fan::Relay { .. } => 0.0,
    };
    shared.stop.store(true, Relaxed);
    for h in handles {
        let _ = h.await;
    }
    for h in receivers_done {
        h.abort();
    }
    shared.check()?;
    let mut lost = 0u64;
    let mut exp_total = 0u64;
    let mut kept_up = 0;
    for ((lagged, expected), received) in lagged.iter().zip(expected.iter()).zip(received.iter()) {
        if lagged.load(Relaxed) {
            continue;
        }
        kept_up += 1;
        let e = expected.load(Relaxed);
        exp_total += e;
        lost += e.saturating_sub(received.load(Relaxed));
    }
    let mut row = finish_row(name, "deliveries", &shared, cpu, dur, &measured, true);
    row.extra.insert("receivers".into(), json!(receivers));
    row.extra.insert("receivers_kept_up".into(), json!(kept_up));
    row.extra.insert("updates_per_s".into(), json!(rate));
    row.extra.insert("teams".into(), json!(teams));
    row.extra.insert("expected".into(), json!(exp_total));
    row.extra.insert("lost".into(), json!(lost));
    if !relay {
        row.extra.insert("coalesced".into(), json!(coalesced));
    }
    if mix {
        row.extra
            .insert("chains_done".into(), json!(chains_done.load(Relaxed)));
        row.extra
            .insert("refused".into(), json!(mixed_refused.load(Relaxed)));
        row.extra
            .insert("position_deliveries".into(), row.extra["count"].clone());
        // Rate and CPU per delivery over every message received in the window (positions,
        // hazards, assignments, team status).
        let all = window_deliveries as f64;
        row.extra.insert("count".into(), json!(all));
        row.rate = all / dur;
        row.cpu_s_per_million = (all > 0.0).then_some(cpu * 1e6 / all);
    }
    Ok(row)
}

/// `zones`: ingest32 before and after 10,000 viewports connect.
async fn zones(args: &Args, crest: &Crest) -> R<Row> {
    let plain = ingest("zones:plain", args, crest, 32, true).await?;
    let zones = args.pick(args.zones, 10_000, 50);
    let side = (zones as f64).sqrt().ceil() as usize;
    let (w, h) = (
        (AREA[2] - AREA[0]) / side as f64,
        (AREA[3] - AREA[1]) / side as f64,
    );
    eprintln!("  zones: connecting {zones} tablets");
    let wss = batched(zones, 100, |i| {
        let url = crest.url(i, &crest.observer);
        async move {
            let mut ws = connect_crest(&url).await?;
            let (c, r) = (i % side, i / side);
            let b = [
                AREA[0] + c as f64 * w,
                AREA[1] + r as f64 * h,
                AREA[0] + (c + 1) as f64 * w,
                AREA[1] + (r + 1) as f64 * h,
            ];
            send(
                &mut ws,
                format!(
                    r#"{{"type":"subscribe","layers":["teams"],"viewport":[{:.6},{:.6},{:.6},{:.6}]}}"#,
                    b[0], b[1], b[2], b[3]
                ),
            )
            .await?;
            loop {
                let t = next_text(&mut ws).await?;
                if t.contains("\"snapshot\"") {
                    return Ok(ws);
                }
                if t.contains("\"error\"") {
                    return Err(format!("subscribe refused: {t}"));
                }
            }
        }
    })
    .await?;
    // Keep the tablets reading (a connection that does not read is dropped), counting.
    let delivered = Arc::new(AtomicU64::new(0));
    let lost = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for mut ws in wss {
        let (delivered, lost) = (delivered.clone(), lost.clone());
        readers.push(tokio::spawn(async move {
            while let Some(m) = ws.next().await {
                match m {
                    Ok(Message::Text(_)) => {
                        delivered.fetch_add(1, Relaxed);
                    }
                    Ok(_) => {}
                    Err(_) => {
                        lost.store(true, Relaxed);
                        break;
                    }
                }
            }
        }));
    }
    let d0 = delivered.load(Relaxed);
    let mut row = ingest("zones", args, crest, 32, false).await?;
    let d = delivered.load(Relaxed) - d0;
    for r in readers {
        r.abort();
    }
    if lost.load(Relaxed) {
        return Err("a zone tablet's connection failed".into());
    }
    row.extra.insert("zones".into(), json!(zones));
    row.extra
        .insert("plain_ingest32_per_s".into(), json!(plain.rate));
    row.extra
        .insert("plain_cpu_us_per_op".into(), json!(plain.cpu_us_per_op));
    row.extra
        .insert("ratio_to_plain".into(), json!(row.rate / plain.rate));
    row.extra.insert("tablet_messages".into(), json!(d));
    Ok(row)
}

/// `idle`: server memory per idle subscribed connection.
async fn idle(args: &Args, fan: Fan<'_>) -> R<Row> {
    let n = args.pick(args.idle, 2000, 50);
    let measured = match &fan {
        Fan::Crest(c) => c.measured(),
        Fan::Relay { pid, .. } => Measured {
            pids: pid.iter().copied().collect(),
        },
    };
    let before = measured.rss_kib();
    let clients = batched(n, 100, |i| {
        let fan = &fan;
        async move {
            match fan {
                Fan::Crest(crest) => {
                    let mut ws = connect_crest(&crest.url(i, &crest.observer)).await?;
                    send(&mut ws, r#"{"type":"subscribe","layers":["teams","hazards"],"viewport":[113.08,27.60,113.13,27.66]}"#.to_string()).await?;
                    loop {
                        let t = next_text(&mut ws).await?;
                        if t.contains("\"snapshot\"") {
                            return Ok(ws);
                        }
                        if t.contains("\"error\"") {
                            return Err(format!("subscribe refused: {t}"));
                        }
                    }
                }
                Fan::Relay { url, .. } => {
                    let mut ws = connect(url).await?;
                    send(&mut ws, r#"{"sub":["all"]}"#.to_string()).await?;
                    Ok(ws)
                }
            }
        }
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let after = measured.rss_kib();
    let per = after.saturating_sub(before) as f64 / n as f64;
    let mut extra = serde_json::Map::new();
    extra.insert("connections".into(), json!(n));
    extra.insert("rss_before_kib".into(), json!(before));
    extra.insert("rss_after_kib".into(), json!(after));
    extra.insert("kib_per_connection".into(), json!(per));
    drop(clients);
    Ok(Row {
        scenario: "idle".into(),
        rate: n as f64,
        unit: "conns".into(),
        lat_ms: [f64::NAN; 3],
        rss_mib: after as f64 / 1024.0,
        hwm_mib: measured.hwm_kib() as f64 / 1024.0,
        extra,
        ..Row::default()
    })
}

// ---------------------------------------------------------------------------------------------
// Main

fn fmt(v: f64, digits: usize) -> String {
    if v.is_finite() {
        format!("{v:.digits$}")
    } else {
        "-".into()
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "\n{:<10} {:>12} {:<10} {:>8} {:>8} {:>8} {:>10} {:>12} {:>9} {:>9}  notes",
        "scenario",
        "rate/s",
        "unit",
        "p50 ms",
        "p99 ms",
        "p999 ms",
        "CPU µs/op",
        "CPU s/M del",
        "RSS MiB",
        "peak MiB"
    );
    for r in rows {
        let notes = match r.scenario.as_str() {
            "district" | "viewport" | "mixed" => format!(
                "lost {} of {}, coalesced {}, kept up {}/{}",
                r.extra.get("lost").unwrap_or(&json!(0)),
                r.extra.get("expected").unwrap_or(&json!(0)),
                r.extra.get("coalesced").unwrap_or(&json!("-")),
                r.extra.get("receivers_kept_up").unwrap_or(&json!(0)),
                r.extra.get("receivers").unwrap_or(&json!(0)),
            ),
            "zones" => format!(
                "{} zones; plain ingest32 {:.0}/s; ratio {:.2}",
                r.extra.get("zones").unwrap_or(&json!(0)),
                r.extra
                    .get("plain_ingest32_per_s")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN),
                r.extra
                    .get("ratio_to_plain")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN),
            ),
            "idle" => format!(
                "{:.2} KiB per connection",
                r.extra
                    .get("kib_per_connection")
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN)
            ),
            _ => String::new(),
        };
        let notes = match r.extra.get("generator_cpu_busy").and_then(Value::as_f64) {
            Some(g) if notes.is_empty() => format!("generator {:.0} % busy", g * 100.0),
            Some(g) => format!("generator {:.0} % busy; {notes}", g * 100.0),
            None => notes,
        };
        println!(
            "{:<10} {:>12} {:<10} {:>8} {:>8} {:>8} {:>10} {:>12} {:>9} {:>9}  {notes}",
            r.scenario,
            fmt(r.rate, 0),
            r.unit,
            fmt(r.lat_ms[0], 2),
            fmt(r.lat_ms[1], 2),
            fmt(r.lat_ms[2], 2),
            r.cpu_us_per_op.map_or("-".into(), |v| fmt(v, 1)),
            r.cpu_s_per_million.map_or("-".into(), |v| fmt(v, 2)),
            fmt(r.rss_mib, 1),
            fmt(r.hwm_mib, 1),
        );
    }
}

fn row_json(args: &Args, r: &Row, store: &str, bin: &str) -> Value {
    let mut v = json!({
        "scenario": r.scenario,
        "label": args.label,
        "target": if args.relay() { "relay" } else { "crest" },
        "crest_bin": bin,
        "relay_url": args.relay_url,
        "store": store,
        "nodes": if args.relay() { 0 } else { args.nodes.max(1) },
        "date": utc_now(),
        "machine": machine(),
        "smoke": args.smoke,
        "seconds": if args.smoke { 1 } else { args.seconds },
        "rate_per_s": r.rate,
        "unit": r.unit,
        "p50_ms": r.lat_ms[0],
        "p99_ms": r.lat_ms[1],
        "p999_ms": r.lat_ms[2],
        "server_cpu_s": r.cpu_s,
        "server_cpu_us_per_op": r.cpu_us_per_op,
        "server_cpu_s_per_million": r.cpu_s_per_million,
        "server_rss_mib": r.rss_mib,
        "server_peak_mib": r.hwm_mib,
    });
    if let Value::Object(m) = &mut v {
        for (k, x) in &r.extra {
            m.insert(k.clone(), x.clone());
        }
        // NaN is not JSON: null instead.
        for x in m.values_mut() {
            if x.as_f64().is_some_and(|f| !f.is_finite()) {
                *x = Value::Null;
            }
        }
    }
    v
}

async fn run_one(args: &Args, name: &str, n: usize) -> R<(Row, String)> {
    if args.relay() {
        let url = args
            .relay_url
            .clone()
            .ok_or("--target relay needs --relay-url")?;
        let fan = Fan::Relay {
            url,
            pid: args.relay_pid,
        };
        let row = match name {
            "district" => fanout(name, args, fan, false).await?,
            "viewport" => fanout(name, args, fan, true).await?,
            "idle" => idle(args, fan).await?,
            other => return Err(format!("scenario {other} does not run against a relay")),
        };
        return Ok((row, "relay".into()));
    }
    eprintln!("{name}: starting crest serve");
    let mut crest = Crest::start(args, n).await?;
    let result = match name {
        "ingest32" => ingest(name, args, &crest, 32, true).await,
        "ingest1" => ingest(name, args, &crest, 1, true).await,
        "nearest" => nearest(args, &crest).await,
        "district" => fanout(name, args, Fan::Crest(&crest), false).await,
        "viewport" => fanout(name, args, Fan::Crest(&crest), true).await,
        "mixed" => fanout(name, args, Fan::Crest(&crest), false).await,
        "zones" => zones(args, &crest).await,
        "idle" => idle(args, Fan::Crest(&crest)).await,
        other => Err(format!("unknown scenario {other}")),
    };
    let alive = crest.check_alive();
    let store = crest.store.clone();
    crest.stop().await;
    alive?;
    Ok((result?, store))
}

fn main() {
    let raw: Vec<String> = std::env::args().collect();
    let smoke_env = std::env::var("CREST_LOADGEN_SMOKE").is_ok_and(|v| !v.is_empty() && v != "0");
    if raw.iter().any(|a| a == "--list") {
        return; // `cargo bench -- --list`
    }
    // Under `cargo test --benches` the binary gets no `--bench`: return unless asked for smoke.
    if !raw.iter().any(|a| a == "--bench" || a == "--smoke") && !smoke_env {
        return;
    }
    let mut args = <Args as clap::Parser>::parse();
    args.smoke |= smoke_env;
    if pin(&args) {
        let ok = std::process::Command::new("taskset")
            .args(["-a", "-cp", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("warning: could not pin the generator to CPU 1");
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let code = runtime.block_on(run(args));
    std::process::exit(code);
}

async fn run(args: Args) -> i32 {
    let mut names: Vec<String> = if args.scenarios.is_empty() {
        vec!["all".into()]
    } else {
        args.scenarios.clone()
    };
    if names.iter().any(|n| n == "all") {
        names = if args.relay() {
            vec!["district".into(), "viewport".into(), "idle".into()]
        } else {
            ALL.iter().map(|s| s.to_string()).collect()
        };
    }
    if let Some(bad) = names.iter().find(|n| !ALL.contains(&n.as_str())) {
        eprintln!("unknown scenario {bad}: one of {ALL:?} or all");
        return 2;
    }
    let bin = if args.relay() {
        String::new()
    } else {
        crest_bin(&args).display().to_string()
    };
    eprintln!(
        "loadgen: {} — {}{}",
        if args.relay() {
            format!("relay {}", args.relay_url.as_deref().unwrap_or("?"))
        } else {
            bin.clone()
        },
        names.join(", "),
        if args.smoke { " (smoke)" } else { "" }
    );
    let mut rows = Vec::new();
    let mut failed = false;
    for (n, name) in names.iter().enumerate() {
        match run_one(&args, name, n).await {
            Ok((row, store)) => {
                if let Some(path) = &args.json {
                    let line = row_json(&args, &row, &store, &bin).to_string();
                    use std::io::Write;
                    let written = std::fs::OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(path)
                        .and_then(|mut f| writeln!(f, "{line}"));
                    if let Err(e) = written {
                        eprintln!("cannot write {}: {e}", path.display());
                        failed = true;
                    }
                }
                rows.push(row);
            }
            Err(e) => {
                eprintln!("{name}: FAILED: {e}");
                failed = true;
            }
        }
    }
    print_table(&rows);
    i32::from(failed)
}
