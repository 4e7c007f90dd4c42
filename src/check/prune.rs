//! The cluster-wide pruning point: the index below which the Raft checkers may forget what they
//! recorded per entry (issue 15, bounded memory).
//!
//! Log compaction (Raft §7) lets a node forget the entries its snapshot covers; a checker may
//! forget an entry once every server of the cluster has done so. Each node's point is the index of
//! its latest `snapshot` or `install_snapshot` row (it applied everything up to there): a restart
//! from an older durable snapshot (a crash took back a newer one) lowers it again. The cluster's
//! point is the minimum over the members, never decreasing: once it has passed an index no later
//! row lowers it (a node that comes back below it re-applies entries the checkers compare by
//! digest at the point instead, see `state_machine_safety`).
//!
//! The members are the configuration (thesis §4.1) that the node with the highest point uses, as
//! its `note config` rows show it, so a removed server does not hold the point down; without
//! membership changes every node seen (each writes a `role` row when it starts). A node that never
//! snapshots, crashed or lagging, holds it at 0: memory then grows, and nothing is forgotten.
//!
//! Cost: O(1) per row but a snapshot row, which takes a minimum over the members.

use crate::check::node_map::NodeMap;
use crate::raft::membership::Configuration;
use crate::trace::{Event, Record};

/// Tracks every node's snapshot point and the cluster's pruning point.
#[derive(Clone, Debug, Default)]
pub struct PrunePoint {
    /// Node -> the index of its latest snapshot (0: none yet). Every node seen has an entry.
    floors: NodeMap<u64>,
    /// Node -> the configuration it uses (membership changes only).
    configs: NodeMap<Configuration>,
    /// The pruning point: every member's floor was at least this once. Never decreases.
    point: u64,
}

impl PrunePoint {
    /// The rows [`PrunePoint::observe`] reads; an owner adds them to its own `events`.
    pub const EVENTS: [Event; 4] = [Event::Snapshot, Event::InstallSnapshot, Event::Role, Event::Note];

    pub fn new() -> PrunePoint {
        PrunePoint::default()
    }

    /// Reads one row; returns the new point when it moved up. Inlined: an owner passes every row
    /// it reads, and most are of other events.
    #[inline]
    pub fn observe(&mut self, row: &Record) -> Option<u64> {
        match row.event {
            Event::Role | Event::Note | Event::Snapshot | Event::InstallSnapshot => self.observe_own(row),
            _ => None,
        }
    }

    /// [`PrunePoint::observe`] on a row of one of [`PrunePoint::EVENTS`].
    fn observe_own(&mut self, row: &Record) -> Option<u64> {
        let node = row.node?;
        match row.event {
            Event::Role => {
                self.floors.entry_or_default(node);
                None
            }
            Event::Note if row.msg == "config" => {
                if let Some(c) = Configuration::parse(&row.detail) {
                    self.configs.insert(node, c);
                }
                None
            }
            Event::Snapshot | Event::InstallSnapshot => {
                let index = row.index?;
                self.floors.insert(node, index);
                let point = self.members_min();
                if point > self.point {
                    self.point = point;
                    return Some(point);
                }
                None
            }
            _ => None,
        }
    }

    /// The minimum floor over the members (module comment).
    fn members_min(&self) -> u64 {
        let lead = self.floors.iter().max_by_key(|(n, f)| (**f, std::cmp::Reverse(*n))).map(|(n, _)| n);
        match lead.and_then(|n| self.configs.get(&n)) {
            Some(c) if !c.is_empty() => {
                c.iter().map(|m| self.floors.get(&m).copied().unwrap_or(0)).min().unwrap_or(0)
            }
            _ => self.floors.iter().map(|(_, f)| *f).min().unwrap_or(0),
        }
    }

    /// Drops the records of `map` below `point` (`index` gives a record's log index), in batches:
    /// a pass over the map costs its length, so it is made once the point has moved by half of it
    /// since `pruned_to` (every index below the point holds a record, so at least that many go).
    /// The map stays within about twice the records above the point, at O(1) per record; its
    /// spare room is given back (a pass over a hash map costs its capacity, not its length),
    /// keeping room for twice what is left.
    pub fn prune_map<K: Eq + std::hash::Hash, V>(
        map: &mut rustc_hash::FxHashMap<K, V>,
        point: u64,
        pruned_to: &mut u64,
        index: impl Fn(&K) -> u64,
    ) {
        if point.saturating_sub(*pruned_to).saturating_mul(2) < map.len() as u64 {
            return;
        }
        map.retain(|k, _| index(k) >= point);
        *pruned_to = point;
        let keep = map.len().max(64) * 2;
        if map.capacity() > 2 * keep {
            map.shrink_to(keep);
        }
    }

    /// Every member has snapshotted at least up to here: the entries below it may be forgotten.
    pub fn point(&self) -> u64 {
        self.point
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::sim::NodeId;

    fn snapshot(node: u32, index: u64) -> Record {
        Record::new(Event::Snapshot).node(NodeId(node)).term(1).index(index).detail("digest=0")
    }

    fn config(node: u32, members: &'static str) -> Record {
        Record::new(Event::Note).node(NodeId(node)).msg("config").index(0).term(0).detail(members)
    }

    /// Reference: Raft §7 — the point is what every node has compacted, and never goes back.
    #[test]
    fn the_point_is_the_members_minimum_and_never_decreases() {
        let mut p = PrunePoint::new();
        for n in 0..3 {
            p.observe(&role(n, 0, "follower"));
        }
        assert_eq!(p.observe(&snapshot(0, 10)), None);
        assert_eq!(p.observe(&snapshot(1, 12)), None);
        // n2 never snapshotted: it holds the point at 0.
        assert_eq!(p.point(), 0);
        assert_eq!(p.observe(&snapshot(2, 11)), Some(10));
        assert_eq!(p.observe(&snapshot(0, 20)), Some(11));
        // A restart from an older durable snapshot lowers n2's floor, not the point.
        let restart = Record::new(Event::InstallSnapshot).node(NodeId(2)).term(1).index(5);
        assert_eq!(p.observe(&restart), None);
        assert_eq!(p.point(), 11);
        assert_eq!(p.observe(&snapshot(2, 30)), Some(12));
    }

    /// Reference: Raft thesis §4.1 — a removed server no longer holds the point down.
    #[test]
    fn a_removed_server_does_not_hold_the_point() {
        let mut p = PrunePoint::new();
        for n in 0..4 {
            p.observe(&role(n, 0, "follower"));
            p.observe(&config(n, "n0+n1+n2+n3"));
        }
        p.observe(&snapshot(0, 10));
        p.observe(&snapshot(1, 10));
        p.observe(&snapshot(2, 10));
        assert_eq!(p.point(), 0);
        p.observe(&config(0, "n0+n1+n2"));
        assert_eq!(p.observe(&snapshot(0, 20)), Some(10));
    }
}
