//! Commands: what a client asks Crest to do. Each one is validated against the state by
//! [`super::state::State::decide`] and, if accepted, becomes one or more events.
//!
//! Field types are parsed values (ids, `LonLat`, and the bounded types of [`super::values`]), so a
//! command that deserializes is already well-formed and within its bounds; `decide` checks only
//! what depends on the state. Every struct and enum here refuses unknown fields, at every depth.
//!
//! The request hash (the idempotency check of `engine`) is taken of a canonical form that sorts
//! fields and leaves defaults out (`codec::canonical_json`): a new field must default to `null`,
//! `false`, `""`, `[]` or `{}` so existing hashes hold.

use super::geo::LonLat;
use super::ids::*;
use super::levee::{Hand, Levee, LeveeError, LeveeSpec};
use super::materials::{MaterialLines, MaterialSite, MaterialStocks};
use super::model::*;
use super::values::*;
use serde::{Deserialize, Deserializer, Serialize};
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
    OpenShelter(OpenShelter),
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
    // People: evacuation counted once, casualties, grid cells
    RecordSelfEvacuation(RecordSelfEvacuation),
    RecordCasualty(RecordCasualty),
    CorrectCasualty(CorrectCasualty),
    RecordRescue(RecordRescue),
    ConfirmCasualties(ConfirmCasualties),
    ReportCellStatus(ReportCellStatus),
    // Patrols and alerts
    DefinePatrolSection(DefinePatrolSection),
    AssignPatrol(AssignPatrol),
    SetPatrolInterval(SetPatrolInterval),
    CheckInPatrolPoint(CheckInPatrolPoint),
    AcknowledgeAlert(AcknowledgeAlert),
    // Protected assets and incidents
    DefineProtectedAsset(DefineProtectedAsset),
    OpenIncident(OpenIncident),
    SetCommandPost(SetCommandPost),
    CommitTeam(CommitTeam),
    AdvanceIncidentStage(AdvanceIncidentStage),
    CloseIncident(IncidentRef),
    // The watch's rules
    SetWatchRules(SetWatchRules),
    // Flood materials (防汛物资)
    DefineDepot(DefineDepot),
    RestockDepot(RestockDepot),
    IssueMaterials(IssueMaterials),
    DeliverMaterials(ShipmentRef),
    ConsumeMaterials(ConsumeMaterials),
    ReturnMaterials(ReturnMaterials),
    RequestMaterials(RequestMaterials),
    ApproveMaterialRequest(ApproveMaterialRequest),
    DeclineMaterialRequest(DeclineMaterialRequest),
    // Flood zones (reference data: what a breach of a levee would flood)
    DefineFloodZone(DefineFloodZone),
    // Gauges over time, and corrections of reference data (dispatcher)
    EnterGaugeForecast(EnterGaugeForecast),
    CorrectShelterCapacity(CorrectShelterCapacity),
    CorrectGaugeThresholds(CorrectGaugeThresholds),
    CorrectTeamRoster(CorrectTeamRoster),
    CorrectAssetBuffer(CorrectAssetBuffer),

    RecordNote(RecordNote),
    StartExercise(StartExercise),
    IssueCue(IssueCue),
}

impl Command {
    /// Deserializes only the fields of a command of type `kind` (all but `type`) and drops them.
    /// serde cannot say where an error lies inside an internally tagged enum, so the protocol
    /// layer walks a refused command's fields with this to name the path of what was wrong.
    /// `None` when `kind` names no command.
    pub fn check_fields<'de, D: Deserializer<'de>>(
        kind: &str,
        d: D,
    ) -> Option<Result<(), D::Error>> {
        fn check<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
            d: D,
        ) -> Option<Result<(), D::Error>> {
            Some(T::deserialize(d).map(drop))
        }
        match kind {
            "define_levee" => check::<DefineLevee, D>(d),
            "define_shelter" => check::<DefineShelter, D>(d),
            "define_gauge" => check::<DefineGauge, D>(d),
            "define_grid_cell" => check::<DefineGridCell, D>(d),
            "register_team" => check::<RegisterTeam, D>(d),
            "report_hazard" => check::<ReportHazard, D>(d),
            "confirm_hazard"
            | "start_hazard_handling"
            | "eliminate_hazard"
            | "mark_false_alarm" => check::<HazardRef, D>(d),
            "escalate_hazard" => check::<EscalateHazard, D>(d),
            "update_position" => check::<UpdatePosition, D>(d),
            "set_team_duty" => check::<SetTeamDuty, D>(d),
            "create_assignment" => check::<CreateAssignment, D>(d),
            "advance_assignment" => check::<AdvanceAssignment, D>(d),
            "cancel_assignment" => check::<CancelAssignment, D>(d),
            "open_shelter" => check::<OpenShelter, D>(d),
            "close_shelter" => check::<ShelterRef, D>(d),
            "check_in" => check::<CheckIn, D>(d),
            "check_out" => check::<CheckOut, D>(d),
            "set_supply" => check::<SetSupply, D>(d),
            "deliver_supply" | "issue_supply" => check::<SupplyMovement, D>(d),
            "record_reading" => check::<RecordReading, D>(d),
            "set_response_level" => check::<SetResponseLevel, D>(d),
            "issue_evacuation_order" => check::<IssueEvacuationOrder, D>(d),
            "record_evacuation_progress" => check::<RecordEvacuationProgress, D>(d),
            "lift_evacuation_order" => check::<EvacuationRef, D>(d),
            "record_self_evacuation" => check::<RecordSelfEvacuation, D>(d),
            "record_casualty" => check::<RecordCasualty, D>(d),
            "correct_casualty" => check::<CorrectCasualty, D>(d),
            "record_rescue" => check::<RecordRescue, D>(d),
            "confirm_casualties" => check::<ConfirmCasualties, D>(d),
            "report_cell_status" => check::<ReportCellStatus, D>(d),
            "define_patrol_section" => check::<DefinePatrolSection, D>(d),
            "assign_patrol" => check::<AssignPatrol, D>(d),
            "set_patrol_interval" => check::<SetPatrolInterval, D>(d),
            "check_in_patrol_point" => check::<CheckInPatrolPoint, D>(d),
            "acknowledge_alert" => check::<AcknowledgeAlert, D>(d),
            "define_protected_asset" => check::<DefineProtectedAsset, D>(d),
            "open_incident" => check::<OpenIncident, D>(d),
            "set_command_post" => check::<SetCommandPost, D>(d),
            "commit_team" => check::<CommitTeam, D>(d),
            "advance_incident_stage" => check::<AdvanceIncidentStage, D>(d),
            "close_incident" => check::<IncidentRef, D>(d),
            "set_watch_rules" => check::<SetWatchRules, D>(d),
            "define_depot" => check::<DefineDepot, D>(d),
            "restock_depot" => check::<RestockDepot, D>(d),
            "issue_materials" => check::<IssueMaterials, D>(d),
            "deliver_materials" => check::<ShipmentRef, D>(d),
            "consume_materials" => check::<ConsumeMaterials, D>(d),
            "return_materials" => check::<ReturnMaterials, D>(d),
            "request_materials" => check::<RequestMaterials, D>(d),
            "approve_material_request" => check::<ApproveMaterialRequest, D>(d),
            "decline_material_request" => check::<DeclineMaterialRequest, D>(d),
            "define_flood_zone" => check::<DefineFloodZone, D>(d),
            "enter_gauge_forecast" => check::<EnterGaugeForecast, D>(d),
            "correct_shelter_capacity" => check::<CorrectShelterCapacity, D>(d),
            "correct_gauge_thresholds" => check::<CorrectGaugeThresholds, D>(d),
            "correct_team_roster" => check::<CorrectTeamRoster, D>(d),
            "correct_asset_buffer" => check::<CorrectAssetBuffer, D>(d),
            "record_note" => check::<RecordNote, D>(d),
            "start_exercise" => check::<StartExercise, D>(d),
            "issue_cue" => check::<IssueCue, D>(d),
            _ => None,
        }
    }
}

/// An entry of the duty log (dispatcher): rain, weather, an order received by telephone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordNote {
    pub text: Text,
    #[serde(default)]
    pub text_en: Text,
}

/// Marks a log as a drill's (dispatcher; only as the first thing in an empty log).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartExercise {
    pub title: Text,
    #[serde(default)]
    pub scenario: Text,
}

/// A cue for a drill's trainees (dispatcher, in an exercise only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueCue {
    pub cue_id: CueId,
    pub to: Text,
    pub text: Text,
    #[serde(default)]
    pub text_en: Text,
    /// Minutes from now until the response is due: 1 to a day.
    pub deadline_min: Minutes,
    /// The event type that answers it.
    pub expect_event: Text,
    /// Fields the answering event must carry (at most 8).
    #[serde(default)]
    pub expect_fields: std::collections::BTreeMap<String, Text>,
}

/// Changes the rules of patrols and alerts (data with the practice's defaults). Fields left out
/// keep their value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetWatchRules {
    #[serde(default)]
    pub patrol: PatrolRulesPatch,
    #[serde(default)]
    pub alerts: AlertRulesPatch,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolRulesPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_section_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_overlap_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_point_spacing_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guard_interval_min: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_interval_min: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pass_radius_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_levee_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_gap_min: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_max_m: Option<RuleMetres>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub walk_max_speed_mps: Option<Pace>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRulesPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shelter_nearly_full_pct: Option<Percent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supply_low_days: Option<RuleDays>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_silent_min: Option<Minutes>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment_accept_min: Option<Minutes>,
}

/// A protected asset (dispatcher, or the map loader): a point (`position`) or a line (`line`,
/// with the chainage of its first vertex for its kilometre posts).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineProtectedAsset {
    pub id: AssetId,
    pub name: Text,
    pub kind: crate::domain::incidents::AssetKind,
    pub priority: Priority,
    pub buffer_m: BufferM,
    #[serde(default)]
    pub position: Option<LonLat>,
    #[serde(default)]
    pub line: Option<Vec<LonLat>>,
    #[serde(default)]
    pub chainage_origin_m: Option<ChainageOrigin>,
}

/// A hazard reported by a linear asset's kilometre post instead of a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtAsset {
    pub asset_id: AssetId,
    pub chainage: crate::domain::chainage::Chainage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandPostSpec {
    pub position: LonLat,
    #[serde(default)]
    pub name: Text,
    pub commander: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenIncident {
    pub hazard_id: HazardId,
    #[serde(default)]
    pub name: Text,
    #[serde(default)]
    pub post: Option<CommandPostSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetCommandPost {
    pub incident_id: IncidentId,
    pub post: CommandPostSpec,
}

/// A team committed to an incident, or its next step there: `requested` (a reinforcement asked
/// for), `en_route`, `on_scene` (with its people: `headcount`, the team's when absent),
/// `released`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitTeam {
    pub incident_id: IncidentId,
    pub team_id: TeamId,
    pub state: crate::domain::incidents::CommitmentState,
    #[serde(default)]
    pub headcount: Option<PositiveCount>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdvanceIncidentStage {
    pub incident_id: IncidentId,
    pub stage: crate::domain::incidents::Stage,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IncidentRef {
    pub incident_id: IncidentId,
}

/// A patrol section of a levee with its patrol points (dispatcher, or the map loader).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefinePatrolSection {
    pub id: PatrolSectionId,
    pub levee_id: LeveeId,
    #[serde(default)]
    pub name: Text,
    pub from: crate::domain::chainage::Chainage,
    pub to: crate::domain::chainage::Chainage,
    pub points: Vec<PatrolPointSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatrolPointSpec {
    pub id: PatrolPointId,
    pub chainage: crate::domain::chainage::Chainage,
    #[serde(default)]
    pub kind: crate::domain::patrol::PointKind,
    #[serde(default)]
    pub name: Text,
}

/// A team's patrol shift on a section, from `from_ms` (now when absent) until `until_ms`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignPatrol {
    pub section_id: PatrolSectionId,
    pub team_id: TeamId,
    #[serde(default)]
    pub from_ms: Option<DeviceTime>,
    pub until_ms: DeviceTime,
}

/// A dispatcher's interval for a section, minutes; `null` returns to the water's interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetPatrolInterval {
    pub section_id: PatrolSectionId,
    pub interval_min: Option<Minutes>,
}

/// A team checks in at a patrol point.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInPatrolPoint {
    pub section_id: PatrolSectionId,
    pub point_id: PatrolPointId,
    pub team_id: TeamId,
    /// Device time of the check-in; Crest's receive time when absent.
    #[serde(default)]
    pub time_ms: Option<DeviceTime>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcknowledgeAlert {
    pub alert_id: AlertId,
    #[serde(default)]
    pub note: Text,
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
    /// The building stands on high ground: a breach that floods the land around it does not
    /// reach it, so it may be opened inside a breached levee's flood zone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub high_ground: bool,
}

/// The area a breach of a levee would flood (溃口淹没区): the low land behind it. Reference data,
/// like a levee; a shelter inside it is not opened while the levee is breached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineFloodZone {
    pub id: FloodZoneId,
    #[serde(default)]
    pub name: Text,
    /// The levee whose breach floods this area.
    pub levee_id: LeveeId,
    pub ring: Ring,
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
    /// The highest level on record, for comparison; added in step 4, left out when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordSpec>,
}

/// A gauge's record level as a client states it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSpec {
    pub level_m: Level,
    /// When: a year (`1994`) or a date, as written.
    pub date: Text,
    /// Where it was reached (`株洲`), which may be another station than the gauge.
    #[serde(default)]
    pub station: Text,
}

impl From<&RecordSpec> for crate::domain::hydrograph::RecordLevel {
    fn from(r: &RecordSpec) -> Self {
        Self {
            level_m: r.level_m.get(),
            date: r.date.to_string(),
            station: r.station.to_string(),
        }
    }
}

/// A forecast crest for a gauge: the peak level and when it is expected; replaces the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnterGaugeForecast {
    pub gauge_id: GaugeId,
    pub peak_m: Level,
    pub peak_at: DeviceTime,
    /// Who issued the forecast.
    #[serde(default)]
    pub source: Text,
}

/// A shelter's capacity, corrected. Below the people already in it only with
/// `allow_over_capacity`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectShelterCapacity {
    pub shelter_id: ShelterId,
    pub capacity: Count,
    pub reason: Text,
    #[serde(default)]
    pub allow_over_capacity: bool,
}

/// A gauge's thresholds, corrected (strictly guard < warning < guaranteed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectGaugeThresholds {
    pub gauge_id: GaugeId,
    pub thresholds: ThresholdsSpec,
    pub reason: Text,
}

/// A team's roster and headcount, corrected: the whole roster as it is now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectTeamRoster {
    pub team_id: TeamId,
    /// Everyone, the leader included; when `members` are named it must be their number (with
    /// the leader), and may be left out.
    #[serde(default)]
    pub headcount: Option<PositiveCount>,
    #[serde(default)]
    pub leader: Option<Text>,
    #[serde(default)]
    pub members: Vec<Text>,
    pub reason: Text,
}

/// A protected asset's buffer, corrected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectAssetBuffer {
    pub asset_id: AssetId,
    pub buffer_m: BufferM,
    pub reason: Text,
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
    /// Display names of the town and village (`town` and `village` are their ids in a map).
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub town_name: Text,
    #[serde(default, skip_serializing_if = "Text::is_empty")]
    pub village_name: Text,
    /// The grid worker's id (`GW-017`); absent in logs written before step 4.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grid_worker_id: Option<GridWorkerId>,
    #[serde(default, skip_serializing_if = "VulnerableCounts::is_zero")]
    pub vulnerable: VulnerableCounts,
}

/// Vulnerable people of a cell, as a command carries them (each a bounded count).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnerableCounts {
    #[serde(default, skip_serializing_if = "Count::is_zero")]
    pub elderly_alone: Count,
    #[serde(default, skip_serializing_if = "Count::is_zero")]
    pub disabled: Count,
    #[serde(default, skip_serializing_if = "Count::is_zero")]
    pub pregnant: Count,
    #[serde(default, skip_serializing_if = "Count::is_zero")]
    pub unaccompanied_children: Count,
}

impl VulnerableCounts {
    pub fn is_zero(&self) -> bool {
        self.get() == Vulnerable::default()
    }

    pub fn get(&self) -> Vulnerable {
        Vulnerable {
            elderly_alone: self.elderly_alone.get(),
            disabled: self.disabled.get(),
            pregnant: self.pregnant.get(),
            unaccompanied_children: self.unaccompanied_children.get(),
        }
    }
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
    /// Where it is; or give `at_asset` instead (a railway's kilometre post).
    #[serde(default)]
    pub position: Option<LonLat>,
    #[serde(default)]
    pub description: Text,
    /// Added after the first log format: left out when absent, so the command serializes, and
    /// its legacy hash reads, as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_asset: Option<AtAsset>,
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

/// Opens a shelter. One inside the flood zone of a breached levee is refused unless it stands on
/// high ground or the dispatcher overrides the flood risk, saying why (recorded in the event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpenShelter {
    pub shelter_id: ShelterId,
    /// Open it even inside a breached levee's flood zone, for this reason (not empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_flood_risk: Option<Text>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckIn {
    pub shelter_id: ShelterId,
    pub count: PositiveCount,
    /// Accept beyond capacity (a dispatcher's or field leader's explicit decision).
    #[serde(default)]
    pub allow_over_capacity: bool,
    /// The evacuation order these people leave under. With `from_cell` or `from_village` alone
    /// the active order covering that place is found; with none of the three the check-in only
    /// fills the shelter (a transfer, or people already counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evacuation_id: Option<EvacuationId>,
    /// The grid cell the people come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_cell: Option<GridCellId>,
    /// The village the people come from (as the grid cells name it), when the cell is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_village: Option<Text>,
    /// Vulnerable people among them.
    #[serde(default, skip_serializing_if = "VulnerableCounts::is_zero")]
    pub vulnerable: VulnerableCounts,
}

/// People of a cell gone to relatives or friends (投亲靠友), recorded by the cell's grid worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordSelfEvacuation {
    pub cell_id: GridCellId,
    pub count: PositiveCount,
    /// The order they leave under; found from the cell when left out.
    #[serde(default)]
    pub evacuation_id: Option<EvacuationId>,
    #[serde(default)]
    pub vulnerable: VulnerableCounts,
    #[serde(default)]
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordCasualty {
    pub kind: crate::domain::casualties::CasualtyKind,
    pub count: PositiveCount,
    /// Where; at least one of `position` and `place`.
    #[serde(default)]
    pub position: Option<LonLat>,
    #[serde(default)]
    pub place: Text,
    /// The grid cell, when the place is known but not its position (found from `position`
    /// otherwise; both given must agree).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell_id: Option<GridCellId>,
    /// When it happened or was found (device clock); now when left out.
    #[serde(default)]
    pub occurred_at: Option<DeviceTime>,
    /// Who reported it.
    pub source: Text,
    #[serde(default)]
    pub note: Text,
}

/// A later correction: a new kind (a missing person found injured), a new count (one of two
/// missing found alive: 2 → 1), or both; the reason is required and kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectCasualty {
    pub casualty_id: CasualtyId,
    #[serde(default)]
    pub kind: Option<crate::domain::casualties::CasualtyKind>,
    #[serde(default)]
    pub count: Option<Count>,
    pub reason: Text,
}

/// People brought out of a trapped position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordRescue {
    pub casualty_id: CasualtyId,
    pub count: PositiveCount,
    /// The team that brought them out (a field tablet may only name its own team).
    #[serde(default)]
    pub team_id: Option<TeamId>,
    /// The shelter they were taken to, checked in there (occupancy only: they are counted as
    /// rescued, once).
    #[serde(default)]
    pub shelter_id: Option<ShelterId>,
    #[serde(default)]
    pub allow_over_capacity: bool,
}

/// A dispatcher confirms the casualty figures as they stand now ("no casualties" becomes a fact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfirmCasualties {
    #[serde(default)]
    pub note: Text,
}

/// A grid worker's report on a cell: notified, evacuating, clear, and who is still there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportCellStatus {
    pub cell_id: GridCellId,
    pub status: crate::domain::evacuation::CellStatus,
    #[serde(default)]
    pub people_remaining: Option<Count>,
    #[serde(default)]
    pub note: Text,
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
    /// Only in logs written before step 4: the population is now computed from the grid cells
    /// the zone covers, and a new command carrying it is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub population: Option<Count>,
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

// ---------------------------------------------------------------- flood materials

/// A flood-materials depot (dispatcher, or the map loader), with its stock and the levels below
/// which it is low on an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefineDepot {
    pub id: DepotId,
    pub name: Text,
    pub position: LonLat,
    #[serde(default)]
    pub town: Text,
    #[serde(default)]
    pub stock: MaterialStocks,
    #[serde(default)]
    pub low_stock: MaterialStocks,
}

/// Materials added to a depot's stock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestockDepot {
    pub depot_id: DepotId,
    pub items: MaterialLines,
}

/// A shipment from a depot to a site, optionally received there by a team.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssueMaterials {
    pub depot_id: DepotId,
    pub site: MaterialSite,
    pub items: MaterialLines,
    #[serde(default)]
    pub team_id: Option<TeamId>,
    #[serde(default)]
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShipmentRef {
    pub shipment_id: ShipmentId,
}

/// Materials of a delivered shipment used up at its site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumeMaterials {
    pub shipment_id: ShipmentId,
    pub items: MaterialLines,
}

/// Unused materials of a delivered shipment back into a depot (the shipment's own when absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReturnMaterials {
    pub shipment_id: ShipmentId,
    pub items: MaterialLines,
    #[serde(default)]
    pub depot_id: Option<DepotId>,
}

/// A field team asks for materials for its place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestMaterials {
    pub team_id: TeamId,
    pub site: MaterialSite,
    pub items: MaterialLines,
    #[serde(default)]
    pub note: Text,
}

/// A dispatcher fills a request with a shipment from a depot (the requested items when `items`
/// is absent).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApproveMaterialRequest {
    pub request_id: MaterialRequestId,
    pub depot_id: DepotId,
    #[serde(default)]
    pub items: Option<MaterialLines>,
    #[serde(default)]
    pub note: Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeclineMaterialRequest {
    pub request_id: MaterialRequestId,
    pub reason: Text,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// One command of every type with every optional field, so that every object a client can
    /// nest in a command appears at least once (each assignment target kind too).
    fn examples() -> Vec<Value> {
        let ring = json!([[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]]);
        vec![
            json!({"type": "define_levee", "id": "L-1", "name": "l", "river": "r", "bank": "east",
                   "line": [[113.0, 27.6], [113.0, 27.7]], "chainage_origin_m": 0,
                   "riverside": "left", "crest_elevation_m": 44, "design_flood_level_m": 42.5}),
            json!({"type": "define_shelter", "id": "S-1", "name": "s", "position": [113.0, 27.6],
                   "capacity": 10, "open": true, "town": "t", "kind": "school", "high_ground": true,
                   "supplies": {"water": {"stock": 1, "per_person_daily": 3, "unit": "L"},
                                "rice": {"stock": 5, "per_person_daily": 0.5, "unit": "kg"}}}),
            json!({"type": "define_gauge", "id": "G-1", "name": "g", "river": "r",
                   "position": [113.0, 27.6], "datum": "wusong", "levee_ids": ["L-1"],
                   "thresholds": {"guard_m": 38, "warning_m": 40, "guaranteed_m": 42.5},
                   "record": {"level_m": 44.58, "date": "1994", "station": "株洲"}}),
            json!({"type": "define_grid_cell", "id": "GC-1", "name": "c", "ring": ring,
                   "population": 10, "households": 3, "grid_worker": "w", "town": "t",
                   "village": "v"}),
            json!({"type": "register_team", "id": "T-1", "name": "t", "kind": "militia",
                   "headcount": 5, "capabilities": ["pump"], "travel_mode": "foot",
                   "position": [113.0, 27.6]}),
            json!({"type": "report_hazard", "kind": "piping", "severity": "general",
                   "position": [113.0, 27.6], "description": "d"}),
            json!({"type": "report_hazard", "kind": "seepage", "severity": "general",
                   "position": null, "description": "",
                   "at_asset": {"asset_id": "PA-1", "chainage": 1673200.0}}),
            json!({"type": "confirm_hazard", "hazard_id": "HZ-1", "reason": "r"}),
            json!({"type": "start_hazard_handling", "hazard_id": "HZ-1", "reason": "r"}),
            json!({"type": "eliminate_hazard", "hazard_id": "HZ-1", "reason": "r"}),
            json!({"type": "mark_false_alarm", "hazard_id": "HZ-1", "reason": "r"}),
            json!({"type": "escalate_hazard", "hazard_id": "HZ-1", "severity": "major",
                   "kind": "breach", "reason": "r"}),
            json!({"type": "update_position", "team_id": "T-1", "position": [113.0, 27.6],
                   "time_ms": 5, "accuracy_m": 3}),
            json!({"type": "set_team_duty", "team_id": "T-1", "on_duty": false}),
            json!({"type": "create_assignment", "team_id": "T-1", "note": "n",
                   "target": {"kind": "hazard", "hazard_id": "HZ-1"}}),
            json!({"type": "create_assignment", "team_id": "T-1", "note": "",
                   "target": {"kind": "patrol_stretch", "levee_id": "L-1", "from_m": 0, "to_m": 5}}),
            json!({"type": "create_assignment", "team_id": "T-1", "note": "",
                   "target": {"kind": "evacuation_zone", "evacuation_id": "EV-1"}}),
            json!({"type": "create_assignment", "team_id": "T-1", "note": "",
                   "target": {"kind": "shelter", "shelter_id": "S-1"}}),
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "accepted"}),
            json!({"type": "cancel_assignment", "assignment_id": "AS-1", "reason": "r"}),
            json!({"type": "open_shelter", "shelter_id": "S-1", "override_flood_risk": "二楼以上可用"}),
            json!({"type": "close_shelter", "shelter_id": "S-1"}),
            json!({"type": "check_in", "shelter_id": "S-1", "count": 3, "allow_over_capacity": true}),
            json!({"type": "check_out", "shelter_id": "S-1", "count": 3}),
            json!({"type": "set_supply", "shelter_id": "S-1", "item": "water", "stock": 1,
                   "per_person_daily": 3, "unit": "L"}),
            json!({"type": "deliver_supply", "shelter_id": "S-1", "item": "water", "quantity": 1}),
            json!({"type": "issue_supply", "shelter_id": "S-1", "item": "water", "quantity": 1}),
            json!({"type": "record_reading", "gauge_id": "G-1", "level_m": 39.1, "time_ms": 5}),
            json!({"type": "set_response_level", "jurisdiction": "j", "level": "IV", "reason": "r"}),
            json!({"type": "issue_evacuation_order", "name": "e", "zone": ring,
                   "target_shelters": ["S-1"]}),
            json!({"type": "record_self_evacuation", "cell_id": "GC-1", "count": 4,
                   "evacuation_id": "EV-1", "vulnerable": {"elderly_alone": 1}, "note": "n"}),
            json!({"type": "record_casualty", "kind": "trapped", "count": 3,
                   "position": [113.1, 27.6], "place": "屋顶", "occurred_at": 5,
                   "source": "网格员", "note": "n"}),
            json!({"type": "correct_casualty", "casualty_id": "CA-1", "kind": "injured",
                   "count": 1, "reason": "found"}),
            json!({"type": "record_rescue", "casualty_id": "CA-1", "count": 1, "team_id": "T-1",
                   "shelter_id": "S-1", "allow_over_capacity": true}),
            json!({"type": "confirm_casualties", "note": "18:00 figures"}),
            json!({"type": "report_cell_status", "cell_id": "GC-1", "status": "clear",
                   "people_remaining": 0, "note": "n"}),
            json!({"type": "record_evacuation_progress", "evacuation_id": "EV-1", "count": 5}),
            json!({"type": "lift_evacuation_order", "evacuation_id": "EV-1"}),
            json!({"type": "define_patrol_section", "id": "PS-1", "levee_id": "L-1", "name": "s",
                   "from": 0, "to": 500,
                   "points": [{"id": "P-1", "chainage": 0, "kind": "regular", "name": "p"},
                              {"id": "P-2", "chainage": 500, "kind": "structure", "name": "闸"}]}),
            json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1",
                   "from_ms": 1, "until_ms": 2}),
            json!({"type": "set_patrol_interval", "section_id": "PS-1", "interval_min": 20}),
            json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "P-1",
                   "team_id": "T-1", "time_ms": 1}),
            json!({"type": "acknowledge_alert", "alert_id": "AL-1", "note": "seen"}),
            json!({"type": "record_note", "text": "18时起降暴雨", "text_en": "heavy rain from 18:00"}),
            json!({"type": "start_exercise", "title": "七月洪水", "scenario": "fukou-2019-07"}),
            json!({"type": "issue_cue", "cue_id": "CUE-1", "to": "dispatcher", "text": "请决定",
                   "text_en": "decide", "deadline_min": 30, "expect_event": "evacuation_ordered",
                   "expect_fields": {"name": "将军村"}}),
            json!({"type": "define_protected_asset", "id": "PA-1", "name": "京广铁路", "kind": "railway",
                   "priority": 1, "buffer_m": 500, "line": [[113.0, 27.6], [113.0, 27.7]],
                   "chainage_origin_m": 1650000, "position": null}),
            json!({"type": "open_incident", "hazard_id": "HZ-1", "name": "将军村溃口",
                   "post": {"position": [113.0, 27.6], "name": "前指", "commander": "王"}}),
            json!({"type": "set_command_post", "incident_id": "IN-1",
                   "post": {"position": [113.0, 27.6], "name": "前指", "commander": "王"}}),
            json!({"type": "define_flood_zone", "id": "FZ-1", "name": "南洲溃口淹没区", "levee_id": "L-1",
                   "ring": ring}),
            json!({"type": "commit_team", "incident_id": "IN-1", "team_id": "T-1", "state": "on_scene",
                   "headcount": 12}),
            json!({"type": "advance_incident_stage", "incident_id": "IN-1", "stage": "protect_ends"}),
            json!({"type": "close_incident", "incident_id": "IN-1"}),
            json!({"type": "set_watch_rules",
                   "patrol": {"max_section_m": 800, "min_overlap_m": 20, "max_point_spacing_m": 250,
                              "guard_interval_min": 45, "warning_interval_min": 20, "pass_radius_m": 25,
                              "on_levee_m": 80, "walk_gap_min": 10, "walk_max_m": 1500,
                              "walk_max_speed_mps": 2},
                   "alerts": {"shelter_nearly_full_pct": 85, "supply_low_days": 2,
                              "team_silent_min": 15, "assignment_accept_min": 3}}),
            json!({"type": "define_depot", "id": "D-1", "name": "区防汛物资仓库",
                   "position": [113.0, 27.6], "town": "t",
                   "stock": {"sandbags": 20000, "stones": 300}, "low_stock": {"sandbags": 5000}}),
            json!({"type": "restock_depot", "depot_id": "D-1", "items": {"geotextile": 500}}),
            json!({"type": "issue_materials", "depot_id": "D-1", "team_id": "T-1", "note": "n",
                   "site": {"kind": "incident", "incident_id": "IN-1"},
                   "items": {"sandbags": 2000, "life_jackets": 40}}),
            json!({"type": "deliver_materials", "shipment_id": "MS-1"}),
            json!({"type": "consume_materials", "shipment_id": "MS-1", "items": {"sandbags": 1500}}),
            json!({"type": "return_materials", "shipment_id": "MS-1", "depot_id": "D-1",
                   "items": {"sandbags": 500}}),
            json!({"type": "request_materials", "team_id": "T-1", "note": "n",
                   "site": {"kind": "levee_stretch", "levee_id": "L-1", "from": 2000, "to": 2500},
                   "items": {"pumps": 2, "lights": 4}}),
            json!({"type": "approve_material_request", "request_id": "MR-1", "depot_id": "D-1",
                   "items": {"pumps": 1}, "note": "n"}),
            json!({"type": "decline_material_request", "request_id": "MR-1", "reason": "r"}),
            json!({"type": "enter_gauge_forecast", "gauge_id": "G-1", "peak_m": 44.2,
                   "peak_at": 5, "source": "市水文局"}),
            json!({"type": "correct_shelter_capacity", "shelter_id": "S-1", "capacity": 250,
                   "reason": "二楼不可用", "allow_over_capacity": true}),
            json!({"type": "correct_gauge_thresholds", "gauge_id": "G-1", "reason": "r",
                   "thresholds": {"guard_m": 38.5, "warning_m": 40, "guaranteed_m": 42.5}}),
            json!({"type": "correct_team_roster", "team_id": "T-1", "headcount": 3,
                   "leader": "王", "members": ["李", "张"], "reason": "r"}),
            json!({"type": "correct_asset_buffer", "asset_id": "PA-1", "buffer_m": 800, "reason": "r"}),
        ]
    }

    /// Objects whose keys are data (item names), not fields.
    const MAPS: [&str; 5] = [
        "/supplies",
        "/stock",
        "/low_stock",
        "/items",
        "/expect_fields",
    ];

    /// JSON pointers of every object in `v` that is a struct (not a map).
    fn objects(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if !MAPS.contains(&at.as_str()) {
                    out.push(at.clone());
                }
                for (k, child) in m {
                    objects(child, format!("{at}/{k}"), out);
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    objects(child, format!("{at}/{i}"), out);
                }
            }
            _ => {}
        }
    }

    #[test]
    fn the_examples_cover_every_command() {
        use std::collections::BTreeSet;
        let covered: BTreeSet<String> = examples()
            .iter()
            .map(|e| e["type"].as_str().unwrap().to_string())
            .collect();
        let all: BTreeSet<String> = <Command as strum::VariantNames>::VARIANTS
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(covered, all);
    }

    #[test]
    fn unknown_fields_are_refused_at_every_depth() {
        let mut checked = 0;
        for example in examples() {
            let parsed: Command = serde_json::from_value(example.clone())
                .unwrap_or_else(|e| panic!("{example}: {e}"));
            // The wire name is the serde name.
            assert_eq!(parsed.name(), example["type"]);
            let mut at = Vec::new();
            objects(&example, String::new(), &mut at);
            for pointer in at {
                let mut bad = example.clone();
                bad.pointer_mut(&pointer)
                    .and_then(Value::as_object_mut)
                    .unwrap()
                    .insert("colour".into(), json!("red"));
                let err = serde_json::from_value::<Command>(bad.clone())
                    .expect_err(&format!("{bad} must be refused"))
                    .to_string();
                assert!(
                    err.starts_with("unknown field `colour`"),
                    "{pointer:?} of {}: {err}",
                    example["type"]
                );
                checked += 1;
            }
        }
        // Every command at its top level, plus the supplies, thresholds, assignment targets,
        // patrol points, a hazard's asset reference, command posts, the two rule sets, the
        // vulnerable people of a self-arranged departure, the materials' sites (one of each), a
        // gauge's record and corrected thresholds.
        assert_eq!(
            checked,
            examples().len() + 2 + 1 + 4 + 2 + 1 + 2 + 2 + 1 + 2 + 1 + 1
        );
    }

    #[test]
    fn a_command_serializes_as_it_was_sent() {
        // The command hash (idempotency) is taken over this serialization: parsed values must
        // write back the same JSON numbers and strings.
        for example in examples() {
            let parsed: Command = serde_json::from_value(example.clone()).unwrap();
            let mut back = serde_json::to_value(&parsed).unwrap();
            let mut sent = example.clone();
            normalize(&mut back);
            normalize(&mut sent);
            assert_eq!(back, sent);
        }
    }

    /// Numbers as f64, so `3` and `3.0` compare equal.
    fn normalize(v: &mut Value) {
        match v {
            Value::Number(n) => *v = json!(n.as_f64().unwrap()),
            Value::Array(items) => items.iter_mut().for_each(normalize),
            Value::Object(m) => m.values_mut().for_each(normalize),
            _ => {}
        }
    }

    #[test]
    fn check_fields_knows_every_command_and_accepts_its_fields() {
        use strum::VariantNames;
        let examples = examples();
        for kind in Command::VARIANTS {
            let example = examples
                .iter()
                .find(|e| e["type"] == *kind)
                .unwrap_or_else(|| panic!("no example of {kind}"));
            let mut fields = example.clone();
            fields.as_object_mut().unwrap().remove("type");
            let checked = Command::check_fields(kind, fields)
                .unwrap_or_else(|| panic!("check_fields does not know {kind}"));
            checked.unwrap_or_else(|e| panic!("{kind}: {e}"));
        }
        assert!(Command::check_fields("fly", json!({})).is_none());
    }
}
