//! Loading a district map: a directory of GeoJSON files (RFC 7946), one per layer.
//!
//! Everything is read and checked before anything is written, so the server never starts on half
//! a map. A problem is reported with the file, the feature and the field. The live layers (levees,
//! shelters, gauges, grid cells, teams) become reference-data commands that go through the engine
//! like any other command, with a deterministic id per feature (`map:<layer>:<id>`): loading the
//! same map again is a no-op, and a changed feature is reported instead of rewriting history. The
//! static layers (district, towns, villages, rivers, water, railways, roads) are served as they are.

use crate::domain::{Command, LonLat, geo::ring_contains};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Geometry {
    Point,
    LineString,
    Polygon,
}

impl Geometry {
    fn name(self) -> &'static str {
        match self {
            Geometry::Point => "Point",
            Geometry::LineString => "LineString",
            Geometry::Polygon => "Polygon",
        }
    }
}

/// A layer file: its geometry, and for live layers the command each feature becomes.
struct LayerSpec {
    name: &'static str,
    geometry: Geometry,
    /// Command type and the command field that receives the geometry.
    command: Option<(&'static str, &'static str)>,
    /// Properties that belong to the map file only (checked here, not sent to the engine).
    map_only: &'static [&'static str],
}

/// In import order: levees before the gauges that name them.
const LAYERS: [LayerSpec; 12] = [
    LayerSpec {
        name: "district",
        geometry: Geometry::Polygon,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "towns",
        geometry: Geometry::Polygon,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "villages",
        geometry: Geometry::Point,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "levees",
        geometry: Geometry::LineString,
        command: Some(("define_levee", "line")),
        map_only: &["length_m"],
    },
    LayerSpec {
        name: "grid_cells",
        geometry: Geometry::Polygon,
        command: Some(("define_grid_cell", "ring")),
        map_only: &[],
    },
    LayerSpec {
        name: "shelters",
        geometry: Geometry::Point,
        command: Some(("define_shelter", "position")),
        map_only: &[],
    },
    LayerSpec {
        name: "gauges",
        geometry: Geometry::Point,
        command: Some(("define_gauge", "position")),
        map_only: &[],
    },
    LayerSpec {
        name: "teams",
        geometry: Geometry::Point,
        command: Some(("register_team", "position")),
        map_only: &[],
    },
    LayerSpec {
        name: "rivers",
        geometry: Geometry::LineString,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "water",
        geometry: Geometry::Polygon,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "railways",
        geometry: Geometry::LineString,
        command: None,
        map_only: &[],
    },
    LayerSpec {
        name: "roads",
        geometry: Geometry::LineString,
        command: None,
        map_only: &[],
    },
];

/// A map problem, naming the file, the feature and the field.
#[derive(Debug, thiserror::Error)]
#[error("{}: {location}: {message}", file.display())]
pub struct MapError {
    pub file: PathBuf,
    /// `feature 3 (id S-04)`, or `file` for problems with the whole file.
    pub location: String,
    pub message: String,
}

/// One live feature, ready to submit.
#[derive(Debug, Clone)]
pub struct MapCommand {
    pub command_id: String,
    pub command: Command,
}

/// A layer file as served to dashboards.
#[derive(Debug, Clone)]
pub struct StaticLayer {
    pub name: &'static str,
    pub body: bytes::Bytes,
    /// Strong validator: a hash of the file.
    pub etag: String,
    pub features: usize,
}

/// A loaded, checked map.
#[derive(Debug, Clone, Default)]
pub struct DistrictMap {
    /// Live features in import order.
    pub commands: Vec<MapCommand>,
    pub layers: Vec<StaticLayer>,
}

impl DistrictMap {
    pub fn layer(&self, name: &str) -> Option<&StaticLayer> {
        self.layers.iter().find(|l| l.name == name)
    }
}

/// A parsed feature: its index, id, properties and geometry coordinates.
struct Feature {
    index: usize,
    id: String,
    props: Map<String, Value>,
    coords: Value,
}

impl Feature {
    fn location(&self) -> String {
        format!("feature {} (id {})", self.index, self.id)
    }
}

struct Loader {
    dir: PathBuf,
}

impl Loader {
    fn err(
        &self,
        layer: &str,
        location: impl Into<String>,
        message: impl Into<String>,
    ) -> MapError {
        MapError {
            file: self.dir.join(format!("{layer}.geojson")),
            location: location.into(),
            message: message.into(),
        }
    }

    fn ferr(&self, layer: &str, f: &Feature, message: impl Into<String>) -> MapError {
        self.err(layer, f.location(), message)
    }
}

/// Reads and checks every layer present in `dir`.
pub fn load(dir: &Path) -> Result<DistrictMap, MapError> {
    let loader = Loader {
        dir: dir.to_path_buf(),
    };
    if !dir.is_dir() {
        return Err(MapError {
            file: dir.to_path_buf(),
            location: "directory".into(),
            message: "not a directory".into(),
        });
    }
    let mut map = DistrictMap::default();
    let mut features: HashMap<&'static str, Vec<Feature>> = HashMap::new();
    for spec in &LAYERS {
        let path = dir.join(format!("{}.geojson", spec.name));
        if !path.exists() {
            continue;
        }
        let raw = std::fs::read(&path).map_err(|e| loader.err(spec.name, "file", e.to_string()))?;
        let parsed = parse_layer(&loader, spec, &raw)?;
        let etag = format!(
            "\"{}\"",
            Sha256::digest(&raw)
                .iter()
                .take(12)
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        map.layers.push(StaticLayer {
            name: spec.name,
            body: raw.into(),
            etag,
            features: parsed.len(),
        });
        features.insert(spec.name, parsed);
    }
    check_references(&loader, &features)?;
    check_containment_and_population(&loader, &features)?;
    for spec in &LAYERS {
        let (Some((command, field)), Some(list)) = (spec.command, features.get(spec.name)) else {
            continue;
        };
        for f in list {
            map.commands
                .push(to_command(&loader, spec, command, field, f)?);
        }
    }
    Ok(map)
}

fn parse_layer(loader: &Loader, spec: &LayerSpec, raw: &[u8]) -> Result<Vec<Feature>, MapError> {
    let name = spec.name;
    let doc: Value = serde_json::from_slice(raw)
        .map_err(|e| loader.err(name, "file", format!("not JSON: {e}")))?;
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return Err(loader.err(name, "file", "field `type`: must be \"FeatureCollection\""));
    }
    if doc.get("crs").is_some() {
        return Err(loader.err(
            name,
            "file",
            "field `crs`: RFC 7946 GeoJSON has no `crs`; coordinates are WGS84 [lon, lat]",
        ));
    }
    let list = doc
        .get("features")
        .and_then(Value::as_array)
        .ok_or_else(|| loader.err(name, "file", "field `features`: missing or not an array"))?;
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(list.len());
    for (index, f) in list.iter().enumerate() {
        let props = f
            .get("properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        let id = props.get("id").and_then(Value::as_str).map(str::to_string);
        let location = format!(
            "feature {index}{}",
            id.as_ref()
                .map(|id| format!(" (id {id})"))
                .unwrap_or_default()
        );
        let id = id.ok_or_else(|| {
            loader.err(
                name,
                location.clone(),
                "field `properties.id`: missing (every feature needs a string id)",
            )
        })?;
        if !seen.insert(id.clone()) {
            return Err(loader.err(
                name,
                location,
                format!("field `properties.id`: duplicate id {id}"),
            ));
        }
        let coords =
            check_geometry(f, spec.geometry).map_err(|m| loader.err(name, location.clone(), m))?;
        out.push(Feature {
            index,
            id,
            props,
            coords,
        });
    }
    Ok(out)
}

/// Checks a position; says so when longitude and latitude look swapped.
fn position(p: &Value) -> Result<LonLat, String> {
    let pair = p
        .as_array()
        .filter(|a| a.len() == 2 || a.len() == 3)
        .ok_or("a position must be [lon, lat]")?;
    let (Some(lon), Some(lat)) = (pair[0].as_f64(), pair[1].as_f64()) else {
        return Err("a position must be two numbers [lon, lat]".into());
    };
    if !(-90.0..=90.0).contains(&lat)
        && (-90.0..=90.0).contains(&lon)
        && (-180.0..=180.0).contains(&lat)
    {
        return Err(format!(
            "[{lon}, {lat}]: latitude {lat} is out of range — longitude and latitude swapped? GeoJSON order is [lon, lat]"
        ));
    }
    LonLat::new(lon, lat).map_err(|e| format!("[{lon}, {lat}]: {e}"))
}

fn positions(v: &Value) -> Result<Vec<LonLat>, String> {
    v.as_array()
        .ok_or("expected an array of positions")?
        .iter()
        .map(position)
        .collect()
}

fn check_geometry(f: &Value, expected: Geometry) -> Result<Value, String> {
    let g = f
        .get("geometry")
        .filter(|g| !g.is_null())
        .ok_or("field `geometry`: missing")?;
    let kind = g.get("type").and_then(Value::as_str).unwrap_or("");
    if kind != expected.name() {
        return Err(format!(
            "field `geometry.type`: expected {}, found {kind:?}",
            expected.name()
        ));
    }
    let coords = g
        .get("coordinates")
        .ok_or("field `geometry.coordinates`: missing")?;
    let at = |m: String| format!("field `geometry.coordinates`: {m}");
    match expected {
        Geometry::Point => {
            position(coords).map_err(at)?;
            Ok(coords.clone())
        }
        Geometry::LineString => {
            let line = positions(coords).map_err(at)?;
            if line.len() < 2 {
                return Err(at("a LineString needs at least 2 positions".into()));
            }
            Ok(coords.clone())
        }
        Geometry::Polygon => {
            let rings = coords
                .as_array()
                .filter(|r| !r.is_empty())
                .ok_or_else(|| at("expected [[positions]]".into()))?;
            for (i, ring) in rings.iter().enumerate() {
                let pts = positions(ring).map_err(|m| at(format!("ring {i}: {m}")))?;
                if pts.len() < 4 {
                    return Err(at(format!(
                        "ring {i}: a polygon ring needs at least 4 positions"
                    )));
                }
                if pts.first() != pts.last() {
                    return Err(at(format!(
                        "ring {i}: not closed (the first position must be repeated last)"
                    )));
                }
            }
            // The outer ring is what Crest uses.
            Ok(rings[0].clone())
        }
    }
}

fn prop_str<'a>(f: &'a Feature, key: &str) -> Option<&'a str> {
    f.props
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn prop_u64(loader: &Loader, layer: &str, f: &Feature, key: &str) -> Result<u64, MapError> {
    f.props.get(key).and_then(Value::as_u64).ok_or_else(|| {
        loader.ferr(
            layer,
            f,
            format!("field `properties.{key}`: missing or not a non-negative integer"),
        )
    })
}

/// Every `town`, `village` and `levee_ids` reference resolves.
fn check_references(
    loader: &Loader,
    features: &HashMap<&'static str, Vec<Feature>>,
) -> Result<(), MapError> {
    let ids = |layer: &str| -> HashSet<&str> {
        features
            .get(layer)
            .map(|l| l.iter().map(|f| f.id.as_str()).collect())
            .unwrap_or_default()
    };
    let (towns, villages, levees) = (ids("towns"), ids("villages"), ids("levees"));
    for layer in ["villages", "grid_cells", "shelters"] {
        for f in features.get(layer).into_iter().flatten() {
            if let Some(t) = prop_str(f, "town")
                && !towns.contains(t)
            {
                return Err(loader.ferr(
                    layer,
                    f,
                    format!("field `properties.town`: unknown town {t}"),
                ));
            }
        }
    }
    for f in features.get("grid_cells").into_iter().flatten() {
        if let Some(v) = prop_str(f, "village")
            && !villages.contains(v)
        {
            return Err(loader.ferr(
                "grid_cells",
                f,
                format!("field `properties.village`: unknown village {v}"),
            ));
        }
    }
    for f in features.get("gauges").into_iter().flatten() {
        for l in f
            .props
            .get("levee_ids")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let l = l.as_str().unwrap_or_default();
            if !levees.contains(l) {
                return Err(loader.ferr(
                    "gauges",
                    f,
                    format!("field `properties.levee_ids`: unknown levee {l:?}"),
                ));
            }
        }
    }
    Ok(())
}

fn ring_of(f: &Feature) -> Vec<LonLat> {
    positions(&f.coords).unwrap_or_default()
}

/// Villages lie inside their towns, grid cells inside the district, and populations add up:
/// villages → town, towns → district, grid cells → village.
fn check_containment_and_population(
    loader: &Loader,
    features: &HashMap<&'static str, Vec<Feature>>,
) -> Result<(), MapError> {
    let towns: HashMap<&str, &Feature> = features
        .get("towns")
        .into_iter()
        .flatten()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let district = features.get("district").and_then(|d| d.first());
    if let Some(list) = features.get("district")
        && list.len() != 1
    {
        return Err(loader.err(
            "district",
            "file",
            format!(
                "field `features`: exactly one district polygon expected, found {}",
                list.len()
            ),
        ));
    }
    let mut town_sums: HashMap<&str, u64> = HashMap::new();
    let mut village_pop: HashMap<&str, u64> = HashMap::new();
    for v in features.get("villages").into_iter().flatten() {
        let pop = prop_u64(loader, "villages", v, "population")?;
        village_pop.insert(v.id.as_str(), pop);
        let Some(t) = prop_str(v, "town") else {
            return Err(loader.ferr("villages", v, "field `properties.town`: missing"));
        };
        let p = position(&v.coords).map_err(|m| loader.ferr("villages", v, m))?;
        if !ring_contains(&ring_of(towns[t]), p) {
            return Err(loader.ferr(
                "villages",
                v,
                format!("field `geometry.coordinates`: {p} is not inside its town {t}"),
            ));
        }
        *town_sums.entry(t).or_default() += pop;
    }
    if features.contains_key("villages") {
        for t in features.get("towns").into_iter().flatten() {
            let declared = prop_u64(loader, "towns", t, "population")?;
            let sum = town_sums.get(t.id.as_str()).copied().unwrap_or(0);
            if declared != sum {
                return Err(loader.ferr("towns", t, format!("field `properties.population`: {declared}, but its villages add up to {sum}")));
            }
        }
    }
    if let Some(d) = district {
        let ring = ring_of(d);
        if !towns.is_empty() {
            let declared = prop_u64(loader, "district", d, "population")?;
            let mut sum = 0;
            for t in features.get("towns").into_iter().flatten() {
                sum += prop_u64(loader, "towns", t, "population")?;
            }
            if declared != sum {
                return Err(loader.ferr(
                    "district",
                    d,
                    format!(
                        "field `properties.population`: {declared}, but the towns add up to {sum}"
                    ),
                ));
            }
        }
        for c in features.get("grid_cells").into_iter().flatten() {
            if let Some(outside) = ring_of(c).into_iter().find(|p| !ring_contains(&ring, *p)) {
                return Err(loader.ferr(
                    "grid_cells",
                    c,
                    format!("field `geometry.coordinates`: {outside} is outside the district"),
                ));
            }
        }
    }
    if !village_pop.is_empty() {
        let mut cell_sums: HashMap<&str, u64> = HashMap::new();
        for c in features.get("grid_cells").into_iter().flatten() {
            let pop = prop_u64(loader, "grid_cells", c, "population")?;
            if let Some(v) = prop_str(c, "village") {
                *cell_sums.entry(v).or_default() += pop;
            }
        }
        for v in features.get("villages").into_iter().flatten() {
            let sum = cell_sums.get(v.id.as_str()).copied().unwrap_or(0);
            if sum != village_pop[v.id.as_str()] {
                return Err(loader.ferr(
                    "villages",
                    v,
                    format!(
                        "field `properties.population`: {}, but its grid cells add up to {sum}",
                        village_pop[v.id.as_str()]
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn to_command(
    loader: &Loader,
    spec: &LayerSpec,
    command: &str,
    field: &str,
    f: &Feature,
) -> Result<MapCommand, MapError> {
    let mut body = f.props.clone();
    for key in spec.map_only {
        body.remove(*key);
    }
    body.insert("type".into(), Value::String(command.into()));
    body.insert(field.into(), f.coords.clone());
    let cmd: Command = serde_json::from_value(Value::Object(body))
        .map_err(|e| loader.ferr(spec.name, f, format!("field `properties`: {e}")))?;
    if let Command::DefineLevee(l) = &cmd {
        let levee = crate::domain::levee::Levee::try_from(l.clone())
            .map_err(|e| loader.ferr(spec.name, f, format!("field `geometry`: {e}")))?;
        if let Some(declared) = f.props.get("length_m").and_then(Value::as_f64)
            && (declared - levee.length_m()).abs() > 1.0 + levee.length_m() * 0.001
        {
            return Err(loader.ferr(
                spec.name,
                f,
                format!(
                    "field `properties.length_m`: {declared} m, but the line is {:.1} m long",
                    levee.length_m()
                ),
            ));
        }
    }
    Ok(MapCommand {
        command_id: format!("map:{}:{}", spec.name, f.id),
        command: cmd,
    })
}

#[cfg(test)]
mod tests;
