//! Checkers: properties evaluated over a stream of trace rows, one file per property.
//!
//! The same checker code runs during a simulation (fed each row as it is made) and over a trace
//! file afterwards (`dsim check`), so a property proven on a live run is the property checked on a
//! recorded one. Each file cites the source of its property. A checker is only trusted once a
//! deliberately broken model has been caught by it (see `tests/`).

pub mod acks_match;
pub mod check_quorum;
pub mod commit_apply;
pub mod committed_kept;
pub mod convergence;
pub mod election_safety;
pub mod eventual_history;
pub mod eventual_set;
#[cfg(test)]
pub(crate) mod eventual_test_rows;
pub mod final_state;
pub mod leader_append_only;
pub mod leader_completeness;
pub mod linearizable;
pub mod log_matching;
pub mod match_monotone;
pub mod membership;
pub mod no_invented_values;
pub mod node_map;
pub mod pre_vote;
pub mod progress;
pub mod prune;
pub mod raft_log;
pub mod siblings_antichain;
pub mod state_machine_safety;
pub mod strict_quorum_reads;
pub mod term_adoption;
#[cfg(test)]
pub(crate) mod testkit;
pub mod vote_once;
pub mod writes_survive;

pub use acks_match::AcksMatch;
pub use commit_apply::CommitApply;
pub use committed_kept::CommittedKept;
pub use election_safety::ElectionSafety;
pub use final_state::FinalState;
pub use leader_append_only::LeaderAppendOnly;
pub use leader_completeness::LeaderCompleteness;
pub use linearizable::Linearizable;
pub use log_matching::LogMatching;
pub use pre_vote::PreVote;
pub use state_machine_safety::StateMachineSafety;
pub use term_adoption::TermAdoption;
pub use vote_once::VoteOnce;

use crate::trace::{Event, Record};

/// A property that did not hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The property's short name (`election_safety`, …).
    pub property: &'static str,
    /// Where it was detected.
    pub time_us: u64,
    pub seq: u64,
    /// One line: what was seen, with the nodes, terms and indexes involved.
    pub message: String,
}

impl Violation {
    /// A violation of `property` detected at `row`.
    pub fn at(property: &'static str, row: &Record, message: String) -> Violation {
        Violation { property, time_us: row.time_us, seq: row.seq, message }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at time_us={} seq={}: {}", self.property, self.time_us, self.seq, self.message)
    }
}

/// One property, observed row by row.
pub trait Checker {
    fn name(&self) -> &'static str;

    /// Sees one row, in trace order; pushes any violation it detects.
    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>);

    /// The events whose rows `observe` reads; `None` (the default) means every row. A
    /// [`CheckSet`] hands a checker only these rows, so a checker that declares a list must
    /// ignore every other event (most rows are `send` / `deliver`, which few properties read).
    fn events(&self) -> Option<&'static [Event]> {
        None
    }

    /// The run is over (`end_us` is the final simulated time): properties about the end state.
    fn finish(&mut self, _end_us: u64, _out: &mut Vec<Violation>) {}
}

/// Every Raft safety property of the paper's Figure 3, plus the commit/apply rules of Figure 2, in
/// a fixed order (the order their violations are reported in for one row).
pub fn raft_checkers() -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(ElectionSafety::new()),
        Box::new(LeaderAppendOnly::new()),
        Box::new(LogMatching::new()),
        Box::new(LeaderCompleteness::new()),
        Box::new(StateMachineSafety::new()),
        Box::new(CommitApply::new()),
        Box::new(VoteOnce::new()),
        Box::new(CommittedKept::new()),
        Box::new(AcksMatch::new()),
        Box::new(TermAdoption::new()),
        Box::new(FinalState::new()),
        Box::new(PreVote::new()),
    ]
}

/// Several checkers fed the same rows, with their violations collected in detection order.
///
/// A broken run can violate a property on almost every row, so only the first
/// [`CheckSet::VIOLATIONS_KEPT_MAX`] violations are kept, plus the first of every property that
/// has none among them (so a checker that fires late, like `linearizable` at the end of a run, is
/// still named); the rest are only counted.
pub struct CheckSet {
    checkers: Vec<Box<dyn Checker>>,
    /// Invariant: `kept.len() <= VIOLATIONS_KEPT_MAX` + the number of checkers.
    kept: Vec<Violation>,
    /// The properties with a kept violation.
    kept_properties: Vec<&'static str>,
    /// Violations detected after `kept` was full.
    omitted: u64,
    /// Reused buffer the checkers push into, so observing a clean row does not allocate.
    scratch: Vec<Violation>,
    /// Per event (by `Event as usize`): the checkers that read its rows, bit `i` for
    /// `checkers[i]`; fed in index order, lowest bit first.
    by_event: [u64; Event::ALL.len()],
}

impl CheckSet {
    pub const VIOLATIONS_KEPT_MAX: usize = 100;

    /// The most checkers one set holds (one bit each in an event's reader mask).
    pub const CHECKERS_MAX: usize = 64;

    pub fn new(checkers: Vec<Box<dyn Checker>>) -> CheckSet {
        assert!(
            checkers.len() <= Self::CHECKERS_MAX,
            "a CheckSet holds at most {} checkers, not {}",
            Self::CHECKERS_MAX,
            checkers.len()
        );
        let mut by_event = [0u64; Event::ALL.len()];
        for (e, event) in Event::ALL.iter().enumerate() {
            debug_assert_eq!(*event as usize, e);
            for (i, c) in checkers.iter().enumerate() {
                if c.events().map_or(true, |events| events.contains(event)) {
                    by_event[e] |= 1 << i;
                }
            }
        }
        CheckSet {
            checkers,
            kept: Vec::new(),
            kept_properties: Vec::new(),
            omitted: 0,
            scratch: Vec::new(),
            by_event,
        }
    }

    /// The checkers' names, in feeding order.
    pub fn names(&self) -> Vec<&'static str> {
        self.checkers.iter().map(|c| c.name()).collect()
    }

    /// Feeds one row to every checker that reads its event, in order.
    pub fn observe(&mut self, row: &Record) {
        let mut readers = self.by_event[row.event as usize];
        while readers != 0 {
            let i = readers.trailing_zeros() as usize;
            readers &= readers - 1;
            if let Some(checker) = self.checkers.get_mut(i) {
                checker.observe(row, &mut self.scratch);
            }
        }
        if !self.scratch.is_empty() {
            self.collect();
        }
    }

    /// The run is over at `end_us`: lets every checker report end-state properties.
    pub fn finish(&mut self, end_us: u64) {
        for checker in &mut self.checkers {
            checker.finish(end_us, &mut self.scratch);
        }
        self.collect();
    }

    fn collect(&mut self) {
        if self.scratch.is_empty() {
            return;
        }
        for violation in self.scratch.drain(..) {
            let new_property = !self.kept_properties.contains(&violation.property);
            if self.kept.len() < Self::VIOLATIONS_KEPT_MAX || new_property {
                if new_property {
                    self.kept_properties.push(violation.property);
                }
                self.kept.push(violation);
            } else {
                self.omitted += 1;
            }
        }
    }

    /// The first violations detected, at most `VIOLATIONS_KEPT_MAX`, then the first of each
    /// property not among them.
    pub fn violations(&self) -> &[Violation] {
        &self.kept
    }

    /// How many violations were detected but not kept.
    pub fn omitted(&self) -> u64 {
        self.omitted
    }

    /// How many violations were detected in all.
    pub fn total(&self) -> u64 {
        self.kept.len() as u64 + self.omitted
    }

    pub fn is_clean(&self) -> bool {
        self.kept.is_empty()
    }
}

impl std::fmt::Debug for CheckSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckSet")
            .field("checkers", &self.names())
            .field("kept", &self.kept)
            .field("omitted", &self.omitted)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::testkit::*;
    use super::*;

    /// The property names that fired on `rows`, deduplicated, in first-detection order.
    fn fired(rows: Vec<Record>) -> (Vec<&'static str>, CheckSet) {
        let rows = history(rows);
        let mut set = CheckSet::new(raft_checkers());
        for row in &rows {
            set.observe(row);
        }
        set.finish(rows.last().map_or(0, |r| r.time_us));
        let mut names: Vec<&'static str> = Vec::new();
        for v in set.violations() {
            if !names.contains(&v.property) {
                names.push(v.property);
            }
        }
        (names, set)
    }

    #[test]
    fn all_raft_checkers_are_there_once() {
        let set = CheckSet::new(raft_checkers());
        assert_eq!(
            set.names(),
            [
                "election_safety",
                "leader_append_only",
                "log_matching",
                "leader_completeness",
                "state_machine_safety",
                "commit_apply",
                "vote_once",
                "committed_kept",
                "acks_match",
                "term_adoption",
                "final_state",
                "pre_vote"
            ]
        );
    }

    #[test]
    fn a_correct_history_is_clean() {
        let (names, set) = fired(good_history());
        assert!(names.is_empty(), "{:?}", set.violations());
        assert!(set.is_clean());
        assert_eq!(set.total(), 0);
    }

    /// Each deliberately broken Raft (config `bug`) is caught by the property it breaks.
    #[test]
    fn each_bug_is_caught_by_its_property() {
        assert_eq!(fired(forget_voted_for_history()).0, ["vote_once", "election_safety"]);
        assert_eq!(fired(figure8_history()).0, ["leader_completeness", "state_machine_safety"]);
        assert_eq!(
            fired(vote_without_log_check_history()).0,
            ["leader_completeness", "state_machine_safety"]
        );
    }

    /// The event filter is an optimisation only: feeding every row to every checker finds the same
    /// violations in the same order, on clean and on broken histories (with crashes, restarts,
    /// truncations and elections in them).
    #[test]
    fn event_filter_changes_nothing() {
        let mut pruned_then_broken = snapshotting_history(300, 10);
        pruned_then_broken.extend([store(1, 2, 5, 5), role(1, 3, "leader"), apply(2, 1, 300, 7)]);
        let histories = [
            good_history(),
            figure8_history(),
            vote_without_log_check_history(),
            forget_voted_for_history(),
            pruned_then_broken,
        ];
        for rows in histories {
            let rows = history(rows);
            let mut unfiltered = raft_checkers();
            unfiltered.push(Box::new(progress::Progress::new(0, 1_000_000)));
            let mut all = Vec::new();
            for row in &rows {
                for c in &mut unfiltered {
                    c.observe(row, &mut all);
                }
            }
            let mut filtered = raft_checkers();
            filtered.push(Box::new(progress::Progress::new(0, 1_000_000)));
            let mut set = CheckSet::new(filtered);
            for row in &rows {
                set.observe(row);
            }
            assert!(!rows.is_empty());
            assert_eq!(set.violations(), &all[..]);
        }
    }

    /// A checker that prunes reads every row its pruning point reads (else, fed through a
    /// `CheckSet`, it would miss nodes or snapshots and prune too early).
    #[test]
    fn pruning_checkers_read_the_pruning_rows() {
        let pruning: [Box<dyn Checker>; 5] = [
            Box::new(LogMatching::new()),
            Box::new(StateMachineSafety::new()),
            Box::new(FinalState::new()),
            Box::new(CommittedKept::new()),
            Box::new(LeaderCompleteness::new()),
        ];
        for c in pruning {
            let events = c.events().unwrap_or(&Event::ALL[..]);
            for e in prune::PrunePoint::EVENTS {
                assert!(events.contains(&e), "{} does not read {e:?}", c.name());
            }
        }
    }

    /// Fires on every row (`every`) or only at the end (`late`).
    struct Fires(&'static str, bool);

    impl Checker for Fires {
        fn name(&self) -> &'static str {
            self.0
        }
        fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
            if !self.1 {
                out.push(Violation::at(self.0, row, "every row".into()));
            }
        }
        fn finish(&mut self, end_us: u64, out: &mut Vec<Violation>) {
            if self.1 {
                out.push(Violation { property: self.0, time_us: end_us, seq: 0, message: "late".into() });
            }
        }
    }

    #[test]
    fn a_late_property_is_kept_past_the_bound() {
        let mut set = CheckSet::new(vec![Box::new(Fires("every", false)), Box::new(Fires("late", true))]);
        for v in 1..=150 {
            set.observe(&apply(0, 1, 1, v));
        }
        set.finish(1);
        let kept = set.violations();
        assert_eq!(kept.len(), CheckSet::VIOLATIONS_KEPT_MAX + 1);
        assert_eq!(kept.last().map(|v| v.property), Some("late"));
        assert_eq!((set.total(), set.omitted()), (151, 50));
    }

    #[test]
    fn violations_are_bounded_and_counted() {
        // 150 applies at index 1 that all disagree with the first.
        let mut rows = vec![role(0, 1, "leader"), append(0, 1, 1, 1), commit(0, 1, 1), apply(0, 1, 1, 1)];
        rows.extend((2..=151).map(|v| apply(0, 1, 1, v)));
        let (_, set) = fired(rows);
        let kept = set.violations();
        assert_eq!(kept.len(), CheckSet::VIOLATIONS_KEPT_MAX);
        // Every re-apply breaks both state machine safety and the apply order: 300 in all.
        assert_eq!(set.total(), 300);
        assert_eq!(set.omitted(), 200);
        assert_eq!(kept[0].seq, 4);
        assert_eq!(kept[99].seq, 53);
        assert!(kept[0].to_string().starts_with("state_machine_safety at time_us=400 seq=4: n0 applied"));
    }
}
