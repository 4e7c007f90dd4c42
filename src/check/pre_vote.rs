//! Pre-Vote keeps terms still (Raft thesis §9.6): "a candidate first asks whether it could win
//! an election … and only if it could does it increment its term". With Pre-Vote a node's term
//! may rise for three reasons only: a message of a higher term reached it (§5.1), a majority
//! granted it a pre-vote for that term, or the leader sent it TimeoutNow (thesis §3.10, which
//! skips the pre-vote).
//!
//! Evidence from the wire only. Per node, the highest term it may hold is raised by every
//! `deliver` of a Raft RPC (its `term`), of a denied `pre_vote_reply` (the voter's term) and of a
//! `timeout_now` of term T (to T + 1). A node's `request_vote` of term T above that needs granted
//! `pre_vote_reply`s for T from distinct peers that, with itself, make a majority (`ClusterSize`);
//! any other RPC it sends, and the term below the one it proposes in a `pre_vote`, must not be
//! above it. The check starts at the trace's first `pre_vote` row: without Pre-Vote a node raises
//! its own term on every timeout.

use std::collections::{BTreeMap, BTreeSet};

use crate::check::node_map::NodeMap;
use crate::check::raft_log::wire;
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

const PRE_VOTE: &str = "pre_vote";
const PRE_VOTE_REPLY: &str = "pre_vote_reply";
const TIMEOUT_NOW: &str = "timeout_now";

/// Memory: one number per node, one set per (would-be candidate, term) that drew a grant.
#[derive(Clone, Debug, Default)]
pub struct PreVote {
    /// Node -> the highest term the wire justifies it holding.
    allowed: NodeMap<u64>,
    /// (would-be candidate, proposed term) -> distinct peers whose grants were delivered to it.
    grants: BTreeMap<(NodeId, u64), BTreeSet<NodeId>>,
    /// Whether a `pre_vote` row was seen (Pre-Vote is on).
    active: bool,
    /// Each node's configuration (membership changes: a majority is one of its members).
    configs: crate::check::membership::Configs,
}

impl PreVote {
    pub const NAME: &'static str = "pre_vote";

    pub fn new() -> PreVote {
        PreVote::default()
    }

    fn raise(&mut self, node: NodeId, term: u64) {
        let allowed = self.allowed.entry_or_default(node);
        *allowed = (*allowed).max(term);
    }

    fn observe_deliver(&mut self, row: &Record, node: NodeId, term: u64) {
        if wire::is_rpc(row) {
            self.raise(node, term);
        } else if row.msg == PRE_VOTE_REPLY {
            match (row.detail == "granted", row.peer) {
                (true, Some(voter)) => drop(self.grants.entry((node, term)).or_default().insert(voter)),
                (false, _) => self.raise(node, term),
                _ => {}
            }
        } else if row.msg == TIMEOUT_NOW {
            self.raise(node, term + 1);
        }
    }

    fn observe_send(&mut self, row: &Record, node: NodeId, term: u64, out: &mut Vec<Violation>) {
        let allowed = self.allowed.get(&node).copied().unwrap_or(0);
        if row.msg == PRE_VOTE {
            self.active = true;
            if term.saturating_sub(1) > allowed {
                let msg = format!(
                    "{node} proposed term {term} in a pre_vote while holding term {}: no message of \
                     that term reached it and no pre-vote majority elected it",
                    term - 1
                );
                out.push(Violation::at(Self::NAME, row, msg));
                self.raise(node, term - 1);
            }
            return;
        }
        if !wire::is_rpc(row) || term <= allowed {
            return;
        }
        let granted = self.grants.get(&(node, term)).map_or(0, BTreeSet::len) + 1;
        let voters = self.grants.get(&(node, term)).into_iter().flatten().copied().chain([node]);
        // A single-member configuration elects its member without a RequestVote.
        let alone = self.configs.of(node).is_some() && self.configs.is_quorum(node, [node]);
        let won = (row.msg == wire::REQUEST_VOTE || alone) && self.configs.is_quorum(node, voters);
        if self.active && !won {
            let msg = format!(
                "{node} sent a {} of term {term} above term {allowed} without a pre-vote majority \
                 ({granted} of {} nodes granted term {term}) or a message of that term",
                row.msg,
                self.configs.size().nodes()
            );
            out.push(Violation::at(Self::NAME, row, msg));
        }
        self.raise(node, term);
    }
}

impl Checker for PreVote {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Role,
            Event::Send,
            Event::Deliver,
            Event::Note,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        self.configs.observe(row);
        let (Some(node), Some(term)) = (row.node, row.term) else { return };
        match row.event {
            Event::Deliver => self.observe_deliver(row, node, term),
            Event::Send => self.observe_send(row, node, term, out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn wire_row(
        event: Event,
        node: u32,
        peer: u32,
        msg: &'static str,
        term: u64,
        detail: &'static str,
    ) -> Record {
        Record::new(event).node(NodeId(node)).peer(NodeId(peer)).msg(msg).term(term).detail(detail)
    }

    fn cluster() -> Vec<Record> {
        (0..3).map(|n| role(n, 0, "follower")).collect()
    }

    /// A correct round: n0 proposes term 1, n1 grants, n0 stands in term 1.
    #[test]
    fn a_pre_vote_majority_justifies_the_new_term() {
        let mut rows = cluster();
        rows.push(wire_row(Event::Send, 0, 1, PRE_VOTE, 1, "last_term=0"));
        rows.push(wire_row(Event::Deliver, 0, 1, PRE_VOTE_REPLY, 1, "granted"));
        rows.push(wire_row(Event::Send, 0, 1, "request_vote", 1, "last_term=0"));
        rows.push(wire_row(Event::Send, 0, 2, "request_vote", 1, "last_term=0"));
        // Leaders' messages justify the followers' replies in the new term.
        rows.push(wire_row(Event::Deliver, 1, 0, "append_entries", 1, "prev_term=0 entries=0 commit=0"));
        rows.push(wire_row(Event::Send, 1, 0, "append_entries_reply", 1, "success"));
        // A timeout_now of term 1 lets n2 stand in term 2 without pre-votes.
        rows.push(wire_row(Event::Deliver, 2, 0, TIMEOUT_NOW, 1, ""));
        rows.push(wire_row(Event::Send, 2, 0, "request_vote", 2, "last_term=0"));
        assert_eq!(run(&mut PreVote::new(), rows), vec![]);
    }

    /// The bug: a pre-candidate that bumped its term proposes term + 2 and answers in it.
    #[test]
    fn a_term_raised_without_a_pre_vote_majority_is_caught() {
        let mut rows = cluster();
        rows.push(wire_row(Event::Send, 2, 0, PRE_VOTE, 2, "last_term=0"));
        rows.push(wire_row(Event::Send, 0, 1, PRE_VOTE, 1, "last_term=0"));
        rows.push(wire_row(Event::Deliver, 0, 1, PRE_VOTE_REPLY, 1, "denied"));
        rows.push(wire_row(Event::Send, 0, 1, "append_entries_reply", 3, "failure"));
        let v = run(&mut PreVote::new(), rows);
        assert_eq!(v.len(), 2, "{v:?}");
        assert!(v[0].message.starts_with("n2 proposed term 2 in a pre_vote while holding term 1"), "{v:?}");
        assert!(v[1].message.starts_with("n0 sent a append_entries_reply of term 3 above term 1"), "{v:?}");
    }

    /// Without Pre-Vote (no pre_vote rows) terms rise on timeouts and nothing is reported.
    #[test]
    fn without_pre_vote_it_is_silent() {
        let mut rows = cluster();
        rows.push(wire_row(Event::Send, 0, 1, "request_vote", 4, "last_term=0"));
        assert_eq!(run(&mut PreVote::new(), rows), vec![]);
    }
}
