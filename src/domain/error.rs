//! Why the domain refused a command. Each variant has a stable, machine-readable code.

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DomainError {
    #[error("{kind} {id} does not exist")]
    NotFound { kind: &'static str, id: String },
    #[error("{kind} {id} already exists")]
    AlreadyExists { kind: &'static str, id: String },
    #[error("{kind} {id} cannot go from {from} to {to}")]
    IllegalTransition {
        kind: &'static str,
        id: String,
        from: &'static str,
        to: &'static str,
    },
    #[error("hazard {0} escalation must raise the severity or turn it into a breach")]
    NotAnEscalation(String),
    #[error("team {team} is busy with {assignment}")]
    TeamBusy { team: String, assignment: String },
    #[error("team {0} is off duty")]
    TeamOffDuty(String),
    #[error("shelter {0} is closed")]
    ShelterClosed(String),
    #[error(
        "shelter {shelter} has {free} free places, {requested} requested; set allow_over_capacity to exceed capacity"
    )]
    OverCapacity {
        shelter: String,
        free: u32,
        requested: u32,
    },
    #[error("shelter {shelter} holds {occupancy} people, cannot check out {requested}")]
    OccupancyUnderflow {
        shelter: String,
        occupancy: u32,
        requested: u32,
    },
    #[error("shelter {shelter} has {stock} of {item}, cannot issue {requested}")]
    InsufficientStock {
        shelter: String,
        item: String,
        stock: f64,
        requested: f64,
    },
    #[error("evacuation {id} has {remaining} people left to move, {requested} reported")]
    OverPopulation {
        id: String,
        remaining: u32,
        requested: u32,
    },
    #[error("no active evacuation order covers {0}")]
    NoActiveOrder(String),
    #[error(
        "shelter {shelter} lies in the flood area of a breach of {levees} ({zones}) and is not on high ground; open it only with override_flood_risk and the reason"
    )]
    ShelterInFloodArea {
        shelter: String,
        zones: String,
        levees: String,
    },
    #[error(
        "shelter {shelter} holds {occupancy} people, more than a capacity of {capacity}; set allow_over_capacity to correct it anyway"
    )]
    CapacityBelowOccupancy {
        shelter: String,
        occupancy: u32,
        capacity: u32,
    },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("depot {depot} has {stock} {item}, cannot issue {requested}")]
    DepotStockShort {
        depot: String,
        item: String,
        stock: u32,
        requested: u32,
    },
    #[error(
        "shipment {shipment} has {outstanding} {item} neither consumed nor returned, {requested} reported"
    )]
    ExceedsShipment {
        shipment: String,
        item: String,
        outstanding: u32,
        requested: u32,
    },
}
