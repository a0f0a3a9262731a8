//! Protected assets (the railway, substations, water works, schools, hospitals) and incidents (a
//! breach or a large hazard with its front command post 现场指挥部, the teams committed to it and
//! the stages of closing a breach).

use super::alerts::AssetProximity;
use super::geo::LonLat;
use super::ids::*;
use super::levee::{Hand, Levee, LeveeSpec};
use super::model::TimeMs;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AssetKind {
    Railway,
    Substation,
    WaterWorks,
    School,
    Hospital,
    Other,
}

/// Where an asset is: a point, or a line with its own kilometre posts (the railway's chainage).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case")]
pub enum AssetPlace {
    Point {
        position: LonLat,
    },
    /// A line, referenced like a levee: `chainage_origin_m` at its first vertex.
    Line {
        course: Levee,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtectedAsset {
    pub id: AssetId,
    pub name: String,
    pub kind: AssetKind,
    /// 1 is the highest.
    pub priority: u8,
    /// A hazard this close (metres) threatens it.
    pub buffer_m: f64,
    pub place: AssetPlace,
}

impl ProtectedAsset {
    /// A linear asset's course: its line with chainage, as a levee is referenced.
    pub fn course(id: &AssetId, line: Vec<LonLat>, chainage_origin_m: f64) -> Option<Levee> {
        Levee::try_from(LeveeSpec {
            id: LeveeId::from(id.as_str()),
            name: String::new(),
            river: String::new(),
            bank: String::new(),
            line,
            chainage_origin_m,
            riverside: Hand::Left,
            crest_elevation_m: None,
            design_flood_level_m: None,
        })
        .ok()
    }

    /// How far `p` is from the asset, and where along it for a line.
    pub fn proximity(&self, p: LonLat) -> AssetProximity {
        let (distance_m, chainage) = match &self.place {
            AssetPlace::Point { position } => (position.distance_m(p), None),
            AssetPlace::Line { course } => {
                let at = course.locate(p);
                (at.offset_m, Some(at.chainage))
            }
        };
        AssetProximity {
            asset_id: self.id.clone(),
            asset_name: self.name.clone(),
            distance_m,
            chainage,
        }
    }

    /// The point of a linear asset at a chainage (a report "near railway K1673+200").
    pub fn point_at(&self, chainage_m: f64) -> Option<LonLat> {
        match &self.place {
            AssetPlace::Point { .. } => None,
            AssetPlace::Line { course } => course.point_at(chainage_m),
        }
    }
}

// ---------------------------------------------------------------- incidents

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Stage {
    /// 裹头: protect the breach's two ends from widening.
    ProtectEnds,
    /// 进占: advance from the ends.
    Advance,
    /// 合龙: close the gap.
    Close,
}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CommitmentState {
    /// Reinforcement requested.
    Requested,
    /// On its way (arriving).
    EnRoute,
    OnScene,
    Released,
}

impl CommitmentState {
    /// requested → en_route → on_scene → released; requested or en_route → on_scene directly;
    /// anything active → released.
    pub fn can_become(self, next: CommitmentState) -> bool {
        use CommitmentState::*;
        matches!(
            (self, next),
            (Requested, EnRoute)
                | (Requested | EnRoute, OnScene)
                | (Requested | EnRoute | OnScene, Released)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Commitment {
    pub state: CommitmentState,
    /// People of the team at the incident.
    pub headcount: u32,
    pub since: TimeMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommandPost {
    pub position: LonLat,
    pub name: String,
    pub commander: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageReached {
    pub stage: Stage,
    pub at: TimeMs,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub id: IncidentId,
    pub hazard_id: HazardId,
    pub name: String,
    pub post: Option<CommandPost>,
    pub teams: BTreeMap<TeamId, Commitment>,
    pub stages: Vec<StageReached>,
    pub opened_at: TimeMs,
    pub closed_at: Option<TimeMs>,
    /// The most people on scene at once so far (kept when teams are released), and when that
    /// was first reached.
    #[serde(default)]
    pub peak_headcount: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_at: Option<TimeMs>,
}

impl Incident {
    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    /// People on scene: the sum of the committed teams' people on scene.
    pub fn headcount_on_scene(&self) -> u64 {
        self.teams
            .values()
            .filter(|c| c.state == CommitmentState::OnScene)
            .map(|c| u64::from(c.headcount))
            .sum()
    }

    /// The stage reached last.
    pub fn stage(&self) -> Option<Stage> {
        self.stages.last().map(|s| s.stage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reinforcements_go_requested_en_route_on_scene_released() {
        use CommitmentState::*;
        assert!(Requested.can_become(EnRoute));
        assert!(EnRoute.can_become(OnScene));
        assert!(Requested.can_become(OnScene));
        assert!(OnScene.can_become(Released));
        assert!(!OnScene.can_become(EnRoute));
        assert!(!Released.can_become(OnScene));
        assert!(!OnScene.can_become(OnScene));
    }

    #[test]
    fn a_line_asset_knows_its_kilometre_posts() {
        let id = AssetId::from("PA-RAIL");
        let p = |lat| LonLat::new(113.0, lat).unwrap();
        let course = ProtectedAsset::course(&id, vec![p(27.0), p(27.1)], 1_673_000.0).unwrap();
        let rail = ProtectedAsset {
            id,
            name: "京广铁路".into(),
            kind: AssetKind::Railway,
            priority: 1,
            buffer_m: 500.0,
            place: AssetPlace::Line { course },
        };
        let near = rail.proximity(LonLat::new(113.003, 27.0018).unwrap());
        assert!((near.distance_m - 297.0).abs() < 5.0, "{near:?}");
        assert_eq!(near.chainage.as_deref(), Some("K1673+200"));
        let at = rail.point_at(1_673_200.0).unwrap();
        assert!(at.distance_m(p(27.0018)) < 2.0);
    }
}
