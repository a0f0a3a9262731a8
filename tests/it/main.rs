//! Integration tests: the real server on a random port, real WebSocket clients, real SQLite files.
//! One test binary (these modules) so the suite links once.

mod bad_input;
mod cli;
mod connections;
mod district_map;
mod durability;
mod golden_log;
mod harness;
mod http;
mod incidents;
mod keepalive;
mod live;
mod memory;
mod patrols;
mod sitrep;
mod slow_client;
mod write_faults;
