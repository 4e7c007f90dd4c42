//! Whole scenarios in events per second: the default 5-node Raft steady state (50 commands/s,
//! 2 % loss, no faults) through the harness with checkers and metrics, trace off and CSV trace on
//! (to a temporary file); the same run through the runner alone; and the 3-node eventual KV.
//!
//! Run: `cargo bench --bench scenarios`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use dsim::bench::{eventual_steady, raft_kernel_only, raft_steady};
use dsim::harness::{self, Options};

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
        b.iter(|| black_box(harness::run(&scenario, Options { trace: None, hash: true, history: None }).expect("run")))
    });
    group.bench_function("trace_csv_on", |b| {
        b.iter(|| {
            black_box(harness::run(&scenario, Options { trace: Some(&path), hash: false, history: None }).expect("run"))
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

criterion_group! {
    name = scenarios;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    targets = raft, eventual
}
criterion_main!(scenarios);
