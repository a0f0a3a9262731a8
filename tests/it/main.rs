//! Integration tests: the real server on a random port, real WebSocket clients, real SQLite files
//! — or, with `CREST_TEST_STORE=postgres`, a PostgreSQL schema per test (`harness.rs`).
//! One test binary (these modules) so the suite links once.

mod backup;
mod bad_input;
mod browser;
mod cap;
mod cap_spec;
mod cli;
mod cluster;
mod connections;
mod district_map;
mod drills;
mod durability;
mod gauges;
mod golden_log;
mod harness;
mod http;
mod incidents;
mod keepalive;
mod live;
mod materials;
mod memory;
mod patrols;
mod people;
mod replay;
mod review;
mod shelter_flood;
mod sitrep;
mod slow_client;
mod web;
mod write_faults;
