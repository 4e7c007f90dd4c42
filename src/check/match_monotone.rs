//! A leader's `match_index` for a follower "increases monotonically" (Raft Figure 2), seen on the
//! wire: once a leader of term T has received a `success` AppendEntries reply of term T from a
//! follower acknowledging index m, every later AppendEntries it sends that follower in term T
//! starts at `prev_log_index >= m` (`next_index` never falls back to or below an acknowledged
//! index; a resend from below means the leader forgot the acknowledgement). Pipelining is where
//! this breaks: replies overtake each other, and a leader that takes the latest reply as the truth
//! moves `match_index` back (the bug `pipeline_match_regress`).
//!
//! Evidence: `deliver` rows of acknowledgements at the leader, `send` rows of its AppendEntries,
//! and `role` / `crash` rows for who leads which term. A message leaves a node only when the
//! persists it depends on complete (the fsync model: up to `persist_delay_us` after the handler
//! that made it), so an acknowledgement counts against a request only when it was delivered more
//! than that delay before the request's `send` row: the request was surely built after it. A
//! paused node's messages wait for it to wake (`note` rows `pause …` and `resume`): what it sends
//! at the moment it resumes is judged as if sent when the pause began (hunt seed 1929 of
//! `--set raft.max_inflight_appends=8 --set raft.fast_backtrack=true`, a false alarm before that:
//! a request built just before the ack of 325 arrived left 168 ms later, after a pause).

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::check::node_map::NodeMap;
use crate::check::raft_log::{is_leader_row, wire};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// What one leader (in one term of office) has heard from one follower.
#[derive(Clone, Debug, Default)]
struct Acked {
    /// The leader's term of office these acknowledgements belong to (its `epoch`).
    epoch: u64,
    /// Acknowledged indices delivered at most `slack_us` ago: (delivery time, index), oldest first.
    recent: VecDeque<(u64, u64)>,
    /// The highest index acknowledged before those.
    settled: u64,
}

#[derive(Clone, Debug, Default)]
pub struct MatchMonotone {
    /// The longest a message may wait for a persist before it leaves its node.
    slack_us: u64,
    /// Node -> the term it leads if its latest `role` row is `leader` (0 otherwise, and after a crash).
    leading: NodeMap<u64>,
    /// Node -> how many times it has taken office or crashed: acknowledgements of an earlier
    /// office are forgotten.
    epoch: NodeMap<u64>,
    /// (leader, follower) -> acknowledgements. Looked up, never iterated (so a hash map: no
    /// order reaches a verdict).
    acked: FxHashMap<(NodeId, NodeId), Acked>,
    /// Node -> when its current or last pause began.
    paused_at: NodeMap<u64>,
    /// Node -> (when its last pause began, when it resumed).
    resumed: NodeMap<(u64, u64)>,
}

impl MatchMonotone {
    pub const NAME: &'static str = "match_monotone";

    /// `slack_us`: the largest `persist_delay_us` of any node.
    pub fn new(slack_us: u64) -> MatchMonotone {
        MatchMonotone { slack_us, ..Default::default() }
    }

    fn new_office(&mut self, node: NodeId, leads: u64) {
        self.leading.insert(node, leads);
        let epoch = self.epoch.get(&node).copied().unwrap_or(0);
        self.epoch.insert(node, epoch + 1);
    }

    /// The acknowledgements `leader` holds from `follower` in its current office.
    fn acked(&mut self, leader: NodeId, follower: NodeId) -> &mut Acked {
        let epoch = self.epoch.get(&leader).copied().unwrap_or(0);
        let acked = self.acked.entry((leader, follower)).or_default();
        if acked.epoch != epoch {
            *acked = Acked { epoch, ..Default::default() };
        }
        acked
    }

    fn leads(&self, node: NodeId, term: u64) -> bool {
        term > 0 && self.leading.get(&node) == Some(&term)
    }

    fn check_request(&mut self, row: &Record, leader: NodeId, out: &mut Vec<Violation>) {
        let (Some(follower), Some(term), Some(prev)) = (row.peer, row.term, row.index) else { return };
        if !self.leads(leader, term) {
            return;
        }
        let slack = self.slack_us;
        // Sent as the node woke: it may have been built before the pause.
        let sent_us = match self.resumed.get(&leader) {
            Some(&(paused_at, resumed_at)) if resumed_at == row.time_us => paused_at,
            _ => row.time_us,
        };
        let acked = self.acked(leader, follower);
        while acked.recent.front().is_some_and(|(at, _)| at + slack < sent_us) {
            let (_, m) = acked.recent.pop_front().expect("front exists");
            acked.settled = acked.settled.max(m);
        }
        if prev < acked.settled {
            let settled = acked.settled;
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{leader} (leader of term {term}) sent {follower} an append_entries at prev_log_index \
                     {prev}, below index {settled} that {follower} had acknowledged to it this term"
                ),
            ));
        }
    }
}

impl Checker for MatchMonotone {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Send, Event::Deliver, Event::Role, Event::Crash, Event::Note])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        match row.event {
            Event::Send if row.msg == wire::APPEND_ENTRIES => self.check_request(row, node, out),
            Event::Deliver if wire::is_ack(row) => {
                let (Some(follower), Some(term), Some(m)) = (row.peer, row.term, row.index) else { return };
                if self.leads(node, term) {
                    self.acked(node, follower).recent.push_back((row.time_us, m));
                }
            }
            Event::Role => {
                let leads = if is_leader_row(row) { row.term.unwrap_or(0) } else { 0 };
                if self.leading.get(&node).copied().unwrap_or(0) != leads {
                    self.new_office(node, leads);
                }
            }
            Event::Crash => self.new_office(node, 0),
            // The kernel's pause notes (src/sim/runner.rs): `pause <n>us`, then `resume`.
            Event::Note if row.detail.starts_with("pause ") && !row.detail.starts_with("pause skipped") => {
                self.paused_at.insert(node, row.time_us);
            }
            Event::Note if row.detail == "resume" => {
                let paused_at = self.paused_at.get(&node).copied().unwrap_or(row.time_us);
                self.resumed.insert(node, (paused_at, row.time_us));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn request(leader: u32, follower: u32, term: u64, prev: u64) -> Record {
        let row = Record::new(Event::Send).node(NodeId(leader)).peer(NodeId(follower)).term(term);
        row.index(prev).msg("append_entries").detail("prev_term=1 entries=1 commit=0")
    }

    fn ack(leader: u32, follower: u32, term: u64, matched: u64) -> Record {
        let row = Record::new(Event::Deliver).node(NodeId(leader)).peer(NodeId(follower)).term(term);
        row.index(matched).msg("append_entries_reply").detail("success")
    }

    /// n0 leads term 1; n1 acknowledged index 5, then n0 resends from prev 3: caught. At prev 5
    /// (a heartbeat at `match_index`) it is fine. (`run` spaces rows 100 µs apart.)
    #[test]
    fn a_resend_below_an_acknowledged_index_is_caught() {
        let rows = vec![role(0, 1, "leader"), ack(0, 1, 1, 5), request(0, 1, 1, 5), request(0, 1, 1, 3)];
        let v = run(&mut MatchMonotone::new(0), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 3);
        assert_eq!(
            v[0].message,
            "n0 (leader of term 1) sent n1 an append_entries at prev_log_index 3, below index 5 that n1 \
             had acknowledged to it this term"
        );
    }

    /// A request leaving within the persist slack of the ack may have been built before it; one
    /// of a new office (after a crash, or another term) owes nothing to old acknowledgements; an
    /// acknowledgement from another follower says nothing about this one.
    #[test]
    fn requests_that_may_predate_the_ack_and_new_offices_are_not_judged() {
        let slack = vec![role(0, 1, "leader"), ack(0, 1, 1, 5), request(0, 1, 1, 3)];
        assert_eq!(run(&mut MatchMonotone::new(100), slack.clone()), vec![]);
        assert_eq!(run(&mut MatchMonotone::new(99), slack).len(), 1);
        let rows = vec![
            role(0, 1, "leader"),
            ack(0, 1, 1, 5),
            crash(0),
            role(0, 1, "follower"),
            role(0, 2, "leader"),
            request(0, 1, 2, 0),
            ack(0, 2, 2, 4),
            request(0, 1, 2, 0),
        ];
        assert_eq!(run(&mut MatchMonotone::new(0), rows), vec![]);
    }

    /// Hunt seed 1929 in small: n0 builds a request at prev 3, the ack of 5 arrives, n0 pauses
    /// and the request leaves when n0 resumes. Judged as of the pause, the ack is too recent.
    #[test]
    fn a_request_leaving_as_its_node_resumes_is_judged_as_of_the_pause() {
        let pause = Record::new(Event::Note).node(NodeId(0)).detail("pause 500us");
        let resume = Record::new(Event::Note).node(NodeId(0)).detail("resume");
        let rows = vec![role(0, 1, "leader"), ack(0, 1, 1, 5), pause, resume, request(0, 1, 1, 3)];
        let mut timed: Vec<Record> = history(rows);
        timed[4].time_us = timed[3].time_us;
        let mut checker = MatchMonotone::new(150);
        let mut out = Vec::new();
        for row in &timed {
            checker.observe(row, &mut out);
        }
        assert_eq!(out, vec![]);
        // A later request is judged as usual.
        let mut late = request(0, 1, 1, 3);
        late.time_us = timed[3].time_us + 1;
        checker.observe(&late, &mut out);
        assert_eq!(out.len(), 1, "{out:?}");
    }
}
