//! `dsim bench`: events per second of the kernel and the default scenarios, against the bare
//! binary-heap hold loop measured in the same process.
//!
//! Each figure is the median of `--reps` timed repetitions (after one untimed warm-up) of the same
//! deterministic work. Wall time is read here, at the edge, and never reaches a simulation. The
//! machine is shared: quote medians and the ratio, which is measured pairwise in one process.

use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::bench;
use crate::cli::flag_error;
use crate::harness::{self, Options};

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Timed repetitions of each measurement (the median is printed).
    #[arg(long, default_value_t = 5)]
    pub reps: u32,
    /// Simulated time of each scenario run, in ms (the default Raft scenario makes ~630 events per
    /// simulated second).
    #[arg(long, default_value_t = 600_000)]
    pub duration_ms: u64,
    /// Steps of each hold-model run (pending events: 1,000).
    #[arg(long, default_value_t = 5_000_000)]
    pub hold_steps: u64,
    /// Print one JSON object instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Instead: time to decide generated linearizable histories (10^3..10^5 ops; 1 key with 5 and
    /// 10 processes, 16 keys with 20; 1 % info ops).
    #[arg(long)]
    pub lin: bool,
}

/// One measured line: what, how many events per repetition, and the seconds of each repetition.
struct Figure {
    name: &'static str,
    what: &'static str,
    events: u64,
    seconds: Vec<f64>,
}

impl Figure {
    fn events_per_s(&self) -> f64 {
        self.events as f64 / bench::median(&self.seconds)
    }
}

/// Times `reps` runs of `work` (after one warm-up); `work` returns the events it handled.
fn measure(
    name: &'static str,
    what: &'static str,
    reps: u32,
    mut work: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<Figure> {
    let events = work()?;
    let mut seconds = Vec::with_capacity(reps as usize);
    for _ in 0..reps {
        let started = Instant::now();
        let n = work()?;
        seconds.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(n == events, "{name}: {n} events, then {events}: the run is not deterministic");
    }
    Ok(Figure { name, what, events, seconds })
}

pub fn run(args: BenchArgs) -> anyhow::Result<u8> {
    if !(1..=100).contains(&args.reps) {
        return Err(flag_error("--reps", args.reps.to_string(), "1 to 100").into());
    }
    if !(1_000..=100_000_000).contains(&args.duration_ms) {
        return Err(flag_error("--duration-ms", args.duration_ms.to_string(), "1000 to 100000000").into());
    }
    if !(1_000..=10_000_000_000).contains(&args.hold_steps) {
        return Err(flag_error("--hold-steps", args.hold_steps.to_string(), "1000 to 10000000000").into());
    }
    if args.lin {
        return lin(args.reps, args.json);
    }
    let (reps, steps) = (args.reps, args.hold_steps);
    const PENDING: usize = 1_000;
    let raft = bench::raft_steady(args.duration_ms)?;
    let eventual = bench::eventual_steady(args.duration_ms)?;
    let trace_dir = tempfile::tempdir()?;
    let trace_path = trace_dir.path().join("bench.csv");

    let mut figures = Vec::new();
    // The reference and the kernel queue alternate so that drifting machine speed hits both.
    let (mut bare, mut queue) = (Vec::new(), Vec::new());
    std::hint::black_box(bench::hold_bare_heap(PENDING, steps, 1));
    std::hint::black_box(bench::hold_event_queue(PENDING, steps, 1));
    for _ in 0..reps {
        let t = Instant::now();
        std::hint::black_box(bench::hold_bare_heap(PENDING, steps, 1));
        bare.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        std::hint::black_box(bench::hold_event_queue(PENDING, steps, 1));
        queue.push(t.elapsed().as_secs_f64());
    }
    figures.push(Figure {
        name: "hold_bare_heap",
        what: "hold model N=1000 on BinaryHeap<Reverse<(u64, u64)>> (the limit)",
        events: steps,
        seconds: bare,
    });
    figures.push(Figure {
        name: "hold_event_queue",
        what: "hold model N=1000 through dsim's EventQueue",
        events: steps,
        seconds: queue,
    });
    figures.push(measure(
        "hold_runner",
        "hold model N=1000 through the Runner (relay, no sink)",
        reps,
        || Ok(bench::hold_runner(5, PENDING, steps / 5, 1).events),
    )?);
    figures.push(measure(
        "raft_kernel_only",
        "Raft 5 nodes, runner only (no checkers/metrics)",
        reps,
        || Ok(bench::raft_kernel_only(&raft).events),
    )?);
    figures.push(measure("raft_trace_off", "Raft 5 nodes, checkers + metrics, trace off", reps, || {
        Ok(harness::run(&raft, Options::default())?.stats.events)
    })?);
    figures.push(measure(
        "raft_trace_on",
        "Raft 5 nodes, checkers + metrics, CSV trace to disk",
        reps,
        || {
            Ok(harness::run(&raft, Options { trace: Some(&trace_path), hash: false, history: None })?
                .stats
                .events)
        },
    )?);
    figures.push(measure(
        "eventual_trace_off",
        "eventual KV 3 nodes, checkers + metrics, trace off",
        reps,
        || Ok(harness::run(&eventual, Options::default())?.stats.events),
    )?);

    let rate = |name: &str| figures.iter().find(|f| f.name == name).map_or(f64::NAN, Figure::events_per_s);
    let ratio = rate("hold_event_queue") / rate("hold_bare_heap");
    if args.json {
        let mut out = Map::new();
        for f in &figures {
            out.insert(
                f.name.to_owned(),
                json!({
                    "what": f.what,
                    "events": f.events,
                    "events_per_s": f.events_per_s(),
                    "seconds": f.seconds,
                }),
            );
        }
        out.insert("event_queue_vs_bare_heap".to_owned(), json!(ratio));
        out.insert("reps".to_owned(), json!(reps));
        out.insert("duration_ms".to_owned(), json!(args.duration_ms));
        crate::outln!("{}", Value::Object(out))?;
    } else {
        crate::outln!("{:<20} {:>14} {:>12}  what", "figure", "events/s", "events")?;
        for f in &figures {
            crate::outln!("{:<20} {:>14.0} {:>12}  {}", f.name, f.events_per_s(), f.events, f.what)?;
        }
        crate::outln!("EventQueue / bare heap (hold N=1000): {ratio:.2}")?;
        crate::outln!("(median of {reps} repetitions each; wall clock, shared machine)")?;
    }
    Ok(0)
}

/// `dsim bench --lin`: the median seconds to decide each generated history (after one warm-up).
fn lin(reps: u32, json_out: bool) -> anyhow::Result<u8> {
    let mut rows = Vec::new();
    for ops in [1_000usize, 10_000, 100_000] {
        for (keys, processes) in [(1u32, 5u32), (1, 10), (16, 20)] {
            let history = bench::lin_history(ops, keys, processes, 1);
            let states = bench::lin_check(&history);
            let mut seconds = Vec::with_capacity(reps as usize);
            for _ in 0..reps {
                let started = Instant::now();
                std::hint::black_box(bench::lin_check(&history));
                seconds.push(started.elapsed().as_secs_f64());
            }
            rows.push(json!({
                "ops": ops,
                "keys": keys,
                "processes": processes,
                "states": states,
                "seconds": bench::median(&seconds),
                "ops_per_s": ops as f64 / bench::median(&seconds),
            }));
        }
    }
    if json_out {
        println!("{}", json!({ "lincheck": rows, "reps": reps }));
        return Ok(0);
    }
    println!("{:>8} {:>5} {:>6} {:>10} {:>10} {:>12}", "ops", "keys", "procs", "states", "ms", "ops/s");
    for r in &rows {
        println!(
            "{:>8} {:>5} {:>6} {:>10} {:>10.2} {:>12.0}",
            r["ops"].as_u64().unwrap_or(0),
            r["keys"].as_u64().unwrap_or(0),
            r["processes"].as_u64().unwrap_or(0),
            r["states"].as_u64().unwrap_or(0),
            r["seconds"].as_f64().unwrap_or(f64::NAN) * 1e3,
            r["ops_per_s"].as_f64().unwrap_or(f64::NAN)
        );
    }
    println!(
        "(generated linearizable histories, 1 % info ops, seed 1; median of {reps} repetitions, wall clock)"
    );
    Ok(0)
}
