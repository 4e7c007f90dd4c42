//! The contract between the kernel and a protocol: nodes are pure state machines.
//!
//! A node reacts to one input at a time — start, restart after a crash, a delivered message, a
//! fired timer, a client operation — and answers with effects pushed into its [`Ctx`]: send a
//! message, arm / re-arm / cancel a timer, write a trace note, reply to a client. It never sees the event queue, the clock
//! source, the trace file or the CLI; `now` and its random streams reach it through the context.
//! The runner (`sim::runner`) turns effects into events. This is the stateright `Out` / openraft
//! `Command` shape, with the randomness handed in rather than taken from a global.

use std::fmt::Debug;
use std::hash::Hash;

use rand::Rng;

use crate::client::{ClientOp, ClientReply, Kind};
use crate::sim::rng::SimRng;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Clock, Event, Record};

/// A message between nodes. `Clone` because the network may duplicate it.
pub trait Message: Clone + Debug {
    /// Short name for the trace's `msg` column (`append_entries`, `request_vote_reply`, …).
    fn name(&self) -> &'static str;

    /// Fill the columns a `send` / `deliver` / `drop` row should show for this message
    /// (typically `term` and `index`). The runner has set everything else already.
    fn describe(&self, _row: &mut Record) {}
}

/// A node's timer identity. Arming a timer that is already armed re-arms it in place.
pub trait Timer: Copy + Eq + Hash + Debug {
    /// Name for the trace's `msg` column on a `timeout` row (`election`, `heartbeat`, …).
    fn name(&self) -> &'static str;
}

/// One node of a protocol.
pub trait Protocol: Sized {
    type Msg: Message;
    type Timer: Timer;

    /// First boot at time zero.
    fn on_start(&mut self, ctx: &mut Ctx<'_, Self>);

    /// The node crashed: drop all volatile state, keep what the protocol persists.
    /// Timers are cancelled by the runner; no effects may be emitted.
    fn on_crash(&mut self);

    /// The node comes back after a crash, with whatever `on_crash` kept.
    fn on_restart(&mut self, ctx: &mut Ctx<'_, Self>);

    fn on_message(&mut self, ctx: &mut Ctx<'_, Self>, from: NodeId, msg: Self::Msg);

    fn on_timer(&mut self, ctx: &mut Ctx<'_, Self>, timer: Self::Timer);

    /// A client operation reaches this node. `attempt` is 0 on the client's first send and counts
    /// resends of the same op (to this or another node); answer with [`Ctx::reply`], at most once
    /// per op is useful (the client keeps the first answer it gets).
    fn on_client(&mut self, ctx: &mut Ctx<'_, Self>, op: ClientOp, attempt: u32);

    /// The run is over: a last chance to write trace notes (final states). No other effect counts.
    fn on_finish(&mut self, _ctx: &mut Ctx<'_, Self>) {}

    /// An operator's request from a fault schedule (`[[faults]]`), delivered to the node the
    /// kernel chose. Protocols without such operations keep the default, which ignores it.
    fn on_admin(&mut self, _ctx: &mut Ctx<'_, Self>, _op: AdminOp) {}

    /// Whether this node believes it is the leader. Faults aimed at "the current leader" use it;
    /// protocols without leaders keep the default.
    fn is_leader(&self) -> bool {
        false
    }
}

/// An operator's request to a node (the kernel knows no protocol: it only delivers these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AdminOp {
    /// Hand leadership to `to`, or (`None`) to the follower the leader judges most up to date.
    /// Delivered to the node that claims leadership.
    TransferLeadership { to: Option<NodeId> },
    /// Add `node` to the configuration (Raft thesis §4.2.1). Delivered to the leader.
    AddServer { node: NodeId },
    /// Remove `node` (`None`: the leader itself) from the configuration. Delivered to the leader.
    RemoveServer { node: Option<NodeId> },
}

/// What a node asked for in reaction to one input.
#[derive(Debug)]
pub enum Effect<P: Protocol> {
    /// Send `msg` to `to`, leaving the node after `delay` (e.g. the fsync of what it persisted).
    Send { to: NodeId, msg: P::Msg, delay: SimDuration },
    /// Arm `timer` to fire after `after`; re-arms it in place if armed.
    SetTimer { timer: P::Timer, after: SimDuration },
    /// Disarm `timer`; nothing happens if it is not armed.
    CancelTimer { timer: P::Timer },
    /// A protocol trace row (`role`, `vote`, `commit`, …). Time, node and seq are filled in by the runner.
    /// Boxed so that a ~190-byte row does not double the size of every effect; the runner's own
    /// contexts keep rows in a side list instead ([`Effect::Noted`]), so it allocates no box.
    Note(Box<Record>),
    /// The next row of the list given to [`Ctx::with_notes`] (the runner's path for `Note`).
    Noted,
    /// Answer client operation `op` (by id); the kernel carries it back to the waiting client.
    Reply { op: u64, reply: ClientReply },
}

/// Everything a node may see or do while it handles one input.
pub struct Ctx<'a, P: Protocol> {
    now: SimTime,
    id: NodeId,
    nodes: u32,
    timer_rng: &'a mut SimRng,
    rng: &'a mut SimRng,
    effects: &'a mut Vec<Effect<P>>,
    timer_draws: Option<&'a mut Vec<u64>>,
    client_context: Option<Clock>,
    rows_wanted: bool,
    skipped_notes: u64,
    notes: Option<&'a mut Vec<Record>>,
}

impl<'a, P: Protocol> Ctx<'a, P> {
    /// Built by the runner (and by step tests, which then inspect `effects`).
    pub fn new(
        now: SimTime,
        id: NodeId,
        nodes: u32,
        timer_rng: &'a mut SimRng,
        rng: &'a mut SimRng,
        effects: &'a mut Vec<Effect<P>>,
    ) -> Self {
        Ctx {
            now,
            id,
            nodes,
            timer_rng,
            rng,
            effects,
            timer_draws: None,
            client_context: None,
            rows_wanted: true,
            skipped_notes: 0,
            notes: None,
        }
    }

    /// Keep note rows in `notes`, in order, each marked by an [`Effect::Noted`] among the effects
    /// (the runner uses this: no row is boxed or moved through the effect list).
    pub fn with_notes(mut self, notes: &'a mut Vec<Record>) -> Self {
        self.notes = Some(notes);
        self
    }

    /// Tell the node whether anyone reads its notes (the runner passes its sink's `READS_ROWS`).
    /// When nobody does, [`Ctx::note`] and [`Ctx::note_with`] only count the row.
    pub fn with_rows_wanted(mut self, wanted: bool) -> Self {
        self.rows_wanted = wanted;
        self
    }

    /// Whether anyone reads this node's notes; a protocol may skip building a costly row when not.
    pub fn rows_wanted(&self) -> bool {
        self.rows_wanted
    }

    /// Notes counted but not built or kept because nobody reads rows (the runner still numbers them).
    pub fn skipped_notes(&self) -> u64 {
        self.skipped_notes
    }

    /// The opaque context the client sent with the op being handled (see
    /// [`ClientReply::OkWithContext`]); set by the runner for `on_client` only.
    pub fn with_client_context(mut self, context: Option<Clock>) -> Self {
        self.client_context = context;
        self
    }

    /// The context of the client op being handled: `None` outside `on_client`, for a blind write,
    /// or for a protocol that hands out no contexts.
    pub fn client_context(&self) -> Option<&Clock> {
        self.client_context.as_ref()
    }

    /// Record every timer draw into `log` (the paired-sweep test uses this).
    pub fn with_timer_draw_log(mut self, log: &'a mut Vec<u64>) -> Self {
        self.timer_draws = Some(log);
        self
    }

    pub fn now(&self) -> SimTime {
        self.now
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Cluster size N; peers are `n0` … `n{N-1}` except this node.
    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// Every node but this one, in id order.
    pub fn peers(&self) -> impl Iterator<Item = NodeId> {
        let me = self.id;
        (0..self.nodes).map(NodeId).filter(move |n| *n != me)
    }

    /// This node's general-purpose stream (peer choices and the like).
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        self.effects.push(Effect::Send { to, msg, delay: SimDuration::ZERO });
    }

    /// Send after a local delay (the message leaves the node only then).
    pub fn send_after(&mut self, delay: SimDuration, to: NodeId, msg: P::Msg) {
        self.effects.push(Effect::Send { to, msg, delay });
    }

    pub fn set_timer(&mut self, timer: P::Timer, after: SimDuration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Arm `timer` after a duration drawn uniformly from `[min, max]` (inclusive) from this node's
    /// timer stream, which serves timer draws only. Returns the drawn duration.
    pub fn set_timer_range(&mut self, timer: P::Timer, min: SimDuration, max: SimDuration) -> SimDuration {
        assert!(min <= max, "timer range min {min} > max {max}");
        let after = SimDuration(self.timer_rng.gen_range(min.0..=max.0));
        if let Some(log) = self.timer_draws.as_deref_mut() {
            log.push(after.0);
        }
        self.set_timer(timer, after);
        after
    }

    pub fn cancel_timer(&mut self, timer: P::Timer) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    pub fn note(&mut self, row: Record) {
        if !self.rows_wanted {
            self.skipped_notes += 1;
        } else if let Some(notes) = self.notes.as_deref_mut() {
            notes.push(row);
            self.effects.push(Effect::Noted);
        } else {
            self.effects.push(Effect::Note(Box::new(row)));
        }
    }

    /// A note whose row is built only if someone reads rows; otherwise it is only counted.
    pub fn note_with(&mut self, row: impl FnOnce() -> Record) {
        if self.rows_wanted {
            self.note(row());
        } else {
            self.skipped_notes += 1;
        }
    }

    /// A note built where it is kept: `fill` writes the cells of a fresh `event` row in place, and
    /// runs only if someone reads rows. A ~220-byte row built by value and then moved into the list
    /// cost a copy (a `memcpy`) per note, and the Raft nodes write one or more per log entry.
    /// (Only the check is inlined into the caller: without rows a note costs a counter bump.)
    #[inline]
    pub fn note_in(&mut self, event: Event, fill: impl FnOnce(&mut Record)) {
        if self.rows_wanted {
            self.push_note(event, fill);
        } else {
            self.skipped_notes += 1;
        }
    }

    /// [`Ctx::note_in`]'s row, for a context whose rows are read.
    fn push_note(&mut self, event: Event, fill: impl FnOnce(&mut Record)) {
        if let Some(notes) = self.notes.as_deref_mut() {
            // Not `push`: its argument is built before the capacity check and then copied in.
            notes.resize_with(notes.len() + 1, || Record::new(event));
            if let Some(row) = notes.last_mut() {
                fill(row);
            }
            self.effects.push(Effect::Noted);
        } else {
            let mut row = Record::new(event);
            fill(&mut row);
            self.note(row);
        }
    }

    /// Answer client operation `op_id`. A reply for an op its client no longer waits on is ignored.
    pub fn reply(&mut self, op_id: u64, reply: ClientReply) {
        self.effects.push(Effect::Reply { op: op_id, reply });
    }
}

/// The open-loop side of a scenario: a source of operations that do not wait for each other.
///
/// The runner keeps exactly one arrival pending and asks for the next when it fires, so a workload
/// of any length costs one queue slot. Draws come only from the workload stream. Each operation
/// becomes a client op of its own process (ids and values are given by the kernel's client layer).
pub trait Workload {
    /// The next operation strictly after the one before (or at `now` for the first): its invoke
    /// time, the node the client contacts, its key and kind. `None` when the workload is over.
    fn next(&mut self, now: SimTime, rng: &mut SimRng) -> Option<(SimTime, NodeId, u64, Kind)>;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::node::RaftNode;
    use crate::sim::rng::{Purpose, Streams};

    /// With nobody reading rows a note is counted, not kept, and a lazy one is not even built.
    #[test]
    fn unwanted_notes_are_counted_not_kept() {
        let streams = Streams::new(1);
        let (mut timer_rng, mut rng) = (streams.stream(Purpose::Network), streams.stream(Purpose::Workload));
        for wanted in [true, false] {
            let mut effects: Vec<Effect<RaftNode>> = Vec::new();
            let mut built = 0;
            let skipped = {
                let mut ctx = Ctx::new(SimTime::ZERO, NodeId(0), 3, &mut timer_rng, &mut rng, &mut effects)
                    .with_rows_wanted(wanted);
                assert_eq!(ctx.rows_wanted(), wanted);
                ctx.note(Record::new(Event::Note));
                ctx.note_with(|| {
                    built += 1;
                    Record::new(Event::Commit)
                });
                ctx.note_in(Event::Apply, |row| {
                    built += 1;
                    row.index = Some(7);
                });
                ctx.skipped_notes()
            };
            let kept = effects.iter().filter(|e| matches!(e, Effect::Note(_))).count();
            assert_eq!((kept, skipped, built), if wanted { (3, 0, 2) } else { (0, 3, 0) });
        }
    }

    /// The runner's path: `note_in` writes its row in the side list, marked by one `Noted`.
    #[test]
    fn note_in_fills_the_row_where_it_is_kept() {
        let streams = Streams::new(1);
        let (mut timer_rng, mut rng) = (streams.stream(Purpose::Network), streams.stream(Purpose::Workload));
        let mut effects: Vec<Effect<RaftNode>> = Vec::new();
        let mut notes = Vec::new();
        {
            let mut ctx = Ctx::new(SimTime::ZERO, NodeId(0), 3, &mut timer_rng, &mut rng, &mut effects)
                .with_notes(&mut notes);
            ctx.note(Record::new(Event::Note));
            ctx.note_in(Event::Apply, |row| row.index = Some(7));
        }
        assert_eq!(notes, vec![Record::new(Event::Note), Record::new(Event::Apply).index(7)]);
        assert!(effects.iter().all(|e| matches!(e, Effect::Noted)) && effects.len() == 2);
    }
}
