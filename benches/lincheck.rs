//! Time to decide generated linearizable histories (`dsim::lin`): 10^3, 10^4 and 10^5 ops on one
//! key with 5 and 10 concurrent processes, and on 16 keys with 20; 1 % of ops end `info`. The
//! histories come from a seeded ChaCha stream simulating a correct register (`lin::generate`), so
//! every run decides the same histories. Generation is outside the timed loop.
//!
//! Run: `cargo bench --bench lincheck` (throughput is in ops decided per second).

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dsim::bench::{lin_check, lin_history};

/// (keys, processes) shapes.
pub const SHAPES: [(u32, u32); 3] = [(1, 5), (1, 10), (16, 20)];

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("lincheck");
    for ops in [1_000usize, 10_000, 100_000] {
        group.throughput(Throughput::Elements(ops as u64));
        for (keys, processes) in SHAPES {
            let history = lin_history(ops, keys, processes, 1);
            let name = format!("{keys}key_{processes}proc");
            group.bench_with_input(BenchmarkId::new(name, ops), &history, |b, h| {
                b.iter(|| black_box(lin_check(h)))
            });
        }
    }
    group.finish();
}

criterion_group! {
    name = lincheck;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = decide
}
criterion_main!(lincheck);
