//! Every change to a node's state shows in the trace: at the end of a run each Raft node writes a
//! `final` row with its real state (term = `current_term`, index = last log index, detail
//! `commit=<commit_index> digest=<hex>` over its log's `(index, term, command id)`), and this
//! checker compares it with what the node's rows implied:
//!
//! - the log rebuilt from `append` / `store` / `truncate` rows (the digest `raft::entry_digest`,
//!   the command id being a put's value id or a get's `get#<id>`);
//! - `commit_index`: the highest `commit` row since the node last crashed (0 after a crash);
//! - `current_term`: the highest term the node showed or was shown since it last crashed — its
//!   `role`, `vote`, `append` and `commit` rows, the RPCs delivered to it (a higher term is adopted
//!   on receipt, Figure 2), and the durable term its restart reports.
//!
//! A node that changes its log or term without writing rows (or writes rows it did not act on)
//! is caught here, even if no other property notices.
//!
//! Bounded memory (issue 15): the entries below the cluster's pruning point (`prune`: every member
//! has snapshotted past them) are folded into a digest of the log's prefix. A row that rewrites
//! or truncates a node's log inside its folded prefix (a node that came back from an older durable
//! snapshot) leaves that node's digest unknown, and only its last index, commit index and term are
//! compared.

use crate::check::node_map::NodeMap;
use crate::check::prune::PrunePoint;
use crate::check::raft_log::{command_id, install_reset, wire};
use crate::check::{Checker, Violation};
use crate::raft::{entry_digest, DIGEST_EMPTY};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// A log as the digest needs it: a folded prefix and the entries after it.
#[derive(Clone, Debug)]
struct FoldedLog {
    /// Entries `1..=base` are folded into `base_digest`; `base_term` is the term at `base`.
    base: u64,
    base_digest: u64,
    base_term: u64,
    /// `(term, command id)` of the entry at index `base + 1 + i`.
    tail: Vec<(u64, u64)>,
}

impl Default for FoldedLog {
    fn default() -> Self {
        FoldedLog { base: 0, base_digest: DIGEST_EMPTY, base_term: 0, tail: Vec::new() }
    }
}

impl FoldedLog {
    fn len(&self) -> u64 {
        self.base + self.tail.len() as u64
    }

    fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 {
            return None;
        }
        if index == self.base {
            return (self.base_term != 0).then_some(self.base_term);
        }
        let i = index.checked_sub(self.base + 1)?;
        self.tail.get(usize::try_from(i).ok()?).map(|(t, _)| *t)
    }

    fn digest(&self) -> u64 {
        self.tail
            .iter()
            .zip(self.base + 1..)
            .fold(self.base_digest, |h, ((t, id), i)| entry_digest(h, i, *t, *id))
    }

    /// Keeps `1..=keep`; false if that cuts into the folded prefix (whose digest is then unknown).
    fn truncate(&mut self, keep: u64) -> bool {
        if keep >= self.len() {
            return true;
        }
        if keep < self.base {
            *self = FoldedLog { base: keep, base_digest: DIGEST_EMPTY, base_term: 0, tail: Vec::new() };
            return false;
        }
        self.tail.truncate((keep - self.base) as usize);
        true
    }

    /// Folds the entries up to `upto` (at most the last one) into the digest.
    fn fold(&mut self, upto: u64) {
        let upto = upto.min(self.len());
        if upto <= self.base {
            return;
        }
        let n = (upto - self.base) as usize;
        let mut digest = self.base_digest;
        for (k, (t, id)) in self.tail.drain(..n).enumerate() {
            digest = entry_digest(digest, self.base + 1 + k as u64, t, id);
            self.base_term = t;
        }
        self.base = upto;
        self.base_digest = digest;
    }

    /// `1..=keep` of this log, if that does not cut into the folded prefix.
    fn prefix(&self, keep: u64) -> Option<FoldedLog> {
        let mut log = FoldedLog {
            base: self.base,
            base_digest: self.base_digest,
            base_term: self.base_term,
            tail: self.tail[..(keep.min(self.len()).checked_sub(self.base)? as usize)].to_vec(),
        };
        log.truncate(keep).then_some(())?;
        Some(log)
    }
}

#[derive(Clone, Debug, Default)]
struct Implied {
    log: FoldedLog,
    commit: u64,
    term: u64,
    /// An install reset the log and no node held the snapshot's prefix: the digest is unknown.
    prefix_unknown: bool,
    /// The term before the last request_vote delivery raised it: a `disregard` note (Raft
    /// thesis §4.2.3, membership changes) that follows at once puts it back.
    term_before_vote_request: u64,
    /// Crashed and not restarted: its final row shows what it would restart with, which only its
    /// restart rows reveal, so a node down at the end is not compared.
    down: bool,
}

#[derive(Clone, Debug, Default)]
pub struct FinalState {
    nodes: NodeMap<Implied>,
    prune: PrunePoint,
}

impl FinalState {
    pub const NAME: &'static str = "final_state";

    pub fn new() -> FinalState {
        FinalState::default()
    }

    /// The number of log entries held unfolded, over every node (for the memory tests).
    pub fn records(&self) -> usize {
        self.nodes.iter().map(|(_, n)| n.log.tail.len()).sum()
    }

    fn check(&self, row: &Record, node: NodeId, out: &mut Vec<Violation>) {
        let implied = self.nodes.get(&node).cloned().unwrap_or_default();
        let digest = implied.log.digest();
        let field = |name: &str| {
            row.detail.split(' ').find_map(|tok| tok.strip_prefix(name).and_then(|v| v.strip_prefix('=')))
        };
        let real_commit = field("commit").and_then(|v| v.parse::<u64>().ok());
        let real_digest = field("digest").and_then(|v| u64::from_str_radix(v, 16).ok());
        let mut wrong = Vec::new();
        if row.index != Some(implied.log.len()) {
            wrong.push(format!("last index {:?}, rows imply {}", row.index, implied.log.len()));
        }
        if real_digest != Some(digest) && !implied.prefix_unknown {
            wrong.push(format!("log digest {}, rows imply {digest:016x}", field("digest").unwrap_or("?")));
        }
        if real_commit != Some(implied.commit) {
            wrong.push(format!(
                "commit index {}, rows imply {}",
                field("commit").unwrap_or("?"),
                implied.commit
            ));
        }
        if row.term != Some(implied.term) {
            wrong.push(format!("current term {:?}, rows imply {}", row.term, implied.term));
        }
        if !wrong.is_empty() {
            out.push(Violation::at(Self::NAME, row, format!("{node} ended with {}", wrong.join("; "))));
        }
    }
}

impl FinalState {
    /// An `install_snapshot` row: `commit_index` becomes its index; with `log=reset` the log is
    /// the prefix of a node holding the snapshot's last entry (`raft_log` module comment).
    fn install(&mut self, row: &Record, node: NodeId) {
        if let Some(at) = install_reset(row) {
            let i = at.index;
            let holder = self.nodes.iter().find_map(|(n, other)| {
                let held = n != node && other.log.term_at(i) == Some(at.term);
                Some((other.log.prefix(i)?, other.prefix_unknown)).filter(|_| held)
            });
            let (log, unknown) = match holder {
                Some(found) => found,
                None if i <= 1 << 20 => {
                    let mut log = FoldedLog { base: i - 1, ..FoldedLog::default() };
                    log.tail.push((at.term, 0));
                    (log, true)
                }
                None => return,
            };
            let implied = self.nodes.entry_or_default(node);
            implied.log = log;
            implied.prefix_unknown = unknown;
        }
        if let Some(index) = row.index {
            self.nodes.entry_or_default(node).commit = index;
        }
    }
}

impl Checker for FinalState {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Deliver,
            Event::Crash,
            Event::Restart,
            Event::Role,
            Event::Vote,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::Commit,
            Event::InstallSnapshot,
            Event::Final,
            Event::Note,
            Event::Snapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if let Some(point) = self.prune.observe(row) {
            self.nodes.for_each_mut(|_, n| n.log.fold(point));
        }
        let Some(node) = row.node else { return };
        if row.event == Event::Final {
            if !self.nodes.get(&node).is_some_and(|n| n.down) {
                self.check(row, node, out);
            }
            return;
        }
        if row.event == Event::Deliver && !wire::is_rpc(row) {
            return;
        }
        if row.event == Event::InstallSnapshot {
            self.install(row, node);
            return;
        }
        if row.event == Event::Note && row.msg != "disregard" {
            return;
        }
        let implied = self.nodes.entry_or_default(node);
        if row.event == Event::Note {
            if row.term == Some(implied.term) {
                implied.term = implied.term_before_vote_request;
            }
            return;
        }
        if row.event == Event::Deliver && row.msg == wire::REQUEST_VOTE {
            implied.term_before_vote_request = implied.term;
        }
        match row.event {
            Event::Crash => {
                implied.commit = 0;
                implied.term = 0;
                implied.down = true;
                return;
            }
            Event::Restart => {
                implied.down = false;
                return;
            }
            Event::Append | Event::Store => {
                if let (Some(index), Some(term)) = (row.index, row.term) {
                    let len = implied.log.len();
                    if index >= 1 && index <= len + 1 {
                        if !implied.log.truncate(index - 1) {
                            implied.prefix_unknown = true;
                        }
                        implied.log.tail.push((term, command_id(row)));
                    }
                }
                if row.event == Event::Store {
                    return; // a stored entry's term is its leader's, not the node's
                }
            }
            Event::Truncate => {
                if let Some(index) = row.index {
                    if !implied.log.truncate(index.saturating_sub(1)) {
                        implied.prefix_unknown = true;
                    }
                }
                return;
            }
            Event::Commit => {
                implied.commit = implied.commit.max(row.index.unwrap_or(0));
            }
            _ => {}
        }
        if let Some(term) = row.term {
            implied.term = implied.term.max(term);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn final_row(node: u32, term: u64, last: u64, commit: u64, entries: &[(u64, u64)]) -> Record {
        let digest =
            entries.iter().zip(1..).fold(DIGEST_EMPTY, |h, ((t, id), i)| entry_digest(h, i, *t, *id));
        Record::new(Event::Final)
            .node(NodeId(node))
            .term(term)
            .index(last)
            .detail(format!("commit={commit} digest={digest:016x}"))
    }

    #[test]
    fn a_final_state_matching_the_rows_passes() {
        let rows = vec![
            role(0, 1, "leader"),
            append(0, 1, 1, 7),
            append_get(0, 1, 2, 1).detail("get#8"),
            commit(0, 2, 1),
            final_row(0, 1, 2, 2, &[(1, 7), (1, 8)]),
        ];
        assert_eq!(run(&mut FinalState::new(), rows), vec![]);
    }

    /// Blind spot: n1 ends holding an entry it never wrote a row for (and its term moved on
    /// silently). Every other checker only sees rows, so nothing else can notice.
    #[test]
    fn a_log_changed_without_rows_is_caught() {
        let rows = vec![role(1, 1, "follower"), store(1, 1, 1, 7), final_row(1, 2, 2, 0, &[(1, 7), (2, 9)])];
        let v = run(&mut FinalState::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(
            v[0].message.starts_with("n1 ended with last index Some(2), rows imply 1; log digest"),
            "{}",
            v[0].message
        );
        assert!(v[0].message.ends_with("current term Some(2), rows imply 1"), "{}", v[0].message);
    }

    /// A node down at the end is not compared (its durable state shows only at a restart); once
    /// restarted it is compared again.
    #[test]
    fn a_node_down_at_the_end_is_not_compared() {
        let crash = || Record::new(Event::Crash).node(NodeId(1));
        let rows = vec![role(1, 3, "leader"), crash(), final_row(1, 3, 0, 0, &[])];
        assert_eq!(run(&mut FinalState::new(), rows), vec![]);
        let restart = Record::new(Event::Restart).node(NodeId(1));
        let rows = vec![role(1, 3, "leader"), crash(), restart, final_row(1, 3, 0, 0, &[])];
        assert_eq!(run(&mut FinalState::new(), rows).len(), 1);
    }

    /// Issue 15: the logs are folded behind the pruning point, and the folded prefix still counts
    /// in the digest compared at the end.
    #[test]
    fn folded_logs_still_give_the_digest() {
        let ends = |changed: u64| {
            let mut rows = snapshotting_history(2000, 10);
            let entries: Vec<(u64, u64)> =
                (1..=2000).map(|i| (1, if i == 5 { changed } else { i })).collect();
            rows.extend((0..3).map(|n| final_row(n, 1, 2000, 2000, &entries)));
            rows
        };
        let mut checker = FinalState::new();
        assert_eq!(run(&mut checker, ends(5)), vec![]);
        assert!(checker.records() <= 30, "{} records", checker.records());
        let v = run(&mut FinalState::new(), ends(6));
        assert_eq!(v.len(), 3, "{v:?}");
        assert!(v[0].message.starts_with("n0 ended with log digest"), "{}", v[0].message);
    }
}
