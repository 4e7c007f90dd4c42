//! Terms, roles and elections (§5.1, §5.2, §5.4.1): adopting a newer term, stepping down,
//! standing as a candidate, counting votes, and taking office as leader.

use std::collections::BTreeSet;

use crate::protocol::Ctx;
use crate::sim::{NodeId, SimDuration};
use crate::trace::{Event, Record};

use super::{peers, RaftNode, RaftTimer, Role};
use crate::raft::log::{Command, Term};
use crate::raft::messages::{Msg, RequestVote, RequestVoteReply};
use crate::raft::Bug;

impl RaftNode {
    // ---- Terms and roles (§5.1, §5.2) ---------------------------------------------------------

    /// "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
    /// follower." Returns whether the term was adopted.
    pub(super) fn observe_term(&mut self, ctx: &mut Ctx<'_, Self>, term: Term) -> bool {
        if term <= self.current_term {
            return false;
        }
        self.current_term = term;
        self.voted_for = None;
        self.leader_id = None;
        self.persisted_changed = true;
        self.become_follower(ctx);
        true
    }

    /// Inlined test: every AppendEntries calls it, nearly always on a follower already.
    #[inline]
    pub(super) fn become_follower(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Follower {
            self.leave_office(ctx);
        }
    }

    /// A leader, candidate or pre-candidate returns to follower (§5.1), with its `role` row.
    fn leave_office(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self.role {
            Role::Follower => return,
            Role::Leader => {
                ctx.cancel_timer(RaftTimer::Heartbeat);
                self.reset_election_timer(ctx);
                self.end_transfer(ctx);
            }
            Role::Candidate | Role::PreCandidate => {}
        }
        self.role = Role::Follower;
        self.note_role(ctx);
    }

    /// §5.2: increment the term, vote for self, reset the timer, ask every peer for its vote.
    pub(super) fn start_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.current_term += 1;
        self.voted_for = Some(self.id);
        self.persisted_changed = true;
        self.leader_id = None;
        self.role = Role::Candidate;
        self.note_role(ctx);
        ctx.note(Record::new(Event::Vote).peer(self.id).term(self.current_term));
        self.votes_granted = BTreeSet::from([self.id]);
        if self.votes_win() {
            // A cluster of one: its own vote is a majority.
            self.become_leader(ctx);
            return;
        }
        self.reset_election_timer(ctx);
        let request = RequestVote {
            term: self.current_term,
            candidate_id: self.id,
            last_log_index: self.log.last_index(),
            last_log_term: self.log.last_term(),
            leadership_transfer: self.transfer_term == Some(self.current_term),
        };
        for peer in peers(self.id, self.nodes) {
            self.outbox.push((peer, Msg::RequestVote(request.clone())));
        }
    }

    /// Leaders: reinitialise `next_index` / `match_index`, append the no-op (§8, `raft.noop`),
    /// take over the client commands this node was holding (never appending one it holds), and
    /// heartbeat at once and periodically.
    pub(super) fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader_id = Some(self.id);
        self.note_role(ctx);
        ctx.cancel_timer(RaftTimer::Election);
        let last = self.log.last_index();
        self.next_index.iter_mut().for_each(|n| *n = last + 1);
        self.match_index.iter_mut().for_each(|m| *m = 0);
        self.match_index[self.id.index()] = self.durable_prefix();
        self.reset_flows();
        self.snapshot_sending.iter_mut().for_each(|s| *s = None);
        self.reset_reads(ctx.now());
        self.take_office_deployed(ctx.now());
        self.start_read_round(ctx.now());
        if self.config.noop {
            // §8: an entry of the new term, so that earlier entries commit with it.
            self.leader_append(ctx, Command::Noop);
        }
        for op in self.take_pending(ctx) {
            // Deduplicated like any client op: the log may hold it already.
            if op.is_read() && self.config.read_mode != crate::raft::ReadMode::Log {
                self.leader_read(ctx, op);
            } else {
                self.leader_append_new(ctx, op);
            }
        }
        self.broadcast_append_entries();
        ctx.set_timer(RaftTimer::Heartbeat, SimDuration::from_ms(self.config.heartbeat_ms));
        self.advance_commit_index(ctx);
    }

    pub(super) fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let [min, max] = self.config.election_timeout_ms;
        ctx.set_timer_range(RaftTimer::Election, SimDuration::from_ms(min), SimDuration::from_ms(max));
    }

    // ---- RequestVote (§5.2, §5.4.1) -----------------------------------------------------------

    pub(super) fn handle_request_vote(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, req: RequestVote) {
        if self.disregard_request_vote(ctx.now(), req.leadership_transfer) {
            // §4.2.3: a leader is in touch; the request may come from a removed server.
            let row = Record::new(Event::Note).msg("disregard").peer(from).term(req.term);
            ctx.note(row.detail("request_vote: a leader was heard within election_timeout_ms[0]"));
            return;
        }
        self.observe_term(ctx, req.term);
        // §5.4.1: the candidate's log must be at least as up-to-date: later last term, or the same
        // last term and at least as long.
        let up_to_date =
            (req.last_log_term, req.last_log_index) >= (self.log.last_term(), self.log.last_index());
        let log_ok = up_to_date || self.config.bug == Bug::VoteWithoutLogCheck;
        let free = self.voted_for.is_none()
            || self.voted_for == Some(req.candidate_id)
            || self.config.bug == Bug::VoteIgnoringVotedFor;
        let vote_granted = req.term == self.current_term && free && log_ok;
        if vote_granted {
            if self.voted_for.is_none() {
                self.voted_for = Some(req.candidate_id);
                self.persisted_changed = true;
                ctx.note(Record::new(Event::Vote).peer(req.candidate_id).term(self.current_term));
            }
            self.reset_election_timer(ctx);
        }
        let reply = RequestVoteReply { term: self.current_term, vote_granted };
        self.outbox.push((from, Msg::RequestVoteReply(reply)));
    }

    pub(super) fn handle_request_vote_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        reply: RequestVoteReply,
    ) {
        if self.config.bug != Bug::IgnoreHigherTermReply && self.observe_term(ctx, reply.term) {
            return;
        }
        let this_term = reply.term == self.current_term
            || (self.config.bug == Bug::CountStaleReplies && reply.term < self.current_term);
        if self.role != Role::Candidate || !this_term || !reply.vote_granted {
            return;
        }
        // A set: a duplicated reply is one vote.
        self.votes_granted.insert(from);
        if self.votes_win() {
            self.become_leader(ctx);
        }
    }
}
