//! CheckQuorum (etcd's `CheckQuorum`; Raft thesis §6.2): a leader that has not heard from a
//! majority within an election timeout steps down. Checked only when the scenario turns
//! `raft.check_quorum` on.
//!
//! Evidence from the wire: a node acts as the leader of term T when it sends `append_entries` of
//! term T. At each such `send` row at time t, the distinct peers whose `append_entries_reply` of
//! term T was delivered to it within `window_us` before t, plus itself, must be a majority
//! (`ClusterSize`), unless its first `append_entries` of term T was sent less than `window_us`
//! before t (a new leader heard from its voters). The window is the scenario's
//! `election_timeout_ms[0] + heartbeat_ms` plus the longest persist delay (a message leaves a
//! node only after the persist it depends on). A paused node (kernel `note` rows `pause <µs>us`)
//! sends what it decided before the pause when it resumes: within `window_us` after a pause
//! ends, the window grows by the pause's length. A crash forgets the node's terms.

use std::collections::BTreeMap;

use crate::check::raft_log::wire;
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Memory: one time per (leader, term) and per (leader, peer, term).
#[derive(Clone, Debug)]
pub struct CheckQuorum {
    window_us: u64,
    /// (leader, term) -> time of its first `append_entries` of that term.
    first_send: BTreeMap<(NodeId, u64), u64>,
    /// (leader, term, peer) -> time of the last reply of that term delivered from the peer.
    heard: BTreeMap<(NodeId, u64, NodeId), u64>,
    /// Node -> (start, length) of its last pause, in µs.
    pauses: BTreeMap<NodeId, (u64, u64)>,
    /// (leader, term) pairs already reported (one violation each).
    reported: BTreeMap<(NodeId, u64), ()>,
    /// Each node's configuration (membership changes: a majority is one of its members).
    configs: crate::check::membership::Configs,
}

impl CheckQuorum {
    pub const NAME: &'static str = "check_quorum";

    pub fn new(window_us: u64) -> CheckQuorum {
        CheckQuorum {
            window_us,
            first_send: BTreeMap::new(),
            heard: BTreeMap::new(),
            pauses: BTreeMap::new(),
            reported: BTreeMap::new(),
            configs: Default::default(),
        }
    }

    fn check_send(&mut self, row: &Record, leader: NodeId, term: u64, out: &mut Vec<Violation>) {
        let now = row.time_us;
        let first = *self.first_send.entry((leader, term)).or_insert(now);
        let paused_us = match self.pauses.get(&leader) {
            Some(&(start, len)) if start <= now && now <= start + len + self.window_us => len,
            _ => 0,
        };
        let window_us = self.window_us + paused_us;
        if now < first + window_us || self.reported.contains_key(&(leader, term)) {
            return;
        }
        let since = now.saturating_sub(window_us);
        let heard = 1
            + (self.heard.range((leader, term, NodeId(0))..=(leader, term, NodeId(u32::MAX))))
                .filter(|(_, at)| **at >= since)
                .count();
        let recent = (self.heard.range((leader, term, NodeId(0))..=(leader, term, NodeId(u32::MAX))))
            .filter(|(_, at)| **at >= since)
            .map(|((_, _, peer), _)| *peer);
        if self.configs.is_quorum(leader, recent.chain([leader])) {
            return;
        }
        self.reported.insert((leader, term), ());
        let msg = format!(
            "{leader} still sent append_entries as leader of term {term}, but only {heard} of {} nodes \
             (itself included) had replied in term {term} within the last {} ms",
            self.configs.size().nodes(),
            window_us / 1_000
        );
        out.push(Violation::at(Self::NAME, row, msg));
    }
}

impl Checker for CheckQuorum {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Role,
            Event::Send,
            Event::Deliver,
            Event::Crash,
            Event::Note,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        self.configs.observe(row);
        let Some(node) = row.node else { return };
        match (row.event, row.term, row.peer) {
            (Event::Crash, _, _) => self.first_send.retain(|(n, _), _| *n != node),
            // A new configuration (membership changes) starts a fresh window: its majority may
            // not have been asked yet, and the leader checks it from now on.
            (Event::Append | Event::Store, _, _) if row.msg == "config" => {
                self.first_send.retain(|(n, _), _| *n != node)
            }
            (Event::Note, _, _) => {
                let pause_us = row.detail.strip_prefix("pause ").and_then(|d| d.strip_suffix("us"));
                if let Some(len) = pause_us.and_then(|d| d.parse::<u64>().ok()) {
                    self.pauses.insert(node, (row.time_us, len));
                }
            }
            (Event::Send, Some(term), _) if row.msg == wire::APPEND_ENTRIES => {
                self.check_send(row, node, term, out)
            }
            (Event::Deliver, Some(term), Some(peer))
                if row.msg == wire::APPEND_ENTRIES_REPLY || row.msg == wire::INSTALL_SNAPSHOT_REPLY =>
            {
                self.heard.insert((node, term, peer), row.time_us);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn at(time_us: u64, row: Record) -> Record {
        Record { time_us, ..row }
    }

    fn heartbeat(time_us: u64, to: u32) -> Record {
        let row = Record::new(Event::Send).node(NodeId(0)).peer(NodeId(to)).term(1).msg("append_entries");
        at(time_us, row)
    }

    fn reply(time_us: u64, from: u32) -> Record {
        let row = Record::new(Event::Deliver).node(NodeId(0)).peer(NodeId(from)).term(1);
        at(time_us, row.msg("append_entries_reply").detail("success"))
    }

    fn cluster() -> Vec<Record> {
        (0..5).map(|n| role(n, 0, "follower")).collect()
    }

    /// Like `testkit::run`, keeping the rows' own times.
    fn run(checker: &mut CheckQuorum, rows: Vec<Record>) -> Vec<Violation> {
        let mut out = Vec::new();
        rows.iter().for_each(|row| checker.observe(row, &mut out));
        out
    }

    /// Replies from two peers keep a leader of five in office; after they stop, it has
    /// `window` to stop sending, and is caught sending later.
    #[test]
    fn a_leader_cut_off_past_the_window_is_caught() {
        let mut rows = cluster();
        rows.extend([heartbeat(0, 1), reply(500, 1), reply(500, 2), heartbeat(150_000, 1)]);
        assert_eq!(run(&mut CheckQuorum::new(200_000), rows.clone()), vec![]);
        rows.push(heartbeat(201_000, 1));
        // A pause of 100 ms just before: the heartbeat may have been decided before it.
        let mut paused = rows.clone();
        let pause = Record::new(Event::Note).node(NodeId(0)).detail("pause 100000us");
        paused.insert(paused.len() - 1, at(101_000, pause));
        assert_eq!(run(&mut CheckQuorum::new(200_000), paused), vec![]);
        let v = run(&mut CheckQuorum::new(200_000), rows.clone());
        assert_eq!(v.len(), 1, "{v:?}");
        assert!(v[0]
            .message
            .starts_with("n0 still sent append_entries as leader of term 1, but only 1 of 5"));
        // A stale reply (older term) does not count.
        let mut stale = rows;
        stale.insert(stale.len() - 1, at(200_500, reply(0, 1).term(0)));
        assert_eq!(run(&mut CheckQuorum::new(200_000), stale).len(), 1);
    }
}
