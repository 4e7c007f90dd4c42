//! State Machine Safety (Raft §5.4.3, Figure 3): "if a server has applied a log entry at a given
//! index to its state machine, no other server will ever apply a different log entry for the same
//! index."
//!
//! "Different" compares the whole entry: its term and its payload (key, value, msg). A node that
//! re-applies after a restart (last_applied is volatile) must apply the same entries again.
//! The Figure 8 bug — committing an entry of an earlier term by counting replicas — breaks it.
//!
//! Snapshots (§7): a node that installs a snapshot at index `i` applies `1..=i` all at once, so its
//! state there must be what the others applied up to `i`. Every node's applied prefix is folded
//! into a digest (`raft::entry_digest` over `(index, term, command id)` of each applied entry, the
//! digest a snapshot carries), and the digest of every InstallSnapshot seen on the wire (a
//! `deliver` row of `install_snapshot`, detail `digest=<hex>`) must equal the digest of what was
//! first applied up to its index; a node that then applies on top of an installed snapshot must
//! agree with the others' digest at each index too.
//!
//! Bounded memory (issue 15): the entries below the cluster's pruning point (`prune`: every member
//! has snapshotted past them) are forgotten; the entry at the point is kept with its digest. A node
//! that re-applies below the point (it restarted from an older durable snapshot) is then compared
//! once, by digest, when it applies the entry at the point: the digest covers every entry before.

use rustc_hash::FxHashMap;

use crate::check::node_map::NodeMap;
use crate::check::prune::PrunePoint;
use crate::check::raft_log::{command_id, detail_field, wire, At, Payload};
use crate::check::{Checker, Violation};
use crate::raft::{entry_digest, DIGEST_EMPTY};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

#[derive(Clone, Debug)]
struct Applied {
    term: u64,
    payload: Payload,
    /// The first node that applied it, for the message.
    node: NodeId,
    /// The digest of the applied prefix up to this index, once a node whose whole prefix is known
    /// applied it.
    digest: Option<u64>,
}

/// Remembers the first entry applied at each index, from the `apply` rows.
/// Cost: one map lookup per apply row; memory: one entry per applied index at or above the pruning
/// point (dropped in batches, `PrunePoint::prune_map`).
#[derive(Clone, Debug, Default)]
pub struct StateMachineSafety {
    /// Index -> the first entry applied there, for indexes at or above the pruning point as of the
    /// last prune. Looked up by index only, never iterated.
    applied: FxHashMap<u64, Applied>,
    prune: PrunePoint,
    /// The pruning point `applied` was last pruned to (`prune::PrunePoint::prune_map`).
    pruned_to: u64,
    /// Per node: the last index it applied and the digest of its applied prefix (absent: unknown,
    /// e.g. a gap in its apply rows).
    running: NodeMap<(u64, u64)>,
}

impl StateMachineSafety {
    pub const NAME: &'static str = "state_machine_safety";

    pub fn new() -> StateMachineSafety {
        StateMachineSafety::default()
    }

    /// The number of applied entries held (for the memory tests).
    pub fn records(&self) -> usize {
        self.applied.len()
    }
}

impl Checker for StateMachineSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Apply,
            Event::InstallSnapshot,
            Event::Deliver,
            Event::Crash,
            Event::Snapshot,
            Event::Role,
            Event::Note,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if let Some(point) = self.prune.observe(row) {
            PrunePoint::prune_map(&mut self.applied, point, &mut self.pruned_to, |&index| index);
        }
        match row.event {
            Event::Apply => {}
            Event::Crash => {
                if let Some(node) = row.node {
                    self.running.insert(node, (0, DIGEST_EMPTY));
                }
                return;
            }
            Event::InstallSnapshot => {
                if let (Some(at), Some(digest)) = (At::of(row), snapshot_digest(row)) {
                    self.running.insert(at.node, (at.index, digest));
                }
                return;
            }
            Event::Deliver if row.msg == wire::INSTALL_SNAPSHOT => {
                self.check_snapshot(row, out);
                return;
            }
            _ => return,
        }
        let Some(at) = At::of(row) else { return };
        let running = match self.running.get(&at.node) {
            Some(&(last, digest)) if last + 1 == at.index => {
                Some(entry_digest(digest, at.index, at.term, command_id(row)))
            }
            None if at.index == 1 => Some(entry_digest(DIGEST_EMPTY, 1, at.term, command_id(row))),
            _ => None,
        };
        match running {
            Some(d) => self.running.insert(at.node, (at.index, d)),
            None => self.running.remove(&at.node),
        };
        match self.applied.get_mut(&at.index) {
            None if at.index < self.prune.point() => {}
            None => {
                let payload = Payload::of(row);
                let applied = Applied { term: at.term, payload, node: at.node, digest: running };
                self.applied.insert(at.index, applied);
            }
            Some(first) if first.term == at.term && first.payload.matches(row) => {
                match (first.digest, running) {
                    (None, Some(d)) => first.digest = Some(d),
                    (Some(want), Some(got)) if want != got => out.push(Violation::at(
                        Self::NAME,
                        row,
                        format!(
                            "{} applied ({},{}) on a prefix of digest {got:016x}, but {} applied it on \
                             {want:016x}",
                            at.node, at.term, at.index, first.node
                        ),
                    )),
                    _ => {}
                }
            }
            Some(first) if first.term == at.term && first.payload.matches(row) => {}
            Some(first) => out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{} applied ({},{}) [{}] at index {}, but {} applied ({},{}) [{}] there",
                    at.node,
                    at.term,
                    at.index,
                    Payload::of(row),
                    at.index,
                    first.node,
                    first.term,
                    at.index,
                    first.payload
                ),
            )),
        }
    }
}

impl StateMachineSafety {
    /// An InstallSnapshot delivered: its digest against what was applied up to its index.
    fn check_snapshot(&self, row: &Record, out: &mut Vec<Violation>) {
        let (Some(index), Some(digest)) = (row.index, snapshot_digest(row)) else { return };
        let Some(first) = self.applied.get(&index) else { return };
        let Some(want) = first.digest else { return };
        if want != digest {
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "a snapshot at index {index} sent by {} carries state of digest {digest:016x}, but {} \
                     applied up to {index} a prefix of digest {want:016x}",
                    row.peer.map_or("?".to_owned(), |p| p.to_string()),
                    first.node
                ),
            ));
        }
    }
}

/// The `digest=<hex>` of an `install_snapshot` row or message.
fn snapshot_digest(row: &Record) -> Option<u64> {
    u64::from_str_radix(detail_field(row, "digest")?, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn same_entries_everywhere_pass() {
        assert_eq!(run(&mut StateMachineSafety::new(), good_history()), vec![]);
        assert_eq!(run(&mut StateMachineSafety::new(), forget_voted_for_history()), vec![]);
    }

    /// Reference: Raft §5.4.2, Figure 8 (d) — the prematurely committed (2,2) is overwritten.
    #[test]
    fn figure8_commit_gives_an_apply_disagreement() {
        let v = run(&mut StateMachineSafety::new(), figure8_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 49);
        assert_eq!(
            v[0].message,
            "n4 applied (3,2) [put k0 v3] at index 2, but n0 applied (2,2) [put k2 v2] there"
        );
    }

    /// Reference: Raft §5.4.1 — a leader elected without the log check commits over (1,1).
    #[test]
    fn vote_without_log_check_gives_an_apply_disagreement() {
        let v = run(&mut StateMachineSafety::new(), vote_without_log_check_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.starts_with("n2 applied (2,1)"), "{}", v[0].message);
    }

    /// Reference: Raft §7 — a snapshot must hold the state the others applied up to its index.
    #[test]
    fn a_snapshot_with_another_applied_prefix_is_caught() {
        let applies = vec![apply(0, 1, 1, 1), apply(0, 1, 2, 2)];
        let digest = [(1u64, 1u64, 1u64), (2, 1, 2)]
            .iter()
            .fold(DIGEST_EMPTY, |h, &(i, t, id)| entry_digest(h, i, t, id));
        let snap = |d: u64| {
            Record::new(Event::Deliver)
                .node(NodeId(1))
                .peer(NodeId(0))
                .msg(wire::INSTALL_SNAPSHOT)
                .term(1)
                .index(2)
                .detail(format!("last_term=1 offset=0 len=2 done=1 digest={d:016x}"))
        };
        let mut good = applies.clone();
        good.push(snap(digest));
        // The installer applies on top of the snapshot's prefix.
        good.push(
            Record::new(Event::InstallSnapshot)
                .node(NodeId(1))
                .term(1)
                .index(2)
                .detail(format!("from=leader digest={digest:016x} log=reset")),
        );
        good.push(apply(0, 1, 3, 3));
        good.push(apply(1, 1, 3, 3));
        assert_eq!(run(&mut StateMachineSafety::new(), good), vec![]);
        let mut bad = applies;
        bad.push(snap(digest ^ 1));
        let v = run(&mut StateMachineSafety::new(), bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.starts_with("a snapshot at index 2 sent by n0"), "{}", v[0].message);
    }

    #[test]
    fn same_term_different_payload_is_caught() {
        let v = run(&mut StateMachineSafety::new(), vec![apply(0, 1, 1, 1), apply(1, 1, 1, 4)]);
        assert_eq!(v.len(), 1, "{v:?}");
        let v = run(&mut StateMachineSafety::new(), vec![apply(0, 1, 1, 1), apply_get(1, 1, 1, 1)]);
        assert_eq!(v.len(), 1, "{v:?}");
    }

    /// Issue 15: the applied entries stay behind the pruning point, and an apply after it is
    /// still compared.
    #[test]
    fn records_stay_bounded_behind_the_pruning_point() {
        let mut rows = snapshotting_history(2000, 10);
        rows.extend([apply(0, 1, 2001, 2001), apply(1, 1, 2001, 5)]);
        let mut checker = StateMachineSafety::new();
        let v = run(&mut checker, rows);
        assert!(checker.records() <= 10, "{} records", checker.records());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].message.starts_with("n1 applied (1,2001) [put k2 v5] at index 2001"),
            "{}",
            v[0].message
        );
    }

    /// A node that restarts from an older durable snapshot re-applies below the pruning point: a
    /// different entry there is caught by the digest at the point.
    #[test]
    fn a_reapply_below_the_pruning_point_is_compared_by_digest() {
        let reapply = |changed: u64| {
            let mut rows = snapshotting_history(100, 10);
            rows.push(crash(2));
            rows.push(restart(2));
            rows.push(
                Record::new(Event::InstallSnapshot)
                    .node(NodeId(2))
                    .term(1)
                    .index(50)
                    .detail(format!("from=restart digest={:016x} log=kept", snapshotting_digest(50))),
            );
            rows.extend((51..=100).map(|i| apply(2, 1, i, if i == 70 { changed } else { i })));
            rows
        };
        let mut checker = StateMachineSafety::new();
        assert_eq!(run(&mut checker, reapply(70)), vec![]);
        assert!(checker.records() <= 10, "{} records", checker.records());
        let v = run(&mut StateMachineSafety::new(), reapply(71));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.starts_with("n2 applied (1,100) on a prefix of digest"), "{}", v[0].message);
    }
}
