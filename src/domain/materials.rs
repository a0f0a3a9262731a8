//! Flood materials (防汛物资): depots and their stock, shipments (`MS-<n>`) from a depot to an
//! incident or a levee stretch, and requests from the field (`MR-<n>`).
//!
//! Quantities are whole units of each item's own unit (pieces, m², m³ …), so stock and a
//! shipment's accounting are exact integer arithmetic: a depot's stock never goes below zero and a
//! shipment's consumed plus returned never exceeds what was issued (the decider checks both with
//! checked arithmetic; see `decide/materials.rs`).
//!
//! The state keeps every depot, every shipment with something still to account for and every
//! open request; of the settled shipments and closed requests it keeps the newest
//! [`CLOSED_KEPT`] each (the log keeps them all), so the state does not grow with the number of
//! commands handled. The running totals (issued, consumed, returned per item) are kept apart and
//! survive that.

use super::chainage::Chainage;
use super::geo::LonLat;
use super::ids::*;
use super::model::TimeMs;
use super::values::{MaterialQuantity, MaterialStock, OutOfBounds};
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Settled shipments and closed requests kept in the state (each); older ones are in the log.
pub const CLOSED_KEPT: usize = 1_000;

/// A flood material. On the wire its `snake_case` name or its Chinese name (`编织袋` is
/// `sandbags`; `抽水泵` and `水泵` are `pumps`): the same item either way.
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
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum MaterialItem {
    /// 编织袋 (woven bags filled on site), pieces.
    Sandbags,
    /// 土工布, square metres.
    Geotextile,
    /// 救生衣, pieces.
    LifeJackets,
    /// 冲锋舟, boats.
    RescueBoats,
    /// 抽水泵, units.
    Pumps,
    /// 块石, cubic metres.
    Stones,
    /// 照明灯, units.
    Lights,
}

/// Other Chinese names of an item, besides its display name in the vocabulary.
const ALIASES: [(&str, MaterialItem); 1] = [("水泵", MaterialItem::Pumps)];

impl MaterialItem {
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The unit its quantities are counted in: (Chinese, English).
    pub fn unit(self) -> (&'static str, &'static str) {
        match self {
            Self::Sandbags => ("条", "pieces"),
            Self::Geotextile => ("平方米", "m²"),
            Self::LifeJackets => ("件", "pieces"),
            Self::RescueBoats => ("艘", "boats"),
            Self::Pumps => ("台", "units"),
            Self::Stones => ("立方米", "m³"),
            Self::Lights => ("盏", "units"),
        }
    }

    /// The item of a wire name: its own name, its Chinese name, or an alias.
    pub fn parse(s: &str) -> Option<MaterialItem> {
        use super::vocabulary::Named;
        use strum::VariantArray;
        Self::VARIANTS
            .iter()
            .copied()
            .find(|i| i.name() == s || i.zh() == s)
            .or_else(|| ALIASES.iter().find(|(a, _)| *a == s).map(|(_, i)| *i))
    }
}

impl fmt::Display for MaterialItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl<'de> Deserialize<'de> for MaterialItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        const NAMES: &[&str] = &[
            "sandbags",
            "geotextile",
            "life_jackets",
            "rescue_boats",
            "pumps",
            "stones",
            "lights",
        ];
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        MaterialItem::parse(&s).ok_or_else(|| de::Error::unknown_variant(&s, NAMES))
    }
}

// ---------------------------------------------------------------- quantities by item

/// Quantities by item as a client sends them: each item at most once (`sandbags` and `编织袋` in
/// one object are the same item twice: refused), each quantity a bounded whole number. `N` is
/// the least number of items (1 for a movement, 0 for a depot's stock).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ItemMap<V, const N: usize>(BTreeMap<MaterialItem, V>);

/// What moves: at least one item, each at least one unit.
pub type MaterialLines = ItemMap<MaterialQuantity, 1>;
/// A depot's stock or low-stock levels: any items, each zero or more.
pub type MaterialStocks = ItemMap<MaterialStock, 0>;

impl<V, const N: usize> Default for ItemMap<V, N> {
    fn default() -> Self {
        Self(BTreeMap::new())
    }
}

impl<V: Copy + Into<u32>, const N: usize> ItemMap<V, N> {
    pub fn iter(&self) -> impl Iterator<Item = (MaterialItem, u32)> + '_ {
        self.0.iter().map(|(i, v)| (*i, (*v).into()))
    }

    /// As the state holds it.
    pub fn to_units(&self) -> BTreeMap<MaterialItem, u32> {
        self.iter().collect()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl MaterialLines {
    /// Lines from units as the state holds them (a request's items, which were lines when it
    /// was made).
    pub fn from_units(units: &BTreeMap<MaterialItem, u32>) -> Result<Self, OutOfBounds> {
        if units.is_empty() {
            return Err(OutOfBounds::new("at least one item is needed"));
        }
        units
            .iter()
            .map(|(item, n)| Ok((*item, MaterialQuantity::new(*n)?)))
            .collect::<Result<_, _>>()
            .map(ItemMap)
    }
}

impl<'de, V: Deserialize<'de>, const N: usize> Deserialize<'de> for ItemMap<V, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Items<V, const N: usize>(std::marker::PhantomData<V>);
        impl<'de, V: Deserialize<'de>, const N: usize> Visitor<'de> for Items<V, N> {
            type Value = ItemMap<V, N>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of quantities by material item")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                let mut out = BTreeMap::new();
                while let Some((item, quantity)) = m.next_entry::<MaterialItem, V>()? {
                    if out.insert(item, quantity).is_some() {
                        return Err(de::Error::custom(OutOfBounds::new(format!(
                            "{item} is given twice (its Chinese name is the same item)"
                        ))));
                    }
                }
                if out.len() < N {
                    return Err(de::Error::custom(OutOfBounds::new(
                        "at least one item is needed",
                    )));
                }
                Ok(ItemMap(out))
            }
        }
        d.deserialize_map(Items::<V, N>(std::marker::PhantomData))
    }
}

// ---------------------------------------------------------------- places

/// Where materials go: an incident (a breach with its front command post) or a stretch of a
/// levee (its id and a chainage range, as patrol sections give them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MaterialSite {
    Incident {
        incident_id: IncidentId,
    },
    LeveeStretch {
        levee_id: LeveeId,
        from: Chainage,
        to: Chainage,
    },
}

// ---------------------------------------------------------------- depots

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Depot {
    pub id: DepotId,
    pub name: String,
    pub position: LonLat,
    pub town: String,
    /// Units in stock by item; an item not listed has none.
    pub stock: BTreeMap<MaterialItem, u32>,
    /// Below this many units of an item the depot is low on it (a `depot_low_stock` alert).
    pub low_stock: BTreeMap<MaterialItem, u32>,
}

impl Depot {
    pub fn stock_of(&self, item: MaterialItem) -> u32 {
        self.stock.get(&item).copied().unwrap_or(0)
    }

    /// The items whose stock is below their low-stock level, with both numbers.
    pub fn low(&self) -> impl Iterator<Item = (MaterialItem, u32, u32)> + '_ {
        self.low_stock.iter().filter_map(|(item, level)| {
            let stock = self.stock_of(*item);
            (stock < *level).then_some((*item, stock, *level))
        })
    }
}

// ---------------------------------------------------------------- shipments

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
pub enum ShipmentState {
    /// Issued from the depot, on its way.
    Issued,
    /// At the site: what was issued is consumed there or returned to a depot.
    Delivered,
}

/// One item of a shipment: what was issued, and what of it has been used up at the site and
/// returned to a depot (consumed + returned ≤ issued).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentLine {
    pub issued: u32,
    pub consumed: u32,
    pub returned: u32,
}

impl ShipmentLine {
    /// Still at the site, neither consumed nor returned.
    pub fn outstanding(&self) -> u32 {
        self.issued
            .saturating_sub(self.consumed)
            .saturating_sub(self.returned)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shipment {
    pub id: ShipmentId,
    pub depot_id: DepotId,
    pub site: MaterialSite,
    /// The team that receives it at the site (may confirm delivery and report consumption).
    pub team_id: Option<TeamId>,
    /// The field request it fills.
    pub request_id: Option<MaterialRequestId>,
    pub lines: BTreeMap<MaterialItem, ShipmentLine>,
    pub state: ShipmentState,
    pub note: String,
    pub issued_at: TimeMs,
    pub issued_by: String,
    pub delivered_at: Option<TimeMs>,
    pub delivered_by: Option<String>,
}

impl Shipment {
    pub fn outstanding(&self, item: MaterialItem) -> u32 {
        self.lines.get(&item).map_or(0, ShipmentLine::outstanding)
    }

    /// Delivered, and every unit consumed or returned: nothing more can happen to it.
    pub fn is_settled(&self) -> bool {
        self.state == ShipmentState::Delivered && self.lines.values().all(|l| l.outstanding() == 0)
    }
}

// ---------------------------------------------------------------- requests

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
pub enum RequestState {
    /// Waiting for a dispatcher.
    Requested,
    /// A shipment fills it (`shipment_id`).
    Approved,
    /// Refused, with a reason.
    Declined,
    /// Its shipment was delivered.
    Fulfilled,
}

impl RequestState {
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Approved)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaterialRequest {
    pub id: MaterialRequestId,
    pub team_id: TeamId,
    pub site: MaterialSite,
    pub items: BTreeMap<MaterialItem, u32>,
    pub note: String,
    pub state: RequestState,
    pub requested_at: TimeMs,
    pub requested_by: String,
    /// The shipment that fills it, once approved.
    pub shipment_id: Option<ShipmentId>,
    /// Why it was declined.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    pub decided_at: Option<TimeMs>,
    pub decided_by: Option<String>,
    pub fulfilled_at: Option<TimeMs>,
}

// ---------------------------------------------------------------- the fold

/// Units of an item that have moved, since the log began.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MaterialTotals {
    pub issued: u64,
    pub consumed: u64,
    pub returned: u64,
}

/// The materials part of the state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Materials {
    pub depots: BTreeMap<DepotId, Depot>,
    pub shipments: BTreeMap<ShipmentId, Shipment>,
    pub requests: BTreeMap<MaterialRequestId, MaterialRequest>,
    pub next_shipment: u64,
    pub next_request: u64,
    /// Settled shipments still in `shipments`, oldest first (at most [`CLOSED_KEPT`]).
    pub settled: VecDeque<ShipmentId>,
    /// Declined or fulfilled requests still in `requests`, oldest first (at most
    /// [`CLOSED_KEPT`]).
    pub closed_requests: VecDeque<MaterialRequestId>,
    /// Totals by item over the whole log.
    pub totals: BTreeMap<MaterialItem, MaterialTotals>,
}

impl Materials {
    /// Folds one materials event (the others are ignored). Never refuses.
    pub fn apply(&mut self, event: &super::events::Event) {
        use super::events::Event as E;
        match event {
            E::DepotDefined { depot } => {
                self.depots.insert(depot.id.clone(), depot.clone());
            }
            E::DepotRestocked {
                depot_id, stock, ..
            } => self.set_stock(depot_id, stock),
            E::MaterialsIssued { shipment, stock } => {
                self.next_shipment += 1;
                self.set_stock(&shipment.depot_id, stock);
                for (item, line) in &shipment.lines {
                    let t = self.totals.entry(*item).or_default();
                    t.issued = t.issued.saturating_add(u64::from(line.issued));
                }
                self.shipments.insert(shipment.id.clone(), shipment.clone());
            }
            E::MaterialsDelivered {
                shipment_id,
                at,
                by,
            } => {
                if let Some(s) = self.shipments.get_mut(shipment_id) {
                    s.state = ShipmentState::Delivered;
                    s.delivered_at = Some(*at);
                    s.delivered_by = Some(by.clone());
                }
            }
            E::MaterialsConsumed {
                shipment_id,
                items,
                consumed,
                ..
            } => {
                if let Some(s) = self.shipments.get_mut(shipment_id) {
                    for (item, after) in consumed {
                        s.lines.entry(*item).or_default().consumed = *after;
                    }
                }
                for (item, n) in items {
                    let t = self.totals.entry(*item).or_default();
                    t.consumed = t.consumed.saturating_add(u64::from(*n));
                }
                self.settle(shipment_id);
            }
            E::MaterialsReturned {
                shipment_id,
                depot_id,
                items,
                returned,
                stock,
                ..
            } => {
                if let Some(s) = self.shipments.get_mut(shipment_id) {
                    for (item, after) in returned {
                        s.lines.entry(*item).or_default().returned = *after;
                    }
                }
                self.set_stock(depot_id, stock);
                for (item, n) in items {
                    let t = self.totals.entry(*item).or_default();
                    t.returned = t.returned.saturating_add(u64::from(*n));
                }
                self.settle(shipment_id);
            }
            E::MaterialsRequested { request } => {
                self.next_request += 1;
                self.requests.insert(request.id.clone(), request.clone());
            }
            E::MaterialRequestApproved {
                request_id,
                shipment_id,
                at,
                by,
            } => {
                if let Some(r) = self.requests.get_mut(request_id) {
                    r.state = RequestState::Approved;
                    r.shipment_id = Some(shipment_id.clone());
                    r.decided_at = Some(*at);
                    r.decided_by = Some(by.clone());
                }
            }
            E::MaterialRequestDeclined {
                request_id,
                reason,
                at,
                by,
            } => {
                if let Some(r) = self.requests.get_mut(request_id) {
                    r.state = RequestState::Declined;
                    r.reason = reason.clone();
                    r.decided_at = Some(*at);
                    r.decided_by = Some(by.clone());
                }
                self.close_request(request_id);
            }
            E::MaterialRequestFulfilled { request_id, at, .. } => {
                if let Some(r) = self.requests.get_mut(request_id) {
                    r.state = RequestState::Fulfilled;
                    r.fulfilled_at = Some(*at);
                }
                self.close_request(request_id);
            }
            _ => {}
        }
    }

    fn set_stock(&mut self, depot_id: &DepotId, stock: &BTreeMap<MaterialItem, u32>) {
        if let Some(d) = self.depots.get_mut(depot_id) {
            for (item, after) in stock {
                d.stock.insert(*item, *after);
            }
        }
    }

    /// A shipment that has just settled joins the settled ones; beyond [`CLOSED_KEPT`] the
    /// oldest leaves the state.
    fn settle(&mut self, id: &ShipmentId) {
        if !self.shipments.get(id).is_some_and(Shipment::is_settled) {
            return;
        }
        self.settled.push_back(id.clone());
        if self.settled.len() > CLOSED_KEPT
            && let Some(oldest) = self.settled.pop_front()
        {
            self.shipments.remove(&oldest);
        }
    }

    fn close_request(&mut self, id: &MaterialRequestId) {
        if !self.requests.contains_key(id) {
            return;
        }
        self.closed_requests.push_back(id.clone());
        if self.closed_requests.len() > CLOSED_KEPT
            && let Some(oldest) = self.closed_requests.pop_front()
        {
            self.requests.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_its_wire_name_or_its_chinese_name() {
        let parse = |s: &str| serde_json::from_value::<MaterialItem>(serde_json::json!(s)).ok();
        assert_eq!(parse("sandbags"), Some(MaterialItem::Sandbags));
        assert_eq!(parse("编织袋"), Some(MaterialItem::Sandbags));
        assert_eq!(parse("土工布"), Some(MaterialItem::Geotextile));
        assert_eq!(parse("救生衣"), Some(MaterialItem::LifeJackets));
        assert_eq!(parse("冲锋舟"), Some(MaterialItem::RescueBoats));
        assert_eq!(parse("抽水泵"), Some(MaterialItem::Pumps));
        assert_eq!(parse("水泵"), Some(MaterialItem::Pumps));
        assert_eq!(parse("块石"), Some(MaterialItem::Stones));
        assert_eq!(parse("照明灯"), Some(MaterialItem::Lights));
        assert_eq!(parse("Sandbags"), None);
        assert_eq!(parse("沙子"), None);
        // Written back as the wire name.
        assert_eq!(
            serde_json::to_value(MaterialItem::LifeJackets).unwrap(),
            "life_jackets"
        );
        let m: BTreeMap<MaterialItem, u32> =
            serde_json::from_str(r#"{"块石": 3, "rescue_boats": 1}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&m).unwrap(),
            r#"{"rescue_boats":1,"stones":3}"#
        );
    }

    #[test]
    fn every_item_has_a_unit() {
        use strum::VariantArray;
        for i in MaterialItem::VARIANTS {
            let (zh, en) = i.unit();
            assert!(!zh.is_ascii() && !en.is_empty(), "{i}");
        }
    }

    #[test]
    fn a_line_is_outstanding_until_consumed_or_returned() {
        let line = ShipmentLine {
            issued: 10,
            consumed: 6,
            returned: 4,
        };
        assert_eq!(line.outstanding(), 0);
        assert_eq!(
            ShipmentLine {
                issued: 10,
                consumed: 3,
                returned: 0
            }
            .outstanding(),
            7
        );
    }
}
