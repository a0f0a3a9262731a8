//! The duty log and drills: notes, the marking of an exercise's log, cues for trainees (all by a
//! dispatcher; the role gate refuses field, grid-worker and observer tokens).

use super::{Decision, exists};
use crate::domain::bounds::invalid;
use crate::domain::commands::{IssueCue, RecordNote, StartExercise};
use crate::domain::events::Event;
use crate::domain::ids::{MAX_ID_LEN, NoteId};
use crate::domain::journal::{Cue, Exercise, MAX_CUE_FIELDS, Note};
use crate::domain::state::{Context, State};

pub(super) fn record_note(s: &State, n: &RecordNote, ctx: &Context<'_>) -> Decision {
    if n.text.trim().is_empty() {
        return Err(invalid("a note needs a text", "值班记录须有内容"));
    }
    Ok(vec![Event::NoteRecorded {
        note: Note {
            id: NoteId::from(format!("NT-{}", s.next_note + 1).as_str()),
            text: n.text.trim().to_string(),
            text_en: n.text_en.trim().to_string(),
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
        },
    }])
}

/// True when nothing has changed the state yet: every event changes it, so this is an empty log.
fn is_empty(s: &State) -> bool {
    *s == State::default()
}

pub(super) fn start_exercise(s: &State, e: &StartExercise, ctx: &Context<'_>) -> Decision {
    if s.exercise.is_some() {
        return Err(exists("exercise", "of this log"));
    }
    if !is_empty(s) {
        return Err(invalid(
            "an exercise is marked at the start of its own log; this log already holds data, and live data never becomes a drill",
            "演练只能在其自身日志的开头标记；此日志已有数据，实战数据不能变为演练",
        ));
    }
    if e.title.trim().is_empty() {
        return Err(invalid("an exercise needs a title", "演练须有名称"));
    }
    Ok(vec![Event::ExerciseStarted {
        exercise: Exercise {
            title: e.title.trim().to_string(),
            scenario: e.scenario.trim().to_string(),
            started_at: ctx.now_ms,
        },
    }])
}

pub(super) fn issue_cue(s: &State, c: &IssueCue, ctx: &Context<'_>) -> Decision {
    if s.exercise.is_none() {
        return Err(invalid(
            "cues exist only in an exercise: this log is not a drill's",
            "演练提示只能用于演练：此日志不是演练日志",
        ));
    }
    if s.cues.contains_key(&c.cue_id) {
        return Err(exists("cue", &c.cue_id));
    }
    let event = c.expect_event.trim();
    if event.is_empty() || event.len() > MAX_ID_LEN {
        return Err(invalid(
            format!("expect_event must name an event type (1 to {MAX_ID_LEN} bytes)"),
            format!("expect_event 须为事件类型名（1 至 {MAX_ID_LEN} 字节）"),
        ));
    }
    if c.expect_fields.len() > MAX_CUE_FIELDS
        || c.expect_fields
            .keys()
            .any(|k| k.is_empty() || k.len() > MAX_ID_LEN)
    {
        return Err(invalid(
            format!(
                "expect_fields holds at most {MAX_CUE_FIELDS} fields, each named by 1 to {MAX_ID_LEN} bytes"
            ),
            format!("expect_fields 至多 {MAX_CUE_FIELDS} 个字段，字段名 1 至 {MAX_ID_LEN} 字节"),
        ));
    }
    if c.text.trim().is_empty() {
        return Err(invalid("a cue needs a text", "演练提示须有内容"));
    }
    let minutes = i64::from(c.deadline_min.get());
    Ok(vec![Event::CueIssued {
        cue: Cue {
            id: c.cue_id.clone(),
            to: c.to.trim().to_string(),
            text: c.text.trim().to_string(),
            text_en: c.text_en.trim().to_string(),
            issued_at: ctx.now_ms,
            deadline: ctx.now_ms.saturating_add(minutes * 60_000),
            expect_event: event.to_string(),
            expect_fields: c
                .expect_fields
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect(),
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::events::Event;
    use crate::domain::journal::Exercise;
    use serde_json::json;

    fn started() -> Event {
        Event::ExerciseStarted {
            exercise: Exercise {
                title: "七月洪水".into(),
                scenario: "fukou-2019-07".into(),
                started_at: NOW,
            },
        }
    }

    #[test]
    fn an_exercise_is_marked_only_at_the_start_of_an_empty_log() {
        given(&[])
            .when(
                &dispatcher(),
                json!({"type": "start_exercise", "title": "七月洪水", "scenario": "fukou-2019-07"}),
            )
            .then(&[started()])
            .when(
                &dispatcher(),
                json!({"type": "start_exercise", "title": "again"}),
            )
            .then_error("already_exists");
        // A live log never becomes a drill.
        given(&world())
            .when(
                &dispatcher(),
                json!({"type": "start_exercise", "title": "七月洪水"}),
            )
            .then_error("invalid_value");
        given(&[])
            .when(
                &field("T-1"),
                json!({"type": "start_exercise", "title": "x"}),
            )
            .then_error("forbidden");
        // Anything logged before — here only the rules changed — and it is a live log.
        given(&[])
            .when(
                &dispatcher(),
                json!({"type": "set_watch_rules", "alerts": {"team_silent_min": 20}}),
            )
            .then_events(|_| {})
            .when(
                &dispatcher(),
                json!({"type": "start_exercise", "title": "x"}),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn cues_need_an_exercise_a_new_id_and_a_bounded_expectation() {
        let cue = json!({"type": "issue_cue", "cue_id": "CUE-1", "to": "dispatcher",
            "text": "将军村管涌扩大，请决定是否转移南洲镇低洼村", "deadline_min": 30,
            "expect_event": "evacuation_ordered"});
        given(&world())
            .when(&dispatcher(), cue.clone())
            .then_error("invalid_value");
        let g = given(&[started()])
            .when(&dispatcher(), cue.clone())
            .then_events(|e| {
                let [Event::CueIssued { cue }] = e else {
                    panic!("{e:?}")
                };
                assert_eq!(cue.deadline, NOW + 30 * 60_000);
                assert_eq!(cue.expect_event, "evacuation_ordered");
            });
        g.when(&dispatcher(), cue).then_error("already_exists");
        let many: serde_json::Map<String, serde_json::Value> =
            (0..9).map(|i| (format!("f{i}"), json!("x"))).collect();
        given(&[started()])
            .when(
                &dispatcher(),
                json!({"type": "issue_cue", "cue_id": "CUE-2", "to": "dispatcher", "text": "x",
                    "deadline_min": 5, "expect_event": "hazard_reported", "expect_fields": many}),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn notes_are_numbered_and_need_a_text() {
        given(&world())
            .when(
                &dispatcher(),
                json!({"type": "record_note", "text": " 18时起涪口降暴雨 ", "text_en": "Heavy rain"}),
            )
            .then_events(|e| {
                let [Event::NoteRecorded { note }] = e else {
                    panic!("{e:?}")
                };
                assert_eq!((note.id.as_str(), note.text.as_str()), ("NT-1", "18时起涪口降暴雨"));
            })
            .when(&dispatcher(), json!({"type": "record_note", "text": "  "}))
            .then_error("invalid_value");
    }
}
