//! The decider: turns a command into the events it causes, or refuses it.
//!
//! `decide` is a short dispatch: the role gate, then one function per command, grouped by family
//! in the files of this module, each with its own given-events / when-command / then-events
//! specifications (see `spec.rs`). Every value a command carries was parsed when it was
//! deserialized (`values.rs`), so a family function checks only what depends on the state.
//!
//! `decide` never mutates; `State::apply` (in `state.rs`) never refuses.

mod assignments;
mod casualties;
mod corrections;
mod drills;
mod evacuations;
pub use evacuations::people_at_risk;
mod gauges;
mod hazards;
pub(crate) mod incidents;
mod materials;
mod patrols;
mod reference;
mod shelters;
mod teams;

#[cfg(test)]
pub(crate) mod spec;

use super::access::{Role, field_may_send, grid_worker_may_send};
use super::commands::Command;
use super::error::DomainError;
use super::events::Event;
use super::ids::*;
use super::model::*;
use super::state::{Context, State};

/// What a family function answers: the events a command causes, or why it is refused.
type Decision = Result<Vec<Event>, DomainError>;

impl State {
    /// Validates `cmd` for `ctx.actor` against the current state and returns the events it causes.
    pub fn decide(&self, cmd: &Command, ctx: &Context<'_>) -> Decision {
        match ctx.actor.role {
            Role::Observer => {
                return Err(forbidden(
                    "observers cannot send commands",
                    "观察员不能发送指令",
                ));
            }
            Role::Field if !field_may_send(cmd) => {
                return Err(forbidden(
                    format!("field tokens cannot send {}", cmd.name()),
                    format!("现场令牌不能发送 {}", cmd.name()),
                ));
            }
            Role::GridWorker if !grid_worker_may_send(cmd) => {
                return Err(forbidden(
                    format!("grid-worker tokens cannot send {}", cmd.name()),
                    format!("网格员令牌不能发送 {}", cmd.name()),
                ));
            }
            Role::Field | Role::GridWorker | Role::Dispatcher => {}
        }
        use Command as C;
        use HazardStatus as H;
        match cmd {
            C::DefineLevee(d) => reference::define_levee(self, d),
            C::DefineShelter(d) => reference::define_shelter(self, d),
            C::DefineGauge(d) => reference::define_gauge(self, d),
            C::DefineGridCell(d) => reference::define_grid_cell(self, d),
            C::RegisterTeam(r) => reference::register_team(self, r, ctx),
            C::ReportHazard(r) => hazards::report(self, r, ctx),
            C::ConfirmHazard(r) => hazards::change_status(self, r, H::Confirmed, ctx),
            C::StartHazardHandling(r) => hazards::change_status(self, r, H::BeingHandled, ctx),
            C::EliminateHazard(r) => hazards::change_status(self, r, H::Eliminated, ctx),
            C::MarkFalseAlarm(r) => hazards::change_status(self, r, H::FalseAlarm, ctx),
            C::EscalateHazard(e) => hazards::escalate(self, e, ctx),
            C::UpdatePosition(u) => teams::update_position(self, u, ctx),
            C::SetTeamDuty(s) => teams::set_duty(self, s, ctx),
            C::CreateAssignment(c) => assignments::create(self, c, ctx),
            C::AdvanceAssignment(a) => assignments::advance(self, a, ctx),
            C::CancelAssignment(c) => assignments::cancel(self, c, ctx),
            C::OpenShelter(o) => shelters::open(self, o),
            C::CloseShelter(r) => shelters::set_open(self, &r.shelter_id, false),
            C::CheckIn(c) => shelters::check_in(self, c, ctx),
            C::CheckOut(c) => shelters::check_out(self, c),
            C::SetSupply(s) => shelters::set_supply(self, s),
            C::DeliverSupply(m) => shelters::move_supply(self, m, shelters::Movement::Deliver),
            C::IssueSupply(m) => shelters::move_supply(self, m, shelters::Movement::Issue),
            C::RecordReading(r) => gauges::record_reading(self, r, ctx),
            C::SetResponseLevel(s) => gauges::set_response_level(self, s, ctx),
            C::IssueEvacuationOrder(o) => evacuations::issue(self, o, ctx),
            C::RecordEvacuationProgress(p) => evacuations::record_progress(self, p),
            C::LiftEvacuationOrder(r) => evacuations::lift(self, r, ctx),
            C::RecordSelfEvacuation(r) => evacuations::self_evacuation(self, r, ctx),
            C::ReportCellStatus(r) => evacuations::report_cell_status(self, r, ctx),
            C::RecordCasualty(r) => casualties::record(self, r, ctx),
            C::CorrectCasualty(c) => casualties::correct(self, c, ctx),
            C::RecordRescue(r) => casualties::rescue(self, r, ctx),
            C::ConfirmCasualties(c) => casualties::confirm(self, c, ctx),
            C::DefinePatrolSection(d) => patrols::define_section(self, d, ctx),
            C::AssignPatrol(a) => patrols::assign(self, a, ctx),
            C::SetPatrolInterval(i) => patrols::set_interval(self, i, ctx),
            C::CheckInPatrolPoint(c) => patrols::check_in(self, c, ctx),
            C::AcknowledgeAlert(a) => super::watch::acknowledge(self, &a.alert_id, &a.note, ctx),
            C::DefineProtectedAsset(d) => incidents::define_asset(self, d),
            C::OpenIncident(o) => incidents::open(self, o, ctx),
            C::SetCommandPost(p) => incidents::set_post(self, p),
            C::CommitTeam(c) => incidents::commit_team(self, c, ctx),
            C::AdvanceIncidentStage(a) => incidents::advance_stage(self, a, ctx),
            C::CloseIncident(r) => incidents::close(self, r, ctx),
            C::SetWatchRules(r) => patrols::set_rules(self, r, ctx),
            C::DefineDepot(d) => materials::define_depot(self, d),
            C::RestockDepot(r) => materials::restock(self, r, ctx),
            C::IssueMaterials(i) => materials::issue_materials(self, i, ctx),
            C::DeliverMaterials(r) => materials::deliver(self, r, ctx),
            C::ConsumeMaterials(c) => materials::consume(self, c, ctx),
            C::ReturnMaterials(r) => materials::return_materials(self, r, ctx),
            C::RequestMaterials(r) => materials::request_materials(self, r, ctx),
            C::ApproveMaterialRequest(a) => materials::approve(self, a, ctx),
            C::DeclineMaterialRequest(d) => materials::decline(self, d, ctx),
            C::DefineFloodZone(d) => reference::define_flood_zone(self, d),
            C::EnterGaugeForecast(f) => gauges::enter_forecast(self, f, ctx),
            C::CorrectShelterCapacity(c) => corrections::shelter_capacity(self, c, ctx),
            C::CorrectGaugeThresholds(c) => corrections::gauge_thresholds(self, c, ctx),
            C::CorrectTeamRoster(c) => corrections::team_roster(self, c, ctx),
            C::CorrectAssetBuffer(c) => corrections::asset_buffer(self, c, ctx),
            C::RecordNote(n) => drills::record_note(self, n, ctx),
            C::StartExercise(e) => drills::start_exercise(self, e, ctx),
            C::IssueCue(c) => drills::issue_cue(self, c, ctx),
        }
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

    fn gauge(&self, id: &GaugeId) -> Result<&Gauge, DomainError> {
        self.gauges.get(id).ok_or_else(|| not_found("gauge", id))
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

/// Outside the actor's rights: the message in English and in Chinese, with the same ids.
fn forbidden(en: impl Into<String>, zh: impl Into<String>) -> DomainError {
    DomainError::Forbidden(crate::domain::error::Bilingual::new(en, zh))
}

fn illegal(
    kind: &'static str,
    id: impl ToString,
    from: &'static str,
    to: &'static str,
) -> DomainError {
    DomainError::IllegalTransition {
        kind,
        id: id.to_string(),
        from,
        to,
    }
}

#[cfg(test)]
mod tests {
    use super::spec::*;
    use serde_json::json;

    #[test]
    fn observers_cannot_send_any_command() {
        given(&world())
            .when(
                &observer(),
                json!({"type": "update_position", "team_id": "T-07", "position": [113.1, 27.6]}),
            )
            .then_error("forbidden");
    }

    #[test]
    fn field_tablets_cannot_send_dispatcher_commands() {
        let f = field("T-07");
        given(&world())
            .when(
                &f,
                json!({"type": "set_response_level", "jurisdiction": "x", "level": "IV"}),
            )
            .then_error("forbidden");
        given(&world())
            .when(
                &f,
                json!({"type": "register_team", "id": "T-99", "name": "x", "kind": "volunteers",
                       "headcount": 1, "travel_mode": "foot"}),
            )
            .then_error("forbidden");
        given(&world())
            .when(&f, json!({"type": "close_shelter", "shelter_id": "S-1"}))
            .then_error("forbidden");
    }
}
