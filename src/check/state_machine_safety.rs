//! State Machine Safety (Raft §5.4.3, Figure 3): "if a server has applied a log entry at a given
//! index to its state machine, no other server will ever apply a different log entry for the same
//! index."
//!
//! "Different" compares the whole entry: its term and its payload (key, value, msg). A node that
//! re-applies after a restart (last_applied is volatile) must apply the same entries again.
//! The Figure 8 bug — committing an entry of an earlier term by counting replicas — breaks it.

use rustc_hash::FxHashMap;

use crate::check::raft_log::{At, Payload};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

#[derive(Clone, Debug)]
struct Applied {
    term: u64,
    payload: Payload,
    /// The first node that applied it, for the message.
    node: NodeId,
}

/// Remembers the first entry applied at each index, from the `apply` rows.
/// Cost: one map lookup per apply row; memory: one entry per applied index.
#[derive(Clone, Debug, Default)]
pub struct StateMachineSafety {
    /// Looked up by index only, never iterated.
    applied: FxHashMap<u64, Applied>,
}

impl StateMachineSafety {
    pub const NAME: &'static str = "state_machine_safety";

    pub fn new() -> StateMachineSafety {
        StateMachineSafety::default()
    }
}

impl Checker for StateMachineSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Apply])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if row.event != Event::Apply {
            return;
        }
        let Some(at) = At::of(row) else { return };
        match self.applied.get(&at.index) {
            None => {
                let payload = Payload::of(row);
                self.applied.insert(at.index, Applied { term: at.term, payload, node: at.node });
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

    #[test]
    fn same_term_different_payload_is_caught() {
        let v = run(&mut StateMachineSafety::new(), vec![apply(0, 1, 1, 1), apply(1, 1, 1, 4)]);
        assert_eq!(v.len(), 1, "{v:?}");
        let v = run(&mut StateMachineSafety::new(), vec![apply(0, 1, 1, 1), apply_get(1, 1, 1, 1)]);
        assert_eq!(v.len(), 1, "{v:?}");
    }
}
