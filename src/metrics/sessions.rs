//! Session guarantees (Terry et al., "Session Guarantees for Weakly Consistent Replicated Data",
//! PDIS 1994), measured per run from client-history rows only (`invoke` / `ok`): what a process was
//! told, not what a node claims it did.
//!
//! A process's causal knowledge of a key is the clocks the store returned to it on `ok` rows (the
//! context in the `clock` column, see `docs/trace.md`). For each process and key:
//! - read-your-writes: a read after the process's own acknowledged write(s) on the key must return
//!   a clock that descends from each of those writes' clocks;
//! - monotonic reads: a read after earlier reads on the key must return a clock that descends
//!   from each earlier read's clock (not older, not concurrent-and-missing what was seen).
//!
//! Each figure is a fraction of the reads it applies to (reads with a prior own write; reads with a
//! prior read), `Missing` when none apply. An `ok` without a clock (a protocol without contexts)
//! is not judged.

use rustc_hash::FxHashMap;

use crate::eventual::VClock;
use crate::trace::{Event, Record};

/// What one process has been told about one key.
#[derive(Clone, Debug, Default)]
struct Seen {
    /// Join of the clocks of its acknowledged writes, if any.
    written: Option<VClock>,
    /// Join of the clocks its reads returned, if any.
    read: Option<VClock>,
}

#[derive(Debug, Default)]
pub struct Sessions {
    /// (process, key) -> what it was told. Looked up, never iterated: a hash map (an open-loop
    /// workload makes a process per operation, so the map grows by one entry per `ok` row).
    seen: FxHashMap<(u64, u64), Seen>,
    ryw_judged: u64,
    ryw_violations: u64,
    mr_judged: u64,
    mr_violations: u64,
}

/// The process of a client-history row (`p<process>` first in `detail`).
pub fn process_of(row: &Record) -> Option<u64> {
    row.detail.split(' ').next()?.strip_prefix('p')?.parse().ok()
}

impl Sessions {
    pub fn observe(&mut self, row: &Record) {
        if row.event != Event::Ok {
            return;
        }
        let (Some(process), Some(key), Some(clock)) = (process_of(row), row.key, row.clock.as_ref()) else {
            return;
        };
        let clock = VClock::from_trace(clock);
        let seen = self.seen.entry((process, key)).or_default();
        match &*row.msg {
            "write" => join_into(&mut seen.written, &clock),
            "read" => {
                if let Some(w) = &seen.written {
                    self.ryw_judged += 1;
                    self.ryw_violations += u64::from(!clock.descends(w));
                }
                if let Some(r) = &seen.read {
                    self.mr_judged += 1;
                    self.mr_violations += u64::from(!clock.descends(r));
                }
                join_into(&mut seen.read, &clock);
            }
            _ => {}
        }
    }

    /// (violations, judged) for read-your-writes.
    pub fn read_your_writes(&self) -> (u64, u64) {
        (self.ryw_violations, self.ryw_judged)
    }

    /// (violations, judged) for monotonic reads.
    pub fn monotonic_reads(&self) -> (u64, u64) {
        (self.mr_violations, self.mr_judged)
    }
}

fn join_into(slot: &mut Option<VClock>, clock: &VClock) {
    match slot {
        Some(c) => c.merge(clock),
        None => *slot = Some(clock.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::NodeId;
    use crate::trace::Clock;

    fn ok(msg: &'static str, process: u64, clock: &[(u32, u64)]) -> Record {
        let clock = Clock::from_pairs(clock.iter().map(|(n, c)| (NodeId(*n), *c)).collect());
        Record::new(Event::Ok).msg(msg).key(0).clock(clock).detail(format!("p{process}"))
    }

    #[test]
    fn a_read_missing_the_own_write_or_an_earlier_read_counts() {
        let mut s = Sessions::default();
        s.observe(&ok("write", 1, &[(0, 1)]));
        s.observe(&ok("read", 1, &[(0, 1), (1, 1)])); // sees its write: fine
        s.observe(&ok("read", 1, &[(1, 1)])); // misses the write and what it read before
        s.observe(&ok("read", 2, &[(1, 1)])); // another process: nothing to judge
        assert_eq!(s.read_your_writes(), (1, 2));
        assert_eq!(s.monotonic_reads(), (1, 1));
    }
}
