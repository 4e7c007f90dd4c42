//! Step tests for the deployed switches: one node, one input, the effects it must produce.
//! Pre-Vote (Raft thesis §9.6), CheckQuorum, leadership transfer (thesis §3.10, TimeoutNow).

use dsim::client::{ClientOp, ClientReply};
use dsim::protocol::{AdminOp, Ctx, Effect, Protocol};
use dsim::raft::{
    AppendEntries, AppendEntriesReply, Msg, RaftConfig, RaftNode, RaftTimer, RequestVote, RequestVoteReply,
    Role, TimeoutNow,
};
use dsim::sim::rng::{Purpose, SimRng, Streams};
use dsim::sim::{NodeId, SimTime};

struct Node {
    raft: RaftNode,
    now: SimTime,
    id: NodeId,
    timer_rng: SimRng,
    rng: SimRng,
}

impl Node {
    fn started(id: u32, config: &RaftConfig) -> Node {
        let streams = Streams::new(7);
        let id = NodeId(id);
        let mut node = Node {
            raft: RaftNode::new(id, 3, config),
            now: SimTime::ZERO,
            id,
            timer_rng: streams.stream(Purpose::NodeTimers(id)),
            rng: streams.stream(Purpose::Node(id)),
        };
        node.step(|r, c| r.on_start(c));
        node
    }

    fn step(&mut self, input: impl FnOnce(&mut RaftNode, &mut Ctx<'_, RaftNode>)) -> Vec<Effect<RaftNode>> {
        let mut effects = Vec::new();
        let mut ctx = Ctx::new(self.now, self.id, 3, &mut self.timer_rng, &mut self.rng, &mut effects);
        input(&mut self.raft, &mut ctx);
        effects
    }

    fn deliver(&mut self, from: u32, msg: Msg) -> Vec<Effect<RaftNode>> {
        self.step(|r, c| r.on_message(c, NodeId(from), msg))
    }

    fn fire(&mut self, timer: RaftTimer) -> Vec<Effect<RaftNode>> {
        self.step(|r, c| r.on_timer(c, timer))
    }

    fn at_ms(&mut self, ms: u64) -> &mut Node {
        self.now = SimTime::from_ms(ms);
        self
    }
}

fn sent(effects: &[Effect<RaftNode>]) -> Vec<(u32, Msg)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg, .. } => Some((to.0, msg.clone())),
            _ => None,
        })
        .collect()
}

fn config() -> RaftConfig {
    RaftConfig { election_timeout_ms: [150, 150], heartbeat_ms: 50, noop: false, ..RaftConfig::default() }
}

fn pre_vote(term: u64, candidate: u32) -> Msg {
    Msg::PreVote(RequestVote {
        term,
        candidate_id: NodeId(candidate),
        last_log_index: 0,
        last_log_term: 0,
        leadership_transfer: false,
    })
}

fn heartbeat(term: u64) -> Msg {
    Msg::AppendEntries(AppendEntries {
        term,
        leader_id: NodeId(1),
        prev_log_index: 0,
        prev_log_term: 0,
        entries: Vec::new(),
        leader_commit: 0,
        read_round: 0,
    })
}

/// Makes node 0 of 3 the leader of term 1 (with a pre-vote round when `pre_vote` is on).
fn leader(config: &RaftConfig) -> Node {
    let mut n = Node::started(0, config);
    n.fire(RaftTimer::Election);
    if config.pre_vote {
        n.deliver(1, Msg::PreVoteReply(RequestVoteReply { term: 1, vote_granted: true }));
    }
    n.deliver(1, Msg::RequestVoteReply(RequestVoteReply { term: 1, vote_granted: true }));
    assert_eq!(n.raft.role(), Role::Leader);
    n
}

/// §9.6: the timer makes a pre-candidate that keeps its term and asks for term + 1; a majority
/// of grants makes it a candidate of term + 1.
#[test]
fn a_pre_vote_round_keeps_the_term_until_a_majority_grants() {
    let config = RaftConfig { pre_vote: true, ..config() };
    let mut n = Node::started(0, &config);
    let out = n.fire(RaftTimer::Election);
    assert_eq!((n.raft.role(), n.raft.current_term(), n.raft.voted_for()), (Role::PreCandidate, 0, None));
    assert_eq!(sent(&out), vec![(1, pre_vote(1, 0)), (2, pre_vote(1, 0))]);
    // A refusal of an old term changes nothing; a grant makes the majority (2 of 3).
    n.deliver(2, Msg::PreVoteReply(RequestVoteReply { term: 0, vote_granted: false }));
    assert_eq!(n.raft.role(), Role::PreCandidate);
    let out = n.deliver(1, Msg::PreVoteReply(RequestVoteReply { term: 1, vote_granted: true }));
    assert_eq!((n.raft.role(), n.raft.current_term()), (Role::Candidate, 1));
    assert!(sent(&out).iter().all(|(_, m)| matches!(m, Msg::RequestVote(r) if r.term == 1)));
}

/// §9.6: a grant records nothing (no term, no vote); a node that heard from a leader within the
/// election timeout's minimum refuses, with its own term.
#[test]
fn a_pre_vote_is_granted_only_without_a_recent_leader_and_binds_nothing() {
    let config = RaftConfig { pre_vote: true, ..config() };
    let mut n = Node::started(2, &config);
    let out = n.deliver(0, pre_vote(1, 0));
    assert_eq!(sent(&out), vec![(0, Msg::PreVoteReply(RequestVoteReply { term: 1, vote_granted: true }))]);
    assert_eq!((n.raft.current_term(), n.raft.voted_for()), (0, None));
    n.at_ms(10).deliver(1, heartbeat(1));
    let out = n.at_ms(100).deliver(0, pre_vote(2, 0));
    assert_eq!(sent(&out), vec![(0, Msg::PreVoteReply(RequestVoteReply { term: 1, vote_granted: false }))]);
    // After the minimum election timeout without the leader, it grants again.
    let out = n.at_ms(161).deliver(0, pre_vote(2, 0));
    assert_eq!(sent(&out), vec![(0, Msg::PreVoteReply(RequestVoteReply { term: 2, vote_granted: true }))]);
    assert_eq!(n.raft.current_term(), 1);
}

/// CheckQuorum: a leader that heard no reply within the minimum election timeout steps down at
/// its next input; one reply of its term from a peer (with itself, 2 of 3) keeps it.
#[test]
fn check_quorum_steps_a_silent_leader_down() {
    let config = RaftConfig { check_quorum: true, ..config() };
    let mut n = leader(&config);
    let reply = Msg::AppendEntriesReply(AppendEntriesReply {
        term: 1,
        success: true,
        match_index: 0,
        read_round: 1,
        rejected_prev: None,
        conflict_term: None,
        conflict_index: None,
    });
    n.at_ms(100).deliver(2, reply);
    n.at_ms(200).fire(RaftTimer::Heartbeat);
    assert_eq!(n.raft.role(), Role::Leader, "heard from n2 100 ms ago");
    n.at_ms(251).fire(RaftTimer::Heartbeat);
    assert_eq!(n.raft.role(), Role::Follower);
    assert_eq!(n.raft.current_term(), 1);
}

/// §3.10: a transfer to a caught-up follower sends it TimeoutNow at once; meanwhile a new client
/// command is refused; TimeoutNow makes its target stand at once in the next term.
#[test]
fn a_transfer_refuses_commands_and_timeout_now_starts_an_election() {
    let mut n = leader(&config());
    let out = n.step(|r, c| r.on_admin(c, AdminOp::TransferLeadership { to: Some(NodeId(2)) }));
    assert_eq!(sent(&out), vec![(2, Msg::TimeoutNow(TimeoutNow { term: 1, leader_id: NodeId(0) }))]);
    let out = n.step(|r, c| r.on_client(c, ClientOp::write(7, 7, 0), 0));
    assert!(out
        .iter()
        .any(|e| matches!(e, Effect::Reply { op: 7, reply: ClientReply::Refused("transferring") })));
    assert_eq!(n.raft.log().last_index(), 0, "nothing appended while transferring");
    // The abort timer gives leadership back to the old leader's clients.
    n.fire(RaftTimer::TransferAbort);
    n.step(|r, c| r.on_client(c, ClientOp::write(8, 8, 0), 0));
    assert_eq!(n.raft.log().last_index(), 1);

    let mut target = Node::started(2, &config());
    target.deliver(0, heartbeat(1));
    let out = target.deliver(0, Msg::TimeoutNow(TimeoutNow { term: 1, leader_id: NodeId(0) }));
    assert_eq!((target.raft.role(), target.raft.current_term()), (Role::Candidate, 2));
    assert_eq!(sent(&out).len(), 2);
}
