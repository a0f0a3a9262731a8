//! `crest scenario check` and `crest replay`: a scenario run headless, with progress on the
//! terminal, the final sitrep, and the expected outcomes checked.

use super::{ControlState, Durability, Pace, Progress, outcomes};
use crate::domain::vocabulary::{Lang, SitrepFormat};
use crate::scenario::{self, Problem, Scenario};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// What `crest replay` was asked.
pub struct ReplayOptions {
    pub file: PathBuf,
    pub pace: Pace,
    pub json: bool,
    pub lang: Lang,
    /// Keep the drill's log in this SQLite file (a new file; else a temporary one).
    pub db: Option<PathBuf>,
    /// No progress lines.
    pub quiet: bool,
}

/// Exit status of a replay whose run went through but whose outcomes differ.
pub const EXIT_MISMATCH: i32 = 1;
/// Exit status for a scenario file with mistakes (or a log that cannot be opened).
pub const EXIT_BAD_FILE: i32 = 2;

/// The problems of a file, one per line, for the terminal.
pub fn problems_text(file: &Path, problems: &[Problem]) -> String {
    let mut out = format!(
        "{}: {} problem{}\n",
        file.display(),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    for p in problems {
        out.push_str(&format!("  {p}\n"));
    }
    out
}

/// `crest scenario check FILE`: the exit status, with what it found on stdout/stderr.
pub fn check(file: &Path) -> i32 {
    match scenario::load(file) {
        Ok((s, _)) => {
            println!("{}", summary(file, &s));
            0
        }
        Err(problems) => {
            eprint!("{}", problems_text(file, &problems));
            EXIT_BAD_FILE
        }
    }
}

fn summary(file: &Path, s: &Scenario) -> String {
    format!(
        "{}: ok — {:?}, {} from {}, {} commands, {} cues, {} expected outcomes",
        file.display(),
        s.title,
        crate::scenario::time::format_relative(s.duration_ms).trim_start_matches('+'),
        s.describe_time(0),
        s.steps.len(),
        s.cues.len(),
        s.expectations.len()
    )
}

/// `crest replay`: runs the scenario in a fresh exercise space and reports. Returns the exit
/// status.
pub async fn replay(o: &ReplayOptions) -> Result<i32, Box<dyn std::error::Error>> {
    let (scenario, map) = match scenario::load(&o.file) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprint!("{}", problems_text(&o.file, &problems));
            return Ok(EXIT_BAD_FILE);
        }
    };
    let temp;
    let db = match &o.db {
        Some(db) => {
            if db.exists() {
                eprintln!(
                    "{} exists: a replay writes a new log (remove it, or name another file)",
                    db.display()
                );
                return Ok(EXIT_BAD_FILE);
            }
            db.clone()
        }
        None => {
            temp = TempDir::new()?;
            temp.0.join("replay.db")
        }
    };
    if !o.quiet {
        eprintln!("{}", summary(&o.file, &scenario));
    }
    let started = Instant::now();
    let space = super::open_space(&db, Durability::Relaxed, &scenario, &map, 1024).await?;
    let (_control, rx) = tokio::sync::watch::channel(ControlState {
        pace: o.pace,
        paused: false,
        ended: false,
    });
    let quiet = o.quiet;
    let report = super::run(&space, &scenario, rx, true, |p: &Progress| {
        if !quiet {
            progress_line(&scenario, p, started);
        }
    })
    .await?;
    let elapsed = started.elapsed();
    let last_seq = space.engine.stop().await.unwrap_or(0);
    let state = space.live.read().state.clone();
    let raised = outcomes::alerts_raised(space.store.as_ref()).await?;
    let verdicts = outcomes::evaluate(&scenario.expectations, &state, &raised, &report.refs);
    // The report describes the end of the scenario.
    let header = crate::read::sitrep_markdown::Header {
        district: district_name(&map),
        at_ms: scenario.start_ms + scenario.duration_ms,
        seq: last_seq,
    };
    let sitrep = if o.json {
        let r = crate::read::sitrep_markdown::report(&state, &header, SitrepFormat::Json, o.lang);
        format!("{r}\n")
    } else {
        crate::read::sitrep_markdown::markdown(&state, &header, o.lang)
    };
    print!("{sitrep}");
    std::io::stdout().flush()?;
    let mut status = 0;
    let mut err = std::io::stderr().lock();
    writeln!(
        err,
        "replayed {} commands and {} ticks into {} events in {:.2} s ({:.0} events/s)",
        report.steps,
        report.ticks,
        last_seq,
        elapsed.as_secs_f64(),
        last_seq as f64 / elapsed.as_secs_f64().max(1e-9)
    )?;
    if !report.unexpected.is_empty() {
        status = EXIT_MISMATCH;
        writeln!(
            err,
            "{} scripted commands did not do what the scenario says:",
            report.unexpected.len()
        )?;
        for u in &report.unexpected {
            writeln!(err, "  {u}")?;
        }
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    writeln!(
        err,
        "expected outcomes: {} of {} hold",
        verdicts.len() - failed,
        verdicts.len()
    )?;
    for v in &verdicts {
        let mark = if v.passed { "ok  " } else { "FAIL" };
        writeln!(
            err,
            "  {mark} {} (line {}): expected {}, got {}",
            v.name, v.line, v.expected, v.actual
        )?;
    }
    if failed > 0 {
        status = EXIT_MISMATCH;
    }
    let cues = super::review::cue_report(space.store.as_ref()).await?;
    if !cues.is_empty() {
        writeln!(err, "cues ({} given):", cues.len())?;
        for c in &cues {
            let answer = match (c.response_min, c.on_time) {
                (Some(m), true) => format!("answered after {m:.0} min, in time"),
                (Some(m), false) => format!("answered after {m:.0} min, LATE"),
                (None, _) => "NOT ANSWERED".to_string(),
            };
            let deadline = (c.deadline - c.issued_at) / 60_000;
            writeln!(
                err,
                "  {} at {}: {answer} (deadline {deadline} min)",
                c.cue_id,
                scenario.describe_time(c.issued_at - scenario.start_ms)
            )?;
        }
    }
    if let Some(db) = &o.db {
        writeln!(err, "the drill's log is kept in {}", db.display())?;
    }
    Ok(status)
}

fn progress_line(s: &Scenario, p: &Progress, started: Instant) {
    let pct = if s.duration_ms > 0 {
        100 * p.at_ms / s.duration_ms
    } else {
        100
    };
    eprintln!(
        "[{:>3}%] {}  {}/{} commands  seq {}  {:.1} s",
        pct,
        s.describe_time(p.at_ms),
        p.steps_done,
        p.steps_total,
        p.seq,
        started.elapsed().as_secs_f64()
    );
}

fn district_name(map: &crate::map::DistrictMap) -> Option<String> {
    let layer = map.layer("district")?;
    let collection: serde_json::Value = serde_json::from_slice(&layer.body).ok()?;
    Some(
        collection["features"][0]["properties"]["name"]
            .as_str()?
            .to_string(),
    )
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> std::io::Result<TempDir> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("crest-replay-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(TempDir(dir))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
