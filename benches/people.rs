//! What counting people once costs on the 涪口 district (260 grid cells tiling it, ~346,000
//! people): loading the map and importing its grid cells (each one checked against the cells
//! already defined for overlap), issuing an evacuation order (the people at risk of every cell
//! its zone covers, by area share, less those already counted), and a check-in against it
//! matched by village.
//!
//! `cargo bench --bench people -- --warm-up-time 1 --measurement-time 3`

use crest::domain::{Actor, Command, Context, State};
use crest::spatial::LeveeIndex;
use criterion::Criterion;
use serde_json::json;
use std::hint::black_box;
use std::path::Path;

fn district() -> Vec<Command> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou");
    crest::map::load(&dir)
        .expect("the district map loads")
        .commands
        .into_iter()
        .map(|c| c.command)
        .collect()
}

fn import(commands: &[Command]) -> State {
    let actor = Actor::system();
    let mut state = State::default();
    let mut levees = LeveeIndex::default();
    for cmd in commands {
        let ctx = Context {
            now_ms: 1_780_000_000_000,
            actor: &actor,
            snapper: &levees,
        };
        for e in state
            .handle(cmd, &ctx)
            .expect("the map's commands are accepted")
        {
            if let crest::domain::Event::LeveeDefined { levee } = &e {
                levees.insert(levee.clone());
            }
        }
    }
    state
}

fn command(v: serde_json::Value) -> Command {
    serde_json::from_value(v).unwrap()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let commands = district();
    let cells: Vec<Command> = commands
        .iter()
        .filter(|c| matches!(c, Command::DefineGridCell(_)))
        .cloned()
        .collect();
    assert_eq!(cells.len(), 260);
    c.bench_function(
        "people/load the district map (files, checks, commands)",
        |b| b.iter(|| black_box(district().len())),
    );
    c.bench_function("people/import 260 grid cells (overlap checks)", |b| {
        b.iter(|| black_box(import(&cells).grid_cells.len()))
    });
    let state = import(&commands);
    let actor = Actor::system();
    let levees = LeveeIndex::default();
    let ctx = Context {
        now_ms: 1_780_000_000_000,
        actor: &actor,
        snapper: &levees,
    };
    // 将军村's low land: ~2.5 km × 3.3 km behind the 南洲 levee.
    let village = command(
        json!({"type": "issue_evacuation_order", "name": "将军村低洼区",
        "zone": [[113.085, 27.625], [113.11, 27.625], [113.11, 27.655], [113.085, 27.655], [113.085, 27.625]]}),
    );
    // The whole district's box: every cell, most of them whole.
    let everything = command(json!({"type": "issue_evacuation_order", "name": "全区",
        "zone": [[112.9, 27.1], [113.4, 27.1], [113.4, 27.8], [112.9, 27.8], [112.9, 27.1]]}));
    for (name, order) in [("village", &village), ("whole district", &everything)] {
        let events = state.decide(order, &ctx).unwrap();
        if let crest::domain::Event::EvacuationOrdered { order } = &events[0] {
            eprintln!(
                "{name}: {} cells, {} people at risk",
                order.cells.len(),
                order.population
            );
        }
        c.bench_function(&format!("people/issue an order over the {name}"), |b| {
            b.iter(|| black_box(state.decide(order, &ctx).unwrap().len()))
        });
    }
    let mut ordered = state.clone();
    for e in ordered.decide(&village, &ctx).unwrap() {
        ordered.apply(&e);
    }
    let check_in = command(
        json!({"type": "check_in", "shelter_id": "S-NZ-01", "count": 20,
        "allow_over_capacity": true, "from_village": "将军村"}),
    );
    let mut open = ordered.clone();
    for e in open
        .decide(
            &command(json!({"type": "open_shelter", "shelter_id": "S-NZ-01"})),
            &ctx,
        )
        .unwrap()
    {
        open.apply(&e);
    }
    c.bench_function(
        "people/check in 20 against the order, matched by village",
        |b| b.iter(|| black_box(open.decide(&check_in, &ctx).unwrap().len())),
    );
    c.final_summary();
}
