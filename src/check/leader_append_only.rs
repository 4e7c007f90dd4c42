//! Leader Append-Only (Raft §5.3, Figure 3): "a leader never overwrites or deletes entries in its
//! log; it only appends new entries."
//!
//! Checked per incarnation of leadership: from a node's `role` row with value `leader` until its
//! next `role` row, `crash` or `restart`, the node must not `truncate`, must not `store` over an
//! entry it has, and every `append` must land at exactly its last index + 1. An `append` by a
//! node that is not leader is reported too: only leaders take client commands into their log
//! (Figure 2, "Rules for Servers: Leaders").

use crate::check::node_map::NodeMap;
use crate::check::raft_log::At;
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record, Value};

/// Tracks each node's role and last log index (not the log itself).
/// Cost: a couple of map lookups per row; memory: two numbers per node.
#[derive(Clone, Debug, Default)]
pub struct LeaderAppendOnly {
    /// Node -> the term it currently leads. Absent: not leader (or down).
    leading: NodeMap<u64>,
    /// Node -> its last log index. A write at `i` leaves `i` last (see `LogTerms`).
    last_index: NodeMap<u64>,
}

impl LeaderAppendOnly {
    pub const NAME: &'static str = "leader_append_only";

    pub fn new() -> LeaderAppendOnly {
        LeaderAppendOnly::default()
    }

    fn last(&self, node: NodeId) -> u64 {
        self.last_index.get(&node).copied().unwrap_or(0)
    }

    fn check_append(&self, row: &Record, at: At, out: &mut Vec<Violation>) {
        let last = self.last(at.node);
        let Some(&term) = self.leading.get(&at.node) else {
            let message = format!("{} appended ({},{}) while not leader", at.node, at.term, at.index);
            out.push(Violation::at(Self::NAME, row, message));
            return;
        };
        if at.index != last + 1 {
            let what = if at.index <= last { "overwriting its entries" } else { "leaving a gap" };
            let message = format!(
                "leader {} of term {term} appended ({},{}) after last index {last}, {what}",
                at.node, at.term, at.index
            );
            out.push(Violation::at(Self::NAME, row, message));
        }
    }
}

impl Checker for LeaderAppendOnly {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Role,
            Event::Crash,
            Event::Restart,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        match row.event {
            Event::Role => match (&row.value, row.term) {
                (Value::Text(t), Some(term)) if t == "leader" => {
                    self.leading.insert(node, term);
                }
                _ => {
                    self.leading.remove(&node);
                }
            },
            Event::Crash | Event::Restart => {
                self.leading.remove(&node);
            }
            Event::Append => {
                let Some(at) = At::of(row) else { return };
                self.check_append(row, at, out);
                self.last_index.insert(node, at.index);
            }
            Event::Store => {
                let Some(at) = At::of(row) else { return };
                let last = self.last(node);
                if let (Some(term), true) = (self.leading.get(&node), at.index <= last) {
                    let message = format!(
                        "leader {node} of term {term} stored ({},{}) over its entry (last index {last})",
                        at.term, at.index
                    );
                    out.push(Violation::at(Self::NAME, row, message));
                }
                self.last_index.insert(node, at.index);
            }
            Event::InstallSnapshot => {
                if let Some(at) = crate::check::raft_log::install_reset(row) {
                    self.last_index.insert(node, at.index);
                }
            }
            Event::Truncate => {
                let Some(index) = row.index else { return };
                if let Some(term) = self.leading.get(&node) {
                    let message =
                        format!("leader {node} of term {term} deleted its entries from index {index}");
                    out.push(Violation::at(Self::NAME, row, message));
                }
                let last = self.last(node).min(index.saturating_sub(1));
                self.last_index.insert(node, last);
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
    fn appending_leaders_and_truncating_followers_pass() {
        for h in [good_history(), figure8_history(), vote_without_log_check_history()] {
            assert_eq!(run(&mut LeaderAppendOnly::new(), h), vec![]);
        }
    }

    /// Reference: Figure 3 — a leader may not delete entries from its log.
    #[test]
    fn truncating_leader_is_caught() {
        let rows = vec![role(0, 1, "leader"), append(0, 1, 1, 1), append(0, 1, 2, 2), truncate(0, 2)];
        let v = run(&mut LeaderAppendOnly::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 3);
        assert_eq!(v[0].message, "leader n0 of term 1 deleted its entries from index 2");
    }

    /// Reference: Figure 3 — a leader may not overwrite entries, so it appends at last + 1 only.
    #[test]
    fn overwriting_or_gapped_appends_are_caught() {
        let rows = vec![role(0, 1, "leader"), append(0, 1, 1, 1), append(0, 1, 1, 2), append(0, 1, 3, 3)];
        let v = run(&mut LeaderAppendOnly::new(), rows);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(
            v[0].message,
            "leader n0 of term 1 appended (1,1) after last index 1, overwriting its entries"
        );
        assert_eq!(v[1].message, "leader n0 of term 1 appended (1,3) after last index 1, leaving a gap");
        let rows = vec![role(0, 1, "leader"), append(0, 1, 1, 1), store(0, 1, 1, 7)];
        assert_eq!(run(&mut LeaderAppendOnly::new(), rows).len(), 1);
    }

    #[test]
    fn leadership_ends_at_role_change_crash_and_restart() {
        let rows = vec![
            role(0, 1, "leader"),
            append(0, 1, 1, 1),
            role(0, 2, "follower"),
            truncate(0, 1),
            role(0, 3, "leader"),
            crash(0),
            restart(0),
            append(0, 3, 1, 2),
        ];
        let v = run(&mut LeaderAppendOnly::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "n0 appended (3,1) while not leader");
    }
}
