//! dsim — a deterministic discrete-event simulator for distributed protocols.
//!
//! A run is a pure function of (scenario, seed): a virtual clock in integer microseconds, one event
//! queue ordered by (time, insertion seq), and randomness only from ChaCha streams derived from the
//! seed. Protocols (`raft`, `eventual`) are pure state machines behind [`protocol::Protocol`]; the
//! kernel (`sim`) knows none of them. Every event becomes a trace row ([`trace::Record`]) that feeds
//! the CSV writer, the checkers (`check`) and the metrics alike.

pub mod bench;
pub mod check;
pub mod cli;
pub mod client;
pub mod error;
pub mod eventual;
pub mod export;
pub mod harness;
pub mod hunt;
pub mod lin;
pub mod metrics;
pub mod output;
pub mod protocol;
pub mod raft;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod sweep;
pub mod trace;
pub mod workload;

pub use error::{Error, Result};
