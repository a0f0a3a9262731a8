//! Answers to `query` messages, from the committed projection.

use crate::projection::Projection;
use crate::protocol::{ErrorCode, MAX_QUERY_LIMIT, MAX_SNAP_TOLERANCE_M, Query, WireError};
use serde_json::Value;

/// The `result` of a query, or why it cannot be answered.
pub fn answer(p: &Projection, query: Query) -> Result<Value, WireError> {
    let (state, spatial) = (&p.state, &p.spatial);
    let limit_ok = |limit: usize| {
        if limit == 0 || limit > MAX_QUERY_LIMIT {
            Err(WireError::new(
                ErrorCode::InvalidField,
                format!("limit must be 1 to {}", MAX_QUERY_LIMIT),
            ))
        } else {
            Ok(limit)
        }
    };
    let v = match query {
        Query::NearestTeams {
            point,
            limit,
            capability,
        } => {
            serde_json::json!({ "seq": p.seq, "teams": spatial.nearest_teams(state, point, limit_ok(limit)?, capability) })
        }
        Query::NearestShelters {
            point,
            min_free,
            limit,
        } => {
            serde_json::json!({ "seq": p.seq, "shelters": spatial.nearest_shelters(state, point, min_free, limit_ok(limit)?) })
        }
        Query::SnapToLevee { point, tolerance_m } => {
            if !(0.0..=MAX_SNAP_TOLERANCE_M).contains(&tolerance_m) {
                return Err(WireError::new(
                    ErrorCode::InvalidField,
                    format!("tolerance_m must be 0 to {}", MAX_SNAP_TOLERANCE_M),
                ));
            }
            serde_json::json!({ "seq": p.seq, "location": spatial.levees.snap(point, tolerance_m) })
        }
        Query::ChainageToPoint { levee_id, chainage } => {
            let levee = state.levees.get(&levee_id).ok_or_else(|| {
                WireError::new(
                    ErrorCode::NotFound,
                    format!("levee {levee_id} does not exist"),
                )
            })?;
            let point = levee.point_at(chainage.metres()).ok_or_else(|| {
                WireError::new(
                    ErrorCode::InvalidField,
                    format!(
                        "{chainage} is outside levee {levee_id} ({:.0}..{:.0} m)",
                        levee.start_chainage_m(),
                        levee.end_chainage_m()
                    ),
                )
            })?;
            serde_json::json!({ "seq": p.seq, "point": point, "chainage": chainage.to_string() })
        }
        Query::InBbox { layer, bbox } => {
            serde_json::json!({ "seq": p.seq, "layer": layer, "ids": spatial.in_bbox(state, layer, &bbox) })
        }
        Query::Sitrep {} => {
            serde_json::json!({ "seq": p.seq, "sitrep": super::sitrep(state) })
        }
    };
    Ok(v)
}
