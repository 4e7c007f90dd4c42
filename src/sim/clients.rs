//! The kernel's client layer: client processes in Jepsen's model, and the open-loop workload's
//! requests, as operations with exactly one outcome each.
//!
//! A closed-loop process (`[clients] count` of them) issues one operation at a time: it writes an
//! `invoke` row, sends the request to its node (process `p` talks to node `p mod N`; a node that is
//! down refuses the connection at once, and the next up node is tried), waits, and writes `ok` or
//! `fail` when a node's reply reaches it, or `info` when `timeout_ms` passes first. Every
//! `retry_ms` without an answer it resends the SAME op (same id) to the next up node. After an
//! `ok` / `fail` it thinks (`think_ms`) and issues the next op; after an `info` it retires and a
//! fresh process id takes its slot (a process whose op is indeterminate never issues again).
//! Requests and replies cross a client link whose delay is drawn from `link_latency_us`; client
//! links are not subject to partitions, loss or duplication. A reply for an op nobody waits on is
//! ignored. With `roaming = true` a process sends each op to a node drawn uniformly instead of
//! `p mod N` (sticky), which is what session guarantees are measured against.
//!
//! Contexts: when a node answers with [`ClientReply::OkWithContext`], the process remembers that
//! opaque clock for the key and sends it with its next write on the key (`ClientEv::Arrive`'s
//! `context`, which the node reads with `Ctx::client_context`; Dynamo §4.4). The `invoke` and
//! `client` rows of a write show the context it carries in the `clock` column; the `ok` row shows in the `clock` column. The kernel never reads it. A fresh
//! process (after an `info`) starts without contexts; open-loop requests never carry one.
//!
//! Open-loop requests (`[workload]`) go through the same path, each as an op of a fresh
//! process, at O(1) cost per request.
//!
//! Every draw here comes from the `Clients` stream, so turning clients on shifts no other stream.
//! The pending-op table is a hash map that is only ever looked up, never iterated.

use rand::Rng;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::client::{ClientOp, ClientReply, Kind};
use crate::error::{Error, Result};
use crate::sim::rng::SimRng;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Clock, Event, Record, Value};

/// `[clients]` in a scenario file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientsConfig {
    /// Closed-loop client processes running at once. 0 = none (only the open-loop workload).
    pub count: u32,
    /// Closed-loop ops use keys `k0` … `k{keys-1}`, uniformly.
    pub keys: u64,
    /// Share of closed-loop ops that are reads. In [0, 1].
    pub read_fraction: f64,
    /// Share of closed-loop ops that are compare-and-sets; the rest are writes. In [0, 1] with
    /// `read_fraction + cas_fraction <= 1`. Must be 0 for the eventual KV.
    pub cas_fraction: f64,
    /// A process waits uniformly in `[min, max]` ms after an outcome before its next op.
    pub think_ms: [u64; 2],
    /// An op without an answer after this long ends `info` (why=timeout). Applies to open-loop
    /// requests too.
    pub timeout_ms: u64,
    /// Resend an unanswered op (same id) to the next node this often. 0 = never resend.
    pub retry_ms: u64,
    /// One-way delay of a client link (request or reply), uniform in `[min, max]` µs.
    pub link_latency_us: [u64; 2],
    /// Closed-loop processes start at this time (ms).
    pub start_ms: u64,
    /// No closed-loop op is invoked at or after this time (ms); defaults to the run's duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<u64>,
    /// false (sticky): process `p` always talks to node `p mod N`. true (roaming): each op goes to
    /// a node drawn uniformly from the `Clients` stream.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub roaming: bool,
}

impl Default for ClientsConfig {
    fn default() -> Self {
        ClientsConfig {
            count: 0,
            keys: 3,
            read_fraction: 0.5,
            cas_fraction: 0.0,
            think_ms: [0, 20],
            timeout_ms: 1_000,
            retry_ms: 300,
            link_latency_us: [100, 1_000],
            start_ms: 0,
            stop_ms: None,
            roaming: false,
        }
    }
}

impl ClientsConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: &str| {
            Err(Error::invalid(origin, format!("clients.{field}"), value, allowed))
        };
        if self.count > 10_000 {
            return bad("count", &self.count, "an integer in [0, 10000]");
        }
        if !(1..=1_000_000).contains(&self.keys) {
            return bad("keys", &self.keys, "an integer in [1, 1000000]");
        }
        for (field, p) in [("read_fraction", self.read_fraction), ("cas_fraction", self.cas_fraction)] {
            if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
                return bad(field, &p, "a probability in [0, 1]");
            }
        }
        if self.read_fraction + self.cas_fraction > 1.0 {
            return bad(
                "cas_fraction",
                &self.cas_fraction,
                &format!("at most 1 - clients.read_fraction ({})", 1.0 - self.read_fraction),
            );
        }
        let [lo, hi] = self.think_ms;
        if lo > hi || hi > 3_600_000 {
            return bad("think_ms", &format!("[{lo}, {hi}]"), "[min, max] with min <= max <= 3600000");
        }
        if !(1..=3_600_000).contains(&self.timeout_ms) {
            return bad("timeout_ms", &self.timeout_ms, "an integer in [1, 3600000]");
        }
        if self.retry_ms > 3_600_000 {
            return bad("retry_ms", &self.retry_ms, "an integer in [0, 3600000] (0 = never resend)");
        }
        let [lo, hi] = self.link_latency_us;
        if lo > hi || hi > 10_000_000 {
            return bad(
                "link_latency_us",
                &format!("[{lo}, {hi}]"),
                "[min, max] with min <= max <= 10000000",
            );
        }
        if let Some(stop) = self.stop_ms {
            if stop < self.start_ms {
                return bad("stop_ms", &stop, &format!("at least clients.start_ms ({})", self.start_ms));
            }
        }
        Ok(())
    }
}

/// A client-layer event the runner queues.
#[derive(Clone, Debug)]
pub enum ClientEv {
    /// Closed-loop slot `slot` issues its next op.
    Invoke { slot: u32 },
    /// A request reaches `node`, with the process's context for the key if it is a write.
    Arrive { node: NodeId, op: ClientOp, attempt: u32, context: Option<Clock> },
    /// Time to resend op `op`, or to give up on it.
    Tick { op: u64 },
    /// `node`'s reply to op `op` reaches the client.
    Reply { op: u64, node: NodeId, reply: ClientReply },
}

/// Outcome counters of the client layer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientStats {
    pub invoked: u64,
    pub ok: u64,
    pub fail: u64,
    pub info: u64,
}

/// An op waiting for its outcome.
#[derive(Clone, Debug)]
struct Pending {
    op: ClientOp,
    /// The node it was last sent to (or would have been, when every node was down).
    node: NodeId,
    attempt: u32,
    deadline: SimTime,
    /// The closed-loop slot that issued it; `None` for an open-loop request.
    slot: Option<u32>,
    /// The context a write carries (see the module doc).
    context: Option<Clock>,
}

/// The client layer's state. Memory: one entry per op in flight and one per closed-loop slot.
pub struct Clients {
    config: ClientsConfig,
    nodes: u32,
    rng: SimRng,
    stop: SimTime,
    next_op: u64,
    next_process: u64,
    /// Looked up by op id only, never iterated.
    pending: FxHashMap<u64, Pending>,
    /// The process currently running in each closed-loop slot.
    slots: Vec<u64>,
    /// Per slot: key -> the context of the process's last `OkWithContext` on it. Looked up only.
    contexts: Vec<FxHashMap<u64, Clock>>,
    /// Key -> the last value invoked as written on it (cas ops expect it). Looked up only.
    last_write: FxHashMap<u64, u64>,
    pub stats: ClientStats,
    /// What the runner must queue (time, event) and emit, filled by each call.
    pub out: Vec<(SimTime, ClientEv)>,
    pub rows: Vec<Record>,
}

impl Clients {
    /// `end` is the run's end; `rng` the `Clients` stream.
    pub fn new(config: &ClientsConfig, nodes: u32, end: SimTime, rng: SimRng) -> Clients {
        let stop = config.stop_ms.map(SimTime::from_ms).unwrap_or(end).min(end);
        Clients {
            slots: (0..u64::from(config.count)).collect(),
            contexts: vec![FxHashMap::default(); config.count as usize],
            next_process: u64::from(config.count),
            config: config.clone(),
            nodes,
            rng,
            stop,
            next_op: 1,
            pending: FxHashMap::default(),
            last_write: FxHashMap::default(),
            stats: ClientStats::default(),
            out: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Ops invoked and not yet completed.
    pub fn in_flight(&self) -> usize {
        self.pending.len()
    }

    /// Schedules every closed-loop slot's first op.
    pub fn start(&mut self) {
        let start = SimTime::from_ms(self.config.start_ms);
        for slot in 0..self.config.count {
            let at = start + self.think();
            self.out.push((at, ClientEv::Invoke { slot }));
        }
    }

    fn think(&mut self) -> SimDuration {
        let [lo, hi] = self.config.think_ms;
        SimDuration::from_us(self.rng.gen_range(lo * 1_000..=hi * 1_000))
    }

    fn link(&mut self) -> SimDuration {
        let [lo, hi] = self.config.link_latency_us;
        SimDuration::from_us(self.rng.gen_range(lo..=hi))
    }

    /// The first up node from `from` on, in id order (a down node refuses the connection).
    fn first_up(&self, from: u32, up: &[bool]) -> Option<NodeId> {
        (0..self.nodes).map(|k| NodeId((from + k) % self.nodes)).find(|n| up[n.index()])
    }

    /// Closed-loop slot `slot` issues its next op (unless the clients have stopped).
    pub fn invoke_slot(&mut self, now: SimTime, slot: u32, up: &[bool]) {
        if now >= self.stop {
            return;
        }
        let u: f64 = self.rng.gen();
        let key = self.rng.gen_range(0..self.config.keys);
        let kind = if u < self.config.read_fraction {
            Kind::Read
        } else if u < self.config.read_fraction + self.config.cas_fraction {
            Kind::Cas
        } else {
            Kind::Write
        };
        let process = self.slots[slot as usize];
        let node = if self.config.roaming {
            NodeId(self.rng.gen_range(0..self.nodes))
        } else {
            NodeId((process % u64::from(self.nodes)) as u32)
        };
        self.invoke(now, process, Some(slot), node, key, kind, up);
    }

    /// An open-loop request: an op of a fresh process.
    pub fn invoke_open(&mut self, now: SimTime, node: NodeId, key: u64, kind: Kind, up: &[bool]) {
        let process = self.next_process;
        self.next_process += 1;
        self.invoke(now, process, None, node, key, kind, up);
    }

    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        now: SimTime,
        process: u64,
        slot: Option<u32>,
        chosen: NodeId,
        key: u64,
        kind: Kind,
        up: &[bool],
    ) {
        let id = self.next_op;
        self.next_op += 1;
        let op = match kind {
            Kind::Read => ClientOp::read(process, id, key),
            Kind::Write => ClientOp::write(process, id, key),
            Kind::Cas => ClientOp::cas(process, id, key, self.last_write.get(&key).copied()),
        };
        let context = match slot {
            Some(slot) if op.written().is_some() => self.contexts[slot as usize].get(&key).cloned(),
            _ => None,
        };
        if op.written().is_some() {
            self.last_write.insert(key, id);
        }
        self.stats.invoked += 1;
        let target = self.first_up(chosen.0, up);
        let node = target.unwrap_or(chosen);
        let mut row = Record::new(Event::Invoke).node(node);
        op.describe(&mut row);
        row.clock = context.clone();
        self.rows.push(row);
        let deadline = now + SimDuration::from_ms(self.config.timeout_ms);
        self.pending.insert(id, Pending { op, node, attempt: 0, deadline, slot, context: context.clone() });
        if target.is_some() {
            let at = now + self.link();
            self.out.push((at, ClientEv::Arrive { node, op, attempt: 0, context }));
        }
        self.schedule_tick(now, id, deadline);
    }

    fn schedule_tick(&mut self, now: SimTime, id: u64, deadline: SimTime) {
        let at = match self.config.retry_ms {
            0 => deadline,
            ms => (now + SimDuration::from_ms(ms)).min(deadline),
        };
        self.out.push((at, ClientEv::Tick { op: id }));
    }

    /// Resend op `id` to the next up node, or give up on it at its deadline (`info`).
    pub fn tick(&mut self, now: SimTime, id: u64, up: &[bool]) {
        let Some(p) = self.pending.get(&id) else { return };
        if now >= p.deadline {
            self.complete(now, id, None, Event::Info, Value::None, Some("timeout"));
            return;
        }
        let (from, deadline) = ((p.node.0 + 1) % self.nodes, p.deadline);
        let target = self.first_up(from, up);
        let link = if target.is_some() { Some(self.link()) } else { None };
        let Some(p) = self.pending.get_mut(&id) else { return };
        if let (Some(node), Some(link)) = (target, link) {
            p.node = node;
            p.attempt += 1;
            self.out.push((
                now + link,
                ClientEv::Arrive { node, op: p.op, attempt: p.attempt, context: p.context.clone() },
            ));
        }
        self.schedule_tick(now, id, deadline);
    }

    /// A node answered op `id`: the reply travels back if someone still waits for it.
    pub fn reply_sent(&mut self, now: SimTime, id: u64, node: NodeId, reply: ClientReply) {
        if self.pending.contains_key(&id) {
            let at = now + self.link();
            self.out.push((at, ClientEv::Reply { op: id, node, reply }));
        }
    }

    /// A reply reaches its client: the op's outcome, unless it already has one.
    pub fn reply_arrived(&mut self, now: SimTime, id: u64, node: NodeId, reply: ClientReply) {
        let Some(p) = self.pending.get(&id) else { return };
        let mut context = None;
        let (event, value, why, node) = match reply {
            ClientReply::Ok(read) => {
                let value = if p.op.is_read() { read } else { p.op.written().map_or(Value::None, Value::Id) };
                (Event::Ok, value, None, Some(node))
            }
            ClientReply::OkWithContext(read, clock) => {
                let value = if p.op.is_read() { read } else { p.op.written().map_or(Value::None, Value::Id) };
                if let Some(slot) = p.slot {
                    self.contexts[slot as usize].insert(p.op.key, clock.clone());
                }
                context = Some(clock);
                (Event::Ok, value, None, Some(node))
            }
            ClientReply::Fail(why) => (Event::Fail, Value::None, Some(why), Some(node)),
            ClientReply::Unknown(why) => (Event::Info, Value::None, Some(why), None),
            ClientReply::Refused(why) if p.attempt == 0 => (Event::Fail, Value::None, Some(why), Some(node)),
            ClientReply::Refused(_) => return,
        };
        self.complete(now, id, node, event, value, why);
        if let Some(clock) = context {
            self.rows.last_mut().expect("complete wrote the ok row").clock = Some(clock);
        }
    }

    /// Writes the outcome row of op `id`, forgets it, and lets its slot go on (a fresh process
    /// after `info`).
    fn complete(
        &mut self,
        now: SimTime,
        id: u64,
        node: Option<NodeId>,
        event: Event,
        value: Value,
        why: Option<&'static str>,
    ) {
        let Some(p) = self.pending.remove(&id) else { return };
        let mut row = Record::new(event);
        p.op.describe(&mut row);
        row.node = node;
        row.clock = None; // An `ok` shows the context the node returned, if any (reply_arrived).
        if event == Event::Ok {
            row.value = value;
        }
        if let Some(why) = why {
            row.detail = format!("{} why={why}", row.detail).into();
        }
        self.rows.push(row);
        match event {
            Event::Ok => self.stats.ok += 1,
            Event::Fail => self.stats.fail += 1,
            _ => self.stats.info += 1,
        }
        if let Some(slot) = p.slot {
            if event == Event::Info {
                self.contexts[slot as usize].clear();
                self.slots[slot as usize] = self.next_process;
                self.next_process += 1;
            }
            let at = now + self.think();
            self.out.push((at, ClientEv::Invoke { slot }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::rng::{Purpose, Streams};

    fn clients(config: ClientsConfig) -> Clients {
        Clients::new(&config, 3, SimTime::from_ms(10_000), Streams::new(1).stream(Purpose::Clients))
    }

    #[test]
    fn one_outcome_per_op_and_late_replies_are_ignored() {
        let mut c = clients(ClientsConfig { count: 1, ..Default::default() });
        c.invoke_slot(SimTime::ZERO, 0, &[true; 3]);
        assert_eq!(c.rows[0].event, Event::Invoke);
        assert_eq!(c.rows[0].node, Some(NodeId(0)));
        let id = c.rows[0].index.unwrap();
        c.reply_sent(SimTime(10), id, NodeId(0), ClientReply::Ok(Value::None));
        c.reply_sent(SimTime(11), id, NodeId(1), ClientReply::Fail("x"));
        c.reply_arrived(SimTime(20), id, NodeId(0), ClientReply::Ok(Value::Id(4)));
        c.reply_arrived(SimTime(21), id, NodeId(1), ClientReply::Fail("x"));
        c.tick(SimTime::from_ms(2_000), id, &[true; 3]);
        let events: Vec<Event> = c.rows.iter().map(|r| r.event).collect();
        assert_eq!(events, vec![Event::Invoke, Event::Ok]);
        assert_eq!(c.in_flight(), 0);
    }

    #[test]
    fn timeout_is_info_and_the_slot_gets_a_fresh_process() {
        let mut c = clients(ClientsConfig { count: 1, retry_ms: 0, ..Default::default() });
        c.invoke_slot(SimTime::ZERO, 0, &[true; 3]);
        let id = c.rows[0].index.unwrap();
        c.tick(SimTime::from_ms(1_000), id, &[true; 3]);
        assert_eq!(c.rows[1].event, Event::Info);
        assert_eq!(c.rows[1].node, None);
        assert!(c.rows[1].detail.ends_with("why=timeout"), "{}", c.rows[1].detail);
        c.invoke_slot(SimTime::from_ms(1_001), 0, &[true; 3]);
        assert!(c.rows[2].detail.starts_with("p1"), "{}", c.rows[2].detail);
    }

    #[test]
    fn a_resend_keeps_the_op_id_and_goes_to_the_next_up_node() {
        let mut c = clients(ClientsConfig { count: 1, ..Default::default() });
        c.invoke_slot(SimTime::ZERO, 0, &[true, true, true]);
        let id = c.rows[0].index.unwrap();
        c.out.clear();
        c.tick(SimTime::from_ms(300), id, &[true, false, true]);
        match &c.out[0].1 {
            ClientEv::Arrive { node, op, attempt, .. } => {
                assert_eq!((*node, op.id, *attempt), (NodeId(2), id, 1));
            }
            other => panic!("{other:?}"),
        }
    }
}
