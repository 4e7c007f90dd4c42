//! Pipelined replication (`raft.max_inflight_appends > 1`) and fast backtracking
//! (`raft.fast_backtrack`): the leader's per-follower flow control, after etcd's Probe / Replicate
//! states (etcd raft `tracker/progress.go`, `tracker/inflights.go`; the code here is dsim's own).
//!
//! A follower's [`Flow`] is *probing* after the leader takes office, after a rejection, and after
//! the leader resends to an unresponsive follower: one AppendEntries at a time from `next_index`,
//! exactly as the paper's stop-and-wait. The first acknowledgement switches it to *replicating*:
//! every AppendEntries that carries entries advances `next_index` past them at once (optimistic) and
//! takes a slot of the window, at most `max_inflight_appends`; an acknowledgement frees the slots it
//! covers. `match_index` only moves forward, so a reordered or duplicated acknowledgement changes
//! nothing (the bug `pipeline_match_regress` lets it move back).
//!
//! Rejections name the request they answer (`rejected_prev`, its `prev_log_index`): one whose
//! request starts at or past `next_index`, or at or below `match_index`, is stale or a duplicate
//! and ignored, so `next_index` backs off once per divergence. With fast backtracking the rejection
//! also carries the follower's conflicting term and the first index it holds of it (§5.3: "the
//! follower can include the term of the conflicting entry and the first index it stores for that
//! term"); the leader skips past that term in one step.
//!
//! Heartbeats: a probing follower, or one with nothing in flight, gets the paper's AppendEntries
//! from `next_index`. A replicating follower with requests in flight gets an empty AppendEntries at
//! `match_index`, which cannot be rejected for a log mismatch (it only carries `leader_commit` and
//! the read round), unless its oldest request in flight has been unanswered for a whole heartbeat
//! interval: then the heartbeat goes at `next_index - 1`, and a follower that lost a request
//! rejects it and the flow falls back to probing.

use std::collections::VecDeque;

use crate::sim::NodeId;

use super::RaftNode;
use crate::raft::log::{LogIndex, Term};
use crate::raft::messages::{AppendEntries, AppendEntriesReply, Msg};
use crate::raft::Bug;

/// The leader's flow control towards one follower.
#[derive(Clone, Debug, Default)]
pub struct Flow {
    /// Replicating (optimistic `next_index`, a window of requests in flight) rather than probing.
    pub replicating: bool,
    /// The requests carrying entries in flight: the last index each carries and the heartbeat tick
    /// it was sent in, oldest first. Invariant: `len() <= max_inflight_appends`, indices increase,
    /// every index `< next_index`.
    pub inflight: VecDeque<(LogIndex, u64)>,
}

impl Flow {
    /// Back to probing: the window is empty and `next_index` moves only on replies.
    fn probe(&mut self) {
        self.replicating = false;
        self.inflight.clear();
    }

    /// Frees the slots of the requests `matched` covers.
    fn acked(&mut self, matched: LogIndex) {
        while self.inflight.front().is_some_and(|(last, _)| *last <= matched) {
            self.inflight.pop_front();
        }
    }
}

impl RaftNode {
    /// Every follower probes: a new leader knows nothing of their logs.
    pub(super) fn reset_flows(&mut self) {
        self.flows.iter_mut().for_each(Flow::probe);
    }

    /// Pipelined: fills `to`'s window while entries remain to send. A probing follower gets one
    /// request when none is pending (stop-and-wait).
    pub(super) fn fill_window(&mut self, to: NodeId) {
        let p = to.index();
        if !self.flows[p].replicating {
            return;
        }
        let max = self.config.max_inflight_appends as usize;
        while self.flows[p].inflight.len() < max && self.next_index[p] <= self.log.last_index() {
            let next = self.next_index[p];
            if self.behind_snapshot(next - 1) {
                // §7: the follower needs the snapshot first; stop-and-wait until it has it.
                self.flows[p].probe();
                self.send_snapshot_chunk(to);
                return;
            }
            let last = self.send_append_from(to, next);
            self.next_index[p] = last + 1;
            let tick = self.heartbeat_tick;
            self.flows[p].inflight.push_back((last, tick));
        }
    }

    /// Pipelined heartbeat to `to` (module comment).
    pub(super) fn pipelined_heartbeat(&mut self, to: NodeId) {
        let p = to.index();
        let flow = &self.flows[p];
        let Some(&(_, sent_tick)) = flow.inflight.front() else {
            // Probing, or everything sent is acknowledged: the paper's heartbeat, or the next
            // entries when there are some to send.
            if flow.replicating && self.next_index[p] <= self.log.last_index() {
                self.fill_window(to);
            } else {
                self.send_append_entries(to);
            }
            return;
        };
        // A whole heartbeat interval has passed since the oldest request left unanswered.
        let overdue = sent_tick + 2 <= self.heartbeat_tick;
        let at = if overdue { self.next_index[p] - 1 } else { self.match_index[p] };
        self.send_empty_at(to, at);
        self.fill_window(to);
    }

    /// An AppendEntries from `next`, as many entries as one may carry. Returns its last index.
    fn send_append_from(&mut self, to: NodeId, next: LogIndex) -> LogIndex {
        let prev_log_index = next - 1;
        let entries = self.log.entries_from(next, self.config.max_entries_per_append).to_vec();
        let last = prev_log_index + entries.len() as u64;
        self.push_append(to, prev_log_index, entries);
        last
    }

    /// An AppendEntries with no entries after `prev_log_index`.
    fn send_empty_at(&mut self, to: NodeId, prev_log_index: LogIndex) {
        if self.behind_snapshot(prev_log_index) {
            self.flows[to.index()].probe();
            self.send_snapshot_chunk(to);
            return;
        }
        self.push_append(to, prev_log_index, Vec::new());
    }

    /// Queues an AppendEntries to `to` after `prev_log_index` (which the leader's log holds).
    pub(super) fn push_append(
        &mut self,
        to: NodeId,
        prev_log_index: LogIndex,
        entries: Vec<crate::raft::log::Entry>,
    ) {
        let prev_log_term = self.log.term_at(prev_log_index).unwrap_or_else(|| {
            unreachable!("prev_log_index {prev_log_index} <= last index {}", self.log.last_index())
        });
        let request = AppendEntries {
            term: self.current_term,
            leader_id: self.id,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: self.commit_index,
            read_round: self.reads.round,
        };
        self.outbox.push((to, Msg::AppendEntries(request)));
    }

    /// Pipelined, a success: `match_index` moves forward only (the bug lets a stale reply move it
    /// back). Returns whether `match_index` advanced.
    pub(super) fn pipelined_ack(&mut self, from: NodeId, matched: LogIndex) -> bool {
        let p = from.index();
        if matched <= self.match_index[p] {
            if self.config.bug == Bug::PipelineMatchRegress && matched < self.match_index[p] {
                // Heartbeats at `match_index` and back-offs (never below it) now start from there.
                self.match_index[p] = matched;
            }
            return false;
        }
        self.match_index[p] = matched;
        self.next_index[p] = self.next_index[p].max(matched + 1);
        let flow = &mut self.flows[p];
        flow.acked(matched);
        flow.replicating = true;
        true
    }

    /// A rejection that names its request (module comment). Stale and duplicated ones are
    /// ignored; otherwise `next_index` backs off to the hint (never below `match_index + 1`, never
    /// above the rejected `prev_log_index`), the flow probes, and one request goes out.
    pub(super) fn named_rejection(&mut self, from: NodeId, reply: &AppendEntriesReply, rejected: LogIndex) {
        let p = from.index();
        if rejected >= self.next_index[p] || rejected <= self.match_index[p] {
            return;
        }
        let hint = match reply.conflict_index {
            Some(conflict_index) => self.backtrack_to(rejected, reply.conflict_term, conflict_index),
            // The follower's last index: it holds nothing past it.
            None => reply.match_index.saturating_add(1),
        };
        self.next_index[p] = hint.min(rejected).max(self.match_index[p] + 1);
        self.flows[p].probe();
        self.send_append_entries(from);
    }

    /// Fast backtracking, the leader's side: past the last entry it holds of the follower's
    /// conflicting term when it has one (the logs may agree up to there), else to the first index
    /// the follower holds of that term (or its log's end).
    fn backtrack_to(
        &self,
        rejected: LogIndex,
        conflict_term: Option<Term>,
        conflict_index: LogIndex,
    ) -> LogIndex {
        let Some(term) = conflict_term else { return conflict_index };
        // Terms never decrease along the log: scan down from the rejected index while they are
        // above the follower's term.
        let mut index = rejected.min(self.log.last_index());
        while index > self.log.snapshot_index() {
            match self.log.term_at(index) {
                Some(t) if t > term => index -= 1,
                Some(t) if t == term => return index + 1,
                _ => break,
            }
        }
        conflict_index
    }

    /// Fast backtracking, the follower's side: for a rejection at `prev_log_index`, the term of
    /// this node's entry there (`None` past its log's end) and the first index it holds of that
    /// term (its last index + 1 past the end).
    pub(super) fn conflict_hint(&self, prev_log_index: LogIndex) -> (Option<Term>, LogIndex) {
        let last = self.log.last_index();
        if prev_log_index > last {
            return (None, last + 1);
        }
        let term = self.log.term_at(prev_log_index);
        let mut first = prev_log_index;
        // Not into the compacted prefix: its terms are gone (§7).
        while first > 1 && first - 1 > self.log.snapshot_index() && self.log.term_at(first - 1) == term {
            first -= 1;
        }
        (term, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_free_the_slots_they_cover() {
        let mut flow = Flow { replicating: true, inflight: VecDeque::from([(3, 0), (5, 0), (9, 1)]) };
        flow.acked(4);
        assert_eq!(flow.inflight, VecDeque::from([(5, 0), (9, 1)]));
        flow.acked(9);
        assert!(flow.inflight.is_empty());
        flow.inflight.push_back((12, 2));
        flow.probe();
        assert!(!flow.replicating && flow.inflight.is_empty());
    }
}
