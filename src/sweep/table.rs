//! The runs table: one row per run, the columns of `runs.csv`, and its CSV form.
//!
//! Columns: every grid parameter (in `--param` order), `seed`, `events`, `sim_time_us`, the
//! protocol's metrics (the names and order of `Metrics::finish`), `violations`, `first_violation`,
//! `trace_sha256`. Cells are kept as the exact strings written, so rows read back from a partial
//! file or a shard's `runs.csv` are indistinguishable from rows computed in this process — the
//! summary is always computed from these strings, which makes it byte-identical however the rows
//! were obtained.

use std::path::Path;

use crate::error::{Error, Result};
use crate::metrics::MetricValue;
use crate::sweep::grid::{Grid, Job};

/// What one run produced, as the sweep records it.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRecord {
    pub events: u64,
    pub sim_time_us: u64,
    /// The protocol's figures, same names in the same order for every run of a protocol.
    pub metrics: Vec<(String, MetricValue)>,
    pub violations: u64,
    /// The property of the first violation, empty when none.
    pub first_violation: String,
    /// SHA-256 of the run's trace bytes, so `dsim run --trace` can prove a replay identical.
    pub trace_sha256: String,
}

/// The columns after the metrics.
const TAIL: [&str; 3] = ["violations", "first_violation", "trace_sha256"];

/// One run: its job and its cells, aligned with [`Table::columns`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub job: Job,
    pub cells: Vec<String>,
}

/// The runs of a sweep (or of one shard of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub columns: Vec<String>,
    /// Invariant after [`Table::sort`]: ordered by (point, seed number), each job at most once.
    pub rows: Vec<Row>,
}

impl Table {
    /// The columns for `grid` and the metrics of `record`.
    pub fn columns_for(grid: &Grid, record: &RunRecord) -> Vec<String> {
        let mut columns: Vec<String> = grid.params.iter().map(|p| p.key.clone()).collect();
        columns.extend(["seed", "events", "sim_time_us"].map(String::from));
        columns.extend(record.metrics.iter().map(|(name, _)| name.clone()));
        columns.extend(TAIL.map(String::from));
        columns
    }

    /// The cells of one run.
    pub fn cells(grid: &Grid, point: usize, seed: u64, record: &RunRecord) -> Vec<String> {
        let mut cells: Vec<String> = grid.values(point).into_iter().map(String::from).collect();
        cells.push(seed.to_string());
        cells.push(record.events.to_string());
        cells.push(record.sim_time_us.to_string());
        cells.extend(record.metrics.iter().map(|(_, v)| crate::sweep::metric_cell(*v)));
        cells.push(record.violations.to_string());
        cells.push(record.first_violation.clone());
        cells.push(record.trace_sha256.clone());
        cells
    }

    /// Checks that `columns` fit `grid` (parameters first, then the fixed columns).
    pub fn check_columns(grid: &Grid, columns: &[String], origin: &Path) -> Result<()> {
        let n = grid.params.len();
        let keys_ok = columns.len() >= n + 3 + TAIL.len()
            && grid.params.iter().zip(columns).all(|(p, c)| &p.key == c)
            && columns[n..n + 3] == ["seed", "events", "sim_time_us"]
            && columns[columns.len() - TAIL.len()..] == TAIL;
        if keys_ok {
            return Ok(());
        }
        Err(Error::BadTrace {
            path: origin.to_path_buf(),
            line: 1,
            message: format!("columns {:?} do not fit the sweep's grid", columns.join(",")),
        })
    }

    /// The job a row of cells belongs to, checked against the grid and the seed range.
    pub fn job_of(grid: &Grid, seeds: u64, seed_start: u64, cells: &[String]) -> Option<Job> {
        let n = grid.params.len();
        let values: Vec<&str> = cells.get(..n)?.iter().map(String::as_str).collect();
        let point = grid.point_of(&values)?;
        let seed: u64 = cells.get(n)?.parse().ok()?;
        let seed_number = seed.checked_sub(seed_start).filter(|s| *s < seeds)?;
        Some(Job { point, seed_number })
    }

    /// Indexes of the numeric columns summarised per grid point: `events` through `violations`.
    pub fn numeric_columns(&self, params: usize) -> std::ops::Range<usize> {
        params + 1..self.columns.len() - 2
    }

    /// Sorts by (point, seed number) and refuses a job present twice.
    pub fn sort(&mut self) -> Result<()> {
        self.rows.sort_by_key(|r| r.job);
        if let Some(w) = self.rows.windows(2).find(|w| w[0].job == w[1].job) {
            return Err(Error::Mismatch(format!(
                "run at grid point {} seed number {} appears twice",
                w[0].job.point, w[0].job.seed_number
            )));
        }
        Ok(())
    }

    /// The table as CSV bytes (header, then rows in their current order).
    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(csv_line(&self.columns));
        for row in &self.rows {
            out.extend(csv_line(&row.cells));
        }
        out
    }

    /// Reads a `runs.csv`, mapping each row to its job.
    pub fn read(path: &Path, grid: &Grid, seeds: u64, seed_start: u64) -> Result<Table> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let mut records = parse_csv(path, &bytes)?.into_iter();
        let columns = records.next().ok_or_else(|| Error::BadTrace {
            path: path.to_path_buf(),
            line: 1,
            message: "empty file: expected a runs.csv header".into(),
        })?;
        Table::check_columns(grid, &columns, path)?;
        let rows = records
            .enumerate()
            .map(|(i, cells)| row_of(path, i as u64 + 2, grid, seeds, seed_start, &columns, cells))
            .collect::<Result<Vec<_>>>()?;
        Ok(Table { columns, rows })
    }
}

/// Checks one record against the header and the grid.
pub fn row_of(
    path: &Path,
    line: u64,
    grid: &Grid,
    seeds: u64,
    seed_start: u64,
    columns: &[String],
    cells: Vec<String>,
) -> Result<Row> {
    let bad = |message: String| Error::BadTrace { path: path.to_path_buf(), line, message };
    if cells.len() != columns.len() {
        return Err(bad(format!("{} cells, expected {}", cells.len(), columns.len())));
    }
    let job = Table::job_of(grid, seeds, seed_start, &cells).ok_or_else(|| {
        bad(format!("row {:?} is not a run of this sweep's grid and seeds", cells.join(",")))
    })?;
    Ok(Row { job, cells })
}

/// One CSV record, newline-terminated, quoted only where needed.
pub fn csv_line<S: AsRef<[u8]>>(cells: &[S]) -> Vec<u8> {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    // Writing to a Vec cannot fail.
    writer.write_record(cells).expect("csv into memory");
    writer.into_inner().expect("csv into memory")
}

/// Parses CSV bytes into records of strings (the first being the header).
pub fn parse_csv(path: &Path, bytes: &[u8]) -> Result<Vec<Vec<String>>> {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(bytes);
    reader
        .records()
        .map(|r| {
            r.map(|rec| rec.iter().map(String::from).collect()).map_err(|e| Error::BadTrace {
                path: path.to_path_buf(),
                line: e.position().map_or(0, |p| p.line()),
                message: e.to_string(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::Param;

    fn record(x: f64) -> RunRecord {
        RunRecord {
            events: 10,
            sim_time_us: 2_000,
            metrics: vec![
                ("leader_us".into(), MetricValue::Int(7)),
                ("frac".into(), MetricValue::Float(x)),
                ("gone_us".into(), MetricValue::Missing),
            ],
            violations: 0,
            first_violation: String::new(),
            trace_sha256: "ab".into(),
        }
    }

    #[test]
    fn rows_round_trip_through_csv() {
        let grid =
            Grid::new(vec![Param::parse("raft.election_timeout_ms=[150, 300],[300, 600]").unwrap()]).unwrap();
        let columns = Table::columns_for(&grid, &record(0.0));
        assert_eq!(
            columns.join(","),
            "raft.election_timeout_ms,seed,events,sim_time_us,leader_us,frac,gone_us,violations,first_violation,trace_sha256"
        );
        let rows = vec![
            Row { job: Job { point: 1, seed_number: 0 }, cells: Table::cells(&grid, 1, 5, &record(0.25)) },
            Row {
                job: Job { point: 0, seed_number: 1 },
                cells: Table::cells(&grid, 0, 6, &record(1.0 / 3.0)),
            },
        ];
        let mut table = Table { columns, rows };
        table.sort().unwrap();
        let csv = String::from_utf8(table.to_csv()).unwrap();
        assert!(csv.contains("\n\"[150, 300]\",6,10,2000,7,0.333333,,0,,ab\n"), "{csv}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs.csv");
        std::fs::write(&path, &csv).unwrap();
        assert_eq!(Table::read(&path, &grid, 2, 5).unwrap(), table);
        let err = Table::read(&path, &grid, 1, 5).unwrap_err().to_string();
        assert!(err.contains("runs.csv:2: row"), "{err}");
        let mut twice = table.clone();
        twice.rows.push(table.rows[0].clone());
        assert!(twice.sort().is_err());
    }
}
