//! Leader Completeness (Raft §5.4.1, Figure 3): "if a log entry is committed in a given term, then
//! that entry will be present in the logs of the leaders for all higher-numbered terms."
//!
//! Committed: a `commit` row of node n with index c (n's `current_term` in the term column) says
//! every entry of n's log up to c is committed — Figure 2's `commitIndex` is the "index of highest
//! log entry known to be committed", and log entries are committed in order (§5.3). The entries
//! are taken from n's log as rebuilt at that row. An entry counts as committed in the lowest term
//! any commit row reported it in. When a node becomes leader of term T (a `role` row with value
//! `leader`), its log must hold every entry committed in a term below T.
//! The election restriction of §5.4.1 (vote only for a candidate whose log is at least as
//! up-to-date) is what guarantees it; a vote without that check breaks it.
//!
//! A commit row can arrive after a leader of a higher term was elected (a node in an old term
//! learns of a commit late): each leader's log at its election is kept, and entries a commit row
//! records for the first time are checked against the leaders already elected in higher terms.
//!
//! Cost: a commit row records only the indexes of n's log it has not recorded before (per node, a
//! high-water mark kept across restarts and lowered when the log changes below it), so recording
//! costs O(log entries) over the whole run plus O(log) per row. A leader row scans every committed
//! entry once: O(committed entries) per election, which is rare next to the other rows.
//!
//! Bounded memory (issue 15): the committed entries below the cluster's pruning point (`prune`:
//! every member has snapshotted past them) are kept as runs of equal `(entry term, commit term)`,
//! which grow with the number of terms, not entries; a leader is checked against the runs a whole
//! run at a time. A commit row below the point records nothing new.

use crate::check::node_map::NodeMap;
use crate::check::prune::PrunePoint;
use crate::check::raft_log::{is_leader_row, At, LogTerms, TermRuns};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Holds every node's log of terms and the set of committed entries.
#[derive(Clone, Debug, Default)]
pub struct LeaderCompleteness {
    logs: LogTerms,
    /// `(index, entry term, the lowest current_term a commit row reported it committed in)`,
    /// sorted by `(index, entry term)`. Two entries at one index can both be here in a broken run;
    /// no leader can hold both. A sorted `Vec` rather than a map: commits arrive in index order,
    /// so recording is almost always a push or a hit near the end.
    committed: Vec<(u64, u64, u64)>,
    /// Node -> the prefix of its log already recorded in `committed` and unchanged since.
    /// Invariant: at most the node's last index.
    recorded_upto: NodeMap<u64>,
    /// Node -> one past the position in `committed` of its last record: a hint where its next
    /// one goes (checked before use, so one made stale by an insert or a prune costs a search).
    cursor: NodeMap<usize>,
    /// Every leader row seen: (term, node, its log's terms at that row).
    leaders: Vec<(u64, NodeId, TermRuns)>,
    /// The highest term in `leaders` (0: none): a commit of that term or later, the usual one,
    /// has no earlier-elected leader of a higher term to check.
    leaders_term_max: u64,
    /// The committed entries pruned from `committed`: `(first index, entry term, commit term)`
    /// per run of consecutive indexes with equal terms, indexes increasing. An index with two
    /// committed entries (a broken run) is not pruned.
    pruned: Vec<(u64, u64, u64)>,
    /// One past the last index in `pruned`.
    pruned_end: u64,
    prune: PrunePoint,
}

impl LeaderCompleteness {
    pub const NAME: &'static str = "leader_completeness";

    pub fn new() -> LeaderCompleteness {
        LeaderCompleteness::default()
    }

    /// The number of committed entries held one by one, and of pruned runs (for the memory tests).
    pub fn records(&self) -> (usize, usize) {
        (self.committed.len(), self.pruned.len())
    }

    /// Moves the committed entries below `point` into `pruned` (module comment).
    fn prune_below(&mut self, point: u64) {
        let below = self.committed.partition_point(|&(i, _, _)| i < point);
        let mut kept = Vec::new();
        for (k, &(index, entry_term, commit_term)) in self.committed[..below].iter().enumerate() {
            let twice = |j: usize| self.committed.get(j).is_some_and(|e| e.0 == index);
            if twice(k + 1) || (k > 0 && twice(k - 1)) {
                kept.push((index, entry_term, commit_term));
                continue;
            }
            let extends = self.pruned.last().is_some_and(|&(_, t, c)| (t, c) == (entry_term, commit_term));
            if !(extends && self.pruned_end == index) {
                if self.pruned_end < index && self.pruned.last().is_some_and(|r| r.1 != 0) {
                    // A gap: indexes no commit row recorded.
                    self.pruned.push((self.pruned_end, 0, 0));
                }
                self.pruned.push((index, entry_term, commit_term));
            }
            self.pruned_end = index + 1;
        }
        kept.extend_from_slice(&self.committed[below..]);
        self.committed = kept;
    }

    /// The first pruned committed entry (committed below `term`) that `node`'s log lacks, with
    /// how many pruned ones it lacks.
    fn missing_pruned(&self, node: NodeId, term: u64) -> Option<((u64, u64, u64), u64)> {
        let log = self.logs.log(node);
        let mut first = None;
        let mut count = 0;
        for (k, &(from, entry_term, commit_term)) in self.pruned.iter().enumerate() {
            if entry_term == 0 || commit_term >= term {
                continue;
            }
            let to = self.pruned.get(k + 1).map_or(self.pruned_end, |r| r.0) - 1;
            if let Some((index, n)) = log.first_not(from, to, entry_term) {
                first.get_or_insert((index, entry_term, commit_term));
                count += n;
            }
        }
        first.map(|f| (f, count))
    }

    fn record_commit(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let upto = self.recorded_upto.get(&at.node).copied().unwrap_or(0);
        let end = at.index.min(self.logs.last_index(at.node));
        let mut hint = self.cursor.get(&at.node).copied().unwrap_or(0);
        for index in (upto + 1).max(self.prune.point())..=end {
            // A gap (no entry) commits nothing that a leader could be asked to hold.
            if let Some(entry_term) = self.logs.term_at(at.node, index) {
                hint = self.record(index, entry_term, at.term, hint) + 1;
                self.check_earlier_leaders(row, index, entry_term, at.term, out);
            }
        }
        self.cursor.insert(at.node, hint);
        self.recorded_upto.insert(at.node, upto.max(end));
    }

    /// A commit learned late: leaders of higher terms elected before it must hold the entry too.
    fn check_earlier_leaders(
        &self,
        row: &Record,
        index: u64,
        entry_term: u64,
        term: u64,
        out: &mut Vec<Violation>,
    ) {
        if term >= self.leaders_term_max {
            return;
        }
        let missing =
            self.leaders.iter().find(|(lt, _, log)| *lt > term && log.term_at(index) != Some(entry_term));
        if let Some((lt, leader, log)) = missing {
            let has = match log.term_at(index) {
                Some(t) => format!("an entry of term {t}"),
                None => "no entry".to_owned(),
            };
            let message = format!(
                "({entry_term},{index}) committed in term {term} is missing from {leader}, elected leader of \
                 term {lt} earlier: it had {has} at index {index}"
            );
            out.push(Violation::at(Self::NAME, row, message));
        }
    }

    /// Entry `(index, entry_term)` is committed in `term` (or earlier, if already recorded so).
    /// Returns its position in `committed`; `hint` is where it likely is (checked, any value).
    fn record(&mut self, index: u64, entry_term: u64, term: u64, hint: usize) -> usize {
        match self.locate((index, entry_term), hint) {
            Ok(at) => {
                self.committed[at].2 = self.committed[at].2.min(term);
                at
            }
            Err(at) => {
                self.committed.insert(at, (index, entry_term, term));
                at
            }
        }
    }

    /// Where `key` is in `committed` (`Ok`) or would go (`Err`), as a binary search answers.
    /// Every node records the same indexes in order, the lagging ones a little behind the first:
    /// the hint (one past the node's last record) is checked first, then the tail is searched from
    /// the end, doubling, rather than the whole vector.
    fn locate(&self, key: (u64, u64), hint: usize) -> Result<usize, usize> {
        let c = &self.committed;
        let key_at = |j: usize| (c[j].0, c[j].1);
        let len = c.len();
        if hint < len && key_at(hint) == key {
            return Ok(hint);
        }
        if hint <= len && (hint == 0 || key_at(hint - 1) < key) && (hint == len || key_at(hint) > key) {
            return Err(hint);
        }
        if len == 0 || key_at(len - 1) < key {
            return Err(len);
        }
        let mut span = 1;
        while span < len && key_at(len - span) >= key {
            span *= 2;
        }
        let from = len.saturating_sub(span);
        c[from..].binary_search_by(|&(i, t, _)| (i, t).cmp(&key)).map(|k| from + k).map_err(|k| from + k)
    }

    /// The log of `node` changes from `index` on: what is recorded from there must be re-read.
    fn lower_mark(&mut self, node: NodeId, index: u64) {
        if let Some(upto) = self.recorded_upto.get_mut(&node) {
            *upto = (*upto).min(index.saturating_sub(1));
        }
    }

    fn check_leader(&self, row: &Record, node: NodeId, term: u64, out: &mut Vec<Violation>) {
        let mut missing = self
            .committed
            .iter()
            .filter(|&&(index, entry_term, commit_term)| {
                commit_term < term && self.logs.term_at(node, index) != Some(entry_term)
            })
            .copied();
        let listed = missing.next();
        let listed_more = missing.count() as u64;
        let pruned = if self.pruned.is_empty() { None } else { self.missing_pruned(node, term) };
        let (first, more) = match (listed, pruned) {
            (None, None) => return,
            (Some(l), None) => (l, listed_more),
            (None, Some((p, n))) => (p, n - 1),
            (Some(l), Some((p, n))) => (l.min(p), listed_more + n),
        };
        let (index, entry_term, commit_term) = first;
        let has = match self.logs.term_at(node, index) {
            Some(t) => format!("an entry of term {t}"),
            None => "no entry".to_owned(),
        };
        let and_more = if more > 0 { format!(" (and {more} more committed entries)") } else { String::new() };
        let message = format!(
            "{node} became leader of term {term} without ({entry_term},{index}), committed in term \
             {commit_term}: it has {has} at index {index}{and_more}"
        );
        out.push(Violation::at(Self::NAME, row, message));
    }
}

impl Checker for LeaderCompleteness {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
            Event::Commit,
            Event::Role,
            Event::Snapshot,
            Event::Note,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if let Some(point) = self.prune.observe(row) {
            self.prune_below(point);
        }
        let Some(node) = row.node else { return };
        match row.event {
            Event::Append | Event::Store | Event::Truncate => {
                if let Some(index) = row.index {
                    self.lower_mark(node, index);
                }
                self.logs.observe(row);
            }
            Event::InstallSnapshot => {
                if let Some(at) = crate::check::raft_log::install_reset(row) {
                    if let Some(changed) = self.logs.install(at) {
                        self.lower_mark(node, changed);
                    }
                }
            }
            Event::Commit => {
                if let Some(at) = At::of(row) {
                    self.record_commit(row, at, out);
                }
            }
            Event::Role if is_leader_row(row) => {
                if let Some(term) = row.term {
                    self.check_leader(row, node, term, out);
                    self.leaders.push((term, node, self.logs.log(node)));
                    self.leaders_term_max = self.leaders_term_max.max(term);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn leaders_with_all_committed_entries_pass() {
        assert_eq!(run(&mut LeaderCompleteness::new(), good_history()), vec![]);
        assert_eq!(run(&mut LeaderCompleteness::new(), forget_voted_for_history()), vec![]);
    }

    /// Reference: Raft §5.4.1 — n2 wins term 2 without the committed (1,1).
    #[test]
    fn vote_without_log_check_elects_an_incomplete_leader() {
        let v = run(&mut LeaderCompleteness::new(), vote_without_log_check_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 10);
        assert_eq!(
            v[0].message,
            "n2 became leader of term 2 without (1,1), committed in term 1: it has no entry at index 1"
        );
    }

    /// Reference: Raft §5.4.2, Figure 8 (d) — n4 wins term 5 without (2,2), committed in term 4.
    #[test]
    fn figure8_commit_elects_an_incomplete_leader() {
        let v = run(&mut LeaderCompleteness::new(), figure8_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n4 became leader of term 5 without (2,2), committed in term 4: \
             it has an entry of term 3 at index 2"
        );
    }

    #[test]
    fn entries_committed_in_the_leaders_own_term_are_not_required() {
        // n0 commits (2,1) in term 2; n1 leads term 2 too (election safety's business, not ours).
        let rows = vec![append(0, 2, 1, 1), commit(0, 1, 2), role(1, 2, "leader"), role(1, 3, "leader")];
        let v = run(&mut LeaderCompleteness::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 3);
    }

    /// Blind spot of checking only at elections: n2 commits (1,2) while still in term 1, after n1
    /// was elected leader of term 2 without it. The commit row arrives after the election.
    #[test]
    fn a_late_commit_is_checked_against_leaders_already_elected() {
        let rows = vec![
            append(0, 1, 1, 1),
            store(1, 1, 1, 1),
            store(2, 1, 1, 1),
            commit(0, 1, 1),
            append(0, 1, 2, 2),
            store(2, 1, 2, 2),
            role(1, 2, "leader"),
            commit(2, 2, 1),
        ];
        let v = run(&mut LeaderCompleteness::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 7);
        assert_eq!(
            v[0].message,
            "(1,2) committed in term 1 is missing from n1, elected leader of term 2 earlier: it had no entry at index 2"
        );
    }

    /// A commit recorded once stays committed after the committing node truncates (a bug
    /// elsewhere), and a re-commit after a restart reads the changed log again.
    #[test]
    fn commits_survive_truncation_and_recommits_see_new_entries() {
        let rows = vec![
            append(0, 1, 1, 1),
            append(0, 1, 2, 2),
            commit(0, 2, 1),
            truncate(0, 2),
            store(0, 2, 2, 3),
            crash(0),
            restart(0),
            commit(0, 2, 2),
            role(1, 3, "leader"),
        ];
        let v = run(&mut LeaderCompleteness::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n1 became leader of term 3 without (1,1), committed in term 1: it has no entry at index 1 \
             (and 2 more committed entries)"
        );
    }

    /// Issue 15: the committed entries behind the pruning point are kept as runs, and a leader
    /// is still held against them: the same violation as without pruning.
    #[test]
    fn pruned_committed_entries_are_still_required() {
        let elect = |every: u64| {
            let mut rows = snapshotting_history(200, every);
            rows.extend([store(1, 2, 5, 5), role(1, 3, "leader")]);
            let mut checker = LeaderCompleteness::new();
            let v = run(&mut checker, rows);
            (v, checker.records())
        };
        let (v, (listed, runs)) = elect(10);
        assert!(listed <= 10 && runs <= 2, "{listed} listed, {runs} runs");
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n1 became leader of term 3 without (1,5), committed in term 1: it has an entry of term 2 at \
             index 5 (and 195 more committed entries)"
        );
        let (unpruned, (listed, runs)) = elect(1000);
        assert_eq!((listed, runs), (200, 0));
        assert_eq!(unpruned[0].message, v[0].message);
    }
}
