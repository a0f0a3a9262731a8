//! The live state: the fold of the event log. The decider that turns commands into events is in
//! `decide/`, one file per family of commands.
//!
//! `decide` never mutates; `apply` never refuses. The engine calls `decide`, writes the events,
//! then calls `apply` for each, so the state is always exactly the fold of the durable log.
//!
//! The fold stays here, in one exhaustive match, rather than split by family like the decider: it
//! is one or two lines per event with no rules in it, and a few events cross families (an
//! assignment sets its team's active assignment), which one match shows in one place.

use super::access::Actor;
use super::alerts::{Alert, AlertKey, AlertRules, AlertState};
use super::casualties::{CasualtyConfirmation, CasualtyRecord};
use super::corrections::{CORRECTIONS_KEPT, Change, Correction};
use super::evacuation::{CellReport, plus};
use super::events::Event;
use super::geo::LonLat;
use super::ids::*;
use super::incidents::{Incident, ProtectedAsset};
use super::levee::{Levee, LeveeLocation};
use super::model::*;
use super::patrol::{PatrolRules, PatrolSection, SECTION_SHIFTS, WaterStage};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// Finds the levee a point lies on. Implemented by the spatial projection (indexed) and by a
/// brute-force scan in tests; the domain only needs the answer.
pub trait LeveeSnapper {
    fn snap(&self, point: LonLat, tolerance_m: f64) -> Option<LeveeLocation>;
}

/// What `decide` needs besides the state and the command.
pub struct Context<'a> {
    pub now_ms: TimeMs,
    pub actor: &'a Actor,
    pub snapper: &'a dyn LeveeSnapper,
}

/// How far from a levee line a hazard report is still attributed to that levee, metres.
pub const HAZARD_SNAP_TOLERANCE_M: f64 = 150.0;
pub use super::bounds::{MAX_COUNT, MAX_TEXT};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub levees: BTreeMap<LeveeId, Levee>,
    pub hazards: BTreeMap<HazardId, Hazard>,
    pub teams: BTreeMap<TeamId, Team>,
    pub assignments: BTreeMap<AssignmentId, Assignment>,
    pub shelters: BTreeMap<ShelterId, Shelter>,
    pub gauges: BTreeMap<GaugeId, Gauge>,
    pub evacuations: BTreeMap<EvacuationId, EvacuationOrder>,
    pub grid_cells: BTreeMap<GridCellId, GridCell>,
    /// Response-level history per jurisdiction, oldest first.
    pub response: BTreeMap<JurisdictionId, Vec<ResponseChange>>,
    /// Counters for Crest-assigned ids.
    pub next_hazard: u64,
    pub next_assignment: u64,
    pub next_evacuation: u64,
    #[serde(default)]
    pub next_alert: u64,

    #[serde(default)]
    pub patrol_sections: BTreeMap<PatrolSectionId, PatrolSection>,
    /// Each levee's sections, by their start chainage, with their extent (so a position
    /// update finds the sections it touches by binary search, without a lookup per section).
    #[serde(default)]
    pub levee_sections: BTreeMap<LeveeId, Vec<SectionSpan>>,
    /// The water stage on each levee's governing gauges (absent: normal).
    #[serde(default)]
    pub levee_water: BTreeMap<LeveeId, WaterStage>,
    #[serde(default)]
    pub patrol_rules: PatrolRules,

    #[serde(default)]
    pub alerts: BTreeMap<AlertId, Alert>,
    /// The open (raised or acknowledged) alert of each condition.
    #[serde(default, with = "open_alerts")]
    pub open_alerts: BTreeMap<AlertKey, AlertId>,
    /// Resolved alerts, oldest first: beyond [`RESOLVED_ALERTS_KEPT`] the oldest leave the state
    /// (the log keeps them), so alerts that come and go do not grow the state without bound.
    #[serde(default)]
    pub resolved_alerts: std::collections::VecDeque<AlertId>,
    /// The longest patrol section (bounds the search of `spans_along`, whatever the rules say now).
    #[serde(default)]
    pub longest_section_m: f64,
    /// How many open alerts each subject has: the watch's check without allocating a key.
    #[serde(default)]
    pub open_alert_subjects: BTreeMap<String, u32>,
    #[serde(default)]
    pub alert_rules: AlertRules,

    #[serde(default)]
    pub assets: BTreeMap<AssetId, ProtectedAsset>,
    #[serde(default)]
    pub incidents: BTreeMap<IncidentId, Incident>,
    /// The open incident of each hazard that has one.
    #[serde(default)]
    pub hazard_incident: BTreeMap<HazardId, IncidentId>,
    #[serde(default)]
    pub next_incident: u64,

    /// People dead, missing, injured and trapped.
    #[serde(default)]
    pub casualties: BTreeMap<CasualtyId, CasualtyRecord>,
    #[serde(default)]
    pub next_casualty: u64,
    /// The last confirmation of the casualty figures.
    #[serde(default)]
    pub casualties_confirmed: Option<CasualtyConfirmation>,
    /// The latest grid worker's report on each cell.
    #[serde(default)]
    pub cell_reports: BTreeMap<GridCellId, CellReport>,
    /// People rescued from trapped positions outside every active order's zone (still
    /// evacuated, but under no order).
    #[serde(default)]
    pub rescued_outside_orders: u64,
    /// Of those, the ones whose cell is known, by cell: they have left it, and a later order
    /// over the cell does not count them again.
    #[serde(default)]
    pub rescued_outside_by_cell: BTreeMap<GridCellId, u32>,

    /// Flood materials: depots, shipments, requests (see `materials.rs` for what is kept).
    #[serde(default)]
    pub materials: super::materials::Materials,

    /// What a breach of each levee would flood (reference data).
    #[serde(default)]
    pub flood_zones: BTreeMap<FloodZoneId, super::flood::FloodZone>,

    /// Each gauge's readings in time order, the newest
    /// [`READINGS_KEPT`](super::hydrograph::READINGS_KEPT) by time (see
    /// `hydrograph::keep` for late readings); the log keeps every one.
    #[serde(default)]
    pub gauge_readings: BTreeMap<GaugeId, VecDeque<Reading>>,
    /// Corrections of reference data, oldest first: the newest [`CORRECTIONS_KEPT`] (the log
    /// keeps them all).
    #[serde(default)]
    pub corrections: VecDeque<Correction>,
    #[serde(default)]
    pub next_correction: u64,

    /// Set in a drill's log (its first event): everything read from this state is an exercise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exercise: Option<super::journal::Exercise>,
    /// The duty log, oldest first: the newest [`NOTES_KEPT`](super::journal::NOTES_KEPT).
    #[serde(default)]
    pub notes: VecDeque<super::journal::Note>,
    #[serde(default)]
    pub next_note: u64,
    /// A drill's cues by id: the newest [`CUES_KEPT`](super::journal::CUES_KEPT) by issue.
    #[serde(default)]
    pub cues: BTreeMap<CueId, super::journal::Cue>,
}

impl State {
    /// Active evacuation orders, oldest first (the order people are counted against when a
    /// departure names no order).
    pub fn active_orders(&self) -> impl Iterator<Item = &EvacuationOrder> {
        let mut v: Vec<&EvacuationOrder> = self
            .evacuations
            .values()
            .filter(|e| e.status == EvacuationStatus::Active)
            .collect();
        v.sort_by_key(|e| (e.issued_at, e.id.as_str().len(), e.id.as_str()));
        v.into_iter()
    }

    /// The grid cell a point lies in (inside or on its edge; the first by id on a shared edge).
    pub fn cell_at(&self, p: LonLat) -> Option<&GridCell> {
        self.grid_cells.values().find(|c| {
            let (lo, hi) = super::geo::envelope(&c.ring);
            (lo[0]..=hi[0]).contains(&p.lon())
                && (lo[1]..=hi[1]).contains(&p.lat())
                && super::geo::ring_contains(&c.ring, p)
        })
    }
}

/// Resolved alerts kept in the state (and shown in the `alerts` layer); older ones are in the log.
pub const RESOLVED_ALERTS_KEPT: usize = 1_000;

/// A section's place on its levee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SectionSpan {
    pub from_m: f64,
    pub to_m: f64,
    pub id: PatrolSectionId,
}

/// `open_alerts` as a list of pairs: JSON object keys must be strings.
mod open_alerts {
    use super::{AlertId, AlertKey};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(
        m: &BTreeMap<AlertKey, AlertId>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        m.iter().collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<AlertKey, AlertId>, D::Error> {
        Ok(Vec::<(AlertKey, AlertId)>::deserialize(d)?
            .into_iter()
            .collect())
    }
}

impl State {
    pub fn team_status(&self, team: &Team) -> TeamStatus {
        if !team.on_duty {
            return TeamStatus::OffDuty;
        }
        team.assignment
            .as_ref()
            .and_then(|a| self.assignments.get(a))
            .map_or(TeamStatus::Available, |a| a.state.team_status())
    }

    /// The current response level of a jurisdiction.
    pub fn response_level(&self, j: &JurisdictionId) -> Option<ResponseLevel> {
        self.response
            .get(j)
            .and_then(|h| h.last())
            .and_then(|c| c.level)
    }

    /// Folds one event into the state. Events come from `decide` or from the log, so they are
    /// valid; an event that refers to something unknown is ignored rather than panicking.
    pub fn apply(&mut self, event: &Event) {
        use Event as E;
        match event {
            E::LeveeDefined { levee } => {
                self.levees.insert(levee.id().clone(), levee.clone());
            }
            E::ShelterDefined { shelter } => {
                self.shelters.insert(shelter.id.clone(), shelter.clone());
            }
            E::GaugeDefined { gauge } => {
                self.gauges.insert(gauge.id.clone(), gauge.clone());
            }
            E::GridCellDefined { cell } => {
                self.grid_cells.insert(cell.id.clone(), cell.clone());
            }
            E::TeamRegistered { team } => {
                self.teams.insert(team.id.clone(), team.clone());
            }
            E::HazardReported { hazard } => {
                self.next_hazard += 1;
                self.hazards.insert(hazard.id.clone(), hazard.clone());
            }
            E::HazardStatusChanged {
                hazard_id, to, at, ..
            } => {
                if let Some(h) = self.hazards.get_mut(hazard_id) {
                    h.status = *to;
                    h.updated_at = at.unwrap_or(h.updated_at);
                }
            }
            E::HazardEscalated {
                hazard_id,
                to_severity,
                to_kind,
                at,
                ..
            } => {
                if let Some(h) = self.hazards.get_mut(hazard_id) {
                    h.severity = *to_severity;
                    h.kind = *to_kind;
                    h.updated_at = at.unwrap_or(h.updated_at);
                }
            }
            E::TeamMoved {
                team_id,
                fix,
                on_levee,
            } => {
                if let Some(t) = self.teams.get_mut(team_id) {
                    t.fix = Some(*fix);
                    t.on_levee = on_levee.clone();
                }
                if let Some(on) = on_levee {
                    self.record_walk(team_id, on, fix.time_ms);
                }
            }
            E::TeamDutyChanged { team_id, on_duty } => {
                if let Some(t) = self.teams.get_mut(team_id) {
                    t.on_duty = *on_duty;
                }
            }
            E::AssignmentCreated { assignment } => {
                self.next_assignment += 1;
                if let Some(t) = self.teams.get_mut(&assignment.team_id) {
                    t.assignment = Some(assignment.id.clone());
                }
                self.assignments
                    .insert(assignment.id.clone(), assignment.clone());
            }
            E::AssignmentStateChanged {
                assignment_id,
                team_id,
                to,
                at,
                by,
                ..
            } => {
                if let Some(a) = self.assignments.get_mut(assignment_id) {
                    a.state = *to;
                    a.history.push(AssignmentTransition {
                        state: *to,
                        at: *at,
                        by: by.clone(),
                    });
                }
                if !to.is_active()
                    && let Some(t) = self.teams.get_mut(team_id)
                    && t.assignment.as_ref() == Some(assignment_id)
                {
                    t.assignment = None;
                }
            }
            E::ShelterOpenChanged {
                shelter_id, open, ..
            } => {
                if let Some(s) = self.shelters.get_mut(shelter_id) {
                    s.open = *open;
                }
            }
            E::EvacueesCheckedIn {
                shelter_id,
                occupancy,
                ..
            }
            | E::EvacueesCheckedOut {
                shelter_id,
                occupancy,
                ..
            } => {
                if let Some(s) = self.shelters.get_mut(shelter_id) {
                    s.occupancy = *occupancy;
                }
            }
            E::SupplySet {
                shelter_id,
                item,
                supply,
            } => {
                if let Some(s) = self.shelters.get_mut(shelter_id) {
                    s.supplies.insert(item.clone(), supply.clone());
                }
            }
            E::SupplyChanged {
                shelter_id,
                item,
                stock,
                ..
            } => {
                if let Some(s) = self
                    .shelters
                    .get_mut(shelter_id)
                    .and_then(|s| s.supplies.get_mut(item))
                {
                    s.stock = *stock;
                }
            }
            E::ReadingRecorded { gauge_id, reading } => {
                if let Some(g) = self.gauges.get_mut(gauge_id) {
                    if g.last.is_none_or(|l| reading.time_ms >= l.time_ms) {
                        g.last = Some(*reading);
                    }
                    super::hydrograph::keep(
                        self.gauge_readings.entry(gauge_id.clone()).or_default(),
                        *reading,
                    );
                }
            }
            E::ThresholdCrossed { .. } => {}
            E::ResponseLevelChanged {
                jurisdiction,
                change,
                ..
            } => {
                self.response
                    .entry(jurisdiction.clone())
                    .or_default()
                    .push(change.clone());
            }
            E::EvacuationOrdered { order } => {
                self.next_evacuation += 1;
                self.evacuations.insert(order.id.clone(), order.clone());
            }
            E::EvacuationProgressed {
                evacuation_id,
                evacuated,
                ..
            } => {
                if let Some(o) = self.evacuations.get_mut(evacuation_id) {
                    o.evacuated = *evacuated;
                }
            }
            E::EvacuationLifted { evacuation_id, at } => {
                if let Some(o) = self.evacuations.get_mut(evacuation_id) {
                    o.status = EvacuationStatus::Lifted;
                    o.lifted_at = *at;
                }
            }
            E::EvacueesLeft {
                evacuation_id,
                cell_id,
                way,
                count,
                vulnerable,
                evacuated,
                ..
            } => match evacuation_id
                .as_ref()
                .and_then(|id| self.evacuations.get_mut(id))
            {
                Some(o) => {
                    o.evacuated = *evacuated;
                    o.departures.add(*way, *count);
                    if let Some(c) = o
                        .cells
                        .iter_mut()
                        .find(|c| Some(&c.cell_id) == cell_id.as_ref())
                    {
                        c.left.add(*way, *count);
                        c.vulnerable_left = plus(&c.vulnerable_left, vulnerable);
                    }
                }
                None => {
                    self.rescued_outside_orders += u64::from(*count);
                    if let Some(c) = cell_id {
                        let n = self.rescued_outside_by_cell.entry(c.clone()).or_default();
                        *n = n.saturating_add(*count);
                    }
                }
            },
            E::CellStatusReported { cell_id, report } => {
                self.cell_reports.insert(cell_id.clone(), report.clone());
            }
            E::CasualtyRecorded { record } => {
                self.next_casualty += 1;
                self.casualties.insert(record.id.clone(), record.clone());
            }
            E::CasualtyCorrected {
                casualty_id,
                correction,
            } => {
                if let Some(r) = self.casualties.get_mut(casualty_id) {
                    r.kind = correction.to_kind;
                    r.count = correction.to_count;
                    r.corrections.push(correction.clone());
                }
            }
            E::PeopleRescued {
                casualty_id,
                rescued,
                ..
            } => {
                if let Some(r) = self.casualties.get_mut(casualty_id) {
                    r.rescued = *rescued;
                }
            }
            E::CasualtiesConfirmed { confirmation } => {
                self.casualties_confirmed = Some(confirmation.clone());
            }
            E::PatrolSectionDefined { section } => {
                let spans = self
                    .levee_sections
                    .entry(section.levee_id.clone())
                    .or_default();
                let at = spans.partition_point(|s| s.from_m <= section.from_m);
                spans.insert(
                    at,
                    SectionSpan {
                        from_m: section.from_m,
                        to_m: section.to_m,
                        id: section.id.clone(),
                    },
                );
                self.longest_section_m = self.longest_section_m.max(section.to_m - section.from_m);
                // The event carries the requirement in force when it was defined.
                self.patrol_sections
                    .insert(section.id.clone(), section.clone());
            }
            E::PatrolShiftAssigned { section_id, shift } => {
                if let Some(s) = self.patrol_sections.get_mut(section_id) {
                    // Full: the shift that ended first makes room (the decider refuses a
                    // shift when none has ended by the new one's start).
                    if s.shifts.len() >= SECTION_SHIFTS
                        && let Some(i) = s
                            .shifts
                            .iter()
                            .enumerate()
                            .min_by_key(|(_, sh)| sh.until_ms)
                            .map(|(i, _)| i)
                    {
                        s.shifts.remove(i);
                    }
                    s.shifts.push(shift.clone());
                }
            }
            E::PatrolIntervalSet {
                section_id,
                interval_min,
                at,
            } => {
                let water = self.water_interval(section_id);
                if let Some(s) = self.patrol_sections.get_mut(section_id) {
                    s.interval_override_min = *interval_min;
                    s.set_requirement(water, *at);
                }
            }
            E::PatrolRequirementChanged {
                levee_id,
                stage,
                interval_min,
                at,
            } => {
                self.levee_water.insert(levee_id.clone(), *stage);
                for span in self.levee_sections.get(levee_id).into_iter().flatten() {
                    if let Some(s) = self.patrol_sections.get_mut(&span.id) {
                        s.set_requirement(*interval_min, *at);
                    }
                }
            }
            E::PatrolPointCheckedIn {
                section_id,
                point_id,
                pass,
            } => {
                if let Some(p) = self
                    .patrol_sections
                    .get_mut(section_id)
                    .and_then(|s| s.points.iter_mut().find(|p| &p.id == point_id))
                {
                    p.record(pass.clone());
                }
            }
            E::AlertRaised { alert } => {
                self.next_alert += 1;
                if alert.is_open() {
                    self.open_alerts.insert(alert.key(), alert.id.clone());
                    *self
                        .open_alert_subjects
                        .entry(alert.subject_id.clone())
                        .or_default() += 1;
                }
                self.alerts.insert(alert.id.clone(), alert.clone());
            }
            E::AlertAcknowledged {
                alert_id,
                acknowledgement,
            } => {
                if let Some(a) = self.alerts.get_mut(alert_id)
                    && a.state == AlertState::Raised
                {
                    a.state = AlertState::Acknowledged;
                    a.acknowledged = Some(acknowledgement.clone());
                }
            }
            E::ProtectedAssetDefined { asset } => {
                self.assets.insert(asset.id.clone(), asset.clone());
            }
            E::FloodZoneDefined { zone } => {
                self.flood_zones.insert(zone.id.clone(), zone.clone());
            }
            E::IncidentOpened { incident } => {
                self.next_incident += 1;
                self.hazard_incident
                    .insert(incident.hazard_id.clone(), incident.id.clone());
                self.incidents.insert(incident.id.clone(), incident.clone());
            }
            E::CommandPostSet { incident_id, post } => {
                if let Some(i) = self.incidents.get_mut(incident_id) {
                    i.post = Some(post.clone());
                }
            }
            E::IncidentTeamChanged {
                incident_id,
                team_id,
                commitment,
            } => {
                if let Some(i) = self.incidents.get_mut(incident_id) {
                    i.teams.insert(team_id.clone(), commitment.clone());
                    let now = i.headcount_on_scene();
                    if now > i.peak_headcount {
                        i.peak_headcount = now;
                        i.peak_at = Some(commitment.since);
                    }
                }
            }
            E::IncidentStageReached { incident_id, stage } => {
                if let Some(i) = self.incidents.get_mut(incident_id) {
                    i.stages.push(stage.clone());
                }
            }
            E::IncidentClosed { incident_id, at } => {
                if let Some(i) = self.incidents.get_mut(incident_id) {
                    i.closed_at = Some(*at);
                    if self.hazard_incident.get(&i.hazard_id) == Some(incident_id) {
                        self.hazard_incident.remove(&i.hazard_id);
                    }
                }
            }
            E::WatchRulesSet { patrol, alerts, at } => {
                self.patrol_rules = *patrol;
                self.alert_rules = *alerts;
                // The intervals the water requires may have changed.
                let ids: Vec<PatrolSectionId> = self.patrol_sections.keys().cloned().collect();
                for id in ids {
                    let water = self.water_interval(&id);
                    if let Some(s) = self.patrol_sections.get_mut(&id) {
                        s.set_requirement(water, *at);
                    }
                }
            }
            E::DepotDefined { .. }
            | E::DepotRestocked { .. }
            | E::MaterialsIssued { .. }
            | E::MaterialsDelivered { .. }
            | E::MaterialsConsumed { .. }
            | E::MaterialsReturned { .. }
            | E::MaterialsRequested { .. }
            | E::MaterialRequestApproved { .. }
            | E::MaterialRequestDeclined { .. }
            | E::MaterialRequestFulfilled { .. } => self.materials.apply(event),
            E::GaugeForecastEntered { gauge_id, forecast } => {
                if let Some(g) = self.gauges.get_mut(gauge_id) {
                    g.forecast = Some(forecast.clone());
                }
            }
            E::ReferenceCorrected { correction } => self.correct(correction),
            E::NoteRecorded { note } => {
                self.next_note += 1;
                self.notes.push_back(note.clone());
                while self.notes.len() > super::journal::NOTES_KEPT {
                    self.notes.pop_front();
                }
            }
            E::ExerciseStarted { exercise } => self.exercise = Some(exercise.clone()),
            E::CueIssued { cue } => {
                self.cues.insert(cue.id.clone(), cue.clone());
                if self.cues.len() > super::journal::CUES_KEPT
                    && let Some(oldest) = self
                        .cues
                        .values()
                        .min_by_key(|c| (c.issued_at, c.id.clone()))
                        .map(|c| c.id.clone())
                {
                    self.cues.remove(&oldest);
                }
            }
            E::AlertResolved { alert_id, at } => {
                if let Some(a) = self.alerts.get_mut(alert_id)
                    && a.is_open()
                {
                    a.state = AlertState::Resolved;
                    a.resolved_at = Some(*at);
                    self.open_alerts.remove(&a.key());
                    if let Some(n) = self.open_alert_subjects.get_mut(&a.subject_id) {
                        *n -= 1;
                        if *n == 0 {
                            self.open_alert_subjects.remove(&a.subject_id);
                        }
                    }
                    self.resolved_alerts.push_back(alert_id.clone());
                    if self.resolved_alerts.len() > RESOLVED_ALERTS_KEPT
                        && let Some(oldest) = self.resolved_alerts.pop_front()
                    {
                        self.alerts.remove(&oldest);
                    }
                }
            }
        }
    }

    /// Applies a correction of reference data and keeps its record.
    fn correct(&mut self, c: &Correction) {
        self.next_correction += 1;
        match &c.change {
            Change::ShelterCapacity {
                shelter_id, new, ..
            } => {
                if let Some(s) = self.shelters.get_mut(shelter_id) {
                    s.capacity = *new;
                }
            }
            Change::GaugeThresholds { gauge_id, new, .. } => {
                if let Some(g) = self.gauges.get_mut(gauge_id) {
                    g.thresholds = *new;
                }
            }
            Change::TeamRoster { team_id, new, .. } => {
                if let Some(t) = self.teams.get_mut(team_id) {
                    t.headcount = new.headcount;
                    t.leader = new.leader.clone();
                    t.members = new.members.clone();
                }
            }
            Change::AssetBuffer { asset_id, new, .. } => {
                if let Some(a) = self.assets.get_mut(asset_id) {
                    a.buffer_m = *new;
                }
            }
        }
        self.corrections.push_back(c.clone());
        if self.corrections.len() > CORRECTIONS_KEPT {
            self.corrections.pop_front();
        }
    }

    /// The interval the water requires on a section's levee, minutes.
    pub fn water_interval(&self, section_id: &PatrolSectionId) -> Option<u32> {
        let levee = &self.patrol_sections.get(section_id)?.levee_id;
        self.levee_water
            .get(levee)
            .copied()
            .unwrap_or_default()
            .interval_min(&self.patrol_rules)
    }

    /// The sections of a levee that overlap `[lo, hi]`.
    pub fn sections_along(
        &self,
        levee_id: &LeveeId,
        lo: f64,
        hi: f64,
    ) -> impl Iterator<Item = &PatrolSection> {
        self.spans_along(levee_id, lo, hi)
            .into_iter()
            .filter_map(|span| self.patrol_sections.get(&span.id))
    }

    /// The spans of a levee's sections that overlap `[lo, hi]`: found by binary search (a
    /// section is at most `max_section_m` long, so one that overlaps starts after
    /// `lo - max_section_m`), then checked.
    pub fn spans_along(&self, levee_id: &LeveeId, lo: f64, hi: f64) -> Vec<&SectionSpan> {
        let Some(spans) = self.levee_sections.get(levee_id) else {
            return Vec::new();
        };
        let longest = self.longest_section_m;
        let start = spans.partition_point(|s| s.from_m < lo - longest);
        let end = spans.partition_point(|s| s.from_m <= hi);
        spans[start..end.max(start)]
            .iter()
            .filter(|s| s.from_m <= hi && lo <= s.to_m)
            .collect()
    }

    /// Records the patrol points a team's walk (or single fix) on a levee passed.
    fn record_walk(&mut self, team_id: &TeamId, on: &crate::domain::events::OnLevee, at: TimeMs) {
        let (lo, hi) = on.passes(self.patrol_rules.pass_radius_m);
        if lo > hi {
            return; // a walk shorter than the radius: nothing new passed
        }
        let ids: Vec<PatrolSectionId> = self
            .spans_along(&on.levee_id, lo, hi)
            .into_iter()
            .map(|s| s.id.clone())
            .collect();
        if ids.is_empty() {
            return;
        }
        let pass = super::patrol::Pass {
            at,
            team_id: team_id.clone(),
            how: super::patrol::PassHow::Walked,
        };
        for id in &ids {
            if let Some(s) = self.patrol_sections.get_mut(id) {
                s.record_walk(lo, hi, &pass);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::decide::spec::*;
    use super::*;
    use serde_json::json;

    #[test]
    fn state_round_trips_through_json_and_replay() {
        let d = dispatcher();
        let mut log = world();
        let g = given(&log)
            .when(
                &d,
                json!({"type": "report_hazard", "kind": "piping", "severity": "general",
                       "position": [113.1, 27.65]}),
            )
            .then_events(|e| log.extend_from_slice(e))
            .when(&d, json!({"type": "confirm_hazard", "hazard_id": "HZ-1"}))
            .then_events(|e| log.extend_from_slice(e))
            .when(
                &d,
                json!({"type": "check_in", "shelter_id": "S-1", "count": 5}),
            )
            .then_events(|e| log.extend_from_slice(e));
        let s = g.state();
        let json = serde_json::to_string(s).unwrap();
        let back: State = serde_json::from_str(&json).unwrap();
        assert_eq!(&back, s);
        // Events survive serialization too, and replay to the same state.
        let mut replayed = State::default();
        for e in &log {
            let again: Event = serde_json::from_str(&serde_json::to_string(e).unwrap()).unwrap();
            assert_eq!(&again, e);
            replayed.apply(&again);
        }
        assert_eq!(&replayed, s);
    }
}
