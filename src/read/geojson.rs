//! Layers as GeoJSON FeatureCollections (RFC 7946), for dashboards and GIS tools, written with the
//! `geojson` crate. Each collection carries two foreign members, `crest_layer` and `crest_seq`.

use super::{entity_view, layer_ids};
use crate::domain::events::Layer;
use crate::domain::{LonLat, State};
use ::geojson::{Feature, FeatureCollection, Geometry, JsonObject, feature::Id};
use serde_json::Value;

fn position(p: LonLat) -> [f64; 2] {
    [p.lon(), p.lat()]
}

fn ring(points: &[LonLat]) -> Vec<[f64; 2]> {
    points.iter().copied().map(position).collect()
}

fn geometry(state: &State, layer: Layer, id: &str) -> Option<Geometry> {
    match layer {
        Layer::Teams => state
            .teams
            .get(id)
            .and_then(|t| t.fix)
            .map(|f| Geometry::new_point(position(f.position))),
        Layer::Shelters => state
            .shelters
            .get(id)
            .map(|s| Geometry::new_point(position(s.position))),
        Layer::Hazards => state
            .hazards
            .get(id)
            .map(|h| Geometry::new_point(position(h.position))),
        Layer::Gauges => state
            .gauges
            .get(id)
            .map(|g| Geometry::new_point(position(g.position))),
        Layer::Levees => state
            .levees
            .get(id)
            .map(|l| Geometry::new_line_string(ring(l.line()))),
        Layer::Evacuations => state
            .evacuations
            .get(id)
            .map(|e| Geometry::new_polygon([ring(&e.zone)])),
        Layer::Casualties => state
            .casualties
            .get(id)
            .and_then(|c| c.position)
            .map(|p| Geometry::new_point(position(p))),
        Layer::GridCells => state
            .grid_cells
            .get(id)
            .map(|c| Geometry::new_polygon([ring(&c.ring)])),
        Layer::PatrolSections => {
            let s = state.patrol_sections.get(id)?;
            let levee = state.levees.get(&s.levee_id)?;
            let line: Vec<LonLat> = s
                .points
                .iter()
                .filter_map(|p| levee.point_at(p.chainage_m))
                .collect();
            (line.len() >= 2).then(|| Geometry::new_line_string(ring(&line)))
        }
        // An alert is drawn where its subject is, when that is a point.
        Layer::Alerts => {
            let a = state.alerts.get(id)?;
            if a.layer == Layer::Alerts {
                return None;
            }
            geometry(state, a.layer, &a.subject_id)
                .filter(|g| matches!(g.value, geojson::GeometryValue::Point { .. }))
        }
        Layer::ProtectedAssets => {
            use crate::domain::incidents::AssetPlace;
            Some(match &state.assets.get(id)?.place {
                AssetPlace::Point { position: p } => Geometry::new_point(position(*p)),
                AssetPlace::Line { course } => Geometry::new_line_string(ring(course.line())),
            })
        }
        // At its command post, or at its hazard until it has one.
        Layer::Incidents => {
            let i = state.incidents.get(id)?;
            let p = match &i.post {
                Some(post) => post.position,
                None => state.hazards.get(&i.hazard_id)?.position,
            };
            Some(Geometry::new_point(position(p)))
        }
        Layer::Depots => state
            .materials
            .depots
            .get(id)
            .map(|d| Geometry::new_point(position(d.position))),
        // Drawn at their site.
        Layer::Shipments => {
            let site = &state.materials.shipments.get(id)?.site;
            super::materials::site_position(state, site).map(|p| Geometry::new_point(position(p)))
        }
        Layer::MaterialRequests => {
            let site = &state.materials.requests.get(id)?.site;
            super::materials::site_position(state, site).map(|p| Geometry::new_point(position(p)))
        }
        Layer::FloodZones => state
            .flood_zones
            .get(id)
            .map(|z| Geometry::new_polygon([ring(&z.ring)])),
        Layer::Assignments | Layer::Response | Layer::Journal => None,
    }
}

/// The whole layer; geometry-less entities (assignments, response levels) have `null` geometry.
/// Its `Display` is the JSON text served.
pub fn layer_collection(state: &State, layer: Layer, seq: u64) -> FeatureCollection {
    let features = layer_ids(state, layer)
        .iter()
        .filter_map(|id| {
            let Value::Object(mut props) = entity_view(state, layer, id)? else {
                return None;
            };
            // Geometry carries these; do not repeat them in properties.
            for key in ["position", "line", "zone", "ring"] {
                props.remove(key);
            }
            Some(Feature {
                bbox: None,
                geometry: geometry(state, layer, id),
                id: Some(Id::String(id.clone())),
                properties: Some(props),
                foreign_members: None,
            })
        })
        .collect();
    let mut members = JsonObject::new();
    members.insert("crest_layer".into(), Value::from(layer.name()));
    members.insert("crest_seq".into(), Value::from(seq));
    if let Some(e) = &state.exercise {
        // A drill's layers can never be taken for the live picture.
        members.insert(
            "crest_exercise".into(),
            serde_json::json!({"title": e.title}),
        );
    }
    FeatureCollection {
        bbox: None,
        features,
        foreign_members: Some(members),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::state::Context;
    use crate::domain::{Actor, Command};
    use crate::spatial::Spatial;
    use serde_json::json;

    /// The collection as it was written by hand before the `geojson` crate (verbatim): the
    /// shape clients rely on.
    fn old_geometry(state: &State, layer: Layer, id: &str) -> Value {
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
            // Layers that came after the hand-written version: not compared.
            Layer::PatrolSections
            | Layer::Alerts
            | Layer::ProtectedAssets
            | Layer::Incidents
            | Layer::Casualties
            | Layer::Depots
            | Layer::Shipments
            | Layer::MaterialRequests
            | Layer::FloodZones => {
                return Value::Null;
            }
            Layer::Assignments | Layer::Response | Layer::Journal => None,
        };
        g.unwrap_or(Value::Null)
    }

    fn old_layer_collection(state: &State, layer: Layer, seq: u64) -> Value {
        let features: Vec<Value> = layer_ids(state, layer)
            .iter()
            .filter_map(|id| {
                let mut props = entity_view(state, layer, id)?;
                if let Some(obj) = props.as_object_mut() {
                    for key in ["position", "line", "zone", "ring"] {
                        obj.remove(key);
                    }
                }
                Some(json!({ "type": "Feature", "id": id, "geometry": old_geometry(state, layer, id), "properties": props }))
            })
            .collect();
        json!({ "type": "FeatureCollection", "crest_layer": layer, "crest_seq": seq, "features": features })
    }

    /// One entity in every layer, made by protocol commands.
    fn state() -> State {
        let commands = [
            json!({"type": "define_levee", "id": "L-1", "name": "堤", "line": [[113.0, 27.0], [113.0, 27.1]], "riverside": "left"}),
            json!({"type": "define_shelter", "id": "S-1", "name": "学校", "position": [113.05, 27.06], "capacity": 300}),
            json!({"type": "define_gauge", "id": "G-1", "name": "站", "position": [113.01, 27.05], "datum": "吴淞", "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}}),
            json!({"type": "define_grid_cell", "id": "GC-1", "ring": [[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.0]], "population": 10}),
            json!({"type": "register_team", "id": "T-01", "name": "队", "kind": "militia", "headcount": 5, "travel_mode": "foot", "position": [113.02, 27.05]}),
            json!({"type": "register_team", "id": "T-02", "name": "队", "kind": "militia", "headcount": 5, "travel_mode": "foot"}),
            json!({"type": "report_hazard", "kind": "piping", "severity": "major", "position": [113.0005, 27.05]}),
            json!({"type": "issue_evacuation_order", "name": "撤", "zone": [[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.0]]}),
            json!({"type": "create_assignment", "team_id": "T-01", "target": {"kind": "shelter", "shelter_id": "S-1"}}),
            json!({"type": "set_response_level", "jurisdiction": "涪口区", "level": "IV"}),
            json!({"type": "define_protected_asset", "id": "PA-1", "name": "学校", "kind": "school", "priority": 2, "buffer_m": 300, "position": [113.0005, 27.06]}),
            json!({"type": "open_incident", "hazard_id": "HZ-1"}),
            json!({"type": "record_casualty", "kind": "trapped", "count": 2, "position": [113.03, 27.04], "source": "网格员"}),
            json!({"type": "define_patrol_section", "id": "PS-1", "levee_id": "L-1", "from": 0, "to": 500,
                   "points": [{"id": "P-1", "chainage": 0}, {"id": "P-2", "chainage": 250}, {"id": "P-3", "chainage": 500}]}),
            json!({"type": "define_depot", "id": "D-1", "name": "仓库", "position": [113.04, 27.05], "stock": {"sandbags": 100}}),
            json!({"type": "issue_materials", "depot_id": "D-1", "site": {"kind": "incident", "incident_id": "IN-1"}, "items": {"sandbags": 10}}),
            json!({"type": "request_materials", "team_id": "T-01", "site": {"kind": "levee_stretch", "levee_id": "L-1", "from": 0, "to": 200}, "items": {"块石": 10}}),
            json!({"type": "record_note", "text": "18时起降暴雨"}),
            json!({"type": "define_flood_zone", "id": "FZ-1", "name": "淹没区", "levee_id": "L-1",
                   "ring": [[113.0, 27.0], [113.02, 27.0], [113.02, 27.1], [113.0, 27.1], [113.0, 27.0]]}),
        ];
        let mut s = State::default();
        let actor = Actor::system();
        for c in commands {
            let cmd: Command =
                serde_json::from_value(c.clone()).unwrap_or_else(|e| panic!("{c}: {e}"));
            let snapper = Spatial::build(&s).levees;
            let ctx = Context {
                now_ms: 1_000,
                actor: &actor,
                snapper: &snapper,
            };
            // Handled: the grid cell without a grid worker raises an alert.
            s.handle(&cmd, &ctx).unwrap_or_else(|e| panic!("{c}: {e}"));
        }
        s
    }

    #[test]
    fn every_layer_keeps_the_shape_clients_know() {
        let s = state();
        for &layer in Layer::ALL {
            assert!(
                !layer_ids(&s, layer).is_empty(),
                "{} has an entity",
                layer.name()
            );
            let text = layer_collection(&s, layer, 42).to_string();
            let got: Value = serde_json::from_str(&text).unwrap();
            if matches!(
                layer,
                Layer::ProtectedAssets
                    | Layer::Incidents
                    | Layer::Casualties
                    | Layer::Depots
                    | Layer::Shipments
                    | Layer::MaterialRequests
            ) {
                assert_eq!(got["features"][0]["geometry"]["type"], "Point", "{got}");
                continue;
            }
            if layer == Layer::FloodZones {
                // Newer than the hand-written version: its polygon, its levee in properties.
                assert_eq!(got["features"][0]["geometry"]["type"], "Polygon", "{got}");
                assert_eq!(got["features"][0]["properties"]["levee_id"], "L-1", "{got}");
                assert!(got["features"][0]["properties"].get("ring").is_none());
                continue;
            }
            if layer == Layer::PatrolSections {
                // Newer than the hand-written version: drawn along its levee.
                assert_eq!(
                    got["features"][0]["geometry"]["type"], "LineString",
                    "{got}"
                );
                continue;
            }
            if layer == Layer::Alerts {
                // Drawn at its subject when that is a point; a grid cell's alert has none.
                assert_eq!(
                    got["features"][0]["properties"]["kind"],
                    "grid_cell_unstaffed"
                );
                assert!(got["features"][0]["geometry"].is_null(), "{got}");
                continue;
            }
            assert_eq!(got, old_layer_collection(&s, layer, 42), "{}", layer.name());
        }
        let levees: Value =
            serde_json::from_str(&layer_collection(&s, Layer::Levees, 7).to_string()).unwrap();
        assert_eq!(levees["crest_layer"], "levees");
        assert_eq!(levees["crest_seq"], 7);
        assert_eq!(levees["features"][0]["id"], "L-1");
        assert_eq!(levees["features"][0]["geometry"]["type"], "LineString");
        assert!(levees["features"][0]["properties"].get("line").is_none());
        // A shipment is drawn at its incident, a request in the middle of its stretch.
        let at = |layer| {
            let v: Value =
                serde_json::from_str(&layer_collection(&s, layer, 7).to_string()).unwrap();
            v["features"][0]["geometry"]["coordinates"].clone()
        };
        assert_eq!(at(Layer::Shipments), json!([113.0005, 27.05]));
        let mid = at(Layer::MaterialRequests);
        assert_eq!(mid[0], json!(113.0));
        assert!(
            (mid[1].as_f64().unwrap() - (27.0 + 100.0 / 111_195.0)).abs() < 1e-5,
            "{mid}"
        );
    }
}
