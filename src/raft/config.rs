//! `[raft]` in a scenario file: timing, limits and the deliberately broken variants.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A deliberately broken Raft, selectable in a scenario, to prove the checkers can fail.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bug {
    /// The correct protocol.
    #[default]
    None,
    /// Commit an entry from an earlier term by counting replicas (the Figure 8 bug; §5.4.2 forbids it).
    Figure8Commit,
    /// Grant votes without the "candidate's log is at least as up-to-date" check (§5.4.1).
    VoteWithoutLogCheck,
    /// Forget `voted_for` on restart, so a node can vote twice in one term (Figure 2: it must persist).
    ForgetVotedFor,
    /// A follower sets `commit_index = min(leader_commit, its last log index)` instead of the index
    /// of the last new entry (Figure 2), committing a stale suffix that does not match the leader.
    CommitMinLastLog,
    /// A follower acknowledges success with its last log index as the match, not the last index
    /// the request covered, so the leader counts entries the follower may not hold.
    MatchLastLog,
    /// Count AppendEntries and RequestVote replies from older terms (§5.1: stale replies must be
    /// ignored).
    CountStaleReplies,
    /// Truncate the log after `prev_log_index` on every AppendEntries, even when the entries match
    /// (Figure 2 step 3 deletes only on a conflict), so a stale request shortens the log.
    TruncateEveryAppend,
    /// Do not step down when a reply carries a higher term (§5.1).
    IgnoreHigherTermReply,
    /// Send replies before the persist they depend on completes, while a crash still loses the
    /// unsynced suffix (Figure 2: "updated on stable storage before responding to RPCs").
    AckBeforeFsync,
    /// Grant votes whatever `voted_for` says (§5.2: one vote per term).
    VoteIgnoringVotedFor,
    /// No exactly-once sessions (§8): a leader appends every resend and the state machine applies
    /// a resent command again.
    NoSessionDedupe,
    /// Any node answers a read from its own state machine at once, without ReadIndex or a lease.
    StaleLocalRead,
    /// `read_mode = "lease"`: a new leader serves (and commits) without waiting out the previous
    /// leader's possible lease.
    LeaseNoWait,
    /// `max_inflight_appends > 1`: a success reply sets `match_index` to what it acknowledges even
    /// when a later reply already acknowledged more (a reordered or duplicated reply), and resends
    /// from there: `match_index` moves back (Figure 2: it "increases monotonically").
    PipelineMatchRegress,
    /// `pre_vote = true`: a would-be candidate increments `current_term` when it starts a
    /// pre-vote round (thesis §9.6 says it must not), so a node cut off keeps raising its term and
    /// disrupts the cluster when it rejoins.
    PrevoteBumpsTerm,
    /// `check_quorum = true`: the leader counts a follower as heard from if it ever acked, however
    /// long ago and in whatever term (stale acks), so a leader cut off from a majority never steps
    /// down.
    CheckQuorumStaleAcks,
    /// A leader transferring leadership (thesis §3.10) keeps accepting client commands and
    /// serving lease reads after it sent TimeoutNow, though the new leader, elected by transfer,
    /// does not wait out its lease.
    TransferKeepsAccepting,
    /// `snapshot_every > 0`: a follower installs an InstallSnapshot whose last included index is
    /// at or below its `commit_index` (Figure 13 only ever moves a follower forward), discarding its
    /// log and resetting its state machine to the older snapshot: `commit_index` and
    /// `last_applied` move back.
    SnapshotOlderThanCommit,
    /// `snapshot_every > 0`: a leader whose `next_index` for a follower lies inside its compacted
    /// prefix sends AppendEntries instead of InstallSnapshot, with `prev_log_index = next_index - 1`,
    /// a made-up `prev_log_term` (its snapshot's last included term) and the entries after its
    /// snapshot point, which land at the wrong indexes on a follower that accepts them.
    EntriesBeforeSnapshot,
    /// Membership changes: a new leader appends a configuration change before it has committed
    /// an entry of its own term — the single-server algorithm as first published (thesis ch. 4),
    /// whose bug Ongaro reported in 2015: with a concurrent uncommitted change of an earlier
    /// leader, two leaders can win one term with disjoint majorities of different configurations.
    MembershipBeforeCommit,
    /// Membership changes: a candidate counts a granted vote from a server outside its
    /// configuration (a removed server, or one not yet added).
    CountRemovedVote,
}

impl Bug {
    pub const NAMES: &'static str = "none, figure8_commit, vote_without_log_check, forget_voted_for, \
                                     commit_min_last_log, match_last_log, count_stale_replies, \
                                     truncate_every_append, ignore_higher_term_reply, ack_before_fsync, \
                                     vote_ignoring_voted_for, no_session_dedupe, stale_local_read, \
                                     lease_no_wait, pipeline_match_regress, prevote_bumps_term, \
                                     check_quorum_stale_acks, transfer_keeps_accepting, \
                                     snapshot_older_than_commit, entries_before_snapshot, \
                                     membership_before_commit, count_removed_vote";

    /// Every broken variant (not `None`), in declaration order.
    pub const ALL_BUGS: [Bug; 21] = [
        Bug::Figure8Commit,
        Bug::VoteWithoutLogCheck,
        Bug::ForgetVotedFor,
        Bug::CommitMinLastLog,
        Bug::MatchLastLog,
        Bug::CountStaleReplies,
        Bug::TruncateEveryAppend,
        Bug::IgnoreHigherTermReply,
        Bug::AckBeforeFsync,
        Bug::VoteIgnoringVotedFor,
        Bug::NoSessionDedupe,
        Bug::StaleLocalRead,
        Bug::LeaseNoWait,
        Bug::PipelineMatchRegress,
        Bug::PrevoteBumpsTerm,
        Bug::CheckQuorumStaleAcks,
        Bug::TransferKeepsAccepting,
        Bug::SnapshotOlderThanCommit,
        Bug::EntriesBeforeSnapshot,
        Bug::MembershipBeforeCommit,
        Bug::CountRemovedVote,
    ];

    /// The spelling in scenario files.
    pub fn as_str(self) -> &'static str {
        match self {
            Bug::None => "none",
            Bug::Figure8Commit => "figure8_commit",
            Bug::VoteWithoutLogCheck => "vote_without_log_check",
            Bug::ForgetVotedFor => "forget_voted_for",
            Bug::CommitMinLastLog => "commit_min_last_log",
            Bug::MatchLastLog => "match_last_log",
            Bug::CountStaleReplies => "count_stale_replies",
            Bug::TruncateEveryAppend => "truncate_every_append",
            Bug::IgnoreHigherTermReply => "ignore_higher_term_reply",
            Bug::AckBeforeFsync => "ack_before_fsync",
            Bug::VoteIgnoringVotedFor => "vote_ignoring_voted_for",
            Bug::NoSessionDedupe => "no_session_dedupe",
            Bug::StaleLocalRead => "stale_local_read",
            Bug::LeaseNoWait => "lease_no_wait",
            Bug::PipelineMatchRegress => "pipeline_match_regress",
            Bug::PrevoteBumpsTerm => "prevote_bumps_term",
            Bug::CheckQuorumStaleAcks => "check_quorum_stale_acks",
            Bug::TransferKeepsAccepting => "transfer_keeps_accepting",
            Bug::SnapshotOlderThanCommit => "snapshot_older_than_commit",
            Bug::EntriesBeforeSnapshot => "entries_before_snapshot",
            Bug::MembershipBeforeCommit => "membership_before_commit",
            Bug::CountRemovedVote => "count_removed_vote",
        }
    }
}

/// How a leader serves reads (thesis §6.4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Reads go through the log like writes and are answered when applied.
    #[default]
    Log,
    /// ReadIndex (§6.4): once its no-op has committed, the leader records `commit_index`,
    /// confirms it still leads with a heartbeat round acked by a majority, and answers once
    /// `last_applied` reaches the recorded index.
    ReadIndex,
    /// Leases (§6.4.1): the leader answers locally while within `election_timeout_ms[0] -
    /// lease_drift_margin_ms` of the start of its last majority-acked heartbeat round. Assumes
    /// every node's timer runs at a rate within the margin (bounded clock drift).
    Lease,
}

/// Raft's knobs. Times are in milliseconds of simulated time unless the name says `_us`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RaftConfig {
    /// Election timeout drawn uniformly from `[min, max]` on every reset (the paper: 150–300 ms).
    pub election_timeout_ms: [u64; 2],
    /// A leader sends AppendEntries (empty when caught up) to every follower this often.
    /// Must be below the election timeout's minimum.
    pub heartbeat_ms: u64,
    /// Time to make `current_term`, `voted_for` and log writes durable; replies that depend on
    /// them leave the node only after this delay (0 = instant).
    pub persist_delay_us: u64,
    /// At most this many entries in one AppendEntries.
    pub max_entries_per_append: u64,
    /// A node with no known leader holds client commands and retries them this often.
    pub client_retry_ms: u64,
    /// At most this many client commands held per node while no leader is known; more are refused.
    /// Also bounds the reads a leader holds for ReadIndex.
    pub pending_max: u64,
    /// Client sessions kept by the state machine (§8, thesis §6.3); past this many processes the
    /// one applied least recently is evicted.
    pub sessions_max: u64,
    /// A new leader appends an empty entry of its term at once (§8), so that entries of earlier
    /// terms commit without waiting for a client command.
    pub noop: bool,
    /// How reads are served: `log`, `read_index` or `lease`.
    pub read_mode: ReadMode,
    /// Lease reads: the lease lasts `election_timeout_ms[0]` minus this margin (bounded clock drift).
    pub lease_drift_margin_ms: u64,
    /// Pipelining: at most this many AppendEntries carrying entries in flight to one follower,
    /// `next_index` advanced optimistically on send (etcd's Replicate state). 1 is the paper's
    /// stop-and-wait: `next_index` moves only on a reply.
    pub max_inflight_appends: u64,
    /// Fast backtracking (§5.3's closing optimisation): a rejection carries the term of the
    /// follower's conflicting entry and the first index it holds of that term, and the leader skips
    /// that whole term, so a divergent follower converges in one round trip per term.
    pub fast_backtrack: bool,
    /// Pre-Vote (thesis §9.6): a would-be candidate first asks whether a majority would vote for
    /// it (log up to date, no leader heard within `election_timeout_ms[0]`) without raising its
    /// term, and stands only if so.
    pub pre_vote: bool,
    /// CheckQuorum: a leader that has not heard an AppendEntries reply of its term from a
    /// majority (itself included) within `election_timeout_ms[0]` steps down.
    pub check_quorum: bool,
    /// Log compaction (§7): a node snapshots its state machine (with the client sessions) every
    /// this many applied entries and discards the log prefix the snapshot covers. 0 = never.
    pub snapshot_every: u64,
    /// Entries kept in the log behind the snapshot point, so a follower slightly behind still gets
    /// AppendEntries rather than a whole snapshot.
    pub snapshot_trailing: u64,
    /// InstallSnapshot chunk size (Figure 13's `offset` / `done`), counted in entries' worth of
    /// the snapshot (a snapshot at index N is N entries' worth), so the chunking is deterministic.
    pub snapshot_chunk_entries: u64,
    /// Membership changes (thesis ch. 4) are in use: quorums count the configuration in the log,
    /// and a server that heard from a leader within `election_timeout_ms[0]` disregards
    /// RequestVote (§4.2.3). Switched on by `initial_members` and by `add_server` /
    /// `remove_server` faults too; at most 64 nodes.
    #[serde(skip_serializing_if = "is_false")]
    pub membership: bool,
    /// The servers in the configuration at the start (`["n0", "n1", "n2"]`); the others run but
    /// neither vote nor count until added. Absent: every node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_members: Option<Vec<String>>,
    /// A deliberately broken variant, or `none`.
    pub bug: Bug,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            election_timeout_ms: [150, 300],
            heartbeat_ms: 50,
            persist_delay_us: 0,
            max_entries_per_append: 64,
            client_retry_ms: 100,
            pending_max: 1_000,
            sessions_max: 10_000,
            noop: true,
            read_mode: ReadMode::Log,
            lease_drift_margin_ms: 20,
            max_inflight_appends: 1,
            fast_backtrack: false,
            pre_vote: false,
            check_quorum: false,
            snapshot_every: 0,
            snapshot_trailing: 0,
            snapshot_chunk_entries: 1_000,
            membership: false,
            initial_members: None,
            bug: Bug::None,
        }
    }
}

impl RaftConfig {
    pub fn validate(&self, origin: &str) -> Result<()> {
        let bad = |field: &str, value: &dyn std::fmt::Display, allowed: String| {
            Err(Error::invalid(origin, format!("raft.{field}"), value, allowed))
        };
        let [min, max] = self.election_timeout_ms;
        if min == 0 || min > max || max > 3_600_000 {
            return bad(
                "election_timeout_ms",
                &format!("[{min}, {max}]"),
                "[min, max] with 1 <= min <= max <= 3600000".into(),
            );
        }
        if self.heartbeat_ms == 0 || self.heartbeat_ms >= min {
            return bad(
                "heartbeat_ms",
                &self.heartbeat_ms,
                format!("an integer in [1, {}] (below election_timeout_ms min)", min - 1),
            );
        }
        if self.persist_delay_us > 10_000_000 {
            return bad("persist_delay_us", &self.persist_delay_us, "an integer in [0, 10000000]".into());
        }
        if !(1..=100_000).contains(&self.max_entries_per_append) {
            return bad(
                "max_entries_per_append",
                &self.max_entries_per_append,
                "an integer in [1, 100000]".into(),
            );
        }
        if !(1..=3_600_000).contains(&self.client_retry_ms) {
            return bad("client_retry_ms", &self.client_retry_ms, "an integer in [1, 3600000]".into());
        }
        if !(1..=10_000_000).contains(&self.sessions_max) {
            return bad("sessions_max", &self.sessions_max, "an integer in [1, 10000000]".into());
        }
        // The margin only matters to lease reads; a scenario with short timeouts and another read
        // mode must not trip over its default.
        if self.read_mode == ReadMode::Lease && self.lease_drift_margin_ms >= min {
            return bad(
                "lease_drift_margin_ms",
                &self.lease_drift_margin_ms,
                format!("an integer in [0, {}] (below election_timeout_ms min)", min - 1),
            );
        }
        if self.lease_drift_margin_ms > 3_600_000 {
            return bad(
                "lease_drift_margin_ms",
                &self.lease_drift_margin_ms,
                "an integer in [0, 3600000]".into(),
            );
        }
        if !(1..=1_000_000).contains(&self.pending_max) {
            return bad("pending_max", &self.pending_max, "an integer in [1, 1000000]".into());
        }
        if !(1..=Self::INFLIGHT_MAX).contains(&self.max_inflight_appends) {
            return bad(
                "max_inflight_appends",
                &self.max_inflight_appends,
                format!("an integer in [1, {}] (1 = stop-and-wait)", Self::INFLIGHT_MAX),
            );
        }
        if self.snapshot_every > Self::SNAPSHOT_MAX {
            return bad(
                "snapshot_every",
                &self.snapshot_every,
                format!("an integer in [0, {}] (0 = no snapshots)", Self::SNAPSHOT_MAX),
            );
        }
        if self.snapshot_trailing > Self::SNAPSHOT_MAX {
            return bad(
                "snapshot_trailing",
                &self.snapshot_trailing,
                format!("an integer in [0, {}]", Self::SNAPSHOT_MAX),
            );
        }
        if !(1..=Self::SNAPSHOT_MAX).contains(&self.snapshot_chunk_entries) {
            return bad(
                "snapshot_chunk_entries",
                &self.snapshot_chunk_entries,
                format!("an integer in [1, {}]", Self::SNAPSHOT_MAX),
            );
        }
        // A broken variant of a switched-off feature would run the correct protocol unnoticed.
        let needs = match self.bug {
            Bug::PrevoteBumpsTerm if !self.pre_vote => Some("raft.pre_vote = true"),
            Bug::CheckQuorumStaleAcks if !self.check_quorum => Some("raft.check_quorum = true"),
            Bug::SnapshotOlderThanCommit | Bug::EntriesBeforeSnapshot if self.snapshot_every == 0 => {
                Some("raft.snapshot_every > 0")
            }
            Bug::PipelineMatchRegress if self.max_inflight_appends < 2 => {
                Some("raft.max_inflight_appends of 2 or more")
            }
            _ => None,
        };
        if let Some(needs) = needs {
            return bad("bug", &self.bug.as_str(), format!("a bug that needs {needs}"));
        }
        Ok(())
    }

    /// The largest `snapshot_every`, `snapshot_trailing` and `snapshot_chunk_entries` accepted.
    pub const SNAPSHOT_MAX: u64 = 100_000_000;

    /// Whether log compaction is on.
    pub fn snapshots(&self) -> bool {
        self.snapshot_every > 0
    }

    /// The largest `max_inflight_appends` accepted.
    pub const INFLIGHT_MAX: u64 = 1_024;

    /// Whether replication is pipelined (more than one AppendEntries in flight per follower).
    pub fn pipelined(&self) -> bool {
        self.max_inflight_appends > 1
    }

    /// Whether a rejection names the request it answers (and, with `fast_backtrack`, the
    /// conflicting term): on with pipelining or fast backtracking, off in the paper's Raft so its
    /// traces stay as they were.
    pub fn named_rejections(&self) -> bool {
        self.pipelined() || self.fast_backtrack
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_papers_and_valid() {
        let c = RaftConfig::default();
        assert_eq!(c.election_timeout_ms, [150, 300]);
        c.validate("x").unwrap();
    }

    #[test]
    fn bad_values_name_field_value_and_range() {
        let c = RaftConfig { election_timeout_ms: [300, 150], ..Default::default() };
        let e = c.validate("sims/raft.toml").unwrap_err().to_string();
        assert!(e.starts_with("sims/raft.toml: raft.election_timeout_ms = [300, 150]: "), "{e}");
        let short = RaftConfig { election_timeout_ms: [12, 24], heartbeat_ms: 6, ..Default::default() };
        short.validate("f").expect("the lease margin is checked only for lease reads");
        let lease = RaftConfig { read_mode: ReadMode::Lease, ..short };
        let e = lease.validate("f").unwrap_err().to_string();
        assert!(e.contains("raft.lease_drift_margin_ms = 20"), "{e}");
        let c = RaftConfig { heartbeat_ms: 200, ..Default::default() };
        assert!(c.validate("f").unwrap_err().to_string().contains("raft.heartbeat_ms = 200"));
        for bad in [0, RaftConfig::INFLIGHT_MAX + 1] {
            let c = RaftConfig { max_inflight_appends: bad, ..Default::default() };
            let e = c.validate("f.toml").unwrap_err().to_string();
            assert_eq!(
                e,
                format!(
                    "f.toml: raft.max_inflight_appends = {bad}: an integer in [1, 1024] (1 = stop-and-wait)"
                )
            );
        }
        let c = RaftConfig { max_inflight_appends: RaftConfig::INFLIGHT_MAX, ..Default::default() };
        c.validate("f").unwrap();
    }

    /// A bug of a switched-off feature is refused, naming the switch it needs.
    #[test]
    fn a_bug_of_a_switch_needs_the_switch() {
        let c = RaftConfig { bug: Bug::PrevoteBumpsTerm, ..Default::default() };
        assert_eq!(
            c.validate("f").unwrap_err().to_string(),
            "f: raft.bug = prevote_bumps_term: a bug that needs raft.pre_vote = true"
        );
        RaftConfig { pre_vote: true, ..c }.validate("f").unwrap();
        let c = RaftConfig { bug: Bug::CheckQuorumStaleAcks, ..Default::default() };
        assert!(c.validate("f").unwrap_err().to_string().contains("needs raft.check_quorum = true"));
        RaftConfig { check_quorum: true, ..c }.validate("f").unwrap();
        for bug in [Bug::SnapshotOlderThanCommit, Bug::EntriesBeforeSnapshot] {
            let c = RaftConfig { bug, ..Default::default() };
            assert_eq!(
                c.validate("f").unwrap_err().to_string(),
                format!("f: raft.bug = {}: a bug that needs raft.snapshot_every > 0", bug.as_str())
            );
            RaftConfig { snapshot_every: 10, ..c }.validate("f").unwrap();
        }
    }

    #[test]
    fn snapshot_fields_are_bounded() {
        let c = RaftConfig { snapshot_chunk_entries: 0, ..Default::default() };
        assert_eq!(
            c.validate("f").unwrap_err().to_string(),
            "f: raft.snapshot_chunk_entries = 0: an integer in [1, 100000000]"
        );
        let c = RaftConfig { snapshot_every: RaftConfig::SNAPSHOT_MAX + 1, ..Default::default() };
        assert!(c.validate("f").unwrap_err().to_string().contains("raft.snapshot_every = 100000001"));
        let c = RaftConfig { snapshot_trailing: RaftConfig::SNAPSHOT_MAX + 1, ..Default::default() };
        assert!(c.validate("f").unwrap_err().to_string().contains("raft.snapshot_trailing"));
    }

    /// Regression: short elections with the default margin are refused only in lease mode
    /// (tests/papers.rs' 12–24 ms Figure 16 scenario and the mutation suite's fast elections
    /// failed to load in log mode).
    #[test]
    fn the_lease_margin_binds_only_in_lease_mode() {
        let short = RaftConfig { election_timeout_ms: [12, 24], heartbeat_ms: 4, ..Default::default() };
        short.validate("f").unwrap();
        let lease = RaftConfig { read_mode: ReadMode::Lease, ..short };
        let e = lease.validate("f").unwrap_err().to_string();
        assert!(e.contains("raft.lease_drift_margin_ms = 20"), "{e}");
    }
}
