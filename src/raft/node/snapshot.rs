//! Log compaction and InstallSnapshot (Raft §7, Figure 13; thesis ch. 5), on with
//! `raft.snapshot_every > 0`.
//!
//! Taking a snapshot: once `snapshot_every` entries have been applied since the last snapshot, a
//! node snapshots its state machine and client sessions at `last_applied` (a `snapshot` row: index,
//! term, detail `digest=<hex>`) and discards its log up to `snapshot_trailing` entries behind it.
//! The snapshot is persistent state: it becomes durable with the fsync model like the log
//! (node/persist.rs), and a restart resets the state machine from the durable snapshot before the
//! log is replayed past it (an `install_snapshot` row with detail `from=restart`).
//!
//! Sending one: a leader whose `next_index` for a follower lies inside its compacted prefix (the
//! entry before it is gone, so AppendEntries cannot name its term) sends InstallSnapshot instead,
//! stop-and-wait, one chunk of `snapshot_chunk_entries` entries' worth per request: the first
//! chunk on the heartbeat or reply that found the follower behind, each next one on the reply to
//! the last, and the current one again on each heartbeat while unanswered. A transfer goes on with
//! the snapshot it started with, even after the leader took a newer one. A reply with `done`
//! means the follower holds the prefix: `match_index` and `next_index` move past it.
//!
//! Receiving one (Figure 13): a request of an older term is refused with the current term (1). A
//! snapshot at or below `commit_index` is already covered, so it is acknowledged as done and
//! changes nothing (Figure 13 never moves a follower back; the bug `snapshot_older_than_commit`
//! installs it anyway). Chunks are accepted in order from offset 0 (2-4); with the last one (5)
//! the follower keeps its log after the snapshot point if it holds the snapshot's last entry (6),
//! else discards it all (7), and resets its state machine and sessions from the snapshot (8); its
//! `commit_index` and `last_applied` become the snapshot's index. Row: `install_snapshot` (index,
//! term, detail `from=leader digest=<hex> log=kept|reset`).

use std::sync::Arc;

use crate::protocol::Ctx;
use crate::sim::NodeId;
use crate::trace::{Event, Record};

use super::{RaftNode, Role};
use crate::raft::log::LogIndex;
use crate::raft::messages::{AppendEntries, InstallSnapshot, InstallSnapshotReply, Msg};
use crate::raft::snapshot::Snapshot;
use crate::raft::Bug;

/// A follower's snapshot being received: which one and how much of it, in entries' worth.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Incoming {
    last_included_index: LogIndex,
    received: u64,
}

impl RaftNode {
    /// The latest snapshot this node holds (taken or installed), if any.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_deref()
    }

    // ---- Taking a snapshot (§7) ---------------------------------------------------------------

    /// After applying: a snapshot at `last_applied` once `snapshot_every` entries have been
    /// applied since the last one, and the log compacted to `snapshot_trailing` entries behind it.
    pub(super) fn maybe_snapshot(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.config.snapshots() {
            return;
        }
        let since = self.snapshot.as_ref().map_or(0, |s| s.last_included_index);
        if self.last_applied < since.saturating_add(self.config.snapshot_every) {
            return;
        }
        let index = self.last_applied;
        let (Some(term), Some(digest)) = (self.log.term_at(index), self.log.digest_upto(index)) else {
            unreachable!("last_applied {index} is held: the log starts at {}", self.log.first_index())
        };
        let snapshot = Snapshot {
            last_included_index: index,
            last_included_term: term,
            digest,
            state_machine: self.state_machine.clone(),
            sessions: self.sessions.clone(),
            config: self.log.config_at(index),
        };
        self.snapshot = Some(Arc::new(snapshot));
        self.log.compact(index.saturating_sub(self.config.snapshot_trailing));
        self.persisted_changed = true;
        let detail = format!("digest={digest:016x}");
        ctx.note(Record::new(Event::Snapshot).index(index).term(term).detail(detail));
    }

    /// At restart: the state machine and sessions come back from the durable snapshot, and
    /// `commit_index` / `last_applied` with it (entries after it are replayed once committed).
    pub(super) fn restore_snapshot(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(snapshot) = self.snapshot.clone() else { return };
        self.state_machine = snapshot.state_machine.clone();
        self.sessions = snapshot.sessions.clone();
        self.commit_index = snapshot.last_included_index;
        self.last_applied = snapshot.last_included_index;
        let detail = format!("from=restart digest={:016x} log=kept", snapshot.digest);
        let row = Record::new(Event::InstallSnapshot).index(snapshot.last_included_index);
        ctx.note(row.term(snapshot.last_included_term).detail(detail));
    }

    // ---- Leader: sending (Figure 13) ----------------------------------------------------------

    /// Whether AppendEntries after `prev_log_index` cannot be sent: its term is compacted away.
    pub(super) fn behind_snapshot(&self, prev_log_index: LogIndex) -> bool {
        prev_log_index < self.log.snapshot_index()
    }

    /// Sends `to` the next chunk of the snapshot being sent to it, or the first chunk of this
    /// leader's latest snapshot. The bug `entries_before_snapshot` sends AppendEntries instead.
    pub(super) fn send_snapshot_chunk(&mut self, to: NodeId) {
        if self.config.bug == Bug::EntriesBeforeSnapshot {
            self.send_entries_before_snapshot(to);
            return;
        }
        let p = to.index();
        // A transfer under way goes on with the snapshot it started with, even if this leader has
        // taken a newer one since: restarting on every new snapshot would never finish under load.
        let (snapshot, offset) = match self.snapshot_sending[p].take() {
            Some((snapshot, offset)) if offset < snapshot.size() => (snapshot, offset),
            _ => {
                let Some(snapshot) = self.snapshot.clone() else {
                    unreachable!("a compacted log (snapshot at {}) has a snapshot", self.log.snapshot_index())
                };
                (snapshot, 0)
            }
        };
        self.snapshot_sending[p] = Some((Arc::clone(&snapshot), offset));
        let len = self.config.snapshot_chunk_entries.min(snapshot.size() - offset);
        let request = InstallSnapshot {
            term: self.current_term,
            leader_id: self.id,
            last_included_index: snapshot.last_included_index,
            last_included_term: snapshot.last_included_term,
            offset,
            len,
            done: offset + len == snapshot.size(),
            snapshot,
        };
        self.outbox.push((to, Msg::InstallSnapshot(request)));
    }

    /// The bug `entries_before_snapshot`: AppendEntries at `next_index - 1` with the snapshot's
    /// term made up for it and the entries after the snapshot point.
    fn send_entries_before_snapshot(&mut self, to: NodeId) {
        let prev_log_index = self.next_index[to.index()].saturating_sub(1);
        let first = self.log.first_index();
        let entries = self.log.entries_from(first, self.config.max_entries_per_append).to_vec();
        let request = AppendEntries {
            term: self.current_term,
            leader_id: self.id,
            prev_log_index,
            prev_log_term: self.log.snapshot_term(),
            entries,
            leader_commit: self.commit_index,
            read_round: self.reads.round,
        };
        self.outbox.push((to, Msg::AppendEntries(request)));
    }

    pub(super) fn handle_install_snapshot_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        reply: InstallSnapshotReply,
    ) {
        if self.observe_term(ctx, reply.term) {
            return;
        }
        if self.role != Role::Leader || reply.term != self.current_term {
            return;
        }
        // A server outside the configuration gets nothing more (thesis §4.2.3; membership.rs),
        // but what it acknowledges still counts (as for AppendEntries, node/replication.rs).
        let target = self.is_replication_target(from);
        let p = from.index();
        if reply.done {
            self.snapshot_sending[p] = None;
            let matched = reply.last_included_index.min(self.log.last_index());
            if matched > self.match_index[p] {
                self.match_index[p] = matched;
                self.next_index[p] = self.next_index[p].max(matched + 1);
                self.advance_commit_index(ctx);
            }
            if target && self.next_index[p] <= self.log.last_index() {
                self.send_append_entries(from);
            }
            return;
        }
        if !target {
            return;
        }
        if let Some((snapshot, offset)) = &mut self.snapshot_sending[p] {
            // A reply about the transfer under way names what the follower holds: resume from
            // there. A smaller offset is a stale or duplicated reply, or a follower that started
            // over (a restart, or a late duplicate of chunk 0): resending from it costs a chunk
            // if stale (the follower answers with its real offset), and ignoring it would
            // livelock a follower that did start over (hunt seed 848, snapshots + membership).
            if snapshot.last_included_index == reply.last_included_index && reply.received != *offset {
                *offset = reply.received;
                self.send_snapshot_chunk(from);
            }
        }
    }

    // ---- Follower: receiving (Figure 13) ------------------------------------------------------

    pub(super) fn handle_install_snapshot(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        req: InstallSnapshot,
    ) {
        self.observe_term(ctx, req.term);
        // 1. Reply immediately if term < currentTerm.
        if req.term < self.current_term {
            self.reply_install_snapshot(from, req.last_included_index, 0, false);
            return;
        }
        self.become_follower(ctx);
        self.leader_id = Some(req.leader_id);
        self.reset_election_timer(ctx);
        self.forward_pending(ctx);
        let size = req.snapshot.size();
        if req.last_included_index <= self.commit_index && self.config.bug != Bug::SnapshotOlderThanCommit {
            self.reply_install_snapshot(from, req.last_included_index, size, true);
            return;
        }
        // 2-4. Chunks in order; offset 0 starts the snapshot afresh.
        let received = match self.incoming {
            Some(i) if i.last_included_index == req.last_included_index => i.received,
            _ => 0,
        };
        if req.offset != 0 && req.offset != received {
            self.reply_install_snapshot(from, req.last_included_index, received, false);
            return;
        }
        let received = req.offset + req.len;
        if !req.done {
            self.incoming = Some(Incoming { last_included_index: req.last_included_index, received });
            self.reply_install_snapshot(from, req.last_included_index, received, false);
            return;
        }
        // 5. The last chunk: the snapshot is complete.
        self.incoming = None;
        self.install_snapshot(ctx, req.snapshot);
        self.reply_install_snapshot(from, req.last_included_index, size, true);
    }

    /// Figure 13, steps 6-8.
    fn install_snapshot(&mut self, ctx: &mut Ctx<'_, Self>, snapshot: Arc<Snapshot>) {
        let index = snapshot.last_included_index;
        let term = snapshot.last_included_term;
        let kept = index > self.log.snapshot_index() && self.log.term_at(index) == Some(term);
        if kept {
            // 6. Retain the entries following the snapshot's last one.
            self.log.compact(index);
        } else {
            // 7. Discard the entire log.
            self.log.reset_to_snapshot(index, term, snapshot.digest, snapshot.config);
            self.log_dirty_from(index + 1);
        }
        // 8. Reset the state machine using the snapshot's contents.
        self.state_machine = snapshot.state_machine.clone();
        self.sessions = snapshot.sessions.clone();
        self.commit_index = index;
        self.last_applied = index;
        self.persisted_changed = true;
        let log = if kept { "kept" } else { "reset" };
        let detail = format!("from=leader digest={:016x} log={log}", snapshot.digest);
        ctx.note(Record::new(Event::InstallSnapshot).index(index).term(term).detail(detail));
        self.snapshot = Some(snapshot);
        // Entries kept after the snapshot apply once the leader's commit reaches them.
        self.serve_reads(ctx);
    }

    fn reply_install_snapshot(
        &mut self,
        to: NodeId,
        last_included_index: LogIndex,
        received: u64,
        done: bool,
    ) {
        let reply = InstallSnapshotReply { term: self.current_term, last_included_index, received, done };
        self.outbox.push((to, Msg::InstallSnapshotReply(reply)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::ClientOp;
    use crate::protocol::{Effect, Protocol};
    use crate::raft::log::{Entry, RaftLog};
    use crate::raft::messages::AppendEntries;
    use crate::raft::sessions::Sessions;
    use crate::raft::RaftConfig;
    use crate::sim::rng::{Purpose, Streams};
    use crate::sim::SimTime;
    use std::collections::BTreeMap;

    fn config() -> RaftConfig {
        RaftConfig { snapshot_every: 4, snapshot_chunk_entries: 3, ..RaftConfig::default() }
    }

    /// Runs one input on `node` (id 1 of 3) and returns its effects.
    fn step(
        node: &mut RaftNode,
        input: impl FnOnce(&mut RaftNode, &mut Ctx<'_, RaftNode>),
    ) -> Vec<Effect<RaftNode>> {
        let streams = Streams::new(7);
        let (mut timer_rng, mut rng) =
            (streams.stream(Purpose::NodeTimers(node.id)), streams.stream(Purpose::Node(node.id)));
        let mut effects = Vec::new();
        let mut ctx = Ctx::new(SimTime::ZERO, node.id, node.nodes, &mut timer_rng, &mut rng, &mut effects);
        input(node, &mut ctx);
        effects
    }

    fn put(term: u64, id: u64) -> Entry {
        Entry::op(term, ClientOp::write(0, id, id % 2))
    }

    /// A follower holding `entries` from a leader of `term`, committed up to `commit`.
    fn follower(term: u64, entries: Vec<Entry>, commit: u64) -> RaftNode {
        let mut node = RaftNode::new(NodeId(1), 3, &config());
        step(&mut node, |n, c| n.on_start(c));
        let ae = AppendEntries {
            term,
            leader_id: NodeId(0),
            prev_log_index: 0,
            prev_log_term: 0,
            entries,
            leader_commit: commit,
            read_round: 0,
        };
        step(&mut node, |n, c| n.on_message(c, NodeId(0), Msg::AppendEntries(ae)));
        node
    }

    fn snapshot(index: u64, term: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            last_included_index: index,
            last_included_term: term,
            digest: 0xabc,
            state_machine: BTreeMap::from([(0, 1000 + index)]),
            sessions: Sessions::new(10),
            config: None,
        })
    }

    fn chunk(term: u64, snap: &Arc<Snapshot>, offset: u64, len: u64) -> Msg {
        Msg::InstallSnapshot(InstallSnapshot {
            term,
            leader_id: NodeId(0),
            last_included_index: snap.last_included_index,
            last_included_term: snap.last_included_term,
            offset,
            len,
            done: offset + len == snap.size(),
            snapshot: Arc::clone(snap),
        })
    }

    fn replies(effects: &[Effect<RaftNode>]) -> Vec<InstallSnapshotReply> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send { msg: Msg::InstallSnapshotReply(r), .. } => Some(r.clone()),
                _ => None,
            })
            .collect()
    }

    fn deliver(node: &mut RaftNode, msg: Msg) -> Vec<Effect<RaftNode>> {
        step(node, |n, c| n.on_message(c, NodeId(0), msg))
    }

    fn install_rows(effects: &[Effect<RaftNode>]) -> Vec<String> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Note(r) if r.event == Event::InstallSnapshot => Some(r.detail.to_string()),
                _ => None,
            })
            .collect()
    }

    /// Reference: Figure 13 (receiver 1) — "Reply immediately if term < currentTerm".
    #[test]
    fn an_older_term_is_refused_with_the_current_term() {
        let mut node = follower(3, vec![put(3, 1)], 0);
        let snap = snapshot(6, 2);
        let effects = deliver(&mut node, chunk(2, &snap, 0, 3));
        let reply = InstallSnapshotReply { term: 3, last_included_index: 6, received: 0, done: false };
        assert_eq!(replies(&effects), vec![reply]);
        assert_eq!((node.log.last_index(), node.commit_index), (1, 0));
    }

    /// Reference: Figure 13 (receiver 2-5, 7, 8) — chunks in order from offset 0; with the last
    /// one a follower whose log does not hold the snapshot's last entry discards its log and
    /// resets its state machine; `commit_index` and `last_applied` become the snapshot's index.
    #[test]
    fn chunks_in_order_then_discard_and_reset() {
        let mut node = follower(1, vec![put(1, 1), put(1, 2)], 1);
        let snap = snapshot(6, 2);
        let first = deliver(&mut node, chunk(2, &snap, 0, 3));
        assert_eq!(replies(&first)[0].received, 3);
        assert!(!replies(&first)[0].done);
        // A chunk out of order is not taken: the reply says what is held.
        let skipped = deliver(&mut node, chunk(2, &snap, 4, 2));
        assert_eq!((replies(&skipped)[0].received, node.log.last_index()), (3, 2));
        let last = deliver(&mut node, chunk(2, &snap, 3, 3));
        assert_eq!(
            replies(&last)[0],
            InstallSnapshotReply { term: 2, last_included_index: 6, received: 6, done: true }
        );
        assert_eq!(install_rows(&last), vec!["from=leader digest=0000000000000abc log=reset".to_owned()]);
        assert_eq!((node.log.snapshot_index(), node.log.last_index(), node.log.last_term()), (6, 6, 2));
        assert_eq!((node.commit_index, node.last_applied), (6, 6));
        assert_eq!(node.state_machine, BTreeMap::from([(0, 1006)]));
        assert_eq!(node.snapshot().map(|s| s.last_included_index), Some(6));
    }

    /// Reference: Figure 13 (receiver 6) — "If existing log entry has same index and term as
    /// snapshot's last included entry, retain log entries following it".
    #[test]
    fn a_matching_entry_keeps_the_suffix() {
        let entries = (1..=5).map(|i| put(1, i)).collect();
        let mut node = follower(1, entries, 0);
        let snap = snapshot(2, 1);
        let effects = deliver(&mut node, chunk(1, &snap, 0, 2));
        assert!(replies(&effects)[0].done);
        assert_eq!(install_rows(&effects), vec!["from=leader digest=0000000000000abc log=kept".to_owned()]);
        assert_eq!((node.log.snapshot_index(), node.log.last_index()), (2, 5));
        assert_eq!(node.log.get(3), Some(&put(1, 3)));
        assert_eq!((node.commit_index, node.last_applied), (2, 2));
    }

    /// A snapshot at or below `commit_index` is acknowledged and changes nothing; the bug
    /// `snapshot_older_than_commit` installs it and moves `commit_index` back.
    #[test]
    fn a_snapshot_below_commit_changes_nothing_unless_the_bug() {
        let entries: Vec<Entry> = (1..=5).map(|i| put(1, i)).collect();
        let mut node = follower(1, entries.clone(), 3);
        let snap = snapshot(2, 1);
        let effects = deliver(&mut node, chunk(1, &snap, 0, 2));
        assert!(replies(&effects)[0].done);
        assert!(install_rows(&effects).is_empty());
        assert_eq!((node.commit_index, node.last_applied, node.log.snapshot_index()), (3, 3, 0));
        let mut buggy = follower(1, entries, 3);
        buggy.config.bug = Bug::SnapshotOlderThanCommit;
        let effects = deliver(&mut buggy, chunk(1, &snap, 0, 2));
        assert_eq!(install_rows(&effects).len(), 1);
        assert_eq!((buggy.commit_index, buggy.last_applied), (2, 2));
    }

    /// Reference: §7 — a node snapshots once `snapshot_every` entries were applied since its
    /// last snapshot, at `last_applied` (here 5: one commit applied 1..=5), and discards the
    /// prefix; the log still answers for the snapshot point.
    #[test]
    fn applying_takes_snapshots_and_compacts() {
        let entries = (1..=6).map(|i| put(1, i)).collect();
        let node = follower(1, entries, 5);
        let snap = node.snapshot().expect("a snapshot after 4 applies");
        assert_eq!((snap.last_included_index, snap.last_included_term), (5, 1));
        assert_eq!(snap.sessions.len(), 1);
        assert_eq!((node.log.snapshot_index(), node.log.term_at(5), node.log.last_index()), (5, Some(1), 6));
        assert_eq!(node.log.term_at(4), None);
        assert_eq!(node.log.digest(), {
            let mut whole = RaftLog::new();
            (1..=6).for_each(|i| {
                whole.append(put(1, i));
            });
            whole.digest()
        });
    }
}
