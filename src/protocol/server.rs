//! Every message the server sends over the WebSocket: one enum, serialized in one place.

use super::errors::ErrorCode;
use crate::domain::events::Layer;
use crate::domain::ids::TeamId;
use crate::domain::{BBox, Role};
use serde::Serialize;
use serde_json::{Map, Value};

/// Why a `snapshot` was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SnapshotReason {
    /// The answer to `subscribe`.
    Subscribe,
    /// After `resync`: the connection fell behind the ring.
    Resync,
    /// A `resume_from` that cannot be served from the log.
    ResumeUnavailable,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage<'a> {
    Hello {
        protocol: u32,
        server: &'a str,
        seq: u64,
        authenticated: bool,
        role: Option<Role>,
        team: Option<&'a TeamId>,
        /// The grid worker a grid-worker token is bound to (absent for other tokens).
        #[serde(skip_serializing_if = "Option::is_none")]
        grid_worker: Option<&'a crate::domain::ids::GridWorkerId>,
        /// Set when the connection is bound to a drill's space (its token came on the upgrade).
        #[serde(skip_serializing_if = "Option::is_none")]
        exercise: Option<ExerciseMark>,
    },
    Authenticated {
        role: Role,
        team: Option<&'a TeamId>,
        #[serde(skip_serializing_if = "Option::is_none")]
        grid_worker: Option<&'a crate::domain::ids::GridWorkerId>,
        name: &'a str,
        /// Set when the token is a drill's: everything on this connection is an exercise.
        #[serde(skip_serializing_if = "Option::is_none")]
        exercise: Option<ExerciseMark>,
    },
    Ack {
        id: &'a str,
        seqs: &'a [u64],
        #[serde(skip_serializing_if = "Option::is_none")]
        created: Option<&'a str>,
        duplicate: bool,
    },
    Error {
        id: Option<&'a str>,
        code: ErrorCode,
        message: &'a str,
        message_zh: &'a str,
    },
    /// A committed event; `event` is its JSON exactly as logged. Written by [`Self::to_text`]
    /// without re-parsing it (this message is built once per event on the hot path).
    #[serde(skip)]
    Event {
        seq: u64,
        time_ms: i64,
        event: &'a str,
        /// True in a drill's space: every event it sends is marked.
        exercise: bool,
    },
    /// An entity entered the viewport; `entity` is the JSON text of its view. Written by
    /// [`Self::to_text`] without re-parsing it (built for every position update).
    #[serde(skip)]
    Enter {
        seq: u64,
        layer: Layer,
        entity: &'a str,
    },
    Leave {
        seq: u64,
        layer: Layer,
        id: &'a str,
    },
    Snapshot {
        seq: u64,
        reason: SnapshotReason,
        viewport: Option<BBox>,
        layers: &'a Map<String, Value>,
        /// A drill's space: its entities are an exercise's.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        exercise: bool,
        /// This node cannot reach its log right now: the picture may be behind (§7, rule 8).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        stale: bool,
    },
    Resumed {
        from_seq: u64,
        to_seq: u64,
    },
    ViewportSet {
        seq: u64,
        viewport: Option<BBox>,
    },
    Unsubscribed {},
    Resync {
        reason: &'a str,
    },
    Pong {
        nonce: &'a Option<Value>,
    },
    Answer {
        id: &'a str,
        result: &'a Value,
        /// Answered from a drill's space.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        exercise: bool,
        /// Answered from a picture that may be behind the log (§7, rule 8).
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        stale: bool,
    },
    /// Whether this node can write its log; sent when that changes, and after `hello` while it
    /// cannot.
    Status {
        writable: bool,
        /// Why not (`database_unreachable`, `disk_full`, …); absent when writable.
        #[serde(skip_serializing_if = "Option::is_none")]
        fault: Option<&'a str>,
        /// Since when (ms since the epoch); absent when writable.
        #[serde(skip_serializing_if = "Option::is_none")]
        since_ms: Option<i64>,
        /// The last seq this node has.
        seq: u64,
    },
    /// The state at a review's start or seek: the layers as in a `snapshot`.
    ReviewSnapshot {
        id: &'a str,
        seq: u64,
        time_ms: i64,
        layers: &'a Map<String, Value>,
        /// A drill's review (its connection's token is a drill's), as `event` is marked.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        exercise: bool,
    },
    /// A logged event played back by a review. Written by [`Self::to_text`] without re-parsing
    /// the event.
    #[serde(skip)]
    ReviewEvent {
        id: &'a str,
        seq: u64,
        time_ms: i64,
        event: &'a str,
        exercise: bool,
    },
    /// The answer to `review_control` `pause`, `resume` and `speed`.
    ReviewState {
        id: &'a str,
        state: ReviewPlay,
        speed: super::Speed,
        /// The last seq played (or of the snapshot).
        seq: u64,
        /// The review's clock: the logged time it has reached.
        time_ms: i64,
    },
    ReviewEnded {
        id: &'a str,
        seq: u64,
        reason: ReviewEnd,
    },
}

/// Whether a review plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewPlay {
    Playing,
    Paused,
}

/// Why a review ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewEnd {
    /// Every event up to its `to` was played.
    End,
    /// `review_control` `stop`.
    Stopped,
    /// A new `review` replaced it.
    Replaced,
    /// The log could not be read.
    Failed,
}

impl ServerMessage<'_> {
    /// The message as the text of one WebSocket frame.
    pub fn to_text(&self) -> String {
        match self {
            ServerMessage::Event {
                seq,
                time_ms,
                event,
                exercise: false,
            } => format!(r#"{{"type":"event","seq":{seq},"time_ms":{time_ms},"event":{event}}}"#),
            ServerMessage::Event {
                seq,
                time_ms,
                event,
                exercise: true,
            } => format!(
                r#"{{"type":"event","seq":{seq},"time_ms":{time_ms},"event":{event},"exercise":true}}"#
            ),
            ServerMessage::ReviewEvent {
                id,
                seq,
                time_ms,
                event,
                exercise,
            } => {
                let id = serde_json::to_string(id).expect("a string serializes");
                let mark = if *exercise { r#","exercise":true"# } else { "" };
                format!(
                    r#"{{"type":"review_event","id":{id},"seq":{seq},"time_ms":{time_ms},"event":{event}{mark}}}"#
                )
            }
            ServerMessage::Enter { seq, layer, entity } => {
                let layer: &'static str = layer.into();
                format!(r#"{{"type":"enter","seq":{seq},"layer":"{layer}","entity":{entity}}}"#)
            }
            other => serde_json::to_string(other).expect("server messages serialize"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(m: ServerMessage<'_>) -> Value {
        serde_json::from_str(&m.to_text()).expect("valid JSON")
    }

    #[test]
    fn every_message_is_json_with_its_type() {
        let event = parsed(ServerMessage::Event {
            seq: 3,
            time_ms: 9,
            event: r#"{"type":"team_moved","team_id":"T-1"}"#,
            exercise: false,
        });
        assert_eq!(
            event,
            serde_json::json!({"type": "event", "seq": 3, "time_ms": 9,
                "event": {"type": "team_moved", "team_id": "T-1"}})
        );
        let drill = parsed(ServerMessage::Event {
            seq: 3,
            time_ms: 9,
            event: r#"{"type":"note_recorded"}"#,
            exercise: true,
        });
        assert_eq!(drill["exercise"], true);
        let enter = parsed(ServerMessage::Enter {
            seq: 4,
            layer: Layer::GridCells,
            entity: r#"{"id":"T-1","status":"available"}"#,
        });
        assert_eq!(
            enter,
            serde_json::json!({"type": "enter", "seq": 4, "layer": "grid_cells",
                "entity": {"id": "T-1", "status": "available"}})
        );
        let ack = parsed(ServerMessage::Ack {
            id: "c1",
            seqs: &[4, 5],
            created: Some("HZ-1"),
            duplicate: false,
        });
        assert_eq!(
            ack,
            serde_json::json!({"type": "ack", "id": "c1", "seqs": [4, 5], "created": "HZ-1", "duplicate": false})
        );
        let no_created = parsed(ServerMessage::Ack {
            id: "c2",
            seqs: &[6],
            created: None,
            duplicate: true,
        });
        assert!(no_created.get("created").is_none());
        let error = parsed(ServerMessage::Error {
            id: None,
            code: ErrorCode::NotFound,
            message: "team T-9 does not exist",
            message_zh: "队伍T-9不存在",
        });
        assert_eq!(error["type"], "error");
        assert_eq!(error["id"], Value::Null);
        assert_eq!(error["code"], "not_found");
        assert_eq!(error["message_zh"], "队伍T-9不存在");
        let layers = Map::new();
        let snapshot = parsed(ServerMessage::Snapshot {
            seq: 7,
            reason: SnapshotReason::ResumeUnavailable,
            stale: false,
            viewport: None,
            layers: &layers,
            exercise: false,
        });
        assert_eq!(snapshot["reason"], "resume_unavailable");
        assert!(
            snapshot.get("exercise").is_none(),
            "only a drill's is marked"
        );
        let played = parsed(ServerMessage::ReviewEvent {
            id: "r\"1",
            seq: 5,
            time_ms: 7,
            event: r#"{"type":"team_moved"}"#,
            exercise: false,
        });
        assert_eq!(
            played,
            serde_json::json!({"type": "review_event", "id": "r\"1", "seq": 5, "time_ms": 7,
                "event": {"type": "team_moved"}})
        );
        let state = parsed(ServerMessage::ReviewState {
            id: "r",
            state: ReviewPlay::Paused,
            speed: super::super::Speed::Max,
            seq: 3,
            time_ms: 9,
        });
        assert_eq!(
            state,
            serde_json::json!({"type": "review_state", "id": "r", "state": "paused", "speed": "max", "seq": 3, "time_ms": 9})
        );
        assert_eq!(
            parsed(ServerMessage::Unsubscribed {})["type"],
            "unsubscribed"
        );
        assert_eq!(
            parsed(ServerMessage::ViewportSet {
                seq: 1,
                viewport: None
            })["type"],
            "viewport_set"
        );
    }
}

/// The marking of a connection bound to a drill's space.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExerciseMark {
    pub drill_id: String,
    pub title: String,
}
