//! Commands: what a client asks Crest to do. Each one is validated against the state by
//! [`super::state::State::decide`] and, if accepted, becomes one or more events.
//!
//! Field types are parsed values (ids, `LonLat`, and the bounded types of [`super::values`]), so a
//! command that deserializes is already well-formed and within its bounds; `decide` checks only
//! what depends on the state. Every struct and enum here refuses unknown fields, at every depth.
//!
//! The field order is part of the command's hash (the idempotency check of `engine`): keep it.

use super::geo::LonLat;
use super::ids::*;
use super::levee::{Hand, Levee, LeveeError, LeveeSpec};
use super::model::*;
use super::values::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Command {
    // Reference data (dispatcher, or the map loader)
    DefineLevee(DefineLevee),
    DefineShelter(DefineShelter),
    DefineGauge(DefineGauge),
    DefineGridCell(DefineGridCell),
    RegisterTeam(RegisterTeam),
    // Hazards
    ReportHazard(ReportHazard),
    ConfirmHazard(HazardRef),
    StartHazardHandling(HazardRef),
    EliminateHazard(HazardRef),
    MarkFalseAlarm(HazardRef),
    EscalateHazard(EscalateHazard),
    // Teams
    UpdatePosition(UpdatePosition),
    SetTeamDuty(SetTeamDuty),
    // Assignments
    CreateAssignment(CreateAssignment),
    AdvanceAssignment(AdvanceAssignment),
    CancelAssignment(CancelAssignment),
    // Shelters
    OpenShelter(ShelterRef),
    CloseShelter(ShelterRef),
    CheckIn(CheckIn),
    CheckOut(CheckOut),
    SetSupply(SetSupply),
    DeliverSupply(SupplyMovement),
    IssueSupply(SupplyMovement),
    // Gauges, response, evacuation
    RecordReading(RecordReading),
    SetResponseLevel(SetResponseLevel),
    IssueEvacuationOrder(IssueEvacuationOrder),
    RecordEvacuationProgress(RecordEvacuationProgress),
    LiftEvacuationOrder(EvacuationRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineShelter {
    pub id: ShelterId,
    pub name: Text,
    pub position: LonLat,
    pub capacity: Count,
    #[serde(default)]
    pub open: bool,
    #[serde(default)]
    pub supplies: BTreeMap<Item, SupplySpec>,
    /// Town (镇) the shelter belongs to.
    #[serde(default)]
    pub town: Text,
    /// What the building is: `school`, `town_hall`, `gym`, …
    #[serde(default)]
    pub kind: Text,
}

/// A supply as a client states it (`define_shelter`'s `supplies`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplySpec {
    pub stock: Quantity,
    /// Consumption per sheltered person per day, in the same unit as `stock`.
    pub per_person_daily: Ration,
    pub unit: Text,
}

impl From<&SupplySpec> for Supply {
    fn from(s: &SupplySpec) -> Supply {
        Supply {
            stock: s.stock.get(),
            per_person_daily: s.per_person_daily.get(),
            unit: s.unit.to_string(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineGauge {
    pub id: GaugeId,
    pub name: Text,
    #[serde(default)]
    pub river: Text,
    pub position: LonLat,
    pub datum: Text,
    pub thresholds: ThresholdsSpec,
    /// Levees whose patrols and alerts this gauge governs.
    #[serde(default)]
    pub levee_ids: Vec<LeveeId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineGridCell {
    pub id: GridCellId,
    #[serde(default)]
    pub name: Text,
    pub ring: Ring,
    pub population: Count,
    #[serde(default)]
    pub households: Count,
    #[serde(default)]
    pub grid_worker: Text,
    #[serde(default)]
    pub town: Text,
    #[serde(default)]
    pub village: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTeam {
    pub id: TeamId,
    pub name: Text,
    pub kind: TeamKind,
    pub headcount: PositiveCount,
    #[serde(default)]
    pub capabilities: BTreeSet<Capability>,
    pub travel_mode: TravelMode,
    /// Where the team is when it registers, if known.
    #[serde(default)]
    pub position: Option<LonLat>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportHazard {
    pub kind: HazardKind,
    pub severity: Severity,
    pub position: LonLat,
    #[serde(default)]
    pub description: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardRef {
    pub hazard_id: HazardId,
    #[serde(default)]
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EscalateHazard {
    pub hazard_id: HazardId,
    /// A higher severity, or absent.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `breach` when the hazard has turned into a breach, or absent.
    #[serde(default)]
    pub kind: Option<HazardKind>,
    #[serde(default)]
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePosition {
    pub team_id: TeamId,
    pub position: LonLat,
    /// Device time of the fix; Crest's receive time when absent.
    #[serde(default)]
    pub time_ms: Option<DeviceTime>,
    #[serde(default)]
    pub accuracy_m: Option<Accuracy>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTeamDuty {
    pub team_id: TeamId,
    pub on_duty: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignment {
    pub team_id: TeamId,
    pub target: AssignmentTarget,
    #[serde(default)]
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceAssignment {
    pub assignment_id: AssignmentId,
    /// `accepted`, `en_route`, `on_scene` or `completed`.
    pub to: AssignmentState,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CancelAssignment {
    pub assignment_id: AssignmentId,
    #[serde(default)]
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShelterRef {
    pub shelter_id: ShelterId,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub shelter_id: ShelterId,
    pub count: PositiveCount,
    /// Accept beyond capacity (a dispatcher's or field leader's explicit decision).
    #[serde(default)]
    pub allow_over_capacity: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOut {
    pub shelter_id: ShelterId,
    pub count: PositiveCount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSupply {
    pub shelter_id: ShelterId,
    pub item: Item,
    pub stock: Quantity,
    pub per_person_daily: Ration,
    #[serde(default)]
    pub unit: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplyMovement {
    pub shelter_id: ShelterId,
    pub item: Item,
    pub quantity: Quantity,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordReading {
    pub gauge_id: GaugeId,
    pub level_m: Level,
    #[serde(default)]
    pub time_ms: Option<DeviceTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetResponseLevel {
    pub jurisdiction: JurisdictionId,
    /// `IV`, `III`, `II`, `I`, or `null` to lift the response.
    pub level: Option<ResponseLevel>,
    #[serde(default)]
    pub reason: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueEvacuationOrder {
    pub name: Text,
    pub zone: Ring,
    pub population: Count,
    #[serde(default)]
    pub target_shelters: Vec<ShelterId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEvacuationProgress {
    pub evacuation_id: EvacuationId,
    pub count: PositiveCount,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvacuationRef {
    pub evacuation_id: EvacuationId,
}

/// A levee as a client defines it (`define_levee`, and the map loader): the stored
/// [`LeveeSpec`] with its numbers and text parsed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineLevee {
    pub id: LeveeId,
    pub name: Text,
    #[serde(default)]
    pub river: Text,
    /// Which bank of the river the levee stands on (`east`, `north`, …), for people.
    #[serde(default)]
    pub bank: Text,
    /// Vertices in the direction of increasing chainage.
    pub line: Vec<LonLat>,
    /// Chainage of the first vertex, metres.
    #[serde(default)]
    pub chainage_origin_m: ChainageOrigin,
    /// Which hand the river is on when walking in the direction of increasing chainage.
    pub riverside: Hand,
    #[serde(default)]
    pub crest_elevation_m: Option<Level>,
    #[serde(default)]
    pub design_flood_level_m: Option<Level>,
}

impl From<&DefineLevee> for LeveeSpec {
    fn from(d: &DefineLevee) -> LeveeSpec {
        LeveeSpec {
            id: d.id.clone(),
            name: d.name.to_string(),
            river: d.river.to_string(),
            bank: d.bank.to_string(),
            line: d.line.clone(),
            chainage_origin_m: d.chainage_origin_m.get(),
            riverside: d.riverside,
            crest_elevation_m: d.crest_elevation_m.map(Level::get),
            design_flood_level_m: d.design_flood_level_m.map(Level::get),
        }
    }
}

impl TryFrom<DefineLevee> for Levee {
    type Error = LeveeError;

    fn try_from(d: DefineLevee) -> Result<Levee, LeveeError> {
        Levee::try_from(LeveeSpec::from(&d))
    }
}

/// A gauge's thresholds as a client states them: levels, in order guard ≤ warning ≤ guaranteed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawThresholds")]
pub struct ThresholdsSpec {
    pub guard_m: Level,
    pub warning_m: Level,
    pub guaranteed_m: Level,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    guard_m: Level,
    warning_m: Level,
    guaranteed_m: Level,
}

impl TryFrom<RawThresholds> for ThresholdsSpec {
    type Error = OutOfBounds;

    fn try_from(t: RawThresholds) -> Result<Self, OutOfBounds> {
        ThresholdsSpec::new(t.guard_m, t.warning_m, t.guaranteed_m)
    }
}

impl ThresholdsSpec {
    pub fn new(guard_m: Level, warning_m: Level, guaranteed_m: Level) -> Result<Self, OutOfBounds> {
        if !(guard_m <= warning_m && warning_m <= guaranteed_m) {
            return Err(OutOfBounds::new(
                "thresholds must be in order guard ≤ warning ≤ guaranteed",
            ));
        }
        Ok(Self {
            guard_m,
            warning_m,
            guaranteed_m,
        })
    }
}

impl From<ThresholdsSpec> for Thresholds {
    fn from(t: ThresholdsSpec) -> Thresholds {
        Thresholds {
            guard_m: t.guard_m.get(),
            warning_m: t.warning_m.get(),
            guaranteed_m: t.guaranteed_m.get(),
        }
    }
}

impl Command {
    /// The wire name of the command (its `type`).
    pub fn name(&self) -> &'static str {
        self.into()
    }
}
