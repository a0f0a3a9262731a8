//! Events: the facts in the log. The state is the fold of these, in sequence order.

use super::alerts::{Acknowledgement, Alert, AlertRules};
use super::casualties::{CasualtyConfirmation, CasualtyCorrection, CasualtyRecord};
use super::evacuation::{CellReport, DepartureWay};
use super::flood::{FloodRiskOverride, FloodZone};
use super::geo::LonLat;
use super::ids::*;
use super::incidents::{CommandPost, Commitment, Incident, ProtectedAsset, StageReached};
use super::levee::Levee;
use super::materials::{Depot, MaterialItem, MaterialRequest, Shipment};
use super::model::*;
use super::patrol::{Pass, PatrolRules, PatrolSection, PatrolShift, WaterStage};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    LeveeDefined {
        levee: Levee,
    },
    ShelterDefined {
        shelter: Shelter,
    },
    GaugeDefined {
        gauge: Gauge,
    },
    GridCellDefined {
        cell: GridCell,
    },
    TeamRegistered {
        team: Team,
    },

    HazardReported {
        hazard: Hazard,
    },
    HazardStatusChanged {
        hazard_id: HazardId,
        from: HazardStatus,
        to: HazardStatus,
        reason: String,
        /// When it changed; absent in events logged before the field existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimeMs>,
    },
    HazardEscalated {
        hazard_id: HazardId,
        from_severity: Severity,
        to_severity: Severity,
        from_kind: HazardKind,
        to_kind: HazardKind,
        reason: String,
        /// When it was escalated; absent in events logged before the field existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimeMs>,
    },

    TeamMoved {
        team_id: TeamId,
        fix: Fix,
        /// Where the fix lies on a levee that has patrol sections, and the chainage walked since
        /// the team's previous fix; absent when it is not on such a levee (and in events logged
        /// before the field existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        on_levee: Option<OnLevee>,
    },
    TeamDutyChanged {
        team_id: TeamId,
        on_duty: bool,
    },

    AssignmentCreated {
        assignment: Assignment,
    },
    AssignmentStateChanged {
        assignment_id: AssignmentId,
        team_id: TeamId,
        from: AssignmentState,
        to: AssignmentState,
        reason: String,
        at: TimeMs,
        by: String,
    },

    ShelterOpenChanged {
        shelter_id: ShelterId,
        open: bool,
        /// Opened inside a breached levee's flood zone by a dispatcher's explicit decision: why,
        /// and the zones. Absent otherwise (and in events logged before the field existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flood_risk_override: Option<FloodRiskOverride>,
    },
    EvacueesCheckedIn {
        shelter_id: ShelterId,
        count: u32,
        occupancy: u32,
        over_capacity: bool,
    },
    EvacueesCheckedOut {
        shelter_id: ShelterId,
        count: u32,
        occupancy: u32,
    },
    SupplySet {
        shelter_id: ShelterId,
        item: String,
        supply: Supply,
    },
    SupplyChanged {
        shelter_id: ShelterId,
        item: String,
        delta: f64,
        stock: f64,
    },

    ReadingRecorded {
        gauge_id: GaugeId,
        reading: Reading,
    },
    ThresholdCrossed {
        gauge_id: GaugeId,
        threshold: ThresholdKind,
        threshold_m: f64,
        level_m: f64,
        direction: Direction,
        time_ms: TimeMs,
    },

    ResponseLevelChanged {
        jurisdiction: JurisdictionId,
        previous: Option<ResponseLevel>,
        change: ResponseChange,
    },

    EvacuationOrdered {
        order: EvacuationOrder,
    },
    EvacuationProgressed {
        evacuation_id: EvacuationId,
        count: u32,
        evacuated: u32,
    },
    EvacuationLifted {
        evacuation_id: EvacuationId,
        /// When it was lifted; absent in events logged before the field existed.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at: Option<TimeMs>,
    },
    /// People left an evacuation zone by one way, from one cell; counted once, here. Without an
    /// order (`evacuation_id` absent) only for people rescued outside every active order's zone.
    EvacueesLeft {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        evacuation_id: Option<EvacuationId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cell_id: Option<GridCellId>,
        way: DepartureWay,
        count: u32,
        #[serde(default, skip_serializing_if = "Vulnerable::is_zero")]
        vulnerable: Vulnerable,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        shelter_id: Option<ShelterId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        casualty_id: Option<CasualtyId>,
        /// The order's people evacuated after this (0 without an order).
        evacuated: u32,
        /// The note of a self-arranged departure (where they went), if any.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        note: String,
        /// Who recorded it, and when.
        #[serde(default)]
        by: String,
        #[serde(default)]
        at: TimeMs,
    },
    /// A grid worker's report on a cell.
    CellStatusReported {
        cell_id: GridCellId,
        report: CellReport,
    },

    CasualtyRecorded {
        record: CasualtyRecord,
    },
    CasualtyCorrected {
        casualty_id: CasualtyId,
        correction: CasualtyCorrection,
    },
    /// People brought out of a trapped position.
    PeopleRescued {
        casualty_id: CasualtyId,
        count: u32,
        /// People brought out of this record so far.
        rescued: u32,
        /// Of `count`, people not counted as evacuated: their cell had nobody left under the
        /// active orders (they were counted as gone another way already — a miscount to put
        /// right), so counting them would count them twice.
        #[serde(default, skip_serializing_if = "is_zero")]
        uncounted: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        team_id: Option<TeamId>,
        at: TimeMs,
    },
    CasualtiesConfirmed {
        confirmation: CasualtyConfirmation,
    },

    PatrolSectionDefined {
        section: PatrolSection,
    },
    PatrolShiftAssigned {
        section_id: PatrolSectionId,
        shift: PatrolShift,
    },
    /// A dispatcher's interval for a section (`None`: the water's interval again).
    PatrolIntervalSet {
        section_id: PatrolSectionId,
        interval_min: Option<u32>,
        at: TimeMs,
    },
    /// The water stage on a levee's governing gauges changed, and with it the patrol interval.
    PatrolRequirementChanged {
        levee_id: LeveeId,
        stage: WaterStage,
        interval_min: Option<u32>,
        at: TimeMs,
    },
    PatrolPointCheckedIn {
        section_id: PatrolSectionId,
        point_id: PatrolPointId,
        pass: Pass,
    },

    AlertRaised {
        alert: Alert,
    },
    AlertAcknowledged {
        alert_id: AlertId,
        acknowledgement: Acknowledgement,
    },
    AlertResolved {
        alert_id: AlertId,
        at: TimeMs,
    },

    ProtectedAssetDefined {
        asset: ProtectedAsset,
    },
    IncidentOpened {
        incident: Incident,
    },
    CommandPostSet {
        incident_id: IncidentId,
        post: CommandPost,
    },
    IncidentTeamChanged {
        incident_id: IncidentId,
        team_id: TeamId,
        commitment: Commitment,
    },
    IncidentStageReached {
        incident_id: IncidentId,
        stage: StageReached,
    },
    IncidentClosed {
        incident_id: IncidentId,
        at: TimeMs,
    },

    /// The rules of patrols and alerts in force from now on (all of them, after the change).
    WatchRulesSet {
        patrol: PatrolRules,
        alerts: AlertRules,
        at: TimeMs,
    },

    // Flood materials (防汛物资)
    DepotDefined {
        depot: Depot,
    },
    /// Units added to a depot's stock (`items`), and its stock of those items after.
    DepotRestocked {
        depot_id: DepotId,
        items: BTreeMap<MaterialItem, u32>,
        stock: BTreeMap<MaterialItem, u32>,
        at: TimeMs,
        by: String,
    },
    /// A shipment `MS-<n>` leaves its depot; `stock` is the depot's stock of its items after.
    MaterialsIssued {
        shipment: Shipment,
        stock: BTreeMap<MaterialItem, u32>,
    },
    MaterialsDelivered {
        shipment_id: ShipmentId,
        at: TimeMs,
        by: String,
    },
    /// Units used up at the site (`items`), and the shipment's consumed units of those items
    /// after.
    MaterialsConsumed {
        shipment_id: ShipmentId,
        items: BTreeMap<MaterialItem, u32>,
        consumed: BTreeMap<MaterialItem, u32>,
        at: TimeMs,
        by: String,
    },
    /// Unused units back into a depot's stock (`items`): the shipment's returned units of those
    /// items after, and the depot's stock of them after.
    MaterialsReturned {
        shipment_id: ShipmentId,
        depot_id: DepotId,
        items: BTreeMap<MaterialItem, u32>,
        returned: BTreeMap<MaterialItem, u32>,
        stock: BTreeMap<MaterialItem, u32>,
        at: TimeMs,
        by: String,
    },
    /// A request `MR-<n>` from the field.
    MaterialsRequested {
        request: MaterialRequest,
    },
    MaterialRequestApproved {
        request_id: MaterialRequestId,
        shipment_id: ShipmentId,
        at: TimeMs,
        by: String,
    },
    MaterialRequestDeclined {
        request_id: MaterialRequestId,
        reason: String,
        at: TimeMs,
        by: String,
    },
    /// The shipment that fills the request was delivered.
    MaterialRequestFulfilled {
        request_id: MaterialRequestId,
        shipment_id: ShipmentId,
        at: TimeMs,
    },

    FloodZoneDefined {
        zone: FloodZone,
    },

    /// A dispatcher entered a forecast peak for a gauge; it replaces the one before.
    GaugeForecastEntered {
        gauge_id: GaugeId,
        forecast: super::hydrograph::Forecast,
    },
    /// Reference data corrected after it was defined: the old value, the new one, why, who, when.
    ReferenceCorrected {
        correction: super::corrections::Correction,
    },

    /// An entry of the duty log.
    NoteRecorded {
        note: super::journal::Note,
    },
    /// This log is a drill's: the first event of an exercise space.
    ExerciseStarted {
        exercise: super::journal::Exercise,
    },
    /// A cue for the drill's trainees.
    CueIssued {
        cue: super::journal::Cue,
    },
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// A team's fix on a levee with patrol sections.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OnLevee {
    pub levee_id: LeveeId,
    pub chainage_m: f64,
    /// Chainage of the team's previous fix when the two make one walk; else equal to
    /// `chainage_m`. Every patrol point between the two (and within the pass radius) is passed.
    pub walked_from_m: f64,
}

impl OnLevee {
    /// The chainage interval whose patrol points this fix passes, low end first: a single fix
    /// passes the points within `radius` of it; a walk passes those from just beyond the
    /// previous fix's reach (already passed then) to `radius` beyond this fix.
    pub fn passes(&self, radius: f64) -> (f64, f64) {
        const BEYOND: f64 = 1e-6;
        let (from, to) = (self.walked_from_m, self.chainage_m);
        if to > from {
            (from + radius + BEYOND, to + radius)
        } else if to < from {
            (to - radius, from - radius - BEYOND)
        } else {
            (to - radius, to + radius)
        }
    }
}

/// The layers a client can subscribe to. Every event belongs to exactly one.
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
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Layer {
    Levees,
    Hazards,
    Teams,
    Assignments,
    Shelters,
    Gauges,
    Response,
    Evacuations,
    GridCells,
    PatrolSections,
    Alerts,
    ProtectedAssets,
    Incidents,
    Casualties,
    Depots,
    Shipments,
    MaterialRequests,
    FloodZones,
    /// The duty log: notes, and in a drill its marking and its cues.
    Journal,
}

impl Layer {
    pub const ALL: &[Layer] = <Layer as strum::VariantArray>::VARIANTS;

    /// Point layers are filtered by a viewport one entity at a time (with enter/leave).
    pub fn is_point_layer(self) -> bool {
        matches!(
            self,
            Layer::Hazards | Layer::Teams | Layer::Shelters | Layer::Gauges
        )
    }

    pub fn name(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Layer> {
        s.parse().ok()
    }
}

impl Event {
    /// The layer this event changes and the id of the entity it is about.
    pub fn subject(&self) -> (Layer, &str) {
        use Event::*;
        match self {
            LeveeDefined { levee } => (Layer::Levees, levee.id().as_str()),
            ShelterDefined { shelter } => (Layer::Shelters, shelter.id.as_str()),
            GaugeDefined { gauge } => (Layer::Gauges, gauge.id.as_str()),
            GridCellDefined { cell } => (Layer::GridCells, cell.id.as_str()),
            TeamRegistered { team } => (Layer::Teams, team.id.as_str()),
            HazardReported { hazard } => (Layer::Hazards, hazard.id.as_str()),
            HazardStatusChanged { hazard_id, .. } | HazardEscalated { hazard_id, .. } => {
                (Layer::Hazards, hazard_id.as_str())
            }
            TeamMoved { team_id, .. } | TeamDutyChanged { team_id, .. } => {
                (Layer::Teams, team_id.as_str())
            }
            AssignmentCreated { assignment } => (Layer::Assignments, assignment.id.as_str()),
            AssignmentStateChanged { assignment_id, .. } => {
                (Layer::Assignments, assignment_id.as_str())
            }
            ShelterOpenChanged { shelter_id, .. }
            | EvacueesCheckedIn { shelter_id, .. }
            | EvacueesCheckedOut { shelter_id, .. }
            | SupplySet { shelter_id, .. }
            | SupplyChanged { shelter_id, .. } => (Layer::Shelters, shelter_id.as_str()),
            ReadingRecorded { gauge_id, .. } | ThresholdCrossed { gauge_id, .. } => {
                (Layer::Gauges, gauge_id.as_str())
            }
            ResponseLevelChanged { jurisdiction, .. } => (Layer::Response, jurisdiction.as_str()),
            EvacuationOrdered { order } => (Layer::Evacuations, order.id.as_str()),
            EvacuationProgressed { evacuation_id, .. } | EvacuationLifted { evacuation_id, .. } => {
                (Layer::Evacuations, evacuation_id.as_str())
            }
            EvacueesLeft {
                evacuation_id: Some(evacuation_id),
                ..
            } => (Layer::Evacuations, evacuation_id.as_str()),
            EvacueesLeft {
                evacuation_id: None,
                casualty_id,
                ..
            } => (
                Layer::Casualties,
                casualty_id.as_ref().map_or("", |c| c.as_str()),
            ),
            CellStatusReported { cell_id, .. } => (Layer::GridCells, cell_id.as_str()),
            CasualtyRecorded { record } => (Layer::Casualties, record.id.as_str()),
            CasualtyCorrected { casualty_id, .. } | PeopleRescued { casualty_id, .. } => {
                (Layer::Casualties, casualty_id.as_str())
            }
            CasualtiesConfirmed { .. } => (Layer::Casualties, "figures"),
            PatrolSectionDefined { section } => (Layer::PatrolSections, section.id.as_str()),
            PatrolShiftAssigned { section_id, .. }
            | PatrolIntervalSet { section_id, .. }
            | PatrolPointCheckedIn { section_id, .. } => {
                (Layer::PatrolSections, section_id.as_str())
            }
            PatrolRequirementChanged { levee_id, .. } => (Layer::Levees, levee_id.as_str()),
            AlertRaised { alert } => (Layer::Alerts, alert.id.as_str()),
            AlertAcknowledged { alert_id, .. } | AlertResolved { alert_id, .. } => {
                (Layer::Alerts, alert_id.as_str())
            }
            ProtectedAssetDefined { asset } => (Layer::ProtectedAssets, asset.id.as_str()),
            IncidentOpened { incident } => (Layer::Incidents, incident.id.as_str()),
            CommandPostSet { incident_id, .. }
            | IncidentTeamChanged { incident_id, .. }
            | IncidentStageReached { incident_id, .. }
            | IncidentClosed { incident_id, .. } => (Layer::Incidents, incident_id.as_str()),
            WatchRulesSet { .. } => (Layer::PatrolSections, "rules"),
            DepotDefined { depot } => (Layer::Depots, depot.id.as_str()),
            DepotRestocked { depot_id, .. } => (Layer::Depots, depot_id.as_str()),
            MaterialsIssued { shipment, .. } => (Layer::Shipments, shipment.id.as_str()),
            MaterialsDelivered { shipment_id, .. }
            | MaterialsConsumed { shipment_id, .. }
            | MaterialsReturned { shipment_id, .. } => (Layer::Shipments, shipment_id.as_str()),
            MaterialsRequested { request } => (Layer::MaterialRequests, request.id.as_str()),
            MaterialRequestApproved { request_id, .. }
            | MaterialRequestDeclined { request_id, .. }
            | MaterialRequestFulfilled { request_id, .. } => {
                (Layer::MaterialRequests, request_id.as_str())
            }
            FloodZoneDefined { zone } => (Layer::FloodZones, zone.id.as_str()),
            GaugeForecastEntered { gauge_id, .. } => (Layer::Gauges, gauge_id.as_str()),
            ReferenceCorrected { correction } => correction.change.subject(),
            NoteRecorded { note } => (Layer::Journal, note.id.as_str()),
            ExerciseStarted { .. } => (Layer::Journal, "exercise"),
            CueIssued { cue } => (Layer::Journal, cue.id.as_str()),
        }
    }

    /// For events that place a point entity somewhere (creation or movement): the new position.
    pub fn places_at(&self) -> Option<LonLat> {
        use Event::*;
        match self {
            ShelterDefined { shelter } => Some(shelter.position),
            GaugeDefined { gauge } => Some(gauge.position),
            TeamRegistered { team } => team.fix.map(|f| f.position),
            HazardReported { hazard } => Some(hazard.position),
            CasualtyRecorded { record } => record.position,
            TeamMoved { fix, .. } => Some(fix.position),
            _ => None,
        }
    }

    /// Id of the entity this event created, if it created one with a Crest-assigned id.
    pub fn created_id(&self) -> Option<&str> {
        match self {
            Event::HazardReported { hazard } => Some(hazard.id.as_str()),
            Event::AssignmentCreated { assignment } => Some(assignment.id.as_str()),
            Event::EvacuationOrdered { order } => Some(order.id.as_str()),
            Event::IncidentOpened { incident } => Some(incident.id.as_str()),
            Event::CasualtyRecorded { record } => Some(record.id.as_str()),
            Event::MaterialsIssued { shipment, .. } => Some(shipment.id.as_str()),
            Event::MaterialsRequested { request } => Some(request.id.as_str()),
            _ => None,
        }
    }

    /// Position updates may be coalesced for a slow client: a later one for the same team
    /// supersedes an earlier one.
    pub fn is_position_update(&self) -> bool {
        matches!(self, Event::TeamMoved { .. })
    }
}
