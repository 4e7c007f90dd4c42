//! Run metrics: numbers computed from the trace rows of one run, for `dsim run`'s summary and for
//! sweeps. Like the checkers they observe rows, so the same figures can be recomputed from a file.

pub mod counts;
pub mod eventual;
pub mod raft;
pub mod sessions;

pub use raft::RaftMetrics;

use crate::trace::Record;

/// One named figure. Times are in microseconds and their names end in `_us`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum MetricValue {
    Int(u64),
    Float(f64),
    /// The figure does not apply to this run (e.g. no leader was ever elected).
    Missing,
}

impl std::fmt::Display for MetricValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MetricValue::Int(v) => write!(f, "{v}"),
            MetricValue::Float(v) => write!(f, "{v:.6}"),
            MetricValue::Missing => Ok(()),
        }
    }
}

impl MetricValue {
    pub fn as_f64(self) -> Option<f64> {
        match self {
            MetricValue::Int(v) => Some(v as f64),
            MetricValue::Float(v) => Some(v),
            MetricValue::Missing => None,
        }
    }
}

/// Computes a protocol's figures from its rows.
pub trait Metrics {
    fn observe(&mut self, row: &Record);

    /// Final figures, always the same names in the same order for a protocol (sweep columns).
    fn finish(&mut self, end_us: u64) -> Vec<(&'static str, MetricValue)>;
}

/// The nearest-rank `p`-th percentile (`p` in percent, 0 to 100) of `sorted` (ascending): the
/// smallest value with at least `p`% of the values at or below it, i.e. the value of rank
/// `ceil(p / 100 * n)`, rank at least 1. `None` for no values.
///
/// Always one of the values (no interpolation), so integer figures stay integers.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    debug_assert!(sorted.windows(2).all(|w| w[0] <= w[1]), "percentile of unsorted values");
    percentile_index(sorted.len(), p).map(|i| sorted[i])
}

/// The index of the nearest-rank `p`-th percentile among `n` ascending values (`None` when
/// `n == 0`): what [`percentile`] picks, for callers whose values are not plain `u64`s.
pub fn percentile_index(n: usize, p: f64) -> Option<usize> {
    assert!((0.0..=100.0).contains(&p), "percentile {p} is outside [0, 100]");
    if n == 0 {
        return None;
    }
    // p * n first: exact for integral p and any realistic n, where p / 100 * n would round.
    let rank = ((p * n as f64) / 100.0).ceil() as usize;
    Some(rank.clamp(1, n) - 1)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank_percentiles() {
        // The textbook example: 15, 20, 35, 40, 50.
        let v = [15, 20, 35, 40, 50];
        assert_eq!(percentile(&v, 0.0), Some(15));
        assert_eq!(percentile(&v, 5.0), Some(15));
        assert_eq!(percentile(&v, 30.0), Some(20));
        assert_eq!(percentile(&v, 40.0), Some(20));
        assert_eq!(percentile(&v, 50.0), Some(35));
        assert_eq!(percentile(&v, 100.0), Some(50));
    }

    #[test]
    fn edge_cases() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7], 0.0), Some(7));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        // p99 of 1..=100 is exactly the 99th value, not the 100th (no float round-up).
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 99.0), Some(99));
        assert_eq!(percentile(&hundred, 99.5), Some(100));
        assert_eq!(percentile(&hundred, 50.0), Some(50));
        // Two values: the median is the lower one.
        assert_eq!(percentile(&[1, 9], 50.0), Some(1));
        assert_eq!(percentile(&[1, 9], 50.1), Some(9));
    }

    #[test]
    #[should_panic(expected = "outside [0, 100]")]
    fn a_fraction_above_100_is_a_bug() {
        percentile(&[1], 101.0);
    }
}
