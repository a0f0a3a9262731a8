//! Flood materials as clients see them: depots with what they are low on, shipments with what is
//! still at their site, the `materials` query (the dispatchers' board) and the sitrep's figures.

use crate::domain::materials::*;
use crate::domain::{LonLat, State};
use serde::Serialize;
use std::collections::BTreeMap;

/// A depot plus the items it is low on.
#[derive(Serialize)]
pub struct DepotView<'a> {
    #[serde(flatten)]
    depot: &'a Depot,
    /// Items whose stock is below their low-stock level.
    low: Vec<MaterialItem>,
}

pub fn depot_view(d: &Depot) -> DepotView<'_> {
    DepotView {
        depot: d,
        low: d.low().map(|(item, _, _)| item).collect(),
    }
}

/// A shipment plus what of each item is still at the site, and whether all is accounted for.
#[derive(Serialize)]
pub struct ShipmentView<'a> {
    #[serde(flatten)]
    shipment: &'a Shipment,
    outstanding: BTreeMap<MaterialItem, u32>,
    settled: bool,
}

pub fn shipment_view(s: &Shipment) -> ShipmentView<'_> {
    ShipmentView {
        shipment: s,
        outstanding: s
            .lines
            .iter()
            .map(|(item, line)| (*item, line.outstanding()))
            .collect(),
        settled: s.is_settled(),
    }
}

/// Where a site is on the map: an incident's command post (or its hazard until it has one), the
/// middle of a levee stretch.
pub fn site_position(state: &State, site: &MaterialSite) -> Option<LonLat> {
    match site {
        MaterialSite::Incident { incident_id } => {
            let i = state.incidents.get(incident_id)?;
            match &i.post {
                Some(post) => Some(post.position),
                None => Some(state.hazards.get(&i.hazard_id)?.position),
            }
        }
        MaterialSite::LeveeStretch { levee_id, from, to } => state
            .levees
            .get(levee_id)?
            .point_at((from.metres() + to.metres()) / 2.0),
    }
}

/// The unit of each item, `{item: {zh, en}}`.
#[derive(Serialize)]
struct Unit {
    zh: &'static str,
    en: &'static str,
}

fn units() -> BTreeMap<MaterialItem, Unit> {
    use strum::VariantArray;
    MaterialItem::VARIANTS
        .iter()
        .map(|i| {
            let (zh, en) = i.unit();
            (*i, Unit { zh, en })
        })
        .collect()
}

/// The `materials` query: every depot, every shipment not yet settled, every open request
/// (requested or approved), oldest first.
#[derive(Serialize)]
pub struct Board<'a> {
    depots: Vec<DepotView<'a>>,
    shipments: Vec<ShipmentView<'a>>,
    requests: Vec<&'a MaterialRequest>,
    units: BTreeMap<MaterialItem, Unit>,
}

pub fn board(state: &State) -> Board<'_> {
    let m = &state.materials;
    let mut shipments: Vec<&Shipment> = m.shipments.values().filter(|s| !s.is_settled()).collect();
    shipments.sort_by_key(|s| s.issued_at);
    let mut requests: Vec<&MaterialRequest> =
        m.requests.values().filter(|r| r.state.is_open()).collect();
    requests.sort_by_key(|r| r.requested_at);
    Board {
        depots: m.depots.values().map(depot_view).collect(),
        shipments: shipments.into_iter().map(shipment_view).collect(),
        requests,
        units: units(),
    }
}

/// One item's figures in the sitrep.
#[derive(Serialize, Default)]
struct ItemFigures {
    /// In stock across all depots now.
    in_stock: u64,
    /// Since the log began.
    issued: u64,
    consumed: u64,
    returned: u64,
    /// Issued and neither consumed nor returned: on the way or at the sites.
    out: u64,
}

/// A depot low on an item.
#[derive(Serialize)]
struct LowStock<'a> {
    depot_id: &'a str,
    item: MaterialItem,
    stock: u32,
    low_stock: u32,
}

/// The sitrep's `materials`.
#[derive(Serialize)]
pub struct MaterialsFigures<'a> {
    depots: usize,
    /// By item, every item listed (zero included).
    items: BTreeMap<MaterialItem, ItemFigures>,
    low_stock: Vec<LowStock<'a>>,
    shipments_in_transit: usize,
    shipments_delivered_open: usize,
    requests_waiting: usize,
    requests_approved: usize,
}

pub fn figures(state: &State) -> MaterialsFigures<'_> {
    use strum::VariantArray;
    let m = &state.materials;
    let mut items: BTreeMap<MaterialItem, ItemFigures> = MaterialItem::VARIANTS
        .iter()
        .map(|i| (*i, ItemFigures::default()))
        .collect();
    for d in m.depots.values() {
        for (item, n) in &d.stock {
            let f = items.entry(*item).or_default();
            f.in_stock = f.in_stock.saturating_add(u64::from(*n));
        }
    }
    for (item, t) in &m.totals {
        let f = items.entry(*item).or_default();
        f.issued = t.issued;
        f.consumed = t.consumed;
        f.returned = t.returned;
        f.out = t
            .issued
            .saturating_sub(t.consumed)
            .saturating_sub(t.returned);
    }
    let low_stock = m
        .depots
        .values()
        .flat_map(|d| {
            d.low().map(|(item, stock, low_stock)| LowStock {
                depot_id: d.id.as_str(),
                item,
                stock,
                low_stock,
            })
        })
        .collect();
    let count_shipments = |state: ShipmentState| {
        m.shipments
            .values()
            .filter(|s| s.state == state && !s.is_settled())
            .count()
    };
    let count_requests =
        |state: RequestState| m.requests.values().filter(|r| r.state == state).count();
    MaterialsFigures {
        depots: m.depots.len(),
        items,
        low_stock,
        shipments_in_transit: count_shipments(ShipmentState::Issued),
        shipments_delivered_open: count_shipments(ShipmentState::Delivered),
        requests_waiting: count_requests(RequestState::Requested),
        requests_approved: count_requests(RequestState::Approved),
    }
}
