//! Linearizability of what the clients observed (Herlihy & Wing 1990): the `invoke` / `ok` /
//! `fail` / `info` rows of a run, checked as the run goes against one compare-and-set register per key
//! (initially nil) by the Wing–Gong/Lowe search of `crate::lin` (docs/lincheck.md).
//!
//! This is the independent evidence a Raft store's "committed" claims must agree with: only client
//! rows are read, never a node's log. The check is incremental (`crate::lin::incremental`): each
//! key's history is decided segment by segment at quiescent points and forgotten, carrying only the
//! register states it may have left, so memory does not grow with the run's length. The verdict is
//! the whole-history check's, reported at `finish`, within a search budget (configurations per
//! segment) given by the caller, so a run stays deterministic.
//!
//! Outcomes: linearizable — no violation; not linearizable — one violation naming the key and the
//! shrunk set of ops that cannot be linearised; undecided (the budget ran out) — also one violation,
//! whose message starts with `undecided:`, because a check that could not finish must never read
//! as a pass. A row that breaks the row contract (a completion with no outstanding invocation, …)
//! is reported at that row, and the history is still checked with the rows that made sense.

use crate::check::{Checker, Violation};
use crate::lin::history::Source;
use crate::lin::incremental::Incremental;
use crate::lin::{Budget, Outcome};
use crate::trace::{Event, Record};

pub struct Linearizable {
    check: Option<Incremental>,
}

impl Linearizable {
    pub const NAME: &'static str = "linearizable";

    /// A checker searching at most `states_max` configurations per segment of a key's history.
    pub fn new(states_max: u64) -> Linearizable {
        Linearizable { check: Some(Incremental::new(Source::Trace, Budget::states(states_max))) }
    }
}

impl Checker for Linearizable {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Invoke, Event::Ok, Event::Fail, Event::Info])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(check) = self.check.as_mut() else { return };
        if let Err(e) = check.push_row(row) {
            out.push(Violation::at(Self::NAME, row, format!("malformed client history: {e}")));
        }
    }

    fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
        let Some(check) = self.check.take() else { return };
        let verdict = check.finish();
        if verdict.outcome == Outcome::Linearizable {
            return;
        }
        let time_us = verdict.time_ns.map_or(end_us, |ns| ns / 1_000);
        let seq = verdict.line.unwrap_or(0);
        out.push(Violation { property: Self::NAME, time_us, seq, message: verdict.message });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::generate::{rows, GenConfig};
    use crate::trace::Value;

    fn run(rows: &[Record], states_max: u64) -> Vec<Violation> {
        let mut c = Linearizable::new(states_max);
        let mut out = Vec::new();
        for r in rows {
            c.observe(r, &mut out);
        }
        c.finish(rows.last().map_or(0, |r| r.time_us), &mut out);
        out
    }

    #[test]
    fn a_correct_store_passes_and_a_stale_read_is_caught() {
        let config = GenConfig { ops: 500, keys: 2, processes: 6, info_per_mille: 30, seed: 9 };
        let mut rows = rows(&config);
        // Other rows are ignored.
        rows.insert(0, Record::new(Event::Send));
        assert!(run(&rows, 1_000_000).is_empty());
        // The last ok read of k0 returns k0's first written value instead.
        let first = rows
            .iter()
            .find(|r| r.event == Event::Ok && r.msg == "write" && r.key == Some(0))
            .map(|r| r.value.clone())
            .unwrap();
        let last = rows
            .iter()
            .rposition(|r| r.event == Event::Ok && r.msg == "read" && r.key == Some(0) && r.value != first)
            .unwrap();
        rows[last].value = first;
        let v = run(&rows, 1_000_000);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0].message.starts_with("not linearizable: key k0: "), "{}", v[0].message);
    }

    #[test]
    fn an_exhausted_budget_is_undecided_not_a_pass() {
        let rows = rows(&GenConfig { ops: 300, keys: 1, processes: 8, info_per_mille: 0, seed: 2 });
        let v = run(&rows, 5);
        assert_eq!(v.len(), 1);
        assert!(v[0].message.starts_with("undecided: key k0"), "{}", v[0].message);
    }

    #[test]
    fn a_contract_breaking_row_is_reported_where_it_is() {
        let mut ok = Record::new(Event::Ok).msg("read").index(4).key(0).value(Value::Id(1)).detail("p3");
        ok.seq = 17;
        let v = run(&[ok], 1_000);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].seq, 17);
        assert!(v[0].message.starts_with("malformed client history: ok by p3"), "{}", v[0].message);
    }
}
