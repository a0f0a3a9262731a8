//! Commands: what a client asks Crest to do. Each one is validated against the state by
//! [`super::state::State::decide`] and, if accepted, becomes one or more events.
//!
//! Field types are validated newtypes (ids, `LonLat`), so a command that deserializes is already
//! well-formed; `decide` checks only what depends on the state.

use super::geo::LonLat;
use super::ids::*;
use super::levee::LeveeSpec;
use super::model::*;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

#[derive(
    Debug, Clone, PartialEq, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames,
)]
#[serde(tag = "type", rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Command {
    // Reference data (dispatcher, or the map loader)
    DefineLevee(LeveeSpec),
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
    pub name: String,
    pub position: LonLat,
    pub capacity: u32,
    #[serde(default)]
    pub open: bool,
    #[serde(default)]
    pub supplies: BTreeMap<String, Supply>,
    /// Town (镇) the shelter belongs to.
    #[serde(default)]
    pub town: String,
    /// What the building is: `school`, `town_hall`, `gym`, …
    #[serde(default)]
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineGauge {
    pub id: GaugeId,
    pub name: String,
    #[serde(default)]
    pub river: String,
    pub position: LonLat,
    pub datum: String,
    pub thresholds: Thresholds,
    /// Levees whose patrols and alerts this gauge governs.
    #[serde(default)]
    pub levee_ids: Vec<LeveeId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineGridCell {
    pub id: GridCellId,
    #[serde(default)]
    pub name: String,
    pub ring: Vec<LonLat>,
    pub population: u32,
    #[serde(default)]
    pub households: u32,
    #[serde(default)]
    pub grid_worker: String,
    #[serde(default)]
    pub town: String,
    #[serde(default)]
    pub village: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterTeam {
    pub id: TeamId,
    pub name: String,
    pub kind: TeamKind,
    pub headcount: u32,
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
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HazardRef {
    pub hazard_id: HazardId,
    #[serde(default)]
    pub reason: String,
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
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatePosition {
    pub team_id: TeamId,
    pub position: LonLat,
    /// Device time of the fix; Crest's receive time when absent.
    #[serde(default)]
    pub time_ms: Option<TimeMs>,
    #[serde(default)]
    pub accuracy_m: Option<f64>,
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
    pub note: String,
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
    pub reason: String,
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
    pub count: u32,
    /// Accept beyond capacity (a dispatcher's or field leader's explicit decision).
    #[serde(default)]
    pub allow_over_capacity: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckOut {
    pub shelter_id: ShelterId,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetSupply {
    pub shelter_id: ShelterId,
    pub item: String,
    pub stock: f64,
    pub per_person_daily: f64,
    #[serde(default)]
    pub unit: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupplyMovement {
    pub shelter_id: ShelterId,
    pub item: String,
    pub quantity: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordReading {
    pub gauge_id: GaugeId,
    pub level_m: f64,
    #[serde(default)]
    pub time_ms: Option<TimeMs>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetResponseLevel {
    pub jurisdiction: JurisdictionId,
    /// `IV`, `III`, `II`, `I`, or `null` to lift the response.
    pub level: Option<ResponseLevel>,
    #[serde(default)]
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueEvacuationOrder {
    pub name: String,
    pub zone: Vec<LonLat>,
    pub population: u32,
    #[serde(default)]
    pub target_shelters: Vec<ShelterId>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordEvacuationProgress {
    pub evacuation_id: EvacuationId,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvacuationRef {
    pub evacuation_id: EvacuationId,
}

impl Command {
    /// The wire name of the command (its `type`).
    pub fn name(&self) -> &'static str {
        self.into()
    }
}
