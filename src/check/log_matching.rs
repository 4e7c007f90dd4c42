//! Log Matching (Raft §5.3, Figure 3): "if two logs contain an entry with the same index and term,
//! then the logs are identical in all entries up through the given index."
//!
//! The paper splits it in two, and so does this checker:
//! (a) "If two entries in different logs have the same index and term, then they store the same
//!     command": the first `append` (or, lacking one, `store`) of `(term, index)` fixes its payload,
//!     and every later `append`/`store` of it must carry the same one.
//! (b) "If two entries in different logs have the same index and term, then the logs are identical
//!     in all preceding entries", which AppendEntries' consistency check maintains. Comparing whole
//!     logs per row would cost their length, so it is checked incrementally: when `(t, i)` is
//!     created (the leader's `append`), record the term `p` of the entry at `i - 1` in the leader's
//!     log; whenever a node writes `(t, i)`, its log must hold an entry of term `p` at `i - 1`
//!     (index 1 has no predecessor).
//!
//! Why that suffices, by induction on the index. Invariant: in every rebuilt log, each entry
//! `(t, i)` with `i > 1` sits right after an entry of term `pred(t, i)`. Writes are checked to keep
//! it; a write at `i` drops everything after `i` and a truncation drops a suffix, so no check goes
//! stale. Now let logs A and B both hold `(t, i)`. For `i = 1` they agree on index 1 by (a). For
//! `i > 1` both hold an entry of term `pred(t, i)` at `i - 1` — the same entry `(pred(t, i), i - 1)`
//! — so by the induction hypothesis they agree up to `i - 1`, and by (a) at `i`.
//! Cost: one map lookup and one log lookup per row; memory: one record per entry created at or
//! above the cluster's pruning point (`prune`: every member has snapshotted past the entries below
//! it, so in a correct run no node writes there again; dropped in batches, `PrunePoint::prune_map`) plus
//! every node's log of terms, as runs.
//! A write below the point (a node that came back from an older durable snapshot) is checked for
//! gaps only.

use rustc_hash::FxHashMap;

use crate::check::prune::PrunePoint;
use crate::check::raft_log::{At, LogTerms, Payload};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

#[derive(Clone, Debug)]
struct Created {
    payload: Payload,
    /// The term of the entry before it in the creator's log; 0 for index 1 (none).
    prev_term: u64,
    /// The node whose row created the record, for messages.
    node: NodeId,
}

/// Holds one record per `(term, index)` and every node's log of terms.
#[derive(Clone, Debug, Default)]
pub struct LogMatching {
    logs: LogTerms,
    /// `(index, term)` -> what it was created with, for indexes at or above the pruning point as
    /// of the last prune. Looked up by key only, never iterated in an order that reaches a message.
    entries: FxHashMap<(u64, u64), Created>,
    prune: PrunePoint,
    /// The pruning point `entries` was last pruned to (`prune::PrunePoint::prune_map`).
    pruned_to: u64,
}

impl LogMatching {
    pub const NAME: &'static str = "log_matching";

    pub fn new() -> LogMatching {
        LogMatching::default()
    }

    /// The term at `at.index - 1` in `at.node`'s log: 0 for index 1, `None` for a missing entry.
    fn prev_term(&self, at: At) -> Option<u64> {
        if at.index == 1 {
            Some(0)
        } else {
            self.logs.term_at(at.node, at.index - 1)
        }
    }

    fn check_write(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let prev = self.prev_term(at);
        let Some(created) = self.entries.get(&(at.index, at.term)) else {
            // First sight of (term, index): this row defines it (below the pruning point it is
            // forgotten). A leader's gap is reported by LeaderAppendOnly; a follower's below.
            if at.index >= self.prune.point() {
                let payload = Payload::of(row);
                let prev_term = prev.unwrap_or(0);
                self.entries.insert((at.index, at.term), Created { payload, prev_term, node: at.node });
            }
            if prev.is_none() && row.event == Event::Store {
                out.push(self.gap(row, at));
            }
            return;
        };
        if !created.payload.matches(row) {
            let message = format!(
                "{} wrote ({},{}) with [{}], but {} created it with [{}]",
                at.node,
                at.term,
                at.index,
                Payload::of(row),
                created.node,
                created.payload
            );
            out.push(Violation::at(Self::NAME, row, message));
        }
        match prev {
            None => out.push(self.gap(row, at)),
            Some(p) if p != created.prev_term => {
                let message = format!(
                    "{} wrote ({},{}) after an entry of term {p}, but {} created it after term {} \
                     at index {}: the logs differ before a common entry",
                    at.node,
                    at.term,
                    at.index,
                    created.node,
                    created.prev_term,
                    at.index - 1
                );
                out.push(Violation::at(Self::NAME, row, message));
            }
            Some(_) => {}
        }
    }

    /// The number of `(term, index)` records held (for the memory tests).
    pub fn records(&self) -> usize {
        self.entries.len()
    }

    fn gap(&self, row: &Record, at: At) -> Violation {
        let message = format!(
            "{} wrote ({},{}) with no entry at index {} (last index {})",
            at.node,
            at.term,
            at.index,
            at.index - 1,
            self.logs.last_index(at.node)
        );
        Violation::at(Self::NAME, row, message)
    }
}

impl Checker for LogMatching {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
            Event::Snapshot,
            Event::Role,
            Event::Note,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if let Some(point) = self.prune.observe(row) {
            PrunePoint::prune_map(&mut self.entries, point, &mut self.pruned_to, |&(index, _)| index);
        }
        match row.event {
            Event::Append | Event::Store => {
                if let Some(at) = At::of(row) {
                    self.check_write(row, at, out);
                }
                self.logs.observe(row);
            }
            Event::Truncate | Event::InstallSnapshot => self.logs.observe(row),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn matching_logs_pass() {
        for h in [good_history(), figure8_history(), vote_without_log_check_history()] {
            assert_eq!(run(&mut LogMatching::new(), h), vec![]);
        }
    }

    /// Reference: Raft §5.3 — one (term, index), one command.
    #[test]
    fn same_entry_with_another_command_is_caught() {
        let rows = vec![append(0, 1, 1, 1), store(1, 1, 1, 5)];
        let v = run(&mut LogMatching::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "n1 wrote (1,1) with [put k2 v5], but n0 created it with [put k1 v1]");
    }

    /// Reference: Raft §5.3 — a follower that skipped the AppendEntries consistency check stores
    /// (2,3) after its own (1,2) where the leader had (2,2).
    #[test]
    fn different_predecessor_is_caught() {
        let rows = vec![
            append(0, 1, 1, 1),
            store(1, 1, 1, 1),
            append(1, 1, 2, 2),
            append(0, 2, 2, 3),
            append(0, 2, 3, 4),
            store(1, 2, 3, 4),
        ];
        let v = run(&mut LogMatching::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 5);
        assert_eq!(
            v[0].message,
            "n1 wrote (2,3) after an entry of term 1, but n0 created it after term 2 at index 2: \
             the logs differ before a common entry"
        );
    }

    #[test]
    fn stores_into_a_gap_are_caught() {
        let rows = vec![append(0, 1, 1, 1), append(0, 1, 2, 2), store(1, 1, 2, 2), store(2, 5, 2, 9)];
        let v = run(&mut LogMatching::new(), rows);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(v[0].message, "n1 wrote (1,2) with no entry at index 1 (last index 0)");
        assert_eq!(v[1].message, "n2 wrote (5,2) with no entry at index 1 (last index 0)");
    }

    #[test]
    fn a_truncated_predecessor_no_longer_counts() {
        let rows = vec![
            append(0, 1, 1, 1),
            append(0, 1, 2, 2),
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            truncate(1, 1),
            store(1, 1, 2, 2),
        ];
        let v = run(&mut LogMatching::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 5);
    }

    /// Issue 15: with every node snapshotting, the records stay behind the pruning point, and a
    /// write after it is still checked. Without snapshots every entry is held.
    #[test]
    fn records_stay_bounded_behind_the_pruning_point() {
        let mut rows = snapshotting_history(2000, 10);
        rows.extend([append(0, 1, 2001, 2001), store(1, 1, 2001, 7)]);
        let mut checker = LogMatching::new();
        let v = run(&mut checker, rows);
        assert!(checker.records() <= 10, "{} records", checker.records());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].message.starts_with("n1 wrote (1,2001) with [put k1 v7], but n0 created it"),
            "{}",
            v[0].message
        );
        let mut unpruned = LogMatching::new();
        assert_eq!(run(&mut unpruned, snapshotting_history(200, 1000)), vec![]);
        assert_eq!(unpruned.records(), 200);
    }
}
