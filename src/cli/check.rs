//! `dsim check TRACE`: run the checkers over a recorded trace.
//!
//! The protocol (and, for the eventual KV, the conflict policy) comes from the manifest next to the
//! trace when there is one; `--protocol` overrides it or stands in for a missing manifest.

use std::path::PathBuf;

use crate::check::Violation;
use crate::cli::{flag_error, EXIT_VIOLATION};
use crate::error::Result;
use crate::harness;
use crate::scenario::{ProtocolKind, Scenario};
use crate::trace::manifest::{manifest_path, Manifest};
use crate::trace::TraceReader;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A trace CSV written by `dsim run --trace`.
    pub trace: PathBuf,
    /// raft | eventual (default: from the manifest next to the trace).
    #[arg(long)]
    pub protocol: Option<String>,
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    let scenario = scenario_for(&args)?;
    let mut checkers = harness::checkers(&scenario);
    let mut violations: Vec<Violation> = Vec::new();
    let mut end_us = 0;
    let mut rows = 0u64;
    for row in TraceReader::open(&args.trace)? {
        let row = row?;
        end_us = row.time_us;
        rows += 1;
        for c in &mut checkers {
            c.observe(&row, &mut violations);
        }
    }
    for c in &mut checkers {
        c.finish(end_us, &mut violations);
    }
    let names: Vec<&str> = checkers.iter().map(|c| c.name()).collect();
    crate::outln!(
        "dsim check: {} ({} rows, {}): {}",
        args.trace.display(),
        rows,
        scenario.protocol.as_str(),
        names.join(", ")
    )?;
    if violations.is_empty() {
        crate::outln!("  violations  none")?;
        return Ok(0);
    }
    crate::outln!("  violations  {}", violations.len())?;
    for v in violations.iter().take(20) {
        crate::outln!("    {v}")?;
    }
    Ok(EXIT_VIOLATION)
}

fn scenario_for(args: &CheckArgs) -> Result<Scenario> {
    let manifest = manifest_path(&args.trace);
    let mut scenario = if manifest.exists() {
        Manifest::read(&manifest)?.scenario
    } else {
        Scenario::from_str("(defaults)", "nodes = 1\nduration_ms = 1\n", &[])?
    };
    match args.protocol.as_deref() {
        None if manifest.exists() => {}
        None => {
            return Err(flag_error(
                "--protocol",
                "(missing)",
                format!("raft or eventual (no manifest at {})", manifest.display()),
            ))
        }
        Some("raft") => scenario.protocol = ProtocolKind::Raft,
        Some("eventual") => scenario.protocol = ProtocolKind::Eventual,
        Some(other) => return Err(flag_error("--protocol", other, "raft or eventual")),
    }
    Ok(scenario)
}
