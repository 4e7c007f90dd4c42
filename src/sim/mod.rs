//! The simulation kernel: virtual time, seeded streams, the event queue, the network, faults and
//! the run loop. Nothing in here knows Raft or vector clocks; protocols plug in through
//! [`crate::protocol::Protocol`].

pub mod clients;
pub mod faults;
pub mod network;
pub mod node_config;
pub mod partition;
pub mod queue;
pub mod rng;
pub mod runner;
pub mod schedule;
pub mod slab;
pub mod time;
pub mod topology;

use std::fmt;

pub use time::{SimDuration, SimTime};

/// A node's index in the cluster: `n0` … `n{N-1}` in traces and scenario files.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct NodeId(pub u32);

impl NodeId {
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Parses `n3` (the trace and scenario spelling).
    pub fn parse(text: &str) -> Option<NodeId> {
        let digits = text.strip_prefix('n')?;
        if digits.is_empty() || (digits.len() > 1 && digits.starts_with('0')) {
            return None;
        }
        digits.parse().ok().map(NodeId)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::NodeId;

    #[test]
    fn node_ids_round_trip_and_reject_junk() {
        assert_eq!(NodeId::parse("n0"), Some(NodeId(0)));
        assert_eq!(NodeId::parse("n12"), Some(NodeId(12)));
        assert_eq!(NodeId(4).to_string(), "n4");
        for bad in ["", "n", "x1", "n01", "n-1", "n1a", "N1"] {
            assert_eq!(NodeId::parse(bad), None, "{bad:?}");
        }
    }
}
