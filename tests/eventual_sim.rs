//! Simulation tests of the eventually consistent KV: the Dynamo-style design converges under loss,
//! duplication, partitions and crashes with no violation; the textbook model does not.
//!
//! They run through `harness::run`, exactly as `dsim run` does.

use std::collections::BTreeMap;

use dsim::eventual::VClock;
use dsim::harness::{self, Options, Outcome};
use dsim::metrics::MetricValue;
use dsim::scenario::Scenario;
use dsim::sim::NodeId;
use dsim::trace::{Event, Record, TraceReader, Value};

const DEFAULT: &str = include_str!("../sims/eventual.toml");
const PARTITION: &str = include_str!("../sims/eventual_partition.toml");
const SEED: &str = include_str!("../sims/eventual_seed.toml");

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

fn assert_converged(label: &str, o: &Outcome) {
    assert!(o.ok(), "{label}: {:?}", o.violations);
    assert_eq!(metric(o, "converged"), MetricValue::Int(1), "{label}");
    assert!(matches!(metric(o, "writes"), MetricValue::Int(w) if w > 100), "{label}");
    assert_eq!(metric(o, "writes_not_everywhere"), MetricValue::Int(0), "{label}");
}

#[test]
fn dynamo_siblings_converges_under_loss_and_duplication() {
    for seed in 1..=4 {
        let o = run(&scenario(DEFAULT, seed, &[]));
        assert_converged(&format!("seed {seed}"), &o);
        assert_eq!(metric(&o, "lww_writes_lost"), MetricValue::Int(0), "siblings lose nothing");
    }
}

#[test]
fn dynamo_lww_converges_and_counts_its_losers() {
    let mut lost = 0;
    for seed in 1..=4 {
        let o = run(&scenario(DEFAULT, seed, &["eventual.policy=lww"]));
        assert_converged(&format!("lww seed {seed}"), &o);
        assert_eq!(metric(&o, "siblings_max"), MetricValue::Int(1));
        if let MetricValue::Int(n) = metric(&o, "lww_writes_lost") {
            lost += n;
        }
    }
    assert!(lost > 0, "concurrent writes on 5 hot keys must lose some under LWW");
}

#[test]
fn dynamo_converges_after_partition_and_crash_with_quorums() {
    for seed in 1..=3 {
        for policy in ["siblings", "lww"] {
            let o = run(&scenario(PARTITION, seed, &[&format!("eventual.policy={policy}")]));
            assert_converged(&format!("partition {policy} seed {seed}"), &o);
        }
    }
}

/// Without anti-entropy, a dropped replication is repaired only by a later write to the same key;
/// the last write's losses stay. The checker must notice (deterministic seeds, most diverge).
#[test]
fn dynamo_without_anti_entropy_diverges_under_loss() {
    let diverged = (1..=4)
        .filter(|seed| {
            let o = run(&scenario(DEFAULT, *seed, &["eventual.anti_entropy_ms=0"]));
            let failed = o.violations.iter().any(|v| v.property == "convergence");
            assert_eq!(metric(&o, "converged"), MetricValue::Int(u64::from(!failed)), "seed {seed}");
            failed
        })
        .count();
    assert!(diverged >= 2, "{diverged} of 4 seeds diverged");
}

/// The textbook model: "any entry greater" lets concurrent writes overwrite each other by arrival
/// order, and drops are never repaired. Replicas disagree and writes are lost.
#[test]
fn seed_model_diverges_and_loses_writes() {
    let mut diverged = 0;
    for seed in 1..=4 {
        let o = run(&scenario(SEED, seed, &[]));
        let props: Vec<&str> = o.violations.iter().map(|v| v.property).collect();
        // Every cross-node overwrite is unjustified by the clocks, which never merge.
        assert!(props.contains(&"writes_survive"), "seed {seed}: {props:?}");
        assert!(!props.contains(&"no_invented_values"), "seed {seed}: {props:?}");
        if props.contains(&"convergence") {
            diverged += 1;
            assert_eq!(metric(&o, "converged"), MetricValue::Int(0));
        }
    }
    assert!(diverged >= 2, "{diverged} of 4 seeds diverged");
    // Even on a perfect network, concurrent writes alone lose updates.
    let o = run(&scenario(SEED, 1, &["network.drop_probability=0"]));
    assert!(o.violations.iter().any(|v| v.property == "writes_survive"), "{:?}", o.violations);
}

#[test]
fn same_seed_same_trace() {
    let s = scenario(PARTITION, 7, &[]);
    let hash =
        |s: &Scenario| harness::run(s, Options { trace: None, hash: true, history: None }).unwrap().trace_sha256.unwrap();
    assert_eq!(hash(&s), hash(&s));
    assert_ne!(hash(&s), hash(&scenario(PARTITION, 8, &[])));
}

/// The trace alone is enough: replaying `write` and `apply` rows reproduces every node's `final`
/// rows, so outside scripts can recompute convergence and staleness.
#[test]
fn write_and_apply_rows_replay_to_the_final_rows() {
    let dir = tempfile::tempdir().unwrap();
    for (text, sets) in [(PARTITION, &[][..]), (DEFAULT, &["eventual.policy=lww"][..]), (SEED, &[][..])] {
        let path = dir.path().join("t.csv");
        let s = scenario(text, 3, sets);
        harness::run(&s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
        let rows: Vec<Record> = TraceReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
        let mut replay: BTreeMap<(NodeId, u64), (Value, Option<String>)> = BTreeMap::new();
        let mut finals = BTreeMap::new();
        for r in &rows {
            let (Some(node), Some(key)) = (r.node, r.key) else { continue };
            let state = (r.value.clone(), r.clock.as_ref().map(|c| VClock::from_trace(c).to_string()));
            match r.event {
                Event::Write | Event::Apply => {
                    replay.insert((node, key), state);
                }
                Event::Final => {
                    finals.insert((node, key), state);
                }
                _ => {}
            }
        }
        assert!(!finals.is_empty());
        assert_eq!(replay, finals, "{}", s.name);
    }
}
