//! Who is acting, and what each role may do.

use super::commands::Command;
use super::ids::{GridWorkerId, TeamId};
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantNames,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Role {
    /// Command-center staff: every command.
    Dispatcher,
    /// A field team's tablet: its own team's position, duty and assignments; hazard reports;
    /// shelter check-ins and check-outs; its team's materials requests, and the delivery and
    /// consumption of shipments its team receives.
    Field,
    /// Read-only: subscriptions and queries, no commands.
    Observer,
    /// A grid worker's (网格员) phone: reports on the cells bound to the token (status,
    /// self-arranged evacuees), hazard and casualty reports.
    GridWorker,
}

impl Role {
    pub fn parse(s: &str) -> Option<Role> {
        s.parse().ok()
    }

    pub fn name(self) -> &'static str {
        self.into()
    }
}

/// The authenticated principal behind a command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub role: Role,
    /// The team a field token is bound to.
    pub team: Option<TeamId>,
    /// The grid worker a grid-worker token is bound to (and through them, their cells).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_worker: Option<GridWorkerId>,
    /// Human label for audit trails (token label, or `system` for the map loader).
    pub name: String,
}

impl Actor {
    /// The server itself (map loading); acts with dispatcher rights.
    pub fn system() -> Actor {
        Actor {
            role: Role::Dispatcher,
            team: None,
            grid_worker: None,
            name: "system".into(),
        }
    }

    /// True when this actor is a field tablet bound to `team`.
    pub fn is_field_of(&self, team: &TeamId) -> bool {
        self.role == Role::Field && self.team.as_ref() == Some(team)
    }
}

/// Commands a field tablet may send at all; whether it may send them for a given team or
/// assignment is checked against the state in `decide`.
pub fn field_may_send(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::ReportHazard(_)
            | Command::UpdatePosition(_)
            | Command::SetTeamDuty(_)
            | Command::AdvanceAssignment(_)
            | Command::CancelAssignment(_)
            | Command::CheckIn(_)
            | Command::CheckOut(_)
            | Command::CheckInPatrolPoint(_)
            | Command::RecordCasualty(_)
            | Command::RecordRescue(_)
            | Command::RequestMaterials(_)
            | Command::DeliverMaterials(_)
            | Command::ConsumeMaterials(_)
    )
}

/// Commands a grid worker's phone may send at all; whether the cell is theirs is checked in
/// `decide`.
pub fn grid_worker_may_send(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::ReportCellStatus(_)
            | Command::RecordSelfEvacuation(_)
            | Command::ReportHazard(_)
            | Command::RecordCasualty(_)
    )
}
