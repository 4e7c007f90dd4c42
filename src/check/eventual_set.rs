//! The checkers that apply to the eventually consistent KV, for the harness to install.

use crate::check::convergence::Convergence;
use crate::check::no_invented_values::NoInventedValues;
use crate::check::siblings_antichain::SiblingsAntichain;
use crate::check::writes_survive::WritesSurvive;
use crate::check::Checker;
use crate::eventual::{Mode, Policy};
use crate::scenario::Scenario;

/// `convergence`, `no_invented_values`, `writes_survive` and, under `siblings`,
/// `siblings_antichain`. The textbook model (`mode = "seed"`) is expected to fail the first and
/// the third; run it with these anyway, that is how its defects show.
pub fn eventual_checkers(policy: Policy) -> Vec<Box<dyn Checker>> {
    let mut out: Vec<Box<dyn Checker>> = vec![
        Box::new(Convergence::new()),
        Box::new(NoInventedValues::new()),
        Box::new(WritesSurvive::new(policy)),
    ];
    if policy == Policy::Siblings {
        out.push(Box::new(SiblingsAntichain::new()));
    }
    out
}

/// Whether `strict_quorum_reads` applies: dynamo mode with R + W > N (strict quorums, Dynamo §4.5)
/// and no faults at all — no scripted faults, no chaos, no message loss or duplication.
pub fn strict_quorum_applies(scenario: &Scenario) -> bool {
    let e = &scenario.eventual;
    e.mode == Mode::Dynamo
        && e.read_quorum + e.write_quorum > scenario.nodes
        && scenario.faults.is_empty()
        && scenario.chaos.crash_every_ms.is_none()
        && scenario.chaos.partition_every_ms.is_none()
        && scenario.network.drop_probability == 0.0
        && scenario.network.duplicate_probability == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_per_policy() {
        let names = |p| eventual_checkers(p).iter().map(|c| c.name()).collect::<Vec<_>>();
        assert_eq!(
            names(Policy::Siblings),
            ["convergence", "no_invented_values", "writes_survive", "siblings_antichain"]
        );
        assert_eq!(names(Policy::Lww), ["convergence", "no_invented_values", "writes_survive"]);
    }
}
