//! The entities of the shared picture. These are the projection's records; they change only by
//! applying events (see `state.rs`). They are also what the log and snapshots hold, so their
//! numbers are plain (a record logged before a bound existed must still load); what a client sends
//! is parsed into the bounded types of `values.rs` first.
//!
//! Every value set has its wire name twice, from the same `snake_case` rule: serde's for JSON and
//! strum's (`IntoStaticStr`, `AsRefStr`, `EnumString`) for messages and lookups.

use super::geo::LonLat;
use super::ids::*;
use super::levee::LeveeLocation;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Milliseconds since the Unix epoch, UTC.
pub type TimeMs = i64;

// ---------------------------------------------------------------- hazards

/// Kind of levee hazard (险情).
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HazardKind {
    /// 管涌
    Piping,
    /// 渗水 / 散浸
    Seepage,
    /// 漏洞
    Leak,
    /// 滑坡
    SlopeSlide,
    /// 崩岸
    BankCollapse,
    /// 跌窝
    Sinkhole,
    /// 裂缝
    Crack,
    /// 漫溢
    Overtopping,
    /// 溃口
    Breach,
}

/// Severity, ordered: general (一般) < major (较大) < critical (重大).
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Severity {
    General,
    Major,
    Critical,
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HazardStatus {
    Reported,
    Confirmed,
    BeingHandled,
    /// 已排除
    Eliminated,
    FalseAlarm,
}

impl HazardStatus {
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Eliminated | Self::FalseAlarm)
    }

    /// The lifecycle: reported → confirmed → being handled → eliminated; reported or confirmed →
    /// false alarm; a confirmed hazard may be eliminated without a separate handling step.
    pub fn can_become(self, next: HazardStatus) -> bool {
        use HazardStatus::*;
        matches!(
            (self, next),
            (Reported, Confirmed)
                | (Confirmed, BeingHandled)
                | (Confirmed, Eliminated)
                | (BeingHandled, Eliminated)
                | (Reported, FalseAlarm)
                | (Confirmed, FalseAlarm)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hazard {
    pub id: HazardId,
    pub kind: HazardKind,
    pub severity: Severity,
    pub status: HazardStatus,
    pub position: LonLat,
    /// Levee, chainage and side, when the position is within the snapping tolerance of a levee.
    pub levee: Option<LeveeLocation>,
    pub description: String,
    pub reported_by: String,
    pub reported_at: TimeMs,
    pub updated_at: TimeMs,
    /// Protected assets whose buffer it lies in, when it was reported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub near_assets: Vec<crate::domain::alerts::AssetProximity>,
}

// ---------------------------------------------------------------- teams

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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TeamKind {
    ArmedPolice,
    ReserveForce,
    Militia,
    Cadres,
    FireRescue,
    Volunteers,
    GridWorkers,
}

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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Capability {
    Boat,
    Pump,
    Engineering,
    Medical,
    Lighting,
    Communications,
    Diving,
    HeavyMachinery,
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TravelMode {
    Foot,
    Vehicle,
    Boat,
}

impl TravelMode {
    /// Planning speed for a straight-line ETA, km/h: on foot along a levee at night, a vehicle on
    /// flood-affected roads, an assault boat on flood water.
    pub fn speed_kmh(self) -> f64 {
        match self {
            Self::Foot => 4.0,
            Self::Vehicle => 30.0,
            Self::Boat => 15.0,
        }
    }

    /// Straight-line travel time in seconds for `distance_m`.
    pub fn eta_s(self, distance_m: f64) -> f64 {
        distance_m / (self.speed_kmh() / 3.6)
    }
}

/// A position report.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fix {
    pub position: LonLat,
    pub time_ms: TimeMs,
    pub accuracy_m: f64,
}

/// A team's status. Derived from its duty flag and its active assignment, never stored, so the
/// two can never disagree.
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum TeamStatus {
    Available,
    Assigned,
    EnRoute,
    OnScene,
    OffDuty,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Team {
    pub id: TeamId,
    pub name: String,
    pub kind: TeamKind,
    pub headcount: u32,
    pub capabilities: BTreeSet<Capability>,
    pub travel_mode: TravelMode,
    pub on_duty: bool,
    pub fix: Option<Fix>,
    /// The one active (not completed, not cancelled) assignment, if any.
    pub assignment: Option<AssignmentId>,
    /// When it was registered (the silence rule's clock for a team without a fix).
    #[serde(default)]
    pub registered_at: TimeMs,
    /// Where the last fix lay on a levee with patrol sections, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_levee: Option<crate::domain::events::OnLevee>,
    /// The team's leader (队长), once a roster was entered (`correct_team_roster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The members named by the roster, the leader not among them; `headcount` counts everyone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

// ---------------------------------------------------------------- assignments

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AssignmentTarget {
    Hazard {
        hazard_id: HazardId,
    },
    PatrolStretch {
        levee_id: LeveeId,
        from_m: f64,
        to_m: f64,
    },
    EvacuationZone {
        evacuation_id: EvacuationId,
    },
    Shelter {
        shelter_id: ShelterId,
    },
    /// A rescue task: people recorded as trapped.
    Trapped {
        casualty_id: CasualtyId,
    },
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AssignmentState {
    Proposed,
    Accepted,
    EnRoute,
    OnScene,
    Completed,
    Cancelled,
}

impl AssignmentState {
    pub fn is_active(self) -> bool {
        !matches!(self, Self::Completed | Self::Cancelled)
    }

    /// proposed → accepted → en route → on scene → completed; any active state → cancelled.
    pub fn can_become(self, next: AssignmentState) -> bool {
        use AssignmentState::*;
        match next {
            Cancelled => self.is_active(),
            Accepted => self == Proposed,
            EnRoute => self == Accepted,
            OnScene => self == EnRoute,
            Completed => self == OnScene,
            Proposed => false,
        }
    }

    /// What the team is doing while it holds an assignment in this state.
    pub fn team_status(self) -> TeamStatus {
        match self {
            Self::Proposed | Self::Accepted => TeamStatus::Assigned,
            Self::EnRoute => TeamStatus::EnRoute,
            Self::OnScene => TeamStatus::OnScene,
            Self::Completed | Self::Cancelled => TeamStatus::Available,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AssignmentTransition {
    pub state: AssignmentState,
    pub at: TimeMs,
    pub by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Assignment {
    pub id: AssignmentId,
    pub team_id: TeamId,
    pub target: AssignmentTarget,
    pub state: AssignmentState,
    pub note: String,
    /// Every state it has been in, oldest first (the audit trail).
    pub history: Vec<AssignmentTransition>,
}

// ---------------------------------------------------------------- shelters

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Supply {
    pub stock: f64,
    /// Consumption per sheltered person per day, in the same unit as `stock`.
    pub per_person_daily: f64,
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shelter {
    pub id: ShelterId,
    pub name: String,
    pub position: LonLat,
    pub capacity: u32,
    pub occupancy: u32,
    pub open: bool,
    /// Stock by item name (`water`, `instant_noodles`, `mosquito_coils`, …).
    pub supplies: BTreeMap<String, Supply>,
    pub town: String,
    pub kind: String,
    /// The building stands on high ground (a terrace, a raised campus): a breach that floods the
    /// land around it does not reach it. Absent in logs written before step 4.
    #[serde(default)]
    pub high_ground: bool,
}

impl Shelter {
    pub fn free_places(&self) -> u32 {
        self.capacity.saturating_sub(self.occupancy)
    }

    /// Days until the first consumed item runs out at the current occupancy; `None` when nothing
    /// is being consumed (empty shelter, or no item with a daily ration).
    pub fn days_of_supply_left(&self) -> Option<f64> {
        if self.occupancy == 0 {
            return None;
        }
        self.supplies
            .values()
            .filter(|s| s.per_person_daily > 0.0)
            .map(|s| s.stock / (s.per_person_daily * f64::from(self.occupancy)))
            .min_by(f64::total_cmp)
    }
}

// ---------------------------------------------------------------- gauges

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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum ThresholdKind {
    /// 设防: patrols start.
    Guard,
    /// 警戒: warning.
    Warning,
    /// 保证: the guaranteed safe level.
    Guaranteed,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    pub guard_m: f64,
    pub warning_m: f64,
    pub guaranteed_m: f64,
}

impl Thresholds {
    pub fn iter(&self) -> [(ThresholdKind, f64); 3] {
        [
            (ThresholdKind::Guard, self.guard_m),
            (ThresholdKind::Warning, self.warning_m),
            (ThresholdKind::Guaranteed, self.guaranteed_m),
        ]
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Direction {
    Rising,
    Falling,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub level_m: f64,
    pub time_ms: TimeMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gauge {
    pub id: GaugeId,
    pub name: String,
    pub river: String,
    pub position: LonLat,
    /// Height datum of the levels, e.g. `吴淞` (Wusong).
    pub datum: String,
    pub thresholds: Thresholds,
    pub levee_ids: Vec<LeveeId>,
    pub last: Option<Reading>,
    /// The highest level on record, for comparison (湘江 at 株洲: 44.58 m in 1994).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<crate::domain::hydrograph::RecordLevel>,
    /// The forecast peak a dispatcher entered last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast: Option<crate::domain::hydrograph::Forecast>,
}

// ---------------------------------------------------------------- response levels

/// Flood response level; IV is the lowest, I the highest.
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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
pub enum ResponseLevel {
    IV,
    III,
    II,
    I,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseChange {
    /// `None` means the response was lifted.
    pub level: Option<ResponseLevel>,
    pub at: TimeMs,
    pub by: String,
    pub reason: String,
}

// ---------------------------------------------------------------- evacuation and grid

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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EvacuationStatus {
    Active,
    Lifted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvacuationOrder {
    pub id: EvacuationId,
    pub name: String,
    /// Outer ring of the zone, closed (first vertex repeated last).
    pub zone: Vec<LonLat>,
    /// People at risk: the sum of `cells` (typed in, in logs written before step 4).
    pub population: u32,
    /// People who have left, all ways together (and progress typed in before step 4).
    pub evacuated: u32,
    pub target_shelters: Vec<ShelterId>,
    pub status: EvacuationStatus,
    pub issued_at: TimeMs,
    /// When it was lifted; `None` while it is active (and for orders lifted by events logged
    /// before the time was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<TimeMs>,
    /// The grid cells the zone covers, with their people at risk and departures.
    #[serde(default)]
    pub cells: Vec<crate::domain::evacuation::OrderCell>,
    /// Departures by way, all cells together.
    #[serde(default)]
    pub departures: crate::domain::evacuation::Departures,
}

impl EvacuationOrder {
    /// People still to leave under the order: none once it is lifted.
    pub fn remaining(&self) -> u32 {
        match self.status {
            EvacuationStatus::Active => self.population.saturating_sub(self.evacuated),
            EvacuationStatus::Lifted => 0,
        }
    }

    /// People who had not left when the order was lifted (released with it).
    pub fn released(&self) -> u32 {
        match self.status {
            EvacuationStatus::Active => 0,
            EvacuationStatus::Lifted => self.population.saturating_sub(self.evacuated),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GridCell {
    pub id: GridCellId,
    pub name: String,
    /// Outer ring, closed.
    pub ring: Vec<LonLat>,
    pub population: u32,
    pub households: u32,
    pub grid_worker: String,
    pub town: String,
    pub village: String,
    /// Display names of the town and village, when `town` and `village` are ids.
    #[serde(default)]
    pub town_name: String,
    #[serde(default)]
    pub village_name: String,
    /// The grid worker (网格员) responsible for the cell; `None` in logs written before step 4.
    #[serde(default)]
    pub grid_worker_id: Option<GridWorkerId>,
    /// Vulnerable people living in the cell (重点人群).
    #[serde(default)]
    pub vulnerable: Vulnerable,
}

/// Vulnerable people (重点人群) counted per grid cell by its grid worker: they need help to leave
/// and are shown while any remain in an evacuation zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vulnerable {
    /// 独居老人
    #[serde(default)]
    pub elderly_alone: u32,
    /// 残疾人
    #[serde(default)]
    pub disabled: u32,
    /// 孕妇
    #[serde(default)]
    pub pregnant: u32,
    /// 无人监护的儿童 (children without guardians)
    #[serde(default)]
    pub unaccompanied_children: u32,
}

impl Vulnerable {
    pub fn total(&self) -> u32 {
        self.elderly_alone
            .saturating_add(self.disabled)
            .saturating_add(self.pregnant)
            .saturating_add(self.unaccompanied_children)
    }

    pub fn is_zero(&self) -> bool {
        *self == Vulnerable::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::Role;
    use crate::domain::events::Layer;
    use serde::de::DeserializeOwned;
    use std::str::FromStr;

    /// strum's name of every variant is serde's, and parses back.
    fn same_names<T>(variants: &[T])
    where
        T: Copy + Serialize + DeserializeOwned + PartialEq + fmt::Debug + FromStr,
        &'static str: From<T>,
    {
        for &v in variants {
            let name: &'static str = v.into();
            assert_eq!(serde_json::to_value(v).unwrap(), name, "{v:?}");
            assert!(T::from_str(name).is_ok_and(|p| p == v), "{name}");
        }
    }

    use std::fmt;

    #[test]
    fn strum_and_serde_agree_on_every_name() {
        use strum::VariantArray;
        same_names(HazardKind::VARIANTS);
        same_names(Severity::VARIANTS);
        same_names(HazardStatus::VARIANTS);
        same_names(TeamKind::VARIANTS);
        same_names(Capability::VARIANTS);
        same_names(TravelMode::VARIANTS);
        same_names(TeamStatus::VARIANTS);
        same_names(AssignmentState::VARIANTS);
        same_names(ThresholdKind::VARIANTS);
        same_names(Direction::VARIANTS);
        same_names(ResponseLevel::VARIANTS);
        same_names(EvacuationStatus::VARIANTS);
        same_names(Layer::VARIANTS);
        same_names(Role::VARIANTS);
        assert_eq!(Layer::parse("grid_cells"), Some(Layer::GridCells));
        assert_eq!(Layer::GridCells.name(), "grid_cells");
        assert_eq!(Role::parse("observer"), Some(Role::Observer));
        assert_eq!(Role::parse("admin"), None);
        assert_eq!(Role::Field.name(), "field");
    }
}
