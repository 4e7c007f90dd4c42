//! `dsim replay MANIFEST_OR_TRACE`: re-runs a recorded run from its manifest (scenario + seed) into
//! a temporary file and compares the bytes through their SHA-256. On a difference it streams both
//! files and names the first differing row (its seq and both versions) and exits 1.
//!
//! The recorded trace file is compared as it is on disk, so an edited trace is caught even when its
//! manifest still holds the original hash; without the file, the manifest's hash is the reference.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::cli::EXIT_VIOLATION;
use crate::error::{Error, Result};
use crate::harness::{self, Options};
use crate::trace::manifest::{manifest_path, Manifest};
use crate::trace::writer::sha256_file;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// A trace manifest (`X.manifest.json`) or the trace CSV next to it (`X.csv`).
    pub path: PathBuf,
}

/// The first place two traces differ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    /// 1-based line number (line 1 is the header).
    pub line: u64,
    /// The row's seq (from the recorded line, else the replayed one), if it has one.
    pub seq: Option<u64>,
    /// The lines, `None` where that file had already ended.
    pub recorded: Option<String>,
    pub replayed: Option<String>,
}

fn lines(path: &Path) -> Result<impl Iterator<Item = Result<String>>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let owned = path.to_path_buf();
    Ok(BufReader::new(file).split(b'\n').map(move |l| {
        l.map(|bytes| String::from_utf8_lossy(&bytes).into_owned()).map_err(|e| Error::io(&owned, e))
    }))
}

/// Streams two files line by line and returns the first difference, if any.
pub fn first_difference(recorded: &Path, replayed: &Path) -> Result<Option<Difference>> {
    let (mut a, mut b) = (lines(recorded)?, lines(replayed)?);
    let mut line = 0u64;
    loop {
        line += 1;
        let (x, y) = (a.next().transpose()?, b.next().transpose()?);
        if x.is_none() && y.is_none() {
            return Ok(None);
        }
        if x != y {
            let seq_of =
                |l: &Option<String>| l.as_ref().and_then(|l| l.split(',').nth(1)?.parse::<u64>().ok());
            let seq = if line == 1 { None } else { seq_of(&x).or_else(|| seq_of(&y)) };
            return Ok(Some(Difference { line, seq, recorded: x, replayed: y }));
        }
    }
}

/// (manifest, recorded trace) for a path naming either.
fn locate(path: &Path) -> (PathBuf, Option<PathBuf>) {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if name.ends_with(".manifest.json") {
        (path.to_path_buf(), None)
    } else {
        (manifest_path(path), Some(path.to_path_buf()))
    }
}

pub fn run(args: ReplayArgs) -> anyhow::Result<u8> {
    let (manifest_file, given_trace) = locate(&args.path);
    let manifest = Manifest::read(&manifest_file)?;
    if manifest.seed != manifest.scenario.seed {
        return Err(Error::BadTrace {
            path: manifest_file.clone(),
            line: 1,
            message: format!(
                "seed = {} but scenario.seed = {}: the manifest was edited; they must agree",
                manifest.seed, manifest.scenario.seed
            ),
        }
        .into());
    }
    let recorded = given_trace.unwrap_or_else(|| manifest_file.with_file_name(&manifest.trace_file));
    let temp = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let fresh = temp.path().join("replay.csv");
    let schedule = match &manifest.schedule_file {
        Some(file) => Some(crate::cli::run::load_schedule(Path::new(file), &manifest.scenario)?),
        None => None,
    };
    let scheduling = harness::Scheduling { replay: schedule.as_ref(), record: false, replay_file: None };
    let outcome = harness::run_scheduled(
        &manifest.scenario,
        Options { trace: Some(&fresh), hash: false, history: None },
        scheduling,
    )?;
    let info = outcome.trace.ok_or_else(|| Error::Mismatch("the replay wrote no trace".into()))?;
    if !recorded.exists() {
        if info.sha256 == manifest.trace_sha256 {
            crate::outln!(
                "dsim replay: identical to the manifest's hash ({} rows, sha256 {}); {} is absent",
                info.rows,
                info.sha256,
                recorded.display()
            )?;
            return Ok(0);
        }
        crate::outln!(
            "dsim replay: differs: replay sha256 {}, manifest {} ({} is absent, so no row can be shown)",
            info.sha256,
            manifest.trace_sha256,
            recorded.display()
        )?;
        return Ok(EXIT_VIOLATION);
    }
    let recorded_sha = sha256_file(&recorded)?;
    if recorded_sha == info.sha256 && info.sha256 == manifest.trace_sha256 {
        crate::outln!(
            "dsim replay: {}: identical ({} rows, sha256 {})",
            recorded.display(),
            info.rows,
            info.sha256
        )?;
        return Ok(0);
    }
    match first_difference(&recorded, &fresh)? {
        Some(d) => {
            let at = d
                .seq
                .map_or_else(|| format!("line {}", d.line), |s| format!("row seq={s} (line {})", d.line));
            crate::outln!("dsim replay: {}: differs from a fresh run at {at}", recorded.display())?;
            crate::outln!("  recorded  {}", d.recorded.as_deref().unwrap_or("(end of file)"))?;
            crate::outln!("  replayed  {}", d.replayed.as_deref().unwrap_or("(end of file)"))?;
        }
        None => crate::outln!(
            "dsim replay: {}: the trace matches a fresh run (sha256 {}) but the manifest says {}",
            recorded.display(),
            info.sha256,
            manifest.trace_sha256
        )?,
    }
    if recorded_sha != manifest.trace_sha256 {
        crate::outln!("  note      the recorded file's sha256 {recorded_sha} is not the manifest's: it was changed after the run")?;
    }
    Ok(EXIT_VIOLATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_row() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a.csv"), dir.path().join("b.csv"));
        std::fs::write(&a, "time_us,seq\n0,0,x\n5,1,y\n9,2,z\n").unwrap();
        std::fs::write(&b, "time_us,seq\n0,0,x\n5,1,Y\n9,2,z\n").unwrap();
        let d = first_difference(&a, &b).unwrap().unwrap();
        assert_eq!((d.line, d.seq), (3, Some(1)));
        assert_eq!((d.recorded.as_deref(), d.replayed.as_deref()), (Some("5,1,y"), Some("5,1,Y")));
        std::fs::write(&b, "time_us,seq\n0,0,x\n5,1,y\n").unwrap();
        let d = first_difference(&a, &b).unwrap().unwrap();
        assert_eq!((d.line, d.seq, d.replayed), (4, Some(2), None));
        assert_eq!(first_difference(&a, &a).unwrap(), None);
    }
}
