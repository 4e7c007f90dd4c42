//! The fsync model (Figure 2: persistent state is "updated on stable storage before responding to
//! RPCs"). A handler that changes `current_term`, `voted_for` or the log starts a persist that
//! completes `persist_delay_us` later, marked by the `Persist` timer. Only completed persists are
//! durable: a crash reverts the node to the last durable state, losing the unsynced suffix, and
//! the restart writes what was lost. Messages leave only once every persist started before them
//! has completed (persists complete in the order they start), so a reply never acknowledges state
//! that a crash could still take back. With `persist_delay_us = 0` every persist completes at once
//! and nothing is tracked.
//!
//! With log compaction on (`snapshot_every > 0`) a persist carries the whole live log (short: it
//! is compacted every `snapshot_every` applies) and the latest snapshot, so a crash before the
//! persist of a snapshot completes loses that snapshot and the compaction with it.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::protocol::Ctx;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record};

use super::{entry_cells, RaftNode, RaftTimer, Role};
use crate::raft::log::{Entry, LogIndex, RaftLog, Term};
use crate::raft::snapshot::Snapshot;
use crate::raft::Bug;

/// Persistent state as of the last completed persist.
#[derive(Clone, Debug, Default)]
pub(super) struct Durable {
    pub current_term: Term,
    pub voted_for: Option<NodeId>,
    pub log: RaftLog,
    pub snapshot: Option<Arc<Snapshot>>,
}

/// With log compaction on: the whole log and the snapshot a persist makes durable.
#[derive(Clone, Debug)]
pub(super) struct Compacted {
    log: RaftLog,
    snapshot: Option<Arc<Snapshot>>,
}

/// One persist in flight: the persistent state a handler left, due to be durable at `done_at`.
/// The log is the durable log with entries from `from` on replaced by `entries`.
#[derive(Clone, Debug)]
pub(super) struct Persist {
    done_at: SimTime,
    current_term: Term,
    voted_for: Option<NodeId>,
    from: LogIndex,
    entries: Vec<Entry>,
    /// Log compaction on: replaces `entries` (module comment).
    compacted: Option<Compacted>,
}

/// What a crash took back, written as rows when the node restarts.
#[derive(Clone, Debug)]
pub(super) struct CrashLoss {
    term_lost: Term,
    /// The vote held in `term_lost`, if the crash took it back.
    vote_lost: Option<NodeId>,
    /// First index where the live log differed from the durable one, and the live last index.
    log_from: LogIndex,
    log_last: LogIndex,
    /// First durable entry written back with a `store` row (`log_from` but after a lost install).
    stores_from: LogIndex,
}

impl RaftNode {
    /// Whether persists take time (the fsync model is on).
    pub(super) fn fsync_modelled(&self) -> bool {
        self.config.persist_delay_us > 0
    }

    /// The log changed from `index` on in the current handler.
    pub(super) fn log_dirty_from(&mut self, index: LogIndex) {
        self.persisted_changed = true;
        self.dirty_from = self.dirty_from.min(index);
    }

    /// The end of a handler: start a persist if persistent state changed, and return how long its
    /// messages must wait (until every persist in flight has completed).
    pub(super) fn start_persist(&mut self, ctx: &mut Ctx<'_, Self>) -> SimDuration {
        let changed = std::mem::take(&mut self.persisted_changed);
        // Appends since the last persist (client.rs's leader_append only flags the change) start
        // past the length the last persist saw; truncations flag their index themselves.
        let from = std::mem::replace(&mut self.dirty_from, LogIndex::MAX).min(self.flushed_len + 1);
        self.flushed_len = self.log.last_index();
        if !self.fsync_modelled() {
            return SimDuration::ZERO;
        }
        if changed {
            let from = from.min(self.log.last_index() + 1);
            let compacted = self
                .config
                .snapshots()
                .then(|| Compacted { log: self.log.clone(), snapshot: self.snapshot.clone() });
            let entries = if compacted.is_some() {
                Vec::new()
            } else if from <= self.log.last_index() {
                self.log.entries_from(from, u64::MAX).to_vec()
            } else {
                Vec::new()
            };
            let done_at = ctx.now() + SimDuration::from_us(self.config.persist_delay_us);
            if self.persists.is_empty() {
                ctx.set_timer(RaftTimer::Persist, SimDuration::from_us(self.config.persist_delay_us));
            }
            self.persists.push_back(Persist {
                done_at,
                current_term: self.current_term,
                voted_for: self.voted_for,
                from,
                entries,
                compacted,
            });
        }
        match self.persists.back() {
            Some(last) if self.config.bug != Bug::AckBeforeFsync => last.done_at - ctx.now(),
            _ => SimDuration::ZERO,
        }
    }

    /// The Persist timer: every persist due by now is durable.
    pub(super) fn on_persist_done(&mut self, ctx: &mut Ctx<'_, Self>) {
        let now = ctx.now();
        while self.persists.front().is_some_and(|p| p.done_at <= now) {
            let Some(p) = self.persists.pop_front() else { break };
            self.durable.current_term = p.current_term;
            self.durable.voted_for = p.voted_for;
            if let Some(c) = p.compacted {
                self.durable.log = c.log;
                self.durable.snapshot = c.snapshot;
                continue;
            }
            if p.from <= self.durable.log.last_index() {
                self.durable.log.truncate_from(p.from);
            }
            for entry in p.entries {
                self.durable.log.append(entry);
            }
        }
        if let Some(next) = self.persists.front() {
            ctx.set_timer(RaftTimer::Persist, next.done_at - now);
        }
        if self.role == Role::Leader {
            // A leader counts itself in the majority only for what it holds durably.
            self.advance_commit_index(ctx);
        }
    }

    /// How much of the live log is durable: the prefix no persist in flight touches.
    pub(super) fn durable_prefix(&self) -> LogIndex {
        if !self.fsync_modelled() || self.config.bug == Bug::AckBeforeFsync {
            return self.log.last_index();
        }
        let pending_from = self.persists.iter().map(|p| p.from).min().unwrap_or(LogIndex::MAX);
        self.log.last_index().min(self.durable.log.last_index()).min(pending_from.saturating_sub(1))
    }

    /// A crash: persists in flight are lost; the node keeps only its durable state.
    pub(super) fn revert_to_durable(&mut self) {
        if !self.fsync_modelled() {
            return;
        }
        self.persists.clear();
        let durable = &self.durable;
        // Compacted prefixes: compare from where both logs hold entries, if they agree on the
        // point before it. Else the crash took back a snapshot install that discarded the log
        // (Figure 13 step 7): what is lost is the live log past the durable one's end, and every
        // durable entry is written back (a `store` at its index replaces what the install put
        // there, if it differed).
        let base = self.log.snapshot_index().max(durable.log.snapshot_index());
        let same_base =
            self.log.term_at(base).is_some() && self.log.term_at(base) == durable.log.term_at(base);
        let (common, stores_from) = if same_base {
            let common = (base + 1..=self.log.last_index().min(durable.log.last_index()))
                .find(|i| self.log.get(*i) != durable.log.get(*i))
                .unwrap_or(self.log.last_index().min(durable.log.last_index()).max(base) + 1);
            (common, common)
        } else {
            (durable.log.last_index() + 1, durable.log.first_index())
        };
        let log_changed = !same_base || common <= self.log.last_index().max(durable.log.last_index());
        let term_lost = self.current_term != durable.current_term;
        let vote_lost = self.voted_for != durable.voted_for;
        if log_changed || term_lost || vote_lost {
            self.crash_loss = Some(CrashLoss {
                term_lost: self.current_term,
                vote_lost: self.voted_for.filter(|_| vote_lost || term_lost),
                log_from: common,
                stores_from,
                log_last: self.log.last_index(),
            });
        }
        self.current_term = durable.current_term;
        self.voted_for = durable.voted_for;
        self.log = durable.log.clone();
        self.snapshot = durable.snapshot.clone();
        self.flushed_len = self.log.last_index();
    }

    /// At restart: rows for what the crash took back. A `note` (msg `fsync_lost`, term = the
    /// durable term the node restarts with, peer = a vote taken back), then a `truncate` from the
    /// first lost index (detail `lost to …`) and a `store` for every durable entry that comes back
    /// in its place.
    pub(super) fn note_crash_loss(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(loss) = self.crash_loss.take() else { return };
        let mut row = Record::new(Event::Note).msg(FSYNC_LOST).term(self.current_term);
        if let Some(v) = loss.vote_lost {
            row = row.peer(v);
        }
        let detail = format!(
            "crash lost unsynced state: term {} -> {}, log {} -> {}",
            loss.term_lost,
            self.current_term,
            loss.log_last,
            self.log.last_index()
        );
        ctx.note(row.detail(detail));
        if loss.log_from <= loss.log_last {
            let to = loss.log_from - 1;
            ctx.note(Record::new(Event::Truncate).index(loss.log_from).detail(format!("lost to {to}")));
        }
        for index in loss.stores_from..=self.log.last_index() {
            if let Some(entry) = self.log.get(index) {
                ctx.note_in(Event::Store, |row| entry_cells(row, index, entry));
            }
        }
    }
}

/// `msg` of the note a restart writes when a crash lost unsynced state.
pub const FSYNC_LOST: &str = "fsync_lost";

/// Persists in flight, oldest first.
pub(super) type Persists = VecDeque<Persist>;
