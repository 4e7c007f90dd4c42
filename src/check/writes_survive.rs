//! No lost updates: every write is, at the end, held by some replica or causally superseded there.
//!
//! Dynamo (DeCandia et al., SOSP 2007, §4.4) keeps concurrent versions as siblings precisely so
//! that no write is silently dropped; a version may only disappear when a version descending from
//! it (by vector clock) replaces it. So: for each `write` row, some replica's end state must
//! descend from the write's clock. With `policy = "siblings"` that is judged per sibling (the
//! siblings' write clocks, from the `write` rows), with `lww` on the joined clock of the `final`
//! row — LWW discards concurrent losers by design, and the joined clock records that the loser was
//! seen; such losses are counted by the `lww_writes_lost` metric, not reported here. The textbook
//! model fails this: a replica overwrites a concurrent write it never merged.

use crate::check::eventual_history::EventualHistory;
use crate::check::{Checker, Violation};
use crate::eventual::{Policy, VClock};
use crate::trace::{Event, Record};

/// At most this many writes are reported.
const REPORTED_MAX: usize = 20;

#[derive(Debug)]
pub struct WritesSurvive {
    policy: Policy,
    history: EventualHistory,
}

impl WritesSurvive {
    pub fn new(policy: Policy) -> WritesSurvive {
        WritesSurvive { policy, history: EventualHistory::default() }
    }

    /// Whether some replica's end state for `key` descends from `clock`.
    fn survives(&self, key: u64, clock: &VClock) -> bool {
        let h = &self.history;
        let Some(states) = h.end.finals.get(&key) else { return false };
        states.values().any(|held| match self.policy {
            Policy::Lww => held.clock.descends(clock),
            Policy::Siblings => {
                // Any copy of a held value (a resent put is written once per coordinator).
                held.values
                    .iter()
                    .any(|v| h.writes.get(v).is_some_and(|w| w.copies().any(|c| c.descends(clock))))
            }
        })
    }
}

impl Checker for WritesSurvive {
    fn name(&self) -> &'static str {
        "writes_survive"
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(EventualHistory::EVENTS)
    }

    fn observe(&mut self, row: &Record, _out: &mut Vec<Violation>) {
        self.history.observe(row);
    }

    fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
        if self.history.end.final_nodes.is_empty() {
            return; // No end state to judge; `convergence` reports the missing final rows.
        }
        let lost: Vec<(u64, u64, &VClock)> = self
            .history
            .writes_sorted()
            .into_iter()
            .filter(|(_, w)| w.copies().any(|c| !self.survives(w.key, c)))
            .map(|(v, w)| (v, w.key, &w.clock))
            .collect();
        for (value, key, clock) in lost.iter().take(REPORTED_MAX) {
            let w = &self.history.writes[value];
            let at = w.node.map(|n| format!(" at {n}")).unwrap_or_default();
            out.push(Violation {
                property: "writes_survive",
                time_us: end_us,
                seq: self.history.end.last_final_seq,
                message: format!(
                    "write v{value} to k{key} ({clock}){at}, time_us={}, is neither held nor superseded by any replica at the end",
                    w.time_us
                ),
            });
        }
        if lost.len() > REPORTED_MAX {
            out.push(Violation {
                property: "writes_survive",
                time_us: end_us,
                seq: self.history.end.last_final_seq,
                message: format!("… and {} more lost writes", lost.len() - REPORTED_MAX),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::eventual_test_rows::{final_key, final_node, timed, write};

    fn run(policy: Policy, rows: Vec<(u64, Record)>) -> Vec<Violation> {
        let mut c = WritesSurvive::new(policy);
        let mut out = Vec::new();
        for r in timed(rows) {
            c.observe(&r, &mut out);
        }
        c.finish(50, &mut out);
        out
    }

    fn concurrent_writes() -> Vec<(u64, Record)> {
        vec![(1, write(0, 1, 5, "n0:1")), (2, write(1, 1, 6, "n1:1")), (3, write(1, 1, 7, "n0:1;n1:2"))]
    }

    #[test]
    fn siblings_and_superseded_writes_pass() {
        // v7 descends from v5 and v6 (Dynamo's D5 over D3, D4).
        let mut rows = concurrent_writes();
        rows.extend([(9, final_node(0, 1)), (9, final_key(0, 1, &[7], "n0:1;n1:2"))]);
        assert!(run(Policy::Siblings, rows).is_empty());
        // Two siblings held: both writes survive.
        let rows = vec![
            (1, write(0, 1, 5, "n0:1")),
            (2, write(1, 1, 6, "n1:1")),
            (9, final_node(0, 1)),
            (9, final_key(0, 1, &[5, 6], "n0:1;n1:1")),
        ];
        assert!(run(Policy::Siblings, rows).is_empty());
    }

    #[test]
    fn an_overwritten_concurrent_write_fails_under_siblings() {
        // The textbook: n0's replica took v6 over v5 though [0,1] does not descend from [1,0].
        let rows = vec![
            (1, write(0, 1, 5, "n0:1")),
            (2, write(1, 1, 6, "n1:1")),
            (9, final_node(0, 1)),
            (9, final_key(0, 1, &[6], "n1:1")),
            (9, final_node(1, 1)),
            (9, final_key(1, 1, &[6], "n1:1")),
        ];
        let v = run(Policy::Siblings, rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "write v5 to k1 (n0:1) at n0, time_us=1, is neither held nor superseded by any replica at the end"
        );
    }

    #[test]
    fn lww_loser_is_covered_by_the_joined_clock_but_a_never_seen_write_is_not() {
        let rows = vec![
            (1, write(0, 1, 5, "n0:1")),
            (2, write(1, 1, 6, "n1:1")),
            (9, final_node(0, 1)),
            (9, final_key(0, 1, &[6], "n0:1;n1:1")),
        ];
        assert!(run(Policy::Lww, rows).is_empty());
        let rows = vec![
            (1, write(0, 1, 5, "n0:1")),
            (2, write(1, 1, 6, "n1:1")),
            (9, final_node(0, 1)),
            (9, final_key(0, 1, &[6], "n1:1")),
        ];
        assert_eq!(run(Policy::Lww, rows).len(), 1);
    }
}
