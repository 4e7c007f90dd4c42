//! Parameter sweeps: one base scenario, a grid of overrides, many seeds, run in parallel, written
//! as `runs.csv`, `summary.csv`, SVG plots and a `manifest.json` (written last, the mark that the
//! output is complete).
//!
//! Determinism: a run is a pure function of (grid point, seed), and the results are sorted by
//! (grid point, seed) before anything is written, so the files never depend on the thread count,
//! the completion order or the shard. The run seed is `seed_start + seed number` and is *not* mixed
//! with the grid point: runs at different drop rates with the same seed share every random draw
//! that the drop rate does not govern (the kernel derives one stream per purpose from the seed, and
//! the network makes a fixed number of draws per message), which makes comparisons across the grid
//! paired.
//!
//! The engine is generic over the function that performs one run ([`RunFn`]), so it can be tested
//! with a fake; the CLI passes [`harness_run`].

pub mod grid;
pub mod output;
pub mod partial;
pub mod plot;
pub mod runner;
pub mod summary;
pub mod table;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::harness::{self, Options, Outcome};
use crate::metrics::MetricValue;
use crate::scenario::{Scenario, DEFAULT_RAFT};

pub use grid::{Grid, Job, Param, Shard};
pub use table::{RunRecord, Table};

/// Seeds per grid point when `--seeds` is not given (the default sweep: 2 protocols × 11 drop
/// rates × this many seeds).
pub const DEFAULT_SEEDS: u64 = 200;
/// The first seed when `--seed-start` is not given.
pub const DEFAULT_SEED_START: u64 = 1;
/// The default sweep's grid: the drop probability from 0 to 0.5 in steps of 0.05.
pub const DEFAULT_PARAM: &str = "network.drop_probability=0:0.5:0.05";

/// How the run seed is derived; recorded in every manifest.
pub const SEED_RULE: &str = "run seed = seed_start + seed number, the same at every grid point (paired runs)";

/// Performs one run of a scenario (whose `seed` is already set).
pub type RunFn<'a> = dyn Fn(&Scenario) -> Result<RunRecord> + Sync + 'a;

/// The real run: the harness with the trace hashed (so each row can be verified by a replay).
pub fn harness_run(scenario: &Scenario) -> Result<RunRecord> {
    let outcome = harness::run(scenario, Options { trace: None, hash: true, history: None })?;
    Ok(RunRecord::from_outcome(&outcome))
}

impl RunRecord {
    pub fn from_outcome(outcome: &Outcome) -> RunRecord {
        RunRecord {
            events: outcome.stats.events,
            sim_time_us: outcome.stats.end_time.as_us(),
            metrics: outcome.metrics.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect(),
            violations: outcome.violations_total,
            first_violation: outcome.violations.first().map(|v| v.property.to_owned()).unwrap_or_default(),
            trace_sha256: outcome.trace_sha256.clone().unwrap_or_default(),
        }
    }
}

/// What makes two sweeps the same sweep: resuming, refusing to clobber and merging compare this.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    pub dsim_version: String,
    /// The base scenario, resolved (file + `--set`s), before any grid override; its seed is unused.
    pub scenario: Scenario,
    pub grid: Grid,
    pub seeds: u64,
    pub seed_start: u64,
}

impl Identity {
    /// Names the first part that differs from `other`, for error messages.
    pub fn difference(&self, other: &Identity) -> Option<&'static str> {
        if self.dsim_version != other.dsim_version {
            Some("dsim version")
        } else if self.scenario != other.scenario {
            Some("base scenario")
        } else if self.grid != other.grid {
            Some("grid (--param)")
        } else if self.seeds != other.seeds || self.seed_start != other.seed_start {
            Some("seeds (--seeds, --seed-start)")
        } else {
            None
        }
    }
}

/// A sweep, ready to run.
#[derive(Clone, Debug)]
pub struct SweepSpec {
    /// The scenario file as given, or the embedded default's name (`sims/raft.toml`).
    pub origin: String,
    /// True when the base scenario is one of the embedded defaults.
    pub embedded: bool,
    /// The scenario text, kept so that every grid point is loaded exactly as `dsim run` would.
    pub text: String,
    /// `--set` overrides, applied before the grid's.
    pub sets: Vec<String>,
    pub grid: Grid,
    pub seeds: u64,
    pub seed_start: u64,
    pub shard: Option<Shard>,
    /// The resolved base scenario.
    pub scenario: Scenario,
}

impl SweepSpec {
    /// Loads the base scenario and checks the grid, the seeds and every grid point's scenario.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        origin: &str,
        embedded: bool,
        text: &str,
        sets: Vec<String>,
        params: Vec<Param>,
        seeds: u64,
        seed_start: u64,
        shard: Option<Shard>,
    ) -> Result<SweepSpec> {
        if let Some(set) = sets.iter().find(|s| s.split('=').next().map(str::trim) == Some("seed")) {
            return Err(Error::Flag {
                flag: "--set".into(),
                value: set.clone(),
                allowed: "any key but seed in a sweep (run seeds come from --seed-start and --seeds)".into(),
            });
        }
        let scenario = Scenario::from_str(origin, text, &sets)?;
        let grid = Grid::new(params)?;
        grid::check_size(grid.points(), seeds)?;
        if seed_start.checked_add(seeds - 1).is_none() {
            return Err(Error::Flag {
                flag: "--seed-start".into(),
                value: seed_start.to_string(),
                allowed: format!("at most {} with --seeds {seeds}", u64::MAX - (seeds - 1)),
            });
        }
        let spec = SweepSpec {
            origin: origin.to_owned(),
            embedded,
            text: text.to_owned(),
            sets,
            grid,
            seeds,
            seed_start,
            shard,
            scenario,
        };
        spec.point_scenarios()?;
        Ok(spec)
    }

    pub fn identity(&self) -> Identity {
        let mut scenario = self.scenario.clone();
        scenario.seed = 0;
        Identity {
            dsim_version: env!("CARGO_PKG_VERSION").to_owned(),
            scenario,
            grid: self.grid.clone(),
            seeds: self.seeds,
            seed_start: self.seed_start,
        }
    }

    /// The scenario of every grid point, loaded like `dsim run ORIGIN --set … --set KEY=VALUE …`.
    /// An error names the `--param` value that caused it.
    pub fn point_scenarios(&self) -> Result<Vec<Scenario>> {
        (0..self.grid.points())
            .map(|point| {
                let grid_sets = self.grid.sets(point);
                let all: Vec<String> = self.sets.iter().chain(&grid_sets).cloned().collect();
                Scenario::from_str(&self.origin, &self.text, &all).map_err(|e| name_param(e, &grid_sets))
            })
            .collect()
    }

    /// The run seed of seed number `n`.
    pub fn seed(&self, seed_number: u64) -> u64 {
        self.seed_start + seed_number
    }

    /// The command that replays one run of this sweep.
    pub fn replay_command(&self, point: usize, seed: u64) -> String {
        let mut words = vec!["dsim".to_owned(), "run".to_owned()];
        if !(self.embedded && self.origin == DEFAULT_RAFT.0) {
            words.push(shell_quote(&self.origin));
        }
        for set in self.sets.iter().chain(&self.grid.sets(point)) {
            words.push("--set".into());
            words.push(shell_quote(set));
        }
        words.push("--seed".into());
        words.push(seed.to_string());
        words.join(" ")
    }
}

/// Rewrites an error about `--set KEY=VALUE` that came from the grid so that it names `--param`.
fn name_param(error: Error, grid_sets: &[String]) -> Error {
    // The origin names one `--set` or several joined by ", " (see `Scenario::from_str`).
    let rename = |origin: String| {
        let parts: Vec<String> = origin
            .split(", --set ")
            .enumerate()
            .map(|(i, part)| {
                let set = if i == 0 { part.strip_prefix("--set ").unwrap_or(part) } else { part };
                let flag = if grid_sets.iter().any(|s| s == set) { "--param" } else { "--set" };
                if i == 0 && !part.starts_with("--set ") {
                    part.to_owned()
                } else {
                    format!("{flag} {set}")
                }
            })
            .collect();
        parts.join(", ")
    };
    match error {
        Error::Parse { origin, message } => Error::Parse { origin: rename(origin), message },
        Error::Invalid { origin, field, value, allowed } => {
            Error::Invalid { origin: rename(origin), field, value, allowed }
        }
        other => other,
    }
}

/// Quotes a word for a POSIX shell when it holds anything but safe characters.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// A metric value as a CSV cell: integers as integers, floats with 6 decimals, missing as empty.
pub fn metric_cell(value: MetricValue) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOY: &str = "nodes = 3\nduration_ms = 100\n[network]\ndrop_probability = 0.1\n";

    fn spec(params: &[&str], sets: &[&str]) -> Result<SweepSpec> {
        let params = params.iter().map(|p| Param::parse(p)).collect::<Result<Vec<_>>>()?;
        let sets = sets.iter().map(|s| s.to_string()).collect();
        SweepSpec::new("toy.toml", false, TOY, sets, params, 3, 10, None)
    }

    #[test]
    fn every_point_loads_like_dsim_run() {
        let s = spec(&["network.drop_probability=0:0.2:0.1", "nodes=3,5"], &["duration_ms=50"]).unwrap();
        let scenarios = s.point_scenarios().unwrap();
        assert_eq!(scenarios.len(), 6);
        assert_eq!(scenarios[5].network.drop_probability, 0.2);
        assert_eq!(scenarios[5].nodes, 5);
        assert_eq!(scenarios[5].duration_ms, 50);
        assert_eq!(s.seed(2), 12);
        assert_eq!(
            s.replay_command(5, 12),
            "dsim run toy.toml --set duration_ms=50 --set network.drop_probability=0.2 --set nodes=5 --seed 12"
        );
    }

    #[test]
    fn bad_keys_and_values_name_the_param() {
        let err = spec(&["network.drop_probabilty=0.1,0.2"], &[]).unwrap_err().to_string();
        assert!(err.starts_with("--param network.drop_probabilty=0.1"), "{err}");
        assert!(err.contains("drop_probabilty"), "{err}");
        let err = spec(&["network.drop_probability=0.5,1.5"], &[]).unwrap_err().to_string();
        assert!(err.starts_with("--param network.drop_probability=1.5"), "{err}");
        let err = spec(&[], &["nodes=0"]).unwrap_err().to_string();
        assert!(err.starts_with("--set nodes=0"), "{err}");
        let err = spec(&[], &["seed=4"]).unwrap_err().to_string();
        assert!(err.contains("--seed-start"), "{err}");
    }

    #[test]
    fn shell_quoting_only_when_needed() {
        assert_eq!(shell_quote("network.drop_probability=0.05"), "network.drop_probability=0.05");
        assert_eq!(
            shell_quote("raft.election_timeout_ms=[150, 300]"),
            "'raft.election_timeout_ms=[150, 300]'"
        );
        assert_eq!(shell_quote("a='x'"), r"'a='\''x'\'''");
    }

    #[test]
    fn identity_names_what_differs() {
        let a = spec(&["nodes=3,5"], &[]).unwrap().identity();
        let b = spec(&["nodes=3,7"], &[]).unwrap().identity();
        let c = spec(&["nodes=3,5"], &["duration_ms=20"]).unwrap().identity();
        assert_eq!(a.difference(&a), None);
        assert_eq!(a.difference(&b), Some("grid (--param)"));
        assert_eq!(a.difference(&c), Some("base scenario"));
    }
}
