//! A Dynamo-style eventually consistent key-value store, and the textbook model it replaces.
//!
//! `vclock` (vector clocks and the textbook's broken comparison), `store` (per-key version sets and
//! the merge rules), `messages`, `node` (the replica / coordinator state machine), `config`.
pub mod config;
pub mod vclock;
pub mod store;
pub use config::{EventualConfig, Mode, Policy};
pub use vclock::{Ordering4, VClock};
