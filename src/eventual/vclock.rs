//! Vector clocks (Lamport 1978; Fidge 1988; Mattern 1989), as Dynamo uses them to version values.
//!
//! A clock is one counter per node, indexed by node id; a missing entry is 0. Two clocks are
//! ordered only when one is pointwise `<=` the other ("descends" in Dynamo §4.4); otherwise they are
//! concurrent and neither write knew of the other. [`VClock::compare`] returns all four outcomes.
//!
//! [`seed_is_newer`] is the textbook's comparison, kept on purpose for `mode = "seed"`: it calls a
//! clock newer when *any* entry is greater, so `[1,0]` and `[0,1]` are each "newer" than the other
//! and replicas that apply whatever arrives last can disagree forever.

use std::cmp::Ordering;

use crate::sim::NodeId;
use crate::trace::Clock;

/// Largest node index a clock accepts: clocks are dense vectors, so this bounds their size.
pub const NODES_MAX: u32 = 1 << 12;

/// The four ways two vector clocks can relate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ordering4 {
    /// `self` happened before `other`: pointwise `<=` and not equal.
    Before,
    /// `self` descends from `other`: pointwise `>=` and not equal.
    After,
    Equal,
    /// Neither descends from the other.
    Concurrent,
}

/// A vector clock. Invariant: no trailing zero entries, so equal clocks have equal vectors
/// (derived `Eq`/`Hash` are then the clock equality).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VClock {
    counters: Counters,
}

/// Counters kept inline up to this many nodes (the shipped scenarios have 3 to 5).
const INLINE: usize = 6;

/// A clock's counters: inline up to [`INLINE`] entries, on the heap beyond. Versions, digests and
/// trace cells copy clocks all the time; with a `Vec` every copy was an allocation and a free
/// (≈ a third of an eventual KV run's instructions went to malloc/free). Reads go through the
/// slice (`Deref`), so equality, hashing and order are those of the counter slice, as with the
/// `Vec` before.
#[derive(Clone)]
enum Counters {
    Inline { len: u8, buf: [u64; INLINE] },
    Heap(Vec<u64>),
}

impl Default for Counters {
    fn default() -> Counters {
        Counters::Inline { len: 0, buf: [0; INLINE] }
    }
}

impl Counters {
    fn from_slice(c: &[u64]) -> Counters {
        if c.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..c.len()].copy_from_slice(c);
            Counters::Inline { len: c.len() as u8, buf }
        } else {
            Counters::Heap(c.to_vec())
        }
    }

    /// Grows to `n` entries, the new ones 0 (never shrinks).
    fn grow_to(&mut self, n: usize) {
        match self {
            Counters::Inline { len, .. } if n <= usize::from(*len) => {}
            // Entries past `len` are kept 0 (see `pop`), so they need no clearing.
            Counters::Inline { len, .. } if n <= INLINE => *len = n as u8,
            Counters::Inline { len, buf } => {
                let mut v = buf[..usize::from(*len)].to_vec();
                v.resize(n, 0);
                *self = Counters::Heap(v);
            }
            Counters::Heap(v) => {
                if v.len() < n {
                    v.resize(n, 0);
                }
            }
        }
    }

    fn pop(&mut self) {
        match self {
            Counters::Inline { len, buf } => {
                if *len > 0 {
                    *len -= 1;
                    buf[usize::from(*len)] = 0;
                }
            }
            Counters::Heap(v) => {
                v.pop();
            }
        }
    }
}

impl std::ops::Deref for Counters {
    type Target = [u64];
    fn deref(&self) -> &[u64] {
        match self {
            Counters::Inline { len, buf } => &buf[..usize::from(*len)],
            Counters::Heap(v) => v,
        }
    }
}

impl std::ops::DerefMut for Counters {
    fn deref_mut(&mut self) -> &mut [u64] {
        match self {
            Counters::Inline { len, buf } => &mut buf[..usize::from(*len)],
            Counters::Heap(v) => v,
        }
    }
}

impl PartialEq for Counters {
    fn eq(&self, other: &Counters) -> bool {
        self[..] == other[..]
    }
}

impl Eq for Counters {}

impl std::hash::Hash for Counters {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self[..].hash(state)
    }
}

impl std::fmt::Debug for Counters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self[..].fmt(f)
    }
}

impl VClock {
    pub fn new() -> VClock {
        VClock::default()
    }

    /// A clock from counters indexed by node id (trailing zeros are dropped).
    pub fn from_counters(counters: &[u64]) -> VClock {
        assert!(counters.len() <= NODES_MAX as usize, "clock with {} entries", counters.len());
        let mut clock = VClock { counters: Counters::from_slice(counters) };
        clock.trim();
        clock
    }

    /// The clock a trace cell shows.
    pub fn from_trace(clock: &Clock) -> VClock {
        let pairs = clock.pairs();
        // The usual cell (spelt by `to_trace`, or parsed): nodes ascending, no zero count, so the
        // dense clock ends at the last pair's node and needs no trimming. Checkers and metrics read
        // a clock cell from most eventual KV rows; this path fills the inline buffer directly.
        if let Some((last, _)) = pairs.last() {
            if last.index() < INLINE
                && pairs.iter().all(|(_, c)| *c > 0)
                && pairs.windows(2).all(|w| w[0].0 < w[1].0)
            {
                let mut buf = [0; INLINE];
                for (node, count) in pairs {
                    buf[node.index()] = *count;
                }
                return VClock { counters: Counters::Inline { len: last.index() as u8 + 1, buf } };
            }
        }
        // Sized once and trimmed once (checkers and metrics read a clock cell from most rows);
        // a node named twice keeps its last count, as one `set` per entry did.
        let mut out = VClock::new();
        let mut len = 0;
        for (node, _) in clock.pairs() {
            assert!(node.0 < NODES_MAX, "node {node} beyond the clock limit {NODES_MAX}");
            len = len.max(node.index() + 1);
        }
        out.counters.grow_to(len);
        for (node, count) in clock.pairs() {
            out.counters[node.index()] = *count;
        }
        out.trim();
        out
    }

    /// Counters indexed by node id, without trailing zeros.
    pub fn counters(&self) -> &[u64] {
        &self.counters
    }

    pub fn get(&self, node: NodeId) -> u64 {
        self.counters.get(node.index()).copied().unwrap_or(0)
    }

    fn set(&mut self, node: NodeId, count: u64) {
        assert!(node.0 < NODES_MAX, "node {node} beyond the clock limit {NODES_MAX}");
        self.counters.grow_to(node.index() + 1);
        self.counters[node.index()] = count;
        self.trim();
    }

    fn trim(&mut self) {
        while self.counters.last() == Some(&0) {
            self.counters.pop();
        }
    }

    /// Raises `node`'s entry to `count` if it is lower: `merge` with a clock whose only entry is
    /// that one, without building it.
    pub fn raise(&mut self, node: NodeId, count: u64) {
        if count > self.get(node) {
            self.set(node, count);
        }
    }

    /// Bumps `node`'s entry: the event of a write coordinated by `node`.
    pub fn increment(&mut self, node: NodeId) {
        let next = self.get(node).checked_add(1).expect("vector clock counter overflow");
        self.set(node, next);
    }

    /// Pointwise maximum: the least clock that descends from both.
    pub fn merge(&mut self, other: &VClock) {
        self.counters.grow_to(other.counters.len());
        for (mine, theirs) in self.counters.iter_mut().zip(other.counters.iter()) {
            *mine = (*mine).max(*theirs);
        }
    }

    /// `merge` without mutation.
    pub fn joined(&self, other: &VClock) -> VClock {
        let mut out = self.clone();
        out.merge(other);
        out
    }

    /// How `self` relates to `other` (Dynamo §4.4: a version descends from another when its clock
    /// is pointwise greater or equal).
    pub fn compare(&self, other: &VClock) -> Ordering4 {
        let (a, b) = (&self.counters[..], &other.counters[..]);
        // No trailing zeros (the invariant): the longer clock has a non-zero entry past the
        // shorter one's end, where the shorter reads 0, so the tail decides one direction unseen.
        let (mut less, mut greater) = (a.len() < b.len(), a.len() > b.len());
        for (x, y) in a.iter().zip(b) {
            less |= x < y;
            greater |= x > y;
        }
        match (less, greater) {
            (false, false) => Ordering4::Equal,
            (true, false) => Ordering4::Before,
            (false, true) => Ordering4::After,
            (true, true) => Ordering4::Concurrent,
        }
    }

    /// `self >= other` pointwise: `other` is included in (or equal to) `self`.
    pub fn descends(&self, other: &VClock) -> bool {
        matches!(self.compare(other), Ordering4::After | Ordering4::Equal)
    }

    /// Sum of the entries: the number of writes this clock has seen. A write's clock sum is larger
    /// than the sum of every clock it descends from, so the sum is a Lamport timestamp.
    pub fn sum(&self) -> u64 {
        self.counters.iter().fold(0u64, |acc, c| acc.saturating_add(*c))
    }

    /// The trace spelling (`n0:2;n3:1`).
    pub fn to_trace(&self) -> Clock {
        Clock::from_counters(&self.counters)
    }

    /// Total order on the counter vectors, used only to sort version sets canonically.
    pub fn canonical_cmp(&self, other: &VClock) -> Ordering {
        self.counters[..].cmp(&other.counters[..])
    }
}

impl VClock {
    /// Appends the `Display` spelling to `out` (`{}` for the zero clock, else the trace's `n0:2;n3:1`)
    /// without the formatting machinery or a temporary [`Clock`]: conflict rows spell two clocks each.
    pub fn write_to(&self, out: &mut String) {
        if self.counters.is_empty() {
            out.push_str("{}");
            return;
        }
        let mut digits = itoa::Buffer::new();
        let mut first = true;
        for (i, c) in self.counters.iter().enumerate() {
            if *c == 0 {
                continue;
            }
            if !first {
                out.push(';');
            }
            first = false;
            out.push('n');
            push_uint(out, i as u64, &mut digits);
            out.push(':');
            push_uint(out, *c, &mut digits);
        }
    }
}

/// Appends `n` in decimal: up to two digits by hand (node ids, most counters), `itoa` beyond; a
/// `push_str` per number cost a `memcpy` call each, two per entry of every conflict row's clocks.
fn push_uint(out: &mut String, n: u64, digits: &mut itoa::Buffer) {
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
    } else if n < 100 {
        out.push(char::from(b'0' + (n / 10) as u8));
        out.push(char::from(b'0' + (n % 10) as u8));
    } else {
        out.push_str(digits.format(n));
    }
}

impl std::fmt::Display for VClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::new();
        self.write_to(&mut s);
        f.write_str(&s)
    }
}

/// The textbook's comparison, reproduced for `mode = "seed"`: `remote` is "newer" than `local` as
/// soon as *any* entry of `remote` is greater. Wrong for concurrent clocks — both directions are
/// "newer" — which is exactly the defect the seed mode exhibits.
pub fn seed_is_newer(remote: &VClock, local: &VClock) -> bool {
    remote.counters.iter().enumerate().any(|(i, c)| *c > local.counters.get(i).copied().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vc(counters: &[u64]) -> VClock {
        VClock::from_counters(counters)
    }

    #[test]
    fn from_trace_inverts_to_trace() {
        for counters in [&[][..], &[2, 0, 0, 1], &[0, 7], &[12, 345, 6789]] {
            assert_eq!(VClock::from_trace(&vc(counters).to_trace()), vc(counters), "{counters:?}");
        }
        // A hand-made cell with a zero entry still gives the trimmed clock.
        let cell = Clock::from_pairs(vec![(NodeId(0), 3), (NodeId(4), 0)]);
        assert_eq!(VClock::from_trace(&cell), vc(&[3]));
        // Out of order, and a node named twice: its last count holds.
        let cell = Clock::from_pairs(vec![(NodeId(2), 1), (NodeId(0), 4), (NodeId(2), 0), (NodeId(1), 6)]);
        assert_eq!(VClock::from_trace(&cell), vc(&[4, 6]));
    }

    #[test]
    fn display_is_the_trace_spelling() {
        assert_eq!(vc(&[]).to_string(), "{}");
        for counters in [&[2, 0, 0, 1][..], &[0, 7], &[12, 345, 6789], &[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]]
        {
            assert_eq!(vc(counters).to_string(), vc(counters).to_trace().to_string(), "{counters:?}");
        }
    }

    #[test]
    fn compare_covers_four_outcomes() {
        assert_eq!(vc(&[1, 0]).compare(&vc(&[1, 0])), Ordering4::Equal);
        assert_eq!(vc(&[1, 0]).compare(&vc(&[1, 1])), Ordering4::Before);
        assert_eq!(vc(&[2, 1]).compare(&vc(&[1, 1])), Ordering4::After);
        assert_eq!(vc(&[1, 0]).compare(&vc(&[0, 1])), Ordering4::Concurrent);
        // Missing entries are zeros: [1] equals [1, 0, 0].
        assert_eq!(vc(&[1]).compare(&vc(&[1, 0, 0])), Ordering4::Equal);
        assert_eq!(vc(&[1]), vc(&[1, 0, 0]));
        assert_eq!(VClock::new().compare(&vc(&[0, 0, 1])), Ordering4::Before);
    }

    #[test]
    fn increment_and_trace_spelling() {
        let mut c = VClock::new();
        c.increment(NodeId(3));
        c.increment(NodeId(0));
        c.increment(NodeId(0));
        assert_eq!(c.counters(), &[2, 0, 0, 1]);
        assert_eq!(c.to_trace().to_string(), "n0:2;n3:1");
        assert_eq!(VClock::from_trace(&c.to_trace()), c);
        assert_eq!(c.sum(), 3);
    }

    /// Dynamo §4.4, Figure 3: Sx writes D1 and D2; Sy and Sz each write on top of D2 (D3, D4),
    /// concurrently; a client reconciles both and Sx writes D5.
    #[test]
    fn dynamo_figure_3_d1_to_d5() {
        let (sx, sy, sz) = (NodeId(0), NodeId(1), NodeId(2));
        let mut d1 = VClock::new();
        d1.increment(sx);
        let mut d2 = d1.clone();
        d2.increment(sx);
        let mut d3 = d2.clone();
        d3.increment(sy);
        let mut d4 = d2.clone();
        d4.increment(sz);
        let mut d5 = d3.joined(&d4);
        d5.increment(sx);
        assert_eq!(d2.compare(&d1), Ordering4::After, "D2 overwrites D1");
        assert_eq!(d3, vc(&[2, 1, 0]));
        assert_eq!(d4, vc(&[2, 0, 1]));
        assert_eq!(d3.compare(&d4), Ordering4::Concurrent, "D3 and D4 are siblings");
        assert_eq!(d5, vc(&[3, 1, 1]));
        assert_eq!(d5.compare(&d3), Ordering4::After);
        assert_eq!(d5.compare(&d4), Ordering4::After);
        assert_eq!(d1.compare(&d5), Ordering4::Before);
    }

    /// The textbook's rule calls each of two concurrent clocks newer than the other.
    #[test]
    fn seed_is_newer_is_not_antisymmetric() {
        let (a, b) = (vc(&[1, 0]), vc(&[0, 1]));
        assert!(seed_is_newer(&a, &b));
        assert!(seed_is_newer(&b, &a));
        assert_eq!(a.compare(&b), Ordering4::Concurrent);
        // On ordered clocks it agrees with the real order.
        assert!(seed_is_newer(&vc(&[2, 1]), &vc(&[1, 1])));
        assert!(!seed_is_newer(&vc(&[1, 1]), &vc(&[2, 1])));
        assert!(!seed_is_newer(&vc(&[1, 1]), &vc(&[1, 1])));
    }

    fn clock() -> impl Strategy<Value = VClock> {
        prop::collection::vec(0u64..4, 0..5).prop_map(|c| VClock::from_counters(&c))
    }

    fn flip(o: Ordering4) -> Ordering4 {
        match o {
            Ordering4::Before => Ordering4::After,
            Ordering4::After => Ordering4::Before,
            other => other,
        }
    }

    proptest! {
        /// The length shortcut in `compare` agrees with the pointwise definition, missing = 0.
        #[test]
        fn compare_is_pointwise(a in clock(), b in clock()) {
            let len = a.counters().len().max(b.counters().len());
            let at = |c: &VClock, i: usize| c.counters().get(i).copied().unwrap_or(0);
            let less = (0..len).any(|i| at(&a, i) < at(&b, i));
            let greater = (0..len).any(|i| at(&a, i) > at(&b, i));
            let expected = match (less, greater) {
                (false, false) => Ordering4::Equal,
                (true, false) => Ordering4::Before,
                (false, true) => Ordering4::After,
                (true, true) => Ordering4::Concurrent,
            };
            prop_assert_eq!(a.compare(&b), expected);
        }

        #[test]
        fn compare_is_antisymmetric(a in clock(), b in clock()) {
            prop_assert_eq!(a.compare(&b), flip(b.compare(&a)));
            prop_assert_eq!(a.compare(&b) == Ordering4::Equal, a == b);
        }

        #[test]
        fn descends_is_transitive(a in clock(), b in clock(), c in clock()) {
            if a.descends(&b) && b.descends(&c) {
                prop_assert!(a.descends(&c));
            }
            if a.compare(&b) == Ordering4::After && b.compare(&c) == Ordering4::After {
                prop_assert_eq!(a.compare(&c), Ordering4::After);
            }
        }

        #[test]
        fn raise_is_a_merge_with_one_entry(a in clock(), node in 0u32..6, count in 0u64..4) {
            let mut one = vec![0; node as usize + 1];
            one[node as usize] = count;
            let mut raised = a.clone();
            raised.raise(NodeId(node), count);
            prop_assert_eq!(raised, a.joined(&VClock::from_counters(&one)));
        }

        #[test]
        fn merge_is_a_semilattice_join(a in clock(), b in clock(), c in clock()) {
            prop_assert_eq!(a.joined(&b), b.joined(&a));
            prop_assert_eq!(a.joined(&b).joined(&c), a.joined(&b.joined(&c)));
            prop_assert_eq!(a.joined(&a), a.clone());
            let j = a.joined(&b);
            prop_assert!(j.descends(&a) && j.descends(&b));
            // Least upper bound: any clock above both is above the join.
            if c.descends(&a) && c.descends(&b) {
                prop_assert!(c.descends(&j));
            }
        }

        #[test]
        fn increment_moves_strictly_after(a in clock(), n in 0u32..5) {
            let mut b = a.clone();
            b.increment(NodeId(n));
            prop_assert_eq!(b.compare(&a), Ordering4::After);
            prop_assert_eq!(b.sum(), a.sum() + 1);
        }

        #[test]
        fn seed_rule_agrees_only_on_ordered_clocks(a in clock(), b in clock()) {
            match a.compare(&b) {
                Ordering4::After => prop_assert!(seed_is_newer(&a, &b) && !seed_is_newer(&b, &a)),
                Ordering4::Equal => prop_assert!(!seed_is_newer(&a, &b)),
                Ordering4::Concurrent => prop_assert!(seed_is_newer(&a, &b) && seed_is_newer(&b, &a)),
                Ordering4::Before => prop_assert!(!seed_is_newer(&a, &b)),
            }
        }

        #[test]
        fn trace_round_trip(a in clock()) {
            prop_assert_eq!(VClock::from_trace(&a.to_trace()), a);
        }
    }
}
