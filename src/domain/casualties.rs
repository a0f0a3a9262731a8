//! People dead, missing, injured and trapped: records with place, time and source, corrected
//! later with an audit trail (every change is an event), and the figures the sitrep reports —
//! zero included, because "no casualties" must be a recorded fact.
//!
//! A trapped record is a rescue task: teams can be assigned to it (`AssignmentTarget::Trapped`),
//! and people brought out of it are counted as evacuated (see `evacuation`).

use super::geo::LonLat;
use super::ids::*;
use super::model::TimeMs;
use serde::{Deserialize, Serialize};

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
    strum::AsRefStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum CasualtyKind {
    /// 死亡
    Dead,
    /// 失踪
    Missing,
    /// 受伤
    Injured,
    /// 被困
    Trapped,
}

/// One change to a record, kept forever with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasualtyCorrection {
    pub at: TimeMs,
    pub by: String,
    pub from_kind: CasualtyKind,
    pub to_kind: CasualtyKind,
    pub from_count: u32,
    pub to_count: u32,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasualtyRecord {
    pub id: CasualtyId,
    pub kind: CasualtyKind,
    /// People in this record now (after corrections).
    pub count: u32,
    /// Of a trapped record: people brought out so far.
    pub rescued: u32,
    pub position: Option<LonLat>,
    /// Where, in words (a village, a house, a chainage).
    pub place: String,
    /// The grid cell the position lies in, if any.
    pub cell_id: Option<GridCellId>,
    /// When it happened (or was found), as reported.
    pub occurred_at: TimeMs,
    /// Who reported it (a grid worker, a team, a hospital, the public security bureau).
    pub source: String,
    pub note: String,
    pub recorded_at: TimeMs,
    pub recorded_by: String,
    pub corrections: Vec<CasualtyCorrection>,
}

impl CasualtyRecord {
    /// People of a trapped record still waiting to be brought out.
    pub fn still_trapped(&self) -> u32 {
        if self.kind == CasualtyKind::Trapped {
            self.count.saturating_sub(self.rescued)
        } else {
            0
        }
    }
}

/// The figures reported upward. Every figure is present, zero included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CasualtyFigures {
    pub dead: u64,
    pub missing: u64,
    pub injured: u64,
    /// Still trapped now.
    pub trapped: u64,
    /// Brought out of trapped positions so far.
    pub rescued: u64,
}

impl CasualtyFigures {
    pub fn of<'a>(records: impl Iterator<Item = &'a CasualtyRecord>) -> CasualtyFigures {
        let mut f = CasualtyFigures::default();
        for r in records {
            let n = u64::from(r.count);
            match r.kind {
                CasualtyKind::Dead => f.dead += n,
                CasualtyKind::Missing => f.missing += n,
                CasualtyKind::Injured => f.injured += n,
                CasualtyKind::Trapped => {
                    f.trapped += u64::from(r.still_trapped());
                    f.rescued += u64::from(r.rescued);
                }
            }
        }
        f
    }
}

/// A dispatcher's statement that the figures were checked at a time: what makes a zero a fact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CasualtyConfirmation {
    pub figures: CasualtyFigures,
    pub at: TimeMs,
    pub by: String,
    pub note: String,
}
