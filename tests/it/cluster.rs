//! Several Crest nodes on one PostgreSQL (docs/scaling.md): real `crest serve` processes on the
//! local PostgreSQL, each test in a schema of its own, real WebSocket clients.
//!
//! - commands spread over three nodes give one gap-free order that every client sees identically;
//! - a command resent to another node is a `duplicate` with its first seqs;
//! - kill -9 of a node under load loses no acknowledged command, and its clients resume on
//!   another node with no gap and no duplicate;
//! - PostgreSQL stopped for a few seconds (a private cluster, so the other tests' PostgreSQL
//!   stays up): nodes refuse writes (`unavailable`, `database_unreachable`), `/readyz` 503, reads
//!   marked stale; PostgreSQL back, they accept again by themselves.
//!
//! Without PostgreSQL these tests say SKIPPED, except under CI, where they fail.

use crate::harness::{Client, HANG_GUARD, map_dir, pg_base, pg_url, schema_for};
use crest::domain::Role;
use crest::store::{PgStore, Store};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Whether the test PostgreSQL answers; `false` (and SKIPPED printed) lets a test return early,
/// but under CI a missing PostgreSQL fails the test.
async fn postgres_here(test: &str) -> bool {
    let up = tokio::time::timeout(Duration::from_secs(5), sqlx_ping(&pg_base()))
        .await
        .is_ok_and(|r| r);
    if !up {
        assert!(
            std::env::var_os("CI").is_none(),
            "{test}: no PostgreSQL at {}; .ci/run starts it",
            pg_base()
        );
        eprintln!("SKIPPED {test}: no PostgreSQL at {}", pg_base());
    }
    up
}

async fn sqlx_ping(url: &str) -> bool {
    use sqlx::Connection;
    match sqlx::PgConnection::connect(url).await {
        Ok(c) => {
            let _ = c.close().await;
            true
        }
        Err(_) => false,
    }
}

/// One `crest serve` process.
struct Node {
    child: tokio::process::Child,
    addr: String,
}

impl Node {
    async fn start(db: &str, logs: &Path) -> Node {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_crest"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit",
                "100000",
                "--rate-burst",
                "100000",
                "--db",
                db,
            ])
            .arg("--map")
            .arg(map_dir())
            .arg("--drill-logs")
            .arg(logs)
            .env(
                "RUST_LOG",
                std::env::var("CLUSTER_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdout(std::process::Stdio::piped())
            .stderr(if std::env::var_os("CLUSTER_LOG").is_some() {
                std::process::Stdio::inherit()
            } else {
                std::process::Stdio::null()
            })
            .kill_on_drop(true)
            .spawn()
            .expect("crest binary starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let addr = loop {
            let line = tokio::time::timeout(HANG_GUARD, lines.next_line())
                .await
                .expect("the node starts before the hang guard")
                .unwrap()
                .expect("the node prints its address");
            if let Some(rest) = line.strip_prefix("Crest listening on http://") {
                break rest.split_whitespace().next().unwrap().to_string();
            }
        };
        // Keep reading stdout so the node never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Node { child, addr }
    }

    fn ws(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The status of `GET /readyz`.
    async fn readyz(&self) -> u16 {
        self.get("/readyz").await.0
    }

    /// `GET path`: the status and the lower-cased head.
    async fn get(&self, path: &str) -> (u16, String) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(&self.addr).await.unwrap();
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await
        .unwrap();
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await.unwrap();
        let text = String::from_utf8_lossy(&buf);
        let head = text.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        (
            text.split_whitespace().nth(1).unwrap().parse().unwrap(),
            head,
        )
    }

    /// kill -9.
    async fn kill(mut self) {
        self.child.start_kill().unwrap();
        let _ = self.child.wait().await;
    }
}

/// Three nodes on a fresh schema, and a store handle on it (tokens, reading the log).
struct Cluster {
    nodes: Vec<Node>,
    store: PgStore,
    url: String,
    _dir: tempfile::TempDir,
}

impl Cluster {
    async fn start(test: &str, n: usize, base: &str) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let schema = schema_for(&format!("{test}-{}", dir.path().display()));
        let url = with_schema(base, &schema);
        // Open once first: the migrations, before the nodes race to them.
        let store = PgStore::open(&url).await.expect("the test schema opens");
        let mut nodes = Vec::new();
        for i in 0..n {
            nodes.push(Node::start(&url, &dir.path().join(format!("drills-{i}"))).await);
        }
        Cluster {
            nodes,
            store,
            url,
            _dir: dir,
        }
    }

    async fn token(&self, role: Role) -> String {
        crest::auth::issue(&self.store, role, None, "cluster test")
            .await
            .unwrap()
            .secret
    }

    async fn client(&self, node: usize, token: &str) -> Client {
        let mut c = Client::connect(&self.nodes[node].ws()).await;
        c.auth(token).await;
        c
    }

    /// Drops the test's schema.
    async fn drop_schema(self) {
        for n in self.nodes {
            n.kill().await;
        }
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
            self.store.schema()
        )))
        .execute(&pg_pool(&self.url).await)
        .await;
    }
}

fn with_schema(base: &str, schema: &str) -> String {
    if base == pg_base() {
        pg_url(schema)
    } else {
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{schema}")
    }
}

async fn pg_pool(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

fn team(id: &str) -> Value {
    json!({"type": "register_team", "id": id, "name": id, "kind": "militia", "headcount": 5,
           "travel_mode": "foot", "position": [113.1, 27.6]})
}

/// Reads a subscribed client's `event` messages until it has seen `last`; returns (seq, event)
/// in the order received.
async fn events_until(c: &mut Client, last: u64, into: &mut Vec<(u64, String)>) {
    while into.last().is_none_or(|(s, _)| *s < last) {
        let m = c.next().await;
        if m["type"] == "event" {
            into.push((m["seq"].as_u64().unwrap(), m["event"].to_string()));
        }
    }
}

/// Every event of the log, in order, as (seq, event JSON).
async fn the_log(store: &PgStore) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    loop {
        let after = out.last().map_or(0, |(s, _): &(u64, String)| *s);
        let page = store.events_after(after, 10_000).await.unwrap();
        if page.is_empty() {
            return out;
        }
        for e in page {
            let body: Value = serde_json::from_str(&e.body).unwrap();
            out.push((e.seq, body.to_string()));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_spread_over_three_nodes_make_one_order_every_client_sees() {
    if !postgres_here("three nodes, one order").await {
        return;
    }
    let cluster = Cluster::start("one-order", 3, &pg_base()).await;
    let token = cluster.token(Role::Dispatcher).await;
    // A reader and a writer on each node.
    let mut readers = Vec::new();
    for i in 0..3 {
        let mut r = cluster.client(i, &token).await;
        let snap = r.subscribe(&["teams"], None).await;
        readers.push((r, snap["seq"].as_u64().unwrap()));
    }
    let mut writers = Vec::new();
    for i in 0..3 {
        writers.push(cluster.client(i, &token).await);
    }
    // 3 × 60 commands, pipelined, each writer on its own node, all at once.
    let mut acked: HashMap<String, Vec<u64>> = HashMap::new();
    let results =
        futures_util::future::join_all(writers.iter_mut().enumerate().map(|(i, w)| async move {
            for k in 0..60 {
                let id = format!("n{i}-{k}");
                w.send(
                    json!({"type": "command", "id": id, "command": team(&format!("T-N{i}-{k}"))}),
                )
                .await;
            }
            let mut out = Vec::new();
            for k in 0..60 {
                let id = format!("n{i}-{k}");
                let a = w.reply(&id).await;
                assert_eq!(a["type"], "ack", "{a}");
                out.push((
                    id,
                    serde_json::from_value::<Vec<u64>>(a["seqs"].clone()).unwrap(),
                ));
            }
            out
        }))
        .await;
    for r in results {
        acked.extend(r);
    }
    let last = acked.values().flatten().copied().max().unwrap();
    // The log: gap-free from 1, holding every acknowledged command at its seqs.
    let log = the_log(&cluster.store).await;
    assert_eq!(
        log.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "one gap-free order"
    );
    let by_seq: BTreeMap<u64, &String> = log.iter().map(|(s, e)| (*s, e)).collect();
    for (id, seqs) in &acked {
        for s in seqs {
            assert!(by_seq.contains_key(s), "{id} acked at {s}, not in the log");
        }
    }
    // Every reader, whatever its node, sees the same events with the same seqs in the same order.
    let mut seen = Vec::new();
    for (r, from) in &mut readers {
        let mut got = Vec::new();
        events_until(r, last, &mut got).await;
        let expected: Vec<(u64, String)> = log
            .iter()
            .filter(|(s, e)| *s > *from && e.contains("\"team_registered\""))
            .cloned()
            .collect();
        assert_eq!(got, expected, "a reader saw exactly the log's team events");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1], seen[2]);
    assert_eq!(seen[0].len(), 180);

    // The same protocol client against each node: auth, subscribe, a query, a refusal.
    for i in 0..3 {
        let mut c = cluster.client(i, &token).await;
        let snap = c.subscribe(&["teams"], None).await;
        assert_eq!(
            snap["seq"].as_u64(),
            Some(last),
            "node {i} serves the whole log"
        );
        assert!(snap["layers"]["teams"].as_array().unwrap().len() >= 180);
        let a = c
            .query(json!({"type": "nearest_teams", "point": [113.1, 27.6], "limit": 3}))
            .await;
        assert_eq!(a["teams"].as_array().map(Vec::len), Some(3), "{a}");
        c.refused(team("T-N0-0"), "already_exists").await;
    }
    cluster.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_resent_to_another_node_is_a_duplicate() {
    if !postgres_here("idempotency across nodes").await {
        return;
    }
    let cluster = Cluster::start("idempotent", 2, &pg_base()).await;
    let token = cluster.token(Role::Dispatcher).await;
    let mut a = cluster.client(0, &token).await;
    let mut b = cluster.client(1, &token).await;
    let first = a.command("tablet-1", team("T-IDEM")).await;
    assert_eq!(first["type"], "ack", "{first}");
    assert_eq!(first["duplicate"], false);
    let again = b.command("tablet-1", team("T-IDEM")).await;
    assert_eq!(again["type"], "ack", "{again}");
    assert_eq!(again["duplicate"], true, "{again}");
    assert_eq!(again["seqs"], first["seqs"]);
    // The same id for another command, on the other node: a conflict.
    let other = b.command("tablet-1", team("T-OTHER")).await;
    assert_eq!(other["type"], "error", "{other}");
    assert_eq!(other["code"], "command_id_conflict", "{other}");
    // Sent to both at once: one of them applies it, the other answers duplicate.
    a.send(json!({"type": "command", "id": "both", "command": team("T-BOTH")}))
        .await;
    b.send(json!({"type": "command", "id": "both", "command": team("T-BOTH")}))
        .await;
    let (ra, rb) = (a.reply("both").await, b.reply("both").await);
    assert_eq!(ra["type"], "ack", "{ra}");
    assert_eq!(rb["type"], "ack", "{rb}");
    assert_eq!(ra["seqs"], rb["seqs"]);
    assert_eq!(
        [ra["duplicate"].as_bool(), rb["duplicate"].as_bool()]
            .iter()
            .filter(|d| **d == Some(true))
            .count(),
        1,
        "{ra} {rb}"
    );
    cluster.drop_schema().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_no_acknowledged_command_and_its_clients_resume_elsewhere() {
    if !postgres_here("kill -9 a node").await {
        return;
    }
    let mut cluster = Cluster::start("kill", 3, &pg_base()).await;
    let token = cluster.token(Role::Dispatcher).await;
    // A witness on node 1 that stays connected throughout.
    let mut witness = cluster.client(1, &token).await;
    let from = witness.subscribe(&["teams"], None).await["seq"]
        .as_u64()
        .unwrap();
    // A reader and a writer on node 0, the one that dies.
    let mut reader = cluster.client(0, &token).await;
    assert_eq!(
        reader.subscribe(&["teams"], None).await["seq"].as_u64(),
        Some(from)
    );
    let mut writer = cluster.client(0, &token).await;
    // Load on the other nodes too.
    let mut others = [
        cluster.client(1, &token).await,
        cluster.client(2, &token).await,
    ];
    const N: usize = 1500;
    for k in 0..N {
        let id = format!("w-{k}");
        writer
            .send(json!({"type": "command", "id": id, "command": team(&format!("T-W{k}"))}))
            .await;
    }
    for (j, o) in others.iter_mut().enumerate() {
        for k in 0..100 {
            let id = format!("o{j}-{k}");
            o.send(json!({"type": "command", "id": id, "command": team(&format!("T-O{j}-{k}"))}))
                .await;
        }
    }
    // Take some acks and events, then kill -9 the node in the middle of the stream.
    let mut acked: HashMap<String, Value> = HashMap::new();
    let mut read_before = Vec::new();
    while acked.len() < 40 {
        let m = writer.next().await;
        if m["type"] == "ack" {
            acked.insert(m["id"].as_str().unwrap().to_string(), m["seqs"].clone());
        }
    }
    while read_before.len() < 20 {
        let m = reader.next().await;
        if m["type"] == "event" {
            read_before.push((m["seq"].as_u64().unwrap(), m["event"].to_string()));
        }
    }
    let node0 = cluster.nodes.remove(0);
    node0.kill().await;
    // Whatever else node 0 said before it died.
    while let Some(m) = writer.try_next().await {
        if m["type"] == "ack" {
            acked.insert(m["id"].as_str().unwrap().to_string(), m["seqs"].clone());
        }
    }
    while let Some(m) = reader.try_next().await {
        if m["type"] == "event" {
            read_before.push((m["seq"].as_u64().unwrap(), m["event"].to_string()));
        }
    }
    eprintln!(
        "{} of {N} commands acknowledged by node 0 before it was killed",
        acked.len()
    );
    // The writer goes to node 1 (now nodes[0]) and resends everything unanswered, same ids;
    // the acked ones are resent too: each must be a duplicate with its first seqs.
    let mut writer = cluster.client(0, &token).await;
    for k in 0..N {
        let id = format!("w-{k}");
        writer
            .send(json!({"type": "command", "id": id, "command": team(&format!("T-W{k}"))}))
            .await;
    }
    for k in 0..N {
        let id = format!("w-{k}");
        let r = writer.reply(&id).await;
        assert_eq!(r["type"], "ack", "{r}");
        if let Some(seqs) = acked.get(&id) {
            assert_eq!(r["duplicate"], true, "{id} was acknowledged before: {r}");
            assert_eq!(&r["seqs"], seqs, "{id}");
        }
    }
    for (j, o) in others.iter_mut().enumerate() {
        for k in 0..100 {
            let r = o.reply(&format!("o{j}-{k}")).await;
            assert_eq!(r["type"], "ack", "{r}");
        }
    }
    let log = the_log(&cluster.store).await;
    let last = log.last().unwrap().0;
    assert_eq!(
        log.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>(),
        "gap-free"
    );
    let registered = log
        .iter()
        .filter(|(_, e)| e.contains("\"team_registered\""))
        .filter(|(_, e)| e.contains("\"id\":\"T-W") || e.contains("\"id\":\"T-O"))
        .count();
    assert_eq!(registered, N + 200, "every command exactly once");
    // The reader resumes on node 2 (now nodes[1]) from the last seq it processed.
    let mut reader2 = cluster.client(1, &token).await;
    let resume_from = read_before.last().unwrap().0;
    reader2
        .send(json!({"type": "subscribe", "layers": ["teams"], "resume_from": resume_from}))
        .await;
    let resumed = reader2.next().await;
    assert_eq!(resumed["type"], "resumed", "{resumed}");
    let mut after = Vec::new();
    events_until(&mut reader2, last, &mut after).await;
    let mut whole = read_before.clone();
    whole.extend(after);
    let mut witnessed = Vec::new();
    events_until(&mut witness, last, &mut witnessed).await;
    assert_eq!(
        whole.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        witnessed.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        "no gap, no duplicate: the resumed reader saw what the witness saw"
    );
    assert_eq!(whole, witnessed);
    cluster.drop_schema().await;
}

/// A PostgreSQL of the test's own (initdb in a temporary directory), to stop and start.
struct PrivatePg {
    bin: std::path::PathBuf,
    data: std::path::PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
    as_postgres: bool,
}

impl PrivatePg {
    /// `None` when PostgreSQL's server programs are not installed.
    fn create() -> Option<PrivatePg> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").is_file())?;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        // PostgreSQL refuses to run as root: as the postgres user then.
        let as_postgres = std::process::Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        if as_postgres {
            let status = std::process::Command::new("chown")
                .args(["postgres:"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(status.success());
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let pg = PrivatePg {
            bin,
            data,
            port,
            _dir: dir,
            as_postgres,
        };
        let initdb = pg.bin.join("initdb");
        pg.run(&[
            initdb.to_str().unwrap(),
            "-D",
            pg.data.to_str().unwrap(),
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        pg.start();
        Some(pg)
    }

    fn run(&self, args: &[&str]) {
        let mut cmd = if self.as_postgres {
            let mut c = std::process::Command::new("runuser");
            c.args(["-u", "postgres", "--"]);
            c.args(args);
            c
        } else {
            let mut c = std::process::Command::new(args[0]);
            c.args(&args[1..]);
            c
        };
        // No pipes: the server pg_ctl starts would hold them open, and reading them to their
        // end would wait for it to stop.
        let status = cmd
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .expect("PostgreSQL's programs run");
        assert!(status.success(), "{args:?} failed");
    }

    fn pg_ctl(&self, what: &[&str]) {
        let pg_ctl = self.bin.join("pg_ctl");
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.data.parent().unwrap().display()
        );
        let mut args = vec![
            pg_ctl.to_str().unwrap(),
            "-D",
            self.data.to_str().unwrap(),
            "-o",
            &opts,
            "-w",
            "-l",
        ];
        let log = self.data.parent().unwrap().join("pg.log");
        let log = log.to_str().unwrap().to_string();
        args.push(&log);
        args.extend_from_slice(what);
        self.run(&args);
    }

    fn start(&self) {
        self.pg_ctl(&["start"]);
    }

    fn stop(&self) {
        self.pg_ctl(&["stop", "-m", "fast"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let _ = if self.as_postgres {
            std::process::Command::new("runuser")
                .args(["-u", "postgres", "--"])
                .arg(&pg_ctl)
                .args(["-D", self.data.to_str().unwrap(), "stop", "-m", "immediate"])
                .output()
        } else {
            std::process::Command::new(&pg_ctl)
                .args(["-D", self.data.to_str().unwrap(), "stop", "-m", "immediate"])
                .output()
        };
    }
}

/// Waits (a guard against hangs, not a timing assertion) until `f` holds.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut f: impl FnMut() -> F) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if f().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not before the hang guard"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_seconds_nodes_refuse_writes_then_recover_by_themselves() {
    if !postgres_here("PostgreSQL stopped").await {
        return;
    }
    let Some(pg) = tokio::task::spawn_blocking(PrivatePg::create)
        .await
        .unwrap()
    else {
        assert!(
            std::env::var_os("CI").is_none(),
            "PostgreSQL's server programs (initdb, pg_ctl) are needed"
        );
        eprintln!("SKIPPED: no initdb");
        return;
    };
    let cluster = Cluster::start("outage", 2, &pg.url()).await;
    let token = cluster.token(Role::Dispatcher).await;
    let mut a = cluster.client(0, &token).await;
    let mut watcher = cluster.client(1, &token).await;
    watcher.subscribe(&["teams"], None).await;
    let before = a.command("before", team("T-BEFORE")).await;
    assert_eq!(before["type"], "ack", "{before}");
    assert_eq!(cluster.nodes[0].readyz().await, 200);

    let pg = tokio::task::spawn_blocking(move || {
        pg.stop();
        pg
    })
    .await
    .unwrap();
    // Both nodes: commands refused with a clear error, /readyz 503, reads marked stale.
    let status = watcher.until("status").await;
    assert_eq!(status["writable"], false, "{status}");
    assert_eq!(status["fault"], "database_unreachable", "{status}");
    let refused = a.command("during", team("T-DURING")).await;
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["code"], "unavailable", "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("database_unreachable"),
        "{refused}"
    );
    for n in &cluster.nodes {
        eventually("/readyz 503", || async { n.readyz().await == 503 }).await;
    }
    let (_, head) = cluster.nodes[1].get("/api/v1/vocabulary").await;
    assert!(
        head.contains("crest-stale: database_unreachable"),
        "HTTP reads are marked stale too: {head}"
    );
    let mut late = Client::connect(&cluster.nodes[1].ws()).await;
    // The token cannot be checked without the database: a reader already signed in still reads.
    late.send(json!({"type": "auth", "token": token})).await;
    let m = late.find(|m| m["type"] != "status").await;
    assert_eq!(m["type"], "error", "auth without the database: {m}");
    assert_eq!(m["code"], "store_unavailable", "{m}");
    watcher
        .send(json!({"type": "subscribe", "layers": ["teams"]}))
        .await;
    let snap = watcher.until("snapshot").await;
    assert_eq!(snap["stale"], true, "reads are marked stale");
    assert!(
        snap["layers"]["teams"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == "T-BEFORE"),
        "the last state is still served"
    );

    let pg = tokio::task::spawn_blocking(move || {
        pg.start();
        pg
    })
    .await
    .unwrap();

    // Back by themselves: the same command, resent with its id, is accepted once.
    let status = watcher
        .find(|m| m["type"] == "status" && m["writable"] == true)
        .await;
    assert_eq!(status["writable"], true, "{status}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let accepted = loop {
        let r = a.command("during", team("T-DURING")).await;
        if r["type"] == "ack" {
            break r;
        }
        assert_eq!(r["code"], "unavailable", "{r}");
        assert!(tokio::time::Instant::now() < deadline, "not accepted again");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(accepted["duplicate"], false);
    for n in &cluster.nodes {
        eventually("/readyz 200", || async { n.readyz().await == 200 }).await;
    }
    let (_, head) = cluster.nodes[1].get("/api/v1/vocabulary").await;
    assert!(!head.contains("crest-stale"), "{head}");
    let e = watcher
        .find(|m| m["type"] == "event" && m["event"]["team"]["id"] == "T-DURING")
        .await;
    assert!(e["seq"].as_u64().unwrap() > before["seqs"][0].as_u64().unwrap());
    cluster.drop_schema().await;
    drop(pg);
}
