//! Levee snapping: an R-tree of levee segments on the unit sphere picks the candidate levees near a
//! point; each candidate then answers exactly with `Levee::locate`.

use crate::domain::geo::metres_to_chord;
use crate::domain::ids::LeveeId;
use crate::domain::levee::{Levee, LeveeLocation};
use crate::domain::{LeveeSnapper, LonLat};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};
use std::collections::HashMap;

type Segment = GeomWithData<Rectangle<[f64; 3]>, usize>;

#[derive(Debug, Default, Clone)]
pub struct LeveeIndex {
    levees: Vec<Levee>,
    by_id: HashMap<LeveeId, usize>,
    segments: RTree<Segment>,
}

impl LeveeIndex {
    pub fn insert(&mut self, levee: Levee) {
        let slot = match self.by_id.get(levee.id()) {
            Some(&i) => {
                // Redefinition: drop the old segments; the slot keeps its number.
                let old: Vec<Segment> = self
                    .segments
                    .iter()
                    .filter(|s| s.data == i)
                    .cloned()
                    .collect();
                for s in old {
                    self.segments.remove(&s);
                }
                self.levees[i] = levee;
                i
            }
            None => {
                self.by_id.insert(levee.id().clone(), self.levees.len());
                self.levees.push(levee);
                self.levees.len() - 1
            }
        };
        for w in self.levees[slot].line().windows(2) {
            let (a, b) = (w[0].to_unit_vector(), w[1].to_unit_vector());
            // The arc between a and b bulges outside their chord by at most 1 - cos(θ/2) ≤ chord²/8.
            let chord2: f64 = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum();
            let pad = chord2 / 8.0 + 1e-12;
            let lo = [
                a[0].min(b[0]) - pad,
                a[1].min(b[1]) - pad,
                a[2].min(b[2]) - pad,
            ];
            let hi = [
                a[0].max(b[0]) + pad,
                a[1].max(b[1]) + pad,
                a[2].max(b[2]) + pad,
            ];
            self.segments
                .insert(Segment::new(Rectangle::from_corners(lo, hi), slot));
        }
    }

    /// The nearest levee within `tolerance_m` of `p`, with chainage, side and offset.
    pub fn snap(&self, p: LonLat, tolerance_m: f64) -> Option<LeveeLocation> {
        if !(tolerance_m.is_finite() && tolerance_m >= 0.0) {
            return None;
        }
        let q = p.to_unit_vector();
        let r = metres_to_chord(tolerance_m) + 1e-12;
        let env = AABB::from_corners(
            [q[0] - r, q[1] - r, q[2] - r],
            [q[0] + r, q[1] + r, q[2] + r],
        );
        let mut candidates: Vec<usize> = self
            .segments
            .locate_in_envelope_intersecting(env)
            .map(|s| s.data)
            .collect();
        candidates.sort_unstable();
        candidates.dedup();
        candidates
            .into_iter()
            .map(|i| self.levees[i].locate(p))
            .filter(|loc| loc.offset_m <= tolerance_m)
            .min_by(|a, b| {
                a.offset_m
                    .total_cmp(&b.offset_m)
                    .then_with(|| a.levee_id.cmp(&b.levee_id))
            })
    }
}

impl LeveeSnapper for LeveeIndex {
    fn snap(&self, point: LonLat, tolerance_m: f64) -> Option<LeveeLocation> {
        LeveeIndex::snap(self, point, tolerance_m)
    }
}
