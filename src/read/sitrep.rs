//! The situation report: hazards by kind and status, evacuation, shelters, teams, response levels.

use crate::domain::State;
use crate::domain::model::*;
use serde_json::Value;

/// Counts for the situation report.
pub fn sitrep(state: &State) -> Value {
    use std::collections::BTreeMap;
    let mut hazards: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
    for h in state.hazards.values() {
        *hazards
            .entry(h.kind.as_ref())
            .or_default()
            .entry(h.status.as_ref())
            .or_default() += 1;
    }
    let mut teams: BTreeMap<&str, (u32, u64)> = BTreeMap::new();
    for t in state.teams.values() {
        let e = teams.entry(state.team_status(t).into()).or_default();
        e.0 += 1;
        e.1 += u64::from(t.headcount);
    }
    let open: Vec<_> = state.shelters.values().filter(|s| s.open).collect();
    let mut alerts: BTreeMap<&str, BTreeMap<&str, u32>> = BTreeMap::new();
    for a in state.alerts.values().filter(|a| a.is_open()) {
        *alerts
            .entry(a.kind.name())
            .or_default()
            .entry(a.state.into())
            .or_default() += 1;
    }
    let open_alerts = |state_: crate::domain::alerts::AlertState| {
        state.alerts.values().filter(|a| a.state == state_).count()
    };
    let mut figures = serde_json::json!({
        "hazards": {
            "total": state.hazards.len(),
            "open": state.hazards.values().filter(|h| !h.status.is_closed()).count(),
            "eliminated": state.hazards.values().filter(|h| h.status == HazardStatus::Eliminated).count(),
            "by_kind_and_status": hazards,
        },
        "evacuation": super::people::evacuation(state, None),
        "casualties": super::people::casualties(state),
        "shelters": {
            "open": open.len(),
            "capacity": open.iter().map(|s| u64::from(s.capacity)).sum::<u64>(),
            "occupancy": state.shelters.values().map(|s| u64::from(s.occupancy)).sum::<u64>(),
            "by_shelter": state.shelters.values().filter(|s| s.open || s.occupancy > 0).map(|s| serde_json::json!({
                "id": s.id, "name": s.name, "town": s.town, "open": s.open,
                "capacity": s.capacity, "occupancy": s.occupancy,
                "days_of_supply_left": s.days_of_supply_left(),
            })).collect::<Vec<_>>(),
        },
        "teams": teams.into_iter().map(|(k, (n, people))| (k, serde_json::json!({"teams": n, "people": people}))).collect::<BTreeMap<_, _>>(),
        "response_levels": state.response.iter().map(|(j, h)| (j.to_string(), h.last().and_then(|c| c.level))).collect::<BTreeMap<_, _>>(),
        "alerts": {
            "raised": open_alerts(crate::domain::alerts::AlertState::Raised),
            "acknowledged": open_alerts(crate::domain::alerts::AlertState::Acknowledged),
            "open_by_kind_and_state": alerts,
        },
        "incidents": {
            "open": state.incidents.values().filter(|i| i.is_open()).map(|i| serde_json::json!({
                "id": i.id, "hazard_id": i.hazard_id, "name": i.name,
                "headcount_on_scene": i.headcount_on_scene(),
                "teams_on_scene": i.teams.values().filter(|c| c.state == crate::domain::incidents::CommitmentState::OnScene).count(),
                "reinforcements_coming": i.teams.values().filter(|c| matches!(c.state, crate::domain::incidents::CommitmentState::Requested | crate::domain::incidents::CommitmentState::EnRoute)).count(),
                "stage": i.stage(),
            })).collect::<Vec<_>>(),
            "headcount_on_scene": state.incidents.values().filter(|i| i.is_open()).map(|i| i.headcount_on_scene()).sum::<u64>(),
        },
        "patrols": {
            "sections": state.patrol_sections.len(),
            "required": state.patrol_sections.values().filter(|s| s.interval_min.is_some()).count(),
        },
        "gauges": super::gauges::sitrep(state),
        "materials": super::materials::figures(state),
        "flood_safety": flood_safety(state),
    });
    // A drill's figures say so, wherever they go.
    if let Some(e) = &state.exercise {
        figures["exercise"] = serde_json::json!({"title": e.title, "scenario": e.scenario});
    }
    figures
}

/// Shelters against the flooding of levee breaches: the levees breached now, how many shelters
/// are not flood-safe, and the open ones that stand in a breach's flood area (sorted by id).
fn flood_safety(state: &State) -> Value {
    let views: Vec<_> = state
        .shelters
        .values()
        .map(|s| (s, state.shelter_flood_safety(s)))
        .collect();
    serde_json::json!({
        "breached_levees": state.breached_levees(),
        "shelters_not_flood_safe": views.iter().filter(|(_, f)| !f.flood_safe).count(),
        "open_in_breach_flood_area": views
            .iter()
            .filter(|(s, f)| s.open && f.in_breach_flood_area)
            .map(|(s, _)| s.id.as_str())
            .collect::<Vec<_>>(),
    })
}
