//! The eventual KV at scale: thousands of seeds across drop rates 0–50 %, duplicates, partitions
//! and crashes, for both conflict policies, with anti-entropy on — every run converges and keeps
//! every write (or, under LWW, supersedes it). And delivery order does not matter: the same
//! writes reconciled under different latencies and loss end in the same state.

use std::collections::BTreeMap;

use dsim::harness::{self, Options, Outcome};
use dsim::metrics::MetricValue;
use dsim::scenario::Scenario;
use dsim::trace::{Event, Record, TraceReader};

const DEFAULT: (&str, &str) = ("sims/eventual.toml", include_str!("../sims/eventual.toml"));
const PARTITION: (&str, &str) =
    ("sims/eventual_partition.toml", include_str!("../sims/eventual_partition.toml"));

fn scenario(file: (&str, &str), seed: u64, sets: &[String]) -> Scenario {
    let mut s = Scenario::from_str(file.0, file.1, sets).expect("scenario loads");
    s.seed = seed;
    s
}

fn metric(o: &Outcome, name: &str) -> MetricValue {
    o.metrics.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).unwrap_or(MetricValue::Missing)
}

/// Runs every (settings, seed) pair on two threads and asserts each converged cleanly.
fn all_converge(file: (&str, &str), settings: &[Vec<String>], seeds: u64) -> usize {
    let jobs: Vec<(usize, u64)> =
        (0..settings.len()).flat_map(|i| (1..=seeds).map(move |s| (i, s))).collect();
    let (a, b) = jobs.split_at(jobs.len() / 2);
    let work = |part: &[(usize, u64)]| {
        for (i, seed) in part {
            let s = scenario(file, *seed, &settings[*i]);
            let o = harness::run(&s, Options::default()).expect("runs");
            let label = format!("{} {:?} seed {seed}", file.0, settings[*i]);
            assert!(o.ok(), "{label}: {}", o.violations[0]);
            assert_eq!(metric(&o, "converged"), MetricValue::Int(1), "{label}");
            assert_eq!(metric(&o, "writes_not_everywhere"), MetricValue::Int(0), "{label}");
        }
        part.len()
    };
    std::thread::scope(|scope| {
        let left = scope.spawn(|| work(a));
        work(b) + left.join().expect("worker")
    })
}

fn grid(policies: &[&str], drops: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for p in policies {
        for d in drops {
            out.push(vec![format!("eventual.policy={p}"), format!("network.drop_probability={d}")]);
        }
    }
    out
}

/// Reference: Dynamo (DeCandia et al., SOSP 2007) §4.4 and §4.7 — versions reconciled by vector
/// clocks and anti-entropy converge once the network heals.
#[test]
fn both_policies_converge_across_drop_rates_on_1600_seeds() {
    let settings = grid(&["siblings", "lww"], &["0", "0.1", "0.3", "0.5"]);
    assert_eq!(all_converge(DEFAULT, &settings, 200), 1_600);
}

#[test]
fn both_policies_converge_after_partitions_and_crashes_on_600_seeds() {
    let settings = grid(&["siblings", "lww"], &["0.05", "0.3"]);
    assert_eq!(all_converge(PARTITION, &settings, 150), 600);
}

/// Every node's final versions per key, from the `final` rows of a trace.
fn final_state(s: &Scenario) -> BTreeMap<(String, u64), String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let o = harness::run(s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    assert!(o.ok(), "{:?}", o.violations);
    TraceReader::open(&path)
        .unwrap()
        .map(|r| r.unwrap())
        .filter(|r: &Record| r.event == Event::Final && r.key.is_some())
        .map(|r| ((r.node.unwrap().to_string(), r.key.unwrap()), format!("{} {:?}", r.value, r.clock)))
        .collect()
}

/// Writes made while every node is isolated do not depend on the network; after the heal,
/// anti-entropy reconciles them in whatever order latency and loss produce. The end state must
/// not depend on that order.
#[test]
fn final_state_does_not_depend_on_delivery_order() {
    for policy in ["siblings", "lww"] {
        let isolated = |latency: &str, drop: &str| {
            let sets = vec![
                format!("eventual.policy={policy}"),
                "faults=[{action='partition', at_ms=0, groups=[['n0'],['n1'],['n2']], heal_after_ms=3000}]"
                    .into(),
                "workload.stop_ms=3000".into(),
                format!("network.latency={latency}"),
                format!("network.drop_probability={drop}"),
            ];
            final_state(&scenario(DEFAULT, 5, &sets))
        };
        let a = isolated("{dist='constant', us=1000}", "0");
        let b = isolated("{dist='exponential', min_us=100, mean_us=20000}", "0.3");
        let c = isolated("{dist='uniform', min_us=1, max_us=50000}", "0.5");
        assert!(a.len() >= 3 * 4, "{policy}: {} final rows", a.len());
        assert_eq!(a, b, "{policy}: constant vs exponential latency");
        assert_eq!(a, c, "{policy}: constant vs uniform latency");
    }
}
