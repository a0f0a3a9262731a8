//! Every error code a client can receive, over the WebSocket (`error` messages) and over HTTP
//! (`{"code","message","message_zh"}` bodies). `docs/protocol.md` §8 lists exactly these; a test
//! reads the document and compares, both ways. Every code has a Chinese name ([`ErrorCode::zh`])
//! and every error a Chinese message next to the English one.

use crate::domain::DomainError;
use crate::engine::SubmitError;
use serde::Serialize;

/// A stable, machine-readable error code. Its wire name is the snake_case of the variant.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::EnumIter,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ErrorCode {
    // The frame itself
    MalformedJson,
    InvalidNumber,
    InvalidMessage,
    MissingField,
    UnknownField,
    InvalidField,
    InvalidCoordinates,
    UnknownMessage,
    UnknownCommand,
    InvalidRequestId,
    UnsupportedFrame,
    FrameTooLarge,
    RateLimited,
    // Authentication and session
    Unauthenticated,
    InvalidToken,
    RevokedToken,
    AlreadyAuthenticated,
    NotSubscribed,
    NoReview,
    // The past (time travel and review)
    SeqOutOfRange,
    TimeOutOfRange,
    // Commands
    CommandIdConflict,
    Unavailable,
    Forbidden,
    NotFound,
    AlreadyExists,
    IllegalTransition,
    NotAnEscalation,
    TeamBusy,
    TeamOffDuty,
    ShelterClosed,
    OverCapacity,
    OccupancyUnderflow,
    InsufficientStock,
    OverPopulation,
    NoActiveOrder,
    ExceedsShipment,
    InvalidValue,
    ShelterInFloodArea,
    // HTTP only
    UnknownLayer,
    EngineStopped,
    LogUnwritable,
    StoreUnavailable,
    TooManyConnections,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// What the code means, in Chinese (an exhaustive match: a new code does not compile
    /// without it). A Chinese message that has no detail of its own is this.
    pub fn zh(self) -> &'static str {
        use ErrorCode as C;
        match self {
            C::MalformedJson => "消息不是合法的 JSON",
            C::InvalidNumber => "数字过大，不是有限数",
            C::InvalidMessage => "消息必须是 JSON 对象",
            C::MissingField => "缺少必填字段",
            C::UnknownField => "消息中有未知字段",
            C::InvalidField => "字段类型或取值无效",
            C::InvalidCoordinates => "坐标超出范围",
            C::UnknownMessage => "未知的消息类型",
            C::UnknownCommand => "未知的指令类型",
            C::InvalidRequestId => "请求编号无效",
            C::UnsupportedFrame => "不支持的帧类型",
            C::FrameTooLarge => "消息过大",
            C::RateLimited => "发送过于频繁，消息已丢弃",
            C::Unauthenticated => "尚未认证",
            C::InvalidToken => "令牌无效",
            C::RevokedToken => "令牌已被吊销",
            C::AlreadyAuthenticated => "本连接已经认证",
            C::NotSubscribed => "尚未订阅",
            C::NoReview => "本连接没有进行中的回放",
            C::SeqOutOfRange => "序号超出事件日志",
            C::TimeOutOfRange => "时间不在事件日志的时间范围内",
            C::CommandIdConflict => "指令编号已用于另一条指令",
            C::Unavailable => "事件日志暂时无法读写，请稍后重发",
            C::Forbidden => "超出令牌权限",
            C::NotFound => "引用的对象不存在",
            C::AlreadyExists => "对象已存在",
            C::IllegalTransition => "不允许的状态变更",
            C::NotAnEscalation => "不是升级：既未提高严重程度，也未转为溃口",
            C::TeamBusy => "队伍正在执行其他任务",
            C::TeamOffDuty => "队伍处于休整状态",
            C::ShelterClosed => "安置点已关闭",
            C::OverCapacity => "超出安置点容量",
            C::OccupancyUnderflow => "离开人数多于在住人数",
            C::InsufficientStock => "库存不足",
            C::OverPopulation => "转移人数超过尚未转移的人数",
            C::NoActiveOrder => "没有生效的转移令覆盖该地点",
            C::ExceedsShipment => "消耗或退回的物资超过调运单尚存数量",
            C::ShelterInFloodArea => "安置点位于溃口淹没区内",
            C::InvalidValue => "数值无效",
            C::UnknownLayer => "图层不存在",
            C::EngineStopped => "引擎未运行",
            C::LogUnwritable => "事件日志无法写入",
            C::StoreUnavailable => "数据库无响应",
            C::TooManyConnections => "服务器连接数已达上限，请稍后重试",
        }
    }
}

impl From<&DomainError> for ErrorCode {
    fn from(e: &DomainError) -> ErrorCode {
        match e {
            DomainError::NotFound { .. } => ErrorCode::NotFound,
            DomainError::AlreadyExists { .. } => ErrorCode::AlreadyExists,
            DomainError::IllegalTransition { .. } => ErrorCode::IllegalTransition,
            DomainError::NotAnEscalation(_) => ErrorCode::NotAnEscalation,
            DomainError::TeamBusy { .. } => ErrorCode::TeamBusy,
            DomainError::TeamOffDuty(_) => ErrorCode::TeamOffDuty,
            DomainError::ShelterClosed(_) => ErrorCode::ShelterClosed,
            DomainError::OverCapacity { .. } | DomainError::CapacityBelowOccupancy { .. } => {
                ErrorCode::OverCapacity
            }
            DomainError::OccupancyUnderflow { .. } => ErrorCode::OccupancyUnderflow,
            DomainError::InsufficientStock { .. } => ErrorCode::InsufficientStock,
            DomainError::OverPopulation { .. } => ErrorCode::OverPopulation,
            DomainError::NoActiveOrder(_) => ErrorCode::NoActiveOrder,
            DomainError::ShelterInFloodArea { .. } => ErrorCode::ShelterInFloodArea,
            DomainError::Invalid(_) => ErrorCode::InvalidValue,
            DomainError::Forbidden(_) => ErrorCode::Forbidden,
            DomainError::DepotStockShort { .. } => ErrorCode::InsufficientStock,
            DomainError::ExceedsShipment { .. } => ErrorCode::ExceedsShipment,
        }
    }
}

/// An error sent to a client: a stable code and a message for people, in English (`message`)
/// and in Chinese (`message_zh`), both with the same ids, numbers and field paths. The messages
/// never carry an internal cause (a database error, a file path): those go to the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    pub message_zh: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>, message_zh: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
            message_zh: message_zh.into(),
        }
    }
}

impl From<&SubmitError> for WireError {
    fn from(e: &SubmitError) -> Self {
        match e {
            SubmitError::Domain(d) => d.into(),
            SubmitError::Conflict(id) => WireError::new(
                ErrorCode::CommandIdConflict,
                e.to_string(),
                format!("指令编号{id}已用于另一条指令"),
            ),
            SubmitError::Unavailable(m) => WireError::new(
                ErrorCode::Unavailable,
                e.to_string(),
                format!("事件日志暂时不可用：{}", m.zh),
            ),
        }
    }
}

impl From<&DomainError> for WireError {
    fn from(e: &DomainError) -> Self {
        WireError::new(e.into(), e.to_string(), e.zh())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use strum::IntoEnumIterator;

    /// The codes in the error table of `docs/protocol.md` §8: rows that start with a code in
    /// backticks (a row may name several, e.g. `invalid_token`, `revoked_token`).
    fn documented_codes() -> BTreeSet<String> {
        let doc = include_str!("../../docs/protocol.md");
        let section = doc
            .split("\n## 8. Errors")
            .nth(1)
            .expect("protocol.md has section 8")
            .split("\n## ")
            .next()
            .unwrap();
        let table = section
            .split("### Closing codes")
            .next()
            .expect("the error table comes first");
        table
            .lines()
            .filter_map(|l| l.strip_prefix("| `"))
            .filter_map(|l| l.split(" |").next())
            .flat_map(|cell| {
                cell.split(['`', ','])
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    #[test]
    fn the_documented_codes_are_exactly_the_codes() {
        let documented = documented_codes();
        let ours: BTreeSet<String> = ErrorCode::iter().map(|c| c.as_str().to_string()).collect();
        let undocumented: Vec<_> = ours.difference(&documented).collect();
        let unknown: Vec<_> = documented.difference(&ours).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "codes without a row in docs/protocol.md §8: {undocumented:?}; rows with no code: {unknown:?}"
        );
    }

    #[test]
    fn every_documented_code_has_a_chinese_message() {
        for name in documented_codes() {
            let code: ErrorCode = name.parse().expect("a documented code is a code");
            let zh = code.zh();
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{name} has no Chinese message: {zh:?}"
            );
        }
        let all: BTreeSet<&str> = ErrorCode::iter().map(ErrorCode::zh).collect();
        assert_eq!(
            all.len(),
            ErrorCode::iter().count(),
            "two codes share a Chinese message"
        );
    }

    #[test]
    fn a_refusal_carries_both_messages_with_the_same_details() {
        let e = WireError::from(&SubmitError::Domain(DomainError::OccupancyUnderflow {
            shelter: "SH-2".into(),
            occupancy: 3,
            requested: 9,
        }));
        assert_eq!(e.code, ErrorCode::OccupancyUnderflow);
        assert_eq!(e.message, "shelter SH-2 holds 3 people, cannot check out 9");
        assert_eq!(e.message_zh, "安置点SH-2现有3人，不能离开9人");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["message_zh"], "安置点SH-2现有3人，不能离开9人");
        let e = WireError::from(&SubmitError::Conflict("desk-1".into()));
        assert!(e.message.contains("desk-1") && e.message_zh.contains("desk-1"));
    }

    #[test]
    fn wire_names_are_snake_case_and_agree_with_serde() {
        for c in ErrorCode::iter() {
            let serde_name = serde_json::to_value(c).unwrap();
            assert_eq!(serde_name, c.as_str());
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(c));
        }
        assert_eq!(ErrorCode::NotAnEscalation.as_str(), "not_an_escalation");
    }
}
