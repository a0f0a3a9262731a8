//! An index of named points: nearest-first iteration on the sphere and lon/lat boxes.

use crate::domain::geo::chord_to_metres;
use crate::domain::{BBox, LonLat};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use std::collections::HashMap;

type Sphere = GeomWithData<[f64; 3], String>;
type Plane = GeomWithData<[f64; 2], String>;

#[derive(Debug, Default, Clone)]
pub struct PointIndex {
    sphere: RTree<Sphere>,
    plane: RTree<Plane>,
    positions: HashMap<String, LonLat>,
}

impl PointIndex {
    pub fn bulk(items: impl IntoIterator<Item = (String, LonLat)>) -> PointIndex {
        let positions: HashMap<String, LonLat> = items.into_iter().collect();
        let sphere = positions
            .iter()
            .map(|(id, p)| Sphere::new(p.to_unit_vector(), id.clone()))
            .collect();
        let plane = positions
            .iter()
            .map(|(id, p)| Plane::new([p.lon(), p.lat()], id.clone()))
            .collect();
        PointIndex {
            sphere: RTree::bulk_load(sphere),
            plane: RTree::bulk_load(plane),
            positions,
        }
    }

    pub fn len(&self) -> usize {
        self.positions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.positions.is_empty()
    }

    pub fn position(&self, id: &str) -> Option<LonLat> {
        self.positions.get(id).copied()
    }

    /// Inserts or moves a point.
    pub fn upsert(&mut self, id: &str, p: LonLat) {
        if let Some(old) = self.positions.insert(id.to_string(), p) {
            if old == p {
                return;
            }
            self.sphere
                .remove(&Sphere::new(old.to_unit_vector(), id.to_string()));
            self.plane
                .remove(&Plane::new([old.lon(), old.lat()], id.to_string()));
        }
        self.sphere
            .insert(Sphere::new(p.to_unit_vector(), id.to_string()));
        self.plane
            .insert(Plane::new([p.lon(), p.lat()], id.to_string()));
    }

    /// Every point, nearest first, with its great-circle distance in metres.
    pub fn nearest(&self, p: LonLat) -> impl Iterator<Item = (&str, f64)> {
        let q = p.to_unit_vector();
        self.sphere
            .nearest_neighbor_iter_with_distance_2(q)
            .map(|(item, d2)| (item.data.as_str(), chord_to_metres(d2.sqrt())))
    }

    /// Ids inside a lon/lat box (which may cross the antimeridian).
    pub fn in_bbox(&self, bbox: &BBox) -> Vec<String> {
        let mut out = Vec::new();
        for (lo, hi) in bbox.parts() {
            let env = rstar::AABB::from_corners(lo, hi);
            out.extend(self.plane.locate_in_envelope(env).map(|i| i.data.clone()));
        }
        out.sort();
        out.dedup();
        out
    }
}
