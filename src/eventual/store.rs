//! A replica's data: per key, the set of versions it holds, and the rule that merges versions.
//!
//! Three rules, one per design:
//! - `Siblings` (Dynamo §4.4): keep every version no other held version descends from; a version
//!   strictly dominated by another is dropped. The set is the maximal antichain of all versions
//!   seen, so merging is set union followed by "keep the maximal ones" — commutative, associative
//!   and idempotent, hence replicas that saw the same versions hold the same set in any order.
//! - `Lww`: one version per key. The winner is the version with the largest [`Stamp`]
//!   `(lamport, coordinator, value)`, and it carries the *join* of all merged clocks, so later
//!   comparisons see it as descending from every loser. Max and join are both semilattices, so
//!   their product is too. The stamp respects causality: a write's `lamport` is its clock's sum,
//!   and a coordinator's new clock is the join of everything it holds plus one, so a write that
//!   descends from another has a strictly larger sum (proptest `lww_stamp_respects_causality`).
//! - `Seed`: the textbook — a received version replaces the held one when [`seed_is_newer`] says
//!   so. Not commutative: the outcome depends on arrival order, on purpose.
//!
//! Sets are kept sorted by (value, clock) so equal contents compare and print equal.

use std::cell::Cell;
use std::collections::BTreeMap;

use crate::eventual::vclock::{seed_is_newer, Ordering4, VClock};
use crate::sim::NodeId;
use crate::trace::Value;

/// The LWW tiebreak fixed when the write is made: later in this order wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    /// Sum of the write's clock: a Lamport timestamp that grows along causality.
    pub lamport: u64,
    pub coordinator: NodeId,
}

/// One version of a key's value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    /// The client's value id (unique per write in a run).
    pub value: u64,
    /// The write's clock (siblings, seed), or the join of every merged clock (lww).
    pub clock: VClock,
    pub stamp: Stamp,
}

impl Version {
    /// A fresh write by `coordinator` whose clock is `clock`.
    pub fn write(value: u64, clock: VClock, coordinator: NodeId) -> Version {
        let stamp = Stamp { lamport: clock.sum(), coordinator };
        Version { value, clock, stamp }
    }

    /// The LWW order: stamp, then value id (unique), so two distinct writes never tie.
    fn lww_key(&self) -> (Stamp, u64) {
        (self.stamp, self.value)
    }
}

/// How versions of one key combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rule {
    Siblings,
    /// A deliberate bug (`eventual.bug = "any_entry_greater"`): `Siblings` with the seed's
    /// comparison, so a version is dropped when another has ANY larger entry.
    AnyEntryGreater,
    Lww,
    Seed,
}

/// What applying received versions did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// The key's version set changed.
    pub changed: bool,
    /// `(held, received)` clock pairs that were concurrent (newly met; duplicates not repeated).
    pub conflicts: Vec<(Version, Version)>,
}

/// One entry of an anti-entropy digest: enough to tell whether two replicas hold the same versions
/// of a key and, if not, whether one of them is strictly behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DigestEntry {
    pub key: u64,
    /// Join of the key's version clocks.
    pub clock: VClock,
    /// [`set_hash`] of the version set.
    pub hash: u64,
}

/// A replica's versions, key by key. Persisted: survives crashes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Store {
    rule: Rule,
    /// Invariant: no empty sets; each set canonical for `rule` (see [`canonical`]).
    keys: BTreeMap<u64, Held>,
}

/// One key's versions with their digest entry's two figures: the joined clock, kept current as the
/// set changes, and the hash, computed when a digest first asks for it after a change. Neither is
/// recomputed for every key on every anti-entropy round (a node digests its whole store every
/// `anti_entropy_ms` and again for each digest it receives; most keys have not changed between),
/// and a key that changes several times between two rounds is hashed once (the default scenario
/// changes each key about as often as it digests it). Both are functions of `versions`, so
/// equality is that of `versions` alone.
#[derive(Clone, Debug)]
struct Held {
    versions: Vec<Version>,
    /// [`join_clock`] of `versions`.
    clock: VClock,
    /// [`set_hash`] of `versions`, once asked for since the last change.
    hash: Cell<Option<u64>>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        self.versions == other.versions
    }
}

impl Eq for Held {}

impl Held {
    fn new(versions: Vec<Version>) -> Held {
        Held { clock: join_clock(&versions), hash: Cell::new(None), versions }
    }

    /// The set's [`set_hash`], computed on first use after a change.
    fn hash(&self) -> u64 {
        if let Some(hash) = self.hash.get() {
            return hash;
        }
        let hash = set_hash(&self.versions);
        self.hash.set(Some(hash));
        hash
    }

    /// `Siblings`: merges `received` in place (see [`merge_siblings_into`]); true if the set changed.
    /// `known[k]` is what [`for_new_conflicts`] found comparing `received[k]` with the set as it
    /// was (see [`Relation`]): while the set has not changed, that decides the merge of
    /// `received[k]` without comparing the clocks again; past `known` or after a change, they are
    /// compared anew.
    fn merge_siblings(&mut self, received: &[Version], known: &[Relation]) -> bool {
        let mut changed = false;
        for (k, r) in received.iter().enumerate() {
            let fresh = match known.get(k) {
                Some(rel) if !changed => match rel {
                    Relation::Covered => false,
                    Relation::News { displaced } => {
                        place_sibling(&mut self.versions, r, *displaced);
                        true
                    }
                },
                _ => merge_sibling_into(&mut self.versions, r),
            };
            if fresh {
                // What the new version displaced it dominates, so the join only grows by its clock.
                self.clock.merge(&r.clock);
                changed = true;
            }
        }
        if changed {
            self.hash.set(None);
        }
        changed
    }
}

impl Store {
    pub fn new(rule: Rule) -> Store {
        Store { rule, keys: BTreeMap::new() }
    }

    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The versions held for `key` (empty if none).
    pub fn get(&self, key: u64) -> &[Version] {
        self.keys.get(&key).map_or(&[], |h| h.versions.as_slice())
    }

    /// Every key with its versions, in key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &[Version])> {
        self.keys.iter().map(|(k, h)| (*k, h.versions.as_slice()))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The coordinator's own write: replaces whatever is held. Under `Siblings`/`Lww` the new clock
    /// descends from everything held (the caller built it that way); asserted.
    pub fn put_local(&mut self, key: u64, version: Version) {
        if self.rule != Rule::Seed {
            let held = join_clock(self.get(key));
            assert!(
                version.clock.compare(&held) == Ordering4::After,
                "write {version:?} does not descend from {held}"
            );
        }
        self.keys.insert(key, Held::new(vec![version]));
    }

    /// The coordinator's own write under a context (Dynamo §4.4): merged with what is held, so it
    /// replaces the versions its clock descends from and sits beside the concurrent ones. Not for
    /// `Seed` (see [`Store::put_local`]).
    pub fn put(&mut self, key: u64, version: Version) {
        assert!(self.rule != Rule::Seed, "seed writes replace (put_local)");
        if self.rule == Rule::Siblings {
            self.merge_siblings(key, std::slice::from_ref(&version), &[]);
            return;
        }
        let next = merge(self.rule, self.get(key), &[version]);
        self.set(key, next);
    }

    /// `Siblings`: merges `received` into the held set of `key` in place; true if it changed.
    fn merge_siblings(&mut self, key: u64, received: &[Version], known: &[Relation]) -> bool {
        if let Some(held) = self.keys.get_mut(&key) {
            return held.merge_siblings(received, known);
        }
        let mut versions = Vec::new();
        merge_siblings_into(&mut versions, received);
        if versions.is_empty() {
            return false;
        }
        self.keys.insert(key, Held::new(versions));
        true
    }

    /// Replaces the versions of `key` outright (only the deliberate bugs do this).
    pub fn overwrite(&mut self, key: u64, versions: Vec<Version>) {
        self.set(key, versions);
    }

    fn set(&mut self, key: u64, versions: Vec<Version>) {
        if versions.is_empty() {
            self.keys.remove(&key);
        } else {
            self.keys.insert(key, Held::new(versions));
        }
    }

    /// Merges received versions of `key` under the store's rule.
    pub fn apply(&mut self, key: u64, received: &[Version]) -> Applied {
        let mut conflicts = Vec::new();
        let changed = self.apply_noting(key, received, |h, r| conflicts.push((h.clone(), r.clone())));
        Applied { changed, conflicts }
    }

    /// [`Store::apply`] handing each newly met `(held, received)` concurrent pair to `conflict`
    /// (before the merge, in the order `apply` lists them) instead of collecting copies: the
    /// node spells a row per pair straight from the held and received versions. True if the
    /// key's version set changed.
    pub fn apply_noting(
        &mut self,
        key: u64,
        received: &[Version],
        conflict: impl FnMut(&Version, &Version),
    ) -> bool {
        let held = self.get(key);
        let mut known = [Relation::Covered; KNOWN_MAX];
        let known_len = for_new_conflicts(self.rule, held, received, &mut known, conflict);
        if self.rule == Rule::Siblings {
            // The KV's most frequent merge: in place, no bag rebuilt and re-sorted, and the clock
            // comparisons the conflict scan made not made twice.
            return self.merge_siblings(key, received, &known[..known_len]);
        }
        let next = match self.rule {
            Rule::Seed => seed_apply(held, received),
            rule => merge(rule, held, received),
        };
        let changed = next != held;
        // Unchanged: the held set (and its digest figures) stay as they are.
        if changed && !next.is_empty() {
            self.keys.insert(key, Held::new(next));
        }
        changed
    }

    /// One digest entry per held key, in key order.
    pub fn digest(&self) -> Vec<DigestEntry> {
        self.keys
            .iter()
            .map(|(key, h)| DigestEntry { key: *key, clock: h.clock.clone(), hash: h.hash() })
            .collect()
    }

    /// The digest entry of `key` as `(clock, hash)`, without copying the clock; `None` if no
    /// version of it is held.
    pub fn digest_of(&self, key: u64) -> Option<(&VClock, u64)> {
        self.keys.get(&key).map(|h| (&h.clock, h.hash()))
    }

    /// The joined clock of `key`'s versions (its digest entry's clock), without hashing the set;
    /// `None` if no version of it is held.
    pub fn joined_clock(&self, key: u64) -> Option<&VClock> {
        self.keys.get(&key).map(|h| &h.clock)
    }

    /// [`Store::digest`] by reference: `(key, clock, hash)` per held key, in key order.
    pub fn digest_iter(&self) -> impl Iterator<Item = (u64, &VClock, u64)> {
        self.keys.iter().map(|(key, h)| (*key, &h.clock, h.hash()))
    }
}

/// Merges two sets under `Siblings` or `Lww` into the canonical set.
pub fn merge(rule: Rule, a: &[Version], b: &[Version]) -> Vec<Version> {
    let all: Vec<Version> = a.iter().chain(b).cloned().collect();
    canonical(rule, all)
}

/// `Siblings`: [`canonical`]`(set ∪ received)` computed in place, for a `set` already canonical.
///
/// Strict descent is a strict partial order, so the maximal versions of a bag can be kept one
/// version at a time: a version strictly dominated by one held (or equal to one held) changes
/// nothing — whatever it dominates, a held version dominates too; otherwise it displaces the held
/// versions it dominates and joins the set at its sorted place. Under `Siblings` a version's stamp
/// is a function of its clock and value, so (value, clock) ties are exact duplicates, which
/// [`canonical`]'s dedup drops as the equality test here does. Returns true if `set` changed.
pub fn merge_siblings_into(set: &mut Vec<Version>, received: &[Version]) -> bool {
    let mut changed = false;
    for r in received {
        changed |= merge_sibling_into(set, r);
    }
    changed
}

fn merge_sibling_into(set: &mut Vec<Version>, r: &Version) -> bool {
    // One comparison per held version: bit i marks `set[i]` as strictly dominated by `r` (sets
    // hold at most one sibling per coordinator; past 64 the comparisons are redone below).
    let mut displaced = 0u64;
    for (i, h) in set.iter().enumerate() {
        match h.clock.compare(&r.clock) {
            Ordering4::After => return false,
            Ordering4::Equal if h == r => return false,
            Ordering4::Before if i < 64 => displaced |= 1 << i,
            _ => {}
        }
    }
    if set.len() > 64 {
        set.retain(|h| r.clock.compare(&h.clock) != Ordering4::After);
        displaced = 0;
    }
    place_sibling(set, r, displaced);
    true
}

/// Puts `r`, news to `set`, in its sorted place after removing the versions it strictly dominates:
/// bit i of `displaced` marks `set[i]` (a set past 64 versions was pruned by the caller).
fn place_sibling(set: &mut Vec<Version>, r: &Version, displaced: u64) {
    if displaced != 0 {
        let mut i = 0;
        set.retain(|_| {
            let keep = displaced & (1 << i) == 0;
            i += 1;
            keep
        });
    }
    let at = set.partition_point(|h| sibling_order(h, r) != std::cmp::Ordering::Greater);
    set.insert(at, r.clone());
}

/// What the conflict scan learnt about one received version against the held set, kept for the
/// merge that follows (`Siblings`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Relation {
    /// Held already, or strictly dominated by a held version: merging it changes nothing.
    Covered,
    /// News: bit i marks `held[i]` as strictly dominated by it (the set has at most 64 versions).
    News { displaced: u64 },
}

/// Received versions whose [`Relation`] is kept (a set holds at most one sibling per coordinator;
/// past this many the merge compares anew).
const KNOWN_MAX: usize = 8;

/// The order [`canonical`] sorts a set in: value id, then clock.
fn sibling_order(x: &Version, y: &Version) -> std::cmp::Ordering {
    x.value.cmp(&y.value).then_with(|| x.clock.canonical_cmp(&y.clock))
}

/// The canonical form of a bag of versions: the maximal ones (siblings) or the single LWW winner
/// with the joined clock. `Seed` sets are left as they are (one version, replaced wholesale).
pub fn canonical(rule: Rule, mut all: Vec<Version>) -> Vec<Version> {
    match rule {
        Rule::Siblings | Rule::AnyEntryGreater => {
            all.sort_by(sibling_order);
            all.dedup();
            if rule == Rule::Siblings {
                // Strict descent is transitive, so a version dominated by one already removed is
                // dominated by what dominated that one, which stays or is itself dominated further
                // up: removing in place as we go keeps exactly the maximal versions, with no
                // second vector (sets are a few versions; this is the KV's most frequent merge).
                let mut i = 0;
                while i < all.len() {
                    if all.iter().any(|w| w.clock.compare(&all[i].clock) == Ordering4::After) {
                        all.remove(i);
                    } else {
                        i += 1;
                    }
                }
                return all;
            }
            // The seed's comparison is not transitive: decide every version against the whole bag.
            let keep: Vec<bool> =
                all.iter().map(|v| !all.iter().any(|w| seed_is_newer(&w.clock, &v.clock))).collect();
            all.into_iter().zip(keep).filter(|(_, k)| *k).map(|(v, _)| v).collect()
        }
        Rule::Lww => {
            let Some(winner) = all.iter().max_by_key(|v| v.lww_key()).cloned() else {
                return Vec::new();
            };
            let clock = join_clock(&all);
            vec![Version { clock, ..winner }]
        }
        Rule::Seed => all,
    }
}

/// The textbook's rule: each received version replaces the held one if the key is absent or the
/// received clock is "newer" by [`seed_is_newer`].
fn seed_apply(held: &[Version], received: &[Version]) -> Vec<Version> {
    let mut current = held.first().cloned();
    for r in received {
        let replace = match &current {
            None => true,
            Some(h) => seed_is_newer(&r.clock, &h.clock),
        };
        if replace {
            current = Some(r.clone());
        }
    }
    current.into_iter().collect()
}

/// Pairs (held, received) with concurrent clocks, for received versions that are news here (not
/// already held and not dominated by a held version), so a duplicate delivery reports nothing.
/// Each pair goes to `f`, by received version, then held order.
/// For the first received versions (up to `known.len()`, and only while `held` has at most 64
/// versions), `known[k]` is set to the [`Relation`] of `received[k]` to `held`; returns how many
/// were set.
fn for_new_conflicts(
    rule: Rule,
    held: &[Version],
    received: &[Version],
    known_out: &mut [Relation],
    mut f: impl FnMut(&Version, &Version),
) -> usize {
    let known_len = if held.len() <= 64 { received.len().min(known_out.len()) } else { 0 };
    for (k, r) in received.iter().enumerate() {
        // One comparison per pair: bit i marks `held[i]` concurrent with `r` (past 64 held
        // versions the comparison is redone below); the pairs are reported only once `r` is known
        // to be news (not held, or under LWW covered by the joined clock, and not dominated).
        let mut concurrent = 0u64;
        let mut displaced = 0u64;
        let mut known = false;
        for (i, h) in held.iter().enumerate() {
            match h.clock.compare(&r.clock) {
                Ordering4::After => {
                    known = true;
                    break;
                }
                Ordering4::Equal if rule == Rule::Lww || h == r => {
                    known = true;
                    break;
                }
                Ordering4::Concurrent if i < 64 => concurrent |= 1 << i,
                Ordering4::Before if i < 64 => displaced |= 1 << i,
                Ordering4::Concurrent | Ordering4::Equal | Ordering4::Before => {}
            }
        }
        if k < known_len {
            known_out[k] = if known { Relation::Covered } else { Relation::News { displaced } };
        }
        if known {
            continue;
        }
        for (i, h) in held.iter().enumerate() {
            let pair = if i < 64 {
                concurrent & (1 << i) != 0
            } else {
                h.clock.compare(&r.clock) == Ordering4::Concurrent
            };
            if pair {
                f(h, r);
            }
        }
    }
    known_len
}

/// Join of the clocks of a set (the empty clock for the empty set).
pub fn join_clock(set: &[Version]) -> VClock {
    let mut out = VClock::new();
    for v in set {
        out.merge(&v.clock);
    }
    out
}

/// The trace cell for a set: `v7`, `v3|v5` (sorted), or empty.
pub fn value_of(set: &[Version]) -> Value {
    // One version (most sets, most messages): no id vector to build.
    match set {
        [] => return Value::None,
        [one] => return Value::Id(one.value),
        _ => {}
    }
    let mut ids: Vec<u64> = set.iter().map(|v| v.value).collect();
    // Stored sets are sorted by value already (see `canonical`): no sort for them.
    if !ids.windows(2).all(|w| w[0] <= w[1]) {
        ids.sort_unstable();
    }
    ids.dedup();
    match ids.len() {
        0 => Value::None,
        1 => Value::Id(ids[0]),
        _ => Value::Ids(ids),
    }
}

/// A hash of the values and clocks of a (canonically sorted) set, for anti-entropy digests: one
/// multiply-xorshift round per 64-bit word (FNV-1a took eight, one per byte, and hashing was ~1.5 %
/// of an eventual KV run). Deterministic across runs and platforms, unlike `std`'s hasher. Only
/// compared for equality between two replicas' digests of a key (never written to a trace); the
/// length word before each clock keeps `[v, c]` and `[v], [c]` apart.
pub fn set_hash(set: &[Version]) -> u64 {
    const SEED: u64 = 0xcbf2_9ce4_8422_2325;
    const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h = SEED;
    let mut eat = |x: u64| {
        h = (h ^ x).wrapping_mul(MUL);
        h ^= h >> 32;
    };
    for v in set {
        eat(v.value);
        eat(v.clock.counters().len() as u64);
        for c in v.clock.counters() {
            eat(*c);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vc(c: &[u64]) -> VClock {
        VClock::from_counters(c)
    }

    fn w(value: u64, clock: &[u64], coordinator: u32) -> Version {
        Version::write(value, vc(clock), NodeId(coordinator))
    }

    #[test]
    fn siblings_keep_concurrent_and_drop_dominated() {
        let mut s = Store::new(Rule::Siblings);
        let a = w(1, &[1, 0], 0);
        let b = w(2, &[0, 1], 1);
        assert!(s.apply(7, std::slice::from_ref(&a)).changed);
        let applied = s.apply(7, std::slice::from_ref(&b));
        assert!(applied.changed);
        assert_eq!(applied.conflicts, vec![(a.clone(), b.clone())]);
        assert_eq!(s.get(7), &[a.clone(), b.clone()]);
        assert_eq!(value_of(s.get(7)), Value::Ids(vec![1, 2]));
        // A duplicate delivery changes nothing and reports no new conflict.
        assert_eq!(s.apply(7, std::slice::from_ref(&b)), Applied::default());
        // Dynamo §4.4: a version descending from both siblings replaces them.
        let c = w(3, &[1, 2], 1);
        assert!(s.apply(7, std::slice::from_ref(&c)).changed);
        assert_eq!(s.get(7), std::slice::from_ref(&c));
        // An old, dominated version is ignored.
        assert_eq!(s.apply(7, &[a]), Applied::default());
        assert_eq!(s.get(7), &[c]);
    }

    #[test]
    fn lww_picks_larger_stamp_and_keeps_joined_clock() {
        let a = w(1, &[1, 0], 0);
        let b = w(2, &[0, 1], 1);
        // Equal lamport (1); coordinator n1 > n0 wins, whatever the order.
        for order in [[a.clone(), b.clone()], [b.clone(), a.clone()]] {
            let mut s = Store::new(Rule::Lww);
            s.apply(3, &order[..1]);
            let applied = s.apply(3, &order[1..]);
            assert_eq!(applied.conflicts.len(), 1);
            assert_eq!(s.get(3), &[Version { clock: vc(&[1, 1]), ..b.clone() }]);
        }
        // The joined clock makes the loser dominated: re-delivering it is a no-op, no conflict.
        let mut s = Store::new(Rule::Lww);
        s.apply(3, &[a.clone(), b.clone()]);
        assert_eq!(s.apply(3, &[a]), Applied::default());
    }

    #[test]
    fn seed_rule_depends_on_arrival_order() {
        let a = w(1, &[1, 0], 0);
        let b = w(2, &[0, 1], 1);
        let mut x = Store::new(Rule::Seed);
        x.apply(0, std::slice::from_ref(&a));
        x.apply(0, std::slice::from_ref(&b));
        let mut y = Store::new(Rule::Seed);
        y.apply(0, std::slice::from_ref(&b));
        y.apply(0, std::slice::from_ref(&a));
        assert_eq!(x.get(0), &[b]);
        assert_eq!(y.get(0), &[a]);
        assert_ne!(x, y, "the textbook rule diverges on concurrent writes");
    }

    #[test]
    fn digest_tells_equal_sets_apart_from_different_ones() {
        let mut s = Store::new(Rule::Siblings);
        let mut t = Store::new(Rule::Siblings);
        s.apply(1, &[w(1, &[1], 0)]);
        t.apply(1, &[w(1, &[1], 0)]);
        assert_eq!(s.digest(), t.digest());
        t.apply(1, &[w(2, &[0, 1], 1)]);
        assert_ne!(s.digest()[0].hash, t.digest()[0].hash);
        assert_eq!(t.digest()[0].clock, vc(&[1, 1]));
    }

    /// A random causal history on one key: each step, a node either writes (clock = join of what
    /// it holds, plus one) or receives what another node holds. Returns every version created.
    fn history(rule: Rule, steps: &[(u8, u8, bool)]) -> Vec<Version> {
        let mut nodes: Vec<Store> = (0..3).map(|_| Store::new(rule)).collect();
        let mut made = Vec::new();
        for (i, (a, b, write)) in steps.iter().enumerate() {
            let (a, b) = (usize::from(*a % 3), usize::from(*b % 3));
            if *write {
                let mut clock = join_clock(nodes[a].get(0));
                clock.increment(NodeId(a as u32));
                let v = Version::write(i as u64 + 1, clock, NodeId(a as u32));
                nodes[a].put_local(0, v.clone());
                made.push(v);
            } else {
                let held = nodes[b].get(0).to_vec();
                nodes[a].apply(0, &held);
            }
        }
        made
    }

    fn steps() -> impl Strategy<Value = Vec<(u8, u8, bool)>> {
        prop::collection::vec((0u8..3, 0u8..3, prop::bool::weighted(0.5)), 1..30)
    }

    fn apply_in(rule: Rule, versions: &[Version], order: &[usize], batch: usize) -> Store {
        let mut s = Store::new(rule);
        for chunk in order.chunks(batch.max(1)) {
            let vs: Vec<Version> = chunk.iter().map(|i| versions[*i].clone()).collect();
            s.apply(0, &vs);
        }
        s
    }

    proptest! {
        /// Replicas converge whatever the delivery order and batching (state-based CRDT laws).
        #[test]
        fn merge_order_does_not_matter(
            s in steps(),
            lww in any::<bool>(),
            perm in Just((0..64).collect::<Vec<usize>>()).prop_shuffle(),
            batch in 1usize..4,
        ) {
            let rule = if lww { Rule::Lww } else { Rule::Siblings };
            let versions = history(rule, &s);
            let n = versions.len();
            let order: Vec<usize> = perm.into_iter().filter(|i| *i < n).collect();
            let straight: Vec<usize> = (0..n).collect();
            let reversed: Vec<usize> = (0..n).rev().collect();
            let x = apply_in(rule, &versions, &straight, 1);
            prop_assert_eq!(&x, &apply_in(rule, &versions, &reversed, 1));
            prop_assert_eq!(&x, &apply_in(rule, &versions, &order, batch));
            // Idempotent: applying everything again changes nothing.
            let mut y = x.clone();
            prop_assert!(!y.apply(0, &versions).changed);
            prop_assert_eq!(&x, &y);
        }

        /// The in-place merge is `canonical` of the union, whatever split of the versions is held
        /// and whatever is received (with repeats), and reports a change exactly when it makes one.
        #[test]
        fn in_place_sibling_merge_is_canonical_of_the_union(
            s in steps(),
            picks in prop::collection::vec((0usize..64, any::<bool>()), 0..40),
        ) {
            let versions = history(Rule::Siblings, &s);
            prop_assume!(!versions.is_empty());
            let (mut held, mut received) = (Vec::new(), Vec::new());
            for (i, to_held) in picks {
                let v = versions[i % versions.len()].clone();
                if to_held { held.push(v) } else { received.push(v) }
            }
            let held = canonical(Rule::Siblings, held);
            let expected = canonical(Rule::Siblings, held.iter().chain(&received).cloned().collect());
            let mut set = held.clone();
            let changed = merge_siblings_into(&mut set, &received);
            prop_assert_eq!(&set, &expected);
            prop_assert_eq!(changed, expected != held);
        }

        /// Siblings are pairwise concurrent, and every write is in the set or dominated by it.
        #[test]
        fn siblings_are_an_antichain_covering_all_writes(s in steps()) {
            let versions = history(Rule::Siblings, &s);
            let mut st = Store::new(Rule::Siblings);
            st.apply(0, &versions);
            let set = st.get(0);
            for a in set {
                for b in set {
                    if a != b { prop_assert_eq!(a.clock.compare(&b.clock), Ordering4::Concurrent); }
                }
            }
            for v in &versions {
                prop_assert!(set.iter().any(|x| x.clock.descends(&v.clock)));
            }
            // At most one sibling per coordinator: a node's writes are causally ordered.
            prop_assert!(set.len() <= 3);
        }

        /// The stamp order extends causality, so LWW never lets an older write beat a newer one.
        #[test]
        fn lww_stamp_respects_causality(s in steps()) {
            let versions = history(Rule::Lww, &s);
            for a in &versions {
                for b in &versions {
                    if a.clock.compare(&b.clock) == Ordering4::After {
                        prop_assert!(a.lww_key() > b.lww_key(), "{:?} descends from {:?}", a, b);
                    }
                }
            }
        }
    }
}
