//! Teams: position reports and duty. A field tablet acts only for its own team.

use super::{Decision, forbidden, illegal};
use crate::domain::access::{Actor, Role};
use crate::domain::bounds::{MAX_CLOCK_SKEW_MS, check_device_time, invalid};
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::{Event, OnLevee};
use crate::domain::model::*;
use crate::domain::state::{Context, State};

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

fn own_team_only(actor: &Actor, team: &Team, what: &str) -> Result<(), DomainError> {
    if actor.role == Role::Field && !actor.is_field_of(&team.id) {
        return Err(forbidden(
            format!("this token may only {what} its own team, not {}", team.id),
            format!("此令牌只能操作本队，不能操作队伍{}", team.id),
        ));
    }
    Ok(())
}

pub(super) fn update_position(s: &State, u: &UpdatePosition, ctx: &Context<'_>) -> Decision {
    let (actor, now) = (ctx.actor, ctx.now_ms);
    let team = s.team(&u.team_id)?;
    own_team_only(actor, team, "move")?;
    let fix = Fix {
        position: u.position,
        time_ms: u.time_ms.map_or(now, |t| t.get()),
        accuracy_m: u.accuracy_m.map_or(0.0, |a| a.get()),
    };
    check_device_time("time_ms", fix.time_ms, now)?;
    // A fix older than the one we hold is a late radio packet: keep the newer one. Two
    // exceptions, so no team can be frozen: a dispatcher's position is a correction and always
    // wins, and a held fix from beyond the clock skew (logged before that bound existed) does not
    // count as newer.
    if let Some(prev) = team.fix
        && actor.role != Role::Dispatcher
        && prev.time_ms <= now.saturating_add(MAX_CLOCK_SKEW_MS)
        && fix.time_ms < prev.time_ms
    {
        return Err(invalid(
            format!(
                "fix at {} is older than the team's last fix at {}",
                fix.time_ms, prev.time_ms
            ),
            format!(
                "时间为{}的定位早于该队上一次定位的时间{}",
                fix.time_ms, prev.time_ms
            ),
        ));
    }
    let on_levee = on_levee(s, team, &fix, ctx);
    Ok(vec![Event::TeamMoved {
        team_id: team.id.clone(),
        fix,
        on_levee,
    }])
}

/// Where a fix lies on a levee with patrol sections, and the chainage walked since the team's
/// previous fix when the two make one walk (same levee, close in time and along the levee).
fn on_levee(s: &State, team: &Team, fix: &Fix, ctx: &Context<'_>) -> Option<OnLevee> {
    if s.levee_sections.is_empty() {
        return None;
    }
    let rules = &s.patrol_rules;
    let at = ctx.snapper.snap(fix.position, rules.on_levee_m)?;
    if !s.levee_sections.contains_key(&at.levee_id) {
        return None;
    }
    // A walk: the same levee, not too long ago, not too far, and at a walking pace (a vehicle on
    // the crest or a jump of the GPS does not patrol the stretch in between).
    let walked_from_m = match (&team.on_levee, team.fix) {
        (Some(prev), Some(prev_fix)) if prev.levee_id == at.levee_id => {
            let dt_ms = fix.time_ms.saturating_sub(prev_fix.time_ms);
            let along = (at.chainage_m - prev.chainage_m).abs();
            let walked = dt_ms > 0
                && dt_ms <= i64::from(rules.walk_gap_min) * 60_000
                && along <= rules.walk_max_m
                && along <= rules.walk_max_speed_mps * dt_ms as f64 / 1000.0;
            if walked {
                prev.chainage_m
            } else {
                at.chainage_m
            }
        }
        _ => at.chainage_m,
    };
    Some(OnLevee {
        levee_id: at.levee_id,
        chainage_m: at.chainage_m,
        walked_from_m,
    })
}

pub(super) fn set_duty(s: &State, d: &SetTeamDuty, ctx: &Context<'_>) -> Decision {
    let team = s.team(&d.team_id)?;
    own_team_only(ctx.actor, team, "change")?;
    if !d.on_duty
        && let Some(a) = &team.assignment
    {
        return Err(DomainError::TeamBusy {
            team: team.id.to_string(),
            assignment: a.to_string(),
        });
    }
    if team.on_duty == d.on_duty {
        let (from, to) = (Duty::from(team.on_duty), Duty::from(d.on_duty));
        return Err(illegal("team", &team.id, from.into(), to.into()));
    }
    Ok(vec![Event::TeamDutyChanged {
        team_id: team.id.clone(),
        on_duty: d.on_duty,
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::bounds::MAX_CLOCK_SKEW_MS;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::model::*;
    use serde_json::{Value, json};

    fn move_to(team: &str, lon: f64, time_ms: Option<i64>) -> Value {
        json!({"type": "update_position", "team_id": team, "position": [lon, 27.6],
               "time_ms": time_ms})
    }

    fn moved(team: &str, lon: f64, time_ms: i64, accuracy_m: f64) -> Event {
        Event::TeamMoved {
            team_id: TeamId::from(team),
            fix: Fix {
                position: p(lon, 27.6),
                time_ms,
                accuracy_m,
            },
            on_levee: None,
        }
    }

    #[test]
    fn a_tablet_moves_its_own_team_and_no_other() {
        let f = field("T-07");
        let mut with_accuracy = move_to("T-07", 113.1, None);
        with_accuracy["accuracy_m"] = json!(5.0);
        given(&world())
            .when(&f, with_accuracy)
            .then(&[moved("T-07", 113.1, NOW, 5.0)]);
        given(&world())
            .when(&f, move_to("T-01", 113.1, None))
            .then_error("forbidden");
        given(&world())
            .when(&dispatcher(), move_to("T-99", 113.1, None))
            .then_error("not_found");
    }

    #[test]
    fn a_fix_older_than_the_last_one_is_refused() {
        let tablet = field("T-01");
        given(&world())
            .when(&tablet, move_to("T-01", 113.2, Some(5_000)))
            .then(&[moved("T-01", 113.2, 5_000, 0.0)])
            .when(&tablet, move_to("T-01", 113.2, Some(4_000)))
            .then_error("invalid_value");
    }

    #[test]
    fn a_fix_from_the_future_is_refused_and_cannot_freeze_a_team() {
        let tablet = field("T-07");
        let limit = NOW + MAX_CLOCK_SKEW_MS;
        for t in [limit + 1, 9_000_000_000_000_000, -1] {
            given(&world())
                .when(&tablet, move_to("T-07", 113.1, Some(t)))
                .then_error("invalid_value");
        }
        // Up to two minutes of device-clock skew is accepted ...
        let ahead = given(&world())
            .when(&tablet, move_to("T-07", 113.1, Some(limit)))
            .then(&[moved("T-07", 113.1, limit, 0.0)]);
        // ... then the tablet's own fix with server time is "late" ...
        let ahead = ahead
            .when(&tablet, move_to("T-07", 113.2, None))
            .then_error("invalid_value");
        // ... but a dispatcher corrects the position, whatever the team's clock said,
        ahead
            .when(&dispatcher(), move_to("T-07", 113.3, None))
            .then(&[moved("T-07", 113.3, NOW, 0.0)])
            // and the tablet's fixes count again.
            .when(&tablet, move_to("T-07", 113.4, None))
            .then(&[moved("T-07", 113.4, NOW, 0.0)]);
    }

    #[test]
    fn a_fix_logged_far_in_the_future_before_the_bound_existed_does_not_block_new_ones() {
        // As a log written before the skew bound would hold it.
        given(&world())
            .and(&[moved("T-07", 113.1, 9_000_000_000_000_000, 0.0)])
            .when(&field("T-07"), move_to("T-07", 113.2, None))
            .then(&[moved("T-07", 113.2, NOW, 0.0)]);
    }

    #[test]
    fn an_accuracy_beyond_its_bound_is_refused() {
        for bad in [json!(f64::MAX), json!(100_001), json!(-1)] {
            let mut m = move_to("T-01", 113.2, None);
            m["accuracy_m"] = bad;
            given(&world())
                .when(&dispatcher(), m)
                .then_error("invalid_value");
        }
        let mut fraction = move_to("T-01", 113.2, None);
        fraction["time_ms"] = json!(1.5);
        given(&world())
            .when(&dispatcher(), fraction)
            .then_error("invalid_field");
    }

    fn duty(team: &str, on_duty: bool) -> Value {
        json!({"type": "set_team_duty", "team_id": team, "on_duty": on_duty})
    }

    fn duty_changed(team: &str, on_duty: bool) -> Event {
        Event::TeamDutyChanged {
            team_id: TeamId::from(team),
            on_duty,
        }
    }

    #[test]
    fn a_team_goes_off_and_on_duty() {
        let f = field("T-07");
        let off = given(&world())
            .when(&f, duty("T-07", false))
            .then(&[duty_changed("T-07", false)]);
        let t7 = &off.state().teams[&TeamId::from("T-07")];
        assert_eq!(off.state().team_status(t7), TeamStatus::OffDuty);
        off.when(&f, duty("T-07", true))
            .then(&[duty_changed("T-07", true)]);
    }

    #[test]
    fn duty_cannot_be_set_to_what_it_is_nor_for_another_team() {
        given(&world())
            .when(&dispatcher(), duty("T-07", true))
            .then_error("illegal_transition");
        given(&world())
            .when(&field("T-01"), duty("T-07", false))
            .then_error("forbidden");
    }

    #[test]
    fn a_team_with_an_assignment_cannot_go_off_duty() {
        given(&world())
            .and(&[
                hazard_reported("HZ-1"),
                assignment_created("AS-1", "T-07", hazard_target("HZ-1"), ""),
            ])
            .when(&field("T-07"), duty("T-07", false))
            .then_error("team_busy");
    }
}
