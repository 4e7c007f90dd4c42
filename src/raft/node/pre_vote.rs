//! Pre-Vote (thesis §9.6), `raft.pre_vote = true`: a node whose election timer fires first asks
//! its peers whether they WOULD vote for it in `current_term + 1`, without raising its own term
//! or anyone else's. A peer grants if the proposed term is above its own, the asker's log is at
//! least as up to date as its own (§5.4.1), and it has not heard from a leader within
//! `election_timeout_ms[0]` (a leader, it has heard from itself). Only with a majority of grants
//! does the node stand as a real candidate (§5.2). A node cut off from the cluster thus keeps
//! its term, and rejoining deposes no leader. A grant binds nobody: no `voted_for`, no timer
//! reset. `Bug::PrevoteBumpsTerm` raises the term at every pre-vote round.

use std::collections::BTreeSet;

use crate::protocol::Ctx;
use crate::sim::{NodeId, SimDuration, SimTime};

use super::{peers, RaftNode, Role};
use crate::raft::messages::{Msg, RequestVote, RequestVoteReply};
use crate::raft::Bug;

impl RaftNode {
    /// The election timer fired with Pre-Vote on: become a pre-candidate and ask every peer.
    pub(super) fn start_pre_vote(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.config.bug == Bug::PrevoteBumpsTerm {
            // The bug: a real candidacy's first step, taken before any peer agreed.
            self.current_term += 1;
            self.voted_for = None;
            self.persisted_changed = true;
        }
        self.leader_id = None;
        self.role = Role::PreCandidate;
        self.note_role(ctx);
        self.pre_votes_granted = BTreeSet::from([self.id]);
        if self.is_quorum(&self.pre_votes_granted) {
            // A cluster of one needs nobody's opinion.
            self.start_election(ctx);
            return;
        }
        self.reset_election_timer(ctx);
        let request = RequestVote {
            term: self.current_term + 1,
            candidate_id: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            leadership_transfer: false,
        };
        for peer in peers(self.id, self.nodes) {
            self.outbox.push((peer, Msg::PreVote(request.clone())));
        }
    }

    /// Whether this node has heard from a leader within `election_timeout_ms[0]` (or leads).
    fn heard_leader_recently(&self, now: SimTime) -> bool {
        let window = SimDuration::from_ms(self.config.election_timeout_ms[0]);
        self.role == Role::Leader || self.last_leader_contact.is_some_and(|at| now < at + window)
    }

    /// Answers a pre-vote without changing any state of its own: the proposed term is not adopted.
    pub(super) fn handle_pre_vote(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, req: RequestVote) {
        let up_to_date =
            (req.last_log_term, req.last_log_index) >= (self.log.last_term(), self.log.last_index());
        let vote_granted =
            req.term > self.current_term && up_to_date && !self.heard_leader_recently(ctx.now());
        let term = if vote_granted { req.term } else { self.current_term };
        self.outbox.push((from, Msg::PreVoteReply(RequestVoteReply { term, vote_granted })));
    }

    /// Counts a grant for `current_term + 1`; a refusal from a newer term makes this node adopt
    /// it (§5.1, as for any reply).
    pub(super) fn handle_pre_vote_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        reply: RequestVoteReply,
    ) {
        if !reply.vote_granted {
            self.observe_term(ctx, reply.term);
            return;
        }
        if self.role != Role::PreCandidate || reply.term != self.current_term + 1 {
            return;
        }
        // A set: a duplicated grant is one grant.
        self.pre_votes_granted.insert(from);
        if self.is_quorum(&self.pre_votes_granted) {
            self.start_election(ctx);
        }
    }
}
