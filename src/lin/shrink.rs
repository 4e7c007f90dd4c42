//! Shrinks a non-linearizable register history to a small set of ops that still cannot be
//! linearised, so a violation is shown as a handful of ops rather than thousands.
//!
//! Removing ops blindly could manufacture a violation (drop the write a read returned and the read
//! becomes impossible). So a removal takes along, transitively, every remaining op that reads or
//! expects a value a removed op wrote. Such a "closed" subset is a true witness: any linearisation
//! of the whole history, restricted to the subset, is still legal (no remaining op saw a removed
//! op's value) and keeps the real-time order; so if the subset has none, neither has the whole.
//!
//! The strategy is delta debugging (Zeller's ddmin, simplified): remove chunks of half the ops,
//! then quarters, … then single ops, keeping each removal after which the search still answers
//! "not linearizable" within the budget. It ends 1-minimal (no single closed removal keeps the
//! violation) unless the re-checks run out first ([`CHECKS_MAX`] searches, or
//! [`STATES_BUDGETS_MAX`] times the per-key budget in configurations).

use rustc_hash::FxHashSet;

use crate::lin::history::{History, OpF};
use crate::lin::search::{check_ops, relevant, Budget, Outcome, SearchResult};

/// The result of shrinking.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shrunk {
    /// Indexes into `history.ops()`, in invocation order.
    pub ops: Vec<usize>,
    /// True if no single closed removal keeps the violation.
    pub minimal: bool,
    /// Searches run.
    pub checks: u64,
}

/// Re-checks a shrink may run.
pub const CHECKS_MAX: u64 = 2_000;

/// Search configurations all re-checks together may visit, in multiples of the per-key budget.
pub const STATES_BUDGETS_MAX: u64 = 4;

/// `ops` (one key, not linearizable) shrunk as described above, each re-check within `budget`.
pub fn shrink(history: &History, ops: &[usize], budget: &Budget) -> Shrunk {
    shrink_with(history, ops, budget, |candidate| check_ops(history, candidate, budget))
}

/// As [`shrink`], deciding each candidate with `check` (which searches at most `budget`
/// configurations): the incremental check decides a segment from the configurations the history
/// before it may have left.
pub fn shrink_with(
    history: &History,
    ops: &[usize],
    budget: &Budget,
    check: impl Fn(&[usize]) -> SearchResult,
) -> Shrunk {
    let mut current = relevant(history, ops);
    let mut checks = 0u64;
    let mut states = 0u64;
    let states_max = budget.states_max.saturating_mul(STATES_BUDGETS_MAX);
    let mut chunk = (current.len() / 2).max(1);
    loop {
        let mut removed_any = false;
        let mut i = 0;
        while i < current.len() {
            if checks >= CHECKS_MAX || states >= states_max {
                return Shrunk { ops: current, minimal: false, checks };
            }
            let end = (i + chunk).min(current.len());
            let candidate = without(history, &current, &current[i..end]);
            checks += 1;
            let result = check(&candidate);
            states += result.states;
            if !candidate.is_empty() && result.outcome == Outcome::NotLinearizable {
                current = relevant(history, &candidate);
                removed_any = true;
            } else {
                i = end;
            }
        }
        if chunk == 1 && !removed_any {
            return Shrunk { ops: current, minimal: true, checks };
        }
        chunk = (chunk / 2).max(1);
    }
}

/// `current` without `remove` and, transitively, without every op that reads or expects a value
/// written by a removed op.
fn without(history: &History, current: &[usize], remove: &[usize]) -> Vec<usize> {
    let all = history.ops();
    let mut gone: FxHashSet<usize> = remove.iter().copied().collect();
    let mut written: FxHashSet<u32> =
        remove.iter().filter(|&&i| all[i].f != OpF::Read).map(|&i| all[i].value).collect();
    loop {
        let mut grew = false;
        for &i in current {
            let op = &all[i];
            let observes = match op.f {
                OpF::Read => written.contains(&op.value),
                OpF::Cas => written.contains(&op.expect),
                OpF::Write => false,
            };
            if observes && gone.insert(i) {
                grew = true;
                if op.f == OpF::Cas {
                    written.insert(op.value);
                }
            }
        }
        if !grew {
            return current.iter().copied().filter(|i| !gone.contains(i)).collect();
        }
    }
}
