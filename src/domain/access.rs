//! Who is acting, and what each role may do.

use super::commands::Command;
use super::ids::TeamId;
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
    /// Human label for audit trails (token label, or `system` for the map loader).
    pub name: String,
}

impl Actor {
    /// The server itself (map loading); acts with dispatcher rights.
    pub fn system() -> Actor {
        Actor {
            role: Role::Dispatcher,
            team: None,
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
            | Command::RequestMaterials(_)
            | Command::DeliverMaterials(_)
            | Command::ConsumeMaterials(_)
    )
}
