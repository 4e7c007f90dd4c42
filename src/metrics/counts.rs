//! Exact summaries in memory that does not grow with the run: a multiset of integer samples kept
//! as value -> count ([`Counts`]), and a set of ids kept as disjoint ranges ([`IdSet`]).
//!
//! Latencies are whole microseconds, so a count per distinct value gives the very same mean and
//! nearest-rank percentiles as the sorted list of every sample (no bucketing, no estimate), in
//! memory bounded by the number of distinct values (at most the largest latency, in µs) instead
//! of the number of samples. Op ids are handed out in order and mostly applied in order, so the
//! set of applied ids is a few ranges: memory grows with the gaps (ops never applied), not with
//! the ops.

use std::collections::BTreeMap;

use super::{percentile_index, MetricValue};

/// A multiset of `u64` samples: value -> how many times it was seen.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    counts: BTreeMap<u64, u64>,
    n: u64,
    sum: u128,
}

impl Counts {
    pub fn push(&mut self, value: u64) {
        *self.counts.entry(value).or_insert(0) += 1;
        self.n += 1;
        self.sum += u128::from(value);
    }

    pub fn len(&self) -> u64 {
        self.n
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Distinct values held (the memory).
    pub fn distinct(&self) -> usize {
        self.counts.len()
    }

    /// The exact mean (integer sum, one division), Missing when empty: what the mean of the
    /// sorted samples gives.
    pub fn mean(&self) -> MetricValue {
        if self.n == 0 {
            return MetricValue::Missing;
        }
        MetricValue::Float(self.sum as f64 / self.n as f64)
    }

    /// The nearest-rank `p`-th percentile, as [`super::percentile`] of the sorted samples.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        let rank = percentile_index(usize::try_from(self.n).ok()?, p)? as u64;
        let mut below = 0u64;
        for (&value, &count) in &self.counts {
            below += count;
            if rank < below {
                return Some(value);
            }
        }
        None
    }

    pub fn max(&self) -> Option<u64> {
        self.counts.keys().next_back().copied()
    }
}

/// A set of `u64` ids as disjoint half-open ranges `start -> end`, adjacent ranges merged.
#[derive(Clone, Debug, Default)]
pub struct IdSet {
    ranges: BTreeMap<u64, u64>,
    len: u64,
}

impl IdSet {
    pub fn contains(&self, id: u64) -> bool {
        self.ranges.range(..=id).next_back().is_some_and(|(_, &end)| id < end)
    }

    /// Adds `id`; false if it was there already.
    pub fn insert(&mut self, id: u64) -> bool {
        if self.contains(id) {
            return false;
        }
        self.len += 1;
        let end = id.saturating_add(1);
        let before = self.ranges.range(..id).next_back().filter(|(_, &e)| e == id).map(|(&s, _)| s);
        let after = self.ranges.remove(&end);
        match (before, after) {
            (Some(start), Some(after_end)) => {
                self.ranges.insert(start, after_end);
            }
            (Some(start), None) => {
                self.ranges.insert(start, end);
            }
            (None, Some(after_end)) => {
                self.ranges.insert(id, after_end);
            }
            (None, None) => {
                self.ranges.insert(id, end);
            }
        }
        true
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Ranges held (the memory).
    pub fn ranges(&self) -> usize {
        self.ranges.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::percentile;
    use rand::{Rng, SeedableRng};

    #[test]
    fn counts_give_the_figures_of_the_sorted_samples() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [0usize, 1, 2, 3, 10, 99, 100, 101, 1000] {
            let samples: Vec<u64> = (0..n).map(|_| rng.gen_range(0..50)).collect();
            let mut counts = Counts::default();
            samples.iter().for_each(|&v| counts.push(v));
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            for p in [0.0, 1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 100.0] {
                assert_eq!(counts.percentile(p), percentile(&sorted, p), "n={n} p={p}");
            }
            assert_eq!(counts.max(), sorted.last().copied());
            let mean = if n == 0 {
                MetricValue::Missing
            } else {
                MetricValue::Float(sorted.iter().map(|&v| v as u128).sum::<u128>() as f64 / n as f64)
            };
            assert_eq!(counts.mean(), mean);
            assert!(counts.distinct() <= 50);
        }
    }

    #[test]
    fn id_set_merges_ranges_and_answers_membership() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut set = IdSet::default();
        let mut plain = std::collections::BTreeSet::new();
        for _ in 0..5_000 {
            let id = rng.gen_range(0..2_000);
            assert_eq!(set.insert(id), plain.insert(id), "insert {id}");
        }
        assert_eq!(set.len(), plain.len() as u64);
        for id in 0..2_100 {
            assert_eq!(set.contains(id), plain.contains(&id), "contains {id}");
        }
        // Ranges are maximal: one per run of consecutive ids.
        let runs = plain.iter().filter(|&&id| id == 0 || !plain.contains(&(id - 1))).count();
        assert_eq!(set.ranges(), runs);
    }

    #[test]
    fn in_order_ids_take_one_range() {
        let mut set = IdSet::default();
        for id in 1..=1_000_000 {
            set.insert(id);
        }
        assert_eq!((set.len(), set.ranges()), (1_000_000, 1));
    }
}
