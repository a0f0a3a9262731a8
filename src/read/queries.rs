//! Answers to `query` messages, from the committed projection.

use crate::projection::Projection;
use crate::protocol::{ChainageToPoint, ErrorCode, InBbox, Query, WireError};
use serde_json::Value;

/// The `result` of a query, or why it cannot be answered.
/// `now` is the engine's clock (what "overdue" is judged against); `district` the district map's
/// name, for the title of the situation report.
pub fn answer(
    p: &Projection,
    query: Query,
    now: i64,
    district: Option<&str>,
) -> Result<Value, WireError> {
    let (state, spatial) = (&p.state, &p.spatial);
    let v = match query {
        Query::NearestTeams(q) => {
            let teams = spatial.nearest_teams(state, q.point, q.limit.as_usize(), q.capability);
            serde_json::json!({ "seq": p.seq, "teams": teams })
        }
        Query::NearestShelters(q) => {
            let shelters =
                spatial.nearest_shelters(state, q.point, q.min_free.get(), q.limit.as_usize());
            serde_json::json!({ "seq": p.seq, "shelters": shelters })
        }
        Query::SnapToLevee(q) => {
            let location = spatial.levees.snap(q.point, q.tolerance_m.get());
            serde_json::json!({ "seq": p.seq, "location": location })
        }
        Query::ChainageToPoint(ChainageToPoint { levee_id, chainage }) => {
            let levee = state.levees.get(&levee_id).ok_or_else(|| {
                WireError::new(
                    ErrorCode::NotFound,
                    format!("levee {levee_id} does not exist"),
                    format!("堤防{levee_id}不存在"),
                )
            })?;
            let point = levee.point_at(chainage.metres()).ok_or_else(|| {
                WireError::new(
                    ErrorCode::InvalidValue,
                    format!(
                        "{chainage} is outside levee {levee_id} ({:.0}..{:.0} m)",
                        levee.start_chainage_m(),
                        levee.end_chainage_m()
                    ),
                    format!(
                        "{chainage}超出堤防{levee_id}（{:.0}..{:.0} 米）",
                        levee.start_chainage_m(),
                        levee.end_chainage_m()
                    ),
                )
            })?;
            serde_json::json!({ "seq": p.seq, "point": point, "chainage": chainage.to_string() })
        }
        Query::InBbox(InBbox { layer, bbox }) => {
            serde_json::json!({ "seq": p.seq, "layer": layer, "ids": spatial.in_bbox(state, layer, &bbox) })
        }
        Query::Layer(q) => {
            let entities: Vec<Value> = super::layer_ids(state, q.layer)
                .iter()
                .filter_map(|id| super::entity_view(state, q.layer, id))
                .collect();
            serde_json::json!({ "seq": p.seq, "layer": q.layer, "entities": entities })
        }
        Query::PatrolCoverage(q) => {
            if !state.levees.contains_key(&q.levee_id) {
                return Err(WireError::new(
                    ErrorCode::NotFound,
                    format!("levee {} does not exist", q.levee_id),
                    format!("堤防{}不存在", q.levee_id),
                ));
            }
            let sections: Vec<Value> = state
                .sections_along(&q.levee_id, f64::MIN, f64::MAX)
                .map(|s| super::patrols::board(state, s, now))
                .collect();
            serde_json::json!({ "seq": p.seq, "now_ms": now, "levee_id": q.levee_id, "sections": sections })
        }
        Query::PatrolGaps(_) => {
            serde_json::json!({ "seq": p.seq, "now_ms": now, "gaps": super::patrols::gaps(state, now) })
        }
        Query::PatrolHistory(q) => {
            let section = state.patrol_sections.get(&q.section_id).ok_or_else(|| {
                WireError::new(
                    ErrorCode::NotFound,
                    format!("patrol section {} does not exist", q.section_id),
                    format!("巡查责任段{}不存在", q.section_id),
                )
            })?;
            let from = q.from_ms.map_or(i64::MIN, |t| t.get());
            let until = q.until_ms.map_or(i64::MAX, |t| t.get());
            serde_json::json!({ "seq": p.seq, "section_id": section.id, "passes": super::patrols::history(section, from, until) })
        }
        Query::Vocabulary(_) => {
            serde_json::json!({ "seq": p.seq, "vocabulary": crate::domain::vocabulary::vocabulary() })
        }
        Query::EvacuationStatus(q) => {
            if let Some(id) = &q.evacuation_id
                && !state.evacuations.contains_key(id)
            {
                return Err(WireError::new(
                    ErrorCode::NotFound,
                    format!("evacuation {id} does not exist"),
                    format!("转移令{id}不存在"),
                ));
            }
            serde_json::json!({ "seq": p.seq, "evacuation": super::people::evacuation(state, q.evacuation_id.as_ref()) })
        }
        Query::EvacuationPreview(q) => {
            let cells = crate::domain::people_at_risk(state, q.zone.points());
            let mut population = 0u64;
            let mut vulnerable = crate::domain::model::Vulnerable::default();
            for c in &cells {
                population += u64::from(c.at_risk);
                vulnerable = crate::domain::evacuation::plus(&vulnerable, &c.vulnerable_at_risk);
            }
            let cells: Vec<Value> = cells
                .iter()
                .map(|c| {
                    serde_json::json!({
                        "cell_id": c.cell_id, "town": c.town, "village": c.village,
                        "town_name": c.town_name, "village_name": c.village_name,
                        "share": c.share, "at_risk": c.at_risk,
                        "vulnerable_at_risk": c.vulnerable_at_risk,
                    })
                })
                .collect();
            serde_json::json!({ "seq": p.seq, "population": population, "vulnerable_at_risk": vulnerable, "cells": cells })
        }
        Query::Casualties(_) => {
            // Newest first: by the number Crest gave them (CA-10 after CA-9, not after CA-1).
            let mut all: Vec<_> = state.casualties.values().collect();
            all.sort_by_key(|r| std::cmp::Reverse((r.id.as_str().len(), r.id.as_str())));
            let records: Vec<_> = all
                .into_iter()
                .map(|r| super::view_of(state, crate::domain::Layer::Casualties, r.id.as_str()))
                .collect();
            serde_json::json!({ "seq": p.seq, "casualties": super::people::casualties(state), "records": records })
        }
        Query::Hydrograph(q) => super::gauges::hydrograph(
            state,
            p.seq,
            q.gauge_id.as_str(),
            q.from_ms.map(|t| t.get()),
            q.until_ms.map(|t| t.get()),
        )?,
        Query::Corrections(q) => super::gauges::corrections(
            state,
            p.seq,
            q.subject_id.as_deref(),
            q.field,
            q.limit.as_usize(),
        ),
        Query::Sitrep(q) => {
            let header = super::sitrep_markdown::Header {
                district: district.map(str::to_string),
                at_ms: now,
                seq: p.seq,
            };
            super::sitrep_markdown::report(state, &header, q.format, q.lang)
        }
        Query::Materials(_) => {
            let mut v = serde_json::json!(super::materials::board(state));
            v["seq"] = p.seq.into();
            v
        }
    };
    Ok(v)
}
