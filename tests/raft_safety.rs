//! Raft under faults, through the real harness and checkers (Figure 3's properties, one vote per
//! term, commit/apply order, and progress once the faults stop).
//!
//! - The correct protocol passes thousands of seeds of the fault-heavy scenarios.
//! - Each deliberately broken variant is caught within a bounded number of seeds, by the property
//!   it breaks. (The Figure 8 bug needs a scenario of its own: tests/raft_figure8.rs.)

use dsim::harness::{self, Options, Outcome};
use dsim::metrics::MetricValue;
use dsim::raft::Bug;
use dsim::scenario::Scenario;

const CHAOS: (&str, &str) = ("sims/raft_chaos.toml", include_str!("../sims/raft_chaos.toml"));
const FAULTS: (&str, &str) = ("sims/raft_faults.toml", include_str!("../sims/raft_faults.toml"));
const DEFAULT: (&str, &str) = ("sims/raft.toml", include_str!("../sims/raft.toml"));

fn scenario(file: (&str, &str), seed: u64, bug: Bug) -> Scenario {
    let mut s = Scenario::from_str(file.0, file.1, &[]).expect("scenario loads");
    s.seed = seed;
    s.raft.bug = bug;
    s
}

fn run(s: &Scenario) -> Outcome {
    harness::run(s, Options::default()).expect("runs")
}

/// Runs `seeds` on two threads; returns (seed, outcome) in seed order.
fn sweep(file: (&str, &str), seeds: std::ops::RangeInclusive<u64>, bug: Bug) -> Vec<(u64, Outcome)> {
    let seeds: Vec<u64> = seeds.collect();
    let (a, b) = seeds.split_at(seeds.len() / 2);
    let work = |part: &[u64]| -> Vec<(u64, Outcome)> {
        part.iter().map(|seed| (*seed, run(&scenario(file, *seed, bug)))).collect()
    };
    std::thread::scope(|scope| {
        let left = scope.spawn(|| work(a));
        let mut right = work(b);
        let mut all = left.join().expect("worker");
        all.append(&mut right);
        all
    })
}

fn metric(outcome: &Outcome, name: &str) -> Option<f64> {
    outcome.metrics.iter().find(|(n, _)| *n == name).and_then(|(_, v)| MetricValue::as_f64(*v))
}

fn assert_all_clean(file: (&str, &str), seeds: std::ops::RangeInclusive<u64>) -> usize {
    let results = sweep(file, seeds, Bug::None);
    for (seed, outcome) in &results {
        assert!(
            outcome.ok(),
            "{} seed {seed}: {} violations, first: {}\nreplay: dsim run {} --seed {seed}",
            file.0,
            outcome.violations_total,
            outcome.violations[0],
            file.0
        );
        assert!(
            metric(outcome, "commands_committed").unwrap_or(0.0) > 0.0,
            "{} seed {seed}: nothing committed",
            file.0
        );
    }
    results.len()
}

/// Reference: Raft Figure 3 — Election Safety, Leader Append-Only, Log Matching, Leader
/// Completeness, State Machine Safety hold under crashes, partitions, loss and duplication; and
/// the cluster commits again after the chaos stops ([liveness] in the scenario).
#[test]
fn correct_raft_is_safe_and_live_on_1000_chaos_seeds() {
    assert_eq!(assert_all_clean(CHAOS, 1..=1_000), 1_000);
}

#[test]
fn correct_raft_is_safe_and_live_on_1000_fixed_fault_seeds() {
    assert_eq!(assert_all_clean(FAULTS, 1..=1_000), 1_000);
}

/// Runs seeds in order until one is caught; returns (seed, properties that fired).
fn first_caught(file: (&str, &str), bug: Bug, bound: u64) -> Option<(u64, Vec<&'static str>)> {
    (1..=bound).find_map(|seed| {
        let outcome = run(&scenario(file, seed, bug));
        (!outcome.ok()).then(|| {
            let mut props: Vec<&'static str> = outcome.violations.iter().map(|v| v.property).collect();
            props.sort_unstable();
            props.dedup();
            (seed, props)
        })
    })
}

/// Reference: Raft §5.4.1 — without the up-to-date check a stale candidate wins and overwrites
/// committed entries.
#[test]
fn vote_without_log_check_is_caught() {
    let (seed, props) = first_caught(CHAOS, Bug::VoteWithoutLogCheck, 50).expect("caught within 50 seeds");
    assert!(
        props.iter().any(|p| ["leader_completeness", "state_machine_safety", "log_matching"].contains(p)),
        "seed {seed}: {props:?}"
    );
}

/// Reference: Raft §5.2, Figure 2 — `voted_for` must persist; forgetting it lets a node vote
/// twice in a term.
#[test]
fn forget_voted_for_is_caught() {
    let (seed, props) = first_caught(CHAOS, Bug::ForgetVotedFor, 100).expect("caught within 100 seeds");
    assert!(props.contains(&"vote_once"), "seed {seed}: {props:?}");
}

/// The same seed twice gives the same trace bytes; another seed gives other bytes.
#[test]
fn same_seed_same_trace_bytes() {
    let options = Options { trace: None, hash: true, history: None };
    let s = scenario(CHAOS, 9, Bug::None);
    let a = harness::run(&s, options).unwrap().trace_sha256;
    let b = harness::run(&s, options).unwrap().trace_sha256;
    assert!(a.is_some());
    assert_eq!(a, b);
    let c = harness::run(&scenario(CHAOS, 10, Bug::None), options).unwrap().trace_sha256;
    assert_ne!(a, c);
}

/// A single-node cluster elects itself and commits on its own.
#[test]
fn single_node_cluster_commits() {
    let mut s = scenario(DEFAULT, 1, Bug::None);
    s.nodes = 1;
    s.duration_ms = 2_000;
    let outcome = run(&s);
    assert!(outcome.ok(), "{:?}", outcome.violations);
    assert_eq!(metric(&outcome, "leader_elections"), Some(1.0));
    assert!(metric(&outcome, "commands_committed").unwrap() > 50.0);
}

/// Changing only the drop probability leaves every election-timeout draw unchanged: the k-th
/// draw of each node is the same (runs differ in how many draws they make, not in their values).
#[test]
fn drop_probability_leaves_election_timeout_draws_unchanged() {
    use dsim::harness::{Model, RaftModel};
    use dsim::sim::runner::Runner;
    use dsim::workload::OpenLoop;
    let draws = |drop: &str| {
        let s = Scenario::from_str(CHAOS.0, CHAOS.1, &[format!("network.drop_probability={drop}")]).unwrap();
        let workload = OpenLoop::new(&s.workload, s.nodes, s.end());
        let mut runner = Runner::new(s.kernel(), RaftModel::nodes(&s), workload, ());
        runner.record_timer_draws();
        runner.run();
        runner.timer_draws().unwrap().to_vec()
    };
    let (a, b) = (draws("0.0"), draws("0.4"));
    for (node, (x, y)) in a.iter().zip(&b).enumerate() {
        let n = x.len().min(y.len());
        assert!(n >= 5, "n{node}: only {n} draws");
        assert_eq!(x[..n], y[..n], "n{node}");
        assert!(x.iter().all(|d| (150_000..=300_000).contains(d)), "draws outside [150, 300] ms");
    }
}
