//! A Dynamo-style eventually consistent key-value store, and the textbook model it replaces.
pub mod config;
pub use config::{EventualConfig, Mode, Policy};
