//! What a past moment costs (the after-action review): a log of the 涪口 district's import followed
//! by 30,000 team position updates (one a second across the district's teams), in a real SQLite
//! file. Measured: the fold from the first event that `crest sitrep --at` does
//! (`engine::fold_until`); `History::state_at` at a moment not asked before in a region already
//! visited (from the nearest checkpoint: at most 1,000 events, plus the spatial indexes); and the
//! same moment asked again (the cache of whole states).
//!
//! `cargo bench --bench history -- --warm-up-time 1 --measurement-time 5`

use crest::domain::commands::UpdatePosition;
use crest::domain::{Actor, Command, Context, LonLat, State};
use crest::history::History;
use crest::protocol::At;
use crest::spatial::LeveeIndex;
use crest::store::{CommandRecord, SqliteStore, Store, StoredEvent};
use criterion::Criterion;
use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

const MOVES: usize = 30_000;
const START_MS: i64 = 1_780_000_000_000;

/// The log: every event of the district's import, then the moves, with their times.
fn log() -> Vec<(i64, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou");
    let commands: Vec<Command> = crest::map::load(&dir)
        .expect("the district map loads")
        .commands
        .into_iter()
        .map(|c| c.command)
        .collect();
    let actor = Actor::system();
    let mut state = State::default();
    let mut levees = LeveeIndex::default();
    let mut out = Vec::new();
    let mut run = |state: &mut State, cmd: &Command, now: i64, out: &mut Vec<(i64, String)>| {
        let ctx = Context {
            now_ms: now,
            actor: &actor,
            snapper: &levees,
        };
        for e in state.handle(cmd, &ctx).expect("accepted") {
            if let crest::domain::Event::LeveeDefined { levee } = &e {
                levees.insert(levee.clone());
            }
            out.push((now, crest::codec::encode_event(&e)));
        }
    };
    for cmd in &commands {
        run(&mut state, cmd, START_MS, &mut out);
    }
    let teams: Vec<(String, LonLat)> = state
        .teams
        .values()
        .filter_map(|t| Some((t.id.to_string(), t.fix?.position)))
        .collect();
    assert!(!teams.is_empty(), "the district has teams with positions");
    for i in 0..MOVES {
        let (id, p) = &teams[i % teams.len()];
        let step = (i / teams.len()) as f64 * 1e-5;
        let cmd = Command::UpdatePosition(UpdatePosition {
            team_id: id.as_str().into(),
            position: LonLat::new(p.lon() + step, p.lat()).unwrap(),
            time_ms: None,
            accuracy_m: None,
        });
        run(&mut state, &cmd, START_MS + 1000 * (i as i64 + 1), &mut out);
    }
    out
}

async fn write(store: &SqliteStore, log: &[(i64, String)]) {
    for (n, chunk) in log.chunks(1_000).enumerate() {
        let first = n * 1_000;
        let events = chunk
            .iter()
            .enumerate()
            .map(|(i, (t, body))| StoredEvent {
                seq: (first + i + 1) as u64,
                time_ms: *t,
                command_id: format!("bench-{n}"),
                actor: "bench".into(),
                format: crest::codec::EVENT_FORMAT,
                body: body.clone(),
            })
            .collect();
        let record = CommandRecord {
            command_id: format!("bench-{n}"),
            request_hash: "bench".into(),
            created_id: None,
            events,
        };
        store.append(&[record]).await.expect("written");
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = log();
    let last = log.len() as u64;
    let store = rt.block_on(async {
        let store = SqliteStore::open(&dir.path().join("history.db"))
            .await
            .unwrap();
        write(&store, &log).await;
        Arc::new(store)
    });
    eprintln!("log: {last} events");
    let mut g = c.benchmark_group("history");
    g.sample_size(10);
    g.bench_function("fold_until_from_seq_0_to_the_end", |b| {
        b.iter(|| {
            rt.block_on(crest::engine::fold_until(
                store.as_ref(),
                crest::engine::Until::End,
            ))
            .unwrap()
            .seq
        })
    });
    let history = History::new(store.clone());
    // Visit the log once: every checkpoint is made.
    rt.block_on(history.state_at(At::Seq(last), last)).unwrap();
    let mut next = 0u64;
    g.bench_function("state_at_a_new_seq_in_a_visited_log", |b| {
        b.iter(|| {
            // A different seq every time (never a cached whole state), spread over the log.
            next = (next + 7_919) % last;
            rt.block_on(history.state_at(At::Seq(black_box(next)), last))
                .unwrap()
                .projection
                .seq
        })
    });
    g.bench_function("state_at_the_same_seq_again", |b| {
        b.iter(|| {
            rt.block_on(history.state_at(At::Seq(black_box(last / 2)), last))
                .unwrap()
                .projection
                .seq
        })
    });
    g.finish();
    c.final_summary();
}
