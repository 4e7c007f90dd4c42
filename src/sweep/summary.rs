//! `summary.csv`: per grid point and numeric column of `runs.csv`, the count of runs where the
//! figure applies, mean, nearest-rank percentiles p50/p90/p99, min, max and a 95 % confidence
//! interval of the mean (mean ± 1.96·sd/√n, sd with n−1; empty when n < 2).
//!
//! Long format — one line per (grid point, metric) — so the columns never change with the
//! protocol. Computed from the runs table's cell strings in (point, seed) order, so the bytes are
//! the same however the rows were obtained. Percentiles are cells of the runs table, copied as
//! written (integers stay integers).

use crate::sweep::table::{csv_line, Table};
use crate::sweep::Grid;

/// The z value of a two-sided 95 % normal interval.
const Z95: f64 = 1.96;

/// A percentile or extreme: its numeric value and the cell it was copied from.
#[derive(Clone, Debug, PartialEq)]
pub struct Quantile {
    pub value: f64,
    pub cell: String,
}

/// One (grid point, metric) line.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    pub point: usize,
    pub metric: String,
    /// Runs at this grid point.
    pub runs: u64,
    /// Runs at this grid point with at least one violation.
    pub violating_runs: u64,
    /// Runs where the metric applies (non-empty cell).
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<Quantile>,
    pub p90: Option<Quantile>,
    pub p99: Option<Quantile>,
    pub min: Option<Quantile>,
    pub max: Option<Quantile>,
    pub ci95: Option<(f64, f64)>,
}

/// The summary of a runs table.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub param_keys: Vec<String>,
    /// Grid values of each row's point, as in runs.csv.
    pub point_values: Vec<Vec<String>>,
    pub rows: Vec<SummaryRow>,
}

/// The columns after the grid parameters.
pub const COLUMNS: [&str; 12] = [
    "metric",
    "runs",
    "violating_runs",
    "count",
    "mean",
    "p50",
    "p90",
    "p99",
    "min",
    "max",
    "ci95_lo",
    "ci95_hi",
];

/// Nearest-rank percentile of ascending `sorted` (non-empty): the value at rank ⌈p/100 · n⌉, the
/// same rule as the run metrics' percentiles.
fn nearest_rank(sorted: &[(f64, &str)], p: u64) -> Quantile {
    let i = crate::metrics::percentile_index(sorted.len(), p as f64).expect("percentile of nothing");
    let (value, cell) = sorted[i];
    Quantile { value, cell: cell.to_owned() }
}

/// Stats of one column over one grid point's cells.
fn stats(point: usize, metric: &str, runs: u64, violating_runs: u64, cells: &[&str]) -> SummaryRow {
    let mut values: Vec<(f64, &str)> = cells
        .iter()
        .filter_map(|c| c.parse::<f64>().ok().filter(|v| v.is_finite()).map(|v| (v, *c)))
        .collect();
    let n = values.len();
    let mean = (n > 0).then(|| values.iter().map(|(v, _)| v).sum::<f64>() / n as f64);
    let ci95 = match mean {
        Some(m) if n >= 2 => {
            let var = values.iter().map(|(v, _)| (v - m) * (v - m)).sum::<f64>() / (n - 1) as f64;
            let half = Z95 * var.sqrt() / (n as f64).sqrt();
            Some((m - half, m + half))
        }
        _ => None,
    };
    values.sort_by(|a, b| a.0.total_cmp(&b.0));
    let pick = |p: u64| (n > 0).then(|| nearest_rank(&values, p));
    SummaryRow {
        point,
        metric: metric.to_owned(),
        runs,
        violating_runs,
        count: n as u64,
        mean,
        p50: pick(50),
        p90: pick(90),
        p99: pick(99),
        min: pick(0),
        max: pick(100),
        ci95,
    }
}

impl Summary {
    /// Summarises a sorted runs table.
    pub fn of(table: &Table, grid: &Grid) -> Summary {
        let params = grid.params.len();
        let numeric = table.numeric_columns(params);
        let violations = numeric.end - 1;
        let mut rows = Vec::new();
        let mut point_values = Vec::new();
        let mut start = 0;
        while start < table.rows.len() {
            let point = table.rows[start].job.point;
            let end = start + table.rows[start..].iter().take_while(|r| r.job.point == point).count();
            let group = &table.rows[start..end];
            let runs = group.len() as u64;
            let violating =
                group.iter().filter(|r| r.cells[violations].parse::<u64>().is_ok_and(|v| v > 0)).count();
            for column in numeric.clone() {
                let cells: Vec<&str> = group.iter().map(|r| r.cells[column].as_str()).collect();
                rows.push(stats(point, &table.columns[column], runs, violating as u64, &cells));
            }
            point_values.push(group[0].cells[..params].to_vec());
            start = end;
        }
        Summary { param_keys: table.columns[..params].to_vec(), point_values, rows }
    }

    /// The grid values of `row`'s point.
    pub fn values_of(&self, row: &SummaryRow) -> &[String] {
        let i = self.point_index(row.point).expect("summary row of a summarised point");
        &self.point_values[i]
    }

    fn point_index(&self, point: usize) -> Option<usize> {
        let mut points: Vec<usize> = self.rows.iter().map(|r| r.point).collect();
        points.dedup();
        points.iter().position(|&p| p == point)
    }

    /// The summary as CSV bytes.
    pub fn to_csv(&self) -> Vec<u8> {
        let mut header = self.param_keys.clone();
        header.extend(COLUMNS.map(String::from));
        let mut out = csv_line(&header);
        let float = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.6}"));
        let cell = |q: &Option<Quantile>| q.as_ref().map_or(String::new(), |q| q.cell.clone());
        let mut index = 0;
        for (i, row) in self.rows.iter().enumerate() {
            if i > 0 && row.point != self.rows[i - 1].point {
                index += 1;
            }
            let mut cells = self.point_values[index].clone();
            cells.extend([
                row.metric.clone(),
                row.runs.to_string(),
                row.violating_runs.to_string(),
                row.count.to_string(),
                float(row.mean),
                cell(&row.p50),
                cell(&row.p90),
                cell(&row.p99),
                cell(&row.min),
                cell(&row.max),
                float(row.ci95.map(|c| c.0)),
                float(row.ci95.map(|c| c.1)),
            ]);
            out.extend(csv_line(&cells));
        }
        out
    }

    /// Rows of one metric, in point order.
    pub fn metric<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a SummaryRow> + 'a {
        self.rows.iter().filter(move |r| r.metric == name)
    }

    /// The metric names, in column order.
    pub fn metric_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for row in &self.rows {
            if row.point != self.rows[0].point {
                break;
            }
            names.push(&row.metric);
        }
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::grid::{Job, Param};
    use crate::sweep::table::Row;

    fn table() -> (Table, Grid) {
        let grid = Grid::new(vec![Param::parse("x=a,b").unwrap()]).unwrap();
        let columns =
            ["x", "seed", "events", "sim_time_us", "lat_us", "violations", "first_violation", "trace_sha256"];
        let row = |point: usize, seed: u64, lat: &str, viol: &str| Row {
            job: Job { point, seed_number: seed },
            cells: [grid.values(point)[0], &seed.to_string(), "10", "100", lat, viol, "", "h"]
                .map(String::from)
                .to_vec(),
        };
        let mut rows =
            vec![row(0, 0, "4", "0"), row(0, 1, "", "2"), row(0, 2, "1", "0"), row(0, 3, "10", "0")];
        rows.extend((0..100).map(|s| row(1, s, &(100 - s).to_string(), "0")));
        (Table { columns: columns.map(String::from).to_vec(), rows }, grid)
    }

    #[test]
    fn stats_per_point_and_metric() {
        let (table, grid) = table();
        let s = Summary::of(&table, &grid);
        assert_eq!(s.metric_names(), ["events", "sim_time_us", "lat_us", "violations"]);
        let lat: Vec<&SummaryRow> = s.metric("lat_us").collect();
        let a = lat[0];
        assert_eq!((a.runs, a.violating_runs, a.count), (4, 1, 3), "the empty cell is not counted");
        assert_eq!(a.mean, Some(5.0));
        assert_eq!(a.p50.as_ref().unwrap().cell, "4");
        assert_eq!(a.p99.as_ref().unwrap().cell, "10");
        assert_eq!(a.min.as_ref().unwrap().cell, "1");
        // sd = sqrt(((4-5)^2 + (1-5)^2 + (10-5)^2) / 2) = sqrt(21); half = 1.96 * sqrt(21) / sqrt(3).
        let half = 1.96 * 21f64.sqrt() / 3f64.sqrt();
        assert_eq!(a.ci95, Some((5.0 - half, 5.0 + half)));
        let b = lat[1];
        assert_eq!(
            (b.p50.as_ref().unwrap().value, b.p90.as_ref().unwrap().value, b.p99.as_ref().unwrap().value),
            (50.0, 90.0, 99.0)
        );
        let csv = String::from_utf8(s.to_csv()).unwrap();
        let mut lines = csv.lines();
        assert_eq!(
            lines.next().unwrap(),
            "x,metric,runs,violating_runs,count,mean,p50,p90,p99,min,max,ci95_lo,ci95_hi"
        );
        assert_eq!(lines.next().unwrap(), "a,events,4,1,4,10.000000,10,10,10,10,10,10.000000,10.000000");
        assert!(
            csv.contains(&format!(
                "a,lat_us,4,1,3,5.000000,4,10,10,1,10,{:.6},{:.6}\n",
                5.0 - half,
                5.0 + half
            )),
            "{csv}"
        );
        assert!(csv.contains("b,violations,100,0,100,0.000000,0,0,0,0,0,0.000000,0.000000\n"), "{csv}");
        assert_eq!(s.values_of(b), ["b"]);
    }

    #[test]
    fn one_value_has_no_interval() {
        let row = stats(0, "m", 1, 0, &["3"]);
        assert_eq!((row.mean, row.ci95), (Some(3.0), None));
        let none = stats(0, "m", 2, 0, &["", ""]);
        assert_eq!((none.count, none.mean, none.p50), (0, None, None));
    }
}
