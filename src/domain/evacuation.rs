//! Evacuation counted once: an order's population at risk comes from the grid cells its zone
//! covers, and people leave it by exactly one of three ways — checked into a shelter against the
//! order, self-arranged with relatives (投亲靠友), or brought out by a rescue team. Progress, the
//! remaining count per cell, village and town, and the vulnerable people still in the zone are
//! all derived from those departures; there is no progress number to type.
//!
//! # Population at risk
//! A grid cell carries counts (population, households, vulnerable people), not household
//! positions, so its people are taken as spread evenly over its area: a cell contributes
//! `round(population × share)` where `share = area(cell ∩ zone) / area(cell)`, the areas planar in
//! lon/lat degrees (a ratio of areas within one cell, where the distortion of degrees cancels).
//! Each vulnerable category is shared the same way. A cell the zone only touches (share below
//! [`MIN_SHARE`]) is not part of the order.

use super::geo::Zone;
use super::ids::*;
use super::model::{GridCell, TimeMs, Vulnerable};
use serde::{Deserialize, Serialize};

/// Below this share of its area a cell is taken as touched, not covered (floating-point slivers
/// along shared edges).
pub const MIN_SHARE: f64 = 1e-6;

/// How people left an evacuation zone. Each person is counted by exactly one way.
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
pub enum DepartureWay {
    /// Checked into a shelter against the order (安置点安置).
    Shelter,
    /// Gone to relatives or friends, recorded by the grid worker (投亲靠友).
    SelfArranged,
    /// Brought out of a trapped position by a rescue team (救援转移).
    Rescued,
}

/// A grid worker's word on a cell (网格员报告).
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
pub enum CellStatus {
    /// Every household told (已通知).
    Notified,
    /// People are leaving (转移中).
    Evacuating,
    /// Nobody left in the cell (已清空).
    Clear,
}

/// The latest report on a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CellReport {
    pub status: CellStatus,
    /// People the grid worker knows to be still in the cell (their own count, beside Crest's).
    pub people_remaining: Option<u32>,
    pub note: String,
    pub at: TimeMs,
    pub by: String,
}

/// People who have left, by way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Departures {
    #[serde(default)]
    pub shelter: u32,
    #[serde(default)]
    pub self_arranged: u32,
    #[serde(default)]
    pub rescued: u32,
}

impl Departures {
    pub fn total(&self) -> u32 {
        self.shelter
            .saturating_add(self.self_arranged)
            .saturating_add(self.rescued)
    }

    pub fn add(&mut self, way: DepartureWay, count: u32) {
        let n = match way {
            DepartureWay::Shelter => &mut self.shelter,
            DepartureWay::SelfArranged => &mut self.self_arranged,
            DepartureWay::Rescued => &mut self.rescued,
        };
        *n = n.saturating_add(count);
    }
}

/// One grid cell's part of an order: who was at risk there, and who has left.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderCell {
    pub cell_id: GridCellId,
    pub town: String,
    pub village: String,
    #[serde(default)]
    pub town_name: String,
    #[serde(default)]
    pub village_name: String,
    /// The share of the cell's area inside the zone, 0 < share ≤ 1.
    pub share: f64,
    pub at_risk: u32,
    pub vulnerable_at_risk: Vulnerable,
    pub left: Departures,
    pub vulnerable_left: Vulnerable,
}

impl OrderCell {
    pub fn remaining(&self) -> u32 {
        self.at_risk.saturating_sub(self.left.total())
    }

    /// Vulnerable people still there: never more than the people still there (a check-in that
    /// declared none of them may have taken some along).
    pub fn vulnerable_remaining(&self) -> Vulnerable {
        cap_total(
            minus(&self.vulnerable_at_risk, &self.vulnerable_left),
            self.remaining(),
        )
    }
}

/// `v` with at most `n` people in all: the kinds later in the list give way first.
pub fn cap_total(mut v: Vulnerable, n: u32) -> Vulnerable {
    let mut over = v.total().saturating_sub(n);
    for k in [
        &mut v.unaccompanied_children,
        &mut v.pregnant,
        &mut v.disabled,
        &mut v.elderly_alone,
    ] {
        let t = over.min(*k);
        *k -= t;
        over -= t;
    }
    v
}

/// The tolerance of "no overlap" between grid cells: a shared area at most this share of the
/// smaller cell is rounding along a shared edge (the map loader uses the same).
pub const CELL_OVERLAP_TOLERANCE: f64 = 1e-6;

/// `a − b` per category, never below zero.
pub fn minus(a: &Vulnerable, b: &Vulnerable) -> Vulnerable {
    Vulnerable {
        elderly_alone: a.elderly_alone.saturating_sub(b.elderly_alone),
        disabled: a.disabled.saturating_sub(b.disabled),
        pregnant: a.pregnant.saturating_sub(b.pregnant),
        unaccompanied_children: a
            .unaccompanied_children
            .saturating_sub(b.unaccompanied_children),
    }
}

/// `a + b` per category (saturating: the counts are bounded long before).
pub fn plus(a: &Vulnerable, b: &Vulnerable) -> Vulnerable {
    Vulnerable {
        elderly_alone: a.elderly_alone.saturating_add(b.elderly_alone),
        disabled: a.disabled.saturating_add(b.disabled),
        pregnant: a.pregnant.saturating_add(b.pregnant),
        unaccompanied_children: a
            .unaccompanied_children
            .saturating_add(b.unaccompanied_children),
    }
}

/// True when every category of `a` is at most that of `b`.
pub fn within(a: &Vulnerable, b: &Vulnerable) -> bool {
    a.elderly_alone <= b.elderly_alone
        && a.disabled <= b.disabled
        && a.pregnant <= b.pregnant
        && a.unaccompanied_children <= b.unaccompanied_children
}

fn share_of(n: u32, share: f64) -> u32 {
    // n ≤ MAX_COUNT and 0 < share ≤ 1: the product is exact enough and in range.
    (f64::from(n) * share).round().clamp(0.0, f64::from(n)) as u32
}

/// The cells an evacuation zone covers, each with its people at risk (see the module docs).
pub fn cells_at_risk<'a>(zone: &Zone, cells: impl Iterator<Item = &'a GridCell>) -> Vec<OrderCell> {
    let (zlo, zhi) = zone.bounding_box();
    let mut out = Vec::new();
    for cell in cells {
        let shape = Zone::from_ring(&cell.ring);
        let (lo, hi) = shape.bounding_box();
        if lo[0] > zhi[0] || hi[0] < zlo[0] || lo[1] > zhi[1] || hi[1] < zlo[1] {
            continue;
        }
        let area = shape.area_deg2();
        if area <= 0.0 {
            continue;
        }
        let share = (shape.intersection_area_deg2(zone) / area).min(1.0);
        if share < MIN_SHARE {
            continue;
        }
        let at_risk = share_of(cell.population, share);
        let v = &cell.vulnerable;
        let cap = |n: u32| share_of(n, share);
        out.push(OrderCell {
            cell_id: cell.id.clone(),
            town: cell.town.clone(),
            village: cell.village.clone(),
            town_name: cell.town_name.clone(),
            village_name: cell.village_name.clone(),
            share,
            at_risk,
            vulnerable_at_risk: cap_total(
                Vulnerable {
                    elderly_alone: cap(v.elderly_alone),
                    disabled: cap(v.disabled),
                    pregnant: cap(v.pregnant),
                    unaccompanied_children: cap(v.unaccompanied_children),
                },
                at_risk,
            ),
            left: Departures::default(),
            vulnerable_left: Vulnerable::default(),
        });
    }
    out
}

/// Why people could not be placed in the cells offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misfit {
    /// More people than remain in these cells (how many remain).
    People(u32),
    /// More vulnerable people of some category than remain there.
    Vulnerable,
}

/// Splits `count` people (with `vulnerable` among them) over `cells` in the order given; returns
/// (index into `cells`, people, vulnerable people) per cell used. The vulnerable people go first,
/// each kind to the first cells with that kind of person still there; then the rest fill each
/// cell's remaining count before the next.
pub fn allocate(
    cells: &[&OrderCell],
    count: u32,
    vulnerable: &Vulnerable,
) -> Result<Vec<(usize, u32, Vulnerable)>, Misfit> {
    let remaining: u32 = cells
        .iter()
        .fold(0u32, |n, c| n.saturating_add(c.remaining()));
    if count > remaining {
        return Err(Misfit::People(remaining));
    }
    let mut people: Vec<u32> = vec![0; cells.len()];
    let mut vul: Vec<Vulnerable> = vec![Vulnerable::default(); cells.len()];
    // The vulnerable people, kind by kind, where such people remain and there is room.
    let kinds: [fn(&mut Vulnerable) -> &mut u32; 4] = [
        |v| &mut v.elderly_alone,
        |v| &mut v.disabled,
        |v| &mut v.pregnant,
        |v| &mut v.unaccompanied_children,
    ];
    for kind in kinds {
        let mut want = *kind(&mut vulnerable.clone());
        for (i, c) in cells.iter().enumerate() {
            if want == 0 {
                break;
            }
            let room_kind = *kind(&mut c.vulnerable_remaining()) - *kind(&mut vul[i]);
            let room = c.remaining() - people[i];
            let t = want.min(room_kind).min(room);
            *kind(&mut vul[i]) += t;
            people[i] += t;
            want -= t;
        }
        if want > 0 {
            return Err(Misfit::Vulnerable);
        }
    }
    // Everyone else: first where only people who are not vulnerable remain, cell by cell, then
    // (people who did not say they are vulnerable may be) wherever anyone remains.
    let mut left = count - vulnerable.total();
    for plain_only in [true, false] {
        for (i, c) in cells.iter().enumerate() {
            let room = c.remaining() - people[i];
            let room = if plain_only {
                let vul_room = minus(&c.vulnerable_remaining(), &vul[i]).total();
                room.saturating_sub(vul_room)
            } else {
                room
            };
            let t = left.min(room);
            people[i] += t;
            left -= t;
        }
    }
    debug_assert_eq!(left, 0, "count ≤ remaining, checked above");
    Ok(people
        .into_iter()
        .zip(vul)
        .enumerate()
        .filter(|(_, (n, _))| *n > 0)
        .map(|(i, (n, v))| (i, n, v))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::geo::LonLat;

    fn p(x: f64, y: f64) -> LonLat {
        LonLat::new(x, y).unwrap()
    }

    fn square(x: f64, y: f64, side: f64) -> Vec<LonLat> {
        vec![
            p(x, y),
            p(x + side, y),
            p(x + side, y + side),
            p(x, y + side),
            p(x, y),
        ]
    }

    fn cell(id: &str, x: f64, population: u32, elderly: u32) -> GridCell {
        GridCell {
            id: GridCellId::from(id),
            name: id.into(),
            ring: square(x, 27.0, 0.01),
            population,
            households: population / 3,
            grid_worker: "王".into(),
            town: "南洲镇".into(),
            village: "将军村".into(),
            town_name: String::new(),
            village_name: String::new(),
            grid_worker_id: None,
            vulnerable: Vulnerable {
                elderly_alone: elderly,
                ..Vulnerable::default()
            },
        }
    }

    #[test]
    fn a_cell_counts_by_the_share_of_its_area_inside_the_zone() {
        let cells = [
            cell("A", 113.00, 1000, 40),
            cell("B", 113.01, 801, 10),
            cell("C", 113.02, 500, 0),
        ];
        // The whole of A, the west quarter of B, none of C.
        let zone = Zone::from_ring(&[
            p(113.0, 27.0),
            p(113.0125, 27.0),
            p(113.0125, 27.01),
            p(113.0, 27.01),
            p(113.0, 27.0),
        ]);
        let got = cells_at_risk(&zone, cells.iter());
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].cell_id.as_str(), got[0].at_risk), ("A", 1000));
        assert!((got[0].share - 1.0).abs() < 1e-9);
        assert_eq!(got[0].vulnerable_at_risk.elderly_alone, 40);
        assert_eq!((got[1].cell_id.as_str(), got[1].at_risk), ("B", 200)); // 801 / 4 = 200.25
        assert!((got[1].share - 0.25).abs() < 1e-9);
        assert_eq!(got[1].vulnerable_at_risk.elderly_alone, 3); // 2.5 rounds away from zero
    }

    #[test]
    fn a_zone_that_only_touches_a_cell_does_not_take_it() {
        let cells = [cell("A", 113.00, 1000, 0)];
        let zone = Zone::from_ring(&square(113.01, 27.0, 0.01));
        assert!(cells_at_risk(&zone, cells.iter()).is_empty());
    }

    #[test]
    fn allocation_fills_cells_in_order_and_refuses_what_does_not_fit() {
        let zone = Zone::from_ring(&square(113.0, 27.0, 0.02));
        let cells = cells_at_risk(
            &zone,
            [cell("A", 113.00, 10, 2), cell("B", 113.01, 5, 1)].iter(),
        );
        let three_elderly = Vulnerable {
            elderly_alone: 3,
            ..Vulnerable::default()
        };
        let both: Vec<&OrderCell> = cells.iter().collect();
        let got = allocate(&both, 12, &three_elderly).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].0, got[0].1, got[0].2.elderly_alone), (0, 10, 2));
        assert_eq!((got[1].0, got[1].1, got[1].2.elderly_alone), (1, 2, 1));
        // Two people, one of them elderly: the elderly person goes where elderly people remain,
        // even when the first cell has room for both.
        let a_without = cells_at_risk(
            &zone,
            [cell("A", 113.00, 10, 0), cell("B", 113.01, 5, 1)].iter(),
        );
        let one_elderly = Vulnerable {
            elderly_alone: 1,
            ..Vulnerable::default()
        };
        let got = allocate(&a_without.iter().collect::<Vec<_>>(), 2, &one_elderly).unwrap();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].0, got[0].1, got[0].2.elderly_alone), (0, 1, 0));
        assert_eq!((got[1].0, got[1].1, got[1].2.elderly_alone), (1, 1, 1));
        assert_eq!(
            allocate(&both, 16, &Vulnerable::default()),
            Err(Misfit::People(15))
        );
        let four_elderly = Vulnerable {
            elderly_alone: 4,
            ..Vulnerable::default()
        };
        assert_eq!(allocate(&both, 12, &four_elderly), Err(Misfit::Vulnerable));
    }
}
