//! Reads without the log (thesis §6.4), for `read_mode = "read_index"` and `"lease"`.
//!
//! ReadIndex: once the leader's no-op (an entry of its term) has committed, a read records
//! `commit_index` as its read index, and waits for a heartbeat round that STARTED after the read
//! arrived to be acked by a majority (replies carry the round they answer, so an ack of an older
//! round never counts), and for `last_applied` to reach the read index; then the leader answers
//! from its state machine. Lease (§6.4.1): the leader answers at once while `now` is within
//! `election_timeout_ms[0] - lease_drift_margin_ms` of the start of its last majority-acked round
//! (a follower that acked will not vote for another candidate's term before its own election
//! timeout, at least `election_timeout_ms[0]`, runs out); otherwise the read waits as a ReadIndex
//! read. Clock assumption: every node's timers run at a rate within the margin of real time
//! (bounded drift). A new leader does not know when the previous leader's lease ends — at most
//! `election_timeout_ms[0]` after this leader's election — so in lease mode it commits nothing and
//! serves nothing before then (`Bug::LeaseNoWait` skips that wait).

use std::collections::VecDeque;

use crate::client::{ClientOp, ClientReply};
use crate::protocol::Ctx;
use crate::raft::config::ReadMode;
use crate::raft::log::LogIndex;
use crate::raft::Bug;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record, Value};

use super::{RaftNode, RaftTimer, Role};

/// A read waiting for its read index and heartbeat round.
#[derive(Clone, Debug)]
struct Waiting {
    op: ClientOp,
    /// `commit_index` when the read could be given one (after the no-op committed).
    index: Option<LogIndex>,
    /// The heartbeat round that must be acked by a majority.
    round: u64,
}

/// At most this many unconfirmed heartbeat rounds' start times are kept.
const ROUNDS_KEPT: usize = 64;

/// A leader's read state: heartbeat rounds and the reads waiting on them. Volatile.
#[derive(Clone, Debug, Default)]
pub(super) struct Reads {
    /// The current heartbeat round (sent in every AppendEntries).
    pub(super) round: u64,
    round_start: SimTime,
    /// Per node id: the highest round that peer has acked in this term. Peers may ack different
    /// rounds: a round trip longer than the heartbeat interval must not keep every round short of
    /// a majority (found by `dsim hunt`, seeds 1721 and 9797: reads waited forever).
    peer_round: Vec<u64>,
    /// Start times of the rounds after `acked_round`, oldest first (at most `ROUNDS_KEPT`).
    starts: VecDeque<(u64, SimTime)>,
    /// The latest round acked by a majority, and when it started.
    acked_round: u64,
    acked_start: Option<SimTime>,
    /// When this node became leader.
    leader_since: SimTime,
    waiting: VecDeque<Waiting>,
}

impl RaftNode {
    /// A new leader's read state.
    pub(super) fn reset_reads(&mut self, now: SimTime) {
        self.reads = Reads { leader_since: now, ..Reads::default() };
    }

    /// When this leader took office, as far as its lease wait is concerned.
    pub(super) fn lease_leader_since(&self) -> SimTime {
        self.reads.leader_since
    }

    /// Elected by leadership transfer: the predecessor gave up its lease before sending
    /// TimeoutNow (node/transfer.rs), so there is nothing to wait out.
    pub(super) fn skip_lease_wait(&mut self, now: SimTime) {
        let wait = self.election_timeout_min();
        self.reads.leader_since = SimTime(now.as_us().saturating_sub(wait.as_us()));
    }

    /// A heartbeat round starts now (the caller broadcasts AppendEntries).
    pub(super) fn start_read_round(&mut self, now: SimTime) {
        let r = &mut self.reads;
        r.round += 1;
        r.round_start = now;
        if r.starts.len() == ROUNDS_KEPT {
            r.starts.pop_front();
        }
        r.starts.push_back((r.round, now));
        if self.peer_acks_needed() == 0 {
            self.reads.acked_round = self.reads.round;
            self.reads.acked_start = Some(now);
        }
    }

    /// A reply of the current term answered round `round`. The highest round that a majority
    /// (this leader included) has acked at or after is confirmed.
    pub(super) fn read_round_acked(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, round: u64) {
        let (nodes, need) = (self.nodes as usize, self.peer_acks_needed());
        let members = self.members();
        let me = self.id.index();
        let r = &mut self.reads;
        if round > r.round || round <= r.acked_round {
            return;
        }
        r.peer_round.resize(nodes, 0);
        let slot = &mut r.peer_round[from.index()];
        if round <= *slot {
            return;
        }
        *slot = round;
        // Members only (thesis §4.1); `need` counts this leader if it is one.
        let counted = |i: usize| i != me && members.map_or(true, |c| c.contains(NodeId(i as u32)));
        let mut rounds: Vec<u64> =
            r.peer_round.iter().enumerate().filter(|(i, _)| counted(*i)).map(|(_, x)| *x).collect();
        rounds.sort_unstable_by(|a, b| b.cmp(a));
        let confirmed = rounds.get(need.saturating_sub(1)).copied().unwrap_or(0);
        if confirmed <= r.acked_round {
            return;
        }
        while r.starts.front().is_some_and(|(n, _)| *n < confirmed) {
            r.starts.pop_front();
        }
        // A lease runs from the confirmed round's start. If that start was dropped (more than
        // ROUNDS_KEPT rounds open), keep the older lease start: a later one would be unsafe.
        if let Some((_, at)) = r.starts.front().filter(|(n, _)| *n == confirmed) {
            r.acked_start = Some(*at);
        }
        r.acked_round = confirmed;
        self.serve_reads(ctx);
    }

    fn election_timeout_min(&self) -> SimDuration {
        SimDuration::from_ms(self.config.election_timeout_ms[0])
    }

    /// Lease mode: whether this new leader must still wait out its predecessor's possible lease
    /// (arming the LeaseWait timer for its end).
    pub(super) fn lease_wait(&mut self, ctx: &mut Ctx<'_, Self>) -> bool {
        if self.config.read_mode != ReadMode::Lease || self.config.bug == Bug::LeaseNoWait {
            return false;
        }
        let until = self.reads.leader_since + self.election_timeout_min();
        if self.role != Role::Leader || ctx.now() >= until {
            return false;
        }
        ctx.set_timer(RaftTimer::LeaseWait, SimDuration(until.as_us() - ctx.now().as_us()));
        true
    }

    fn lease_valid(&self, now: SimTime) -> bool {
        let span_ms = self.config.election_timeout_ms[0].saturating_sub(self.config.lease_drift_margin_ms);
        self.reads.acked_start.is_some_and(|start| now < start + SimDuration::from_ms(span_ms))
    }

    /// Whether an entry of this leader's term has committed (its no-op, §8).
    fn term_committed(&self) -> bool {
        self.log.term_at(self.commit_index) == Some(self.current_term)
    }

    fn local_value(&self, key: u64) -> Value {
        self.state_machine.get(&key).map_or(Value::None, |v| Value::Id(*v))
    }

    /// The leader takes a read in `read_index` or `lease` mode.
    pub(super) fn leader_read(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp) {
        if self.config.read_mode == ReadMode::Lease
            && self.term_committed()
            && self.lease_valid(ctx.now())
            && !self.lease_given_up
            && !self.lease_wait(ctx)
        {
            let value = self.local_value(op.key);
            ctx.note(
                Record::new(Event::Read)
                    .key(op.key)
                    .value(value.clone())
                    .detail(format!("get#{} lease", op.id)),
            );
            ctx.reply(op.id, ClientReply::Ok(value));
            return;
        }
        if self.reads.waiting.len() as u64 >= self.config.pending_max {
            let row = Record::new(Event::Note).msg("get").key(op.key).index(op.id);
            ctx.note(row.detail(format!("refused: {} reads waiting", self.config.pending_max)));
            return;
        }
        self.reads.waiting.push_back(Waiting { op, index: None, round: 0 });
        self.serve_reads(ctx);
    }

    /// Gives waiting reads their read index once the no-op committed, answers the ready ones, and
    /// starts a heartbeat round if a read needs one. A node that no longer leads drops them (the
    /// clients resend).
    pub(super) fn serve_reads(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.reads.waiting.is_empty() {
            return;
        }
        if self.role != Role::Leader {
            self.reads.waiting.clear();
            return;
        }
        let mut need_round = false;
        if self.term_committed() {
            let (commit, next) = (self.commit_index, self.reads.round + 1);
            for w in self.reads.waiting.iter_mut().filter(|w| w.index.is_none()) {
                w.index = Some(commit);
                w.round = next;
                need_round = true;
            }
        }
        let (acked, applied) = (self.reads.acked_round, self.last_applied);
        let mut waiting = std::mem::take(&mut self.reads.waiting);
        waiting.retain(|w| {
            let ready = w.index.is_some_and(|i| applied >= i) && acked >= w.round;
            if ready {
                let value = self.local_value(w.op.key);
                let row = Record::new(Event::Read).key(w.op.key).index(w.index.unwrap_or(0));
                ctx.note(row.value(value.clone()).detail(format!("get#{} read_index", w.op.id)));
                ctx.reply(w.op.id, ClientReply::Ok(value));
            }
            !ready
        });
        self.reads.waiting = waiting;
        if need_round {
            self.start_read_round(ctx.now());
            self.broadcast_append_entries();
            if self.peer_acks_needed() == 0 {
                self.serve_reads(ctx);
            }
        }
    }
}
