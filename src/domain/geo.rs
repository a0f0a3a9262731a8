//! Positions on the Earth: validated WGS84 longitude/latitude, bounding boxes that may cross the
//! antimeridian, true (great-circle) distances, and zones (planar polygons with holes, `geo`).
//!
//! Distances are plain arithmetic here so that the domain and the spatial projection agree on what
//! "distance" means: the spatial index ranks by chord length on the unit sphere, which is monotonic
//! in great-circle distance, and converts back with [`chord_to_metres`].

use ::geo::BoundingRect;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Mean Earth radius (IUGG), metres. The same radius is used for every distance in Crest.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// A WGS84 position, longitude then latitude (GeoJSON order), in degrees.
/// Once constructed it is finite and in range: longitude in [-180, 180], latitude in [-90, 90].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LonLat {
    lon: f64,
    lat: f64,
}

/// Why a coordinate pair was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CoordinateError {
    #[error("coordinates must be finite numbers")]
    NotFinite,
    #[error("longitude {0} is outside [-180, 180]")]
    LongitudeOutOfRange(f64),
    #[error("latitude {0} is outside [-90, 90]")]
    LatitudeOutOfRange(f64),
}

impl LonLat {
    pub fn new(lon: f64, lat: f64) -> Result<Self, CoordinateError> {
        if !lon.is_finite() || !lat.is_finite() {
            return Err(CoordinateError::NotFinite);
        }
        if !(-180.0..=180.0).contains(&lon) {
            return Err(CoordinateError::LongitudeOutOfRange(lon));
        }
        if !(-90.0..=90.0).contains(&lat) {
            return Err(CoordinateError::LatitudeOutOfRange(lat));
        }
        Ok(Self { lon, lat })
    }

    pub fn lon(self) -> f64 {
        self.lon
    }

    pub fn lat(self) -> f64 {
        self.lat
    }

    /// Unit vector from the Earth's centre (spherical model).
    pub fn to_unit_vector(self) -> [f64; 3] {
        let (lon, lat) = (self.lon.to_radians(), self.lat.to_radians());
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    }

    /// Great-circle distance in metres (haversine, numerically stable for short distances).
    pub fn distance_m(self, other: LonLat) -> f64 {
        let (p1, p2) = (self.lat.to_radians(), other.lat.to_radians());
        let dp = p2 - p1;
        let dl = (other.lon - self.lon).to_radians();
        let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
        2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
    }
}

impl fmt::Display for LonLat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {}]", self.lon, self.lat)
    }
}

/// Converts a chord length on the unit sphere to a great-circle distance in metres.
pub fn chord_to_metres(chord: f64) -> f64 {
    2.0 * EARTH_RADIUS_M * (chord / 2.0).clamp(0.0, 1.0).asin()
}

/// Converts a great-circle distance in metres to a chord length on the unit sphere.
pub fn metres_to_chord(metres: f64) -> f64 {
    let angle = (metres / EARTH_RADIUS_M).min(std::f64::consts::PI);
    2.0 * (angle / 2.0).sin()
}

impl Serialize for LonLat {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.lon, self.lat].serialize(s)
    }
}

/// Marker prefix that lets the protocol layer tell coordinate errors from other field errors.
pub const INVALID_COORDINATES: &str = "invalid coordinates";

impl<'de> Deserialize<'de> for LonLat {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let [lon, lat] = <[f64; 2]>::deserialize(d)?;
        LonLat::new(lon, lat)
            .map_err(|e| serde::de::Error::custom(format!("{INVALID_COORDINATES}: {e}")))
    }
}

/// A longitude/latitude box `[west, south, east, north]` (GeoJSON bbox order). When `west > east`
/// the box crosses the antimeridian. Serialized as the array `[west, south, east, north]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BBox {
    west: f64,
    south: f64,
    east: f64,
    north: f64,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BBoxError {
    #[error(transparent)]
    Coordinate(#[from] CoordinateError),
    #[error("bbox south {0} is north of north {1}")]
    Inverted(f64, f64),
}

impl BBox {
    pub fn new(west: f64, south: f64, east: f64, north: f64) -> Result<Self, BBoxError> {
        LonLat::new(west, south)?;
        LonLat::new(east, north)?;
        if south > north {
            return Err(BBoxError::Inverted(south, north));
        }
        Ok(Self {
            west,
            south,
            east,
            north,
        })
    }

    pub fn crosses_antimeridian(&self) -> bool {
        self.west > self.east
    }

    pub fn contains(&self, p: LonLat) -> bool {
        let lat_ok = p.lat >= self.south && p.lat <= self.north;
        let lon_ok = if self.crosses_antimeridian() {
            p.lon >= self.west || p.lon <= self.east
        } else {
            p.lon >= self.west && p.lon <= self.east
        };
        lat_ok && lon_ok
    }

    /// The box as one or two plain (non-wrapping) `[min, max]` corner pairs.
    pub fn parts(&self) -> Vec<([f64; 2], [f64; 2])> {
        if self.crosses_antimeridian() {
            vec![
                ([self.west, self.south], [180.0, self.north]),
                ([-180.0, self.south], [self.east, self.north]),
            ]
        } else {
            vec![([self.west, self.south], [self.east, self.north])]
        }
    }

    /// True when the plain box `[min, max]` (not wrapping) overlaps this one.
    pub fn intersects_plain(&self, min: [f64; 2], max: [f64; 2]) -> bool {
        self.parts().iter().any(|(lo, hi)| {
            min[0] <= hi[0] && max[0] >= lo[0] && min[1] <= hi[1] && max[1] >= lo[1]
        })
    }
}

impl Serialize for BBox {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        [self.west, self.south, self.east, self.north].serialize(s)
    }
}

impl<'de> Deserialize<'de> for BBox {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let [w, s, e, n] = <[f64; 4]>::deserialize(d)?;
        BBox::new(w, s, e, n)
            .map_err(|e| serde::de::Error::custom(format!("{INVALID_COORDINATES}: {e}")))
    }
}

/// The plain lon/lat envelope of a set of points (`geo`'s bounding rectangle). An empty set has
/// an empty envelope: `min` is +∞ and `max` is −∞, so it overlaps nothing.
pub fn envelope(points: &[LonLat]) -> ([f64; 2], [f64; 2]) {
    match line_string(points).bounding_rect() {
        Some(r) => ([r.min().x, r.min().y], [r.max().x, r.max().y]),
        None => ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
    }
}

/// True when `p` lies strictly inside the polygon bounded by `ring` (planar lon/lat).
pub fn ring_contains(ring: &[LonLat], p: LonLat) -> bool {
    Zone::from_ring(ring).contains(p)
}

fn coord(p: LonLat) -> ::geo::Coord<f64> {
    ::geo::Coord { x: p.lon, y: p.lat }
}

fn line_string(points: &[LonLat]) -> ::geo::LineString<f64> {
    points.iter().copied().map(coord).collect()
}

/// A zone on the map: an outer ring and any holes, as a planar polygon in lon/lat degrees
/// (`geo::Polygon`). Evacuation zones, grid cells, towns and the district are zones.
///
/// Planar is right for zones: they are drawn as straight lines between vertices on a lon/lat map
/// and are district-sized, far from the poles. A zone that crosses the antimeridian is not
/// supported (its edges would run the long way round). Distances and levee positions are on the
/// sphere instead (see [`LonLat::distance_m`] and `levee`).
#[derive(Debug, Clone, PartialEq)]
pub struct Zone {
    polygon: ::geo::Polygon<f64>,
}

impl Zone {
    /// A zone from its outer ring and its holes (rings are closed automatically if open).
    pub fn new(outer: &[LonLat], holes: &[Vec<LonLat>]) -> Zone {
        Zone {
            polygon: ::geo::Polygon::new(
                line_string(outer),
                holes.iter().map(|h| line_string(h)).collect(),
            ),
        }
    }

    /// A zone without holes.
    pub fn from_ring(ring: &[LonLat]) -> Zone {
        Zone::new(ring, &[])
    }

    /// Strictly inside: not on an edge, not in (nor on the edge of) a hole.
    pub fn contains(&self, p: LonLat) -> bool {
        use ::geo::Contains;
        self.polygon.contains(&::geo::Point::from(coord(p)))
    }

    /// Inside or on an edge.
    pub fn covers(&self, p: LonLat) -> bool {
        use ::geo::Covers;
        self.polygon.covers(&::geo::Point::from(coord(p)))
    }

    /// True when every point of `other` is inside this zone or on its edges (no part of `other`
    /// lies outside or in a hole).
    pub fn covers_zone(&self, other: &Zone) -> bool {
        use ::geo::Covers;
        self.polygon.covers(&other.polygon)
    }

    /// Planar area in square degrees, holes subtracted. Zero for a ring that encloses nothing.
    pub fn area_deg2(&self) -> f64 {
        use ::geo::Area;
        self.polygon.unsigned_area()
    }

    /// Planar area, in square degrees, of the part this zone shares with `other`.
    pub fn intersection_area_deg2(&self, other: &Zone) -> f64 {
        use ::geo::{Area, BooleanOps};
        self.polygon.intersection(&other.polygon).unsigned_area()
    }

    /// The plain lon/lat envelope of the outer ring.
    pub fn bounding_box(&self) -> ([f64; 2], [f64; 2]) {
        match self.polygon.bounding_rect() {
            Some(r) => ([r.min().x, r.min().y], [r.max().x, r.max().y]),
            None => ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]),
        }
    }

    /// True when the zone and the box share any point (touching counts). A box that crosses the
    /// antimeridian is tested as its two parts.
    pub fn intersects_bbox(&self, bbox: &BBox) -> bool {
        use ::geo::Intersects;
        bbox.parts()
            .into_iter()
            .any(|part| self.polygon.intersects(&rect(part)))
    }

    pub fn polygon(&self) -> &::geo::Polygon<f64> {
        &self.polygon
    }
}

fn rect((lo, hi): ([f64; 2], [f64; 2])) -> ::geo::Rect<f64> {
    ::geo::Rect::new(
        ::geo::Coord { x: lo[0], y: lo[1] },
        ::geo::Coord { x: hi[0], y: hi[1] },
    )
}

/// True when the line through `points` (straight on the lon/lat map) shares any point with the
/// box. A box that crosses the antimeridian is tested as its two parts.
pub fn line_intersects_bbox(points: &[LonLat], bbox: &BBox) -> bool {
    use ::geo::Intersects;
    let line = line_string(points);
    bbox.parts()
        .into_iter()
        .any(|part| line.intersects(&rect(part)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> LonLat {
        LonLat::new(lon, lat).unwrap()
    }

    #[test]
    fn rejects_out_of_range_and_non_finite() {
        assert_eq!(LonLat::new(f64::NAN, 0.0), Err(CoordinateError::NotFinite));
        assert_eq!(
            LonLat::new(0.0, f64::INFINITY),
            Err(CoordinateError::NotFinite)
        );
        assert!(matches!(
            LonLat::new(180.5, 0.0),
            Err(CoordinateError::LongitudeOutOfRange(_))
        ));
        assert!(matches!(
            LonLat::new(0.0, -90.1),
            Err(CoordinateError::LatitudeOutOfRange(_))
        ));
        assert!(LonLat::new(-180.0, 90.0).is_ok());
    }

    #[test]
    fn distance_matches_known_values() {
        // One degree of latitude is about 111.2 km on the mean sphere.
        let d = p(113.0, 27.0).distance_m(p(113.0, 28.0));
        assert!((d - 111_195.0).abs() < 5.0, "{d}");
        // Across the antimeridian the short way round.
        let d = p(179.9, 0.0).distance_m(p(-179.9, 0.0));
        assert!((d - 22_239.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn chord_round_trips() {
        for m in [0.0, 1.0, 1234.5, 1.0e6, 1.5e7] {
            assert!((chord_to_metres(metres_to_chord(m)) - m).abs() < 1e-6 * m.max(1.0));
        }
    }

    #[test]
    fn bbox_wraps_the_antimeridian() {
        let b = BBox::new(170.0, -10.0, -170.0, 10.0).unwrap();
        assert!(b.contains(p(175.0, 0.0)));
        assert!(b.contains(p(-175.0, 0.0)));
        assert!(!b.contains(p(0.0, 0.0)));
        assert_eq!(b.parts().len(), 2);
        assert_eq!(
            serde_json::to_string(&b).unwrap(),
            "[170.0,-10.0,-170.0,10.0]"
        );
        assert_eq!(
            serde_json::from_str::<BBox>("[170,-10,-170,10]").unwrap(),
            b
        );
        assert!(BBox::new(0.0, 10.0, 1.0, 5.0).is_err());
    }

    #[test]
    fn deserialize_reports_coordinates() {
        let err = serde_json::from_str::<LonLat>("[200, 0]")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with(INVALID_COORDINATES), "{err}");
        let ok: LonLat = serde_json::from_str("[113.14, 27.709]").unwrap();
        assert_eq!(ok, p(113.14, 27.709));
    }

    #[test]
    fn polygon_contains() {
        let ring = [p(0.0, 0.0), p(1.0, 0.0), p(1.0, 1.0), p(0.0, 1.0)];
        assert!(ring_contains(&ring, p(0.5, 0.5)));
        assert!(!ring_contains(&ring, p(1.5, 0.5)));
    }

    fn square(w: f64, s: f64, e: f64, n: f64) -> Vec<LonLat> {
        vec![p(w, s), p(e, s), p(e, n), p(w, n), p(w, s)]
    }

    #[test]
    fn a_zone_with_a_hole_excludes_the_hole() {
        let zone = Zone::new(
            &square(113.0, 27.0, 113.2, 27.2),
            &[square(113.05, 27.05, 113.15, 27.15)],
        );
        assert!(zone.contains(p(113.02, 27.1)));
        assert!(!zone.contains(p(113.1, 27.1)), "in the hole");
        assert!(!zone.contains(p(113.3, 27.1)), "outside");
        // Edges: covered, not contained; the hole's edge is the zone's edge.
        assert!(zone.covers(p(113.0, 27.1)) && !zone.contains(p(113.0, 27.1)));
        assert!(zone.covers(p(113.05, 27.1)) && !zone.contains(p(113.05, 27.1)));
        // Area: 0.04 minus 0.01 square degrees.
        assert!(
            (zone.area_deg2() - 0.03).abs() < 1e-12,
            "{}",
            zone.area_deg2()
        );
        assert_eq!(zone.bounding_box(), ([113.0, 27.0], [113.2, 27.2]));
        // A cell whose corners all lie in the zone but which spans the hole is not covered.
        let spanning = Zone::from_ring(&square(113.01, 27.01, 113.19, 27.19));
        assert!(
            square(113.01, 27.01, 113.19, 27.19)
                .iter()
                .all(|c| zone.contains(*c))
        );
        assert!(!zone.covers_zone(&spanning));
        assert!(zone.covers_zone(&Zone::from_ring(&square(113.0, 27.0, 113.04, 27.04))));
    }

    #[test]
    fn zones_and_lines_against_boxes() {
        // An L-shaped zone: its envelope overlaps the box in its empty corner, the zone does not.
        let l = Zone::from_ring(&[
            p(0.0, 0.0),
            p(2.0, 0.0),
            p(2.0, 1.0),
            p(1.0, 1.0),
            p(1.0, 2.0),
            p(0.0, 2.0),
            p(0.0, 0.0),
        ]);
        let corner = BBox::new(1.5, 1.5, 3.0, 3.0).unwrap();
        let (min, max) = l.bounding_box();
        assert!(corner.intersects_plain(min, max));
        assert!(!l.intersects_bbox(&corner));
        assert!(
            l.intersects_bbox(&BBox::new(0.5, 0.5, 0.6, 0.6).unwrap()),
            "box inside"
        );
        assert!(
            l.intersects_bbox(&BBox::new(-5.0, -5.0, 5.0, 5.0).unwrap()),
            "zone inside"
        );
        assert!(
            l.intersects_bbox(&BBox::new(2.0, 0.0, 3.0, 0.5).unwrap()),
            "touching"
        );
        // A box across the antimeridian is both of its parts.
        let east = Zone::from_ring(&square(175.0, 0.0, 176.0, 1.0));
        let west = Zone::from_ring(&square(-176.0, 0.0, -175.0, 1.0));
        let wrap = BBox::new(170.0, -5.0, -170.0, 5.0).unwrap();
        assert!(east.intersects_bbox(&wrap) && west.intersects_bbox(&wrap));
        assert!(!Zone::from_ring(&square(0.0, 0.0, 1.0, 1.0)).intersects_bbox(&wrap));
        // A diagonal line passes by a box its envelope covers.
        let diagonal = [p(0.0, 0.0), p(2.0, 2.0)];
        assert!(!line_intersects_bbox(
            &diagonal,
            &BBox::new(1.5, 0.0, 2.0, 0.5).unwrap()
        ));
        assert!(line_intersects_bbox(
            &diagonal,
            &BBox::new(0.9, 0.9, 1.1, 1.1).unwrap()
        ));
        assert_eq!(envelope(&diagonal), ([0.0, 0.0], [2.0, 2.0]));
        assert_eq!(envelope(&[]), ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]));
    }
}
