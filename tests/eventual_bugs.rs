//! Mutation tests of the eventual KV's checkers: each deliberately broken model (`eventual.bug`) is
//! caught by a named checker within a fixed seed budget, and the correct model stays clean on the
//! same scenarios. Also: contexts make blind writes siblings, and session guarantees are measured.
//!
//! A larger by-hand sweep: `DSIM_EC_SEEDS=2000 cargo test --release --test eventual_bugs -- --nocapture`.

use dsim::harness::{self, Options, Outcome};
use dsim::metrics::MetricValue;
use dsim::scenario::Scenario;

const DEFAULT: &str = include_str!("../sims/eventual.toml");
const QUORUM: &str = include_str!("../sims/eventual_quorum.toml");

/// Seeds each mutation gets to be caught in.
const BUDGET: u64 = 20;

fn scenario(text: &str, seed: u64, sets: &[&str]) -> Scenario {
    let mut overrides: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    overrides.push(format!("seed={seed}"));
    Scenario::from_str("test", text, &overrides).expect("scenario")
}

fn run(s: &Scenario) -> Outcome {
    harness::run(s, Options::default()).expect("run")
}

fn metric(o: &Outcome, name: &str) -> MetricValue {
    o.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or_else(|| panic!("no metric {name}"))
}

/// The first seed in `1..=BUDGET` where `checker` reports a violation.
fn first_caught(text: &str, sets: &[&str], checker: &str) -> Option<u64> {
    (1..=BUDGET)
        .find(|seed| run(&scenario(text, *seed, sets)).violations.iter().any(|v| v.property == checker))
}

/// Seeds for the correct model: `DSIM_EC_SEEDS` (a by-hand sweep) or a small budget.
fn clean_seeds() -> u64 {
    std::env::var("DSIM_EC_SEEDS").ok().and_then(|s| s.parse().ok()).unwrap_or(10)
}

#[test]
fn correct_model_is_clean_on_the_mutation_scenarios() {
    let n = clean_seeds();
    for seed in 1..=n {
        for (label, text, sets) in [
            ("quorum", QUORUM, &[][..]),
            ("quorum sticky", QUORUM, &["clients.roaming=false"][..]),
            ("quorum lww", QUORUM, &["eventual.policy=\"lww\""][..]),
            ("default", DEFAULT, &[][..]),
        ] {
            let o = run(&scenario(text, seed, sets));
            assert!(o.ok(), "{label} seed {seed}: {:?}", o.violations);
        }
    }
    eprintln!("correct model clean on {n} seeds x 4 scenarios");
}

#[test]
fn strict_quorum_reads_is_installed_only_for_strict_quorums_without_faults() {
    let names = |s: &Scenario| harness::checkers(s).iter().map(|c| c.name()).collect::<Vec<_>>();
    assert!(names(&scenario(QUORUM, 1, &[])).contains(&"strict_quorum_reads"));
    assert!(!names(&scenario(QUORUM, 1, &["eventual.read_quorum=1"])).contains(&"strict_quorum_reads"));
    assert!(!names(&scenario(QUORUM, 1, &["network.drop_probability=0.1"])).contains(&"strict_quorum_reads"));
}

#[test]
fn ack_before_quorum_is_caught_by_strict_quorum_reads() {
    let seed = first_caught(QUORUM, &["eventual.bug=\"ack_before_quorum\""], "strict_quorum_reads");
    eprintln!("ack_before_quorum: strict_quorum_reads, first seed {seed:?}");
    assert!(seed.is_some(), "not caught in {BUDGET} seeds");
}

#[test]
fn read_repair_older_is_caught_by_strict_quorum_reads() {
    let seed = first_caught(QUORUM, &["eventual.bug=\"read_repair_older\""], "strict_quorum_reads");
    eprintln!("read_repair_older: strict_quorum_reads, first seed {seed:?}");
    assert!(seed.is_some(), "not caught in {BUDGET} seeds");
}

#[test]
fn any_entry_greater_is_caught_by_writes_survive() {
    let seed = first_caught(DEFAULT, &["eventual.bug=\"any_entry_greater\""], "writes_survive");
    eprintln!("any_entry_greater: writes_survive, first seed {seed:?}");
    assert!(seed.is_some(), "not caught in {BUDGET} seeds");
}

#[test]
fn ae_skip_merge_is_caught_by_convergence() {
    let seed = first_caught(DEFAULT, &["eventual.bug=\"ae_skip_merge\""], "convergence");
    eprintln!("ae_skip_merge: convergence, first seed {seed:?}");
    assert!(seed.is_some(), "not caught in {BUDGET} seeds");
}

/// Roaming clients on W = R = 1 read from replicas that have not heard of their writes yet;
/// strict quorums (R + W > N) give read-your-writes back. (Not monotonic reads: a read may return
/// a write that is still on fewer than W replicas, which the next read's quorum can miss.)
#[test]
fn session_guarantees_are_measured_and_strict_quorums_restore_them() {
    let weak = ["eventual.write_quorum=1", "eventual.read_quorum=1", "eventual.read_repair=false"];
    let (mut ryw, mut mr) = (0.0, 0.0);
    for seed in 1..=3 {
        let o = run(&scenario(QUORUM, seed, &weak));
        ryw += metric(&o, "ryw_violation_fraction").as_f64().expect("reads after own writes");
        mr += metric(&o, "monotonic_reads_violation_fraction").as_f64().expect("repeated reads");
        let strict = run(&scenario(QUORUM, seed, &[]));
        assert_eq!(metric(&strict, "ryw_violation_fraction"), MetricValue::Float(0.0), "seed {seed}");
        eprintln!(
            "seed {seed}: strict monotonic_reads {:?}",
            metric(&strict, "monotonic_reads_violation_fraction")
        );
    }
    assert!(ryw > 0.0 && mr > 0.0, "roaming W = R = 1 clients must see session violations: {ryw} {mr}");
}
