//! The 涪口 district map in maps/fukou: its data holds together, every levee references
//! correctly, and the server loads and serves it.

use crate::harness::*;
use crate::http::{get as http_get, header};
use crest::domain::geo::{Zone, ring_contains};
use crest::domain::levee::Levee;
use crest::domain::{Command, LonLat, Role};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

fn fukou() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("maps/fukou")
}

fn layer(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(fukou().join(format!("{name}.geojson"))).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(doc["type"], "FeatureCollection");
    assert!(doc.get("crs").is_none(), "RFC 7946: no crs member");
    doc["features"].as_array().unwrap().clone()
}

fn ring(f: &Value) -> Vec<LonLat> {
    f["geometry"]["coordinates"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| LonLat::new(p[0].as_f64().unwrap(), p[1].as_f64().unwrap()).unwrap())
        .collect()
}

fn point(f: &Value) -> LonLat {
    let c = &f["geometry"]["coordinates"];
    LonLat::new(c[0].as_f64().unwrap(), c[1].as_f64().unwrap()).unwrap()
}

/// Signed planar area in degrees² (positive = counter-clockwise).
fn signed_area(r: &[LonLat]) -> f64 {
    r.windows(2)
        .map(|w| w[0].lon() * w[1].lat() - w[1].lon() * w[0].lat())
        .sum::<f64>()
        / 2.0
}

fn pop(f: &Value) -> u64 {
    f["properties"]["population"].as_u64().unwrap()
}

#[test]
fn the_loader_accepts_the_district() {
    let map = crest::map::load(&fukou()).expect("maps/fukou loads without error");
    let names: Vec<&str> = map.layers.iter().map(|l| l.name).collect();
    for required in [
        "district",
        "towns",
        "villages",
        "grid_cells",
        "levees",
        "shelters",
        "gauges",
        "rivers",
        "water",
        "railways",
        "roads",
        "teams",
        "patrol_sections",
        "protected_assets",
        "depots",
        "flood_zones",
    ] {
        assert!(names.contains(&required), "layer {required} missing");
    }
}

#[test]
fn every_town_has_a_materials_depot_stocked_above_its_levels() {
    let depots = layer("depots");
    assert_eq!(depots.len(), 9, "the district reserve and one per town");
    let towns: std::collections::BTreeSet<&str> = depots
        .iter()
        .map(|d| d["properties"]["town"].as_str().unwrap())
        .collect();
    assert_eq!(towns.len(), 8);
    let items = [
        "sandbags",
        "geotextile",
        "life_jackets",
        "rescue_boats",
        "pumps",
        "stones",
        "lights",
    ];
    for d in &depots {
        let p = &d["properties"];
        for item in items {
            let (stock, low) = (p["stock"][item].as_u64(), p["low_stock"][item].as_u64());
            assert!(
                stock.zip(low).is_some_and(|(s, l)| 0 < l && l < s),
                "{} {item}: {stock:?} / {low:?}",
                p["id"]
            );
        }
    }
}

#[test]
fn towns_tile_the_district_without_overlaps() {
    let district = ring(&layer("district")[0]);
    let towns: Vec<(String, Vec<LonLat>)> = layer("towns")
        .iter()
        .map(|t| {
            (
                t["properties"]["name"].as_str().unwrap().to_string(),
                ring(t),
            )
        })
        .collect();
    assert_eq!(towns.len(), 8);
    for seat in ["涪口镇", "朱亨镇", "南洲镇", "龙门镇", "淦田镇"] {
        assert!(towns.iter().any(|(n, _)| n == seat), "{seat}");
    }
    // Areas add up exactly…
    let total: f64 = towns.iter().map(|(_, r)| signed_area(r).abs()).sum();
    let area = signed_area(&district).abs();
    assert!((total - area).abs() < 1e-9 * area, "{total} vs {area}");
    // …and every sample point of the district lies in exactly one town (none in two, none in none).
    let (min, max) = crest::domain::geo::envelope(&district);
    let mut inside = 0;
    for i in 0..120 {
        for j in 0..120 {
            // Irrational offsets keep samples off shared edges.
            let lon = min[0]
                + (max[0] - min[0]) * (i as f64 + 0.5 + 0.1 * std::f64::consts::FRAC_1_SQRT_2)
                    / 120.0;
            let lat = min[1]
                + (max[1] - min[1]) * (j as f64 + 0.5 + 0.1 * std::f64::consts::FRAC_1_PI) / 120.0;
            let p = LonLat::new(lon, lat).unwrap();
            let hits = towns.iter().filter(|(_, r)| ring_contains(r, p)).count();
            if ring_contains(&district, p) {
                inside += 1;
                assert_eq!(hits, 1, "{p} is in {hits} towns");
            } else {
                assert_eq!(hits, 0, "{p} is outside the district but in a town");
            }
        }
    }
    assert!(
        inside > 8000,
        "the sample covers the district ({inside} points)"
    );
    // RFC 7946: exterior rings are counter-clockwise.
    for (name, r) in &towns {
        assert!(signed_area(r) > 0.0, "{name} ring is clockwise");
    }
    assert!(signed_area(&district) > 0.0);
}

#[test]
fn villages_lie_in_their_towns_and_grid_cells_in_the_district() {
    let district = ring(&layer("district")[0]);
    let towns: HashMap<String, Vec<LonLat>> = layer("towns")
        .iter()
        .map(|t| (t["properties"]["id"].as_str().unwrap().to_string(), ring(t)))
        .collect();
    let villages = layer("villages");
    assert_eq!(villages.len(), 139);
    for v in &villages {
        let town = v["properties"]["town"].as_str().unwrap();
        assert!(
            ring_contains(&towns[town], point(v)),
            "{} outside {town}",
            v["properties"]["id"]
        );
    }
    let jiangjun = villages
        .iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .expect("将军村 is on the map");
    assert_eq!(
        jiangjun["properties"]["town"], "T-NZ",
        "将军村 is in 南洲镇"
    );
    let cells = layer("grid_cells");
    assert_eq!(cells.len(), 260);
    let zone = Zone::from_ring(&district);
    for c in &cells {
        assert!(
            zone.covers_zone(&Zone::from_ring(&ring(c))),
            "grid cell {} reaches outside the district",
            c["properties"]["id"]
        );
    }
    // One name per grid worker id, and 184 of them: some cover two cells.
    let mut workers: HashMap<&str, &str> = HashMap::new();
    for c in &cells {
        let id = c["properties"]["grid_worker_id"].as_str().unwrap();
        let name = c["properties"]["grid_worker"].as_str().unwrap();
        assert!(id.starts_with("GW-") && id.len() == 6, "{id}");
        assert!(!name.is_empty() && !name.contains("GW-"), "{name}");
        assert_eq!(*workers.entry(id).or_insert(name), name, "{id}");
    }
    assert_eq!(
        workers.len(),
        184,
        "184 grid workers, some covering two cells"
    );
}

#[test]
fn grid_cells_tile_the_whole_district_and_hold_every_village_once() {
    let district = ring(&layer("district")[0]);
    let cells: Vec<(String, String, Vec<LonLat>)> = layer("grid_cells")
        .iter()
        .map(|c| {
            let p = &c["properties"];
            (
                p["id"].as_str().unwrap().to_string(),
                p["village"].as_str().unwrap().to_string(),
                ring(c),
            )
        })
        .collect();
    // Areas add up to the district's, river and west-bank polder included…
    let total: f64 = cells.iter().map(|(_, _, r)| signed_area(r).abs()).sum();
    let area = signed_area(&district).abs();
    assert!((total - area).abs() < 1e-9 * area, "{total} vs {area}");
    // …no two overlap (the loader's own measure: the area of their intersection)…
    use geo::{Area, BooleanOps};
    let zones: Vec<Zone> = cells.iter().map(|(_, _, r)| Zone::from_ring(r)).collect();
    let mut worst: f64 = 0.0;
    for (i, a) in zones.iter().enumerate() {
        let (amin, amax) = a.bounding_box();
        for b in &zones[i + 1..] {
            let (bmin, bmax) = b.bounding_box();
            if bmin[0] > amax[0] || bmax[0] < amin[0] || bmin[1] > amax[1] || bmax[1] < amin[1] {
                continue;
            }
            worst = worst.max(a.polygon().intersection(b.polygon()).unsigned_area());
        }
    }
    assert!(worst < 1e-12, "largest overlap {worst} deg²");
    // …and every sample point of the district lies in exactly one cell.
    let (min, max) = crest::domain::geo::envelope(&district);
    let mut inside = 0;
    for i in 0..100 {
        for j in 0..160 {
            let lon = min[0]
                + (max[0] - min[0]) * (i as f64 + 0.5 + 0.1 * std::f64::consts::FRAC_1_SQRT_2)
                    / 100.0;
            let lat = min[1]
                + (max[1] - min[1]) * (j as f64 + 0.5 + 0.1 * std::f64::consts::FRAC_1_PI) / 160.0;
            let p = LonLat::new(lon, lat).unwrap();
            let hits = zones.iter().filter(|z| z.contains(p)).count();
            if ring_contains(&district, p) {
                inside += 1;
                assert_eq!(hits, 1, "{p} is in {hits} grid cells");
            } else {
                assert_eq!(hits, 0, "{p} is outside the district but in a cell");
            }
        }
    }
    assert!(inside > 9000, "the sample covers the district ({inside})");
    // Every village lies in exactly one cell, which names it.
    for v in layer("villages") {
        let id = v["properties"]["id"].as_str().unwrap();
        let holders: Vec<&str> = cells
            .iter()
            .zip(&zones)
            .filter(|(_, z)| z.covers(point(&v)))
            .map(|((c, _, _), _)| c.as_str())
            .collect();
        assert_eq!(holders.len(), 1, "{id} in {holders:?}");
        let cell = cells.iter().find(|(c, _, _)| c == holders[0]).unwrap();
        assert_eq!(cell.1, id, "{} holds {id}", cell.0);
    }
}

#[test]
fn the_district_is_of_the_briefs_size() {
    // 近35万市民 in 8 towns and 139 villages.
    let people = pop(&layer("district")[0]);
    assert!((340_000..350_000).contains(&people), "{people}");
    // Vulnerable people, counted per cell: 3–5 % of the population, and some in every cell.
    let mut vulnerable = 0;
    for c in layer("grid_cells") {
        let v = &c["properties"]["vulnerable"];
        let here: u64 = [
            "elderly_alone",
            "disabled",
            "pregnant",
            "unaccompanied_children",
        ]
        .iter()
        .map(|k| v[k].as_u64().unwrap())
        .sum();
        assert!(here > 0 && here < pop(&c) / 10, "{}", c["properties"]["id"]);
        vulnerable += here;
    }
    let share = vulnerable as f64 / people as f64;
    assert!((0.03..=0.05).contains(&share), "{share}");
    // A standing roster of several thousand, of every kind, in realistic units; close to 1,000
    // can mass at the 将军村 breach from within 20 km.
    let teams = layer("teams");
    let headcount = |t: &Value| t["properties"]["headcount"].as_u64().unwrap();
    let total: u64 = teams.iter().map(headcount).sum();
    assert!((3_000..=8_000).contains(&total), "{total}");
    for kind in [
        "armed_police",
        "reserve_force",
        "militia",
        "cadres",
        "fire_rescue",
        "volunteers",
        "grid_workers",
    ] {
        assert!(
            teams.iter().any(|t| t["properties"]["kind"] == kind),
            "{kind}"
        );
    }
    for t in &teams {
        assert!(
            (10..=400).contains(&headcount(t)),
            "{}",
            t["properties"]["id"]
        );
    }
    let grid_workers: u64 = teams
        .iter()
        .filter(|t| t["properties"]["kind"] == "grid_workers")
        .map(headcount)
        .sum();
    assert_eq!(grid_workers, 184);
    let jiangjun = layer("villages")
        .into_iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .unwrap();
    let near: u64 = teams
        .iter()
        .filter(|t| {
            t["properties"]["kind"] != "volunteers" && t["properties"]["kind"] != "grid_workers"
        })
        .filter(|t| point(t).distance_m(point(&jiangjun)) < 20_000.0)
        .map(headcount)
        .sum();
    assert!(near >= 1_000, "{near} within 20 km of 将军村");
    assert_eq!(teams[0]["properties"]["id"], "T-01");
    assert_eq!(teams[0]["properties"]["kind"], "armed_police");
}

#[test]
fn every_levee_has_a_flood_zone_behind_it_and_some_shelters_stand_on_high_ground() {
    let district = Zone::from_ring(&ring(&layer("district")[0]));
    let zones = layer("flood_zones");
    let levees = layer("levees");
    assert_eq!(zones.len(), levees.len());
    for l in &levees {
        let id = l["properties"]["id"].as_str().unwrap();
        let z = zones
            .iter()
            .find(|z| z["properties"]["levee_id"] == id)
            .unwrap_or_else(|| panic!("{id} has a flood zone"));
        let zone = Zone::from_ring(&ring(z));
        assert!(
            district.covers_zone(&zone),
            "{id}'s zone lies in the district"
        );
        // A strip 1.5–3 km deep behind the levee: its area over the levee's length.
        let m2 = zone.area_deg2() * 111_195.0 * 111_195.0 * 27.5_f64.to_radians().cos();
        let depth = m2 / l["properties"]["length_m"].as_f64().unwrap();
        assert!((1_200.0..=3_200.0).contains(&depth), "{id}: {depth} m deep");
    }
    // 将军村 lies in the 南洲 levee's zone: a breach there floods it.
    let jiangjun = layer("villages")
        .into_iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .unwrap();
    let nz = zones
        .iter()
        .find(|z| z["properties"]["levee_id"] == "XJ-E-NZ")
        .unwrap();
    assert!(Zone::from_ring(&ring(nz)).contains(point(&jiangjun)));
    // Shelters: some in a flood zone on high ground, some in one below it, most outside.
    let shelters = layer("shelters");
    let in_zone = |s: &Value| {
        zones
            .iter()
            .any(|z| Zone::from_ring(&ring(z)).covers(point(s)))
    };
    let high = |s: &Value| s["properties"]["high_ground"].as_bool().unwrap();
    assert!(shelters.iter().any(|s| in_zone(s) && high(s)));
    assert!(shelters.iter().any(|s| in_zone(s) && !high(s)));
    assert!(shelters.iter().filter(|s| !in_zone(s)).count() > shelters.len() / 2);
    assert!(
        shelters.iter().all(|s| in_zone(s) || !high(s)),
        "high ground only matters in a zone"
    );
}

#[test]
fn populations_add_up_at_every_level() {
    let district = pop(&layer("district")[0]);
    let towns = layer("towns");
    let villages = layer("villages");
    let cells = layer("grid_cells");
    assert_eq!(towns.iter().map(pop).sum::<u64>(), district);
    assert_eq!(villages.iter().map(pop).sum::<u64>(), district);
    assert_eq!(cells.iter().map(pop).sum::<u64>(), district);
    for t in &towns {
        let id = t["properties"]["id"].as_str().unwrap();
        let in_town: u64 = villages
            .iter()
            .filter(|v| v["properties"]["town"] == id)
            .map(pop)
            .sum();
        assert_eq!(in_town, pop(t), "{id}");
    }
    for c in &cells {
        assert!(c["properties"]["households"].as_u64().unwrap() > 0);
    }
}

#[test]
fn shelters_gauges_and_levees_meet_the_brief() {
    let shelters = layer("shelters");
    assert!(shelters.len() >= 30);
    let capacity: u64 = shelters
        .iter()
        .map(|s| s["properties"]["capacity"].as_u64().unwrap())
        .sum();
    assert!(capacity > 9000, "{capacity}");
    for s in &shelters {
        let supplies = s["properties"]["supplies"].as_object().unwrap();
        for item in [
            "water",
            "bread",
            "milk",
            "instant_noodles",
            "mosquito_coils",
        ] {
            assert!(
                supplies[item]["stock"].as_f64().unwrap() > 0.0,
                "{} lacks {item}",
                s["properties"]["id"]
            );
        }
    }
    let gauges = layer("gauges");
    let lk = gauges
        .iter()
        .find(|g| g["properties"]["id"] == "G-XJ-LK")
        .unwrap();
    assert_eq!(
        lk["properties"]["thresholds"],
        json!({"guard_m": 38.0, "warning_m": 40.0, "guaranteed_m": 42.5})
    );
    assert_eq!(lk["properties"]["datum"], "吴淞");
    assert!(gauges.iter().any(|g| g["properties"]["river"] == "濠江"));
    // Both banks of both rivers (护住百里湘濠两岸): the district lies on both sides of each.
    let levees = layer("levees");
    for (river, banks) in [("湘江", ["east", "west"]), ("濠江", ["north", "south"])] {
        for bank in banks {
            assert!(
                levees
                    .iter()
                    .any(|l| l["properties"]["river"] == river && l["properties"]["bank"] == bank),
                "a levee on the {bank} bank of the {river}"
            );
        }
    }
    // Every gauge governs levees on both banks of its river.
    for g in &gauges {
        let ids: Vec<&str> = g["properties"]["levee_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l.as_str().unwrap())
            .collect();
        let banks: HashSet<&str> = levees
            .iter()
            .filter(|l| ids.contains(&l["properties"]["id"].as_str().unwrap()))
            .map(|l| l["properties"]["bank"].as_str().unwrap())
            .collect();
        assert_eq!(banks.len(), 2, "{}: {banks:?}", g["properties"]["id"]);
    }
}

/// Every levee of the district map, as the domain sees it.
fn district_levees() -> Vec<Levee> {
    crest::map::load(&fukou())
        .unwrap()
        .commands
        .into_iter()
        .filter_map(|c| match c.command {
            Command::DefineLevee(spec) => Some(Levee::try_from(spec).unwrap()),
            _ => None,
        })
        .collect()
}

#[test]
fn chainage_round_trips_on_every_levee() {
    let levees = district_levees();
    assert_eq!(levees.len(), 11);
    for levee in &levees {
        let mut c = levee.start_chainage_m();
        let mut n = 0;
        while c <= levee.end_chainage_m() {
            // chainage → point → chainage
            let p = levee.point_at(c).unwrap();
            let loc = levee.locate(p);
            assert!(
                (loc.chainage_m - c).abs() < 1.0,
                "{}: {c} → {}",
                levee.id(),
                loc.chainage_m
            );
            // point → chainage → point, for a point on the line…
            let again = levee.point_at(levee.locate(p).chainage_m).unwrap();
            assert!(
                again.distance_m(p) < 1.0,
                "{}: {} m apart at {c}",
                levee.id(),
                again.distance_m(p)
            );
            // …and for one 30 m off it: back to its foot on the line
            let off = LonLat::new(p.lon() + 30.0 / 98_600.0, p.lat()).unwrap();
            let loc = levee.locate(off);
            let back = levee.point_at(loc.chainage_m).unwrap();
            let foot = levee.locate(back);
            assert!(
                foot.offset_m < 1.0 && (foot.chainage_m - loc.chainage_m).abs() < 1.0,
                "{}",
                levee.id()
            );
            // the text form both ways
            let text = crest::domain::chainage::Chainage::from_metres(c)
                .unwrap()
                .to_string();
            let parsed: crest::domain::chainage::Chainage = text.parse().unwrap();
            assert!((parsed.metres() - c).abs() <= 0.5, "{text}");
            c += 50.0;
            n += 1;
        }
        assert!(n > 10, "{} is a real levee", levee.id());
    }
    // 湘江 east-bank chainage continues from one town's segment to the next.
    let by_id: HashMap<String, &Levee> = levees.iter().map(|l| (l.id().to_string(), l)).collect();
    for (a, b) in [
        ("XJ-E-ZH", "XJ-E-GT"),
        ("XJ-E-GT", "XJ-E-NZ"),
        ("XJ-E-NZ", "XJ-E-LK"),
        ("XJ-W-ZH", "XJ-W-GT"),
        ("XJ-W-GT", "XJ-W-NZ"),
        ("XJ-W-NZ", "XJ-W-LK"),
    ] {
        assert!(
            (by_id[a].end_chainage_m() - by_id[b].start_chainage_m()).abs() < 1.0,
            "{a} → {b}"
        );
    }
}

#[test]
fn the_levees_stand_on_land_and_the_haojiang_levees_meet_the_xiangjiang_levee() {
    let water = ring(&layer("water")[0]);
    let levees = layer("levees");
    let line = |id: &str| -> Vec<LonLat> {
        let l = levees.iter().find(|l| l["properties"]["id"] == id).unwrap();
        l["geometry"]["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| LonLat::new(p[0].as_f64().unwrap(), p[1].as_f64().unwrap()).unwrap())
            .collect()
    };
    for l in &levees {
        for p in line(l["properties"]["id"].as_str().unwrap()) {
            assert!(
                !ring_contains(&water, p),
                "{} has {p} in the 湘江",
                l["properties"]["id"]
            );
        }
    }
    // The 濠江 levees close the protection line at the confluence.
    assert_eq!(line("HJ-N")[0], line("XJ-E-LKN")[0]);
    assert_eq!(line("HJ-S")[0], *line("XJ-E-LK").last().unwrap());
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

#[test]
fn patrol_sections_cover_every_levee() {
    let levees = district_levees();
    let sections = layer("patrol_sections");
    let mut point_ids = HashSet::new();
    for levee in &levees {
        let mut mine: Vec<&Value> = sections
            .iter()
            .filter(|s| s["properties"]["levee_id"] == levee.id().as_str())
            .collect();
        assert!(!mine.is_empty(), "{} has patrol sections", levee.id());
        mine.sort_by(|a, b| {
            num(&a["properties"]["from"]).total_cmp(&num(&b["properties"]["from"]))
        });
        let ends = |s: &Value| (num(&s["properties"]["from"]), num(&s["properties"]["to"]));
        let (first, _) = ends(mine[0]);
        let (_, last) = ends(mine[mine.len() - 1]);
        assert!(first - levee.start_chainage_m() < 1.0 && first >= levee.start_chainage_m());
        assert!(levee.end_chainage_m() - last < 1.0 && last <= levee.end_chainage_m());
        for pair in mine.windows(2) {
            let overlap = ends(pair[0]).1 - ends(pair[1]).0;
            assert!(
                (10.0..=20.5).contains(&overlap),
                "{}: {overlap}",
                pair[1]["properties"]["id"]
            );
        }
        let mut structures = 0;
        for s in &mine {
            let (from, to) = ends(s);
            assert!(
                to - from <= 1000.0 && to > from,
                "{}",
                s["properties"]["id"]
            );
            let points = s["properties"]["points"].as_array().unwrap();
            assert_eq!(num(&points[0]["chainage"]), from);
            assert_eq!(num(&points[points.len() - 1]["chainage"]), to);
            let regular: Vec<f64> = points
                .iter()
                .filter(|p| p["kind"] == "regular")
                .map(|p| num(&p["chainage"]))
                .collect();
            for w in regular.windows(2) {
                assert!(
                    (199.9..=300.0).contains(&(w[1] - w[0])),
                    "{}: {w:?}",
                    s["properties"]["id"]
                );
            }
            for w in points.windows(2) {
                let gap = num(&w[1]["chainage"]) - num(&w[0]["chainage"]);
                assert!((0.0..=300.0).contains(&gap));
            }
            for p in points {
                assert!(
                    point_ids.insert(p["id"].as_str().unwrap().to_string()),
                    "{p}"
                );
                if p["kind"] == "structure" {
                    structures += 1;
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        ["闸", "涵", "站"].iter().any(|w| name.contains(w)),
                        "{name} is a sluice, a culvert or a pump station"
                    );
                }
            }
            // The line is drawn along the levee, from `from` to `to`.
            let line = s["geometry"]["coordinates"].as_array().unwrap();
            let at = |p: &Value| LonLat::new(num(&p[0]), num(&p[1])).unwrap();
            assert!(at(&line[0]).distance_m(levee.point_at(from).unwrap()) < 1.0);
            assert!(at(&line[line.len() - 1]).distance_m(levee.point_at(to).unwrap()) < 1.0);
            for p in line {
                assert!(levee.locate(at(p)).offset_m < 1.0);
            }
        }
        assert!(
            structures >= 2,
            "{}: structures through the levee",
            levee.id()
        );
    }
    let nanzhou = sections
        .iter()
        .flat_map(|s| s["properties"]["points"].as_array().unwrap())
        .any(|p| p["name"] == "南洲排渍站");
    assert!(nanzhou);
}

#[test]
fn protected_assets_include_the_railway_by_jiangjun() {
    let assets = layer("protected_assets");
    let district = ring(&layer("district")[0]);
    let rail = assets
        .iter()
        .find(|a| a["properties"]["id"] == "PA-RAIL-JG")
        .expect("the 京广铁路 is protected");
    assert_eq!(rail["geometry"]["type"], "LineString");
    assert_eq!(rail["properties"]["kind"], "railway");
    assert_eq!(rail["properties"]["priority"], 1);
    assert_eq!(rail["properties"]["buffer_m"], 500);
    // The railway's own chainage: as a levee of the same line, the post nearest 将军村.
    let line: Vec<LonLat> = rail["geometry"]["coordinates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| LonLat::new(num(&p[0]), num(&p[1])).unwrap())
        .collect();
    let as_line = Levee::try_from(crest::domain::levee::LeveeSpec {
        id: "PA-RAIL-JG".into(),
        name: String::new(),
        river: String::new(),
        bank: String::new(),
        line: line.clone(),
        chainage_origin_m: num(&rail["properties"]["chainage_origin_m"]),
        riverside: crest::domain::levee::Hand::Left,
        crest_elevation_m: None,
        design_flood_level_m: None,
    })
    .unwrap();
    let jiangjun = layer("villages")
        .into_iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .unwrap();
    let by_jiangjun = as_line.locate(point(&jiangjun));
    assert!(by_jiangjun.offset_m < 500.0, "{}", by_jiangjun.offset_m);
    // The levee by 将军村 is within the railway's buffer: a breach there threatens it.
    let levee = district_levees()
        .into_iter()
        .find(|l| l.id().as_str() == "XJ-E-NZ")
        .unwrap();
    let on_levee = levee
        .point_at(levee.locate(point(&jiangjun)).chainage_m)
        .unwrap();
    let from_levee = as_line.locate(on_levee).offset_m;
    assert!(from_levee < 500.0, "{from_levee}");
    assert!(
        (1_650_000.0..1_700_000.0).contains(&by_jiangjun.chainage_m),
        "{}",
        by_jiangjun.chainage
    );
    assert!(as_line.start_chainage_m() >= 1_600_000.0 && as_line.end_chainage_m() <= 1_750_000.0);
    // Kilometre posts grow from Beijing: southward.
    assert!(line[0].lat() > line[line.len() - 1].lat());
    let points: Vec<&Value> = assets
        .iter()
        .filter(|a| a["geometry"]["type"] == "Point")
        .collect();
    assert!(points.len() >= 10, "a dozen or so");
    for kind in ["substation", "water_works", "school", "hospital"] {
        assert!(
            points.iter().any(|a| a["properties"]["kind"] == kind),
            "{kind}"
        );
    }
    for a in &assets {
        let p = &a["properties"];
        assert!((1..=3).contains(&p["priority"].as_u64().unwrap()), "{p}");
        assert!((0.0..=5000.0).contains(&num(&p["buffer_m"])), "{p}");
    }
    for a in points {
        assert!(
            ring_contains(&district, point(a)),
            "{}",
            a["properties"]["id"]
        );
    }
}

#[tokio::test]
async fn the_server_runs_the_district_and_serves_its_layers() {
    let server = TestServer::start_with(|c| c.map = Some(fukou())).await;
    let mut d = server.client(Role::Dispatcher, None).await;
    // A GPS hazard report by 将军村 lands on the 南洲 levee with its chainage.
    let jiangjun = layer("villages")
        .into_iter()
        .find(|v| v["properties"]["name"] == "将军村")
        .unwrap();
    let at = point(&jiangjun);
    let snap = d.query(json!({"type": "snap_to_levee", "point": [at.lon() - 0.0041, at.lat()], "tolerance_m": 150})).await;
    assert_eq!(snap["location"]["levee_id"], "XJ-E-NZ");
    assert_eq!(snap["location"]["side"], "landside");
    let ack = d.ok(json!({"type": "report_hazard", "kind": "piping", "severity": "critical", "position": [at.lon() - 0.0041, at.lat()]})).await;
    let hazards = d
        .subscribe(
            &[
                "hazards",
                "shelters",
                "gauges",
                "grid_cells",
                "levees",
                "patrol_sections",
                "protected_assets",
                "depots",
            ],
            None,
        )
        .await;
    let h = hazards["layers"]["hazards"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["id"] == ack["created"])
        .unwrap()
        .clone();
    assert_eq!(h["levee"]["levee_id"], "XJ-E-NZ");
    assert!(h["levee"]["chainage"].as_str().unwrap().starts_with('K'));
    // …and threatens the 京广铁路 behind it, named by its kilometre post.
    let rail = h["near_assets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["asset_id"] == "PA-RAIL-JG")
        .unwrap_or_else(|| panic!("the railway is near: {h}"));
    assert!(rail["distance_m"].as_f64().unwrap() < 500.0, "{rail}");
    assert!(
        rail["chainage"].as_str().unwrap().starts_with("K166"),
        "{rail}"
    );
    assert_eq!(hazards["layers"]["shelters"].as_array().unwrap().len(), 33);
    assert_eq!(
        hazards["layers"]["grid_cells"].as_array().unwrap().len(),
        260
    );
    // Every patrol section of the map is in the live picture, with its points.
    let sections = hazards["layers"]["patrol_sections"].as_array().unwrap();
    assert_eq!(sections.len(), layer("patrol_sections").len());
    let s = sections
        .iter()
        .find(|s| s["id"] == "PS-XJ-E-NZ-03")
        .unwrap();
    assert_eq!(s["levee_id"], "XJ-E-NZ");
    assert!(s["points"].as_array().unwrap().len() >= 5, "{s}");
    assert_eq!(
        hazards["layers"]["protected_assets"]
            .as_array()
            .unwrap()
            .len(),
        layer("protected_assets").len()
    );
    // The depots are live, with their stock; none starts low.
    let depots = hazards["layers"]["depots"].as_array().unwrap();
    assert_eq!(depots.len(), 9);
    assert!(depots.iter().all(|d| d["low"] == json!([])), "{depots:?}");
    // A patrol stretch is a chainage interval on a levee.
    let start = h["levee"]["chainage_m"].as_f64().unwrap();
    d.ok(json!({"type": "create_assignment", "team_id": "T-01", "target": {"kind": "patrol_stretch", "levee_id": "XJ-E-NZ", "from_m": start - 500.0, "to_m": start + 500.0}})).await;

    // Static layers over HTTP with validators.
    let index = http_get(&server, "/api/v1/map", &[]).await;
    assert_eq!(index.0, 200);
    let index: Value = serde_json::from_str(&index.2).unwrap();
    assert_eq!(index["layers"].as_array().unwrap().len(), 16);
    let (status, head, body) = http_get(&server, "/api/v1/map/towns", &[]).await;
    assert_eq!(status, 200);
    assert!(head.contains("content-type: application/geo+json"));
    assert_eq!(
        body,
        std::fs::read_to_string(fukou().join("towns.geojson")).unwrap()
    );
    let etag = header(&head, "etag");
    assert_eq!(
        http_get(&server, "/api/v1/map/towns", &[("If-None-Match", &etag)])
            .await
            .0,
        304
    );
    assert_eq!(
        http_get(&server, "/api/v1/map/towns.geojson", &[]).await.0,
        200
    );
    assert_eq!(http_get(&server, "/api/v1/map/lakes", &[]).await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn a_broken_map_stops_the_start_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(fukou()).unwrap() {
        let f = f.unwrap();
        std::fs::copy(f.path(), dir.path().join(f.file_name())).unwrap();
    }
    // Break the last layer read, so that every earlier layer was fine.
    let roads = dir.path().join("roads.geojson");
    let text = std::fs::read_to_string(&roads)
        .unwrap()
        .replacen("113.", "913.", 1);
    std::fs::write(&roads, text).unwrap();
    let db = dir.path().join("crest.db");
    let mut config = crest::server::Config::new(&db);
    config.map = Some(dir.path().to_path_buf());
    let err = crest::server::Server::build(config)
        .await
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("roads.geojson")
            && text.contains("feature 0")
            && text.contains("geometry.coordinates"),
        "{text}"
    );
    assert!(!db.exists(), "nothing was written: {text}");
}
