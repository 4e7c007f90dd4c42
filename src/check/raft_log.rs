//! Shared by the Raft checkers: how a log entry shows in the trace, and every node's log rebuilt
//! from `append` / `store` / `truncate` rows.
//!
//! An entry is identified by `(term, index)` (Raft §5.3); its payload is the client command
//! `(key, value, msg)`. The rebuilt logs keep only each entry's term, which is all the log
//! properties compare: payloads are compared once per `(term, index)` by `LogMatching`.
//! Logs persist across `crash` / `restart` (Figure 2: the log is persistent state).
//!
//! Log compaction (§7) writes no rows: a compacted prefix is still the node's log, logically. An
//! `install_snapshot` row with `log=reset` (Figure 13 step 7: the follower discarded its log) gives
//! the node the prefix `1..=index` of a node that holds the snapshot's last entry `(term, index)`
//! (Log Matching makes every such prefix the same), and nothing after it.

use std::borrow::Cow;
use std::fmt;

use crate::check::node_map::NodeMap;
use crate::sim::NodeId;
use crate::trace::{Event, Record, Value};

/// The client command an entry carries, as the `append`, `store` and `apply` rows show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payload {
    pub key: Option<u64>,
    pub value: Value,
    /// `get` for a read command.
    pub msg: Cow<'static, str>,
}

impl Payload {
    pub fn of(row: &Record) -> Payload {
        Payload { key: row.key, value: row.value.clone(), msg: row.msg.clone() }
    }

    /// Whether `row` carries this payload, without building one.
    #[inline]
    pub fn matches(&self, row: &Record) -> bool {
        self.key == row.key && self.value == row.value && same_str(&self.msg, &row.msg)
    }
}

/// `a == b`, answered without comparing bytes when both are the same text in memory: a payload's
/// `msg` is a clone of a row's, and rows borrow their message names from the same `'static` str,
/// so the usual comparison is of one pointer with itself (where `==` calls `memcmp`).
#[inline]
fn same_str(a: &str, b: &str) -> bool {
    a.len() == b.len() && (std::ptr::eq(a.as_ptr(), b.as_ptr()) || a.as_bytes() == b.as_bytes())
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let msg = if self.msg.is_empty() { "-" } else { &self.msg };
        match self.key {
            Some(k) => write!(f, "{msg} k{k}")?,
            None => write!(f, "{msg}")?,
        }
        if !self.value.is_none() {
            write!(f, " {}", self.value)?;
        }
        Ok(())
    }
}

/// The `node`, `term` and `index` columns of a Raft row, when all three are present and the index
/// is a real log index (from 1). Rows without them are not Raft log rows and are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct At {
    pub node: NodeId,
    pub term: u64,
    pub index: u64,
}

impl At {
    pub fn of(row: &Record) -> Option<At> {
        match (row.node, row.term, row.index) {
            (Some(node), Some(term), Some(index)) if index >= 1 => Some(At { node, term, index }),
            _ => None,
        }
    }
}

/// The command identity an `append` / `store` / `apply` row shows, as `raft::Command::id` defines
/// it: a read's or cas's op id from `detail` (`get#<id>`, `cas#<id> …`), a write's value id (its
/// op id), 0 for the §8 no-op.
pub fn command_id(row: &Record) -> u64 {
    // The first word starts with `get#` exactly when the detail does (neither prefix holds a space).
    let detail = &*row.detail;
    if let Some(rest) = detail.strip_prefix("get#").or_else(|| detail.strip_prefix("cas#")) {
        let id = rest.split(' ').next().unwrap_or("");
        return id.parse().unwrap_or(0);
    }
    match row.value {
        Value::Id(v) => v,
        _ => 0,
    }
}

/// A `detail` field `name=value` (space-separated pairs), if present.
pub fn detail_field<'a>(row: &'a Record, name: &str) -> Option<&'a str> {
    row.detail.split(' ').find_map(|tok| tok.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
}

/// An `install_snapshot` row after which the node's log is the snapshot's prefix alone
/// (`log=reset`): its node, index and term.
pub fn install_reset(row: &Record) -> Option<At> {
    if row.event != Event::InstallSnapshot || detail_field(row, "log") != Some("reset") {
        return None;
    }
    At::of(row)
}

/// Whether `row` is a `role` row saying its node became leader.
pub fn is_leader_row(row: &Record) -> bool {
    row.event == Event::Role && matches!(&row.value, Value::Text(t) if t == "leader")
}

/// What a RequestVote / AppendEntries row shows on the wire (`Msg::describe`): the message name in
/// `msg`, and `granted` / `success` in `detail` for a positive reply.
pub mod wire {
    use crate::trace::Record;

    pub const REQUEST_VOTE: &str = "request_vote";
    pub const REQUEST_VOTE_REPLY: &str = "request_vote_reply";
    pub const APPEND_ENTRIES: &str = "append_entries";
    pub const APPEND_ENTRIES_REPLY: &str = "append_entries_reply";
    pub const INSTALL_SNAPSHOT: &str = "install_snapshot";
    pub const INSTALL_SNAPSHOT_REPLY: &str = "install_snapshot_reply";

    /// A RequestVoteReply that grants the vote.
    #[inline]
    pub fn is_grant(row: &Record) -> bool {
        row.msg == REQUEST_VOTE_REPLY && row.detail == "granted"
    }

    /// An AppendEntriesReply that acknowledges (`success`); its `index` is the match index.
    #[inline]
    pub fn is_ack(row: &Record) -> bool {
        row.msg == APPEND_ENTRIES_REPLY && row.detail == "success"
    }

    /// Any of the Raft RPC messages (Figure 2's two and InstallSnapshot of Figure 13, with their
    /// replies), whose `term` column is the sender's current term.
    /// The six names have six lengths: one name to compare per row, picked by the length, as a
    /// fixed-size array (compared inline, where a slice comparison calls `memcmp`).
    #[inline]
    pub fn is_rpc(row: &Record) -> bool {
        let msg = row.msg.as_bytes();
        match msg.len() {
            12 => is::<12>(msg, REQUEST_VOTE),
            18 => is::<18>(msg, REQUEST_VOTE_REPLY),
            14 => is::<14>(msg, APPEND_ENTRIES),
            20 => is::<20>(msg, APPEND_ENTRIES_REPLY),
            16 => is::<16>(msg, INSTALL_SNAPSHOT),
            22 => is::<22>(msg, INSTALL_SNAPSHOT_REPLY),
            _ => false,
        }
    }

    /// Whether `row` carries an InstallSnapshot request (compared inline, as in [`is_rpc`]).
    #[inline]
    pub fn is_install_snapshot(row: &Record) -> bool {
        is::<16>(row.msg.as_bytes(), INSTALL_SNAPSHOT)
    }

    /// Whether `msg` is `name`, both of `N` bytes.
    #[inline]
    fn is<const N: usize>(msg: &[u8], name: &str) -> bool {
        match (<&[u8; N]>::try_from(msg), <&[u8; N]>::try_from(name.as_bytes())) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        }
    }
}

/// The cluster's size as the trace shows it: one more than the highest node id named in a `node`
/// or `peer` column. Every node writes a `role` row when it starts, so in a simulated trace it is
/// exact from the first rows on.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClusterSize {
    nodes: u32,
}

impl ClusterSize {
    #[inline]
    pub fn observe(&mut self, row: &Record) {
        if let Some(id) = row.node {
            self.see(id);
        }
        if let Some(id) = row.peer {
            self.see(id);
        }
    }

    #[inline]
    fn see(&mut self, id: NodeId) {
        if id.0 < NodeMap::<()>::DENSE_MAX && id.0 >= self.nodes {
            self.nodes = id.0 + 1;
        }
    }

    pub fn nodes(&self) -> u32 {
        self.nodes
    }

    /// A strict majority of the nodes seen.
    pub fn majority(&self) -> usize {
        self.nodes as usize / 2 + 1
    }
}

/// One log's terms as runs of equal terms: what the checkers need of a log, in memory that grows
/// with the number of terms rather than the number of entries (a log of a million entries written
/// in a dozen terms is a dozen runs).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TermRuns {
    /// `(first index, term)` per run, first indexes increasing, neighbours of different terms;
    /// term 0 marks a gap (no entry).
    runs: Vec<(u64, u64)>,
    /// The last index (0: empty).
    len: u64,
}

impl TermRuns {
    /// The last index (0 for an empty log).
    pub fn last_index(&self) -> u64 {
        self.len
    }

    /// The term at `index`, or `None` for index 0, a gap or beyond the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 || index > self.len {
            return None;
        }
        // Most lookups are near the end: try the last run before searching.
        let term = match self.runs.last() {
            Some(&(first, term)) if first <= index => term,
            _ => {
                let k = self.runs.partition_point(|&(first, _)| first <= index);
                self.runs[k - 1].1
            }
        };
        (term != 0).then_some(term)
    }

    /// The first index in `from..=to` whose term is not `term` (a gap or beyond the end counts as
    /// not), with how many indexes there are not: O(runs crossed).
    pub fn first_not(&self, from: u64, to: u64, term: u64) -> Option<(u64, u64)> {
        let mut first = None;
        let mut count = 0;
        let mut i = from.max(1);
        while i <= to {
            // The run holding `i` ends where the next one starts (or at the log's end).
            let k = self.runs.partition_point(|&(f, _)| f <= i);
            let (run_term, end) = if i > self.len || k == 0 {
                (0, to)
            } else {
                let end = self.runs.get(k).map_or(self.len, |&(f, _)| f - 1);
                (self.runs[k - 1].1, end.min(to))
            };
            if run_term != term {
                first.get_or_insert(i);
                count += end - i + 1;
            }
            i = end + 1;
        }
        first.map(|f| (f, count))
    }

    /// Keeps indexes `1..=keep`.
    pub fn truncate(&mut self, keep: u64) {
        if keep >= self.len {
            return;
        }
        self.len = keep;
        let runs = self.runs.partition_point(|&(first, _)| first <= keep);
        self.runs.truncate(runs);
    }

    /// Writes `term` at `index`, dropping what followed; the indexes between the end and `index`
    /// become a gap. Index 0 holds no entry and is ignored.
    #[inline]
    pub fn write(&mut self, index: u64, term: u64) {
        // The common write appends right after the last entry, in the last run's term: one add,
        // inlined into the callers (every append / store row of four checkers).
        if index.checked_sub(1) == Some(self.len) && self.runs.last().is_some_and(|&(_, t)| t == term) {
            self.len += 1;
            return;
        }
        self.write_other(index, term);
    }

    /// [`TermRuns::write`] but for an append in the last run's term.
    #[inline(never)]
    fn write_other(&mut self, index: u64, term: u64) {
        // Right after the last entry: nothing to cut, no gap to fill.
        if index.checked_sub(1) == Some(self.len) {
            self.extend(1, term);
            return;
        }
        if index == 0 {
            return;
        }
        self.truncate(index - 1);
        if index - 1 > self.len {
            self.extend(index - 1 - self.len, 0);
        }
        self.extend(1, term);
    }

    fn extend(&mut self, count: u64, term: u64) {
        if self.runs.last().map(|&(_, t)| t) != Some(term) {
            self.runs.push((self.len + 1, term));
        }
        self.len += count;
    }
}

/// Every node's log, terms only, rebuilt from the trace.
///
/// Writing an entry at `index` (an `append` or `store` row) also drops whatever followed it: a
/// correct trace only ever writes at `last index + 1`, and this makes an overwriting write leave
/// the log in the only state consistent with it. A write beyond `last index + 1` leaves a gap
/// (term 0: no entry), at most [`LogTerms::GAP_MAX`] long; a wilder index is ignored.
#[derive(Clone, Debug, Default)]
pub struct LogTerms {
    logs: NodeMap<TermRuns>,
}

impl LogTerms {
    pub const GAP_MAX: u64 = 1 << 20;

    pub fn new() -> LogTerms {
        LogTerms::default()
    }

    /// Applies an `append`, `store`, `truncate` or `install_snapshot` row; other rows are ignored.
    pub fn observe(&mut self, row: &Record) {
        match row.event {
            Event::InstallSnapshot => {
                if let Some(at) = install_reset(row) {
                    self.install(at);
                }
            }
            Event::Append | Event::Store => {
                if let Some(at) = At::of(row) {
                    self.write(at);
                }
            }
            Event::Truncate => {
                if let (Some(node), Some(index)) = (row.node, row.index) {
                    self.truncate(node, index);
                }
            }
            _ => {}
        }
    }

    /// `at.node` installed a snapshot whose last entry is `(at.term, at.index)` and discarded its
    /// log (module comment). Returns the first index where its log changed, if any.
    pub fn install(&mut self, at: At) -> Option<u64> {
        let source = self
            .logs
            .iter()
            .find(|(n, log)| *n != at.node && log.term_at(at.index) == Some(at.term))
            .map(|(_, log)| log.clone());
        let mut new = match source {
            Some(mut log) => {
                log.truncate(at.index);
                log
            }
            None => {
                let mut log = TermRuns::default();
                log.write(at.index, at.term);
                log
            }
        };
        new.truncate(at.index);
        let old = self.logs.entry_or_default(at.node);
        let changed =
            (1..=old.last_index().max(new.last_index())).find(|&i| old.term_at(i) != new.term_at(i));
        *old = new;
        changed
    }

    fn write(&mut self, at: At) {
        let log = self.logs.entry_or_default(at.node);
        if at.index > log.len.saturating_add(1).saturating_add(Self::GAP_MAX) {
            return;
        }
        log.write(at.index, at.term);
    }

    /// Removes the entries at `index` and above.
    pub fn truncate(&mut self, node: NodeId, index: u64) {
        if let Some(log) = self.logs.get_mut(&node) {
            log.truncate(index.saturating_sub(1));
        }
    }

    /// The index of `node`'s last entry (0 for an empty log).
    pub fn last_index(&self, node: NodeId) -> u64 {
        self.logs.get(&node).map_or(0, TermRuns::last_index)
    }

    /// `node`'s log, terms only.
    pub fn log(&self, node: NodeId) -> TermRuns {
        self.logs.get(&node).cloned().unwrap_or_default()
    }

    /// The term of `node`'s entry at `index`, or `None` if it has none there (beyond its log, a gap,
    /// or index 0).
    pub fn term_at(&self, node: NodeId, index: u64) -> Option<u64> {
        self.logs.get(&node)?.term_at(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    /// `is_rpc` picks the name to compare by length: exactly the six names pass, and a name of the
    /// same length as one of them (`client_forward`, `append_entries`'s 14) does not.
    #[test]
    fn is_rpc_is_exactly_the_six_names() {
        use wire::*;
        let names = [
            REQUEST_VOTE,
            REQUEST_VOTE_REPLY,
            APPEND_ENTRIES,
            APPEND_ENTRIES_REPLY,
            INSTALL_SNAPSHOT,
            INSTALL_SNAPSHOT_REPLY,
        ];
        for name in names {
            assert!(is_rpc(&Record::new(Event::Send).msg(name)), "{name}");
            assert!(!is_rpc(&Record::new(Event::Send).msg(&name[1..])), "{name}");
        }
        for other in ["", "client_forward", "append_entrieS", "request_votes", "put", "config"] {
            assert!(!is_rpc(&Record::new(Event::Send).msg(other)), "{other}");
        }
    }

    #[test]
    fn writes_truncates_and_gaps() {
        let mut logs = LogTerms::new();
        for row in [append(0, 1, 1, 1), append(0, 1, 2, 2), store(1, 1, 1, 1), append(0, 2, 3, 3)] {
            logs.observe(&row);
        }
        assert_eq!(logs.last_index(NodeId(0)), 3);
        assert_eq!(logs.term_at(NodeId(0), 3), Some(2));
        assert_eq!(logs.term_at(NodeId(0), 0), None);
        assert_eq!(logs.term_at(NodeId(2), 1), None);
        // An overwrite at 2 drops index 3 too.
        logs.observe(&store(0, 3, 2, 9));
        assert_eq!(logs.last_index(NodeId(0)), 2);
        logs.observe(&truncate(0, 2));
        assert_eq!(logs.last_index(NodeId(0)), 1);
        // A gap: index 2 and 3 are empty.
        logs.observe(&store(1, 1, 4, 4));
        assert_eq!(logs.last_index(NodeId(1)), 4);
        assert_eq!(logs.term_at(NodeId(1), 2), None);
        // Too wild an index is ignored.
        logs.observe(&store(1, 1, u64::MAX, 4));
        assert_eq!(logs.last_index(NodeId(1)), 4);
        // Truncating beyond the end or at 0 is harmless.
        logs.observe(&truncate(1, 10));
        assert_eq!(logs.last_index(NodeId(1)), 4);
        logs.observe(&truncate(1, 0));
        assert_eq!(logs.last_index(NodeId(1)), 0);
    }

    #[test]
    fn runs_agree_with_a_plain_vector() {
        // Every write / truncate sequence of a small model gives the same terms as a Vec would.
        let mut runs = TermRuns::default();
        let mut plain: Vec<u64> = Vec::new();
        let steps: [(u64, u64); 12] =
            [(1, 1), (2, 1), (3, 2), (6, 2), (4, 3), (0, 2), (3, 3), (3, 3), (9, 0), (1, 4), (2, 4), (0, 0)];
        for (k, &(index, term)) in steps.iter().enumerate() {
            if index == 0 {
                runs.truncate(term);
                plain.truncate(term as usize);
            } else if term == 0 {
                runs.truncate(index - 1);
                plain.truncate(index as usize - 1);
            } else {
                runs.write(index, term);
                plain.resize(index as usize - 1, 0);
                plain.push(term);
            }
            assert_eq!(runs.last_index(), plain.len() as u64, "step {k}");
            for i in 0..=plain.len() as u64 + 1 {
                let want = i.checked_sub(1).and_then(|s| plain.get(s as usize)).copied().filter(|t| *t != 0);
                assert_eq!(runs.term_at(i), want, "step {k} index {i}");
            }
        }
        assert!(runs.runs.len() <= 2, "{:?}", runs.runs);
    }

    /// Reference: Raft §7, Figure 13 step 7 — a follower that discarded its log holds the
    /// snapshot's prefix, which is any holder's prefix up to the snapshot's last entry.
    #[test]
    fn an_install_that_resets_takes_a_holders_prefix() {
        let mut logs = LogTerms::new();
        for row in [append(0, 1, 1, 1), append(0, 1, 2, 2), append(0, 2, 3, 3), append(0, 2, 4, 4)] {
            logs.observe(&row);
        }
        logs.observe(&store(1, 1, 1, 1));
        logs.observe(&store(1, 1, 2, 2));
        logs.observe(&store(1, 1, 3, 9));
        let install = |node: u32, term: u64, index: u64| {
            Record::new(Event::InstallSnapshot)
                .node(NodeId(node))
                .term(term)
                .index(index)
                .detail("from=leader digest=0 log=reset")
        };
        logs.observe(&install(1, 2, 3));
        assert_eq!(logs.last_index(NodeId(1)), 3);
        assert_eq!(logs.term_at(NodeId(1), 3), Some(2));
        assert_eq!(logs.term_at(NodeId(1), 1), Some(1));
        // No holder: the prefix is a gap before the snapshot's last entry.
        logs.observe(&install(2, 7, 5));
        assert_eq!((logs.last_index(NodeId(2)), logs.term_at(NodeId(2), 4)), (5, None));
        assert_eq!(logs.term_at(NodeId(2), 5), Some(7));
        // `log=kept` changes nothing.
        let kept = Record::new(Event::InstallSnapshot).node(NodeId(0)).term(1).index(2).detail("log=kept");
        logs.observe(&kept);
        assert_eq!(logs.last_index(NodeId(0)), 4);
        let mut again = LogTerms::new();
        again.observe(&append(0, 1, 1, 1));
        again.observe(&store(1, 1, 1, 1));
        assert_eq!(again.install(At { node: NodeId(1), term: 1, index: 1 }), None);
        assert_eq!(again.install(At { node: NodeId(1), term: 5, index: 1 }), Some(1));
    }

    #[test]
    fn payload_display_and_match() {
        let row = append(0, 1, 1, 7);
        let p = Payload::of(&row);
        assert!(p.matches(&row));
        assert!(!p.matches(&append(0, 1, 1, 8)));
        assert_eq!(p.to_string(), "put k1 v7");
        assert_eq!(Payload::of(&append_get(0, 1, 1, 2)).to_string(), "get k2");
    }
}
