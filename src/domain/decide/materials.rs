//! Flood materials (防汛物资): depots and their stock, shipments from a depot to an incident or a
//! levee stretch (issued → delivered, then consumed at the site or returned to a depot), and
//! requests from the field (requested → approved with the shipment that fills it, or declined
//! with a reason → fulfilled when that shipment is delivered).
//!
//! The two accounting rules, both with checked arithmetic on whole units: a depot's stock never
//! goes below zero (`insufficient_stock`), nor above [`MAX_MATERIAL`] (`invalid_value`); a
//! shipment's consumed plus returned never exceeds what was issued (`exceeds_shipment`).

use super::{Decision, exists, forbidden, illegal, not_found};
use crate::domain::access::Role;
use crate::domain::bounds::{MAX_MATERIAL, invalid};
use crate::domain::commands::*;
use crate::domain::error::DomainError;
use crate::domain::events::Event;
use crate::domain::ids::*;
use crate::domain::materials::*;
use crate::domain::state::{Context, State};
use std::collections::BTreeMap;

/// How far beyond a levee's ends a stretch may reach, metres (rounding of a chainage).
const STRETCH_SLACK_M: f64 = 1.0;

fn depot<'a>(s: &'a State, id: &DepotId) -> Result<&'a Depot, DomainError> {
    s.materials
        .depots
        .get(id)
        .ok_or_else(|| not_found("depot", id))
}

fn shipment<'a>(s: &'a State, id: &ShipmentId) -> Result<&'a Shipment, DomainError> {
    s.materials
        .shipments
        .get(id)
        .ok_or_else(|| not_found("shipment", id))
}

fn request<'a>(s: &'a State, id: &MaterialRequestId) -> Result<&'a MaterialRequest, DomainError> {
    s.materials
        .requests
        .get(id)
        .ok_or_else(|| not_found("material request", id))
}

/// `stock + n`, within [`MAX_MATERIAL`].
fn added(depot: &DepotId, item: MaterialItem, stock: u32, n: u32) -> Result<u32, DomainError> {
    stock
        .checked_add(n)
        .filter(|s| *s <= MAX_MATERIAL)
        .ok_or_else(|| {
            invalid(
                format!("depot {depot} would hold more than {MAX_MATERIAL} {item}"),
                format!(
                    "仓库{depot}的{}将超过{MAX_MATERIAL}",
                    crate::domain::vocabulary::Named::zh(item)
                ),
            )
        })
}

/// The site exists and can take materials: an open incident, or a stretch that runs forward
/// along an existing levee, within its chainage.
fn check_site(s: &State, site: &MaterialSite) -> Result<(), DomainError> {
    match site {
        MaterialSite::Incident { incident_id } => {
            let i = s
                .incidents
                .get(incident_id)
                .ok_or_else(|| not_found("incident", incident_id))?;
            if !i.is_open() {
                return Err(invalid(
                    format!("incident {incident_id} is closed"),
                    format!("现场指挥{incident_id}已关闭"),
                ));
            }
        }
        MaterialSite::LeveeStretch { levee_id, from, to } => {
            let l = s
                .levees
                .get(levee_id)
                .ok_or_else(|| not_found("levee", levee_id))?;
            let (start, end) = (l.start_chainage_m(), l.end_chainage_m());
            let (a, b) = (from.metres(), to.metres());
            if a >= b || a < start - STRETCH_SLACK_M || b > end + STRETCH_SLACK_M {
                return Err(invalid(
                    format!(
                        "stretch {from}–{to} must run forward within levee {levee_id} ({start:.0}–{end:.0} m)"
                    ),
                    format!(
                        "堤段{from}–{to}须在堤防{levee_id}（{start:.0}–{end:.0} 米）内且由小到大"
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A field token acts only for its own team's shipments.
fn check_receiver(sh: &Shipment, ctx: &Context<'_>) -> Result<(), DomainError> {
    if ctx.actor.role == Role::Field
        && !sh
            .team_id
            .as_ref()
            .is_some_and(|t| ctx.actor.is_field_of(t))
    {
        return Err(forbidden(
            format!("shipment {} is not received by this tablet's team", sh.id),
            format!("物资调运单{}的接收队伍不是本终端的队伍", sh.id),
        ));
    }
    Ok(())
}

/// What a new shipment is: from where, to where, what, for whom.
struct Order<'a> {
    depot_id: &'a DepotId,
    site: &'a MaterialSite,
    items: &'a MaterialLines,
    team_id: Option<TeamId>,
    request_id: Option<MaterialRequestId>,
    note: &'a str,
}

/// The event of a shipment leaving a depot: the stock of every item must cover it.
fn issue(s: &State, o: Order<'_>, ctx: &Context<'_>) -> Result<Event, DomainError> {
    let d = depot(s, o.depot_id)?;
    check_site(s, o.site)?;
    let mut lines = BTreeMap::new();
    let mut stock = BTreeMap::new();
    for (item, n) in o.items.iter() {
        let have = d.stock_of(item);
        let left = have
            .checked_sub(n)
            .ok_or_else(|| DomainError::DepotStockShort {
                depot: d.id.to_string(),
                item: item.to_string(),
                stock: have,
                requested: n,
            })?;
        stock.insert(item, left);
        lines.insert(
            item,
            ShipmentLine {
                issued: n,
                consumed: 0,
                returned: 0,
            },
        );
    }
    Ok(Event::MaterialsIssued {
        shipment: Shipment {
            id: ShipmentId::from(format!("MS-{}", s.materials.next_shipment + 1)),
            depot_id: d.id.clone(),
            site: o.site.clone(),
            team_id: o.team_id,
            request_id: o.request_id,
            lines,
            state: ShipmentState::Issued,
            note: o.note.to_string(),
            issued_at: ctx.now_ms,
            issued_by: ctx.actor.name.clone(),
            delivered_at: None,
            delivered_by: None,
        },
        stock,
    })
}

pub(super) fn define_depot(s: &State, d: &DefineDepot) -> Decision {
    if s.materials.depots.contains_key(&d.id) {
        return Err(exists("depot", &d.id));
    }
    Ok(vec![Event::DepotDefined {
        depot: Depot {
            id: d.id.clone(),
            name: d.name.to_string(),
            position: d.position,
            town: d.town.to_string(),
            stock: d.stock.to_units(),
            low_stock: d.low_stock.to_units(),
        },
    }])
}

pub(super) fn restock(s: &State, r: &RestockDepot, ctx: &Context<'_>) -> Decision {
    let d = depot(s, &r.depot_id)?;
    let mut stock = BTreeMap::new();
    for (item, n) in r.items.iter() {
        stock.insert(item, added(&d.id, item, d.stock_of(item), n)?);
    }
    Ok(vec![Event::DepotRestocked {
        depot_id: d.id.clone(),
        items: r.items.to_units(),
        stock,
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    }])
}

pub(super) fn issue_materials(s: &State, c: &IssueMaterials, ctx: &Context<'_>) -> Decision {
    if let Some(t) = &c.team_id {
        s.team(t)?;
    }
    let order = Order {
        depot_id: &c.depot_id,
        site: &c.site,
        items: &c.items,
        team_id: c.team_id.clone(),
        request_id: None,
        note: &c.note,
    };
    Ok(vec![issue(s, order, ctx)?])
}

/// issued → delivered; the request it fills is fulfilled.
pub(super) fn deliver(s: &State, r: &ShipmentRef, ctx: &Context<'_>) -> Decision {
    let sh = shipment(s, &r.shipment_id)?;
    check_receiver(sh, ctx)?;
    if sh.state != ShipmentState::Issued {
        return Err(illegal("shipment", &sh.id, sh.state.into(), "delivered"));
    }
    let mut events = vec![Event::MaterialsDelivered {
        shipment_id: sh.id.clone(),
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    }];
    if let Some(req) = sh
        .request_id
        .as_ref()
        .and_then(|id| s.materials.requests.get(id))
        .filter(|r| r.state == RequestState::Approved)
    {
        events.push(Event::MaterialRequestFulfilled {
            request_id: req.id.clone(),
            shipment_id: sh.id.clone(),
            at: ctx.now_ms,
        });
    }
    Ok(events)
}

/// A delivered shipment, and each item within what it still has at the site.
fn check_accountable<'a>(
    s: &'a State,
    id: &ShipmentId,
    items: &MaterialLines,
    to: &'static str,
) -> Result<&'a Shipment, DomainError> {
    let sh = shipment(s, id)?;
    if sh.state != ShipmentState::Delivered {
        return Err(illegal("shipment", &sh.id, sh.state.into(), to));
    }
    for (item, n) in items.iter() {
        let outstanding = sh.outstanding(item);
        if n > outstanding {
            return Err(DomainError::ExceedsShipment {
                shipment: sh.id.to_string(),
                item: item.to_string(),
                outstanding,
                requested: n,
            });
        }
    }
    Ok(sh)
}

pub(super) fn consume(s: &State, c: &ConsumeMaterials, ctx: &Context<'_>) -> Decision {
    let sh = shipment(s, &c.shipment_id)?;
    check_receiver(sh, ctx)?;
    let sh = check_accountable(s, &c.shipment_id, &c.items, "consumed")?;
    let consumed = c
        .items
        .iter()
        .map(|(item, n)| {
            let line = sh.lines.get(&item).copied().unwrap_or_default();
            // Within `issued` (checked above), so within u32.
            (item, line.consumed.saturating_add(n))
        })
        .collect();
    Ok(vec![Event::MaterialsConsumed {
        shipment_id: sh.id.clone(),
        items: c.items.to_units(),
        consumed,
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    }])
}

pub(super) fn return_materials(s: &State, r: &ReturnMaterials, ctx: &Context<'_>) -> Decision {
    let sh = check_accountable(s, &r.shipment_id, &r.items, "returned")?;
    let d = depot(s, r.depot_id.as_ref().unwrap_or(&sh.depot_id))?;
    let mut returned = BTreeMap::new();
    let mut stock = BTreeMap::new();
    for (item, n) in r.items.iter() {
        let line = sh.lines.get(&item).copied().unwrap_or_default();
        returned.insert(item, line.returned.saturating_add(n));
        stock.insert(item, added(&d.id, item, d.stock_of(item), n)?);
    }
    Ok(vec![Event::MaterialsReturned {
        shipment_id: sh.id.clone(),
        depot_id: d.id.clone(),
        items: r.items.to_units(),
        returned,
        stock,
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    }])
}

pub(super) fn request_materials(s: &State, r: &RequestMaterials, ctx: &Context<'_>) -> Decision {
    if ctx.actor.role == Role::Field && !ctx.actor.is_field_of(&r.team_id) {
        return Err(forbidden(
            "a field tablet requests materials for its own team",
            "现场终端只能为本队申请物资",
        ));
    }
    let team = s.team(&r.team_id)?;
    check_site(s, &r.site)?;
    Ok(vec![Event::MaterialsRequested {
        request: MaterialRequest {
            id: MaterialRequestId::from(format!("MR-{}", s.materials.next_request + 1)),
            team_id: team.id.clone(),
            site: r.site.clone(),
            items: r.items.to_units(),
            note: r.note.to_string(),
            state: RequestState::Requested,
            requested_at: ctx.now_ms,
            requested_by: ctx.actor.name.clone(),
            shipment_id: None,
            reason: String::new(),
            decided_at: None,
            decided_by: None,
            fulfilled_at: None,
        },
    }])
}

/// requested → approved, with the shipment that fills it (to the request's site and team).
pub(super) fn approve(s: &State, a: &ApproveMaterialRequest, ctx: &Context<'_>) -> Decision {
    let req = request(s, &a.request_id)?;
    if req.state != RequestState::Requested {
        return Err(illegal(
            "material request",
            &req.id,
            req.state.into(),
            "approved",
        ));
    }
    let requested;
    let items = match &a.items {
        Some(items) => items,
        None => {
            requested = MaterialLines::from_units(&req.items)
                .map_err(|e| invalid(e.to_string(), format!("申请的物资数量无效：{e}")))?;
            &requested
        }
    };
    let order = Order {
        depot_id: &a.depot_id,
        site: &req.site,
        items,
        team_id: Some(req.team_id.clone()),
        request_id: Some(req.id.clone()),
        note: &a.note,
    };
    let issued = issue(s, order, ctx)?;
    let Event::MaterialsIssued { shipment, .. } = &issued else {
        unreachable!("issue makes a shipment")
    };
    let approved = Event::MaterialRequestApproved {
        request_id: req.id.clone(),
        shipment_id: shipment.id.clone(),
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    };
    Ok(vec![issued, approved])
}

pub(super) fn decline(s: &State, d: &DeclineMaterialRequest, ctx: &Context<'_>) -> Decision {
    let req = request(s, &d.request_id)?;
    if req.state != RequestState::Requested {
        return Err(illegal(
            "material request",
            &req.id,
            req.state.into(),
            "declined",
        ));
    }
    if d.reason.trim().is_empty() {
        return Err(invalid(
            "a declined request needs a reason",
            "拒绝申请须写明理由",
        ));
    }
    Ok(vec![Event::MaterialRequestDeclined {
        request_id: req.id.clone(),
        reason: d.reason.to_string(),
        at: ctx.now_ms,
        by: ctx.actor.name.clone(),
    }])
}

#[cfg(test)]
mod tests {
    use super::super::spec::*;
    use crate::domain::alerts::AlertKind;
    use crate::domain::bounds::MAX_MATERIAL;
    use crate::domain::chainage::Chainage;
    use crate::domain::events::Event;
    use crate::domain::ids::*;
    use crate::domain::incidents::Incident;
    use crate::domain::materials::*;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    use MaterialItem::*;

    fn units(pairs: &[(MaterialItem, u32)]) -> BTreeMap<MaterialItem, u32> {
        pairs.iter().copied().collect()
    }

    /// Depot D-NZ: 10,000 sandbags, 2,000 m² of geotextile, 500 m³ of stones; low below 3,000
    /// sandbags and 100 m³ of stones.
    fn depot_defined() -> Event {
        Event::DepotDefined {
            depot: Depot {
                id: DepotId::from("D-NZ"),
                name: "南洲镇防汛物资仓库".into(),
                position: p(113.12, 27.63),
                town: "南洲镇".into(),
                stock: units(&[(Sandbags, 10_000), (Geotextile, 2_000), (Stones, 500)]),
                low_stock: units(&[(Sandbags, 3_000), (Stones, 100)]),
            },
        }
    }

    fn incident_opened() -> Event {
        Event::IncidentOpened {
            incident: Incident {
                id: IncidentId::from("IN-1"),
                hazard_id: HazardId::from("HZ-1"),
                name: "将军村溃口".into(),
                post: None,
                teams: BTreeMap::new(),
                stages: Vec::new(),
                opened_at: NOW,
                closed_at: None,
                peak_headcount: 0,
                peak_at: None,
            },
        }
    }

    /// The spec world, hazard HZ-1 with its incident IN-1, and depot D-NZ.
    fn stocked() -> Vec<Event> {
        [
            world(),
            vec![hazard_reported("HZ-1"), incident_opened(), depot_defined()],
        ]
        .concat()
    }

    fn to_incident() -> Value {
        json!({"kind": "incident", "incident_id": "IN-1"})
    }

    fn stretch(from: Value, to: Value) -> Value {
        json!({"kind": "levee_stretch", "levee_id": "XJ-E1", "from": from, "to": to})
    }

    fn issue(items: Value) -> Value {
        json!({"type": "issue_materials", "depot_id": "D-NZ", "site": to_incident(),
               "team_id": "T-07", "items": items})
    }

    fn shipment(id: &str) -> ShipmentId {
        ShipmentId::from(id)
    }

    /// MS-1 as issued by the desk: `lines` from D-NZ to IN-1 for T-07.
    fn issued(lines: &[(MaterialItem, u32)], stock: &[(MaterialItem, u32)]) -> Event {
        Event::MaterialsIssued {
            shipment: Shipment {
                id: shipment("MS-1"),
                depot_id: DepotId::from("D-NZ"),
                site: MaterialSite::Incident {
                    incident_id: IncidentId::from("IN-1"),
                },
                team_id: Some(TeamId::from("T-07")),
                request_id: None,
                lines: lines
                    .iter()
                    .map(|(i, n)| {
                        (
                            *i,
                            ShipmentLine {
                                issued: *n,
                                consumed: 0,
                                returned: 0,
                            },
                        )
                    })
                    .collect(),
                state: ShipmentState::Issued,
                note: String::new(),
                issued_at: NOW,
                issued_by: "desk-1".into(),
                delivered_at: None,
                delivered_by: None,
            },
            stock: units(stock),
        }
    }

    fn delivered(by: &str) -> Event {
        Event::MaterialsDelivered {
            shipment_id: shipment("MS-1"),
            at: NOW,
            by: by.into(),
        }
    }

    fn deliver() -> Value {
        json!({"type": "deliver_materials", "shipment_id": "MS-1"})
    }

    fn consume(items: Value) -> Value {
        json!({"type": "consume_materials", "shipment_id": "MS-1", "items": items})
    }

    fn give_back(items: Value) -> Value {
        json!({"type": "return_materials", "shipment_id": "MS-1", "items": items})
    }

    /// MS-1 (2,000 sandbags, 300 m² of geotextile) delivered to IN-1.
    fn at_the_site() -> Vec<Event> {
        [
            stocked(),
            vec![
                issued(
                    &[(Sandbags, 2_000), (Geotextile, 300)],
                    &[(Sandbags, 8_000), (Geotextile, 1_700)],
                ),
                delivered("tablet-T-07"),
            ],
        ]
        .concat()
    }

    fn raised(alerts: &[Event]) -> Vec<(AlertKind, String, String)> {
        alerts
            .iter()
            .filter_map(|e| match e {
                Event::AlertRaised { alert } => Some((
                    alert.kind,
                    alert.subject_id.clone(),
                    alert.qualifier.clone(),
                )),
                _ => None,
            })
            .collect()
    }

    fn resolved(alerts: &[Event]) -> usize {
        alerts
            .iter()
            .filter(|e| matches!(e, Event::AlertResolved { .. }))
            .count()
    }

    // ------------------------------------------------------------ depots

    fn define(stock: Value, low_stock: Value) -> Value {
        json!({"type": "define_depot", "id": "D-NZ", "name": "南洲镇防汛物资仓库",
               "position": [113.12, 27.63], "town": "南洲镇", "stock": stock, "low_stock": low_stock})
    }

    #[test]
    fn a_depot_is_defined_once_with_its_stock_and_levels_by_either_name() {
        let d = dispatcher();
        given(&world())
            .when(
                &d,
                define(
                    json!({"编织袋": 10_000, "geotextile": 2_000, "块石": 500}),
                    json!({"sandbags": 3_000, "stones": 100}),
                ),
            )
            .then(&[depot_defined()])
            .when(&d, define(json!({}), json!({})))
            .then_error("already_exists");
        given(&world())
            .when(&field("T-07"), define(json!({}), json!({})))
            .then_error("forbidden");
    }

    #[test]
    fn a_depot_s_quantities_are_whole_bounded_and_of_known_items() {
        let d = dispatcher();
        for bad in [
            json!({"sandbags": -1}),
            json!({"sandbags": MAX_MATERIAL as u64 + 1}),
            json!({"sandbags": 1e300}),
            // The Chinese name is the same item: given twice.
            json!({"sandbags": 1, "编织袋": 2}),
        ] {
            given(&world())
                .when(&d, define(bad, json!({})))
                .then_error("invalid_value");
        }
        for bad in [
            json!({"sandbags": 2.5}),
            json!({"sandbags": "many"}),
            json!({"sand": 1}),
            json!(["sandbags"]),
        ] {
            given(&world())
                .when(&d, define(bad, json!({})))
                .then_error("invalid_field");
        }
        given(&world())
            .when(
                &d,
                define(json!({"sandbags": MAX_MATERIAL}), json!({"水泵": 0})),
            )
            .then_events(|e| {
                let Event::DepotDefined { depot } = &e[0] else {
                    panic!("{e:?}")
                };
                assert_eq!(depot.stock_of(Sandbags), MAX_MATERIAL);
                assert_eq!(depot.low_stock, units(&[(Pumps, 0)]));
            });
    }

    #[test]
    fn a_depot_below_a_level_raises_one_alert_per_item() {
        given(&world())
            .when(
                &dispatcher(),
                define(
                    json!({"sandbags": 100, "stones": 100}),
                    json!({"sandbags": 3_000, "stones": 100, "lights": 1}),
                ),
            )
            .then_watched(|_, alerts| {
                assert_eq!(
                    raised(alerts),
                    [
                        (AlertKind::DepotLowStock, "D-NZ".into(), "sandbags".into()),
                        (AlertKind::DepotLowStock, "D-NZ".into(), "lights".into()),
                    ],
                    "stones at their level are not low"
                );
            });
    }

    #[test]
    fn a_restock_adds_to_the_stock_within_its_bound() {
        let d = dispatcher();
        let restock =
            |items: Value| json!({"type": "restock_depot", "depot_id": "D-NZ", "items": items});
        given(&stocked())
            .when(&d, restock(json!({"编织袋": 500, "life_jackets": 40})))
            .then(&[Event::DepotRestocked {
                depot_id: DepotId::from("D-NZ"),
                items: units(&[(Sandbags, 500), (LifeJackets, 40)]),
                stock: units(&[(Sandbags, 10_500), (LifeJackets, 40)]),
                at: NOW,
                by: "desk-1".into(),
            }])
            .when(&d, restock(json!({"sandbags": MAX_MATERIAL})))
            .then_error("invalid_value")
            .when(&d, restock(json!({})))
            .then_error("invalid_value")
            .when(&d, restock(json!({"sandbags": 0})))
            .then_error("invalid_value")
            .when(&field("T-07"), restock(json!({"sandbags": 1})))
            .then_error("forbidden");
        given(&world())
            .when(&d, restock(json!({"sandbags": 1})))
            .then_error("not_found");
    }

    // ------------------------------------------------------------ shipments

    #[test]
    fn issuing_takes_from_the_depot_and_never_below_zero() {
        let d = dispatcher();
        let g = given(&stocked())
            .when(&d, issue(json!({"sandbags": 10_001})))
            .then_error("insufficient_stock")
            // An item the depot has none of.
            .when(&d, issue(json!({"sandbags": 1, "pumps": 1})))
            .then_error("insufficient_stock")
            .when(&d, issue(json!({"编织袋": 2_000, "geotextile": 300})))
            .then(&[issued(
                &[(Sandbags, 2_000), (Geotextile, 300)],
                &[(Sandbags, 8_000), (Geotextile, 1_700)],
            )]);
        let m = &g.state().materials;
        assert_eq!(m.depots[&DepotId::from("D-NZ")].stock_of(Sandbags), 8_000);
        assert_eq!(m.totals[&Sandbags].issued, 2_000);
        // The whole stock may go, to zero.
        let g = g.when(&d, issue(json!({"stones": 500}))).then_events(|e| {
            assert!(
                matches!(&e[0], Event::MaterialsIssued { shipment, stock }
                        if shipment.id.as_str() == "MS-2" && stock[&Stones] == 0),
                "{e:?}"
            );
        });
        g.when(&d, issue(json!({"stones": 1})))
            .then_error("insufficient_stock");
    }

    #[test]
    fn a_shipment_goes_to_an_open_incident_or_a_stretch_of_a_levee() {
        let d = dispatcher();
        let to = |site: Value| {
            json!({"type": "issue_materials", "depot_id": "D-NZ", "site": site,
                   "items": {"sandbags": 10}})
        };
        given(&stocked())
            .when(&d, to(stretch(json!("K2+000"), json!(2_500))))
            .then_events(|e| {
                let Event::MaterialsIssued { shipment, .. } = &e[0] else {
                    panic!("{e:?}")
                };
                assert_eq!(
                    shipment.site,
                    MaterialSite::LeveeStretch {
                        levee_id: LeveeId::from("XJ-E1"),
                        from: Chainage::from_metres(2_000.0).unwrap(),
                        to: Chainage::from_metres(2_500.0).unwrap(),
                    }
                );
                assert_eq!(shipment.team_id, None);
            });
        for (site, code) in [
            (stretch(json!(2_500), json!(2_000)), "invalid_value"),
            (stretch(json!(11_000), json!(12_000)), "invalid_value"),
            (stretch(json!(-5), json!(100)), "invalid_value"),
            (stretch(json!("K2"), json!(100)), "invalid_field"),
            (
                json!({"kind": "levee_stretch", "levee_id": "XJ-W9", "from": 0, "to": 10}),
                "not_found",
            ),
            (
                json!({"kind": "incident", "incident_id": "IN-9"}),
                "not_found",
            ),
            (
                json!({"kind": "hazard", "hazard_id": "HZ-1"}),
                "invalid_field",
            ),
        ] {
            given(&stocked())
                .when(&d, to(site.clone()))
                .then_error(code);
        }
        // A closed incident takes nothing more.
        given(&stocked())
            .when(&d, json!({"type": "close_incident", "incident_id": "IN-1"}))
            .then_events(|_| {})
            .when(&d, to(to_incident()))
            .then_error("invalid_value");
        given(&stocked())
            .when(
                &d,
                json!({"type": "issue_materials", "depot_id": "D-NZ", "site": to_incident(),
                       "team_id": "T-99", "items": {"sandbags": 1}}),
            )
            .then_error("not_found");
    }

    #[test]
    fn a_shipment_is_delivered_once_by_the_desk_or_its_receiving_team() {
        let d = dispatcher();
        let out = [
            stocked(),
            vec![issued(&[(Sandbags, 2_000)], &[(Sandbags, 8_000)])],
        ]
        .concat();
        given(&out)
            .when(&field("T-01"), deliver())
            .then_error("forbidden")
            .when(&observer(), deliver())
            .then_error("forbidden")
            .when(&d, consume(json!({"sandbags": 1})))
            .then_error("illegal_transition")
            .when(&d, give_back(json!({"sandbags": 1})))
            .then_error("illegal_transition")
            .when(&field("T-07"), deliver())
            .then(&[delivered("tablet-T-07")])
            .when(&d, deliver())
            .then_error("illegal_transition");
        given(&out).when(&d, deliver()).then(&[delivered("desk-1")]);
        // A shipment no team receives: only the desk handles it.
        given(&stocked())
            .when(
                &d,
                json!({"type": "issue_materials", "depot_id": "D-NZ", "site": to_incident(),
                             "items": {"sandbags": 5}}),
            )
            .then_events(|_| {})
            .when(&field("T-07"), deliver())
            .then_error("forbidden");
        given(&stocked())
            .when(
                &d,
                json!({"type": "deliver_materials", "shipment_id": "MS-9"}),
            )
            .then_error("not_found");
    }

    #[test]
    fn consumed_and_returned_never_exceed_what_was_issued() {
        let d = dispatcher();
        let f = field("T-07");
        let g = given(&at_the_site())
            .when(&f, consume(json!({"sandbags": 2_001})))
            .then_error("exceeds_shipment")
            .when(&f, consume(json!({"stones": 1})))
            .then_error("exceeds_shipment")
            .when(&field("T-01"), consume(json!({"sandbags": 1})))
            .then_error("forbidden")
            .when(&f, consume(json!({"编织袋": 1_500, "geotextile": 300})))
            .then(&[Event::MaterialsConsumed {
                shipment_id: shipment("MS-1"),
                items: units(&[(Sandbags, 1_500), (Geotextile, 300)]),
                consumed: units(&[(Sandbags, 1_500), (Geotextile, 300)]),
                at: NOW,
                by: "tablet-T-07".into(),
            }])
            // 500 sandbags are left at the site: no more can be returned.
            .when(&d, give_back(json!({"sandbags": 501})))
            .then_error("exceeds_shipment")
            .when(&f, give_back(json!({"sandbags": 1})))
            .then_error("forbidden")
            .when(&d, give_back(json!({"sandbags": 200})))
            .then(&[Event::MaterialsReturned {
                shipment_id: shipment("MS-1"),
                depot_id: DepotId::from("D-NZ"),
                items: units(&[(Sandbags, 200)]),
                returned: units(&[(Sandbags, 200)]),
                stock: units(&[(Sandbags, 8_200)]),
                at: NOW,
                by: "desk-1".into(),
            }])
            .when(&f, consume(json!({"sandbags": 301})))
            .then_error("exceeds_shipment")
            .when(&f, consume(json!({"sandbags": 300})))
            .then(&[Event::MaterialsConsumed {
                shipment_id: shipment("MS-1"),
                items: units(&[(Sandbags, 300)]),
                consumed: units(&[(Sandbags, 1_800)]),
                at: NOW,
                by: "tablet-T-07".into(),
            }]);
        let m = &g.state().materials;
        let s = &m.shipments[&shipment("MS-1")];
        assert!(s.is_settled());
        assert_eq!(
            s.lines[&Sandbags],
            ShipmentLine {
                issued: 2_000,
                consumed: 1_800,
                returned: 200
            }
        );
        assert_eq!(
            m.totals[&Sandbags],
            MaterialTotals {
                issued: 2_000,
                consumed: 1_800,
                returned: 200
            }
        );
        g.when(&f, consume(json!({"sandbags": 1})))
            .then_error("exceeds_shipment");
    }

    #[test]
    fn unused_materials_may_go_back_to_another_depot() {
        let d = dispatcher();
        let other = json!({"type": "define_depot", "id": "D-LK", "name": "区仓库",
                           "position": [113.14, 27.70], "stock": {"sandbags": MAX_MATERIAL - 10}});
        let back_to = |depot: &str, n: u32| {
            json!({"type": "return_materials", "shipment_id": "MS-1", "depot_id": depot,
                   "items": {"sandbags": n}})
        };
        given(&at_the_site())
            .when(&d, other)
            .then_events(|_| {})
            .when(&d, back_to("D-XX", 10))
            .then_error("not_found")
            // The other depot cannot hold more than the bound.
            .when(&d, back_to("D-LK", 11))
            .then_error("invalid_value")
            .when(&d, back_to("D-LK", 10))
            .then_events(|e| {
                assert!(
                    matches!(&e[0], Event::MaterialsReturned { depot_id, stock, .. }
                        if depot_id.as_str() == "D-LK" && stock[&Sandbags] == MAX_MATERIAL),
                    "{e:?}"
                );
            });
    }

    #[test]
    fn a_depot_low_on_an_item_is_an_alert_until_restocked() {
        let d = dispatcher();
        let low = (
            AlertKind::DepotLowStock,
            "D-NZ".to_string(),
            "sandbags".to_string(),
        );
        let g = given(&stocked())
            .when(&d, issue(json!({"sandbags": 7_000})))
            .then_watched(|_, alerts| assert!(alerts.is_empty(), "3,000 left is not below"))
            .when(&d, issue(json!({"sandbags": 1})))
            .then_watched(|_, alerts| assert_eq!(raised(alerts), std::slice::from_ref(&low)))
            .when(&d, issue(json!({"sandbags": 1})))
            .then_watched(|_, alerts| assert!(alerts.is_empty(), "one open alert per item"));
        let open = &g.state().alerts[&AlertId::from("AL-1")];
        assert_eq!(open.layer, crate::domain::events::Layer::Depots);
        assert_eq!(
            open.message,
            "depot D-NZ has 2999 pieces of sandbags, below its low-stock level of 3000"
        );
        // Back at the level by a return; low again; restocked.
        let g = g
            .when(&d, json!({"type": "deliver_materials", "shipment_id": "MS-2"}))
            .then_events(|_| {})
            .when(&d, json!({"type": "return_materials", "shipment_id": "MS-2", "items": {"sandbags": 1}}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 0, "2,999 is still below"))
            .when(&d, json!({"type": "return_materials", "shipment_id": "MS-3", "items": {"sandbags": 1}}))
            .then_error("illegal_transition")
            .when(&d, json!({"type": "deliver_materials", "shipment_id": "MS-3"}))
            .then_events(|_| {})
            .when(&d, json!({"type": "return_materials", "shipment_id": "MS-3", "items": {"sandbags": 1}}))
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1));
        g.when(&d, issue(json!({"sandbags": 2_000})))
            .then_watched(|_, alerts| assert_eq!(raised(alerts), std::slice::from_ref(&low)))
            .when(
                &d,
                json!({"type": "restock_depot", "depot_id": "D-NZ", "items": {"sandbags": 5_000}}),
            )
            .then_watched(|_, alerts| assert_eq!(resolved(alerts), 1));
    }

    // ------------------------------------------------------------ requests

    fn request(team: &str) -> Value {
        json!({"type": "request_materials", "team_id": team, "site": stretch(json!(2_000), json!(2_400)),
               "items": {"编织袋": 1_000, "照明灯": 4}, "note": "背水坡散浸，需反滤"})
    }

    fn requested() -> Event {
        Event::MaterialsRequested {
            request: MaterialRequest {
                id: MaterialRequestId::from("MR-1"),
                team_id: TeamId::from("T-07"),
                site: MaterialSite::LeveeStretch {
                    levee_id: LeveeId::from("XJ-E1"),
                    from: Chainage::from_metres(2_000.0).unwrap(),
                    to: Chainage::from_metres(2_400.0).unwrap(),
                },
                items: units(&[(Sandbags, 1_000), (Lights, 4)]),
                note: "背水坡散浸，需反滤".into(),
                state: RequestState::Requested,
                requested_at: NOW,
                requested_by: "tablet-T-07".into(),
                shipment_id: None,
                reason: String::new(),
                decided_at: None,
                decided_by: None,
                fulfilled_at: None,
            },
        }
    }

    fn approve(items: Option<Value>) -> Value {
        let mut v =
            json!({"type": "approve_material_request", "request_id": "MR-1", "depot_id": "D-NZ"});
        if let Some(items) = items {
            v["items"] = items;
        }
        v
    }

    #[test]
    fn a_field_team_requests_materials_for_its_own_place() {
        given(&stocked())
            .when(&field("T-01"), request("T-07"))
            .then_error("forbidden")
            .when(&observer(), request("T-07"))
            .then_error("forbidden")
            .when(&field("T-07"), request("T-07"))
            .then(&[requested()]);
        given(&stocked())
            .when(&dispatcher(), request("T-99"))
            .then_error("not_found");
        given(&stocked())
            .when(
                &field("T-07"),
                json!({"type": "request_materials", "team_id": "T-07", "site": to_incident(), "items": {}}),
            )
            .then_error("invalid_value");
    }

    #[test]
    fn an_approved_request_is_filled_by_a_shipment_and_fulfilled_on_delivery() {
        let d = dispatcher();
        let g = given(&stocked())
            .and(&[requested()])
            .when(&field("T-07"), approve(None))
            .then_error("forbidden")
            // The depot has no lights: nothing is issued, the request still waits.
            .when(&d, approve(None))
            .then_error("insufficient_stock");
        assert_eq!(
            g.state().materials.requests[&MaterialRequestId::from("MR-1")].state,
            RequestState::Requested
        );
        let g = g
            .when(&d, approve(Some(json!({"sandbags": 800}))))
            .then_events(|e| {
                let [
                    Event::MaterialsIssued { shipment, stock },
                    Event::MaterialRequestApproved {
                        request_id,
                        shipment_id,
                        by,
                        ..
                    },
                ] = e
                else {
                    panic!("{e:?}")
                };
                assert_eq!(
                    (shipment.id.as_str(), shipment_id.as_str()),
                    ("MS-1", "MS-1")
                );
                assert_eq!(request_id.as_str(), "MR-1");
                assert_eq!(by, "desk-1");
                assert_eq!(
                    shipment.request_id.as_ref().map(|r| r.as_str()),
                    Some("MR-1")
                );
                assert_eq!(shipment.team_id.as_ref().map(|t| t.as_str()), Some("T-07"));
                assert_eq!(shipment.lines[&Sandbags].issued, 800);
                assert_eq!(stock[&Sandbags], 9_200);
                assert!(matches!(shipment.site, MaterialSite::LeveeStretch { .. }));
            })
            .when(&d, approve(None))
            .then_error("illegal_transition")
            .when(
                &d,
                json!({"type": "decline_material_request", "request_id": "MR-1", "reason": "x"}),
            )
            .then_error("illegal_transition")
            .when(&field("T-07"), deliver())
            .then(&[
                delivered("tablet-T-07"),
                Event::MaterialRequestFulfilled {
                    request_id: MaterialRequestId::from("MR-1"),
                    shipment_id: shipment("MS-1"),
                    at: NOW,
                },
            ]);
        let r = &g.state().materials.requests[&MaterialRequestId::from("MR-1")];
        assert_eq!(r.state, RequestState::Fulfilled);
        assert_eq!(r.shipment_id, Some(shipment("MS-1")));
        assert_eq!(r.fulfilled_at, Some(NOW));
    }

    #[test]
    fn a_request_approved_as_asked_ships_what_was_requested() {
        let d = dispatcher();
        given(&stocked())
            .and(&[requested()])
            .when(
                &d,
                json!({"type": "restock_depot", "depot_id": "D-NZ", "items": {"lights": 10}}),
            )
            .then_events(|_| {})
            .when(&d, approve(None))
            .then_events(|e| {
                let Event::MaterialsIssued { shipment, .. } = &e[0] else {
                    panic!("{e:?}")
                };
                let issued: Vec<(MaterialItem, u32)> =
                    shipment.lines.iter().map(|(i, l)| (*i, l.issued)).collect();
                assert_eq!(issued, [(Sandbags, 1_000), (Lights, 4)]);
            });
    }

    #[test]
    fn a_request_is_declined_with_a_reason() {
        let d = dispatcher();
        let decline = |reason: &str| json!({"type": "decline_material_request", "request_id": "MR-1", "reason": reason});
        let g = given(&stocked())
            .and(&[requested()])
            .when(&d, decline("  "))
            .then_error("invalid_value")
            .when(
                &d,
                json!({"type": "decline_material_request", "request_id": "MR-1"}),
            )
            .then_error("missing_field")
            .when(&field("T-07"), decline("no"))
            .then_error("forbidden")
            .when(&d, decline("淦田仓库已调拨，改由区仓库供应"))
            .then(&[Event::MaterialRequestDeclined {
                request_id: MaterialRequestId::from("MR-1"),
                reason: "淦田仓库已调拨，改由区仓库供应".into(),
                at: NOW,
                by: "desk-1".into(),
            }])
            .when(&d, approve(None))
            .then_error("illegal_transition");
        let m = &g.state().materials;
        assert_eq!(
            m.requests[&MaterialRequestId::from("MR-1")].state,
            RequestState::Declined
        );
        assert_eq!(m.closed_requests.len(), 1);
        given(&stocked())
            .when(&d, decline("x"))
            .then_error("not_found");
    }

    #[test]
    fn settled_shipments_and_closed_requests_do_not_grow_the_state_without_bound() {
        let mut m = Materials::default();
        m.apply(&depot_defined());
        let n = CLOSED_KEPT + 50;
        for k in 1..=n {
            let id = shipment(&format!("MS-{k}"));
            let Event::MaterialsIssued {
                mut shipment,
                stock,
            } = issued(&[(Sandbags, 2)], &[(Sandbags, 9_998)])
            else {
                unreachable!()
            };
            shipment.id = id.clone();
            m.apply(&Event::MaterialsIssued { shipment, stock });
            m.apply(&Event::MaterialsDelivered {
                shipment_id: id.clone(),
                at: NOW,
                by: "x".into(),
            });
            m.apply(&Event::MaterialsConsumed {
                shipment_id: id.clone(),
                items: units(&[(Sandbags, 1)]),
                consumed: units(&[(Sandbags, 1)]),
                at: NOW,
                by: "x".into(),
            });
            m.apply(&Event::MaterialsReturned {
                shipment_id: id,
                depot_id: DepotId::from("D-NZ"),
                items: units(&[(Sandbags, 1)]),
                returned: units(&[(Sandbags, 1)]),
                stock: units(&[(Sandbags, 9_999)]),
                at: NOW,
                by: "x".into(),
            });
            let Event::MaterialsRequested { mut request } = requested() else {
                unreachable!()
            };
            request.id = MaterialRequestId::from(format!("MR-{k}"));
            let request_id = request.id.clone();
            m.apply(&Event::MaterialsRequested { request });
            m.apply(&Event::MaterialRequestDeclined {
                request_id,
                reason: "r".into(),
                at: NOW,
                by: "x".into(),
            });
        }
        assert_eq!(m.shipments.len(), CLOSED_KEPT);
        assert_eq!(m.requests.len(), CLOSED_KEPT);
        assert!(!m.shipments.contains_key(&shipment("MS-1")));
        assert_eq!(m.next_shipment as usize, n);
        assert_eq!(
            m.totals[&Sandbags],
            MaterialTotals {
                issued: 2 * n as u64,
                consumed: n as u64,
                returned: n as u64
            }
        );
    }

    // ------------------------------------------------------------ conservation

    struct NoLevees;

    impl crate::domain::state::LeveeSnapper for NoLevees {
        fn snap(
            &self,
            _: crate::domain::geo::LonLat,
            _: f64,
        ) -> Option<crate::domain::levee::LeveeLocation> {
            None
        }
    }

    const ITEMS: [&str; 3] = ["sandbags", "stones", "编织袋"];

    /// One materials command over two depots and shipments MS-1..MS-4, from the desk or T-07.
    fn materials_command() -> impl proptest::strategy::Strategy<Value = (Value, bool)> {
        use proptest::prelude::*;
        let item = (0..ITEMS.len()).prop_map(|i| ITEMS[i]);
        let depot = prop_oneof![Just("D-NZ"), Just("D-LK")];
        let ms = (1..5u32).prop_map(|k| format!("MS-{k}"));
        let n = 1..4_000u32;
        let cmd = prop_oneof![
            (depot.clone(), item.clone(), n.clone()).prop_map(|(d, i, n)| json!({"type": "issue_materials",
                "depot_id": d, "team_id": "T-07", "site": {"kind": "incident", "incident_id": "IN-1"}, "items": {i: n}})),
            ms.clone().prop_map(|s| json!({"type": "deliver_materials", "shipment_id": s})),
            (ms.clone(), item.clone(), n.clone()).prop_map(|(s, i, n)| json!({"type": "consume_materials",
                "shipment_id": s, "items": {i: n}})),
            (ms, depot.clone(), item.clone(), n.clone()).prop_map(|(s, d, i, n)| json!({"type": "return_materials",
                "shipment_id": s, "depot_id": d, "items": {i: n}})),
            (depot, item, n).prop_map(|(d, i, n)| json!({"type": "restock_depot", "depot_id": d, "items": {i: n}})),
        ];
        (cmd, any::<bool>())
    }

    proptest::proptest! {
        /// Whatever the desk and the field send, every unit is somewhere: in a depot, out with a
        /// shipment, or used up; no stock is negative and no shipment accounts for more than it
        /// carried.
        #[test]
        fn materials_are_conserved(steps in proptest::collection::vec(materials_command(), 1..60)) {
            use crate::domain::Command;
            use crate::domain::state::{Context, State};
            let mut s = State::default();
            let other = Event::DepotDefined { depot: Depot {
                id: DepotId::from("D-LK"), name: "区仓库".into(), position: p(113.14, 27.70),
                town: String::new(), stock: units(&[(Stones, 100)]), low_stock: units(&[(Stones, 50)]),
            }};
            for e in stocked().iter().chain([&other]) {
                s.apply(e);
            }
            // Sandbags and stones at the start, and restocked since.
            let mut supplied: BTreeMap<MaterialItem, u64> = [(Sandbags, 10_000), (Stones, 600)].into();
            let (desk, tablet) = (dispatcher(), field("T-07"));
            for (command, by_field) in steps {
                let cmd: Command = serde_json::from_value(command.clone()).unwrap();
                let actor = if by_field { &tablet } else { &desk };
                let ctx = Context { now_ms: NOW, actor, snapper: &NoLevees };
                if let Ok(events) = s.handle(&cmd, &ctx) {
                    for e in &events {
                        if let Event::DepotRestocked { items, .. } = e {
                            for (i, n) in items {
                                *supplied.entry(*i).or_default() += u64::from(*n);
                            }
                        }
                    }
                }
                let m = &s.materials;
                for item in [Sandbags, Stones] {
                    let in_depots: u64 = m.depots.values().map(|d| u64::from(d.stock_of(item))).sum();
                    let out: u64 = m.shipments.values().map(|sh| u64::from(sh.outstanding(item))).sum();
                    let used = m.totals.get(&item).map_or(0, |t| t.consumed);
                    proptest::prop_assert_eq!(in_depots + out + used, supplied[&item], "{} after {}", item, command);
                }
                for sh in m.shipments.values() {
                    for l in sh.lines.values() {
                        proptest::prop_assert!(l.consumed + l.returned <= l.issued, "{:?}", sh);
                    }
                }
            }
        }
    }
}
