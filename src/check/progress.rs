//! Progress after the faults stop (a liveness property, Raft §5.2 / §9: once the network is calm
//! and a majority is up, a leader is elected and commands commit again).
//!
//! Safety can hold vacuously in a cluster that never does anything. A scenario's `[liveness]`
//! section names when the faults are over (`after_ms`) and how long recovery may take
//! (`within_ms`); this checker requires a `commit` row inside that window. The workload must keep
//! issuing commands through the window for a commit to be possible.

use crate::check::{Checker, Violation};
use crate::trace::{Event, Record};

#[derive(Clone, Debug)]
pub struct Progress {
    after_us: u64,
    deadline_us: u64,
    /// Invariant: once true, stays true.
    seen: bool,
}

impl Progress {
    pub const NAME: &'static str = "progress";

    pub fn new(after_us: u64, within_us: u64) -> Progress {
        Progress { after_us, deadline_us: after_us.saturating_add(within_us), seen: false }
    }
}

impl Checker for Progress {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Commit])
    }

    fn observe(&mut self, row: &Record, _out: &mut Vec<Violation>) {
        if row.event == Event::Commit && (self.after_us..=self.deadline_us).contains(&row.time_us) {
            self.seen = true;
        }
    }

    fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
        if !self.seen && end_us >= self.deadline_us {
            out.push(Violation {
                property: Self::NAME,
                time_us: self.deadline_us,
                seq: 0,
                message: format!(
                    "no commit between {} us (faults over) and {} us (the recovery bound)",
                    self.after_us, self.deadline_us
                ),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit_at(t: u64) -> Record {
        let mut r = Record::new(Event::Commit).index(1);
        r.time_us = t;
        r
    }

    #[test]
    fn a_commit_inside_the_window_satisfies_it() {
        let mut p = Progress::new(1_000, 500);
        let mut out = Vec::new();
        p.observe(&commit_at(900), &mut out);
        p.observe(&commit_at(1_400), &mut out);
        p.finish(2_000, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn no_commit_inside_the_window_is_a_violation() {
        let mut p = Progress::new(1_000, 500);
        let mut out = Vec::new();
        p.observe(&commit_at(900), &mut out);
        p.observe(&commit_at(1_501), &mut out);
        p.finish(2_000, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            out[0].message,
            "no commit between 1000 us (faults over) and 1500 us (the recovery bound)"
        );
    }
}
