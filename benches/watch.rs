//! What watching the levees adds to a position update: snapping the fix to the levee, recording
//! the patrol points the walk passed, and evaluating the gap alerts of the sections it touched.
//! 1,000 teams walk a 60 km levee divided into 62 sections (1 km, 20 m overlap, points every
//! 250 m) with patrols required (警戒); the same world without sections is the baseline. Also the
//! cost of one clock tick over that world.
//!
//! `cargo bench --bench watch -- --warm-up-time 1 --measurement-time 3`

use crest::domain::commands::*;
use crest::domain::{Actor, Command, Context, LonLat, State};
use crest::spatial::LeveeIndex;
use criterion::Criterion;
use serde_json::json;
use std::hint::black_box;

const TEAMS: usize = 1_000;
const LEVEE_M: f64 = 60_000.0;
const M_PER_DEG_LAT: f64 = 111_194.9;

/// A point of the levee at `chainage` metres: due north from (113.0, 27.2).
fn at(chainage: f64) -> LonLat {
    LonLat::new(113.0, 27.2 + chainage / M_PER_DEG_LAT).unwrap()
}

fn command(v: serde_json::Value) -> Command {
    serde_json::from_value(v).unwrap()
}

struct World {
    state: State,
    levees: LeveeIndex,
    actor: Actor,
    now: i64,
    /// Each team's chainage.
    walked: Vec<f64>,
    next: usize,
}

impl World {
    fn run(&mut self, cmd: &Command) {
        let ctx = Context {
            now_ms: self.now,
            actor: &self.actor,
            snapper: &self.levees,
        };
        let events = self.state.handle(cmd, &ctx).unwrap();
        for e in &events {
            if let crest::domain::Event::LeveeDefined { levee } = e {
                self.levees.insert(levee.clone());
            }
        }
    }

    fn new(with_sections: bool) -> World {
        let mut w = World {
            state: State::default(),
            levees: LeveeIndex::default(),
            actor: Actor::system(),
            now: 1_000_000,
            walked: Vec::new(),
            next: 0,
        };
        let line: Vec<[f64; 2]> = (0..=12)
            .map(|i| {
                let p = at(LEVEE_M * f64::from(i) / 12.0);
                [p.lon(), p.lat()]
            })
            .collect();
        w.run(&command(
            json!({"type": "define_levee", "id": "XJ", "name": "湘江大堤",
                               "line": line, "riverside": "left"}),
        ));
        w.run(&command(json!({"type": "define_gauge", "id": "G", "name": "g", "position": [113.01, 27.3],
                               "datum": "吴淞", "levee_ids": ["XJ"],
                               "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}})));
        if with_sections {
            let mut from = 0.0;
            let mut i = 0;
            while from < LEVEE_M - 20.0 {
                let to = (from + 1_000.0).min(LEVEE_M);
                let mut points = Vec::new();
                let mut c = from;
                let mut k = 0;
                while c < to {
                    points.push(json!({"id": format!("P{i}-{k}"), "chainage": c}));
                    c += 250.0;
                    k += 1;
                }
                points.push(json!({"id": format!("P{i}-{k}"), "chainage": to}));
                w.run(&command(
                    json!({"type": "define_patrol_section", "id": format!("PS-{i}"),
                                       "levee_id": "XJ", "from": from, "to": to, "points": points}),
                ));
                from = to - 20.0;
                i += 1;
            }
        }
        for t in 0..TEAMS {
            let c = LEVEE_M * t as f64 / TEAMS as f64;
            let p = at(c);
            w.run(&command(
                json!({"type": "register_team", "id": format!("T-{t}"), "name": "t",
                                   "kind": "militia", "headcount": 6, "travel_mode": "foot",
                                   "position": [p.lon(), p.lat()]}),
            ));
            w.walked.push(c);
        }
        w.run(&command(
            json!({"type": "record_reading", "gauge_id": "G", "level_m": 40.5}),
        ));
        w
    }

    /// The next team walks 20 m on, 10 s later than the last update.
    fn step(&mut self) {
        let t = self.next;
        self.next = (self.next + 1) % TEAMS;
        self.now += 10;
        let c = (self.walked[t] + 20.0) % LEVEE_M;
        self.walked[t] = c;
        let cmd = Command::UpdatePosition(UpdatePosition {
            team_id: format!("T-{t}").as_str().into(),
            position: at(c),
            time_ms: None,
            accuracy_m: None,
        });
        self.run(&cmd);
    }
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let mut plain = World::new(false);
    c.bench_function("watch/position_update_without_patrol_sections", |b| {
        b.iter(|| plain.step())
    });
    let mut watched = World::new(true);
    println!(
        "sections: {}, teams: {}",
        watched.state.patrol_sections.len(),
        watched.state.teams.len()
    );
    c.bench_function("watch/position_update_1000_teams_60km_patrolled", |b| {
        b.iter(|| watched.step())
    });
    let mut ticking = World::new(true);
    c.bench_function("watch/tick_1000_teams_62_sections", |b| {
        b.iter(|| {
            ticking.now += 10;
            black_box(ticking.state.tick(ticking.now).len())
        })
    });
    c.final_summary();
}
