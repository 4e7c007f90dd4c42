//! The event queue: one `priority_queue::PriorityQueue`, ordered by (time, insertion seq).
//!
//! Every scheduled event gets the next insertion sequence number, so the order is total and ties in
//! time pop first-in first-out (NeXosim, TigerBeetle). Timers are keyed by their owner and name:
//! arming an armed timer changes its priority *in place* (new time, new seq) rather than leaving a
//! dead event behind, and cancelling removes it. One-shot events (deliveries, faults, client
//! arrivals) are keyed by their seq. Lookups hash with FxHash: the hash only locates items, the pop
//! order never depends on it.

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::hash::{BuildHasherDefault, Hash, Hasher};

use priority_queue::PriorityQueue;
use rustc_hash::FxHasher;

use crate::sim::SimTime;

/// Identity of a queued event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Key<T> {
    /// A re-armable timer: at most one per key.
    Timer(T),
    /// A one-shot event, by its insertion seq.
    Once(u64),
}

/// A queued event: its key and payload. Equality and hashing use the key only, so the queue can
/// be searched by key.
#[derive(Debug)]
struct Slot<T, E> {
    key: Key<T>,
    payload: E,
}

impl<T: PartialEq, E> PartialEq for Slot<T, E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<T: Eq, E> Eq for Slot<T, E> {}

impl<T: Hash, E> Hash for Slot<T, E> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state)
    }
}

impl<T, E> Borrow<Key<T>> for Slot<T, E> {
    fn borrow(&self) -> &Key<T> {
        &self.key
    }
}

type Priority = Reverse<(SimTime, u64)>;

/// Earliest-first queue of events with payload `E` and timer keys `T`.
#[derive(Debug)]
pub struct EventQueue<T: Hash + Eq, E> {
    heap: PriorityQueue<Slot<T, E>, Priority, BuildHasherDefault<FxHasher>>,
    next_seq: u64,
}

impl<T: Hash + Eq + Copy, E> Default for EventQueue<T, E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Hash + Eq + Copy, E> EventQueue<T, E> {
    pub fn new() -> Self {
        EventQueue { heap: PriorityQueue::with_default_hasher(), next_seq: 0 }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Schedules a one-shot event.
    pub fn schedule(&mut self, at: SimTime, payload: E) {
        let seq = self.take_seq();
        let old = self.heap.push(Slot { key: Key::Once(seq), payload }, Reverse((at, seq)));
        debug_assert!(old.is_none(), "one-shot seq {seq} reused");
    }

    /// Arms `timer` at `at`, moving it in place if it is already armed. The payload of an armed
    /// timer is kept (a timer's payload is a function of its key).
    pub fn set_timer(&mut self, timer: T, at: SimTime, payload: E) {
        let seq = self.take_seq();
        let key = Key::Timer(timer);
        if self.heap.change_priority(&key, Reverse((at, seq))).is_none() {
            self.heap.push(Slot { key, payload }, Reverse((at, seq)));
        }
    }

    /// Disarms `timer`; returns whether it was armed.
    pub fn cancel_timer(&mut self, timer: T) -> bool {
        self.heap.remove(&Key::Timer(timer)).is_some()
    }

    /// Whether `timer` is armed, and when it fires.
    pub fn timer_deadline(&self, timer: T) -> Option<SimTime> {
        self.heap.get_priority(&Key::Timer(timer)).map(|Reverse((at, _))| *at)
    }

    /// The time of the earliest event.
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|(_, Reverse((at, _)))| *at)
    }

    /// Removes the earliest event: (time, key, payload).
    pub fn pop(&mut self) -> Option<(SimTime, Key<T>, E)> {
        self.heap.pop().map(|(slot, Reverse((at, _)))| (at, slot.key, slot.payload))
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
