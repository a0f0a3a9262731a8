//! Every loader error, each from a small valid map with one thing broken.

use super::*;
use serde_json::json;

fn square(w: f64, s: f64, e: f64, n: f64) -> Value {
    json!([[[w, s], [e, s], [e, n], [w, n], [w, s]]])
}

fn fc(features: Vec<Value>) -> Value {
    json!({ "type": "FeatureCollection", "features": features })
}

fn feat(kind: &str, coordinates: Value, props: Value) -> Value {
    json!({ "type": "Feature", "geometry": { "type": kind, "coordinates": coordinates }, "properties": props })
}

/// A valid little district: two towns side by side, a village in each, one grid cell per village
/// (each the whole of its town: the cells tile the district), a levee with its flood zone, a
/// shelter, a gauge and a team.
fn valid() -> HashMap<&'static str, Value> {
    HashMap::from([
        (
            "district",
            fc(vec![feat(
                "Polygon",
                square(113.0, 27.0, 113.2, 27.1),
                json!({"id": "D", "name": "d", "population": 300}),
            )]),
        ),
        (
            "towns",
            fc(vec![
                feat(
                    "Polygon",
                    square(113.0, 27.0, 113.1, 27.1),
                    json!({"id": "T-A", "name": "甲镇", "population": 100}),
                ),
                feat(
                    "Polygon",
                    square(113.1, 27.0, 113.2, 27.1),
                    json!({"id": "T-B", "name": "乙镇", "population": 200}),
                ),
            ]),
        ),
        (
            "villages",
            fc(vec![
                feat(
                    "Point",
                    json!([113.05, 27.05]),
                    json!({"id": "V-A", "name": "a", "town": "T-A", "population": 100}),
                ),
                feat(
                    "Point",
                    json!([113.15, 27.05]),
                    json!({"id": "V-B", "name": "b", "town": "T-B", "population": 200}),
                ),
            ]),
        ),
        (
            "grid_cells",
            fc(vec![
                feat(
                    "Polygon",
                    square(113.0, 27.0, 113.1, 27.1),
                    json!({"id": "G-A", "town": "T-A", "village": "V-A", "population": 100,
                           "grid_worker_id": "GW-001", "grid_worker": "李"}),
                ),
                feat(
                    "Polygon",
                    square(113.1, 27.0, 113.2, 27.1),
                    json!({"id": "G-B", "town": "T-B", "village": "V-B", "population": 200,
                           "grid_worker_id": "GW-001", "grid_worker": "李"}),
                ),
            ]),
        ),
        (
            "levees",
            fc(vec![
                feat(
                    "LineString",
                    json!([[113.01, 27.0], [113.01, 27.1]]),
                    json!({"id": "L-1", "name": "堤", "riverside": "left", "length_m": 11119.5}),
                ),
                feat(
                    "LineString",
                    json!([[113.02, 27.0], [113.02, 27.016]]),
                    json!({"id": "L-2", "name": "短堤", "riverside": "right", "length_m": 1779.1}),
                ),
            ]),
        ),
        (
            "patrol_sections",
            fc(vec![
                section(
                    "PS-A",
                    [0.0, 900.0],
                    json!([
                        point("PP-A-1", 0.0, "regular"),
                        point("PP-A-2", 300.0, "regular"),
                        point("PP-A-3", 450.0, "structure"),
                        point("PP-A-4", 600.0, "regular"),
                        point("PP-A-5", 900.0, "regular"),
                    ]),
                ),
                section(
                    "PS-B",
                    [885.0, 1779.0],
                    json!([
                        point("PP-B-1", 885.0, "regular"),
                        point("PP-B-2", 1185.0, "regular"),
                        point("PP-B-3", 1485.0, "regular"),
                        point("PP-B-4", 1779.0, "regular"),
                    ]),
                ),
            ]),
        ),
        (
            "protected_assets",
            fc(vec![
                feat(
                    "LineString",
                    json!([[113.03, 27.1], [113.03, 27.0]]),
                    json!({"id": "PA-R", "name": "铁路", "kind": "railway", "priority": 1, "buffer_m": 500, "chainage_origin_m": 1_650_000.0}),
                ),
                feat(
                    "Point",
                    json!([113.05, 27.05]),
                    json!({"id": "PA-S", "name": "变电站", "kind": "substation", "priority": 2, "buffer_m": 300}),
                ),
            ]),
        ),
        (
            "flood_zones",
            fc(vec![feat(
                "Polygon",
                square(113.01, 27.0, 113.04, 27.1),
                json!({"id": "FZ-1", "name": "堤后淹没区", "levee_id": "L-1"}),
            )]),
        ),
        (
            "shelters",
            fc(vec![feat(
                "Point",
                json!([113.05, 27.06]),
                json!({"id": "S-1", "name": "学校", "capacity": 300, "town": "T-A"}),
            )]),
        ),
        (
            "gauges",
            fc(vec![feat(
                "Point",
                json!([113.01, 27.05]),
                json!({"id": "G-1", "name": "站", "datum": "吴淞", "thresholds": {"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5}, "levee_ids": ["L-1"]}),
            )]),
        ),
        (
            "teams",
            fc(vec![feat(
                "Point",
                json!([113.05, 27.05]),
                json!({"id": "T-01", "name": "队", "kind": "militia", "headcount": 5, "travel_mode": "foot"}),
            )]),
        ),
    ])
}

/// Metres of latitude per degree on the sphere of the domain's distances.
const M_PER_DEG_LAT: f64 = 111_195.08;

/// A patrol section of levee L-2 (which runs due north from 27.0 N with chainage 0 there), its
/// line drawn from `from` to `to`.
fn section(id: &str, [from, to]: [f64; 2], points: Value) -> Value {
    let lat = |m: f64| 27.0 + m / M_PER_DEG_LAT;
    feat(
        "LineString",
        json!([[113.02, lat(from)], [113.02, lat(to)]]),
        json!({"id": id, "name": id, "levee_id": "L-2", "from": from, "to": to, "points": points}),
    )
}

fn point(id: &str, chainage: f64, kind: &str) -> Value {
    json!({"id": id, "chainage": chainage, "kind": kind, "name": id})
}

fn write(layers: &HashMap<&'static str, Value>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, doc) in layers {
        std::fs::write(dir.path().join(format!("{name}.geojson")), doc.to_string()).unwrap();
    }
    dir
}

/// Loads the valid map with `edit` applied and returns the error.
fn broken(edit: impl FnOnce(&mut HashMap<&'static str, Value>)) -> MapError {
    let mut layers = valid();
    edit(&mut layers);
    let dir = write(&layers);
    load(dir.path()).expect_err("the broken map is refused")
}

fn assert_names(e: &MapError, file: &str, location: &str, message: &str) {
    assert!(e.file.ends_with(format!("{file}.geojson")), "file: {e}");
    assert!(e.location.contains(location), "location: {e}");
    assert!(e.message.contains(message), "message: {e}");
}

#[test]
fn the_valid_map_loads_with_levees_first() {
    let dir = write(&valid());
    let map = load(dir.path()).unwrap();
    let ids: Vec<&str> = map.commands.iter().map(|c| c.command_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "map:levees:L-1",
            "map:levees:L-2",
            "map:patrol_sections:PS-A",
            "map:patrol_sections:PS-B",
            "map:protected_assets:PA-R",
            "map:protected_assets:PA-S",
            "map:flood_zones:FZ-1",
            "map:grid_cells:G-A",
            "map:grid_cells:G-B",
            "map:shelters:S-1",
            "map:gauges:G-1",
            "map:teams:T-01"
        ]
    );
    assert_eq!(map.layer("towns").unwrap().features, 2);
    assert_eq!(map.layer("patrol_sections").unwrap().features, 2);
    assert_eq!(map.layer("protected_assets").unwrap().features, 2);
    assert!(map.layer("roads").is_none());
    assert_eq!(map.district(), Some(("D", "d")));
    assert_eq!(map.district_name(), Some("d"), "asked twice, the same");
    assert_eq!(
        DistrictMap::default().district_name(),
        None,
        "no map, no name"
    );
}

#[test]
fn whole_file_problems() {
    let e = broken(|m| m.get_mut("towns").unwrap()["type"] = json!("Feature"));
    assert_names(&e, "towns", "file", "FeatureCollection");
    let e = broken(|m| m.get_mut("towns").unwrap()["crs"] = json!({"type": "name"}));
    assert_names(&e, "towns", "file", "crs");
    let e = broken(|m| m.get_mut("towns").unwrap()["features"] = json!(7));
    assert_names(&e, "towns", "file", "features");
    let dir = write(&valid());
    std::fs::write(dir.path().join("roads.geojson"), "{ not json").unwrap();
    assert_names(&load(dir.path()).unwrap_err(), "roads", "file", "not JSON");
    let missing = dir.path().join("nope");
    let e = load(&missing).unwrap_err();
    assert_eq!(e.file, missing);
    assert!(e.message.contains("does not exist"), "{e}");
    assert!(e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    let a_file = dir.path().join("towns.geojson");
    let e = load(&a_file).unwrap_err();
    assert!(
        e.to_string().contains("towns.geojson: is not a directory"),
        "{e}"
    );
    let e = broken(|m| {
        let d = m.get_mut("district").unwrap();
        let mut second = d["features"][0].clone();
        second["properties"]["id"] = json!("D2");
        d["features"].as_array_mut().unwrap().push(second);
    });
    assert_names(
        &e,
        "district",
        "file",
        "exactly one district polygon expected, found 2",
    );
}

#[test]
fn ids_missing_or_duplicated() {
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("id")
            .map(|_| ())
            .unwrap()
    });
    assert_names(&e, "shelters", "feature 0", "`properties.id`: missing");
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][1]["properties"]["id"] = json!("V-A")
    });
    assert_names(&e, "villages", "feature 1 (id V-A)", "duplicate id V-A");
}

#[test]
fn bad_geometry() {
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["geometry"]["type"] = json!("Polygon")
    });
    assert_names(
        &e,
        "shelters",
        "feature 0 (id S-1)",
        "`geometry.type`: expected Point",
    );
    let e = broken(|m| m.get_mut("shelters").unwrap()["features"][0]["geometry"] = Value::Null);
    assert_names(&e, "shelters", "(id S-1)", "`geometry`: missing");
    let e = broken(|m| {
        m.get_mut("levees").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([[113.01, 27.0]])
    });
    assert_names(&e, "levees", "(id L-1)", "at least 2 positions");
    let e = broken(|m| {
        m.get_mut("gauges").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!(["113", "27"])
    });
    assert_names(
        &e,
        "gauges",
        "(id G-1)",
        "`geometry.coordinates`: invalid type: string",
    );
    let e = broken(|m| {
        m.get_mut("gauges").unwrap()["features"][0]["geometry"]["coordinates"] = json!([113.0])
    });
    assert_names(&e, "gauges", "(id G-1)", "`geometry.coordinates`");
    let e = broken(|m| {
        m.get_mut("levees").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([[113.01, 27.0], [113.01, 27.1, 3.0, 4.0]])
    });
    assert_names(&e, "levees", "(id L-1)", "a position must be [lon, lat]");
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["geometry"]["type"] = json!("Pointe")
    });
    assert_names(&e, "shelters", "(id S-1)", "`geometry.type`");
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([[[113.0, 27.0], [113.1, 27.0], [113.1, 27.1], [113.0, 27.1]]])
    });
    assert_names(&e, "towns", "(id T-A)", "not closed");
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([[[113.0, 27.0], [113.1, 27.0], [113.0, 27.0]]])
    });
    assert_names(&e, "towns", "(id T-A)", "at least 4 positions");
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][0]["geometry"]["coordinates"] = json!([])
    });
    assert_names(&e, "towns", "(id T-A)", "[[positions]]");
}

#[test]
fn swapped_and_out_of_range_coordinates() {
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([27.05, 113.05])
    });
    assert_names(&e, "villages", "(id V-A)", "swapped");
    assert!(e.message.contains("`geometry.coordinates`"), "{e}");
    let e = broken(|m| {
        m.get_mut("levees").unwrap()["features"][0]["geometry"]["coordinates"][1] =
            json!([193.0, 27.1])
    });
    assert_names(&e, "levees", "(id L-1)", "longitude 193 is outside");
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([113.0, -95.0])
    });
    assert_names(&e, "shelters", "(id S-1)", "latitude -95 is outside");
}

#[test]
fn references_to_unknown_towns_villages_and_levees() {
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][0]["properties"]["town"] = json!("T-X")
    });
    assert_names(
        &e,
        "villages",
        "(id V-A)",
        "`properties.town`: unknown town T-X",
    );
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["properties"]["town"] = json!("T-X")
    });
    assert_names(&e, "shelters", "(id S-1)", "unknown town T-X");
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][1]["properties"]["village"] = json!("V-X")
    });
    assert_names(
        &e,
        "grid_cells",
        "(id G-B)",
        "`properties.village`: unknown village V-X",
    );
    // A cell's display names are its town's and village's.
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][0]["properties"]["village_name"] =
            json!("将军村")
    });
    assert_names(
        &e,
        "grid_cells",
        "(id G-A)",
        "`properties.village_name`: 将军村, but village V-A is called a",
    );
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][0]["properties"]["town_name"] = json!("乙镇")
    });
    assert_names(&e, "grid_cells", "(id G-A)", "`properties.town_name`: 乙镇");
    let e = broken(|m| {
        m.get_mut("gauges").unwrap()["features"][0]["properties"]["levee_ids"] =
            json!(["L-1", "L-9"])
    });
    assert_names(
        &e,
        "gauges",
        "(id G-1)",
        "`properties.levee_ids`: unknown levee \"L-9\"",
    );
    let e = broken(|m| {
        m.remove("towns");
    });
    assert!(e.message.contains("unknown town"), "{e}");
}

#[test]
fn places_must_be_where_they_belong() {
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([113.15, 27.02])
    });
    assert_names(&e, "villages", "(id V-A)", "not inside its town T-A");
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][0]["geometry"]["coordinates"] =
            square(112.98, 27.04, 113.06, 27.06)
    });
    assert_names(&e, "grid_cells", "(id G-A)", "outside the district");
}

#[test]
fn populations_must_add_up() {
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][1]["properties"]["population"] = json!(201)
    });
    assert_names(
        &e,
        "towns",
        "(id T-B)",
        "201, but its villages add up to 200",
    );
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][1]["properties"]["population"] = json!(201);
        m.get_mut("villages").unwrap()["features"][1]["properties"]["population"] = json!(201);
        m.get_mut("grid_cells").unwrap()["features"][1]["properties"]["population"] = json!(201);
    });
    assert_names(&e, "district", "(id D)", "300, but the towns add up to 301");
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][0]["properties"]["population"] = json!(99)
    });
    assert_names(
        &e,
        "villages",
        "(id V-A)",
        "100, but its grid cells add up to 99",
    );
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][0]["properties"]["population"] = json!("many")
    });
    assert_names(&e, "villages", "(id V-A)", "`properties.population`");
}

#[test]
fn live_feature_fields_are_checked() {
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("capacity")
            .map(|_| ())
            .unwrap()
    });
    assert_names(&e, "shelters", "(id S-1)", "missing field `capacity`");
    let e = broken(|m| {
        m.get_mut("teams").unwrap()["features"][0]["properties"]["kind"] = json!("pirates")
    });
    assert_names(&e, "teams", "(id T-01)", "pirates");
    let e = broken(|m| {
        m.get_mut("shelters").unwrap()["features"][0]["properties"]["colour"] = json!("red")
    });
    assert_names(&e, "shelters", "(id S-1)", "unknown field `colour`");
    let e = broken(|m| {
        m.get_mut("levees").unwrap()["features"][0]["properties"]["length_m"] = json!(12000.0)
    });
    assert_names(
        &e,
        "levees",
        "(id L-1)",
        "`properties.length_m`: 12000 m, but the line is 11119.5 m long",
    );
    let e = broken(|m| {
        m.get_mut("levees").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([[113.01, 27.0], [113.01, 27.0]])
    });
    assert_names(&e, "levees", "(id L-1)", "positive length");
}

#[test]
fn an_empty_or_misnamed_map_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(dir.path()).unwrap_err();
    assert_eq!(e.file, dir.path());
    assert!(
        e.message.contains("no layer file") && e.message.contains("shelters.geojson"),
        "{e}"
    );
    assert!(
        e.to_string().contains(&*dir.path().to_string_lossy()),
        "{e}"
    );
    // Other files are no layers, and do not count.
    std::fs::write(dir.path().join("README.md"), "a map").unwrap();
    assert!(
        load(dir.path())
            .unwrap_err()
            .message
            .contains("no layer file")
    );
    // A misspelt layer would silently be left out: refused, naming the file.
    let mut layers = valid();
    let shelters = layers.remove("shelters").unwrap();
    let dir = write(&layers);
    std::fs::write(dir.path().join("shelter.geojson"), shelters.to_string()).unwrap();
    let e = load(dir.path()).unwrap_err();
    assert!(e.file.ends_with("shelter.geojson"), "{e}");
    assert!(e.message.contains("not a layer"), "{e}");
}

#[test]
fn a_relative_map_directory_is_named_as_given_and_resolved() {
    let e = load(Path::new("no/such/map")).unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("no/such/map: the map directory does not exist"),
        "{text}"
    );
    let abs = std::env::current_dir().unwrap().join("no/such/map");
    assert!(text.contains(&*abs.to_string_lossy()), "{text}");
}

/// A square ring with a square hole.
fn square_with_hole(outer: [f64; 4], hole: [f64; 4]) -> Value {
    let [w, s, e, n] = outer;
    let [hw, hs, he, hn] = hole;
    json!([
        [[w, s], [e, s], [e, n], [w, n], [w, s]],
        [[hw, hs], [hw, hn], [he, hn], [he, hs], [hw, hs]]
    ])
}

#[test]
fn holes_are_respected() {
    // A town with a hole away from its village loads; the same hole around the village does not.
    let mut layers = valid();
    layers.get_mut("towns").unwrap()["features"][0]["geometry"]["coordinates"] =
        square_with_hole([113.0, 27.0, 113.1, 27.1], [113.07, 27.07, 113.09, 27.09]);
    load(write(&layers).path()).expect("a town with a hole");
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][0]["geometry"]["coordinates"] =
            square_with_hole([113.0, 27.0, 113.1, 27.1], [113.04, 27.04, 113.06, 27.06])
    });
    assert_names(&e, "villages", "(id V-A)", "not inside its town T-A");
    // A grid cell whose corners all lie in the district but which covers a hole of it.
    let e = broken(|m| {
        m.get_mut("district").unwrap()["features"][0]["geometry"]["coordinates"] = square_with_hole(
            [113.0, 27.0, 113.2, 27.1],
            [113.045, 27.045, 113.055, 27.055],
        )
    });
    assert_names(
        &e,
        "grid_cells",
        "(id G-A)",
        "reaches outside the district (across its edge or into a hole)",
    );
    // A hole outside its outer ring, and a ring around no area.
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][1]["geometry"]["coordinates"] =
            square_with_hole([113.1, 27.0, 113.2, 27.1], [113.3, 27.0, 113.4, 27.1])
    });
    assert_names(
        &e,
        "towns",
        "(id T-B)",
        "ring 1: a hole must lie inside the outer ring",
    );
    let e = broken(|m| {
        m.get_mut("towns").unwrap()["features"][1]["geometry"]["coordinates"] =
            json!([[[113.1, 27.0], [113.2, 27.0], [113.15, 27.0], [113.1, 27.0]]])
    });
    assert_names(&e, "towns", "(id T-B)", "encloses no area");
    // Live grid cells are one ring: a hole would be dropped, so it is refused.
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][0]["geometry"]["coordinates"] =
            square_with_hole(
                [113.04, 27.04, 113.06, 27.06],
                [113.045, 27.045, 113.05, 27.05],
            )
    });
    assert_names(&e, "grid_cells", "(id G-A)", "holes are not supported");
}

#[test]
fn a_position_may_carry_an_altitude_which_commands_do_not() {
    let mut layers = valid();
    layers.get_mut("shelters").unwrap()["features"][0]["geometry"]["coordinates"] =
        json!([113.05, 27.06, 35.5]);
    let map = load(write(&layers).path()).unwrap();
    let shelter = map
        .commands
        .iter()
        .find(|c| c.command_id == "map:shelters:S-1")
        .unwrap();
    let Command::DefineShelter(s) = &shelter.command else {
        panic!("{:?}", shelter.command)
    };
    assert_eq!(s.position, LonLat::new(113.05, 27.06).unwrap());
}

#[test]
fn a_levee_vertex_in_the_water_is_refused() {
    let e = broken(|m| {
        m.insert(
            "water",
            fc(vec![feat(
                "Polygon",
                square(113.005, 26.99, 113.015, 27.01),
                json!({"id": "W-1", "name": "江"}),
            )]),
        );
    });
    assert_names(
        &e,
        "levees",
        "(id L-1)",
        "`geometry.coordinates`: position 0 [113.01, 27] lies in the water (江, id W-1)",
    );
}

/// The valid map with one property of patrol section `index` replaced.
fn broken_section(index: usize, key: &str, value: Value) -> MapError {
    broken(|m| m.get_mut("patrol_sections").unwrap()["features"][index]["properties"][key] = value)
}

#[test]
fn a_patrol_section_lies_on_a_known_levee() {
    let e = broken_section(0, "levee_id", json!("L-9"));
    assert_names(
        &e,
        "patrol_sections",
        "feature 0 (id PS-A)",
        "`properties.levee_id`: unknown levee \"L-9\"",
    );
    let e = broken(|m| {
        m.get_mut("patrol_sections").unwrap()["features"][1]["properties"]
            .as_object_mut()
            .unwrap()
            .remove("from");
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.from`: missing or not a number",
    );
    let e = broken_section(1, "to", json!(1790.0));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.to`: 1790 m is outside levee L-2 (K0+000–K1+779)",
    );
    let e = broken_section(0, "from", json!(-5.0));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.from`: -5 m is outside levee L-2",
    );
    let e = broken_section(1, "from", json!(1779.0));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.to`: 1779 m is not beyond `from` (1779 m)",
    );
    // The line is drawn where the levee is.
    let e = broken(|m| {
        m.get_mut("patrol_sections").unwrap()["features"][1]["geometry"]["coordinates"][0] =
            json!([113.025, 27.008])
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`geometry.coordinates`: the first position [113.025, 27.008] is 495 m from the levee at `from` (K0+885",
    );
    let e = broken(|m| {
        m.get_mut("patrol_sections").unwrap()["features"][0]["geometry"]["coordinates"][1] =
            json!([113.02, 27.01])
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "the last position [113.02, 27.01] is 212 m from the levee at `to` (K0+900",
    );
    let e = broken(|m| {
        m.get_mut("patrol_sections").unwrap()["features"][0]["geometry"]["type"] = json!("Point");
        m.get_mut("patrol_sections").unwrap()["features"][0]["geometry"]["coordinates"] =
            json!([113.02, 27.0]);
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`geometry.type`: expected LineString, found \"Point\"",
    );
}

#[test]
fn a_patrol_section_is_at_most_a_kilometre() {
    // PS-B from 885 m to 1,779 m, with a point 300 m before its new start.
    let e = broken(|m| {
        let ps = &mut m.get_mut("patrol_sections").unwrap()["features"][1]["properties"];
        ps["from"] = json!(585.0);
        ps["points"]
            .as_array_mut()
            .unwrap()
            .insert(0, point("PP-B-0", 585.0, "regular"));
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.to`: the section is 1194.0 m long (K0+585–K1+779); a section is at most 1000 m",
    );
}

/// The valid map with patrol point `point` of section `section` replaced by `value`.
fn broken_point(section: usize, point: usize, value: Value) -> MapError {
    broken(|m| {
        m.get_mut("patrol_sections").unwrap()["features"][section]["properties"]["points"][point] =
            value
    })
}

#[test]
fn patrol_points_run_along_their_section_at_most_300_m_apart() {
    let e = broken_point(0, 3, point("PP-A-4", 400.0, "regular"));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.points[3].chainage`: 400 m is not after the previous point (450 m); points go in order of chainage",
    );
    let e = broken_point(0, 3, point("PP-A-4", 450.0, "regular"));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.points[3].chainage`: 450 m is not after the previous point (450 m)",
    );
    let e = broken_point(0, 4, point("PP-A-5", 950.0, "regular"));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.points[4].chainage`: 950 m is outside the section (0–900 m)",
    );
    // Without its structure, PS-A's points are 300 m apart: the most there may be.
    let e = broken(|m| {
        let points =
            &mut m.get_mut("patrol_sections").unwrap()["features"][0]["properties"]["points"];
        points.as_array_mut().unwrap().remove(2);
        points[1] = point("PP-A-2", 299.0, "regular");
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.points[2].chainage`: 600 m is 301.0 m after the previous point (299 m); patrol points are at most 300 m apart",
    );
    // The section's ends count as points: its first and last points are at most 300 m from them.
    let e = broken(|m| {
        let points =
            &mut m.get_mut("patrol_sections").unwrap()["features"][1]["properties"]["points"];
        points.as_array_mut().unwrap().remove(0);
        points[0] = point("PP-B-2", 1186.0, "regular");
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.points[0].chainage`: 1186 m is 301.0 m after the section's start (885 m); patrol points are at most 300 m apart and from the section's ends",
    );
    let e = broken(|m| {
        let points =
            &mut m.get_mut("patrol_sections").unwrap()["features"][1]["properties"]["points"];
        points.as_array_mut().unwrap().remove(3);
        points[2] = point("PP-B-3", 1470.0, "regular");
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.points[2].chainage`: 1470 m is 309.0 m before the section's end (1779 m)",
    );
    let e = broken_point(1, 1, point("PP-B-1", 1185.0, "regular"));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.points[1].id`: duplicate point id PP-B-1",
    );
    let e = broken_point(1, 1, point("PP-B-2", 1185.0, "sluice"));
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.points[1].kind`: \"sluice\"; expected one of [\"regular\", \"structure\"]",
    );
    let e = broken_point(
        1,
        1,
        json!({"id": "PP-B-2", "kind": "regular", "name": "x"}),
    );
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.points[1].chainage`: missing or not a number",
    );
    for few in [json!([]), json!([point("PP-A-1", 0.0, "regular")])] {
        let e = broken_section(0, "points", few);
        assert_names(
            &e,
            "patrol_sections",
            "(id PS-A)",
            "`properties.points`: missing, not an array, or fewer than 2 points",
        );
    }
}

#[test]
fn a_levees_sections_overlap_by_10_m_and_cover_it_from_end_to_end() {
    // PS-B starting where PS-A ends: no overlap.
    let e = broken(|m| {
        let ps = &mut m.get_mut("patrol_sections").unwrap()["features"][1];
        ps["properties"]["from"] = json!(900.0);
        ps["properties"]["points"][0] = point("PP-B-1", 900.0, "regular");
        ps["geometry"]["coordinates"][0] = json!([113.02, 27.0 + 900.0 / M_PER_DEG_LAT]);
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.from`: K0+900 (900 m) leaves an overlap of only 0.0 m after section PS-A of levee L-2 (ending at 900 m); adjacent sections overlap by at least 10 m",
    );
    // A gap: PS-A ends at 850 m.
    let e = broken(|m| {
        let ps = &mut m.get_mut("patrol_sections").unwrap()["features"][0];
        ps["properties"]["to"] = json!(850.0);
        ps["properties"]["points"][4] = point("PP-A-5", 850.0, "regular");
        ps["geometry"]["coordinates"][1] = json!([113.02, 27.0 + 850.0 / M_PER_DEG_LAT]);
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "leaves a gap of 35.0 m after section PS-A",
    );
    // The levee's first 100 m in no section.
    let e = broken(|m| {
        let ps = &mut m.get_mut("patrol_sections").unwrap()["features"][0];
        ps["properties"]["from"] = json!(100.0);
        ps["properties"]["points"][0] = point("PP-A-1", 100.0, "regular");
        ps["geometry"]["coordinates"][0] = json!([113.02, 27.0 + 100.0 / M_PER_DEG_LAT]);
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-A)",
        "`properties.from`: the first section of levee L-2 starts at K0+100, but the levee at K0+000: K0+000–K0+100 is in no section",
    );
    // …and its last 79 m.
    let e = broken(|m| {
        let ps = &mut m.get_mut("patrol_sections").unwrap()["features"][1];
        ps["properties"]["to"] = json!(1700.0);
        ps["properties"]["points"][3] = point("PP-B-4", 1700.0, "regular");
        ps["geometry"]["coordinates"][1] = json!([113.02, 27.0 + 1700.0 / M_PER_DEG_LAT]);
    });
    assert_names(
        &e,
        "patrol_sections",
        "(id PS-B)",
        "`properties.to`: the sections of levee L-2 end at K1+700, but the levee at K1+779: K1+700–K1+779 is in no section",
    );
    // A levee without sections is left alone: L-1 has none.
}

#[test]
fn protected_assets_are_points_or_lines_with_a_bounded_buffer() {
    let e = broken(|m| {
        m.get_mut("protected_assets").unwrap()["features"][1]["geometry"] =
            json!({"type": "Polygon", "coordinates": square(113.04, 27.04, 113.06, 27.06)})
    });
    assert_names(
        &e,
        "protected_assets",
        "feature 1 (id PA-S)",
        "`geometry.type`: expected Point or LineString, found \"Polygon\"",
    );
    let asset = |key: &str, value: Value| {
        broken(|m| m.get_mut("protected_assets").unwrap()["features"][1]["properties"][key] = value)
    };
    for bad in [json!(5001), json!(-1), json!("wide")] {
        let e = asset("buffer_m", bad.clone());
        assert_names(
            &e,
            "protected_assets",
            "(id PA-S)",
            &format!("`properties.buffer_m`: {bad}; expected 0 to 5000 metres"),
        );
    }
    for bad in [json!(0), json!(4), json!(1.5)] {
        let e = asset("priority", bad.clone());
        assert_names(
            &e,
            "protected_assets",
            "(id PA-S)",
            &format!("`properties.priority`: {bad}; expected an integer from 1 (highest) to 3"),
        );
    }
    let e = asset("chainage_origin_m", json!(0.0));
    assert_names(
        &e,
        "protected_assets",
        "(id PA-S)",
        "`properties.chainage_origin_m`: only a LineString asset has a chainage",
    );
}

#[test]
fn live_features_get_their_geometry_under_the_field_its_type_names() {
    let map = load(write(&valid()).path()).unwrap();
    let command = |id: &str| {
        let c = map.commands.iter().find(|c| c.command_id == id).unwrap();
        serde_json::to_value(&c.command).unwrap()
    };
    let rail = command("map:protected_assets:PA-R");
    assert_eq!(rail["line"], json!([[113.03, 27.1], [113.03, 27.0]]));
    assert_eq!(rail["chainage_origin_m"], json!(1_650_000.0));
    assert!(rail.get("position").is_none_or(Value::is_null), "{rail}");
    let substation = command("map:protected_assets:PA-S");
    assert_eq!(substation["position"], json!([113.05, 27.05]));
    assert!(
        substation.get("line").is_none_or(Value::is_null),
        "{substation}"
    );
    // A patrol section's line is for display: its command has chainages only.
    let section = command("map:patrol_sections:PS-B");
    assert_eq!(section["from"], json!(885.0));
    assert_eq!(section["points"][3]["chainage"], json!(1779.0));
    for field in ["line", "position", "ring"] {
        assert!(section.get(field).is_none(), "{section}");
    }
    let cell = command("map:grid_cells:G-A");
    assert_eq!(cell["ring"][0], json!([113.0, 27.0]));
    assert_eq!(cell["grid_worker_id"], "GW-001");
}

/// The valid map with town B's cell cut in two at longitude `split`, each part naming a village
/// with its population (G-A keeps V-A's 100 less what the parts give V-A).
fn with_b_split(
    m: &mut HashMap<&'static str, Value>,
    split: f64,
    (west_village, west_pop): (&str, u64),
    (east_village, east_pop): (&str, u64),
) {
    m.get_mut("grid_cells").unwrap()["features"] = json!([
        feat(
            "Polygon",
            square(113.0, 27.0, 113.1, 27.1),
            json!({"id": "G-A", "town": "T-A", "village": "V-A", "population": 200 - west_pop - east_pop + 100})
        ),
        feat(
            "Polygon",
            square(113.1, 27.0, split, 27.1),
            json!({"id": "G-B1", "town": "T-B", "village": west_village, "population": west_pop})
        ),
        feat(
            "Polygon",
            square(split, 27.0, 113.2, 27.1),
            json!({"id": "G-B2", "town": "T-B", "village": east_village, "population": east_pop})
        ),
    ]);
}

#[test]
fn grid_cells_must_not_overlap() {
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][1]["geometry"]["coordinates"] =
            square(113.09, 27.0, 113.2, 27.1)
    });
    assert_names(&e, "grid_cells", "(id G-B)", "overlaps grid cell G-A by");
    // Sharing an edge, or touching at a corner, is no overlap.
    let mut layers = valid();
    with_b_split(&mut layers, 113.17, ("V-B", 100), ("V-B", 100));
    load(write(&layers).path()).expect("cells side by side");
}

#[test]
fn grid_cells_must_tile_the_whole_district() {
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][1]["geometry"]["coordinates"] =
            square(113.1, 27.0, 113.2, 27.09)
    });
    assert_names(
        &e,
        "grid_cells",
        "file",
        "the cells must tile the whole district (a gap of",
    );
}

#[test]
fn every_village_lies_in_exactly_one_cell_which_names_it() {
    // V-B stands in the east part, which names V-A (populations still add up).
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][1]["geometry"]["coordinates"] =
            json!([113.175, 27.05]);
        with_b_split(m, 113.15, ("V-B", 200), ("V-A", 0));
    });
    assert_names(
        &e,
        "grid_cells",
        "(id G-B2)",
        "`properties.village`: the cell holds village V-B ([113.175, 27.05]) but names V-A",
    );
    // On the edge between two cells: in both, so in no one.
    let e = broken(|m| {
        m.get_mut("villages").unwrap()["features"][1]["geometry"]["coordinates"] =
            json!([113.15, 27.05]);
        with_b_split(m, 113.15, ("V-B", 100), ("V-B", 100));
    });
    assert_names(
        &e,
        "villages",
        "(id V-B)",
        "lies on the edge of grid cells G-B1, G-B2",
    );
    // In no cell at all (without a district, a gap is not refused as such).
    let e = broken(|m| {
        m.remove("district");
        m.get_mut("grid_cells").unwrap()["features"][1]["geometry"]["coordinates"] =
            square(113.1, 27.0, 113.2, 27.04)
    });
    assert_names(
        &e,
        "villages",
        "(id V-B)",
        "[113.15, 27.05] lies in no grid cell",
    );
}

#[test]
fn a_grid_worker_has_an_id_of_the_form_gw_017_and_one_name() {
    for bad in [json!("GW-1"), json!("gw-001"), json!("GW-00x"), json!(17)] {
        let e = broken(|m| {
            m.get_mut("grid_cells").unwrap()["features"][0]["properties"]["grid_worker_id"] =
                bad.clone()
        });
        assert_names(&e, "grid_cells", "(id G-A)", "`properties.grid_worker_id`");
        assert!(e.message.contains("GW-017"), "{e}");
    }
    let e = broken(|m| {
        m.get_mut("grid_cells").unwrap()["features"][1]["properties"]["grid_worker"] = json!("王")
    });
    assert_names(
        &e,
        "grid_cells",
        "(id G-B)",
        "`properties.grid_worker`: GW-001 is \"王\" here but \"李\" in grid cell G-A",
    );
    // A cell without an id (a map from before step 4) is still accepted.
    let mut layers = valid();
    for f in layers.get_mut("grid_cells").unwrap()["features"]
        .as_array_mut()
        .unwrap()
    {
        f["properties"]
            .as_object_mut()
            .unwrap()
            .remove("grid_worker_id");
    }
    load(write(&layers).path()).expect("no grid worker ids");
}

#[test]
fn a_flood_zone_lies_behind_a_known_levee_inside_the_district() {
    let e = broken(|m| {
        m.get_mut("flood_zones").unwrap()["features"][0]["properties"]["levee_id"] = json!("L-9")
    });
    assert_names(
        &e,
        "flood_zones",
        "(id FZ-1)",
        "`properties.levee_id`: unknown levee L-9",
    );
    let e = broken(|m| {
        m.get_mut("flood_zones").unwrap()["features"][0]["geometry"]["coordinates"] =
            square(112.99, 27.0, 113.04, 27.1)
    });
    assert_names(&e, "flood_zones", "(id FZ-1)", "outside the district");
    let e = broken(|m| {
        m.get_mut("flood_zones").unwrap()["features"][0]["geometry"]["coordinates"] =
            square_with_hole([113.01, 27.0, 113.04, 27.1], [113.02, 27.02, 113.03, 27.03])
    });
    assert_names(&e, "flood_zones", "(id FZ-1)", "holes are not supported");
    let map = load(write(&valid()).path()).unwrap();
    let zone = map
        .commands
        .iter()
        .find(|c| c.command_id == "map:flood_zones:FZ-1")
        .unwrap();
    let Command::DefineFloodZone(z) = &zone.command else {
        panic!("{:?}", zone.command)
    };
    assert_eq!((z.levee_id.as_str(), z.ring.points().len()), ("L-1", 5));
}

/// The valid map with a depot in town T-B.
fn with_depot() -> HashMap<&'static str, Value> {
    let mut m = valid();
    m.insert(
        "depots",
        fc(vec![feat(
            "Point",
            json!([113.15, 27.03]),
            json!({"id": "D-B", "name": "乙镇防汛物资仓库", "town": "T-B",
                   "stock": {"sandbags": 5000, "土工布": 800}, "low_stock": {"sandbags": 1000}}),
        )]),
    );
    m
}

fn broken_depot(edit: impl FnOnce(&mut Value)) -> MapError {
    let mut layers = with_depot();
    edit(&mut layers.get_mut("depots").unwrap()["features"][0]);
    let dir = write(&layers);
    load(dir.path()).expect_err("the broken depot is refused")
}

#[test]
fn depots_become_define_depot_commands_with_their_stock() {
    let dir = write(&with_depot());
    let map = load(dir.path()).unwrap();
    let last = map.commands.last().unwrap();
    assert_eq!(last.command_id, "map:depots:D-B");
    let Command::DefineDepot(d) = &last.command else {
        panic!("{last:?}")
    };
    use crate::domain::materials::MaterialItem;
    let stock: Vec<(MaterialItem, u32)> = d.stock.iter().collect();
    assert_eq!(
        stock,
        [
            (MaterialItem::Sandbags, 5000),
            (MaterialItem::Geotextile, 800)
        ]
    );
    assert_eq!(d.position, LonLat::new(113.15, 27.03).unwrap());
    assert_eq!(map.layer("depots").unwrap().features, 1);
}

#[test]
fn a_depot_stands_in_its_known_town_with_whole_stocks_of_known_items() {
    let e = broken_depot(|f| f["properties"]["town"] = json!("T-X"));
    assert_names(
        &e,
        "depots",
        "(id D-B)",
        "`properties.town`: unknown town T-X",
    );
    let e = broken_depot(|f| {
        f["properties"].as_object_mut().unwrap().remove("town");
    });
    assert_names(&e, "depots", "(id D-B)", "`properties.town`: missing");
    let e = broken_depot(|f| f["geometry"]["coordinates"] = json!([113.05, 27.03]));
    assert_names(&e, "depots", "(id D-B)", "not inside its town T-B");
    let e = broken_depot(|f| f["geometry"]["type"] = json!("LineString"));
    assert_names(&e, "depots", "(id D-B)", "geometry");
    let e = broken_depot(|f| f["properties"]["stock"] = json!({"sand": 5}));
    assert_names(&e, "depots", "(id D-B)", "unknown variant `sand`");
    let e = broken_depot(|f| f["properties"]["stock"] = json!({"sandbags": 2.5}));
    assert_names(&e, "depots", "(id D-B)", "field `properties`");
    let e = broken_depot(|f| f["properties"]["low_stock"] = json!({"sandbags": -1}));
    assert_names(&e, "depots", "(id D-B)", "value out of bounds");
    let e = broken_depot(|f| f["properties"]["colour"] = json!("red"));
    assert_names(&e, "depots", "(id D-B)", "unknown field `colour`");
}
