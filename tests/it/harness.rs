//! Test harness: a server per test with its own database, and a small protocol client.
//!
//! The database is a SQLite file in a temporary directory, or, with `CREST_TEST_STORE=postgres`,
//! a schema of its own in the local PostgreSQL ([`pg_url`]): the whole suite runs against both
//! stores (`.ci/run` runs it twice). A test's database *file* path names its schema, so a test
//! that restarts a server on the same file restarts it on the same schema.

use crest::domain::Role;
use crest::server::{Config, Server};
use crest::store::{Location, Store};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for an expected message before declaring the server hung. A guard
/// against hangs, never an assertion about speed.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

pub fn map_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/small-map")
}

/// The PostgreSQL the tests use: `CREST_TEST_PG` (default the local one, trust auth).
pub fn pg_base() -> String {
    std::env::var("CREST_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_string())
}

/// True when the suite runs against PostgreSQL (`CREST_TEST_STORE=postgres`).
pub fn on_postgres() -> bool {
    std::env::var("CREST_TEST_STORE").is_ok_and(|v| v == "postgres" || v == "pg")
}

/// A URL of the test PostgreSQL whose tables live in `schema` (created by the store on open).
pub fn pg_url(schema: &str) -> String {
    let base = pg_base();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A schema name of the test run's own for `key` (a test's database path, or any name).
pub fn schema_for(key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(key.as_bytes());
    let hex: String = digest[..10].iter().map(|b| format!("{b:02x}")).collect();
    format!("crest_t_{hex}")
}

/// Where a test's log lives: the SQLite file `db`, or the PostgreSQL schema it names.
pub fn location(db: &Path) -> Location {
    if on_postgres() {
        Location::Postgres(pg_url(&schema_for(&db.display().to_string())))
    } else {
        Location::Sqlite(db.to_path_buf())
    }
}

/// `location` as `--db` takes it.
pub fn db_arg(db: &Path) -> String {
    match location(db) {
        Location::Sqlite(p) => p.display().to_string(),
        Location::Postgres(url) => url,
    }
}

/// Runs one SQL statement on a test's database, whichever store it is on (a test that reaches
/// under the server: drops snapshots, garbles one); returns the rows it affected.
pub async fn exec_sql(db: &Path, sql: &'static str) -> u64 {
    use sqlx::{ConnectOptions, Connection};
    match location(db) {
        Location::Sqlite(path) => {
            let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .connect()
                .await
                .unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
        Location::Postgres(url) => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::query(sql)
                .execute(&mut conn)
                .await
                .unwrap()
                .rows_affected()
        }
    }
}

/// Limits generous enough that only the test about limits meets them.
pub fn test_config(db: &Path) -> Config {
    let mut c = Config::new(location(db));
    // Beside the test's file on either store (not `crest-drills` in the working directory).
    c.drill_logs = Some(crest::drill::registry::logs_dir_for(&Location::Sqlite(
        db.to_path_buf(),
    )));
    c.map = Some(map_dir());
    c.limits.messages_per_second = 100_000.0;
    c.limits.burst = 100_000.0;
    c
}

pub struct TestServer {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub engine: crest::engine::EngineHandle,
    /// The engine's clock: move it forward to see what time does.
    pub clock: crest::clock::Clock,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    /// A server on a fresh database, with `tweak` applied to the configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("crest.db");
        let mut s = Self::start_on(&db, tweak).await;
        s._dir = Some(dir);
        s
    }

    /// A server on an existing (or new) database file the caller owns.
    pub async fn start_on(db: &Path, tweak: impl FnOnce(&mut Config)) -> TestServer {
        init_test_log();
        let mut config = test_config(db);
        tweak(&mut config);
        Self::start_configured(config).await
    }

    /// A server on exactly `location` (whatever the suite's store), drill logs under `dir`.
    pub async fn start_with_location(location: Location, dir: &Path) -> TestServer {
        init_test_log();
        let mut config = test_config(&dir.join("crest.db"));
        config.db = location;
        Self::start_configured(config).await
    }

    async fn start_configured(config: Config) -> TestServer {
        let clock = config.clock.clone();
        let server = Server::build(config).await.expect("server starts");
        let addr = server.local_addr();
        let store = server.store();
        let engine = server.engine();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            store,
            engine,
            clock,
            stop: Some(stop),
            task: Some(task),
            _dir: None,
        }
    }

    /// Stops the server gracefully and waits until it has (sessions closed, snapshot written).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let done = tokio::time::timeout(HANG_GUARD, t)
                .await
                .expect("server stops before the hang guard");
            done.expect("server task")
                .expect("server ran without I/O errors");
        }
    }

    /// Leaves without the graceful stop (no final snapshot), as a crash would, but keeps the
    /// process: the listener closes, the engine idles.
    pub fn abandon(mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }

    pub async fn token(&self, role: Role, team: Option<&str>) -> String {
        crest::auth::issue(
            self.store.as_ref(),
            role,
            team,
            &format!("{}-{}", role.name(), team.unwrap_or("x")),
        )
        .await
        .unwrap()
        .secret
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Connects and authenticates with a fresh token of `role`.
    pub async fn client(&self, role: Role, team: Option<&str>) -> Client {
        let token = self.token(role, team).await;
        let mut c = Client::connect(&self.ws_url()).await;
        c.auth(&token).await;
        c
    }
}

pub struct Client {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    /// Messages read while looking for another one, in arrival order.
    backlog: VecDeque<Value>,
    pub closed: Option<(u16, String)>,
    counter: u64,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("websocket connects");
        let mut c = Client {
            ws,
            backlog: VecDeque::new(),
            closed: None,
            counter: 0,
        };
        let hello = c.next().await;
        assert_eq!(hello["type"], "hello", "{hello}");
        assert_eq!(hello["protocol"], 1);
        c
    }

    pub async fn auth(&mut self, token: &str) {
        self.send(json!({"type": "auth", "token": token})).await;
        // A `status` may come first (the log is unwritable): it stays for the test to read.
        let m = self.find(|m| m["type"] != "status").await;
        assert_eq!(m["type"], "authenticated", "{m}");
    }

    pub async fn send(&mut self, v: Value) {
        self.send_text(&v.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends without panicking; false once the connection is gone (for tests that kill servers).
    pub async fn try_send(&mut self, v: Value) -> bool {
        self.ws
            .send(Message::Text(v.to_string().into()))
            .await
            .is_ok()
    }

    pub async fn send_raw(&mut self, m: Message) {
        self.ws.send(m).await.expect("send");
    }

    /// The next message from the server (backlog first). Panics if the connection closes.
    pub async fn next(&mut self) -> Value {
        match self.backlog.pop_front() {
            Some(v) => v,
            None => self
                .read()
                .await
                .unwrap_or_else(|| panic!("connection closed: {:?}", self.closed)),
        }
    }

    /// The next message, or `None` once the server closed the connection (close code kept).
    pub async fn try_next(&mut self) -> Option<Value> {
        match self.backlog.pop_front() {
            Some(v) => Some(v),
            None => self.read().await,
        }
    }

    /// Reads one message from the socket, skipping control frames.
    async fn read(&mut self) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(HANG_GUARD, self.ws.next())
                .await
                .expect("server answered before the hang guard");
            match msg {
                Some(Ok(Message::Text(t))) => {
                    return Some(serde_json::from_str(t.as_str()).expect("server sends JSON"));
                }
                Some(Ok(Message::Close(frame))) => {
                    self.closed = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    return None;
                }
                Some(Ok(_)) => continue,
                Some(Err(_)) | None => return None,
            }
        }
    }

    /// The first message matching `pred`, searching the backlog first; messages read past on the
    /// way stay in the backlog in arrival order.
    pub async fn find(&mut self, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.backlog.iter().position(&pred) {
            return self.backlog.remove(i).expect("index from position");
        }
        loop {
            let m = self
                .read()
                .await
                .unwrap_or_else(|| panic!("connection closed: {:?}", self.closed));
            if pred(&m) {
                return m;
            }
            self.backlog.push_back(m);
        }
    }

    /// The first message with `type == t`.
    pub async fn until(&mut self, t: &str) -> Value {
        self.find(|m| m["type"] == t).await
    }

    /// A command or query id unique across every client of the test process (command ids are
    /// one namespace on the server).
    pub fn fresh_id(&mut self, prefix: &str) -> String {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        format!(
            "{prefix}-{}",
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        )
    }

    /// Sends a command and returns its `ack` or `error`.
    pub async fn command(&mut self, id: &str, command: Value) -> Value {
        self.send(json!({"type": "command", "id": id, "command": command}))
            .await;
        self.reply(id).await
    }

    /// The `ack`, `error` or `answer` for request `id`.
    pub async fn reply(&mut self, id: &str) -> Value {
        self.find(|m| {
            matches!(m["type"].as_str(), Some("ack" | "error" | "answer")) && m["id"] == id
        })
        .await
    }

    /// Sends a command that must be accepted; returns the ack.
    pub async fn ok(&mut self, command: Value) -> Value {
        let id = self.fresh_id("c");
        let r = self.command(&id, command.clone()).await;
        assert_eq!(r["type"], "ack", "{command} -> {r}");
        r
    }

    /// Sends a command that must fail with `code`.
    pub async fn refused(&mut self, command: Value, code: &str) -> Value {
        let id = self.fresh_id("c");
        let r = self.command(&id, command.clone()).await;
        assert_eq!(r["type"], "error", "{command} -> {r}");
        assert_eq!(r["code"], code, "{command} -> {r}");
        r
    }

    pub async fn query(&mut self, query: Value) -> Value {
        let id = self.fresh_id("q");
        self.send(json!({"type": "query", "id": id, "query": query}))
            .await;
        let r = self.reply(&id).await;
        assert_eq!(r["type"], "answer", "{r}");
        r["result"].clone()
    }

    /// Subscribes and returns the snapshot (or `resumed`) message.
    pub async fn subscribe(&mut self, layers: &[&str], viewport: Option<[f64; 4]>) -> Value {
        self.send(json!({"type": "subscribe", "layers": layers, "viewport": viewport}))
            .await;
        self.until("snapshot").await
    }

    /// Proves the connection is open and responsive: a ping answered by a pong.
    pub async fn assert_alive(&mut self) {
        self.counter += 1;
        let nonce = self.counter;
        self.send(json!({"type": "ping", "nonce": nonce})).await;
        let pong = self.until("pong").await;
        assert_eq!(pong["nonce"], nonce);
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

/// The sequence numbers of a list of messages.
pub fn seqs(messages: &[Value]) -> Vec<u64> {
    messages
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect()
}

pub fn move_team(team: &str, lon: f64, lat: f64) -> Value {
    json!({"type": "update_position", "team_id": team, "position": [lon, lat]})
}

/// Starts the real `crest` binary (its own process) on `db` with the test map; returns the child
/// and the address it printed.
pub async fn spawn_binary(db: &std::path::Path) -> (tokio::process::Child, String) {
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
        ])
        .arg(db_arg(db))
        .arg("--map")
        .arg(map_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("crest binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = loop {
        let line = tokio::time::timeout(HANG_GUARD, lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("server prints its address");
        if let Some(rest) = line.strip_prefix("Crest listening on http://") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    (child, addr)
}

/// Issues a token with the real binary's CLI, as an operator would.
pub fn cli_token(db: &Path, role: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crest"))
        .args(["token", "issue", "--role", role, "--label", "test", "--db"])
        .arg(db_arg(db))
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// Server logs go to the test output only when `TEST_LOG` is set (e.g. `TEST_LOG=debug cargo
/// test`), so a failing test's output stays readable.
pub fn init_test_log() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if let Ok(filter) = std::env::var("TEST_LOG") {
            let filter = if filter.is_empty() || filter == "1" {
                "info".to_string()
            } else {
                filter
            };
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
    });
}
