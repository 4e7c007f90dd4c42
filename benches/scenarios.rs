//! Whole scenarios in events per second: the default 5-node Raft steady state (50 commands/s,
//! 2 % loss, no faults) through the harness with checkers and metrics, trace off and CSV trace on
//! (to a temporary file); the same run through the runner alone; and the 3-node eventual KV. The
//! `scaling` groups are `dsim bench --scaling`'s axes at fewer points: each point handles the same
//! number of events, so criterion's elements/s compare across offered load, cluster size and the KV's
//! keys.
//!
//! Run: `cargo bench --bench scenarios` (one group: `cargo bench --bench scenarios -- scaling_nodes`).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dsim::bench::{eventual_scaled, eventual_steady, raft_kernel_only, raft_scaled, raft_steady};
use dsim::harness::{self, Options};
use dsim::scenario::Scenario;

/// Simulated time per run: about 38,000 Raft events.
const DURATION_MS: u64 = 60_000;

fn raft(c: &mut Criterion) {
    let scenario = raft_steady(DURATION_MS).expect("the default Raft scenario");
    let events = raft_kernel_only(&scenario).events;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bench.csv");
    let mut group = c.benchmark_group("raft_5_nodes");
    group.throughput(Throughput::Elements(events));
    group.bench_function("runner_only", |b| b.iter(|| black_box(raft_kernel_only(&scenario))));
    group.bench_function("trace_off", |b| {
        b.iter(|| black_box(harness::run(&scenario, Options::default()).expect("run")))
    });
    group.bench_function("trace_hash_only", |b| {
        b.iter(|| {
            black_box(
                harness::run(&scenario, Options { trace: None, hash: true, history: None }).expect("run"),
            )
        })
    });
    group.bench_function("trace_csv_on", |b| {
        b.iter(|| {
            black_box(
                harness::run(&scenario, Options { trace: Some(&path), hash: false, history: None })
                    .expect("run"),
            )
        })
    });
    group.finish();
}

fn eventual(c: &mut Criterion) {
    let scenario = eventual_steady(DURATION_MS).expect("the default eventual scenario");
    let events = harness::run(&scenario, Options::default()).expect("run").stats.events;
    let mut group = c.benchmark_group("eventual_3_nodes");
    group.throughput(Throughput::Elements(events));
    group.bench_function("trace_off", |b| {
        b.iter(|| black_box(harness::run(&scenario, Options::default()).expect("run")))
    });
    group.finish();
}

/// Events each scaling point handles (the run stops there).
const SCALING_EVENTS: u64 = 50_000;

/// One scaling group: `points` are (x, the scenario at x), all stopped after [`SCALING_EVENTS`].
fn scaling_group(c: &mut Criterion, name: &str, points: Vec<(u64, Scenario)>) {
    let mut group = c.benchmark_group(name);
    group.throughput(Throughput::Elements(SCALING_EVENTS));
    for (x, scenario) in points {
        group.bench_with_input(BenchmarkId::from_parameter(x), &scenario, |b, s| {
            b.iter(|| black_box(harness::run(s, Options::default()).expect("run")))
        });
    }
    group.finish();
}

fn scaling(c: &mut Criterion) {
    let raft = |sets: Vec<String>| raft_scaled(SCALING_EVENTS, &sets).expect("a scaled Raft scenario");
    let loads = [1_000, 10_000, 50_000].map(|l| (l, raft(vec![format!("workload.rate_per_s={l}")])));
    scaling_group(c, "scaling_load_per_s", loads.into());
    let sizes = [3u32, 5, 9, 51]
        .map(|n| (u64::from(n), raft(vec!["workload.rate_per_s=1000".to_owned(), format!("nodes={n}")])));
    scaling_group(c, "scaling_nodes", sizes.into());
    let keys = [5u64, 500].map(|k| {
        let sets = [format!("workload.keys={k}")];
        (k, eventual_scaled(SCALING_EVENTS, &sets).expect("a scaled eventual scenario"))
    });
    scaling_group(c, "scaling_kv_keys", keys.into());
}

criterion_group! {
    name = scenarios;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = raft, eventual, scaling
}
criterion_main!(scenarios);
