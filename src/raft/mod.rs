//! Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus Algorithm", 2014), all of
//! Figure 2, as a pure state machine behind [`crate::protocol::Protocol`].
//!
//! [`RaftNode`] is one server: leader election with randomised timeouts (§5.2), log replication
//! with the consistency check and conflict truncation (§5.3), the election restriction and the
//! current-term commit rule (§5.4), a key-value state machine fed by committed entries, and client
//! commands that followers forward to the leader they know. `current_term`, `voted_for` and the log
//! persist across crashes; replies that depend on them leave after the configured fsync time.
//! [`Bug`] selects deliberately broken variants so the checkers can be seen to fail.
//!
//! Files: `log.rs` (the 1-based log), `messages.rs` (RPCs and replies), `node.rs` (the server),
//! `config.rs` (the `[raft]` scenario section), `snapshot.rs` (log compaction, §7).

pub mod config;
pub mod log;
pub mod messages;
pub mod node;
pub mod sessions;
pub mod snapshot;

pub use config::{Bug, RaftConfig, ReadMode};
pub use log::{entry_digest, Command, Entry, LogIndex, RaftLog, Term, DIGEST_EMPTY};
pub use messages::{
    AppendEntries, AppendEntriesReply, ClientForward, InstallSnapshot, InstallSnapshotReply, Msg,
    RequestVote, RequestVoteReply, TimeoutNow,
};
pub use node::{RaftNode, RaftTimer, Role, FSYNC_LOST};
pub use snapshot::Snapshot;
