//! The drills a running server hosts beside its live space: each in an exercise space of its own
//! (its own SQLite log next to the live one, its own engine, projection and scenario clock), run
//! by a task the controller can pause, resume, speed up and end.

use super::{ControlState, Durability, Pace, Progress, Space};
use crate::scenario::{self, Scenario};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// A drill's id: `DR-<n>`, counted on from the drills' logs already on disk, so an id is never
/// given to two drills of one server (CAP identifiers and logs name it).
pub const DRILL_PREFIX: &str = "DR-";
/// Drills one server hosts at once, at most, ended ones included (their spaces stay for review
/// until removed with `remove`).
pub const MAX_DRILLS: usize = 8;

/// One drill in a running server.
pub struct Drill {
    pub id: String,
    /// The scenario's name (its file name without `.toml`) and title.
    pub scenario_name: String,
    pub scenario: Arc<Scenario>,
    pub space: Space,
    pub db: PathBuf,
    pub control: watch::Sender<ControlState>,
    pub progress: watch::Receiver<Progress>,
    /// Whether the cues' scripted responses are sent (no trainees answering).
    pub simulate_trainees: bool,
}

/// What a drill is doing, as the controller sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrillState {
    Running,
    Paused,
    /// The scenario's timeline is done; the space stays for review and trainees' commands.
    Finished,
    /// The controller ended it: no more injects; the space stays for review.
    Ended,
}

impl Drill {
    pub fn state(&self) -> DrillState {
        let c = *self.control.borrow();
        let p = self.progress.borrow();
        if c.ended {
            DrillState::Ended
        } else if p.finished {
            DrillState::Finished
        } else if c.paused {
            DrillState::Paused
        } else {
            DrillState::Running
        }
    }

    /// The drill as the controller's list shows it.
    pub fn view(&self) -> serde_json::Value {
        let c = *self.control.borrow();
        let p = self.progress.borrow().clone();
        let at_ms = self.space.clock.now_ms();
        serde_json::json!({
            "id": self.id,
            "scenario": self.scenario_name,
            "title": self.scenario.title,
            "state": self.state(),
            "speed": match c.pace { Pace::Speed(s) => serde_json::json!(s), Pace::AsFastAsPossible => serde_json::json!("as_fast_as_possible") },
            "simulate_trainees": self.simulate_trainees,
            "scenario_start_ms": self.scenario.start_ms,
            "scenario_end_ms": self.scenario.start_ms + self.scenario.duration_ms,
            "scenario_time_ms": at_ms,
            "steps_done": p.steps_done,
            "steps_total": p.steps_total,
            "seq": self.space.live.read().seq,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DrillError {
    #[error("no scenario {0:?} in the scenarios directory")]
    NoScenario(String),
    #[error("the scenario has mistakes: {0}")]
    BadScenario(String),
    #[error("this server already hosts {MAX_DRILLS} drills; end and remove one first")]
    TooMany,
    #[error("drill {0} has not ended: end it first")]
    NotEnded(String),
    #[error("the drill's space cannot be opened: {0}")]
    Space(String),
}

/// The drills of one server.
pub struct Drills {
    drills: Mutex<BTreeMap<String, Arc<Drill>>>,
    next: AtomicU64,
    /// Where scenario files are looked up by name.
    scenarios_dir: PathBuf,
    /// Where drills' logs are written.
    logs_dir: PathBuf,
    hub_capacity: usize,
    /// Held while a drill starts: the count and the new id are one step.
    starting: tokio::sync::Mutex<()>,
}

impl Drills {
    pub fn new(scenarios_dir: PathBuf, logs_dir: PathBuf, hub_capacity: usize) -> Drills {
        // Ids go on from the logs of earlier runs (`DR-<n>-<scenario>-<time>.db`).
        let used = std::fs::read_dir(&logs_dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let rest = name.strip_prefix(DRILL_PREFIX)?;
                rest.split('-').next()?.parse::<u64>().ok()
            })
            .max()
            .unwrap_or(0);
        Drills {
            drills: Mutex::new(BTreeMap::new()),
            next: AtomicU64::new(used + 1),
            scenarios_dir,
            logs_dir,
            hub_capacity,
            starting: tokio::sync::Mutex::new(()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Arc<Drill>>> {
        self.drills.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, id: &str) -> Option<Arc<Drill>> {
        self.map().get(id).cloned()
    }

    pub fn list(&self) -> Vec<Arc<Drill>> {
        self.map().values().cloned().collect()
    }

    /// The scenario file a name stands for: only plain names of `.toml` files in the scenarios
    /// directory (never a path a client sends).
    fn scenario_path(&self, name: &str) -> Result<PathBuf, DrillError> {
        let plain = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        let path = self.scenarios_dir.join(format!("{name}.toml"));
        if plain && path.is_file() {
            Ok(path)
        } else {
            Err(DrillError::NoScenario(name.to_string()))
        }
    }

    /// Starts a drill of the scenario `name` at `pace`.
    pub async fn start(
        &self,
        name: &str,
        pace: Pace,
        simulate_trainees: bool,
    ) -> Result<Arc<Drill>, DrillError> {
        let _one_at_a_time = self.starting.lock().await;
        if self.map().len() >= MAX_DRILLS {
            return Err(DrillError::TooMany);
        }
        let path = self.scenario_path(name)?;
        // Reading and expanding a scenario takes a moment (the July flood: ~0.7 s): off the
        // runtime's workers.
        let loaded = tokio::task::spawn_blocking(move || scenario::load(&path))
            .await
            .map_err(|e| DrillError::Space(e.to_string()))?;
        let (scenario, map) = loaded.map_err(|problems| {
            let list: Vec<String> = problems.iter().take(5).map(|p| p.to_string()).collect();
            DrillError::BadScenario(list.join("; "))
        })?;
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{DRILL_PREFIX}{n}");
        std::fs::create_dir_all(&self.logs_dir).map_err(|e| DrillError::Space(e.to_string()))?;
        let stamp = crate::clock::now_ms();
        let db = self.logs_dir.join(format!("{id}-{name}-{stamp}.db"));
        let space = super::open_space(&db, Durability::Full, &scenario, &map, self.hub_capacity)
            .await
            .map_err(|e| DrillError::Space(e.to_string()))?;
        let (control, control_rx) = watch::channel(ControlState {
            pace,
            paused: false,
            ended: false,
        });
        let (progress_tx, progress) = watch::channel(Progress {
            steps_total: scenario.steps.len(),
            ..Progress::default()
        });
        let scenario = Arc::new(scenario);
        let drill = Arc::new(Drill {
            id: id.clone(),
            scenario_name: name.to_string(),
            scenario: scenario.clone(),
            space: space.clone(),
            db,
            control,
            progress,
            simulate_trainees,
        });
        self.map().insert(id.clone(), drill.clone());
        tokio::spawn(async move {
            let result = super::run(&space, &scenario, control_rx, simulate_trainees, |p| {
                progress_tx.send_replace(p.clone());
            })
            .await;
            match result {
                Ok(report) if report.unexpected.is_empty() => {
                    tracing::info!(drill = %id, steps = report.steps, ended_early = report.ended_early, "drill timeline done")
                }
                Ok(report) => tracing::warn!(
                    drill = %id,
                    refused = report.unexpected.len(),
                    first = %report.unexpected[0],
                    "drill timeline done; some scripted commands did not do what the scenario says (trainees may have acted first)"
                ),
                Err(e) => tracing::error!(drill = %id, error = %e, "drill stopped"),
            }
        });
        Ok(drill)
    }

    /// Removes an ended drill: its engine stops (writing a snapshot), its tokens no longer act,
    /// its log stays on disk. `None` when there is no such drill.
    pub async fn remove(&self, id: &str) -> Option<Result<(), DrillError>> {
        let drill = self.get(id)?;
        if !drill.control.borrow().ended {
            return Some(Err(DrillError::NotEnded(id.to_string())));
        }
        self.map().remove(id);
        drill.space.engine.stop().await;
        Some(Ok(()))
    }

    /// Stops every drill's engine (the server is stopping).
    pub async fn stop_all(&self) {
        for d in self.list() {
            d.control.send_modify(|c| c.ended = true);
            d.space.engine.stop().await;
        }
    }
}

/// Where a server keeps its drills' logs by default: a directory next to its SQLite database;
/// `crest-drills` in the working directory with PostgreSQL (`--drill-logs` says otherwise).
pub fn logs_dir_for(db: &crate::store::Location) -> PathBuf {
    let Some(db) = db.sqlite_path() else {
        return PathBuf::from("crest-drills");
    };
    let mut name = db.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".drills");
    db.with_file_name(name)
}
