//! The manifest written next to a trace (`X.csv` -> `X.manifest.json`): enough to replay the run
//! and to prove a replay identical — the dsim version, the fully resolved scenario, the seed, the
//! event and row counts, the final simulated time and the SHA-256 of the trace bytes.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::scenario::Scenario;
use crate::trace::writer::write_atomic;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Always "dsim-trace-manifest/1".
    pub format: String,
    pub dsim_version: String,
    pub seed: u64,
    pub events: u64,
    pub rows: u64,
    pub sim_time_us: u64,
    pub stop: String,
    /// The trace's file name (relative to the manifest's directory).
    pub trace_file: String,
    pub trace_bytes: u64,
    pub trace_sha256: String,
    /// The scenario exactly as run (seed included), every default filled in.
    pub scenario: Scenario,
    /// The schedule the run was driven by (`dsim run --schedule`), as given on the command line,
    /// and the SHA-256 of its bytes; absent for a seeded run (docs/schedule.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_file: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule_sha256: Option<String>,
}

pub const FORMAT: &str = "dsim-trace-manifest/1";

/// `runs/x.csv` -> `runs/x.manifest.json`.
pub fn manifest_path(trace: &Path) -> PathBuf {
    let stem = trace.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    trace.with_file_name(format!("{stem}.manifest.json"))
}

impl Manifest {
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut json =
            serde_json::to_string_pretty(self).map_err(|e| Error::io(path, std::io::Error::other(e)))?;
        json.push('\n');
        write_atomic(path, json.as_bytes())
    }

    pub fn read(path: &Path) -> Result<Manifest> {
        let manifest: Manifest = read_json(path, "trace manifest", FORMAT, |m: &Manifest| &m.format)?;
        manifest.scenario.validate(&path.display().to_string())?;
        Ok(manifest)
    }
}

/// Reads a JSON file of dsim's (`what` names it in errors) and checks its `format` field.
pub fn read_json<T: serde::de::DeserializeOwned>(
    path: &Path,
    what: &str,
    expected: &str,
    format: impl Fn(&T) -> &str,
) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let value: T = serde_json::from_str(&text).map_err(|e| Error::BadTrace {
        path: path.to_path_buf(),
        line: e.line() as u64,
        message: format!("not a dsim {what}: {e}"),
    })?;
    if format(&value) != expected {
        return Err(Error::BadTrace {
            path: path.to_path_buf(),
            line: 1,
            message: format!("format = {:?}: expected {expected:?}", format(&value)),
        });
    }
    Ok(value)
}
