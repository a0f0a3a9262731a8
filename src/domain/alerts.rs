//! Alerts: one stream for everything that needs a person's attention. An alert is raised when its
//! condition starts, may be acknowledged by a dispatcher with a note, and is resolved when its
//! condition clears. One condition has at most one open (raised or acknowledged) alert: its
//! [`Alert::key`] says which condition it is.
//!
//! The rules that raise and resolve alerts are in `watch.rs`; their thresholds are data
//! ([`AlertRules`]) with the defaults of the practice.

use super::events::Layer;
use super::ids::*;
use super::model::TimeMs;
use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlertKind {
    /// A gauge at or above a threshold (one alert per threshold).
    GaugeThreshold,
    /// Stretches of a patrol section not passed within the interval.
    PatrolGap,
    /// A patrol section with no team on shift while patrols are required.
    PatrolUnstaffed,
    /// A hazard within a protected asset's buffer.
    AssetThreatened,
    /// A shelter at 90 % of its capacity or more (but not full).
    ShelterNearlyFull,
    /// A shelter full.
    ShelterFull,
    /// A supply of an open shelter with people in it below one day.
    SupplyLow,
    /// A team on duty without a position for 10 minutes.
    TeamSilent,
    /// An assignment not accepted within 5 minutes.
    AssignmentNotAccepted,
    /// A grid cell without a grid worker.
    GridCellUnstaffed,
    /// A depot's stock of a flood material below its low-stock level (one alert per item).
    DepotLowStock,
}

impl AlertKind {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

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
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AlertState {
    Raised,
    Acknowledged,
    Resolved,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Acknowledgement {
    pub by: String,
    pub note: String,
    pub at: TimeMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: AlertId,
    pub kind: AlertKind,
    /// The entity the alert is about.
    pub layer: Layer,
    pub subject_id: String,
    /// What distinguishes two conditions of one kind on one subject (a threshold, a supply
    /// item, an asset); empty when there is only one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub qualifier: String,
    /// For people: what is wrong, with the figures.
    pub message: String,
    pub state: AlertState,
    pub raised_at: TimeMs,
    pub acknowledged: Option<Acknowledgement>,
    pub resolved_at: Option<TimeMs>,
    /// A protected asset and a hazard: the asset named, and how far.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asset: Option<AssetProximity>,
}

/// A hazard near a protected asset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssetProximity {
    pub asset_id: AssetId,
    pub asset_name: String,
    pub distance_m: f64,
    /// Where along a linear asset (the railway's kilometre post), `K1673+200`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chainage: Option<String>,
}

/// The condition an alert stands for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AlertKey {
    pub kind: AlertKind,
    pub subject_id: String,
    pub qualifier: String,
}

impl Alert {
    pub fn key(&self) -> AlertKey {
        AlertKey {
            kind: self.kind,
            subject_id: self.subject_id.clone(),
            qualifier: self.qualifier.clone(),
        }
    }

    pub fn is_open(&self) -> bool {
        self.state != AlertState::Resolved
    }
}

/// Alert thresholds: data, with the defaults of the practice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AlertRules {
    /// A shelter this full (per cent of capacity) is nearly full.
    pub shelter_nearly_full_pct: f64,
    /// A supply with fewer days left than this is low.
    pub supply_low_days: f64,
    /// A team on duty silent for this long, minutes.
    pub team_silent_min: u32,
    /// An assignment not accepted for this long, minutes.
    pub assignment_accept_min: u32,
}

impl Default for AlertRules {
    fn default() -> Self {
        AlertRules {
            shelter_nearly_full_pct: 90.0,
            supply_low_days: 1.0,
            team_silent_min: 10,
            assignment_accept_min: 5,
        }
    }
}
