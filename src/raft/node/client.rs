//! Client commands (§8): a leader appends them, a follower forwards them to the leader it knows,
//! a node that knows no leader holds them; the contacted node resends until it sees them applied.

use crate::protocol::Ctx;
use crate::sim::SimDuration;
use crate::workload::Op;

use super::{entry_record, peers, refuse, RaftNode, RaftTimer, Role};
use crate::raft::log::{Entry, LogIndex};
use crate::raft::messages::{ClientForward, Msg};
use crate::trace::Event;

impl RaftNode {
    // ---- Client commands (§8) -----------------------------------------------------------------

    /// A command from a client (`hops` 0) or forwarded by a follower: the leader appends it, a
    /// follower forwards it to the leader it knows, a node knowing no leader holds it.
    pub(super) fn handle_client_command(&mut self, ctx: &mut Ctx<'_, Self>, op: Op, hops: u32) {
        if self.role == Role::Leader {
            if self.has_command(op.id()) {
                return;
            }
            let index = self.leader_append(ctx, op);
            for peer in peers(self.id, self.nodes) {
                // Followers that are behind get the entry with the catch-up already under way.
                if self.next_index[peer.index()] == index {
                    self.send_append_entries(peer);
                }
            }
            self.advance_commit_index(ctx);
            return;
        }
        match self.leader_id.filter(|l| *l != self.id) {
            Some(leader) if hops < self.nodes => {
                let forward = ClientForward { op, hops: hops + 1 };
                self.outbox.push((leader, Msg::ClientForward(forward)));
            }
            Some(_) => {
                refuse(ctx, &op, format!("forwarded {hops} times, the limit for {} nodes", self.nodes))
            }
            None => self.hold(ctx, op),
        }
    }

    /// Whether a command is already applied or waiting in the unapplied part of the log (a leader
    /// does not append a resent command twice when it can tell).
    pub(super) fn has_command(&self, id: u64) -> bool {
        self.applied_ids.contains(&id)
            || (self.last_applied + 1..=self.log.last_index())
                .any(|i| self.log.get(i).is_some_and(|e| e.command.id() == id))
    }

    /// A client's command arrives here: remember it for resending until it is applied.
    pub(super) fn accept_client_command(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) {
        let timeout = self.config.client_timeout_ms;
        if timeout > 0 && (self.awaiting.len() as u64) < self.config.pending_max {
            if self.awaiting.is_empty() {
                ctx.set_timer(RaftTimer::ClientTimeout, SimDuration::from_ms(timeout));
            }
            self.awaiting.insert(op.id(), (op.clone(), ctx.now() + SimDuration::from_ms(timeout)));
        }
        self.handle_client_command(ctx, op, 0);
    }

    /// Resends the commands whose time is up, as a client whose request timed out would.
    pub(super) fn on_client_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        let timeout = SimDuration::from_ms(self.config.client_timeout_ms);
        let now = ctx.now();
        let due: Vec<Op> = self
            .awaiting
            .values_mut()
            .filter(|(_, at)| *at <= now)
            .map(|(op, at)| {
                *at = now + timeout;
                op.clone()
            })
            .collect();
        for op in due {
            self.handle_client_command(ctx, op, 0);
        }
        if !self.awaiting.is_empty() {
            ctx.set_timer(RaftTimer::ClientTimeout, timeout);
        }
    }

    pub(super) fn handle_client_forward(&mut self, ctx: &mut Ctx<'_, Self>, forward: ClientForward) {
        self.handle_client_command(ctx, forward.op, forward.hops);
    }

    pub(super) fn leader_append(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) -> LogIndex {
        let entry = Entry { term: self.current_term, command: op };
        let index = self.log.last_index() + 1;
        ctx.note(entry_record(Event::Append, index, &entry));
        self.log.append(entry);
        self.persisted_changed = true;
        self.match_index[self.id.index()] = index;
        index
    }

    pub(super) fn hold(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) {
        if self.pending.len() as u64 >= self.config.pending_max {
            let why = format!("no known leader and pending buffer full ({})", self.config.pending_max);
            refuse(ctx, &op, why);
            return;
        }
        self.pending.push_back(op);
        if !self.retry_armed {
            self.retry_armed = true;
            ctx.set_timer(RaftTimer::ClientRetry, SimDuration::from_ms(self.config.client_retry_ms));
        }
    }

    /// A node that has just learned the leader hands it the commands it was holding.
    pub(super) fn forward_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.pending.is_empty() {
            return;
        }
        if self.retry_armed {
            ctx.cancel_timer(RaftTimer::ClientRetry);
            self.retry_armed = false;
        }
        for op in std::mem::take(&mut self.pending) {
            self.handle_client_command(ctx, op, 0);
        }
    }
}
