//! `dsim sweep`: a grid of scenario overrides × seeds, run in parallel, written to `--out DIR`.
//!
//! Without SCENARIO and without `--param` it runs the default sweep: both embedded scenarios (Raft
//! and the eventual KV) with `network.drop_probability` from 0 to 0.5 by 0.05, into `DIR/raft/` and
//! `DIR/eventual/`. Everything is checked (parameters, shard, every grid point's scenario, the
//! output directories) before the first run starts, so a bad invocation writes nothing.

use std::path::{Path, PathBuf};

use crate::cli::{flag_error, EXIT_VIOLATION};
use crate::error::Result;
use crate::scenario::{embedded, DEFAULT_EVENTUAL, DEFAULT_RAFT};
use crate::sweep::grid::{Param, Shard, ShardEnv};
use crate::sweep::output::{self, MANIFEST};
use crate::sweep::runner::{self, ExecOptions, ProgressMode, SweepResult};
use crate::sweep::{harness_run, SweepSpec, DEFAULT_PARAM, DEFAULT_SEEDS, DEFAULT_SEED_START};

/// At most this many worker threads.
pub const JOBS_MAX: usize = 1024;
/// Violations listed per sweep (the rest are in runs.csv).
const VIOLATIONS_SHOWN: usize = 20;

#[derive(Debug, clap::Args)]
pub struct SweepArgs {
    /// A scenario file (TOML). Without it and without --param: the default sweep (Raft and the
    /// eventual KV over network.drop_probability=0:0.5:0.05). Without it but with --param: the
    /// embedded Raft scenario.
    pub scenario: Option<PathBuf>,
    /// Override a scenario field for every run: KEY=VALUE (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// A swept field: KEY=V1,V2,… or KEY=a:b:step (repeatable; the grid is the product).
    #[arg(long = "param", value_name = "KEY=V1,V2,…")]
    pub param: Vec<String>,
    /// Seeds per grid point.
    #[arg(long, default_value_t = DEFAULT_SEEDS)]
    pub seeds: u64,
    /// The first seed; run seeds are seed-start, seed-start+1, … at every grid point.
    #[arg(long, default_value_t = DEFAULT_SEED_START)]
    pub seed_start: u64,
    /// Output directory (refused if it holds another sweep's files). Default: results/sweep for
    /// the default sweep; runs/sweep-NAME (NAME: the scenario file's stem, or `raft`) otherwise,
    /// so sweeping another scenario never collides with the committed default sweep.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    #[command(flatten)]
    pub shard: ShardArgs,
    /// Exit 1 (after finishing the grid) if any run violated a checked property.
    #[arg(long)]
    pub check: bool,
    /// Continue an interrupted sweep with the same arguments: finished runs are kept, not redone.
    #[arg(long)]
    pub resume: bool,
}

fn shard_of(args: &SweepArgs) -> Result<Option<Shard>> {
    args.shard.parse()
}

/// `--shard K/N|auto` and `--shard-count N`, shared by `dsim sweep` and `dsim hunt`.
#[derive(Debug, clap::Args)]
pub struct ShardArgs {
    /// Run only the K-th of N slices of the runs: K/N, or `auto` to take it from a Slurm job array
    /// (SLURM_ARRAY_TASK_ID, SLURM_ARRAY_TASK_COUNT) or a Kubernetes Indexed Job (JOB_COMPLETION_INDEX
    /// with --shard-count or DSIM_SHARD_COUNT).
    #[arg(long, value_name = "K/N|auto")]
    pub shard: Option<String>,
    /// The shard count for `--shard auto` under Kubernetes (the Job's completions).
    #[arg(long, value_name = "N")]
    pub shard_count: Option<u64>,
}

impl ShardArgs {
    pub fn parse(&self) -> Result<Option<Shard>> {
        parse_shard(self.shard.as_deref(), self.shard_count)
    }
}

/// `--jobs`: worker threads in [1, JOBS_MAX]; 0 (the default when absent) means one per core.
pub fn parse_jobs(jobs: Option<usize>) -> Result<usize> {
    let threads = jobs.unwrap_or(0);
    if jobs == Some(0) || threads > JOBS_MAX {
        return Err(flag_error("--jobs", threads.to_string(), format!("an integer in [1, {JOBS_MAX}]")));
    }
    Ok(threads)
}

fn parse_shard(shard: Option<&str>, shard_count: Option<u64>) -> Result<Option<Shard>> {
    match shard {
        None => {
            if shard_count.is_some() {
                return Err(flag_error(
                    "--shard-count",
                    shard_count.unwrap_or(0).to_string(),
                    "only with --shard auto",
                ));
            }
            Ok(None)
        }
        Some("auto") => ShardEnv::from_process(shard_count).shard().map(Some),
        Some(text) if shard_count.is_some() => Err(flag_error(
            "--shard-count",
            shard_count.unwrap_or(0).to_string(),
            format!("only with --shard auto (--shard {text} already gives the count)"),
        )),
        Some(text) => Shard::parse(text).map(Some),
    }
}

/// Where the sweep goes without `--out`: the committed default sweep's directory only for the
/// default sweep itself.
fn default_out(args: &SweepArgs) -> PathBuf {
    match &args.scenario {
        None if args.param.is_empty() => PathBuf::from("results/sweep"),
        None => PathBuf::from("runs/sweep-raft"),
        Some(path) => {
            let stem = path.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy());
            PathBuf::from(format!("runs/sweep-{stem}"))
        }
    }
}

fn out_dir(args: &SweepArgs) -> PathBuf {
    args.out.clone().unwrap_or_else(|| default_out(args))
}

/// The sweeps this invocation runs, each with its output directory.
fn plan(args: &SweepArgs) -> Result<Vec<(SweepSpec, PathBuf)>> {
    let out = out_dir(args);
    let params = args.param.iter().map(|p| Param::parse(p)).collect::<Result<Vec<_>>>()?;
    let shard = shard_of(args)?;
    let spec = |origin: &str, embedded: bool, text: &str, params: Vec<Param>| {
        SweepSpec::new(origin, embedded, text, args.set.clone(), params, args.seeds, args.seed_start, shard)
    };
    if let Some(path) = &args.scenario {
        // Like `dsim run`: the scenarios of sims/ are compiled in and answer to their repository
        // paths from any directory (a file on disk by that name wins).
        if let Some((origin, text)) = embedded(&path.to_string_lossy()).filter(|_| !path.exists()) {
            return Ok(vec![(spec(origin, true, text, params)?, out.clone())]);
        }
        let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
        return Ok(vec![(spec(&path.display().to_string(), false, &text, params)?, out.clone())]);
    }
    if !params.is_empty() {
        return Ok(vec![(spec(DEFAULT_RAFT.0, true, DEFAULT_RAFT.1, params)?, out.clone())]);
    }
    let default = Param::parse(DEFAULT_PARAM)?;
    let mut plans = Vec::new();
    for (name, (origin, text)) in [("raft", DEFAULT_RAFT), ("eventual", DEFAULT_EVENTUAL)] {
        plans.push((spec(origin, true, text, vec![default.clone()])?, out.join(name)));
    }
    Ok(plans)
}

pub fn run(args: SweepArgs) -> anyhow::Result<u8> {
    let threads = parse_jobs(args.jobs)?;
    let plans = plan(&args)?;
    let out = out_dir(&args);
    if plans.len() > 1 && out.join(MANIFEST).exists() {
        return Err(flag_error(
            "--out",
            out.display().to_string(),
            "it holds a single sweep, not the default sweep's raft/ and eventual/; choose another directory",
        )
        .into());
    }
    for (spec, _) in &plans {
        for w in spec.scenario.warnings() {
            crate::output::eprint_line(format_args!("dsim: warning: {}: {w}", spec.origin));
        }
    }
    if plans.len() > 1 {
        output::refuse_strays(&out, &["raft", "eventual"])?;
    }
    for (spec, dir) in &plans {
        output::inspect(dir, &spec.identity(), spec.shard, args.resume)?;
    }
    crate::output::set_interrupt_hint(
        "the finished runs are kept: rerun the same command with --resume to continue the sweep",
    );
    let options = ExecOptions { threads, resume: args.resume, progress: ProgressMode::Auto };
    let mut violating = 0;
    for (spec, dir) in &plans {
        let result = runner::execute(spec, dir, options, &harness_run)?;
        violating += report(spec, dir, &result)?;
    }
    Ok(if args.check && violating > 0 { EXIT_VIOLATION } else { 0 })
}

/// Prints what a sweep did and the replay command of each violating run; returns how many violated.
fn report(spec: &SweepSpec, dir: &Path, result: &SweepResult) -> Result<usize> {
    let m = &result.manifest;
    let shard = m.shard.map_or_else(String::new, |s| format!(" (shard {s})"));
    crate::outln!(
        "dsim sweep: {}{shard}: {} runs ({} resumed) over {} grid points × {} seeds in {:.1} s; {} plots",
        dir.display(),
        m.runs,
        m.runs - result.ran,
        spec.grid.points(),
        spec.seeds,
        m.wall_s,
        m.files.keys().filter(|k| k.starts_with("plots/")).count()
    )?;
    let plots = m.files.keys().any(|k| k.starts_with("plots/"));
    crate::outln!(
        "  results     {} (per grid point), {} (per run){}",
        dir.join("summary.csv").display(),
        dir.join("runs.csv").display(),
        if plots { format!(", {}/*.svg", dir.join("plots").display()) } else { String::new() }
    )?;
    let violations = result.violations();
    if violations.is_empty() {
        crate::outln!("  violations  none")?;
        return Ok(0);
    }
    crate::outln!("  violations  {} runs; replay with:", violations.len())?;
    for (point, seed, count, first) in violations.iter().take(VIOLATIONS_SHOWN) {
        crate::outln!("    {first} ({count}): {}", spec.replay_command(*point, *seed))?;
    }
    if violations.len() > VIOLATIONS_SHOWN {
        crate::outln!(
            "    … and {} more (see {})",
            violations.len() - VIOLATIONS_SHOWN,
            dir.join("runs.csv").display()
        )?;
    }
    Ok(violations.len())
}
