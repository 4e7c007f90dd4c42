//! Client commands (§8): a leader appends them, a follower forwards them to the leader it knows,
//! a node that knows no leader holds them. Clients resend on their own (the kernel's client layer);
//! exactly-once comes from the state machine's sessions (thesis §6.3): a leader never appends an
//! op it already holds or has applied, and an op applied before is answered from its session.
//! The leader answers when it applies.

use std::collections::BTreeMap;

use crate::client::{ClientOp, ClientReply, Func};
use crate::protocol::Ctx;
use crate::sim::SimDuration;
use crate::trace::{Event, Record, Value};

use super::{entry_cells, refuse, RaftNode, RaftTimer, Role};
use crate::raft::log::{Command, Entry, LogIndex};
use crate::raft::messages::{ClientForward, Msg};
use crate::raft::sessions::Check;
use crate::raft::{Bug, ReadMode};

impl RaftNode {
    // ---- Client commands (§8) -----------------------------------------------------------------

    /// A client's op arrives here.
    pub(super) fn accept_client_command(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp) {
        if op.is_read() && self.config.bug == Bug::StaleLocalRead {
            // The bug: answer from whatever this node has applied, leader or not.
            let value = self.state_machine.get(&op.key).map_or(Value::None, |v| Value::Id(*v));
            ctx.reply(op.id, ClientReply::Ok(value));
            return;
        }
        self.handle_client_command(ctx, op, 0, true);
    }

    /// A command from a client (`hops` 0) or forwarded by a follower: the leader appends it, a
    /// follower forwards it to the leader it knows, a node knowing no leader holds it. `direct`:
    /// this very delivery came from the client, so refusing it leaves no copy anywhere.
    pub(super) fn handle_client_command(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        op: ClientOp,
        hops: u32,
        direct: bool,
    ) {
        if self.role == Role::Leader {
            if !self.refuse_while_transferring(ctx, &op, direct) {
                self.leader_accept(ctx, op);
            }
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
            None => self.hold(ctx, op, direct),
        }
    }

    /// The leader takes a client op: answered from its session if applied already, left alone if
    /// the log holds it (it is answered when applied), appended otherwise. O(1): the log indexes
    /// its ops by id and the sessions by process.
    pub(super) fn leader_accept(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp) {
        if op.is_read() && self.config.read_mode != ReadMode::Log {
            self.leader_read(ctx, op);
            return;
        }
        if let Some(index) = self.leader_append_new(ctx, op) {
            self.replicate_new_entry(ctx, index);
        }
    }

    /// Appends `op` unless it is applied already (answered from its session) or in the log.
    /// Returns the index it was appended at.
    pub(super) fn leader_append_new(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp) -> Option<LogIndex> {
        if self.config.bug != Bug::NoSessionDedupe {
            match self.sessions.check(&op) {
                Check::Duplicate(response) => {
                    ctx.reply(op.id, response);
                    return None;
                }
                Check::Stale => return None,
                Check::Expired => {
                    ctx.reply(op.id, ClientReply::Unknown("session_expired"));
                    return None;
                }
                Check::New => {}
            }
            if self.log.find(op.id).is_some() {
                return None;
            }
        }
        Some(self.leader_append(ctx, Command::Op(op)))
    }

    /// Sends a freshly appended entry to the followers that are caught up, and commits it at once
    /// in a cluster of one. Only to the replication targets (node/membership.rs): a server
    /// outside the configuration gets nothing new (thesis §4.2.3).
    pub(super) fn replicate_new_entry(&mut self, ctx: &mut Ctx<'_, Self>, index: LogIndex) {
        for peer in self.replication_targets() {
            if self.config.pipelined() && self.flows[peer.index()].replicating {
                self.fill_window(peer);
                continue;
            }
            // Followers that are behind get the entry with the catch-up already under way.
            if self.next_index[peer.index()] == index {
                self.send_append_entries(peer);
            }
        }
        self.advance_commit_index(ctx);
    }

    pub(super) fn handle_client_forward(&mut self, ctx: &mut Ctx<'_, Self>, forward: ClientForward) {
        self.handle_client_command(ctx, forward.op, forward.hops, false);
    }

    pub(super) fn leader_append(&mut self, ctx: &mut Ctx<'_, Self>, command: Command) -> LogIndex {
        let entry = Entry { term: self.current_term, command };
        let index = self.log.last_index() + 1;
        ctx.note_in(Event::Append, |row| entry_cells(row, index, &entry));
        self.log.append(entry);
        self.persisted_changed = true;
        self.match_index[self.id.index()] = index;
        index
    }

    /// Holds `op` until a leader is known. A full buffer refuses it; when this delivery came
    /// straight from the client the client may learn it certainly did not happen.
    pub(super) fn hold(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp, direct: bool) {
        if self.pending_ids.contains(&op.id) {
            return;
        }
        if self.pending.len() as u64 >= self.config.pending_max {
            let why = format!("no known leader and pending buffer full ({})", self.config.pending_max);
            refuse(ctx, &op, why);
            if direct {
                ctx.reply(op.id, ClientReply::Refused("no_leader"));
            }
            return;
        }
        self.pending_ids.insert(op.id);
        self.pending.push_back(op);
        if !self.retry_armed {
            self.retry_armed = true;
            ctx.set_timer(RaftTimer::ClientRetry, SimDuration::from_ms(self.config.client_retry_ms));
        }
    }

    /// The held commands, emptied out (the leader appends them, a follower forwards them).
    pub(super) fn take_pending(&mut self, ctx: &mut Ctx<'_, Self>) -> Vec<ClientOp> {
        if self.retry_armed {
            ctx.cancel_timer(RaftTimer::ClientRetry);
            self.retry_armed = false;
        }
        self.pending_ids.clear();
        std::mem::take(&mut self.pending).into()
    }

    /// A node that has just learned the leader hands it the commands it was holding. Every
    /// AppendEntries calls it, nearly always with nothing held: that test is inlined.
    #[inline]
    pub(super) fn forward_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.pending.is_empty() {
            self.forward_held(ctx);
        }
    }

    /// [`Self::forward_pending`] with commands held.
    fn forward_held(&mut self, ctx: &mut Ctx<'_, Self>) {
        for op in self.take_pending(ctx) {
            self.handle_client_command(ctx, op, 0, false);
        }
    }

    // ---- Applying client ops (§8, thesis §6.3) ------------------------------------------------

    /// Applies the client op of the entry at `index`, exactly once per op id: a duplicate (or a
    /// late copy) changes nothing and shows as an `apply` row with detail `duplicate`; an op whose
    /// session may have been evicted shows detail `expired`. The leader answers the client.
    pub(super) fn apply_op(&mut self, ctx: &mut Ctx<'_, Self>, index: LogIndex, entry: &Entry, op: ClientOp) {
        // The `apply` row is built only if someone reads rows (`Ctx::rows_wanted`).
        let row = |row: &mut Record| entry_cells(row, index, entry);
        let check =
            if self.config.bug == Bug::NoSessionDedupe { Check::New } else { self.sessions.check(&op) };
        let (why, response) = match check {
            Check::New => (None, None),
            Check::Duplicate(response) => (Some("duplicate"), Some(response)),
            Check::Stale => (Some("duplicate"), None),
            Check::Expired => (Some("expired"), Some(ClientReply::Unknown("session_expired"))),
        };
        if let Some(why) = why {
            ctx.note_in(Event::Apply, |r| {
                row(r);
                r.detail =
                    if r.detail.is_empty() { why.into() } else { format!("{} {why}", r.detail).into() };
            });
            if let Some(response) = response {
                self.reply_if_leader(ctx, op.id, response);
            }
            return;
        }
        ctx.note_in(Event::Apply, row);
        // A write does not look up the key first: one search of the map, not two.
        let current = |sm: &BTreeMap<u64, u64>| sm.get(&op.key).copied();
        let response = match op.f {
            Func::Write { value } => {
                self.state_machine.insert(op.key, value);
                ClientReply::Ok(Value::None)
            }
            Func::Cas { expected, new } if expected == current(&self.state_machine) => {
                self.state_machine.insert(op.key, new);
                ClientReply::Ok(Value::None)
            }
            Func::Cas { .. } => ClientReply::Fail("cas_mismatch"),
            Func::Read => {
                let value = current(&self.state_machine).map_or(Value::None, Value::Id);
                ctx.note_in(Event::Read, |read| {
                    read.key = Some(op.key);
                    read.index = Some(index);
                    read.value = value.clone();
                    read.set_detail(format!("get#{}", op.id));
                });
                ClientReply::Ok(value)
            }
        };
        self.sessions.record(&op, &response);
        self.reply_if_leader(ctx, op.id, response);
    }

    fn reply_if_leader(&mut self, ctx: &mut Ctx<'_, Self>, id: u64, response: ClientReply) {
        if self.role == Role::Leader {
            ctx.reply(id, response);
        }
    }
}
