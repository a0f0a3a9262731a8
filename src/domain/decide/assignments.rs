//! Assignments: a team sent to a hazard, a patrol stretch, an evacuation zone or a shelter. A team
//! holds at most one active assignment; its status is derived from it.

use super::{Decision, forbidden, illegal, not_found};
use crate::domain::access::Role;
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::AssignmentId;
use crate::domain::model::*;
use crate::domain::state::{Context, State};
use crate::domain::vocabulary::Named;

pub(super) fn create(s: &State, c: &CreateAssignment, ctx: &Context<'_>) -> Decision {
    let team = s.team(&c.team_id)?;
    if !team.on_duty {
        return Err(DomainError::TeamOffDuty(team.id.to_string()));
    }
    if let Some(a) = &team.assignment {
        return Err(DomainError::TeamBusy {
            team: team.id.to_string(),
            assignment: a.to_string(),
        });
    }
    check_target(s, &c.target)?;
    let id = AssignmentId::from(format!("AS-{}", s.next_assignment + 1));
    Ok(vec![Event::AssignmentCreated {
        assignment: Assignment {
            id,
            team_id: team.id.clone(),
            target: c.target.clone(),
            state: AssignmentState::Proposed,
            note: c.note.to_string(),
            history: vec![AssignmentTransition {
                state: AssignmentState::Proposed,
                at: ctx.now_ms,
                by: ctx.actor.name.clone(),
            }],
        },
    }])
}

pub(super) fn advance(s: &State, a: &AdvanceAssignment, ctx: &Context<'_>) -> Decision {
    let asg = s.assignment(&a.assignment_id)?;
    if ctx.actor.role == Role::Field && !ctx.actor.is_field_of(&asg.team_id) {
        return Err(forbidden(
            format!("assignment {} belongs to another team", asg.id),
            format!("任务{}属于其他队伍", asg.id),
        ));
    }
    if a.to == AssignmentState::Cancelled {
        return Err(invalid(
            "use cancel_assignment to cancel",
            "取消任务请用 cancel_assignment",
        ));
    }
    transition(asg, a.to, String::new(), ctx)
}

pub(super) fn cancel(s: &State, c: &CancelAssignment, ctx: &Context<'_>) -> Decision {
    let asg = s.assignment(&c.assignment_id)?;
    if ctx.actor.role == Role::Field {
        if !ctx.actor.is_field_of(&asg.team_id) {
            return Err(forbidden(
                format!("assignment {} belongs to another team", asg.id),
                format!("任务{}属于其他队伍", asg.id),
            ));
        }
        // A team may decline what it was offered; once accepted, only command cancels.
        if asg.state != AssignmentState::Proposed {
            return Err(forbidden(
                "a field team can only decline a proposed assignment",
                "现场队伍只能拒绝待接受的任务",
            ));
        }
    }
    transition(asg, AssignmentState::Cancelled, c.reason.to_string(), ctx)
}

fn transition(a: &Assignment, to: AssignmentState, reason: String, ctx: &Context<'_>) -> Decision {
    if !a.state.can_become(to) {
        return Err(illegal("assignment", &a.id, a.state.into(), to.into()));
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

/// The target exists; a hazard is still open; a patrol stretch is increasing and on the levee.
fn check_target(s: &State, t: &AssignmentTarget) -> Result<(), DomainError> {
    match t {
        AssignmentTarget::Hazard { hazard_id } => {
            let h = s.hazard(hazard_id)?;
            if h.status.is_closed() {
                return Err(invalid(
                    format!("hazard {hazard_id} is closed ({})", h.status.as_ref()),
                    format!(
                        "险情{hazard_id}已结束（{}）",
                        crate::domain::vocabulary::Named::zh(h.status)
                    ),
                ));
            }
        }
        AssignmentTarget::PatrolStretch {
            levee_id,
            from_m,
            to_m,
        } => {
            let l = s
                .levees
                .get(levee_id)
                .ok_or_else(|| not_found("levee", levee_id))?;
            let range = l.start_chainage_m()..=l.end_chainage_m() + 0.5;
            if !(from_m < to_m && range.contains(from_m) && range.contains(to_m)) {
                return Err(invalid(
                    format!(
                        "patrol stretch {from_m}..{to_m} must be increasing and within the levee's chainage {:.0}..{:.0}",
                        l.start_chainage_m(),
                        l.end_chainage_m()
                    ),
                    format!(
                        "巡查段{from_m}..{to_m}须由小到大且在堤防桩号{:.0}..{:.0}之内",
                        l.start_chainage_m(),
                        l.end_chainage_m()
                    ),
                ));
            }
        }
        AssignmentTarget::EvacuationZone { evacuation_id } => {
            s.evacuation(evacuation_id)?;
        }
        AssignmentTarget::Shelter { shelter_id } => {
            s.shelter(shelter_id)?;
        }
        AssignmentTarget::Trapped { casualty_id } => {
            let r = s
                .casualties
                .get(casualty_id)
                .ok_or_else(|| not_found("casualty record", casualty_id))?;
            if r.still_trapped() == 0 {
                return Err(invalid(
                    format!(
                        "nobody is trapped in {casualty_id} (kind {}, {} brought out)",
                        <&str>::from(r.kind),
                        r.rescued
                    ),
                    format!(
                        "{casualty_id}没有被困人员（类别{}，已救出{}人）",
                        r.kind.zh(),
                        r.rescued
                    ),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    use AssignmentState::*;

    fn create(team: &str, target: Value) -> Value {
        json!({"type": "create_assignment", "team_id": team, "target": target})
    }

    fn advance(id: &str, to: &str) -> Value {
        json!({"type": "advance_assignment", "assignment_id": id, "to": to})
    }

    fn cancel(id: &str) -> Value {
        json!({"type": "cancel_assignment", "assignment_id": id, "reason": "no boat"})
    }

    fn stretch(from_m: f64, to_m: f64) -> AssignmentTarget {
        AssignmentTarget::PatrolStretch {
            levee_id: LeveeId::from("XJ-E1"),
            from_m,
            to_m,
        }
    }

    fn status_of(g: &Given, team: &str) -> TeamStatus {
        g.state().team_status(&g.state().teams[&TeamId::from(team)])
    }

    /// The world with hazard HZ-1 and assignment AS-1 of T-07 to it, proposed.
    fn proposed() -> Vec<Event> {
        [
            world(),
            vec![
                hazard_reported("HZ-1"),
                assignment_created("AS-1", "T-07", hazard_target("HZ-1"), ""),
            ],
        ]
        .concat()
    }

    #[test]
    fn an_assignment_is_proposed_and_the_team_is_assigned() {
        let before = given(&world()).and(&[hazard_reported("HZ-1")]);
        assert_eq!(status_of(&before, "T-07"), TeamStatus::Available);
        let after = before
            .when(
                &dispatcher(),
                create("T-07", json!({"kind": "hazard", "hazard_id": "HZ-1"})),
            )
            .then(&[assignment_created(
                "AS-1",
                "T-07",
                hazard_target("HZ-1"),
                "",
            )]);
        assert_eq!(status_of(&after, "T-07"), TeamStatus::Assigned);
        assert_eq!(
            after.state().teams[&TeamId::from("T-07")].assignment,
            Some(AssignmentId::from("AS-1"))
        );
    }

    #[test]
    fn a_team_holds_one_assignment_at_a_time() {
        given(&proposed())
            .when(
                &dispatcher(),
                create("T-07", json!({"kind": "hazard", "hazard_id": "HZ-1"})),
            )
            .then_error("team_busy");
    }

    #[test]
    fn an_off_duty_team_gets_no_assignment() {
        given(&world())
            .and(&[Event::TeamDutyChanged {
                team_id: TeamId::from("T-07"),
                on_duty: false,
            }])
            .when(
                &dispatcher(),
                create("T-07", json!({"kind": "shelter", "shelter_id": "S-1"})),
            )
            .then_error("team_off_duty");
    }

    #[test]
    fn the_team_advances_its_assignment_step_by_step_and_its_status_follows() {
        let f = field("T-07");
        let mut g = given(&proposed());
        for (from, to, wire, status) in [
            (Proposed, Accepted, "accepted", TeamStatus::Assigned),
            (Accepted, EnRoute, "en_route", TeamStatus::EnRoute),
            (EnRoute, OnScene, "on_scene", TeamStatus::OnScene),
        ] {
            g = g
                .when(&f, advance("AS-1", wire))
                .then(&[assignment_state_changed("AS-1", "T-07", from, to, "", &f)]);
            assert_eq!(status_of(&g, "T-07"), status);
        }
        // On scene, the team cannot go off duty.
        let g = g
            .when(
                &f,
                json!({"type": "set_team_duty", "team_id": "T-07", "on_duty": false}),
            )
            .then_error("team_busy");
        let done = g
            .when(&f, advance("AS-1", "completed"))
            .then(&[assignment_state_changed(
                "AS-1", "T-07", OnScene, Completed, "", &f,
            )]);
        assert_eq!(status_of(&done, "T-07"), TeamStatus::Available);
        assert_eq!(done.state().teams[&TeamId::from("T-07")].assignment, None);
        let trail: Vec<_> = done.state().assignments[&AssignmentId::from("AS-1")]
            .history
            .iter()
            .map(|h| (h.state, h.by.as_str()))
            .collect();
        assert_eq!(
            trail,
            [
                (Proposed, "desk-1"),
                (Accepted, "tablet-T-07"),
                (EnRoute, "tablet-T-07"),
                (OnScene, "tablet-T-07"),
                (Completed, "tablet-T-07"),
            ]
        );
        let done = done
            .when(&dispatcher(), advance("AS-1", "completed"))
            .then_error("illegal_transition");
        // Once it is done the team may go off duty, and then gets nothing new.
        done.when(
            &f,
            json!({"type": "set_team_duty", "team_id": "T-07", "on_duty": false}),
        )
        .then(&[Event::TeamDutyChanged {
            team_id: TeamId::from("T-07"),
            on_duty: false,
        }])
        .when(
            &dispatcher(),
            create("T-07", json!({"kind": "shelter", "shelter_id": "S-1"})),
        )
        .then_error("team_off_duty");
    }

    #[test]
    fn steps_cannot_be_skipped_nor_taken_by_another_team() {
        given(&proposed())
            .when(&field("T-07"), advance("AS-1", "on_scene"))
            .then_error("illegal_transition");
        given(&proposed())
            .when(&field("T-01"), advance("AS-1", "accepted"))
            .then_error("forbidden");
        given(&proposed())
            .when(&dispatcher(), advance("AS-9", "accepted"))
            .then_error("not_found");
    }

    #[test]
    fn advancing_to_cancelled_is_refused() {
        given(&proposed())
            .when(&dispatcher(), advance("AS-1", "cancelled"))
            .then_error("invalid_value");
    }

    #[test]
    fn a_field_team_can_decline_but_not_cancel_after_accepting() {
        let (d, f) = (dispatcher(), field("T-07"));
        let patrol = [
            world(),
            vec![assignment_created(
                "AS-1",
                "T-07",
                stretch(1000.0, 2000.0),
                "巡堤",
            )],
        ]
        .concat();
        let declined = given(&patrol)
            .when(&f, cancel("AS-1"))
            .then(&[assignment_state_changed(
                "AS-1", "T-07", Proposed, Cancelled, "no boat", &f,
            )]);
        assert_eq!(
            declined.state().assignments[&AssignmentId::from("AS-1")].state,
            Cancelled
        );
        given(&patrol)
            .when(&f, advance("AS-1", "accepted"))
            .then(&[assignment_state_changed(
                "AS-1", "T-07", Proposed, Accepted, "", &f,
            )])
            .when(&f, cancel("AS-1"))
            .then_error("forbidden")
            .when(&d, cancel("AS-1"))
            .then(&[assignment_state_changed(
                "AS-1", "T-07", Accepted, Cancelled, "no boat", &d,
            )])
            .when(&d, cancel("AS-1"))
            .then_error("illegal_transition");
        given(&patrol)
            .when(&field("T-01"), cancel("AS-1"))
            .then_error("forbidden");
    }

    #[test]
    fn a_patrol_stretch_is_increasing_and_on_the_levee() {
        let d = dispatcher();
        let patrol = |from_m: f64, to_m: f64| {
            create(
                "T-01",
                json!({"kind": "patrol_stretch", "levee_id": "XJ-E1", "from_m": from_m, "to_m": to_m}),
            )
        };
        for (from_m, to_m) in [(2000.0, 1000.0), (10_000.0, 20_000.0), (-1.0, 5.0)] {
            given(&world())
                .when(&d, patrol(from_m, to_m))
                .then_error("invalid_value");
        }
        given(&world())
            .when(&d, patrol(1000.0, 2000.0))
            .then(&[assignment_created(
                "AS-1",
                "T-01",
                stretch(1000.0, 2000.0),
                "",
            )]);
    }

    #[test]
    fn a_target_must_exist_and_a_hazard_must_be_open() {
        let d = dispatcher();
        for target in [
            json!({"kind": "patrol_stretch", "levee_id": "nope", "from_m": 0.0, "to_m": 1.0}),
            json!({"kind": "shelter", "shelter_id": "S-9"}),
            json!({"kind": "evacuation_zone", "evacuation_id": "EV-1"}),
            json!({"kind": "hazard", "hazard_id": "HZ-1"}),
        ] {
            given(&world())
                .when(&d, create("T-01", target))
                .then_error("not_found");
        }
        given(&world())
            .and(&[
                hazard_reported("HZ-1"),
                hazard_status_changed("HZ-1", HazardStatus::Reported, HazardStatus::FalseAlarm),
            ])
            .when(
                &d,
                create("T-01", json!({"kind": "hazard", "hazard_id": "HZ-1"})),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn a_note_has_a_length_limit() {
        let mut long = create("T-01", json!({"kind": "shelter", "shelter_id": "S-1"}));
        long["note"] = json!("x".repeat(2_001));
        given(&world())
            .when(&dispatcher(), long)
            .then_error("invalid_value");
    }
}
