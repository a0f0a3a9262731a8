//! Loading a district map: a directory of GeoJSON files (RFC 7946), one per layer, read with the
//! `geojson` crate; containment is checked on `geo` polygons (holes respected).
//!
//! Everything is read and checked before anything is written, so the server never starts on half
//! a map, nor on an empty one. A problem is reported with the file, the feature and the field.
//! The live layers (levees, patrol sections, protected assets, shelters, gauges, grid cells,
//! teams, depots) become reference-data commands that go through the engine like any other command, with
//! a deterministic id per feature (`map:<layer>:<id>`): loading the same map again is a no-op, and
//! a changed feature is reported instead of rewriting history. The static layers (district,
//! towns, villages, rivers, water, railways, roads) are served as they are. Patrol sections are
//! checked against the map's levees (`patrol`); their lines are for display, their commands carry
//! chainages. Protected assets (`assets`) are points or lines. Depots (`depots`) stand in their
//! town.

mod assets;
mod cells;
mod depots;
mod patrol;

use crate::domain::levee::Levee;
use crate::domain::{Command, LonLat, geo::Zone};
use geojson::{FeatureCollection, GeometryValue, JsonObject, Position};
use serde_json::Value;
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

/// What a live layer's features become.
struct Live {
    /// The command type.
    command: &'static str,
    /// Whether the command receives the geometry, under the field its type names (`position`,
    /// `line`, `ring`). A patrol section's line is for display only: its command has chainages.
    sends_geometry: bool,
}

/// A layer file: its geometry, and for live layers the command each feature becomes.
struct LayerSpec {
    name: &'static str,
    /// The geometry types its features may have: one, except for protected assets (a point or
    /// a line).
    geometry: &'static [Geometry],
    live: Option<Live>,
    /// Properties that belong to the map file only (checked here, not sent to the engine).
    map_only: &'static [&'static str],
}

impl LayerSpec {
    const fn fixed(name: &'static str, geometry: &'static [Geometry]) -> LayerSpec {
        LayerSpec {
            name,
            geometry,
            live: None,
            map_only: &[],
        }
    }

    const fn live(
        name: &'static str,
        geometry: &'static [Geometry],
        command: &'static str,
    ) -> LayerSpec {
        LayerSpec {
            name,
            geometry,
            live: Some(Live {
                command,
                sends_geometry: true,
            }),
            map_only: &[],
        }
    }

    /// `Point`, or `Point or LineString`.
    fn geometry_names(&self) -> String {
        self.geometry
            .iter()
            .map(|g| g.name())
            .collect::<Vec<_>>()
            .join(" or ")
    }
}

const POINT: &[Geometry] = &[Geometry::Point];
const LINE: &[Geometry] = &[Geometry::LineString];
const POLYGON: &[Geometry] = &[Geometry::Polygon];

/// In import order: levees before the patrol sections, flood zones and gauges that name them.
const LAYERS: [LayerSpec; 16] = [
    LayerSpec::fixed("district", POLYGON),
    LayerSpec::fixed("towns", POLYGON),
    LayerSpec::fixed("villages", POINT),
    LayerSpec {
        map_only: &["length_m"],
        ..LayerSpec::live("levees", LINE, "define_levee")
    },
    LayerSpec {
        live: Some(Live {
            command: "define_patrol_section",
            sends_geometry: false,
        }),
        ..LayerSpec::fixed("patrol_sections", LINE)
    },
    LayerSpec::live(
        "protected_assets",
        &[Geometry::Point, Geometry::LineString],
        "define_protected_asset",
    ),
    LayerSpec::live("flood_zones", POLYGON, "define_flood_zone"),
    LayerSpec::live("grid_cells", POLYGON, "define_grid_cell"),
    LayerSpec::live("shelters", POINT, "define_shelter"),
    LayerSpec::live("gauges", POINT, "define_gauge"),
    LayerSpec::live("teams", POINT, "register_team"),
    LayerSpec::live("depots", POINT, "define_depot"),
    LayerSpec::fixed("rivers", LINE),
    LayerSpec::fixed("water", POLYGON),
    LayerSpec::fixed("railways", LINE),
    LayerSpec::fixed("roads", LINE),
];

/// A map problem, naming the file, the feature and the field.
#[derive(Debug)]
pub struct MapError {
    /// The layer file, or the map directory itself.
    pub file: PathBuf,
    /// `feature 3 (id S-04)`, `file` for problems with the whole file, or empty for problems
    /// with the directory.
    pub location: String,
    pub message: String,
}

impl std::fmt::Display for MapError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.location.is_empty() {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(
                f,
                "{}: {}: {}",
                self.file.display(),
                self.location,
                self.message
            )
        }
    }
}

impl std::error::Error for MapError {}

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
    /// The `district` layer's id and name, read from its file once (every query's answer and
    /// the CAP texts name the district: parsing the district's boundary each time cost ~90 % of
    /// a `nearest_teams` query).
    district: std::sync::OnceLock<(Option<String>, Option<String>)>,
}

impl DistrictMap {
    pub fn layer(&self, name: &str) -> Option<&StaticLayer> {
        self.layers.iter().find(|l| l.name == name)
    }

    /// The district's name, from the `district` layer's first feature.
    pub fn district_name(&self) -> Option<&str> {
        self.district_parts().1.as_deref()
    }

    /// The district's id and name; `None` unless the map's `district` layer has both.
    pub fn district(&self) -> Option<(&str, &str)> {
        match self.district_parts() {
            (Some(id), Some(name)) => Some((id, name)),
            _ => None,
        }
    }

    fn district_parts(&self) -> &(Option<String>, Option<String>) {
        self.district.get_or_init(|| {
            let Some(collection) = self
                .layer("district")
                .and_then(|l| serde_json::from_slice::<Value>(&l.body).ok())
            else {
                return (None, None);
            };
            let properties = &collection["features"][0]["properties"];
            let text = |key: &str| properties[key].as_str().map(str::to_string);
            (text("id"), text("name"))
        })
    }
}

/// A checked geometry, positions validated.
enum Shape {
    Point(LonLat),
    Line(Vec<LonLat>),
    /// The outer ring first, then the holes; and the same as a `geo` polygon.
    Polygon {
        rings: Vec<Vec<LonLat>>,
        zone: Zone,
    },
}

impl Shape {
    fn point(&self) -> Option<LonLat> {
        match self {
            Shape::Point(p) => Some(*p),
            _ => None,
        }
    }

    fn zone(&self) -> Option<&Zone> {
        match self {
            Shape::Polygon { zone, .. } => Some(zone),
            _ => None,
        }
    }

    /// A polygon's rings, outer first; empty for points and lines.
    fn rings(&self) -> &[Vec<LonLat>] {
        match self {
            Shape::Polygon { rings, .. } => rings,
            _ => &[],
        }
    }

    /// The command field that receives the coordinates, and its value: a `position`, a `line`,
    /// or the outer `ring`.
    fn command_value(&self) -> (&'static str, Value) {
        let (field, v) = match self {
            Shape::Point(p) => ("position", serde_json::to_value(p)),
            Shape::Line(line) => ("line", serde_json::to_value(line)),
            Shape::Polygon { rings, .. } => ("ring", serde_json::to_value(&rings[0])),
        };
        (field, v.expect("positions serialize"))
    }

    fn line(&self) -> Option<&[LonLat]> {
        match self {
            Shape::Line(line) => Some(line),
            _ => None,
        }
    }
}

/// A parsed feature: its index, id, properties and geometry.
struct Feature {
    index: usize,
    id: String,
    props: JsonObject,
    shape: Shape,
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

/// The layer files Crest reads, for messages.
fn layer_files() -> String {
    LAYERS
        .iter()
        .map(|l| format!("{}.geojson", l.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A problem with the map directory itself: `what` is wrong with it, `detail` follows. Names the
/// directory as given and, when that is relative, where it is.
fn dir_err(dir: &Path, what: &str, detail: &str) -> MapError {
    let at = match std::path::absolute(dir) {
        Ok(abs) if abs != dir => format!(" (that is {})", abs.display()),
        _ => String::new(),
    };
    MapError {
        file: dir.to_path_buf(),
        location: String::new(),
        message: format!("{what}{at}{detail}"),
    }
}

/// Refuses a missing directory, one with no layer file, and `.geojson` files that are no layer
/// (a misspelt `shelter.geojson` would otherwise leave the shelters out without a word).
fn check_directory(dir: &Path) -> Result<(), MapError> {
    let unreadable =
        |e: std::io::Error| dir_err(dir, "the map directory cannot be read", &format!(": {e}"));
    match std::fs::metadata(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(dir_err(dir, "the map directory does not exist", ""));
        }
        Err(e) => return Err(unreadable(e)),
        Ok(m) if !m.is_dir() => {
            return Err(dir_err(
                dir,
                "is not a directory",
                "; --map takes the directory that holds the layer files",
            ));
        }
        Ok(_) => {}
    }
    let mut known = 0;
    let mut unknown = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(unreadable)? {
        let name = entry.map_err(unreadable)?.file_name();
        let name = name.to_string_lossy();
        let Some(layer) = name.strip_suffix(".geojson") else {
            continue;
        };
        if LAYERS.iter().any(|l| l.name == layer) {
            known += 1;
        } else {
            unknown.push(name.into_owned());
        }
    }
    if let Some(name) = unknown.iter().min() {
        return Err(MapError {
            file: dir.join(name),
            location: "file".into(),
            message: format!(
                "not a layer Crest knows; the layer files are {}",
                layer_files()
            ),
        });
    }
    if known == 0 {
        return Err(dir_err(
            dir,
            "the map directory has no layer file",
            &format!("; expected some of {}", layer_files()),
        ));
    }
    Ok(())
}

/// Reads and checks every layer present in `dir`. A directory without any layer file is refused.
pub fn load(dir: &Path) -> Result<DistrictMap, MapError> {
    let loader = Loader {
        dir: dir.to_path_buf(),
    };
    check_directory(dir)?;
    let mut map = DistrictMap::default();
    let mut features: HashMap<&'static str, Vec<Feature>> = HashMap::new();
    for spec in &LAYERS {
        let path = dir.join(format!("{}.geojson", spec.name));
        if !path.exists() {
            continue;
        }
        let raw = std::fs::read(&path).map_err(|e| loader.err(spec.name, "file", e.to_string()))?;
        let parsed = parse_layer(&loader, spec, &raw)?;
        let etag = format!("\"{}\"", crate::codec::hex(&Sha256::digest(&raw)[..12]));
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
    cells::check(&loader, &features)?;
    check_levees_on_land(&loader, &features)?;
    assets::check(&loader, features.get("protected_assets").map_or(&[], |l| l))?;
    depots::check(&loader, &features)?;
    let mut levees = HashMap::new();
    for spec in &LAYERS {
        let Some(list) = features.get(spec.name) else {
            continue;
        };
        if spec.name == "patrol_sections" {
            patrol::check(&loader, list, &levees)?;
        }
        let Some(live) = &spec.live else {
            continue;
        };
        for f in list {
            let command = to_command(&loader, spec, live, f)?;
            if let Command::DefineLevee(l) = &command.command {
                levees.insert(f.id.clone(), checked_levee(&loader, spec, f, l)?);
            }
            map.commands.push(command);
        }
    }
    Ok(map)
}

fn location(index: usize, id: Option<&str>) -> String {
    match id {
        Some(id) => format!("feature {index} (id {id})"),
        None => format!("feature {index}"),
    }
}

fn parse_layer(loader: &Loader, spec: &LayerSpec, raw: &[u8]) -> Result<Vec<Feature>, MapError> {
    let name = spec.name;
    let doc: FeatureCollection =
        serde_json::from_slice(raw).map_err(|e| diagnose(loader, spec, raw, e))?;
    if doc
        .foreign_members
        .as_ref()
        .is_some_and(|m| m.contains_key("crs"))
    {
        return Err(loader.err(
            name,
            "file",
            "field `crs`: RFC 7946 GeoJSON has no `crs`; coordinates are WGS84 [lon, lat]",
        ));
    }
    let mut seen = HashSet::new();
    let mut out = Vec::with_capacity(doc.features.len());
    for (index, f) in doc.features.into_iter().enumerate() {
        let props = f.properties.unwrap_or_default();
        let id = props.get("id").and_then(Value::as_str).map(str::to_string);
        let location = location(index, id.as_deref());
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
        let shape = check_geometry(f.geometry.as_ref().map(|g| &g.value), spec)
            .map_err(|m| loader.err(name, location.clone(), m))?;
        if spec.live.is_some() && shape.rings().len() > 1 {
            return Err(loader.err(
                name,
                location,
                format!(
                    "field `geometry.coordinates`: holes are not supported in the {name} layer (its polygons are one ring)"
                ),
            ));
        }
        out.push(Feature {
            index,
            id,
            props,
            shape,
        });
    }
    Ok(out)
}

/// Says what is wrong with a file that the `geojson` crate refused as a FeatureCollection: which
/// member, and for a feature which one and whether its geometry is at fault.
fn diagnose(loader: &Loader, spec: &LayerSpec, raw: &[u8], error: serde_json::Error) -> MapError {
    let name = spec.name;
    let doc: Value = match serde_json::from_slice(raw) {
        Ok(doc) => doc,
        Err(e) => return loader.err(name, "file", format!("not JSON: {e}")),
    };
    if doc.get("type").and_then(Value::as_str) != Some("FeatureCollection") {
        return loader.err(name, "file", "field `type`: must be \"FeatureCollection\"");
    }
    let Some(list) = doc.get("features").and_then(Value::as_array) else {
        return loader.err(name, "file", "field `features`: missing or not an array");
    };
    for (index, f) in list.iter().enumerate() {
        let at = location(index, f.pointer("/properties/id").and_then(Value::as_str));
        if let Some(g) = f.get("geometry").filter(|g| !g.is_null())
            && let Err(e) = serde_json::from_value::<geojson::Geometry>(g.clone())
        {
            let message = match g.get("type").and_then(Value::as_str) {
                Some(t) if spec.geometry.iter().any(|g| g.name() == t) => {
                    format!("field `geometry.coordinates`: {e}")
                }
                Some(t) if GEOMETRY_TYPES.contains(&t) => format!(
                    "field `geometry.type`: expected {}, found {t:?}",
                    spec.geometry_names()
                ),
                _ => format!("field `geometry.type`: {e}"),
            };
            return loader.err(name, at, message);
        }
        if let Err(e) = serde_json::from_value::<geojson::Feature>(f.clone()) {
            return loader.err(name, at, format!("not a GeoJSON Feature: {e}"));
        }
    }
    loader.err(
        name,
        "file",
        format!("not a GeoJSON FeatureCollection: {error}"),
    )
}

/// The geometry types of RFC 7946.
const GEOMETRY_TYPES: [&str; 7] = [
    "Point",
    "MultiPoint",
    "LineString",
    "MultiLineString",
    "Polygon",
    "MultiPolygon",
    "GeometryCollection",
];

/// Checks a position; says so when longitude and latitude look swapped.
fn position(p: &Position) -> Result<LonLat, String> {
    let pair = p.as_slice();
    if !(2..=3).contains(&pair.len()) {
        return Err("a position must be [lon, lat] (or [lon, lat, altitude])".into());
    }
    let (lon, lat) = (pair[0], pair[1]);
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

fn positions(v: &[Position]) -> Result<Vec<LonLat>, String> {
    v.iter().map(position).collect()
}

fn check_geometry(g: Option<&GeometryValue>, spec: &LayerSpec) -> Result<Shape, String> {
    let g = g.ok_or("field `geometry`: missing")?;
    let at = |m: String| format!("field `geometry.coordinates`: {m}");
    let accepts = |t: Geometry| spec.geometry.contains(&t);
    match g {
        GeometryValue::Point { coordinates } if accepts(Geometry::Point) => {
            Ok(Shape::Point(position(coordinates).map_err(at)?))
        }
        GeometryValue::LineString { coordinates } if accepts(Geometry::LineString) => {
            let line = positions(coordinates).map_err(at)?;
            if line.len() < 2 {
                return Err(at("a LineString needs at least 2 positions".into()));
            }
            Ok(Shape::Line(line))
        }
        GeometryValue::Polygon { coordinates } if accepts(Geometry::Polygon) => {
            polygon(coordinates).map_err(at)
        }
        _ => Err(format!(
            "field `geometry.type`: expected {}, found {:?}",
            spec.geometry_names(),
            g.type_name()
        )),
    }
}

/// Checks a polygon's rings: closed, at least 4 positions, an outer ring that encloses an area,
/// holes inside it.
fn polygon(coordinates: &[Vec<Position>]) -> Result<Shape, String> {
    if coordinates.is_empty() {
        return Err("expected [[positions]]: a Polygon needs its outer ring".into());
    }
    let mut rings = Vec::with_capacity(coordinates.len());
    for (i, ring) in coordinates.iter().enumerate() {
        let pts = positions(ring).map_err(|m| format!("ring {i}: {m}"))?;
        if pts.len() < 4 {
            return Err(format!(
                "ring {i}: a polygon ring needs at least 4 positions"
            ));
        }
        if pts.first() != pts.last() {
            return Err(format!(
                "ring {i}: not closed (the first position must be repeated last)"
            ));
        }
        rings.push(pts);
    }
    let outer = Zone::from_ring(&rings[0]);
    if outer.area_deg2() <= 0.0 {
        return Err("ring 0: the outer ring encloses no area".into());
    }
    for (i, hole) in rings.iter().enumerate().skip(1) {
        if !outer.covers_zone(&Zone::from_ring(hole)) {
            return Err(format!("ring {i}: a hole must lie inside the outer ring"));
        }
    }
    let zone = Zone::new(&rings[0], &rings[1..]);
    Ok(Shape::Polygon { rings, zone })
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
    let name_of = |layer: &str, id: &str| {
        features
            .get(layer)
            .and_then(|l| l.iter().find(|f| f.id == id))
            .and_then(|f| prop_str(f, "name"))
    };
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
        // A cell's display names are those of its town and village.
        for (key, layer, id_key) in [
            ("town_name", "towns", "town"),
            ("village_name", "villages", "village"),
        ] {
            if let (Some(name), Some(id)) = (prop_str(f, key), prop_str(f, id_key))
                && name_of(layer, id).is_some_and(|n| n != name)
            {
                return Err(loader.ferr(
                    "grid_cells",
                    f,
                    format!(
                        "field `properties.{key}`: {name}, but {id_key} {id} is called {}",
                        name_of(layer, id).unwrap_or_default()
                    ),
                ));
            }
        }
    }
    for f in features.get("flood_zones").into_iter().flatten() {
        if let Some(l) = prop_str(f, "levee_id")
            && !levees.contains(l)
        {
            return Err(loader.ferr(
                "flood_zones",
                f,
                format!("field `properties.levee_id`: unknown levee {l}"),
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

/// The zone of a polygon feature (the layer's geometry type was checked when it was parsed).
fn zone_of(f: &Feature) -> &Zone {
    f.shape
        .zone()
        .expect("a polygon layer's features are polygons")
}

/// Villages lie inside their towns, grid cells inside the district (holes respected: a village
/// in a town's hole is outside it, and a cell must not reach into the district's holes), and
/// populations add up: villages → town, towns → district, grid cells → village.
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
        let p = v
            .shape
            .point()
            .expect("villages are points (checked when parsed)");
        if !zone_of(towns[t]).contains(p) {
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
        let district = zone_of(d);
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
        for layer in ["grid_cells", "flood_zones"] {
            for c in features.get(layer).into_iter().flatten() {
                let cell = zone_of(c);
                if district.covers_zone(cell) {
                    continue;
                }
                let message = match c.shape.rings()[0].iter().find(|p| !district.covers(**p)) {
                    Some(outside) => format!("{outside} is outside the district"),
                    None => format!(
                        "the {} reaches outside the district (across its edge or into a hole)",
                        if layer == "grid_cells" {
                            "cell"
                        } else {
                            "zone"
                        }
                    ),
                };
                return Err(loader.ferr(
                    layer,
                    c,
                    format!("field `geometry.coordinates`: {message}"),
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

/// No levee stands in the water: every vertex of a levee lies outside every water polygon.
fn check_levees_on_land(
    loader: &Loader,
    features: &HashMap<&'static str, Vec<Feature>>,
) -> Result<(), MapError> {
    let water = features.get("water").map_or(&[][..], |w| w);
    for levee in features.get("levees").into_iter().flatten() {
        let line = levee
            .shape
            .line()
            .expect("levees are lines (checked when parsed)");
        for (i, p) in line.iter().enumerate() {
            if let Some(w) = water.iter().find(|w| zone_of(w).contains(*p)) {
                return Err(loader.ferr(
                    "levees",
                    levee,
                    format!(
                        "field `geometry.coordinates`: position {i} {p} lies in the water ({}, id {}); a levee stands on the bank",
                        prop_str(w, "name").unwrap_or("water.geojson"),
                        w.id
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
    live: &Live,
    f: &Feature,
) -> Result<MapCommand, MapError> {
    let mut body = f.props.clone();
    for key in spec.map_only {
        body.remove(*key);
    }
    body.insert("type".into(), Value::String(live.command.into()));
    if live.sends_geometry {
        let (field, value) = f.shape.command_value();
        body.insert(field.into(), value);
    }
    let cmd: Command = serde_json::from_value(Value::Object(body))
        .map_err(|e| loader.ferr(spec.name, f, format!("field `properties`: {e}")))?;
    Ok(MapCommand {
        command_id: format!("map:{}:{}", spec.name, f.id),
        command: cmd,
    })
}

/// The domain's levee of a `define_levee` feature; its declared `length_m` matches its line.
fn checked_levee(
    loader: &Loader,
    spec: &LayerSpec,
    f: &Feature,
    define: &crate::domain::commands::DefineLevee,
) -> Result<Levee, MapError> {
    let levee = Levee::try_from(define.clone())
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
    Ok(levee)
}

#[cfg(test)]
mod tests;
