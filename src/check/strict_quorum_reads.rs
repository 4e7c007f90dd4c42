//! Strict quorums read what was acknowledged: with R + W > N and no faults, every read that began
//! after a write was acknowledged returns that write or a version descending from it.
//!
//! Dynamo (§4.5) and PBS (Bailis et al., VLDB 2012) call R + W > N a strict quorum: every read set
//! meets every acknowledged write set, so a read misses an acknowledged write only if a replica
//! lost it or a coordinator answered from too few replicas. Judged from client rows only: the
//! write's `ok` row (its time, and the write's clock the store returned as the client's context)
//! and the read's `invoke` (when it began) and `ok` (the clock of what it returned). The harness
//! installs it only when the scenario has R + W > N, dynamo mode, and neither faults, chaos, loss
//! nor duplication; an `ok` without a clock cannot be judged and is skipped.

use std::collections::BTreeMap;

use crate::check::{Checker, Violation};
use crate::eventual::VClock;
use crate::trace::{Event, Record};

/// At most this many reads are reported.
const REPORTED_MAX: usize = 20;

/// One acknowledged write, in acknowledgement order, with the join of every write of its key
/// acknowledged so far (what a read that began later must descend from).
#[derive(Clone, Debug)]
struct Acked {
    time_us: u64,
    value: u64,
    clock: VClock,
    frontier: VClock,
}

#[derive(Debug, Default)]
pub struct StrictQuorumReads {
    /// Key -> its acknowledged writes, by `ok` time (trace order).
    acked: BTreeMap<u64, Vec<Acked>>,
    /// Read op id -> when it was invoked.
    read_begins: BTreeMap<u64, u64>,
    reported: usize,
}

impl StrictQuorumReads {
    pub fn new() -> StrictQuorumReads {
        StrictQuorumReads::default()
    }

    /// A nil read returned the empty clock; a read with values but no clock cannot be judged.
    fn judge(&mut self, row: &Record, key: u64, begin_us: u64, out: &mut Vec<Violation>) {
        match row.clock.as_ref() {
            Some(clock) => self.judge_clock(row, key, begin_us, &VClock::from_trace(clock), out),
            None if row.value.is_none() => self.judge_clock(row, key, begin_us, &VClock::new(), out),
            None => {}
        }
    }

    fn judge_clock(
        &mut self,
        row: &Record,
        key: u64,
        begin_us: u64,
        read: &VClock,
        out: &mut Vec<Violation>,
    ) {
        let Some(writes) = self.acked.get(&key) else { return };
        let before = writes.partition_point(|w| w.time_us < begin_us);
        if before == 0 || read.descends(&writes[before - 1].frontier) || self.reported >= REPORTED_MAX {
            return;
        }
        let missed = writes[..before].iter().find(|w| !read.descends(&w.clock)).expect("frontier is a join");
        self.reported += 1;
        let message = format!(
            "read {} of k{key} began at {begin_us}us and returned {} ({read}), missing v{} ({}) acknowledged at {}us",
            row.index.unwrap_or(0),
            row.value,
            missed.value,
            missed.clock,
            missed.time_us,
        );
        out.push(Violation::at("strict_quorum_reads", row, message));
    }
}

impl Checker for StrictQuorumReads {
    fn name(&self) -> &'static str {
        "strict_quorum_reads"
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Invoke, Event::Ok])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let (Some(key), Some(id)) = (row.key, row.index) else { return };
        match (row.event, &*row.msg) {
            (Event::Invoke, "read") => {
                self.read_begins.insert(id, row.time_us);
            }
            (Event::Ok, "read") => {
                if let Some(begin_us) = self.read_begins.remove(&id) {
                    self.judge(row, key, begin_us, out);
                }
            }
            (Event::Ok, "write") => {
                let (Some(clock), crate::trace::Value::Id(value)) = (row.clock.as_ref(), &row.value) else {
                    return;
                };
                let clock = VClock::from_trace(clock);
                let writes = self.acked.entry(key).or_default();
                let frontier = writes.last().map_or_else(|| clock.clone(), |w| w.frontier.joined(&clock));
                writes.push(Acked { time_us: row.time_us, value: *value, clock, frontier });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::NodeId;
    use crate::trace::{Clock, Value};

    fn row(
        event: Event,
        msg: &'static str,
        time_us: u64,
        id: u64,
        value: Value,
        clock: &[(u32, u64)],
    ) -> Record {
        let mut r = Record::new(event).msg(msg).key(0).index(id).value(value).detail("p1");
        r.time_us = time_us;
        if !clock.is_empty() {
            r = r.clock(Clock::from_pairs(clock.iter().map(|(n, c)| (NodeId(*n), *c)).collect()));
        }
        r
    }

    fn run(rows: &[Record]) -> Vec<Violation> {
        let mut c = StrictQuorumReads::new();
        let mut out = Vec::new();
        for r in rows {
            c.observe(r, &mut out);
        }
        out
    }

    #[test]
    fn a_read_that_began_after_the_ack_must_see_the_write() {
        let w = row(Event::Ok, "write", 10, 1, Value::Id(1), &[(0, 1)]);
        let good = run(&[w.clone(), row(Event::Invoke, "read", 11, 2, Value::None, &[]), {
            row(Event::Ok, "read", 12, 2, Value::Id(1), &[(0, 1)])
        }]);
        assert!(good.is_empty(), "{good:?}");
        let bad = run(&[w.clone(), row(Event::Invoke, "read", 11, 2, Value::None, &[]), {
            row(Event::Ok, "read", 12, 2, Value::None, &[])
        }]);
        assert_eq!(bad.len(), 1, "a nil read after an acknowledged write");
        assert!(bad[0].message.contains("missing v1"), "{}", bad[0].message);
        let concurrent = run(&[w, row(Event::Invoke, "read", 9, 2, Value::None, &[]), {
            row(Event::Ok, "read", 12, 2, Value::None, &[])
        }]);
        assert!(concurrent.is_empty(), "the read began before the ack: {concurrent:?}");
    }
}
