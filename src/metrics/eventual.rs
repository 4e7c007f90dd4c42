//! Metrics of the eventually consistent KV, computed from trace rows alone (so an outside script
//! can recompute them from a CSV). Names, in this fixed order:
//!
//! | name | meaning |
//! |---|---|
//! | `writes` | `write` rows (client writes stored by a coordinator) |
//! | `reads` | `read` rows (reads answered) |
//! | `convergence_us` | from the later of the last `write` and the last `heal` to the last replica state change, when the replicas agree at the end (0 if they already agreed then); Missing if they never converge or nothing was written |
//! | `converged` | 1 if at the end every replica holds the same versions of every key, else 0 |
//! | `stale_read_fraction` | among reads that began after some write to their key had finished, the share that returned neither that latest finished write nor a version descending from it; Missing if no such read |
//! | `tvis_p_consistent_1ms` … `_1000ms` | PBS t-visibility (Bailis et al., VLDB 2012): among those reads, bucketed by the time between the latest write's finish and the read's start — [0,1ms), [1,10ms), [10,100ms), [100ms,1s) — the share consistent (not stale); Missing for an empty bucket |
//! | `conflicts` | `conflict` rows |
//! | `siblings_max` | most versions any replica holds for a key at the end |
//! | `siblings_mean_per_key` | mean versions per (replica, key held) at the end; Missing if nothing held |
//! | `lww_writes_lost` | writes that no other write of their key descends from (so nothing superseded them) and that no replica holds at the end: concurrent writes discarded (by LWW, or lost by the textbook model) |
//! | `writes_not_everywhere` | writes that some replica's end state does not include or descend from |
//! | `messages_per_write` | `send` rows / `writes`; Missing if no writes |
//! | `ryw_violation_fraction` | read-your-writes, from client rows only: among `ok` reads by a process of a key it had an acknowledged write on, the share whose returned clock does not descend from its writes' (see `metrics::sessions`); Missing if none |
//! | `monotonic_reads_violation_fraction` | among `ok` reads by a process of a key it had read before, the share whose clock does not descend from its earlier reads'; Missing if none |
//!
//! Definitions. A write *finishes* at its coordinator's `note` `put_ack` row (emitted right after
//! the `write` row when W = 1, after W − 1 replica acks otherwise; a write that timed out never
//! finishes). A read *begins* at its `client` `get` row (or at its `read` row if there is none) and
//! is judged against the latest write to its key that finished before it began. "Returns or
//! descends from" is judged on the read's clock (the join of what it returned): a read is fresh
//! when its clock descends from that write's clock. Replica state is replayed from `write` rows
//! (the coordinator now holds just that version) and `apply` rows (the replica's resulting values
//! and joined clock).

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use crate::eventual::{Ordering4, VClock};
use crate::metrics::sessions::Sessions;
use crate::metrics::{MetricValue, Metrics};
use crate::trace::{Event, Record, Value};

/// Upper bounds (µs, exclusive) of the t-visibility buckets.
const TVIS_BOUNDS_US: [u64; 4] = [1_000, 10_000, 100_000, 1_000_000];

/// The metric names, in output order.
pub const NAMES: [&str; 17] = [
    "writes",
    "reads",
    "convergence_us",
    "converged",
    "stale_read_fraction",
    "tvis_p_consistent_1ms",
    "tvis_p_consistent_10ms",
    "tvis_p_consistent_100ms",
    "tvis_p_consistent_1000ms",
    "conflicts",
    "siblings_max",
    "siblings_mean_per_key",
    "lww_writes_lost",
    "writes_not_everywhere",
    "messages_per_write",
    "ryw_violation_fraction",
    "monotonic_reads_violation_fraction",
];

/// A replica's state for one key: sorted version ids and their joined clock.
#[derive(Clone, Debug, Default, Eq)]
struct State {
    values: Vec<u64>,
    clock: VClock,
}

/// Clocks first: two replicas that differ almost always differ in their clock, compared inline,
/// before the id lists (a `memcmp` call each).
impl PartialEq for State {
    fn eq(&self, other: &State) -> bool {
        self.clock == other.clock && self.values == other.values
    }
}

/// One key's replica states.
#[derive(Clone, Debug)]
struct KeyStates {
    /// State per node (index = node id; `None` = holds nothing).
    slots: Vec<Option<State>>,
    /// Every slot equal.
    agree: bool,
}

/// The ids of a value cell into `out`, sorted and deduplicated (`value_ids` without allocating).
fn fill_ids(out: &mut Vec<u64>, value: &Value) {
    out.clear();
    match value {
        Value::Id(v) => out.push(*v),
        Value::Ids(vs) => {
            out.extend_from_slice(vs);
            out.sort_unstable();
            out.dedup();
        }
        Value::None | Value::Text(_) => {}
    }
}

/// The latest finished write of a key.
#[derive(Clone, Debug)]
struct Finished {
    time_us: u64,
    clock: VClock,
}

#[derive(Debug)]
pub struct EventualMetrics {
    nodes: u32,
    writes: u64,
    reads: u64,
    sends: u64,
    conflicts: u64,
    last_write_us: Option<u64>,
    last_heal_us: Option<u64>,
    /// Key → its replica states.
    states: BTreeMap<u64, KeyStates>,
    /// How many keys' replicas currently disagree.
    mismatched: usize,
    last_change_us: u64,
    /// Value id → (key, write clock). Only counted over at the end, in any order.
    write_clocks: FxHashMap<u64, (u64, VClock)>,
    latest_finished: BTreeMap<u64, Finished>,
    /// Read id → (begin time, the latest finished write of its key at that time).
    read_begins: FxHashMap<u64, (u64, Option<Finished>)>,
    judged: u64,
    stale: u64,
    /// Per bucket: (consistent, total).
    tvis: [(u64, u64); 4],
    sessions: Sessions,
}

impl EventualMetrics {
    pub fn new(nodes: u32) -> EventualMetrics {
        EventualMetrics {
            nodes,
            writes: 0,
            reads: 0,
            sends: 0,
            conflicts: 0,
            last_write_us: None,
            last_heal_us: None,
            states: BTreeMap::new(),
            mismatched: 0,
            last_change_us: 0,
            write_clocks: FxHashMap::default(),
            latest_finished: BTreeMap::new(),
            read_begins: FxHashMap::default(),
            judged: 0,
            stale: 0,
            tvis: [(0, 0); 4],
            sessions: Sessions::default(),
        }
    }

    /// The row's node now holds the row's values (ids sorted) under the row's clock.
    fn set_state(&mut self, row: &Record, clock: VClock) {
        let (Some(node), Some(key)) = (row.node, row.key) else { return };
        let nodes = self.nodes as usize;
        let key_states =
            self.states.entry(key).or_insert_with(|| KeyStates { slots: vec![None; nodes], agree: true });
        let slots = &mut key_states.slots;
        if slots.len() <= node.index() {
            slots.resize(node.index() + 1, None);
        }
        // The slot's buffers are reused: a row changes a state in place.
        let state = slots[node.index()].get_or_insert_with(State::default);
        fill_ids(&mut state.values, &row.value);
        state.clock = clock;
        // Equality is transitive: every slot equals the one just set iff all are equal, and that
        // one need not be compared with itself.
        let i = node.index();
        let agree = slots.iter().enumerate().all(|(j, s)| j == i || *s == slots[i]);
        if agree != key_states.agree {
            key_states.agree = agree;
            if agree {
                self.mismatched -= 1;
            } else {
                self.mismatched += 1;
            }
        }
        self.last_change_us = row.time_us;
    }

    fn begin_read(&mut self, id: u64, key: u64, time_us: u64) {
        let latest = self.latest_finished.get(&key).cloned();
        self.read_begins.insert(id, (time_us, latest));
    }

    fn judge_read(&mut self, row: &Record) {
        let (Some(key), Some(id)) = (row.key, row.index) else { return };
        let (begin_us, latest) = match self.read_begins.remove(&id) {
            Some(b) => b,
            None => (row.time_us, self.latest_finished.get(&key).cloned()),
        };
        let Some(latest) = latest else { return };
        let clock = row.clock.as_ref().map(VClock::from_trace).unwrap_or_default();
        let fresh = clock.descends(&latest.clock);
        self.judged += 1;
        if !fresh {
            self.stale += 1;
        }
        let t = begin_us.saturating_sub(latest.time_us);
        if let Some(b) = TVIS_BOUNDS_US.iter().position(|bound| t < *bound) {
            self.tvis[b].1 += 1;
            if fresh {
                self.tvis[b].0 += 1;
            }
        }
    }

    fn held_states(&self) -> impl Iterator<Item = &State> {
        self.states.values().flat_map(|k| k.slots.iter().flatten())
    }

    /// Writes no other write of the same key descends from, held by no replica at the end.
    fn writes_lost(&self) -> u64 {
        let mut by_key: BTreeMap<u64, Vec<(u64, &VClock)>> = BTreeMap::new();
        for (value, (key, clock)) in &self.write_clocks {
            by_key.entry(*key).or_default().push((*value, clock));
        }
        for writes in by_key.values_mut() {
            writes.sort_unstable_by_key(|(value, _)| *value);
        }
        let mut lost = 0;
        for (key, writes) in &by_key {
            let held: BTreeSet<u64> = self
                .states
                .get(key)
                .into_iter()
                .flat_map(|k| k.slots.iter().flatten())
                .flat_map(|s| s.values.iter().copied())
                .collect();
            for (value, clock) in writes {
                if held.contains(value) {
                    continue;
                }
                // Newest first: a later write usually supersedes, so the scan stops early (the
                // answer does not depend on the order; the forward scan was quadratic per key).
                let superseded =
                    writes.iter().rev().any(|(_, other)| other.compare(clock) == Ordering4::After);
                if !superseded {
                    lost += 1;
                }
            }
        }
        lost
    }

    /// Writes that some replica's end state neither holds nor descends from.
    fn writes_not_everywhere(&self) -> u64 {
        let nodes = self.nodes as usize;
        let mut count = 0;
        for (key, clock) in self.write_clocks.values() {
            let slots = self.states.get(key).map(|k| &k.slots);
            let everywhere = (0..nodes).all(|n| {
                slots.and_then(|s| s.get(n)).and_then(Option::as_ref).is_some_and(|s| s.clock.descends(clock))
            });
            if !everywhere {
                count += 1;
            }
        }
        count
    }
}

fn fraction(num: u64, den: u64) -> MetricValue {
    if den == 0 {
        MetricValue::Missing
    } else {
        MetricValue::Float(num as f64 / den as f64)
    }
}

impl Metrics for EventualMetrics {
    fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Send => self.sends += 1,
            Event::Heal => self.last_heal_us = Some(row.time_us),
            Event::Conflict => self.conflicts += 1,
            Event::Write => {
                self.writes += 1;
                self.last_write_us = Some(row.time_us);
                if let (Value::Id(v), Some(key)) = (&row.value, row.key) {
                    let clock = row.clock.as_ref().map(VClock::from_trace).unwrap_or_default();
                    self.write_clocks.insert(*v, (key, clock.clone()));
                    self.set_state(row, clock);
                }
            }
            Event::Apply => {
                self.set_state(row, row.clock.as_ref().map(VClock::from_trace).unwrap_or_default())
            }
            Event::Note if row.msg == "put_ack" => {
                if let Some(key) = row.key {
                    let clock = row.clock.as_ref().map(VClock::from_trace).unwrap_or_default();
                    self.latest_finished.insert(key, Finished { time_us: row.time_us, clock });
                }
            }
            Event::Client if row.msg == "get" => {
                if let (Some(key), Some(id)) = (row.key, row.index) {
                    self.begin_read(id, key, row.time_us);
                }
            }
            Event::Read => {
                self.reads += 1;
                self.judge_read(row);
            }
            Event::Ok => self.sessions.observe(row),
            _ => {}
        }
    }

    fn finish(&mut self, _end_us: u64) -> Vec<(&'static str, MetricValue)> {
        let converged = self.mismatched == 0;
        let convergence_us = match (converged, self.last_write_us) {
            (true, Some(write_us)) => {
                let start = write_us.max(self.last_heal_us.unwrap_or(0));
                MetricValue::Int(self.last_change_us.saturating_sub(start))
            }
            _ => MetricValue::Missing,
        };
        let (mut held, mut versions, mut most) = (0u64, 0u64, 0u64);
        for s in self.held_states() {
            held += 1;
            versions += s.values.len() as u64;
            most = most.max(s.values.len() as u64);
        }
        let tvis: Vec<MetricValue> = self.tvis.iter().map(|(ok, n)| fraction(*ok, *n)).collect();
        let values = [
            MetricValue::Int(self.writes),
            MetricValue::Int(self.reads),
            convergence_us,
            MetricValue::Int(u64::from(converged)),
            fraction(self.stale, self.judged),
            tvis[0],
            tvis[1],
            tvis[2],
            tvis[3],
            MetricValue::Int(self.conflicts),
            MetricValue::Int(most),
            fraction(versions, held),
            MetricValue::Int(self.writes_lost()),
            MetricValue::Int(self.writes_not_everywhere()),
            fraction(self.sends, self.writes),
            fraction(self.sessions.read_your_writes().0, self.sessions.read_your_writes().1),
            fraction(self.sessions.monotonic_reads().0, self.sessions.monotonic_reads().1),
        ];
        NAMES.iter().copied().zip(values).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::eventual_test_rows::{apply, client_get, client_put, put_ack, read, timed, write};
    use crate::trace::Record;

    fn metrics(nodes: u32, rows: Vec<(u64, Record)>) -> BTreeMap<&'static str, MetricValue> {
        let mut m = EventualMetrics::new(nodes);
        for r in timed(rows) {
            m.observe(&r);
        }
        let out = m.finish(1_000_000_000);
        let names: Vec<&str> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, NAMES, "fixed names in a fixed order");
        out.into_iter().collect()
    }

    fn send() -> Record {
        Record::new(Event::Send)
    }

    fn int(v: u64) -> MetricValue {
        MetricValue::Int(v)
    }

    #[test]
    fn empty_run() {
        let m = metrics(3, vec![]);
        assert_eq!(m["writes"], int(0));
        assert_eq!(m["converged"], int(1));
        assert_eq!(m["convergence_us"], MetricValue::Missing);
        assert_eq!(m["stale_read_fraction"], MetricValue::Missing);
        assert_eq!(m["siblings_mean_per_key"], MetricValue::Missing);
        assert_eq!(m["messages_per_write"], MetricValue::Missing);
    }

    /// One write replicated to both peers: converged when the last replica applied it.
    #[test]
    fn convergence_time_runs_from_last_write_to_last_apply() {
        let rows = vec![
            (1_000, client_put(0, 1, 5)),
            (1_000, write(0, 1, 5, "n0:1")),
            (1_000, put_ack(0, 1, 5, "n0:1")),
            (1_000, send()),
            (1_000, send()),
            (3_000, apply(1, 1, &[5], "n0:1")),
            (7_500, apply(2, 1, &[5], "n0:1")),
        ];
        let m = metrics(3, rows);
        assert_eq!(m["converged"], int(1));
        assert_eq!(m["convergence_us"], int(6_500));
        assert_eq!(m["messages_per_write"], MetricValue::Float(2.0));
        assert_eq!(m["writes_not_everywhere"], int(0));
        assert_eq!(m["siblings_max"], int(1));
        assert_eq!(m["siblings_mean_per_key"], MetricValue::Float(1.0));
    }

    #[test]
    fn a_heal_after_the_last_write_starts_the_clock() {
        let rows = vec![
            (1_000, write(0, 1, 5, "n0:1")),
            (2_000, apply(1, 1, &[5], "n0:1")),
            (10_000, Record::new(Event::Heal)),
            (12_000, apply(2, 1, &[5], "n0:1")),
        ];
        assert_eq!(metrics(3, rows)["convergence_us"], int(2_000));
    }

    #[test]
    fn divergent_replicas_never_converge_and_lose_writes() {
        // The textbook: concurrent v5 (n0) and v6 (n1); n0 and n2 end with v6, n1 with v5.
        let rows = vec![
            (1_000, write(0, 1, 5, "n0:1")),
            (1_000, write(1, 1, 6, "n1:1")),
            (2_000, Record::new(Event::Conflict)),
            (2_000, apply(0, 1, &[6], "n1:1")),
            (2_000, apply(1, 1, &[5], "n0:1")),
            (3_000, apply(2, 1, &[6], "n1:1")),
        ];
        let m = metrics(3, rows);
        assert_eq!(m["converged"], int(0));
        assert_eq!(m["convergence_us"], MetricValue::Missing);
        assert_eq!(m["conflicts"], int(1));
        assert_eq!(m["writes_not_everywhere"], int(2));
        // Both writes are held somewhere, so none is lost; a third replica-less write would be.
        assert_eq!(m["lww_writes_lost"], int(0));
    }

    #[test]
    fn lww_losers_are_counted_superseded_writes_are_not() {
        let rows = vec![
            (1_000, write(0, 1, 5, "n0:1")),
            (1_100, write(0, 1, 7, "n0:2")), // supersedes v5 causally: not lost
            (1_000, write(1, 1, 6, "n1:1")), // concurrent with v7, loses
            (2_000, apply(0, 1, &[7], "n0:2;n1:1")),
            (2_000, apply(1, 1, &[7], "n0:2;n1:1")),
        ];
        let m = metrics(2, rows);
        assert_eq!(m["lww_writes_lost"], int(1));
        assert_eq!(m["converged"], int(1));
        assert_eq!(m["writes_not_everywhere"], int(0));
    }

    #[test]
    fn siblings_counted_at_the_end() {
        let rows = vec![
            (1_000, write(0, 1, 5, "n0:1")),
            (1_000, write(1, 1, 6, "n1:1")),
            (1_000, write(1, 2, 8, "n1:2")),
            (2_000, apply(0, 1, &[5, 6], "n0:1;n1:1")),
        ];
        let m = metrics(2, rows);
        assert_eq!(m["siblings_max"], int(2));
        // (n0,k1)=2, (n1,k1)=1, (n1,k2)=1.
        assert_eq!(m["siblings_mean_per_key"], MetricValue::Float(4.0 / 3.0));
    }

    /// Reads judged against the latest write finished before they began; PBS buckets by the gap.
    #[test]
    fn stale_reads_and_t_visibility() {
        let rows = vec![
            (0, client_get(1, 1, 100)), // no finished write yet: not judged
            (10, read(1, 1, 100, &[], "")),
            (1_000, write(0, 1, 5, "n0:1")),
            (1_000, put_ack(0, 1, 5, "n0:1")),
            (1_500, client_get(1, 1, 101)), // 0.5 ms after: stale (n1 has nothing yet)
            (1_500, read(1, 1, 101, &[], "")),
            (4_000, client_get(0, 1, 102)), // 3 ms after: fresh
            (4_000, read(0, 1, 102, &[5], "n0:1")),
            (30_000, client_get(2, 1, 103)), // 29 ms after: sibling set descending from v5 is fresh
            (31_000, read(2, 1, 103, &[5, 9], "n0:1;n2:1")),
            (50_000, client_get(2, 1, 104)), // 49 ms: stale
            (50_000, read(2, 1, 104, &[9], "n2:1")),
            (5_000_000, client_get(2, 1, 105)), // beyond 1 s: judged, in no bucket
            (5_000_000, read(2, 1, 105, &[9], "n2:1")),
        ];
        let m = metrics(3, rows);
        assert_eq!(m["reads"], int(6));
        assert_eq!(m["stale_read_fraction"], MetricValue::Float(3.0 / 5.0));
        assert_eq!(m["tvis_p_consistent_1ms"], MetricValue::Float(0.0));
        assert_eq!(m["tvis_p_consistent_10ms"], MetricValue::Float(1.0));
        assert_eq!(m["tvis_p_consistent_100ms"], MetricValue::Float(0.5));
        assert_eq!(m["tvis_p_consistent_1000ms"], MetricValue::Missing);
    }

    /// A quorum write that finishes after the read began is not held against the read.
    #[test]
    fn a_write_acked_after_the_read_began_does_not_count() {
        let rows = vec![
            (1_000, write(0, 1, 5, "n0:1")),
            (1_200, client_get(1, 1, 50)),
            (1_300, put_ack(0, 1, 5, "n0:1")),
            (1_400, read(1, 1, 50, &[], "")),
        ];
        assert_eq!(metrics(3, rows)["stale_read_fraction"], MetricValue::Missing);
    }
}
