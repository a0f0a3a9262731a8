//! Layers as GeoJSON FeatureCollections (RFC 7946), for dashboards and GIS tools.

use crate::domain::State;
use crate::domain::events::Layer;
use crate::read::{entity_view, layer_ids};
use serde_json::{Value, json};

fn geometry(state: &State, layer: Layer, id: &str) -> Value {
    let g = match layer {
        Layer::Teams => state
            .teams
            .get(id)
            .and_then(|t| t.fix)
            .map(|f| json!({"type": "Point", "coordinates": f.position})),
        Layer::Shelters => state
            .shelters
            .get(id)
            .map(|s| json!({"type": "Point", "coordinates": s.position})),
        Layer::Hazards => state
            .hazards
            .get(id)
            .map(|h| json!({"type": "Point", "coordinates": h.position})),
        Layer::Gauges => state
            .gauges
            .get(id)
            .map(|g| json!({"type": "Point", "coordinates": g.position})),
        Layer::Levees => state
            .levees
            .get(id)
            .map(|l| json!({"type": "LineString", "coordinates": l.line()})),
        Layer::Evacuations => state
            .evacuations
            .get(id)
            .map(|e| json!({"type": "Polygon", "coordinates": [e.zone]})),
        Layer::GridCells => state
            .grid_cells
            .get(id)
            .map(|c| json!({"type": "Polygon", "coordinates": [c.ring]})),
        Layer::Assignments | Layer::Response => None,
    };
    g.unwrap_or(Value::Null)
}

/// The whole layer; geometry-less entities (assignments, response levels) have `null` geometry.
pub fn layer_collection(state: &State, layer: Layer, seq: u64) -> Value {
    let features: Vec<Value> = layer_ids(state, layer)
        .iter()
        .filter_map(|id| {
            let mut props = entity_view(state, layer, id)?;
            if let Some(obj) = props.as_object_mut() {
                // Geometry carries these; do not repeat them in properties.
                for key in ["position", "line", "zone", "ring"] {
                    obj.remove(key);
                }
            }
            Some(json!({ "type": "Feature", "id": id, "geometry": geometry(state, layer, id), "properties": props }))
        })
        .collect();
    json!({ "type": "FeatureCollection", "crest_layer": layer, "crest_seq": seq, "features": features })
}
