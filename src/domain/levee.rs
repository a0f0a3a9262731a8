//! Levees and linear referencing: a point to (chainage, side, offset) and a chainage to a point.
//!
//! The geometry is exact on the sphere: a point is projected onto the great circle of each segment
//! with unit vectors, so it behaves the same at the equator, near the poles and across the
//! antimeridian.

use super::chainage::Chainage;
use super::geo::{EARTH_RADIUS_M, LonLat};
use super::ids::LeveeId;
use serde::{Deserialize, Serialize};

/// Which side of a levee a point lies on.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum BankSide {
    /// 临水: the water side.
    Riverside,
    /// 背水: the protected side.
    Landside,
}

/// Left or right, looking along the direction of increasing chainage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Hand {
    Left,
    Right,
}

/// Static description of a levee (from the map or a `define_levee` command).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LeveeSpec {
    pub id: LeveeId,
    pub name: String,
    #[serde(default)]
    pub river: String,
    /// Which bank of the river the levee stands on (`east`, `north`, …), for people.
    #[serde(default)]
    pub bank: String,
    /// Vertices in the direction of increasing chainage.
    pub line: Vec<LonLat>,
    /// Chainage of the first vertex, metres.
    #[serde(default)]
    pub chainage_origin_m: f64,
    /// Which hand the river is on when walking in the direction of increasing chainage.
    pub riverside: Hand,
    #[serde(default)]
    pub crest_elevation_m: Option<f64>,
    #[serde(default)]
    pub design_flood_level_m: Option<f64>,
}

/// A validated levee with its cumulative lengths.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "LeveeSpec", into = "LeveeSpec")]
pub struct Levee {
    spec: LeveeSpec,
    /// Distance from the first vertex to each vertex, metres.
    cumulative_m: Vec<f64>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LeveeError {
    #[error("a levee line needs at least two vertices")]
    TooFewVertices,
    #[error("a levee line must have a positive length")]
    ZeroLength,
    #[error("chainage origin must be a non-negative finite number")]
    BadOrigin,
    #[error("levee id must not be empty")]
    EmptyId,
}

impl LeveeError {
    /// The Chinese message.
    pub fn zh(&self) -> &'static str {
        match self {
            LeveeError::TooFewVertices => "堤线至少需要两个顶点",
            LeveeError::ZeroLength => "堤线长度必须大于零",
            LeveeError::BadOrigin => "桩号起点必须是非负的有限数",
            LeveeError::EmptyId => "堤防编号不能为空",
        }
    }
}

impl TryFrom<LeveeSpec> for Levee {
    type Error = LeveeError;

    fn try_from(spec: LeveeSpec) -> Result<Self, LeveeError> {
        if spec.id.as_str().is_empty() {
            return Err(LeveeError::EmptyId);
        }
        if spec.line.len() < 2 {
            return Err(LeveeError::TooFewVertices);
        }
        if !spec.chainage_origin_m.is_finite() || spec.chainage_origin_m < 0.0 {
            return Err(LeveeError::BadOrigin);
        }
        let mut cumulative_m = Vec::with_capacity(spec.line.len());
        let mut total = 0.0;
        cumulative_m.push(0.0);
        for w in spec.line.windows(2) {
            total += w[0].distance_m(w[1]);
            cumulative_m.push(total);
        }
        if total <= 0.0 {
            return Err(LeveeError::ZeroLength);
        }
        Ok(Self { spec, cumulative_m })
    }
}

impl From<Levee> for LeveeSpec {
    fn from(l: Levee) -> Self {
        l.spec
    }
}

/// Where a point lies relative to a levee.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeveeLocation {
    pub levee_id: LeveeId,
    pub chainage_m: f64,
    /// `K12+300`.
    pub chainage: String,
    pub side: BankSide,
    /// Distance from the levee line, metres.
    pub offset_m: f64,
}

type Vec3 = [f64; 3];

fn dot(a: Vec3, b: Vec3) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn cross(a: Vec3, b: Vec3) -> Vec3 {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn scale(a: Vec3, k: f64) -> Vec3 {
    [a[0] * k, a[1] * k, a[2] * k]
}

fn sub(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}

fn add(a: Vec3, b: Vec3) -> Vec3 {
    [a[0] + b[0], a[1] + b[1], a[2] + b[2]]
}

fn norm(a: Vec3) -> f64 {
    dot(a, a).sqrt()
}

/// Angle between two unit vectors, robust for tiny angles.
fn angle(a: Vec3, b: Vec3) -> f64 {
    norm(cross(a, b)).atan2(dot(a, b))
}

fn to_lonlat(v: Vec3) -> LonLat {
    let lat = v[2].clamp(-1.0, 1.0).asin().to_degrees();
    let lon = v[1].atan2(v[0]).to_degrees();
    LonLat::new(lon, lat).expect("a unit vector maps to a valid position")
}

/// Closest point of the great-circle segment a→b to p: (distance along from a in radians,
/// distance from the segment in radians, signed: positive = left of a→b).
fn project_on_segment(a: Vec3, b: Vec3, p: Vec3) -> (f64, f64, f64) {
    let n = cross(a, b);
    let n_len = norm(n);
    let seg = angle(a, b);
    if n_len < 1e-15 {
        let d = angle(a, p);
        return (0.0, d, d);
    }
    let n = scale(n, 1.0 / n_len);
    let height = dot(p, n);
    let foot = sub(p, scale(n, height));
    let foot_len = norm(foot);
    let side_sign = if height >= 0.0 { 1.0 } else { -1.0 };
    if foot_len > 1e-15 {
        let f = scale(foot, 1.0 / foot_len);
        // f lies between a and b when it is on the inner side of both end planes.
        if dot(cross(a, f), n) >= 0.0 && dot(cross(f, b), n) >= 0.0 {
            let along = angle(a, f);
            return (along, height.clamp(-1.0, 1.0).asin().abs(), side_sign);
        }
    }
    let (da, db) = (angle(a, p), angle(b, p));
    if da <= db {
        (0.0, da, side_sign)
    } else {
        (seg, db, side_sign)
    }
}

impl Levee {
    pub fn id(&self) -> &LeveeId {
        &self.spec.id
    }

    pub fn spec(&self) -> &LeveeSpec {
        &self.spec
    }

    pub fn line(&self) -> &[LonLat] {
        &self.spec.line
    }

    pub fn length_m(&self) -> f64 {
        *self
            .cumulative_m
            .last()
            .expect("validated: two or more vertices")
    }

    pub fn start_chainage_m(&self) -> f64 {
        self.spec.chainage_origin_m
    }

    pub fn end_chainage_m(&self) -> f64 {
        self.spec.chainage_origin_m + self.length_m()
    }

    /// Where `p` lies along this levee: nearest point of the line, its chainage, the side and the
    /// perpendicular offset. Always answers; callers apply their own tolerance to `offset_m`.
    pub fn locate(&self, p: LonLat) -> LeveeLocation {
        let pv = p.to_unit_vector();
        let mut best = (f64::INFINITY, 0.0, 1.0);
        for (i, w) in self.spec.line.windows(2).enumerate() {
            let (along, dist, sign) =
                project_on_segment(w[0].to_unit_vector(), w[1].to_unit_vector(), pv);
            if dist < best.0 {
                best = (dist, self.cumulative_m[i] + along * EARTH_RADIUS_M, sign);
            }
        }
        let (dist, along_m, sign) = best;
        let hand = if sign >= 0.0 { Hand::Left } else { Hand::Right };
        let side = if hand == self.spec.riverside {
            BankSide::Riverside
        } else {
            BankSide::Landside
        };
        let chainage_m = self.spec.chainage_origin_m + along_m.clamp(0.0, self.length_m());
        LeveeLocation {
            levee_id: self.spec.id.clone(),
            chainage_m,
            chainage: Chainage::from_metres(chainage_m)
                .map(|c| c.to_string())
                .unwrap_or_default(),
            side,
            offset_m: dist * EARTH_RADIUS_M,
        }
    }

    /// The point on the line at `chainage_m`, or `None` when it is outside the levee. A chainage
    /// that [`Levee::locate`] returned is always inside, even at the very end (where the sum of
    /// the origin and the length may round past the end by a few ulps).
    pub fn point_at(&self, chainage_m: f64) -> Option<LonLat> {
        let along = chainage_m - self.spec.chainage_origin_m;
        let rounding = 1e-9 * (self.spec.chainage_origin_m + self.length_m());
        if !(-rounding..=self.length_m() + rounding).contains(&along) {
            return None;
        }
        let along = along.clamp(0.0, self.length_m());
        let i = match self.cumulative_m.partition_point(|&c| c <= along) {
            0 => 0,
            k => (k - 1).min(self.spec.line.len() - 2),
        };
        let (a, b) = (
            self.spec.line[i].to_unit_vector(),
            self.spec.line[i + 1].to_unit_vector(),
        );
        let seg = angle(a, b);
        let t = if seg > 0.0 {
            (along - self.cumulative_m[i]) / EARTH_RADIUS_M
        } else {
            0.0
        };
        // Rotate a towards b by t radians within their great circle.
        let n = cross(a, b);
        let n_len = norm(n);
        if n_len < 1e-15 {
            return Some(self.spec.line[i]);
        }
        let u = cross(scale(n, 1.0 / n_len), a);
        Some(to_lonlat(add(scale(a, t.cos()), scale(u, t.sin()))))
    }

    /// Lon/lat envelope of the line.
    pub fn envelope(&self) -> ([f64; 2], [f64; 2]) {
        super::geo::envelope(&self.spec.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lon: f64, lat: f64) -> LonLat {
        LonLat::new(lon, lat).unwrap()
    }

    fn levee(line: Vec<LonLat>, origin: f64) -> Levee {
        Levee::try_from(LeveeSpec {
            id: LeveeId::from("L1"),
            name: "test".into(),
            river: "湘江".into(),
            bank: "east".into(),
            line,
            chainage_origin_m: origin,
            riverside: Hand::Left,
            crest_elevation_m: None,
            design_flood_level_m: None,
        })
        .unwrap()
    }

    #[test]
    fn locates_beside_a_straight_levee() {
        // Northward along a meridian, river on the left (west).
        let l = levee(vec![p(113.0, 27.0), p(113.0, 27.1)], 1000.0);
        let west = l.locate(p(112.999, 27.05));
        assert_eq!(west.side, BankSide::Riverside);
        assert!((west.offset_m - 99.1).abs() < 1.0, "{}", west.offset_m);
        assert!(
            (west.chainage_m - (1000.0 + 5559.7)).abs() < 2.0,
            "{}",
            west.chainage_m
        );
        let east = l.locate(p(113.001, 27.05));
        assert_eq!(east.side, BankSide::Landside);
    }

    #[test]
    fn beyond_the_ends_clamps_to_the_end() {
        let l = levee(vec![p(113.0, 27.0), p(113.0, 27.1)], 0.0);
        let before = l.locate(p(113.0, 26.99));
        assert_eq!(before.chainage_m, 0.0);
        assert!((before.offset_m - 1112.0).abs() < 1.0);
    }

    #[test]
    fn chainage_round_trip_along_a_bent_line() {
        let l = levee(
            vec![
                p(113.0, 27.0),
                p(113.01, 27.02),
                p(113.03, 27.025),
                p(113.05, 27.05),
            ],
            500.0,
        );
        let mut c = l.start_chainage_m();
        while c <= l.end_chainage_m() {
            let q = l.point_at(c).unwrap();
            let back = l.locate(q);
            assert!(
                (back.chainage_m - c).abs() < 0.01,
                "{c} -> {}",
                back.chainage_m
            );
            assert!(back.offset_m < 0.01);
            c += 137.0;
        }
        assert!(l.point_at(l.end_chainage_m() + 1.0).is_none());
        assert!(l.point_at(499.0).is_none());
    }

    #[test]
    fn the_chainage_of_the_end_is_on_the_levee() {
        // Found by the property test against `geo`: origin + length rounds up here, and
        // point_at must still accept the chainage locate returned.
        let wrap = |lon: f64| (lon + 540.0).rem_euclid(360.0) - 180.0;
        let a = p(41.89358354960524, 82.86994301371688);
        let b = p(wrap(a.lon()), a.lat());
        let c = p(
            wrap(b.lon() + 0.026178297235323437),
            b.lat() + 0.0025508520363430047,
        );
        let l = levee(vec![a, b, c], 71_483.909_506_299_21);
        let q = p(wrap(b.lon()), b.lat() + 0.021971381153512982);
        let end = l.locate(q);
        assert!(
            end.chainage_m - l.start_chainage_m() > l.length_m(),
            "the rounding this test is about"
        );
        assert!(l.point_at(end.chainage_m).is_some());
        assert!(l.point_at(l.end_chainage_m() + 0.001).is_none());
        assert!(l.point_at(l.start_chainage_m() - 0.001).is_none());
    }

    #[test]
    fn works_across_the_antimeridian() {
        let l = levee(vec![p(179.99, 10.0), p(-179.99, 10.0)], 0.0);
        assert!((l.length_m() - 2190.0).abs() < 5.0, "{}", l.length_m());
        let loc = l.locate(p(180.0, 10.001));
        assert!((loc.offset_m - 111.2).abs() < 1.0, "{}", loc.offset_m);
        assert!((loc.chainage_m - l.length_m() / 2.0).abs() < 1.0);
    }

    #[test]
    fn refuses_degenerate_lines() {
        let spec = |line| LeveeSpec {
            id: LeveeId::from("L"),
            name: String::new(),
            river: String::new(),
            bank: String::new(),
            line,
            chainage_origin_m: 0.0,
            riverside: Hand::Left,
            crest_elevation_m: None,
            design_flood_level_m: None,
        };
        assert_eq!(
            Levee::try_from(spec(vec![p(1.0, 1.0)])),
            Err(LeveeError::TooFewVertices)
        );
        assert_eq!(
            Levee::try_from(spec(vec![p(1.0, 1.0), p(1.0, 1.0)])),
            Err(LeveeError::ZeroLength)
        );
    }
}
