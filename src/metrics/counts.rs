//! Exact summaries in memory that does not grow with the run: a multiset of integer samples kept
//! as value -> count ([`Counts`]), and a set of ids kept as disjoint ranges ([`IdSet`]).
//!
//! Latencies are whole microseconds, so a count per distinct value gives the very same mean and
//! nearest-rank percentiles as the sorted list of every sample (no bucketing, no estimate), in
//! memory bounded by the values seen instead of the number of samples: an array indexed by the
//! value for values below [`DENSE`] (one add per sample, no search; allocated in 16 KiB chunks
//! where values fall), a tree for the rare larger ones. Op ids are handed out in order and mostly
//! applied in order, so the set of applied ids is a few ranges: memory grows with the gaps (ops
//! never applied), not with the ops.

use std::collections::BTreeMap;

use super::{percentile_index, MetricValue};

/// Values below this are counted in an array indexed by the value (65.5 ms of µs: 512 KiB at
/// most), the others in a tree.
pub const DENSE: u64 = 1 << 16;

/// The dense counts are allocated in chunks of `1 << CHUNK_SHIFT` values (16 KiB).
const CHUNK_SHIFT: u32 = 11;
const CHUNK_MASK: usize = (1 << CHUNK_SHIFT) - 1;

/// `blocks[b]` counts the values `b << BLOCK_SHIFT ..` of the dense counts, so a percentile scans
/// a few hundred blocks and one block instead of every value up to the largest.
const BLOCK_SHIFT: u32 = 8;

/// A multiset of `u64` samples: value -> how many times it was seen.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// `dense[v >> CHUNK_SHIFT][v & CHUNK_MASK]`: how many times `v` (< [`DENSE`]) was seen, in
    /// chunks allocated when a value first falls in them. One array of [`DENSE`] counts would be
    /// 512 KiB, above the allocator's mmap threshold: every short run of a sweep then paid fresh
    /// zeroed pages (4.4x the page faults of the whole default sweep); 16 KiB chunks come from, and
    /// go back to, the heap.
    dense: Vec<Option<Box<[u64]>>>,
    /// The largest value below [`DENSE`] seen.
    dense_max: Option<u64>,
    /// `blocks[b]`: the sum of the counts of the values `b << BLOCK_SHIFT ..` `(b + 1) << BLOCK_SHIFT`.
    blocks: Vec<u64>,
    /// Value (>= [`DENSE`]) -> how many times it was seen.
    sparse: BTreeMap<u64, u64>,
    distinct: usize,
    n: u64,
    sum: u128,
}

impl Counts {
    pub fn push(&mut self, value: u64) {
        if value < DENSE {
            let i = value as usize;
            let c = i >> CHUNK_SHIFT;
            if c >= self.dense.len() {
                self.dense.resize_with(c + 1, || None);
                self.blocks.resize((c + 1) << (CHUNK_SHIFT - BLOCK_SHIFT), 0);
            }
            let chunk = self.dense[c].get_or_insert_with(|| vec![0; 1 << CHUNK_SHIFT].into_boxed_slice());
            let count = &mut chunk[i & CHUNK_MASK];
            self.distinct += usize::from(*count == 0);
            *count += 1;
            self.blocks[i >> BLOCK_SHIFT] += 1;
            self.dense_max = self.dense_max.max(Some(value));
        } else {
            let count = self.sparse.entry(value).or_insert(0);
            self.distinct += usize::from(*count == 0);
            *count += 1;
        }
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
        self.distinct
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
        for (b, &in_block) in self.blocks.iter().enumerate() {
            if rank >= below + in_block {
                below += in_block;
                continue;
            }
            let first = b << BLOCK_SHIFT;
            // A block with samples lies in one allocated chunk (blocks divide chunks).
            let chunk = self.dense[first >> CHUNK_SHIFT].as_deref().unwrap_or(&[]);
            let block = chunk.get(first & CHUNK_MASK..).unwrap_or(&[]);
            for (value, &count) in block.iter().take(1 << BLOCK_SHIFT).enumerate() {
                below += count;
                if rank < below {
                    return Some((first + value) as u64);
                }
            }
        }
        for (&value, &count) in &self.sparse {
            below += count;
            if rank < below {
                return Some(value);
            }
        }
        None
    }

    pub fn max(&self) -> Option<u64> {
        self.sparse.keys().next_back().copied().or(self.dense_max)
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
        // Ids mostly come in order (and again, once per node applying them): one held by the
        // last range is there already; one just past it extends it (nothing starts after it).
        if let Some(mut last) = self.ranges.last_entry() {
            let (start, end) = (*last.key(), *last.get());
            if (start..end).contains(&id) {
                return false;
            }
            if id == end && id < u64::MAX {
                *last.get_mut() = id + 1;
                self.len += 1;
                return true;
            }
        }
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
            // Small values (the array, in one block or several) and large ones (the tree), either side
            // of the border.
            let samples: Vec<u64> = (0..n)
                .map(|_| match rng.gen_range(0..5) {
                    0 => DENSE - 1 - rng.gen_range(0..10),
                    1 => DENSE + rng.gen_range(0..10),
                    2 => rng.gen_range(0..2_000), // over several blocks
                    _ => rng.gen_range(0..30),
                })
                .collect();
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
            let mut values = sorted.clone();
            values.dedup();
            assert_eq!(counts.distinct(), values.len());
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
