//! Crest: a real-time coordination server for river-flood emergencies.
//!
//! # Layout
//! A command travels: `transport` (WebSocket/HTTP) → `engine` (validates with `domain`, writes the
//! `store`, the single writer) → `projection` (live state and `spatial` indexes) → `hub` (fans the
//! serialized event out to subscribers) → back through `transport`.
//!
//! - [`domain`]: pure core — entities, commands, events, the decider and the fold; the patrol
//!   model, alerts, and the watch that raises and resolves alerts.
//! - [`spatial`]: rstar indexes: nearest teams and shelters, bounding boxes, levee snapping.
//! - [`store`]: the durable event log, snapshots, idempotency records and access tokens (sqlx).
//! - [`codec`]: the one encoding of stored events and snapshots (format versions, upcasting) and
//!   of a command's request hash.
//! - [`engine`]: the single writer with group commit and clock ticks.
//! - [`clock`]: the wall clock, and the engine's clock that tests and drills move forward.
//! - [`history`]: the state of the log at a past seq or time (after-action review), with a
//!   bounded cache of folded checkpoints.
//! - [`projection`]: the read model published after each commit.
//! - [`hub`]: the shared ring of serialized frames that every connection reads.
//! - [`protocol`]: wire messages of WebSocket protocol v1: what clients send, one
//!   `ServerMessage` enum for what the server sends, one `ErrorCode` enum for every error.
//! - [`read`]: the read side: entity views, queries, the sitrep, GeoJSON and CAP 1.2, for
//!   WebSocket and HTTP alike.
//! - [`transport`]: the accept loop and its limits, the WebSocket session, the HTTP routes and the
//!   web pages' files (the dashboard and the field app in `web/`).
//! - [`auth`]: bearer tokens.
//! - [`map`]: loading the district map into reference-data commands.
//! - [`metrics`]: counters and histograms rendered as Prometheus text.
//! - [`scenario`]: drill scenario files (TOML): their checks, with line and field, and their
//!   expansion into the timeline of commands.
//! - [`drill`]: exercise spaces (a log, engine and projection of their own on a scenario clock)
//!   and the run of a scenario through one; the expected outcomes.
//! - [`server`]: wiring it all together; [`cli`]: the command line.

pub mod auth;
pub mod cli;
pub mod clock;
pub mod codec;
pub mod domain;
pub mod drill;
pub mod engine;
pub mod history;
pub mod hub;
pub mod map;
pub mod metrics;
pub mod projection;
pub mod protocol;
pub mod read;
pub mod scenario;
pub mod server;
pub mod spatial;
pub mod store;
pub mod transport;
