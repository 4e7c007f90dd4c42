//! Client sessions of the replicated state machine (paper §8, thesis §6.3): per client process, the
//! id of the last op applied and its response, so a resent op is answered from the session and
//! never applied twice.
//!
//! The table is part of the state machine: every replica applies the same entries in the same
//! order, so every replica holds the same sessions. It is bounded by `sessions_max` processes, not
//! by commands: past the bound the session applied least recently is evicted (by apply order, the
//! same on every replica). Eviction remembers the highest op id an evicted session had applied; an
//! op of a process without a session whose id is not above that watermark might be a resend of an
//! evicted one, so it is not applied (the thesis's "session expired": the client learns nothing
//! certain). A process issues one op at a time and its op ids grow, so an op older than the
//! session's last is a late copy of an op already finished.
//!
//! Memory. The open-loop workload makes a process per request, so the table fills to `max` and
//! stays there: the bound is what keeps a long run's sessions flat. The thesis (§6.3) discards
//! sessions either by a fixed LRU bound or by expiry on a time the servers agree on through the
//! log; this table keeps the LRU bound, in apply order so every replica evicts the same session.
//! A smaller bound is safe as long as eviction never reaches a live process — one that may still
//! resend, i.e. invoked less than `clients.timeout_ms` ago (≈ 50 processes at the default 50
//! commands/s and 1 s timeout). The default is 10 000 (it was 100 000: every snapshot holds a copy
//! of the table, and at that bound the sessions alone took ≈ 73 MiB of a five-node run; see
//! docs/scenario.md), and each session is kept small (a response is stored in 16 bytes, the
//! eviction order is a deque with stale entries dropped lazily).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::client::{ClientOp, ClientReply};
use crate::trace::Value;

/// What the sessions say about an op about to be applied (or appended).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Check {
    /// Not applied before: apply it.
    New,
    /// Applied already; this was its response.
    Duplicate(ClientReply),
    /// Older than the process's last applied op: a late copy of a finished op.
    Stale,
    /// The process's session may have been evicted: do not apply, the outcome is unknown.
    Expired,
}

/// A response as a session keeps it: the common ones inline (a write's `ok`, a read's value), any
/// other boxed, so a session costs 32 bytes of table instead of the 80 a `ClientReply` inline took.
#[derive(Clone, Debug)]
enum Stored {
    OkNone,
    OkId(u64),
    Other(Box<ClientReply>),
}

impl Stored {
    /// Borrows the response: the common ones are stored without a clone (the leader still
    /// sends the response itself to the client).
    fn new(reply: &ClientReply) -> Stored {
        match reply {
            ClientReply::Ok(Value::None) => Stored::OkNone,
            ClientReply::Ok(Value::Id(v)) => Stored::OkId(*v),
            other => Stored::Other(Box::new(other.clone())),
        }
    }

    fn reply(&self) -> ClientReply {
        match self {
            Stored::OkNone => ClientReply::Ok(Value::None),
            Stored::OkId(v) => ClientReply::Ok(Value::Id(*v)),
            Stored::Other(reply) => (**reply).clone(),
        }
    }
}

#[derive(Clone, Debug)]
struct Session {
    last_id: u64,
    response: Stored,
    /// Apply order of `last_id` (its place in `order`).
    seq: u64,
}

/// The session table. Memory: O(`max`): at most `max` sessions, and `order` holds at most
/// `2 * max + 16` entries (stale ones are dropped when it outgrows that).
#[derive(Clone, Debug)]
pub struct Sessions {
    max: usize,
    /// Looked up by process only, never iterated.
    by_process: FxHashMap<u64, Session>,
    /// `(apply order, process)`, oldest first: the eviction order. An entry whose process has
    /// been applied again since (its session's `seq` is newer) is stale and skipped; this replaces
    /// a `BTreeMap` keyed by apply order, with the same order at a third of the memory.
    order: VecDeque<(u64, u64)>,
    seq: u64,
    /// Highest `last_id` of any evicted session (0: none evicted).
    evicted_max_id: u64,
}

impl Sessions {
    pub fn new(max: u64) -> Sessions {
        Sessions {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            by_process: FxHashMap::default(),
            order: VecDeque::new(),
            seq: 0,
            evicted_max_id: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.by_process.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_process.is_empty()
    }

    /// Forget everything (the state machine is volatile; it is rebuilt from the log).
    pub fn clear(&mut self) {
        *self = Sessions::new(self.max as u64);
    }

    pub fn check(&self, op: &ClientOp) -> Check {
        match self.by_process.get(&op.process) {
            Some(s) if op.id == s.last_id => Check::Duplicate(s.response.reply()),
            Some(s) if op.id < s.last_id => Check::Stale,
            Some(_) => Check::New,
            None if op.id <= self.evicted_max_id => Check::Expired,
            None => Check::New,
        }
    }

    /// Whether `order`'s entry `(seq, process)` is the process's current place.
    fn live(&self, seq: u64, process: u64) -> bool {
        self.by_process.get(&process).is_some_and(|s| s.seq == seq)
    }

    /// `op` was applied with `response`: it becomes its process's last op.
    pub fn record(&mut self, op: &ClientOp, response: &ClientReply) {
        self.seq += 1;
        let seq = self.seq;
        let session = Session { last_id: op.id, response: Stored::new(response), seq };
        if self.by_process.len() >= self.max
            && self.by_process.len() == self.by_process.capacity()
            && !self.by_process.contains_key(&op.process)
        {
            // At the bound, every insert is paired with an eviction, and each removal leaves a
            // tombstone that the hash table does not count as free: left alone it doubles its
            // buckets once the tombstones use up its slack (measured: ≈ 2x the table's memory).
            // Rebuilding at the bound's size instead drops the tombstones. Lookups only, so the
            // table's internal order never reaches the simulation.
            let mut fresh = FxHashMap::with_capacity_and_hasher(self.max + 1, Default::default());
            fresh.extend(self.by_process.drain());
            self.by_process = fresh;
        }
        self.by_process.insert(op.process, session);
        self.order.push_back((seq, op.process));
        while self.by_process.len() > self.max {
            let Some((seq, process)) = self.order.pop_front() else { break };
            if !self.live(seq, process) {
                continue;
            }
            if let Some(evicted) = self.by_process.remove(&process) {
                self.evicted_max_id = self.evicted_max_id.max(evicted.last_id);
            }
        }
        if self.order.len() > 2 * self.by_process.len() + 16 {
            let order = std::mem::take(&mut self.order);
            self.order = order.into_iter().filter(|&(seq, process)| self.live(seq, process)).collect();
        }
    }

    /// Entries of the eviction order held (live and stale), for the bounded-memory tests.
    pub fn order_len(&self) -> usize {
        self.order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resend_is_a_duplicate_with_the_first_response() {
        let mut s = Sessions::new(10);
        let op = ClientOp::write(1, 5, 0);
        assert_eq!(s.check(&op), Check::New);
        s.record(&op, &ClientReply::Ok(Value::None));
        assert_eq!(s.check(&op), Check::Duplicate(ClientReply::Ok(Value::None)));
        assert_eq!(s.check(&ClientOp::write(1, 4, 0)), Check::Stale);
        assert_eq!(s.check(&ClientOp::write(1, 6, 0)), Check::New);
    }

    #[test]
    fn eviction_is_by_apply_order_and_expires_older_ops_of_unknown_processes() {
        let mut s = Sessions::new(2);
        s.record(&ClientOp::write(1, 10, 0), &ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(2, 11, 0), &ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(1, 12, 0), &ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(3, 13, 0), &ClientReply::Ok(Value::None));
        assert_eq!(s.len(), 2);
        // Process 2 applied least recently: evicted, so its op 11 can no longer be told apart.
        assert_eq!(s.check(&ClientOp::write(2, 11, 0)), Check::Expired);
        assert_eq!(s.check(&ClientOp::write(4, 9, 0)), Check::Expired);
        assert_eq!(s.check(&ClientOp::write(4, 14, 0)), Check::New);
        assert!(matches!(s.check(&ClientOp::write(1, 12, 0)), Check::Duplicate(_)));
    }

    #[test]
    fn memory_is_bounded_by_max_not_by_ops() {
        // 10 processes applying 100 000 ops each, and 100 000 one-op processes: the table never
        // holds more than `max` sessions and the eviction order stays within 2 * max + 16.
        let mut s = Sessions::new(50);
        for id in 1..=100_000u64 {
            s.record(&ClientOp::write(id % 10, id, 0), &ClientReply::Ok(Value::Id(id)));
            assert!(s.len() <= 50 && s.order_len() <= 2 * 50 + 16, "{} {}", s.len(), s.order_len());
        }
        for id in 100_001..=200_000u64 {
            s.record(&ClientOp::write(id, id, 0), &ClientReply::Fail("cas_mismatch"));
            assert!(s.len() <= 50 && s.order_len() <= 2 * 50 + 16, "{} {}", s.len(), s.order_len());
        }
        assert_eq!(
            s.check(&ClientOp::write(200_000, 200_000, 0)),
            Check::Duplicate(ClientReply::Fail("cas_mismatch"))
        );
        assert_eq!(s.check(&ClientOp::write(3, 99_993, 0)), Check::Expired);
        // The hash table's buckets do not grow with the churn either: a table sized for `max + 1`.
        let sized = FxHashMap::<u64, Session>::with_capacity_and_hasher(51, Default::default()).capacity();
        assert!(s.by_process.capacity() <= sized, "{} > {sized}", s.by_process.capacity());
    }

    #[test]
    fn a_process_applied_again_is_not_evicted_by_its_stale_place() {
        let mut s = Sessions::new(2);
        s.record(&ClientOp::write(1, 10, 0), &ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(2, 11, 0), &ClientReply::Ok(Value::Id(4)));
        s.record(&ClientOp::write(1, 12, 0), &ClientReply::Ok(Value::None));
        // Process 1's first place (seq 1) is stale: the least recently applied is process 2.
        s.record(&ClientOp::write(3, 13, 0), &ClientReply::Ok(Value::None));
        assert!(matches!(s.check(&ClientOp::write(1, 12, 0)), Check::Duplicate(_)));
        assert_eq!(s.check(&ClientOp::write(2, 11, 0)), Check::Expired);
    }
}
