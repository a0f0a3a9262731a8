//! The pure domain core: entities, commands (parsed into bounded values), events, the decider
//! (by family, in `decide/`), the fold and the state machines.
//!
//! No I/O, no async, no database or socket types. The engine drives it; everything else reads the
//! state it folds.

pub mod access;
pub mod alerts;
pub mod bounds;
pub mod casualties;
pub mod chainage;
pub mod commands;
pub mod corrections;
mod decide;
pub use decide::people_at_risk;
pub mod error;
pub mod evacuation;
pub mod events;
pub mod flood;
pub mod geo;
pub mod hydrograph;
pub mod ids;
pub mod incidents;
pub mod journal;
pub mod levee;
pub mod materials;
pub mod model;
pub mod patrol;
pub mod state;
pub mod values;
pub mod vocabulary;
pub mod watch;

#[cfg(test)]
mod state_props;

/// The given/when/then helpers, for the read side's tests that need a state built by commands.
#[cfg(test)]
pub(crate) use decide::spec;

pub use access::{Actor, Role};
pub use commands::Command;
pub use error::DomainError;
pub use events::{Event, Layer};
pub use geo::{BBox, LonLat};
pub use state::{Context, LeveeSnapper, State};
