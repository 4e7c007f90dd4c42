//! Run metrics: numbers computed from the trace rows of one run, for `dsim run`'s summary and for
//! sweeps. Like the checkers they observe rows, so the same figures can be recomputed from a file.

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
