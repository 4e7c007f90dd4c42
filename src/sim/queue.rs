//! The event queue: one [`EventQueue`] ordered by (time, insertion seq), built from two heaps that
//! share one sequence counter.
//!
//! Every scheduled event gets the next insertion sequence number, so the order is total and ties in
//! time pop first-in first-out (NeXosim, TigerBeetle). Timers live in a
//! `priority_queue::PriorityQueue` keyed by owner and name: arming an armed timer changes its
//! priority *in place* (new time, new seq), cancelling removes it, so an election timer reset on
//! every heartbeat never leaves a dead event behind. One-shot events (deliveries, faults, client
//! arrivals) can never be re-armed or cancelled, so they need no key and no index: they sit in a
//! plain `BinaryHeap`, which is what keeps the hold model near the bare-heap limit (the
//! all-`PriorityQueue` version measured 0.41x the bare heap, this one 0.7x; see `dsim bench`).
//! `pop` takes whichever top is earlier by (time, seq), so the two heaps behave as one queue.
//! Timer lookups hash with FxHash: the hash only locates items, the pop order never depends on it.

use std::borrow::Borrow;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use priority_queue::PriorityQueue;
use rustc_hash::FxHasher;

use crate::sim::slab::Slab;
use crate::sim::SimTime;

/// Identity of a queued event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key<T> {
    /// A re-armable timer: at most one per key.
    Timer(T),
    /// A one-shot event, by its insertion seq.
    Once(u64),
}

/// A timer in the indexed heap: its key and payload. Equality and hashing use the key only, so
/// the queue can find a timer by key.
#[derive(Debug)]
struct TimerSlot<T, E> {
    key: T,
    payload: E,
}

impl<T: PartialEq, E> PartialEq for TimerSlot<T, E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T: Eq, E> Eq for TimerSlot<T, E> {}

impl<T: Hash, E> Hash for TimerSlot<T, E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

impl<T, E> Borrow<T> for TimerSlot<T, E> {
    fn borrow(&self) -> &T {
        &self.key
    }
}

/// A one-shot event in the plain heap, ordered so that the max-heap pops the earliest first.
#[derive(Debug)]
struct Once<E> {
    at: SimTime,
    seq: u64,
    payload: E,
}

impl<E> Once<E> {
    /// (time, seq) as one number, so that a heap sift compares once, without a branch on equal
    /// times: the order of `(at, seq)` pairs is the order of `at * 2^64 + seq`.
    #[inline(always)]
    fn order(&self) -> u128 {
        pack(self.at, self.seq)
    }
}

impl<E> PartialEq for Once<E> {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl<E> Eq for Once<E> {}

impl<E> Ord for Once<E> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.order().cmp(&self.order())
    }
}

impl<E> PartialOrd for Once<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A timer's (time, seq) packed as in [`Once::order`].
type Priority = Reverse<u128>;

#[inline(always)]
fn pack(at: SimTime, seq: u64) -> u128 {
    (u128::from(at.0) << 64) | u128::from(seq)
}

#[inline(always)]
fn time_of(order: u128) -> SimTime {
    SimTime((order >> 64) as u64)
}

/// Payloads larger than this many bytes wait in a slab while the heap orders `(time, seq, slot)`
/// entries of 24 bytes: a heap sift then moves three words per level instead of the whole event (a
/// Raft or eventual event is ~100 bytes, moved with a `memcpy` call per level). Smaller payloads (the
/// hold model's `u64`) stay in the heap, where the slab's bookkeeping would cost more than it saves.
/// Either way the order is by (time, seq) alone.
const INLINE_MAX: usize = 16;

/// The one-shot events: a plain heap of them, or (large payloads) a heap of slots into a slab.
#[derive(Debug)]
struct OnceHeap<E> {
    inline: BinaryHeap<Once<E>>,
    slots: BinaryHeap<Once<u32>>,
    slab: Slab<E>,
}

impl<E> OnceHeap<E> {
    /// Decided per payload type at compile time: the other branch of every method is dead code.
    const SLAB: bool = std::mem::size_of::<E>() > INLINE_MAX;

    fn with_capacity(n: usize) -> Self {
        let (inline, slots) = if Self::SLAB { (0, n) } else { (n, 0) };
        OnceHeap {
            inline: BinaryHeap::with_capacity(inline),
            slots: BinaryHeap::with_capacity(slots),
            slab: Slab::with_capacity(slots),
        }
    }

    #[inline(always)]
    fn len(&self) -> usize {
        if Self::SLAB {
            self.slots.len()
        } else {
            self.inline.len()
        }
    }

    #[inline(always)]
    fn push(&mut self, at: SimTime, seq: u64, payload: E) {
        if !Self::SLAB {
            self.inline.push(Once { at, seq, payload });
            return;
        }
        let slot = self.slab.insert(payload);
        self.slots.push(Once { at, seq, payload: slot });
    }

    /// (time, seq) of the earliest.
    #[inline(always)]
    fn peek(&self) -> Option<(SimTime, u64)> {
        if Self::SLAB {
            self.slots.peek().map(|o| (o.at, o.seq))
        } else {
            self.inline.peek().map(|o| (o.at, o.seq))
        }
    }

    #[inline(always)]
    fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        if !Self::SLAB {
            return self.inline.pop().map(|o| (o.at, o.seq, o.payload));
        }
        let o = self.slots.pop()?;
        Some((o.at, o.seq, self.slab.take(o.payload)))
    }
}

/// Earliest-first queue of events with payload `E` and timer keys `T`.
#[derive(Debug)]
pub struct EventQueue<T: Hash + Eq, E> {
    timers: PriorityQueue<TimerSlot<T, E>, Priority, BuildHasherDefault<FxHasher>>,
    once: OnceHeap<E>,
    next_seq: u64,
}

impl<T: Hash + Eq + Copy, E> Default for EventQueue<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + Copy, E> EventQueue<T, E> {
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// A queue with room for `n` pending one-shot events before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            timers: PriorityQueue::with_default_hasher(),
            once: OnceHeap::with_capacity(n),
            next_seq: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.timers.len() + self.once.len()
    }

    pub fn is_empty(&self) -> bool {
        self.timers.is_empty() && self.once.len() == 0
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules a one-shot event.
    pub fn schedule(&mut self, at: SimTime, payload: E) {
        let seq = self.take_seq();
        self.once.push(at, seq, payload);
    }

    /// Arms `timer` at `at`, moving it in place if it is already armed. The payload of an armed
    /// timer is kept (a timer's payload is a function of its key).
    pub fn set_timer(&mut self, timer: T, at: SimTime, payload: E) {
        let seq = self.take_seq();
        if self.timers.change_priority(&timer, Reverse(pack(at, seq))).is_none() {
            self.timers.push(TimerSlot { key: timer, payload }, Reverse(pack(at, seq)));
        }
    }

    /// Disarms `timer`; returns whether it was armed.
    pub fn cancel_timer(&mut self, timer: T) -> bool {
        self.timers.remove(&timer).is_some()
    }

    /// Whether `timer` is armed, and when it fires.
    pub fn timer_deadline(&self, timer: T) -> Option<SimTime> {
        self.timers.get_priority(&timer).map(|Reverse(p)| time_of(*p))
    }

    /// Whether the next event is a timer (ties cannot happen: seqs are unique).
    fn timer_first(&self) -> Option<bool> {
        let timer = self.timers.peek().map(|(_, Reverse(p))| *p);
        let once = self.once.peek();
        match (timer, once) {
            (None, None) => None,
            (Some(_), None) => Some(true),
            (None, Some(_)) => Some(false),
            (Some(t), Some((at, seq))) => Some(t < pack(at, seq)),
        }
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        let timer = self.timers.peek().map(|(_, Reverse(p))| time_of(*p));
        let once = self.once.peek().map(|(at, _)| at);
        match (timer, once) {
            (Some(t), Some(o)) => Some(t.min(o)),
            (t, o) => t.or(o),
        }
    }

    /// Removes the earliest event: (time, key, payload).
    pub fn pop(&mut self) -> Option<(SimTime, Key<T>, E)> {
        if self.timer_first()? {
            self.timers.pop().map(|(slot, Reverse(p))| (time_of(p), Key::Timer(slot.key), slot.payload))
        } else {
            self.once.pop().map(|(at, seq, payload)| (at, Key::Once(seq), payload))
        }
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
        /// The same with payloads large enough to wait in the slab, slots reused as events pop.
        #[test]
        fn slab_payloads_pop_in_time_then_insertion_order(
            steps in proptest::collection::vec((0u64..50, proptest::bool::ANY), 0..300)
        ) {
            const { assert!(OnceHeap::<[u64; 8]>::SLAB && !OnceHeap::<u64>::SLAB) };
            let mut q: EventQueue<u8, [u64; 8]> = EventQueue::new();
            let mut model: std::collections::BTreeMap<(u64, u64), [u64; 8]> = Default::default();
            let mut now = 0;
            for (i, (d, pop)) in steps.into_iter().enumerate() {
                if pop {
                    let want = model.pop_first();
                    let got = q.pop();
                    proptest::prop_assert_eq!(got.map(|(at, _, p)| (at.0, p)), want.map(|((at, _), p)| (at, p)));
                    if let Some(((at, _), _)) = want {
                        now = at;
                    }
                } else {
                    let payload = [i as u64; 8];
                    q.schedule(SimTime(now + d), payload);
                    model.insert((now + d, i as u64), payload);
                }
                proptest::prop_assert_eq!(q.len(), model.len());
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
