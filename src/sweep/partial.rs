//! The partial log: `DIR/.partial/runs.csv`, one line per finished run, appended and flushed as
//! each run completes, so an interrupted sweep loses at most the runs in flight.
//!
//! `--resume` reads it back: a torn last line (the process died mid-write) is cut off, every other
//! line must be a run of this sweep. The header is written with the first row, since the metric
//! names are only known once a run has finished.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{Error, Result};
use crate::sweep::table::{csv_line, parse_csv, row_of, Row};
use crate::sweep::Grid;

/// Rows read back from a partial log.
#[derive(Debug, Default)]
pub struct Recovered {
    pub columns: Option<Vec<String>>,
    pub rows: Vec<Row>,
}

struct State {
    file: File,
    /// The header, once written (or read back).
    columns: Option<Vec<String>>,
}

/// An append-only log of finished runs, shared by the worker threads.
pub struct PartialLog {
    path: PathBuf,
    state: Mutex<State>,
}

impl PartialLog {
    /// Starts an empty log at `path` (an existing one is replaced).
    pub fn create(path: &Path) -> Result<PartialLog> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        Ok(PartialLog { path: path.to_path_buf(), state: Mutex::new(State { file, columns: None }) })
    }

    /// Opens an existing log to continue it, returning the runs it holds. A torn last line is cut.
    pub fn resume(path: &Path, grid: &Grid, seeds: u64, seed_start: u64) -> Result<(PartialLog, Recovered)> {
        if !path.exists() {
            return Ok((PartialLog::create(path)?, Recovered::default()));
        }
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let mut records = parse_csv(path, &bytes[..whole])?.into_iter();
        let columns = records.next();
        let mut rows = Vec::new();
        if let Some(columns) = &columns {
            crate::sweep::table::Table::check_columns(grid, columns, path)?;
            for (i, cells) in records.enumerate() {
                rows.push(row_of(path, i as u64 + 2, grid, seeds, seed_start, columns, cells)?);
            }
        }
        let mut file = OpenOptions::new().write(true).open(path).map_err(|e| Error::io(path, e))?;
        file.set_len(whole as u64).map_err(|e| Error::io(path, e))?;
        file.seek(SeekFrom::End(0)).map_err(|e| Error::io(path, e))?;
        let log = PartialLog {
            path: path.to_path_buf(),
            state: Mutex::new(State { file, columns: columns.clone() }),
        };
        Ok((log, Recovered { columns, rows }))
    }

    /// Appends one finished run (and the header first, if the log has none yet).
    pub fn append(&self, columns: &[String], cells: &[String]) -> Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut bytes = Vec::new();
        match &state.columns {
            None => {
                bytes.extend(csv_line(columns));
                state.columns = Some(columns.to_vec());
            }
            Some(existing) if existing != columns => {
                return Err(Error::Mismatch(format!(
                    "{}: a run produced columns {:?}, earlier runs {:?}",
                    self.path.display(),
                    columns.join(","),
                    existing.join(",")
                )))
            }
            Some(_) => {}
        }
        bytes.extend(csv_line(cells));
        state.file.write_all(&bytes).map_err(|e| Error::io(&self.path, e))?;
        state.file.flush().map_err(|e| Error::io(&self.path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::{Job, Param};

    #[test]
    fn torn_last_line_is_cut_and_appending_continues() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        let grid = Grid::new(vec![Param::parse("x=1,2").unwrap()]).unwrap();
        let columns: Vec<String> =
            ["x", "seed", "events", "sim_time_us", "violations", "first_violation", "trace_sha256"]
                .map(String::from)
                .to_vec();
        let cells = |x: &str, seed: &str| [x, seed, "5", "9", "0", "", "h"].map(String::from).to_vec();
        let log = PartialLog::create(&path).unwrap();
        log.append(&columns, &cells("2", "1")).unwrap();
        log.append(&columns, &cells("1", "0")).unwrap();
        drop(log);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"2,0,5,9").unwrap();
        drop(file);
        let (log, got) = PartialLog::resume(&path, &grid, 2, 0).unwrap();
        assert_eq!(got.columns.as_ref(), Some(&columns));
        let jobs: Vec<Job> = got.rows.iter().map(|r| r.job).collect();
        assert_eq!(jobs, [Job { point: 1, seed_number: 1 }, Job { point: 0, seed_number: 0 }]);
        log.append(&columns, &cells("2", "0")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, "x,seed,events,sim_time_us,violations,first_violation,trace_sha256\n2,1,5,9,0,,h\n1,0,5,9,0,,h\n2,0,5,9,0,,h\n");
        let other: Vec<String> = columns.iter().map(|c| format!("{c}2")).collect();
        assert!(log.append(&other, &cells("1", "1")).is_err());
    }
}
