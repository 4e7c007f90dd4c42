//! No value out of thin air: every value a replica stores, a read returns, or a run ends with was
//! written by some client.
//!
//! The safety half of eventual consistency is nearly empty (Bailis & Ghodsi, "Eventual Consistency
//! Today", CACM 2013: "eventual consistency provides no safety guarantees"), which is why the one
//! thing it must never do is return a value nobody wrote. Checked row by row: a value on an
//! `apply`, `read` or `final` row must have appeared on an earlier `client` `put` or `write` row.

use rustc_hash::FxHashSet;

use crate::check::eventual_history::value_ids;
use crate::check::{Checker, Violation};
use crate::trace::{Event, Record, Value};

/// At most this many rows are reported.
const REPORTED_MAX: usize = 20;

#[derive(Debug, Default)]
pub struct NoInventedValues {
    /// Ids on `client` `put` and `write` rows (membership only, so a hash set).
    written: FxHashSet<u64>,
    reported: usize,
}

impl NoInventedValues {
    pub fn new() -> NoInventedValues {
        NoInventedValues::default()
    }
}

impl Checker for NoInventedValues {
    fn name(&self) -> &'static str {
        "no_invented_values"
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Client, Event::Write, Event::Apply, Event::Read, Event::Final])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        match row.event {
            Event::Client | Event::Write => {
                if let Value::Id(v) = row.value {
                    if row.event == Event::Write || row.msg == "put" {
                        self.written.insert(v);
                    }
                }
            }
            Event::Apply | Event::Read | Event::Final => {
                // The common case, every id known, allocates nothing.
                let known = |v: &u64| self.written.contains(v);
                let all_known = match &row.value {
                    Value::Id(v) => known(v),
                    Value::Ids(vs) => vs.iter().all(known),
                    Value::None | Value::Text(_) => true,
                };
                if all_known {
                    return;
                }
                let unknown: Vec<u64> =
                    value_ids(&row.value).into_iter().filter(|v| !self.written.contains(v)).collect();
                if unknown.is_empty() || self.reported >= REPORTED_MAX {
                    return;
                }
                self.reported += 1;
                let node = row.node.map(|n| n.to_string()).unwrap_or_default();
                let key = row.key.map(|k| format!(" k{k}")).unwrap_or_default();
                let ids: Vec<String> = unknown.iter().map(|v| format!("v{v}")).collect();
                let message =
                    format!("{} at {node}{key} shows {} that no client wrote", row.event, ids.join(", "));
                out.push(Violation::at("no_invented_values", row, message));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::eventual_test_rows::{apply, client_put, final_key, read, timed, write};

    fn run(rows: Vec<(u64, Record)>) -> Vec<Violation> {
        let mut c = NoInventedValues::new();
        let mut out = Vec::new();
        for r in timed(rows) {
            c.observe(&r, &mut out);
        }
        c.finish(0, &mut out);
        out
    }

    #[test]
    fn written_values_pass() {
        let rows = vec![
            (1, client_put(0, 1, 5)),
            (1, write(0, 1, 5, "n0:1")),
            (2, client_put(1, 1, 6)),
            (3, apply(2, 1, &[5, 6], "n0:1;n1:1")),
            (4, read(2, 1, 9, &[5, 6], "n0:1;n1:1")),
            (5, read(2, 3, 10, &[], "")),
            (9, final_key(2, 1, &[5, 6], "n0:1;n1:1")),
        ];
        assert!(run(rows).is_empty());
    }

    #[test]
    fn an_unwritten_value_fails_where_it_appears() {
        let rows = vec![(1, client_put(0, 1, 5)), (3, apply(2, 1, &[5, 8], "n0:1;n1:1"))];
        let v = run(rows);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].message, "apply at n2 k1 shows v8 that no client wrote");
        assert_eq!((v[0].time_us, v[0].seq), (3, 1));
        // A value read before any client wrote it is invented too.
        assert_eq!(run(vec![(1, read(0, 1, 2, &[5], "n0:1")), (2, client_put(0, 1, 5))]).len(), 1);
    }
}
