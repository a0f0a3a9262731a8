//! An index of named points: nearest-first iteration on the sphere and lon/lat boxes.

use crate::domain::geo::chord_to_metres;
use crate::domain::{BBox, LonLat};
use rstar::RTree;
use rstar::primitives::GeomWithData;
use std::collections::HashMap;
use std::sync::Arc;

/// Ids are shared by the map and both trees: moving a point allocates no string.
type Id = Arc<str>;
type Sphere = GeomWithData<[f64; 3], Id>;
type Plane = GeomWithData<[f64; 2], Id>;

#[derive(Debug, Default, Clone)]
pub struct PointIndex {
    sphere: RTree<Sphere>,
    plane: RTree<Plane>,
    positions: HashMap<Id, LonLat>,
}

impl PointIndex {
    pub fn bulk(items: impl IntoIterator<Item = (String, LonLat)>) -> PointIndex {
        let positions: HashMap<Id, LonLat> =
            items.into_iter().map(|(id, p)| (Id::from(id), p)).collect();
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

    /// Inserts or moves a point. Moving a known id allocates no string.
    pub fn upsert(&mut self, id: &str, p: LonLat) {
        let id = match self.positions.get_key_value(id) {
            Some((_, old)) if *old == p => return,
            Some((key, old)) => {
                let (key, old) = (key.clone(), *old);
                self.sphere
                    .remove(&Sphere::new(old.to_unit_vector(), key.clone()));
                self.plane
                    .remove(&Plane::new([old.lon(), old.lat()], key.clone()));
                key
            }
            None => Id::from(id),
        };
        self.positions.insert(id.clone(), p);
        self.sphere
            .insert(Sphere::new(p.to_unit_vector(), id.clone()));
        self.plane.insert(Plane::new([p.lon(), p.lat()], id));
    }

    /// Every point, nearest first, with its great-circle distance in metres.
    pub fn nearest(&self, p: LonLat) -> impl Iterator<Item = (&str, f64)> {
        let q = p.to_unit_vector();
        self.sphere
            .nearest_neighbor_iter_with_distance_2(q)
            .map(|(item, d2)| (&*item.data, chord_to_metres(d2.sqrt())))
    }

    /// Ids inside a lon/lat box (which may cross the antimeridian).
    pub fn in_bbox(&self, bbox: &BBox) -> Vec<String> {
        let mut out = Vec::new();
        for (lo, hi) in bbox.parts() {
            let env = rstar::AABB::from_corners(lo, hi);
            out.extend(
                self.plane
                    .locate_in_envelope(env)
                    .map(|i| i.data.to_string()),
            );
        }
        out.sort();
        out.dedup();
        out
    }
}
