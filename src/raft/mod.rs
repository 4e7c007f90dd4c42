//! Raft (Ongaro & Ousterhout 2014, Figure 2) as a pure state machine.
pub mod config;
pub use config::{Bug, RaftConfig};
