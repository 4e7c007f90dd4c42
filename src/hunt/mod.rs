//! `dsim hunt`: swarm testing. Every seed draws its own scenario from a base ([`draw`]) and runs
//! it with that seed; a failing run is written as a standalone, fully resolved scenario file with
//! the exact `dsim run` command that reproduces it.
//!
//! The hunt reuses the sweep's machinery rather than copying it: with `--seeds` a hunt *is* a
//! sweep of one grid point whose run function draws the scenario before running it, so sharding,
//! `--resume`, the progress bar, `runs.csv`, `manifest.json` and `dsim merge` all work as they do
//! for `dsim sweep`. With `--time` the seeds are issued in rounds on the sweep's parallel executor
//! until the wall-clock budget is spent (the only use of the wall clock: when to stop issuing
//! seeds, never what a run computes). The failures and the summary (`hunt.json`) are a function
//! of the finished rows only, so they never depend on `--jobs`, the shard split or a resume.

pub mod draw;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::sweep::table::RunRecord;

pub use draw::draw_scenario;

/// The summary file in the output directory.
pub const SUMMARY: &str = "hunt.json";
/// The directory of failing scenarios in the output directory.
pub const FAILURES: &str = "failures";
/// The summary's format tag.
pub const FORMAT: &str = "dsim-hunt-summary/1";

/// One run of a hunt seed: draw (with the `--set`s pinning what they name), then run with the
/// harness (trace hashed).
pub fn hunt_run(base: &Scenario, sets: &[String]) -> Result<RunRecord> {
    crate::sweep::harness_run(&draw_scenario(base, sets, base.seed)?)
}

/// One failing seed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub seed: u64,
    /// The checker (property) of the run's first violation.
    pub checker: String,
    pub violations: u64,
    /// The scenario file, relative to the output directory.
    pub file: String,
    /// The command that reproduces the failure.
    pub command: String,
    /// The command that shrinks it to a minimal run of the same checker (docs/shrink.md).
    #[serde(default)]
    pub shrink: String,
}

/// Failures of one checker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckerCount {
    pub runs: u64,
    pub first_seed: u64,
}

/// `hunt.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub format: String,
    pub dsim_version: String,
    pub base: String,
    pub sets: Vec<String>,
    pub runs: u64,
    /// The seeds covered: every seed in [first, last] that the shard holds ran.
    pub seed_first: u64,
    pub seed_last: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<String>,
    /// Wall-clock figures of this invocation (the only non-deterministic fields).
    pub wall_s: f64,
    pub runs_per_s: f64,
    pub failing_runs: u64,
    /// By the checker of each failing run's first violation.
    pub by_checker: BTreeMap<String, CheckerCount>,
    pub failures: Vec<Failure>,
}

/// The file of a failing seed, relative to the output directory.
pub fn failure_file(seed: u64) -> String {
    format!("{FAILURES}/seed-{seed}.toml")
}

/// The command that reproduces seed `seed`'s run from its written file.
pub fn command(dir: &Path, seed: u64) -> String {
    let path = dir.join(failure_file(seed));
    format!("dsim run {} --seed {seed}", crate::sweep::shell_quote(&path.display().to_string()))
}

/// The command that shrinks seed `seed`'s failure of `checker` into `DIR-shrink/seed-N` (beside
/// the hunt's directory, which holds only what a hunt writes, so a `--resume` still accepts it).
pub fn shrink_command(dir: &Path, seed: u64, checker: &str) -> String {
    let q = |p: &Path| crate::sweep::shell_quote(&p.display().to_string());
    let name = dir.file_name().map_or_else(|| "hunt".to_owned(), |n| n.to_string_lossy().into_owned());
    let out = dir.with_file_name(format!("{name}-shrink")).join(format!("seed-{seed}"));
    format!(
        "dsim shrink {} --seed {seed} --checker {checker} --out {}",
        q(&dir.join(failure_file(seed))),
        q(&out)
    )
}

/// Writes `DIR/failures/seed-N.toml` for every failing `(seed, checker, violations)` and returns
/// the failures in seed order.
pub fn write_failures(
    dir: &Path,
    base: &Scenario,
    sets: &[String],
    failing: &[(u64, String, u64)],
) -> Result<Vec<Failure>> {
    let mut out = Vec::new();
    if !failing.is_empty() {
        let failures = dir.join(FAILURES);
        std::fs::create_dir_all(&failures).map_err(|e| Error::io(&failures, e))?;
    }
    for (seed, checker, violations) in failing {
        let scenario = draw_scenario(base, sets, *seed)?;
        let file = failure_file(*seed);
        let header = format!(
            "# dsim hunt: seed {seed} of base {:?}, drawn and fully resolved; {checker} failed.\n\
             # Reproduce: {}\n\
             # Shrink:    {}\n",
            base.name,
            command(dir, *seed),
            shrink_command(dir, *seed, checker)
        );
        let text = format!("{header}{}", scenario.to_toml());
        crate::output::write_atomic(&dir.join(&file), text.as_bytes())?;
        out.push(Failure {
            seed: *seed,
            checker: checker.clone(),
            violations: *violations,
            file,
            command: command(dir, *seed),
            shrink: shrink_command(dir, *seed, checker),
        });
    }
    out.sort_by_key(|f| f.seed);
    Ok(out)
}

/// Counts failures by checker, each with its first seed.
pub fn by_checker(failures: &[Failure]) -> BTreeMap<String, CheckerCount> {
    let mut map: BTreeMap<String, CheckerCount> = BTreeMap::new();
    for f in failures {
        let entry = map.entry(f.checker.clone()).or_insert(CheckerCount { runs: 0, first_seed: f.seed });
        entry.runs += 1;
        entry.first_seed = entry.first_seed.min(f.seed);
    }
    map
}

/// Writes `DIR/hunt.json`.
pub fn write_summary(dir: &Path, summary: &Summary) -> Result<PathBuf> {
    let path = dir.join(SUMMARY);
    let mut json =
        serde_json::to_string_pretty(summary).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    json.push('\n');
    crate::output::write_atomic(&path, json.as_bytes())?;
    Ok(path)
}
