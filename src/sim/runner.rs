//! THE loop: pop the earliest event, hand it to a node, turn the node's effects into events, and
//! emit every step as a trace row to the sink (which writes, checks and measures).
//!
//! The runner is generic over the protocol and knows nothing of it beyond the `Protocol` trait. A
//! run is bounded three ways — simulated time, event count and queue size — and ends early when the
//! queue is empty. Everything it computes comes from the seed's streams; nothing reads a clock.

use std::collections::BTreeMap;

use crate::client::Kind;
use crate::protocol::{AdminOp, Ctx, Effect, Message, Protocol, Timer, Workload};
use crate::sim::clients::{ClientEv, ClientStats, Clients, ClientsConfig};
use crate::sim::faults::{self, ChaosConfig, FaultAction, FaultSpec, HealTarget, Target};
use crate::sim::network::{DropReason, Fate, Network, NetworkConfig};
use crate::sim::node_config::{self, ClockConfig, NodeConfig};
use crate::sim::partition::Cut;
use crate::sim::queue::{EventQueue, Key};
use crate::sim::rng::{Purpose, SimRng, Streams};
use crate::sim::schedule::{Entry, Replay, Schedule};
use crate::sim::slab::Slab;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Clock, Event, Record};

/// Receives every trace row, in order.
pub trait RowSink {
    /// Whether the sink reads rows at all. One that drops them (`()`, the kernel benchmarks) lets
    /// the runner skip building its own hot rows — `send`, `deliver`, `drop`, `duplicate`,
    /// `timeout`, with their wire evidence (`Message::describe`, an owned string per message) —
    /// and hand it none of them; they are still numbered (`RunStats::rows` is the same). The
    /// protocol is told too ([`Ctx::rows_wanted`]): its notes are only counted, and the costly
    /// ones are not built at all.
    const READS_ROWS: bool = true;

    fn row(&mut self, row: &Record);
}

/// A sink that discards rows (benchmarks of the bare kernel).
impl RowSink for () {
    const READS_ROWS: bool = false;

    fn row(&mut self, _row: &Record) {}
}

/// The kernel's part of a scenario.
#[derive(Clone, Debug)]
pub struct KernelConfig {
    pub nodes: u32,
    pub seed: u64,
    /// Simulated time at which the run stops.
    pub end: SimTime,
    /// The run stops after this many events.
    pub events_max: u64,
    /// The run stops if this many events are pending at once (a message storm is a scenario bug).
    pub queue_max: usize,
    pub network: NetworkConfig,
    pub faults: Vec<FaultSpec>,
    pub chaos: ChaosConfig,
    /// `[node.nX]`: per-node latency and clock drift (the kernel ignores `persist_delay_us`).
    pub node: BTreeMap<String, NodeConfig>,
    pub clocks: ClockConfig,
    /// The client layer (closed-loop processes, timeouts, resends, client links).
    pub clients: ClientsConfig,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Simulated time reached the scenario's duration.
    TimeLimit,
    /// Nothing left to do.
    QueueEmpty,
    EventLimit,
    QueueLimit,
}

impl StopReason {
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::TimeLimit => "time_limit",
            StopReason::QueueEmpty => "queue_empty",
            StopReason::EventLimit => "event_limit",
            StopReason::QueueLimit => "queue_limit",
        }
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events popped from the queue and handled.
    pub events: u64,
    /// Trace rows emitted.
    pub rows: u64,
    pub end_time: SimTime,
    pub stop: Option<StopReason>,
    pub messages_sent: u64,
    pub messages_delivered: u64,
    pub messages_dropped: u64,
    pub messages_duplicated: u64,
    pub timeouts: u64,
    /// Client requests that reached an up node (`client` rows).
    pub client_requests: u64,
    /// Client ops and their outcomes (`invoke`, `ok`, `fail`, `info` rows).
    pub clients: ClientStats,
    pub crashes: u64,
    pub restarts: u64,
    pub queue_len_max: u64,
}

/// A queued event's payload.
#[derive(Debug)]
enum Ev<P: Protocol> {
    Deliver {
        from: NodeId,
        to: NodeId,
        msg: P::Msg,
        /// Its `send` row's slot in the runner's `in_flight` slab (a sink that reads rows only).
        wire: u32,
    },
    /// A message held back by a local delay (persist time) leaves its node now, if the node has not
    /// crashed since (same incarnation).
    Depart {
        from: NodeId,
        to: NodeId,
        msg: P::Msg,
        incarnation: u64,
    },
    Timer {
        node: NodeId,
        timer: P::Timer,
    },
    /// The open-loop workload's next request is invoked.
    Open {
        node: NodeId,
        key: u64,
        kind: Kind,
    },
    Client(ClientEv),
    Fault(FaultAction),
    /// The chaos generator's next crash / partition.
    ChaosCrash,
    ChaosPartition,
}

/// No parked `send` row: a sink that does not read rows parks none.
const NO_WIRE: u32 = u32::MAX;

/// One simulation: nodes, network, workload, queue and clock.
pub struct Runner<P: Protocol, W: Workload, S: RowSink> {
    config: KernelConfig,
    now: SimTime,
    queue: EventQueue<(NodeId, P::Timer), Ev<P>>,
    nodes: Vec<P>,
    up: Vec<bool>,
    incarnation: Vec<u64>,
    /// Timers each node has armed, so a crash can disarm them. Small: a node has few timers.
    armed: Vec<Vec<P::Timer>>,
    timer_rngs: Vec<SimRng>,
    node_rngs: Vec<SimRng>,
    workload_rng: SimRng,
    chaos_rng: SimRng,
    network: Network,
    workload: W,
    clients: Clients,
    sink: S,
    effects: Vec<Effect<P>>,
    /// The rows of the `Effect::Noted` effects in `effects`, in order (`Ctx::with_notes`).
    notes: Vec<Record>,
    /// The `send` rows of the messages in flight, until their `deliver` (or `drop`) row reuses
    /// them (a sink that reads rows only).
    in_flight: Slab<Record>,
    stats: RunStats,
    timer_draws: Option<Vec<Vec<u64>>>,
    /// Each node's clock drift ρ: its timers fire after `after / (1 + ρ)`.
    drift: Vec<f64>,
    /// A paused node handles nothing before this time.
    paused_until: Vec<SimTime>,
    /// Chaos partitions started so far (their names: `chaos1`, `chaos2`, …).
    chaos_partitions: u64,
    /// The context of the client op about to be handed to `on_client` (taken by `invoke`).
    client_context: Option<Clock>,
    /// Messages put on each directed link so far (`from * nodes + to`): a message's schedule key.
    link_sent: Vec<u64>,
    /// The `[[faults]]` entries as resolved at the start (what a recorded schedule starts with).
    resolved_faults: Vec<(SimTime, FaultAction)>,
    /// The schedule being recorded, when asked for.
    recording: Option<Schedule>,
    /// The schedule driving this run instead of the fault, chaos and network draws.
    replay: Option<Replay>,
    /// The next chaos crash / partition of `replay` to fire.
    replay_chaos: (usize, usize),
}

impl<P: Protocol, W: Workload, S: RowSink> Runner<P, W, S> {
    /// `nodes[i]` is node `n{i}`; the faults must have been validated against `config.nodes`.
    pub fn new(config: KernelConfig, nodes: Vec<P>, workload: W, sink: S) -> Self {
        Self::build(config, nodes, workload, sink, None)
    }

    /// A run driven by `schedule` (docs/schedule.md): its faults and chaos instead of the
    /// scenario's, its message fates instead of the network's draws.
    pub fn with_schedule(
        config: KernelConfig,
        nodes: Vec<P>,
        workload: W,
        sink: S,
        schedule: &Schedule,
    ) -> Self {
        Self::build(config, nodes, workload, sink, Some(schedule.replay()))
    }

    fn build(config: KernelConfig, nodes: Vec<P>, workload: W, sink: S, replay: Option<Replay>) -> Self {
        assert_eq!(nodes.len(), config.nodes as usize, "one protocol instance per node");
        let streams = Streams::new(config.seed);
        let ids = (0..config.nodes).map(NodeId);
        let latencies = node_config::latencies(&config.node, config.nodes);
        let network = Network::with_nodes(
            config.network.clone(),
            config.nodes,
            streams.stream(Purpose::Network),
            latencies,
        );
        let drift = node_config::drifts(
            &config.clocks,
            &config.node,
            config.nodes,
            &mut streams.stream(Purpose::Drift),
        );
        let n = nodes.len();
        let mut runner = Runner {
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            up: vec![true; n],
            incarnation: vec![0; n],
            armed: vec![Vec::new(); n],
            timer_rngs: ids.clone().map(|i| streams.stream(Purpose::NodeTimers(i))).collect(),
            node_rngs: ids.map(|i| streams.stream(Purpose::Node(i))).collect(),
            workload_rng: streams.stream(Purpose::Workload),
            chaos_rng: streams.stream(Purpose::Chaos),
            network,
            workload,
            clients: Clients::new(
                &config.clients,
                config.nodes,
                config.end,
                streams.stream(Purpose::Clients),
            ),
            sink,
            effects: Vec::new(),
            notes: Vec::new(),
            in_flight: Slab::default(),
            stats: RunStats::default(),
            timer_draws: None,
            drift,
            paused_until: vec![SimTime::ZERO; n],
            chaos_partitions: 0,
            client_context: None,
            link_sent: vec![0; n * n],
            resolved_faults: Vec::new(),
            recording: None,
            replay: None,
            replay_chaos: (0, 0),
            nodes,
            config,
        };
        let mut fault_rng = streams.stream(Purpose::Faults);
        runner.resolved_faults = match &replay {
            Some(r) => r.faults.clone(),
            None => faults::resolve(&runner.config.faults, &mut fault_rng),
        };
        runner.replay = replay;
        for (at, action) in runner.resolved_faults.clone() {
            runner.queue.schedule(at, Ev::Fault(action));
        }
        runner.schedule_chaos_crash();
        runner.schedule_chaos_partition();
        runner
    }

    /// Record the run's schedule (call before `run`; read it with [`Runner::take_schedule`]).
    pub fn record_schedule(&mut self) {
        let entries =
            self.resolved_faults.iter().map(|(at, action)| Entry::Fault { at: *at, action: action.clone() });
        self.recording = Some(Schedule { entries: entries.collect() });
    }

    /// The recorded schedule, in time order.
    pub fn take_schedule(&mut self) -> Option<Schedule> {
        let mut s = self.recording.take()?;
        s.sort();
        Some(s)
    }

    fn record(&mut self, entry: Entry) {
        if let Some(r) = self.recording.as_mut() {
            r.entries.push(entry);
        }
    }

    /// Keep every timer draw per node (for the paired-stream test).
    pub fn record_timer_draws(&mut self) {
        self.timer_draws = Some(vec![Vec::new(); self.nodes.len()]);
    }

    pub fn timer_draws(&self) -> Option<&[Vec<u64>]> {
        self.timer_draws.as_deref()
    }

    pub fn nodes(&self) -> &[P] {
        &self.nodes
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    pub fn into_sink(self) -> S {
        self.sink
    }

    /// Runs to a stop condition, then lets every node write its final rows.
    pub fn run(&mut self) -> RunStats {
        for i in 0..self.nodes.len() {
            self.invoke(NodeId(i as u32), |node, ctx| node.on_start(ctx));
        }
        self.schedule_next_client();
        self.clients.start();
        self.flush_clients();
        let stop = self.run_loop();
        if stop == StopReason::TimeLimit {
            self.now = self.config.end;
        }
        for i in 0..self.nodes.len() {
            self.invoke(NodeId(i as u32), |node, ctx| node.on_finish(ctx));
        }
        self.stats.end_time = self.now;
        self.stats.stop = Some(stop);
        self.stats.clients = self.clients.stats.clone();
        self.stats.clone()
    }

    fn run_loop(&mut self) -> StopReason {
        loop {
            let Some(at) = self.queue.peek_time() else { return StopReason::QueueEmpty };
            if at > self.config.end {
                return StopReason::TimeLimit;
            }
            if self.stats.events >= self.config.events_max {
                return StopReason::EventLimit;
            }
            if self.queue.len() > self.config.queue_max {
                return StopReason::QueueLimit;
            }
            self.stats.queue_len_max = self.stats.queue_len_max.max(self.queue.len() as u64);
            let Some((at, key, ev)) = self.queue.pop() else { return StopReason::QueueEmpty };
            assert!(at >= self.now, "time went backwards: {} after {}", at, self.now);
            self.now = at;
            self.stats.events += 1;
            if let Key::Timer((node, timer)) = key {
                self.armed[node.index()].retain(|t| *t != timer);
            }
            self.dispatch(ev);
        }
    }

    /// Whether `node` is paused now.
    fn paused(&self, node: NodeId) -> bool {
        self.paused_until[node.index()] > self.now
    }

    fn dispatch(&mut self, ev: Ev<P>) {
        let held = match &ev {
            Ev::Deliver { to: node, .. }
            | Ev::Client(ClientEv::Arrive { node, .. })
            | Ev::Depart { from: node, .. } => Some(*node),
            Ev::Timer { node, timer } => {
                if self.paused(*node) {
                    // A paused node's timer fires when it wakes (unless a crash disarms it).
                    let (node, timer) = (*node, *timer);
                    self.queue.set_timer(
                        (node, timer),
                        self.paused_until[node.index()],
                        Ev::Timer { node, timer },
                    );
                    self.armed[node.index()].push(timer);
                    return;
                }
                None
            }
            _ => None,
        };
        if let Some(node) = held.filter(|n| self.paused(*n)) {
            // Handled, in order, in the burst when the pause ends.
            self.queue.schedule(self.paused_until[node.index()], ev);
            return;
        }
        match ev {
            Ev::Deliver { from, to, msg, wire } => self.deliver(from, to, msg, wire),
            Ev::Depart { from, to, msg, incarnation } => {
                if self.up[from.index()] && self.incarnation[from.index()] == incarnation {
                    self.transmit(from, to, msg);
                }
            }
            Ev::Timer { node, timer } => {
                self.stats.timeouts += 1;
                if S::READS_ROWS {
                    self.emit(&mut Record::new(Event::Timeout).node(node).msg(timer.name()));
                } else {
                    self.skip_rows(1);
                }
                self.invoke(node, |n, ctx| n.on_timer(ctx, timer));
            }
            Ev::Open { node, key, kind } => {
                self.clients.invoke_open(self.now, node, key, kind, &self.up);
                self.flush_clients();
                self.schedule_next_client();
            }
            Ev::Client(ev) => self.client_event(ev),
            Ev::Fault(action) => self.fault(action),
            Ev::ChaosCrash => self.chaos_crash(),
            Ev::ChaosPartition => self.chaos_partition(),
        }
    }

    /// A message arrives. Its `deliver` (or `drop`) row is its `send` row with another event (and
    /// node and peer swapped): what `describe` wrote is a function of the message, which has not
    /// changed in flight, so it is not run again.
    fn deliver(&mut self, from: NodeId, to: NodeId, msg: P::Msg, wire: u32) {
        let lost = if !self.up[to.index()] {
            Some(DropReason::NodeDown)
        } else if self.network.cut_in_flight(from, to) {
            Some(DropReason::Partition)
        } else {
            None
        };
        if let Some(reason) = lost {
            self.stats.messages_dropped += 1;
            let mut row = if S::READS_ROWS {
                let mut row = self.in_flight.take(wire);
                row.event = Event::Drop;
                row
            } else {
                Record::new(Event::Drop).node(from).peer(to).msg(msg.name())
            };
            row.set_detail(reason.as_str());
            self.emit(&mut row);
            return;
        }
        self.stats.messages_delivered += 1;
        if S::READS_ROWS {
            // Changed and emitted where it is parked: moving the ~220-byte row out cost a memcpy
            // per delivery.
            let row = self.in_flight.get_mut(wire);
            row.event = Event::Deliver;
            row.node = Some(to);
            row.peer = Some(from);
            emit_to(self.now, &mut self.stats.rows, &mut self.sink, row);
            self.in_flight.remove(wire);
        } else {
            self.skip_rows(1);
        }
        self.invoke(to, |n, ctx| n.on_message(ctx, from, msg));
    }

    fn client_event(&mut self, ev: ClientEv) {
        match ev {
            ClientEv::Invoke { slot } => self.clients.invoke_slot(self.now, slot, &self.up),
            ClientEv::Arrive { node, op, attempt, context } => {
                if !self.up[node.index()] {
                    let row = Record::new(Event::Note).node(node).msg(op.command_name()).index(op.id);
                    self.emit(&mut row.detail("client request lost: node down"));
                    return;
                }
                self.stats.client_requests += 1;
                let mut row = Record::new(Event::Client).node(node);
                op.describe_arrival(&mut row, attempt);
                row.clock = context.clone();
                self.emit(&mut row);
                self.client_context = context;
                self.invoke(node, |n, ctx| n.on_client(ctx, op, attempt));
            }
            ClientEv::Tick { op } => self.clients.tick(self.now, op, &self.up),
            ClientEv::Reply { op, node, reply } => self.clients.reply_arrived(self.now, op, node, reply),
        }
        self.flush_clients();
    }

    /// Queues what the client layer asked for and emits its rows.
    fn flush_clients(&mut self) {
        let mut rows = std::mem::take(&mut self.clients.rows);
        for row in rows.iter_mut() {
            self.emit(row);
        }
        rows.clear();
        self.clients.rows = rows;
        let mut out = std::mem::take(&mut self.clients.out);
        for (at, ev) in out.drain(..) {
            self.queue.schedule(at.max(self.now), Ev::Client(ev));
        }
        self.clients.out = out;
    }

    fn schedule_next_client(&mut self) {
        if let Some((at, node, key, kind)) = self.workload.next(self.now, &mut self.workload_rng) {
            assert!(node.0 < self.config.nodes, "workload chose {node} of {} nodes", self.config.nodes);
            self.queue.schedule(at.max(self.now), Ev::Open { node, key, kind });
        }
    }

    fn fault(&mut self, action: FaultAction) {
        match action {
            FaultAction::Crash { target, restart_after } => {
                let node = match target {
                    Target::Node(n) => Some(n),
                    Target::Leader => self.current_leader(),
                };
                match node {
                    Some(n) if self.up[n.index()] => self.crash(n, restart_after),
                    Some(n) => {
                        self.emit(&mut Record::new(Event::Note).node(n).detail("crash skipped: already down"))
                    }
                    None => self.emit(&mut Record::new(Event::Note).detail("crash skipped: no leader")),
                }
            }
            FaultAction::Restart { node } => self.restart(node),
            FaultAction::Partition { name, cut, heal_after } => {
                let instance = self.network.partitions.start(&name, &cut);
                let mut row = Record::new(Event::Partition).detail(cut.text());
                row.msg = name.into();
                self.emit(&mut row);
                if let Some(after) = heal_after {
                    let heal = FaultAction::Heal(HealTarget::Instance(instance));
                    self.queue.schedule(self.now + after, Ev::Fault(heal));
                }
            }
            FaultAction::Heal(target) => self.heal(target),
            FaultAction::Pause { target, pause } => {
                let node = match target {
                    Target::Node(n) => Some(n),
                    Target::Leader => self.current_leader(),
                };
                match node {
                    Some(n) if self.up[n.index()] && !self.paused(n) => {
                        self.paused_until[n.index()] = self.now + pause;
                        let detail = format!("pause {}us", pause.as_us());
                        self.emit(&mut Record::new(Event::Note).node(n).detail(detail));
                        self.queue.schedule(self.now + pause, Ev::Fault(FaultAction::Resume { node: n }));
                    }
                    Some(n) => self
                        .emit(&mut Record::new(Event::Note).node(n).detail("pause skipped: down or paused")),
                    None => self.emit(&mut Record::new(Event::Note).detail("pause skipped: no leader")),
                }
            }
            FaultAction::Resume { node } => {
                if self.up[node.index()] && self.paused_until[node.index()] == self.now {
                    self.emit(&mut Record::new(Event::Note).node(node).detail("resume"));
                }
            }
            FaultAction::Transfer { to } => self.transfer(to),
            FaultAction::AddServer { node } => {
                self.membership(AdminOp::AddServer { node }, format!("add_server {node}"))
            }
            FaultAction::RemoveServer { target } => {
                let node = match target {
                    Target::Node(n) => Some(n),
                    Target::Leader => None,
                };
                let what = format!("remove_server {}", node.map_or("leader".to_owned(), |n| n.to_string()));
                self.membership(AdminOp::RemoveServer { node }, what)
            }
        }
    }

    /// Asks the node claiming leadership for a membership change (`Protocol::on_admin`), after a
    /// kernel `note` row `add_server n4` / `remove_server n2` / `remove_server leader` at that node.
    fn membership(&mut self, op: AdminOp, what: String) {
        let Some(leader) = self.current_leader() else {
            return self.emit(&mut Record::new(Event::Note).detail(format!("{what} skipped: no leader")));
        };
        if self.paused(leader) {
            return self
                .emit(&mut Record::new(Event::Note).node(leader).detail(format!("{what} skipped: paused")));
        }
        self.emit(&mut Record::new(Event::Note).node(leader).detail(what));
        self.invoke(leader, |n, ctx| n.on_admin(ctx, op));
    }

    /// Asks the node claiming leadership to transfer it (`Protocol::on_admin`), after a kernel
    /// `note` row `transfer to n2` (or `transfer to most up-to-date`) at that node.
    fn transfer(&mut self, to: Option<NodeId>) {
        let Some(leader) = self.current_leader() else {
            return self.emit(&mut Record::new(Event::Note).detail("transfer skipped: no leader"));
        };
        if self.paused(leader) {
            return self.emit(&mut Record::new(Event::Note).node(leader).detail("transfer skipped: paused"));
        }
        let target = to.map_or("most up-to-date".to_owned(), |n| n.to_string());
        self.emit(&mut Record::new(Event::Note).node(leader).detail(format!("transfer to {target}")));
        self.invoke(leader, |n, ctx| n.on_admin(ctx, AdminOp::TransferLeadership { to }));
    }

    /// Heals partitions: a `heal` row names the partition (msg), empty for "all".
    fn heal(&mut self, target: HealTarget) {
        let partitions = &mut self.network.partitions;
        let name = match target {
            HealTarget::All => {
                partitions.heal_all();
                String::new()
            }
            HealTarget::Name(name) => {
                if partitions.heal_name(&name) == 0 {
                    let detail = format!("heal skipped: {name} is not in force");
                    return self.emit(&mut Record::new(Event::Note).detail(detail));
                }
                name
            }
            // Already healed by name or by a heal-all: nothing to do, nothing to write.
            HealTarget::Instance(i) => match partitions.heal_instance(i) {
                Some(name) => name,
                None => return,
            },
        };
        let mut row = Record::new(Event::Heal);
        row.msg = name.into();
        self.emit(&mut row);
    }

    /// When chaos stops: its `stop_ms`, or the run's end.
    fn chaos_stop(&self) -> SimTime {
        match self.config.chaos.stop_ms {
            0 => self.config.end,
            ms => SimTime::from_ms(ms).min(self.config.end),
        }
    }

    fn schedule_chaos_crash(&mut self) {
        if let Some(r) = &self.replay {
            if let Some((at, _, _)) = r.chaos_crashes.get(self.replay_chaos.0) {
                self.queue.schedule((*at).max(self.now), Ev::ChaosCrash);
            }
            return;
        }
        if let Some(every) = self.config.chaos.crash_every_ms {
            let at = self.now + faults::draw_ms_range(every, &mut self.chaos_rng);
            if at < self.chaos_stop() {
                self.queue.schedule(at, Ev::ChaosCrash);
            }
        }
    }

    fn schedule_chaos_partition(&mut self) {
        if let Some(r) = &self.replay {
            if let Some((at, _, _)) = r.chaos_partitions.get(self.replay_chaos.1) {
                self.queue.schedule((*at).max(self.now), Ev::ChaosPartition);
            }
            return;
        }
        if let Some(every) = self.config.chaos.partition_every_ms {
            let at = self.now + faults::draw_ms_range(every, &mut self.chaos_rng);
            if at < self.chaos_stop() {
                self.queue.schedule(at, Ev::ChaosPartition);
            }
        }
    }

    /// Crashes a random up node (or the leader), within `max_down`. Four draws whatever happens.
    fn chaos_crash(&mut self) {
        if let Some(r) = &self.replay {
            let (_, victim, down_for) = r.chaos_crashes[self.replay_chaos.0];
            self.replay_chaos.0 += 1;
            self.record(Entry::ChaosCrash { at: self.now, victim, down: down_for });
            match victim {
                Some(n) if self.up[n.index()] => self.crash(n, Some(down_for)),
                Some(n) => self
                    .emit(&mut Record::new(Event::Note).node(n).detail("chaos crash skipped: already down")),
                None => {
                    self.emit(&mut Record::new(Event::Note).detail("chaos crash skipped: max_down reached"))
                }
            }
            return self.schedule_chaos_crash();
        }
        let chaos = self.config.chaos.clone();
        let pick: f64 = rand::Rng::gen(&mut self.chaos_rng);
        let bias: u32 = rand::Rng::gen_range(&mut self.chaos_rng, 0..100);
        let down_for = faults::draw_ms_range(chaos.down_ms, &mut self.chaos_rng);
        let down = self.up.iter().filter(|u| !**u).count() as u32;
        let up: Vec<NodeId> = (0..self.config.nodes).map(NodeId).filter(|n| self.up[n.index()]).collect();
        let leader = if bias < chaos.leader_bias_percent { self.current_leader() } else { None };
        let victim = leader.or_else(|| up.get((pick * up.len() as f64) as usize).copied());
        let victim = victim.filter(|_| down < chaos.max_down);
        self.record(Entry::ChaosCrash { at: self.now, victim, down: down_for });
        match victim {
            Some(n) => self.crash(n, Some(down_for)),
            None => self.emit(&mut Record::new(Event::Note).detail("chaos crash skipped: max_down reached")),
        }
        self.schedule_chaos_crash();
    }

    /// Cuts off a random minority (at least one node, at most half) for a drawn time.
    fn chaos_partition(&mut self) {
        if let Some(r) = &self.replay {
            let (_, cut, lasts) = r.chaos_partitions[self.replay_chaos.1].clone();
            self.replay_chaos.1 += 1;
            self.record(Entry::ChaosPartition { at: self.now, cut: cut.clone(), lasts });
            if let Some(cut) = cut {
                self.chaos_partitions += 1;
                let name = format!("chaos{}", self.chaos_partitions);
                self.fault(FaultAction::Partition { name, cut, heal_after: Some(lasts) });
            }
            return self.schedule_chaos_partition();
        }
        let chaos = self.config.chaos.clone();
        let n = self.config.nodes;
        let size_u: f64 = rand::Rng::gen(&mut self.chaos_rng);
        let lasts = faults::draw_ms_range(chaos.partition_ms, &mut self.chaos_rng);
        // A random permutation from a fixed number of draws (n), then the first `size` nodes.
        let mut order: Vec<(u64, u32)> = (0..n).map(|i| (rand::Rng::gen(&mut self.chaos_rng), i)).collect();
        order.sort_unstable();
        let size = 1 + ((size_u * (n / 2).max(1) as f64) as usize).min((n / 2).max(1) as usize - 1);
        let mut minority: Vec<NodeId> = order.iter().take(size).map(|(_, i)| NodeId(*i)).collect();
        minority.sort_unstable();
        let mut majority: Vec<NodeId> = (0..n).map(NodeId).filter(|x| !minority.contains(x)).collect();
        majority.sort_unstable();
        let cut = (n > 1).then(|| Cut::Groups(vec![minority, majority]));
        self.record(Entry::ChaosPartition { at: self.now, cut: cut.clone(), lasts });
        if let Some(cut) = cut {
            self.chaos_partitions += 1;
            let name = format!("chaos{}", self.chaos_partitions);
            self.fault(FaultAction::Partition { name, cut, heal_after: Some(lasts) });
        }
        self.schedule_chaos_partition();
    }

    /// The lowest-numbered up node that claims leadership.
    fn current_leader(&self) -> Option<NodeId> {
        (0..self.nodes.len()).find(|i| self.up[*i] && self.nodes[*i].is_leader()).map(|i| NodeId(i as u32))
    }

    fn crash(&mut self, node: NodeId, restart_after: Option<SimDuration>) {
        let i = node.index();
        self.stats.crashes += 1;
        self.up[i] = false;
        self.paused_until[i] = self.now;
        self.incarnation[i] += 1;
        for timer in std::mem::take(&mut self.armed[i]) {
            self.queue.cancel_timer((node, timer));
        }
        self.nodes[i].on_crash();
        self.emit(&mut Record::new(Event::Crash).node(node));
        if let Some(after) = restart_after {
            self.queue.schedule(self.now + after, Ev::Fault(FaultAction::Restart { node }));
        }
    }

    fn restart(&mut self, node: NodeId) {
        if self.up[node.index()] {
            self.emit(&mut Record::new(Event::Note).node(node).detail("restart skipped: already up"));
            return;
        }
        self.stats.restarts += 1;
        self.up[node.index()] = true;
        self.emit(&mut Record::new(Event::Restart).node(node));
        self.invoke(node, |n, ctx| n.on_restart(ctx));
    }

    /// Runs one handler of `node` and applies its effects in order.
    fn invoke(&mut self, node: NodeId, handler: impl FnOnce(&mut P, &mut Ctx<'_, P>)) {
        let i = node.index();
        let mut effects = std::mem::take(&mut self.effects);
        let mut notes = std::mem::take(&mut self.notes);
        let skipped = {
            let mut ctx = Ctx::new(
                self.now,
                node,
                self.config.nodes,
                &mut self.timer_rngs[i],
                &mut self.node_rngs[i],
                &mut effects,
            )
            .with_notes(&mut notes);
            if let Some(draws) = self.timer_draws.as_mut() {
                ctx = ctx.with_timer_draw_log(&mut draws[i]);
            }
            if let Some(context) = self.client_context.take() {
                ctx = ctx.with_client_context(Some(context));
            }
            if !S::READS_ROWS {
                ctx = ctx.with_rows_wanted(false);
            }
            handler(&mut self.nodes[i], &mut ctx);
            ctx.skipped_notes()
        };
        // Notes nobody reads are numbered all the same (the sink would have ignored them).
        self.skip_rows(skipped);
        let mut rows = notes.iter_mut();
        for effect in effects.drain(..) {
            match effect {
                Effect::Noted => {
                    let row = rows.next().expect("one row per Noted effect");
                    row.node = row.node.or(Some(node));
                    self.emit(row);
                }
                effect => self.apply(node, effect),
            }
        }
        notes.clear();
        self.effects = effects;
        self.notes = notes;
    }

    fn apply(&mut self, node: NodeId, mut effect: Effect<P>) {
        match effect {
            Effect::Send { to, msg, delay } => {
                assert!(to.0 < self.config.nodes, "{node} sent to unknown node {to}");
                if delay == SimDuration::ZERO {
                    self.transmit(node, to, msg);
                } else {
                    let incarnation = self.incarnation[node.index()];
                    self.queue.schedule(self.now + delay, Ev::Depart { from: node, to, msg, incarnation });
                }
            }
            Effect::SetTimer { timer, after } => {
                let after = node_config::scale(after, self.drift[node.index()]);
                self.queue.set_timer((node, timer), self.now + after, Ev::Timer { node, timer });
                let armed = &mut self.armed[node.index()];
                if !armed.contains(&timer) {
                    armed.push(timer);
                }
            }
            Effect::CancelTimer { timer } => {
                self.queue.cancel_timer((node, timer));
                self.armed[node.index()].retain(|t| *t != timer);
            }
            Effect::Note(ref mut row) => {
                row.node = row.node.or(Some(node));
                self.emit(row);
            }
            Effect::Noted => unreachable!("invoke emits Noted rows itself"),
            Effect::Reply { op, reply } => {
                self.clients.reply_sent(self.now, op, node, reply);
                self.flush_clients();
            }
        }
    }

    /// A message leaves `from` now: trace it, and let the network decide its fate.
    fn transmit(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        self.stats.messages_sent += 1;
        let link = from.index() * self.nodes.len() + to.index();
        let k = self.link_sent[link];
        self.link_sent[link] += 1;
        // The six draws happen whatever drives the run, so the network stream stays in step.
        let drawn = self.network.draw_fate(from, to);
        let fate = match &self.replay {
            None => drawn,
            Some(r) => r.fates.get(&(from, to, k)).copied().unwrap_or(Fate {
                dropped: false,
                duplicate: None,
                ..drawn
            }),
        };
        if self.recording.is_some() {
            self.record(Entry::Send { at: self.now, from, to, k, fate });
        }
        // The `send` row, and its `drop` / `duplicate` twin. A sink that does not read rows gets
        // neither built: only their numbers are taken (`skip_rows`), so its run counts the same rows.
        let fill_send_row = |row: &mut Record, msg: &P::Msg| {
            row.node = Some(from);
            row.peer = Some(to);
            row.msg = msg.name().into();
            msg.describe(row);
        };
        match self.network.apply_fate(self.now, from, to, fate) {
            crate::sim::network::Route::Dropped(reason) => {
                self.stats.messages_dropped += 1;
                if !S::READS_ROWS {
                    return self.skip_rows(2);
                }
                let mut row = Record::new(Event::Send);
                fill_send_row(&mut row, &msg);
                let mut drop = row.clone();
                self.emit(&mut row);
                drop.event = Event::Drop;
                drop.set_detail(reason.as_str());
                self.emit(&mut drop);
            }
            crate::sim::network::Route::Delivered { at, duplicate } => {
                // Each copy's `send` row waits in `in_flight` for its `deliver` row.
                let mut wire = NO_WIRE;
                if S::READS_ROWS {
                    // Built and emitted where it is parked (a row built first and moved in cost
                    // a memcpy per send).
                    wire = self.in_flight.insert(Record::new(Event::Send));
                    let row = self.in_flight.get_mut(wire);
                    fill_send_row(row, &msg);
                    emit_to(self.now, &mut self.stats.rows, &mut self.sink, row);
                }
                if let Some(again) = duplicate {
                    self.stats.messages_duplicated += 1;
                    let mut copy = NO_WIRE;
                    if S::READS_ROWS {
                        let mut dup = self.in_flight.get(wire).clone();
                        dup.event = Event::Duplicate;
                        self.emit(&mut dup);
                        copy = self.in_flight.insert(dup);
                    } else {
                        self.skip_rows(2);
                    }
                    self.queue.schedule(again, Ev::Deliver { from, to, msg: msg.clone(), wire: copy });
                } else if !S::READS_ROWS {
                    self.skip_rows(1);
                }
                self.queue.schedule(at, Ev::Deliver { from, to, msg, wire });
            }
        }
    }

    /// Numbers `n` rows without building them, for a sink that does not read rows (what `emit`
    /// would have done for it: the sink ignores them).
    fn skip_rows(&mut self, n: u64) {
        self.stats.rows += n;
    }

    /// Stamps `row` with the time and the next row number and hands it to the sink. By reference:
    /// a row is ~190 bytes, and the hot paths build it in place.
    fn emit(&mut self, row: &mut Record) {
        emit_to(self.now, &mut self.stats.rows, &mut self.sink, row);
    }
}

/// [`Runner::emit`] on the runner's fields, for a row that lives in another of them.
#[inline(always)]
fn emit_to<S: RowSink>(now: SimTime, rows: &mut u64, sink: &mut S, row: &mut Record) {
    row.time_us = now.as_us();
    row.seq = *rows;
    *rows += 1;
    sink.row(row);
}
