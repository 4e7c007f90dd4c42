//! Cluster membership (thesis ch. 4): a [`Configuration`] is the set of servers whose votes and
//! acknowledgements count. It is derived from the log: a server uses the latest configuration
//! entry in its log, committed or not, from the moment it appends it (§4.1), and falls back to
//! the base configuration (the scenario's `raft.initial_members`, or a snapshot's) when its log
//! holds none. Changes are single-server (§4.2): any two configurations one change apart have
//! overlapping majorities, which is what keeps one leader per term — as long as a leader changes
//! the configuration only after committing an entry of its own term (the 2015 fix).
//!
//! A snapshot carries the configuration in force at its last included index
//! ([`crate::raft::RaftLog::config_at`]); restoring it sets the node's base configuration.

use std::fmt;

use crate::sim::NodeId;

/// The largest cluster whose membership can change: a configuration is a 64-bit set.
pub const MEMBERS_MAX: u32 = 64;

/// A set of servers (by id, below [`MEMBERS_MAX`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Configuration(u64);

impl Configuration {
    /// Servers `n0` … `n{nodes-1}` (every server when `nodes` exceeds [`MEMBERS_MAX`] is not
    /// representable: callers validate `nodes` first).
    pub fn all(nodes: u32) -> Configuration {
        assert!(nodes <= MEMBERS_MAX, "a configuration of {nodes} servers (at most {MEMBERS_MAX})");
        Configuration(if nodes == 64 { u64::MAX } else { (1u64 << nodes) - 1 })
    }

    pub fn from_ids(ids: impl IntoIterator<Item = NodeId>) -> Configuration {
        ids.into_iter().fold(Configuration(0), |c, n| c.with(n))
    }

    pub fn contains(self, node: NodeId) -> bool {
        node.0 < MEMBERS_MAX && self.0 & (1 << node.0) != 0
    }

    pub fn with(self, node: NodeId) -> Configuration {
        assert!(node.0 < MEMBERS_MAX, "{node} outside a configuration");
        Configuration(self.0 | 1 << node.0)
    }

    pub fn without(self, node: NodeId) -> Configuration {
        if node.0 >= MEMBERS_MAX {
            return self;
        }
        Configuration(self.0 & !(1 << node.0))
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// A strict majority of the members.
    pub fn majority(self) -> usize {
        self.len() / 2 + 1
    }

    /// Whether the members among `nodes` make a majority (non-members do not count).
    pub fn is_quorum(self, nodes: impl IntoIterator<Item = NodeId>) -> bool {
        nodes.into_iter().filter(|n| self.contains(*n)).count() >= self.majority()
    }

    /// The members in id order.
    pub fn iter(self) -> impl Iterator<Item = NodeId> {
        (0..MEMBERS_MAX).filter(move |i| self.0 & (1 << i) != 0).map(NodeId)
    }

    /// The bit set (bit i = `ni`), for digests.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Parses the spelling of `Display`: `n0+n2+n3` (`-` for no member).
    pub fn parse(text: &str) -> Option<Configuration> {
        if text == "-" {
            return Some(Configuration(0));
        }
        let mut c = Configuration(0);
        for word in text.split('+') {
            let n = NodeId::parse(word)?;
            if n.0 >= MEMBERS_MAX {
                return None;
            }
            c = c.with(n);
        }
        Some(c)
    }
}

/// `n0+n2+n3`, or `-` when empty: one word, so it fits in a `detail` cell among others.
impl fmt::Display for Configuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        for (i, n) in self.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{n}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(ids: &[u32]) -> Configuration {
        Configuration::from_ids(ids.iter().map(|i| NodeId(*i)))
    }

    #[test]
    fn majorities_count_members_only() {
        let four = c(&[0, 1, 2, 3]);
        assert_eq!(four.majority(), 3);
        assert!(!four.is_quorum([NodeId(0), NodeId(1), NodeId(4), NodeId(5)]));
        assert!(four.is_quorum([NodeId(0), NodeId(1), NodeId(3)]));
        assert_eq!(Configuration::all(5), c(&[0, 1, 2, 3, 4]));
        assert_eq!(Configuration::all(64).len(), 64);
        assert_eq!(c(&[1]).majority(), 1);
    }

    /// §4.2: configurations one server apart always share a member of any two majorities; two
    /// apart (the 2015 bug's pair) need not.
    #[test]
    fn single_server_changes_keep_majorities_overlapping() {
        let all = Configuration::all(5);
        for bits in 1u64..32 {
            let a = Configuration(bits);
            for n in all.iter() {
                for b in [a.with(n), a.without(n)] {
                    if b.is_empty() {
                        continue;
                    }
                    // The smallest majorities: any two must intersect.
                    assert!(a.majority() + b.majority() > (Configuration(a.0 | b.0)).len(), "{a} vs {b}");
                }
            }
        }
        let (old, grown, shrunk) = (c(&[0, 1, 2, 3]), c(&[0, 1, 2, 3, 4]), c(&[1, 2, 3]));
        // {n0, n3, n4} is a majority of `grown`, {n1, n2} of `shrunk`: disjoint.
        assert!(grown.is_quorum([NodeId(0), NodeId(3), NodeId(4)]));
        assert!(shrunk.is_quorum([NodeId(1), NodeId(2)]));
        assert!(old.majority() + old.majority() > old.len());
    }

    #[test]
    fn display_and_parse_round_trip() {
        for conf in [c(&[]), c(&[0]), c(&[0, 2, 3]), Configuration::all(64)] {
            assert_eq!(Configuration::parse(&conf.to_string()), Some(conf));
        }
        assert_eq!(c(&[0, 2]).to_string(), "n0+n2");
        assert_eq!(Configuration::parse("n0+x"), None);
        assert_eq!(Configuration::parse("n64"), None);
    }
}
