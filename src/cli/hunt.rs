//! `dsim hunt [BASE]`: swarm testing — every seed draws its own scenario from BASE (default: the
//! embedded `sims/raft_clients.toml`), runs it, and every failing seed is written to
//! `--out DIR/failures/seed-N.toml` with the `dsim run` command that reproduces it (docs/hunt.md).
//!
//! `--seeds N` alone runs as a sweep of one grid point (resumable, shardable, mergeable like
//! `dsim sweep`); `--time` or `--stop-after` issue seeds in rounds until the budget is spent.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::cli::sweep::{parse_jobs, ShardArgs};
use crate::cli::{flag_error, EXIT_VIOLATION};
use crate::error::Result;
use crate::hunt::{self, hunt_run, Summary};
use crate::scenario::{embedded, Scenario};
use crate::sweep::grid::{Job, Shard, SEEDS_MAX};
use crate::sweep::output;
use crate::sweep::runner::{self, ExecOptions, Progress, ProgressMode};
use crate::sweep::SweepSpec;

/// The embedded base: Raft with closed-loop clients.
pub const DEFAULT_BASE: &str = "sims/raft_clients.toml";
/// Failures listed on stdout (all are in hunt.json).
const FAILURES_SHOWN: usize = 20;
/// Seeds per round and worker thread when seeds are issued in rounds (`--time`, `--stop-after`).
const ROUND_PER_THREAD: u64 = 16;
/// At most this long with `--time`: 30 days.
const TIME_MAX_S: u64 = 30 * 24 * 3_600;

#[derive(Debug, clap::Args)]
pub struct HuntArgs {
    /// The base scenario (TOML) every seed draws from; default: sims/raft_clients.toml (embedded).
    pub base: Option<PathBuf>,
    /// Run this many seeds (seed-start, seed-start+1, …). The default with --time: no seed cap.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Stop issuing seeds after this much wall time: 90s, 10m, 2h. Runs then depend on how many
    /// seeds finished; the summary lists the seed range covered.
    #[arg(long, value_name = "DURATION")]
    pub time: Option<String>,
    /// The first seed.
    #[arg(long, default_value_t = 1)]
    pub seed_start: u64,
    /// Override a base scenario field for every seed: KEY=VALUE (repeatable), e.g. raft.bug=….
    /// Drawn fields (docs/hunt.md) are then drawn anew.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output directory.
    #[arg(long, default_value = "results/hunt")]
    pub out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Stop issuing seeds once this many runs have failed (the round under way finishes).
    #[arg(long, value_name = "K")]
    pub stop_after: Option<u64>,
    /// Continue an interrupted `--seeds` hunt with the same arguments.
    #[arg(long)]
    pub resume: bool,
}

/// Parses `90`, `90s`, `10m`, `2h` into a duration.
fn parse_time(text: &str) -> Result<Duration> {
    parse_time_flag("--time", text)
}

/// Parses `90`, `90s`, `10m`, `2h` given to `flag` into a duration (at most 30 days).
pub fn parse_time_flag(flag: &str, text: &str) -> Result<Duration> {
    let bad = || flag_error(flag, text, format!("a duration such as 90s, 10m or 2h, at most {TIME_MAX_S}s"));
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let s = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3_600),
        _ => None,
    }
    .filter(|s| (1..=TIME_MAX_S).contains(s))
    .ok_or_else(bad)?;
    Ok(Duration::from_secs(s))
}

/// The base scenario's origin and text, like `dsim run`.
fn base_text(base: Option<&Path>) -> Result<(String, bool, String)> {
    let (origin, is_embedded, text) = base_file(base)?;
    Ok((origin, is_embedded, without_drawn_sections(&text)))
}

/// The base without the sections every draw replaces (`[[faults]]`, `[node.*]`, `[chaos]`), so that
/// a `--set nodes=3` is not refused for a base fault that names `n4` and no seed would run.
/// Text that does not parse is returned as it is, for the scenario parser to report with its line.
fn without_drawn_sections(text: &str) -> String {
    let Ok(mut tree) = toml::from_str::<toml::Table>(text) else { return text.to_owned() };
    for section in ["faults", "node", "chaos"] {
        tree.remove(section);
    }
    toml::to_string(&tree).unwrap_or_else(|_| text.to_owned())
}

fn base_file(base: Option<&Path>) -> Result<(String, bool, String)> {
    match base {
        Some(path) => match embedded(&path.to_string_lossy()).filter(|_| !path.exists()) {
            Some((origin, text)) => Ok((origin.to_owned(), true, text.to_owned())),
            None => {
                let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
                Ok((path.display().to_string(), false, text))
            }
        },
        None => {
            let (origin, text) = embedded(DEFAULT_BASE).expect("the default base is embedded");
            Ok((origin.to_owned(), true, text.to_owned()))
        }
    }
}

pub fn run(args: HuntArgs) -> anyhow::Result<u8> {
    let threads = parse_jobs(args.jobs)?;
    let time = args.time.as_deref().map(parse_time).transpose()?;
    if time.is_none() && args.seeds.is_none() {
        return Err(flag_error("--seeds", "", "--seeds N or --time DURATION (or both)").into());
    }
    if args.stop_after == Some(0) {
        return Err(flag_error("--stop-after", "0", "an integer of at least 1").into());
    }
    let seeds = args.seeds.unwrap_or(SEEDS_MAX);
    let shard = args.shard.parse()?;
    let (origin, is_embedded, text) = base_text(args.base.as_deref())?;
    let spec = SweepSpec::new(
        &origin,
        is_embedded,
        &text,
        args.set.clone(),
        Vec::new(),
        seeds,
        args.seed_start,
        shard,
    )?;
    for w in spec.scenario.warnings() {
        crate::output::eprint_line(format_args!("dsim: warning: {origin}: {w}"));
    }
    let rounds = time.is_some() || args.stop_after.is_some();
    if rounds && args.resume {
        return Err(
            flag_error("--resume", "", "only for a --seeds hunt without --time or --stop-after").into()
        );
    }
    let summary = if rounds {
        output::refuse_strays(&args.out, &[])?;
        hunt_rounds(&spec, &args, threads, time)?
    } else {
        hunt_sweep(&spec, &args, threads)?
    };
    let path = hunt::write_summary(&args.out, &summary)?;
    report(&summary, &path)?;
    Ok(if summary.failing_runs > 0 { EXIT_VIOLATION } else { 0 })
}

fn summary(
    spec: &SweepSpec,
    args: &HuntArgs,
    runs: u64,
    last: u64,
    wall_s: f64,
    failures: Vec<hunt::Failure>,
) -> Summary {
    Summary {
        format: hunt::FORMAT.to_owned(),
        dsim_version: env!("CARGO_PKG_VERSION").to_owned(),
        base: spec.origin.clone(),
        sets: args.set.clone(),
        runs,
        seed_first: spec.seed_start,
        seed_last: last,
        shard: spec.shard.map(|s| s.to_string()),
        wall_s,
        runs_per_s: if wall_s > 0.0 { runs as f64 / wall_s } else { 0.0 },
        failing_runs: failures.len() as u64,
        by_checker: hunt::by_checker(&failures),
        failures,
    }
}

/// `--seeds N`: a sweep of one grid point whose run draws the scenario first.
fn hunt_sweep(spec: &SweepSpec, args: &HuntArgs, threads: usize) -> Result<Summary> {
    output::inspect(&args.out, &spec.identity(), spec.shard, args.resume)?;
    crate::output::set_interrupt_hint(
        "the finished runs are kept: rerun the same command with --resume to continue the hunt",
    );
    let options = ExecOptions { threads, resume: args.resume, progress: ProgressMode::Auto };
    let result = runner::execute(spec, &args.out, options, &|base: &Scenario| hunt_run(base, &args.set))?;
    let failing: Vec<(u64, String, u64)> =
        result.violations().into_iter().map(|(_, seed, count, first)| (seed, first, count)).collect();
    let failures = hunt::write_failures(&args.out, &spec.scenario, &args.set, &failing)?;
    let last = spec.seed(spec.seeds - 1);
    Ok(summary(spec, args, result.manifest.runs, last, result.manifest.wall_s, failures))
}

/// `--time` / `--stop-after`: rounds of seeds on the sweep's executor until a budget is spent.
fn hunt_rounds(spec: &SweepSpec, args: &HuntArgs, threads: usize, time: Option<Duration>) -> Result<Summary> {
    let started = Instant::now();
    let workers =
        if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let round = ROUND_PER_THREAD * workers as u64;
    let holds = |n: u64| spec.shard.map_or(true, |s: Shard| s.holds(n));
    let total = (0..spec.seeds).filter(|&n| holds(n)).count() as u64;
    let progress = Progress::new(&format!("dsim hunt {}", args.out.display()), total, 0, ProgressMode::Auto);
    let mut failing: Vec<(u64, String, u64)> = Vec::new();
    let (mut runs, mut next) = (0u64, 0u64);
    while next < spec.seeds {
        let end = next.saturating_add(round).min(spec.seeds);
        let jobs: Vec<Job> =
            (next..end).filter(|&n| holds(n)).map(|n| Job { point: 0, seed_number: n }).collect();
        let records = runner::run_parallel(&jobs, threads, |job| {
            let mut base = spec.scenario.clone();
            base.seed = spec.seed(job.seed_number);
            let record = hunt_run(&base, &args.set)?;
            progress.tick();
            Ok((base.seed, record))
        })?;
        runs += records.len() as u64;
        for (seed, r) in records.into_iter().filter(|(_, r)| r.violations > 0) {
            failing.push((seed, r.first_violation, r.violations));
        }
        next = end;
        let over_time = time.is_some_and(|t| started.elapsed() >= t);
        let enough = args.stop_after.is_some_and(|k| failing.len() as u64 >= k);
        if over_time || enough {
            break;
        }
    }
    progress.finish();
    failing.sort();
    std::fs::create_dir_all(&args.out).map_err(|e| crate::error::Error::io(&args.out, e))?;
    let failures = hunt::write_failures(&args.out, &spec.scenario, &args.set, &failing)?;
    let last = spec.seed(next.max(1) - 1);
    Ok(summary(spec, args, runs, last, started.elapsed().as_secs_f64(), failures))
}

fn report(s: &Summary, path: &Path) -> Result<()> {
    let shard = s.shard.as_ref().map_or_else(String::new, |k| format!(" (shard {k})"));
    crate::outln!(
        "dsim hunt: {} runs{shard}, seeds {}..={}, in {:.1} s ({:.1} runs/s); summary {}",
        s.runs,
        s.seed_first,
        s.seed_last,
        s.wall_s,
        s.runs_per_s,
        path.display()
    )?;
    if s.failures.is_empty() {
        crate::outln!("  failures    none")?;
        return Ok(());
    }
    crate::outln!("  failures    {} runs", s.failing_runs)?;
    for (checker, c) in &s.by_checker {
        crate::outln!("    {checker}: {} runs, first seed {}", c.runs, c.first_seed)?;
    }
    crate::outln!("  reproduce with:")?;
    for f in s.failures.iter().take(FAILURES_SHOWN) {
        crate::outln!("    {} ({}): {}", f.checker, f.violations, f.command)?;
        crate::outln!("      shrink: {}", f.shrink)?;
    }
    if s.failures.len() > FAILURES_SHOWN {
        crate::outln!("    … and {} more (see {})", s.failures.len() - FAILURES_SHOWN, path.display())?;
    }
    Ok(())
}

/// The scenario a hunt seed runs (for tests and tools): base + sets, drawn for `seed`.
pub fn drawn(base: Option<&Path>, sets: &[String], seed: u64) -> Result<Scenario> {
    let (origin, _, text) = base_text(base)?;
    hunt::draw_scenario(&Scenario::from_str(&origin, &text, sets)?, sets, seed)
}
