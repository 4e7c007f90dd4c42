//! `dsim check TRACE`: run the checkers over a recorded trace.
//!
//! The protocol (and, for the eventual KV, the conflict policy) comes from the manifest next to the
//! trace when there is one; `--protocol` stands in for a missing manifest and is refused when it
//! contradicts the manifest. With a manifest, the trace's rows, bytes and SHA-256 must be the ones
//! it records, so a truncated or edited trace is never passed as clean (exit 1); `--no-manifest`
//! ignores the manifest (then `--protocol` is required).

use std::path::{Path, PathBuf};

use crate::check::Violation;
use crate::cli::{flag_error, EXIT_VIOLATION};
use crate::error::{Error, Result};
use crate::harness;
use crate::scenario::{ProtocolKind, Scenario};
use crate::trace::manifest::{manifest_path, Manifest};
use crate::trace::writer::sha256_file;
use crate::trace::TraceReader;

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// A trace CSV written by `dsim run --trace`.
    pub trace: PathBuf,
    /// raft | eventual (default: from the manifest next to the trace).
    #[arg(long)]
    pub protocol: Option<String>,
    /// Ignore the manifest beside the trace: no row/hash verification; --protocol is required.
    #[arg(long)]
    pub no_manifest: bool,
}

pub fn run(args: CheckArgs) -> anyhow::Result<u8> {
    crate::output::require_input(&args.trace)?;
    let (scenario, manifest) = scenario_for(&args)?;
    if let Some(manifest) = &manifest {
        if let Some(problem) = verify(&args.trace, manifest)? {
            crate::outln!(
                "dsim check: {}: truncated/modified: {problem} (the manifest {} records the run; \
                 --no-manifest checks the file as it is)",
                args.trace.display(),
                manifest_path(&args.trace).display()
            )?;
            return Ok(EXIT_VIOLATION);
        }
    }
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

/// Where the trace differs from what its manifest records (rows, bytes, SHA-256), if anywhere.
fn verify(trace: &Path, manifest: &Manifest) -> Result<Option<String>> {
    let bytes = std::fs::metadata(trace).map_err(|e| Error::io(trace, e))?.len();
    let sha256 = sha256_file(trace)?;
    if bytes == manifest.trace_bytes && sha256 == manifest.trace_sha256 {
        return Ok(None);
    }
    let rows = TraceReader::open(trace)?.count() as u64;
    Ok(Some(format!(
        "the file has {rows} rows, {bytes} bytes, sha256 {sha256}; the manifest says {} rows, {} bytes, sha256 {}",
        manifest.rows, manifest.trace_bytes, manifest.trace_sha256
    )))
}

/// The scenario to check against, and the manifest it came from (unless there is none or
/// `--no-manifest`).
fn scenario_for(args: &CheckArgs) -> Result<(Scenario, Option<Manifest>)> {
    let path = manifest_path(&args.trace);
    let manifest = if path.exists() && !args.no_manifest { Some(Manifest::read(&path)?) } else { None };
    let mut scenario = match &manifest {
        Some(m) => m.scenario.clone(),
        None => Scenario::from_str("(defaults)", "nodes = 1\nduration_ms = 1\n", &[])?,
    };
    let given = match args.protocol.as_deref() {
        None if manifest.is_some() => return Ok((scenario, manifest)),
        None => {
            let why = if args.no_manifest {
                "raft or eventual (--no-manifest leaves no other source)".to_owned()
            } else {
                format!("raft or eventual (no manifest at {})", path.display())
            };
            return Err(flag_error("--protocol", "(missing)", why));
        }
        Some("raft") => ProtocolKind::Raft,
        Some("eventual") => ProtocolKind::Eventual,
        Some(other) => return Err(flag_error("--protocol", other, "raft or eventual")),
    };
    if manifest.is_some() && given != scenario.protocol {
        return Err(flag_error(
            "--protocol",
            given.as_str(),
            format!(
                "{} (the manifest {} says the trace is a {} run; --no-manifest to ignore it)",
                scenario.protocol.as_str(),
                path.display(),
                scenario.protocol.as_str()
            ),
        ));
    }
    scenario.protocol = given;
    Ok((scenario, manifest))
}
