//! Flood zones (溃口淹没区): the area a breach of one levee would flood, and what follows for the
//! shelters in it. A shelter is flood-safe when it lies outside every flood zone, or stands on
//! high ground; a levee is breached while it has an open breach (a hazard of kind `breach` that
//! is neither eliminated nor a false alarm) or an open incident. Opening a shelter that is not
//! flood-safe inside the zone of a breached levee needs an explicit override
//! (`decide::shelters`).

use super::geo::{LonLat, Zone};
use super::ids::*;
use super::model::{HazardKind, Shelter};
use super::state::State;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloodZone {
    pub id: FloodZoneId,
    pub name: String,
    /// The levee whose breach floods this area.
    pub levee_id: LeveeId,
    /// Outer ring, closed.
    pub ring: Vec<LonLat>,
}

impl FloodZone {
    /// Inside or on the edge of the zone.
    pub fn covers(&self, p: LonLat) -> bool {
        let (min, max) = super::geo::envelope(&self.ring);
        let in_box =
            p.lon() >= min[0] && p.lon() <= max[0] && p.lat() >= min[1] && p.lat() <= max[1];
        in_box && Zone::from_ring(&self.ring).covers(p)
    }
}

/// A dispatcher's decision to open a shelter inside a breached levee's flood zone anyway: why,
/// and the zones it was opened in. Recorded in `shelter_open_changed`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FloodRiskOverride {
    pub reason: String,
    pub flood_zones: Vec<FloodZoneId>,
}

/// Whether a shelter is safe from the flooding of a levee breach, as views show it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FloodSafety {
    /// Outside every flood zone, or on high ground.
    pub flood_safe: bool,
    /// The flood zones it lies in (by id), whatever its ground.
    pub flood_zones: Vec<FloodZoneId>,
    /// Not flood-safe and in the zone of a levee that is breached now.
    pub in_breach_flood_area: bool,
}

impl State {
    /// Levees that are breached now: with an open breach hazard, or with an open incident.
    pub fn breached_levees(&self) -> BTreeSet<&LeveeId> {
        let breaches = self
            .hazards
            .values()
            .filter(|h| h.kind == HazardKind::Breach && !h.status.is_closed());
        let incidents = self
            .incidents
            .values()
            .filter(|i| i.is_open())
            .filter_map(|i| self.hazards.get(&i.hazard_id));
        breaches
            .chain(incidents)
            .filter_map(|h| h.levee.as_ref().map(|l| &l.levee_id))
            .collect()
    }

    /// The flood zones that cover a point.
    pub fn flood_zones_at(&self, p: LonLat) -> impl Iterator<Item = &FloodZone> {
        self.flood_zones.values().filter(move |z| z.covers(p))
    }

    /// Where a shelter stands against the flooding of a breach.
    pub fn shelter_flood_safety(&self, shelter: &Shelter) -> FloodSafety {
        let zones: Vec<&FloodZone> = self.flood_zones_at(shelter.position).collect();
        let flood_safe = zones.is_empty() || shelter.high_ground;
        let in_breach_flood_area = !flood_safe && {
            let breached = self.breached_levees();
            zones.iter().any(|z| breached.contains(&z.levee_id))
        };
        FloodSafety {
            flood_safe,
            flood_zones: zones.iter().map(|z| z.id.clone()).collect(),
            in_breach_flood_area,
        }
    }

    /// The flood zones of breached levees that a shelter (not on high ground) lies in: where
    /// opening it would send people into the flood.
    pub fn breach_flood_zones_at(&self, shelter: &Shelter) -> Vec<&FloodZone> {
        if shelter.high_ground {
            return Vec::new();
        }
        let zones: Vec<&FloodZone> = self.flood_zones_at(shelter.position).collect();
        if zones.is_empty() {
            return zones;
        }
        let breached = self.breached_levees();
        zones
            .into_iter()
            .filter(|z| breached.contains(&z.levee_id))
            .collect()
    }
}
