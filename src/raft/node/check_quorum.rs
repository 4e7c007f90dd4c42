//! CheckQuorum, `raft.check_quorum = true` (etcd's name; thesis §6.2 and §9.6): a leader that has
//! not heard an AppendEntries reply of its term from a majority (itself included) within
//! `election_timeout_ms[0]` steps down, so a leader cut off with a minority stops taking client
//! commands it can never commit and its clients go elsewhere. It is checked at every input the
//! leader handles (its heartbeat timer is one), before the input is acted on, so a leader never
//! sends anything past that bound: the `check_quorum` checker holds it to this from the wire.
//! The election counts as hearing from everyone. Lease reads (`read_mode = "lease"`) do not need
//! it here: a lease runs from the start of a majority-acked round and expires on its own.

use crate::protocol::Ctx;
use crate::raft::log::Term;
use crate::raft::Bug;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record};

use super::{peers, RaftNode, Role};

impl RaftNode {
    /// A new leader: everyone counts as heard from now.
    pub(super) fn reset_heard(&mut self, now: SimTime) {
        self.last_heard.iter_mut().for_each(|t| *t = now);
        self.ever_heard.iter_mut().for_each(|h| *h = false);
    }

    /// An AppendEntries reply of `term` from `from` arrives.
    pub(super) fn note_heard(&mut self, now: SimTime, from: NodeId, term: Term) {
        if self.role != Role::Leader {
            return;
        }
        if term == self.current_term {
            self.last_heard[from.index()] = now;
        }
        // The bug's bookkeeping: any reply, of any term, however long ago.
        self.ever_heard[from.index()] = true;
    }

    /// Steps down (a `note` row, then the `role` row) if a majority has not been heard from
    /// within `election_timeout_ms[0]`. Inlined test, since every input calls it and only a
    /// leader with `check_quorum` goes on.
    #[inline]
    pub(super) fn check_quorum(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.config.check_quorum && self.role == Role::Leader {
            self.check_quorum_leader(ctx);
        }
    }

    /// [`Self::check_quorum`] on a leader that checks. Never inlined: inlined into its one
    /// caller it made that too large to inline where the inputs call it.
    #[inline(never)]
    fn check_quorum_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        let window_ms = self.config.election_timeout_ms[0];
        let window = SimDuration::from_ms(window_ms);
        let stale_ok = self.config.bug == Bug::CheckQuorumStaleAcks;
        let recent = |p: &NodeId| {
            now <= self.last_heard[p.index()] + window || (stale_ok && self.ever_heard[p.index()])
        };
        // Members only (thesis §4.1); this leader counts itself only while a member.
        let heard_peers = peers(self.id, self.nodes).filter(|p| self.is_member(*p)).filter(recent).count();
        let heard = 1 + heard_peers;
        if heard_peers >= self.peer_acks_needed() {
            return;
        }
        let detail = format!(
            "check_quorum: heard from {heard} of {} within {window_ms} ms, stepping down",
            self.nodes
        );
        ctx.note(Record::new(Event::Note).term(self.current_term).detail(detail));
        self.leader_id = None;
        self.become_follower(ctx);
    }
}
