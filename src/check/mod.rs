//! Checkers: properties evaluated over a stream of trace rows, one file per property.
//!
//! The same checker code runs during a simulation (fed each row as it is made) and over a trace
//! file afterwards (`dsim check`), so a property proven on a live run is the property checked on a
//! recorded one. Each file cites the source of its property. A checker is only trusted once a
//! deliberately broken model has been caught by it (see `tests/`).

use crate::trace::Record;

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property's short name (`election_safety`, …).
    pub property: &'static str,
    /// Where it was detected.
    pub time_us: u64,
    pub seq: u64,
    /// One line: what was seen, with the nodes, terms and indexes involved.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at time_us={} seq={}: {}", self.property, self.time_us, self.seq, self.message)
    }
}

/// One property, observed row by row.
pub trait Checker {
    fn name(&self) -> &'static str;

    /// Sees one row, in trace order; pushes any violation it detects.
    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>);

    /// The run is over (`end_us` is the final simulated time): properties about the end state.
    fn finish(&mut self, _end_us: u64, _out: &mut Vec<Violation>) {}
}

// Eventually consistent KV properties.
pub mod convergence;
pub mod eventual_history;
pub mod eventual_set;
#[cfg(test)]
pub(crate) mod eventual_test_rows;
pub mod no_invented_values;
pub mod siblings_antichain;
pub mod writes_survive;
