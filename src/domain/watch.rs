//! The watch: the rules that raise and resolve alerts and keep patrol requirements in step with
//! the water. They run inside the engine's single writer, right after a command's own events are
//! applied ([`State::handle`]) and on each clock tick the engine records ([`State::tick`]); what
//! they find is more events in the same log. So the alerts are part of the log itself: a replay
//! folds the same alerts at the same sequence numbers, and nothing here reads a clock — time comes
//! in as `now`, the time of the command or tick.
//!
//! Each rule looks only at what the events in hand can have changed (a position update touches
//! the sections around one chainage, a check-in one shelter); a tick looks at everything that time
//! alone can change (patrol intervals running out, shifts ending, silent teams, unaccepted
//! assignments).

use super::alerts::{Acknowledgement, Alert, AlertKey, AlertKind, AlertState};
use super::commands::Command;
use super::error::DomainError;
use super::events::{Event, Layer};
use super::ids::*;
use super::model::*;
use super::patrol::{PatrolSection, WaterStage};
use super::state::{Context, State};

/// Stretches named in a patrol-gap alert's message at most.
const STRETCHES_NAMED: usize = 3;

impl State {
    /// Decides `cmd`, applies its events, then what the watch finds they caused; returns every
    /// event, the command's own first. A refused command changes nothing.
    pub fn handle(&mut self, cmd: &Command, ctx: &Context<'_>) -> Result<Vec<Event>, DomainError> {
        let mut events = self.decide(cmd, ctx)?;
        for e in &events {
            self.apply(e);
        }
        let follow = self.watch(&events, ctx.now_ms);
        events.extend(follow);
        Ok(events)
    }

    /// What time alone has changed at `now`: alerts raised or resolved. Applies and returns them;
    /// usually none.
    pub fn tick(&mut self, now: TimeMs) -> Vec<Event> {
        let mut w = Watch::new(now);
        // Only the sections and teams whose alerts may change are looked at closely: the rest
        // (nearly all, at every tick of a drill) cost a read, no id cloned, no key built.
        let sections: Vec<PatrolSectionId> = self
            .patrol_sections
            .iter()
            .filter(|(id, s)| !self.section_quiet(id, s, now))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &sections {
            w.section(self, id);
        }
        let teams: Vec<TeamId> = self
            .teams
            .iter()
            .filter(|(id, t)| self.team_silent(t, now) || self.has_open_alert(id.as_str()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in &teams {
            w.team_silence(self, id);
        }
        let waiting: Vec<AssignmentId> = self
            .assignments
            .values()
            .filter(|a| a.state == AssignmentState::Proposed)
            .map(|a| a.id.clone())
            .chain(
                self.open_keys(AlertKind::AssignmentNotAccepted)
                    .map(AssignmentId::from),
            )
            .collect();
        for id in &waiting {
            w.assignment_acceptance(self, id);
        }
        w.events
    }

    /// The rules for the events of one command (already applied). Applies and returns the events
    /// they cause.
    pub(crate) fn watch(&mut self, events: &[Event], now: TimeMs) -> Vec<Event> {
        let mut w = Watch::new(now);
        for e in events {
            match e {
                Event::ReadingRecorded { gauge_id, .. } => w.water(self, gauge_id),
                Event::GaugeDefined { gauge } => w.water(self, &gauge.id),
                Event::ThresholdCrossed {
                    gauge_id,
                    threshold,
                    threshold_m,
                    level_m,
                    direction,
                    ..
                } => {
                    let qualifier: &'static str = threshold.into();
                    let key = key(AlertKind::GaugeThreshold, gauge_id.as_str(), qualifier);
                    let message = format!(
                        "{gauge_id} at {level_m:.2} m: {qualifier} level {threshold_m:.2} m"
                    );
                    let raised = *direction == Direction::Rising;
                    w.set(self, key, Layer::Gauges, raised, || message);
                }
                Event::TeamMoved {
                    team_id, on_levee, ..
                } => {
                    w.team_silence(self, team_id);
                    if let Some(on) = on_levee {
                        let (lo, hi) = on.passes(self.patrol_rules.pass_radius_m);
                        let ids: Vec<PatrolSectionId> = self
                            .spans_along(&on.levee_id, lo.min(hi), hi.max(lo))
                            .into_iter()
                            .map(|s| s.id.clone())
                            .collect();
                        for id in &ids {
                            w.section(self, id);
                        }
                    }
                }
                Event::TeamDutyChanged { team_id, .. } => {
                    w.team_silence(self, team_id);
                    let ids: Vec<PatrolSectionId> = self
                        .patrol_sections
                        .values()
                        .filter(|s| s.shifts.iter().any(|sh| &sh.team_id == team_id))
                        .map(|s| s.id.clone())
                        .collect();
                    for id in &ids {
                        w.section(self, id);
                    }
                }
                Event::PatrolSectionDefined { section } => w.section(self, &section.id),
                Event::PatrolShiftAssigned { section_id, .. }
                | Event::PatrolIntervalSet { section_id, .. }
                | Event::PatrolPointCheckedIn { section_id, .. } => w.section(self, section_id),
                Event::AssignmentStateChanged { assignment_id, .. } => {
                    w.assignment_acceptance(self, assignment_id)
                }
                Event::ShelterDefined { shelter } => w.shelter(self, &shelter.id),
                Event::ShelterOpenChanged { shelter_id, .. }
                | Event::EvacueesCheckedIn { shelter_id, .. }
                | Event::EvacueesCheckedOut { shelter_id, .. }
                | Event::SupplySet { shelter_id, .. }
                | Event::SupplyChanged { shelter_id, .. } => w.shelter(self, shelter_id),
                Event::HazardReported { hazard } => {
                    for near in &hazard.near_assets {
                        let k = key(
                            AlertKind::AssetThreatened,
                            hazard.id.as_str(),
                            near.asset_id.as_str(),
                        );
                        let message = threat_message(hazard, near);
                        w.raise_with(self, k, Layer::Hazards, message, Some(near.clone()));
                    }
                    if hazard.kind == HazardKind::Breach {
                        w.breach_incident(self, &hazard.id);
                    }
                }
                Event::HazardEscalated {
                    hazard_id, to_kind, ..
                } if *to_kind == HazardKind::Breach => w.breach_incident(self, hazard_id),
                Event::HazardStatusChanged { hazard_id, to, .. } if to.is_closed() => {
                    let keys: Vec<AlertKey> = self
                        .open_alerts
                        .keys()
                        .filter(|k| {
                            k.kind == AlertKind::AssetThreatened
                                && k.subject_id == hazard_id.as_str()
                        })
                        .cloned()
                        .collect();
                    for k in keys {
                        w.set(self, k, Layer::Hazards, false, String::new);
                    }
                }
                Event::WatchRulesSet { .. } => {
                    let sections: Vec<PatrolSectionId> =
                        self.patrol_sections.keys().cloned().collect();
                    for id in &sections {
                        w.section(self, id);
                    }
                    let shelters: Vec<ShelterId> = self.shelters.keys().cloned().collect();
                    for id in &shelters {
                        w.shelter(self, id);
                    }
                }
                Event::DepotDefined { depot } => w.depot(self, &depot.id),
                Event::DepotRestocked { depot_id, .. }
                | Event::MaterialsReturned { depot_id, .. } => w.depot(self, depot_id),
                Event::MaterialsIssued { shipment, .. } => w.depot(self, &shipment.depot_id),
                Event::ReferenceCorrected { correction } => w.corrected(self, &correction.change),
                Event::GridCellDefined { cell } => {
                    let k = key(AlertKind::GridCellUnstaffed, cell.id.as_str(), "");
                    let message = format!("grid cell {} has no grid worker", cell.id);
                    let unstaffed = cell.grid_worker.trim().is_empty();
                    w.set(self, k, Layer::GridCells, unstaffed, || message);
                }
                _ => {}
            }
        }
        w.events
    }

    /// Whether any alert about `subject` is open (without allocating a key).
    pub fn has_open_alert(&self, subject: &str) -> bool {
        self.open_alert_subjects.contains_key(subject)
    }

    /// A section with nothing wrong and no alert open to resolve: its gap and staffing alerts
    /// cannot change now.
    fn section_quiet(&self, id: &PatrolSectionId, s: &PatrolSection, now: TimeMs) -> bool {
        !self.has_open_alert(id.as_str())
            && !s.has_gap(now)
            && (s.interval_min.is_none()
                || s.on_shift(now)
                    .and_then(|t| self.teams.get(t))
                    .is_some_and(|t| t.on_duty))
    }

    /// A team on duty with no position for the rule's time. Silent since the last fix, or since
    /// it registered when it has none (a team from a log written before registrations were
    /// timed, with no fix, has no clock: not silent).
    fn team_silent(&self, t: &Team, now: TimeMs) -> bool {
        let limit = i64::from(self.alert_rules.team_silent_min) * 60_000;
        let last = match t.fix {
            Some(f) => Some(f.time_ms.max(t.registered_at)),
            None => (t.registered_at > 0).then_some(t.registered_at),
        };
        t.on_duty && last.is_some_and(|l| now.saturating_sub(l) > limit)
    }

    /// Subject ids of the open alerts of one kind.
    fn open_keys(&self, kind: AlertKind) -> impl Iterator<Item = &str> {
        self.open_alerts
            .keys()
            .filter(move |k| k.kind == kind)
            .map(|k| k.subject_id.as_str())
    }

    /// The water stage on a levee's governing gauges: the highest of them.
    fn levee_stage(&self, levee_id: &LeveeId) -> WaterStage {
        self.gauges
            .values()
            .filter(|g| g.levee_ids.contains(levee_id))
            .filter_map(|g| g.last.map(|r| WaterStage::of(r.level_m, &g.thresholds)))
            .max()
            .unwrap_or_default()
    }
}

/// The message of an `asset_threatened` alert.
fn threat_message(hazard: &Hazard, near: &super::alerts::AssetProximity) -> String {
    format!(
        "hazard {} ({}) is {:.0} m from {}{}",
        hazard.id,
        hazard.kind.as_ref(),
        near.distance_m,
        near.asset_name,
        near.chainage
            .as_ref()
            .map(|c| format!(" at {c}"))
            .unwrap_or_default()
    )
}

fn key(kind: AlertKind, subject: &str, qualifier: &str) -> AlertKey {
    AlertKey {
        kind,
        subject_id: subject.to_string(),
        qualifier: qualifier.to_string(),
    }
}

/// The events one run of the rules has found, applied as they are found (so ids follow on and a
/// later rule sees an earlier one's alert).
struct Watch {
    now: TimeMs,
    events: Vec<Event>,
}

impl Watch {
    fn new(now: TimeMs) -> Watch {
        Watch {
            now,
            events: Vec::new(),
        }
    }

    fn emit(&mut self, state: &mut State, e: Event) {
        state.apply(&e);
        self.events.push(e);
    }

    /// Raises the alert of `key` (with an asset's proximity) unless one is open.
    fn raise_with(
        &mut self,
        state: &mut State,
        key: AlertKey,
        layer: Layer,
        message: String,
        asset: Option<super::alerts::AssetProximity>,
    ) {
        if !state.open_alerts.contains_key(&key) {
            self.raise(state, key, layer, message, asset);
        }
    }

    /// Emits a new alert `AL-<n>` for `key`.
    fn raise(
        &mut self,
        state: &mut State,
        key: AlertKey,
        layer: Layer,
        message: String,
        asset: Option<super::alerts::AssetProximity>,
    ) {
        let alert = Alert {
            id: AlertId::from(format!("AL-{}", state.next_alert + 1)),
            kind: key.kind,
            layer,
            subject_id: key.subject_id,
            qualifier: key.qualifier,
            message,
            state: AlertState::Raised,
            raised_at: self.now,
            acknowledged: None,
            resolved_at: None,
            asset,
        };
        self.emit(state, Event::AlertRaised { alert });
    }

    /// A breach always has an incident: opens one when its hazard has none.
    fn breach_incident(&mut self, state: &mut State, hazard_id: &HazardId) {
        if state.hazard_incident.contains_key(hazard_id) {
            return;
        }
        let incident = super::decide::incidents::new_incident(
            state,
            hazard_id,
            &format!("breach {hazard_id}"),
            None,
            self.now,
        );
        self.emit(state, Event::IncidentOpened { incident });
    }

    /// Raises the alert of `key` if `holds` and none is open, resolves the open one if not.
    fn set(
        &mut self,
        state: &mut State,
        key: AlertKey,
        layer: Layer,
        holds: bool,
        message: impl FnOnce() -> String,
    ) {
        match (state.open_alerts.get(&key), holds) {
            (None, true) => self.raise(state, key, layer, message(), None),
            (Some(id), false) => {
                let alert_id = id.clone();
                let at = self.now;
                self.emit(state, Event::AlertResolved { alert_id, at });
            }
            _ => {}
        }
    }

    /// What follows from a correction of reference data: the shelter's alerts under its new
    /// capacity; a gauge's threshold alerts and its levees' patrol requirement under the new
    /// thresholds; the `asset_threatened` alerts of every open hazard under an asset's new buffer.
    /// A roster changes no alert.
    fn corrected(&mut self, state: &mut State, change: &super::corrections::Change) {
        use super::corrections::Change;
        match change {
            Change::ShelterCapacity { shelter_id, .. } => self.shelter(state, shelter_id),
            Change::GaugeThresholds { gauge_id, .. } => {
                self.threshold_alerts(state, gauge_id);
                self.water(state, gauge_id);
            }
            Change::TeamRoster { .. } => {}
            Change::AssetBuffer { asset_id, .. } => self.asset_threats(state, asset_id),
        }
    }

    /// A gauge's threshold alerts, one per threshold: open while its last level is at or above.
    fn threshold_alerts(&mut self, state: &mut State, gauge_id: &GaugeId) {
        let Some(g) = state.gauges.get(gauge_id) else {
            return;
        };
        let (last, thresholds) = (g.last, g.thresholds);
        for (kind, threshold_m) in thresholds.iter() {
            let qualifier: &'static str = kind.into();
            let k = key(AlertKind::GaugeThreshold, gauge_id.as_str(), qualifier);
            let level = last.map(|r| r.level_m);
            let above = level.is_some_and(|l| l >= threshold_m);
            let message = || {
                format!(
                    "{gauge_id} at {:.2} m: {qualifier} level {threshold_m:.2} m (threshold corrected)",
                    level.unwrap_or_default()
                )
            };
            self.set(state, k, Layer::Gauges, above, message);
        }
    }

    /// Every open hazard against an asset's buffer: an alert for each one within it, none for
    /// those outside.
    fn asset_threats(&mut self, state: &mut State, asset_id: &AssetId) {
        let Some(asset) = state.assets.get(asset_id) else {
            return;
        };
        let found: Vec<(AlertKey, Option<(super::alerts::AssetProximity, String)>)> = state
            .hazards
            .values()
            .filter(|h| !h.status.is_closed())
            .map(|h| {
                let near = asset.proximity(h.position);
                let k = key(AlertKind::AssetThreatened, h.id.as_str(), asset_id.as_str());
                let within = (near.distance_m <= asset.buffer_m).then(|| {
                    let message = threat_message(h, &near);
                    (near, message)
                });
                (k, within)
            })
            .collect();
        for (k, within) in found {
            match (state.open_alerts.get(&k), within) {
                (None, Some((near, message))) => {
                    self.raise(state, k, Layer::Hazards, message, Some(near))
                }
                (Some(id), None) => {
                    let alert_id = id.clone();
                    let at = self.now;
                    self.emit(state, Event::AlertResolved { alert_id, at });
                }
                _ => {}
            }
        }
    }

    /// The patrol requirement of every levee a gauge governs follows its stage.
    fn water(&mut self, state: &mut State, gauge_id: &GaugeId) {
        let Some(levees) = state.gauges.get(gauge_id).map(|g| g.levee_ids.clone()) else {
            return;
        };
        for levee_id in levees {
            let stage = state.levee_stage(&levee_id);
            let held = state
                .levee_water
                .get(&levee_id)
                .copied()
                .unwrap_or_default();
            if stage == held {
                continue;
            }
            let interval_min = stage.interval_min(&state.patrol_rules);
            self.emit(
                state,
                Event::PatrolRequirementChanged {
                    levee_id: levee_id.clone(),
                    stage,
                    interval_min,
                    at: self.now,
                },
            );
            let ids: Vec<PatrolSectionId> = state
                .levee_sections
                .get(&levee_id)
                .into_iter()
                .flatten()
                .map(|span| span.id.clone())
                .collect();
            for id in &ids {
                self.section(state, id);
            }
        }
    }

    /// A section's gap and staffing alerts.
    fn section(&mut self, state: &mut State, id: &PatrolSectionId) {
        let Some(s) = state.patrol_sections.get(id) else {
            return;
        };
        let now = self.now;
        // The usual case, without allocating: nothing wrong and no alert open to resolve.
        if state.section_quiet(id, s, now) {
            return;
        }
        let overdue: Vec<String> = s
            .stretches(now)
            .filter_map(|x| {
                let late = x.overdue_min?;
                let (a, b) = (
                    crate::domain::chainage::Chainage::from_metres(x.from_m)?,
                    crate::domain::chainage::Chainage::from_metres(x.to_m)?,
                );
                Some(format!("{a}–{b} ({late} min late)"))
            })
            .collect();
        let required = s.interval_min;
        let staffed = s
            .on_shift(now)
            .and_then(|t| state.teams.get(t))
            .is_some_and(|t| t.on_duty);
        let gap_message = || {
            let more = overdue.len().saturating_sub(STRETCHES_NAMED);
            let mut m = format!(
                "{id}: {} stretch(es) not passed within {} min: {}",
                overdue.len(),
                required.unwrap_or_default(),
                overdue[..overdue.len().min(STRETCHES_NAMED)].join(", ")
            );
            if more > 0 {
                m.push_str(&format!(" and {more} more"));
            }
            m
        };
        let gap = !overdue.is_empty();
        let gap_key = key(AlertKind::PatrolGap, id.as_str(), "");
        let message = gap.then(gap_message).unwrap_or_default();
        self.set(state, gap_key, Layer::PatrolSections, gap, || message);
        let unstaffed = required.is_some() && !staffed;
        let k = key(AlertKind::PatrolUnstaffed, id.as_str(), "");
        self.set(state, k, Layer::PatrolSections, unstaffed, || {
            format!("{id}: patrols are required and no team on duty is on shift")
        });
    }

    /// A team on duty with no position for the rule's time.
    fn team_silence(&mut self, state: &mut State, id: &TeamId) {
        let Some(t) = state.teams.get(id) else {
            return;
        };
        let silent = state.team_silent(t, self.now);
        // The usual case, without allocating: not silent and no alert open to resolve.
        if !silent && !state.has_open_alert(id.as_str()) {
            return;
        }
        let k = key(AlertKind::TeamSilent, id.as_str(), "");
        let minutes = state.alert_rules.team_silent_min;
        self.set(state, k, Layer::Teams, silent, || {
            format!("team {id} on duty has sent no position for {minutes} min")
        });
    }

    /// An assignment still waiting for its team's acceptance after the rule's time.
    fn assignment_acceptance(&mut self, state: &mut State, id: &AssignmentId) {
        let Some(a) = state.assignments.get(id) else {
            return;
        };
        let limit = i64::from(state.alert_rules.assignment_accept_min) * 60_000;
        let created = a.history.first().map_or(self.now, |h| h.at);
        let waiting =
            a.state == AssignmentState::Proposed && self.now.saturating_sub(created) > limit;
        let (team, minutes) = (a.team_id.clone(), state.alert_rules.assignment_accept_min);
        let k = key(AlertKind::AssignmentNotAccepted, id.as_str(), "");
        self.set(state, k, Layer::Assignments, waiting, || {
            format!("assignment {id} not accepted by team {team} within {minutes} min")
        });
    }

    /// A shelter's fill and supplies.
    fn shelter(&mut self, state: &mut State, id: &ShelterId) {
        let Some(s) = state.shelters.get(id) else {
            return;
        };
        let rules = state.alert_rules;
        let fill = if s.capacity == 0 {
            0.0
        } else {
            f64::from(s.occupancy) * 100.0 / f64::from(s.capacity)
        };
        let (occupancy, capacity) = (s.occupancy, s.capacity);
        let full = s.open && s.capacity > 0 && s.occupancy >= s.capacity;
        let nearly = s.open && !full && fill >= rules.shelter_nearly_full_pct;
        let days = if s.open {
            s.days_of_supply_left()
        } else {
            None
        };
        let low = days.is_some_and(|d| d < rules.supply_low_days);
        let k = key(AlertKind::ShelterFull, id.as_str(), "");
        self.set(state, k, Layer::Shelters, full, || {
            format!("shelter {id} is full: {occupancy} of {capacity}")
        });
        let k = key(AlertKind::ShelterNearlyFull, id.as_str(), "");
        self.set(state, k, Layer::Shelters, nearly, || {
            format!("shelter {id} is {fill:.0} % full: {occupancy} of {capacity}")
        });
        let k = key(AlertKind::SupplyLow, id.as_str(), "");
        self.set(state, k, Layer::Shelters, low, || {
            format!(
                "shelter {id} has supplies for {:.1} days at {occupancy} people",
                days.unwrap_or_default()
            )
        });
    }

    /// A depot's stock of each item against its low-stock level: one alert per item below it.
    fn depot(&mut self, state: &mut State, id: &DepotId) {
        let Some(d) = state.materials.depots.get(id) else {
            return;
        };
        let levels: Vec<(super::materials::MaterialItem, u32, u32)> = d
            .low_stock
            .iter()
            .map(|(item, level)| (*item, d.stock_of(*item), *level))
            .collect();
        for (item, stock, level) in levels {
            let k = key(AlertKind::DepotLowStock, id.as_str(), item.name());
            let (_, unit) = item.unit();
            self.set(state, k, Layer::Depots, stock < level, || {
                format!(
                    "depot {id} has {stock} {unit} of {item}, below its low-stock level of {level}"
                )
            });
        }
    }
}

/// Checks an acknowledgement: the alert exists and is raised (not yet acknowledged, not resolved).
pub(super) fn acknowledge(
    s: &State,
    alert_id: &AlertId,
    note: &str,
    ctx: &Context<'_>,
) -> Result<Vec<Event>, DomainError> {
    let a = s
        .alerts
        .get(alert_id)
        .ok_or_else(|| DomainError::NotFound {
            kind: "alert",
            id: alert_id.to_string(),
        })?;
    if a.state != AlertState::Raised {
        let from: &'static str = a.state.into();
        return Err(DomainError::IllegalTransition {
            kind: "alert",
            id: alert_id.to_string(),
            from,
            to: "acknowledged",
        });
    }
    Ok(vec![Event::AlertAcknowledged {
        alert_id: alert_id.clone(),
        acknowledgement: Acknowledgement {
            by: ctx.actor.name.clone(),
            note: note.to_string(),
            at: ctx.now_ms,
        },
    }])
}

#[cfg(test)]
mod tests {
    use super::super::decide::spec::*;
    use crate::domain::alerts::{AlertKind, AlertState};
    use crate::domain::events::Event;
    use crate::domain::ids::{AlertId, PatrolSectionId};
    use crate::domain::model::*;
    use serde_json::{Value, json};

    const MIN: TimeMs = 60_000;

    fn raised(events: &[Event]) -> Vec<(AlertKind, String)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::AlertRaised { alert } => Some((alert.kind, alert.subject_id.clone())),
                _ => None,
            })
            .collect()
    }

    /// The alerts of patrol sections raised among `events`.
    fn patrol(events: &[Event]) -> Vec<(AlertKind, String)> {
        raised(events)
            .into_iter()
            .filter(|(k, _)| matches!(k, AlertKind::PatrolGap | AlertKind::PatrolUnstaffed))
            .collect()
    }

    fn resolved(events: &[Event]) -> usize {
        events
            .iter()
            .filter(|e| matches!(e, Event::AlertResolved { .. }))
            .count()
    }

    fn team(id: &str) -> Event {
        team_registered(id, TravelMode::Foot, &[])
    }

    /// A point of XJ-E1 (due north from 27.60 N) at `chainage` metres.
    fn on_levee(chainage: f64) -> [f64; 2] {
        [113.10, 27.60 + chainage / 111_194.9]
    }

    fn walk(team: &str, chainage: f64, time_ms: TimeMs) -> Value {
        json!({"type": "update_position", "team_id": team, "position": on_levee(chainage),
               "time_ms": time_ms})
    }

    fn reading(level: f64) -> Value {
        json!({"type": "record_reading", "gauge_id": "G-XJ", "level_m": level})
    }

    /// XJ-E1 with gauge G-XJ, team T-1, and section PS-1 (0–500 m, points every 250 m).
    fn patrolled() -> Given {
        given(&[levee_defined(), gauge_defined(), team("T-1")])
            .when(
                &dispatcher(),
                json!({"type": "define_patrol_section", "id": "PS-1", "levee_id": "XJ-E1",
                       "from": 0, "to": 500,
                       "points": [{"id": "A", "chainage": 0}, {"id": "B", "chainage": 250},
                                  {"id": "C", "chainage": 500}]}),
            )
            .then_events(|_| {})
    }

    #[test]
    fn a_gauge_raises_one_alert_per_threshold_and_resolves_it_when_the_water_falls() {
        let d = dispatcher();
        given(&[levee_defined(), gauge_defined()])
            .when(&d, reading(40.5))
            .then_watched(|_, alerts| {
                let kinds = raised(alerts);
                assert_eq!(kinds.len(), 2, "guard and warning: {alerts:?}");
                assert!(
                    kinds
                        .iter()
                        .all(|(k, s)| *k == AlertKind::GaugeThreshold && s == "G-XJ")
                );
            })
            .when(&d, reading(40.8))
            .then_watched(|_, alerts| assert!(raised(alerts).is_empty(), "still above: {alerts:?}"))
            .when(&d, reading(39.0))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1, "warning cleared"));
    }

    #[test]
    fn a_stretch_left_alone_past_its_interval_raises_one_alert_and_a_walk_resolves_it() {
        let d = dispatcher();
        let g = patrolled()
            .when_at(0, &d, reading(40.2)) // 警戒: every 30 minutes
            .then_watched(|_, alerts| {
                assert!(alerts.iter().any(|e| matches!(
                    e,
                    Event::PatrolRequirementChanged {
                        interval_min: Some(30),
                        ..
                    }
                )));
                // Nobody is on shift while patrols are required.
                assert!(raised(alerts).contains(&(AlertKind::PatrolUnstaffed, "PS-1".into())));
            });
        let g = g
            .when_at(0, &d, json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": 8 * 60 * MIN}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1, "staffed: {alerts:?}"))
            .tick(30 * MIN, |e| assert!(patrol(e).is_empty(), "not late yet: {e:?}"))
            .tick(31 * MIN, |e| {
                assert_eq!(patrol(e), [(AlertKind::PatrolGap, "PS-1".to_string())]);
            })
            .tick(32 * MIN, |e| assert!(patrol(e).is_empty(), "one alert per condition: {e:?}"));
        // The team walks the section: the first fix passes A, the walk to 510 m passes B and C.
        let g = g
            .when_at(33 * MIN, &field("T-1"), walk("T-1", 5.0, 33 * MIN))
            .then_watched(|own, alerts| {
                assert!(matches!(&own[0], Event::TeamMoved { on_levee: Some(_), .. }));
                // The team's silence ends; A alone leaves both stretches open.
                assert_eq!(resolved(alerts), 1, "{alerts:?}");
                assert!(!alerts.iter().any(|e| matches!(e, Event::AlertResolved { alert_id, .. } if alert_id.as_str() == "AL-3")));
            })
            .when_at(40 * MIN, &field("T-1"), walk("T-1", 510.0, 40 * MIN))
            .then_watched(|_, alerts| {
                // The gap, and the team's silence (its first fix was 33 minutes in).
                assert!(resolved(alerts) >= 1, "{alerts:?}");
            });
        assert!(
            !g.state()
                .open_alerts
                .keys()
                .any(|k| k.kind == AlertKind::PatrolGap)
        );
        let s = &g.state().patrol_sections[&PatrolSectionId::from("PS-1")];
        let passed: Vec<Option<TimeMs>> = s
            .stretches(41 * MIN)
            .map(|x| x.last_passed.map(|p| p.at))
            .collect();
        // A was passed by the first fix; the walk from 5 m to 510 m passed B and C.
        assert_eq!(
            passed,
            [Some(33 * MIN), Some(40 * MIN)],
            "the board shows when"
        );
        assert!(
            s.stretches(41 * MIN)
                .all(|x| x.last_passed.unwrap().team_id.as_str() == "T-1")
        );
    }

    #[test]
    fn crossing_warning_tightens_the_interval_at_once() {
        let d = dispatcher();
        let g = patrolled()
            .when_at(0, &d, reading(38.5)) // 设防: every 60 minutes
            .then_events(|_| {})
            .when_at(0, &d, json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": 8 * 60 * MIN}))
            .then_events(|_| {})
            .when_at(1, &d, json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "A", "team_id": "T-1"}))
            .then_events(|_| {})
            .when_at(2, &d, json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "B", "team_id": "T-1"}))
            .then_events(|_| {})
            .when_at(3, &d, json!({"type": "check_in_patrol_point", "section_id": "PS-1", "point_id": "C", "team_id": "T-1"}))
            .then_events(|_| {})
            .tick(45 * MIN, |e| assert!(patrol(e).is_empty(), "within 60 minutes: {e:?}"));
        let g = g
            .when_at(45 * MIN, &d, reading(40.1))
            .then_watched(|_, alerts| {
                assert!(
                    raised(alerts).contains(&(AlertKind::PatrolGap, "PS-1".into())),
                    "45 > 30: {alerts:?}"
                );
            });
        // The dispatcher may tighten further; `null` goes back to the water's interval.
        let g = g
            .when_at(
                46 * MIN,
                &d,
                json!({"type": "set_patrol_interval", "section_id": "PS-1", "interval_min": 20}),
            )
            .then_events(|_| {});
        assert_eq!(
            g.state().patrol_sections[&PatrolSectionId::from("PS-1")].interval_min,
            Some(20)
        );
        let g = g
            .when_at(
                47 * MIN,
                &d,
                json!({"type": "set_patrol_interval", "section_id": "PS-1", "interval_min": null}),
            )
            .then_events(|_| {});
        assert_eq!(
            g.state().patrol_sections[&PatrolSectionId::from("PS-1")].interval_min,
            Some(30)
        );
    }

    #[test]
    fn a_shift_that_ends_without_relief_leaves_the_section_unstaffed() {
        let d = dispatcher();
        patrolled()
            .when_at(0, &d, reading(38.5))
            .then_events(|_| {})
            .when_at(0, &d, json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": 60 * MIN}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1))
            .tick(59 * MIN, |e| assert!(!patrol(e).contains(&(AlertKind::PatrolUnstaffed, "PS-1".into()))))
            .tick(60 * MIN, |e| {
                assert!(raised(e).contains(&(AlertKind::PatrolUnstaffed, "PS-1".into())), "{e:?}");
            });
    }

    #[test]
    fn shelters_raise_nearly_full_full_and_low_supply() {
        let d = dispatcher();
        let check_in = |n: u32| json!({"type": "check_in", "shelter_id": "S-1", "count": n});
        given(&[shelter_defined()])
            .when(&d, check_in(89))
            .then_watched(|_, alerts| {
                // 300 L of water at 3 L a day for 89 people: 1.1 days.
                assert!(raised(alerts).is_empty(), "{alerts:?}");
            })
            .when(&d, check_in(1))
            .then_watched(|_, alerts| {
                assert_eq!(raised(alerts), [(AlertKind::ShelterNearlyFull, "S-1".into())]);
            })
            .when(&d, json!({"type": "issue_supply", "shelter_id": "S-1", "item": "water", "quantity": 50}))
            .then_watched(|_, alerts| {
                // 250 L for 90 people at 3 L a day: 0.9 days.
                assert_eq!(raised(alerts), [(AlertKind::SupplyLow, "S-1".into())]);
            })
            .when(&d, json!({"type": "check_in", "shelter_id": "S-1", "count": 10}))
            .then_watched(|_, alerts| {
                assert_eq!(raised(alerts), [(AlertKind::ShelterFull, "S-1".into())]);
                assert_eq!(resolved(alerts), 1, "nearly full is over");
            });
    }

    #[test]
    fn a_silent_team_and_an_unaccepted_assignment() {
        let d = dispatcher();
        let g = given(&[levee_defined(), team("T-1"), hazard_reported("HZ-1")])
            .tick(NOW + 10 * MIN, |e| assert!(e.is_empty(), "{e:?}"))
            .tick(NOW + 10 * MIN + 1, |e| {
                assert_eq!(raised(e), [(AlertKind::TeamSilent, "T-1".into())]);
            })
            .when_at(
                NOW + 11 * MIN,
                &field("T-1"),
                walk("T-1", 9_000.0, NOW + 11 * MIN),
            )
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1));
        let g = g
            .when_at(NOW + 11 * MIN, &d, json!({"type": "create_assignment", "team_id": "T-1", "target": {"kind": "hazard", "hazard_id": "HZ-1"}}))
            .then_events(|_| {})
            .tick(NOW + 16 * MIN + 1, |e| {
                assert!(raised(e).contains(&(AlertKind::AssignmentNotAccepted, "AS-1".into())), "{e:?}");
            });
        g.when_at(
            NOW + 17 * MIN,
            &field("T-1"),
            json!({"type": "advance_assignment", "assignment_id": "AS-1", "to": "accepted"}),
        )
        .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1, "{alerts:?}"));
    }

    #[test]
    fn a_grid_cell_without_a_worker_is_an_alert() {
        let ring = json!([[113.0, 27.6], [113.1, 27.6], [113.1, 27.7], [113.0, 27.6]]);
        given(&[])
            .when(&dispatcher(), json!({"type": "define_grid_cell", "id": "GC-1", "ring": ring, "population": 10}))
            .then_watched(|_, alerts| assert_eq!(raised(alerts), [(AlertKind::GridCellUnstaffed, "GC-1".into())]))
            .when(&dispatcher(), json!({"type": "define_grid_cell", "id": "GC-2", "population": 10, "grid_worker": "GW-1 李",
                                        "ring": [[113.1, 27.6], [113.2, 27.6], [113.2, 27.7], [113.1, 27.6]]}))
            .then_watched(|_, alerts| assert!(alerts.is_empty()));
    }

    #[test]
    fn a_dispatcher_acknowledges_an_alert_once_with_a_note() {
        let d = dispatcher();
        let ack =
            |id: &str| json!({"type": "acknowledge_alert", "alert_id": id, "note": "两人前往核查"});
        let g = given(&[levee_defined(), gauge_defined()])
            .when(&d, reading(38.5))
            .then_events(|_| {});
        let g = g.when(&field("T-1"), ack("AL-1")).then_error("forbidden");
        let g = g.when(&d, ack("AL-9")).then_error("not_found");
        let g = g
            .when(&d, ack("AL-1"))
            .then_events(|e| assert!(matches!(&e[0], Event::AlertAcknowledged { .. })));
        let a = &g.state().alerts[&AlertId::from("AL-1")];
        assert_eq!(a.state, AlertState::Acknowledged);
        assert_eq!(a.acknowledged.as_ref().unwrap().note, "两人前往核查");
        let g = g.when(&d, ack("AL-1")).then_error("illegal_transition");
        // Still the condition's one open alert: falling below resolves it.
        let g = g
            .when(&d, reading(37.0))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1));
        assert!(g.state().open_alerts.is_empty());
    }

    #[test]
    fn replaying_the_events_gives_the_same_alerts() {
        let d = dispatcher();
        let mut log = vec![levee_defined(), gauge_defined(), team("T-1")];
        let mut keep = |own: &[Event], follow: &[Event]| {
            log.extend_from_slice(own);
            log.extend_from_slice(follow);
        };
        let g = given(&[levee_defined(), gauge_defined(), team("T-1")])
            .when_at(0, &d, reading(40.2))
            .then_watched(&mut keep)
            .when_at(0, &d, json!({"type": "define_patrol_section", "id": "PS-1", "levee_id": "XJ-E1", "from": 0, "to": 250, "points": [{"id": "A", "chainage": 0}, {"id": "B", "chainage": 250}]}))
            .then_watched(&mut keep);
        let mut ticked = Vec::new();
        let g = g.tick(31 * MIN, |e| ticked = e.to_vec());
        log.extend(ticked);
        let mut replayed = crate::domain::State::default();
        for e in &log {
            replayed.apply(e);
        }
        assert_eq!(&replayed, g.state());
        assert!(replayed.alerts.len() >= 3, "{:?}", replayed.alerts.keys());
    }

    /// The railway: due north along 113.20 E from 27.60 N, kilometre posts from K1670+000.
    fn railway() -> Value {
        json!({"type": "define_protected_asset", "id": "PA-RAIL", "name": "京广铁路", "kind": "railway",
               "priority": 1, "buffer_m": 500, "line": [[113.20, 27.60], [113.20, 27.70]],
               "chainage_origin_m": 1_670_000})
    }

    #[test]
    fn a_hazard_near_the_railway_raises_an_alert_naming_it_and_carries_it() {
        let d = dispatcher();
        // 300 m east of the line (0.00304° of longitude at 27.63° N), 3.2 km up it.
        let g = given(&[])
            .when(&d, railway())
            .then_events(|_| {})
            .when(
                &d,
                json!({"type": "report_hazard", "kind": "piping", "severity": "major",
                       "position": [113.203045, 27.60 + 3_200.0 / 111_194.9]}),
            )
            .then_watched(|own, alerts| {
                let Event::HazardReported { hazard } = &own[0] else {
                    panic!()
                };
                assert_eq!(hazard.near_assets.len(), 1);
                let near = &hazard.near_assets[0];
                assert!((near.distance_m - 300.0).abs() < 3.0, "{near:?}");
                assert_eq!(near.chainage.as_deref(), Some("K1673+200"));
                let [Event::AlertRaised { alert }] = alerts else {
                    panic!("{alerts:?}")
                };
                assert_eq!(alert.kind, AlertKind::AssetThreatened);
                assert_eq!(alert.subject_id, "HZ-1");
                assert_eq!(alert.asset.as_ref(), Some(near));
                assert!(
                    alert.message.contains("京广铁路 at K1673+200"),
                    "{}",
                    alert.message
                );
            });
        // Far from it: no alert. Reported by its kilometre post: on the line.
        let g = g
            .when(&d, json!({"type": "report_hazard", "kind": "crack", "severity": "general", "position": [113.25, 27.65]}))
            .then_watched(|_, alerts| assert!(alerts.is_empty()))
            .when(&d, json!({"type": "report_hazard", "kind": "seepage", "severity": "general",
                             "at_asset": {"asset_id": "PA-RAIL", "chainage": "K1671+000"}}))
            .then_watched(|own, alerts| {
                let Event::HazardReported { hazard } = &own[0] else { panic!() };
                assert!(hazard.near_assets[0].distance_m < 1.0);
                assert_eq!(raised(alerts).len(), 1);
            });
        // Eliminating the hazard resolves its alert.
        let g = g
            .when(&d, json!({"type": "confirm_hazard", "hazard_id": "HZ-1"}))
            .then_events(|_| {})
            .when(&d, json!({"type": "eliminate_hazard", "hazard_id": "HZ-1"}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1));
        g.when(
            &d,
            json!({"type": "report_hazard", "kind": "seepage", "severity": "general",
                          "at_asset": {"asset_id": "PA-RAIL", "chainage": "K1690+000"}}),
        )
        .then_error("invalid_value");
    }

    #[test]
    fn a_breach_always_has_an_incident() {
        let d = dispatcher();
        let g = given(&[hazard_reported("HZ-1")])
            .when(&d, json!({"type": "report_hazard", "kind": "breach", "severity": "critical", "position": [113.1, 27.65]}))
            .then_watched(|_, follow| {
                assert!(matches!(follow, [Event::IncidentOpened { incident }] if incident.hazard_id.as_str() == "HZ-2"));
            })
            .when(&d, json!({"type": "escalate_hazard", "hazard_id": "HZ-1", "kind": "breach"}))
            .then_watched(|_, follow| {
                assert!(matches!(follow, [Event::IncidentOpened { incident }] if incident.id.as_str() == "IN-2"));
            });
        assert_eq!(g.state().hazard_incident.len(), 2);
    }

    #[test]
    fn alerts_that_come_and_go_do_not_grow_the_state_without_bound() {
        let d = dispatcher();
        let mut g = given(&[shelter_defined()])
            .when(
                &d,
                json!({"type": "check_in", "shelter_id": "S-1", "count": 89}),
            )
            .then_events(|_| {});
        let n = crate::domain::state::RESOLVED_ALERTS_KEPT + 100;
        for _ in 0..n {
            g = g
                .when(
                    &d,
                    json!({"type": "check_in", "shelter_id": "S-1", "count": 1}),
                )
                .then_events(|_| {})
                .when(
                    &d,
                    json!({"type": "check_out", "shelter_id": "S-1", "count": 1}),
                )
                .then_events(|_| {});
        }
        let s = g.state();
        assert_eq!(s.next_alert as usize, n, "one nearly-full alert per round");
        assert_eq!(s.alerts.len(), crate::domain::state::RESOLVED_ALERTS_KEPT);
        assert!(s.open_alerts.is_empty());
    }

    #[test]
    fn only_a_walking_pace_patrols_the_levee_in_between() {
        // Two fixes 500 m apart 20 s apart (a vehicle on the crest): only the points within 30 m
        // of each fix are passed.
        let d = dispatcher();
        let g = patrolled()
            .when_at(0, &d, reading(40.2))
            .then_events(|_| {})
            .when_at(10 * MIN, &field("T-1"), walk("T-1", 0.0, 10 * MIN))
            .then_events(|_| {})
            .when_at(
                10 * MIN + 20_000,
                &field("T-1"),
                walk("T-1", 500.0, 10 * MIN + 20_000),
            )
            .then_events(|own| {
                let Event::TeamMoved {
                    on_levee: Some(on), ..
                } = &own[0]
                else {
                    panic!()
                };
                assert_eq!(on.walked_from_m, on.chainage_m, "not a walk");
            });
        let s = &g.state().patrol_sections[&PatrolSectionId::from("PS-1")];
        let passed: Vec<bool> = s.points.iter().map(|p| p.last_pass().is_some()).collect();
        assert_eq!(
            passed,
            [true, false, true],
            "B in between was not patrolled"
        );
    }

    #[test]
    fn the_rules_are_data_a_dispatcher_may_set() {
        let d = dispatcher();
        let rules = |v: Value| json!({"type": "set_watch_rules", "patrol": v});
        let g = patrolled()
            .when_at(0, &d, reading(40.2))
            .then_events(|_| {})
            .when_at(0, &d, json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": 8 * 60 * MIN}))
            .then_events(|_| {})
            .tick(25 * MIN, |e| assert!(patrol(e).is_empty()));
        // 20 minutes at 警戒 from now on: the section, required since 0, is late at once.
        let g = g
            .when_at(25 * MIN, &d, rules(json!({"warning_interval_min": 20})))
            .then_watched(|own, alerts| {
                assert!(matches!(&own[0], Event::WatchRulesSet { patrol, .. } if patrol.warning_interval_min == 20 && patrol.guard_interval_min == 60));
                assert_eq!(patrol(alerts), [(AlertKind::PatrolGap, "PS-1".into())]);
            });
        assert_eq!(
            g.state().patrol_sections[&PatrolSectionId::from("PS-1")].interval_min,
            Some(20)
        );
        let g = g
            .when(&d, rules(json!({"warning_interval_min": 90})))
            .then_error("invalid_value")
            .when(&d, rules(json!({"pass_radius_m": 400})))
            .then_error("invalid_value")
            .when(&d, rules(json!({"walk_max_speed_mps": 0})))
            .then_error("invalid_value");
        g.when(&field("T-1"), rules(json!({})))
            .then_error("forbidden");
    }

    #[test]
    fn a_team_going_off_duty_without_relief_leaves_its_section_unstaffed() {
        let d = dispatcher();
        patrolled()
            .when_at(0, &d, reading(38.5))
            .then_events(|_| {})
            .when_at(0, &d, json!({"type": "assign_patrol", "section_id": "PS-1", "team_id": "T-1", "until_ms": 8 * 60 * MIN}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1))
            .when_at(MIN, &field("T-1"), json!({"type": "set_team_duty", "team_id": "T-1", "on_duty": false}))
            .then_watched(|_, alerts| {
                assert_eq!(patrol(alerts), [(AlertKind::PatrolUnstaffed, "PS-1".into())]);
            });
    }
}
