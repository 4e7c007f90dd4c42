//! The command line (clap): one file per subcommand. Each returns the process exit code
//! (0 ok, 1 violation or mismatch); errors become exit code 2 in `main`.

pub mod bench;
pub mod check;
pub mod export;
pub mod hunt;
pub mod lincheck;
pub mod merge;
pub mod replay;
pub mod run;
pub mod shrink;
pub mod sweep;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::error::{Error, Result};
use crate::scenario::{embedded, Scenario, DEFAULT_RAFT};

/// Exit code when a checker found a violation (or a replay differed).
pub const EXIT_VIOLATION: u8 = 1;

#[derive(Debug, Parser)]
#[command(name = "dsim", version, about = "Deterministic discrete-event simulator for distributed protocols")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one scenario with one seed; print a summary, optionally write the CSV trace.
    Run(run::RunArgs),
    /// Run the safety / convergence checkers over a trace file.
    Check(check::CheckArgs),
    /// Run a grid of scenario overrides × seeds in parallel; write runs.csv, summary.csv, plots.
    Sweep(sweep::SweepArgs),
    /// Swarm testing: each seed draws its own scenario (faults, sizes, timing, workload) from a
    /// base; failing seeds are written as scenario files with the command that reproduces them.
    Hunt(hunt::HuntArgs),
    /// Shrink a failing run: a minimal scenario and schedule that fail the same checker, with its
    /// trace, SVG and the short story of the violation (docs/shrink.md).
    Shrink(shrink::ShrinkArgs),
    /// Join the shard directories of one sweep into the files an unsharded sweep writes.
    Merge(merge::MergeArgs),
    /// Re-run a recorded trace from its manifest and compare it byte for byte.
    Replay(replay::ReplayArgs),
    /// Export a trace for Perfetto (Chrome JSON), ShiViz, or as an SVG space-time diagram.
    Export(export::ExportArgs),
    /// Is a client history (a dsim trace or a Jepsen EDN file) linearizable? Exit 0 yes, 1 no,
    /// 2 bad input, 3 undecided within --lin-budget.
    Lincheck(lincheck::LincheckArgs),
    /// Events per second of the kernel and the default scenarios, against a bare binary heap.
    Bench(bench::BenchArgs),
}

pub fn run(cli: Cli) -> anyhow::Result<u8> {
    match cli.command {
        Command::Run(args) => run::run(args),
        Command::Check(args) => check::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Shrink(args) => shrink::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Export(args) => export::run(args),
        Command::Lincheck(args) => lincheck::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

/// Where a scenario comes from and how it is changed: shared by run, sweep and bench.
#[derive(Debug, Clone, clap::Args)]
pub struct ScenarioArgs {
    /// A scenario file (TOML). Without it, the embedded default (= sims/raft.toml); the files of
    /// sims/ are compiled in, so their names (sims/raft_chaos.toml, …) work from any directory.
    pub scenario: Option<PathBuf>,
    /// Override the scenario's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override any scenario field: KEY=VALUE (repeatable), e.g. network.drop_probability=0.1.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

impl ScenarioArgs {
    pub fn load(&self) -> Result<Scenario> {
        let mut scenario = match &self.scenario {
            // The embedded defaults answer to their repository paths even outside the repository,
            // so the replay commands that sweeps print work anywhere.
            Some(path) => match embedded(&path.to_string_lossy()).filter(|_| !path.exists()) {
                Some((origin, text)) => Scenario::from_str(origin, text, &self.set)?,
                None => Scenario::load(path, &self.set)?,
            },
            None => Scenario::from_str(DEFAULT_RAFT.0, DEFAULT_RAFT.1, &self.set)?,
        };
        if let Some(seed) = self.seed {
            scenario.seed = seed;
        }
        Ok(scenario)
    }
}

/// A flag value error in the house format.
pub fn flag_error(flag: &str, value: impl Into<String>, allowed: impl Into<String>) -> Error {
    Error::Flag { flag: flag.into(), value: value.into(), allowed: allowed.into() }
}
