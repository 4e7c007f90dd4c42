//! A sweep's output directory: `runs.csv`, `summary.csv`, `plots/*.svg` and `manifest.json`, each
//! written atomically, the manifest last as the mark that the output is complete; `.partial/`
//! holds the log of finished runs while the sweep is under way and is removed at the end.
//!
//! A directory is only ever written by the sweep it belongs to: one holding another sweep's
//! manifest, another sweep's partial log, or sweep files without either, is refused before
//! anything is touched, and so is one holding files a sweep does not write. Wall time, threads and
//! host go to `timing.json` beside the manifest (git-ignored), never into the manifest or the CSVs,
//! so rerunning a sweep rewrites its committed files byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::sweep::grid::Shard;
use crate::sweep::partial::{PartialLog, Recovered};
use crate::sweep::summary::Summary;
use crate::sweep::table::Table;
use crate::sweep::{plot, Identity, SEED_RULE};
use crate::trace::writer::{sha256_file, write_atomic};

pub const MANIFEST: &str = "manifest.json";
pub const RUNS: &str = "runs.csv";
pub const SUMMARY: &str = "summary.csv";
pub const PLOTS: &str = "plots";
pub const PARTIAL: &str = ".partial";
/// Wall time, threads and host of the sweep that wrote the directory (not part of its results).
pub const TIMING: &str = "timing.json";
/// What `.partial/` holds: the sweep it belongs to, and its log of finished runs.
const PARTIAL_SWEEP: &str = "sweep.json";
const PARTIAL_RUNS: &str = "runs.csv";

pub const FORMAT: &str = "dsim-sweep-manifest/1";

/// One output file in the manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    pub sha256: String,
    pub bytes: u64,
    /// Data rows (CSV files only; the header is not counted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
}

/// `DIR/manifest.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepManifest {
    /// Always [`FORMAT`].
    pub format: String,
    pub sweep: Identity,
    /// The scenario file as given (or the embedded default's name) and the `--set`s applied to it.
    pub scenario_origin: String,
    pub scenario_sets: Vec<String>,
    pub seed_rule: String,
    /// The slice of the jobs this directory holds; absent for a whole (or merged) sweep.
    pub shard: Option<Shard>,
    /// Jobs in the whole sweep (grid points × seeds).
    pub jobs_total: u64,
    /// Runs in this directory's runs.csv.
    pub runs: u64,
    pub violating_runs: u64,
    /// File name (relative to the directory) -> hash, size, rows.
    pub files: BTreeMap<String, FileEntry>,
    /// For `dsim merge`: the shard directories this one was made from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged_from: Vec<String>,
    /// Wall-clock seconds the sweep took (summed over shards for a merge). Written to
    /// [`TIMING`], not to the manifest (older manifests that hold it still read).
    #[serde(default, skip_serializing)]
    pub wall_s: f64,
    /// Worker threads the sweep ran on (in [`TIMING`]).
    #[serde(default, skip_serializing)]
    pub threads: usize,
    /// The machine (in [`TIMING`]).
    #[serde(default, skip_serializing)]
    pub host: String,
}

/// `DIR/timing.json`: what changes from one run of the same sweep to the next.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    pub wall_s: f64,
    pub threads: usize,
    pub host: String,
}

/// The timing a directory records, if it has one.
pub fn read_timing(dir: &Path) -> Option<Timing> {
    let text = std::fs::read_to_string(dir.join(TIMING)).ok()?;
    serde_json::from_str(&text).ok()
}

/// What a sweep directory may hold (a `dsim hunt` directory is a sweep's plus its failing
/// scenarios and summary).
pub const SWEEP_ENTRIES: [&str; 8] =
    [MANIFEST, RUNS, SUMMARY, PLOTS, PARTIAL, TIMING, crate::hunt::FAILURES, crate::hunt::SUMMARY];

/// Entries of `dir` not in `known` (sorted), e.g. a user's own files.
fn strays(dir: &Path, known: &[&str]) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    names.sort();
    names
}

/// Refuses a directory holding entries other than `known` (e.g. [`SWEEP_ENTRIES`]).
pub fn refuse_strays(dir: &Path, known: &[&str]) -> Result<()> {
    if !dir.exists() {
        return Ok(());
    }
    if !dir.is_dir() {
        return Err(refuse(dir, "it is not a directory"));
    }
    let strays = strays(dir, known);
    if let Some(first) = strays.first() {
        return Err(refuse(
            dir,
            format!("it holds {first} ({} entries in all) that no dsim sweep writes", strays.len()),
        ));
    }
    Ok(())
}

/// Where a sweep's output came from, beyond its identity.
#[derive(Clone, Debug, Default)]
pub struct Provenance {
    pub scenario_origin: String,
    pub scenario_sets: Vec<String>,
    pub wall_s: f64,
    pub threads: usize,
    pub merged_from: Vec<String>,
}

/// What `.partial/sweep.json` records.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartialKey {
    sweep: Identity,
    shard: Option<Shard>,
}

fn refuse(dir: &Path, why: impl std::fmt::Display) -> Error {
    Error::Flag {
        flag: "--out".into(),
        value: dir.display().to_string(),
        allowed: format!("{why}; choose another directory or delete it (nothing was written)"),
    }
}

pub fn read_manifest(path: &Path) -> Result<SweepManifest> {
    crate::trace::manifest::read_json(path, "sweep manifest", FORMAT, |m: &SweepManifest| &m.format)
}

fn shard_name(shard: Option<Shard>) -> String {
    shard.map_or_else(|| "no shard".to_owned(), |s| format!("shard {s}"))
}

/// Refuses `dir` if its manifest belongs to another sweep (or shard). Returns the manifest if it
/// is this sweep's.
pub fn check_manifest(
    dir: &Path,
    identity: &Identity,
    shard: Option<Shard>,
) -> Result<Option<SweepManifest>> {
    refuse_strays(dir, &SWEEP_ENTRIES)?;
    let path = dir.join(MANIFEST);
    if !path.exists() {
        let stray = [RUNS, SUMMARY].iter().find(|f| dir.join(f).exists());
        if let (Some(stray), false) = (stray, dir.join(PARTIAL).join(PARTIAL_SWEEP).exists()) {
            return Err(refuse(
                dir,
                format!("it holds {stray} but no {MANIFEST}: not a finished dsim sweep"),
            ));
        }
        return Ok(None);
    }
    let manifest = read_manifest(&path)
        .map_err(|e| refuse(dir, format!("it holds a {MANIFEST} dsim cannot use ({e})")))?;
    if let Some(what) = manifest.sweep.difference(identity) {
        return Err(refuse(dir, format!("it holds another sweep (its {what} differs)")));
    }
    if manifest.shard != shard {
        return Err(refuse(
            dir,
            format!("it holds {} of this sweep, not {}", shard_name(manifest.shard), shard_name(shard)),
        ));
    }
    Ok(Some(manifest))
}

/// Checks, without writing anything, that `dir` may receive this sweep: refuses another sweep's
/// manifest or partial log, and an interrupted run of this one without `resume`. Returns this
/// sweep's finished manifest if the directory has one.
pub fn inspect(
    dir: &Path,
    identity: &Identity,
    shard: Option<Shard>,
    resume: bool,
) -> Result<Option<SweepManifest>> {
    let finished = check_manifest(dir, identity, shard)?;
    let partial = dir.join(PARTIAL);
    let key_path = partial.join(PARTIAL_SWEEP);
    if key_path.exists() {
        let text = std::fs::read_to_string(&key_path).map_err(|e| Error::io(&key_path, e))?;
        let theirs: PartialKey = serde_json::from_str(&text)
            .map_err(|e| refuse(dir, format!("{} is not a dsim sweep's ({e})", key_path.display())))?;
        if let Some(what) = theirs.sweep.difference(identity) {
            return Err(refuse(dir, format!("it holds an interrupted sweep whose {what} differs")));
        }
        if theirs.shard != shard {
            return Err(refuse(
                dir,
                format!("it holds an interrupted {} of this sweep", shard_name(theirs.shard)),
            ));
        }
        if !resume {
            return Err(refuse(
                dir,
                format!(
                    "it holds an interrupted run of this sweep: add --resume to continue it, or delete {}",
                    partial.display()
                ),
            ));
        }
    } else if partial.join(PARTIAL_RUNS).exists() {
        return Err(refuse(dir, format!("{} holds a log of unknown origin", partial.display())));
    }
    Ok(finished)
}

/// Checks `dir` (see [`inspect`]), creates it, and opens the partial log: continued (with the runs
/// already done, from the log and from a finished output) when `resume`, new otherwise.
pub fn prepare(
    dir: &Path,
    identity: &Identity,
    shard: Option<Shard>,
    resume: bool,
) -> Result<(PartialLog, Recovered)> {
    let finished = inspect(dir, identity, shard, resume)?;
    let partial = dir.join(PARTIAL);
    let key_path = partial.join(PARTIAL_SWEEP);
    let key = PartialKey { sweep: identity.clone(), shard };
    std::fs::create_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    let mut json =
        serde_json::to_string_pretty(&key).map_err(|e| Error::io(&key_path, std::io::Error::other(e)))?;
    json.push('\n');
    write_atomic(&key_path, json.as_bytes())?;
    let log_path = partial.join(PARTIAL_RUNS);
    if !resume {
        return Ok((PartialLog::create(&log_path)?, Recovered::default()));
    }
    let (log, mut recovered) =
        PartialLog::resume(&log_path, &identity.grid, identity.seeds, identity.seed_start)?;
    if let Some(manifest) = finished {
        let table = read_runs(dir, &manifest)?;
        if recovered.columns.as_ref().is_some_and(|c| *c != table.columns) {
            return Err(refuse(dir, "its runs.csv and its partial log have different columns"));
        }
        let known: std::collections::BTreeSet<_> = recovered.rows.iter().map(|r| r.job).collect();
        recovered.rows.extend(table.rows.into_iter().filter(|r| !known.contains(&r.job)));
        recovered.columns = Some(table.columns);
    }
    Ok((log, recovered))
}

/// Reads `dir/runs.csv`, checking its hash against the manifest.
pub fn read_runs(dir: &Path, manifest: &SweepManifest) -> Result<Table> {
    let path = dir.join(RUNS);
    let expected = manifest.files.get(RUNS).map(|f| f.sha256.as_str()).unwrap_or("");
    let actual = sha256_file(&path)?;
    if actual != expected {
        return Err(Error::Mismatch(format!(
            "{}: sha256 {actual} differs from the manifest's {expected}: the file was changed after the sweep",
            path.display()
        )));
    }
    let id = &manifest.sweep;
    Table::read(&path, &id.grid, id.seeds, id.seed_start)
}

fn host() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

fn put(
    dir: &Path,
    files: &mut BTreeMap<String, FileEntry>,
    name: &str,
    bytes: &[u8],
    rows: Option<u64>,
) -> Result<()> {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    write_atomic(&path, bytes)?;
    use sha2::Digest;
    let sha256 = crate::trace::writer::hex(&sha2::Sha256::digest(bytes));
    files.insert(name.to_owned(), FileEntry { sha256, bytes: bytes.len() as u64, rows });
    Ok(())
}

/// Writes the sorted `table` and everything derived from it into `dir`; the manifest last, then
/// removes the partial log.
pub fn write(
    dir: &Path,
    identity: &Identity,
    shard: Option<Shard>,
    table: &Table,
    provenance: Provenance,
) -> Result<SweepManifest> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut files = BTreeMap::new();
    put(dir, &mut files, RUNS, &table.to_csv(), Some(table.rows.len() as u64))?;
    let summary = Summary::of(table, &identity.grid);
    put(dir, &mut files, SUMMARY, &summary.to_csv(), Some(summary.rows.len() as u64))?;
    for (name, svg) in plot::render_all(&summary, &identity.grid) {
        put(dir, &mut files, &format!("{PLOTS}/{name}"), svg.as_bytes(), None)?;
    }
    let n = table.columns.len();
    let violating = table.rows.iter().filter(|r| r.cells[n - 3].parse::<u64>().is_ok_and(|v| v > 0)).count();
    let manifest = SweepManifest {
        format: FORMAT.to_owned(),
        sweep: identity.clone(),
        scenario_origin: provenance.scenario_origin,
        scenario_sets: provenance.scenario_sets,
        seed_rule: SEED_RULE.to_owned(),
        shard,
        jobs_total: identity.grid.points() as u64 * identity.seeds,
        runs: table.rows.len() as u64,
        violating_runs: violating as u64,
        files,
        merged_from: provenance.merged_from,
        wall_s: provenance.wall_s,
        threads: provenance.threads,
        host: host(),
    };
    let timing = Timing { wall_s: manifest.wall_s, threads: manifest.threads, host: manifest.host.clone() };
    let timing_path = dir.join(TIMING);
    let mut json = serde_json::to_string_pretty(&timing)
        .map_err(|e| Error::io(&timing_path, std::io::Error::other(e)))?;
    json.push('\n');
    write_atomic(&timing_path, json.as_bytes())?;
    let path = dir.join(MANIFEST);
    let mut json =
        serde_json::to_string_pretty(&manifest).map_err(|e| Error::io(&path, std::io::Error::other(e)))?;
    json.push('\n');
    write_atomic(&path, json.as_bytes())?;
    let partial = dir.join(PARTIAL);
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(|e| Error::io(&partial, e))?;
    }
    Ok(manifest)
}

/// Merges shard directories of one sweep into `out`: the same files as an unsharded sweep.
pub fn merge(inputs: &[PathBuf], out: &Path) -> Result<SweepManifest> {
    let first = inputs.first().ok_or_else(|| Error::Flag {
        flag: "merge".into(),
        value: String::new(),
        allowed: "at least one shard directory".into(),
    })?;
    let manifests = inputs.iter().map(|d| read_manifest(&d.join(MANIFEST))).collect::<Result<Vec<_>>>()?;
    let identity = manifests[0].sweep.clone();
    let count = manifests[0].shard.map_or(1, |s| s.count);
    let mut by_index: BTreeMap<u64, &Path> = BTreeMap::new();
    for (dir, m) in inputs.iter().zip(&manifests) {
        if let Some(what) = m.sweep.difference(&identity) {
            return Err(Error::Mismatch(format!(
                "{} and {} are not shards of one sweep (their {what} differs)",
                first.display(),
                dir.display()
            )));
        }
        let shard = m.shard.unwrap_or(Shard { index: 1, count: 1 });
        if shard.count != count {
            return Err(Error::Mismatch(format!(
                "{} is shard {shard} but {} is one of {count}",
                dir.display(),
                first.display()
            )));
        }
        if let Some(other) = by_index.insert(shard.index, dir) {
            return Err(Error::Mismatch(format!(
                "shard {shard} given twice: {} and {}",
                other.display(),
                dir.display()
            )));
        }
    }
    if let Some(missing) = (1..=count).find(|k| !by_index.contains_key(k)) {
        return Err(Error::Mismatch(format!(
            "shard {missing}/{count} is missing: every shard must be merged"
        )));
    }
    check_manifest(out, &identity, None)?;
    if out.join(PARTIAL).join(PARTIAL_SWEEP).exists() {
        return Err(refuse(out, "it holds an interrupted sweep"));
    }
    let mut table: Option<Table> = None;
    for (dir, m) in inputs.iter().zip(&manifests) {
        let part = read_runs(dir, m)?;
        let shard = m.shard.unwrap_or(Shard { index: 1, count: 1 });
        if let Some(row) = part.rows.iter().find(|r| !shard.holds(r.job.index(identity.seeds))) {
            return Err(Error::Mismatch(format!(
                "{}: row {:?} does not belong to shard {shard}",
                dir.join(RUNS).display(),
                row.cells.join(",")
            )));
        }
        match &mut table {
            None => table = Some(part),
            Some(t) if t.columns != part.columns => {
                return Err(Error::Mismatch(format!(
                    "{} has other columns than {}",
                    dir.display(),
                    first.display()
                )))
            }
            Some(t) => t.rows.extend(part.rows),
        }
    }
    let mut table = table.expect("at least one input");
    table.sort()?;
    let total = identity.grid.points() as u64 * identity.seeds;
    if table.rows.len() as u64 != total {
        return Err(Error::Mismatch(format!(
            "the shards hold {} runs, the sweep has {total}",
            table.rows.len()
        )));
    }
    let provenance = Provenance {
        scenario_origin: manifests[0].scenario_origin.clone(),
        scenario_sets: manifests[0].scenario_sets.clone(),
        wall_s: inputs.iter().filter_map(|d| read_timing(d)).map(|t| t.wall_s).sum(),
        threads: read_timing(first).map_or(0, |t| t.threads),
        merged_from: inputs.iter().map(|d| d.display().to_string()).collect(),
    };
    write(out, &identity, None, &table, provenance)
}
