//! The kernel against the physical limit: the hold model (pop the earliest of N pending events,
//! schedule one at now + a random increment from the run's ChaCha stream) on a bare
//! `BinaryHeap<Reverse<(u64, u64)>>`, through dsim's `EventQueue`, and through the whole `Runner`
//! (a relay protocol: network draws, send/deliver rows to a discarding sink); then the cost of
//! re-arming and of cancelling + re-arming timers in a loaded queue.
//!
//! Run: `cargo bench --bench kernel` (throughput is in events per second; compare the three hold
//! lines of one N).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dsim::bench::{hold_bare_heap, hold_event_queue, hold_runner, timer_rearm};

const STEPS: u64 = 200_000;

fn hold(c: &mut Criterion) {
    let mut group = c.benchmark_group("hold");
    group.throughput(Throughput::Elements(STEPS));
    for n in [16usize, 1_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("bare_binary_heap", n), &n, |b, &n| {
            b.iter(|| black_box(hold_bare_heap(n, STEPS, 1)))
        });
        group.bench_with_input(BenchmarkId::new("event_queue", n), &n, |b, &n| {
            b.iter(|| black_box(hold_event_queue(n, STEPS, 1)))
        });
        group.bench_with_input(BenchmarkId::new("runner_relay", n), &n, |b, &n| {
            b.iter(|| black_box(hold_runner(5, n.max(5), STEPS, 1)))
        });
    }
    group.finish();
}

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timer_reset");
    group.throughput(Throughput::Elements(STEPS));
    for (name, cancel) in [("rearm", false), ("cancel_rearm", true)] {
        group.bench_function(BenchmarkId::new(name, "1000 pending, 64 timers"), |b| {
            b.iter(|| black_box(timer_rearm(1_000, 64, STEPS, cancel, 1)))
        });
    }
    group.finish();
}

criterion_group! {
    name = kernel;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = hold, timers
}
criterion_main!(kernel);
