//! Positions on the Earth: validated WGS84 longitude/latitude, bounding boxes that may cross the
//! antimeridian, and true (great-circle) distances.
//!
//! Everything here is plain arithmetic so that the domain and the spatial projection agree on what
//! "distance" means: the spatial index ranks by chord length on the unit sphere, which is monotonic
//! in great-circle distance, and converts back with [`chord_to_metres`].

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

/// The plain lon/lat envelope of a set of points.
pub fn envelope(points: &[LonLat]) -> ([f64; 2], [f64; 2]) {
    let mut min = [f64::INFINITY; 2];
    let mut max = [f64::NEG_INFINITY; 2];
    for p in points {
        min[0] = min[0].min(p.lon);
        min[1] = min[1].min(p.lat);
        max[0] = max[0].max(p.lon);
        max[1] = max[1].max(p.lat);
    }
    (min, max)
}

/// Ray-casting point-in-polygon on lon/lat (adequate for district-sized zones far from the poles).
pub fn ring_contains(ring: &[LonLat], p: LonLat) -> bool {
    let mut inside = false;
    let n = ring.len();
    if n < 3 {
        return false;
    }
    let mut j = n - 1;
    for i in 0..n {
        let (a, b) = (ring[i], ring[j]);
        if (a.lat > p.lat) != (b.lat > p.lat) {
            let x = (b.lon - a.lon) * (p.lat - a.lat) / (b.lat - a.lat) + a.lon;
            if p.lon < x {
                inside = !inside;
            }
        }
        j = i;
    }
    inside
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
}
