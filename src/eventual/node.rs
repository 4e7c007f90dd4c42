//! One replica of the eventually consistent KV, which also coordinates the client requests it gets.
//!
//! Every node replicates every key (N = cluster size). `mode = "dynamo"`:
//! - Put (Dynamo §4.4, §4.5): the put carries the context (clock) the client got with its last
//!   get or put on the key (none = a blind write). The new clock is the context joined with the
//!   coordinator's own entry as held for the key, plus one in that entry: it descends from what the
//!   client saw and is concurrent with what it did not see, so merging it into the held set keeps
//!   those as siblings. (Vector clocks with one entry per coordinator cannot tell a blind write
//!   apart from a write that saw the coordinator's earlier writes: those it still supersedes; dotted
//!   version vectors would fix that.) Every `ok` carries the resulting clock as the client's next
//!   context (`ClientReply::OkWithContext`). It is stored locally and sent to every other replica; with W > 1 the coordinator
//!   acknowledges once W − 1 distinct replicas acked (`note` `put_ack`), or gives up after
//!   `request_timeout_ms` (`note` `put_timeout`). With W = 1 the `put_ack` row follows the `write`
//!   row at once, so "acknowledged" is always the `put_ack` row.
//! - Get: R = 1 reads locally. R > 1 asks every other replica and answers with the first R − 1
//!   replies merged with its own versions (Dynamo §4.5 asks the N reachable nodes and waits for R);
//!   with `read_repair` it sends the merged result to responders that answered with less and
//!   stores it itself.
//! - `coordinator = "outside"` (the PBS model's set-up, Bailis et al. VLDB 2012): the contacted
//!   node coordinates without counting as a replica. A put stores nothing at once; it sends the new
//!   version to all N replicas, itself included through the network, and acknowledges after W
//!   acks; a get asks all N the same way and answers with the first R replies merged (its own
//!   store only as one of those replies). Its own clock entry comes from `coordinator_counter`,
//!   since its store may not yet hold its previous write.
//! - Anti-entropy (§4.7, with a flat per-key digest in place of Merkle trees): every
//!   `anti_entropy_ms` a node sends its digest to `anti_entropy_fanout` peers drawn from its own
//!   stream (`ctx.rng()`); the peer pushes what the sender lacks and asks for what it lacks itself.
//!
//! `mode = "seed"` is the textbook: one node-wide clock bumped on each local write and never
//! merged, a received version replaces the held one when `seed_is_newer` says so, one
//! `replicate` per peer per write, no acks, no retries, no anti-entropy, local reads (W, R and the
//! anti-entropy settings are ignored).
//!
//! The store (and the seed clock, and the request counter) survive a crash; pending coordinations
//! do not. Trace notes: `write`, `apply`, `conflict`, `read`, `note` (`put_ack`, `put_timeout`,
//! `get_timeout`) and, at the end, `final` — see `docs` in each emitting function.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::rc::Rc;

use rand::Rng;

use crate::client::{ClientOp, ClientReply, Func};
use crate::eventual::config::{AntiEntropyMode, Bug, Coordinator, EventualConfig, Mode, Policy};
use crate::eventual::messages::{EventualMsg, KeyVersions};
use crate::eventual::store::{self, join_clock, value_of, Rule, Store, Version};
use crate::eventual::vclock::{Ordering4, VClock};
use crate::protocol::{Ctx, Protocol, Timer};
use crate::sim::{NodeId, SimDuration};
use crate::trace::{Clock, Event, Record, Value};

/// At most this many client requests in flight at one coordinator; more are refused (`note`
/// `overloaded`), so a stuck quorum cannot grow memory without bound.
pub const PENDING_MAX: usize = 65_536;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventualTimer {
    /// Periodic anti-entropy round.
    AntiEntropy,
    /// A quorum write (by request id) ran out of time: the client learns nothing certain.
    WriteTimeout(u64),
    /// A quorum read (by request id) ran out of time.
    ReadTimeout(u64),
}

impl Timer for EventualTimer {
    fn name(&self) -> &'static str {
        match self {
            EventualTimer::AntiEntropy => "anti_entropy",
            EventualTimer::WriteTimeout(_) => "write_timeout",
            EventualTimer::ReadTimeout(_) => "read_timeout",
        }
    }
}

/// A write waiting for W − 1 acknowledgements.
#[derive(Clone, Debug)]
struct PendingWrite {
    key: u64,
    value: u64,
    clock: VClock,
    /// Distinct replicas that acked (the coordinator not included).
    acked: Vec<NodeId>,
}

/// A read waiting for R − 1 replies.
#[derive(Clone, Debug)]
struct PendingRead {
    key: u64,
    /// The client's read id (the `read` row's `index`).
    id: u64,
    replies: Vec<(NodeId, Vec<Version>)>,
}

#[derive(Debug)]
pub struct EventualNode {
    id: NodeId,
    nodes: u32,
    config: EventualConfig,
    // Persisted across crashes.
    store: Store,
    /// Seed mode's node-wide clock (the textbook's `vector_clock`).
    seed_clock: VClock,
    /// Next coordination id. Kept across crashes so a late ack never matches a newer request.
    next_req: u64,
    /// `coordinator = "outside"`: the highest own clock entry this node gave a write (any key),
    /// kept across crashes, so two of its writes never share a clock.
    coordinator_counter: u64,
    // Volatile.
    pending_writes: BTreeMap<u64, PendingWrite>,
    pending_reads: BTreeMap<u64, PendingRead>,
}

impl EventualNode {
    pub fn new(id: NodeId, nodes: u32, config: &EventualConfig) -> EventualNode {
        assert!(id.0 < nodes, "node {id} outside a cluster of {nodes}");
        let rule = match (config.mode, config.policy) {
            (Mode::Seed, _) => Rule::Seed,
            (Mode::Dynamo, Policy::Siblings) if config.bug == Bug::AnyEntryGreater => Rule::AnyEntryGreater,
            (Mode::Dynamo, Policy::Siblings) => Rule::Siblings,
            (Mode::Dynamo, Policy::Lww) => Rule::Lww,
        };
        EventualNode {
            id,
            nodes,
            config: config.clone(),
            store: Store::new(rule),
            seed_clock: VClock::new(),
            next_req: 1,
            coordinator_counter: 0,
            pending_writes: BTreeMap::new(),
            pending_reads: BTreeMap::new(),
        }
    }

    /// The replica's versions (for tests and final-state inspection).
    pub fn store(&self) -> &Store {
        &self.store
    }

    fn seed(&self) -> bool {
        self.config.mode == Mode::Seed
    }

    fn outside(&self) -> bool {
        self.config.coordinator == Coordinator::Outside
    }

    /// What the coordinator itself counts towards W and R: 1 as a replica, 0 outside.
    fn self_counts(&self) -> usize {
        usize::from(!self.outside())
    }

    /// Where a coordinator sends a write or a read: the other replicas, or all N from outside.
    fn targets(&self, ctx: &Ctx<'_, Self>) -> Vec<NodeId> {
        if self.outside() {
            (0..self.nodes).map(NodeId).collect()
        } else {
            ctx.peers().collect()
        }
    }

    fn write_quorum(&self) -> u32 {
        if self.seed() {
            1
        } else {
            self.config.write_quorum.min(self.nodes)
        }
    }

    fn read_quorum(&self) -> u32 {
        if self.seed() {
            1
        } else {
            self.config.read_quorum.min(self.nodes)
        }
    }

    fn take_req(&mut self) -> u64 {
        let req = self.next_req;
        self.next_req += 1;
        req
    }

    fn arm_anti_entropy(&self, ctx: &mut Ctx<'_, Self>) {
        if !self.seed() && self.config.anti_entropy_ms > 0 && self.nodes > 1 {
            ctx.set_timer(EventualTimer::AntiEntropy, SimDuration::from_ms(self.config.anti_entropy_ms));
        }
    }

    // ----- client requests -----

    /// An `ok` for the client: with the clock as its next context in dynamo mode (the seed has none).
    fn ok(&self, value: Value, clock: &VClock) -> ClientReply {
        if self.seed() {
            ClientReply::Ok(value)
        } else {
            ClientReply::OkWithContext(value, clock.to_trace())
        }
    }

    /// [`EventualNode::ok`] from the clock's trace cell, already spelt for the node's rows.
    fn ok_traced(&self, value: Value, clock: Clock) -> ClientReply {
        if self.seed() {
            ClientReply::Ok(value)
        } else {
            ClientReply::OkWithContext(value, clock)
        }
    }

    /// `write` row: key, value = the written id, clock = the new version's clock; then, in dynamo
    /// mode, an `apply` row (detail `put`) with the resulting set if it is not just the new version.
    fn handle_put(&mut self, ctx: &mut Ctx<'_, Self>, key: u64, value: u64, context: Option<&Clock>) {
        let clock = if self.seed() {
            self.seed_clock.increment(self.id);
            self.seed_clock.clone()
        } else {
            // The held set's joined clock is kept with it (its digest entry).
            let mut own = self.store.joined_clock(key).map_or(0, |held| held.get(self.id));
            if self.outside() {
                own = own.max(self.coordinator_counter);
            }
            let mut clock = context.map(VClock::from_trace).unwrap_or_default();
            clock.raise(self.id, own);
            clock.increment(self.id);
            self.coordinator_counter = clock.get(self.id);
            clock
        };
        let version = Version::write(value, clock.clone(), self.id);
        // Spelt once for the `write` row, the `put_ack` row and the client's context.
        let traced = clock.to_trace();
        ctx.note(Record::new(Event::Write).key(key).value(Value::Id(value)).clock(traced.clone()));
        if self.seed() {
            self.store.put_local(key, version.clone());
        } else if !self.outside() {
            self.store.put(key, version.clone());
            let set = self.store.get(key);
            if set != std::slice::from_ref(&version) {
                // The write sits beside versions its context did not cover (or lost under LWW):
                // the resulting set, so row readers track the coordinator's state.
                let row = Record::new(Event::Apply)
                    .key(key)
                    .value(value_of(set))
                    .clock(join_clock(set).to_trace())
                    .detail("put");
                ctx.note(row);
            }
        }
        // The client's op id is the written value id.
        let w = if self.config.bug == Bug::AckBeforeQuorum { 1 } else { self.write_quorum() };
        let req = if w > 1 || self.outside() { Some(self.take_req()) } else { None };
        let versions: Rc<[Version]> =
            if self.outside() { Rc::new([version]) } else { Rc::from(self.store.get(key)) };
        let targets = self.targets(ctx);
        if let Some((last, others)) = targets.split_last() {
            for peer in others {
                ctx.send(*peer, EventualMsg::Replicate { key, versions: versions.clone(), req });
            }
            // The last target takes the set itself: one reference count fewer per write.
            ctx.send(*last, EventualMsg::Replicate { key, versions, req });
        }
        match req {
            None => {
                note_put(ctx, "put_ack", key, value, traced.clone(), 1, 1);
                ctx.reply(value, self.ok_traced(Value::None, traced));
            }
            Some(req) => {
                let pending = PendingWrite { key, value, clock, acked: Vec::new() };
                self.pending_writes.insert(req, pending);
                ctx.set_timer(EventualTimer::WriteTimeout(req), self.request_timeout());
            }
        }
    }

    fn handle_get(&mut self, ctx: &mut Ctx<'_, Self>, key: u64, id: u64) {
        if self.read_quorum() <= 1 && !self.outside() {
            let local = self.store.get(key);
            // The store keeps the set's joined clock (none, the empty clock, for no version),
            // spelt once for the `read` row and the client's context.
            let joined = self.store.joined_clock(key).map(VClock::to_trace);
            let value = value_of(local);
            note_read_joined(ctx, key, id, value.clone(), joined.clone(), 1);
            ctx.reply(id, self.ok_traced(value, joined.unwrap_or_default()));
            return;
        }
        let req = self.take_req();
        self.pending_reads.insert(req, PendingRead { key, id, replies: Vec::new() });
        for peer in self.targets(ctx) {
            ctx.send(peer, EventualMsg::ReadRequest { req, key });
        }
        ctx.set_timer(EventualTimer::ReadTimeout(req), self.request_timeout());
    }

    fn request_timeout(&self) -> SimDuration {
        SimDuration::from_ms(self.config.request_timeout_ms)
    }

    // ----- replication -----

    /// Stores received versions. `apply` row (when the set changed): key, value = the resulting
    /// value(s), clock = the join of the resulting clocks, peer = sender, detail = `via`.
    /// `conflict` row per newly met concurrent pair: key, value = both ids, clock = the received
    /// version's, detail `<via> held=<clock> received=<clock>`.
    fn apply_received(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: Option<NodeId>,
        key: u64,
        versions: &[Version],
        via: &'static str,
    ) {
        let changed = self.store.apply_noting(key, versions, |held, received| {
            // `<via> held=<clock> received=<clock>`, spelt without the formatting machinery: one
            // row per conflicting pair is the eventual KV's most frequent row.
            let entries = held.clock.counters().len() + received.clock.counters().len();
            let mut detail = String::with_capacity(via.len() + 16 + 12 * entries);
            detail.push_str(via);
            detail.push_str(" held=");
            held.clock.write_to(&mut detail);
            detail.push_str(" received=");
            received.clock.write_to(&mut detail);
            let ids = if held.value == received.value {
                Value::Id(held.value)
            } else {
                Value::Ids(vec![held.value.min(received.value), held.value.max(received.value)])
            };
            let mut row = Record::new(Event::Conflict)
                .key(key)
                .value(ids)
                .clock(received.clock.to_trace())
                .detail(detail);
            row.peer = from;
            ctx.note(row);
        });
        if changed {
            let set = self.store.get(key);
            // The store keeps the set's joined clock (its digest entry's).
            let clock =
                self.store.joined_clock(key).map_or_else(|| join_clock(set).to_trace(), VClock::to_trace);
            let mut row = Record::new(Event::Apply).key(key).value(value_of(set)).clock(clock).detail(via);
            row.peer = from;
            ctx.note(row);
        }
    }

    fn handle_replicate(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        key: u64,
        versions: &[Version],
        req: Option<u64>,
    ) {
        self.apply_received(ctx, Some(from), key, versions, "replicate");
        if let Some(req) = req {
            ctx.send(from, EventualMsg::ReplicateAck { req });
        }
    }

    fn handle_replicate_ack(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, req: u64) {
        let w = self.write_quorum();
        let Some(pending) = self.pending_writes.get_mut(&req) else {
            return; // Already acknowledged, timed out, or lost in a crash.
        };
        if !pending.acked.contains(&from) {
            pending.acked.push(from);
        }
        let acks = (pending.acked.len() + self.self_counts()) as u32;
        if acks >= w {
            let done = self.pending_writes.remove(&req).expect("pending write just seen");
            ctx.cancel_timer(EventualTimer::WriteTimeout(req));
            let traced = done.clock.to_trace();
            note_put(ctx, "put_ack", done.key, done.value, traced.clone(), acks, w);
            ctx.reply(done.value, self.ok_traced(Value::None, traced));
        }
    }

    // ----- quorum reads -----

    fn handle_read_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        req: u64,
        key: u64,
        versions: Vec<Version>,
    ) {
        let r = self.read_quorum();
        let Some(pending) = self.pending_reads.get_mut(&req) else {
            return;
        };
        assert_eq!(pending.key, key, "read reply for request {req} names another key");
        if pending.replies.iter().any(|(n, _)| *n == from) {
            return; // A duplicated reply.
        }
        pending.replies.push((from, versions));
        if (pending.replies.len() + self.self_counts()) as u32 >= r {
            let done = self.pending_reads.remove(&req).expect("pending read just seen");
            ctx.cancel_timer(EventualTimer::ReadTimeout(req));
            self.complete_read(ctx, done);
        }
    }

    /// `read` row: key, index = the read id, value(s) and clock of the merged answer, detail
    /// `replies=<R>`. Then read repair, if on.
    fn complete_read(&mut self, ctx: &mut Ctx<'_, Self>, done: PendingRead) {
        let rule = self.store.rule();
        if self.config.read_repair && self.config.bug == Bug::ReadRepairOlder {
            return self.complete_read_older(ctx, done);
        }
        let mut merged = if self.outside() { Vec::new() } else { self.store.get(done.key).to_vec() };
        for (_, versions) in &done.replies {
            merged = store::merge(rule, &merged, versions);
        }
        note_read(ctx, done.key, done.id, &merged, done.replies.len() + self.self_counts());
        ctx.reply(done.id, self.ok(value_of(&merged), &join_clock(&merged)));
        if !self.config.read_repair {
            return;
        }
        for (peer, versions) in &done.replies {
            if store::canonical(rule, versions.clone()) != merged {
                ctx.send(*peer, EventualMsg::ReadRepair { key: done.key, versions: merged.clone() });
            }
        }
        if !self.outside() {
            // Outside the replicas, this node's store was repaired above if it answered stale.
            self.apply_received(ctx, None, done.key, &merged, "read_repair");
        }
    }

    /// The `read_repair_older` bug: answers with, and stores, the answer with the smallest clock.
    fn complete_read_older(&mut self, ctx: &mut Ctx<'_, Self>, done: PendingRead) {
        let mut oldest = self.store.get(done.key).to_vec();
        for (_, versions) in &done.replies {
            if join_clock(versions).sum() < join_clock(&oldest).sum() {
                oldest = versions.clone();
            }
        }
        note_read(ctx, done.key, done.id, &oldest, done.replies.len() + 1);
        ctx.reply(done.id, self.ok(value_of(&oldest), &join_clock(&oldest)));
        self.store.overwrite(done.key, oldest);
    }

    // ----- anti-entropy -----

    fn start_anti_entropy(&mut self, ctx: &mut Ctx<'_, Self>) {
        let mut peers: Vec<NodeId> = ctx.peers().collect();
        let fanout = (self.config.anti_entropy_fanout as usize).min(peers.len());
        // Partial Fisher–Yates on the node's own stream: the first `fanout` are the chosen peers.
        for i in 0..fanout {
            let j = ctx.rng().gen_range(i..peers.len());
            peers.swap(i, j);
        }
        if let Some((last, others)) = peers[..fanout].split_last() {
            let entries = self.store.digest();
            for peer in others {
                ctx.send(*peer, EventualMsg::AeDigest { entries: entries.clone() });
            }
            // The last peer takes the digest itself: one copy fewer per round.
            ctx.send(*last, EventualMsg::AeDigest { entries });
        }
        self.arm_anti_entropy(ctx);
    }

    /// Push what the digest's sender lacks or holds strictly older; want what this node lacks or
    /// holds strictly older. Keys whose hashes match are in sync. `anti_entropy_mode = "push"`
    /// (the sender only sends) pushes nothing; `"pull"` (the sender only gets) wants nothing.
    fn handle_ae_digest(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, entries: &[store::DigestEntry]) {
        let theirs: BTreeMap<u64, &store::DigestEntry> = entries.iter().map(|e| (e.key, e)).collect();
        // This node's own digest is read in place (the store keeps each key's entry current).
        let mut push = Vec::new();
        for (key, clock, hash) in self.store.digest_iter() {
            let send = match theirs.get(&key) {
                None => true,
                Some(t) => t.hash != hash && clock.compare(&t.clock) != Ordering4::Before,
            };
            if send {
                push.push(KeyVersions { key, versions: self.store.get(key).to_vec() });
            }
        }
        let mut want = Vec::new();
        for t in entries {
            let need = match self.store.digest_of(t.key) {
                None => true,
                Some((clock, hash)) => hash != t.hash && t.clock.compare(clock) != Ordering4::Before,
            };
            if need {
                want.push(t.key);
            }
        }
        match self.config.anti_entropy_mode {
            AntiEntropyMode::PushPull => {}
            AntiEntropyMode::Push => push.clear(),
            AntiEntropyMode::Pull => want.clear(),
        }
        if !push.is_empty() || !want.is_empty() {
            ctx.send(from, EventualMsg::AeReply { push, want });
        }
    }

    fn handle_ae_reply(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, push: &[KeyVersions], want: &[u64]) {
        self.apply_pushed(ctx, from, push);
        let back: Vec<KeyVersions> = want
            .iter()
            .filter(|k| !self.store.get(**k).is_empty())
            .map(|k| KeyVersions { key: *k, versions: self.store.get(*k).to_vec() })
            .collect();
        if !back.is_empty() {
            ctx.send(from, EventualMsg::AePush { push: back });
        }
    }

    fn apply_pushed(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, push: &[KeyVersions]) {
        for kv in push {
            if self.config.bug != Bug::AeSkipMerge {
                self.apply_received(ctx, Some(from), kv.key, &kv.versions, "anti_entropy");
            }
        }
    }
}

/// `note` row for a write's outcome: msg `put_ack` | `put_timeout`, key, value, clock of the write,
/// detail `acks=<got>/<W>`.
fn note_put<P: Protocol>(
    ctx: &mut Ctx<'_, P>,
    msg: &'static str,
    key: u64,
    value: u64,
    clock: Clock,
    got: u32,
    w: u32,
) {
    let acks = counted("acks=", got as usize, Some(w as usize));
    ctx.note(Record::new(Event::Note).msg(msg).key(key).value(Value::Id(value)).clock(clock).detail(acks));
}

/// `<label><got>` or `<label><got>/<of>`, spelt without the formatting machinery (one per
/// acknowledged write and one per read). W = 1 and R = 1 (the default scenario: every write and
/// every read) spell `acks=1/1` and `replies=1`, which need no string of their own.
fn counted(label: &'static str, got: usize, of: Option<usize>) -> Cow<'static, str> {
    match (label, got, of) {
        ("acks=", 1, Some(1)) => return Cow::Borrowed("acks=1/1"),
        ("replies=", 1, None) => return Cow::Borrowed("replies=1"),
        _ => {}
    }
    let mut digits = itoa::Buffer::new();
    let mut out = String::with_capacity(label.len() + 8);
    out.push_str(label);
    out.push_str(digits.format(got));
    if let Some(of) = of {
        out.push('/');
        out.push_str(digits.format(of));
    }
    Cow::Owned(out)
}

fn note_read<P: Protocol>(ctx: &mut Ctx<'_, P>, key: u64, id: u64, versions: &[Version], replies: usize) {
    let joined = (!versions.is_empty()).then(|| join_clock(versions).to_trace());
    note_read_joined(ctx, key, id, value_of(versions), joined, replies);
}

/// [`note_read`] from the answer's value cell and joined clock's cell (`None`: nothing read).
fn note_read_joined<P: Protocol>(
    ctx: &mut Ctx<'_, P>,
    key: u64,
    id: u64,
    value: Value,
    joined: Option<Clock>,
    replies: usize,
) {
    let mut row =
        Record::new(Event::Read).key(key).index(id).value(value).detail(counted("replies=", replies, None));
    row.clock = joined;
    ctx.note(row);
}

impl Protocol for EventualNode {
    type Msg = EventualMsg;
    type Timer = EventualTimer;

    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.arm_anti_entropy(ctx);
    }

    fn on_crash(&mut self) {
        self.pending_writes.clear();
        self.pending_reads.clear();
    }

    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>) {
        self.arm_anti_entropy(ctx);
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: EventualMsg) {
        match msg {
            EventualMsg::Replicate { key, versions, req } => {
                self.handle_replicate(ctx, from, key, &versions, req)
            }
            EventualMsg::ReplicateAck { req } => self.handle_replicate_ack(ctx, from, req),
            EventualMsg::ReadRequest { req, key } => {
                let versions = self.store.get(key).to_vec();
                ctx.send(from, EventualMsg::ReadReply { req, key, versions });
            }
            EventualMsg::ReadReply { req, key, versions } => {
                self.handle_read_reply(ctx, from, req, key, versions)
            }
            EventualMsg::ReadRepair { key, versions } => {
                self.apply_received(ctx, Some(from), key, &versions, "read_repair")
            }
            EventualMsg::AeDigest { entries } => self.handle_ae_digest(ctx, from, &entries),
            EventualMsg::AeReply { push, want } => self.handle_ae_reply(ctx, from, &push, &want),
            EventualMsg::AePush { push } => self.apply_pushed(ctx, from, &push),
        }
    }

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: EventualTimer) {
        match timer {
            EventualTimer::AntiEntropy => self.start_anti_entropy(ctx),
            EventualTimer::WriteTimeout(req) => {
                if let Some(p) = self.pending_writes.remove(&req) {
                    let w = self.write_quorum();
                    let acks = p.acked.len() as u32 + 1;
                    note_put(ctx, "put_timeout", p.key, p.value, p.clock.to_trace(), acks, w);
                    // Stored here and perhaps elsewhere: indeterminate.
                    ctx.reply(p.value, ClientReply::Unknown("timeout"));
                }
            }
            EventualTimer::ReadTimeout(req) => {
                if let Some(p) = self.pending_reads.remove(&req) {
                    let row = Record::new(Event::Note)
                        .msg("get_timeout")
                        .key(p.key)
                        .index(p.id)
                        .detail(format!("replies={}/{}", p.replies.len() + 1, self.read_quorum()));
                    ctx.note(row);
                    // A read changes nothing: it certainly did not take effect.
                    ctx.reply(p.id, ClientReply::Fail("timeout"));
                }
            }
        }
    }

    /// Put: acknowledged (`ok`) after its write quorum, `info` if the quorum times out. Get:
    /// `ok` with the value(s) read, `fail` if the read quorum times out. Cas is not supported
    /// (scenario validation refuses it); a node refuses one that reaches it.
    fn on_client(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp, _attempt: u32) {
        if self.pending_writes.len() + self.pending_reads.len() >= PENDING_MAX {
            let row = Record::new(Event::Note).msg("overloaded").key(op.key);
            ctx.note(row);
            ctx.reply(op.id, ClientReply::Refused("overloaded"));
            return;
        }
        match op.f {
            Func::Write { value } => {
                let context = ctx.client_context().cloned();
                self.handle_put(ctx, op.key, value, context.as_ref())
            }
            Func::Read => self.handle_get(ctx, op.key, op.id),
            Func::Cas { .. } => ctx.reply(op.id, ClientReply::Refused("cas_unsupported")),
        }
    }

    /// One `final` row for the node (no key, detail `keys=<count>`) so that a node holding nothing
    /// still shows up, then one per key held: value = the versions' ids (sorted, `|`-joined),
    /// clock = the join of their clocks, detail `versions=<count>`. A key without a row is held
    /// by no version at that node.
    fn on_finish(&mut self, ctx: &mut Ctx<'_, Self>) {
        ctx.note(Record::new(Event::Final).detail(format!("keys={}", self.store.len())));
        let rows: Vec<Record> = self
            .store
            .iter()
            .map(|(key, set)| {
                Record::new(Event::Final)
                    .key(key)
                    .value(value_of(set))
                    .clock(join_clock(set).to_trace())
                    .detail(format!("versions={}", set.len()))
            })
            .collect();
        for row in rows {
            ctx.note(row);
        }
    }
}

#[cfg(test)]
#[path = "node_tests.rs"]
mod tests;
