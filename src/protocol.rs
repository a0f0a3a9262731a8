//! WebSocket protocol v1: the messages clients send (here), the messages the server sends
//! ([`server`]), and every error code ([`errors`]), with the mapping of every malformed message to
//! its precise code. `docs/protocol.md` is the contract; this module follows it.

pub mod errors;
pub mod server;

pub use errors::{ErrorCode, WireError};
pub use server::{ReviewEnd, ReviewPlay, ServerMessage, SnapshotReason};

use crate::domain::events::Layer;
use crate::domain::model::*;
use crate::domain::values::{Count, QueryLimit, SnapTolerance};
use crate::domain::{BBox, Command, LonLat};
use serde::Deserialize;
use serde_json::Value;

pub const PROTOCOL_VERSION: u32 = 1;

// ---------------------------------------------------------------- client → server

#[derive(Debug, Clone, PartialEq, Deserialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ClientMessage {
    Auth(Auth),
    Subscribe(Subscribe),
    SetViewport(SetViewport),
    Unsubscribe(Unsubscribe),
    Command(CommandMessage),
    Query(QueryMessage),
    Ping(Ping),
    Review(Review),
    ReviewControl(ReviewControl),
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscribe {
    pub layers: Vec<Layer>,
    #[serde(default)]
    pub viewport: Option<BBox>,
    #[serde(default)]
    pub resume_from: Option<crate::domain::values::Seq>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetViewport {
    pub viewport: Option<BBox>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Unsubscribe {}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandMessage {
    pub id: String,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryMessage {
    pub id: String,
    pub query: Query,
    /// Answer from the state of the log at this moment instead of the live state (§5).
    #[serde(default)]
    pub at: Option<At>,
}

/// A moment of the log (a query's `at`, a review's `from` and `to`, a seek): a sequence number
/// (the state after that event) or an RFC 3339 time (the state after every event logged at or
/// before it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    Seq(u64),
    Time(i64),
}

impl At {
    /// From text (an HTTP query string): digits are a seq, anything else an RFC 3339 time.
    pub fn parse(text: &str) -> Result<At, String> {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            return text
                .parse()
                .map(At::Seq)
                .map_err(|_| format!("sequence number {text} is outside 0 to {}", u64::MAX));
        }
        crate::clock::parse_rfc3339(text).map(At::Time)
    }
}

impl<'de> Deserialize<'de> for At {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = At;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a sequence number (a whole number) or an RFC 3339 time (a string)")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<At, E> {
                Ok(At::Seq(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<At, E> {
                u64::try_from(v).map(At::Seq).map_err(|_| {
                    E::custom(crate::domain::values::OutOfBounds::new(format!(
                        "sequence number {v} is outside 0 to {}",
                        u64::MAX
                    )))
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<At, E> {
                crate::clock::parse_rfc3339(v)
                    .map(At::Time)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

/// The speed of a review: logged time per wall-clock time, from [`MIN_SPEED`] to [`MAX_SPEED`],
/// or `"max"`: as fast as the connection takes the events.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    Times(f64),
    Max,
}

pub const MIN_SPEED: f64 = 0.1;
pub const MAX_SPEED: f64 = 100_000.0;

impl serde::Serialize for Speed {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Speed::Times(x) => s.serialize_f64(*x),
            Speed::Max => s.serialize_str("max"),
        }
    }
}

impl<'de> Deserialize<'de> for Speed {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Speed;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                write!(f, "a speed from {MIN_SPEED} to {MAX_SPEED}, or \"max\"")
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Speed, E> {
                if (MIN_SPEED..=MAX_SPEED).contains(&v) {
                    Ok(Speed::Times(v))
                } else {
                    Err(E::custom(crate::domain::values::OutOfBounds::new(format!(
                        "speed {v} is outside {MIN_SPEED} to {MAX_SPEED}"
                    ))))
                }
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Speed, E> {
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Speed, E> {
                self.visit_f64(v as f64)
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Speed, E> {
                match v {
                    "max" => Ok(Speed::Max),
                    _ => Err(E::invalid_value(serde::de::Unexpected::Str(v), &self)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Plays the log back from `from` (§5, "Reviewing the past").
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Review {
    pub id: String,
    pub from: At,
    #[serde(default)]
    pub to: Option<At>,
    #[serde(default)]
    pub speed: Option<Speed>,
    pub layers: Vec<Layer>,
}

/// Controls the connection's review.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReviewControl {
    pub action: ReviewAction,
    /// Where a `seek` goes.
    #[serde(default)]
    pub at: Option<At>,
    /// The new speed of a `speed`.
    #[serde(default)]
    pub speed: Option<Speed>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewAction {
    Pause,
    Resume,
    Seek,
    Speed,
    Stop,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    #[serde(default)]
    pub nonce: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Query {
    NearestTeams(NearestTeams),
    NearestShelters(NearestShelters),
    SnapToLevee(SnapToLevee),
    ChainageToPoint(ChainageToPoint),
    InBbox(InBbox),
    Layer(LayerQuery),
    Sitrep(Sitrep),
    PatrolCoverage(PatrolCoverage),
    PatrolGaps(PatrolGaps),
    PatrolHistory(PatrolHistory),
    Vocabulary(Vocabulary),
    EvacuationStatus(EvacuationStatusQuery),
    EvacuationPreview(EvacuationPreview),
    Casualties(CasualtiesQuery),
    Materials(Materials),
    Hydrograph(Hydrograph),
    Corrections(Corrections),
}

/// A gauge's readings in a time window, with the rate of rise, the time above each threshold,
/// the forecast and the record (see `read::gauges`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hydrograph {
    pub gauge_id: crate::domain::ids::GaugeId,
    #[serde(default)]
    pub from_ms: Option<crate::domain::values::DeviceTime>,
    #[serde(default)]
    pub until_ms: Option<crate::domain::values::DeviceTime>,
}

/// The audit trail of reference-data corrections, newest first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corrections {
    /// Only those of this entity (a shelter, gauge, team or protected asset id).
    #[serde(default, deserialize_with = "an_id")]
    pub subject_id: Option<String>,
    #[serde(default)]
    pub field: Option<crate::domain::corrections::CorrectionField>,
    #[serde(default = "a_hundred")]
    pub limit: QueryLimit,
}

fn a_hundred() -> QueryLimit {
    QueryLimit::new(100).expect("100 is a limit")
}

/// An id of any kind of entity, checked as every id is.
fn an_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let id = Option::<String>::deserialize(d)?;
    if let Some(id) = &id {
        crate::domain::ids::validate_id(id).map_err(serde::de::Error::custom)?;
    }
    Ok(id)
}

/// Flood materials: every depot with its stock, the shipments not yet settled, the open requests.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Materials {}

/// Chinese and English names of every enumerated value.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vocabulary {}

/// The coverage board of a levee: its sections with every stretch, at the server's clock.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolCoverage {
    pub levee_id: crate::domain::ids::LeveeId,
}

/// Every gap now: overdue stretches and unstaffed sections, on every levee.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolGaps {}

/// The passes of a section's points within a time window (the newest 32 per point are kept).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolHistory {
    pub section_id: crate::domain::ids::PatrolSectionId,
    #[serde(default)]
    pub from_ms: Option<crate::domain::values::DeviceTime>,
    #[serde(default)]
    pub until_ms: Option<crate::domain::values::DeviceTime>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestTeams {
    pub point: LonLat,
    #[serde(default)]
    pub limit: QueryLimit,
    #[serde(default)]
    pub capability: Option<Capability>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NearestShelters {
    pub point: LonLat,
    /// Free places a shelter must have; 1 when not given.
    #[serde(default = "one_place")]
    pub min_free: Count,
    #[serde(default)]
    pub limit: QueryLimit,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnapToLevee {
    pub point: LonLat,
    #[serde(default = "SnapTolerance::standard")]
    pub tolerance_m: SnapTolerance,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainageToPoint {
    pub levee_id: crate::domain::ids::LeveeId,
    pub chainage: crate::domain::chainage::Chainage,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InBbox {
    pub layer: Layer,
    pub bbox: BBox,
}

/// The situation report: its figures as JSON (the default) or a report in Markdown, in Chinese
/// (the default) or English.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sitrep {
    #[serde(default)]
    pub format: crate::domain::vocabulary::SitrepFormat,
    #[serde(default)]
    pub lang: crate::domain::vocabulary::Lang,
}

/// Evacuation figures: by town, village and cell, by way of leaving, vulnerable people remaining.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvacuationStatusQuery {
    /// One order (with each of its cells), or every order when left out.
    #[serde(default)]
    pub evacuation_id: Option<crate::domain::ids::EvacuationId>,
}

/// Every entity of one layer, as in a snapshot (pages re-read a layer after its events).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerQuery {
    pub layer: Layer,
}

/// The people an evacuation order over `zone` would take, before it is issued.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvacuationPreview {
    pub zone: crate::domain::values::Ring,
}

/// Casualty records (newest first) and the figures.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CasualtiesQuery {}

fn one_place() -> Count {
    Count::new(1).expect("1 is a count")
}

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
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) if e.to_string().starts_with("number out of range") => {
            return WireError::new(
                ErrorCode::InvalidNumber,
                format!("{e}: numbers must be finite"),
                format!(
                    "数字超出范围（第{}行第{}列）：数字必须是有限数",
                    e.line(),
                    e.column()
                ),
            );
        }
        Err(e) => {
            return WireError::new(
                ErrorCode::MalformedJson,
                e.to_string(),
                format!(
                    "{}（第{}行第{}列）",
                    ErrorCode::MalformedJson.zh(),
                    e.line(),
                    e.column()
                ),
            );
        }
    };
    let Some(obj) = value.as_object() else {
        return WireError::new(
            ErrorCode::InvalidMessage,
            "a message must be a JSON object",
            "消息必须是 JSON 对象",
        );
    };
    let kind = match obj.get("type") {
        None => {
            return WireError::new(
                ErrorCode::MissingField,
                "missing field `type`",
                "缺少字段 `type`",
            );
        }
        Some(Value::String(t)) => t.as_str(),
        Some(_) => {
            return WireError::new(
                ErrorCode::InvalidField,
                "`type` must be a string",
                "`type` 必须是字符串",
            );
        }
    };
    match locate::client_message(kind, obj) {
        Err(fault) => fault.into_wire(),
        // The walk found nothing that serde_json refused: say what serde_json said.
        Ok(()) => WireError::new(
            ErrorCode::InvalidField,
            err.to_string(),
            format!("{}：{err}", ErrorCode::InvalidField.zh()),
        ),
    }
}

/// Finds where a refused message went wrong, for its error's code and message.
///
/// serde loses the path of an error inside an internally tagged enum (every message, command and
/// query is one), so the walk takes each tagged object apart itself: it looks up the `type`, then
/// deserializes the other fields as that type's struct with `serde_path_to_error`, one level of
/// tagging at a time. It deserializes from a `serde_value::Value`, whose error says what kind of
/// error it is (missing field, unknown field, wrong type, a bound), so the code of a field's error
/// never depends on the wording of serde's messages. (One serde_json message is matched, in
/// `classify`: "number out of range", JSON that is not finite, which serde_json gives no category
/// of its own.) Only refused messages take this path.
mod locate {
    use super::{ClientMessage, ErrorCode, Query, WireError};
    use crate::domain::Command;
    use crate::domain::geo::INVALID_COORDINATES;
    use crate::domain::values::OUT_OF_BOUNDS;
    use serde::Deserialize;
    use serde::de::DeserializeOwned;
    use serde_json::{Map, Value};
    use serde_value::{DeserializerError, ValueDeserializer};
    use strum::VariantNames;

    /// What was wrong, in English and in Chinese, and the path of the field where it was
    /// (`command.supplies.water.unit`).
    pub struct Fault {
        path: String,
        code: ErrorCode,
        message: String,
        message_zh: String,
    }

    /// A value serde met where it expected another, in Chinese.
    fn unexpected_zh(got: serde::de::Unexpected<'_>) -> String {
        use serde::de::Unexpected as U;
        match got {
            U::Bool(b) => format!("布尔值 {b}"),
            U::Unsigned(n) => format!("整数 {n}"),
            U::Signed(n) => format!("整数 {n}"),
            U::Float(f) => format!("小数 {f}"),
            U::Char(c) => format!("字符 {c:?}"),
            U::Str(s) => format!("字符串 {s:?}"),
            U::Bytes(_) => "字节串".into(),
            U::Unit => "null".into(),
            U::Option => "可选值".into(),
            U::NewtypeStruct => "newtype 结构".into(),
            U::Seq => "数组".into(),
            U::Map => "对象".into(),
            U::Enum => "枚举".into(),
            U::UnitVariant => "单元变体".into(),
            U::NewtypeVariant => "newtype 变体".into(),
            U::TupleVariant => "元组变体".into(),
            U::StructVariant => "结构变体".into(),
            U::Other(o) => o.to_string(),
        }
    }

    impl Fault {
        fn new(path: &str, code: ErrorCode, message: String, message_zh: String) -> Fault {
            Fault {
                path: path.to_string(),
                code,
                message,
                message_zh,
            }
        }

        fn from_serde(path: String, error: DeserializerError) -> Fault {
            use DeserializerError as E;
            let quote = |names: &[&str]| {
                names
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            // A bound or a coordinate is refused by the value's own type with an English
            // detail (the value and its bound): the Chinese message is the code's meaning
            // followed by that detail.
            let detail = |code: ErrorCode, m: &str, marker: &str| {
                let rest = m
                    .find(marker)
                    .map_or(m, |at| m[at + marker.len()..].trim_start_matches(": "));
                format!("{}：{rest}", code.zh())
            };
            let (code, message, message_zh) = match error {
                E::Custom(m) if m.contains(INVALID_COORDINATES) => {
                    let zh = detail(ErrorCode::InvalidCoordinates, &m, INVALID_COORDINATES);
                    (ErrorCode::InvalidCoordinates, m, zh)
                }
                E::Custom(m) if m.starts_with(OUT_OF_BOUNDS) => {
                    let zh = detail(ErrorCode::InvalidValue, &m, OUT_OF_BOUNDS);
                    (ErrorCode::InvalidValue, m, zh)
                }
                E::Custom(m) => {
                    let zh = detail(ErrorCode::InvalidField, &m, "");
                    (ErrorCode::InvalidField, m, zh)
                }
                E::MissingField(f) => (
                    ErrorCode::MissingField,
                    format!("missing field `{f}`"),
                    format!("缺少字段 `{f}`"),
                ),
                E::UnknownField(f, expected) => (
                    ErrorCode::UnknownField,
                    format!("unknown field `{f}`, expected one of {}", quote(expected)),
                    format!("未知字段 `{f}`，应为以下之一：{}", quote(expected)),
                ),
                E::UnknownVariant(v, expected) => (
                    ErrorCode::InvalidField,
                    format!("unknown variant `{v}`, expected one of {}", quote(expected)),
                    format!("未知取值 `{v}`，应为以下之一：{}", quote(expected)),
                ),
                E::InvalidType(got, expected) => (
                    ErrorCode::InvalidField,
                    format!("invalid type: {}, expected {expected}", got.to_unexpected()),
                    format!(
                        "类型无效：{}，应为 {expected}",
                        unexpected_zh(got.to_unexpected())
                    ),
                ),
                E::InvalidValue(got, expected) => (
                    ErrorCode::InvalidField,
                    format!(
                        "invalid value: {}, expected {expected}",
                        got.to_unexpected()
                    ),
                    format!(
                        "取值无效：{}，应为 {expected}",
                        unexpected_zh(got.to_unexpected())
                    ),
                ),
                E::InvalidLength(n, expected) => (
                    ErrorCode::InvalidField,
                    format!("invalid length {n}, expected {expected}"),
                    format!("长度 {n} 无效，应为 {expected}"),
                ),
                E::DuplicateField(f) => (
                    ErrorCode::InvalidField,
                    format!("duplicate field `{f}`"),
                    format!("字段 `{f}` 重复"),
                ),
            };
            Fault {
                path,
                code,
                message,
                message_zh,
            }
        }

        pub fn into_wire(self) -> WireError {
            if self.path.is_empty() {
                WireError::new(self.code, self.message, self.message_zh)
            } else {
                WireError::new(
                    self.code,
                    format!("{}: {}", self.path, self.message),
                    format!("{}：{}", self.path, self.message_zh),
                )
            }
        }
    }

    fn join(prefix: &str, rest: &serde_path_to_error::Path) -> String {
        let rest = if rest.iter().next().is_none() {
            String::new()
        } else {
            rest.to_string()
        };
        match (prefix.is_empty(), rest.is_empty()) {
            (true, _) => rest,
            (false, true) => prefix.to_string(),
            (false, false) if rest.starts_with('[') => format!("{prefix}{rest}"),
            (false, false) => format!("{prefix}.{rest}"),
        }
    }

    /// The fields of a tagged object, all but `type`.
    fn fields(obj: &Map<String, Value>) -> serde_value::Value {
        let mut rest = obj.clone();
        rest.remove("type");
        serde_value::to_value(Value::Object(rest)).expect("JSON converts to a serde value")
    }

    /// Deserializes `value` as `T`, recording the path of the first error below `prefix`.
    fn walk<T: DeserializeOwned>(prefix: &str, value: serde_value::Value) -> Result<T, Fault> {
        serde_path_to_error::deserialize(ValueDeserializer::<DeserializerError>::new(value))
            .map_err(|e| Fault::from_serde(join(prefix, e.path()), e.into_inner()))
    }

    /// Walks the command or query (`payload`) of a message.
    fn tagged(payload: &str, value: &Value) -> Result<(), Fault> {
        let Some(obj) = value.as_object() else {
            return Err(Fault::new(
                payload,
                ErrorCode::InvalidField,
                "must be an object".into(),
                "必须是对象".into(),
            ));
        };
        let kind = match obj.get("type") {
            None => {
                return Err(Fault::new(
                    payload,
                    ErrorCode::MissingField,
                    "missing field `type`".into(),
                    "缺少字段 `type`".into(),
                ));
            }
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => {
                return Err(Fault::new(
                    &format!("{payload}.type"),
                    ErrorCode::InvalidField,
                    "must be a string".into(),
                    "必须是字符串".into(),
                ));
            }
        };
        let mut track = serde_path_to_error::Track::new();
        let d = serde_path_to_error::Deserializer::new(
            ValueDeserializer::<DeserializerError>::new(fields(obj)),
            &mut track,
        );
        let (checked, unknown, payload_zh) = if payload == "command" {
            (
                Command::check_fields(kind, d),
                ErrorCode::UnknownCommand,
                "指令",
            )
        } else {
            (
                Query::check_fields(kind, d),
                ErrorCode::InvalidField,
                "查询",
            )
        };
        match checked {
            None => Err(Fault::new(
                "",
                unknown,
                format!("unknown {payload} type {kind:?}"),
                format!("未知的{payload_zh}类型 {kind:?}"),
            )),
            Some(Ok(())) => Ok(()),
            Some(Err(e)) => Err(Fault::from_serde(join(payload, &track.path()), e)),
        }
    }

    fn to_value(v: &Value) -> serde_value::Value {
        serde_value::to_value(v).expect("JSON converts to a serde value")
    }

    /// Walks a client message whose `type` is `kind`.
    pub fn client_message(kind: &str, obj: &Map<String, Value>) -> Result<(), Fault> {
        if !ClientMessage::VARIANTS.contains(&kind) {
            return Err(Fault::new(
                "",
                ErrorCode::UnknownMessage,
                format!("unknown message type {kind:?}"),
                format!("未知的消息类型 {kind:?}"),
            ));
        }
        let body = fields(obj);
        match kind {
            "auth" => walk::<super::Auth>("", body).map(drop),
            "subscribe" => walk::<super::Subscribe>("", body).map(drop),
            "set_viewport" => walk::<super::SetViewport>("", body).map(drop),
            "unsubscribe" => walk::<super::Unsubscribe>("", body).map(drop),
            "ping" => walk::<super::Ping>("", body).map(drop),
            "review" => walk::<super::Review>("", body).map(drop),
            "review_control" => walk::<super::ReviewControl>("", body).map(drop),
            "command" | "query" => {
                let payload = if kind == "command" {
                    "command"
                } else {
                    "query"
                };
                envelope(payload, obj)?;
                tagged(payload, &obj[payload])
            }
            _ => unreachable!("every message type is walked"),
        }
    }

    /// A command or query message's own fields: an `id`, the payload, nothing else.
    fn envelope(payload: &'static str, obj: &Map<String, Value>) -> Result<(), Fault> {
        #[derive(Deserialize)]
        struct Id {
            #[allow(dead_code)]
            id: String,
        }
        // A query may also name the moment it asks about.
        let at = if payload == "query" { "at" } else { "id" };
        if let Some(key) = obj
            .keys()
            .find(|k| !["type", "id", at, payload].contains(&k.as_str()))
        {
            let (expected, expected_zh) = if payload == "query" {
                (
                    "`id`, `at` or `query`".to_string(),
                    "`id`、`at` 或 `query`".to_string(),
                )
            } else {
                (
                    format!("`id` or `{payload}`"),
                    format!("`id` 或 `{payload}`"),
                )
            };
            return Err(Fault::new(
                "",
                ErrorCode::UnknownField,
                format!("unknown field `{key}`, expected {expected}"),
                format!("未知字段 `{key}`，应为{expected_zh}"),
            ));
        }
        if payload == "query"
            && let Some(at) = obj.get("at")
        {
            #[derive(Deserialize)]
            struct At {
                #[allow(dead_code)]
                at: Option<super::At>,
            }
            let at = [("at".to_string(), at.clone())];
            walk::<At>("", to_value(&Value::Object(at.into_iter().collect())))?;
        }
        if !obj.contains_key(payload) {
            return Err(Fault::new(
                "",
                ErrorCode::MissingField,
                format!("missing field `{payload}`"),
                format!("缺少字段 `{payload}`"),
            ));
        }
        let id = obj.get("id").map(|id| ("id".to_string(), id.clone()));
        walk::<Id>("", to_value(&Value::Object(id.into_iter().collect()))).map(drop)
    }
}

impl Query {
    /// Deserializes only the fields of a query of type `kind` and drops them (see
    /// `Command::check_fields`). `None` when `kind` names no query.
    pub fn check_fields<'de, D: serde::Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<(), D::Error>> {
        fn check<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
            d: D,
        ) -> Option<Result<(), D::Error>> {
            Some(T::deserialize(d).map(drop))
        }
        match kind {
            "nearest_teams" => check::<NearestTeams, D>(d),
            "nearest_shelters" => check::<NearestShelters, D>(d),
            "snap_to_levee" => check::<SnapToLevee, D>(d),
            "chainage_to_point" => check::<ChainageToPoint, D>(d),
            "in_bbox" => check::<InBbox, D>(d),
            "sitrep" => check::<Sitrep, D>(d),
            "patrol_coverage" => check::<PatrolCoverage, D>(d),
            "patrol_gaps" => check::<PatrolGaps, D>(d),
            "patrol_history" => check::<PatrolHistory, D>(d),
            "vocabulary" => check::<Vocabulary, D>(d),
            "evacuation_status" => check::<EvacuationStatusQuery, D>(d),
            "evacuation_preview" => check::<EvacuationPreview, D>(d),
            "layer" => check::<LayerQuery, D>(d),
            "casualties" => check::<CasualtiesQuery, D>(d),
            "materials" => check::<Materials, D>(d),
            "hydrograph" => check::<Hydrograph, D>(d),
            "corrections" => check::<Corrections, D>(d),
            _ => None,
        }
    }
}

/// Checks a client-chosen request id (commands and queries).
pub fn check_request_id(id: &str) -> Result<(), WireError> {
    if id.is_empty() || id.len() > MAX_REQUEST_ID || id.chars().any(char::is_control) {
        return Err(WireError::new(
            ErrorCode::InvalidRequestId,
            format!("id must be 1 to {MAX_REQUEST_ID} bytes without control characters"),
            format!("编号须为1至{MAX_REQUEST_ID}字节，且不含控制字符"),
        ));
    }
    if id.starts_with(crate::engine::CLOCK_ID_PREFIX) {
        return Err(WireError::new(
            ErrorCode::InvalidRequestId,
            format!(
                "ids starting with {:?} are the server's own",
                crate::engine::CLOCK_ID_PREFIX
            ),
            format!(
                "以 {:?} 开头的编号为服务器专用",
                crate::engine::CLOCK_ID_PREFIX
            ),
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
    fn every_refusal_says_it_in_chinese_with_the_same_path_and_values() {
        let refusal = |text: &str| {
            let e = parse_client_message(text).unwrap_err();
            (e.message, e.message_zh)
        };
        let (en, zh) = refusal(
            r#"{"type":"command","id":"c","command":{"type":"report_hazard","kind":"tsunami","severity":"general","position":[113,27]}}"#,
        );
        assert!(
            en.starts_with("command.kind: unknown variant `tsunami`"),
            "{en}"
        );
        assert!(
            zh.starts_with("command.kind：未知取值 `tsunami`，应为以下之一：`piping`"),
            "{zh}"
        );
        let (en, zh) = refusal(
            r#"{"type":"command","id":"c","command":{"type":"update_position","team_id":"T","position":[190,27]}}"#,
        );
        assert!(
            en.starts_with("command.position: invalid coordinates"),
            "{en}"
        );
        assert!(
            zh.starts_with("command.position：坐标超出范围：") && zh.contains("190"),
            "{zh}"
        );
        let (en, zh) = refusal(r#"{"type":"auth","token":5}"#);
        assert_eq!(en, "token: invalid type: integer `5`, expected a string");
        assert_eq!(zh, "token：类型无效：整数 5，应为 a string");
        let (en, zh) = refusal(
            r#"{"type":"command","id":"c","command":{"type":"check_in","shelter_id":"S-1","count":0}}"#,
        );
        assert_eq!(
            (en.as_str(), zh.as_str()),
            (
                "command.count: value out of bounds: a count 0 is outside 1 to 10000000",
                "command.count：数值无效：a count 0 is outside 1 to 10000000"
            )
        );
        let (_, zh) = refusal(r#"{"type":"command","id":"c","command":{"type":"fly"}}"#);
        assert_eq!(zh, "未知的指令类型 \"fly\"");
        for text in [
            "{not json",
            "[1,2]",
            r#"{"token":"x"}"#,
            r#"{"type":"dance"}"#,
            r#"{"type":"auth","token":"t","extra":1}"#,
            r#"{"type":"subscribe","layers":["teams"],"viewport":[1,2,3]}"#,
            r#"{"type":"command","id":"c","command":{"type":"update_position","team_id":"T","position":[1e999,27]}}"#,
        ] {
            let (_, zh) = refusal(text);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{text}: {zh}"
            );
        }
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

    fn error(text: &str) -> (&'static str, String) {
        let e = parse_client_message(text).unwrap_err();
        (e.code.as_str(), e.message)
    }

    #[test]
    fn an_error_names_the_path_of_the_field() {
        let (code, message) = error(
            r#"{"type":"command","id":"c","command":{"type":"define_shelter","id":"S","name":"s",
               "position":[113,27],"capacity":5,
               "supplies":{"water":{"stock":1,"per_person_daily":3,"unit":"L","colour":"blue"}}}}"#,
        );
        assert_eq!(code, "unknown_field");
        assert!(
            message.starts_with("command.supplies.water.colour: unknown field `colour`"),
            "{message}"
        );
        let (code, message) = error(
            r#"{"type":"command","id":"c","command":{"type":"check_in","shelter_id":"S","count":"many"}}"#,
        );
        assert_eq!(code, "invalid_field");
        assert!(
            message.starts_with("command.count: invalid type"),
            "{message}"
        );
        let (code, message) = error(
            r#"{"type":"command","id":"c","command":{"type":"check_in","shelter_id":"S","count":-3}}"#,
        );
        assert_eq!(code, "invalid_value");
        assert!(
            message.starts_with("command.count: value out of bounds"),
            "{message}"
        );
        let (code, message) = error(
            r#"{"type":"command","id":"c","command":{"type":"define_gauge","id":"G","name":"g",
               "position":[113,27],"datum":"d","thresholds":{"guard_m":1,"warning_m":2}}}"#,
        );
        assert_eq!(code, "missing_field");
        assert_eq!(message, "command.thresholds: missing field `guaranteed_m`");
        let (code, message) = error(
            r#"{"type":"command","id":"c","command":{"type":"define_grid_cell","id":"C","population":1,
               "ring":[[113,27],[113.1,27],[113.1,97],[113,27]]}}"#,
        );
        assert_eq!(code, "invalid_coordinates");
        assert!(message.starts_with("command.ring[2]"), "{message}");
        let (code, message) = error(r#"{"type":"subscribe","layers":["teams","rivers"]}"#);
        assert_eq!(code, "invalid_field");
        assert!(
            message.starts_with("layers[1]: unknown variant `rivers`"),
            "{message}"
        );
        let (code, message) = error(r#"{"type":"command","id":7,"command":{"type":"check_in"}}"#);
        assert_eq!(
            (code, message.as_str()),
            (
                "invalid_field",
                "id: invalid type: integer `7`, expected a string"
            )
        );
        assert_eq!(
            error(r#"{"type":"command","id":"c","command":{"type":"check_in","shelter_id":"S","count":1},"x":1}"#).0,
            "unknown_field"
        );
        assert_eq!(error(r#"{"type":"command","id":"c"}"#).0, "missing_field");
        assert_eq!(
            error(r#"{"type":"command","id":"c","command":[]}"#).0,
            "invalid_field"
        );
        assert_eq!(
            error(r#"{"type":"command","id":"c","command":{"shelter_id":"S"}}"#),
            ("missing_field", "command: missing field `type`".to_string())
        );
    }

    #[test]
    fn every_right_typed_value_beyond_its_bound_is_an_invalid_value() {
        let long_id = "x".repeat(65);
        for (text, code) in [
            (r#"{"type":"subscribe","layers":["teams"],"resume_from":-1}"#.to_string(), "invalid_value"),
            (r#"{"type":"subscribe","layers":["teams"],"resume_from":"1"}"#.to_string(), "invalid_field"),
            (
                r#"{"type":"query","id":"q","query":{"type":"chainage_to_point","levee_id":"L","chainage":-5}}"#.to_string(),
                "invalid_value",
            ),
            (
                format!(r#"{{"type":"command","id":"c","command":{{"type":"open_shelter","shelter_id":"{long_id}"}}}}"#),
                "invalid_value",
            ),
            (
                r#"{"type":"command","id":"c","command":{"type":"open_shelter","shelter_id":"S 1"}}"#.to_string(),
                "invalid_field",
            ),
        ] {
            assert_eq!(error(&text).0, code, "{text}");
        }
    }

    #[test]
    fn query_numbers_beyond_their_bound_are_invalid_values() {
        let q = |query: &str| error(&format!(r#"{{"type":"query","id":"q","query":{query}}}"#));
        let (code, message) = q(r#"{"type":"nearest_teams","point":[113,27],"limit":0}"#);
        assert_eq!(code, "invalid_value");
        assert!(
            message.starts_with("query.limit: value out of bounds"),
            "{message}"
        );
        for (query, code) in [
            (
                r#"{"type":"nearest_teams","point":[113,27],"limit":101}"#,
                "invalid_value",
            ),
            (
                r#"{"type":"nearest_teams","point":[113,27],"limit":"all"}"#,
                "invalid_field",
            ),
            (
                r#"{"type":"nearest_teams","point":[113,27],"limit":2.5}"#,
                "invalid_field",
            ),
            (
                r#"{"type":"nearest_shelters","point":[113,27],"min_free":-1}"#,
                "invalid_value",
            ),
            (
                r#"{"type":"snap_to_levee","point":[113,27],"tolerance_m":5001}"#,
                "invalid_value",
            ),
            (
                r#"{"type":"snap_to_levee","point":[113,27],"tolerance_m":-1}"#,
                "invalid_value",
            ),
        ] {
            assert_eq!(q(query).0, code, "{query}");
        }
        assert_eq!(
            q(r#"{"type":"teleport"}"#),
            (
                "invalid_field",
                "unknown query type \"teleport\"".to_string()
            )
        );
        let Ok(ClientMessage::Query(m)) = parse_client_message(
            r#"{"type":"query","id":"q","query":{"type":"nearest_shelters","point":[113,27]}}"#,
        ) else {
            panic!("parses")
        };
        let Query::NearestShelters(q) = m.query else {
            panic!("a nearest_shelters")
        };
        assert_eq!(
            (q.min_free.get(), q.limit.as_usize()),
            (1, 5),
            "the defaults"
        );
    }

    #[test]
    fn unknown_fields_are_refused_in_every_message_and_query() {
        for text in [
            r#"{"type":"auth","token":"t","zzz":1}"#,
            r#"{"type":"subscribe","layers":["teams"],"zzz":1}"#,
            r#"{"type":"set_viewport","viewport":null,"zzz":1}"#,
            r#"{"type":"unsubscribe","zzz":1}"#,
            r#"{"type":"ping","zzz":1}"#,
            r#"{"type":"command","id":"c","command":{"type":"open_shelter","shelter_id":"S"},"zzz":1}"#,
            r#"{"type":"query","id":"q","query":{"type":"sitrep"},"zzz":1}"#,
            r#"{"type":"query","id":"q","query":{"type":"sitrep","zzz":1}}"#,
            r#"{"type":"query","id":"q","query":{"type":"nearest_teams","point":[113,27],"zzz":1}}"#,
            r#"{"type":"query","id":"q","query":{"type":"nearest_shelters","point":[113,27],"zzz":1}}"#,
            r#"{"type":"query","id":"q","query":{"type":"snap_to_levee","point":[113,27],"zzz":1}}"#,
            r#"{"type":"query","id":"q","query":{"type":"chainage_to_point","levee_id":"L","chainage":1,"zzz":1}}"#,
            r#"{"type":"query","id":"q","query":{"type":"in_bbox","layer":"teams","bbox":[1,2,3,4],"zzz":1}}"#,
        ] {
            let (code, message) = error(text);
            assert_eq!(code, "unknown_field", "{text}: {message}");
            assert!(message.contains("zzz"), "{text}: {message}");
        }
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
    fn moments_and_speeds_parse_within_their_bounds() {
        assert_eq!(At::parse("42"), Ok(At::Seq(42)));
        assert_eq!(At::parse("0"), Ok(At::Seq(0)));
        assert_eq!(
            At::parse("2026-07-15T08:00:00+08:00"),
            Ok(At::Time(
                crate::clock::parse_rfc3339("2026-07-15T00:00:00Z").unwrap()
            ))
        );
        for bad in [
            "",
            "-1",
            "4.5",
            "99999999999999999999",
            "yesterday",
            "2026-07-15",
        ] {
            assert!(At::parse(bad).is_err(), "{bad}");
        }
        let review = |extra: &str| {
            parse_client_message(&format!(
                r#"{{"type":"review","id":"r","from":3,"layers":["teams"]{extra}}}"#
            ))
        };
        let Ok(ClientMessage::Review(r)) = review(r#","to":"2026-07-15T00:00:00Z","speed":"max""#)
        else {
            panic!("a review parses")
        };
        assert_eq!((r.from, r.speed), (At::Seq(3), Some(Speed::Max)));
        assert!(matches!(r.to, Some(At::Time(_))));
        let Ok(ClientMessage::Review(r)) = review(r#","speed":0.1"#) else {
            panic!("the slowest speed")
        };
        assert_eq!(r.speed, Some(Speed::Times(0.1)));
        assert!(review(r#","speed":100000"#).is_ok());
        assert_eq!(
            code(r#"{"type":"review","id":"r","from":3,"layers":["teams"],"speed":0.09}"#),
            "invalid_value"
        );
        assert_eq!(
            code(r#"{"type":"review","id":"r","from":-3,"layers":["teams"]}"#),
            "invalid_value"
        );
        assert_eq!(
            code(r#"{"type":"review","id":"r","from":"now","layers":["teams"]}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"type":"review_control","action":"rewind"}"#),
            "invalid_field"
        );
        // A query's `at`: its path in the message, and no other new field in the envelope.
        let e = parse_client_message(
            r#"{"type":"query","id":"q","at":"soon","query":{"type":"casualties"}}"#,
        )
        .unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidField);
        assert!(e.message.starts_with("at: "), "{}", e.message);
        assert_eq!(
            code(r#"{"type":"command","id":"c","at":3,"command":{"type":"check_in"}}"#),
            "unknown_field"
        );
        assert!(matches!(
            parse_client_message(
                r#"{"type":"query","id":"q","at":7,"query":{"type":"casualties"}}"#
            ),
            Ok(ClientMessage::Query(QueryMessage {
                at: Some(At::Seq(7)),
                ..
            }))
        ));
    }
}
