//! Log replication and commitment (§5.3, §5.4.2): AppendEntries and its replies, the leader's
//! `next_index` / `match_index` bookkeeping, the commit rule and applying to the state machine.

use crate::protocol::Ctx;
use crate::sim::NodeId;
use crate::trace::{Event, Record};

use super::{entry_cells, RaftNode, Role};
use crate::raft::log::{Command, Entry, LogIndex};
use crate::raft::messages::{AppendEntries, AppendEntriesReply, Msg};
use crate::raft::Bug;

impl RaftNode {
    // ---- AppendEntries (§5.3) -----------------------------------------------------------------

    pub(super) fn handle_append_entries(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        req: AppendEntries,
    ) {
        self.observe_term(ctx, req.term);
        if req.term < self.current_term {
            self.reply_append_entries(from, false, self.log.last_index(), req.read_round);
            return;
        }
        // The leader of the current term: a candidate (or, only under a vote bug, a second leader)
        // returns to follower.
        self.become_follower(ctx);
        self.leader_id = Some(req.leader_id);
        self.reset_election_timer(ctx);
        self.forward_pending(ctx);
        // §7: entries at or before this node's snapshot point are committed, so they match the
        // leader's; only what follows the snapshot point is checked and merged.
        let (prev_log_index, prev_log_term, entries) =
            self.skip_compacted(req.prev_log_index, req.prev_log_term, req.entries);
        let req = AppendEntries { prev_log_index, prev_log_term, entries, ..req };
        if self.log.term_at(req.prev_log_index) != Some(req.prev_log_term) {
            if self.config.named_rejections() {
                self.reject_naming(from, req.prev_log_index, req.read_round);
            } else {
                self.reply_append_entries(from, false, self.log.last_index(), req.read_round);
            }
            return;
        }
        if self.config.bug == Bug::TruncateEveryAppend && req.prev_log_index < self.log.last_index() {
            self.truncate_log(ctx, req.prev_log_index + 1);
        }
        let last_new = self.merge_entries(ctx, req.prev_log_index, req.entries);
        // Figure 2: min(leaderCommit, index of last new entry) — never past what this request
        // showed to match the leader.
        let commit_upto = match self.config.bug {
            Bug::CommitMinLastLog => self.log.last_index(),
            _ => last_new,
        };
        if req.leader_commit > self.commit_index {
            self.set_commit_index(ctx, req.leader_commit.min(commit_upto));
        }
        let matched = match self.config.bug {
            Bug::MatchLastLog => self.log.last_index(),
            _ => last_new,
        };
        self.reply_append_entries(from, true, matched, req.read_round);
    }

    /// An AppendEntries whose `prev_log_index` lies inside this node's compacted prefix, cut to
    /// start at the snapshot point: the entries up to it are dropped (they are committed, so the
    /// leader's match them) and the request is checked at the snapshot point. A request that ends
    /// at or before the snapshot point becomes a heartbeat at it.
    fn skip_compacted(
        &self,
        prev_log_index: LogIndex,
        prev_log_term: crate::raft::log::Term,
        mut entries: Vec<Entry>,
    ) -> (LogIndex, crate::raft::log::Term, Vec<Entry>) {
        let snapshot_index = self.log.snapshot_index();
        if prev_log_index >= snapshot_index || self.config.bug == Bug::EntriesBeforeSnapshot {
            return (prev_log_index, prev_log_term, entries);
        }
        let skip = usize::try_from(snapshot_index - prev_log_index).unwrap_or(usize::MAX);
        if skip > entries.len() {
            return (snapshot_index, self.log.snapshot_term(), Vec::new());
        }
        entries.drain(..skip);
        (snapshot_index, self.log.snapshot_term(), entries)
    }

    pub(super) fn reply_append_entries(
        &mut self,
        to: NodeId,
        success: bool,
        match_index: LogIndex,
        read_round: u64,
    ) {
        let reply = AppendEntriesReply {
            term: self.current_term,
            success,
            match_index,
            read_round,
            rejected_prev: None,
            conflict_term: None,
            conflict_index: None,
        };
        self.outbox.push((to, Msg::AppendEntriesReply(reply)));
    }

    /// A rejection for a log mismatch at `prev_log_index` that names the request it answers, with
    /// the conflicting term and its first index under fast backtracking (node/pipeline.rs).
    fn reject_naming(&mut self, to: NodeId, prev_log_index: LogIndex, read_round: u64) {
        let (conflict_term, conflict_index) = if self.config.fast_backtrack {
            let (term, index) = self.conflict_hint(prev_log_index);
            (term, Some(index))
        } else {
            (None, None)
        };
        let reply = AppendEntriesReply {
            term: self.current_term,
            success: false,
            match_index: self.log.last_index(),
            read_round,
            rejected_prev: Some(prev_log_index),
            conflict_term,
            conflict_index,
        };
        self.outbox.push((to, Msg::AppendEntriesReply(reply)));
    }

    /// "If an existing entry conflicts with a new one (same index but different terms), delete the
    /// existing entry and all that follow it. Append any new entries not already in the log."
    /// Entries that match are kept, so a stale or duplicated AppendEntries never shortens the log.
    /// Returns the index of the last entry the request carried.
    pub(super) fn merge_entries(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        prev_log_index: LogIndex,
        entries: Vec<Entry>,
    ) -> LogIndex {
        let mut index = prev_log_index;
        for entry in entries {
            index += 1;
            match self.log.term_at(index) {
                Some(term) if term == entry.term => continue,
                Some(_) => self.truncate_log(ctx, index),
                None => {}
            }
            ctx.note_in(Event::Store, |row| entry_cells(row, index, &entry));
            self.log.append(entry);
            self.persisted_changed = true;
        }
        index
    }

    /// Deletes the entries from `index` on, with a `truncate` row (detail `to <last kept>`).
    pub(super) fn truncate_log(&mut self, ctx: &mut Ctx<'_, Self>, index: LogIndex) {
        ctx.note_with(|| Record::new(Event::Truncate).index(index).detail(format!("to {}", index - 1)));
        self.log.truncate_from(index);
        self.log_dirty_from(index);
    }

    pub(super) fn handle_append_entries_reply(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        from: NodeId,
        reply: AppendEntriesReply,
    ) {
        if self.config.bug != Bug::IgnoreHigherTermReply && self.observe_term(ctx, reply.term) {
            return;
        }
        let this_term = reply.term == self.current_term
            || (self.config.bug == Bug::CountStaleReplies && reply.term < self.current_term);
        if self.role != Role::Leader || !this_term {
            return;
        }
        // Any reply of this term confirms this node still leads, for the round it answers (§6.4).
        self.read_round_acked(ctx, from, reply.read_round);
        // A server outside the configuration gets no more entries (thesis §4.2.3; membership.rs),
        // but its acknowledgements still count: should it be added back in this term, the
        // leader must not resend below what it acknowledged.
        let target = self.is_replication_target(from);
        let p = from.index();
        let last = self.log.last_index();
        if reply.success && self.config.pipelined() {
            if self.pipelined_ack(from, reply.match_index.min(last)) {
                self.advance_commit_index(ctx);
                if target {
                    self.fill_window(from);
                }
                self.catchup_progress(ctx);
            }
        } else if let (false, Some(rejected), true) = (reply.success, reply.rejected_prev, target) {
            self.named_rejection(from, &reply, rejected);
        } else if reply.success {
            // Replies may be stale or duplicated: progress only moves forward. The clamp only
            // matters under a vote bug, when a second leader of this term had a longer log.
            let matched = reply.match_index.min(last);
            if matched <= self.match_index[p] {
                return;
            }
            self.match_index[p] = matched;
            self.next_index[p] = self.next_index[p].max(matched + 1);
            self.advance_commit_index(ctx);
            self.catchup_progress(ctx);
            if target && self.next_index[p] <= self.log.last_index() {
                self.send_append_entries(from);
            }
        } else if target {
            // Back off one entry, or straight past the follower's last index; never below what is
            // known to match, nor above where it was.
            let next = self.next_index[p];
            let backed =
                (next - 1).min(reply.match_index.saturating_add(1)).max(self.match_index[p] + 1).max(1);
            if backed < next {
                self.next_index[p] = backed;
                self.send_append_entries(from);
            }
        }
    }

    pub(super) fn send_append_entries(&mut self, to: NodeId) {
        let next = self.next_index[to.index()].clamp(1, self.log.last_index() + 1);
        if self.behind_snapshot(next - 1) {
            self.send_snapshot_chunk(to);
            return;
        }
        let entries = self.log.entries_from(next, self.config.max_entries_per_append).to_vec();
        self.push_append(to, next - 1, entries);
    }

    pub(super) fn broadcast_append_entries(&mut self) {
        for peer in self.replication_targets() {
            if self.config.pipelined() {
                self.pipelined_heartbeat(peer);
            } else {
                self.send_append_entries(peer);
            }
        }
    }

    // ---- Commitment and the state machine (§5.3, §5.4.2) --------------------------------------

    /// §5.4.2: the largest N replicated on a majority commits if `log[N].term == current_term`
    /// (the Figure8Commit bug drops that condition). Terms never decrease along the log, so if the
    /// majority-replicated N fails the term test, every smaller candidate fails it too.
    pub(super) fn advance_commit_index(&mut self, ctx: &mut Ctx<'_, Self>) {
        // The leader's own copy counts once durable (node/persist.rs).
        self.match_index[self.id.index()] = self.durable_prefix();
        // Over the configuration in force (thesis §4.1), this leader counted only if a member.
        let Some(n) = self.quorum_match_above(self.commit_index) else { return };
        let current = self.log.term_at(n) == Some(self.current_term);
        if self.lease_wait(ctx) {
            return;
        }
        if current || self.config.bug == Bug::Figure8Commit {
            self.set_commit_index(ctx, n);
        }
    }

    pub(super) fn set_commit_index(&mut self, ctx: &mut Ctx<'_, Self>, index: LogIndex) {
        if index <= self.commit_index {
            return;
        }
        self.commit_index = index;
        ctx.note_with(|| Record::new(Event::Commit).index(index).term(self.current_term));
        self.apply_committed(ctx);
    }

    /// "If commitIndex > lastApplied: increment lastApplied, apply log[lastApplied]", in log order.
    pub(super) fn apply_committed(&mut self, ctx: &mut Ctx<'_, Self>) {
        // Only a vote bug can leave commit_index past a truncated log; apply what exists.
        let upto = self.commit_index.min(self.log.last_index());
        while self.last_applied < upto {
            self.last_applied += 1;
            let index = self.last_applied;
            let Some(entry) = self.log.get(index).cloned() else {
                unreachable!("index {index} <= last index {}", self.log.last_index());
            };
            match entry.command {
                Command::Noop | Command::Config(_) => {
                    ctx.note_in(Event::Apply, |row| entry_cells(row, index, &entry))
                }
                Command::Op(op) => self.apply_op(ctx, index, &entry, op),
            }
        }
        self.maybe_snapshot(ctx);
        self.serve_reads(ctx);
    }
}
