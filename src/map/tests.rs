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

/// A valid little district: two towns side by side, a village in each, one grid cell per village,
/// a levee, a shelter, a gauge and a team.
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
                    square(113.04, 27.04, 113.06, 27.06),
                    json!({"id": "G-A", "town": "T-A", "village": "V-A", "population": 100}),
                ),
                feat(
                    "Polygon",
                    square(113.14, 27.04, 113.16, 27.06),
                    json!({"id": "G-B", "town": "T-B", "village": "V-B", "population": 200}),
                ),
            ]),
        ),
        (
            "levees",
            fc(vec![feat(
                "LineString",
                json!([[113.01, 27.0], [113.01, 27.1]]),
                json!({"id": "L-1", "name": "堤", "riverside": "left", "length_m": 11119.5}),
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
            "map:grid_cells:G-A",
            "map:grid_cells:G-B",
            "map:shelters:S-1",
            "map:gauges:G-1",
            "map:teams:T-01"
        ]
    );
    assert_eq!(map.layer("towns").unwrap().features, 2);
    assert!(map.layer("roads").is_none());
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
