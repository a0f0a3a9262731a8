//! Patrol answers: a section's board at a time, every gap now, and the passes of a time window.

use crate::domain::State;
use crate::domain::chainage::Chainage;
use crate::domain::model::TimeMs;
use crate::domain::patrol::{Pass, PatrolSection};
use serde_json::{Value, json};

fn chainage(m: f64) -> String {
    Chainage::from_metres(m).map_or_else(String::new, |c| c.to_string())
}

/// A section's board at `now`: each stretch with when and by whom it was last passed, when it is
/// due, and how late it is; who is on shift.
pub fn board(state: &State, s: &PatrolSection, now: TimeMs) -> Value {
    let on_shift = s
        .on_shift(now)
        .filter(|t| state.teams.get(*t).is_some_and(|t| t.on_duty));
    let stretches: Vec<Value> = s
        .stretches(now)
        .map(|x| {
            json!({
                "from_m": x.from_m, "to_m": x.to_m,
                "from": chainage(x.from_m), "to": chainage(x.to_m),
                "last_passed_at": x.last_passed.map(|p| p.at),
                "last_passed_by": x.last_passed.map(|p| &p.team_id),
                "due_at": x.due_at,
                "overdue_min": x.overdue_min,
            })
        })
        .collect();
    json!({
        "section_id": s.id, "name": s.name, "from_m": s.from_m, "to_m": s.to_m,
        "interval_min": s.interval_min, "on_shift": on_shift,
        "unstaffed": s.interval_min.is_some() && on_shift.is_none(),
        "stretches": stretches,
    })
}

/// Every overdue stretch and every unstaffed section, on every levee, at `now`.
pub fn gaps(state: &State, now: TimeMs) -> Vec<Value> {
    let mut out = Vec::new();
    for s in state.patrol_sections.values() {
        let staffed = s
            .on_shift(now)
            .and_then(|t| state.teams.get(t))
            .is_some_and(|t| t.on_duty);
        if s.interval_min.is_some() && !staffed {
            out.push(
                json!({"kind": "unstaffed", "section_id": s.id, "levee_id": s.levee_id,
                            "from_m": s.from_m, "to_m": s.to_m}),
            );
        }
        for x in s.stretches(now).filter(|x| x.overdue_min.is_some()) {
            out.push(json!({
                "kind": "overdue", "section_id": s.id, "levee_id": s.levee_id,
                "from_m": x.from_m, "to_m": x.to_m, "from": chainage(x.from_m), "to": chainage(x.to_m),
                "last_passed_at": x.last_passed.map(|p| p.at), "due_at": x.due_at,
                "overdue_min": x.overdue_min,
            }));
        }
    }
    out
}

/// The passes of a section's points within `[from, until]`, oldest first.
pub fn history(s: &PatrolSection, from: TimeMs, until: TimeMs) -> Vec<Value> {
    let mut passes: Vec<(&str, f64, &Pass)> = s
        .points
        .iter()
        .flat_map(|p| {
            p.passes
                .iter()
                .map(move |pass| (p.id.as_str(), p.chainage_m, pass))
        })
        .filter(|(_, _, pass)| from <= pass.at && pass.at <= until)
        .collect();
    passes.sort_by(|a, b| a.2.at.cmp(&b.2.at).then(a.1.total_cmp(&b.1)));
    passes
        .into_iter()
        .map(|(point, c, pass)| {
            json!({"point_id": point, "chainage_m": c, "chainage": chainage(c),
                   "at": pass.at, "team_id": pass.team_id, "how": pass.how})
        })
        .collect()
}
