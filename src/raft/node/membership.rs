//! Single-server membership changes (thesis ch. 4, §4.1–4.2.3).
//!
//! The configuration in force is the latest configuration entry in the server's log, committed
//! or not (§4.1), else the base configuration (`raft.initial_members`, or every node). Quorums —
//! votes, pre-votes, commitment, ReadIndex / lease rounds, CheckQuorum — count its members only;
//! a server outside it starts no election, except while the entry that left it out is not known
//! committed: a removed leader deposed before its removal committed stands (not counting its own
//! vote) so that the members, whose logs may lack the entry and who need its vote, are not stuck
//! (found by `dsim hunt`, seed 176 of 300 with `raft.membership=true`). A leader makes one change at a time: it refuses a new
//! one while its latest configuration entry is uncommitted, and (the 2015 fix,
//! `Bug::MembershipBeforeCommit` drops it) until it has committed an entry of its own term.
//!
//! Adding a server (§4.2.1) first catches it up in rounds: each round replicates the leader's log
//! as it stood when the round began; when a round completes within `election_timeout_ms[0]` the
//! configuration entry is appended, otherwise another round starts, up to [`ROUNDS_MAX`]; a
//! round lasting longer than [`ROUND_TIMEOUTS_MAX`] election timeouts aborts the change (the new
//! server is unavailable). A removed leader keeps leading, without counting itself, until the
//! entry that removes it commits, then steps down (§4.2.2). Disruptive removed servers (§4.2.3):
//! with `raft.membership` a server that has heard from a leader within `election_timeout_ms[0]`
//! (or leads) disregards RequestVote — neither adopting its term nor granting — unless it is a
//! leadership transfer's (node/election.rs); Pre-Vote, when on, adds its own protection. A leader
//! sends nothing to a server outside its configuration (no heartbeat, new entry or snapshot
//! chunk: `replication_targets()`), or the reply to one, carrying the term of the
//! removed server's own elections, would depose it (hunt seed 6768, snapshots + membership).
//!
//! Rows: a `note` with msg `config`, index = the entry's index (0 for the base configuration)
//! and detail = the members (`n0+n1+n2`) whenever the configuration a server uses changes
//! (membership runs only); `note` rows `membership …` for the leader's decisions.

use std::collections::BTreeSet;

use crate::protocol::Ctx;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record};

use super::{RaftNode, Role};
use crate::raft::log::{Command, LogIndex};
use crate::raft::membership::Configuration;
use crate::raft::Bug;

/// Catch-up rounds before a new server's addition is aborted.
pub const ROUNDS_MAX: u32 = 10;
/// A round lasting this many `election_timeout_ms[1]` aborts the addition.
pub const ROUND_TIMEOUTS_MAX: u64 = 4;

/// A leader catching a new server up before adding it (§4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Catchup {
    node: NodeId,
    round: u32,
    round_start: SimTime,
    /// The leader's last index when the round began: the round ends when the server holds it.
    round_end: LogIndex,
}

impl RaftNode {
    /// The configuration in force, `None` for "every node" (no membership in the scenario).
    pub(super) fn members(&self) -> Option<Configuration> {
        self.log.latest_config().map(|(_, c)| c).or(self.base_config)
    }

    /// The index of the configuration entry in force (0: the base configuration).
    pub(super) fn config_index(&self) -> LogIndex {
        self.log.latest_config().map_or(0, |(i, _)| i)
    }

    pub(super) fn is_member(&self, node: NodeId) -> bool {
        self.members().map_or(true, |c| c.contains(node))
    }

    /// Whether the members among `nodes` make a majority of the configuration in force.
    pub(super) fn is_quorum(&self, nodes: &BTreeSet<NodeId>) -> bool {
        match self.members() {
            None => nodes.len() >= self.majority(),
            Some(c) => c.is_quorum(nodes.iter().copied()),
        }
    }

    /// Whether granted votes elect this candidate: `Bug::CountRemovedVote` counts every voter.
    pub(super) fn votes_win(&self) -> bool {
        match self.members() {
            Some(c) if self.config.bug == Bug::CountRemovedVote => self.votes_granted.len() >= c.majority(),
            _ => self.is_quorum(&self.votes_granted),
        }
    }

    /// The acknowledgements a leader needs from its peers on top of its own (when a member).
    pub(super) fn peer_acks_needed(&self) -> usize {
        match self.members() {
            None => self.majority() - 1,
            Some(c) => c.majority() - usize::from(c.contains(self.id)),
        }
    }

    /// The servers a leader replicates to: every other member, and a server being caught up.
    /// (Owns what it reads, so the caller may send while iterating; no allocation per round.)
    /// Nothing else hears from the leader — no heartbeat, no new entry, no next chunk on a reply:
    /// a removed server "will not receive heartbeats" (thesis §4.2.3), and one that still heard
    /// new entries would answer with the term of its own elections and depose the leader (hunt
    /// seed 6768 with snapshots + membership).
    pub(super) fn replication_targets(&self) -> impl Iterator<Item = NodeId> {
        let (members, catchup) = (self.members(), self.catchup.map(|c| c.node));
        super::peers(self.id, self.nodes).filter(move |&p| is_target(members, catchup, p))
    }

    /// Whether `peer` is one of [`Self::replication_targets`].
    pub(super) fn is_replication_target(&self, peer: NodeId) -> bool {
        peer != self.id && is_target(self.members(), self.catchup.map(|c| c.node), peer)
    }

    /// The largest index replicated on a majority of the configuration, by `match_index`, if it is
    /// above `floor`. A count comes first: most calls (acknowledgements of entries a majority
    /// already holds) end there, without copying and sorting `match_index`.
    pub(super) fn quorum_match_above(&mut self, floor: LogIndex) -> Option<LogIndex> {
        let members = self.members();
        let (above, need) = match members {
            None => (self.match_index.iter().filter(|m| **m > floor).count(), self.majority()),
            Some(c) => {
                let matched = c.iter().filter(|n| n.0 < self.nodes).map(|n| self.match_index[n.index()]);
                (matched.filter(|m| *m > floor).count(), c.majority())
            }
        };
        if above < need {
            return None;
        }
        let mut matched = std::mem::take(&mut self.matched);
        matched.clear();
        match members {
            None => matched.extend_from_slice(&self.match_index),
            Some(c) => {
                matched.extend(c.iter().filter(|n| n.0 < self.nodes).map(|n| self.match_index[n.index()]))
            }
        }
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched.get(need - 1).copied();
        self.matched = matched;
        n
    }

    /// A `config` row when the configuration in force changed since the last one (membership
    /// runs only). Called at the end of every handler.
    pub(super) fn note_config_change(&mut self, ctx: &mut Ctx<'_, Self>) {
        if !self.config.membership {
            return;
        }
        let now = (self.config_index(), self.members());
        if self.config_noted == Some(now) {
            return;
        }
        self.config_noted = Some(now);
        let members = now.1.map_or_else(|| "*".to_owned(), |c| c.to_string());
        ctx.note(Record::new(Event::Note).msg("config").index(now.0).term(self.current_term).detail(members));
    }

    fn membership_note(&self, ctx: &mut Ctx<'_, Self>, detail: String) {
        ctx.note(Record::new(Event::Note).term(self.current_term).detail(format!("membership {detail}")));
    }

    /// Why this leader may not start a change now, if it may not.
    fn change_refused(&self) -> Option<&'static str> {
        if self.role != Role::Leader {
            return Some("not leader");
        }
        if self.catchup.is_some() {
            return Some("a server is being caught up");
        }
        if self.config_index() > self.commit_index {
            return Some("a configuration change is uncommitted");
        }
        // The 2015 fix: an entry of this term committed first.
        if self.config.bug != Bug::MembershipBeforeCommit
            && self.log.term_at(self.commit_index) != Some(self.current_term)
        {
            return Some("no entry of this term committed yet");
        }
        None
    }

    /// `add_server`: catch `node` up in rounds, then append the configuration with it.
    pub(super) fn start_add_server(&mut self, ctx: &mut Ctx<'_, Self>, node: NodeId) {
        if let Some(why) = self.change_refused() {
            return self.membership_note(ctx, format!("add {node} refused: {why}"));
        }
        if self.is_member(node) {
            return self.membership_note(ctx, format!("add {node} refused: already a member"));
        }
        self.catchup = Some(Catchup { node, round: 0, round_start: ctx.now(), round_end: 0 });
        self.next_catchup_round(ctx);
        self.send_append_entries(node);
    }

    fn next_catchup_round(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(c) = self.catchup.as_mut() else { return };
        c.round += 1;
        c.round_start = ctx.now();
        c.round_end = self.log.last_index();
        let (node, round, end) = (c.node, c.round, c.round_end);
        self.membership_note(ctx, format!("catchup {node} round {round} to {end}"));
    }

    /// After an acknowledgement or a heartbeat: ends a catch-up round, appending the
    /// configuration entry, starting another round, or aborting.
    pub(super) fn catchup_progress(&mut self, ctx: &mut Ctx<'_, Self>) {
        let Some(c) = self.catchup else { return };
        if self.role != Role::Leader {
            self.catchup = None;
            return;
        }
        let now = ctx.now();
        let elapsed = now.as_us() - c.round_start.as_us();
        if self.match_index[c.node.index()] < c.round_end {
            let limit = SimDuration::from_ms(self.config.election_timeout_ms[1] * ROUND_TIMEOUTS_MAX);
            if elapsed > limit.as_us() {
                self.catchup = None;
                self.membership_note(ctx, format!("add {} aborted: round {} took too long", c.node, c.round));
            }
            return;
        }
        if elapsed <= SimDuration::from_ms(self.config.election_timeout_ms[0]).as_us() {
            self.catchup = None;
            let members = self.members().unwrap_or_else(|| Configuration::all(self.nodes));
            self.append_config(ctx, members.with(c.node));
        } else if c.round >= ROUNDS_MAX {
            self.catchup = None;
            self.membership_note(
                ctx,
                format!("add {} aborted: not caught up in {ROUNDS_MAX} rounds", c.node),
            );
        } else {
            self.next_catchup_round(ctx);
        }
    }

    /// `remove_server`: append the configuration without `node` (`None`: this leader).
    pub(super) fn start_remove_server(&mut self, ctx: &mut Ctx<'_, Self>, node: Option<NodeId>) {
        let node = node.unwrap_or(self.id);
        if let Some(why) = self.change_refused() {
            return self.membership_note(ctx, format!("remove {node} refused: {why}"));
        }
        let members = self.members().unwrap_or_else(|| Configuration::all(self.nodes));
        if !members.contains(node) {
            return self.membership_note(ctx, format!("remove {node} refused: not a member"));
        }
        if members.len() == 1 {
            return self.membership_note(ctx, format!("remove {node} refused: the last member"));
        }
        self.append_config(ctx, members.without(node));
    }

    fn append_config(&mut self, ctx: &mut Ctx<'_, Self>, members: Configuration) {
        let index = self.leader_append(ctx, Command::Config(members));
        self.membership_note(ctx, format!("append {members} at {index}"));
        self.broadcast_append_entries();
        // The old configuration's members still hear of it; the new one counts from now on.
        self.advance_commit_index(ctx);
    }

    /// §4.2.2: a leader not in the configuration steps down once that configuration commits.
    pub(super) fn step_down_if_removed(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.role != Role::Leader || self.is_member(self.id) || self.config_index() > self.commit_index {
            return;
        }
        self.membership_note(ctx, "removed: stepping down".to_owned());
        self.leader_id = None;
        self.become_follower(ctx);
    }

    /// §4.2.3: whether to disregard a RequestVote (membership runs only): this server leads, or
    /// heard from a leader within `election_timeout_ms[0]`. A transfer's request is heeded.
    pub(super) fn disregard_request_vote(&self, now: SimTime, transfer: bool) -> bool {
        if !self.config.membership || transfer {
            return false;
        }
        let wait = SimDuration::from_ms(self.config.election_timeout_ms[0]);
        self.role == Role::Leader
            || (self.leader_id.is_some() && self.last_leader_contact.is_some_and(|t| now < t + wait))
    }
}

/// The one rule of [`RaftNode::replication_targets`] for a peer: a member of the configuration in
/// force (every node without one), or the server being caught up.
fn is_target(members: Option<Configuration>, catchup: Option<NodeId>, peer: NodeId) -> bool {
    members.map_or(true, |c| c.contains(peer)) || catchup == Some(peer)
}
