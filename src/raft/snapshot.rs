//! A snapshot of the replicated state machine (Raft §7, Figure 12): everything the log prefix up
//! to `last_included_index` amounts to, so the prefix can be discarded.
//!
//! It carries the key-value map and the client sessions (§8: sessions are part of the state
//! machine, so a node restored from a snapshot still answers a resent command from its session
//! rather than applying it twice), the index and term of the last entry it covers, and the digest
//! of the log prefix it replaces (`raft::entry_digest` over `(index, term, command id)` of
//! `1..=last_included_index`): the digest travels on the wire in InstallSnapshot, so a checker can
//! hold it against what the other nodes applied up to the same index.
//!
//! Cluster membership (thesis ch. 4) stores the configuration as of `last_included_index` in
//! [`Snapshot::config`]: Figure 13 step 8 "load snapshot's cluster configuration".

use std::collections::BTreeMap;

use crate::sim::NodeId;

use super::log::{LogIndex, Term};
use super::sessions::Sessions;

/// One snapshot. A leader sends it in chunks behind an `Arc`, so every chunk shares one copy.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// The index of the last entry the snapshot replaces (Figure 13's `lastIncludedIndex`).
    pub last_included_index: LogIndex,
    /// The term of that entry (`lastIncludedTerm`).
    pub last_included_term: Term,
    /// The log digest of `1..=last_included_index` (module comment).
    pub digest: u64,
    /// key → value id of the last applied write, as of `last_included_index`.
    pub state_machine: BTreeMap<u64, u64>,
    /// The client sessions as of `last_included_index`.
    pub sessions: Sessions,
    /// The cluster configuration as of `last_included_index`: the voting members, in id order.
    /// `None` while membership is static (every node of the scenario is a member); a membership
    /// change stores the latest configuration entry at or below `last_included_index` here and a
    /// node installing the snapshot adopts it (Figure 13, step 8).
    pub config: Option<Vec<NodeId>>,
}

impl Snapshot {
    /// Entries' worth of data (what InstallSnapshot's `offset` counts): one per index covered,
    /// at least one so even a snapshot at index 0 is one chunk.
    pub fn size(&self) -> u64 {
        self.last_included_index.max(1)
    }
}

/// Two snapshots are the same if they cover the same prefix: same point, same digest.
impl PartialEq for Snapshot {
    fn eq(&self, other: &Snapshot) -> bool {
        (self.last_included_index, self.last_included_term, self.digest)
            == (other.last_included_index, other.last_included_term, other.digest)
    }
}

impl Eq for Snapshot {}
