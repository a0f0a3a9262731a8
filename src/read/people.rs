//! People in the situation: evacuation counted once (per order, town, village and cell, by way
//! of leaving, with the vulnerable people still in the zones) and the casualty figures.

use crate::domain::State;
use crate::domain::casualties::CasualtyFigures;
use crate::domain::evacuation::{Departures, OrderCell};
use crate::domain::ids::EvacuationId;
use crate::domain::model::{EvacuationOrder, EvacuationStatus};
use serde::Serialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// People at risk, gone (by way) and remaining, for one row of a breakdown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub at_risk: u64,
    pub evacuated: u64,
    pub remaining: u64,
    pub shelter: u64,
    pub self_arranged: u64,
    pub rescued: u64,
    pub vulnerable_remaining: u64,
}

impl Tally {
    /// A cell of an active order: its people at risk, gone and remaining. A cell of a lifted
    /// order: only the people who left under it (the others were released with the order, and a
    /// later order over the cell counts them), so no person is at risk twice in a tally.
    fn add_cell(&mut self, c: &OrderCell, active: bool) {
        let left = u64::from(c.left.total());
        if active {
            self.at_risk += u64::from(c.at_risk);
            self.remaining += u64::from(c.remaining());
            self.vulnerable_remaining += u64::from(c.vulnerable_remaining().total());
        } else {
            self.at_risk += left;
        }
        self.evacuated += left;
        self.add_departures(&c.left);
    }

    fn add_departures(&mut self, d: &Departures) {
        self.shelter += u64::from(d.shelter);
        self.self_arranged += u64::from(d.self_arranged);
        self.rescued += u64::from(d.rescued);
    }
}

/// The orders to report: one, or every order (active and lifted).
fn orders<'a>(state: &'a State, only: Option<&EvacuationId>) -> Vec<&'a EvacuationOrder> {
    state
        .evacuations
        .values()
        .filter(|o| only.is_none_or(|id| &o.id == id))
        .collect()
}

/// The evacuation figures: totals, by town, by village, and each cell with vulnerable people
/// still in an active order's zone. With `only`, for that order, with every one of its cells.
pub fn evacuation(state: &State, only: Option<&EvacuationId>) -> Value {
    let orders = orders(state, only);
    let mut total = Tally::default();
    let mut towns: BTreeMap<(&str, &str), Tally> = BTreeMap::new();
    let mut villages: BTreeMap<(&str, &str, &str), Tally> = BTreeMap::new();
    let mut vulnerable: Vec<Value> = Vec::new();
    for o in &orders {
        // Orders from before step 4 have no cells: their typed figures count in the total.
        if o.cells.is_empty() {
            let active = o.status == EvacuationStatus::Active;
            total.at_risk += u64::from(if active { o.population } else { o.evacuated });
            total.evacuated += u64::from(o.evacuated);
            if active {
                total.remaining += u64::from(o.remaining());
            }
            continue;
        }
        let active = o.status == EvacuationStatus::Active;
        for c in &o.cells {
            total.add_cell(c, active);
            towns
                .entry((&c.town, &c.town_name))
                .or_default()
                .add_cell(c, active);
            villages
                .entry((&c.town, &c.village, &c.village_name))
                .or_default()
                .add_cell(c, active);
            let left = c.vulnerable_remaining();
            if o.status == EvacuationStatus::Active && !left.is_zero() {
                vulnerable.push(json!({
                    "evacuation_id": o.id, "cell_id": c.cell_id, "town": c.town,
                    "village": c.village, "village_name": c.village_name, "remaining": left, "total": left.total(),
                }));
            }
        }
    }
    if only.is_none() {
        // Rescued outside every order: at risk and evacuated, under no order.
        total.at_risk += state.rescued_outside_orders;
        total.evacuated += state.rescued_outside_orders;
        total.rescued += state.rescued_outside_orders;
    }
    let mut out = json!({
        "orders_active": orders.iter().filter(|o| o.status == EvacuationStatus::Active).count(),
        "orders_lifted": orders.iter().filter(|o| o.status == EvacuationStatus::Lifted).count(),
        "total": total,
        "rescued_outside_orders": if only.is_none() { state.rescued_outside_orders } else { 0 },
        "by_town": towns.into_iter().map(|((town, name), t)| json!({"town": town, "name": name, "tally": t})).collect::<Vec<_>>(),
        "by_village": villages.into_iter().map(|((town, village, name), t)| json!({"town": town, "village": village, "name": name, "tally": t})).collect::<Vec<_>>(),
        "vulnerable_remaining": vulnerable,
    });
    if let Some(o) = orders.first().filter(|_| only.is_some()) {
        out["order"] = json!({
            "id": o.id, "name": o.name, "status": o.status, "issued_at": o.issued_at,
            "population": o.population, "evacuated": o.evacuated,
            // Lifted: nobody remains under it (the people who had not left were released).
            "remaining": o.remaining(), "released": o.released(),
            "departures": o.departures,
        });
        out["cells"] = o
            .cells
            .iter()
            .map(|c| {
                let mut t = Tally::default();
                t.add_cell(c, o.status == EvacuationStatus::Active);
                json!({
                    "cell_id": c.cell_id, "town": c.town, "village": c.village,
                    "town_name": c.town_name, "village_name": c.village_name, "share": c.share,
                    "tally": t, "vulnerable_at_risk": c.vulnerable_at_risk,
                    "vulnerable_remaining": c.vulnerable_remaining(),
                    "report": state.cell_reports.get(&c.cell_id),
                })
            })
            .collect();
    }
    out
}

/// The casualty figures, every one present (zero included), with the last confirmation.
pub fn casualties(state: &State) -> Value {
    let figures = CasualtyFigures::of(state.casualties.values());
    json!({
        "figures": figures,
        "records": state.casualties.len(),
        "confirmed": state.casualties_confirmed,
        "confirmed_figures_current": state.casualties_confirmed.as_ref().is_some_and(|c| c.figures == figures),
    })
}
