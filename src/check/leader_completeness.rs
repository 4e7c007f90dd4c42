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

use crate::check::node_map::NodeMap;
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
    /// Every leader row seen: (term, node, its log's terms at that row).
    leaders: Vec<(u64, NodeId, TermRuns)>,
}

impl LeaderCompleteness {
    pub const NAME: &'static str = "leader_completeness";

    pub fn new() -> LeaderCompleteness {
        LeaderCompleteness::default()
    }

    fn record_commit(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let upto = self.recorded_upto.get(&at.node).copied().unwrap_or(0);
        let end = at.index.min(self.logs.last_index(at.node));
        for index in upto + 1..=end {
            // A gap (no entry) commits nothing that a leader could be asked to hold.
            if let Some(entry_term) = self.logs.term_at(at.node, index) {
                self.record(index, entry_term, at.term);
                self.check_earlier_leaders(row, index, entry_term, at.term, out);
            }
        }
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
    fn record(&mut self, index: u64, entry_term: u64, term: u64) {
        let key = (index, entry_term);
        let found = match self.committed.last() {
            Some(&(i, t, _)) if (i, t) < key => Err(self.committed.len()),
            None => Err(0),
            Some(_) => self.committed.binary_search_by(|&(i, t, _)| (i, t).cmp(&key)),
        };
        match found {
            Ok(at) => self.committed[at].2 = self.committed[at].2.min(term),
            Err(at) => self.committed.insert(at, (index, entry_term, term)),
        }
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
        let Some((index, entry_term, commit_term)) = missing.next() else {
            return;
        };
        let more = missing.count();
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
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
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
}
