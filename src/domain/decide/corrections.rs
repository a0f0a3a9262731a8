//! Corrections of reference data after it was defined (by a dispatcher; the role gate refuses
//! field and observer tokens): a shelter's capacity, a gauge's thresholds, a team's roster and
//! headcount, a protected asset's buffer. Each is one `reference_corrected` event with the old
//! and the new value, the reason (required), who and when. A correction must change something.
//!
//! What follows from a correction (alerts of the shelter, the gauge's threshold alerts and the
//! patrol requirement of its levees, the `asset_threatened` alerts of open hazards) is the
//! watch's: see `watch.rs`.

use super::{Decision, not_found};
use crate::domain::bounds::invalid;
use crate::domain::commands::*;
use crate::domain::corrections::{Change, Correction, MAX_ROSTER_NAMES, Roster};
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::CorrectionId;
use crate::domain::model::Thresholds;
use crate::domain::state::{Context, State};
use crate::domain::values::Text;
use std::collections::BTreeSet;

fn corrected(s: &State, change: Change, reason: &Text, ctx: &Context<'_>) -> Decision {
    let reason = reason.trim();
    if reason.is_empty() {
        return Err(invalid("a correction needs a reason"));
    }
    Ok(vec![Event::ReferenceCorrected {
        correction: Correction {
            id: CorrectionId::from(format!("CR-{}", s.next_correction + 1)),
            change,
            reason: reason.to_string(),
            by: ctx.actor.name.clone(),
            at: ctx.now_ms,
        },
    }])
}

fn unchanged(what: &str, id: &str) -> DomainError {
    invalid(format!(
        "the {what} of {id} is already that: nothing to correct"
    ))
}

/// A capacity below the people already sheltered is refused unless `allow_over_capacity`: then
/// the shelter is over capacity and, while open, raises `shelter_full`.
pub(super) fn shelter_capacity(
    s: &State,
    c: &CorrectShelterCapacity,
    ctx: &Context<'_>,
) -> Decision {
    let shelter = s.shelter(&c.shelter_id)?;
    let new = c.capacity.get();
    if new == shelter.capacity {
        return Err(unchanged("capacity", shelter.id.as_str()));
    }
    if new < shelter.occupancy && !c.allow_over_capacity {
        return Err(DomainError::CapacityBelowOccupancy {
            shelter: shelter.id.to_string(),
            occupancy: shelter.occupancy,
            capacity: new,
        });
    }
    let change = Change::ShelterCapacity {
        shelter_id: shelter.id.clone(),
        old: shelter.capacity,
        new,
        occupancy: shelter.occupancy,
    };
    corrected(s, change, &c.reason, ctx)
}

/// Thresholds in strict order: 设防 < 警戒 < 保证.
pub(super) fn gauge_thresholds(
    s: &State,
    c: &CorrectGaugeThresholds,
    ctx: &Context<'_>,
) -> Decision {
    let g = s.gauge(&c.gauge_id)?;
    let new = Thresholds::from(c.thresholds);
    if !(new.guard_m < new.warning_m && new.warning_m < new.guaranteed_m) {
        return Err(invalid(
            "corrected thresholds must be in strict order guard < warning < guaranteed",
        ));
    }
    if new == g.thresholds {
        return Err(unchanged("thresholds", g.id.as_str()));
    }
    let change = Change::GaugeThresholds {
        gauge_id: g.id.clone(),
        old: g.thresholds,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}

/// A name on a roster: not blank, kept as trimmed.
fn name(field: &str, t: &Text) -> Result<String, DomainError> {
    let n = t.trim();
    if n.is_empty() {
        return Err(invalid(format!("{field}: a name must not be blank")));
    }
    Ok(n.to_string())
}

/// The roster: the members named (each once, the leader not among them) and the head count of
/// everyone. With members named, the head count is the number of names (leader included), and
/// a `headcount` given must say the same; with none named, `headcount` is required.
pub(super) fn team_roster(s: &State, c: &CorrectTeamRoster, ctx: &Context<'_>) -> Decision {
    let team = s.team(&c.team_id)?;
    let leader = c.leader.as_ref().map(|l| name("leader", l)).transpose()?;
    let members = c
        .members
        .iter()
        .enumerate()
        .map(|(i, m)| name(&format!("members[{i}]"), m))
        .collect::<Result<Vec<_>, _>>()?;
    let named = members.len() + usize::from(leader.is_some());
    if named > MAX_ROSTER_NAMES {
        return Err(invalid(format!(
            "a roster names at most {MAX_ROSTER_NAMES} people, not {named}"
        )));
    }
    let mut seen = BTreeSet::new();
    if let Some(twice) = leader
        .iter()
        .chain(&members)
        .find(|n| !seen.insert(n.as_str()))
    {
        return Err(invalid(format!("{twice} is named twice on the roster")));
    }
    let headcount = match (c.headcount.map(|h| h.get()), members.is_empty()) {
        (Some(h), true) => h,
        (None, true) => {
            return Err(invalid(
                "give the headcount, or name the members (the headcount is then their number)",
            ));
        }
        (given, false) => {
            let counted = named as u32; // at most MAX_ROSTER_NAMES
            if given.is_some_and(|h| h != counted) {
                return Err(invalid(format!(
                    "headcount {} does not match the {counted} people the roster names",
                    given.unwrap_or_default()
                )));
            }
            counted
        }
    };
    let old = Roster {
        headcount: team.headcount,
        leader: team.leader.clone(),
        members: team.members.clone(),
    };
    let new = Roster {
        headcount,
        leader,
        members,
    };
    if new == old {
        return Err(unchanged("roster", team.id.as_str()));
    }
    let change = Change::TeamRoster {
        team_id: team.id.clone(),
        old,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}

pub(super) fn asset_buffer(s: &State, c: &CorrectAssetBuffer, ctx: &Context<'_>) -> Decision {
    let asset = s
        .assets
        .get(&c.asset_id)
        .ok_or_else(|| not_found("protected asset", &c.asset_id))?;
    let new = c.buffer_m.get();
    if new == asset.buffer_m {
        return Err(unchanged("buffer", asset.id.as_str()));
    }
    let change = Change::AssetBuffer {
        asset_id: asset.id.clone(),
        old: asset.buffer_m,
        new,
    };
    corrected(s, change, &c.reason, ctx)
}
