//! Spatial indexes over the live state (rstar), updated on every event.
//!
//! Nearest-neighbour ranking uses positions as unit vectors in 3-D: the straight chord between two
//! points on the sphere grows monotonically with their great-circle distance, so the R-tree's
//! Euclidean nearest neighbour is the true nearest on the Earth, with no seam at the antimeridian
//! and no distortion near the poles. Viewport queries use a second tree in longitude/latitude.

mod levees;
mod points;
#[cfg(test)]
mod props;

pub use levees::LeveeIndex;
pub use points::PointIndex;

use crate::domain::events::{Event, Layer};
use crate::domain::ids::*;
use crate::domain::model::{Capability, TeamStatus};
use crate::domain::{BBox, LonLat, State};
use serde::Serialize;

/// All spatial indexes of the projection.
#[derive(Debug, Default, Clone)]
pub struct Spatial {
    pub teams: PointIndex,
    pub shelters: PointIndex,
    pub hazards: PointIndex,
    pub gauges: PointIndex,
    pub levees: LeveeIndex,
}

/// A team found by [`Spatial::nearest_teams`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamHit {
    pub team_id: TeamId,
    pub distance_m: f64,
    /// Straight-line travel time at the team's planning speed, seconds.
    pub eta_s: f64,
    pub position: LonLat,
}

/// A shelter found by [`Spatial::nearest_shelters`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ShelterHit {
    pub shelter_id: ShelterId,
    pub distance_m: f64,
    pub free_places: u32,
    pub position: LonLat,
}

impl Spatial {
    /// Builds every index from a state (start-up, snapshot restore).
    pub fn build(state: &State) -> Spatial {
        let mut s = Spatial {
            teams: PointIndex::bulk(
                state
                    .teams
                    .values()
                    .filter_map(|t| Some((t.id.to_string(), t.fix?.position))),
            ),
            shelters: PointIndex::bulk(
                state
                    .shelters
                    .values()
                    .map(|x| (x.id.to_string(), x.position)),
            ),
            hazards: PointIndex::bulk(
                state
                    .hazards
                    .values()
                    .map(|h| (h.id.to_string(), h.position)),
            ),
            gauges: PointIndex::bulk(
                state
                    .gauges
                    .values()
                    .map(|g| (g.id.to_string(), g.position)),
            ),
            levees: LeveeIndex::default(),
        };
        for l in state.levees.values() {
            s.levees.insert(l.clone());
        }
        s
    }

    /// Keeps the indexes in step with the state. Call after the event was applied to the state.
    pub fn apply(&mut self, event: &Event) {
        if let Event::LeveeDefined { levee } = event {
            self.levees.insert(levee.clone());
            return;
        }
        let (layer, id) = event.subject();
        if let Some(pos) = event.places_at()
            && let Some(index) = self.point_layer_mut(layer)
        {
            index.upsert(id, pos);
        }
    }

    pub fn point_layer(&self, layer: Layer) -> Option<&PointIndex> {
        match layer {
            Layer::Teams => Some(&self.teams),
            Layer::Shelters => Some(&self.shelters),
            Layer::Hazards => Some(&self.hazards),
            Layer::Gauges => Some(&self.gauges),
            _ => None,
        }
    }

    fn point_layer_mut(&mut self, layer: Layer) -> Option<&mut PointIndex> {
        match layer {
            Layer::Teams => Some(&mut self.teams),
            Layer::Shelters => Some(&mut self.shelters),
            Layer::Hazards => Some(&mut self.hazards),
            Layer::Gauges => Some(&mut self.gauges),
            _ => None,
        }
    }

    /// The nearest `limit` available teams to `point`, optionally only those with `capability`.
    pub fn nearest_teams(
        &self,
        state: &State,
        point: LonLat,
        limit: usize,
        capability: Option<Capability>,
    ) -> Vec<TeamHit> {
        self.teams
            .nearest(point)
            .filter_map(|(id, distance_m)| {
                let team = state.teams.get(id)?;
                let usable = state.team_status(team) == TeamStatus::Available
                    && capability.is_none_or(|c| team.capabilities.contains(&c));
                usable.then(|| TeamHit {
                    team_id: team.id.clone(),
                    distance_m,
                    eta_s: team.travel_mode.eta_s(distance_m),
                    position: team.fix.map(|f| f.position).unwrap_or(point),
                })
            })
            .take(limit)
            .collect()
    }

    /// The nearest `limit` open shelters with at least `min_free` free places.
    pub fn nearest_shelters(
        &self,
        state: &State,
        point: LonLat,
        min_free: u32,
        limit: usize,
    ) -> Vec<ShelterHit> {
        self.shelters
            .nearest(point)
            .filter_map(|(id, distance_m)| {
                let s = state.shelters.get(id)?;
                (s.open && s.free_places() >= min_free).then(|| ShelterHit {
                    shelter_id: s.id.clone(),
                    distance_m,
                    free_places: s.free_places(),
                    position: s.position,
                })
            })
            .take(limit)
            .collect()
    }

    /// Ids of the entities of `layer` inside `bbox`. Point layers use their index; levees, grid
    /// cells and evacuation zones are those whose line or polygon shares a point with the box
    /// (`geo`; touching counts), not merely their envelope.
    pub fn in_bbox(&self, state: &State, layer: Layer, bbox: &BBox) -> Vec<String> {
        use crate::domain::geo::{Zone, line_intersects_bbox};
        if let Some(index) = self.point_layer(layer) {
            return index.in_bbox(bbox);
        }
        match layer {
            Layer::Levees => state
                .levees
                .values()
                .filter(|l| line_intersects_bbox(l.line(), bbox))
                .map(|l| l.id().to_string())
                .collect(),
            Layer::Evacuations => state
                .evacuations
                .values()
                .filter(|e| Zone::from_ring(&e.zone).intersects_bbox(bbox))
                .map(|e| e.id.to_string())
                .collect(),
            Layer::GridCells => state
                .grid_cells
                .values()
                .filter(|c| Zone::from_ring(&c.ring).intersects_bbox(bbox))
                .map(|c| c.id.to_string())
                .collect(),
            Layer::FloodZones => state
                .flood_zones
                .values()
                .filter(|z| Zone::from_ring(&z.ring).intersects_bbox(bbox))
                .map(|z| z.id.to_string())
                .collect(),
            _ => Vec::new(),
        }
    }
}
