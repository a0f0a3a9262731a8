//! Protected assets, and incidents: a breach or large hazard with its front command post, the
//! teams committed to it (several teams on one hazard is the normal case), reinforcements and the
//! stages of closing a breach.

use super::{Decision, exists, illegal, not_found};
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::IncidentId;
use crate::domain::incidents::*;
use crate::domain::state::{Context, State};
use std::collections::BTreeMap;

pub(super) fn define_asset(s: &State, d: &DefineProtectedAsset) -> Decision {
    if s.assets.contains_key(&d.id) {
        return Err(exists("protected asset", &d.id));
    }
    let place = match (&d.position, &d.line) {
        (Some(position), None) if d.chainage_origin_m.is_none() => AssetPlace::Point {
            position: *position,
        },
        (None, Some(line)) => {
            let origin = d.chainage_origin_m.map_or(0.0, |c| c.get());
            let course = ProtectedAsset::course(&d.id, line.clone(), origin).ok_or_else(|| {
                invalid(
                    "a line asset needs at least 2 distinct positions",
                    "线状设施至少需要2个不同的位置",
                )
            })?;
            AssetPlace::Line { course }
        }
        _ => {
            return Err(invalid(
                "an asset is a point (`position`) or a line (`line`, with `chainage_origin_m`)",
                "设施为点（`position`）或线（`line`，并给出 `chainage_origin_m`）",
            ));
        }
    };
    Ok(vec![Event::ProtectedAssetDefined {
        asset: ProtectedAsset {
            id: d.id.clone(),
            name: d.name.to_string(),
            kind: d.kind,
            priority: d.priority.get() as u8,
            buffer_m: d.buffer_m.get(),
            place,
        },
    }])
}

fn post(p: &CommandPostSpec) -> CommandPost {
    CommandPost {
        position: p.position,
        name: p.name.to_string(),
        commander: p.commander.to_string(),
    }
}

/// A new incident `IN-<n>` for a hazard that has none open. (A breach gets one by itself: see
/// the watch.)
pub(super) fn open(s: &State, o: &OpenIncident, ctx: &Context<'_>) -> Decision {
    let h = s.hazard(&o.hazard_id)?;
    if let Some(i) = s.hazard_incident.get(&h.id) {
        return Err(exists("incident of hazard", format!("{} ({i})", h.id)));
    }
    if h.status.is_closed() {
        return Err(invalid(
            format!("hazard {} is closed", h.id),
            format!("险情{}已结束", h.id),
        ));
    }
    Ok(vec![Event::IncidentOpened {
        incident: new_incident(s, &h.id, &o.name, o.post.as_ref().map(post), ctx.now_ms),
    }])
}

pub(crate) fn new_incident(
    s: &State,
    hazard_id: &crate::domain::ids::HazardId,
    name: &str,
    post: Option<CommandPost>,
    now: i64,
) -> Incident {
    Incident {
        id: IncidentId::from(format!("IN-{}", s.next_incident + 1)),
        hazard_id: hazard_id.clone(),
        name: name.to_string(),
        post,
        teams: BTreeMap::new(),
        stages: Vec::new(),
        opened_at: now,
        closed_at: None,
        peak_headcount: 0,
        peak_at: None,
    }
}

fn open_incident<'a>(s: &'a State, id: &IncidentId) -> Result<&'a Incident, DomainError> {
    let i = s
        .incidents
        .get(id)
        .ok_or_else(|| not_found("incident", id))?;
    if !i.is_open() {
        return Err(illegal("incident", id, "closed", "changed"));
    }
    Ok(i)
}

pub(super) fn set_post(s: &State, p: &SetCommandPost) -> Decision {
    let i = open_incident(s, &p.incident_id)?;
    Ok(vec![Event::CommandPostSet {
        incident_id: i.id.clone(),
        post: post(&p.post),
    }])
}

/// A team's commitment to an incident moves requested → en_route → on_scene → released. A team
/// is at one open incident at a time.
pub(super) fn commit_team(s: &State, c: &CommitTeam, ctx: &Context<'_>) -> Decision {
    let i = open_incident(s, &c.incident_id)?;
    let team = s.team(&c.team_id)?;
    if let Some(other) = s.incidents.values().find(|o| {
        o.id != i.id
            && o.is_open()
            && o.teams
                .get(&team.id)
                .is_some_and(|t| t.state != CommitmentState::Released)
    }) {
        return Err(DomainError::TeamBusy {
            team: team.id.to_string(),
            assignment: other.id.to_string(),
        });
    }
    let current = i
        .teams
        .get(&team.id)
        .filter(|t| t.state != CommitmentState::Released);
    if let Some(cur) = current
        && !cur.state.can_become(c.state)
    {
        return Err(illegal(
            "commitment of team",
            &team.id,
            cur.state.into(),
            c.state.into(),
        ));
    }
    if current.is_none() && c.state == CommitmentState::Released {
        return Err(illegal("commitment of team", &team.id, "none", "released"));
    }
    let headcount = c
        .headcount
        .map(|h| h.get())
        .or(current.map(|cur| cur.headcount))
        .unwrap_or(team.headcount);
    Ok(vec![Event::IncidentTeamChanged {
        incident_id: i.id.clone(),
        team_id: team.id.clone(),
        commitment: Commitment {
            state: c.state,
            headcount,
            since: ctx.now_ms,
        },
    }])
}

/// Stages go forward: protect the ends (裹头) → advance (进占) → close (合龙).
pub(super) fn advance_stage(s: &State, a: &AdvanceIncidentStage, ctx: &Context<'_>) -> Decision {
    let i = open_incident(s, &a.incident_id)?;
    if let Some(current) = i.stage()
        && a.stage <= current
    {
        return Err(illegal("incident", &i.id, current.into(), a.stage.into()));
    }
    Ok(vec![Event::IncidentStageReached {
        incident_id: i.id.clone(),
        stage: StageReached {
            stage: a.stage,
            at: ctx.now_ms,
        },
    }])
}

pub(super) fn close(s: &State, r: &IncidentRef, ctx: &Context<'_>) -> Decision {
    let i = open_incident(s, &r.incident_id)?;
    Ok(vec![Event::IncidentClosed {
        incident_id: i.id.clone(),
        at: ctx.now_ms,
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::events::Event;
    use crate::domain::ids::IncidentId;
    use crate::domain::model::TravelMode;
    use serde_json::json;

    fn team(id: &str) -> Event {
        team_registered(id, TravelMode::Foot, &[])
    }

    fn commit(team: &str, state: &str) -> serde_json::Value {
        json!({"type": "commit_team", "incident_id": "IN-1", "team_id": team, "state": state})
    }

    #[test]
    fn an_incidents_headcount_on_scene_follows_its_teams() {
        let d = dispatcher();
        let g = given(&[team("T-1"), team("T-2"), team("T-3"), hazard_reported("HZ-1")])
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-1", "name": "将军村"}))
            .then_events(|e| assert!(matches!(&e[0], Event::IncidentOpened { .. })))
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-1"}))
            .then_error("already_exists")
            .when(&d, commit("T-1", "on_scene"))
            .then_events(|_| {})
            .when(&d, commit("T-2", "requested"))
            .then_events(|_| {})
            .when(&d, json!({"type": "commit_team", "incident_id": "IN-1", "team_id": "T-3", "state": "on_scene", "headcount": 40}))
            .then_events(|_| {});
        let incident =
            |g: &Given| g.state().incidents[&IncidentId::from("IN-1")].headcount_on_scene();
        assert_eq!(
            incident(&g),
            12 + 40,
            "the requested reinforcement is not there yet"
        );
        let g = g
            .when(&d, commit("T-2", "en_route"))
            .then_events(|_| {})
            .when(&d, commit("T-2", "on_scene"))
            .then_events(|_| {});
        assert_eq!(incident(&g), 12 + 12 + 40);
        let g = g
            .when(&d, commit("T-2", "requested"))
            .then_error("illegal_transition")
            .when(&d, commit("T-1", "released"))
            .then_events(|_| {});
        assert_eq!(incident(&g), 12 + 40);
    }

    #[test]
    fn a_breach_closes_in_stages_and_a_closed_incident_changes_no_more() {
        let d = dispatcher();
        let stage =
            |s: &str| json!({"type": "advance_incident_stage", "incident_id": "IN-1", "stage": s});
        given(&[team("T-1"), hazard_reported("HZ-1")])
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-1"}))
            .then_events(|_| {})
            .when(&d, stage("advance"))
            .then_events(|_| {})
            .when(&d, stage("protect_ends"))
            .then_error("illegal_transition")
            .when(&d, stage("close"))
            .then_events(|_| {})
            .when(&d, json!({"type": "close_incident", "incident_id": "IN-1"}))
            .then_events(|_| {})
            .when(&d, commit("T-1", "on_scene"))
            .then_error("illegal_transition")
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-1"}))
            .then_events(|e| assert!(matches!(&e[0], Event::IncidentOpened { incident } if incident.id.as_str() == "IN-2")));
    }

    #[test]
    fn a_team_is_at_one_incident_at_a_time() {
        let d = dispatcher();
        given(&[team("T-1"), hazard_reported("HZ-1"), hazard_reported("HZ-2")])
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-1"}))
            .then_events(|_| {})
            .when(&d, json!({"type": "open_incident", "hazard_id": "HZ-2"}))
            .then_events(|_| {})
            .when(&d, commit("T-1", "on_scene"))
            .then_events(|_| {})
            .when(&d, json!({"type": "commit_team", "incident_id": "IN-2", "team_id": "T-1", "state": "requested"}))
            .then_error("team_busy")
            .when(&field("T-1"), commit("T-1", "released"))
            .then_error("forbidden");
    }

    #[test]
    fn an_asset_is_a_point_or_a_line_with_kilometre_posts() {
        let d = dispatcher();
        given(&[])
            .when(&d, json!({"type": "define_protected_asset", "id": "PA-1", "name": "变电站", "kind": "substation", "priority": 2, "buffer_m": 300, "position": [113.1, 27.6]}))
            .then_events(|_| {})
            .when(&d, json!({"type": "define_protected_asset", "id": "PA-1", "name": "x", "kind": "school", "priority": 1, "buffer_m": 1, "position": [113.1, 27.6]}))
            .then_error("already_exists");
        for bad in [
            json!({"type": "define_protected_asset", "id": "PA-2", "name": "x", "kind": "school", "priority": 1, "buffer_m": 1}),
            json!({"type": "define_protected_asset", "id": "PA-2", "name": "x", "kind": "school", "priority": 1, "buffer_m": 1, "position": [113.1, 27.6], "line": [[113.1, 27.6], [113.1, 27.7]]}),
            json!({"type": "define_protected_asset", "id": "PA-2", "name": "x", "kind": "school", "priority": 4, "buffer_m": 1, "position": [113.1, 27.6]}),
            json!({"type": "define_protected_asset", "id": "PA-2", "name": "x", "kind": "school", "priority": 1, "buffer_m": 6000, "position": [113.1, 27.6]}),
        ] {
            given(&[]).when(&d, bad).then_error("invalid_value");
        }
    }
}
