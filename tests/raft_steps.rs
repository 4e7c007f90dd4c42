//! Step tests for Raft: one node, one input, the exact effects it must produce.
//!
//! Each test names the rule of Ongaro & Ousterhout 2014 (Figure 2 and §5) it checks. Nodes are
//! driven only through the `Protocol` interface; earlier steps that build up a state (a log, a
//! vote, leadership) go through the same inputs, and their effects are discarded. The election
//! timeout range is a single value (150 ms) so timer effects are exact; persisted state is
//! fsynced in 700 µs so every reply shows whether the handler changed persistent state.

use dsim::client::{ClientOp, ClientReply, Func};
use dsim::protocol::{Ctx, Effect, Protocol};
use dsim::raft::{
    AppendEntries, AppendEntriesReply, Bug, ClientForward, Command, Entry, Msg, RaftConfig, RaftNode,
    RaftTimer, RequestVote, RequestVoteReply, Role,
};
use dsim::sim::rng::{Purpose, SimRng, Streams};
use dsim::sim::{NodeId, SimTime};
use dsim::trace::{Event, Record, Value};

const PERSIST_US: u64 = 700;
const ELECTION_US: u64 = 150_000;
const HEARTBEAT_US: u64 = 50_000;
const RETRY_US: u64 = 100_000;

/// An effect in a comparable form.
#[derive(Clone, Debug, PartialEq)]
enum Fx {
    Send { to: u32, msg: Msg, delay_us: u64 },
    Timer(RaftTimer, u64),
    Cancel(RaftTimer),
    Note(Record),
    Reply(u64, ClientReply),
}

impl From<Effect<RaftNode>> for Fx {
    fn from(e: Effect<RaftNode>) -> Fx {
        match e {
            Effect::Send { to, mut msg, delay } => {
                // Heartbeat rounds (reads, thesis §6.4) are not what these tests compare.
                if let Msg::AppendEntries(ae) = &mut msg {
                    ae.read_round = 0;
                }
                Fx::Send { to: to.0, msg, delay_us: delay.as_us() }
            }
            Effect::SetTimer { timer, after } => Fx::Timer(timer, after.as_us()),
            Effect::CancelTimer { timer } => Fx::Cancel(timer),
            Effect::Note(r) => Fx::Note(*r),
            Effect::Noted => unreachable!("a step test's Ctx keeps no side list of notes"),
            Effect::Reply { op, reply } => Fx::Reply(op, reply),
        }
    }
}

fn config() -> RaftConfig {
    RaftConfig {
        election_timeout_ms: [150, 150],
        heartbeat_ms: 50,
        persist_delay_us: PERSIST_US,
        max_entries_per_append: 64,
        client_retry_ms: 100,
        pending_max: 2,
        noop: false,
        bug: Bug::None,
        ..RaftConfig::default()
    }
}

/// With the §8 no-op a new leader appends.
fn with_noop() -> RaftConfig {
    RaftConfig { noop: true, ..config() }
}

/// A write of value id `value` on `key`; each op is its own client process (process = op id).
fn put(key: u64, value: u64) -> ClientOp {
    ClientOp::write(value, value, key)
}

/// A read (op id `id`) of `key`, its own client process.
fn get(key: u64, id: u64) -> ClientOp {
    ClientOp::read(id, id, key)
}

fn ok(id: u64) -> Fx {
    Fx::Reply(id, ClientReply::Ok(Value::None))
}

fn with_bug(bug: Bug) -> RaftConfig {
    RaftConfig { bug, ..config() }
}

/// One node with its own streams, stepped by hand.
struct Node {
    raft: RaftNode,
    /// The simulated time the next input arrives at.
    now: SimTime,
    id: NodeId,
    nodes: u32,
    timer_rng: SimRng,
    rng: SimRng,
}

impl Node {
    fn new(id: u32, nodes: u32, config: &RaftConfig) -> Node {
        let streams = Streams::new(7);
        let id = NodeId(id);
        Node {
            raft: RaftNode::new(id, nodes, config),
            now: SimTime::ZERO,
            id,
            nodes,
            timer_rng: streams.stream(Purpose::NodeTimers(id)),
            rng: streams.stream(Purpose::Node(id)),
        }
    }

    /// A started node (its start effects discarded).
    fn started(id: u32, nodes: u32, config: &RaftConfig) -> Node {
        let mut node = Node::new(id, nodes, config);
        node.start();
        node
    }

    /// One input, then (like a disk that syncs before the next input) the completion of the
    /// persist it started, if any: its effects follow the input's, without the Persist timer.
    fn step(&mut self, input: impl FnOnce(&mut RaftNode, &mut Ctx<'_, RaftNode>)) -> Vec<Fx> {
        let mut effects = Vec::new();
        let mut ctx =
            Ctx::new(self.now, self.id, self.nodes, &mut self.timer_rng, &mut self.rng, &mut effects);
        input(&mut self.raft, &mut ctx);
        let persisting =
            effects.iter().any(|e| matches!(e, Effect::SetTimer { timer: RaftTimer::Persist, .. }));
        if persisting {
            let done = self.now + dsim::sim::SimDuration::from_us(PERSIST_US);
            let mut ctx =
                Ctx::new(done, self.id, self.nodes, &mut self.timer_rng, &mut self.rng, &mut effects);
            self.raft.on_timer(&mut ctx, RaftTimer::Persist);
        }
        effects
            .into_iter()
            .filter(|e| !matches!(e, Effect::SetTimer { timer: RaftTimer::Persist, .. }))
            .map(Fx::from)
            .collect()
    }

    fn start(&mut self) -> Vec<Fx> {
        self.step(|r, c| r.on_start(c))
    }

    fn deliver(&mut self, from: u32, msg: Msg) -> Vec<Fx> {
        self.step(|r, c| r.on_message(c, NodeId(from), msg))
    }

    fn fire(&mut self, timer: RaftTimer) -> Vec<Fx> {
        self.step(|r, c| r.on_timer(c, timer))
    }

    fn client(&mut self, op: ClientOp) -> Vec<Fx> {
        self.step(|r, c| r.on_client(c, op, 0))
    }

    fn restart(&mut self) -> Vec<Fx> {
        self.raft.on_crash();
        self.step(|r, c| r.on_restart(c))
    }
}

// ---- Builders for messages, entries and expected rows ------------------------------------------

/// The entry at `index` written in `term`: a put of a value unique to (term, index) on key `index`.
fn e(term: u64, index: u64) -> Entry {
    Entry::op(term, put(index, 100 * term + index))
}

fn rv(term: u64, candidate: u32, last_log_index: u64, last_log_term: u64) -> Msg {
    Msg::RequestVote(RequestVote {
        term,
        candidate_id: NodeId(candidate),
        last_log_index,
        last_log_term,
        leadership_transfer: false,
    })
}

fn rvr(term: u64, vote_granted: bool) -> Msg {
    Msg::RequestVoteReply(RequestVoteReply { term, vote_granted })
}

fn ae(term: u64, leader: u32, prev: u64, prev_term: u64, entries: Vec<Entry>, commit: u64) -> Msg {
    Msg::AppendEntries(AppendEntries {
        term,
        leader_id: NodeId(leader),
        prev_log_index: prev,
        prev_log_term: prev_term,
        entries,
        leader_commit: commit,
        read_round: 0,
    })
}

fn aer(term: u64, success: bool, match_index: u64) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success,
        match_index,
        read_round: 0,
        rejected_prev: None,
        conflict_term: None,
        conflict_index: None,
    })
}

fn send(to: u32, msg: Msg) -> Fx {
    Fx::Send { to, msg, delay_us: 0 }
}

fn send_persisted(to: u32, msg: Msg) -> Fx {
    Fx::Send { to, msg, delay_us: PERSIST_US }
}

fn election_timer() -> Fx {
    Fx::Timer(RaftTimer::Election, ELECTION_US)
}

fn role(term: u64, name: &'static str) -> Fx {
    Fx::Note(Record::new(Event::Role).term(term).value(Value::Text(name.into())))
}

fn vote(candidate: u32, term: u64) -> Fx {
    Fx::Note(Record::new(Event::Vote).peer(NodeId(candidate)).term(term))
}

fn entry_row(event: Event, index: u64, entry: &Entry) -> Fx {
    let row = Record::new(event).term(entry.term).index(index);
    let Command::Op(op) = entry.command else { return Fx::Note(row.msg("noop")) };
    Fx::Note(match op.f {
        Func::Write { value } => row.key(op.key).value(Value::Id(value)),
        Func::Read => row.msg("get").key(op.key).detail(format!("get#{}", op.id)),
        Func::Cas { expected, new } => {
            let expect = expected.map_or("nil".to_owned(), |v| format!("v{v}"));
            row.msg("cas").key(op.key).value(Value::Id(new)).detail(format!("cas#{} expect={expect}", op.id))
        }
    })
}

fn commit(index: u64, term: u64) -> Fx {
    Fx::Note(Record::new(Event::Commit).index(index).term(term))
}

/// Follower `id` of `nodes` that accepted `entries` from leader n0 in `term` (nothing committed).
fn follower(id: u32, nodes: u32, config: &RaftConfig, term: u64, entries: Vec<Entry>) -> Node {
    let mut node = Node::started(id, nodes, config);
    node.deliver(0, ae(term, 0, 0, 0, entries, 0));
    node
}

/// n0 of `nodes`, leader of term 1 with an empty log (votes from n1, n2, …).
fn leader(nodes: u32, config: &RaftConfig) -> Node {
    let mut node = Node::started(0, nodes, config);
    node.fire(RaftTimer::Election);
    for voter in 1..=nodes / 2 {
        node.deliver(voter, rvr(1, true));
    }
    assert_eq!(node.raft.role(), Role::Leader);
    node
}

/// n0 of 3 holding `entries` (received from n1 in `term`), then elected leader of `term + 1`.
fn leader_with_log(config: &RaftConfig, term: u64, entries: Vec<Entry>) -> Node {
    let mut node = Node::started(0, 3, config);
    node.deliver(1, ae(term, 1, 0, 0, entries, 0));
    node.fire(RaftTimer::Election);
    node.deliver(2, rvr(term + 1, true));
    assert_eq!((node.raft.role(), node.raft.current_term()), (Role::Leader, term + 1));
    node
}

// ---- Start and elections (§5.2) ----------------------------------------------------------------

/// Reference: Raft §5.2 — "When servers start up, they begin as followers"; election timeouts are
/// "chosen randomly from a fixed interval".
#[test]
fn start_as_follower_with_a_randomised_election_timeout() {
    let mut node = Node::new(0, 3, &config());
    assert_eq!(node.start(), vec![role(0, "follower"), election_timer()]);

    let wide = RaftConfig { election_timeout_ms: [150, 300], ..config() };
    let draws: Vec<u64> = (0..5)
        .map(|id| match Node::new(id, 5, &wide).start().as_slice() {
            [_, Fx::Timer(RaftTimer::Election, after)] => *after,
            other => panic!("unexpected start effects {other:?}"),
        })
        .collect();
    assert!(draws.iter().all(|d| (150_000..=300_000).contains(d)), "{draws:?}");
    let mut distinct = draws.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert!(distinct.len() > 1, "every node drew the same timeout: {draws:?}");
}

/// Reference: Raft §5.2 / Figure 2 (Candidates) — on conversion to candidate: increment
/// currentTerm, vote for self, reset the election timer, send RequestVote to all other servers.
/// The term and vote are persisted first, so the requests wait for the fsync.
#[test]
fn election_timeout_starts_an_election() {
    let mut node = Node::started(0, 3, &config());
    assert_eq!(
        node.fire(RaftTimer::Election),
        vec![
            role(1, "candidate"),
            vote(0, 1),
            election_timer(),
            send_persisted(1, rv(1, 0, 0, 0)),
            send_persisted(2, rv(1, 0, 0, 0)),
        ]
    );
    assert_eq!((node.raft.current_term(), node.raft.voted_for()), (1, Some(NodeId(0))));
    // A split vote: the next timeout starts a new election in a new term.
    assert_eq!(
        node.fire(RaftTimer::Election),
        vec![
            role(2, "candidate"),
            vote(0, 2),
            election_timer(),
            send_persisted(1, rv(2, 0, 0, 0)),
            send_persisted(2, rv(2, 0, 0, 0)),
        ]
    );
}

/// Reference: Raft Figure 2 (RequestVote receiver) — grant if votedFor is null or candidateId and
/// the candidate's log is at least as up-to-date; granting resets the election timer (Followers).
/// The vote is persisted before the reply leaves.
#[test]
fn grants_a_vote_and_persists_it_before_replying() {
    let mut node = Node::started(1, 3, &config());
    assert_eq!(
        node.deliver(0, rv(1, 0, 0, 0)),
        vec![vote(0, 1), election_timer(), send_persisted(0, rvr(1, true))]
    );
    assert_eq!((node.raft.current_term(), node.raft.voted_for()), (1, Some(NodeId(0))));
}

/// Reference: Raft Figure 2 (RequestVote receiver, 1) — "Reply false if term < currentTerm".
/// Nothing persistent changed, so the reply is not delayed.
#[test]
fn refuses_a_vote_for_a_stale_term() {
    let mut node = follower(1, 3, &config(), 2, vec![]);
    assert_eq!(node.deliver(2, rv(1, 2, 5, 1)), vec![send(2, rvr(2, false))]);
    assert_eq!(node.raft.voted_for(), None);
}

/// Reference: Raft §5.2 — "each server will vote for at most one candidate in a given term, on a
/// first-come-first-served basis"; a repeated request from the same candidate is granted again.
#[test]
fn votes_once_per_term() {
    let mut node = Node::started(1, 3, &config());
    node.deliver(0, rv(1, 0, 0, 0));
    assert_eq!(node.deliver(2, rv(1, 2, 0, 0)), vec![send(2, rvr(1, false))]);
    assert_eq!(node.deliver(0, rv(1, 0, 0, 0)), vec![election_timer(), send(0, rvr(1, true))]);
    assert_eq!(node.raft.voted_for(), Some(NodeId(0)));
}

/// Reference: Raft §5.4.1 — "the voter denies its vote if its own log is more up-to-date": a
/// higher last term wins; with equal last terms the longer log wins. The higher term is still
/// adopted (§5.1), hence the persisted reply.
#[test]
fn refuses_a_vote_to_a_candidate_whose_log_is_behind() {
    let log = vec![e(1, 1), e(1, 2), e(2, 3)];
    let mut node = follower(1, 3, &config(), 2, log.clone());
    // Longer log, but an older last term.
    assert_eq!(node.deliver(2, rv(3, 2, 5, 1)), vec![send_persisted(2, rvr(3, false))]);
    assert_eq!((node.raft.current_term(), node.raft.voted_for()), (3, None));
    // Same last term, shorter log.
    assert_eq!(node.deliver(2, rv(4, 2, 2, 2)), vec![send_persisted(2, rvr(4, false))]);
    // A later last term beats a longer log.
    let mut node = follower(1, 3, &config(), 2, log);
    assert_eq!(
        node.deliver(2, rv(4, 2, 1, 3)),
        vec![vote(2, 4), election_timer(), send_persisted(2, rvr(4, true))]
    );
}

/// Reference: Raft §5.4.1, broken on purpose — Bug::VoteWithoutLogCheck grants the vote the
/// up-to-date check refuses (still one vote per term).
#[test]
fn bug_vote_without_log_check_grants_to_a_stale_log() {
    let log = vec![e(1, 1), e(1, 2), e(2, 3)];
    let mut node = follower(1, 3, &with_bug(Bug::VoteWithoutLogCheck), 2, log);
    assert_eq!(
        node.deliver(2, rv(3, 2, 5, 1)),
        vec![vote(2, 3), election_timer(), send_persisted(2, rvr(3, true))]
    );
    assert_eq!(node.deliver(0, rv(3, 0, 9, 3)), vec![send(0, rvr(3, false))]);
}

/// Reference: Raft §5.2 — a candidate "wins an election if it receives votes from a majority of
/// the servers"; then it sends heartbeats to all (Figure 2, Leaders). A duplicated reply is one
/// vote. Leader state: nextIndex = last log index + 1, matchIndex = 0.
#[test]
fn becomes_leader_on_a_majority_of_distinct_votes() {
    let mut node = Node::started(0, 5, &config());
    node.fire(RaftTimer::Election);
    assert_eq!(node.deliver(1, rvr(1, true)), vec![]);
    assert_eq!(node.deliver(1, rvr(1, true)), vec![], "a duplicated reply counted twice");
    assert_eq!(node.deliver(3, rvr(1, false)), vec![]);
    assert_eq!(node.raft.role(), Role::Candidate);
    let heartbeat = ae(1, 0, 0, 0, vec![], 0);
    assert_eq!(
        node.deliver(2, rvr(1, true)),
        vec![
            role(1, "leader"),
            Fx::Cancel(RaftTimer::Election),
            Fx::Timer(RaftTimer::Heartbeat, HEARTBEAT_US),
            send(1, heartbeat.clone()),
            send(2, heartbeat.clone()),
            send(3, heartbeat.clone()),
            send(4, heartbeat),
        ]
    );
    assert_eq!(node.raft.progress(NodeId(3)), (1, 0));
    // Late votes change nothing.
    assert_eq!(node.deliver(4, rvr(1, true)), vec![]);
}

/// Reference: Raft Figure 2 (Leaders) — "send initial empty AppendEntries RPCs (heartbeat) to each
/// server; repeat during idle periods to prevent election timeouts".
#[test]
fn leader_heartbeats_every_heartbeat_interval() {
    let mut node = leader(3, &config());
    let heartbeat = ae(1, 0, 0, 0, vec![], 0);
    assert_eq!(
        node.fire(RaftTimer::Heartbeat),
        vec![Fx::Timer(RaftTimer::Heartbeat, HEARTBEAT_US), send(1, heartbeat.clone()), send(2, heartbeat)]
    );
}

/// Reference: Raft §5.1 — "If a candidate or leader discovers that its term is out of date, it
/// immediately reverts to follower state"; the higher term is adopted and `voted_for` cleared.
#[test]
fn leader_steps_down_on_a_higher_term() {
    let mut node = leader(3, &config());
    assert_eq!(
        node.deliver(2, aer(3, false, 0)),
        vec![Fx::Cancel(RaftTimer::Heartbeat), election_timer(), role(3, "follower")]
    );
    assert_eq!(
        (node.raft.role(), node.raft.current_term(), node.raft.voted_for()),
        (Role::Follower, 3, None)
    );
    assert!(!node.raft.is_leader());
}

/// Reference: Raft §5.2 — "If the leader's term is at least as large as the candidate's current
/// term, then the candidate recognizes the leader as legitimate and returns to follower state."
#[test]
fn candidate_returns_to_follower_on_append_entries_of_its_term() {
    let mut node = Node::started(1, 3, &config());
    node.fire(RaftTimer::Election);
    assert_eq!(
        node.deliver(2, ae(1, 2, 0, 0, vec![], 0)),
        vec![role(1, "follower"), election_timer(), send(2, aer(1, true, 0))]
    );
    assert_eq!(node.raft.leader_id(), Some(NodeId(2)));
}

// ---- Log replication (§5.3) --------------------------------------------------------------------

/// Reference: Raft Figure 2 (AppendEntries receiver, 1) — "Reply false if term < currentTerm";
/// the stale leader's message does not reset the election timer.
#[test]
fn rejects_append_entries_from_a_stale_leader() {
    let mut node = follower(1, 3, &config(), 2, vec![e(1, 1)]);
    assert_eq!(node.deliver(2, ae(1, 2, 1, 1, vec![e(1, 2)], 1)), vec![send(2, aer(2, false, 1))]);
    assert_eq!(node.raft.log().last_index(), 1);
}

/// Reference: Raft Figure 2 (AppendEntries receiver, 2) — "Reply false if log doesn't contain an
/// entry at prevLogIndex whose term matches prevLogTerm"; the failure carries the follower's last
/// index as a hint.
#[test]
fn consistency_check_fails_on_a_missing_or_mismatched_prev_entry() {
    let mut node = follower(1, 3, &config(), 1, vec![e(1, 1), e(1, 2)]);
    // Missing: nothing at index 3.
    assert_eq!(
        node.deliver(0, ae(1, 0, 3, 1, vec![e(1, 4)], 0)),
        vec![election_timer(), send(0, aer(1, false, 2))]
    );
    // Mismatched: index 2 holds term 1, not 2 (the new term is adopted and persisted).
    assert_eq!(
        node.deliver(0, ae(2, 0, 2, 2, vec![e(2, 3)], 0)),
        vec![election_timer(), send_persisted(0, aer(2, false, 2))]
    );
    assert_eq!(node.raft.log().last_index(), 2);
}

/// Reference: Raft Figure 2 (AppendEntries receiver, 3–4) — "If an existing entry conflicts with
/// a new one (same index but different terms), delete the existing entry and all that follow it";
/// append new entries. Matching entries before the conflict stay.
#[test]
fn conflicting_entries_are_truncated_and_replaced() {
    let mut node = follower(1, 3, &config(), 1, vec![e(1, 1), e(1, 2), e(1, 3), e(1, 4)]);
    let truncate = Fx::Note(Record::new(Event::Truncate).index(3).detail("to 2"));
    assert_eq!(
        node.deliver(0, ae(2, 0, 1, 1, vec![e(1, 2), e(2, 3)], 0)),
        vec![
            election_timer(),
            truncate,
            entry_row(Event::Store, 3, &e(2, 3)),
            send_persisted(0, aer(2, true, 3)),
        ]
    );
    let log = node.raft.log();
    assert_eq!((log.last_index(), log.term_at(2), log.get(3)), (3, Some(1), Some(&e(2, 3))));
}

/// Reference: Raft Figure 2 (AppendEntries receiver, 3) — only a *conflicting* entry is deleted:
/// a stale, duplicated or reordered AppendEntries whose entries match must not shorten the log.
#[test]
fn stale_or_duplicate_append_entries_never_truncate() {
    let log = vec![e(1, 1), e(1, 2), e(1, 3)];
    let mut node = follower(1, 3, &config(), 1, log.clone());
    // An older request carrying only the first entry: acknowledged up to what it carried.
    assert_eq!(
        node.deliver(0, ae(1, 0, 0, 0, vec![e(1, 1)], 0)),
        vec![election_timer(), send(0, aer(1, true, 1))]
    );
    // The same request as before, delivered twice.
    assert_eq!(node.deliver(0, ae(1, 0, 0, 0, log, 0)), vec![election_timer(), send(0, aer(1, true, 3))]);
    assert_eq!(node.raft.log().last_index(), 3);
}

/// Reference: Raft Figure 2 (AppendEntries receiver, 5) — "If leaderCommit > commitIndex, set
/// commitIndex = min(leaderCommit, index of last new entry)"; committed entries are applied in
/// log order (Rules for Servers: "apply log[lastApplied] to state machine").
#[test]
fn follower_commits_up_to_the_last_new_entry_and_applies_in_order() {
    let mut node = Node::started(1, 3, &config());
    let get = Entry::op(1, get(1, 7));
    let entries = [Entry::op(1, put(1, 11)), Entry::op(1, put(1, 12)), get.clone(), Entry::op(1, put(1, 14))];
    node.deliver(0, ae(1, 0, 0, 0, entries[..2].to_vec(), 0));
    let read = Record::new(Event::Read).key(1).index(3).value(Value::Id(12)).detail("get#7");
    assert_eq!(
        node.deliver(0, ae(1, 0, 2, 1, entries[2..].to_vec(), 3)),
        vec![
            election_timer(),
            entry_row(Event::Store, 3, &get),
            entry_row(Event::Store, 4, &entries[3]),
            commit(3, 1),
            entry_row(Event::Apply, 1, &entries[0]),
            entry_row(Event::Apply, 2, &entries[1]),
            entry_row(Event::Apply, 3, &get),
            Fx::Note(read),
            send_persisted(0, aer(1, true, 4)),
        ]
    );
    assert_eq!((node.raft.commit_index(), node.raft.last_applied(), node.raft.value(1)), (3, 3, Some(12)));
    // A heartbeat with a larger leaderCommit commits only what this request vouches for (index 2).
    assert_eq!(node.deliver(0, ae(1, 0, 2, 1, vec![], 9)), vec![election_timer(), send(0, aer(1, true, 2))]);
    assert_eq!(node.raft.commit_index(), 3);
}

/// Reference: Raft §5.3 — "After a rejection, the leader decrements nextIndex and retries"; the
/// follower's last index lets it skip further back at once. Never below matchIndex + 1 nor 1, and
/// never up; successes move matchIndex / nextIndex forward only. At most max_entries_per_append.
#[test]
fn leader_backs_off_next_index_and_ignores_stale_replies() {
    let cfg = RaftConfig { max_entries_per_append: 2, ..config() };
    let log: Vec<Entry> = (1..=5).map(|i| e(1, i)).collect();
    let mut node = leader_with_log(&cfg, 1, log.clone());
    assert_eq!(node.raft.progress(NodeId(1)), (6, 0));
    // Plain decrement when the hint is no help.
    assert_eq!(node.deliver(1, aer(2, false, 5)), vec![send(1, ae(2, 0, 4, 1, vec![e(1, 5)], 0))]);
    // Jump to the follower's last index + 1.
    assert_eq!(node.deliver(1, aer(2, false, 1)), vec![send(1, ae(2, 0, 1, 1, log[1..3].to_vec(), 0))]);
    // A reordered older rejection still backs off by one (never below 1).
    assert_eq!(node.deliver(1, aer(2, false, 5)), vec![send(1, ae(2, 0, 0, 0, log[0..2].to_vec(), 0))]);
    assert_eq!(node.deliver(1, aer(2, false, 5)), vec![]);
    assert_eq!(node.raft.progress(NodeId(1)), (1, 0));
    // Success: matchIndex 3, nextIndex 4, and the rest follows. Entries of term 1 do not commit.
    assert_eq!(node.deliver(1, aer(2, true, 3)), vec![send(1, ae(2, 0, 3, 1, log[3..5].to_vec(), 0))]);
    assert_eq!(node.raft.progress(NodeId(1)), (4, 3));
    // Stale success and stale failure leave progress alone.
    assert_eq!(node.deliver(1, aer(2, true, 2)), vec![]);
    assert_eq!(node.deliver(1, aer(2, false, 0)), vec![]);
    assert_eq!(node.raft.progress(NodeId(1)), (4, 3));
    // A reply from an earlier term is ignored.
    assert_eq!(node.deliver(1, aer(1, true, 5)), vec![]);
    assert_eq!(node.raft.progress(NodeId(1)), (4, 3));
}

// ---- Commitment (§5.4.2) -----------------------------------------------------------------------

/// Reference: Raft §5.4.2 / Figure 8 — "Raft never commits log entries from previous terms by
/// counting replicas. Only log entries from the leader's current term are committed by counting
/// replicas"; earlier entries then commit indirectly, and apply in order.
#[test]
fn leader_commits_only_entries_of_its_current_term() {
    let mut node = leader_with_log(&config(), 2, vec![e(1, 1), e(2, 2)]);
    // Index 2 (term 2) is on a majority (n0, n2), but the leader is in term 3.
    assert_eq!(node.deliver(2, aer(3, true, 2)), vec![]);
    assert_eq!(node.raft.commit_index(), 0);
    // A term-3 entry from a client, sent at once to followers with nothing else in flight.
    let put = put(5, 55);
    let entry = Entry::op(3, put);
    assert_eq!(
        node.client(put),
        vec![
            entry_row(Event::Append, 3, &entry),
            send_persisted(1, ae(3, 0, 2, 2, vec![entry.clone()], 0)),
            send_persisted(2, ae(3, 0, 2, 2, vec![entry.clone()], 0)),
        ]
    );
    assert_eq!(
        node.deliver(2, aer(3, true, 3)),
        vec![
            commit(3, 3),
            entry_row(Event::Apply, 1, &e(1, 1)),
            ok(101),
            entry_row(Event::Apply, 2, &e(2, 2)),
            ok(202),
            entry_row(Event::Apply, 3, &entry),
            ok(55),
        ]
    );
    assert_eq!((node.raft.commit_index(), node.raft.last_applied(), node.raft.value(5)), (3, 3, Some(55)));
}

/// Reference: Raft §5.4.2 / Figure 8, broken on purpose — Bug::Figure8Commit commits an entry of
/// an earlier term as soon as a majority holds it.
#[test]
fn bug_figure8_commit_commits_an_old_term_entry_by_counting_replicas() {
    let mut node = leader_with_log(&with_bug(Bug::Figure8Commit), 2, vec![e(1, 1), e(2, 2)]);
    assert_eq!(
        node.deliver(2, aer(3, true, 2)),
        vec![
            commit(2, 3),
            entry_row(Event::Apply, 1, &e(1, 1)),
            ok(101),
            entry_row(Event::Apply, 2, &e(2, 2)),
            ok(202)
        ]
    );
}

/// Reference: Raft §5.2 / §5.4.2 with N = 1 — a single server is its own majority: it elects
/// itself and commits each entry as soon as it is appended.
#[test]
fn single_node_cluster_elects_itself_and_commits_alone() {
    let mut node = Node::started(0, 1, &config());
    assert_eq!(
        node.fire(RaftTimer::Election),
        vec![
            role(1, "candidate"),
            vote(0, 1),
            role(1, "leader"),
            Fx::Cancel(RaftTimer::Election),
            Fx::Timer(RaftTimer::Heartbeat, HEARTBEAT_US),
        ]
    );
    let entry = Entry::op(1, put(0, 1));
    assert_eq!(
        node.client(put(0, 1)),
        vec![entry_row(Event::Append, 1, &entry), commit(1, 1), entry_row(Event::Apply, 1, &entry), ok(1)]
    );
}

// ---- Client commands (§8) ----------------------------------------------------------------------

/// Reference: Raft §8 — "If the client contacts a follower, the follower rejects its request and
/// supplies information about the most recent leader"; here the follower forwards the command to
/// that leader, at most `nodes` hops.
#[test]
fn follower_forwards_client_commands_to_the_leader() {
    let mut node = follower(1, 3, &config(), 1, vec![]);
    let put = put(2, 9);
    assert_eq!(node.client(put), vec![send(0, Msg::ClientForward(ClientForward { op: put, hops: 1 }))]);
    let refused = Record::new(Event::Note)
        .msg("put")
        .key(2)
        .index(9)
        .value(Value::Id(9))
        .detail("refused: forwarded 3 times, the limit for 3 nodes");
    assert_eq!(
        node.deliver(2, Msg::ClientForward(ClientForward { op: put, hops: 3 })),
        vec![Fx::Note(refused)]
    );
}

/// Reference: Raft §8 / Figure 2 (Leaders) — "If command received from client: append entry to
/// local log"; a forwarded command is a client command at the leader.
#[test]
fn leader_appends_forwarded_commands() {
    let mut node = leader(3, &config());
    let get = get(4, 30);
    let entry = Entry::op(1, get);
    assert_eq!(
        node.deliver(1, Msg::ClientForward(ClientForward { op: get, hops: 1 })),
        vec![
            entry_row(Event::Append, 1, &entry),
            send_persisted(1, ae(1, 0, 0, 0, vec![entry.clone()], 0)),
            send_persisted(2, ae(1, 0, 0, 0, vec![entry], 0)),
        ]
    );
}

/// Reference: Raft §8 (client interaction) — with no known leader a node holds commands in a
/// bounded buffer (pending_max = 2 here), retries on a timer, and hands them to the first leader
/// it hears from.
#[test]
fn pending_buffer_is_bounded_retried_and_flushed_to_a_new_leader() {
    let mut node = Node::started(1, 3, &config());
    let ops: Vec<ClientOp> = (1..=3).map(|v| put(0, v)).collect();
    assert_eq!(node.client(ops[0]), vec![Fx::Timer(RaftTimer::ClientRetry, RETRY_US)]);
    assert_eq!(node.client(ops[1]), vec![]);
    let refused = Record::new(Event::Note)
        .msg("put")
        .key(0)
        .index(3)
        .value(Value::Id(3))
        .detail("refused: no known leader and pending buffer full (2)");
    // Straight from the client and refused: no copy of it exists anywhere.
    assert_eq!(node.client(ops[2]), vec![Fx::Note(refused), Fx::Reply(3, ClientReply::Refused("no_leader"))]);
    assert_eq!(node.raft.pending_len(), 2);
    // Still no leader at the retry: held again.
    assert_eq!(node.fire(RaftTimer::ClientRetry), vec![Fx::Timer(RaftTimer::ClientRetry, RETRY_US)]);
    assert_eq!(node.raft.pending_len(), 2);
    // A leader appears (its term is new to this node, so every message waits for the fsync).
    let forward = |op: &ClientOp| Msg::ClientForward(ClientForward { op: *op, hops: 1 });
    assert_eq!(
        node.deliver(2, ae(1, 2, 0, 0, vec![], 0)),
        vec![
            election_timer(),
            Fx::Cancel(RaftTimer::ClientRetry),
            send_persisted(2, forward(&ops[0])),
            send_persisted(2, forward(&ops[1])),
            send_persisted(2, aer(1, true, 0)),
        ]
    );
    assert_eq!(node.raft.pending_len(), 0);
}

// ---- Persistence and crashes (Figure 2: persistent state) --------------------------------------

/// Reference: Raft Figure 2 — currentTerm, votedFor and log[] are "persistent state on all
/// servers"; commitIndex, lastApplied and leader state are volatile. After a restart the state
/// machine is rebuilt by applying again once the commit index is learned.
#[test]
fn restart_keeps_term_vote_and_log_and_clears_volatile_state() {
    let mut node = Node::started(1, 3, &config());
    node.deliver(0, rv(1, 0, 0, 0));
    node.deliver(0, ae(1, 0, 0, 0, vec![e(1, 1), e(1, 2)], 2));
    assert_eq!((node.raft.commit_index(), node.raft.value(2)), (2, Some(102)));
    node.client(put(9, 9));

    assert_eq!(node.restart(), vec![role(1, "follower"), election_timer()]);
    let r = &node.raft;
    assert_eq!((r.current_term(), r.voted_for(), r.log().last_index()), (1, Some(NodeId(0)), 2));
    assert_eq!((r.role(), r.commit_index(), r.last_applied()), (Role::Follower, 0, 0));
    assert_eq!((r.leader_id(), r.value(2), r.pending_len()), (None, None, 0));
    // Still bound by its vote in term 1.
    assert_eq!(node.deliver(2, rv(1, 2, 9, 1)), vec![send(2, rvr(1, false))]);
    // Re-applies from index 1 once the leader says what is committed.
    assert_eq!(
        node.deliver(0, ae(1, 0, 2, 1, vec![], 2)),
        vec![
            election_timer(),
            commit(2, 1),
            entry_row(Event::Apply, 1, &e(1, 1)),
            entry_row(Event::Apply, 2, &e(1, 2)),
            send(0, aer(1, true, 2)),
        ]
    );
}

/// Reference: Raft Figure 2 ("updated on stable storage before responding") — the fsync model. A
/// crash before a persist completes loses what it would have written: the term and vote revert,
/// the log is cut back to its durable length, the restart writes what was lost, and the reply that
/// waited for the persist never leaves (the runner drops it with the node's old incarnation).
#[test]
fn a_crash_before_the_persist_completes_loses_the_unsynced_state() {
    let mut node = Node::started(1, 3, &config());
    node.deliver(0, ae(1, 0, 0, 0, vec![e(1, 1)], 0)); // durable: term 1, entry 1
                                                       // Entry 2 and term 2's vote are written but their persist is still in flight at the crash.
    let mut effects = Vec::new();
    let mut ctx = Ctx::new(node.now, node.id, 3, &mut node.timer_rng, &mut node.rng, &mut effects);
    node.raft.on_message(&mut ctx, NodeId(0), ae(1, 0, 1, 1, vec![e(1, 2)], 0));
    node.raft.on_message(&mut ctx, NodeId(2), rv(2, 2, 2, 1));
    assert!(effects.iter().any(|f| matches!(f, Effect::Send { delay, .. } if delay.as_us() == PERSIST_US)));
    assert_eq!((node.raft.current_term(), node.raft.log().last_index()), (2, 2));
    let rows = node.restart();
    let r = &node.raft;
    assert_eq!((r.current_term(), r.voted_for(), r.log().last_index()), (1, None, 1));
    let notes: Vec<(Event, Option<u64>, Option<u64>)> = rows
        .iter()
        .filter_map(|f| match f {
            Fx::Note(row) => Some((row.event, row.term, row.index)),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        [(Event::Note, Some(1), None), (Event::Truncate, None, Some(2)), (Event::Role, Some(1), None)]
    );
}

/// Reference: Raft Figure 2, broken on purpose — Bug::ForgetVotedFor loses votedFor in a crash,
/// so the node votes a second time in the same term.
#[test]
fn bug_forget_voted_for_votes_twice_in_a_term_after_restart() {
    let mut node = Node::started(1, 3, &with_bug(Bug::ForgetVotedFor));
    node.deliver(0, rv(1, 0, 0, 0));
    node.restart();
    assert_eq!((node.raft.current_term(), node.raft.voted_for()), (1, None));
    assert_eq!(
        node.deliver(2, rv(1, 2, 0, 0)),
        vec![vote(2, 1), election_timer(), send_persisted(2, rvr(1, true))]
    );
}

/// Reference: Raft Figure 2 — "Updated on stable storage before responding to RPCs": a handler
/// that changed persistent state releases its messages only after persist_delay_us; one that did
/// not sends at once.
#[test]
fn persist_delay_applies_only_when_persistent_state_changed() {
    let mut node = Node::started(1, 3, &config());
    // New term and new entry: delayed.
    assert_eq!(
        node.deliver(0, ae(1, 0, 0, 0, vec![e(1, 1)], 0)),
        vec![election_timer(), entry_row(Event::Store, 1, &e(1, 1)), send_persisted(0, aer(1, true, 1))]
    );
    // Heartbeat that changes nothing persistent (a commit is volatile): immediate.
    assert_eq!(
        node.deliver(0, ae(1, 0, 1, 1, vec![], 1)),
        vec![election_timer(), commit(1, 1), entry_row(Event::Apply, 1, &e(1, 1)), send(0, aer(1, true, 1))]
    );
    // With no fsync time configured, persisted replies are not delayed either.
    let mut node = Node::started(1, 3, &RaftConfig { persist_delay_us: 0, ..config() });
    assert_eq!(node.deliver(0, rv(1, 0, 0, 0)), vec![vote(0, 1), election_timer(), send(0, rvr(1, true))]);
}

// ---- Client sessions (§8, thesis §6.3) --------------------------------------------------------

/// Reference: Raft §8 — "the state machine ... tracks the latest serial number processed for each
/// client ... If it receives a command whose serial number has already been executed, it responds
/// immediately without re-executing the request." The duplicate shows as an `apply` row with
/// detail `duplicate`, not as a fresh apply.
#[test]
fn a_command_in_the_log_twice_is_applied_once() {
    let put7 = Entry::op(1, put(1, 7));
    let mut node = follower(1, 3, &config(), 1, vec![]);
    let effects =
        node.deliver(0, ae(1, 0, 0, 0, vec![put7.clone(), Entry::op(1, put(1, 8)), put7.clone()], 3));
    let applies: Vec<&Record> = effects
        .iter()
        .filter_map(|fx| match fx {
            Fx::Note(r) if r.event == Event::Apply => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(applies.len(), 3, "every index is applied, in order");
    assert_eq!(applies[2].detail, "duplicate");
    assert_eq!(applies[0].detail, "");
    assert_eq!(node.raft.value(1), Some(8), "the resent v7 does not overwrite the later v8");
}

/// Reference: Raft §8, broken on purpose — Bug::NoSessionDedupe applies the resent v7 again.
#[test]
fn bug_no_session_dedupe_applies_a_resent_command_twice() {
    let put7 = Entry::op(1, put(1, 7));
    let mut node = follower(1, 3, &with_bug(Bug::NoSessionDedupe), 1, vec![]);
    node.deliver(0, ae(1, 0, 0, 0, vec![put7.clone(), Entry::op(1, put(1, 8)), put7], 3));
    assert_eq!(node.raft.value(1), Some(7), "the resend overwrote the later write");
}

/// Reference: Raft §8 — a leader that already holds a resent command does not append it again
/// (found: a new leader re-appended held commands, raft_chaos seed 2 had v96 at 35 and 106).
#[test]
fn leader_does_not_append_a_command_it_already_has() {
    let mut node = leader(3, &config());
    let forward = Msg::ClientForward(ClientForward { op: put(3, 5), hops: 1 });
    assert!(!node.deliver(1, forward.clone()).is_empty());
    assert_eq!(node.deliver(2, forward), vec![]);
    assert_eq!(node.raft.log().last_index(), 1);
}

/// Reference: Raft §8 — the leader answers a resend of an applied command from the session, at
/// once, without appending; it answers a fresh command when it applies it.
#[test]
fn leader_answers_a_resend_of_an_applied_command_from_its_session() {
    let mut node = Node::started(0, 1, &config());
    node.fire(RaftTimer::Election);
    let entry = Entry::op(1, put(0, 1));
    assert_eq!(
        node.client(put(0, 1)),
        vec![entry_row(Event::Append, 1, &entry), commit(1, 1), entry_row(Event::Apply, 1, &entry), ok(1)]
    );
    assert_eq!(node.client(put(0, 1)), vec![ok(1)]);
    assert_eq!(node.raft.log().last_index(), 1);
}

/// Reference: Raft §8 — a compare-and-set whose precondition is false has no effect and fails
/// (`cas_mismatch`); one whose precondition holds writes.
#[test]
fn cas_applies_only_when_the_expected_value_is_held() {
    let mut node = Node::started(0, 1, &config());
    node.fire(RaftTimer::Election);
    node.client(put(0, 1));
    let fx = node.client(ClientOp::cas(2, 2, 0, Some(9)));
    assert_eq!(fx.last(), Some(&Fx::Reply(2, ClientReply::Fail("cas_mismatch"))));
    assert_eq!(node.raft.value(0), Some(1));
    let fx = node.client(ClientOp::cas(3, 3, 0, Some(1)));
    assert_eq!(fx.last(), Some(&ok(3)));
    assert_eq!(node.raft.value(0), Some(3));
}

/// Reference: Raft §8 — a new leader takes over the commands it held while leaderless, but never
/// appends one its log already holds; the held buffer never holds one op twice.
#[test]
fn new_leader_does_not_re_append_held_commands_it_already_has() {
    let mut node = Node::started(1, 3, &config());
    node.deliver(0, ae(1, 0, 0, 0, vec![Entry::op(1, put(2, 9))], 0));
    node.fire(RaftTimer::Election);
    assert_eq!(node.raft.role(), Role::Candidate);
    node.client(put(2, 9));
    node.client(put(2, 9));
    node.client(put(2, 10));
    assert_eq!(node.raft.pending_len(), 2, "a resend is held once");
    node.deliver(2, rvr(2, true));
    assert_eq!(node.raft.role(), Role::Leader);
    assert_eq!(node.raft.log().last_index(), 2, "v9 is not appended again, v10 is");
}

// ---- The §8 no-op --------------------------------------------------------------------------------

/// Reference: Raft §8 — "each leader commit[s] a blank no-op entry into the log at the start of
/// its term", so entries of earlier terms (which §5.4.2 forbids committing by counting) commit
/// with it. The no-op shows as msg `noop` with no key or value.
#[test]
fn new_leader_appends_a_noop_that_commits_earlier_entries() {
    let mut node = leader_with_log(&with_noop(), 1, vec![e(1, 1)]);
    let noop = Entry::noop(2);
    assert_eq!(node.raft.log().get(2), Some(&noop));
    assert_eq!(
        node.deliver(2, aer(2, true, 2)),
        vec![commit(2, 2), entry_row(Event::Apply, 1, &e(1, 1)), ok(101), entry_row(Event::Apply, 2, &noop)]
    );
    assert_eq!(node.raft.value(1), Some(101));
}

// ---- Pipelining and fast backtracking (raft.max_inflight_appends, raft.fast_backtrack) ----------

/// Pipelined replication without a disk delay, one entry per request.
fn pipelined(window: u64) -> RaftConfig {
    RaftConfig { max_inflight_appends: window, max_entries_per_append: 1, persist_delay_us: 0, ..config() }
}

/// The messages among `effects`, in order.
fn sends(effects: Vec<Fx>) -> Vec<Fx> {
    effects.into_iter().filter(|f| matches!(f, Fx::Send { .. })).collect()
}

/// A rejection that names its request (`rejected`), with fast backtracking's conflict.
fn named(term: u64, last: u64, rejected: u64, conflict: Option<(Option<u64>, u64)>) -> Msg {
    Msg::AppendEntriesReply(AppendEntriesReply {
        term,
        success: false,
        match_index: last,
        read_round: 0,
        rejected_prev: Some(rejected),
        conflict_term: conflict.and_then(|c| c.0),
        conflict_index: conflict.map(|c| c.1),
    })
}

/// Pipelining (etcd's Probe / Replicate): a new leader probes (one request, stop-and-wait) until
/// a follower acknowledges; then every request advances `next_index` at once, up to the window of
/// 3 in flight. A reordered acknowledgement frees the slots it covers; an older one arriving after
/// it changes nothing: Figure 2, matchIndex "increases monotonically". The bug
/// `pipeline_match_regress` moves it back.
#[test]
fn pipelined_leader_fills_a_window_and_match_index_never_moves_back() {
    for bug in [Bug::None, Bug::PipelineMatchRegress] {
        let mut node = leader(3, &RaftConfig { bug, ..pipelined(3) });
        // Probing: the first entry goes out, the second waits for the reply.
        assert_eq!(
            sends(node.client(put(1, 101))),
            vec![send(1, ae(1, 0, 0, 0, vec![e(1, 1)], 0)), send(2, ae(1, 0, 0, 0, vec![e(1, 1)], 0))]
        );
        assert_eq!(sends(node.client(put(2, 102))), vec![]);
        assert_eq!(sends(node.deliver(1, aer(1, true, 1))), vec![send(1, ae(1, 0, 1, 1, vec![e(1, 2)], 1))]);
        // Replicating: new entries go out at once, three in flight at most.
        assert_eq!(sends(node.client(put(3, 103))), vec![send(1, ae(1, 0, 2, 1, vec![e(1, 3)], 1))]);
        assert_eq!(sends(node.client(put(4, 104))), vec![send(1, ae(1, 0, 3, 1, vec![e(1, 4)], 1))]);
        assert_eq!(sends(node.client(put(5, 105))), vec![]);
        assert_eq!(node.raft.progress(NodeId(1)), (5, 1));
        // The ack of 3 overtook that of 2: it frees two slots, and entry 5 follows.
        assert_eq!(sends(node.deliver(1, aer(1, true, 3))), vec![send(1, ae(1, 0, 4, 1, vec![e(1, 5)], 3))]);
        assert_eq!(node.raft.progress(NodeId(1)), (6, 3));
        assert_eq!(sends(node.deliver(1, aer(1, true, 2))), vec![]);
        let matched = if bug == Bug::None { 3 } else { 2 };
        assert_eq!(node.raft.progress(NodeId(1)), (6, matched), "{bug:?}");
        assert_eq!(node.raft.commit_index(), 3, "commit_index never moves back either way");
    }
}

/// A rejection names its request by `prev_log_index`: the first backs `next_index` off to the
/// follower's hint and the flow probes again; its duplicate (and a rejection of a request sent
/// later, from the abandoned window) changes nothing — the paper's Raft would back off again.
#[test]
fn a_named_rejection_backs_next_index_off_once() {
    let mut node = leader(3, &pipelined(4));
    for i in 1..=4 {
        node.client(put(i, 100 + i));
    }
    node.deliver(1, aer(1, true, 1));
    assert_eq!(node.raft.progress(NodeId(1)), (5, 1));
    // Four in flight (2, 3, 4, 5); 6 waits for a slot.
    for i in 5..=6 {
        node.client(put(i, 100 + i));
    }
    assert_eq!(node.raft.progress(NodeId(1)), (6, 1));
    // The request at prev 3 found n1's log ending at 2: back to 3, one request.
    assert_eq!(sends(node.deliver(1, named(1, 2, 3, None))), vec![send(1, ae(1, 0, 2, 1, vec![e(1, 3)], 1))]);
    assert_eq!(node.raft.progress(NodeId(1)), (3, 1));
    assert_eq!(sends(node.deliver(1, named(1, 2, 3, None))), vec![]);
    assert_eq!(sends(node.deliver(1, named(1, 2, 5, None))), vec![]);
    assert_eq!(node.raft.progress(NodeId(1)), (3, 1));
}

/// Reference: Raft §5.3 (end) — "the follower can include the term of the conflicting entry and
/// the first index it stores for that term. With this information, the leader can decrement
/// nextIndex to bypass all of the conflicting entries in that term". The follower's side: its
/// entry at the rejected index has term 2, first held at 3; a log that ends early says where.
#[test]
fn fast_backtracking_follower_names_the_conflicting_term_and_its_first_index() {
    let cfg = RaftConfig { fast_backtrack: true, persist_delay_us: 0, ..config() };
    let mut node = follower(1, 3, &cfg, 2, vec![e(1, 1), e(1, 2), e(2, 3), e(2, 4), e(2, 5)]);
    let rejected = |node: &mut Node, prev: u64| -> Vec<Fx> {
        node.deliver(0, ae(3, 0, prev, 3, vec![], 0))
            .into_iter()
            .filter(|f| matches!(f, Fx::Send { .. }))
            .collect()
    };
    assert_eq!(rejected(&mut node, 5), vec![send(0, named(3, 5, 5, Some((Some(2), 3))))]);
    assert_eq!(rejected(&mut node, 2), vec![send(0, named(3, 5, 2, Some((Some(1), 1))))]);
    assert_eq!(rejected(&mut node, 9), vec![send(0, named(3, 5, 9, Some((None, 6))))]);
}

/// The leader's side: with no entry of the follower's conflicting term it skips to the first
/// index the follower holds of it (one round trip for the whole term, not one per entry); with
/// entries of that term it resumes just past its last one.
#[test]
fn fast_backtracking_leader_skips_the_conflicting_term() {
    let cfg = RaftConfig { fast_backtrack: true, persist_delay_us: 0, ..config() };
    let log = vec![e(1, 1), e(1, 2), e(3, 3), e(3, 4), e(3, 5)];
    let mut node = leader_with_log(&cfg, 3, log.clone());
    assert_eq!(node.raft.progress(NodeId(1)), (6, 0));
    // n1 holds term 2 from index 3 on: the leader has no term 2, so it resends from 3.
    assert_eq!(
        sends(node.deliver(1, named(4, 5, 5, Some((Some(2), 3))))),
        vec![send(1, ae(4, 0, 2, 1, log[2..].to_vec(), 0))]
    );
    assert_eq!(node.raft.progress(NodeId(1)), (3, 0));
    let log = vec![e(1, 1), e(2, 2), e(2, 3), e(3, 4), e(3, 5)];
    let mut node = leader_with_log(&cfg, 3, log.clone());
    // n1's entry at 5 is of term 2 (first at 2): the leader's last term-2 entry is 3, so from 4.
    assert_eq!(
        sends(node.deliver(1, named(4, 5, 5, Some((Some(2), 2))))),
        vec![send(1, ae(4, 0, 3, 2, log[3..].to_vec(), 0))]
    );
}
