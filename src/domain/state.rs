//! The live state: the fold of the event log, and the decider that turns commands into events.
//!
//! `decide` never mutates; `apply` never refuses. The engine calls `decide`, writes the events,
//! then calls `apply` for each, so the state is always exactly the fold of the durable log.

use super::access::{Actor, Role, field_may_send};
use super::bounds::*;
use super::commands::*;
use super::error::DomainError;
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

fn not_found(kind: &'static str, id: impl ToString) -> DomainError {
    DomainError::NotFound {
        kind,
        id: id.to_string(),
    }
}

fn exists(kind: &'static str, id: impl ToString) -> DomainError {
    DomainError::AlreadyExists {
        kind,
        id: id.to_string(),
    }
}

/// A polygon ring: at least four positions, first equal to last.
fn check_ring(field: &str, ring: &[LonLat]) -> Result<(), DomainError> {
    if ring.len() < 4 || ring.first() != ring.last() {
        return Err(invalid(format!(
            "{field} must be a closed ring of at least 4 positions (first equal to last)"
        )));
    }
    Ok(())
}

fn forbidden(msg: impl Into<String>) -> DomainError {
    DomainError::Forbidden(msg.into())
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

    fn team(&self, id: &TeamId) -> Result<&Team, DomainError> {
        self.teams.get(id).ok_or_else(|| not_found("team", id))
    }

    fn hazard(&self, id: &HazardId) -> Result<&Hazard, DomainError> {
        self.hazards.get(id).ok_or_else(|| not_found("hazard", id))
    }

    fn shelter(&self, id: &ShelterId) -> Result<&Shelter, DomainError> {
        self.shelters
            .get(id)
            .ok_or_else(|| not_found("shelter", id))
    }

    fn assignment(&self, id: &AssignmentId) -> Result<&Assignment, DomainError> {
        self.assignments
            .get(id)
            .ok_or_else(|| not_found("assignment", id))
    }

    fn evacuation(&self, id: &EvacuationId) -> Result<&EvacuationOrder, DomainError> {
        self.evacuations
            .get(id)
            .ok_or_else(|| not_found("evacuation", id))
    }

    /// Validates `cmd` for `ctx.actor` against the current state and returns the events it causes.
    pub fn decide(&self, cmd: &Command, ctx: &Context<'_>) -> Result<Vec<Event>, DomainError> {
        let actor = ctx.actor;
        match actor.role {
            Role::Observer => return Err(forbidden("observers cannot send commands")),
            Role::Field if !field_may_send(cmd) => {
                return Err(forbidden(format!(
                    "field tokens cannot send {}",
                    cmd.name()
                )));
            }
            _ => {}
        }
        let by = actor.name.clone();
        let now = ctx.now_ms;
        use Command as C;
        Ok(match cmd {
            C::DefineLevee(spec) => {
                if self.levees.contains_key(&spec.id) {
                    return Err(exists("levee", &spec.id));
                }
                check_text("name", &spec.name)?;
                check_chainage("chainage_origin_m", spec.chainage_origin_m)?;
                for (field, v) in [
                    ("crest_elevation_m", spec.crest_elevation_m),
                    ("design_flood_level_m", spec.design_flood_level_m),
                ] {
                    if let Some(v) = v {
                        check_level(field, v)?;
                    }
                }
                let levee = Levee::try_from(spec.clone()).map_err(|e| invalid(e.to_string()))?;
                vec![Event::LeveeDefined { levee }]
            }
            C::DefineShelter(d) => {
                if self.shelters.contains_key(&d.id) {
                    return Err(exists("shelter", &d.id));
                }
                check_text("name", &d.name)?;
                check_count("capacity", d.capacity)?;
                for (item, s) in &d.supplies {
                    check_supply(item, s.stock, s.per_person_daily)?;
                    check_text("unit", &s.unit)?;
                }
                vec![Event::ShelterDefined {
                    shelter: Shelter {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        position: d.position,
                        capacity: d.capacity,
                        occupancy: 0,
                        open: d.open,
                        supplies: d.supplies.clone(),
                        town: d.town.clone(),
                        kind: d.kind.clone(),
                    },
                }]
            }
            C::DefineGauge(d) => {
                if self.gauges.contains_key(&d.id) {
                    return Err(exists("gauge", &d.id));
                }
                for l in &d.levee_ids {
                    if !self.levees.contains_key(l) {
                        return Err(not_found("levee", l));
                    }
                }
                for (field, v) in [
                    ("thresholds.guard_m", d.thresholds.guard_m),
                    ("thresholds.warning_m", d.thresholds.warning_m),
                    ("thresholds.guaranteed_m", d.thresholds.guaranteed_m),
                ] {
                    check_level(field, v)?;
                }
                if !d.thresholds.is_valid() {
                    return Err(invalid(
                        "thresholds must be finite and guard ≤ warning ≤ guaranteed",
                    ));
                }
                vec![Event::GaugeDefined {
                    gauge: Gauge {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        river: d.river.clone(),
                        position: d.position,
                        datum: d.datum.clone(),
                        thresholds: d.thresholds,
                        levee_ids: d.levee_ids.clone(),
                        last: None,
                    },
                }]
            }
            C::DefineGridCell(d) => {
                if self.grid_cells.contains_key(&d.id) {
                    return Err(exists("grid cell", &d.id));
                }
                check_ring("ring", &d.ring)?;
                check_count("population", d.population)?;
                check_count("households", d.households)?;
                vec![Event::GridCellDefined {
                    cell: GridCell {
                        id: d.id.clone(),
                        name: d.name.clone(),
                        ring: d.ring.clone(),
                        population: d.population,
                        households: d.households,
                        grid_worker: d.grid_worker.clone(),
                        town: d.town.clone(),
                        village: d.village.clone(),
                    },
                }]
            }
            C::RegisterTeam(r) => {
                if self.teams.contains_key(&r.id) {
                    return Err(exists("team", &r.id));
                }
                check_text("name", &r.name)?;
                check_count("headcount", r.headcount)?;
                if r.headcount == 0 {
                    return Err(invalid("headcount must be at least 1"));
                }
                let fix = r.position.map(|position| Fix {
                    position,
                    time_ms: now,
                    accuracy_m: 0.0,
                });
                vec![Event::TeamRegistered {
                    team: Team {
                        id: r.id.clone(),
                        name: r.name.clone(),
                        kind: r.kind,
                        headcount: r.headcount,
                        capabilities: r.capabilities.clone(),
                        travel_mode: r.travel_mode,
                        on_duty: true,
                        fix,
                        assignment: None,
                    },
                }]
            }
            C::ReportHazard(r) => {
                check_text("description", &r.description)?;
                let id = HazardId::from(format!("HZ-{}", self.next_hazard + 1));
                let levee = ctx.snapper.snap(r.position, HAZARD_SNAP_TOLERANCE_M);
                vec![Event::HazardReported {
                    hazard: Hazard {
                        id,
                        kind: r.kind,
                        severity: r.severity,
                        status: HazardStatus::Reported,
                        position: r.position,
                        levee,
                        description: r.description.clone(),
                        reported_by: by,
                        reported_at: now,
                        updated_at: now,
                    },
                }]
            }
            C::ConfirmHazard(r) => self.hazard_to(r, HazardStatus::Confirmed, now)?,
            C::StartHazardHandling(r) => self.hazard_to(r, HazardStatus::BeingHandled, now)?,
            C::EliminateHazard(r) => self.hazard_to(r, HazardStatus::Eliminated, now)?,
            C::MarkFalseAlarm(r) => self.hazard_to(r, HazardStatus::FalseAlarm, now)?,
            C::EscalateHazard(e) => {
                let h = self.hazard(&e.hazard_id)?;
                check_text("reason", &e.reason)?;
                if h.status.is_closed() {
                    return Err(DomainError::IllegalTransition {
                        kind: "hazard",
                        id: h.id.to_string(),
                        from: h.status.into(),
                        to: "escalated",
                    });
                }
                let to_severity = e.severity.unwrap_or(h.severity);
                let to_kind = e.kind.unwrap_or(h.kind);
                let raises = to_severity > h.severity;
                let breaches = to_kind == HazardKind::Breach && h.kind != HazardKind::Breach;
                let kind_ok = e.kind.is_none() || to_kind == h.kind || breaches;
                if !(raises || breaches) || to_severity < h.severity || !kind_ok {
                    return Err(DomainError::NotAnEscalation(h.id.to_string()));
                }
                vec![Event::HazardEscalated {
                    hazard_id: h.id.clone(),
                    from_severity: h.severity,
                    to_severity,
                    from_kind: h.kind,
                    to_kind,
                    reason: e.reason.clone(),
                    at: Some(now),
                }]
            }
            C::UpdatePosition(u) => {
                let team = self.team(&u.team_id)?;
                if actor.role == Role::Field && !actor.is_field_of(&team.id) {
                    return Err(forbidden(format!(
                        "this token may only move its own team, not {}",
                        team.id
                    )));
                }
                let accuracy_m = u.accuracy_m.unwrap_or(0.0);
                check_accuracy("accuracy_m", accuracy_m)?;
                let fix = Fix {
                    position: u.position,
                    time_ms: u.time_ms.unwrap_or(now),
                    accuracy_m,
                };
                check_device_time("time_ms", fix.time_ms, now)?;
                // A fix older than the one we hold is a late radio packet: keep the newer one.
                // Two exceptions, so no team can be frozen: a dispatcher's position is a
                // correction and always wins, and a held fix from beyond the clock skew (logged
                // before that bound existed) does not count as newer.
                if let Some(prev) = team.fix
                    && actor.role != Role::Dispatcher
                    && prev.time_ms <= now.saturating_add(MAX_CLOCK_SKEW_MS)
                    && fix.time_ms < prev.time_ms
                {
                    return Err(invalid(format!(
                        "fix at {} is older than the team's last fix at {}",
                        fix.time_ms, prev.time_ms
                    )));
                }
                vec![Event::TeamMoved {
                    team_id: team.id.clone(),
                    fix,
                }]
            }
            C::SetTeamDuty(s) => {
                let team = self.team(&s.team_id)?;
                if actor.role == Role::Field && !actor.is_field_of(&team.id) {
                    return Err(forbidden(format!(
                        "this token may only change its own team, not {}",
                        team.id
                    )));
                }
                if !s.on_duty
                    && let Some(a) = &team.assignment
                {
                    return Err(DomainError::TeamBusy {
                        team: team.id.to_string(),
                        assignment: a.to_string(),
                    });
                }
                if team.on_duty == s.on_duty {
                    return Err(DomainError::IllegalTransition {
                        kind: "team",
                        id: team.id.to_string(),
                        from: Duty::from(team.on_duty).into(),
                        to: Duty::from(s.on_duty).into(),
                    });
                }
                vec![Event::TeamDutyChanged {
                    team_id: team.id.clone(),
                    on_duty: s.on_duty,
                }]
            }
            C::CreateAssignment(c) => {
                let team = self.team(&c.team_id)?;
                check_text("note", &c.note)?;
                if !team.on_duty {
                    return Err(DomainError::TeamOffDuty(team.id.to_string()));
                }
                if let Some(a) = &team.assignment {
                    return Err(DomainError::TeamBusy {
                        team: team.id.to_string(),
                        assignment: a.to_string(),
                    });
                }
                self.check_target(&c.target)?;
                let id = AssignmentId::from(format!("AS-{}", self.next_assignment + 1));
                vec![Event::AssignmentCreated {
                    assignment: Assignment {
                        id,
                        team_id: team.id.clone(),
                        target: c.target.clone(),
                        state: AssignmentState::Proposed,
                        note: c.note.clone(),
                        history: vec![AssignmentTransition {
                            state: AssignmentState::Proposed,
                            at: now,
                            by,
                        }],
                    },
                }]
            }
            C::AdvanceAssignment(a) => {
                let asg = self.assignment(&a.assignment_id)?;
                if actor.role == Role::Field && !actor.is_field_of(&asg.team_id) {
                    return Err(forbidden(format!(
                        "assignment {} belongs to another team",
                        asg.id
                    )));
                }
                if a.to == AssignmentState::Cancelled {
                    return Err(invalid("use cancel_assignment to cancel"));
                }
                self.assignment_to(asg, a.to, String::new(), ctx)?
            }
            C::CancelAssignment(c) => {
                let asg = self.assignment(&c.assignment_id)?;
                check_text("reason", &c.reason)?;
                if actor.role == Role::Field {
                    if !actor.is_field_of(&asg.team_id) {
                        return Err(forbidden(format!(
                            "assignment {} belongs to another team",
                            asg.id
                        )));
                    }
                    // A team may decline what it was offered; once accepted, only command cancels.
                    if asg.state != AssignmentState::Proposed {
                        return Err(forbidden(
                            "a field team can only decline a proposed assignment",
                        ));
                    }
                }
                self.assignment_to(asg, AssignmentState::Cancelled, c.reason.clone(), ctx)?
            }
            C::OpenShelter(s) | C::CloseShelter(s) => {
                let open = matches!(cmd, C::OpenShelter(_));
                let sh = self.shelter(&s.shelter_id)?;
                if sh.open == open {
                    return Err(DomainError::IllegalTransition {
                        kind: "shelter",
                        id: sh.id.to_string(),
                        from: Opening::from(sh.open).into(),
                        to: Opening::from(open).into(),
                    });
                }
                vec![Event::ShelterOpenChanged {
                    shelter_id: sh.id.clone(),
                    open,
                }]
            }
            C::CheckIn(c) => {
                let sh = self.shelter(&c.shelter_id)?;
                if c.count == 0 {
                    return Err(invalid("count must be at least 1"));
                }
                check_count("count", c.count)?;
                if !sh.open {
                    return Err(DomainError::ShelterClosed(sh.id.to_string()));
                }
                let occupancy = add_counts("occupancy", sh.occupancy, c.count)?;
                let over_capacity = occupancy > sh.capacity;
                if over_capacity && !c.allow_over_capacity {
                    return Err(DomainError::OverCapacity {
                        shelter: sh.id.to_string(),
                        free: sh.free_places(),
                        requested: c.count,
                    });
                }
                vec![Event::EvacueesCheckedIn {
                    shelter_id: sh.id.clone(),
                    count: c.count,
                    occupancy,
                    over_capacity,
                }]
            }
            C::CheckOut(c) => {
                let sh = self.shelter(&c.shelter_id)?;
                if c.count == 0 {
                    return Err(invalid("count must be at least 1"));
                }
                if c.count > sh.occupancy {
                    return Err(DomainError::OccupancyUnderflow {
                        shelter: sh.id.to_string(),
                        occupancy: sh.occupancy,
                        requested: c.count,
                    });
                }
                vec![Event::EvacueesCheckedOut {
                    shelter_id: sh.id.clone(),
                    count: c.count,
                    occupancy: sh.occupancy - c.count,
                }]
            }
            C::SetSupply(s) => {
                let sh = self.shelter(&s.shelter_id)?;
                check_supply(&s.item, s.stock, s.per_person_daily)?;
                check_text("unit", &s.unit)?;
                vec![Event::SupplySet {
                    shelter_id: sh.id.clone(),
                    item: s.item.clone(),
                    supply: Supply {
                        stock: s.stock,
                        per_person_daily: s.per_person_daily,
                        unit: s.unit.clone(),
                    },
                }]
            }
            C::DeliverSupply(m) | C::IssueSupply(m) => {
                let sh = self.shelter(&m.shelter_id)?;
                check_quantity("quantity", m.quantity)?;
                let supply = sh.supplies.get(&m.item).ok_or_else(|| {
                    not_found("supply item", format!("{} at shelter {}", m.item, sh.id))
                })?;
                let delta = if matches!(cmd, C::IssueSupply(_)) {
                    -m.quantity
                } else {
                    m.quantity
                };
                let stock = moved_stock(supply.stock, delta)?;
                if stock < 0.0 {
                    return Err(DomainError::InsufficientStock {
                        shelter: sh.id.to_string(),
                        item: m.item.clone(),
                        stock: supply.stock,
                        requested: m.quantity,
                    });
                }
                vec![Event::SupplyChanged {
                    shelter_id: sh.id.clone(),
                    item: m.item.clone(),
                    delta,
                    stock,
                }]
            }
            C::RecordReading(r) => {
                let g = self
                    .gauges
                    .get(&r.gauge_id)
                    .ok_or_else(|| not_found("gauge", &r.gauge_id))?;
                check_level("level_m", r.level_m)?;
                let reading = Reading {
                    level_m: r.level_m,
                    time_ms: r.time_ms.unwrap_or(now),
                };
                check_device_time("time_ms", reading.time_ms, now)?;
                let mut events = vec![Event::ReadingRecorded {
                    gauge_id: g.id.clone(),
                    reading,
                }];
                events.extend(threshold_crossings(g, reading));
                events
            }
            C::SetResponseLevel(s) => {
                check_text("reason", &s.reason)?;
                let previous = self.response_level(&s.jurisdiction);
                if previous == s.level {
                    return Err(DomainError::IllegalTransition {
                        kind: "response level of",
                        id: s.jurisdiction.to_string(),
                        from: level_name(previous),
                        to: level_name(s.level),
                    });
                }
                vec![Event::ResponseLevelChanged {
                    jurisdiction: s.jurisdiction.clone(),
                    previous,
                    change: ResponseChange {
                        level: s.level,
                        at: now,
                        by,
                        reason: s.reason.clone(),
                    },
                }]
            }
            C::IssueEvacuationOrder(o) => {
                check_text("name", &o.name)?;
                check_ring("zone", &o.zone)?;
                check_count("population", o.population)?;
                for s in &o.target_shelters {
                    self.shelter(s)?;
                }
                let id = EvacuationId::from(format!("EV-{}", self.next_evacuation + 1));
                vec![Event::EvacuationOrdered {
                    order: EvacuationOrder {
                        id,
                        name: o.name.clone(),
                        zone: o.zone.clone(),
                        population: o.population,
                        evacuated: 0,
                        target_shelters: o.target_shelters.clone(),
                        status: EvacuationStatus::Active,
                        issued_at: now,
                    },
                }]
            }
            C::RecordEvacuationProgress(p) => {
                let o = self.evacuation(&p.evacuation_id)?;
                if o.status != EvacuationStatus::Active {
                    return Err(DomainError::IllegalTransition {
                        kind: "evacuation",
                        id: o.id.to_string(),
                        from: o.status.into(),
                        to: "progress",
                    });
                }
                if p.count == 0 {
                    return Err(invalid("count must be at least 1"));
                }
                check_count("count", p.count)?;
                let remaining = o.population - o.evacuated;
                if p.count > remaining {
                    return Err(DomainError::OverPopulation {
                        id: o.id.to_string(),
                        remaining,
                        requested: p.count,
                    });
                }
                vec![Event::EvacuationProgressed {
                    evacuation_id: o.id.clone(),
                    count: p.count,
                    evacuated: o.evacuated + p.count,
                }]
            }
            C::LiftEvacuationOrder(r) => {
                let o = self.evacuation(&r.evacuation_id)?;
                if o.status != EvacuationStatus::Active {
                    return Err(DomainError::IllegalTransition {
                        kind: "evacuation",
                        id: o.id.to_string(),
                        from: o.status.into(),
                        to: "lifted",
                    });
                }
                vec![Event::EvacuationLifted {
                    evacuation_id: o.id.clone(),
                }]
            }
        })
    }

    fn hazard_to(
        &self,
        r: &HazardRef,
        to: HazardStatus,
        now: TimeMs,
    ) -> Result<Vec<Event>, DomainError> {
        let h = self.hazard(&r.hazard_id)?;
        check_text("reason", &r.reason)?;
        if !h.status.can_become(to) {
            return Err(DomainError::IllegalTransition {
                kind: "hazard",
                id: h.id.to_string(),
                from: h.status.into(),
                to: to.into(),
            });
        }
        Ok(vec![Event::HazardStatusChanged {
            hazard_id: h.id.clone(),
            from: h.status,
            to,
            reason: r.reason.clone(),
            at: Some(now),
        }])
    }

    fn assignment_to(
        &self,
        a: &Assignment,
        to: AssignmentState,
        reason: String,
        ctx: &Context<'_>,
    ) -> Result<Vec<Event>, DomainError> {
        if !a.state.can_become(to) {
            return Err(DomainError::IllegalTransition {
                kind: "assignment",
                id: a.id.to_string(),
                from: a.state.into(),
                to: to.into(),
            });
        }
        Ok(vec![Event::AssignmentStateChanged {
            assignment_id: a.id.clone(),
            team_id: a.team_id.clone(),
            from: a.state,
            to,
            reason,
            at: ctx.now_ms,
            by: ctx.actor.name.clone(),
        }])
    }

    fn check_target(&self, t: &AssignmentTarget) -> Result<(), DomainError> {
        match t {
            AssignmentTarget::Hazard { hazard_id } => {
                let h = self.hazard(hazard_id)?;
                if h.status.is_closed() {
                    return Err(invalid(format!(
                        "hazard {hazard_id} is closed ({})",
                        h.status.as_ref()
                    )));
                }
            }
            AssignmentTarget::PatrolStretch {
                levee_id,
                from_m,
                to_m,
            } => {
                let l = self
                    .levees
                    .get(levee_id)
                    .ok_or_else(|| not_found("levee", levee_id))?;
                let range = l.start_chainage_m()..=l.end_chainage_m() + 0.5;
                if !(from_m < to_m && range.contains(from_m) && range.contains(to_m)) {
                    return Err(invalid(format!(
                        "patrol stretch {from_m}..{to_m} must be increasing and within the levee's chainage {:.0}..{:.0}",
                        l.start_chainage_m(),
                        l.end_chainage_m()
                    )));
                }
            }
            AssignmentTarget::EvacuationZone { evacuation_id } => {
                self.evacuation(evacuation_id)?;
            }
            AssignmentTarget::Shelter { shelter_id } => {
                self.shelter(shelter_id)?;
            }
        }
        Ok(())
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

fn check_supply(item: &str, stock: f64, per_person_daily: f64) -> Result<(), DomainError> {
    if item.is_empty() || item.len() > 64 {
        return Err(invalid("supply item name must be 1 to 64 bytes"));
    }
    check_quantity("stock", stock)?;
    check_daily_ration("per_person_daily", per_person_daily)
}

/// A team's duty, by its wire name in messages.
#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Duty {
    OnDuty,
    OffDuty,
}

impl From<bool> for Duty {
    fn from(on_duty: bool) -> Duty {
        if on_duty { Duty::OnDuty } else { Duty::OffDuty }
    }
}

/// Whether a shelter is open, by its name in messages.
#[derive(Clone, Copy, strum::IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
enum Opening {
    Open,
    Closed,
}

impl From<bool> for Opening {
    fn from(open: bool) -> Opening {
        if open { Opening::Open } else { Opening::Closed }
    }
}

/// A response level's name in messages; no level is `none`.
fn level_name(level: Option<ResponseLevel>) -> &'static str {
    level.map_or("none", Into::into)
}

/// Alerts for each threshold the new reading crosses relative to the gauge's last reading.
/// The first reading of a gauge raises a rising alert for every threshold it is at or above.
/// A late reading (older than the last one) is recorded but raises no alert.
fn threshold_crossings(g: &Gauge, r: Reading) -> Vec<Event> {
    if g.last.is_some_and(|l| r.time_ms < l.time_ms) {
        return Vec::new();
    }
    let prev = g.last.map(|l| l.level_m);
    g.thresholds
        .iter()
        .into_iter()
        .filter_map(|(kind, t)| {
            let was_above = prev.is_some_and(|p| p >= t);
            let is_above = r.level_m >= t;
            let direction = match (was_above, is_above) {
                (false, true) => Direction::Rising,
                (true, false) => Direction::Falling,
                _ => return None,
            };
            Some(Event::ThresholdCrossed {
                gauge_id: g.id.clone(),
                threshold: kind,
                threshold_m: t,
                level_m: r.level_m,
                direction,
                time_ms: r.time_ms,
            })
        })
        .collect()
}
