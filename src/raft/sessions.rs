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

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use crate::client::{ClientOp, ClientReply};

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

#[derive(Clone, Debug)]
struct Session {
    last_id: u64,
    response: ClientReply,
    /// Apply order of `last_id` (the key in `order`).
    seq: u64,
}

/// The session table. Memory: O(`max`).
#[derive(Clone, Debug)]
pub struct Sessions {
    max: usize,
    /// Looked up by process only, never iterated.
    by_process: FxHashMap<u64, Session>,
    /// Apply order -> process, oldest first: the eviction order.
    order: BTreeMap<u64, u64>,
    seq: u64,
    /// Highest `last_id` of any evicted session (0: none evicted).
    evicted_max_id: u64,
}

impl Sessions {
    pub fn new(max: u64) -> Sessions {
        Sessions {
            max: usize::try_from(max).unwrap_or(usize::MAX).max(1),
            by_process: FxHashMap::default(),
            order: BTreeMap::new(),
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
            Some(s) if op.id == s.last_id => Check::Duplicate(s.response.clone()),
            Some(s) if op.id < s.last_id => Check::Stale,
            Some(_) => Check::New,
            None if op.id <= self.evicted_max_id => Check::Expired,
            None => Check::New,
        }
    }

    /// `op` was applied with `response`: it becomes its process's last op.
    pub fn record(&mut self, op: &ClientOp, response: ClientReply) {
        self.seq += 1;
        let seq = self.seq;
        let session = Session { last_id: op.id, response, seq };
        if let Some(old) = self.by_process.insert(op.process, session) {
            self.order.remove(&old.seq);
        }
        self.order.insert(seq, op.process);
        while self.by_process.len() > self.max {
            let Some((_, process)) = self.order.pop_first() else { break };
            if let Some(evicted) = self.by_process.remove(&process) {
                self.evicted_max_id = self.evicted_max_id.max(evicted.last_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Value;

    #[test]
    fn a_resend_is_a_duplicate_with_the_first_response() {
        let mut s = Sessions::new(10);
        let op = ClientOp::write(1, 5, 0);
        assert_eq!(s.check(&op), Check::New);
        s.record(&op, ClientReply::Ok(Value::None));
        assert_eq!(s.check(&op), Check::Duplicate(ClientReply::Ok(Value::None)));
        assert_eq!(s.check(&ClientOp::write(1, 4, 0)), Check::Stale);
        assert_eq!(s.check(&ClientOp::write(1, 6, 0)), Check::New);
    }

    #[test]
    fn eviction_is_by_apply_order_and_expires_older_ops_of_unknown_processes() {
        let mut s = Sessions::new(2);
        s.record(&ClientOp::write(1, 10, 0), ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(2, 11, 0), ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(1, 12, 0), ClientReply::Ok(Value::None));
        s.record(&ClientOp::write(3, 13, 0), ClientReply::Ok(Value::None));
        assert_eq!(s.len(), 2);
        // Process 2 applied least recently: evicted, so its op 11 can no longer be told apart.
        assert_eq!(s.check(&ClientOp::write(2, 11, 0)), Check::Expired);
        assert_eq!(s.check(&ClientOp::write(4, 9, 0)), Check::Expired);
        assert_eq!(s.check(&ClientOp::write(4, 14, 0)), Check::New);
        assert!(matches!(s.check(&ClientOp::write(1, 12, 0)), Check::Duplicate(_)));
    }
}
