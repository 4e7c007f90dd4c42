//! Runs a sweep's jobs on a rayon pool of `--jobs` threads, logs each finished run to the partial
//! log, then sorts every row by (grid point, seed) and writes the output files.
//!
//! Threads only decide *when* a run happens, never what it computes: each job's scenario and seed
//! are fixed before the pool starts, and results are sorted before anything is written.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sweep::grid::{self, Job};
use crate::sweep::output::{self, Provenance, SweepManifest};
use crate::sweep::table::{Row, Table};
use crate::sweep::{RunFn, SweepSpec};

/// Without a terminal, a plain progress line is printed at most this often.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// How progress is shown on stderr.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, else a plain line every few seconds (CI, batch schedulers).
    Auto,
    Hidden,
}

/// Progress of the runs, shown on stderr; wall time is read here only, never by a simulation.
pub struct Progress {
    label: String,
    total: u64,
    done: AtomicU64,
    bar: Option<indicatif::ProgressBar>,
    plain: Option<Mutex<Instant>>,
    started: Instant,
}

impl Progress {
    pub fn new(label: &str, total: u64, already: u64, mode: ProgressMode) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (mode == ProgressMode::Auto && terminal).then(|| {
            let style = indicatif::ProgressStyle::with_template(
                "{prefix} [{elapsed_precise}] {wide_bar} {pos}/{len} runs ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            let bar = indicatif::ProgressBar::new(total).with_style(style).with_prefix(label.to_owned());
            bar.set_position(already);
            bar
        });
        let plain = (mode == ProgressMode::Auto && !terminal).then(|| Mutex::new(Instant::now()));
        Progress {
            label: label.to_owned(),
            total,
            done: AtomicU64::new(already),
            bar,
            plain,
            started: Instant::now(),
        }
    }

    pub fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.set_position(done);
        }
        if let Some(last) = &self.plain {
            let mut last = last.lock().unwrap_or_else(|p| p.into_inner());
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                let pct = done as f64 * 100.0 / self.total.max(1) as f64;
                // Never a panic on a closed stderr (`dsim sweep 2>&1 | head -1`).
                crate::output::eprint_line(format_args!(
                    "{}: {done}/{} runs ({pct:.0}%), {:.0} s elapsed",
                    self.label,
                    self.total,
                    self.started.elapsed().as_secs_f64()
                ));
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// How to execute a sweep.
#[derive(Clone, Copy, Debug)]
pub struct ExecOptions {
    /// Worker threads; 0 = one per core.
    pub threads: usize,
    /// Continue from the partial log (and a finished output) of the same sweep in the directory.
    pub resume: bool,
    pub progress: ProgressMode,
}

/// A finished sweep.
#[derive(Debug)]
pub struct SweepResult {
    pub table: Table,
    pub manifest: SweepManifest,
    /// Runs computed by this invocation (the rest came from `--resume`).
    pub ran: u64,
}

impl SweepResult {
    /// (grid point, seed, violations, first violation) of every violating run, in row order.
    pub fn violations(&self) -> Vec<(usize, u64, u64, String)> {
        let n = self.table.columns.len();
        let params = self.manifest.sweep.grid.params.len();
        self.table
            .rows
            .iter()
            .filter_map(|r| {
                let count: u64 = r.cells[n - 3].parse().ok()?;
                let seed: u64 = r.cells[params].parse().ok()?;
                (count > 0).then(|| (r.job.point, seed, count, r.cells[n - 2].clone()))
            })
            .collect()
    }
}

/// Runs `work` over `jobs` on a pool of `threads` threads (0 = one per core). Stops at the first
/// error. The result order is unspecified; callers sort.
///
/// Every job is its own piece of work (`with_max_len(1)`). Left to itself, rayon halves the job
/// list only about log2(threads) times before a thread folds its piece sequentially, and a piece
/// being folded cannot be stolen: on 2 cores one thread of the default sweep sat idle for the
/// last 1.8 s of the Raft half's 7.9 s. A run takes milliseconds, so a split per job costs
/// nothing measurable.
pub fn run_parallel<T, F>(jobs: &[Job], threads: usize, work: F) -> Result<Vec<T>>
where
    T: Send,
    F: Fn(Job) -> Result<T> + Sync + Send,
{
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("dsim-sweep-{i}"))
        .build()
        .map_err(|e| Error::Flag {
            flag: "--jobs".into(),
            value: threads.to_string(),
            allowed: e.to_string(),
        })?;
    pool.install(|| jobs.par_iter().with_max_len(1).map(|&job| work(job)).collect())
}

/// Runs the sweep `spec` into `dir` with `run` performing each run.
pub fn execute(spec: &SweepSpec, dir: &Path, options: ExecOptions, run: &RunFn<'_>) -> Result<SweepResult> {
    let started = Instant::now();
    let scenarios = spec.point_scenarios()?;
    let identity = spec.identity();
    let all = grid::jobs(spec.grid.points(), spec.seeds, spec.shard);
    if all.is_empty() {
        let shard = spec.shard.map_or_else(String::new, |s| s.to_string());
        return Err(Error::Flag {
            flag: "--shard".into(),
            value: shard,
            allowed: format!(
                "at most as many shards as runs ({} grid points × {} seeds)",
                spec.grid.points(),
                spec.seeds
            ),
        });
    }
    let (log, recovered) = output::prepare(dir, &identity, spec.shard, options.resume)?;
    let done: std::collections::BTreeSet<Job> = recovered.rows.iter().map(|r| r.job).collect();
    let todo: Vec<Job> = all.iter().copied().filter(|j| !done.contains(j)).collect();
    let label = format!("dsim sweep {}", dir.display());
    let progress = Progress::new(&label, all.len() as u64, done.len() as u64, options.progress);
    let columns: Mutex<Option<Vec<String>>> = Mutex::new(recovered.columns.clone());
    let new_rows = run_parallel(&todo, options.threads, |job| {
        let mut scenario: Scenario = scenarios[job.point].clone();
        scenario.seed = spec.seed(job.seed_number);
        let record = run(&scenario)?;
        let cols = Table::columns_for(&spec.grid, &record);
        let cells = Table::cells(&spec.grid, job.point, scenario.seed, &record);
        {
            let mut known = columns.lock().unwrap_or_else(|p| p.into_inner());
            match known.as_ref() {
                Some(k) if *k != cols => {
                    return Err(Error::Mismatch(format!(
                        "a run produced columns {:?}, earlier runs {:?}",
                        cols.join(","),
                        k.join(",")
                    )))
                }
                Some(_) => {}
                None => *known = Some(cols.clone()),
            }
        }
        log.append(&cols, &cells)?;
        progress.tick();
        Ok(Row { job, cells })
    });
    progress.finish();
    let new_rows = new_rows?;
    let ran = new_rows.len() as u64;
    let columns = columns.into_inner().unwrap_or_else(|p| p.into_inner()).unwrap_or_default();
    let mut table = Table { columns, rows: recovered.rows };
    table.rows.extend(new_rows);
    table.sort()?;
    if table.rows.len() != all.len() {
        return Err(Error::Mismatch(format!("{} runs finished, {} expected", table.rows.len(), all.len())));
    }
    let provenance = Provenance {
        scenario_origin: spec.origin.clone(),
        scenario_sets: spec.sets.clone(),
        wall_s: started.elapsed().as_secs_f64(),
        threads: if options.threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            options.threads
        },
        merged_from: Vec::new(),
    };
    let manifest = output::write(dir, &identity, spec.shard, &table, provenance)?;
    Ok(SweepResult { table, manifest, ran })
}
