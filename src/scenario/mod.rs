//! Drill scenarios: the master scenario events list (MSEL) a drill planner writes, in TOML
//! (`docs/scenarios.md`, with its JSON Schema `docs/scenario.schema.json`). This module reads a
//! file, reports every mistake with its line and field, and expands it into the timeline of
//! protocol commands a replay sends — the same commands live clients send, parsed by the same
//! parser. Pure but for [`load`], which reads the file and the map it names.
//!
//! - [`time`]: relative times (`+1d02:30`) and durations (`30m`).
//! - [`file`]: the file's fields, as serde reads them.
//! - [`expand`]: from fields to [`Scenario`]: checks against the map, expands the generated
//!   injects (gauge series, patrols, moves, cues) into commands.

pub mod expand;
pub mod file;
pub mod time;

use crate::domain::Actor;
use crate::domain::events::Layer;
use std::fmt;
use std::path::{Path, PathBuf};

/// A mistake in a scenario file: where (line, field) and what.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// 1-based line of the file, when known.
    pub line: Option<usize>,
    /// The field's path (`inject[12].command.severity`), or empty for the whole file.
    pub field: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.field.is_empty()) {
            (Some(l), false) => write!(f, "line {l}, {}: {}", self.field, self.message),
            (Some(l), true) => write!(f, "line {l}: {}", self.message),
            (None, false) => write!(f, "{}: {}", self.field, self.message),
            (None, true) => f.write_str(&self.message),
        }
    }
}

/// One command of the timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Milliseconds after the start.
    pub at_ms: i64,
    /// The line of the inject it comes from (0 for the roster's generated commands).
    pub line: usize,
    /// What it is, for progress and errors: `report_hazard`, `patrol T-07`, `cue CUE-3` …
    pub label: String,
    pub actor: Actor,
    /// Deterministic: the same file gives the same ids, so a replay gives the same log.
    pub command_id: String,
    /// The command object as a client sends it; strings `$name` are replaced by the id the
    /// inject named `name` created, when it is sent.
    pub command: serde_json::Value,
    /// Remember the id this command creates under this name.
    pub binds: Option<String>,
    /// The error code this command is expected to be refused with (a scripted mistake).
    pub refused: Option<String>,
}

/// A cue for trainees, as the timeline issues it (the `issue_cue` command is a [`Step`] too).
#[derive(Debug, Clone, PartialEq)]
pub struct CueSpec {
    pub id: String,
    pub at_ms: i64,
    pub deadline_ms: i64,
    pub line: usize,
    pub text: String,
}

/// What the end must look like: the scenario's expected outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    pub name: String,
    pub line: usize,
    pub subject: Subject,
    pub check: Check,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// A figure of the sitrep (the `sitrep` query's JSON), by a dotted path.
    Sitrep { path: String },
    /// A field of one entity's view (the `entity` of a layer; `$name` ids allowed).
    Entity {
        layer: Layer,
        id: String,
        path: String,
    },
    /// A field of every entity of a layer: each must pass.
    Every { layer: Layer, path: String },
    /// How many alerts of a kind (and subject) were raised over the whole run.
    AlertsRaised {
        kind: String,
        subject: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    Equals {
        value: serde_json::Value,
        tolerance: f64,
    },
    AtLeast(f64),
    AtMost(f64),
    Between(f64, f64),
    OneOf(Vec<serde_json::Value>),
}

/// A checked scenario, expanded into its timeline.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub title: String,
    pub description: String,
    /// The map directory, resolved against the scenario file's directory by [`load`].
    pub map: PathBuf,
    /// The start, milliseconds since the epoch.
    pub start_ms: i64,
    /// The time zone the scenario is told in, minutes east of UTC.
    pub offset_min: i64,
    pub duration_ms: i64,
    /// How often the engine's clock ticks (what time alone changes: patrol gaps, silent teams).
    pub tick_every_ms: i64,
    /// Every command in time order (the roster's first, at 0); at the same time, file order.
    pub steps: Vec<Step>,
    pub cues: Vec<CueSpec>,
    pub expectations: Vec<Expectation>,
}

impl Scenario {
    /// `+3d23:00 (2019-07-09 23:00)`: a time of the scenario as people say it.
    pub fn describe_time(&self, at_ms: i64) -> String {
        let (y, mo, d, h, mi, _) =
            crate::clock::civil(self.start_ms + at_ms + self.offset_min * 60_000, 0);
        format!(
            "{} ({y}-{mo:02}-{d:02} {h:02}:{mi:02})",
            time::format_relative(at_ms)
        )
    }
}

/// The most commands a scenario may expand to.
pub const MAX_STEPS: usize = 5_000_000;

/// Reads and checks a scenario file, and loads the map it names (relative to the file).
pub fn load(path: &Path) -> Result<(Scenario, crate::map::DistrictMap), Vec<Problem>> {
    let whole = |message: String| {
        vec![Problem {
            line: None,
            field: String::new(),
            message,
        }]
    };
    let text = std::fs::read_to_string(path)
        .map_err(|e| whole(format!("cannot read {}: {e}", path.display())))?;
    let parsed = file::parse(&text)?;
    let dir = path.parent().unwrap_or(Path::new("."));
    let map_dir = dir.join(&parsed.doc.map);
    let map = crate::map::load(&map_dir).map_err(|e| {
        vec![Problem {
            line: Some(parsed.line_of_key("map")),
            field: "map".into(),
            message: format!("the map {} cannot be loaded: {e}", map_dir.display()),
        }]
    })?;
    let mut scenario = expand::build(&parsed, &map)?;
    scenario.map = map_dir;
    Ok((scenario, map))
}
