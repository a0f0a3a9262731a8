//! Corrections of reference data after the map was loaded (a shelter's capacity, a gauge's
//! thresholds, a team's roster and headcount, a protected asset's buffer): each one is an event
//! that carries the old value, the new one, the reason, who and when — the audit trail. The state
//! keeps the newest [`CORRECTIONS_KEPT`]; the log keeps them all.

use super::events::Layer;
use super::ids::*;
use super::model::{Thresholds, TimeMs};
use serde::{Deserialize, Serialize};

/// Corrections kept in the state (the `corrections` query), the newest.
pub const CORRECTIONS_KEPT: usize = 1_000;

/// Most people a roster names (leader and members together).
pub const MAX_ROSTER_NAMES: usize = 500;

/// What a correction changed.
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
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CorrectionField {
    ShelterCapacity,
    GaugeThresholds,
    TeamRoster,
    AssetBuffer,
}

/// A team's roster: its head count (everyone, the leader included), its leader (队长) and the
/// members named. Either the roster names everyone — then the head count is the number of names —
/// or it names nobody but perhaps the leader and the head count says how many there are.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    pub headcount: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// The value corrected, before and after, tagged by its `field`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "snake_case")]
pub enum Change {
    /// `occupancy`: the people in the shelter when its capacity was corrected.
    ShelterCapacity {
        shelter_id: ShelterId,
        old: u32,
        new: u32,
        occupancy: u32,
    },
    GaugeThresholds {
        gauge_id: GaugeId,
        old: Thresholds,
        new: Thresholds,
    },
    TeamRoster {
        team_id: TeamId,
        old: Roster,
        new: Roster,
    },
    AssetBuffer {
        asset_id: AssetId,
        old: f64,
        new: f64,
    },
}

impl Change {
    pub fn field(&self) -> CorrectionField {
        match self {
            Change::ShelterCapacity { .. } => CorrectionField::ShelterCapacity,
            Change::GaugeThresholds { .. } => CorrectionField::GaugeThresholds,
            Change::TeamRoster { .. } => CorrectionField::TeamRoster,
            Change::AssetBuffer { .. } => CorrectionField::AssetBuffer,
        }
    }

    /// The layer and id of the entity corrected.
    pub fn subject(&self) -> (Layer, &str) {
        match self {
            Change::ShelterCapacity { shelter_id, .. } => (Layer::Shelters, shelter_id.as_str()),
            Change::GaugeThresholds { gauge_id, .. } => (Layer::Gauges, gauge_id.as_str()),
            Change::TeamRoster { team_id, .. } => (Layer::Teams, team_id.as_str()),
            Change::AssetBuffer { asset_id, .. } => (Layer::ProtectedAssets, asset_id.as_str()),
        }
    }
}

/// One correction, numbered `CR-<n>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub id: CorrectionId,
    pub change: Change,
    pub reason: String,
    pub by: String,
    pub at: TimeMs,
}
