//! The replicated log of one Raft server (Figure 2: `log[]`), with the paper's 1-based indexes.
//!
//! Index 0 is the empty prefix before the first entry: `term_at(0)` is `Some(0)`, which is what lets
//! the first AppendEntries (`prev_log_index = 0`, `prev_log_term = 0`) pass the consistency check.
//! Terms in a log never decrease from one index to the next (a leader appends in its current term,
//! which is at least every term it holds, and a follower only keeps a prefix that matches a leader);
//! `append` asserts it. The log is part of the persistent state: it survives a crash.
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
pub fn entry_digest(acc: u64, index: LogIndex, term: Term, command_id: u64) -> u64 {
    let mut h = acc;
    for word in [index, term, command_id] {
        for byte in word.to_le_bytes() {
            h ^= u64::from(byte);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
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

/// The log. Invariant: `entries[i]` is the entry at index `i + 1`; terms are non-decreasing;
/// `ids` maps the op id of every client command in `entries` to the last index holding it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftLog {
    entries: Vec<Entry>,
    /// Looked up only, never iterated.
    ids: FxHashMap<u64, LogIndex>,
    /// The indexes of the configuration entries, increasing (thesis §4.1: the latest is in force).
    configs: Vec<LogIndex>,
}

impl RaftLog {
    pub fn new() -> RaftLog {
        RaftLog::default()
    }

    /// Number of entries, which is also the last index.
    pub fn len(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Index of the last entry, 0 when empty.
    pub fn last_index(&self) -> LogIndex {
        self.len()
    }

    /// Term of the last entry, 0 when empty.
    pub fn last_term(&self) -> Term {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`: `Some(0)` for index 0, `None` past the end.
    pub fn term_at(&self, index: LogIndex) -> Option<Term> {
        if index == 0 {
            return Some(0);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index` (from 1), `None` for 0 or past the end.
    pub fn get(&self, index: LogIndex) -> Option<&Entry> {
        let i = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(i)
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
    pub fn truncate_from(&mut self, index: LogIndex) {
        assert!(index >= 1, "truncate_from(0): index 0 is not an entry");
        let keep = usize::try_from(index - 1).unwrap_or(usize::MAX);
        for (i, entry) in self.entries.iter().enumerate().skip(keep) {
            if let Some(op) = entry.command.op() {
                if self.ids.get(&op.id) == Some(&(i as u64 + 1)) {
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

    /// The configuration entry in force at `index`: the latest at or before it. What a snapshot
    /// taken at `index` must carry, since the entry itself is compacted away.
    pub fn config_at(&self, index: LogIndex) -> Option<(LogIndex, Configuration)> {
        let i = self.configs.partition_point(|c| *c <= index).checked_sub(1)?;
        let at = self.configs[i];
        self.get(at).and_then(|e| e.command.config()).map(|c| (at, c))
    }

    /// [`entry_digest`] folded over every entry, from [`DIGEST_EMPTY`].
    pub fn digest(&self) -> u64 {
        self.entries
            .iter()
            .zip(1..)
            .fold(DIGEST_EMPTY, |h, (e, i)| entry_digest(h, i, e.term, e.command.id()))
    }

    /// Up to `max` entries starting at index `start` (from 1); empty when `start` is past the end.
    pub fn entries_from(&self, start: LogIndex, max: u64) -> &[Entry] {
        assert!(start >= 1, "entries_from(0): index 0 is not an entry");
        let Ok(from) = usize::try_from(start - 1) else {
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
    }

    fn log_op() -> impl Strategy<Value = LogOp> {
        prop_oneof![
            3 => (0u64..3).prop_map(LogOp::Append),
            1 => (1u64..12).prop_map(LogOp::TruncateFrom),
        ]
    }

    proptest! {
        /// The log agrees with a plain `Vec` (0-based) after any sequence of appends and truncations.
        #[test]
        fn log_matches_a_vec_model(ops in proptest::collection::vec(log_op(), 0..40),
                                   start in 1u64..14, max in 0u64..6) {
            let mut log = RaftLog::new();
            let mut model: Vec<Entry> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    LogOp::Append(bump) => {
                        let term = model.last().map_or(1, |e| e.term) + bump;
                        let e = entry(term, n as u64);
                        prop_assert_eq!(log.append(e.clone()), model.len() as u64 + 1);
                        model.push(e);
                    }
                    LogOp::TruncateFrom(i) => {
                        log.truncate_from(i);
                        model.truncate((i - 1) as usize);
                    }
                }
            }
            prop_assert_eq!(log.last_index(), model.len() as u64);
            prop_assert_eq!(log.last_term(), model.last().map_or(0, |e| e.term));
            for i in 0..=model.len() as u64 + 2 {
                let want = if i == 0 { Some(0) } else { model.get(i as usize - 1).map(|e| e.term) };
                prop_assert_eq!(log.term_at(i), want);
            }
            let lo = ((start - 1) as usize).min(model.len());
            let hi = (lo + max as usize).min(model.len());
            prop_assert_eq!(log.entries_from(start, max), &model[lo..hi]);
        }
    }
}
