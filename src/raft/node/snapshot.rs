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
            config: None,
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
        let p = from.index();
        if reply.done {
            self.snapshot_sending[p] = None;
            let matched = reply.last_included_index.min(self.log.last_index());
            if matched > self.match_index[p] {
                self.match_index[p] = matched;
                self.next_index[p] = self.next_index[p].max(matched + 1);
                self.advance_commit_index(ctx);
            }
            if self.next_index[p] <= self.log.last_index() {
                self.send_append_entries(from);
            }
            return;
        }
        if let Some((snapshot, offset)) = &mut self.snapshot_sending[p] {
            // A reply about the transfer under way; a stale or duplicated one names an older
            // offset. 0 means the follower starts over (it restarted).
            if snapshot.last_included_index == reply.last_included_index
                && (reply.received > *offset || reply.received == 0)
            {
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
            self.log.reset_to_snapshot(index, term, snapshot.digest);
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
