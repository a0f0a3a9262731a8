//! The read side: everything a client can ask of the committed picture — entity views, queries,
//! the situation report, the live layers as GeoJSON, CAP 1.2 messages and their feed — computed
//! from the projection. The WebSocket session and the HTTP
//! endpoints both call it; neither builds a view of its own.

mod gauges;
pub mod geojson;
mod materials;
mod queries;
mod sitrep;
mod views;

pub use queries::answer;
mod patrols;
pub mod people;
pub use gauges::hydrograph;
pub use sitrep::sitrep;
pub mod sitrep_markdown;
pub use views::{
    EntityView, entity_json, entity_position, entity_view, event_routes, layer_ids, view_of,
};
pub mod cap;
