//! WebSocket protocol v1: the messages clients send and receive, entity views, and the mapping of
//! every failure to a stable error code. `docs/protocol.md` is the contract; this file follows it.

use crate::domain::events::{Event, Layer};
use crate::domain::geo::INVALID_COORDINATES;
use crate::domain::model::*;
use crate::domain::{BBox, Command, DomainError, LonLat, State};
use serde::{Deserialize, Serialize};
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

// ---------------------------------------------------------------- errors

/// An error sent to a client: a stable code and a readable message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireError {
    pub code: &'static str,
    pub message: String,
}

impl WireError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}

impl From<&DomainError> for WireError {
    fn from(e: &DomainError) -> Self {
        WireError::new(e.code(), e.to_string())
    }
}

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
            return WireError::new("invalid_number", format!("{e}: numbers must be finite"));
        }
        Err(e) => return WireError::new("malformed_json", e.to_string()),
    };
    let Some(obj) = value.as_object() else {
        return WireError::new("invalid_message", "a message must be a JSON object");
    };
    match obj.get("type") {
        None => return WireError::new("missing_field", "missing field `type`"),
        Some(Value::String(t)) if !CLIENT_MESSAGE_TYPES.contains(&t.as_str()) => {
            return WireError::new("unknown_message", format!("unknown message type {t:?}"));
        }
        Some(Value::String(_)) => {}
        Some(_) => return WireError::new("invalid_field", "`type` must be a string"),
    }
    if obj.get("type").and_then(Value::as_str) == Some("command")
        && let Some(Value::String(t)) = obj.get("command").and_then(|c| c.get("type"))
        && serde_json::from_value::<Command>(serde_json::json!({ "type": t }))
            .is_err_and(|e| e.to_string().starts_with("unknown variant"))
    {
        return WireError::new("unknown_command", format!("unknown command type {t:?}"));
    }
    let code = if msg.contains(INVALID_COORDINATES) {
        "invalid_coordinates"
    } else if msg.starts_with(crate::domain::values::OUT_OF_BOUNDS) {
        "invalid_value"
    } else if msg.starts_with("missing field") {
        "missing_field"
    } else if msg.starts_with("unknown field") {
        "unknown_field"
    } else {
        "invalid_field"
    };
    WireError::new(code, msg)
}

/// Checks a client-chosen request id (commands and queries).
pub fn check_request_id(id: &str) -> Result<(), WireError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control) {
        return Err(WireError::new(
            "invalid_request_id",
            format!("id must be 1 to {MAX_REQUEST_ID} bytes without control characters"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------- server → client

/// Sends an `error` message. `id` names the command or query it answers, if any.
pub fn error_message(id: Option<&str>, e: &WireError) -> String {
    serde_json::json!({ "type": "error", "id": id, "code": e.code, "message": e.message })
        .to_string()
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ack<'a> {
    pub id: &'a str,
    pub seqs: Vec<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<&'a str>,
    pub duplicate: bool,
}

pub fn ack_message(ack: &Ack<'_>) -> String {
    let mut v = serde_json::to_value(ack).expect("ack serializes");
    v["type"] = "ack".into();
    v.to_string()
}

/// `{"type":"event","seq":…,"time_ms":…,"event":{…}}` — built once per event, shared by all.
pub fn event_message(seq: u64, time_ms: i64, event_json: &str) -> String {
    format!(r#"{{"type":"event","seq":{seq},"time_ms":{time_ms},"event":{event_json}}}"#)
}

pub fn enter_message(seq: u64, layer: Layer, entity: &Value) -> String {
    serde_json::json!({ "type": "enter", "seq": seq, "layer": layer, "entity": entity }).to_string()
}

pub fn leave_message(seq: u64, layer: Layer, id: &str) -> String {
    serde_json::json!({ "type": "leave", "seq": seq, "layer": layer, "id": id }).to_string()
}

// ---------------------------------------------------------------- entity views

/// A team as clients see it: its record plus its derived status.
#[derive(Serialize)]
struct TeamView<'a> {
    #[serde(flatten)]
    team: &'a Team,
    status: TeamStatus,
}

#[derive(Serialize)]
struct ShelterView<'a> {
    #[serde(flatten)]
    shelter: &'a Shelter,
    free_places: u32,
    days_of_supply_left: Option<f64>,
}

#[derive(Serialize)]
struct LeveeView<'a> {
    #[serde(flatten)]
    spec: &'a crate::domain::levee::LeveeSpec,
    length_m: f64,
    end_chainage_m: f64,
}

#[derive(Serialize)]
struct ResponseView<'a> {
    jurisdiction: &'a str,
    level: Option<ResponseLevel>,
    history: &'a [ResponseChange],
}

/// The client view of one entity, or `None` if it does not exist.
pub fn entity_view(state: &State, layer: Layer, id: &str) -> Option<Value> {
    let v = match layer {
        Layer::Teams => {
            let team = state.teams.get(id)?;
            serde_json::to_value(TeamView {
                team,
                status: state.team_status(team),
            })
        }
        Layer::Shelters => {
            let s = state.shelters.get(id)?;
            serde_json::to_value(ShelterView {
                shelter: s,
                free_places: s.free_places(),
                days_of_supply_left: s.days_of_supply_left(),
            })
        }
        Layer::Hazards => serde_json::to_value(state.hazards.get(id)?),
        Layer::Gauges => serde_json::to_value(state.gauges.get(id)?),
        Layer::Assignments => serde_json::to_value(state.assignments.get(id)?),
        Layer::Evacuations => serde_json::to_value(state.evacuations.get(id)?),
        Layer::GridCells => serde_json::to_value(state.grid_cells.get(id)?),
        Layer::Levees => {
            let l = state.levees.get(id)?;
            serde_json::to_value(LeveeView {
                spec: l.spec(),
                length_m: l.length_m(),
                end_chainage_m: l.end_chainage_m(),
            })
        }
        Layer::Response => {
            let (j, h) = state.response.get_key_value(id)?;
            serde_json::to_value(ResponseView {
                jurisdiction: j.as_str(),
                level: h.last().and_then(|c| c.level),
                history: h,
            })
        }
    };
    v.ok()
}

/// Ids of every entity of a layer.
pub fn layer_ids(state: &State, layer: Layer) -> Vec<String> {
    fn keys<K: ToString, V>(m: &std::collections::BTreeMap<K, V>) -> Vec<String> {
        m.keys().map(ToString::to_string).collect()
    }
    match layer {
        Layer::Teams => keys(&state.teams),
        Layer::Shelters => keys(&state.shelters),
        Layer::Hazards => keys(&state.hazards),
        Layer::Gauges => keys(&state.gauges),
        Layer::Assignments => keys(&state.assignments),
        Layer::Evacuations => keys(&state.evacuations),
        Layer::GridCells => keys(&state.grid_cells),
        Layer::Levees => keys(&state.levees),
        Layer::Response => keys(&state.response),
    }
}

/// Position of a point entity, for viewport filtering.
pub fn entity_position(state: &State, layer: Layer, id: &str) -> Option<LonLat> {
    match layer {
        Layer::Teams => state.teams.get(id)?.fix.map(|f| f.position),
        Layer::Shelters => Some(state.shelters.get(id)?.position),
        Layer::Hazards => Some(state.hazards.get(id)?.position),
        Layer::Gauges => Some(state.gauges.get(id)?.position),
        _ => None,
    }
}

/// The layer/entity pairs an event concerns: its subject, plus the team for assignment events
/// (a team's status is derived from its assignment, so team subscribers must see them).
pub fn event_routes(event: &Event) -> Vec<(Layer, String)> {
    let (layer, id) = event.subject();
    let mut routes = vec![(layer, id.to_string())];
    match event {
        Event::AssignmentCreated { assignment } => {
            routes.push((Layer::Teams, assignment.team_id.to_string()))
        }
        Event::AssignmentStateChanged { team_id, .. } => {
            routes.push((Layer::Teams, team_id.to_string()))
        }
        _ => {}
    }
    routes
}

// ---------------------------------------------------------------- sitrep

/// Counts for the situation report.
pub fn sitrep(state: &State) -> Value {
    use std::collections::BTreeMap;
    let mut hazards: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    for h in state.hazards.values() {
        let kind = serde_json::to_value(h.kind)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let status = serde_json::to_value(h.status)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        *hazards.entry(kind).or_default().entry(status).or_default() += 1;
    }
    let mut teams: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for t in state.teams.values() {
        let status = serde_json::to_value(state.team_status(t))
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let e = teams.entry(status).or_default();
        e.0 += 1;
        e.1 += t.headcount;
    }
    let open: Vec<_> = state.shelters.values().filter(|s| s.open).collect();
    serde_json::json!({
        "hazards": {
            "total": state.hazards.len(),
            "open": state.hazards.values().filter(|h| !h.status.is_closed()).count(),
            "eliminated": state.hazards.values().filter(|h| h.status == HazardStatus::Eliminated).count(),
            "by_kind_and_status": hazards,
        },
        "evacuation": {
            "orders_active": state.evacuations.values().filter(|e| e.status == EvacuationStatus::Active).count(),
            "population_ordered": state.evacuations.values().map(|e| u64::from(e.population)).sum::<u64>(),
            "people_evacuated": state.evacuations.values().map(|e| u64::from(e.evacuated)).sum::<u64>(),
        },
        "shelters": {
            "open": open.len(),
            "capacity": open.iter().map(|s| u64::from(s.capacity)).sum::<u64>(),
            "occupancy": state.shelters.values().map(|s| u64::from(s.occupancy)).sum::<u64>(),
        },
        "teams": teams.into_iter().map(|(k, (n, people))| (k, serde_json::json!({"teams": n, "people": people}))).collect::<BTreeMap<_, _>>(),
        "response_levels": state.response.iter().map(|(j, h)| (j.to_string(), h.last().and_then(|c| c.level))).collect::<BTreeMap<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(text: &str) -> &'static str {
        parse_client_message(text).unwrap_err().code
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

    #[test]
    fn server_messages_are_valid_json() {
        let v: Value =
            serde_json::from_str(&event_message(3, 9, r#"{"type":"team_moved"}"#)).unwrap();
        assert_eq!(v["seq"], 3);
        let ack = ack_message(&Ack {
            id: "c1",
            seqs: vec![4, 5],
            created: Some("HZ-1"),
            duplicate: false,
        });
        let v: Value = serde_json::from_str(&ack).unwrap();
        assert_eq!(v["type"], "ack");
        assert_eq!(v["created"], "HZ-1");
        let e: Value =
            serde_json::from_str(&error_message(None, &WireError::new("x", "y"))).unwrap();
        assert_eq!(e["id"], Value::Null);
    }
}
