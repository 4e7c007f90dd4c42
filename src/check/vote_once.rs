//! One vote per term (Raft §5.2): "each server will vote for at most one candidate in a given
//! term, on a first-come-first-served basis" — which is why Figure 2 makes `voted_for` persistent.
//!
//! Two kinds of evidence, checked separately:
//! - the node's own `vote` rows (a candidate's vote for itself included). A crash that took back
//!   an unsynced vote (the restart's `note` row with msg `fsync_lost`, term = the durable term)
//!   forgets the node's votes of later terms: no reply granting them ever left the node;
//! - what crossed the wire: a `send` row of a `request_vote_reply` with detail `granted` (node =
//!   voter, peer = candidate). A node that grants two candidates in one term breaks the rule even
//!   if it never wrote a `vote` row (a node ignoring `voted_for`), and no crash excuses it.
//!
//! A node that forgets `voted_for` across a restart shows up here directly, even when the second
//! vote does not produce a second leader (which Election Safety would catch).

use std::collections::BTreeMap;

use crate::check::raft_log::wire;
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Remembers, per (voter, term), the candidate it voted for. One map entry per vote granted.
#[derive(Clone, Debug, Default)]
pub struct VoteOnce {
    votes: BTreeMap<(NodeId, u64), NodeId>,
    /// Per (voter, term): the candidate its first granted reply on the wire went to.
    granted: BTreeMap<(NodeId, u64), NodeId>,
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
        Some(&[Event::Vote, Event::Send, Event::Note])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let (Some(voter), Some(term)) = (row.node, row.term) else { return };
        match row.event {
            Event::Note if row.msg == crate::raft::FSYNC_LOST => {
                // Votes of terms above the durable one were never acknowledged: forget them.
                let lost: Vec<_> =
                    self.votes.range((voter, term + 1)..=(voter, u64::MAX)).map(|(k, _)| *k).collect();
                for key in lost {
                    self.votes.remove(&key);
                }
                return;
            }
            Event::Send if wire::is_grant(row) => {
                let Some(candidate) = row.peer else { return };
                let first = *self.granted.entry((voter, term)).or_insert(candidate);
                if first != candidate {
                    out.push(Violation::at(
                        Self::NAME,
                        row,
                        format!(
                            "{voter} sent a granted vote in term {term} to {candidate} after granting it \
                             to {first} (request_vote_reply on the wire)"
                        ),
                    ));
                }
                return;
            }
            Event::Vote => {}
            _ => return,
        }
        let Some(candidate) = row.peer else { return };
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

    fn grant(seq: u64, voter: u32, candidate: u32, term: u64) -> Record {
        let mut r = Record::new(Event::Send)
            .node(NodeId(voter))
            .peer(NodeId(candidate))
            .term(term)
            .msg("request_vote_reply")
            .detail("granted");
        r.seq = seq;
        r
    }

    /// A blind spot of the `vote` rows: a node that grants without recording the vote (the
    /// `vote_ignoring_voted_for` bug) is caught from its replies on the wire.
    #[test]
    fn two_granted_replies_in_one_term_are_caught_without_vote_rows() {
        let mut c = VoteOnce::new();
        let mut out = Vec::new();
        let denied = grant(2, 1, 3, 3).detail("denied");
        for r in [vote(0, 1, 0, 3), grant(1, 1, 0, 3), denied, grant(3, 1, 0, 3), grant(4, 1, 2, 3)] {
            c.observe(&r, &mut out);
        }
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!(out[0].seq, 4);
        assert!(out[0].message.starts_with("n1 sent a granted vote in term 3 to n2 after granting it to n0"));
    }

    /// A vote a crash took back before it was durable (and before any reply left) is forgotten.
    #[test]
    fn a_vote_lost_before_fsync_may_be_cast_again() {
        let mut c = VoteOnce::new();
        let mut out = Vec::new();
        let mut lost = Record::new(Event::Note).node(NodeId(1)).term(2).msg("fsync_lost");
        lost.seq = 1;
        for r in [vote(0, 1, 0, 3), lost, vote(2, 1, 2, 3)] {
            c.observe(&r, &mut out);
        }
        assert!(out.is_empty(), "{out:?}");
    }
}
