//! One Raft server (Figure 2 of Ongaro & Ousterhout 2014) as a pure state machine.
//!
//! Every input — start, restart, a delivered message, a fired timer, a client command — runs one
//! handler that mutates the node and pushes effects into the [`Ctx`]. Messages are collected in an
//! outbox while the handler runs and released at its end: if the handler changed persistent state
//! (`current_term`, `voted_for`, the log), they leave after `persist_delay_us`, modelling "persist
//! synchronously, then respond" (Figure 2: "updated on stable storage before responding to RPCs").
//!
//! Trace notes, in the shapes the checkers read: `role` (term, value = role name; on every role
//! change, every new candidacy, and at start and restart), `vote` (peer = candidate, term; also
//! a candidate's vote for itself), `append` (a leader adds a client entry), `store` (a follower
//! writes an entry it did not have), `truncate` (index = first removed, detail `to <last kept>`),
//! `commit` (index = new `commit_index`), `apply` (and `read` for a get), and `note` for refused
//! client commands.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use rustc_hash::FxHashSet;

use crate::protocol::{Ctx, Protocol, Timer};
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record, Value};
use crate::workload::Op;

use super::config::{Bug, RaftConfig};
use super::log::{Entry, LogIndex, RaftLog, Term};
use super::messages::{AppendEntries, AppendEntriesReply, ClientForward, Msg, RequestVote, RequestVoteReply};

/// A server's role (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    Candidate,
    Leader,
}

impl Role {
    /// The spelling in `role` trace rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::Candidate => "candidate",
            Role::Leader => "leader",
        }
    }
}

/// The timers of a Raft server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RaftTimer {
    /// Followers and candidates: start an election when it fires (§5.2). Randomised on every reset.
    Election,
    /// Leaders: send AppendEntries to every follower.
    Heartbeat,
    /// A node holding client commands with no known leader tries again.
    ClientRetry,
    /// Resend client commands not yet applied (client sessions, §8).
    ClientTimeout,
}

impl Timer for RaftTimer {
    fn name(&self) -> &'static str {
        match self {
            RaftTimer::Election => "election",
            RaftTimer::Heartbeat => "heartbeat",
            RaftTimer::ClientRetry => "client_retry",
            RaftTimer::ClientTimeout => "client_timeout",
        }
    }
}

/// One Raft server.
#[derive(Clone, Debug)]
pub struct RaftNode {
    id: NodeId,
    nodes: u32,
    config: RaftConfig,

    // Persistent state on all servers: survives `on_crash`.
    /// Latest term this server has seen; never decreases.
    current_term: Term,
    /// Candidate that received this server's vote in `current_term`.
    voted_for: Option<NodeId>,
    log: RaftLog,

    // Volatile state on all servers.
    role: Role,
    /// Highest index known to be committed. Invariant: never decreases while the node is up.
    commit_index: LogIndex,
    /// Highest index applied to `state_machine`. Invariant: `last_applied <= commit_index`.
    last_applied: LogIndex,
    /// key → value id of the last applied put.
    state_machine: BTreeMap<u64, u64>,
    /// The leader of `current_term`, once heard from (itself when leading).
    leader_id: Option<NodeId>,

    // Candidates: distinct voters granting this term's vote, itself included.
    votes_granted: BTreeSet<NodeId>,

    // Leaders, reinitialised after election; indexed by node id.
    /// Next log index to send to each server. Invariant: `match_index[p] < next_index[p]`.
    next_index: Vec<LogIndex>,
    /// Highest index known replicated on each server; the leader's own slot is its last index.
    match_index: Vec<LogIndex>,

    /// Client commands held while no leader is known. Invariant: `len() <= pending_max`.
    pending: VecDeque<Op>,
    /// Whether the ClientRetry timer is armed.
    retry_armed: bool,
    /// Client sessions: commands this node received from clients and has not yet seen applied,
    /// by id, with when to resend them. Invariant: `len() <= pending_max`; the ClientTimeout timer
    /// is armed exactly while it is non-empty.
    awaiting: BTreeMap<u64, (Op, SimTime)>,
    /// Ids of the commands applied to the state machine, so a resent command applies once.
    /// Volatile, like the state machine: rebuilt by re-applying the log after a restart. A hash
    /// set for speed: only ever probed, never iterated.
    applied_ids: FxHashSet<u64>,

    // Scratch for the input being handled.
    outbox: Vec<(NodeId, Msg)>,
    persisted_changed: bool,
    /// Scratch for `advance_commit_index` (a sorted copy of `match_index`), kept to avoid an
    /// allocation per AppendEntries reply.
    matched: Vec<LogIndex>,
}

impl RaftNode {
    pub fn new(id: NodeId, nodes: u32, config: &RaftConfig) -> RaftNode {
        assert!(nodes >= 1 && id.0 < nodes, "node {id} outside a cluster of {nodes}");
        let n = nodes as usize;
        RaftNode {
            id,
            nodes,
            config: config.clone(),
            current_term: 0,
            voted_for: None,
            log: RaftLog::new(),
            role: Role::Follower,
            commit_index: 0,
            last_applied: 0,
            state_machine: BTreeMap::new(),
            leader_id: None,
            votes_granted: BTreeSet::new(),
            next_index: vec![1; n],
            match_index: vec![0; n],
            pending: VecDeque::new(),
            retry_armed: false,
            awaiting: BTreeMap::new(),
            applied_ids: FxHashSet::default(),
            outbox: Vec::new(),
            persisted_changed: false,
            matched: Vec::with_capacity(n),
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn current_term(&self) -> Term {
        self.current_term
    }

    pub fn voted_for(&self) -> Option<NodeId> {
        self.voted_for
    }

    pub fn log(&self) -> &RaftLog {
        &self.log
    }

    pub fn commit_index(&self) -> LogIndex {
        self.commit_index
    }

    pub fn last_applied(&self) -> LogIndex {
        self.last_applied
    }

    /// The leader this node currently knows of (itself when leading).
    pub fn leader_id(&self) -> Option<NodeId> {
        self.leader_id
    }

    /// The state machine's value id for `key`, if a put on it has been applied.
    pub fn value(&self, key: u64) -> Option<u64> {
        self.state_machine.get(&key).copied()
    }

    /// The whole state machine, key → value id.
    pub fn state_machine(&self) -> &BTreeMap<u64, u64> {
        &self.state_machine
    }

    /// Leader state for `peer` (meaningful while leading): `(next_index, match_index)`.
    pub fn progress(&self, peer: NodeId) -> (LogIndex, LogIndex) {
        (self.next_index[peer.index()], self.match_index[peer.index()])
    }

    /// Client commands held while no leader is known.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    fn persist_delay(&self) -> SimDuration {
        SimDuration::from_us(self.config.persist_delay_us)
    }

    // ---- Inputs -------------------------------------------------------------------------------

    /// Start or restart: a follower that knows no leader, waiting one election timeout.
    fn boot(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Follower;
        self.note_role(ctx);
        self.reset_election_timer(ctx);
    }

    fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader {
            self.start_election(ctx);
        }
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            self.broadcast_append_entries();
            ctx.set_timer(RaftTimer::Heartbeat, SimDuration::from_ms(self.config.heartbeat_ms));
        }
    }

    fn on_client_retry(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.retry_armed = false;
        let held = std::mem::take(&mut self.pending);
        for op in held {
            self.handle_client_command(ctx, op, 0);
        }
    }

    /// Releases the handler's messages, after the fsync time when persistent state changed.
    fn flush_outbox(&mut self, ctx: &mut Ctx<'_, Self>) {
        let persisted = std::mem::take(&mut self.persisted_changed);
        let delay = self.persist_delay();
        for (to, msg) in self.outbox.drain(..) {
            if persisted {
                ctx.send_after(delay, to, msg);
            } else {
                ctx.send(to, msg);
            }
        }
    }

    // ---- Terms and roles (§5.1, §5.2) ---------------------------------------------------------

    /// "If RPC request or response contains term T > currentTerm: set currentTerm = T, convert to
    /// follower." Returns whether the term was adopted.
    fn observe_term(&mut self, ctx: &mut Ctx<'_, Self>, term: Term) -> bool {
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

    fn become_follower(&mut self, ctx: &mut Ctx<'_, Self>) {
        match self.role {
            Role::Follower => return,
            Role::Leader => {
                ctx.cancel_timer(RaftTimer::Heartbeat);
                self.reset_election_timer(ctx);
            }
            Role::Candidate => {}
        }
        self.role = Role::Follower;
        self.note_role(ctx);
    }

    /// §5.2: increment the term, vote for self, reset the timer, ask every peer for its vote.
    fn start_election(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.current_term += 1;
        self.voted_for = Some(self.id);
        self.persisted_changed = true;
        self.leader_id = None;
        self.role = Role::Candidate;
        self.note_role(ctx);
        ctx.note(Record::new(Event::Vote).peer(self.id).term(self.current_term));
        self.votes_granted = BTreeSet::from([self.id]);
        if self.votes_granted.len() >= self.majority() {
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
        };
        for peer in peers(self.id, self.nodes) {
            self.outbox.push((peer, Msg::RequestVote(request.clone())));
        }
    }

    /// Leaders: reinitialise `next_index` / `match_index`, heartbeat at once and periodically, and
    /// take over the client commands this node was holding.
    fn become_leader(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Leader;
        self.leader_id = Some(self.id);
        self.note_role(ctx);
        ctx.cancel_timer(RaftTimer::Election);
        let last = self.log.last_index();
        self.next_index.iter_mut().for_each(|n| *n = last + 1);
        self.match_index.iter_mut().for_each(|m| *m = 0);
        self.match_index[self.id.index()] = last;
        if self.retry_armed {
            ctx.cancel_timer(RaftTimer::ClientRetry);
            self.retry_armed = false;
        }
        for op in std::mem::take(&mut self.pending) {
            self.leader_append(ctx, op);
        }
        self.broadcast_append_entries();
        ctx.set_timer(RaftTimer::Heartbeat, SimDuration::from_ms(self.config.heartbeat_ms));
        self.advance_commit_index(ctx);
    }

    fn reset_election_timer(&mut self, ctx: &mut Ctx<'_, Self>) {
        let [min, max] = self.config.election_timeout_ms;
        ctx.set_timer_range(RaftTimer::Election, SimDuration::from_ms(min), SimDuration::from_ms(max));
    }

    // ---- RequestVote (§5.2, §5.4.1) -----------------------------------------------------------

    fn handle_request_vote(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, req: RequestVote) {
        self.observe_term(ctx, req.term);
        // §5.4.1: the candidate's log must be at least as up-to-date: later last term, or the same
        // last term and at least as long.
        let up_to_date =
            (req.last_log_term, req.last_log_index) >= (self.log.last_term(), self.log.last_index());
        let log_ok = up_to_date || self.config.bug == Bug::VoteWithoutLogCheck;
        let free = self.voted_for.is_none() || self.voted_for == Some(req.candidate_id);
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

    fn handle_request_vote_reply(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, reply: RequestVoteReply) {
        if self.observe_term(ctx, reply.term) {
            return;
        }
        if self.role != Role::Candidate || reply.term != self.current_term || !reply.vote_granted {
            return;
        }
        // A set: a duplicated reply is one vote.
        self.votes_granted.insert(from);
        if self.votes_granted.len() >= self.majority() {
            self.become_leader(ctx);
        }
    }

    // ---- AppendEntries (§5.3) -----------------------------------------------------------------

    fn handle_append_entries(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, req: AppendEntries) {
        self.observe_term(ctx, req.term);
        if req.term < self.current_term {
            self.reply_append_entries(from, false, self.log.last_index());
            return;
        }
        // The leader of the current term: a candidate (or, only under a vote bug, a second leader)
        // returns to follower.
        self.become_follower(ctx);
        self.leader_id = Some(req.leader_id);
        self.reset_election_timer(ctx);
        self.forward_pending(ctx);
        if self.log.term_at(req.prev_log_index) != Some(req.prev_log_term) {
            self.reply_append_entries(from, false, self.log.last_index());
            return;
        }
        let last_new = self.merge_entries(ctx, req.prev_log_index, req.entries);
        if req.leader_commit > self.commit_index {
            self.set_commit_index(ctx, req.leader_commit.min(last_new));
        }
        self.reply_append_entries(from, true, last_new);
    }

    fn reply_append_entries(&mut self, to: NodeId, success: bool, match_index: LogIndex) {
        let reply = AppendEntriesReply { term: self.current_term, success, match_index };
        self.outbox.push((to, Msg::AppendEntriesReply(reply)));
    }

    /// "If an existing entry conflicts with a new one (same index but different terms), delete the
    /// existing entry and all that follow it. Append any new entries not already in the log."
    /// Entries that match are kept, so a stale or duplicated AppendEntries never shortens the log.
    /// Returns the index of the last entry the request carried.
    fn merge_entries(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        prev_log_index: LogIndex,
        entries: Vec<Entry>,
    ) -> LogIndex {
        let mut index = prev_log_index;
        for entry in entries {
            index += 1;
            match self.log.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => {
                    ctx.note(Record::new(Event::Truncate).index(index).detail(format!("to {}", index - 1)));
                    self.log.truncate_from(index);
                }
                None => {}
            }
            ctx.note(entry_record(Event::Store, index, &entry));
            self.log.append(entry);
            self.persisted_changed = true;
        }
        index
    }

    fn handle_append_entries_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        reply: AppendEntriesReply,
    ) {
        if self.observe_term(ctx, reply.term) {
            return;
        }
        if self.role != Role::Leader || reply.term != self.current_term {
            return;
        }
        let p = from.index();
        let last = self.log.last_index();
        if reply.success {
            // Replies may be stale or duplicated: progress only moves forward. The clamp only
            // matters under a vote bug, when a second leader of this term had a longer log.
            let matched = reply.match_index.min(last);
            if matched <= self.match_index[p] {
                return;
            }
            self.match_index[p] = matched;
            self.next_index[p] = self.next_index[p].max(matched + 1);
            self.advance_commit_index(ctx);
            if self.next_index[p] <= self.log.last_index() {
                self.send_append_entries(from);
            }
        } else {
            // Back off one entry, or straight past the follower's last index; never below what is
            // known to match, nor above where it was.
            let next = self.next_index[p];
            let backed =
                (next - 1).min(reply.match_index.saturating_add(1)).max(self.match_index[p] + 1).max(1);
            if backed < next {
                self.next_index[p] = backed;
                self.send_append_entries(from);
            }
        }
    }

    fn send_append_entries(&mut self, to: NodeId) {
        let next = self.next_index[to.index()].clamp(1, self.log.last_index() + 1);
        let prev_log_index = next - 1;
        let prev_log_term = self.log.term_at(prev_log_index).unwrap_or_else(|| {
            unreachable!("prev_log_index {prev_log_index} <= last index {}", self.log.last_index())
        });
        let entries = self.log.entries_from(next, self.config.max_entries_per_append).to_vec();
        let request = AppendEntries {
            term: self.current_term,
            leader_id: self.id,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
        };
        self.outbox.push((to, Msg::AppendEntries(request)));
    }

    fn broadcast_append_entries(&mut self) {
        for peer in peers(self.id, self.nodes) {
            self.send_append_entries(peer);
        }
    }

    // ---- Commitment and the state machine (§5.3, §5.4.2) --------------------------------------

    /// §5.4.2: the largest N replicated on a majority commits if `log[N].term == current_term`
    /// (the Figure8Commit bug drops that condition). Terms never decrease along the log, so if the
    /// majority-replicated N fails the term test, every smaller candidate fails it too.
    fn advance_commit_index(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.match_index[self.id.index()] = self.log.last_index();
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        matched.extend_from_slice(&self.match_index);
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.majority() - 1];
        self.matched = matched;
        if n <= self.commit_index {
            return;
        }
        let current = self.log.term_at(n) == Some(self.current_term);
        if current || self.config.bug == Bug::Figure8Commit {
            self.set_commit_index(ctx, n);
        }
    }

    fn set_commit_index(&mut self, ctx: &mut Ctx<'_, Self>, index: LogIndex) {
        if index <= self.commit_index {
            return;
        }
        self.commit_index = index;
        ctx.note(Record::new(Event::Commit).index(index).term(self.current_term));
        self.apply_committed(ctx);
    }

    /// "If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied]", in log order.
    fn apply_committed(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Only a vote bug can leave commit_index past a truncated log; apply what exists.
        let upto = self.commit_index.min(self.log.last_index());
        while self.last_applied < upto {
            self.last_applied += 1;
            let index = self.last_applied;
            let Some(entry) = self.log.get(index).cloned() else {
                unreachable!("index {index} <= last index {}", self.log.last_index());
            };
            ctx.note(entry_record(Event::Apply, index, &entry));
            self.awaiting.remove(&entry.command.id());
            if !self.applied_ids.insert(entry.command.id()) {
                // A resent command that reached the log twice: applied once (at-most-once).
                continue;
            }
            match entry.command {
                Op::Put { key, value } => {
                    self.state_machine.insert(key, value);
                }
                Op::Get { key, id } => {
                    let value = self.state_machine.get(&key).map_or(Value::None, |v| Value::Id(*v));
                    let read = Record::new(Event::Read).key(key).index(index).value(value);
                    ctx.note(read.detail(format!("get#{id}")));
                }
            }
        }
    }

    // ---- Client commands (§8) -----------------------------------------------------------------

    /// A command from a client (`hops` 0) or forwarded by a follower: the leader appends it, a
    /// follower forwards it to the leader it knows, a node knowing no leader holds it.
    fn handle_client_command(&mut self, ctx: &mut Ctx<'_, Self>, op: Op, hops: u32) {
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
    fn has_command(&self, id: u64) -> bool {
        self.applied_ids.contains(&id)
            || (self.last_applied + 1..=self.log.last_index())
                .any(|i| self.log.get(i).is_some_and(|e| e.command.id() == id))
    }

    /// A client's command arrives here: remember it for resending until it is applied.
    fn accept_client_command(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) {
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
    fn on_client_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
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

    fn handle_client_forward(&mut self, ctx: &mut Ctx<'_, Self>, forward: ClientForward) {
        self.handle_client_command(ctx, forward.op, forward.hops);
    }

    fn leader_append(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) -> LogIndex {
        let entry = Entry { term: self.current_term, command: op };
        let index = self.log.last_index() + 1;
        ctx.note(entry_record(Event::Append, index, &entry));
        self.log.append(entry);
        self.persisted_changed = true;
        self.match_index[self.id.index()] = index;
        index
    }

    fn hold(&mut self, ctx: &mut Ctx<'_, Self>, op: Op) {
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
    fn forward_pending(&mut self, ctx: &mut Ctx<'_, Self>) {
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

    fn note_role(&self, ctx: &mut Ctx<'_, Self>) {
        let role = Value::Text(Cow::Borrowed(self.role.as_str()));
        ctx.note(Record::new(Event::Role).term(self.current_term).value(role));
    }
}

/// Every node of a cluster of `nodes` but `me`, in id order.
fn peers(me: NodeId, nodes: u32) -> impl Iterator<Item = NodeId> {
    (0..nodes).map(NodeId).filter(move |p| *p != me)
}

/// The `append` / `store` / `apply` row for `entry` at `index`.
fn entry_record(event: Event, index: LogIndex, entry: &Entry) -> Record {
    let row = Record::new(event).term(entry.term).index(index);
    match entry.command {
        Op::Put { key, value } => row.key(key).value(Value::Id(value)),
        Op::Get { key, id } => row.msg("get").key(key).detail(format!("get#{id}")),
    }
}

/// A `note` row for a client command this node will not handle.
fn refuse(ctx: &mut Ctx<'_, RaftNode>, op: &Op, why: String) {
    let row = match *op {
        Op::Put { key, value } => Record::new(Event::Note).msg("put").key(key).value(Value::Id(value)),
        Op::Get { key, id } => Record::new(Event::Note).msg("get").key(key).index(id),
    };
    ctx.note(row.detail(format!("refused: {why}")));
}

impl Protocol for RaftNode {
    type Msg = Msg;
    type Timer = RaftTimer;
    type Client = Op;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.boot(ctx);
        self.flush_outbox(ctx);
    }

    /// Keeps `current_term`, `voted_for` and the log; everything else is volatile. The state
    /// machine is rebuilt by re-applying from index 1 once `commit_index` is learned again.
    fn on_crash(&mut self) {
        let n = self.nodes as usize;
        self.role = Role::Follower;
        self.commit_index = 0;
        self.last_applied = 0;
        self.state_machine.clear();
        self.leader_id = None;
        self.votes_granted.clear();
        self.next_index = vec![1; n];
        self.match_index = vec![0; n];
        self.pending.clear();
        self.retry_armed = false;
        self.awaiting.clear();
        self.applied_ids.clear();
        self.outbox.clear();
        self.persisted_changed = false;
        if self.config.bug == Bug::ForgetVotedFor {
            self.voted_for = None;
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.boot(ctx);
        self.flush_outbox(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match msg {
            Msg::RequestVote(m) => self.handle_request_vote(ctx, from, m),
            Msg::RequestVoteReply(m) => self.handle_request_vote_reply(ctx, from, m),
            Msg::AppendEntries(m) => self.handle_append_entries(ctx, from, m),
            Msg::AppendEntriesReply(m) => self.handle_append_entries_reply(ctx, from, m),
            Msg::ClientForward(m) => self.handle_client_forward(ctx, m),
        }
        self.flush_outbox(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: RaftTimer) {
        match timer {
            RaftTimer::Election => self.on_election_timeout(ctx),
            RaftTimer::Heartbeat => self.on_heartbeat(ctx),
            RaftTimer::ClientRetry => self.on_client_retry(ctx),
            RaftTimer::ClientTimeout => self.on_client_timeout(ctx),
        }
        self.flush_outbox(ctx);
    }

    fn on_client(&mut self, ctx: &mut Ctx<'_, Self>, request: Op) {
        self.accept_client_command(ctx, request);
        self.flush_outbox(ctx);
    }

    fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}
