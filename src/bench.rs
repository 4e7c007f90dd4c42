//! Workloads for measuring speed, shared by `dsim bench` and the criterion benches in `benches/`.
//!
//! The reference is the *hold model* (Jones 1986; the classic priority-queue benchmark): a queue
//! holding `pending` events, each step pops the earliest and schedules one at `now` plus a random
//! increment. [`hold_bare_heap`] runs it on a bare `std::collections::BinaryHeap` of `(time, seq)`
//! pairs — no payload, no timers, nothing else: the physical limit of a discrete-event loop here.
//! [`hold_event_queue`] runs the same steps, with the same draws, through dsim's [`EventQueue`];
//! [`hold_runner`] runs them through the whole [`Runner`] (a [`Relay`] protocol passing tokens, with
//! the network's draws, `send` / `deliver` rows built and handed to a sink that drops them).
//! [`timer_rearm`] measures re-arming timers in a loaded queue; [`raft_kernel_only`] runs a Raft
//! scenario without checkers, metrics or trace, to show what those cost in the full harness.
//!
//! Every function returns something computed from the run (a checksum or the run's counters), so
//! the work cannot be optimised away, and the same seed gives the same result.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::Rng;

use crate::client::{ClientOp, Kind};
use crate::harness::{Model, RaftModel};
use crate::protocol::{Ctx, Message, Protocol, Timer, Workload};
use crate::scenario::{Scenario, DEFAULT_EVENTUAL, DEFAULT_RAFT};
use crate::sim::clients::ClientsConfig;
use crate::sim::faults::ChaosConfig;
use crate::sim::network::{Latency, NetworkConfig};
use crate::sim::queue::EventQueue;
use crate::sim::rng::{Purpose, SimRng, Streams};
use crate::sim::runner::{KernelConfig, RunStats, Runner};
use crate::sim::{NodeId, SimTime};
use crate::workload::OpenLoop;
use crate::Result;

/// Hold-model increments are drawn uniformly from `1..=HOLD_INCREMENT_MAX_US`.
pub const HOLD_INCREMENT_MAX_US: u64 = 1_000;

/// The hold model's random stream for `seed` (the run's ChaCha8, workload stream).
fn hold_rng(seed: u64) -> SimRng {
    Streams::new(seed).stream(Purpose::Workload)
}

/// Hold model on `BinaryHeap<Reverse<(time, seq)>>`: `pending` events, then `steps` pop-and-push
/// steps. Returns the time of the last event popped.
pub fn hold_bare_heap(pending: usize, steps: u64, seed: u64) -> u64 {
    assert!(pending >= 1, "the hold model needs at least one pending event");
    let mut rng = hold_rng(seed);
    let mut heap: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::with_capacity(pending + 1);
    let mut seq = 0u64;
    for _ in 0..pending {
        heap.push(Reverse((rng.gen_range(1..=HOLD_INCREMENT_MAX_US), seq)));
        seq += 1;
    }
    let mut now = 0;
    for _ in 0..steps {
        let Some(Reverse((at, _))) = heap.pop() else { break };
        now = at;
        heap.push(Reverse((now + rng.gen_range(1..=HOLD_INCREMENT_MAX_US), seq)));
        seq += 1;
    }
    now
}

/// The same hold model, draws and order through dsim's [`EventQueue`] (a `u64` payload per
/// event). Returns the time of the last event popped.
pub fn hold_event_queue(pending: usize, steps: u64, seed: u64) -> u64 {
    assert!(pending >= 1, "the hold model needs at least one pending event");
    let mut rng = hold_rng(seed);
    let mut queue: EventQueue<u32, u64> = EventQueue::with_capacity(pending + 1);
    for i in 0..pending as u64 {
        queue.schedule(SimTime(rng.gen_range(1..=HOLD_INCREMENT_MAX_US)), i);
    }
    let mut now = SimTime::ZERO;
    for _ in 0..steps {
        let Some((at, _, payload)) = queue.pop() else { break };
        now = at;
        queue.schedule(SimTime(now.0 + rng.gen_range(1..=HOLD_INCREMENT_MAX_US)), payload);
    }
    now.0
}

/// Timer reset cost: `pending` one-shot events and `timers` armed timers; each step re-arms one
/// timer (round robin) to `now` plus a random increment — half the time earlier than where it
/// was, half later — and every `timers` steps one event is popped, so time moves. With `cancel`,
/// each re-arm is a cancel followed by a fresh arm. Returns the number of events popped plus the
/// last time.
pub fn timer_rearm(pending: usize, timers: u32, steps: u64, cancel: bool, seed: u64) -> u64 {
    assert!(timers >= 1, "at least one timer");
    let mut rng = hold_rng(seed);
    let mut queue: EventQueue<u32, u64> = EventQueue::with_capacity(pending + timers as usize);
    for i in 0..pending as u64 {
        queue.schedule(SimTime(rng.gen_range(1..=HOLD_INCREMENT_MAX_US)), i);
    }
    let mut now = 0u64;
    let mut popped = 0u64;
    for step in 0..steps {
        let timer = (step % u64::from(timers)) as u32;
        if cancel {
            queue.cancel_timer(timer);
        }
        queue.set_timer(timer, SimTime(now + rng.gen_range(1..=HOLD_INCREMENT_MAX_US)), u64::from(timer));
        if timer + 1 == timers {
            if let Some((at, key, payload)) = queue.pop() {
                now = at.0;
                popped += 1;
                if let crate::sim::queue::Key::Once(_) = key {
                    queue.schedule(SimTime(now + rng.gen_range(1..=HOLD_INCREMENT_MAX_US)), payload);
                }
            }
        }
    }
    popped + now
}

/// A token passed between nodes of a [`Relay`].
#[derive(Clone, Debug)]
pub struct Token;

impl Message for Token {
    fn name(&self) -> &'static str {
        "token"
    }
}

/// A [`Relay`] has no timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NoTimer {}

impl Timer for NoTimer {
    fn name(&self) -> &'static str {
        match *self {}
    }
}

/// The workload of a [`Relay`]: nothing.
#[derive(Debug)]
pub struct NoClients;

impl Workload for NoClients {
    fn next(&mut self, _now: SimTime, _rng: &mut SimRng) -> Option<(SimTime, NodeId, u64, Kind)> {
        None
    }
}

/// The hold model as a protocol: at start each node sends `tokens` tokens to the next node; a node
/// forwards every token it receives to the next node. With no loss, the queue holds exactly the
/// tokens in flight, and every event is one delivery plus one send.
#[derive(Debug)]
pub struct Relay {
    tokens: usize,
}

impl Relay {
    fn next(ctx: &Ctx<'_, Self>) -> NodeId {
        NodeId((ctx.id().0 + 1) % ctx.nodes())
    }
}

impl Protocol for Relay {
    type Msg = Token;
    type Timer = NoTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        let to = Self::next(ctx);
        for _ in 0..self.tokens {
            ctx.send(to, Token);
        }
    }

    fn on_crash(&mut self) {}

    fn on_restart(&mut self, _ctx: &mut Ctx<'_, Self>) {}

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, _from: NodeId, msg: Token) {
        let to = Self::next(ctx);
        ctx.send(to, msg);
    }

    fn on_timer(&mut self, _ctx: &mut Ctx<'_, Self>, timer: NoTimer) {
        match timer {}
    }

    fn on_client(&mut self, _ctx: &mut Ctx<'_, Self>, _op: ClientOp, _attempt: u32) {}
}

/// The hold model through the whole runner: `nodes` [`Relay`]s with `pending` tokens in flight
/// (rounded down to a multiple of `nodes`), latencies uniform in `1..=HOLD_INCREMENT_MAX_US` µs, no
/// loss, rows to a sink that drops them; stops after `steps` events.
pub fn hold_runner(nodes: u32, pending: usize, steps: u64, seed: u64) -> RunStats {
    assert!(nodes >= 2 && pending >= nodes as usize, "{pending} tokens over {nodes} nodes");
    let config = KernelConfig {
        nodes,
        seed,
        end: SimTime(u64::MAX),
        events_max: steps,
        queue_max: pending * 2 + 16,
        network: NetworkConfig {
            drop_probability: 0.0,
            duplicate_probability: 0.0,
            latency: Latency::Uniform { min_us: 1, max_us: HOLD_INCREMENT_MAX_US },
            ..NetworkConfig::default()
        },
        faults: Vec::new(),
        chaos: ChaosConfig::default(),
        node: Default::default(),
        clocks: Default::default(),
        clients: ClientsConfig::default(),
    };
    let per_node = pending / nodes as usize;
    let relays = (0..nodes).map(|_| Relay { tokens: per_node }).collect();
    Runner::new(config, relays, NoClients, ()).run()
}

/// The default Raft scenario (`sims/raft.toml`: 5 nodes, 50 commands/s, 2 % loss, no faults) run
/// for `duration_ms` of simulated time: the steady state the benchmarks measure.
pub fn raft_steady(duration_ms: u64) -> Result<Scenario> {
    Scenario::from_str(DEFAULT_RAFT.0, DEFAULT_RAFT.1, &[format!("duration_ms={duration_ms}")])
}

/// The default Raft scenario with `overrides` (`rate_per_s=…`, `nodes=…`), stopped after exactly
/// `events` events (simulated time is long enough never to end it first at ≥ 50 commands/s): one
/// point of the scaling benchmarks, so every point handles the same work and events/s compare.
pub fn raft_scaled(events: u64, overrides: &[String]) -> Result<Scenario> {
    long_run(DEFAULT_RAFT, events, &[], overrides)
}

/// `default` (an embedded scenario) run for (practically) unbounded simulated time and stopped at
/// exactly `events` events, with `fixed` and then `overrides` applied.
fn long_run(default: (&str, &str), events: u64, fixed: &[&str], overrides: &[String]) -> Result<Scenario> {
    let mut all = vec!["duration_ms=1000000000".to_owned(), format!("events_max={events}")];
    all.extend(fixed.iter().map(|f| (*f).to_owned()));
    all.extend_from_slice(overrides);
    Scenario::from_str(default.0, default.1, &all)
}

/// The default Raft scenario for `dsim bench --memory`: stopped at `events` events, with the
/// workload's request cap lifted so the 50 commands/s go on for the whole run, then `overrides`.
pub fn raft_memory(events: u64, overrides: &[String]) -> Result<Scenario> {
    long_run(DEFAULT_RAFT, events, &["workload.requests_max=1000000000000"], overrides)
}

/// The default eventual KV scenario (`sims/eventual.toml`: 3 nodes, Dynamo-style, 10 % loss)
/// with writes for the whole `duration_ms`.
pub fn eventual_steady(duration_ms: u64) -> Result<Scenario> {
    let overrides = [format!("duration_ms={duration_ms}"), format!("workload.stop_ms={duration_ms}")];
    Scenario::from_str(DEFAULT_EVENTUAL.0, DEFAULT_EVENTUAL.1, &overrides)
}

/// The default eventual KV scenario with `overrides` (`workload.keys=…`, `nodes=…`), writing for the
/// whole run and stopped after exactly `events` events: one point of the KV's scaling axes.
pub fn eventual_scaled(events: u64, overrides: &[String]) -> Result<Scenario> {
    long_run(DEFAULT_EVENTUAL, events, &["workload.stop_ms=1000000000"], overrides)
}

/// A Raft scenario through the runner alone: the same nodes, workload and network as
/// `harness::run`, but rows go to a sink that drops them (no checkers, metrics or trace).
pub fn raft_kernel_only(scenario: &Scenario) -> RunStats {
    let workload = OpenLoop::new(&scenario.workload, scenario.nodes, scenario.end());
    Runner::new(scenario.kernel(), RaftModel::nodes(scenario), workload, ()).run()
}

/// sims/raft_throughput.toml: a 3-node cluster on a clean in-order network, one entry per
/// AppendEntries (results/raft/throughput/).
pub const THROUGHPUT_RAFT: (&str, &str) =
    ("sims/raft_throughput.toml", include_str!("../sims/raft_throughput.toml"));

/// What one replication run achieved (simulated time; no wall clock).
#[derive(Clone, Debug, PartialEq)]
pub struct Replication {
    pub window: u64,
    pub committed: u64,
    pub committed_per_s: f64,
    pub commit_latency_p50_us: Option<u64>,
    pub violations: u64,
}

/// Runs sims/raft_throughput.toml with every checker at `latency_us` one way, `rate_per_s`
/// offered writes and `raft.max_inflight_appends = window` for `duration_ms`.
pub fn replication(window: u64, latency_us: u64, rate_per_s: u64, duration_ms: u64) -> Result<Replication> {
    let sets = [
        format!("network.latency={{dist=\"constant\",us={latency_us}}}"),
        format!("workload.rate_per_s={rate_per_s}"),
        format!("raft.max_inflight_appends={window}"),
        format!("duration_ms={duration_ms}"),
    ];
    let scenario = Scenario::from_str(THROUGHPUT_RAFT.0, THROUGHPUT_RAFT.1, &sets)?;
    let outcome = crate::harness::run(&scenario, crate::harness::Options::default())?;
    let metric = |name: &str| match outcome.metrics.iter().find(|(n, _)| *n == name) {
        Some((_, crate::metrics::MetricValue::Int(v))) => Some(*v),
        _ => None,
    };
    let committed = metric("commands_committed").unwrap_or(0);
    Ok(Replication {
        window,
        committed,
        committed_per_s: committed as f64 * 1_000.0 / duration_ms as f64,
        commit_latency_p50_us: metric("commit_latency_p50_us"),
        violations: outcome.violations_total,
    })
}

/// A generated linearizable history (`crate::lin::generate`): `ops` ops over `keys` keys by
/// `processes` concurrent clients, 1 % of them ending `info`.
pub fn lin_history(ops: usize, keys: u32, processes: u32, seed: u64) -> crate::lin::History {
    crate::lin::generate::history(&crate::lin::generate::GenConfig {
        ops,
        keys,
        processes,
        info_per_mille: 10,
        seed,
    })
}

/// Decides `history` with the default budget; returns the configurations visited (the answer must
/// be linearizable: generated histories are).
pub fn lin_check(history: &crate::lin::History) -> u64 {
    let report = crate::lin::check(history, &crate::lin::Budget::states(crate::lin::Budget::STATES_DEFAULT));
    assert_eq!(report.outcome, crate::lin::Outcome::Linearizable, "{}", report.summary(history));
    report.states
}

/// The median of `xs` (the mean of the middle two for an even count); NaN when empty.
pub fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The two hold loops see the same draws and pop in the same order, so they end at the same
    /// time; a different seed ends elsewhere.
    #[test]
    fn bare_heap_and_event_queue_agree() {
        for pending in [1, 16, 1_000] {
            let bare = hold_bare_heap(pending, 20_000, 7);
            assert_eq!(hold_event_queue(pending, 20_000, 7), bare, "pending {pending}");
            assert!(bare > 0);
        }
        assert_ne!(hold_bare_heap(16, 20_000, 7), hold_bare_heap(16, 20_000, 8));
    }

    #[test]
    fn relay_keeps_its_tokens_in_flight() {
        let stats = hold_runner(4, 1_000, 50_000, 3);
        assert_eq!(stats.events, 50_000);
        assert_eq!(stats.messages_delivered, 50_000);
        assert_eq!(stats.messages_sent, 50_000 + 1_000, "every delivery forwards; 1,000 sent at start");
        assert_eq!(stats.queue_len_max, 1_000);
        assert_eq!(stats.rows, 2 * 50_000 + 1_000);
    }

    #[test]
    fn timer_rearm_is_deterministic_and_moves_time() {
        for cancel in [false, true] {
            let a = timer_rearm(100, 8, 10_000, cancel, 1);
            assert_eq!(a, timer_rearm(100, 8, 10_000, cancel, 1));
            assert!(a > 10_000 / 8, "time moved and events popped: {a}");
        }
    }

    #[test]
    fn steady_scenarios_run() {
        let raft = raft_steady(2_000).unwrap();
        assert_eq!((raft.nodes, raft.duration_ms), (5, 2_000));
        let kernel = raft_kernel_only(&raft);
        let full = crate::harness::run(&raft, crate::harness::Options::default()).unwrap();
        assert_eq!(kernel, full.stats, "the sink does not change the run");
        let eventual = eventual_steady(2_000).unwrap();
        assert_eq!((eventual.nodes, eventual.workload.stop_ms), (3, Some(2_000)));
    }

    #[test]
    fn scaled_scenarios_stop_at_their_event_budget() {
        let s = raft_scaled(20_000, &["workload.rate_per_s=1000".to_owned(), "nodes=9".to_owned()]).unwrap();
        assert_eq!((s.nodes, s.events_max), (9, 20_000));
        assert_eq!(raft_kernel_only(&s).events, 20_000);
    }

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&[]).is_nan());
    }
}
