//! Loading a district map: a directory of GeoJSON files, one per layer, turned into the
//! reference-data commands (`define_levee`, `define_shelter`, …) that put it into the event log.
//!
//! The log stays the only truth: a map is imported through the engine like any other command,
//! with a deterministic command id per feature (`map:<layer>:<id>`), so loading the same map again
//! is a no-op and a changed feature is reported instead of silently overwriting history.

use crate::domain::Command;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A map layer file and how its features become commands.
struct LayerFile {
    file: &'static str,
    command: &'static str,
    geometry: &'static str,
    /// Field of the command that receives the coordinates.
    field: &'static str,
}

const LAYERS: [LayerFile; 5] = [
    LayerFile {
        file: "levees.geojson",
        command: "define_levee",
        geometry: "LineString",
        field: "line",
    },
    LayerFile {
        file: "shelters.geojson",
        command: "define_shelter",
        geometry: "Point",
        field: "position",
    },
    LayerFile {
        file: "gauges.geojson",
        command: "define_gauge",
        geometry: "Point",
        field: "position",
    },
    LayerFile {
        file: "grid_cells.geojson",
        command: "define_grid_cell",
        geometry: "Polygon",
        field: "ring",
    },
    LayerFile {
        file: "teams.geojson",
        command: "register_team",
        geometry: "Point",
        field: "position",
    },
];

/// A map problem, naming the file, the feature and the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {location}: {message}")]
pub struct MapError {
    pub file: PathBuf,
    /// `feature 3 (id S-04)`, or `file` for problems with the whole file.
    pub location: String,
    pub message: String,
}

/// One feature, ready to submit.
#[derive(Debug, Clone)]
pub struct MapCommand {
    pub command_id: String,
    pub command: Command,
}

/// Reads every known layer file present in `dir`. Fails on the first broken feature, so the
/// server never starts on half a map.
pub fn load(dir: &Path) -> Result<Vec<MapCommand>, MapError> {
    if !dir.is_dir() {
        return Err(MapError {
            file: dir.to_path_buf(),
            location: "directory".into(),
            message: "not a directory".into(),
        });
    }
    let mut out = Vec::new();
    for layer in &LAYERS {
        let path = dir.join(layer.file);
        if path.exists() {
            out.extend(load_layer(&path, layer)?);
        }
    }
    Ok(out)
}

fn load_layer(path: &Path, layer: &LayerFile) -> Result<Vec<MapCommand>, MapError> {
    let err = |location: String, message: String| MapError {
        file: path.to_path_buf(),
        location,
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err("file".into(), e.to_string()))?;
    let doc: Value =
        serde_json::from_str(&text).map_err(|e| err("file".into(), format!("not JSON: {e}")))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(err(
            "file".into(),
            "must be a GeoJSON FeatureCollection".into(),
        ));
    }
    if doc.get("crs").is_some() {
        return Err(err(
            "file".into(),
            "RFC 7946 GeoJSON has no `crs` member; coordinates are WGS84 lon/lat".into(),
        ));
    }
    let features = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| err("file".into(), "missing `features` array".into()))?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(features.len());
    for (i, f) in features.iter().enumerate() {
        let props = f
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id = props.get("id").and_then(Value::as_str).map(str::to_string);
        let location = format!(
            "feature {i}{}",
            id.as_ref()
                .map(|id| format!(" (id {id})"))
                .unwrap_or_default()
        );
        let id = id.ok_or_else(|| {
            err(
                location.clone(),
                "field `properties.id`: missing (a string id is required)".into(),
            )
        })?;
        if !seen.insert(id.clone()) {
            return Err(err(
                location,
                format!("field `properties.id`: duplicate id {id}"),
            ));
        }
        let coords = geometry(f, layer).map_err(|m| err(location.clone(), m))?;
        let mut body: Map<String, Value> = props;
        body.insert("type".into(), Value::String(layer.command.into()));
        body.insert(layer.field.into(), coords);
        let command: Command = serde_json::from_value(Value::Object(body)).map_err(|e| {
            err(
                location.clone(),
                format!("field {}", describe(&e.to_string(), layer.field)),
            )
        })?;
        out.push(MapCommand {
            command_id: format!("map:{}:{id}", layer.file.trim_end_matches(".geojson")),
            command,
        });
    }
    Ok(out)
}

/// Makes serde's message name the field; coordinate problems belong to the geometry.
fn describe(msg: &str, geometry_field: &str) -> String {
    if msg.contains(crate::domain::geo::INVALID_COORDINATES) {
        return format!("`geometry.coordinates` ({geometry_field}): {msg}");
    }
    msg.to_string()
}

fn geometry(f: &Value, layer: &LayerFile) -> Result<Value, String> {
    let g = f
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or("field `geometry`: missing")?;
    let kind = g.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != layer.geometry {
        return Err(format!(
            "field `geometry.type`: expected {}, found {kind:?}",
            layer.geometry
        ));
    }
    let coords = g
        .get("coordinates")
        .ok_or("field `geometry.coordinates`: missing")?;
    let check = |p: &Value| -> Result<(), String> {
        let pair = p
            .as_array()
            .filter(|a| a.len() >= 2)
            .ok_or("field `geometry.coordinates`: a position must be [lon, lat]")?;
        let (lon, lat) = (
            pair[0].as_f64().unwrap_or(f64::NAN),
            pair[1].as_f64().unwrap_or(f64::NAN),
        );
        if !(-90.0..=90.0).contains(&lat)
            && (-90.0..=90.0).contains(&lon)
            && (-180.0..=180.0).contains(&lat)
        {
            return Err(format!(
                "field `geometry.coordinates`: latitude {lat} out of range — longitude and latitude swapped? GeoJSON order is [lon, lat]"
            ));
        }
        crate::domain::LonLat::new(lon, lat)
            .map(|_| ())
            .map_err(|e| format!("field `geometry.coordinates`: {e}"))
    };
    match layer.geometry {
        "Point" => {
            check(coords)?;
            Ok(coords.clone())
        }
        "LineString" => {
            let line = coords
                .as_array()
                .ok_or("field `geometry.coordinates`: expected an array of positions")?;
            line.iter().try_for_each(check)?;
            Ok(coords.clone())
        }
        _ => {
            // Polygon: the outer ring; it must be closed.
            let ring = coords
                .get(0)
                .and_then(Value::as_array)
                .ok_or("field `geometry.coordinates`: expected [[positions]]")?;
            ring.iter().try_for_each(check)?;
            if ring.len() < 4 || ring.first() != ring.last() {
                return Err("field `geometry.coordinates`: polygon ring must be closed (first position repeated last) with at least 4 positions".into());
            }
            Ok(Value::Array(ring.clone()))
        }
    }
}
