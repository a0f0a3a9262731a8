//! From a file's fields to a [`Scenario`]: times parsed, actors and ids checked against the map,
//! every command parsed by the protocol's own parser, and the generated injects (gauge series,
//! patrols, moves, cues) expanded into the commands they stand for.

use super::file::{self, Parsed};
use super::time::{offset_of_rfc3339, parse_duration, parse_offset, parse_relative};
use super::{Check, CueSpec, Expectation, MAX_STEPS, Problem, Scenario, Step, Subject};
use crate::domain::events::Layer;
use crate::domain::geo::LonLat;
use crate::domain::ids::{GridWorkerId, TeamId};
use crate::domain::{Actor, Role, State};
use crate::map::DistrictMap;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};

/// The actor name of scripted commands (what the log's `actor` says).
pub const SCENARIO_ACTOR: &str = "scenario";
/// The actor name of a simulated trainee's responses to cues.
pub const SIMULATED_TRAINEE: &str = "simulated trainee";

/// The state of a map alone: what the scenario's ids are checked against.
pub fn map_state(map: &DistrictMap) -> State {
    let mut state = State::default();
    let mut levees = crate::spatial::LeveeIndex::default();
    let system = Actor::system();
    for mc in &map.commands {
        let ctx = crate::domain::Context {
            now_ms: 0,
            actor: &system,
            snapper: &levees,
        };
        if let Ok(events) = state.handle(&mc.command, &ctx) {
            for e in events {
                if let crate::domain::events::Event::LeveeDefined { levee } = e {
                    levees.insert(levee);
                }
            }
        }
    }
    state
}

struct Builder<'a> {
    parsed: &'a Parsed,
    map: State,
    problems: Vec<Problem>,
    steps: Vec<(i64, usize, Step)>,
    cues: Vec<CueSpec>,
    /// Teams the roster registers (besides the map's).
    roster_teams: BTreeSet<String>,
    /// Ref names bound so far, with the time they are bound at.
    refs: HashMap<String, i64>,
    duration_ms: i64,
}

impl Builder<'_> {
    fn problem(&mut self, line: usize, field: String, message: impl Into<String>) {
        let line = self.parsed.line_of_field(line, &field);
        self.problems.push(Problem {
            line: Some(line),
            field,
            message: message.into(),
        });
    }

    fn push(&mut self, at_ms: i64, step: Step) {
        let order = self.steps.len();
        self.steps.push((at_ms, order, step));
    }

    fn team_known(&self, id: &str) -> bool {
        self.map.teams.contains_key(id) || self.roster_teams.contains(id)
    }

    /// `dispatcher`, `field:<team>` or `grid_worker:<id>`, named `name` in the log.
    fn actor(&mut self, text: &str, name: &str, line: usize, field: String) -> Option<Actor> {
        let mut actor = Actor {
            role: Role::Dispatcher,
            team: None,
            grid_worker: None,
            name: name.to_string(),
        };
        match text.split_once(':') {
            None if text == "dispatcher" => {}
            Some(("field", team)) if self.team_known(team) => {
                actor.role = Role::Field;
                actor.team = Some(TeamId::from(team));
            }
            Some(("field", team)) => {
                self.problem(
                    line,
                    field,
                    format!("team {team} is neither on the map nor in the roster"),
                );
                return None;
            }
            Some(("grid_worker", id)) => {
                if !self
                    .map
                    .grid_cells
                    .values()
                    .any(|c| c.grid_worker_id.as_ref().is_some_and(|g| g.as_str() == id))
                {
                    self.problem(
                        line,
                        field,
                        format!("no grid cell of the map has grid worker {id}"),
                    );
                    return None;
                }
                actor.role = Role::GridWorker;
                actor.grid_worker = Some(GridWorkerId::from(id));
            }
            _ => {
                self.problem(
                    line,
                    field,
                    format!(
                        "{text:?} is not an actor: dispatcher, field:<team> or grid_worker:<id>"
                    ),
                );
                return None;
            }
        }
        Some(actor)
    }

    fn time(&mut self, text: &str, line: usize, field: String) -> Option<i64> {
        match parse_relative(text) {
            Ok(ms) if ms > self.duration_ms => {
                self.problem(
                    line,
                    field,
                    format!("{text} is after the end of the scenario"),
                );
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                self.problem(line, field, e);
                None
            }
        }
    }

    fn duration(&mut self, text: &str, min_ms: i64, line: usize, field: String) -> Option<i64> {
        match parse_duration(text) {
            Ok(ms) if ms < min_ms => {
                self.problem(
                    line,
                    field,
                    format!("{text} is shorter than {} s", min_ms / 1000),
                );
                None
            }
            Ok(ms) => Some(ms),
            Err(e) => {
                self.problem(line, field, e);
                None
            }
        }
    }

    /// Checks a command object with the protocol's parser (refs replaced by a placeholder id)
    /// and that every `$name` it uses is bound by an earlier inject.
    fn command(
        &mut self,
        table: &toml::Table,
        at_ms: i64,
        line: usize,
        field: &str,
    ) -> Option<Value> {
        let value = match serde_json::to_value(table) {
            Ok(v) => v,
            Err(e) => {
                self.problem(
                    line,
                    field.to_string(),
                    format!("cannot be read as a command: {e}"),
                );
                return None;
            }
        };
        let value = match self.places(&value) {
            Ok(v) => v,
            Err(e) => {
                self.problem(line, field.to_string(), e);
                return None;
            }
        };
        let mut used = Vec::new();
        let probe = substitute(&value, &mut |name| {
            used.push(name.to_string());
            Some("REF-1".to_string())
        });
        for name in used {
            match self.refs.get(&name) {
                Some(&bound) if bound <= at_ms => {}
                Some(_) => self.problem(
                    line,
                    field.to_string(),
                    format!("${name} is bound by an inject later than this one"),
                ),
                None => self.problem(
                    line,
                    field.to_string(),
                    format!("${name} names no inject (give one `ref = \"{name}\"`)"),
                ),
            }
        }
        let message = json!({"type": "command", "id": "check", "command": probe}).to_string();
        if let Err(e) = crate::protocol::parse_client_message(&message) {
            let code: &str = e.code.into();
            // The protocol names the field inside the command (`command.severity: …`).
            let inner = e
                .message
                .split_once(": ")
                .and_then(|(path, _)| path.strip_prefix("command"))
                .filter(|rest| !rest.contains(' '))
                .unwrap_or("");
            self.problem(
                line,
                format!("{field}{inner}"),
                format!("{code}: {}", e.message),
            );
            return None;
        }
        Some(value)
    }

    /// Replaces every place written by levee and chainage (`{ levee = "XJ-E-NZ", chainage_m =
    /// 48200 }`) by the `[lon, lat]` of that point of the levee's line.
    fn places(&self, value: &Value) -> Result<Value, String> {
        Ok(match value {
            Value::Object(m)
                if m.len() == 2 && m.contains_key("levee") && m.contains_key("chainage_m") =>
            {
                let id = m["levee"].as_str().unwrap_or_default();
                let levee = self
                    .map
                    .levees
                    .get(id)
                    .ok_or_else(|| format!("levee {id} is not on the map"))?;
                let c = m["chainage_m"]
                    .as_f64()
                    .ok_or("chainage_m must be a number")?;
                let p = levee.point_at(c).ok_or_else(|| {
                    format!(
                        "{c} m is outside levee {id} ({:.0}–{:.0} m)",
                        levee.start_chainage_m(),
                        levee.end_chainage_m()
                    )
                })?;
                let round = |v: f64| (v * 1e6).round() / 1e6;
                json!([round(p.lon()), round(p.lat())])
            }
            Value::Object(m) => Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), self.places(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
            Value::Array(a) => {
                Value::Array(a.iter().map(|v| self.places(v)).collect::<Result<_, _>>()?)
            }
            other => other.clone(),
        })
    }

    fn bind(
        &mut self,
        name: &Option<String>,
        at_ms: i64,
        line: usize,
        field: String,
    ) -> Option<String> {
        let name = name.as_ref()?;
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
        {
            self.problem(
                line,
                field,
                format!("ref {name:?} must be letters, digits, - or _"),
            );
            return None;
        }
        if self.refs.insert(name.clone(), at_ms).is_some() {
            self.problem(
                line,
                field,
                format!("ref {name:?} is already used by another inject"),
            );
        }
        Some(name.clone())
    }
}

/// Replaces every string `$name` in `value` by what `lookup` gives for `name`.
pub fn substitute(value: &Value, lookup: &mut dyn FnMut(&str) -> Option<String>) -> Value {
    match value {
        Value::String(s) => match s.strip_prefix('$') {
            Some(name) if !name.is_empty() => {
                lookup(name).map_or_else(|| value.clone(), Value::String)
            }
            _ => value.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, lookup)).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), substitute(v, lookup)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Builds the scenario: checks every field against the map and expands the timeline. Every
/// problem found is reported, not only the first.
pub fn build(parsed: &Parsed, map: &DistrictMap) -> Result<Scenario, Vec<Problem>> {
    let doc = &parsed.doc;
    let mut b = Builder {
        parsed,
        map: map_state(map),
        problems: Vec::new(),
        steps: Vec::new(),
        cues: Vec::new(),
        roster_teams: BTreeSet::new(),
        refs: HashMap::new(),
        duration_ms: 0,
    };
    let start_line = parsed.line_of_key("start");
    let start_ms = match crate::clock::parse_rfc3339(&doc.start) {
        Ok(ms) => ms,
        Err(e) => {
            b.problem(start_line, "start".into(), e);
            0
        }
    };
    let offset_min = match &doc.time_zone {
        Some(tz) => parse_offset(tz).unwrap_or_else(|e| {
            b.problem(parsed.line_of_key("time_zone"), "time_zone".into(), e);
            0
        }),
        None => offset_of_rfc3339(&doc.start).unwrap_or(0),
    };
    b.duration_ms = b
        .duration(
            &doc.duration,
            60_000,
            parsed.line_of_key("duration"),
            "duration".into(),
        )
        .unwrap_or(0);
    let tick_every_ms = match &doc.tick_every {
        Some(t) => {
            let line = parsed.line_of_key("tick_every");
            match b.duration(t, 1_000, line, "tick_every".into()) {
                Some(ms) if ms > 3_600_000 => {
                    b.problem(line, "tick_every".into(), "at most 1h");
                    60_000
                }
                Some(ms) => ms,
                None => 60_000,
            }
        }
        None => 60_000,
    };
    if doc.title.trim().is_empty() || doc.title.len() > 200 {
        b.problem(
            parsed.line_of_key("title"),
            "title".into(),
            "1 to 200 bytes",
        );
    }
    roster(&mut b);
    for (i, spanned) in doc.injects.iter().enumerate() {
        inject(&mut b, i, spanned);
    }
    let expectations = expectations(&mut b);
    if b.steps.len() > MAX_STEPS {
        b.problem(
            1,
            String::new(),
            format!(
                "the timeline expands to {} commands, more than {MAX_STEPS}",
                b.steps.len()
            ),
        );
    }
    if !b.problems.is_empty() {
        b.problems.sort_by_key(|p| p.line);
        return Err(b.problems);
    }
    let mut steps = std::mem::take(&mut b.steps);
    steps.sort_by_key(|(at, order, _)| (*at, *order));
    Ok(Scenario {
        title: doc.title.trim().to_string(),
        description: doc.description.trim().to_string(),
        map: doc.map.clone().into(),
        start_ms,
        offset_min,
        duration_ms: b.duration_ms,
        tick_every_ms,
        steps: steps.into_iter().map(|(_, _, s)| s).collect(),
        cues: b.cues,
        expectations,
    })
}

fn roster(b: &mut Builder<'_>) {
    let doc = &b.parsed.doc;
    for (i, team) in doc.roster.teams.iter().enumerate() {
        let line = b.parsed.line_at(team.span().start);
        let field = format!("roster.teams[{i}]");
        let mut table = team.get_ref().clone();
        table.insert("type".into(), toml::Value::String("register_team".into()));
        let Some(command) = b.command(&table, 0, line, &field) else {
            continue;
        };
        let id = command["id"].as_str().unwrap_or_default().to_string();
        if b.team_known(&id) {
            b.problem(
                line,
                field,
                format!("team {id} is already on the map or in the roster"),
            );
            continue;
        }
        b.roster_teams.insert(id.clone());
        b.push(
            0,
            Step {
                at_ms: 0,
                line,
                label: format!("register {id}"),
                actor: scripted(),
                command_id: format!("roster:team:{id}"),
                command,
                binds: None,
                refused: None,
            },
        );
    }
    for (i, team) in doc.roster.on_duty.iter().enumerate() {
        let line = b.parsed.line_at(team.span().start);
        let id = team.get_ref();
        if !b.team_known(id) {
            b.problem(
                line,
                format!("roster.on_duty[{i}]"),
                format!("team {id} is neither on the map nor in the roster"),
            );
            continue;
        }
        if b.map.teams.get(id.as_str()).is_some_and(|t| t.on_duty) {
            continue; // the map has it on duty already
        }
        b.push(
            0,
            Step {
                at_ms: 0,
                line,
                label: format!("on duty {id}"),
                actor: scripted(),
                command_id: format!("roster:duty:{id}"),
                command: json!({"type": "set_team_duty", "team_id": id, "on_duty": true}),
                binds: None,
                refused: None,
            },
        );
    }
}

fn scripted() -> Actor {
    Actor {
        role: Role::Dispatcher,
        team: None,
        grid_worker: None,
        name: SCENARIO_ACTOR.into(),
    }
}

fn inject(b: &mut Builder<'_>, i: usize, spanned: &toml::Spanned<file::Inject>) {
    let line = b.parsed.line_at(spanned.span().start);
    let inj = spanned.get_ref();
    let f = |name: &str| format!("inject[{i}].{name}");
    let kinds = [
        inj.command.is_some(),
        inj.note.is_some(),
        inj.cue.is_some(),
        inj.readings.is_some(),
        inj.patrol.is_some(),
        inj.movement.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        b.problem(
            line,
            format!("inject[{i}]"),
            "an inject holds exactly one of command, note, cue, readings, patrol, move",
        );
        return;
    }
    let Some(at) = b.time(&inj.at, line, f("at")) else {
        return;
    };
    let actor_text = inj.actor.clone();
    let id = |k: usize| format!("scenario:{i}:{k}");
    if let Some(table) = &inj.command {
        let actor_text = actor_text.as_deref().unwrap_or("dispatcher");
        let Some(actor) = b.actor(actor_text, SCENARIO_ACTOR, line, f("as")) else {
            return;
        };
        let command = b.command(table, at, line, &f("command"));
        // Bound even when the command has a mistake: one mistake, one problem.
        let binds = b.bind(&inj.name, at, line, f("ref"));
        let Some(command) = command else {
            return;
        };
        let label = command["type"].as_str().unwrap_or("command").to_string();
        b.push(
            at,
            Step {
                at_ms: at,
                line,
                label,
                actor,
                command_id: id(0),
                command,
                binds,
                refused: inj.refused.clone(),
            },
        );
        return;
    }
    if inj.name.is_some() || inj.refused.is_some() {
        b.problem(line, f("ref"), "ref and refused belong to command injects");
    }
    if let Some(note) = &inj.note {
        b.push(
            at,
            Step {
                at_ms: at,
                line,
                label: "note".into(),
                actor: scripted(),
                command_id: id(0),
                command: json!({"type": "record_note", "text": note.text, "text_en": note.text_en}),
                binds: None,
                refused: None,
            },
        );
    } else if let Some(cue) = &inj.cue {
        expand_cue(b, i, line, at, cue);
    } else if let Some(r) = &inj.readings {
        expand_readings(b, i, line, at, r);
    } else if let Some(p) = &inj.patrol {
        expand_patrol(b, i, line, at, p, actor_text.as_deref());
    } else if let Some(m) = &inj.movement {
        expand_move(b, i, line, at, m, actor_text.as_deref());
    }
}

fn expand_cue(b: &mut Builder<'_>, i: usize, line: usize, at: i64, cue: &file::Cue) {
    let f = |name: &str| format!("inject[{i}].cue.{name}");
    let Some(deadline) = b.duration(&cue.deadline, 60_000, line, f("deadline")) else {
        return;
    };
    let fields: serde_json::Map<String, Value> =
        cue.expect_fields
            .iter()
            .map(|(k, v)| {
                let text = match v {
                    toml::Value::String(s) => s.clone(),
                    other => serde_json::to_value(other)
                        .map_or_else(|_| String::new(), |v| v.to_string()),
                };
                (k.clone(), Value::String(text))
            })
            .collect();
    let command = json!({
        "type": "issue_cue", "cue_id": cue.id, "to": cue.to, "text": cue.text,
        "text_en": cue.text_en, "deadline_min": (deadline + 59_999) / 60_000,
        "expect_event": cue.expect_event, "expect_fields": fields,
    });
    let message = json!({"type": "command", "id": "check", "command": command}).to_string();
    if let Err(e) = crate::protocol::parse_client_message(&message) {
        b.problem(line, format!("inject[{i}].cue"), e.message.clone());
        return;
    }
    if b.cues.iter().any(|c| c.id == cue.id) {
        b.problem(line, f("id"), format!("cue {} is already used", cue.id));
    }
    b.cues.push(CueSpec {
        id: cue.id.clone(),
        at_ms: at,
        deadline_ms: at + deadline,
        line,
        text: cue.text.clone(),
    });
    b.push(
        at,
        Step {
            at_ms: at,
            line,
            label: format!("cue {}", cue.id),
            actor: scripted(),
            command_id: format!("scenario:{i}:0"),
            command,
            binds: None,
            refused: None,
        },
    );
    let Some(response) = &cue.response else {
        if cue.respond_after.is_some() || cue.respond_as.is_some() {
            b.problem(
                line,
                f("respond_after"),
                "respond_after and respond_as need a response",
            );
        }
        return;
    };
    let after = match &cue.respond_after {
        Some(t) => b.duration(t, 0, line, f("respond_after")).unwrap_or(0),
        None => 0,
    };
    let when = at + after;
    if when > b.duration_ms {
        b.problem(
            line,
            f("respond_after"),
            "the response would come after the end of the scenario",
        );
        return;
    }
    let as_text = cue
        .respond_as
        .clone()
        .unwrap_or_else(|| "dispatcher".into());
    let Some(actor) = b.actor(&as_text, SIMULATED_TRAINEE, line, f("respond_as")) else {
        return;
    };
    let Some(command) = b.command(response, when, line, &f("response")) else {
        return;
    };
    let binds = b.bind(&cue.response_name, when, line, f("response_ref"));
    b.push(
        when,
        Step {
            at_ms: when,
            line,
            label: format!("response to {}", cue.id),
            actor,
            command_id: format!("scenario:{i}:1"),
            command,
            binds,
            refused: None,
        },
    );
}

fn expand_readings(b: &mut Builder<'_>, i: usize, line: usize, at: i64, r: &file::Readings) {
    let f = |name: &str| format!("inject[{i}].readings.{name}");
    if !b.map.gauges.contains_key(r.gauge.as_str()) {
        b.problem(
            line,
            f("gauge"),
            format!("gauge {} is not on the map", r.gauge),
        );
        return;
    }
    let (Some(every), Some(until)) = (
        b.duration(&r.every, 60_000, line, f("every")),
        b.time(&r.until, line, f("until")),
    ) else {
        return;
    };
    let mut points = Vec::new();
    for (k, (t, level)) in r.levels.iter().enumerate() {
        let Some(t) = b.time(t, line, format!("inject[{i}].readings.levels[{k}]")) else {
            return;
        };
        if !(-100.0..=9_000.0).contains(level) {
            b.problem(
                line,
                format!("inject[{i}].readings.levels[{k}]"),
                "a level is -100 to 9000 m",
            );
            return;
        }
        if points.last().is_some_and(|&(last, _)| t <= last) {
            b.problem(
                line,
                format!("inject[{i}].readings.levels[{k}]"),
                "levels must be in time order",
            );
            return;
        }
        points.push((t, *level));
    }
    if points.len() < 2 || points[0].0 > at || points[points.len() - 1].0 < until || until < at {
        b.problem(line, f("levels"), "give at least two levels, the first at or before `at` and the last at or after `until`");
        return;
    }
    let mut t = at;
    let mut k = 0;
    while t <= until {
        let level = interpolate(&points, t);
        b.push(
            t,
            Step {
                at_ms: t,
                line,
                label: format!("reading {}", r.gauge),
                actor: scripted(),
                command_id: format!("scenario:{i}:{k}"),
                command: json!({"type": "record_reading", "gauge_id": r.gauge, "level_m": level}),
                binds: None,
                refused: None,
            },
        );
        t += every;
        k += 1;
    }
}

/// The level at `t`, linear between the points around it, to the centimetre.
fn interpolate(points: &[(i64, f64)], t: i64) -> f64 {
    let k = points
        .partition_point(|&(pt, _)| pt <= t)
        .max(1)
        .min(points.len() - 1);
    let ((t0, l0), (t1, l1)) = (points[k - 1], points[k]);
    let level = l0 + (l1 - l0) * ((t - t0) as f64 / (t1 - t0) as f64);
    (level * 100.0).round() / 100.0
}

fn field_actor(
    b: &mut Builder<'_>,
    team: &str,
    text: Option<&str>,
    line: usize,
    field: String,
) -> Option<Actor> {
    let default = format!("field:{team}");
    b.actor(text.unwrap_or(&default), SCENARIO_ACTOR, line, field)
}

fn expand_patrol(
    b: &mut Builder<'_>,
    i: usize,
    line: usize,
    at: i64,
    p: &file::Patrol,
    actor: Option<&str>,
) {
    let f = |name: &str| format!("inject[{i}].patrol.{name}");
    if !b.team_known(&p.team) {
        b.problem(
            line,
            f("team"),
            format!("team {} is neither on the map nor in the roster", p.team),
        );
        return;
    }
    let Some(levee) = b.map.levees.get(p.levee.as_str()).cloned() else {
        b.problem(
            line,
            f("levee"),
            format!("levee {} is not on the map", p.levee),
        );
        return;
    };
    let (lo, hi) = (levee.start_chainage_m(), levee.end_chainage_m());
    for (name, c) in [("from_m", p.from_m), ("to_m", p.to_m)] {
        if !(lo..=hi).contains(&c) {
            b.problem(
                line,
                f(name),
                format!("{c} m is outside levee {} ({lo:.0}–{hi:.0} m)", p.levee),
            );
            return;
        }
    }
    if (p.to_m - p.from_m).abs() < 10.0 {
        b.problem(line, f("to_m"), "a patrolled stretch is at least 10 m long");
        return;
    }
    if !(0.5..=10.0).contains(&p.speed_kmh) {
        b.problem(line, f("speed_kmh"), "a patrol walks at 0.5 to 10 km/h");
        return;
    }
    let fix_every = match &p.fix_every {
        Some(t) => b.duration(t, 10_000, line, f("fix_every")),
        None => Some(300_000),
    };
    let (Some(fix_every), Some(until)) = (fix_every, b.time(&p.until, line, f("until"))) else {
        return;
    };
    if until <= at {
        b.problem(line, f("until"), "until must be after at");
        return;
    }
    let Some(actor) = field_actor(b, &p.team, actor, line, format!("inject[{i}].as")) else {
        return;
    };
    let length = (p.to_m - p.from_m).abs();
    let speed = p.speed_kmh / 3.6; // m/s
    let (mut t, mut k) = (at, 0);
    while t <= until {
        // Back and forth: the distance walked folded onto the stretch.
        let walked = speed * ((t - at) as f64 / 1000.0);
        let lap = walked % (2.0 * length);
        let along = if lap <= length {
            lap
        } else {
            2.0 * length - lap
        };
        let chainage = if p.to_m >= p.from_m {
            p.from_m + along
        } else {
            p.from_m - along
        };
        if let Some(point) = levee.point_at(chainage) {
            b.push(
                t,
                position_step(i, k, t, line, &p.team, point, actor.clone(), "patrol"),
            );
        }
        t += fix_every;
        k += 1;
    }
}

#[allow(clippy::too_many_arguments)]
fn position_step(
    i: usize,
    k: usize,
    t: i64,
    line: usize,
    team: &str,
    p: LonLat,
    actor: Actor,
    what: &str,
) -> Step {
    let round = |v: f64| (v * 1e6).round() / 1e6;
    Step {
        at_ms: t,
        line,
        label: format!("{what} {team}"),
        actor,
        command_id: format!("scenario:{i}:{k}"),
        command: json!({"type": "update_position", "team_id": team,
                        "position": [round(p.lon()), round(p.lat())]}),
        binds: None,
        refused: None,
    }
}

fn expand_move(
    b: &mut Builder<'_>,
    i: usize,
    line: usize,
    at: i64,
    m: &file::Move,
    actor: Option<&str>,
) {
    let f = |name: &str| format!("inject[{i}].move.{name}");
    if !b.team_known(&m.team) {
        b.problem(
            line,
            f("team"),
            format!("team {} is neither on the map nor in the roster", m.team),
        );
        return;
    }
    let mut route = Vec::new();
    for (k, [lon, lat]) in m.route.iter().enumerate() {
        match LonLat::new(*lon, *lat) {
            Ok(p) => route.push(p),
            Err(e) => {
                b.problem(line, format!("inject[{i}].move.route[{k}]"), e.to_string());
                return;
            }
        }
    }
    if route.is_empty() {
        b.problem(line, f("route"), "a route has at least one point");
        return;
    }
    if !(1.0..=120.0).contains(&m.speed_kmh) {
        b.problem(line, f("speed_kmh"), "a team moves at 1 to 120 km/h");
        return;
    }
    let fix_every = match &m.fix_every {
        Some(t) => b.duration(t, 10_000, line, f("fix_every")),
        None => Some(120_000),
    };
    let Some(fix_every) = fix_every else {
        return;
    };
    let Some(actor) = field_actor(b, &m.team, actor, line, format!("inject[{i}].as")) else {
        return;
    };
    let speed = m.speed_kmh / 3.6;
    let legs: Vec<f64> = route.windows(2).map(|w| w[0].distance_m(w[1])).collect();
    let total: f64 = legs.iter().sum();
    let (mut t, mut k) = (at, 0);
    loop {
        let walked = speed * ((t - at) as f64 / 1000.0);
        let point = point_along(&route, &legs, walked.min(total));
        if t > b.duration_ms {
            break;
        }
        b.push(
            t,
            position_step(i, k, t, line, &m.team, point, actor.clone(), "move"),
        );
        if walked >= total {
            break;
        }
        t += fix_every;
        k += 1;
    }
}

/// The point `d` metres along a route (legs in metres), linear in lon/lat within a leg.
fn point_along(route: &[LonLat], legs: &[f64], d: f64) -> LonLat {
    let mut left = d;
    for (w, &len) in route.windows(2).zip(legs) {
        if left <= len && len > 0.0 {
            let f = left / len;
            let lon = w[0].lon() + (w[1].lon() - w[0].lon()) * f;
            let lat = w[0].lat() + (w[1].lat() - w[0].lat()) * f;
            return LonLat::new(lon, lat).unwrap_or(w[1]);
        }
        left -= len;
    }
    route[route.len() - 1]
}

fn expectations(b: &mut Builder<'_>) -> Vec<Expectation> {
    let mut out = Vec::new();
    for (i, spanned) in b.parsed.doc.expects.iter().enumerate() {
        let line = b.parsed.line_at(spanned.span().start);
        let e = spanned.get_ref();
        let f = |name: &str| format!("expect[{i}].{name}");
        let layer = |b: &mut Builder<'_>, name: &str, field: String| match Layer::parse(name) {
            Some(l) => Some(l),
            None => {
                b.problem(line, field, format!("{name:?} is not a layer"));
                None
            }
        };
        let subjects = [
            e.sitrep.is_some(),
            e.entity.is_some(),
            e.every.is_some(),
            e.alerts_raised.is_some(),
        ];
        if subjects.iter().filter(|s| **s).count() != 1 {
            b.problem(
                line,
                format!("expect[{i}]"),
                "an expectation names exactly one of sitrep, entity, every, alerts_raised",
            );
            continue;
        }
        let path = || e.path.clone().unwrap_or_default();
        let subject = if let Some(p) = &e.sitrep {
            Subject::Sitrep { path: p.clone() }
        } else if let Some(entity) = &e.entity {
            let Some((l, id)) = entity.split_once(':') else {
                b.problem(line, f("entity"), "write layer:id, e.g. incidents:$breach");
                continue;
            };
            let Some(layer) = layer(b, l, f("entity")) else {
                continue;
            };
            if let Some(name) = id.strip_prefix('$')
                && !b.refs.contains_key(name)
            {
                b.problem(line, f("entity"), format!("${name} names no inject"));
            }
            Subject::Entity {
                layer,
                id: id.to_string(),
                path: path(),
            }
        } else if let Some(l) = &e.every {
            let Some(layer) = layer(b, l, f("every")) else {
                continue;
            };
            Subject::Every {
                layer,
                path: path(),
            }
        } else {
            Subject::AlertsRaised {
                kind: e.alerts_raised.clone().unwrap_or_default(),
                subject: e.subject.clone(),
            }
        };
        let checks = [
            e.equals.is_some(),
            e.at_least.is_some() || e.at_most.is_some(),
            e.one_of.is_some(),
        ];
        if checks.iter().filter(|c| **c).count() != 1 {
            b.problem(line, format!("expect[{i}]"), "an expectation has exactly one check: equals (with an optional tolerance), at_least and/or at_most, or one_of");
            continue;
        }
        let json = |v: &toml::Value| serde_json::to_value(v).unwrap_or(Value::Null);
        let check = if let Some(v) = &e.equals {
            Check::Equals {
                value: json(v),
                tolerance: e.tolerance.unwrap_or(0.0).abs(),
            }
        } else if let Some(list) = &e.one_of {
            Check::OneOf(list.iter().map(json).collect())
        } else {
            match (e.at_least, e.at_most) {
                (Some(lo), Some(hi)) => Check::Between(lo, hi),
                (Some(lo), None) => Check::AtLeast(lo),
                (None, Some(hi)) => Check::AtMost(hi),
                (None, None) => unreachable!("checked above"),
            }
        };
        if e.tolerance.is_some() && e.equals.is_none() {
            b.problem(line, f("tolerance"), "tolerance goes with equals");
        }
        out.push(Expectation {
            name: e.name.clone(),
            line,
            subject,
            check,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_are_interpolated_to_the_centimetre() {
        let points = [(0, 30.0), (100, 31.0), (200, 30.5)];
        assert_eq!(interpolate(&points, 0), 30.0);
        assert_eq!(interpolate(&points, 50), 30.5);
        assert_eq!(interpolate(&points, 150), 30.75);
        assert_eq!(interpolate(&points, 200), 30.5);
    }

    #[test]
    fn refs_are_replaced_where_they_are_whole_strings() {
        let v = json!({"hazard_id": "$a", "note": "costs $5", "list": ["$a", "$b"]});
        let out = substitute(&v, &mut |n| (n == "a").then(|| "HZ-7".to_string()));
        assert_eq!(
            out,
            json!({"hazard_id": "HZ-7", "note": "costs $5", "list": ["HZ-7", "$b"]})
        );
    }
}
