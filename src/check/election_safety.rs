//! Election Safety (Raft §5.2, Figure 3): "at most one leader can be elected in a given term."
//!
//! Each server votes for at most one candidate per term and a candidate needs a majority, so two
//! leaders in one term mean a server voted twice — for instance one that forgot `voted_for`
//! across a restart (Figure 2 makes it persistent state for exactly this reason).

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use crate::check::raft_log::is_leader_row;
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Remembers the first leader of every term from the `role` rows with value `leader`.
/// Cost: one map lookup per leader row; memory: one entry per term that had a leader.
#[derive(Clone, Debug, Default)]
pub struct ElectionSafety {
    /// Term -> the node that first became leader in it.
    leaders: BTreeMap<u64, NodeId>,
}

impl ElectionSafety {
    pub const NAME: &'static str = "election_safety";

    pub fn new() -> ElectionSafety {
        ElectionSafety::default()
    }
}

impl Checker for ElectionSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Role])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if !is_leader_row(row) {
            return;
        }
        let (Some(node), Some(term)) = (row.node, row.term) else {
            return;
        };
        match self.leaders.entry(term) {
            Entry::Vacant(slot) => {
                slot.insert(node);
            }
            // The same node leading a term twice is odd but is not two leaders.
            Entry::Occupied(first) if *first.get() == node => {}
            Entry::Occupied(first) => out.push(Violation::at(
                Self::NAME,
                row,
                format!("{node} became leader of term {term}, which {} already leads", first.get()),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn one_leader_per_term_passes() {
        assert_eq!(run(&mut ElectionSafety::new(), good_history()), vec![]);
        assert_eq!(run(&mut ElectionSafety::new(), figure8_history()), vec![]);
    }

    /// Reference: Raft §5.2 — a forgotten `voted_for` lets one server vote twice in term 1.
    #[test]
    fn forgotten_voted_for_gives_two_leaders() {
        let v = run(&mut ElectionSafety::new(), forget_voted_for_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].property, "election_safety");
        assert_eq!(v[0].seq, 8);
        assert_eq!(v[0].message, "n1 became leader of term 1, which n0 already leads");
    }

    #[test]
    fn followers_and_candidates_do_not_count() {
        let rows = vec![role(0, 1, "leader"), role(1, 1, "candidate"), role(1, 1, "follower")];
        assert_eq!(run(&mut ElectionSafety::new(), rows), vec![]);
    }
}
