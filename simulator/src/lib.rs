//! # simulator
//!
//! A deterministic simulation harness for the Raft KV store of `raft-core`: one thread, one
//! virtual clock, one seed. See DESIGN.md at the root of the project for the architecture.
//!
//! - [`config`]: what shapes a run, drawn from the seed (swarm testing) or read from a file;
//! - [`world`]: servers, disks, network and clients, and the faults that hit them;
//! - [`checks`]: Raft's safety invariants, checked after every event;
//! - [`run`](mod@run): the fault phase, the liveness phase and the verdict.

pub mod availability;
pub mod bootstrap;
pub mod branch;
pub mod budget;
pub mod checks;
pub mod client;
pub mod config;
pub mod coverage;
pub mod disk;
pub mod limits;
pub mod linearizability;
pub mod messages;
pub mod network;
pub mod partition;
pub mod queue;
pub mod rng;
pub mod run;
pub mod trace;
pub mod world;

pub use config::SimConfig;
pub use run::{run, run_scenario, Outcome, RunOptions, Summary, Verdict};
pub use scenario::Scenario;
pub mod bench;
pub mod cli;
pub mod determinism;
pub mod explain;
pub mod export;
pub mod guided;
pub mod pool;
pub mod report;
pub mod scenario;
pub mod script;
pub mod selftest;
pub mod shrink;
pub mod sweep;
pub mod sweep_page;
pub mod timeline;
