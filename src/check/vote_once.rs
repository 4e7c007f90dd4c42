//! One vote per term (Raft §5.2): "each server will vote for at most one candidate in a given
//! term, on a first-come-first-served basis" — which is why Figure 2 makes `voted_for` persistent.
//!
//! Watches `vote` rows (a candidate's vote for itself included). A node that forgets `voted_for`
//! across a restart shows up here directly, even when the second vote does not produce a second
//! leader (which Election Safety would catch).

use std::collections::BTreeMap;

use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Remembers, per (voter, term), the candidate it voted for. One map entry per vote granted.
#[derive(Clone, Debug, Default)]
pub struct VoteOnce {
    votes: BTreeMap<(NodeId, u64), NodeId>,
}

impl VoteOnce {
    pub const NAME: &'static str = "vote_once";

    pub fn new() -> VoteOnce {
        VoteOnce::default()
    }
}

impl Checker for VoteOnce {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Vote])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let (Event::Vote, Some(voter), Some(term), Some(candidate)) =
            (row.event, row.node, row.term, row.peer)
        else {
            return;
        };
        let first = *self.votes.entry((voter, term)).or_insert(candidate);
        if first != candidate {
            out.push(Violation::at(
                Self::NAME,
                row,
                format!("{voter} voted for {candidate} in term {term} after voting for {first}"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(seq: u64, voter: u32, candidate: u32, term: u64) -> Record {
        let mut r = Record::new(Event::Vote).node(NodeId(voter)).peer(NodeId(candidate)).term(term);
        r.seq = seq;
        r
    }

    #[test]
    fn repeated_vote_for_the_same_candidate_is_fine() {
        let mut c = VoteOnce::new();
        let mut out = Vec::new();
        for r in [vote(0, 1, 0, 1), vote(1, 1, 0, 1), vote(2, 1, 2, 2), vote(3, 2, 0, 1)] {
            c.observe(&r, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
    }

    /// Reference: Raft §5.2 and Figure 2 (`voted_for` is persistent state).
    #[test]
    fn a_second_candidate_in_one_term_is_caught() {
        let mut c = VoteOnce::new();
        let mut out = Vec::new();
        for r in [vote(0, 1, 0, 3), vote(1, 1, 2, 3)] {
            c.observe(&r, &mut out);
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].seq, 1);
        assert_eq!(out[0].message, "n1 voted for n2 in term 3 after voting for n0");
    }
}
