//! Issue 10 §3: a scenario replayed through the same engine on its own clock gives the same log
//! and the same sitrep every time, at any speed; a scenario with a mistake is refused with its
//! line; the expected outcomes are checked.

use crest::drill::{self, ControlState, Durability, Pace};
use crest::scenario;
use std::path::{Path, PathBuf};

fn small() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/scenarios/small.toml")
}

/// Replays `file` into a new log in `dir`; answers every event (seq, time, command id, actor,
/// body) and the final sitrep's JSON text.
async fn replay(file: &Path, dir: &Path, pace: Pace) -> (Vec<String>, String, drill::RunReport) {
    let (s, map) = scenario::load(file).expect("the scenario checks");
    let space = drill::open_space(&dir.join("drill.db"), Durability::Relaxed, &s, &map, 1024)
        .await
        .unwrap();
    let (_control, rx) = tokio::sync::watch::channel(ControlState {
        pace,
        paused: false,
        ended: false,
    });
    let report = drill::run(&space, &s, rx, true, |_| {}).await.unwrap();
    space.engine.stop().await;
    let mut events = Vec::new();
    let mut after = 0;
    loop {
        let page = space.store.events_after(after, 10_000).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        events.extend(page.iter().map(|e| {
            format!(
                "{} {} {} {} {}",
                e.seq, e.time_ms, e.command_id, e.actor, e.body
            )
        }));
    }
    let sitrep = crest::read::sitrep(&space.live.read().state).to_string();
    (events, sitrep, report)
}

#[tokio::test]
async fn two_replays_give_the_same_log_and_sitrep_at_any_speed() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    let (log_a, sitrep_a, report) = replay(&small(), a.path(), Pace::AsFastAsPossible).await;
    assert!(report.unexpected.is_empty(), "{:?}", report.unexpected);
    let (log_b, sitrep_b, _) = replay(&small(), b.path(), Pace::AsFastAsPossible).await;
    assert_eq!(log_a.len(), log_b.len());
    assert!(log_a == log_b, "two replays differ");
    assert_eq!(sitrep_a, sitrep_b);
    // At a speed (a day in a few tenths of a second) the scripted steps keep their times.
    let (log_c, sitrep_c, _) = replay(&small(), c.path(), Pace::Speed(400_000.0)).await;
    assert!(
        log_a == log_c,
        "a replay at speed differs from one as fast as possible"
    );
    assert_eq!(sitrep_a, sitrep_c);
    // The log is a drill's: its first event says so.
    assert!(log_a[0].contains("exercise_started"), "{}", log_a[0]);
    // The scenario's hazard was reported at +0d20:10 by T-05's tablet, scenario time.
    let start = crest::clock::parse_rfc3339("2019-07-06T00:00:00+08:00").unwrap();
    let reported = log_a
        .iter()
        .find(|e| e.contains("hazard_reported"))
        .expect("the hazard is reported");
    let time: i64 = reported.split(' ').nth(1).unwrap().parse().unwrap();
    assert_eq!(time, start + (20 * 60 + 10) * 60_000);
}

#[tokio::test]
async fn expected_outcomes_that_differ_are_listed() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(small()).unwrap().replace(
        "../../../maps/fukou",
        &format!("{}/maps/fukou", env!("CARGO_MANIFEST_DIR")),
    ) + "\n[[expect]]\nname = \"no hazard at all\"\nsitrep = \"hazards.total\"\nequals = 0\n";
    let file = dir.path().join("wrong.toml");
    std::fs::write(&file, text).unwrap();
    let (s, map) = scenario::load(&file).unwrap();
    let space = drill::open_space(&dir.path().join("d.db"), Durability::Relaxed, &s, &map, 64)
        .await
        .unwrap();
    let (_c, rx) = tokio::sync::watch::channel(ControlState {
        pace: Pace::AsFastAsPossible,
        paused: false,
        ended: false,
    });
    let report = drill::run(&space, &s, rx, true, |_| {}).await.unwrap();
    let state = space.live.read().state.clone();
    let raised = drill::outcomes::alerts_raised(space.store.as_ref())
        .await
        .unwrap();
    let verdicts = drill::outcomes::evaluate(&s.expectations, &state, &raised, &report.refs);
    let failed: Vec<_> = verdicts.iter().filter(|v| !v.passed).collect();
    assert_eq!(failed.len(), 1, "{verdicts:?}");
    assert_eq!(failed[0].name, "no hazard at all");
    assert_eq!(
        (failed[0].expected.as_str(), failed[0].actual.as_str()),
        ("0", "1")
    );
    space.engine.stop().await;
}

#[test]
fn a_scenario_with_mistakes_is_refused_with_each_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(small())
        .unwrap()
        .replace(
            "../../../maps/fukou",
            &format!("{}/maps/fukou", env!("CARGO_MANIFEST_DIR")),
        )
        .replace("severity = \"major\"", "severity = \"huge\"")
        .replace("gauge = \"G-XJ-LK\"", "gauge = \"G-NOWHERE\"");
    let file = dir.path().join("broken.toml");
    std::fs::write(&file, &text).unwrap();
    let problems = scenario::load(&file).expect_err("refused");
    let line_of = |needle: &str| text.lines().position(|l| l.contains(needle)).unwrap() + 1;
    let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 2, "{shown:?}");
    // Each at the line of the field that is wrong, with its path.
    let gauge = problems
        .iter()
        .find(|p| p.field == "inject[1].readings.gauge")
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(gauge.message.contains("G-NOWHERE"), "{gauge}");
    assert_eq!(
        gauge.line,
        Some(line_of("gauge = \"G-NOWHERE\"")),
        "{gauge}"
    );
    let hazard = problems
        .iter()
        .find(|p| p.field == "inject[2].command.severity")
        .unwrap_or_else(|| panic!("{shown:?}"));
    assert!(hazard.message.contains("huge"), "{hazard}");
    assert_eq!(
        hazard.line,
        Some(line_of("severity = \"huge\"")),
        "{hazard}"
    );
    // A syntax error names its line.
    std::fs::write(&file, "title = \"t\"\nmap = [\n").unwrap();
    let problems = scenario::load(&file).expect_err("refused");
    assert_eq!(problems[0].line, Some(2), "{}", problems[0]);
}
