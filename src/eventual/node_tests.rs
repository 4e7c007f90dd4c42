//! Step tests: one node, one input, the exact effects. References are to the Dynamo paper
//! (DeCandia et al., SOSP 2007).

use super::*;
use crate::protocol::Effect;
use crate::sim::rng::{Purpose, SimRng, Streams};
use crate::sim::SimTime;

/// The two client ops of these tests, in the node's old terms (a put's value id is its op id).
enum Op {
    Put { key: u64, value: u64 },
    Get { key: u64, id: u64 },
}

impl Op {
    fn client_op(self) -> ClientOp {
        match self {
            Op::Put { key, value } => ClientOp::write(0, value, key),
            Op::Get { key, id } => ClientOp::read(0, id, key),
        }
    }
}

fn vc(c: &[u64]) -> VClock {
    VClock::from_counters(c)
}

fn ver(value: u64, clock: &[u64], coordinator: u32) -> Version {
    Version::write(value, vc(clock), NodeId(coordinator))
}

/// A node plus its two streams, driven one input at a time.
struct Step {
    node: EventualNode,
    timer_rng: SimRng,
    rng: SimRng,
    now: SimTime,
}

impl Step {
    fn new(id: u32, nodes: u32, config: EventualConfig) -> Step {
        let streams = Streams::new(9);
        Step {
            node: EventualNode::new(NodeId(id), nodes, &config),
            timer_rng: streams.stream(Purpose::NodeTimers(NodeId(id))),
            rng: streams.stream(Purpose::Node(NodeId(id))),
            now: SimTime::from_ms(5),
        }
    }

    fn run(
        &mut self,
        f: impl FnOnce(&mut EventualNode, &mut Ctx<'_, EventualNode>),
    ) -> Vec<Effect<EventualNode>> {
        let mut effects = Vec::new();
        let id = self.node.id;
        let nodes = self.node.nodes;
        let mut ctx = Ctx::new(self.now, id, nodes, &mut self.timer_rng, &mut self.rng, &mut effects);
        f(&mut self.node, &mut ctx);
        effects
    }

    fn client(&mut self, op: Op) -> Vec<Effect<EventualNode>> {
        self.run(|n, ctx| n.on_client(ctx, op.client_op(), 0))
    }

    /// A put carrying the context `context` (Dynamo §4.4), as the runner hands it over.
    fn put_with(&mut self, key: u64, value: u64, context: &[u64]) -> Vec<Effect<EventualNode>> {
        let mut effects = Vec::new();
        let (id, nodes) = (self.node.id, self.node.nodes);
        let ctx = Ctx::new(self.now, id, nodes, &mut self.timer_rng, &mut self.rng, &mut effects);
        let mut ctx = ctx.with_client_context(Some(vc(context).to_trace()));
        self.node.on_client(&mut ctx, ClientOp::write(0, value, key), 0);
        effects
    }

    fn deliver(&mut self, from: u32, msg: EventualMsg) -> Vec<Effect<EventualNode>> {
        self.run(|n, ctx| n.on_message(ctx, NodeId(from), msg))
    }

    fn timer(&mut self, t: EventualTimer) -> Vec<Effect<EventualNode>> {
        self.run(|n, ctx| n.on_timer(ctx, t))
    }
}

fn sends(effects: &[Effect<EventualNode>]) -> Vec<(NodeId, EventualMsg)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Send { to, msg, .. } => Some((*to, msg.clone())),
            _ => None,
        })
        .collect()
}

fn notes(effects: &[Effect<EventualNode>]) -> Vec<Record> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Note(r) => Some((**r).clone()),
            _ => None,
        })
        .collect()
}

/// Rows rendered `event msg key value clock detail` for compact exact comparisons.
fn rows(effects: &[Effect<EventualNode>]) -> Vec<String> {
    notes(effects)
        .iter()
        .map(|r| {
            let key = r.key.map(|k| format!("k{k}")).unwrap_or_default();
            let clock = r.clock.as_ref().map(|c| c.to_string()).unwrap_or_default();
            format!("{} {} {} {} {} {}", r.event, r.msg, key, r.value, clock, r.detail)
        })
        .collect()
}

fn dynamo(policy: Policy) -> EventualConfig {
    EventualConfig { policy, anti_entropy_ms: 0, ..Default::default() }
}

/// Dynamo §4.4: the coordinator bumps its own entry over the clocks it holds and §4.5 sends the new
/// version to the other replicas; with W = 1 it acknowledges at once.
#[test]
fn put_bumps_clock_over_held_versions_and_replicates_to_every_peer() {
    let mut s = Step::new(0, 3, dynamo(Policy::Siblings));
    let e = s.client(Op::Put { key: 1, value: 10 });
    let v10 = ver(10, &[1], 0);
    assert_eq!(
        sends(&e),
        vec![
            (NodeId(1), EventualMsg::Replicate { key: 1, versions: vec![v10.clone()].into(), req: None }),
            (NodeId(2), EventualMsg::Replicate { key: 1, versions: vec![v10.clone()].into(), req: None }),
        ]
    );
    assert_eq!(rows(&e), vec!["write  k1 v10 n0:1 ", "note put_ack k1 v10 n0:1 acks=1/1"]);
    assert_eq!(e.len(), 5, "no timer with W = 1: {e:?}");
    let context = vc(&[1]).to_trace();
    assert!(
        matches!(&e[4], Effect::Reply { op: 10, reply: ClientReply::OkWithContext(Value::None, c) } if *c == context),
        "acked at once, with the write's clock as the next context"
    );

    // n0 now holds two siblings (its own v10 and n1's concurrent v11). A blind write (no context)
    // supersedes only the coordinator's own entry and stays a sibling of v11, which it never saw.
    s.deliver(1, EventualMsg::Replicate { key: 1, versions: vec![ver(11, &[0, 1], 1)].into(), req: None });
    assert_eq!(s.node.store().get(1).len(), 2);
    let e = s.client(Op::Put { key: 1, value: 12 });
    assert_eq!(rows(&e)[0], "write  k1 v12 n0:2 ");
    assert_eq!(s.node.store().get(1), &[ver(11, &[0, 1], 1), ver(12, &[2], 0)]);
    // A put whose context saw both descends from both.
    let e = s.put_with(1, 13, &[2, 1]);
    assert_eq!(rows(&e)[0], "write  k1 v13 n0:3;n1:1 ");
    assert_eq!(s.node.store().get(1), &[ver(13, &[3, 1], 0)]);
}

/// Dynamo §4.4: a put from a context that missed a version held elsewhere becomes its sibling
/// at the replica that holds it, instead of overwriting it.
#[test]
fn a_put_from_an_old_context_is_a_sibling_of_what_it_missed() {
    let mut s = Step::new(1, 3, dynamo(Policy::Siblings));
    s.deliver(0, EventualMsg::Replicate { key: 1, versions: vec![ver(1, &[1], 0)].into(), req: None });
    s.deliver(0, EventualMsg::Replicate { key: 1, versions: vec![ver(2, &[2], 0)].into(), req: None });
    let e = s.put_with(1, 3, &[1]);
    assert_eq!(rows(&e)[0], "write  k1 v3 n0:1;n1:1 ");
    assert_eq!(s.node.store().get(1), &[ver(2, &[2], 0), ver(3, &[1, 1], 1)]);
}

/// Dynamo §4.4: concurrent versions are both kept (siblings) and the meeting is reported.
#[test]
fn siblings_keep_a_concurrent_version() {
    let mut s = Step::new(2, 3, dynamo(Policy::Siblings));
    assert!(!sends(
        &s.deliver(0, EventualMsg::Replicate { key: 4, versions: vec![ver(1, &[1], 0)].into(), req: None })
    )
    .iter()
    .any(|_| true));
    let e =
        s.deliver(1, EventualMsg::Replicate { key: 4, versions: vec![ver(2, &[0, 1], 1)].into(), req: None });
    assert_eq!(
        rows(&e),
        vec![
            "conflict  k4 v1|v2 n1:1 replicate held=n0:1 received=n1:1",
            "apply  k4 v1|v2 n0:1;n1:1 replicate",
        ]
    );
    assert_eq!(notes(&e)[1].peer, Some(NodeId(1)));
    assert_eq!(s.node.store().get(4), &[ver(1, &[1], 0), ver(2, &[0, 1], 1)]);
}

/// LWW: equal Lamport stamps (1), the larger coordinator id wins, and the winner keeps the joined
/// clock; the same outcome whichever arrives first.
#[test]
fn lww_keeps_the_deterministic_winner_with_the_joined_clock() {
    for first_from_n0 in [true, false] {
        let mut s = Step::new(2, 3, dynamo(Policy::Lww));
        let a = (0, ver(1, &[1], 0));
        let b = (1, ver(2, &[0, 1], 1));
        let (x, y) = if first_from_n0 { (a, b) } else { (b, a) };
        s.deliver(x.0, EventualMsg::Replicate { key: 4, versions: vec![x.1].into(), req: None });
        let e = s.deliver(y.0, EventualMsg::Replicate { key: 4, versions: vec![y.1].into(), req: None });
        let r = rows(&e);
        assert_eq!(r.len(), 2, "{r:?}");
        assert!(r[0].starts_with("conflict  k4 v1|v2"), "{r:?}");
        assert_eq!(r[1], "apply  k4 v2 n0:1;n1:1 replicate");
        assert_eq!(s.node.store().get(4), &[Version { clock: vc(&[1, 1]), ..ver(2, &[0, 1], 1) }]);
    }
}

/// Dynamo §4.4: a version the held one descends from is obsolete — no state change, no row.
#[test]
fn a_dominated_version_is_ignored() {
    for policy in [Policy::Siblings, Policy::Lww] {
        let mut s = Step::new(2, 3, dynamo(policy));
        s.deliver(0, EventualMsg::Replicate { key: 1, versions: vec![ver(3, &[2, 1], 0)].into(), req: None });
        let before = s.node.store().clone();
        let e = s.deliver(
            1,
            EventualMsg::Replicate { key: 1, versions: vec![ver(2, &[1, 1], 1)].into(), req: None },
        );
        assert!(e.is_empty(), "{policy:?}: {e:?}");
        assert_eq!(s.node.store(), &before);
    }
}

/// A replication that asks for an ack gets one even when the version was already known.
#[test]
fn replicate_with_request_id_is_acked() {
    let mut s = Step::new(1, 3, dynamo(Policy::Siblings));
    let msg = EventualMsg::Replicate { key: 1, versions: vec![ver(3, &[1], 0)].into(), req: Some(7) };
    let e = s.deliver(0, msg.clone());
    assert_eq!(sends(&e), vec![(NodeId(0), EventualMsg::ReplicateAck { req: 7 })]);
    let e = s.deliver(0, msg);
    assert_eq!(sends(&e), vec![(NodeId(0), EventualMsg::ReplicateAck { req: 7 })]);
    assert!(notes(&e).is_empty(), "a duplicate changes nothing");
}

/// Dynamo §4.5: with W = 2 the coordinator answers after W − 1 = 1 replica acked; duplicates of an
/// ack do not count twice (W = 3 case), and an unreached quorum times out.
#[test]
fn quorum_write_acks_after_w_and_times_out_otherwise() {
    let mut s = Step::new(0, 3, EventualConfig { write_quorum: 2, ..dynamo(Policy::Siblings) });
    let e = s.client(Op::Put { key: 1, value: 10 });
    let v = vec![ver(10, &[1], 0)];
    assert_eq!(
        sends(&e),
        vec![
            (NodeId(1), EventualMsg::Replicate { key: 1, versions: v.clone().into(), req: Some(1) }),
            (NodeId(2), EventualMsg::Replicate { key: 1, versions: v.clone().into(), req: Some(1) }),
        ]
    );
    assert_eq!(rows(&e), vec!["write  k1 v10 n0:1 "]);
    assert!(e.iter().any(|x| matches!(x, Effect::SetTimer { timer: EventualTimer::WriteTimeout(1), after }
        if *after == SimDuration::from_ms(1_000))));
    let e = s.deliver(2, EventualMsg::ReplicateAck { req: 1 });
    assert_eq!(rows(&e), vec!["note put_ack k1 v10 n0:1 acks=2/2"]);
    assert!(e.iter().any(|x| matches!(x, Effect::CancelTimer { timer: EventualTimer::WriteTimeout(1) })));
    assert!(s.deliver(1, EventualMsg::ReplicateAck { req: 1 }).is_empty(), "late ack ignored");

    let mut s = Step::new(0, 3, EventualConfig { write_quorum: 3, ..dynamo(Policy::Siblings) });
    s.client(Op::Put { key: 1, value: 10 });
    assert!(s.deliver(2, EventualMsg::ReplicateAck { req: 1 }).is_empty());
    assert!(s.deliver(2, EventualMsg::ReplicateAck { req: 1 }).is_empty(), "duplicate ack counted once");
    let e = s.timer(EventualTimer::WriteTimeout(1));
    assert_eq!(rows(&e), vec!["note put_timeout k1 v10 n0:1 acks=2/3"]);
    assert!(s.deliver(1, EventualMsg::ReplicateAck { req: 1 }).is_empty(), "ack after timeout ignored");
}

/// Dynamo §4.5: a quorum read merges the R answers; siblings come back together, and read repair
/// sends the merged set to the stale responder and stores it locally.
#[test]
fn quorum_read_merges_replies_and_repairs() {
    let config = EventualConfig { read_quorum: 2, read_repair: true, ..dynamo(Policy::Siblings) };
    let mut s = Step::new(0, 3, config);
    s.deliver(1, EventualMsg::Replicate { key: 5, versions: vec![ver(1, &[1], 0)].into(), req: None });
    let e = s.client(Op::Get { key: 5, id: 9 });
    assert_eq!(
        sends(&e),
        vec![
            (NodeId(1), EventualMsg::ReadRequest { req: 1, key: 5 }),
            (NodeId(2), EventualMsg::ReadRequest { req: 1, key: 5 }),
        ]
    );
    assert!(notes(&e).is_empty(), "no answer before the quorum");
    let theirs = vec![ver(2, &[0, 1], 1)];
    let e = s.deliver(2, EventualMsg::ReadReply { req: 1, key: 5, versions: theirs });
    let merged = vec![ver(1, &[1], 0), ver(2, &[0, 1], 1)];
    assert_eq!(
        rows(&e),
        vec![
            "read  k5 v1|v2 n0:1;n1:1 replies=2",
            "conflict  k5 v1|v2 n1:1 read_repair held=n0:1 received=n1:1",
            "apply  k5 v1|v2 n0:1;n1:1 read_repair",
        ]
    );
    assert_eq!(notes(&e)[0].index, Some(9));
    assert_eq!(sends(&e), vec![(NodeId(2), EventualMsg::ReadRepair { key: 5, versions: merged.clone() })]);
    assert_eq!(s.node.store().get(5), merged.as_slice());
    assert!(s.deliver(1, EventualMsg::ReadReply { req: 1, key: 5, versions: vec![] }).is_empty());
}

/// PBS (Bailis et al., VLDB 2012, WARS): with the coordinator outside the replicas a W = 1 put
/// stores nothing at once, goes to all N replicas (itself through the network) and is acknowledged
/// by the first ack; its own store's ack counts like any other. Two puts in a row get distinct
/// clocks although the store has not seen the first.
#[test]
fn outside_coordinator_put_crosses_the_network_to_every_replica() {
    let config = EventualConfig { coordinator: Coordinator::Outside, ..dynamo(Policy::Siblings) };
    let mut s = Step::new(0, 3, config);
    let e = s.client(Op::Put { key: 1, value: 10 });
    let v = vec![ver(10, &[1], 0)];
    let to_all: Vec<_> = (0..3)
        .map(|n| (NodeId(n), EventualMsg::Replicate { key: 1, versions: v.clone().into(), req: Some(1) }))
        .collect();
    assert_eq!(sends(&e), to_all);
    assert_eq!(rows(&e), vec!["write  k1 v10 n0:1 "], "no put_ack, no local apply yet");
    assert!(s.node.store().get(1).is_empty(), "the coordinator stored nothing itself");
    let e = s.deliver(0, EventualMsg::ReplicateAck { req: 1 });
    assert_eq!(rows(&e), vec!["note put_ack k1 v10 n0:1 acks=1/1"]);
    let e = s.client(Op::Put { key: 1, value: 11 });
    assert_eq!(rows(&e), vec!["write  k1 v11 n0:2 "], "a fresh clock entry, not n0:1 again");
}

/// PBS (WARS): an outside coordinator's R = 1 read asks all N replicas and answers with the first
/// reply, whatever its own store holds.
#[test]
fn outside_coordinator_read_takes_the_first_reply() {
    let config = EventualConfig { coordinator: Coordinator::Outside, ..dynamo(Policy::Siblings) };
    let mut s = Step::new(0, 3, config);
    s.deliver(1, EventualMsg::Replicate { key: 5, versions: vec![ver(1, &[0, 1], 1)].into(), req: None });
    let e = s.client(Op::Get { key: 5, id: 9 });
    let to_all: Vec<_> = (0..3).map(|n| (NodeId(n), EventualMsg::ReadRequest { req: 1, key: 5 })).collect();
    assert_eq!(sends(&e), to_all);
    assert!(notes(&e).is_empty(), "no local answer");
    let e = s.deliver(2, EventualMsg::ReadReply { req: 1, key: 5, versions: vec![] });
    assert_eq!(rows(&e), vec!["read  k5   replies=1"], "the first reply (empty) wins over the own store");
    assert!(s.deliver(0, EventualMsg::ReadReply { req: 1, key: 5, versions: vec![] }).is_empty());
}

#[test]
fn local_read_and_read_timeout() {
    let mut s = Step::new(0, 3, dynamo(Policy::Siblings));
    let e = s.client(Op::Get { key: 5, id: 3 });
    assert_eq!(rows(&e), vec!["read  k5   replies=1"]);
    let mut s = Step::new(0, 3, EventualConfig { read_quorum: 3, ..dynamo(Policy::Siblings) });
    s.client(Op::Get { key: 5, id: 3 });
    s.deliver(1, EventualMsg::ReadReply { req: 1, key: 5, versions: vec![] });
    let e = s.timer(EventualTimer::ReadTimeout(1));
    assert_eq!(rows(&e), vec!["note get_timeout k5   replies=2/3"]);
}

/// Demers et al. (PODC 1987) §1.3: push moves versions only from the exchange's starter to its
/// partner, pull only from the partner to the starter. n0 (the starter) holds k1, n1 holds k2.
#[test]
fn anti_entropy_push_only_sends_and_pull_only_gets() {
    for (mode, push, want) in [
        (AntiEntropyMode::Push, vec![], vec![1]),
        (AntiEntropyMode::Pull, vec![KeyVersions { key: 2, versions: vec![ver(2, &[0, 1], 1)] }], vec![]),
    ] {
        let config =
            EventualConfig { anti_entropy_ms: 100, anti_entropy_mode: mode, ..dynamo(Policy::Siblings) };
        let mut a = Step::new(0, 2, config.clone());
        let mut b = Step::new(1, 2, config);
        a.client(Op::Put { key: 1, value: 1 });
        b.client(Op::Put { key: 2, value: 2 });
        let digest = sends(&a.timer(EventualTimer::AntiEntropy));
        let reply = sends(&b.deliver(0, digest[0].1.clone()));
        assert_eq!(reply, vec![(NodeId(0), EventualMsg::AeReply { push, want })], "{mode:?}");
    }
}

/// Dynamo §4.7 (anti-entropy), push-pull: n0 holds k1 only, n1 holds k2 only; one exchange leaves
/// both with both keys.
#[test]
fn anti_entropy_exchange_repairs_missing_versions() {
    let config = EventualConfig { anti_entropy_ms: 100, ..dynamo(Policy::Siblings) };
    let mut a = Step::new(0, 2, config.clone());
    let mut b = Step::new(1, 2, config);
    a.client(Op::Put { key: 1, value: 1 });
    b.client(Op::Put { key: 2, value: 2 });

    let e = a.timer(EventualTimer::AntiEntropy);
    let digest = sends(&e);
    assert_eq!(digest.len(), 1);
    assert_eq!(digest[0].0, NodeId(1));
    assert!(e.iter().any(|x| matches!(x, Effect::SetTimer { timer: EventualTimer::AntiEntropy, after }
        if *after == SimDuration::from_ms(100))));

    let e = b.deliver(0, digest[0].1.clone());
    let reply = sends(&e);
    assert_eq!(
        reply,
        vec![(
            NodeId(0),
            EventualMsg::AeReply {
                push: vec![KeyVersions { key: 2, versions: vec![ver(2, &[0, 1], 1)] }],
                want: vec![1],
            }
        )]
    );
    let e = a.deliver(1, reply[0].1.clone());
    assert_eq!(rows(&e), vec!["apply  k2 v2 n1:1 anti_entropy"]);
    let push = sends(&e);
    assert_eq!(
        push,
        vec![(
            NodeId(1),
            EventualMsg::AePush { push: vec![KeyVersions { key: 1, versions: vec![ver(1, &[1], 0)] }] }
        )]
    );
    let e = b.deliver(0, push[0].1.clone());
    assert_eq!(rows(&e), vec!["apply  k1 v1 n0:1 anti_entropy"]);
    assert_eq!(a.node.store(), b.node.store());

    // In sync: a further digest draws no reply.
    let e = a.timer(EventualTimer::AntiEntropy);
    assert!(sends(&b.deliver(0, sends(&e)[0].1.clone())).is_empty());
}

/// A digest from a node that is strictly behind draws a push but no want.
#[test]
fn anti_entropy_does_not_pull_older_versions() {
    let config = EventualConfig { anti_entropy_ms: 100, ..dynamo(Policy::Siblings) };
    let mut a = Step::new(0, 2, config.clone());
    let mut b = Step::new(1, 2, config);
    a.client(Op::Put { key: 1, value: 1 });
    b.deliver(0, EventualMsg::Replicate { key: 1, versions: vec![ver(1, &[1], 0)].into(), req: None });
    b.put_with(1, 2, &[1]);
    let e = b.deliver(0, sends(&a.timer(EventualTimer::AntiEntropy))[0].1.clone());
    assert_eq!(
        sends(&e),
        vec![(
            NodeId(0),
            EventualMsg::AeReply {
                push: vec![KeyVersions { key: 1, versions: vec![ver(2, &[1, 1], 1)] }],
                want: vec![]
            }
        )]
    );
}

/// The textbook: a received version replaces the held one whenever any clock entry is greater, so
/// concurrent writes are settled by arrival order and replicas diverge.
#[test]
fn seed_mode_overwrites_by_arrival_order() {
    let config = EventualConfig { mode: Mode::Seed, write_quorum: 3, read_quorum: 3, ..Default::default() };
    let mut n0 = Step::new(0, 3, config.clone());
    let mut n1 = Step::new(1, 3, config.clone());
    let mut n2 = Step::new(2, 3, config);
    assert!(n0.run(|n, ctx| n.on_start(ctx)).is_empty(), "no anti-entropy in seed mode");

    // The node-wide clock: a write to another key first bumps n0's counter to 1.
    n0.client(Op::Put { key: 9, value: 100 });
    let e0 = n0.client(Op::Put { key: 1, value: 1 });
    assert_eq!(rows(&e0), vec!["write  k1 v1 n0:2 ", "note put_ack k1 v1 n0:2 acks=1/1"]);
    let e1 = n1.client(Op::Put { key: 1, value: 2 });
    let (m0, m1) = (sends(&e0), sends(&e1));
    assert_eq!(m0.len(), 2, "one replicate per peer, no acks asked");
    assert!(m0.iter().all(|(_, m)| matches!(m, EventualMsg::Replicate { req: None, .. })));

    // Each writer takes the other's concurrent value: "[2,0] newer than [0,1]" and vice versa.
    let e = n0.deliver(1, m1[0].1.clone());
    assert_eq!(rows(&e)[1], "apply  k1 v2 n1:1 replicate");
    n1.deliver(0, m0[0].1.clone());
    assert_eq!(value_of(n0.node.store().get(1)), Value::Id(2));
    assert_eq!(value_of(n1.node.store().get(1)), Value::Id(1));
    // n2 keeps whichever arrived last.
    n2.deliver(0, m0[1].1.clone());
    n2.deliver(1, m1[1].1.clone());
    assert_eq!(value_of(n2.node.store().get(1)), Value::Id(2));
    // Reads are local whatever R says.
    assert_eq!(rows(&n1.client(Op::Get { key: 1, id: 5 })), vec!["read  k1 v1 n0:2 replies=1"]);
}

#[test]
fn crash_keeps_the_store_and_drops_coordinations() {
    let config = EventualConfig { write_quorum: 2, anti_entropy_ms: 50, ..dynamo(Policy::Siblings) };
    let mut s = Step::new(0, 3, config);
    s.client(Op::Put { key: 1, value: 10 });
    s.node.on_crash();
    assert_eq!(s.node.store().get(1), &[ver(10, &[1], 0)]);
    assert!(s.deliver(1, EventualMsg::ReplicateAck { req: 1 }).is_empty(), "coordination forgotten");
    let e = s.run(|n, ctx| n.on_restart(ctx));
    assert!(matches!(e.as_slice(), [Effect::SetTimer { timer: EventualTimer::AntiEntropy, .. }]));
    // The request counter survives, so the next write uses a fresh id.
    let e = s.client(Op::Put { key: 1, value: 11 });
    assert!(sends(&e).iter().all(|(_, m)| matches!(m, EventualMsg::Replicate { req: Some(2), .. })));
    assert_eq!(rows(&e)[0], "write  k1 v11 n0:2 ");
}

#[test]
fn final_rows_list_every_held_key() {
    let mut s = Step::new(1, 3, dynamo(Policy::Siblings));
    s.deliver(0, EventualMsg::Replicate { key: 2, versions: vec![ver(1, &[1], 0)].into(), req: None });
    s.deliver(2, EventualMsg::Replicate { key: 2, versions: vec![ver(3, &[0, 0, 1], 2)].into(), req: None });
    s.client(Op::Put { key: 0, value: 4 });
    let e = s.run(|n, ctx| n.on_finish(ctx));
    assert_eq!(
        rows(&e),
        vec!["final     keys=2", "final  k0 v4 n1:1 versions=1", "final  k2 v1|v3 n0:1;n2:1 versions=2"]
    );
    let e = Step::new(2, 3, dynamo(Policy::Siblings)).run(|n, ctx| n.on_finish(ctx));
    assert_eq!(rows(&e), vec!["final     keys=0"]);
}

#[test]
fn anti_entropy_fanout_draws_distinct_peers_from_the_node_stream() {
    let config = EventualConfig { anti_entropy_ms: 100, anti_entropy_fanout: 3, ..dynamo(Policy::Siblings) };
    let mut s = Step::new(2, 5, config);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let to: Vec<NodeId> = sends(&s.timer(EventualTimer::AntiEntropy)).iter().map(|(n, _)| *n).collect();
        assert_eq!(to.len(), 3);
        let distinct: std::collections::BTreeSet<_> = to.iter().collect();
        assert_eq!(distinct.len(), 3, "{to:?}");
        assert!(!to.contains(&NodeId(2)));
        seen.extend(to);
    }
    assert_eq!(seen.len(), 4, "every peer gets picked sometimes");
}
