//! Committed entries are never removed (Raft §5.3, §5.4; Figure 3's Leader Completeness and State
//! Machine Safety rest on it): "once an entry is committed, it stays in the log of every server
//! that holds it". Checked on every `truncate` row, with three kinds of evidence:
//!
//! - the node's own commit rows: a node never truncates at or below its `commit_index` (volatile:
//!   forgotten at a crash);
//! - the wire: an entry is committed once the leader of its term has received `success`
//!   AppendEntries replies (`deliver` rows) from a majority (itself included) whose match indexes
//!   cover an index holding an entry of that term (§5.4.2); from then on no node holding one of
//!   those entries may truncate it while in that term or a later one (Leader Completeness: every
//!   leader from that term on holds it). A node still in an older term may: a stale leader of
//!   that older term can legitimately overwrite a follower that never heard of the newer one;
//! - the node's acknowledgements: a `success` reply that left a node (`send` row, match index m)
//!   says its log up to m is on stable storage (Figure 2). A crash that loses any of it (a
//!   `truncate` with detail `lost …`, written at the restart) breaks the promise. A conflict
//!   truncation below m is legitimate and lowers the promise to what is left.
//!
//! Cost: O(1) per row but a truncate, which scans the node's truncated suffix.
//!
//! Bounded memory (issue 15): the wire-committed entries below the cluster's pruning point
//! (`prune`: every member has snapshotted past them, so in a correct run none truncates there)
//! are forgotten; a truncation below the point is still held against the node's own commit index
//! and acknowledgements.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::check::membership::Configs;
use crate::check::node_map::NodeMap;
use crate::check::prune::PrunePoint;
use crate::check::raft_log::{is_leader_row, wire, LogTerms};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

#[derive(Clone, Debug, Default)]
pub struct CommittedKept {
    logs: LogTerms,
    /// Each node's configuration (membership changes): a leader counts its members' acks only.
    configs: Configs,
    /// Node -> its `commit_index` since it last (re)started.
    commit_index: NodeMap<u64>,
    /// Node -> the highest match index it acknowledged and still promises to hold.
    acked: NodeMap<u64>,
    /// Node -> the highest term delivered to it or shown in its `role` rows since it last started.
    /// A reply of an older term leaving now was decided before the node moved on (it waited for
    /// a persist) and may name entries a newer leader has since, legitimately, replaced.
    term: NodeMap<u64>,
    /// Term -> its leader and what that leader's acknowledgements established: one lookup per
    /// acknowledgement (looked up, never iterated).
    terms: FxHashMap<u64, TermAcks>,
    /// `(index, (term of the entry committed there, term whose leader's acks committed it))` by
    /// the wire evidence, indexes increasing; the first committing term is kept. A deque rather
    /// than a map: acks commit indexes in order, so recording is a push at the back, and pruning
    /// pops from the front.
    committed: VecDeque<(u64, (u64, u64))>,
    prune: PrunePoint,
    /// Reused buffer of a term's counted match indexes, so an acknowledgement does not allocate.
    matches: Vec<u64>,
}

/// One term, from its first `leader` row on.
#[derive(Clone, Debug)]
struct TermAcks {
    /// The term's leader (the first `leader` row of the term).
    leader: NodeId,
    /// Follower -> highest match index acknowledged to the leader of the term.
    acks: NodeMap<u64>,
    /// The highest index recorded as committed by the term's acks (0: none).
    committed_upto: u64,
}

impl CommittedKept {
    pub const NAME: &'static str = "committed_kept";

    pub fn new() -> CommittedKept {
        CommittedKept::default()
    }

    /// The number of wire-committed entries held (for the memory tests).
    pub fn records(&self) -> usize {
        self.committed.len()
    }

    #[inline(never)] // out of `observe`, which most rows leave after a lookup or two
    fn observe_ack(&mut self, row: &Record) {
        let (Some(leader), Some(follower), Some(term), Some(matched)) =
            (row.node, row.peer, row.term, row.index)
        else {
            return;
        };
        let Some(state) = self.terms.get_mut(&term) else { return };
        if state.leader != leader || follower == leader {
            return;
        }
        let slot = state.acks.entry_or_default(follower);
        *slot = (*slot).max(matched);
        // Thesis §4.1: a majority of the leader's configuration, as its log rows show it.
        let members = self.configs.of(leader);
        let need = match members {
            None => self.configs.size().majority().saturating_sub(1),
            Some(c) => c.majority().saturating_sub(usize::from(c.contains(leader))),
        };
        let counted = |f: NodeId| members.map_or(true, |c| c.contains(f));
        let matches = &mut self.matches;
        matches.clear();
        state.acks.for_each(|f, &m| {
            if counted(f) {
                matches.push(m);
            }
        });
        if need == 0 || matches.len() < need {
            return;
        }
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let n = matches[need - 1].min(self.logs.last_index(leader));
        let done = state.committed_upto;
        if n <= done || self.logs.term_at(leader, n) != Some(term) {
            return;
        }
        for index in (done + 1).max(self.prune.point())..=n {
            if let Some(t) = self.logs.term_at(leader, index) {
                record(&mut self.committed, index, (t, term));
            }
        }
        state.committed_upto = n;
    }

    #[inline(never)] // out of `observe`, which most rows leave after a lookup or two
    fn check_truncate(&mut self, row: &Record, node: NodeId, index: u64, out: &mut Vec<Violation>) {
        let last = self.logs.last_index(node);
        if index == 0 || index > last {
            return;
        }
        let term_at = |i| self.logs.term_at(node, i).unwrap_or(0);
        if row.detail.starts_with("lost") {
            let acked = self.acked.get(&node).copied().unwrap_or(0);
            if acked >= index {
                out.push(Violation::at(
                    Self::NAME,
                    row,
                    format!(
                        "{node} lost ({},{index}) on a crash after acknowledging its log up to {acked} as stored",
                        term_at(index)
                    ),
                ));
            }
            return;
        }
        let commit = self.commit_index.get(&node).copied().unwrap_or(0);
        if commit >= index {
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{node} truncated ({},{index}) at or below its commit index {commit}",
                    term_at(index)
                ),
            ));
            return;
        }
        let node_term = self.term.get(&node).copied().unwrap_or(0);
        let from = self.committed.partition_point(|&(i, _)| i < index);
        let hit = self
            .committed
            .range(from..)
            .take_while(|&&(i, _)| i <= last)
            .find(|(i, (t, by))| node_term >= *by && self.logs.term_at(node, *i) == Some(*t));
        if let Some((i, (t, by))) = hit {
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{node} truncated from index {index} the entry ({t},{i}), committed by a majority of \
                     acknowledgements to the leader of term {by}, while in term {node_term}"
                ),
            ));
        }
        if let Some(a) = self.acked.get_mut(&node) {
            *a = (*a).min(index - 1);
        }
    }
}

/// Records `index` as committed with `terms` unless it is already (the first record stays).
fn record(committed: &mut VecDeque<(u64, (u64, u64))>, index: u64, terms: (u64, u64)) {
    // The common case: past the last index recorded.
    if !committed.back().is_some_and(|&(i, _)| i >= index) {
        committed.push_back((index, terms));
        return;
    }
    if let Err(at) = committed.binary_search_by_key(&index, |&(i, _)| i) {
        committed.insert(at, (index, terms));
    }
}

impl Checker for CommittedKept {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Send,
            Event::Deliver,
            Event::Role,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
            Event::Commit,
            Event::Crash,
            Event::Note,
            Event::Snapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if let Some(point) = self.prune.observe(row) {
            let below = self.committed.partition_point(|&(i, _)| i < point);
            self.committed.drain(..below);
        }
        self.configs.observe(row);
        let Some(node) = row.node else { return };
        match row.event {
            Event::Send if wire::is_ack(row) => {
                let current = self.term.get(&node).copied().unwrap_or(0);
                if let (Some(m), Some(t)) = (row.index, row.term) {
                    if t >= current {
                        let a = self.acked.entry_or_default(node);
                        *a = (*a).max(m);
                    }
                }
            }
            Event::Deliver => {
                if let (true, Some(t)) = (wire::is_rpc(row), row.term) {
                    let current = self.term.entry_or_default(node);
                    *current = (*current).max(t);
                }
                if wire::is_ack(row) {
                    self.observe_ack(row);
                }
            }
            Event::Role => {
                if let Some(term) = row.term {
                    let current = self.term.entry_or_default(node);
                    *current = (*current).max(term);
                    if is_leader_row(row) {
                        self.terms.entry(term).or_insert_with(|| TermAcks {
                            leader: node,
                            acks: NodeMap::default(),
                            committed_upto: 0,
                        });
                    }
                }
            }
            Event::Append | Event::Store => {
                // An entry of term t reaches a node only from a leader of term >= t, so the node's
                // term is at least t: a lower bound even when no `deliver` row shows it.
                if let Some(t) = row.term {
                    let current = self.term.entry_or_default(node);
                    *current = (*current).max(t);
                }
                self.logs.observe(row)
            }
            Event::Truncate => {
                if let Some(index) = row.index {
                    self.check_truncate(row, node, index, out);
                }
                self.logs.observe(row);
            }
            Event::InstallSnapshot => {
                // Figure 13 step 7 discards the log after the snapshot point: a truncation there
                // (the prefix it replaces is committed, so it holds the committed entries).
                if let Some(at) = crate::check::raft_log::install_reset(row) {
                    self.check_truncate(row, node, at.index + 1, out);
                    self.logs.observe(row);
                }
                if let Some(index) = row.index {
                    let c = self.commit_index.entry_or_default(node);
                    *c = (*c).max(index);
                }
            }
            Event::Commit => {
                if let Some(index) = row.index {
                    let c = self.commit_index.entry_or_default(node);
                    *c = (*c).max(index);
                }
            }
            Event::Crash => {
                self.commit_index.insert(node, 0);
                self.term.insert(node, 0);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn ack(event: Event, follower: u32, leader: u32, term: u64, matched: u64) -> Record {
        let (node, peer) = if event == Event::Send { (follower, leader) } else { (leader, follower) };
        Record::new(event)
            .node(NodeId(node))
            .peer(NodeId(peer))
            .term(term)
            .index(matched)
            .msg("append_entries_reply")
            .detail("success")
    }

    /// A reply of term 1 that waited for a persist leaves after a leader of term 2 replaced the
    /// entries it names: it promises nothing about them. (Found by seed 9865 of the hunt.)
    #[test]
    fn a_stale_term_ack_leaving_after_a_truncation_promises_nothing() {
        let lost = truncate(1, 2).detail("lost to 1");
        let rows = vec![
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            role(1, 2, "follower"),
            truncate(1, 2),
            store(1, 2, 2, 5),
            ack(Event::Send, 1, 0, 1, 2),
            crash(1),
            restart(1),
            lost,
        ];
        assert_eq!(run(&mut CommittedKept::new(), rows), vec![]);
    }

    #[test]
    fn correct_histories_pass() {
        assert_eq!(run(&mut CommittedKept::new(), good_history()), vec![]);
        assert_eq!(run(&mut CommittedKept::new(), forget_voted_for_history()), vec![]);
    }

    /// Blind spot: a follower truncating an entry it had itself committed. No leader is elected
    /// without the entry, so Leader Completeness sees nothing.
    #[test]
    fn truncating_below_the_own_commit_index_is_caught() {
        let rows =
            vec![store(1, 1, 1, 1), store(1, 1, 2, 2), commit(1, 2, 1), truncate(1, 2), store(1, 1, 2, 2)];
        let v = run(&mut CommittedKept::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "n1 truncated (1,2) at or below its commit index 2");
    }

    /// Blind spot: the entry is committed on the wire (n1 and n2 acknowledged index 1 to n0, the
    /// leader of term 1), though nobody wrote a commit row; n2 then truncates it.
    #[test]
    fn truncating_an_entry_committed_on_the_wire_is_caught() {
        let rows = vec![
            role(0, 0, "follower"),
            role(1, 0, "follower"),
            role(2, 0, "follower"),
            role(0, 1, "leader"),
            append(0, 1, 1, 1),
            store(1, 1, 1, 1),
            store(2, 1, 1, 1),
            ack(Event::Deliver, 1, 0, 1, 1),
            truncate(2, 1),
        ];
        let v = run(&mut CommittedKept::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n2 truncated from index 1 the entry (1,1), committed by a majority of acknowledgements to the leader of term 1, while in term 1"
        );
    }

    /// A follower still in term 2 has (1,3) overwritten by the stale leader of term 2, after the
    /// leader of term 3 committed (1,3) with a majority that does not include it: legal Raft (only
    /// leaders of term 3 on must hold the entry). Found by seed 54 of sims/raft_figure8.toml.
    #[test]
    fn a_follower_in_an_older_term_may_lose_an_entry_committed_later() {
        let rows = |follower_term: u64| {
            vec![
                role(0, 1, "leader"),
                append(0, 1, 1, 1),
                store(1, 1, 1, 1),
                store(2, 1, 1, 1),
                role(1, follower_term, "follower"),
                role(2, 3, "leader"),
                append(2, 3, 2, 2),
                store(0, 3, 2, 2),
                ack(Event::Deliver, 0, 2, 3, 2),
                truncate(1, 1),
            ]
        };
        assert_eq!(run(&mut CommittedKept::new(), rows(2)), vec![]);
        // The same truncation by a node that has seen term 3 breaks Leader Completeness.
        let v = run(&mut CommittedKept::new(), rows(3));
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.ends_with("leader of term 3, while in term 3"), "{}", v[0].message);
    }

    /// Blind spot: a follower acknowledges (1,1) and (1,2) before they are durable, crashes and
    /// comes back without (1,2) — the `lost` truncation its restart writes.
    #[test]
    fn losing_an_acknowledged_entry_on_a_crash_is_caught() {
        let lost = truncate(1, 2).detail("lost to 1");
        let rows = vec![
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            ack(Event::Send, 1, 0, 1, 2),
            crash(1),
            restart(1),
            lost,
        ];
        let v = run(&mut CommittedKept::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "n1 lost (1,2) on a crash after acknowledging its log up to 2 as stored");
        // Losing only what was never acknowledged is the fsync model working.
        let lost = truncate(1, 3).detail("lost to 2");
        let rows = vec![
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            ack(Event::Send, 1, 0, 1, 2),
            store(1, 1, 3, 3),
            crash(1),
            restart(1),
            lost,
        ];
        assert_eq!(run(&mut CommittedKept::new(), rows), vec![]);
    }

    /// Issue 15: the wire-committed entries stay behind the pruning point, and a truncation of
    /// one after it is still caught.
    #[test]
    fn records_stay_bounded_behind_the_pruning_point() {
        let mut rows = snapshotting_history(2000, 10);
        rows.extend([
            append(0, 1, 2001, 2001),
            store(1, 1, 2001, 2001),
            store(2, 1, 2001, 2001),
            ack(Event::Deliver, 1, 0, 1, 2001),
            truncate(2, 2001),
        ]);
        let mut checker = CommittedKept::new();
        let v = run(&mut checker, rows);
        assert!(checker.records() <= 10, "{} records", checker.records());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n2 truncated from index 2001 the entry (1,2001), committed by a majority of acknowledgements to the leader of term 1, while in term 1"
        );
    }
}
