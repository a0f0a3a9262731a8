//! The after-action review's cue report: each cue given to trainees, when it was answered, and
//! whether that was before its deadline. Read from the log: a cue is answered by the first later
//! event of the type it expects, carrying the fields it expects, caused by anyone but the
//! scenario itself (a trainee, or the simulated trainee of a headless replay).

use crate::domain::events::Event;
use crate::domain::journal::Cue;
use crate::scenario::expand::SCENARIO_ACTOR;
use crate::store::{Store, StoreError};
use serde::Serialize;
use serde_json::Value;

/// One cue and its answer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CueAnswer {
    pub cue_id: String,
    pub to: String,
    pub text: String,
    pub issued_at: i64,
    pub deadline: i64,
    /// When the answering event was logged, its seq and who caused it; `None` while unanswered.
    pub answered_at: Option<i64>,
    pub answered_seq: Option<u64>,
    pub answered_by: Option<String>,
    /// Answered at or before the deadline.
    pub on_time: bool,
    /// Minutes from the cue to its answer (or `None`).
    pub response_min: Option<f64>,
}

/// Whether `event` (its JSON body) answers `cue`.
fn answers(cue: &Cue, body: &Value) -> bool {
    if body["type"] != cue.expect_event.as_str() {
        return false;
    }
    cue.expect_fields.iter().all(|(field, want)| {
        let found = |v: &Value| match v {
            Value::String(s) => s == want,
            Value::Null => false,
            other => &other.to_string() == want,
        };
        // Top level, or one level down (`hazard.kind`, `order.name`).
        body.get(field).is_some_and(found)
            || body
                .as_object()
                .into_iter()
                .flat_map(|m| m.values())
                .any(|v| v.get(field).is_some_and(found))
    })
}

/// The cue report of the log in `store`, in the order the cues were given.
pub async fn cue_report(store: &dyn Store) -> Result<Vec<CueAnswer>, StoreError> {
    let mut report: Vec<(Cue, CueAnswer)> = Vec::new();
    let mut after = 0;
    loop {
        let page = store.events_after(after, 10_000).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for e in &page {
            if e.body.contains("\"cue_issued\"")
                && let Event::CueIssued { cue } = crate::codec::decode_event(e)?.event
            {
                let answer = CueAnswer {
                    cue_id: cue.id.to_string(),
                    to: cue.to.clone(),
                    text: cue.text.clone(),
                    issued_at: cue.issued_at,
                    deadline: cue.deadline,
                    answered_at: None,
                    answered_seq: None,
                    answered_by: None,
                    on_time: false,
                    response_min: None,
                };
                report.push((cue, answer));
                continue;
            }
            // The scenario, the server's clock ticks and the map loader answer no cue.
            let scripted = [SCENARIO_ACTOR, "clock", "system"].contains(&e.actor.as_str());
            if scripted || report.iter().all(|(_, a)| a.answered_at.is_some()) {
                continue;
            }
            let Ok(body) = serde_json::from_str::<Value>(&e.body) else {
                continue;
            };
            for (cue, answer) in report.iter_mut().filter(|(_, a)| a.answered_at.is_none()) {
                if answers(cue, &body) {
                    answer.answered_at = Some(e.time_ms);
                    answer.answered_seq = Some(e.seq);
                    answer.answered_by = Some(e.actor.clone());
                    answer.on_time = e.time_ms <= cue.deadline;
                    answer.response_min = Some((e.time_ms - cue.issued_at) as f64 / 60_000.0);
                }
            }
        }
    }
    Ok(report.into_iter().map(|(_, a)| a).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_answer_is_the_expected_event_with_the_expected_fields() {
        let cue = Cue {
            id: "CUE-1".into(),
            to: "dispatcher".into(),
            text: "t".into(),
            text_en: String::new(),
            issued_at: 0,
            deadline: 60_000,
            expect_event: "response_level_changed".into(),
            expect_fields: [("level".to_string(), "III".to_string())].into(),
        };
        let level = |l: &str| json!({"type": "response_level_changed", "jurisdiction": "涪口区", "change": {"level": l}});
        assert!(answers(&cue, &level("III")));
        assert!(!answers(&cue, &level("IV")));
        assert!(!answers(
            &cue,
            &json!({"type": "note_recorded", "level": "III"})
        ));
    }
}
