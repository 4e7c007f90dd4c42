//! The replicated log of one Raft server (Figure 2: `log[]`), with the paper's 1-based indexes.
//!
//! Index 0 is the empty prefix before the first entry: `term_at(0)` is `Some(0)`, which is what lets
//! the first AppendEntries (`prev_log_index = 0`, `prev_log_term = 0`) pass the consistency check.
//! Terms in a log never decrease from one index to the next (a leader appends in its current term,
//! which is at least every term it holds, and a follower only keeps a prefix that matches a leader);
//! `append` asserts it. The log is part of the persistent state: it survives a crash.
//!
//! Log compaction (§7): the log may start after a compacted prefix that a snapshot covers. Then
//! `entries[0]` is at `first_index() = snapshot_index() + 1`; `term_at(snapshot_index())` is the
//! snapshot's last included term (what the consistency check needs at the snapshot point) and
//! indexes inside the prefix have no term (`None`) and no entry. The digest of the compacted prefix
//! is kept, so [`RaftLog::digest`] covers the whole logical log, prefix included.
//!
//! The log also indexes its client commands by op id ([`RaftLog::find`]), so a leader can tell in
//! O(1) whether it already holds a resent command (§8) without scanning.

use rustc_hash::FxHashMap;

use crate::client::ClientOp;

use super::membership::Configuration;

/// A term number (§5.1). Term 0 is "before any election".
pub type Term = u64;

/// A position in the log, from 1. Index 0 means "no entry".
pub type LogIndex = u64;

/// What an entry carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// The empty entry a new leader appends at once (§8), so entries of earlier terms commit.
    Noop,
    /// A client operation.
    Op(ClientOp),
    /// A new configuration (thesis §4.1): in force on a server from the moment it is in its log.
    Config(Configuration),
}

impl Command {
    /// The identity folded into a log digest: the op id, 0 for the no-op and a configuration.
    pub fn id(&self) -> u64 {
        self.op().map_or(0, |op| op.id)
    }

    pub fn op(&self) -> Option<&ClientOp> {
        match self {
            Command::Noop | Command::Config(_) => None,
            Command::Op(op) => Some(op),
        }
    }

    pub fn config(&self) -> Option<Configuration> {
        match self {
            Command::Config(c) => Some(*c),
            Command::Noop | Command::Op(_) => None,
        }
    }
}

/// One log entry: the command and the term in which a leader received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub term: Term,
    pub command: Command,
}

/// Folds one entry into a log digest: FNV-1a over the little-endian bytes of `(index, term,
/// command id)`. The node's final row and the `final_state` checker (which rebuilds the log from
/// trace rows) both use it, so a log changed without rows shows as a different digest.
///
/// The words are small, so most of their 24 bytes are high zero bytes, and FNV-1a's step on a
/// zero byte is a bare multiply by the prime: a word's zero tail is folded in as one multiply by
/// the prime's power ([`FNV_PRIME_POW`]). Same value as the byte loop ([`entry_digest_bytes`]).
#[inline]
pub fn entry_digest(acc: u64, index: LogIndex, term: Term, command_id: u64) -> u64 {
    let mut h = acc;
    for word in [index, term, command_id] {
        let len = 8 - (word.leading_zeros() / 8) as usize;
        let mut rest = word;
        for _ in 0..len {
            h ^= rest & 0xff;
            h = h.wrapping_mul(FNV_PRIME);
            rest >>= 8;
        }
        h = h.wrapping_mul(FNV_PRIME_POW[8 - len]);
    }
    h
}

/// FNV-1a's 64-bit prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// `FNV_PRIME_POW[k]` is the prime to the `k`-th power (mod 2^64): `k` zero bytes in one multiply.
const FNV_PRIME_POW: [u64; 9] = {
    let mut pow = [1u64; 9];
    let mut k = 1;
    while k < 9 {
        pow[k] = pow[k - 1].wrapping_mul(FNV_PRIME);
        k += 1;
    }
    pow
};

/// The byte-at-a-time definition [`entry_digest`] must equal (kept for its test).
#[cfg(test)]
fn entry_digest_bytes(acc: u64, index: LogIndex, term: Term, command_id: u64) -> u64 {
    let mut h = acc;
    for word in [index, term, command_id] {
        for byte in word.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(FNV_PRIME);
        }
    }
    h
}

/// The digest of an empty log (FNV-1a's offset basis).
pub const DIGEST_EMPTY: u64 = 0xcbf2_9ce4_8422_2325;

impl Entry {
    /// An entry carrying client op `op`.
    pub fn op(term: Term, op: ClientOp) -> Entry {
        Entry { term, command: Command::Op(op) }
    }

    pub fn noop(term: Term) -> Entry {
        Entry { term, command: Command::Noop }
    }
}

/// The log. Invariant: `entries[i]` is the entry at index `snapshot_index + i + 1`; terms are
/// non-decreasing (from `snapshot_term` on); `ids` maps the op id of every client command in
/// `entries` to the last index holding it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaftLog {
    entries: Vec<Entry>,
    /// Looked up only, never iterated.
    ids: FxHashMap<u64, LogIndex>,
    /// The last index of the compacted prefix (Figure 13's `lastIncludedIndex`; 0: none).
    snapshot_index: LogIndex,
    /// The term of the entry at `snapshot_index` (`lastIncludedTerm`; 0 when none).
    snapshot_term: Term,
    /// [`entry_digest`] folded over the compacted prefix, from [`DIGEST_EMPTY`].
    snapshot_digest: u64,
    /// The indexes of the configuration entries after the snapshot point, increasing (thesis
    /// §4.1: the latest is in force).
    configs: Vec<LogIndex>,
    /// The configuration entry in force at the snapshot point, `(its index, members)`: kept when
    /// compaction discards the entry itself (Figure 13's "last config as of lastIncludedIndex").
    snapshot_config: Option<(LogIndex, Configuration)>,
}

impl Default for RaftLog {
    fn default() -> RaftLog {
        RaftLog {
            entries: Vec::new(),
            ids: FxHashMap::default(),
            snapshot_index: 0,
            snapshot_term: 0,
            snapshot_digest: DIGEST_EMPTY,
            configs: Vec::new(),
            snapshot_config: None,
        }
    }
}

impl RaftLog {
    pub fn new() -> RaftLog {
        RaftLog::default()
    }

    /// The logical length (compacted prefix included), which is also the last index.
    pub fn len(&self) -> u64 {
        self.snapshot_index + self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Index of the last entry, 0 when empty (the snapshot point when every entry is compacted).
    pub fn last_index(&self) -> LogIndex {
        self.len()
    }

    /// Term of the last entry, 0 when empty (the snapshot's term when every entry is compacted).
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(self.snapshot_term, |e| e.term)
    }

    /// The first index the log still holds an entry for (`last_index() + 1` when it holds none).
    pub fn first_index(&self) -> LogIndex {
        self.snapshot_index + 1
    }

    /// The last index of the compacted prefix (0: nothing compacted).
    pub fn snapshot_index(&self) -> LogIndex {
        self.snapshot_index
    }

    /// The term at [`RaftLog::snapshot_index`].
    pub fn snapshot_term(&self) -> Term {
        self.snapshot_term
    }

    /// Term of the entry at `index`: `Some(0)` for index 0, the snapshot's term at the snapshot
    /// point, `None` inside the compacted prefix and past the end.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == self.snapshot_index {
            return Some(self.snapshot_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index` (from 1), `None` for 0, inside the compacted prefix or past the end.
    pub fn get(&self, index: LogIndex) -> Option<&Entry> {
        let i = usize::try_from(index.checked_sub(self.first_index())?).ok()?;
        self.entries.get(i)
    }

    /// [`entry_digest`] folded over indexes `1..=index` (`None` inside the compacted prefix, where
    /// the entries are gone, and past the end). O(entries after the snapshot point).
    pub fn digest_upto(&self, index: LogIndex) -> Option<u64> {
        if index < self.snapshot_index || index > self.last_index() {
            return None;
        }
        let count = (index - self.snapshot_index) as usize;
        Some(
            self.entries[..count]
                .iter()
                .zip(self.first_index()..)
                .fold(self.snapshot_digest, |h, (e, i)| entry_digest(h, i, e.term, e.command.id())),
        )
    }

    /// Discards the entries up to and including `index` (§7), which must be held (or be the
    /// snapshot point already); the entries after it stay.
    pub fn compact(&mut self, index: LogIndex) {
        if index <= self.snapshot_index {
            return;
        }
        assert!(index <= self.last_index(), "compact({index}) past the last index {}", self.last_index());
        let Some(digest) = self.digest_upto(index) else { unreachable!("{index} is held") };
        let Some(term) = self.term_at(index) else { unreachable!("{index} is held") };
        self.snapshot_config = self.config_at(index);
        self.configs.retain(|i| *i > index);
        let count = (index - self.snapshot_index) as usize;
        for (entry, i) in self.entries.drain(..count).zip(self.snapshot_index + 1..) {
            if let Some(op) = entry.command.op() {
                if self.ids.get(&op.id) == Some(&i) {
                    self.ids.remove(&op.id);
                }
            }
        }
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_digest = digest;
    }

    /// Figure 13, step 7: discards the entire log; it now starts after a snapshot at `index` of
    /// `term` whose prefix digest is `digest` and whose configuration is `config` (step 8).
    pub fn reset_to_snapshot(
        &mut self,
        index: LogIndex,
        term: Term,
        digest: u64,
        config: Option<(LogIndex, Configuration)>,
    ) {
        self.entries.clear();
        self.ids.clear();
        self.configs.clear();
        self.snapshot_config = config;
        self.snapshot_index = index;
        self.snapshot_term = term;
        self.snapshot_digest = digest;
    }

    /// Appends `entry` at `last_index() + 1` and returns that index.
    pub fn append(&mut self, entry: Entry) -> LogIndex {
        assert!(
            entry.term >= self.last_term(),
            "log terms must not decrease: appending term {} after term {} at index {}",
            entry.term,
            self.last_term(),
            self.last_index()
        );
        if let Some(op) = entry.command.op() {
            self.ids.insert(op.id, self.last_index() + 1);
        }
        if entry.command.config().is_some() {
            self.configs.push(self.last_index() + 1);
        }
        self.entries.push(entry);
        self.last_index()
    }

    /// The index of the entry carrying client op `id`, if the log holds it. O(1).
    pub fn find(&self, id: u64) -> Option<LogIndex> {
        let index = *self.ids.get(&id)?;
        // Only a log holding one command twice (a dedupe bug) can have lost the later index.
        debug_assert!(self.get(index).and_then(|e| e.command.op()).is_some_and(|op| op.id == id));
        Some(index)
    }

    /// Deletes the entry at `index` and every entry after it. `index` past the end is a no-op.
    /// The compacted prefix holds committed entries only and is never truncated: `index` must be
    /// past the snapshot point.
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index >= 1, "truncate_from(0): index 0 is not an entry");
        assert!(
            index > self.snapshot_index,
            "truncate_from({index}) inside the compacted prefix (snapshot at {})",
            self.snapshot_index
        );
        let keep = usize::try_from(index - self.first_index()).unwrap_or(usize::MAX);
        let first = self.first_index();
        for (i, entry) in self.entries.iter().enumerate().skip(keep) {
            if let Some(op) = entry.command.op() {
                if self.ids.get(&op.id) == Some(&(i as u64 + first)) {
                    self.ids.remove(&op.id);
                }
            }
        }
        self.entries.truncate(keep);
        while self.configs.last().is_some_and(|i| *i >= index) {
            self.configs.pop();
        }
    }

    /// The latest configuration entry in the log, `(index, configuration)`, if any (thesis §4.1:
    /// a server uses it whether or not it is committed).
    pub fn latest_config(&self) -> Option<(LogIndex, Configuration)> {
        self.config_at(self.last_index())
    }

    /// The configuration entry in force at `index` (at or past the snapshot point): the latest at
    /// or before it, or the snapshot's when compaction took it. What a snapshot taken at `index`
    /// must carry, since the entry itself is compacted away.
    pub fn config_at(&self, index: LogIndex) -> Option<(LogIndex, Configuration)> {
        let Some(i) = self.configs.partition_point(|c| *c <= index).checked_sub(1) else {
            return self.snapshot_config;
        };
        let at = self.configs[i];
        self.get(at).and_then(|e| e.command.config()).map(|c| (at, c))
    }

    /// [`entry_digest`] folded over every entry, from [`DIGEST_EMPTY`], the compacted prefix
    /// included.
    pub fn digest(&self) -> u64 {
        self.entries
            .iter()
            .zip(self.first_index()..)
            .fold(self.snapshot_digest, |h, (e, i)| entry_digest(h, i, e.term, e.command.id()))
    }

    /// Up to `max` entries starting at index `start` (from 1); empty when `start` is past the end.
    /// `start` must be past the compacted prefix.
    pub fn entries_from(&self, start: LogIndex, max: u64) -> &[Entry] {
        assert!(start >= 1, "entries_from(0): index 0 is not an entry");
        assert!(
            start > self.snapshot_index,
            "entries_from({start}) inside the compacted prefix (snapshot at {})",
            self.snapshot_index
        );
        let Ok(from) = usize::try_from(start - self.first_index()) else {
            return &[];
        };
        if from >= self.entries.len() {
            return &[];
        }
        let count = usize::try_from(max).unwrap_or(usize::MAX).min(self.entries.len() - from);
        &self.entries[from..from + count]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn entry(term: Term, value: u64) -> Entry {
        Entry::op(term, ClientOp::write(0, value, value % 3))
    }

    #[test]
    fn empty_log_has_index_zero_of_term_zero() {
        let log = RaftLog::new();
        assert_eq!((log.last_index(), log.last_term()), (0, 0));
        assert_eq!(log.term_at(0), Some(0));
        assert_eq!(log.term_at(1), None);
        assert!(log.get(0).is_none());
        assert!(log.entries_from(1, 10).is_empty());
    }

    #[test]
    #[should_panic(expected = "log terms must not decrease")]
    fn append_refuses_a_lower_term() {
        let mut log = RaftLog::new();
        log.append(entry(2, 1));
        log.append(entry(1, 2));
    }

    /// Reference: Raft §7 — after compaction the log answers for the snapshot point and the
    /// entries after it, by their original indexes, and its digest still covers the prefix.
    #[test]
    fn compaction_keeps_indexes_terms_and_digest() {
        let mut log = RaftLog::new();
        for (i, term) in [1, 1, 2, 2, 3].into_iter().enumerate() {
            log.append(entry(term, i as u64 + 1));
        }
        let whole = log.digest();
        let upto3 = log.digest_upto(3);
        log.compact(3);
        assert_eq!((log.snapshot_index(), log.snapshot_term(), log.first_index()), (3, 2, 4));
        assert_eq!((log.last_index(), log.last_term()), (5, 3));
        assert_eq!(log.term_at(3), Some(2));
        assert_eq!(log.term_at(2), None);
        assert_eq!(log.term_at(0), None);
        assert!(log.get(3).is_none());
        assert_eq!(log.get(4), Some(&entry(2, 4)));
        assert_eq!(log.entries_from(4, 10), &[entry(2, 4), entry(3, 5)]);
        assert_eq!(log.digest(), whole);
        assert_eq!(log.digest_upto(3), upto3);
        assert_eq!(log.digest_upto(2), None);
        assert_eq!(log.find(1), None, "a compacted command is no longer indexed");
        assert_eq!(log.find(5), Some(5));
        log.truncate_from(5);
        assert_eq!(log.last_index(), 4);
        log.compact(4);
        assert!(log.entries_from(5, 10).is_empty());
        assert_eq!((log.last_index(), log.last_term()), (4, 2));
        assert_eq!(log.append(entry(4, 6)), 5);
        log.reset_to_snapshot(9, 4, 77, None);
        assert_eq!((log.last_index(), log.last_term(), log.first_index()), (9, 4, 10));
        assert_eq!(log.digest(), 77);
    }

    #[test]
    #[should_panic(expected = "inside the compacted prefix")]
    fn the_compacted_prefix_is_never_truncated() {
        let mut log = RaftLog::new();
        log.append(entry(1, 1));
        log.append(entry(1, 2));
        log.compact(1);
        log.truncate_from(1);
    }

    /// Thesis §4.1: the configuration in force is the latest configuration entry; a truncation
    /// that removes it restores the one before; `config_at` is what a snapshot at an index keeps.
    #[test]
    fn the_latest_configuration_entry_is_in_force() {
        use crate::raft::membership::Configuration;
        use crate::sim::NodeId;
        let c = |ids: &[u32]| Configuration::from_ids(ids.iter().map(|i| NodeId(*i)));
        let mut log = RaftLog::new();
        assert_eq!(log.latest_config(), None);
        log.append(entry(1, 1));
        log.append(Entry { term: 1, command: Command::Config(c(&[0, 1, 2])) });
        log.append(entry(1, 2));
        log.append(Entry { term: 2, command: Command::Config(c(&[0, 1])) });
        assert_eq!(log.latest_config(), Some((4, c(&[0, 1]))));
        assert_eq!(log.config_at(3), Some((2, c(&[0, 1, 2]))));
        assert_eq!(log.config_at(1), None);
        log.truncate_from(4);
        assert_eq!(log.latest_config(), Some((2, c(&[0, 1, 2]))));
        log.truncate_from(2);
        assert_eq!(log.latest_config(), None);
        assert_eq!(Command::Config(c(&[0])).id(), 0);
    }

    #[derive(Clone, Debug)]
    enum LogOp {
        Append(u64),
        TruncateFrom(u64),
        Compact(u64),
    }

    fn log_op() -> impl Strategy<Value = LogOp> {
        prop_oneof![
            3 => (0u64..3).prop_map(LogOp::Append),
            1 => (1u64..12).prop_map(LogOp::TruncateFrom),
            1 => (1u64..12).prop_map(LogOp::Compact),
        ]
    }

    proptest! {
        #[test]
        fn entry_digest_is_fnv1a_byte_by_byte(acc: u64, shifts in (0u32..64, 0u32..64, 0u32..64), words: (u64, u64, u64)) {
            // Words of every byte length, 0 and u64::MAX included by the shifts.
            let (i, t, c) = (words.0 >> shifts.0, words.1 >> shifts.1, words.2 >> shifts.2);
            prop_assert_eq!(entry_digest(acc, i, t, c), entry_digest_bytes(acc, i, t, c));
            prop_assert_eq!(entry_digest(acc, 0, 0, 0), entry_digest_bytes(acc, 0, 0, 0));
            prop_assert_eq!(entry_digest(acc, u64::MAX, 1, 256), entry_digest_bytes(acc, u64::MAX, 1, 256));
        }

        /// The log agrees with a plain `Vec` (0-based) after any sequence of appends,
        /// truncations and compactions (§7): same indexes, terms, digest; the compacted prefix
        /// answers only at the snapshot point.
        #[test]
        fn log_matches_a_vec_model(ops in proptest::collection::vec(log_op(), 0..40),
                                   start in 1u64..14, max in 0u64..6) {
            let mut log = RaftLog::new();
            let mut model: Vec<Entry> = Vec::new();
            let mut compacted = 0u64;
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    LogOp::Append(bump) => {
                        let term = model.last().map_or(1, |e| e.term) + bump;
                        let e = entry(term, n as u64);
                        prop_assert_eq!(log.append(e.clone()), model.len() as u64 + 1);
                        model.push(e);
                    }
                    // The compacted prefix is committed: it is never truncated.
                    LogOp::TruncateFrom(i) if i > compacted => {
                        log.truncate_from(i);
                        model.truncate((i - 1) as usize);
                    }
                    LogOp::TruncateFrom(_) => {}
                    LogOp::Compact(i) if i <= model.len() as u64 => {
                        log.compact(i);
                        compacted = compacted.max(i);
                    }
                    LogOp::Compact(_) => {}
                }
            }
            prop_assert_eq!(log.snapshot_index(), compacted);
            prop_assert_eq!(log.last_index(), model.len() as u64);
            prop_assert_eq!(log.last_term(), model.last().map_or(0, |e| e.term));
            let digest = model.iter().zip(1..).fold(DIGEST_EMPTY, |h, (e, i)| entry_digest(h, i, e.term, e.command.id()));
            prop_assert_eq!(log.digest(), digest);
            for i in 0..=model.len() as u64 + 2 {
                let term = if i == 0 { Some(0) } else { model.get(i as usize - 1).map(|e| e.term) };
                let want = if i < compacted { None } else { term };
                prop_assert_eq!(log.term_at(i), want);
            }
            if start > compacted {
                let lo = ((start - 1) as usize).min(model.len());
                let hi = (lo + max as usize).min(model.len());
                prop_assert_eq!(log.entries_from(start, max), &model[lo..hi]);
            }
        }
    }
}
