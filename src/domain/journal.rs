//! The duty log (值班记录) and drills: notes that record what the command saw and decided (rain,
//! weather, orders by telephone), the marking of a drill's log as an exercise, and the cues a
//! drill gives its trainees (what is expected of them, by when).
//!
//! An exercise is marked by the first event of its own log (`exercise_started`), refused in a log
//! that already holds anything: a live log can never become a drill, nor a drill's log live. The
//! read side marks everything it serves from a state whose `exercise` is set.

use super::ids::{CueId, NoteId};
use super::model::TimeMs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Notes kept in the state, newest (the log keeps every one).
pub const NOTES_KEPT: usize = 500;
/// Cues kept in the state, newest by issue (the log keeps every one).
pub const CUES_KEPT: usize = 2_000;
/// Fields a cue's expected response may match, at most.
pub const MAX_CUE_FIELDS: usize = 8;

/// The marking of a drill's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exercise {
    pub title: String,
    /// The scenario it plays (its file name or title), for the record.
    pub scenario: String,
    pub started_at: TimeMs,
}

/// One entry of the duty log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub id: NoteId,
    pub text: String,
    /// The English text, when the writer gave one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_en: String,
    pub at: TimeMs,
    /// Who recorded it (the token's label).
    pub by: String,
}

/// A cue for trainees: the situation shown to them, the response expected and its deadline.
/// Whether and when it was answered is read from the log (the review's cue report): the first
/// later event of the expected type whose fields match, from anyone but the scenario itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cue {
    pub id: CueId,
    /// Whom it is for: `dispatcher`, `field:<team>`, `grid_worker:<id>`, or a free label.
    pub to: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub text_en: String,
    pub issued_at: TimeMs,
    pub deadline: TimeMs,
    /// The event type (`evacuation_ordered`, `hazard_status_changed` …) that answers it.
    pub expect_event: String,
    /// Fields the answering event must carry with these values (top-level or one level down,
    /// compared as text).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expect_fields: BTreeMap<String, String>,
}
