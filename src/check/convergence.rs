//! Convergence: at the end of a run every replica holds the same versions of every key.
//!
//! Eventual consistency's liveness half — "if no new updates are made, eventually all accesses
//! return the last updated value" (Vogels, "Eventually Consistent", CACM 2009; Bailis & Ghodsi,
//! "Eventual Consistency Today", CACM 2013, call it convergence). Dynamo (DeCandia et al., SOSP
//! 2007, §4.7) gets it from anti-entropy. Evaluated in `finish` on the `final` rows, so a scenario
//! must leave quiet time after its last write and heal for the property to be fair; the textbook
//! model (`mode = "seed"`) fails it under concurrent writes or message loss.

use std::collections::BTreeSet;

use rustc_hash::FxHashSet;

use crate::check::eventual_history::FinalStates;
use crate::check::{Checker, Violation};
use crate::trace::{Event, Record, Value};

/// At most this many keys are reported.
const REPORTED_MAX: usize = 20;

#[derive(Debug, Default)]
pub struct Convergence {
    /// Value ids on `write` rows (only counted, so a hash set).
    written: FxHashSet<u64>,
    /// Keys on `write` rows.
    written_keys: BTreeSet<u64>,
    end: FinalStates,
}

impl Convergence {
    pub fn new() -> Convergence {
        Convergence::default()
    }
}

impl Checker for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Write, Event::Final])
    }

    fn observe(&mut self, row: &Record, _out: &mut Vec<Violation>) {
        match row.event {
            Event::Write => {
                if let (Value::Id(v), Some(key)) = (&row.value, row.key) {
                    self.written.insert(*v);
                    self.written_keys.insert(key);
                }
            }
            Event::Final => self.end.observe_final(row),
            _ => {}
        }
    }

    fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
        let h = &self.end;
        if h.final_nodes.is_empty() {
            if !self.written.is_empty() {
                out.push(Violation {
                    property: "convergence",
                    time_us: end_us,
                    seq: 0,
                    message: format!(
                        "{} writes but no final rows: the end state is unknown",
                        self.written.len()
                    ),
                });
            }
            return;
        }
        // Every key written or held at the end.
        let keys: BTreeSet<u64> = self.written_keys.iter().chain(h.finals.keys()).copied().collect();
        let mut reported = 0;
        for key in keys {
            let mut states = h.final_nodes.iter().map(|n| (*n, h.held(key, *n)));
            let Some((first_node, first)) = states.next() else { continue };
            let differing: Vec<String> = states
                .filter(|(_, s)| s.values != first.values || s.clock != first.clock)
                .map(|(n, s)| format!("{n} holds {}", s.describe()))
                .collect();
            if differing.is_empty() {
                continue;
            }
            reported += 1;
            if reported > REPORTED_MAX {
                continue;
            }
            out.push(Violation {
                property: "convergence",
                time_us: end_us,
                seq: h.last_final_seq,
                message: format!(
                    "replicas disagree on k{key} at the end: {first_node} holds {}, {}",
                    first.describe(),
                    differing.join(", ")
                ),
            });
        }
        if reported > REPORTED_MAX {
            out.push(Violation {
                property: "convergence",
                time_us: end_us,
                seq: h.last_final_seq,
                message: format!("… and {} more keys disagree", reported - REPORTED_MAX),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::eventual_test_rows::{final_key, final_node, write};

    fn run(rows: &[Record]) -> Vec<Violation> {
        let mut c = Convergence::new();
        let mut out = Vec::new();
        for r in rows {
            c.observe(r, &mut out);
        }
        assert!(out.is_empty(), "nothing is reported before the end");
        c.finish(99, &mut out);
        out
    }

    #[test]
    fn identical_replicas_pass() {
        let rows = [
            write(0, 1, 7, "n0:1"),
            final_node(0, 1),
            final_key(0, 1, &[7], "n0:1"),
            final_node(1, 1),
            final_key(1, 1, &[7], "n0:1"),
        ];
        assert!(run(&rows).is_empty());
        assert!(run(&[]).is_empty(), "no writes, no finals: nothing to converge");
    }

    #[test]
    fn a_missing_or_different_replica_fails() {
        // n1 never got k1 at all.
        let rows =
            [write(0, 1, 7, "n0:1"), final_node(0, 1), final_key(0, 1, &[7], "n0:1"), final_node(1, 0)];
        let v = run(&rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].message, "replicas disagree on k1 at the end: n0 holds v7 (n0:1), n1 holds nothing");
        // Same values, different clocks (one replica missed a superseding write's clock) also fail.
        let rows = [
            final_node(0, 1),
            final_key(0, 1, &[7, 8], "n0:1;n1:1"),
            final_node(1, 1),
            final_key(1, 1, &[7], "n0:1"),
        ];
        assert_eq!(run(&rows).len(), 1);
    }

    #[test]
    fn writes_without_final_rows_fail() {
        let v = run(&[write(0, 1, 7, "n0:1")]);
        assert_eq!(v.len(), 1);
        assert!(v[0].message.contains("no final rows"), "{v:?}");
    }
}
