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
    /// Instead: the scaling benchmarks of the default Raft scenario with every checker and metric
    /// (trace off): events/s against offered load (1k..100k commands/s), cluster size (3..201
    /// nodes) and run length (10^5 events up to --length-max), and the default eventual KV scenario
    /// against keys (5..5000) and replicas (3..17), each beside the bare heap.
    #[arg(long)]
    pub scaling: bool,
    /// Instead: replication throughput (simulated committed commands/s, every checker on) of
    /// stop-and-wait vs pipelined windows of 8 and 32 on sims/raft_throughput.toml at 10 ms
    /// one-way latency and 2000 writes/s offered, for --duration-ms (at most 60000 here).
    #[arg(long)]
    pub replication: bool,
    /// With --scaling: events handled at each load and cluster-size point.
    #[arg(long, default_value_t = 200_000)]
    pub scale_events: u64,
    /// With --scaling: the longest run-length point, in events (powers of ten from 10^5).
    #[arg(long, default_value_t = 10_000_000)]
    pub length_max: u64,
    /// Instead: peak resident memory (VmHWM) of the default Raft scenario with every checker and
    /// metric live, at 10^6 events and every power of ten up to --memory-max, with the trace off
    /// and with the CSV trace written to a file; each point runs in a child process of this binary
    /// so peaks do not mix. Linux only (/proc/self/status).
    #[arg(long)]
    pub memory: bool,
    /// With --memory: the longest point, in events (a power of ten from 10^6).
    #[arg(long, default_value_t = 100_000_000)]
    pub memory_max: u64,
    /// With --memory: override a field of the measured scenario (KEY=VALUE, repeatable), e.g.
    /// raft.snapshot_every=10000.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// The child of --memory: run one point of this many events and print its JSON line.
    #[arg(long, hide = true)]
    pub memory_point: Option<u64>,
    /// The child of --memory: write the CSV trace here.
    #[arg(long, hide = true)]
    pub memory_trace: Option<std::path::PathBuf>,
}

/// One measured line: what, how many events per repetition, the seconds of each repetition, and
/// the seconds of the bare-heap hold loop timed right before each of them.
struct Figure {
    name: &'static str,
    what: &'static str,
    events: u64,
    seconds: Vec<f64>,
    /// Steps of each paired bare-heap repetition, and its seconds (one per repetition).
    bare_steps: u64,
    bare_seconds: Vec<f64>,
}

impl Figure {
    fn events_per_s(&self) -> f64 {
        self.events as f64 / bench::median(&self.seconds)
    }

    /// The median over repetitions of this figure's events/s over the bare heap's in the paired
    /// repetition just before it: a machine that drifts between figures moves both halves of a
    /// pair alike.
    fn vs_bare_heap(&self) -> f64 {
        let ratios: Vec<f64> = self
            .seconds
            .iter()
            .zip(&self.bare_seconds)
            .map(|(s, b)| (self.events as f64 / s) / (self.bare_steps as f64 / b))
            .collect();
        if ratios.is_empty() {
            f64::NAN
        } else {
            bench::median(&ratios)
        }
    }

    /// The bare heap's median events/s over this figure's paired repetitions.
    fn bare_events_per_s(&self) -> f64 {
        self.bare_steps as f64 / bench::median(&self.bare_seconds)
    }
}

/// The pending events of the hold loops.
const PENDING: usize = 1_000;

/// Steps of the bare-heap run paired with each repetition: a fifth of `--hold-steps` (1,000 at
/// least), long enough to time, short enough not to double the bench.
fn pair_steps(hold_steps: u64) -> u64 {
    (hold_steps / 5).max(1_000)
}

/// Times `reps` runs of `work` (after one warm-up); `work` returns the events it handled. Before
/// each timed run, the bare-heap hold loop runs `bare_steps` steps, timed, for the paired ratio.
fn measure(
    name: &'static str,
    what: &'static str,
    reps: u32,
    bare_steps: u64,
    mut work: impl FnMut() -> anyhow::Result<u64>,
) -> anyhow::Result<Figure> {
    let events = work()?;
    let (mut seconds, mut bare_seconds) =
        (Vec::with_capacity(reps as usize), Vec::with_capacity(reps as usize));
    for _ in 0..reps {
        let started = Instant::now();
        std::hint::black_box(bench::hold_bare_heap(PENDING, bare_steps, 1));
        bare_seconds.push(started.elapsed().as_secs_f64());
        let started = Instant::now();
        let n = work()?;
        seconds.push(started.elapsed().as_secs_f64());
        anyhow::ensure!(n == events, "{name}: {n} events, then {events}: the run is not deterministic");
    }
    Ok(Figure { name, what, events, seconds, bare_steps, bare_seconds })
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
    if let Some(events) = args.memory_point {
        return memory_point(events, &args.set, args.memory_trace.as_deref());
    }
    if args.memory {
        return memory(&args);
    }
    if args.lin {
        return lin(args.reps, args.json);
    }
    if args.replication {
        return replication(args.duration_ms.min(60_000), args.json);
    }
    if args.scaling {
        if !(1_000..=100_000_000).contains(&args.scale_events) {
            return Err(
                flag_error("--scale-events", args.scale_events.to_string(), "1000 to 100000000").into()
            );
        }
        if !(100_000..=1_000_000_000).contains(&args.length_max) {
            return Err(
                flag_error("--length-max", args.length_max.to_string(), "100000 to 1000000000").into()
            );
        }
        return scaling(&args);
    }
    let (reps, steps) = (args.reps, args.hold_steps);
    let pair = pair_steps(steps);
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
        seconds: bare.clone(),
        bare_steps: steps,
        bare_seconds: bare.clone(),
    });
    figures.push(Figure {
        name: "hold_event_queue",
        what: "hold model N=1000 through dsim's EventQueue",
        events: steps,
        seconds: queue,
        bare_steps: steps,
        bare_seconds: bare,
    });
    figures.push(measure(
        "hold_runner",
        "hold model N=1000 through the Runner (relay, no sink)",
        reps,
        pair,
        || Ok(bench::hold_runner(5, PENDING, steps / 5, 1).events),
    )?);
    figures.push(measure(
        "raft_kernel_only",
        "Raft 5 nodes, runner only (no checkers/metrics)",
        reps,
        pair,
        || Ok(bench::raft_kernel_only(&raft).events),
    )?);
    figures.push(measure(
        "raft_trace_off",
        "Raft 5 nodes, checkers + metrics, trace off",
        reps,
        pair,
        || Ok(harness::run(&raft, Options::default())?.stats.events),
    )?);
    figures.push(measure(
        "raft_trace_on",
        "Raft 5 nodes, checkers + metrics, CSV trace to disk",
        reps,
        pair,
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
        pair,
        || Ok(harness::run(&eventual, Options::default())?.stats.events),
    )?);

    let ratio = figures.iter().find(|f| f.name == "hold_event_queue").map_or(f64::NAN, Figure::vs_bare_heap);
    if args.json {
        let mut out = Map::new();
        for f in &figures {
            out.insert(
                f.name.to_owned(),
                json!({
                    "what": f.what,
                    "events": f.events,
                    "events_per_s": f.events_per_s(),
                    "vs_bare_heap": f.vs_bare_heap(),
                    "bare_heap_events_per_s": f.bare_events_per_s(),
                    "seconds": f.seconds,
                    "bare_heap_seconds": f.bare_seconds,
                    "bare_heap_steps": f.bare_steps,
                }),
            );
        }
        out.insert("event_queue_vs_bare_heap".to_owned(), json!(ratio));
        out.insert("reps".to_owned(), json!(reps));
        out.insert("duration_ms".to_owned(), json!(args.duration_ms));
        crate::outln!("{}", Value::Object(out))?;
    } else {
        crate::outln!("{:<20} {:>14} {:>12} {:>8}  what", "figure", "events/s", "events", "vs_heap")?;
        for f in &figures {
            crate::outln!(
                "{:<20} {:>14.0} {:>12} {:>8.3}  {}",
                f.name,
                f.events_per_s(),
                f.events,
                f.vs_bare_heap(),
                f.what
            )?;
        }
        crate::outln!("EventQueue / bare heap (hold N=1000): {ratio:.2}")?;
        crate::outln!(
            "(median of {reps} repetitions each; vs_heap: median of each repetition over a bare-heap run of {pair} steps timed just before it; wall clock, shared machine)"
        )?;
    }
    Ok(0)
}

/// The smallest `--memory` point, in events.
const MEMORY_MIN_EVENTS: u64 = 1_000_000;

/// The peak resident set size of this process so far (`VmHWM`), in KiB.
fn vm_hwm_kib() -> anyhow::Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| {
        anyhow::anyhow!("dsim bench --memory: cannot read /proc/self/status ({e}); Linux only")
    })?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| anyhow::anyhow!("dsim bench --memory: no VmHWM line in /proc/self/status"))
}

/// One `--memory` point, in the child: runs the scenario for `events` events and prints one JSON
/// line (events, peak RSS, wall seconds, violations). Exits 1 if a checker fired.
fn memory_point(events: u64, set: &[String], trace: Option<&std::path::Path>) -> anyhow::Result<u8> {
    let scenario = bench::raft_memory(events, set)?;
    let started = Instant::now();
    let outcome = harness::run(&scenario, Options { trace, hash: false, history: None })?;
    let wall_s = started.elapsed().as_secs_f64();
    let line = json!({
        "events": outcome.stats.events,
        "simulated_s": outcome.stats.end_time.as_us() as f64 / 1e6,
        "committed": outcome.metrics.iter().find(|(k, _)| *k == "commands_committed").and_then(|(_, v)| v.as_f64()),
        "peak_rss_kib": vm_hwm_kib()?,
        "wall_s": wall_s,
        "violations": outcome.violations_total,
    });
    crate::outln!("{line}")?;
    Ok(if outcome.ok() { 0 } else { 1 })
}

/// How flat a series of peak RSS figures (MiB, in event order) is, against issue 15's targets: the
/// largest under 100 MiB, every point within ±10 % of the middle of the range.
fn memory_spread(rss: &[f64]) -> Option<String> {
    let (first, last) = (*rss.first()?, *rss.last()?);
    let min = rss.iter().copied().fold(f64::INFINITY, f64::min);
    let max = rss.iter().copied().fold(0.0, f64::max);
    let spread = if max + min > 0.0 { 100.0 * (max - min) / (max + min) } else { 0.0 };
    Some(format!(
        "{first:.1} MiB at the first point, {last:.1} at the last; range {min:.1}–{max:.1} MiB = ±{spread:.1} % \
         (targets: < 100 MiB, ±10 %)"
    ))
}

/// `dsim bench --memory`: each point in a child process of this binary (`--memory-point`).
fn memory(args: &BenchArgs) -> anyhow::Result<u8> {
    let max = args.memory_max;
    let mut valid = MEMORY_MIN_EVENTS;
    while valid < max {
        valid *= 10;
    }
    if max < MEMORY_MIN_EVENTS || valid != max || max > 10_000_000_000 {
        return Err(flag_error(
            "--memory-max",
            max.to_string(),
            "a power of ten from 1000000 to 10000000000",
        )
        .into());
    }
    // Validate the overrides here, once, so a bad one is a one-line error and not a child's.
    bench::raft_memory(MEMORY_MIN_EVENTS, &args.set)?;
    let exe = std::env::current_exe()?;
    let trace_dir = tempfile::tempdir()?;
    let mut points = Vec::new();
    let mut events = MEMORY_MIN_EVENTS;
    while events <= max {
        for with_trace in [false, true] {
            let mut child = std::process::Command::new(&exe);
            child.args(["bench", "--memory-point", &events.to_string()]);
            for set in &args.set {
                child.args(["--set", set]);
            }
            let trace_path = trace_dir.path().join("memory.csv");
            if with_trace {
                child.arg("--memory-trace").arg(&trace_path);
            }
            let out = child.stderr(std::process::Stdio::inherit()).output()?;
            let text = String::from_utf8_lossy(&out.stdout);
            let mut line: Value = serde_json::from_str(text.trim()).map_err(|e| {
                anyhow::anyhow!("dsim bench --memory: the child at {events} events printed {text:?}: {e}")
            })?;
            let trace_bytes = std::fs::metadata(&trace_path).map(|m| m.len()).ok();
            let _ = std::fs::remove_file(&trace_path);
            let _ = std::fs::remove_file(crate::trace::manifest::manifest_path(&trace_path));
            line["trace"] = json!(if with_trace { "csv_file" } else { "off" });
            line["trace_bytes"] = json!(trace_bytes);
            line["exit"] = json!(out.status.code());
            if !args.json {
                eprintln!(
                    "dsim bench --memory: {events} events, trace {}: {} KiB",
                    line["trace"], line["peak_rss_kib"]
                );
            }
            points.push(line);
        }
        events *= 10;
    }
    let violations: u64 = points.iter().filter_map(|p| p["violations"].as_u64()).sum();
    if args.json {
        crate::outln!("{}", json!({ "set": args.set, "points": points }))?;
    } else {
        crate::outln!(
            "{:>12} {:>6} {:>12} {:>10} {:>12} {:>9} {:>10}",
            "events",
            "trace",
            "simulated_s",
            "committed",
            "peak_rss_MiB",
            "wall_s",
            "violations"
        )?;
        for p in &points {
            crate::outln!(
                "{:>12} {:>6} {:>12.0} {:>10} {:>12.1} {:>9.1} {:>10}",
                p["events"].as_u64().unwrap_or(0),
                if p["trace"] == "off" { "off" } else { "csv" },
                p["simulated_s"].as_f64().unwrap_or(f64::NAN),
                p["committed"].as_f64().map_or("-".to_owned(), |c| format!("{c:.0}")),
                p["peak_rss_kib"].as_f64().unwrap_or(f64::NAN) / 1024.0,
                p["wall_s"].as_f64().unwrap_or(f64::NAN),
                p["violations"].as_u64().unwrap_or(0),
            )?;
        }
        crate::outln!(
            "(default Raft scenario, 50 commands/s, every checker and metric live; one child process per point{})",
            if args.set.is_empty() { String::new() } else { format!("; --set {}", args.set.join(" --set ")) }
        )?;
        for trace in ["off", "csv_file"] {
            let rss: Vec<f64> = points
                .iter()
                .filter(|p| p["trace"] == trace)
                .filter_map(|p| p["peak_rss_kib"].as_f64())
                .map(|kib| kib / 1024.0)
                .collect();
            if let Some(line) = memory_spread(&rss) {
                crate::outln!("trace {}: {line}", if trace == "off" { "off" } else { "csv" })?;
            }
        }
    }
    Ok(if violations == 0 { 0 } else { 1 })
}

/// `dsim bench --lin`: the median seconds to decide each generated history (after one warm-up).
/// `--replication`: deterministic (simulated time), so one run per window; exits 1 if any
/// checker fired.
fn replication(duration_ms: u64, json_out: bool) -> anyhow::Result<u8> {
    const LATENCY_US: u64 = 10_000;
    const RATE_PER_S: u64 = 2_000;
    let mut rows = Vec::new();
    for window in [1, 8, 32] {
        rows.push(bench::replication(window, LATENCY_US, RATE_PER_S, duration_ms)?);
    }
    let base = rows[0].committed_per_s.max(f64::MIN_POSITIVE);
    let violations: u64 = rows.iter().map(|r| r.violations).sum();
    if json_out {
        let out: Vec<Value> = rows
            .iter()
            .map(|r| {
                json!({
                    "max_inflight_appends": r.window,
                    "committed": r.committed,
                    "committed_per_s": r.committed_per_s,
                    "speedup": r.committed_per_s / base,
                    "commit_latency_p50_us": r.commit_latency_p50_us,
                    "violations": r.violations,
                })
            })
            .collect();
        crate::outln!("{}", serde_json::to_string_pretty(&json!({ "replication": out }))?)?;
    } else {
        crate::outln!(
            "replication: sims/raft_throughput.toml, 10 ms one way, {RATE_PER_S} writes/s offered, \
             {duration_ms} ms simulated, every checker on"
        )?;
        crate::outln!("  window  committed/s  vs stop-and-wait  commit p50 (ms)  violations")?;
        for r in &rows {
            let p50 = r.commit_latency_p50_us.map_or("-".to_owned(), |us| format!("{:.1}", us as f64 / 1e3));
            crate::outln!(
                "  {:>6}  {:>11.1}  {:>15.1}x  {:>15}  {:>10}",
                r.window,
                r.committed_per_s,
                r.committed_per_s / base,
                p50,
                r.violations
            )?;
        }
    }
    Ok(u8::from(violations > 0))
}

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

/// The offered loads (commands/s), cluster sizes and the run-length axis of `--scaling`.
const LOADS_PER_S: [u64; 6] = [1_000, 5_000, 10_000, 20_000, 50_000, 100_000];
const CLUSTER_SIZES: [u32; 5] = [3, 5, 9, 51, 201];
/// The offered load of the cluster-size points.
const SIZE_LOAD_PER_S: u64 = 1_000;
/// The eventual KV's axes: keys written (3 nodes) and replicas (5 keys), at its default load.
const KV_KEYS: [u64; 4] = [5, 50, 500, 5_000];
const KV_NODES: [u32; 4] = [3, 5, 9, 17];

/// One point of a scaling axis.
struct Point {
    axis: &'static str,
    x: u64,
    nodes: u32,
    figure: Figure,
}

/// `dsim bench --scaling`: each point is the default Raft scenario, every checker and metric,
/// trace off, stopped after a fixed number of events; the bare-heap hold loop is timed in the same
/// process before every repetition, for the paired ratio.
fn scaling(args: &BenchArgs) -> anyhow::Result<u8> {
    let reps = args.reps;
    let pair = pair_steps(args.hold_steps);
    let mut points = Vec::new();
    let mut point = |axis: &'static str, x: u64, events: u64, overrides: Vec<String>| -> anyhow::Result<()> {
        let scenario = if axis.starts_with("kv_") {
            bench::eventual_scaled(events, &overrides)?
        } else {
            bench::raft_scaled(events, &overrides)?
        };
        let nodes = scenario.nodes;
        let figure =
            measure(axis, "", reps, pair, || Ok(harness::run(&scenario, Options::default())?.stats.events))?;
        points.push(Point { axis, x, nodes, figure });
        Ok(())
    };
    for load in LOADS_PER_S {
        point("load_per_s", load, args.scale_events, vec![format!("workload.rate_per_s={load}")])?;
    }
    for nodes in CLUSTER_SIZES {
        let overrides = vec![format!("workload.rate_per_s={SIZE_LOAD_PER_S}"), format!("nodes={nodes}")];
        point("nodes", u64::from(nodes), args.scale_events, overrides)?;
    }
    let mut length = 100_000;
    while length <= args.length_max {
        point("events", length, length, Vec::new())?;
        length *= 10;
    }
    for keys in KV_KEYS {
        point("kv_keys", keys, args.scale_events, vec![format!("workload.keys={keys}")])?;
    }
    for nodes in KV_NODES {
        point("kv_nodes", u64::from(nodes), args.scale_events, vec![format!("nodes={nodes}")])?;
    }
    let bare_rates: Vec<f64> = points
        .iter()
        .flat_map(|p| p.figure.bare_seconds.iter().map(|s| p.figure.bare_steps as f64 / s))
        .collect();
    let bare = bench::median(&bare_rates);

    let row = |p: &Point| {
        let rate = p.figure.events_per_s();
        let ns = 1e9 / rate;
        (rate, ns, ns / f64::from(p.nodes), p.figure.vs_bare_heap())
    };
    if args.json {
        let list: Vec<Value> = points
            .iter()
            .map(|p| {
                let (rate, ns, ns_node, ratio) = row(p);
                json!({
                    "axis": p.axis, "x": p.x, "nodes": p.nodes, "events": p.figure.events,
                    "events_per_s": rate, "ns_per_event": ns, "ns_per_event_per_node": ns_node,
                    "vs_bare_heap": ratio, "seconds": p.figure.seconds,
                    "bare_heap_events_per_s": p.figure.bare_events_per_s(),
                    "bare_heap_seconds": p.figure.bare_seconds,
                })
            })
            .collect();
        let out = json!({
            "bare_heap_events_per_s": bare,
            "bare_heap_steps": pair,
            "reps": reps,
            "points": list,
        });
        crate::outln!("{out}")?;
    } else {
        crate::outln!(
            "{:<11} {:>10} {:>6} {:>10} {:>12} {:>9} {:>10} {:>8}",
            "axis",
            "x",
            "nodes",
            "events",
            "events/s",
            "ns/event",
            "ns/ev/node",
            "vs_heap"
        )?;
        for p in &points {
            let (rate, ns, ns_node, ratio) = row(p);
            crate::outln!(
                "{:<11} {:>10} {:>6} {:>10} {:>12.0} {:>9.0} {:>10.1} {:>8.4}",
                p.axis,
                p.x,
                p.nodes,
                p.figure.events,
                rate,
                ns,
                ns_node,
                ratio
            )?;
        }
        crate::outln!(
            "bare heap (hold N=1000): {bare:.0} events/s (median of the runs of {pair} steps paired with every repetition; vs_heap is the median of each repetition's ratio to its pair)"
        )?;
        crate::outln!(
            "(default Raft scenario, kv_*: default eventual KV scenario writing throughout; every checker and metric, trace off; median of {reps} repetitions)"
        )?;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::{memory_spread, Figure};

    #[test]
    fn the_ratio_pairs_each_repetition_with_its_own_bare_run() {
        // Rep 1: 100 events in 1 s against 1,000 steps in 1 s (0.1); rep 2: the machine ran at half
        // speed for both halves (still 0.1); rep 3: an outlier (0.4). Medians of the rates alone
        // would read 100/1 over 1000/1; the pairs read 0.1.
        let f = Figure {
            name: "x",
            what: "",
            events: 100,
            seconds: vec![1.0, 2.0, 0.5],
            bare_steps: 1_000,
            bare_seconds: vec![1.0, 2.0, 2.0],
        };
        assert!((f.vs_bare_heap() - 0.1).abs() < 1e-12, "{}", f.vs_bare_heap());
        assert!((f.bare_events_per_s() - 500.0).abs() < 1e-9);
        let empty = Figure { seconds: vec![], bare_seconds: vec![], ..f };
        assert!(empty.vs_bare_heap().is_nan());
    }

    #[test]
    fn memory_spread_is_half_the_range_over_its_middle() {
        assert_eq!(memory_spread(&[]), None);
        let line = memory_spread(&[90.0, 110.0, 100.0]).unwrap();
        assert!(line.contains("90.0 MiB at the first point, 100.0 at the last"), "{line}");
        assert!(line.contains("range 90.0–110.0 MiB = ±10.0 %"), "{line}");
        assert!(memory_spread(&[50.0]).unwrap().contains("±0.0 %"));
    }
}
