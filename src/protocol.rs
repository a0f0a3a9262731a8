//! WebSocket protocol v1: the messages clients send (here), the messages the server sends
//! ([`server`]), and every error code ([`errors`]), with the mapping of every malformed message to
//! its precise code. `docs/protocol.md` is the contract; this module follows it.

pub mod errors;
pub mod server;

pub use errors::{ErrorCode, WireError};
pub use server::{ServerMessage, SnapshotReason};

use crate::domain::events::Layer;
use crate::domain::geo::INVALID_COORDINATES;
use crate::domain::model::*;
use crate::domain::{BBox, Command, LonLat};
use serde::Deserialize;
use serde_json::Value;

pub const PROTOCOL_VERSION: u32 = 1;

// ---------------------------------------------------------------- client → server

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMessage {
    Auth {
        token: String,
    },
    Subscribe {
        layers: Vec<Layer>,
        #[serde(default)]
        viewport: Option<BBox>,
        #[serde(default)]
        resume_from: Option<u64>,
    },
    SetViewport {
        viewport: Option<BBox>,
    },
    Unsubscribe {},
    Command {
        id: String,
        command: Command,
    },
    Query {
        id: String,
        query: Query,
    },
    Ping {
        #[serde(default)]
        nonce: Option<Value>,
    },
}

pub const CLIENT_MESSAGE_TYPES: [&str; 7] = [
    "auth",
    "subscribe",
    "set_viewport",
    "unsubscribe",
    "command",
    "query",
    "ping",
];

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Query {
    NearestTeams {
        point: LonLat,
        #[serde(default = "default_limit")]
        limit: usize,
        #[serde(default)]
        capability: Option<Capability>,
    },
    NearestShelters {
        point: LonLat,
        #[serde(default = "one")]
        min_free: u32,
        #[serde(default = "default_limit")]
        limit: usize,
    },
    SnapToLevee {
        point: LonLat,
        #[serde(default = "default_tolerance")]
        tolerance_m: f64,
    },
    ChainageToPoint {
        levee_id: crate::domain::ids::LeveeId,
        chainage: crate::domain::chainage::Chainage,
    },
    InBbox {
        layer: Layer,
        bbox: BBox,
    },
    Sitrep {},
}

fn default_limit() -> usize {
    5
}

fn one() -> u32 {
    1
}

fn default_tolerance() -> f64 {
    200.0
}

/// Largest `limit` a nearest query may ask for.
pub const MAX_QUERY_LIMIT: usize = 100;
/// Largest snapping tolerance, metres.
pub const MAX_SNAP_TOLERANCE_M: f64 = 5_000.0;
/// Longest command or query id, bytes.
pub const MAX_REQUEST_ID: usize = 128;

/// Parses one text frame. On failure, says precisely what was wrong.
pub fn parse_client_message(text: &str) -> Result<ClientMessage, WireError> {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(m) => Ok(m),
        Err(e) => Err(classify(text, &e)),
    }
}

fn classify(text: &str, err: &serde_json::Error) -> WireError {
    let msg = err.to_string();
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with("number out of range") => {
            return WireError::new(
                ErrorCode::InvalidNumber,
                format!("{e}: numbers must be finite"),
            );
        }
        Err(e) => return WireError::new(ErrorCode::MalformedJson, e.to_string()),
    };
    let Some(obj) = value.as_object() else {
        return WireError::new(ErrorCode::InvalidMessage, "a message must be a JSON object");
    };
    match obj.get("type") {
        None => return WireError::new(ErrorCode::MissingField, "missing field `type`"),
        Some(Value::String(t)) if !CLIENT_MESSAGE_TYPES.contains(&t.as_str()) => {
            return WireError::new(
                ErrorCode::UnknownMessage,
                format!("unknown message type {t:?}"),
            );
        }
        Some(Value::String(_)) => {}
        Some(_) => return WireError::new(ErrorCode::InvalidField, "`type` must be a string"),
    }
    if obj.get("type").and_then(Value::as_str) == Some("command")
        && let Some(Value::String(t)) = obj.get("command").and_then(|c| c.get("type"))
        && serde_json::from_value::<Command>(serde_json::json!({ "type": t }))
            .is_err_and(|e| e.to_string().starts_with("unknown variant"))
    {
        return WireError::new(
            ErrorCode::UnknownCommand,
            format!("unknown command type {t:?}"),
        );
    }
    let code = if msg.contains(INVALID_COORDINATES) {
        ErrorCode::InvalidCoordinates
    } else if msg.starts_with(crate::domain::values::OUT_OF_BOUNDS) {
        ErrorCode::InvalidValue
    } else if msg.starts_with("missing field") {
        ErrorCode::MissingField
    } else if msg.starts_with("unknown field") {
        ErrorCode::UnknownField
    } else {
        ErrorCode::InvalidField
    };
    WireError::new(code, msg)
}

/// Checks a client-chosen request id (commands and queries).
pub fn check_request_id(id: &str) -> Result<(), WireError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control) {
        return Err(WireError::new(
            ErrorCode::InvalidRequestId,
            format!("id must be 1 to {MAX_REQUEST_ID} bytes without control characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse_client_message(text).unwrap_err().code.as_str()
    }

    #[test]
    fn classifies_bad_input_precisely() {
        assert_eq!(code("{not json"), "malformed_json");
        assert_eq!(code("[1,2]"), "invalid_message");
        assert_eq!(code(r#"{"token":"x"}"#), "missing_field");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_message");
        assert_eq!(code(r#"{"type":7}"#), "invalid_field");
        assert_eq!(code(r#"{"type":"auth"}"#), "missing_field");
        assert_eq!(
            code(r#"{"type":"auth","token":"t","extra":1}"#),
            "unknown_field"
        );
        assert_eq!(code(r#"{"type":"auth","token":5}"#), "invalid_field");
        assert_eq!(
            code(r#"{"type":"command","id":"c","command":{"type":"fly"}}"#),
            "unknown_command"
        );
        let bad_pos = r#"{"type":"command","id":"c","command":{"type":"update_position","team_id":"T","position":[190,27]}}"#;
        assert_eq!(code(bad_pos), "invalid_coordinates");
        let inf = r#"{"type":"command","id":"c","command":{"type":"update_position","team_id":"T","position":[1e999,27]}}"#;
        assert_eq!(code(inf), "invalid_number");
        assert_eq!(
            code(
                r#"{"type":"command","id":"c","command":{"type":"report_hazard","kind":"tsunami","severity":"general","position":[113,27]}}"#
            ),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","layers":["teams"],"viewport":[1,2,3]}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"type":"subscribe","layers":["teams"],"viewport":[0,50,1,40]}"#),
            "invalid_coordinates"
        );
    }

    #[test]
    fn parses_every_message_type() {
        for text in [
            r#"{"type":"auth","token":"crest_x"}"#,
            r#"{"type":"subscribe","layers":["teams","hazards"],"viewport":[113.0,27.5,113.3,27.8]}"#,
            r#"{"type":"subscribe","layers":["teams"],"resume_from":42}"#,
            r#"{"type":"set_viewport","viewport":null}"#,
            r#"{"type":"unsubscribe"}"#,
            r#"{"type":"command","id":"c1","command":{"type":"check_in","shelter_id":"S-1","count":3}}"#,
            r#"{"type":"query","id":"q1","query":{"type":"nearest_teams","point":[113.1,27.6],"capability":"pump"}}"#,
            r#"{"type":"query","id":"q2","query":{"type":"chainage_to_point","levee_id":"L","chainage":"K1+200"}}"#,
            r#"{"type":"query","id":"q3","query":{"type":"sitrep"}}"#,
            r#"{"type":"ping","nonce":7}"#,
        ] {
            parse_client_message(text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }
}
