//! A Dynamo-style eventually consistent key-value store, and the textbook model it replaces.
//!
//! `vclock` (vector clocks and the textbook's broken comparison), `store` (per-key version sets and
//! the merge rules), `messages`, `node` (the replica / coordinator state machine), `config`.
pub mod config;
pub mod messages;
pub mod node;
pub mod store;
pub mod vclock;

pub use config::{Bug, EventualConfig, Mode, Policy};
pub use messages::EventualMsg;
pub use node::{EventualNode, EventualTimer};
pub use vclock::{Ordering4, VClock};
