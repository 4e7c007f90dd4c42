//! Commit and apply order (Raft Figure 2): per node and per incarnation, `commit_index` never
//! decreases and stays within the log ("set commitIndex = min(leaderCommit, index of last new
//! entry)"); entries are applied in log order — "if commitIndex > lastApplied: increment
//! lastApplied, apply log[lastApplied] to state machine" — so `apply` indexes run 1, 2, 3, … and
//! never pass `commit_index`.
//!
//! Both indexes are volatile state (Figure 2), so a `crash` or `restart` resets them to 0; the log
//! persists, and so does the last index tracked here.
//!
//! A snapshot (Raft §7) moves both at once: an `install_snapshot` row sets `commit_index` and
//! `last_applied` to its index, which must not be below `last_applied` (Figure 13 only ever moves a
//! follower forward: a snapshot older than what it applied would roll its state machine back).
//!
//! Read commands go through the log and are applied with an `apply` row (msg `get`) like any other
//! entry; a Raft `read` row, if the node writes one too, is not counted as an apply.

use crate::check::node_map::NodeMap;
use crate::check::raft_log::At;
use crate::check::{Checker, Violation};
use crate::trace::{Event, Record};

/// One node's volatile indexes in its current incarnation.
#[derive(Clone, Copy, Debug, Default)]
struct Volatile {
    commit_index: u64,
    /// Invariant (checked, not assumed): `last_applied <= commit_index`.
    last_applied: u64,
}

/// Tracks each node's `commit_index`, `last_applied` and last log index.
/// Cost: a few map lookups per row; memory: three numbers per node.
#[derive(Clone, Debug, Default)]
pub struct CommitApply {
    volatile: NodeMap<Volatile>,
    last_index: NodeMap<u64>,
}

impl CommitApply {
    pub const NAME: &'static str = "commit_apply";

    pub fn new() -> CommitApply {
        CommitApply::default()
    }

    fn check_commit(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let last = self.last_index.get(&at.node).copied().unwrap_or(0);
        let state = self.volatile.entry_or_default(at.node);
        if at.index < state.commit_index {
            let message =
                format!("{} lowered commit_index from {} to {}", at.node, state.commit_index, at.index);
            out.push(Violation::at(Self::NAME, row, message));
        }
        if at.index > last {
            let message =
                format!("{} set commit_index {} beyond its last log index {last}", at.node, at.index);
            out.push(Violation::at(Self::NAME, row, message));
        }
        state.commit_index = at.index;
    }

    fn check_install(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        if crate::check::raft_log::install_reset(row).is_some() {
            self.last_index.insert(at.node, at.index);
        }
        let state = self.volatile.entry_or_default(at.node);
        if at.index < state.last_applied {
            let message = format!(
                "{} installed a snapshot at index {} below its last_applied {} (commit_index {}): its \
                 state machine moved back",
                at.node, at.index, state.last_applied, state.commit_index
            );
            out.push(Violation::at(Self::NAME, row, message));
        }
        state.commit_index = at.index;
        state.last_applied = at.index;
    }

    fn check_apply(&mut self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let state = self.volatile.entry_or_default(at.node);
        if at.index != state.last_applied + 1 {
            let message =
                format!("{} applied index {} right after index {}", at.node, at.index, state.last_applied);
            out.push(Violation::at(Self::NAME, row, message));
        }
        if at.index > state.commit_index {
            let message = format!(
                "{} applied index {} above its commit_index {}",
                at.node, at.index, state.commit_index
            );
            out.push(Violation::at(Self::NAME, row, message));
        }
        state.last_applied = at.index;
    }
}

impl Checker for CommitApply {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Crash,
            Event::Restart,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::Commit,
            Event::Apply,
            Event::InstallSnapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        match row.event {
            Event::Crash | Event::Restart => {
                self.volatile.remove(&node);
            }
            Event::Append | Event::Store => {
                if let Some(index) = row.index {
                    self.last_index.insert(node, index);
                }
            }
            Event::Truncate => {
                if let (Some(index), Some(last)) = (row.index, self.last_index.get_mut(&node)) {
                    *last = (*last).min(index.saturating_sub(1));
                }
            }
            Event::Commit => {
                if let Some(at) = At::of(row) {
                    self.check_commit(row, at, out);
                }
            }
            Event::InstallSnapshot => {
                if let Some(at) = At::of(row) {
                    self.check_install(row, at, out);
                }
            }
            Event::Apply => {
                if let Some(at) = At::of(row) {
                    self.check_apply(row, at, out);
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
    fn ordered_commits_and_applies_pass() {
        for h in [good_history(), figure8_history(), vote_without_log_check_history()] {
            assert_eq!(run(&mut CommitApply::new(), h), vec![]);
        }
    }

    /// Reference: Figure 2 — commitIndex only grows within an incarnation; a restart resets it.
    #[test]
    fn lowered_commit_index_is_caught_but_not_across_a_restart() {
        let rows = vec![
            append(0, 1, 1, 1),
            append(0, 1, 2, 2),
            commit(0, 2, 1),
            commit(0, 1, 1),
            crash(0),
            restart(0),
            commit(0, 1, 1),
        ];
        let v = run(&mut CommitApply::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 3);
        assert_eq!(v[0].message, "n0 lowered commit_index from 2 to 1");
    }

    #[test]
    fn commit_beyond_the_log_is_caught() {
        let rows = vec![append(0, 1, 1, 1), commit(0, 2, 1)];
        let v = run(&mut CommitApply::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "n0 set commit_index 2 beyond its last log index 1");
    }

    /// Reference: Figure 2 — apply log[lastApplied + 1], only up to commitIndex.
    #[test]
    fn skipped_repeated_and_uncommitted_applies_are_caught() {
        let rows = vec![
            append(0, 1, 1, 1),
            append(0, 1, 2, 2),
            append(0, 1, 3, 3),
            commit(0, 2, 1),
            apply(0, 1, 2, 2),
            apply(0, 1, 2, 2),
            apply(0, 1, 3, 3),
        ];
        let v = run(&mut CommitApply::new(), rows);
        let messages: Vec<&str> = v.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "n0 applied index 2 right after index 0",
                "n0 applied index 2 right after index 2",
                "n0 applied index 3 above its commit_index 2"
            ]
        );
    }

    #[test]
    fn a_restart_reapplies_from_one() {
        let rows = vec![
            append(0, 1, 1, 1),
            commit(0, 1, 1),
            apply(0, 1, 1, 1),
            crash(0),
            restart(0),
            commit(0, 1, 1),
            apply(0, 1, 1, 1),
        ];
        assert_eq!(run(&mut CommitApply::new(), rows), vec![]);
    }
}
