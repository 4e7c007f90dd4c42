//! Exact summaries in memory that does not grow with the run: a multiset of integer samples kept
//! as value -> count ([`Counts`]), and a set of ids kept as a window of bits over the newest ids
//! and disjoint ranges below it ([`IdSet`]).
//!
//! Latencies are whole microseconds, so a count per distinct value gives the very same mean and
//! nearest-rank percentiles as the sorted list of every sample (no bucketing, no estimate), in
//! memory bounded by the values seen instead of the number of samples: an array indexed by the
//! value for values below [`DENSE`] (one add per sample, no search; allocated in 16 KiB chunks
//! where values fall), a tree for the rare larger ones. Op ids are handed out in order and mostly
//! applied in order, so the set of applied ids is a few ranges: memory grows with the gaps (ops
//! never applied), not with the ops; the newest ids, where every insert lands, sit in a bounded
//! window of bits instead, one bit to set per insert.

use std::collections::{BTreeMap, VecDeque};

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

/// The bit window of an [`IdSet`] spans at most this many 64-bit words (16384 ids, 2 KiB).
const WINDOW_WORDS: usize = 256;

/// A set of `u64` ids: a window of bits over the newest ids, disjoint half-open ranges
/// `start -> end` (adjacent ones merged) below it.
///
/// Op ids are handed out in order, and every node applies each one: an insert almost always
/// falls in the window, one bit to test and set (O(1), no allocation once the window is full),
/// where a lookup in the tree of ranges costs a search. Ids refused and never applied leave holes
/// in the window, which the ranges below it then carry. The window slides up when a larger id
/// arrives; the words it leaves become ranges.
#[derive(Clone, Debug, Default)]
pub struct IdSet {
    /// Every id held below `start`, as ranges.
    ranges: BTreeMap<u64, u64>,
    /// `bits[w] >> b & 1`: whether `start + 64 w + b` is held; at most [`WINDOW_WORDS`] words.
    bits: VecDeque<u64>,
    /// The first id of the window, a multiple of 64.
    start: u64,
    len: u64,
}

impl IdSet {
    pub fn contains(&self, id: u64) -> bool {
        if id >= self.start {
            let w = (id - self.start) / 64;
            return usize::try_from(w)
                .ok()
                .and_then(|w| self.bits.get(w))
                .is_some_and(|word| word >> (id % 64) & 1 == 1);
        }
        self.ranges.range(..=id).next_back().is_some_and(|(_, &end)| id < end)
    }

    /// Adds `id`; false if it was there already.
    pub fn insert(&mut self, id: u64) -> bool {
        if id < self.start {
            return self.insert_below(id);
        }
        let w = (id - self.start) / 64;
        let w = match usize::try_from(w) {
            Ok(w) if w < WINDOW_WORDS => w,
            _ => self.slide(id),
        };
        if w >= self.bits.len() {
            self.bits.resize(w + 1, 0);
        }
        let bit = 1u64 << (id % 64);
        let word = &mut self.bits[w];
        if *word & bit != 0 {
            return false;
        }
        *word |= bit;
        self.len += 1;
        true
    }

    /// Slides the window up so that it holds `id` (beyond its last word), turning the words it
    /// leaves into ranges; returns `id`'s word.
    #[cold]
    fn slide(&mut self, id: u64) -> usize {
        let id_word = id / 64;
        // The new window ends at `id`'s word, or starts where the old one ended if that is higher.
        let old_end = self.start / 64 + self.bits.len() as u64;
        let new_start = id_word.saturating_sub(WINDOW_WORDS as u64 - 1).max(self.start / 64);
        while self.start / 64 < new_start.min(old_end) {
            let word = self.bits.pop_front().unwrap_or(0);
            self.flush_word(word);
            self.start += 64;
        }
        if self.bits.is_empty() {
            self.start = new_start * 64;
        }
        (id_word - self.start / 64) as usize
    }

    /// Adds the ids of the window's first word (`start ..`) to the ranges, above every range.
    fn flush_word(&mut self, mut word: u64) {
        while word != 0 {
            let from = u64::from(word.trailing_zeros());
            // The run of set bits from `from`: the lowest clear bit above it ends it.
            let run = (!(word >> from)).trailing_zeros().min(64 - from as u32);
            let (lo, hi) = (self.start + from, self.start + from + u64::from(run));
            match self.ranges.last_entry() {
                Some(mut last) if *last.get() == lo => *last.get_mut() = hi,
                _ => {
                    self.ranges.insert(lo, hi);
                }
            }
            word &= if from + u64::from(run) >= 64 { 0 } else { !0u64 << (from + u64::from(run)) };
        }
    }

    /// Adds `id`, below the window, to the ranges.
    fn insert_below(&mut self, id: u64) -> bool {
        if self.ranges.range(..=id).next_back().is_some_and(|(_, &end)| id < end) {
            return false;
        }
        self.len += 1;
        let end = id + 1; // below `start`: no overflow
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

    /// Runs of consecutive ids held (the memory, for the tests): the ranges, plus the runs in the
    /// window, less one where a run crosses from the ranges into the window.
    pub fn ranges(&self) -> usize {
        let mut runs = self.ranges.len();
        let mut prev = self.ranges.last_key_value().is_some_and(|(_, &end)| end == self.start);
        for &word in &self.bits {
            for b in 0..64 {
                let held = word >> b & 1 == 1;
                runs += usize::from(held && !prev);
                prev = held;
            }
        }
        runs
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

    /// Ids rising with stragglers well behind, holes, and jumps far ahead: the window slides,
    /// and the set still answers like a plain one.
    #[test]
    fn id_set_slides_its_window() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut set = IdSet::default();
        let mut plain = std::collections::BTreeSet::new();
        let mut next = 1u64;
        for k in 0..60_000 {
            let id = match rng.gen_range(0..20) {
                0 => next.saturating_sub(rng.gen_range(0..40_000)),
                1 if k % 1000 == 0 => {
                    next += rng.gen_range(0..100_000);
                    next
                }
                2 => next + rng.gen_range(0..200),
                _ => {
                    next += rng.gen_range(1..3);
                    next
                }
            };
            assert_eq!(set.insert(id), plain.insert(id), "insert {id}");
        }
        for id in [u64::MAX, u64::MAX - 1, u64::MAX - 64, 0] {
            assert_eq!(set.insert(id), plain.insert(id), "insert {id}");
        }
        assert_eq!(set.len(), plain.len() as u64);
        for id in (0..next + 300).chain(u64::MAX - 200..=u64::MAX) {
            assert_eq!(set.contains(id), plain.contains(&id), "contains {id}");
        }
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
