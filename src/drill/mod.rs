//! Drills: an exercise space (its own store, engine, projection and scenario clock), and the run
//! of a scenario through it — the same engine and the same commands live clients send, with the
//! scenario's clock driving the engine's. Used by `crest replay` (headless), by a server hosting
//! drills beside its live space, and by `crest demo`.
//!
//! - [`outcomes`]: the scenario's expected outcomes checked against the end state.
//! - [`headless`]: `crest scenario check` and `crest replay` on a terminal.
//! - [`registry`]: the drills a running server hosts, with their controls.
//! - [`review`]: the after-action review's cue report (each cue answered when, against its
//!   deadline), read from a log.

pub mod headless;
pub mod outcomes;
pub mod registry;
pub mod review;

use crate::clock::Clock;
use crate::domain::error::Bilingual;
use crate::domain::{Actor, Command};
use crate::engine::{self, EngineConfig, EngineHandle, SubmitError};
use crate::map::DistrictMap;
use crate::metrics::Metrics;
use crate::projection::Live;
use crate::protocol::{ClientMessage, parse_client_message};
use crate::scenario::{Scenario, Step, expand::substitute};
use crate::store::{SqliteStore, Store};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::watch;

/// The command id that marks a drill's log (so that reopening the space answers `duplicate`).
pub const EXERCISE_COMMAND_ID: &str = "exercise:start";

/// One space: a log, its engine and projection, on its own clock.
#[derive(Clone)]
pub struct Space {
    pub store: Arc<dyn Store>,
    /// Past states of this space's log (after-action review).
    pub history: Arc<crate::history::History>,
    pub live: Arc<Live>,
    pub engine: EngineHandle,
    pub clock: Clock,
    pub metrics: Arc<Metrics>,
}

#[derive(Debug, thiserror::Error)]
pub enum SpaceError {
    #[error("{0}")]
    Store(#[from] crate::store::StoreError),
    #[error("{0}")]
    Start(String),
}

/// How a drill's log is written. A replay's log can be made again from its scenario, so a
/// headless replay need not pay for `synchronous = FULL`; a live drill keeps the live standard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Every acknowledged command is on disk (as the live space).
    Full,
    /// Committed to SQLite, not synced: a crash may lose the last commands (`synchronous = OFF`).
    Relaxed,
}

/// Opens (or reopens) the exercise space of `scenario` in the SQLite file `db`: marks its log as
/// an exercise and imports the map, at the scenario's start. Reopening an existing drill's log
/// answers those as duplicates and recovers its state; a live log is refused (it is not a
/// drill's).
pub async fn open_space(
    db: &Path,
    durability: Durability,
    scenario: &Scenario,
    map: &DistrictMap,
    hub_capacity: usize,
) -> Result<Space, SpaceError> {
    let store = match durability {
        Durability::Full => SqliteStore::open(db).await?,
        Durability::Relaxed => {
            SqliteStore::open_with(db, |o| o.synchronous(sqlx::sqlite::SqliteSynchronous::Off))
                .await?
        }
    };
    let store: Arc<dyn Store> = Arc::new(store);
    let recovered = engine::recover(store.as_ref()).await?;
    let clock = Clock::scenario(scenario.start_ms);
    let live = Live::new(recovered.state.clone(), recovered.seq, hub_capacity);
    let metrics = Arc::new(Metrics::default());
    let engine = engine::spawn(
        store.clone(),
        live.clone(),
        metrics.clone(),
        recovered,
        EngineConfig {
            snapshot_every: 100_000,
            clock: clock.clone(),
            // The run ticks on the scenario's time, so two replays tick alike.
            tick_every: None,
        },
    );
    let start = Command::StartExercise(crate::domain::commands::StartExercise {
        title: text(&scenario.title)?,
        scenario: text(&scenario.title)?,
    });
    engine
        .submit(Actor::system(), EXERCISE_COMMAND_ID.into(), start)
        .await
        .map_err(|e| SpaceError::Start(format!("this log cannot be a drill's: {e}")))?;
    crate::server::import_map(&engine, &map.commands)
        .await
        .map_err(|e| SpaceError::Start(e.to_string()))?;
    Ok(Space {
        history: Arc::new(crate::history::History::new(store.clone())),
        store,
        live,
        engine,
        clock,
        metrics,
    })
}

fn text(s: &str) -> Result<crate::domain::values::Text, SpaceError> {
    crate::domain::values::Text::new(s).map_err(|e| SpaceError::Start(format!("{e}")))
}

/// How fast a run goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pace {
    /// Scenario milliseconds per real millisecond (60: an hour a minute).
    Speed(f64),
    AsFastAsPossible,
}

/// What a controller asks of a running drill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ControlState {
    pub pace: Pace,
    pub paused: bool,
    pub ended: bool,
}

/// Where a run is, for progress lines and the drill's status.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Progress {
    /// Milliseconds after the scenario's start.
    pub at_ms: i64,
    pub steps_done: usize,
    pub steps_total: usize,
    pub seq: u64,
    pub finished: bool,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    pub steps: usize,
    pub ticks: u64,
    /// Commands answered `duplicate` (a reopened drill's commands already in its log).
    pub duplicates: usize,
    /// Scripted commands refused when they should have been accepted, or accepted when a
    /// refusal was expected: `line N, label: why`.
    pub unexpected: Vec<String>,
    /// The ids the scenario's refs were bound to.
    pub refs: HashMap<String, String>,
    /// True when the controller ended the run before the scenario's end.
    pub ended_early: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("the engine cannot record the drill: {0}")]
    Unavailable(String),
}

/// Sets the scenario clock as the controller's state says: running at its speed, or standing
/// still when paused, ended, or run as fast as possible (then the run moves it step by step).
/// Called when a run starts and by the controller on every change, so a pause stops the clock
/// at once.
pub fn steer_clock(clock: &Clock, c: &ControlState) {
    match c.pace {
        Pace::Speed(speed) if !c.paused && !c.ended => {
            clock.set_speed(speed);
            clock.set_running(true);
        }
        _ => clock.set_running(false),
    }
}

/// Runs `scenario` through `space` from its start to its end (or until the controller ends
/// it), at the pace `control` says. `simulate_trainees`: send the cues' scripted responses (a
/// headless replay, `crest demo`); a drill with people answering the cues leaves it off.
pub async fn run(
    space: &Space,
    scenario: &Scenario,
    mut control: watch::Receiver<ControlState>,
    simulate_trainees: bool,
    mut progress: impl FnMut(&Progress),
) -> Result<RunReport, RunError> {
    let mut report = RunReport::default();
    steer_clock(&space.clock, &control.borrow());
    let total = scenario.steps.len();
    let mut next_tick = scenario.tick_every_ms;
    let mut steps = scenario.steps.iter().peekable();
    let mut done = 0usize;
    let mut last_report_at = i64::MIN;
    let report_every = (scenario.duration_ms / 50).max(60_000);
    let mut flight = InFlight::default();
    loop {
        let next_step = steps.peek().map(|s| s.at_ms);
        let tick_due = next_tick <= scenario.duration_ms;
        let target = match (next_step, tick_due) {
            (Some(s), true) => s.min(next_tick),
            (Some(s), false) => s,
            (None, true) => next_tick,
            (None, false) => break,
        };
        // At a speed, what is sent is seen before the clock runs on; as fast as possible, the
        // run keeps up to `WINDOW` commands in flight and waits only where it must.
        let now = space.clock.now_ms() - scenario.start_ms;
        if target > now && !matches!(control.borrow().pace, Pace::AsFastAsPossible) {
            flight.drain(&mut report).await?;
        }
        if !wait_until(space, scenario, target, &mut control).await {
            report.ended_early = true;
            break;
        }
        if tick_due && next_tick <= target {
            let reply = space
                .engine
                .enqueue_tick(scenario.start_ms + target)
                .await
                .map_err(|e| RunError::Unavailable(e.to_string()))?;
            flight.push(None, reply, &mut report).await?;
            report.ticks += 1;
            next_tick += scenario.tick_every_ms;
            continue;
        }
        let step = steps.next().expect("peeked");
        done += 1;
        if step.actor.name == crate::scenario::expand::SIMULATED_TRAINEE && !simulate_trainees {
            continue;
        }
        send(space, scenario.start_ms, step, &mut flight, &mut report).await?;
        report.steps += 1;
        if target.saturating_sub(last_report_at) >= report_every {
            last_report_at = target;
            progress(&Progress {
                at_ms: target,
                steps_done: done,
                steps_total: total,
                seq: space.live.read().seq,
                finished: false,
            });
        }
    }
    flight.drain(&mut report).await?;
    // The scenario's time stops with its timeline (trainees may still act, at its end).
    space.clock.set_running(false);
    progress(&Progress {
        at_ms: (space.clock.now_ms() - scenario.start_ms).min(scenario.duration_ms),
        steps_done: done,
        steps_total: total,
        seq: space.live.read().seq,
        finished: true,
    });
    Ok(report)
}

/// Most commands a run keeps in flight.
const WINDOW: usize = 4096;

/// Commands (and ticks) queued in the engine whose answers are still to come, oldest first.
#[derive(Default)]
struct InFlight<'a> {
    queue: std::collections::VecDeque<(Option<&'a Step>, engine::Reply)>,
    /// Refs whose creating command is in flight: a step that uses one waits for it.
    binding: std::collections::HashSet<&'a str>,
}

impl<'a> InFlight<'a> {
    async fn push(
        &mut self,
        step: Option<&'a Step>,
        reply: engine::Reply,
        report: &mut RunReport,
    ) -> Result<(), RunError> {
        if let Some(name) = step.and_then(|s| s.binds.as_deref()) {
            self.binding.insert(name);
        }
        self.queue.push_back((step, reply));
        while self.queue.len() > WINDOW {
            self.settle_oldest(report).await?;
        }
        Ok(())
    }

    async fn settle_oldest(&mut self, report: &mut RunReport) -> Result<(), RunError> {
        let Some((step, reply)) = self.queue.pop_front() else {
            return Ok(());
        };
        let result = reply.await.unwrap_or_else(|_| {
            Err(SubmitError::Unavailable(Bilingual::new(
                "engine stopped",
                "引擎已停止",
            )))
        });
        match step {
            Some(step) => {
                if let Some(name) = step.binds.as_deref() {
                    self.binding.remove(name);
                }
                settle(step, result, report)
            }
            None => match result {
                Err(SubmitError::Unavailable(why)) => Err(RunError::Unavailable(why.en)),
                _ => Ok(()),
            },
        }
    }

    async fn drain(&mut self, report: &mut RunReport) -> Result<(), RunError> {
        while !self.queue.is_empty() {
            self.settle_oldest(report).await?;
        }
        Ok(())
    }
}

/// Brings the scenario clock to `target` (ms after the start) at the controller's pace; false
/// when the controller ends the run first.
async fn wait_until(
    space: &Space,
    scenario: &Scenario,
    target: i64,
    control: &mut watch::Receiver<ControlState>,
) -> bool {
    let target_ms = scenario.start_ms + target;
    loop {
        let c = *control.borrow_and_update();
        if c.ended {
            return false;
        }
        let now = space.clock.now_ms();
        if now >= target_ms && !c.paused {
            return true;
        }
        match c.pace {
            _ if c.paused => {
                if control.changed().await.is_err() {
                    return false;
                }
            }
            Pace::AsFastAsPossible => {
                space.clock.advance_to(target_ms);
                return true;
            }
            Pace::Speed(speed) => {
                // The clock runs (`steer_clock`): wait until it reaches the target.
                let wait = ((target_ms - now) as f64 / speed).ceil().max(1.0) as u64;
                tokio::select! {
                    _ = tokio::time::sleep(std::time::Duration::from_millis(wait)) => {
                        if space.clock.now_ms() >= target_ms {
                            return true;
                        }
                    }
                    changed = control.changed() => if changed.is_err() {
                        return false;
                    },
                }
            }
        }
    }
}

/// Sends one step: refs replaced (waiting for the commands that bind them), parsed as a
/// client's command message, queued.
async fn send<'a>(
    space: &Space,
    start_ms: i64,
    step: &'a Step,
    flight: &mut InFlight<'a>,
    report: &mut RunReport,
) -> Result<(), RunError> {
    let mut waits = false;
    substitute(&step.command, &mut |name| {
        waits |= flight.binding.contains(name);
        None
    });
    if waits {
        flight.drain(report).await?;
    }
    let command = substitute(&step.command, &mut |name| report.refs.get(name).cloned());
    let message = json!({"type": "command", "id": step.command_id, "command": command}).to_string();
    let command = match parse_client_message(&message) {
        Ok(ClientMessage::Command(c)) => c.command,
        Ok(_) => unreachable!("a command message"),
        Err(e) => {
            let code: &str = e.code.into();
            report.unexpected.push(format!(
                "line {}, {}: {code}: {}",
                step.line, step.label, e.message
            ));
            return Ok(());
        }
    };
    let reply = space
        .engine
        .enqueue(
            start_ms + step.at_ms,
            step.actor.clone(),
            step.command_id.clone(),
            command,
        )
        .await
        .map_err(|e| RunError::Unavailable(e.to_string()))?;
    flight.push(Some(step), reply, report).await
}

/// What a step's answer means for the run.
fn settle(
    step: &Step,
    result: Result<engine::Outcome, SubmitError>,
    report: &mut RunReport,
) -> Result<(), RunError> {
    let where_ = format!("line {}, {}", step.line, step.label);
    match result {
        Ok(outcome) => {
            if outcome.duplicate {
                report.duplicates += 1;
            }
            if let Some(code) = &step.refused {
                report.unexpected.push(format!(
                    "{where_}: accepted, but the scenario expects {code}"
                ));
            }
            if let (Some(name), Some(id)) = (&step.binds, outcome.created) {
                report.refs.insert(name.clone(), id);
            }
        }
        Err(SubmitError::Unavailable(why)) => return Err(RunError::Unavailable(why.en)),
        Err(e) => {
            let wire = crate::protocol::errors::WireError::from(&e);
            let code: &str = wire.code.into();
            if step.refused.as_deref() != Some(code) {
                report
                    .unexpected
                    .push(format!("{where_}: refused, {code}: {}", wire.message));
            }
        }
    }
    Ok(())
}
