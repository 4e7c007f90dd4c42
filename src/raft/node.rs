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
//! client commands. A new leader's no-op entry shows as msg `noop` with no key or value; an
//! `apply` of a command its session had already applied has detail `duplicate` (and changes
//! nothing). The leader answers a client when it applies the client's op (`Ctx::reply`).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::client::{ClientOp, Func};
use crate::protocol::AdminOp;
use crate::protocol::{Ctx, Protocol, Timer};
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record, Value};

use super::config::{Bug, RaftConfig};
use super::log::{Command, Entry, LogIndex, RaftLog, Term};
use super::membership::Configuration;
use super::messages::Msg;
use super::sessions::Sessions;
use super::snapshot::Snapshot;

mod check_quorum;
mod client;
mod election;
mod membership;
mod persist;
mod pipeline;
mod pre_vote;
mod reads;
mod replication;
mod snapshot;
mod transfer;

pub use persist::FSYNC_LOST;

/// A server's role (§5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Pre-Vote (thesis §9.6): asking whether a majority would vote for it, term unchanged.
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    /// The spelling in `role` trace rows.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Follower => "follower",
            Role::PreCandidate => "pre_candidate",
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
    /// Lease reads: a new leader's wait for its predecessor's possible lease is over.
    LeaseWait,
    /// The oldest persist in flight completes (the fsync model, `node/persist.rs`).
    Persist,
    /// A leadership transfer that has not completed is abandoned (thesis §3.10).
    TransferAbort,
}

impl Timer for RaftTimer {
    fn name(&self) -> &'static str {
        match self {
            RaftTimer::Election => "election",
            RaftTimer::Heartbeat => "heartbeat",
            RaftTimer::ClientRetry => "client_retry",
            RaftTimer::LeaseWait => "lease_wait",
            RaftTimer::Persist => "persist",
            RaftTimer::TransferAbort => "transfer_abort",
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
    /// The latest snapshot (§7): taken at `snapshot_every` applies or installed from a leader.
    /// Invariant: covers at least the log's compacted prefix.
    snapshot: Option<Arc<Snapshot>>,

    // Volatile state on all servers.
    role: Role,
    /// Highest index known to be committed. Invariant: never decreases while the node is up.
    commit_index: LogIndex,
    /// Highest index applied to `state_machine`. Invariant: `last_applied <= commit_index`.
    last_applied: LogIndex,
    /// key → value id of the last applied write (or successful cas).
    state_machine: BTreeMap<u64, u64>,
    /// Client sessions (§8): part of the state machine, rebuilt with it.
    sessions: Sessions,
    /// The leader of `current_term`, once heard from (itself when leading).
    leader_id: Option<NodeId>,

    // Candidates: distinct voters granting this term's vote, itself included.
    votes_granted: BTreeSet<NodeId>,
    /// Pre-candidates: distinct peers granting a pre-vote for `current_term + 1`, itself included.
    pre_votes_granted: BTreeSet<NodeId>,
    /// When this node last heard AppendEntries from the leader of its term (Pre-Vote: no grant
    /// within `election_timeout_ms[0]` of it). Volatile.
    last_leader_contact: Option<SimTime>,
    /// Leaders with `check_quorum`: per node id, when its last AppendEntries reply of this term
    /// arrived (the leader's election counts as one).
    last_heard: Vec<SimTime>,
    /// Leaders, `Bug::CheckQuorumStaleAcks` only: per node id, whether it ever replied.
    ever_heard: Vec<bool>,
    /// Leaders: the leadership transfer under way (node/transfer.rs).
    transfer: Option<transfer::Transfer>,
    /// Leaders: TimeoutNow was sent this term, so the lease is given up for good (the target
    /// stands at once and, elected by transfer, does not wait out this leader's lease).
    lease_given_up: bool,
    /// The term this node stands in because a leader sent it TimeoutNow.
    transfer_term: Option<Term>,

    // Membership (node/membership.rs).
    /// The configuration when the log holds no configuration entry: `raft.initial_members`
    /// (`None`: every node, the classic cluster). A snapshot would replace it with its own.
    base_config: Option<Configuration>,
    /// Leaders: the new server being caught up before it is added (§4.2.1).
    catchup: Option<membership::Catchup>,
    /// The configuration last written in a `config` row: `(entry index, members)`. Volatile.
    config_noted: Option<(LogIndex, Option<Configuration>)>,

    // Leaders, reinitialised after election; indexed by node id.
    /// Next log index to send to each server. Invariant: `match_index[p] < next_index[p]`.
    next_index: Vec<LogIndex>,
    /// Highest index known replicated on each server; the leader's own slot is its last index.
    match_index: Vec<LogIndex>,
    /// Pipelining (`max_inflight_appends > 1`): each follower's flow control (node/pipeline.rs).
    flows: Vec<pipeline::Flow>,
    /// Leaders: per node id, the snapshot being sent and the offset of its next chunk
    /// (node/snapshot.rs).
    snapshot_sending: Vec<Option<(Arc<Snapshot>, u64)>>,
    /// Followers: the snapshot being received, chunk by chunk. Volatile.
    incoming: Option<snapshot::Incoming>,
    /// Heartbeats this node has sent as leader, ever: the clock of the pipelining window.
    heartbeat_tick: u64,

    /// Client commands held while no leader is known. Invariant: `len() <= pending_max`, no op
    /// twice (`pending_ids` holds their ids).
    pending: VecDeque<ClientOp>,
    /// Ids of the ops in `pending`; probed only, never iterated.
    pending_ids: FxHashSet<u64>,
    /// Whether the ClientRetry timer is armed.
    retry_armed: bool,
    /// Leaders: heartbeat rounds and reads waiting on them (thesis §6.4).
    reads: reads::Reads,

    // The fsync model (node/persist.rs); untouched when `persist_delay_us` is 0.
    /// Persistent state as of the last completed persist: what a restart comes back with.
    durable: persist::Durable,
    /// Persists in flight, oldest first; each completes `persist_delay_us` after it started.
    persists: persist::Persists,
    /// What the last crash took back, written as rows at the restart.
    crash_loss: Option<persist::CrashLoss>,

    // Scratch for the input being handled.
    outbox: Vec<(NodeId, Msg)>,
    persisted_changed: bool,
    /// The lowest log index the handler truncated (`LogIndex::MAX` for none).
    dirty_from: LogIndex,
    /// The log's length when the last handler ended: later appends start past it.
    flushed_len: LogIndex,
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
            snapshot: None,
            role: Role::Follower,
            commit_index: 0,
            last_applied: 0,
            state_machine: BTreeMap::new(),
            sessions: Sessions::new(config.sessions_max),
            leader_id: None,
            votes_granted: BTreeSet::new(),
            pre_votes_granted: BTreeSet::new(),
            last_leader_contact: None,
            last_heard: vec![SimTime::ZERO; n],
            ever_heard: vec![false; n],
            transfer: None,
            lease_given_up: false,
            transfer_term: None,
            base_config: base_config(config, nodes),
            catchup: None,
            config_noted: None,
            next_index: vec![1; n],
            match_index: vec![0; n],
            flows: vec![pipeline::Flow::default(); n],
            snapshot_sending: vec![None; n],
            incoming: None,
            heartbeat_tick: 0,
            pending: VecDeque::new(),
            pending_ids: FxHashSet::default(),
            retry_armed: false,
            reads: reads::Reads::default(),
            durable: persist::Durable::default(),
            persists: persist::Persists::new(),
            crash_loss: None,
            outbox: Vec::new(),
            persisted_changed: false,
            dirty_from: LogIndex::MAX,
            flushed_len: 0,
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

    /// Client sessions the state machine holds.
    pub fn sessions_len(&self) -> usize {
        self.sessions.len()
    }

    fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }

    /// The configuration this server uses now (thesis §4.1: the latest in its log); `None` when
    /// the scenario changes no membership (every node is a member).
    pub fn configuration(&self) -> Option<Configuration> {
        self.members()
    }

    // ---- Inputs -------------------------------------------------------------------------------

    /// Start or restart: a follower that knows no leader, waiting one election timeout.
    fn boot(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.role = Role::Follower;
        self.note_role(ctx);
        self.reset_election_timer(ctx);
    }

    fn on_election_timeout(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            return;
        }
        // §4.1: a server outside its configuration does not stand (its timer stays off until a
        // leader's AppendEntries re-arms it) — unless that configuration may be uncommitted: a
        // removed leader deposed before its removal committed must be able to finish it (§4.2.2),
        // or the members, whose logs lack the entry, may never win its vote.
        if !self.is_member(self.id) && self.config_index() <= self.commit_index {
            return;
        }
        if self.config.pre_vote {
            self.start_pre_vote(ctx);
        } else {
            self.start_election(ctx);
        }
    }

    fn on_heartbeat(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role == Role::Leader {
            self.heartbeat_tick += 1;
            self.start_read_round(ctx.now());
            self.broadcast_append_entries();
            self.catchup_progress(ctx);
            ctx.set_timer(RaftTimer::Heartbeat, SimDuration::from_ms(self.config.heartbeat_ms));
        }
    }

    fn on_client_retry(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.retry_armed = false;
        let held = std::mem::take(&mut self.pending);
        self.pending_ids.clear();
        for op in held {
            self.handle_client_command(ctx, op, 0, false);
        }
    }

    /// Releases the handler's messages once every persist started so far (this handler's
    /// included) has completed: at once when none is in flight.
    fn flush_outbox(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.config.membership {
            self.step_down_if_removed(ctx);
            self.note_config_change(ctx);
        }
        let delay = self.start_persist(ctx);
        for (to, msg) in self.outbox.drain(..) {
            if delay == SimDuration::ZERO {
                ctx.send(to, msg);
            } else {
                ctx.send_after(delay, to, msg);
            }
        }
    }

    fn note_role(&self, ctx: &mut Ctx<'_, Self>) {
        let role = Value::Text(Cow::Borrowed(self.role.as_str()));
        ctx.note(Record::new(Event::Role).term(self.current_term).value(role));
    }
}

/// `raft.initial_members` as a configuration; `None` (every node) without membership changes.
fn base_config(config: &RaftConfig, nodes: u32) -> Option<Configuration> {
    if !config.membership {
        return None;
    }
    let all = Configuration::all(nodes);
    let listed = config
        .initial_members
        .as_ref()
        .map(|m| Configuration::from_ids(m.iter().filter_map(|t| NodeId::parse(t))));
    Some(listed.unwrap_or(all))
}

/// Every node of a cluster of `nodes` but `me`, in id order.
fn peers(me: NodeId, nodes: u32) -> impl Iterator<Item = NodeId> {
    (0..nodes).map(NodeId).filter(move |p| *p != me)
}

/// Writes the cells of the `append` / `store` / `apply` row for `entry` at `index` into a fresh
/// row (built in place by [`Ctx::note_in`]): a put shows key and value, a get msg `get` and
/// detail `get#<id>`, a cas msg `cas`, key, the new value and detail `cas#<id> expect=<v|nil>`,
/// the no-op msg `noop` alone.
fn entry_cells(row: &mut Record, index: LogIndex, entry: &Entry) {
    row.term = Some(entry.term);
    row.index = Some(index);
    let op = match entry.command {
        Command::Noop => return row.msg = Cow::Borrowed("noop"),
        Command::Config(members) => {
            row.msg = Cow::Borrowed("config");
            return row.set_detail(members.to_string());
        }
        Command::Op(op) => op,
    };
    row.key = Some(op.key);
    match op.f {
        Func::Write { value } => row.value = Value::Id(value),
        Func::Read => {
            row.msg = Cow::Borrowed("get");
            row.set_detail(format!("get#{}", op.id));
        }
        Func::Cas { expected, new } => {
            let expect = expected.map_or("nil".to_owned(), |v| format!("v{v}"));
            row.msg = Cow::Borrowed("cas");
            row.value = Value::Id(new);
            row.set_detail(format!("cas#{} expect={expect}", op.id));
        }
    }
}

/// A `note` row for a client command this node will not handle.
fn refuse(ctx: &mut Ctx<'_, RaftNode>, op: &ClientOp, why: String) {
    let row = Record::new(Event::Note).msg(op.command_name()).key(op.key).index(op.id);
    let row = row.value(op.written().map_or(Value::None, Value::Id));
    ctx.note(row.detail(format!("refused: {why}")));
}

impl Protocol for RaftNode {
    type Msg = Msg;
    type Timer = RaftTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.boot(ctx);
        self.flush_outbox(ctx);
    }

    /// Keeps the durable `current_term`, `voted_for`, log and snapshot (what completed persists
    /// wrote); everything else is volatile. The state machine is rebuilt from the snapshot (at the
    /// restart) and by re-applying the log after it once `commit_index` is learned again.
    fn on_crash(&mut self) {
        self.revert_to_durable();
        let n = self.nodes as usize;
        self.role = Role::Follower;
        self.commit_index = 0;
        self.last_applied = 0;
        self.state_machine.clear();
        self.sessions.clear();
        self.leader_id = None;
        self.votes_granted.clear();
        self.pre_votes_granted.clear();
        self.last_leader_contact = None;
        self.transfer = None;
        self.lease_given_up = false;
        self.transfer_term = None;
        self.catchup = None;
        self.config_noted = None;
        self.next_index = vec![1; n];
        self.match_index = vec![0; n];
        self.flows = vec![pipeline::Flow::default(); n];
        self.snapshot_sending = vec![None; n];
        self.incoming = None;
        self.pending.clear();
        self.pending_ids.clear();
        self.retry_armed = false;
        self.reads = reads::Reads::default();
        self.outbox.clear();
        self.persisted_changed = false;
        self.dirty_from = LogIndex::MAX;
        if self.config.bug == Bug::ForgetVotedFor {
            self.voted_for = None;
        }
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.note_crash_loss(ctx);
        self.restore_snapshot(ctx);
        self.boot(ctx);
        self.flush_outbox(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Msg) {
        match &msg {
            Msg::AppendEntriesReply(reply) => self.note_heard(ctx.now(), from, reply.term),
            Msg::InstallSnapshotReply(reply) => self.note_heard(ctx.now(), from, reply.term),
            _ => {}
        }
        // A message of a newer term deposes this node anyway (§5.1), with the new term's row.
        if !msg.term_to_adopt().is_some_and(|t| t > self.current_term) {
            self.check_quorum(ctx);
        }
        let leader_contact = match &msg {
            Msg::AppendEntries(m) => Some(m.term),
            Msg::InstallSnapshot(m) => Some(m.term),
            _ => None,
        };
        match msg {
            Msg::RequestVote(m) => self.handle_request_vote(ctx, from, m),
            Msg::RequestVoteReply(m) => self.handle_request_vote_reply(ctx, from, m),
            Msg::AppendEntries(m) => self.handle_append_entries(ctx, from, m),
            Msg::AppendEntriesReply(m) => self.handle_append_entries_reply(ctx, from, m),
            Msg::ClientForward(m) => self.handle_client_forward(ctx, m),
            Msg::PreVote(m) => self.handle_pre_vote(ctx, from, m),
            Msg::PreVoteReply(m) => self.handle_pre_vote_reply(ctx, from, m),
            Msg::TimeoutNow(m) => self.handle_timeout_now(ctx, m),
            Msg::InstallSnapshot(m) => self.handle_install_snapshot(ctx, from, m),
            Msg::InstallSnapshotReply(m) => self.handle_install_snapshot_reply(ctx, from, m),
        }
        if leader_contact == Some(self.current_term) && self.role == Role::Follower {
            self.last_leader_contact = Some(ctx.now());
        }
        self.try_timeout_now(ctx);
        self.flush_outbox(ctx);
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: RaftTimer) {
        self.check_quorum(ctx);
        match timer {
            RaftTimer::Election => self.on_election_timeout(ctx),
            RaftTimer::Heartbeat => self.on_heartbeat(ctx),
            RaftTimer::ClientRetry => self.on_client_retry(ctx),
            RaftTimer::LeaseWait => {
                if self.role == Role::Leader {
                    self.advance_commit_index(ctx);
                    self.serve_reads(ctx);
                }
            }
            RaftTimer::Persist => self.on_persist_done(ctx),
            RaftTimer::TransferAbort => self.abort_transfer(ctx),
        }
        self.flush_outbox(ctx);
    }

    fn on_client(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp, _attempt: u32) {
        self.check_quorum(ctx);
        self.accept_client_command(ctx, op);
        self.flush_outbox(ctx);
    }

    fn on_admin(&mut self, ctx: &mut Ctx<'_, Self>, op: AdminOp) {
        self.check_quorum(ctx);
        match op {
            AdminOp::TransferLeadership { to } => self.start_transfer(ctx, to),
            AdminOp::AddServer { node } => self.start_add_server(ctx, node),
            AdminOp::RemoveServer { node } => self.start_remove_server(ctx, node),
        }
        self.flush_outbox(ctx);
    }

    /// The node's real state, for `final_state` to hold against what its rows implied: a
    /// `final` row with term = `current_term`, index = last log index and detail
    /// `commit=<commit_index> digest=<16 hex digits>` (`RaftLog::digest`). A node down at the end
    /// first writes what its crash lost (as a restart would).
    fn on_finish(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.note_crash_loss(ctx);
        let detail = format!("commit={} digest={:016x}", self.commit_index, self.log.digest());
        ctx.note(
            Record::new(Event::Final).term(self.current_term).index(self.log.last_index()).detail(detail),
        );
    }

    fn is_leader(&self) -> bool {
        self.role == Role::Leader
    }
}
