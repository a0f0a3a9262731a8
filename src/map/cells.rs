//! Grid cells (网格) tile the district: no two overlap, together they cover it exactly (their
//! areas add up to the district's), every village lies in exactly one cell and that cell names
//! it; a grid worker's id has the form `GW-017` and always goes with one name.
//!
//! Overlaps are measured as the area of the intersection (`geo`'s boolean operations), for the
//! pairs whose boxes overlap (a sweep along longitude): cells that share an edge intersect in a
//! line, of no area.

use super::{Feature, Loader, MapError, prop_str, zone_of};
use crate::domain::geo::EARTH_RADIUS_M;
use geo::{Area, BooleanOps};
use std::collections::HashMap;

/// Two cells overlap when their intersection is larger than this share of the smaller cell
/// (1e-6 of a 7 km² cell is 7 m²: far above the rounding of shared vertices, far below any
/// real overlap).
const OVERLAP_TOLERANCE: f64 = crate::domain::evacuation::CELL_OVERLAP_TOLERANCE;

/// The cells' areas must add up to the district's within this relative tolerance.
const TILING_TOLERANCE: f64 = 1e-6;

/// Square metres in a square degree at a latitude (planar lon/lat, for messages).
fn m2_per_deg2(lat: f64) -> f64 {
    let m_per_deg = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;
    m_per_deg * m_per_deg * lat.to_radians().cos()
}

/// `GW-` and at least three digits.
fn is_worker_id(id: &str) -> bool {
    id.strip_prefix("GW-")
        .is_some_and(|n| n.len() >= 3 && n.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn check(
    loader: &Loader,
    features: &HashMap<&'static str, Vec<Feature>>,
) -> Result<(), MapError> {
    let Some(cells) = features.get("grid_cells") else {
        return Ok(());
    };
    check_workers(loader, cells)?;
    check_overlaps(loader, cells)?;
    if let Some(d) = features.get("district").and_then(|d| d.first()) {
        check_tiling(loader, d, cells)?;
    }
    if let Some(villages) = features.get("villages") {
        check_villages(loader, villages, cells)?;
    }
    Ok(())
}

/// `grid_worker_id` has the form `GW-017`, and one id always has one name.
fn check_workers(loader: &Loader, cells: &[Feature]) -> Result<(), MapError> {
    let mut names: HashMap<&str, (&str, &Feature)> = HashMap::new();
    for c in cells {
        let Some(value) = c.props.get("grid_worker_id") else {
            continue;
        };
        let Some(id) = value.as_str().filter(|id| is_worker_id(id)) else {
            return Err(loader.ferr(
                "grid_cells",
                c,
                format!(
                    "field `properties.grid_worker_id`: {value} is not a grid worker id (`GW-` and at least three digits, e.g. GW-017)"
                ),
            ));
        };
        let name = prop_str(c, "grid_worker").unwrap_or("");
        match names.get(id) {
            Some((first, at)) if *first != name => {
                return Err(loader.ferr(
                    "grid_cells",
                    c,
                    format!(
                        "field `properties.grid_worker`: {id} is {name:?} here but {first:?} in grid cell {} (one id, one person)",
                        at.id
                    ),
                ));
            }
            Some(_) => {}
            None => {
                names.insert(id, (name, c));
            }
        }
    }
    Ok(())
}

/// No two cells overlap (beyond a shared edge).
fn check_overlaps(loader: &Loader, cells: &[Feature]) -> Result<(), MapError> {
    let mut order: Vec<(usize, [f64; 2], [f64; 2])> = cells
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (min, max) = zone_of(c).bounding_box();
            (i, min, max)
        })
        .collect();
    order.sort_by(|a, b| a.1[0].total_cmp(&b.1[0]).then(a.0.cmp(&b.0)));
    for (k, (i, min_i, max_i)) in order.iter().enumerate() {
        for (j, min_j, max_j) in &order[k + 1..] {
            if min_j[0] > max_i[0] {
                break;
            }
            if min_j[1] > max_i[1] || max_j[1] < min_i[1] || max_j[0] < min_i[0] {
                continue;
            }
            let (a, b) = (zone_of(&cells[*i]), zone_of(&cells[*j]));
            let shared = a.polygon().intersection(b.polygon()).unsigned_area();
            if shared > OVERLAP_TOLERANCE * a.area_deg2().min(b.area_deg2()) {
                let (first, second) = if i < j { (i, j) } else { (j, i) };
                let lat = (min_i[1] + max_i[1]) / 2.0;
                return Err(loader.ferr(
                    "grid_cells",
                    &cells[*second],
                    format!(
                        "field `geometry.coordinates`: overlaps grid cell {} by {:.0} m²; grid cells must not overlap",
                        cells[*first].id,
                        shared * m2_per_deg2(lat)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// Together the cells cover the district: their areas add up to its area (they lie inside it and
/// do not overlap, so anything less is a gap).
fn check_tiling(loader: &Loader, district: &Feature, cells: &[Feature]) -> Result<(), MapError> {
    let area = zone_of(district).area_deg2();
    let sum: f64 = cells.iter().map(|c| zone_of(c).area_deg2()).sum();
    if (sum - area).abs() > TILING_TOLERANCE * area {
        let (min, max) = zone_of(district).bounding_box();
        let km2 = |deg2: f64| deg2 * m2_per_deg2((min[1] + max[1]) / 2.0) / 1e6;
        return Err(loader.err(
            "grid_cells",
            "file",
            format!(
                "field `features`: the grid cells cover {:.3} km² but the district is {:.3} km²; the cells must tile the whole district (a gap of {:.3} km²)",
                km2(sum),
                km2(area),
                km2(area - sum)
            ),
        ));
    }
    Ok(())
}

/// Every village lies in exactly one cell (on no cell's edge), and that cell names it.
fn check_villages(
    loader: &Loader,
    villages: &[Feature],
    cells: &[Feature],
) -> Result<(), MapError> {
    let boxes: Vec<([f64; 2], [f64; 2])> =
        cells.iter().map(|c| zone_of(c).bounding_box()).collect();
    for v in villages {
        let p = v
            .shape
            .point()
            .expect("villages are points (checked when parsed)");
        let holders: Vec<&Feature> = cells
            .iter()
            .zip(&boxes)
            .filter(|(_, (min, max))| {
                (min[0]..=max[0]).contains(&p.lon()) && (min[1]..=max[1]).contains(&p.lat())
            })
            .map(|(c, _)| c)
            .filter(|c| zone_of(c).covers(p))
            .collect();
        let cell = match holders.as_slice() {
            [one] if zone_of(one).contains(p) => *one,
            [] => {
                return Err(loader.ferr(
                    "villages",
                    v,
                    format!("field `geometry.coordinates`: {p} lies in no grid cell"),
                ));
            }
            _ => {
                let ids: Vec<&str> = holders.iter().map(|c| c.id.as_str()).collect();
                return Err(loader.ferr(
                    "villages",
                    v,
                    format!(
                        "field `geometry.coordinates`: {p} lies on the edge of grid cells {}; a village lies in exactly one cell",
                        ids.join(", ")
                    ),
                ));
            }
        };
        if prop_str(cell, "village") != Some(v.id.as_str()) {
            return Err(loader.ferr(
                "grid_cells",
                cell,
                format!(
                    "field `properties.village`: the cell holds village {} ({p}) but names {}",
                    v.id,
                    prop_str(cell, "village").unwrap_or("none")
                ),
            ));
        }
    }
    Ok(())
}
