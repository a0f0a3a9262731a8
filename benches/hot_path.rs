//! The position update's path through one server, step by step, without I/O: parse the client's
//! text, hash the command (idempotency), decide and apply it, encode the event for the log, and
//! fold it into the projection and build the frame every subscriber shares. Prints the heap
//! allocations of each step (counted by an instrumented allocator), then times each with
//! criterion.
//!
//! `cargo bench --bench hot_path -- --warm-up-time 1 --measurement-time 3`

use crest::codec;
use crest::domain::commands::RegisterTeam;
use crest::domain::ids::TeamId;
use crest::domain::model::{Capability, TeamKind, TravelMode};
use crest::domain::values::{PositiveCount, Text};
use crest::domain::{Actor, Command, Context, LonLat, State};
use crest::projection::{Committed, Live};
use crest::protocol::{ClientMessage, parse_client_message};
use crest::spatial::LeveeIndex;
use criterion::Criterion;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::hint::black_box;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const TEAMS: usize = 10_000;

struct World {
    state: State,
    live: std::sync::Arc<Live>,
    /// A dashboard on the whole district: every frame goes to its mailbox (emptied after each
    /// publish, as a connection that keeps up does).
    rx: crest::hub::Feed,
    levees: LeveeIndex,
    actor: Actor,
    seq: u64,
    n: usize,
}

impl World {
    fn new() -> World {
        let mut state = State::default();
        let actor = Actor::system();
        let levees = LeveeIndex::default();
        for i in 0..TEAMS {
            let cmd = Command::RegisterTeam(RegisterTeam {
                id: TeamId::from(format!("T-{i}")),
                name: Text::new(format!("team {i}")).unwrap(),
                kind: TeamKind::Militia,
                headcount: PositiveCount::new(10).unwrap(),
                capabilities: [Capability::Pump].into_iter().collect(),
                travel_mode: TravelMode::Foot,
                position: Some(LonLat::new(113.0 + i as f64 * 1e-5, 27.6).unwrap()),
            });
            let ctx = Context {
                now_ms: 0,
                actor: &actor,
                snapper: &levees,
            };
            for e in state.decide(&cmd, &ctx).unwrap() {
                state.apply(&e);
            }
        }
        let live = Live::new(state.clone(), TEAMS as u64, 4096);
        let ((), rx) = live.read_and_follow(
            crest::hub::Interest {
                layers: vec![crest::domain::events::Layer::Teams],
                viewport: None,
            },
            |_| (),
        );
        World {
            state,
            live,
            rx,
            levees,
            actor,
            seq: TEAMS as u64,
            n: 0,
        }
    }

    /// The text a tablet sends: its team moves a few metres.
    fn next_text(&mut self) -> String {
        self.n = (self.n + 1) % TEAMS;
        let lon = 113.0 + self.n as f64 * 1e-5 + (self.seq % 7) as f64 * 1e-6;
        format!(
            r#"{{"type":"command","id":"tablet-{}-{}","command":{{"type":"update_position","team_id":"T-{}","position":[{lon},27.6001],"accuracy_m":8,"time_ms":1000}}}}"#,
            self.n, self.seq, self.n
        )
    }
}

fn parse(text: &str) -> Command {
    match parse_client_message(text).unwrap() {
        ClientMessage::Command(m) => m.command,
        _ => unreachable!(),
    }
}

/// Decide and apply (the engine's part), then encode for the log.
fn decide_apply(w: &mut World, cmd: &Command) -> Vec<crest::domain::Event> {
    let ctx = Context {
        now_ms: 2000,
        actor: &w.actor,
        snapper: &w.levees,
    };
    let events = w.state.decide(cmd, &ctx).unwrap();
    for e in &events {
        w.state.apply(e);
    }
    events
}

fn publish(w: &mut World, events: Vec<crest::domain::Event>, json: Vec<String>) {
    let committed: Vec<Committed> = events
        .into_iter()
        .zip(json)
        .map(|(event, json)| {
            w.seq += 1;
            Committed {
                seq: w.seq,
                time_ms: 2000,
                event,
                json,
            }
        })
        .collect();
    w.live.publish(&committed);
    while w.rx.try_recv().is_some() {}
}

fn count_allocations(w: &mut World) {
    const N: usize = 1000;
    let mut totals = [0usize; 5];
    for _ in 0..N {
        let text = w.next_text();
        let region = Region::new(GLOBAL);
        let cmd = parse(&text);
        totals[0] += region.change().allocations;
        let region = Region::new(GLOBAL);
        black_box(codec::request_hash(&cmd));
        totals[1] += region.change().allocations;
        let region = Region::new(GLOBAL);
        let events = decide_apply(w, &cmd);
        totals[2] += region.change().allocations;
        let region = Region::new(GLOBAL);
        let json: Vec<String> = events.iter().map(codec::encode_event).collect();
        totals[3] += region.change().allocations;
        let region = Region::new(GLOBAL);
        publish(w, events, json);
        totals[4] += region.change().allocations;
    }
    let names = [
        "parse",
        "request hash",
        "decide + apply",
        "encode for the log",
        "project + build the frame",
    ];
    println!("heap allocations per position update (mean of {N}):");
    for (name, total) in names.iter().zip(totals) {
        println!("  {name:<28} {:>6.1}", total as f64 / N as f64);
    }
    println!(
        "  {:<28} {:>6.1}",
        "total",
        totals.iter().sum::<usize>() as f64 / N as f64
    );
}

fn main() {
    let mut w = World::new();
    count_allocations(&mut w);
    let mut c = Criterion::default().configure_from_args();
    let text = w.next_text();
    c.bench_function("hot_path/parse", |b| b.iter(|| parse(black_box(&text))));
    let cmd = parse(&text);
    c.bench_function("hot_path/request_hash", |b| {
        b.iter(|| codec::request_hash(black_box(&cmd)))
    });
    c.bench_function("hot_path/whole_position_update", |b| {
        b.iter(|| {
            let text = w.next_text();
            let cmd = parse(&text);
            black_box(codec::request_hash(&cmd));
            let events = decide_apply(&mut w, &cmd);
            let json = events.iter().map(codec::encode_event).collect();
            publish(&mut w, events, json);
        })
    });
    c.final_summary();
}
