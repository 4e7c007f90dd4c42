//! Siblings are mutually concurrent: no version a replica ends with is dominated by another
//! version it also holds.
//!
//! Dynamo (DeCandia et al., SOSP 2007, §4.4): "if the counters on the first object's clock are
//! less-than-or-equal to all of the nodes in the second clock, then the first is an ancestor of the
//! second and can be forgotten". Keeping an ancestor next to its descendant would hand clients a
//! stale "conflict" to resolve. Judged in `finish` on `final` rows with several values, using each
//! value's write clock from its `write` row. Only meaningful under `policy = "siblings"`.

use crate::check::eventual_history::EventualHistory;
use crate::check::{Checker, Violation};
use crate::eventual::Ordering4;
use crate::trace::{Event, Record};

/// At most this many pairs are reported.
const REPORTED_MAX: usize = 20;

#[derive(Debug, Default)]
pub struct SiblingsAntichain {
    history: EventualHistory,
}

impl SiblingsAntichain {
    pub fn new() -> SiblingsAntichain {
        SiblingsAntichain::default()
    }
}

impl Checker for SiblingsAntichain {
    fn name(&self) -> &'static str {
        "siblings_antichain"
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(EventualHistory::EVENTS)
    }

    fn observe(&mut self, row: &Record, _out: &mut Vec<Violation>) {
        self.history.observe(row);
    }

    fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
        let h = &self.history;
        let mut reported = 0;
        for (key, states) in &h.end.finals {
            for (node, held) in states {
                for a in &held.values {
                    for b in &held.values {
                        let (Some(wa), Some(wb)) = (h.writes.get(a), h.writes.get(b)) else { continue };
                        let (ca, cb) = (&wa.clock, &wb.clock);
                        // A value written twice (a put resent to another coordinator) is judged by
                        // any of its copies: only a pair no copies of which are concurrent counts.
                        let all_before =
                            wa.copies().all(|cx| wb.copies().any(|cy| cx.compare(cy) == Ordering4::Before));
                        if !all_before || reported >= REPORTED_MAX {
                            continue;
                        }
                        reported += 1;
                        out.push(Violation {
                            property: "siblings_antichain",
                            time_us: end_us,
                            seq: held.seq,
                            message: format!(
                                "{node} ends with k{key} siblings v{a} ({ca}) and v{b} ({cb}), but v{b} descends from v{a}"
                            ),
                        });
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::eventual_test_rows::{final_key, final_node, timed, write};

    fn run(rows: Vec<(u64, Record)>) -> Vec<Violation> {
        let mut c = SiblingsAntichain::new();
        let mut out = Vec::new();
        for r in timed(rows) {
            c.observe(&r, &mut out);
        }
        c.finish(50, &mut out);
        out
    }

    #[test]
    fn concurrent_siblings_pass_and_an_ancestor_sibling_fails() {
        let writes =
            vec![(1, write(0, 1, 5, "n0:1")), (2, write(1, 1, 6, "n1:1")), (3, write(1, 1, 7, "n0:1;n1:2"))];
        let mut ok = writes.clone();
        ok.extend([(9, final_node(2, 1)), (9, final_key(2, 1, &[5, 6], "n0:1;n1:1"))]);
        assert!(run(ok).is_empty());
        let mut bad = writes;
        bad.extend([(9, final_node(2, 1)), (9, final_key(2, 1, &[5, 7], "n0:1;n1:2"))]);
        let v = run(bad);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n2 ends with k1 siblings v5 (n0:1) and v7 (n0:1;n1:2), but v7 descends from v5"
        );
    }
}
