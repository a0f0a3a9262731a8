//! What clients see of each entity: its record plus what is derived from the state (a team's
//! status, a shelter's free places and days of supply), the ids of a layer, where a point entity
//! is, and which entities an event concerns.

use crate::domain::events::{Event, Layer};
use crate::domain::model::*;
use crate::domain::{LonLat, State};
use serde::Serialize;
use serde_json::Value;

/// A team as clients see it: its record plus its derived status.
#[derive(Serialize)]
pub struct TeamView<'a> {
    #[serde(flatten)]
    team: &'a Team,
    status: TeamStatus,
}

#[derive(Serialize)]
pub struct ShelterView<'a> {
    #[serde(flatten)]
    shelter: &'a Shelter,
    free_places: u32,
    days_of_supply_left: Option<f64>,
    /// Whether it is safe from the flooding of a levee breach (the domain's answer).
    #[serde(flatten)]
    flood: crate::domain::flood::FloodSafety,
}

#[derive(Serialize)]
pub struct LeveeView<'a> {
    #[serde(flatten)]
    spec: &'a crate::domain::levee::LeveeSpec,
    length_m: f64,
    end_chainage_m: f64,
}

#[derive(Serialize)]
pub struct ResponseView<'a> {
    jurisdiction: &'a str,
    level: Option<ResponseLevel>,
    history: &'a [ResponseChange],
}

/// What clients see of one entity, borrowed from the state; serializes to the entity's JSON.
#[derive(Serialize)]
#[serde(untagged)]
pub enum EntityView<'a> {
    Team(TeamView<'a>),
    Shelter(ShelterView<'a>),
    Hazard(&'a Hazard),
    Gauge(super::gauges::GaugeView<'a>),
    Assignment(&'a Assignment),
    Evacuation(EvacuationView<'a>),
    GridCell(GridCellView<'a>),
    Casualty(CasualtyView<'a>),
    Levee(LeveeView<'a>),
    Response(ResponseView<'a>),
    PatrolSection(SectionView<'a>),
    Alert(&'a crate::domain::alerts::Alert),
    Asset(AssetView<'a>),
    Incident(IncidentView<'a>),
    Depot(super::materials::DepotView<'a>),
    Shipment(super::materials::ShipmentView<'a>),
    MaterialRequest(&'a crate::domain::materials::MaterialRequest),
    FloodZone(&'a crate::domain::flood::FloodZone),
    Exercise(&'a crate::domain::journal::Exercise),
    Note(&'a crate::domain::journal::Note),
    Cue(&'a crate::domain::journal::Cue),
}

/// An evacuation order with what is derived from its departures: the people still in the zone.
#[derive(Serialize)]
pub struct EvacuationView<'a> {
    #[serde(flatten)]
    order: &'a EvacuationOrder,
    remaining: u32,
    released: u32,
}

/// A grid cell with its grid worker's latest report.
#[derive(Serialize)]
pub struct GridCellView<'a> {
    #[serde(flatten)]
    cell: &'a GridCell,
    report: Option<&'a crate::domain::evacuation::CellReport>,
}

/// A casualty record with the people still trapped in it.
#[derive(Serialize)]
pub struct CasualtyView<'a> {
    #[serde(flatten)]
    record: &'a crate::domain::casualties::CasualtyRecord,
    still_trapped: u32,
}

/// A protected asset: a point (`position`) or a line (`line`, `chainage_origin_m`).
#[derive(Serialize)]
pub struct AssetView<'a> {
    id: &'a str,
    name: &'a str,
    kind: crate::domain::incidents::AssetKind,
    priority: u8,
    buffer_m: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    position: Option<LonLat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<&'a [LonLat]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    chainage_origin_m: Option<f64>,
}

fn asset_view(a: &crate::domain::incidents::ProtectedAsset) -> AssetView<'_> {
    use crate::domain::incidents::AssetPlace;
    let (position, line, origin) = match &a.place {
        AssetPlace::Point { position } => (Some(*position), None, None),
        AssetPlace::Line { course } => (None, Some(course.line()), Some(course.start_chainage_m())),
    };
    AssetView {
        id: a.id.as_str(),
        name: &a.name,
        kind: a.kind,
        priority: a.priority,
        buffer_m: a.buffer_m,
        position,
        line,
        chainage_origin_m: origin,
    }
}

/// An incident with its derived figures: people on scene, the stage reached.
#[derive(Serialize)]
pub struct IncidentView<'a> {
    #[serde(flatten)]
    incident: &'a crate::domain::incidents::Incident,
    headcount_on_scene: u64,
    stage: Option<crate::domain::incidents::Stage>,
    open: bool,
}

/// A patrol section as the coverage board shows it: its points with their last pass, and each
/// stretch with when it was last passed, by whom, and when it is due (a gap once the clock is past
/// `due_at`; absent while no patrol is required).
#[derive(Serialize)]
pub struct SectionView<'a> {
    id: &'a str,
    levee_id: &'a str,
    name: &'a str,
    from_m: f64,
    to_m: f64,
    interval_min: Option<u32>,
    interval_override_min: Option<u32>,
    required_since: Option<TimeMs>,
    points: Vec<PointView<'a>>,
    stretches: Vec<crate::domain::patrol::Stretch<'a>>,
    shifts: &'a [crate::domain::patrol::PatrolShift],
}

#[derive(Serialize)]
struct PointView<'a> {
    id: &'a str,
    chainage_m: f64,
    kind: crate::domain::patrol::PointKind,
    name: &'a str,
    last_pass: Option<&'a crate::domain::patrol::Pass>,
}

pub fn section_view(s: &crate::domain::patrol::PatrolSection) -> SectionView<'_> {
    SectionView {
        id: s.id.as_str(),
        levee_id: s.levee_id.as_str(),
        name: &s.name,
        from_m: s.from_m,
        to_m: s.to_m,
        interval_min: s.interval_min,
        interval_override_min: s.interval_override_min,
        required_since: s.required_since,
        points: s
            .points
            .iter()
            .map(|p| PointView {
                id: p.id.as_str(),
                chainage_m: p.chainage_m,
                kind: p.kind,
                name: &p.name,
                last_pass: p.last_pass(),
            })
            .collect(),
        // With no clock here, `overdue_min` is left out; `due_at` says it.
        stretches: s.stretches(TimeMs::MIN).collect(),
        shifts: &s.shifts,
    }
}

/// The view of one entity, or `None` if it does not exist.
pub fn view_of<'a>(state: &'a State, layer: Layer, id: &str) -> Option<EntityView<'a>> {
    Some(match layer {
        Layer::Teams => {
            let team = state.teams.get(id)?;
            EntityView::Team(TeamView {
                team,
                status: state.team_status(team),
            })
        }
        Layer::Shelters => {
            let s = state.shelters.get(id)?;
            EntityView::Shelter(ShelterView {
                shelter: s,
                free_places: s.free_places(),
                days_of_supply_left: s.days_of_supply_left(),
                flood: state.shelter_flood_safety(s),
            })
        }
        Layer::Hazards => EntityView::Hazard(state.hazards.get(id)?),
        Layer::Gauges => EntityView::Gauge(super::gauges::view(state, state.gauges.get(id)?)),
        Layer::Assignments => EntityView::Assignment(state.assignments.get(id)?),
        Layer::Evacuations => {
            let order = state.evacuations.get(id)?;
            EntityView::Evacuation(EvacuationView {
                order,
                remaining: order.remaining(),
                released: order.released(),
            })
        }
        Layer::GridCells => EntityView::GridCell(GridCellView {
            cell: state.grid_cells.get(id)?,
            report: state.cell_reports.get(id),
        }),
        Layer::Casualties => {
            let record = state.casualties.get(id)?;
            EntityView::Casualty(CasualtyView {
                record,
                still_trapped: record.still_trapped(),
            })
        }
        Layer::Levees => {
            let l = state.levees.get(id)?;
            EntityView::Levee(LeveeView {
                spec: l.spec(),
                length_m: l.length_m(),
                end_chainage_m: l.end_chainage_m(),
            })
        }
        Layer::Response => {
            let (j, h) = state.response.get_key_value(id)?;
            EntityView::Response(ResponseView {
                jurisdiction: j.as_str(),
                level: h.last().and_then(|c| c.level),
                history: h,
            })
        }
        Layer::PatrolSections => {
            EntityView::PatrolSection(section_view(state.patrol_sections.get(id)?))
        }
        Layer::Alerts => EntityView::Alert(state.alerts.get(id)?),
        Layer::ProtectedAssets => EntityView::Asset(asset_view(state.assets.get(id)?)),
        Layer::Incidents => {
            let i = state.incidents.get(id)?;
            EntityView::Incident(IncidentView {
                incident: i,
                headcount_on_scene: i.headcount_on_scene(),
                stage: i.stage(),
                open: i.is_open(),
            })
        }
        Layer::Depots => EntityView::Depot(super::materials::depot_view(
            state.materials.depots.get(id)?,
        )),
        Layer::Shipments => EntityView::Shipment(super::materials::shipment_view(
            state.materials.shipments.get(id)?,
        )),
        Layer::MaterialRequests => EntityView::MaterialRequest(state.materials.requests.get(id)?),
        Layer::FloodZones => EntityView::FloodZone(state.flood_zones.get(id)?),
        Layer::Journal if id == "exercise" => EntityView::Exercise(state.exercise.as_ref()?),
        Layer::Journal => match state.notes.iter().rev().find(|n| n.id.as_str() == id) {
            Some(note) => EntityView::Note(note),
            None => EntityView::Cue(state.cues.get(id)?),
        },
    })
}

/// The client view of one entity as a JSON value, or `None` if it does not exist.
pub fn entity_view(state: &State, layer: Layer, id: &str) -> Option<Value> {
    serde_json::to_value(view_of(state, layer, id)?).ok()
}

/// The client view of one entity as JSON text, or `None` if it does not exist: one allocation,
/// no intermediate `Value` (this is built for every position update).
pub fn entity_json(state: &State, layer: Layer, id: &str) -> Option<String> {
    serde_json::to_string(&view_of(state, layer, id)?).ok()
}

/// Ids of every entity of a layer.
pub fn layer_ids(state: &State, layer: Layer) -> Vec<String> {
    fn keys<K: ToString, V>(m: &std::collections::BTreeMap<K, V>) -> Vec<String> {
        m.keys().map(ToString::to_string).collect()
    }
    match layer {
        Layer::Teams => keys(&state.teams),
        Layer::Shelters => keys(&state.shelters),
        Layer::Hazards => keys(&state.hazards),
        Layer::Gauges => keys(&state.gauges),
        Layer::Assignments => keys(&state.assignments),
        Layer::Evacuations => keys(&state.evacuations),
        Layer::GridCells => keys(&state.grid_cells),
        Layer::Levees => keys(&state.levees),
        Layer::Response => keys(&state.response),
        Layer::PatrolSections => keys(&state.patrol_sections),
        Layer::Alerts => keys(&state.alerts),
        Layer::ProtectedAssets => keys(&state.assets),
        Layer::Incidents => keys(&state.incidents),
        Layer::Casualties => keys(&state.casualties),
        Layer::Depots => keys(&state.materials.depots),
        Layer::Shipments => keys(&state.materials.shipments),
        Layer::MaterialRequests => keys(&state.materials.requests),
        Layer::FloodZones => keys(&state.flood_zones),
        Layer::Journal => {
            let exercise = state.exercise.as_ref().map(|_| "exercise".to_string());
            exercise
                .into_iter()
                .chain(state.notes.iter().map(|n| n.id.to_string()))
                .chain(keys(&state.cues))
                .collect()
        }
    }
}

/// Position of a point entity, for viewport filtering.
pub fn entity_position(state: &State, layer: Layer, id: &str) -> Option<LonLat> {
    match layer {
        Layer::Teams => state.teams.get(id)?.fix.map(|f| f.position),
        Layer::Shelters => Some(state.shelters.get(id)?.position),
        Layer::Hazards => Some(state.hazards.get(id)?.position),
        Layer::Gauges => Some(state.gauges.get(id)?.position),
        Layer::Casualties => state.casualties.get(id)?.position,
        _ => None,
    }
}

/// The layer/entity pairs an event concerns: its subject, plus the team for assignment events
/// (a team's status is derived from its assignment, so team subscribers must see them), plus the
/// patrol board for walks and patrol requirements, plus the depot whose stock a shipment moves.
pub fn event_routes(event: &Event) -> impl Iterator<Item = (Layer, &str)> {
    let team = match event {
        Event::AssignmentCreated { assignment } => Some(assignment.team_id.as_str()),
        Event::AssignmentStateChanged { team_id, .. } => Some(team_id.as_str()),
        _ => None,
    };
    // The coverage board follows the walks and the water: a position on a levee with sections
    // and a levee's new patrol requirement reach `patrol_sections` subscribers too (by levee).
    let board = match event {
        Event::TeamMoved {
            on_levee: Some(on), ..
        } => Some(on.levee_id.as_str()),
        Event::PatrolRequirementChanged { levee_id, .. } => Some(levee_id.as_str()),
        _ => None,
    };
    // A shipment leaving or coming back changes its depot's stock.
    let depot = match event {
        Event::MaterialsIssued { shipment, .. } => Some(shipment.depot_id.as_str()),
        Event::MaterialsReturned { depot_id, .. } => Some(depot_id.as_str()),
        _ => None,
    };
    std::iter::once(event.subject())
        .chain(team.map(|id| (Layer::Teams, id)))
        .chain(board.map(|id| (Layer::PatrolSections, id)))
        .chain(depot.map(|id| (Layer::Depots, id)))
}
