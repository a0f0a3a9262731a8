//! Property tests: every index answer equals a brute-force scan, including near the poles and
//! across the antimeridian.

use super::{LeveeIndex, PointIndex};
use crate::domain::ids::LeveeId;
use crate::domain::levee::{Hand, Levee, LeveeSpec};
use crate::domain::{BBox, LonLat};
use proptest::prelude::*;

/// Points anywhere, with extra weight near the antimeridian and the poles.
fn point() -> impl Strategy<Value = LonLat> {
    prop_oneof![
        (-180.0..=180.0f64, -90.0..=90.0f64),
        (
            prop_oneof![170.0..=180.0f64, -180.0..=-170.0f64],
            -60.0..=60.0f64
        ),
        (
            -180.0..=180.0f64,
            prop_oneof![80.0..=90.0f64, -90.0..=-80.0f64]
        ),
        (112.9..113.4f64, 27.1..27.8f64),
    ]
    .prop_map(|(lon, lat)| LonLat::new(lon, lat).unwrap())
}

fn named(points: &[LonLat]) -> Vec<(String, LonLat)> {
    points
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("P{i}"), *p))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn nearest_matches_brute_force(points in prop::collection::vec(point(), 1..120), q in point(), k in 1usize..10) {
        let items = named(&points);
        let index = PointIndex::bulk(items.clone());
        let got: Vec<f64> = index.nearest(q).take(k).map(|(_, d)| d).collect();
        let mut want: Vec<f64> = items.iter().map(|(_, p)| q.distance_m(*p)).collect();
        want.sort_by(f64::total_cmp);
        want.truncate(k);
        prop_assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(&want) {
            prop_assert!((g - w).abs() <= 1e-6 * w.max(1.0), "index {} vs brute {}", g, w);
        }
    }

    #[test]
    fn moves_keep_the_index_exact(points in prop::collection::vec(point(), 2..60),
                                  moves in prop::collection::vec((0usize..60, point()), 0..60),
                                  q in point()) {
        let mut items = named(&points);
        let mut index = PointIndex::bulk(items.clone());
        for (i, to) in moves {
            let i = i % items.len();
            items[i].1 = to;
            index.upsert(&items[i].0, to);
        }
        prop_assert_eq!(index.len(), items.len());
        let (id, d) = index.nearest(q).next().unwrap();
        let best = items.iter().map(|(_, p)| q.distance_m(*p)).fold(f64::INFINITY, f64::min);
        prop_assert!((d - best).abs() <= 1e-6 * best.max(1.0));
        // The point found is where the test last put it, and the distance is to that place.
        let now_at = items.iter().find(|(name, _)| name == id).map(|(_, p)| *p).unwrap();
        prop_assert_eq!(index.position(id), Some(now_at));
        prop_assert!((q.distance_m(now_at) - d).abs() <= 1e-6 * d.max(1.0));
    }

    #[test]
    fn bbox_matches_brute_force(points in prop::collection::vec(point(), 0..150),
                                w in -180.0..=180.0f64, e in -180.0..=180.0f64,
                                s in -90.0..=90.0f64, n in -90.0..=90.0f64) {
        let (s, n) = if s <= n { (s, n) } else { (n, s) };
        let bbox = BBox::new(w, s, e, n).unwrap();
        let items = named(&points);
        let index = PointIndex::bulk(items.clone());
        let mut want: Vec<String> = items.iter().filter(|(_, p)| bbox.contains(*p)).map(|(id, _)| id.clone()).collect();
        want.sort();
        prop_assert_eq!(index.in_bbox(&bbox), want);
    }

    #[test]
    fn snap_matches_brute_force(lines in prop::collection::vec((point(), prop::collection::vec((-0.05..0.05f64, -0.05..0.05f64), 1..6)), 1..8),
                                q_off in (-0.02..0.02f64, -0.02..0.02f64), pick in 0usize..8, tol in 0.0..3000.0f64) {
        // Levees start at random places (poles and antimeridian included) and wander a few km.
        let levees: Vec<Levee> = lines.iter().enumerate().filter_map(|(i, (start, steps))| {
            let mut line = vec![*start];
            for (dx, dy) in steps {
                let last = *line.last().unwrap();
                let lon = (last.lon() + dx + 540.0).rem_euclid(360.0) - 180.0;
                let lat = (last.lat() + dy).clamp(-89.9, 89.9);
                line.push(LonLat::new(lon, lat).unwrap());
            }
            Levee::try_from(LeveeSpec {
                id: LeveeId::from(format!("L{i}")), name: String::new(), river: String::new(),
                bank: String::new(), line,
                chainage_origin_m: 100.0 * i as f64, riverside: Hand::Left,
                crest_elevation_m: None, design_flood_level_m: None,
            }).ok()
        }).collect();
        prop_assume!(!levees.is_empty());
        let mut index = LeveeIndex::default();
        for l in &levees { index.insert(l.clone()); }
        let anchor = levees[pick % levees.len()].line()[0];
        let q = LonLat::new((anchor.lon() + q_off.0 + 540.0).rem_euclid(360.0) - 180.0, (anchor.lat() + q_off.1).clamp(-90.0, 90.0)).unwrap();
        let brute = levees.iter().map(|l| l.locate(q)).filter(|l| l.offset_m <= tol)
            .min_by(|a, b| a.offset_m.total_cmp(&b.offset_m).then_with(|| a.levee_id.cmp(&b.levee_id)));
        let got = index.snap(q, tol);
        prop_assert_eq!(got.as_ref().map(|g| g.levee_id.clone()), brute.as_ref().map(|b| b.levee_id.clone()));
        if let (Some(g), Some(b)) = (got, brute) {
            prop_assert!((g.offset_m - b.offset_m).abs() < 1e-6);
            prop_assert!((g.chainage_m - b.chainage_m).abs() < 1e-6);
        }
    }

    #[test]
    fn chainage_round_trips_within_a_metre(start in point(), steps in prop::collection::vec((-0.05..0.05f64, -0.05..0.05f64), 1..8), frac in 0.0..=1.0f64) {
        let mut line = vec![start];
        for (dx, dy) in steps {
            let last = *line.last().unwrap();
            let lon = (last.lon() + dx + 540.0).rem_euclid(360.0) - 180.0;
            line.push(LonLat::new(lon, (last.lat() + dy).clamp(-89.5, 89.5)).unwrap());
        }
        let Ok(levee) = Levee::try_from(LeveeSpec {
            id: LeveeId::from("L"), name: String::new(), river: String::new(),
                bank: String::new(), line,
            chainage_origin_m: 250.0, riverside: Hand::Right, crest_elevation_m: None, design_flood_level_m: None,
        }) else { return Ok(()) };
        let c = levee.start_chainage_m() + frac * levee.length_m();
        let p = levee.point_at(c).unwrap();
        let back = levee.locate(p);
        // Where a bent line folds back near itself a point may be equally near two stretches;
        // the point must at least lie on the line, and the chainage must return to it.
        prop_assert!(back.offset_m < 1.0, "offset {}", back.offset_m);
        let again = levee.point_at(back.chainage_m).unwrap();
        prop_assert!(again.distance_m(p) < 1.0, "{} m apart", again.distance_m(p));
    }
}
