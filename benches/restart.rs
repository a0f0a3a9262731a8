//! What a restart costs as the log grows (issue 13): a real SQLite log of N events — the 涪口
//! district's import, then team position updates from every team with a position (one command and
//! one idempotency record each, as tablets send them), a hazard reported every 500 commands and
//! marked a false alarm 250 commands later — written the way the engine writes it (each command decided by
//! `State::handle`, encoded by `codec`, group-committed 512 commands a transaction, a snapshot
//! every 10,000 events as `crest serve` takes by default). Then the real `crest` binary is
//! started on it in its own process, three ways:
//!
//! - `snapshot+tail`: as the log was left (the newest snapshot up to 10,000 events behind, as
//!   after a crash);
//! - `snapshot`: after a clean stop (the stop writes a snapshot at the end of the log);
//! - `no snapshot`: the snapshots deleted, so recovery folds the whole log.
//!
//! Each start is timed from spawn to the first `/readyz` 200, and its resident memory is read
//! from `/proc/<pid>/status` (VmRSS once ready, VmHWM the peak). Bytes on disk are the database
//! file plus its WAL, per event.
//!
//! `CREST_RESTART_EVENTS=100000,1000000 cargo bench --bench restart`
//! (default 100,000; `CREST_RESTART_RUNS` starts per way, default 3, medians reported;
//! `CREST_RESTART_KEEP=1` keeps each log as `$TMPDIR/crest-restart-<N>.db` and starts from it
//! when it is there, for a before/after comparison on the same log; `CREST_BIN` names another
//! `crest` binary to start).

use crest::domain::commands::UpdatePosition;
use crest::domain::{Actor, Command, Context, Event, LonLat, State};
use crest::spatial::LeveeIndex;
use crest::store::{CommandRecord, SqliteStore, Store, StoredEvent};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

const START_MS: i64 = 1_780_000_000_000;
const BATCH: usize = 512;
const SNAPSHOT_EVERY: u64 = 10_000;

/// Decides and writes the log; returns the number of events.
async fn fill(path: &Path, target: u64) -> u64 {
    let store = SqliteStore::open(path).await.expect("store opens");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou");
    let map = crest::map::load(&dir).expect("the district map loads");
    let system = Actor::system();
    let mut state = State::default();
    let mut levees = LeveeIndex::default();
    let mut seq = 0u64;
    let mut since_snapshot = 0u64;
    let mut batch: Vec<CommandRecord> = Vec::with_capacity(BATCH);
    let mut now = START_MS;

    // One command through the decider, as the engine does it; its record joins the batch.
    let run = |state: &mut State,
               levees: &mut LeveeIndex,
               seq: &mut u64,
               batch: &mut Vec<CommandRecord>,
               id: String,
               actor: &Actor,
               cmd: &Command,
               now: i64| {
        let ctx = Context {
            now_ms: now,
            actor,
            snapper: &*levees,
        };
        let events = state.handle(cmd, &ctx).expect("accepted");
        let created = events
            .iter()
            .find_map(|e| e.created_id().map(str::to_string));
        let stored = events
            .iter()
            .map(|e| {
                if let Event::LeveeDefined { levee } = e {
                    levees.insert(levee.clone());
                }
                *seq += 1;
                StoredEvent {
                    seq: *seq,
                    time_ms: now,
                    command_id: id.clone(),
                    actor: actor.name.clone(),
                    format: crest::codec::EVENT_FORMAT,
                    body: crest::codec::encode_event(e),
                }
            })
            .collect();
        batch.push(CommandRecord {
            request_hash: crest::codec::request_hash(cmd),
            command_id: id,
            created_id: created,
            events: stored,
        });
    };

    async fn flush(
        store: &SqliteStore,
        state: &State,
        seq: u64,
        batch: &mut Vec<CommandRecord>,
        since_snapshot: &mut u64,
    ) {
        let n: usize = batch.iter().map(|r| r.events.len()).sum();
        store.append(batch).await.expect("written");
        batch.clear();
        *since_snapshot += n as u64;
        if *since_snapshot >= SNAPSHOT_EVERY {
            store
                .save_snapshot(crest::codec::encode_snapshot(seq, state))
                .await
                .expect("snapshot written");
            *since_snapshot = 0;
        }
    }

    for mc in &map.commands {
        run(
            &mut state,
            &mut levees,
            &mut seq,
            &mut batch,
            mc.command_id.clone(),
            &system,
            &mc.command,
            now,
        );
    }
    flush(&store, &state, seq, &mut batch, &mut since_snapshot).await;
    let teams: Vec<(String, LonLat, Actor)> = state
        .teams
        .values()
        .filter_map(|t| {
            let actor = Actor {
                role: crest::domain::Role::Field,
                team: Some(t.id.clone()),
                grid_worker: None,
                name: format!("tablet {}", t.id),
            };
            Some((t.id.to_string(), t.fix?.position, actor))
        })
        .collect();
    assert!(!teams.is_empty(), "the district has teams with positions");
    let dispatcher = Actor {
        name: "desk 1".into(),
        ..Actor::system()
    };
    let mut open_hazards = std::collections::VecDeque::new();
    let mut i = 0usize;
    while seq < target {
        now += 100;
        let (id, p, actor) = &teams[i % teams.len()];
        if i % 500 == 499 {
            let cmd: Command = serde_json::from_value(serde_json::json!({
                "type": "report_hazard",
                "kind": "piping",
                "severity": "major",
                "position": [p.lon(), p.lat()],
                "description": "管涌，出水浑浊",
            }))
            .expect("a hazard report");
            let before = batch.len();
            run(
                &mut state,
                &mut levees,
                &mut seq,
                &mut batch,
                format!("{}-h{i}", id.to_lowercase()),
                actor,
                &cmd,
                now,
            );
            if let Some(hz) = batch[before].created_id.clone() {
                open_hazards.push_back((i, hz));
            }
        } else if let Some((at, hz)) = open_hazards.front().cloned()
            && i >= at + 250
        {
            open_hazards.pop_front();
            let cmd: Command = serde_json::from_value(serde_json::json!({
                "type": "mark_false_alarm",
                "hazard_id": hz,
                "reason": "复查为雨水渗出，非管涌",
            }))
            .expect("an elimination");
            run(
                &mut state,
                &mut levees,
                &mut seq,
                &mut batch,
                format!("desk1-{i}"),
                &dispatcher,
                &cmd,
                now,
            );
        } else {
            let step = ((i / teams.len()) % 200) as f64 * 1e-5;
            let cmd = Command::UpdatePosition(UpdatePosition {
                team_id: id.as_str().into(),
                position: LonLat::new(p.lon() + step, p.lat()).unwrap(),
                time_ms: None,
                accuracy_m: serde_json::from_value(serde_json::json!(4.7)).expect("accuracy"),
            });
            run(
                &mut state,
                &mut levees,
                &mut seq,
                &mut batch,
                format!("{}-{i:07}", id.to_lowercase()),
                actor,
                &cmd,
                now,
            );
        }
        i += 1;
        if batch.len() == BATCH {
            flush(&store, &state, seq, &mut batch, &mut since_snapshot).await;
        }
    }
    flush(&store, &state, seq, &mut batch, &mut since_snapshot).await;
    seq
}

fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn ready(addr: SocketAddr) -> bool {
    let Ok(mut s) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    if s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    s.read_exact(&mut head).is_ok() && &head[9..12] == b"200"
}

fn status_kb(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

struct Start {
    ready: Duration,
    rss_kb: u64,
    hwm_kb: u64,
}

/// Starts `crest serve` on the log, waits for `/readyz`, reads its memory, stops it (SIGTERM:
/// the clean stop, which writes a snapshot when it replayed events).
fn start(db: &Path) -> Start {
    let addr = free_port();
    let t = Instant::now();
    let bin = std::env::var("CREST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_crest").into());
    let mut child: Child = Process::new(bin)
        .args(["serve", "--listen", &addr.to_string(), "--db"])
        .arg(db)
        .args(["--web", "/nonexistent"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("crest starts");
    while !ready(addr) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("crest exited: {status}");
        }
        assert!(t.elapsed() < Duration::from_secs(300), "not ready in 300 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let ready = t.elapsed();
    let pid = child.id();
    let s = Start {
        ready,
        rss_kb: status_kb(pid, "VmRSS:"),
        hwm_kb: status_kb(pid, "VmHWM:"),
    };
    let _ = Process::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let _ = child.wait();
    s
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

fn disk(db: &Path) -> u64 {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    file_size(db) + file_size(&PathBuf::from(wal))
}

/// Copies the database (after a checkpoint, so the file alone is the log).
fn copy_db(from: &Path, to: &Path) {
    std::fs::copy(from, to).expect("copied");
}

fn sql(db: &Path, statement: &'static str) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
            .await
            .unwrap();
        sqlx::raw_sql(statement).execute(&mut c).await.unwrap();
        c.close().await.unwrap();
    });
}

/// The fold of the whole log in this process (`engine::fold_until`, what `crest sitrep` and a
/// recovery without a snapshot do), and its two halves: reading the pages, and decoding and
/// applying the bodies already read.
fn fold_in_process(db: &Path, events: u64) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = SqliteStore::open(db).await.unwrap();
        let t = Instant::now();
        let folded = crest::engine::fold_until(&store, crest::engine::Until::End)
            .await
            .unwrap();
        let fold = t.elapsed().as_secs_f64();
        assert_eq!(folded.seq, events);
        let t = Instant::now();
        let mut pages = Vec::new();
        let mut after = 0;
        loop {
            let page = store.events_after(after, 10_000).await.unwrap();
            let Some(last) = page.last() else { break };
            after = last.seq;
            pages.push(page);
        }
        let read = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let mut state = State::default();
        for e in pages.iter().flatten() {
            state.apply(&crest::codec::decode_event(e).unwrap().event);
        }
        let decode = t.elapsed().as_secs_f64();
        let mut decode_only = Vec::new();
        let t = Instant::now();
        for e in pages.iter().flatten().take(200_000) {
            decode_only.push(crest::codec::decode_event(e).unwrap().event);
        }
        let n = decode_only.len() as f64;
        let decode_only = t.elapsed().as_secs_f64() / n;
        let recover_t = Instant::now();
        let r = crest::engine::recover(&store).await.unwrap();
        let recover = recover_t.elapsed().as_secs_f64();
        let ev = events as f64;
        eprintln!(
            "in process: fold_until {:.0} events/s ({:.2} us/event): reading {:.2} us, decode+apply {:.2} us (decode alone {:.2} us); recover {:.3} s ({} replayed)",
            ev / fold,
            fold / ev * 1e6,
            read / ev * 1e6,
            decode / ev * 1e6,
            decode_only * 1e6,
            recover,
            r.replayed
        );
    });
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let sizes: Vec<u64> = std::env::var("CREST_RESTART_EVENTS")
        .unwrap_or_else(|_| "100000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .replace('_', "")
                .parse()
                .expect("a number of events")
        })
        .collect();
    let runs: usize = std::env::var("CREST_RESTART_RUNS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let dir =
        tempfile::tempdir_in(std::env::var("CREST_RESTART_DIR").unwrap_or("/tmp".into())).unwrap();
    println!(
        "{:>10} | {:>10} | {:>14} | {:>10} | {:>10} | {:>10}",
        "events", "bytes/ev", "start", "ready ms", "RSS MiB", "peak MiB"
    );
    let mut json = Vec::new();
    for &n in &sizes {
        let master = dir.path().join(format!("log-{n}.db"));
        let kept = std::env::temp_dir().join(format!("crest-restart-{n}.db"));
        let keep = std::env::var_os("CREST_RESTART_KEEP").is_some();
        let t = Instant::now();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let events = if keep && kept.exists() {
            // The log a previous run kept (the same one, for a before/after comparison).
            std::fs::copy(&kept, &master).expect("copied");
            rt.block_on(async {
                SqliteStore::open(&master)
                    .await
                    .unwrap()
                    .last_seq()
                    .await
                    .unwrap()
            })
        } else {
            rt.block_on(fill(&master, n))
        };
        drop(rt);
        let fill_s = t.elapsed().as_secs_f64();
        let bytes = disk(&master);
        sql(&master, "PRAGMA wal_checkpoint(TRUNCATE)");
        let bytes_checkpointed = disk(&master);
        eprintln!(
            "{events} events written in {fill_s:.1} s ({:.0}/s); {bytes} bytes on disk with the WAL, {bytes_checkpointed} after a checkpoint",
            events as f64 / fill_s
        );
        let per_event = bytes_checkpointed as f64 / events as f64;
        fold_in_process(&master, events);
        for way in ["snapshot+tail", "snapshot", "no snapshot"] {
            let (mut ready, mut rss, mut hwm) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..runs {
                let db = dir.path().join("run.db");
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = db.as_os_str().to_owned();
                    p.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(p));
                }
                copy_db(&master, &db);
                match way {
                    "snapshot" => {
                        // A clean stop writes the snapshot at the end of the log.
                        start(&db);
                    }
                    "no snapshot" => sql(&db, "DELETE FROM snapshots"),
                    _ => {}
                }
                let s = start(&db);
                ready.push(s.ready.as_secs_f64() * 1e3);
                rss.push(s.rss_kb as f64 / 1024.0);
                hwm.push(s.hwm_kb as f64 / 1024.0);
            }
            let (r, m, p) = (median(ready), median(rss), median(hwm));
            println!(
                "{events:>10} | {per_event:>10.1} | {way:>14} | {r:>10.0} | {m:>10.1} | {p:>10.1}"
            );
            json.push(format!(
                "{{\"events\":{events},\"bytes_per_event\":{per_event:.1},\"start\":\"{way}\",\"ready_ms\":{r:.1},\"rss_mib\":{m:.1},\"peak_mib\":{p:.1}}}"
            ));
        }
        if keep {
            std::fs::rename(&master, &kept).expect("kept");
            eprintln!("the log is kept in {}", kept.display());
        } else {
            let _ = std::fs::remove_file(&master);
        }
    }
    println!("[{}]", json.join(","));
}
