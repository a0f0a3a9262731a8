//! Every error code a client can receive, over the WebSocket (`error` messages) and over HTTP
//! (`{"code","message"}` bodies). `docs/protocol.md` §8 lists exactly these; a test reads the
//! document and compares, both ways.

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

/// An error sent to a client: a stable code and a message for people. The message never carries
/// an internal cause (a database error, a file path): those go to the log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
}

impl WireError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        WireError {
            code,
            message: message.into(),
        }
    }
}

impl From<&SubmitError> for WireError {
    fn from(e: &SubmitError) -> Self {
        let code = match e {
            SubmitError::Domain(d) => d.into(),
            SubmitError::Conflict(_) => ErrorCode::CommandIdConflict,
            SubmitError::Unavailable(_) => ErrorCode::Unavailable,
        };
        WireError::new(code, e.to_string())
    }
}

impl From<&DomainError> for WireError {
    fn from(e: &DomainError) -> Self {
        WireError::new(e.into(), e.to_string())
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
    fn wire_names_are_snake_case_and_agree_with_serde() {
        for c in ErrorCode::iter() {
            let serde_name = serde_json::to_value(c).unwrap();
            assert_eq!(serde_name, c.as_str());
            assert_eq!(c.as_str().parse::<ErrorCode>(), Ok(c));
        }
        assert_eq!(ErrorCode::NotAnEscalation.as_str(), "not_an_escalation");
    }
}
