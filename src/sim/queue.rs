//! The event queue: a binary heap of small `(time, seq, slot)` entries over a slab of payloads,
//! ordered by (time, insertion seq).
//!
//! Every scheduled event gets the next insertion sequence number, so the order is total and ties in
//! time pop first-in first-out (NeXosim, TigerBeetle). The heap moves only 24-byte `Copy` entries;
//! payloads stay put in a slab whose freed slots are reused, so a steady run allocates nothing per
//! event.
//!
//! Timers are keyed by their owner and name and re-arm in place. A slot records both the (time,
//! seq) the event is due at and the (time, seq) of the one heap entry that stands for it. Re-arming
//! *later* (an election timer pushed back by every heartbeat: the common case) only updates the
//! slot; when the older entry surfaces it is re-pushed at the slot's current (time, seq), which is
//! no earlier than anything still queued, so the event pops exactly where an in-place move would
//! have put it. Re-arming *earlier* pushes a new entry and leaves the old one dead; cancelling
//! frees the slot, leaving its entry dead. Dead entries are skipped when they surface and purged
//! whenever they outnumber the live ones plus a small allowance, so the heap stays within about
//! twice the pending events. Timer lookups hash with FxHash: the hash only locates slots, the pop
//! order never depends on it, and the map is never iterated.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::hash::Hash;

use rustc_hash::FxHashMap;

use crate::sim::SimTime;

/// Identity of a queued event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key<T> {
    /// A re-armable timer: at most one per key.
    Timer(T),
    /// A one-shot event, by its insertion seq.
    Once(u64),
}

/// A heap entry: when, in which insertion order, and where the payload is. Ordered so that
/// `BinaryHeap` (a max-heap) pops the earliest (time, seq) first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    at: SimTime,
    seq: u64,
    slot: u32,
}

impl Ord for Entry {
    fn cmp(&self, other: &Self) -> Ordering {
        // Seqs are unique, so (at, seq) alone is a total order; `slot` never decides.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

impl PartialOrd for Entry {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Seq of a free slot: no heap entry carries it.
const FREE: u64 = u64::MAX;

/// A payload's place in the slab. Invariant for a used slot: `(entry_at, entry_seq) <= (at, seq)`,
/// and exactly one heap entry carries `entry_seq` and this slot.
#[derive(Debug)]
struct Slot<T, E> {
    /// When the event is due, and its insertion seq (`FREE` when the slot is unused).
    at: SimTime,
    seq: u64,
    /// The heap entry standing for this event (`FREE` when the slot is unused).
    entry_at: SimTime,
    entry_seq: u64,
    key: Key<T>,
    payload: Option<E>,
}

/// Dead heap entries tolerated beyond the live count before a purge.
const DEAD_ALLOWANCE: usize = 16;

/// Earliest-first queue of events with payload `E` and timer keys `T`.
#[derive(Debug)]
pub struct EventQueue<T: Hash + Eq, E> {
    heap: BinaryHeap<Entry>,
    slots: Vec<Slot<T, E>>,
    free: Vec<u32>,
    /// Armed timer → its slot.
    timers: FxHashMap<T, u32>,
    /// Pending events: used slots.
    live: usize,
    next_seq: u64,
}

impl<T: Hash + Eq + Copy, E> Default for EventQueue<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + Copy, E> EventQueue<T, E> {
    pub fn new() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            timers: FxHashMap::default(),
            live: 0,
            next_seq: 0,
        }
    }

    /// Room for `n` pending events without growing.
    pub fn with_capacity(n: usize) -> Self {
        let mut q = Self::new();
        q.heap.reserve(n);
        q.slots.reserve(n);
        q
    }

    /// Pending events (armed timers count once, however often they were re-armed).
    pub fn len(&self) -> usize {
        self.live
    }

    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// A slot for a new event due at (at, seq), and its heap entry.
    fn insert(&mut self, at: SimTime, seq: u64, key: Key<T>, payload: E) -> u32 {
        self.live += 1;
        let fresh = Slot { at, seq, entry_at: at, entry_seq: seq, key, payload: Some(payload) };
        let slot = match self.free.pop() {
            Some(i) => {
                debug_assert_eq!(self.slots[i as usize].seq, FREE, "slot {i} on the free list is in use");
                self.slots[i as usize] = fresh;
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).expect("more than u32::MAX pending events");
                self.slots.push(fresh);
                i
            }
        };
        self.push(Entry { at, seq, slot });
        slot
    }

    /// Frees `slot` (its heap entry becomes dead) and returns its key and payload.
    fn release(&mut self, slot: u32) -> (Key<T>, E) {
        let s = &mut self.slots[slot as usize];
        s.seq = FREE;
        s.entry_seq = FREE;
        let payload = s.payload.take().expect("a used slot has a payload");
        let key = s.key;
        self.free.push(slot);
        self.live -= 1;
        (key, payload)
    }

    fn push(&mut self, entry: Entry) {
        if self.heap.len() >= 2 * self.live + DEAD_ALLOWANCE {
            self.purge();
        }
        self.heap.push(entry);
    }

    /// Whether `e` is the entry standing for its slot's event (else it is dead).
    fn stands(&self, e: &Entry) -> bool {
        self.slots[e.slot as usize].entry_seq == e.seq
    }

    /// Drops every dead entry (O(heap) rebuild, amortised over the ≥ live + allowance cancels
    /// or early re-arms that made them).
    fn purge(&mut self) {
        let slots = &self.slots;
        self.heap.retain(|e| slots[e.slot as usize].entry_seq == e.seq);
    }

    /// Settles the top: drops dead entries and re-pushes deferred re-arms until the top entry is
    /// an event due at its own (time, seq), or the heap is empty.
    fn settle(&mut self) {
        while let Some(mut top) = self.heap.peek_mut() {
            let s = &mut self.slots[top.slot as usize];
            if s.entry_seq != top.seq {
                std::collections::binary_heap::PeekMut::pop(top);
            } else if s.seq != top.seq {
                // Re-armed later since this entry was pushed: move the entry to the due time
                // (replacing the top sifts it down once).
                s.entry_at = s.at;
                s.entry_seq = s.seq;
                *top = Entry { at: s.at, seq: s.seq, slot: top.slot };
            } else {
                return;
            }
        }
    }

    /// Schedules a one-shot event.
    pub fn schedule(&mut self, at: SimTime, payload: E) {
        let seq = self.take_seq();
        self.insert(at, seq, Key::Once(seq), payload);
    }

    /// Arms `timer` at `at`, moving it if it is already armed: it then pops at the new (time, seq)
    /// and never at the old one. The payload of an armed timer is kept (a timer's payload is a
    /// function of its key).
    pub fn set_timer(&mut self, timer: T, at: SimTime, payload: E) {
        let seq = self.take_seq();
        let Some(&slot) = self.timers.get(&timer) else {
            let slot = self.insert(at, seq, Key::Timer(timer), payload);
            self.timers.insert(timer, slot);
            return;
        };
        let s = &mut self.slots[slot as usize];
        s.at = at;
        s.seq = seq;
        if at < s.entry_at {
            // Earlier than the standing entry: a new entry stands for it, the old one is dead.
            s.entry_at = at;
            s.entry_seq = seq;
            self.push(Entry { at, seq, slot });
        }
    }

    /// Disarms `timer`; returns whether it was armed.
    pub fn cancel_timer(&mut self, timer: T) -> bool {
        match self.timers.remove(&timer) {
            Some(slot) => {
                self.release(slot);
                true
            }
            None => false,
        }
    }

    /// Whether `timer` is armed, and when it fires.
    pub fn timer_deadline(&self, timer: T) -> Option<SimTime> {
        self.timers.get(&timer).map(|slot| self.slots[*slot as usize].at)
    }

    /// The time of the earliest event.
    pub fn peek_time(&mut self) -> Option<SimTime> {
        self.settle();
        self.heap.peek().map(|e| e.at)
    }

    /// Removes the earliest event: (time, key, payload).
    pub fn pop(&mut self) -> Option<(SimTime, Key<T>, E)> {
        self.settle();
        let e = self.heap.pop()?;
        debug_assert!(self.stands(&e) && self.slots[e.slot as usize].seq == e.seq, "settled top is due");
        let (key, payload) = self.release(e.slot);
        if let Key::Timer(t) = key {
            self.timers.remove(&t);
        }
        Some((e.at, key, payload))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(q: &mut EventQueue<u8, &'static str>) -> Vec<(u64, &'static str)> {
        std::iter::from_fn(|| q.pop().map(|(t, _, p)| (t.0, p))).collect()
    }

    #[test]
    fn earliest_first_and_fifo_on_ties() {
        let mut q = EventQueue::new();
        q.schedule(SimTime(5), "b");
        q.schedule(SimTime(1), "a");
        q.schedule(SimTime(5), "c");
        q.schedule(SimTime(5), "d");
        assert_eq!(drain(&mut q), vec![(1, "a"), (5, "b"), (5, "c"), (5, "d")]);
    }

    #[test]
    fn rearming_moves_the_timer_in_place() {
        let mut q = EventQueue::new();
        q.set_timer(7, SimTime(100), "election");
        q.schedule(SimTime(50), "msg");
        for t in [150, 200, 40] {
            q.set_timer(7, SimTime(t), "election");
        }
        assert_eq!(q.len(), 2, "re-arming must not leave dead events");
        assert_eq!(q.timer_deadline(7), Some(SimTime(40)));
        assert_eq!(drain(&mut q), vec![(40, "election"), (50, "msg")]);
    }

    #[test]
    fn rearmed_timer_goes_behind_events_already_at_that_time() {
        let mut q = EventQueue::new();
        q.set_timer(1, SimTime(10), "t");
        q.schedule(SimTime(10), "m");
        q.set_timer(1, SimTime(10), "t");
        assert_eq!(drain(&mut q), vec![(10, "m"), (10, "t")]);
    }

    #[test]
    fn cancel_removes_only_that_timer() {
        let mut q = EventQueue::new();
        q.set_timer(1, SimTime(10), "x");
        q.set_timer(2, SimTime(20), "y");
        assert!(q.cancel_timer(1));
        assert!(!q.cancel_timer(1));
        assert_eq!(q.timer_deadline(1), None);
        assert_eq!(drain(&mut q), vec![(20, "y")]);
    }

    #[test]
    fn dead_entries_are_purged() {
        let mut q: EventQueue<u8, u32> = EventQueue::new();
        q.schedule(SimTime(1_000_000), 0);
        for t in 0..10_000u64 {
            q.set_timer(1, SimTime(500_000 - t), 1);
            q.set_timer(2, SimTime(600_000 + t), 2);
        }
        assert_eq!(q.len(), 3);
        assert!(q.heap.len() <= 2 * q.len() + DEAD_ALLOWANCE + 1, "heap holds {} entries", q.heap.len());
        assert!(q.slots.len() <= 3, "slots are reused, not grown: {}", q.slots.len());
        // Re-arming later pushes nothing: the standing entry is moved when it surfaces.
        let before = q.heap.len();
        for t in 0..1_000u64 {
            q.set_timer(2, SimTime(700_000 + t), 2);
        }
        assert_eq!(q.heap.len(), before);
        assert_eq!(q.timer_deadline(2), Some(SimTime(700_999)));
        assert!(q.cancel_timer(2));
        assert_eq!(q.timer_deadline(1), Some(SimTime(500_000 - 9_999)));
        assert_eq!(q.peek_time(), Some(SimTime(500_000 - 9_999)));
        assert_eq!(q.pop().map(|(t, k, p)| (t.0, k, p)), Some((490_001, Key::Timer(1), 1)));
        assert_eq!(q.pop().map(|(t, k, p)| (t.0, k, p)), Some((1_000_000, Key::Once(0), 0)));
        assert_eq!(q.pop().map(|(t, _, p)| (t.0, p)), None);
        assert!(q.is_empty());
    }

    /// One step of the model-based test below.
    #[derive(Clone, Debug)]
    enum Op {
        Schedule(u64),
        Arm(u8, u64),
        Cancel(u8),
        Pop,
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            (0u64..40).prop_map(Op::Schedule),
            (0u8..4, 0u64..40).prop_map(|(t, at)| Op::Arm(t, at)),
            (0u8..4).prop_map(Op::Cancel),
            Just(Op::Pop),
        ]
    }

    proptest::proptest! {
        /// Against a model that keeps every pending event with its (time, seq) in a sorted set: the
        /// queue pops the same events in the same order whatever mix of one-shots, re-arms and
        /// cancels came before.
        #[test]
        fn matches_a_sorted_model(ops in proptest::collection::vec(op(), 0..300)) {
            use std::collections::BTreeMap;
            let mut q: EventQueue<u8, u64> = EventQueue::new();
            // (time, seq) → (key, payload); timer → its (time, seq).
            let mut model: BTreeMap<(u64, u64), (Key<u8>, u64)> = BTreeMap::new();
            let mut armed: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
            let mut seq = 0u64;
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Schedule(d) => {
                        q.schedule(SimTime(now + d), seq);
                        model.insert((now + d, seq), (Key::Once(seq), seq));
                        seq += 1;
                    }
                    Op::Arm(t, d) => {
                        q.set_timer(t, SimTime(now + d), 1_000 + u64::from(t));
                        if let Some(old) = armed.insert(t, (now + d, seq)) {
                            model.remove(&old);
                        }
                        model.insert((now + d, seq), (Key::Timer(t), 1_000 + u64::from(t)));
                        seq += 1;
                    }
                    Op::Cancel(t) => {
                        let was = armed.remove(&t);
                        if let Some(old) = was {
                            model.remove(&old);
                        }
                        proptest::prop_assert_eq!(q.cancel_timer(t), was.is_some());
                    }
                    Op::Pop => {
                        let want = model.pop_first();
                        if let Some((_, (Key::Timer(t), _))) = want {
                            armed.remove(&t);
                        }
                        let got = q.pop();
                        proptest::prop_assert_eq!(
                            got.map(|(at, k, p)| (at.0, k, p)),
                            want.map(|((at, _), (k, p))| (at, k, p))
                        );
                        if let Some(((at, _), _)) = want {
                            now = at;
                        }
                    }
                }
                proptest::prop_assert_eq!(q.len(), model.len());
                for (t, (at, _)) in &armed {
                    proptest::prop_assert_eq!(q.timer_deadline(*t), Some(SimTime(*at)));
                }
            }
        }
    }

    proptest::proptest! {
        /// The queue pops in the same order as sorting by (time, insertion seq).
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q: EventQueue<u8, usize> = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.schedule(SimTime(*t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> = std::iter::from_fn(|| q.pop().map(|(t, _, p)| (t.0, p))).collect();
            proptest::prop_assert_eq!(got, expected);
        }
    }
}
