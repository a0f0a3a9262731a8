//! In-process costs of the spatial projection and the domain core.
//! `cargo bench --bench spatial`

use crest::domain::commands::{Command, UpdatePosition};
use crest::domain::ids::{LeveeId, TeamId};
use crest::domain::levee::{Hand, Levee, LeveeSpec};
use crest::domain::model::{Capability, TeamKind, TravelMode};
use crest::domain::values::{PositiveCount, Text};
use crest::domain::{Actor, BBox, Context, LonLat, State};
use crest::spatial::{LeveeIndex, PointIndex, Spatial};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::hint::black_box;

/// Deterministic pseudo-random numbers (no extra dependency).
struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn point(&mut self) -> LonLat {
        LonLat::new(112.97 + self.next() * 0.35, 27.20 + self.next() * 0.57).unwrap()
    }
}

fn points(n: usize) -> Vec<(String, LonLat)> {
    let mut r = Lcg(7);
    (0..n).map(|i| (format!("T-{i}"), r.point())).collect()
}

fn levees(n: usize, vertices: usize) -> LeveeIndex {
    let mut r = Lcg(11);
    let mut index = LeveeIndex::default();
    for i in 0..n {
        let start = r.point();
        let line: Vec<LonLat> = (0..vertices)
            .map(|k| {
                LonLat::new(
                    start.lon() + k as f64 * 0.001,
                    start.lat() + (r.next() - 0.5) * 0.0005,
                )
                .unwrap()
            })
            .collect();
        index.insert(
            Levee::try_from(LeveeSpec {
                id: LeveeId::from(format!("L{i}")),
                name: String::new(),
                river: String::new(),
                bank: String::new(),
                line,
                chainage_origin_m: 0.0,
                riverside: Hand::Left,
                crest_elevation_m: None,
                design_flood_level_m: None,
            })
            .unwrap(),
        );
    }
    index
}

fn bench_points(c: &mut Criterion) {
    let items = points(100_000);
    let index = PointIndex::bulk(items.clone());
    let mut r = Lcg(3);
    c.bench_function("points/nearest_1_of_100k", |b| {
        b.iter(|| black_box(index.nearest(r.point()).next()))
    });
    c.bench_function("points/nearest_10_of_100k", |b| {
        b.iter(|| black_box(index.nearest(r.point()).take(10).count()))
    });
    let bbox = BBox::new(113.10, 27.60, 113.15, 27.65).unwrap();
    c.bench_function("points/bbox_of_100k", |b| {
        b.iter(|| black_box(index.in_bbox(&bbox).len()))
    });
    c.bench_function("points/move_one_of_100k", |b| {
        let mut idx = index.clone();
        let mut i = 0usize;
        b.iter(|| {
            i = (i + 1) % items.len();
            idx.upsert(&items[i].0, r.point());
        })
    });
    c.bench_function("points/bulk_load_100k", |b| {
        b.iter_batched(
            || items.clone(),
            |v| black_box(PointIndex::bulk(v)),
            BatchSize::LargeInput,
        )
    });
}

fn bench_levees(c: &mut Criterion) {
    // 40 levees of 300 vertices (~30 km each): more levee than the district has.
    let index = levees(40, 300);
    let mut r = Lcg(5);
    c.bench_function("levees/snap_40x300", |b| {
        b.iter(|| black_box(index.snap(r.point(), 150.0)))
    });
}

fn bench_domain(c: &mut Criterion) {
    // 10,000 teams: decide + apply of a position update, the hottest command.
    let mut state = State::default();
    let mut r = Lcg(9);
    let actor = Actor::system();
    let levees = LeveeIndex::default();
    for i in 0..10_000 {
        let cmd = Command::RegisterTeam(crest::domain::commands::RegisterTeam {
            id: TeamId::from(format!("T-{i}")),
            name: Text::new(format!("team {i}")).unwrap(),
            kind: TeamKind::Militia,
            headcount: PositiveCount::new(10).unwrap(),
            capabilities: [Capability::Pump].into_iter().collect(),
            travel_mode: TravelMode::Foot,
            position: Some(r.point()),
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
    let spatial = Spatial::build(&state);
    let mut i = 0;
    c.bench_function("domain/update_position_decide_apply", |b| {
        b.iter(|| {
            i = (i + 1) % 10_000;
            let cmd = Command::UpdatePosition(UpdatePosition {
                team_id: TeamId::from(format!("T-{i}")),
                position: r.point(),
                time_ms: None,
                accuracy_m: None,
            });
            let ctx = Context {
                now_ms: 1,
                actor: &actor,
                snapper: &levees,
            };
            for e in state.decide(&cmd, &ctx).unwrap() {
                state.apply(&e);
            }
        })
    });
    c.bench_function("domain/nearest_available_pump_team_of_10k", |b| {
        b.iter(|| {
            black_box(
                spatial
                    .nearest_teams(&state, r.point(), 5, Some(Capability::Pump))
                    .len(),
            )
        })
    });
    let event = crest::domain::Event::TeamMoved {
        team_id: TeamId::from("T-1"),
        fix: crest::domain::model::Fix {
            position: r.point(),
            time_ms: 1,
            accuracy_m: 5.0,
        },
        on_levee: None,
    };
    c.bench_function("protocol/serialize_team_moved", |b| {
        b.iter(|| black_box(serde_json::to_string(&event).unwrap()))
    });
}

criterion_group!(benches, bench_points, bench_levees, bench_domain);
criterion_main!(benches);
