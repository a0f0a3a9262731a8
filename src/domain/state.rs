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
use super::events::Event;
use super::geo::LonLat;
use super::ids::*;
use super::levee::{Levee, LeveeLocation};
use super::model::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
            E::TeamMoved { team_id, fix } => {
                if let Some(t) = self.teams.get_mut(team_id) {
                    t.fix = Some(*fix);
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
            E::ShelterOpenChanged { shelter_id, open } => {
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
                if let Some(g) = self.gauges.get_mut(gauge_id)
                    && g.last.is_none_or(|l| reading.time_ms >= l.time_ms)
                {
                    g.last = Some(*reading);
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
            E::EvacuationLifted { evacuation_id } => {
                if let Some(o) = self.evacuations.get_mut(evacuation_id) {
                    o.status = EvacuationStatus::Lifted;
                }
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
