//! The messages Raft servers exchange: the two RPCs of Figure 2 with their replies, and the
//! forwarding of client commands to the leader (§8: "if the client contacts a follower, the follower
//! forwards …"; here the follower forwards on the client's behalf).
//!
//! Each RPC's arguments are a struct of their own, named as in Figure 2, so handlers take one value;
//! [`Msg`] wraps them. `describe` fills the trace's `term` and `index` columns of `send`, `deliver`
//! and `drop` rows so a trace can be read without decoding payloads.

use crate::client::ClientOp;
use crate::protocol::Message;
use crate::sim::NodeId;
use crate::trace::{Pairs, Record, Value};

use std::sync::Arc;

use super::log::{Entry, LogIndex, Term};
use super::snapshot::Snapshot;

/// RequestVote arguments (Figure 2), sent by candidates (§5.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestVote {
    pub term: Term,
    pub candidate_id: NodeId,
    pub last_log_index: LogIndex,
    pub last_log_term: Term,
    /// Thesis §4.2.3: the candidate stands because the leader asked it to (TimeoutNow), so a
    /// server that has heard from that leader recently must not disregard the request. Not on
    /// the wire's trace columns; always false without membership changes.
    pub leadership_transfer: bool,
}

/// RequestVote results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestVoteReply {
    /// The voter's `current_term`, for the candidate to update itself.
    pub term: Term,
    pub vote_granted: bool,
}

/// AppendEntries arguments (Figure 2): replication and heartbeat (§5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendEntries {
    pub term: Term,
    pub leader_id: NodeId,
    /// Index of the entry immediately preceding `entries`.
    pub prev_log_index: LogIndex,
    pub prev_log_term: Term,
    /// Empty for a heartbeat; at most `max_entries_per_append`.
    pub entries: Vec<Entry>,
    pub leader_commit: LogIndex,
    /// The leader's heartbeat round (reads, thesis §6.4), echoed in the reply so an ack counts
    /// for the round it answers and no other. Not part of Figure 2.
    pub read_round: u64,
}

/// AppendEntries results, plus an index the paper leaves implicit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppendEntriesReply {
    /// The follower's `current_term`, for the leader to update itself.
    pub term: Term,
    /// Whether the follower held an entry matching `prev_log_index` and `prev_log_term`.
    pub success: bool,
    /// On success, the last index known to match the leader (`prev_log_index + entries.len()`), so a
    /// reply names what it acknowledges even when replies are reordered or duplicated. On failure, a
    /// hint: the follower's last log index (§5.3's "optimization" of the back-off).
    pub match_index: LogIndex,
    /// The `read_round` of the request answered.
    pub read_round: u64,
    /// A rejection names the request it answers by its `prev_log_index`, so a duplicated or
    /// reordered rejection backs `next_index` off once (`raft.max_inflight_appends > 1` or
    /// `raft.fast_backtrack`; `None` in the paper's Raft and on success).
    pub rejected_prev: Option<LogIndex>,
    /// Fast backtracking (`raft.fast_backtrack`, §5.3): the term of the follower's entry at the
    /// rejected `prev_log_index` (`None` when its log ends before it)…
    pub conflict_term: Option<Term>,
    /// …and the first index the follower holds of that term (its last index + 1 when its log ends
    /// before `prev_log_index`). `None` without fast backtracking.
    pub conflict_index: Option<LogIndex>,
}

/// InstallSnapshot arguments (Figure 13): one chunk of the leader's snapshot, sent when a
/// follower's `next_index` lies inside the leader's compacted prefix (§7). Chunks are counted in
/// entries' worth of the snapshot (`Snapshot::size`); every chunk shares the one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallSnapshot {
    pub term: Term,
    pub leader_id: NodeId,
    pub last_included_index: LogIndex,
    pub last_included_term: Term,
    /// Where this chunk starts, in entries' worth.
    pub offset: u64,
    /// This chunk's length, in entries' worth.
    pub len: u64,
    /// Whether this is the last chunk.
    pub done: bool,
    pub snapshot: Arc<Snapshot>,
}

/// InstallSnapshot results: Figure 13's `term`, plus what the follower holds so the leader can
/// go on (the paper leaves the leader's bookkeeping implicit).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InstallSnapshotReply {
    /// The follower's `current_term`, for the leader to update itself.
    pub term: Term,
    /// The snapshot the reply is about.
    pub last_included_index: LogIndex,
    /// How much of it the follower has received, in entries' worth: the next chunk's offset.
    pub received: u64,
    /// The follower holds the snapshot's prefix (installed it, already had it, or is past it):
    /// the leader may set `match_index` to `last_included_index`.
    pub done: bool,
}

/// TimeoutNow (thesis §3.10): the leader tells the target of a leadership transfer to start an
/// election at once, without waiting for its timer and without a pre-vote round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeoutNow {
    /// The leader's `current_term`.
    pub term: Term,
    pub leader_id: NodeId,
}

/// A client command passed on to the node believed to be the leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientForward {
    pub op: ClientOp,
    /// How many times the command has been forwarded, counting this one. Bounded by the cluster size.
    pub hops: u32,
}

/// `msg` of an InstallSnapshot row.
pub const INSTALL_SNAPSHOT: &str = "install_snapshot";
/// `msg` of an InstallSnapshotReply row.
pub const INSTALL_SNAPSHOT_REPLY: &str = "install_snapshot_reply";

/// `detail` of a RequestVoteReply row that grants the vote.
pub const GRANTED: &str = "granted";
/// `detail` of a RequestVoteReply row that refuses it.
pub const DENIED: &str = "denied";
/// `detail` of an AppendEntriesReply row that acknowledges the request.
pub const SUCCESS: &str = "success";
/// `detail` of an AppendEntriesReply row that rejects it.
pub const FAILURE: &str = "failure";

/// Every message of the protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    RequestVote(RequestVote),
    RequestVoteReply(RequestVoteReply),
    AppendEntries(AppendEntries),
    AppendEntriesReply(AppendEntriesReply),
    ClientForward(ClientForward),
    /// Pre-Vote (thesis §9.6): RequestVote's arguments with `term` the term the sender WOULD
    /// stand in (its `current_term + 1`); nobody adopts it or records a vote.
    PreVote(RequestVote),
    /// A pre-vote answer: `term` is the proposed term when granted, the voter's `current_term`
    /// when denied (so a stale would-be candidate learns the newer term).
    PreVoteReply(RequestVoteReply),
    TimeoutNow(TimeoutNow),
    InstallSnapshot(InstallSnapshot),
    InstallSnapshotReply(InstallSnapshotReply),
}

impl Msg {
    /// The term a receiver adopts if it is newer than its own (§5.1): the sender's current term.
    /// `None` for a pre-vote (a proposed term) and a forwarded command.
    pub fn term_to_adopt(&self) -> Option<Term> {
        match self {
            Msg::RequestVote(m) => Some(m.term),
            Msg::RequestVoteReply(m) => Some(m.term),
            Msg::AppendEntries(m) => Some(m.term),
            Msg::AppendEntriesReply(m) => Some(m.term),
            Msg::PreVoteReply(m) if !m.vote_granted => Some(m.term),
            Msg::TimeoutNow(m) => Some(m.term),
            Msg::InstallSnapshot(m) => Some(m.term),
            Msg::InstallSnapshotReply(m) => Some(m.term),
            Msg::PreVote(_) | Msg::PreVoteReply(_) | Msg::ClientForward(_) => None,
        }
    }
}

impl Message for Msg {
    fn name(&self) -> &'static str {
        match self {
            Msg::RequestVote(_) => "request_vote",
            Msg::RequestVoteReply(_) => "request_vote_reply",
            Msg::AppendEntries(_) => "append_entries",
            Msg::AppendEntriesReply(_) => "append_entries_reply",
            Msg::ClientForward(_) => "client_forward",
            Msg::PreVote(_) => "pre_vote",
            Msg::PreVoteReply(_) => "pre_vote_reply",
            Msg::TimeoutNow(_) => "timeout_now",
            Msg::InstallSnapshot(_) => INSTALL_SNAPSHOT,
            Msg::InstallSnapshotReply(_) => INSTALL_SNAPSHOT_REPLY,
        }
    }

    /// `term` is the sender's term; `index` is `last_log_index` (RequestVote), `prev_log_index`
    /// (AppendEntries) or `match_index` (AppendEntriesReply). `detail` carries the rest of what a
    /// third party sees on the wire, so checkers can use the messages as evidence independent of
    /// the nodes' own rows: `last_term=T` (RequestVote), `granted` / `denied` (RequestVoteReply),
    /// `prev_term=T entries=N commit=C` (AppendEntries; followed by ` config=I:n0+n1+n2` for each
    /// configuration entry it carries, at index I), `success` / `failure`
    /// (AppendEntriesReply; a rejection that names its request adds `reject=P`, its
    /// `prev_log_index`, and with fast backtracking `conflict_term=T` (absent when the follower's
    /// log ends before P) and `conflict_index=I`). A forwarded command shows, like a
    /// `client` row, its key, the value it writes and its op id in `index`. `pre_vote` rows show
    /// like `request_vote` (term = the PROPOSED term), `pre_vote_reply` like `request_vote_reply`
    /// (term = the proposed term if granted, else the voter's), `timeout_now` the leader's term;
    /// the checkers that read votes and terms from the wire match on the message name, so a
    /// pre-vote grant is never taken for a vote. `install_snapshot` rows show the leader's term,
    /// index = `last_included_index` and detail `last_term=T offset=O len=L done=0|1 digest=<16
    /// hex digits>` (the snapshot's prefix digest); `install_snapshot_reply` rows the follower's
    /// term, index = `last_included_index` and detail `received=R done=0|1`.
    fn describe(&self, row: &mut Record) {
        match self {
            Msg::RequestVote(m) | Msg::PreVote(m) => {
                row.term = Some(m.term);
                row.index = Some(m.last_log_index);
                row.detail_pairs = Some(Pairs::new(&LAST_TERM, [m.last_log_term, 0, 0]));
            }
            Msg::RequestVoteReply(m) | Msg::PreVoteReply(m) => {
                row.term = Some(m.term);
                row.detail = if m.vote_granted { GRANTED } else { DENIED }.into();
            }
            Msg::AppendEntries(m) => {
                row.term = Some(m.term);
                row.index = Some(m.prev_log_index);
                let numbers = [m.prev_log_term, m.entries.len() as u64, m.leader_commit];
                if !m.entries.iter().any(|e| e.command.config().is_some()) {
                    row.detail_pairs = Some(Pairs::new(&APPEND_ENTRIES_PAIRS, numbers));
                    return;
                }
                // Membership changes: each configuration entry carried, ` config=<index>:<members>`.
                let mut detail = String::new();
                Pairs::new(&APPEND_ENTRIES_PAIRS, numbers).push_to(&mut detail);
                for (index, entry) in (m.prev_log_index + 1..).zip(&m.entries) {
                    if let Some(c) = entry.command.config() {
                        detail.push_str(&format!(" config={index}:{c}"));
                    }
                }
                row.detail = detail.into();
            }
            Msg::AppendEntriesReply(m) => {
                row.term = Some(m.term);
                row.index = Some(m.match_index);
                describe_reply(m, row);
            }
            Msg::TimeoutNow(m) => row.term = Some(m.term),
            Msg::InstallSnapshot(m) => {
                row.term = Some(m.term);
                row.index = Some(m.last_included_index);
                row.detail = format!(
                    "last_term={} offset={} len={} done={} digest={:016x}",
                    m.last_included_term,
                    m.offset,
                    m.len,
                    u8::from(m.done),
                    m.snapshot.digest
                )
                .into();
            }
            Msg::InstallSnapshotReply(m) => {
                row.term = Some(m.term);
                row.index = Some(m.last_included_index);
                row.detail_pairs =
                    Some(Pairs::new(&INSTALL_SNAPSHOT_REPLY_PAIRS, [m.received, u64::from(m.done), 0]));
            }
            Msg::ClientForward(m) => {
                row.key = Some(m.op.key);
                row.value = m.op.written().map_or(Value::None, Value::Id);
                row.index = Some(m.op.id);
            }
        }
    }
}

/// The labels of the wire details kept as numbers ([`Pairs`]: formatted only when written).
static LAST_TERM: [&str; 3] = ["last_term=", "", ""];
static APPEND_ENTRIES_PAIRS: [&str; 3] = ["prev_term=", " entries=", " commit="];
static INSTALL_SNAPSHOT_REPLY_PAIRS: [&str; 3] = ["received=", " done=", ""];
static REJECT: [&str; 3] = ["failure reject=", "", ""];
static REJECT_TERM: [&str; 3] = ["failure reject=", " conflict_term=", ""];
static REJECT_INDEX: [&str; 3] = ["failure reject=", " conflict_index=", ""];
static REJECT_TERM_INDEX: [&str; 3] = ["failure reject=", " conflict_term=", " conflict_index="];

/// `success`, or `failure` followed by the rejection's names when it carries them.
fn describe_reply(m: &AppendEntriesReply, row: &mut Record) {
    if m.success {
        row.detail = SUCCESS.into();
        return;
    }
    let Some(prev) = m.rejected_prev else {
        row.detail = FAILURE.into();
        return;
    };
    let pairs = match (m.conflict_term, m.conflict_index) {
        (None, None) => Pairs::new(&REJECT, [prev, 0, 0]),
        (Some(term), None) => Pairs::new(&REJECT_TERM, [prev, term, 0]),
        (None, Some(index)) => Pairs::new(&REJECT_INDEX, [prev, index, 0]),
        (Some(term), Some(index)) => Pairs::new(&REJECT_TERM_INDEX, [prev, term, index]),
    };
    row.detail_pairs = Some(pairs);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::Event;

    fn described(msg: &Msg) -> (&'static str, Option<u64>, Option<u64>) {
        let mut row = Record::new(Event::Send);
        msg.describe(&mut row);
        (msg.name(), row.term, row.index)
    }

    fn detail(msg: &Msg) -> String {
        let mut row = Record::new(Event::Send);
        msg.describe(&mut row);
        row.detail_text().into_owned()
    }

    #[test]
    fn wire_details_write_numbers_as_display_does() {
        let text = |labels: &'static [&'static str; 3], numbers| {
            let mut out = String::new();
            Pairs::new(labels, numbers).push_to(&mut out);
            out
        };
        static ONE: [&str; 3] = ["n=", "", ""];
        static THREE: [&str; 3] = ["a=", " b=", " c="];
        for n in [0, 1, 9, 10, 99, 100, 12_345, 999_999_999, 1_000_000_000, u64::MAX - 1, u64::MAX] {
            assert_eq!(text(&ONE, [n, 0, 0]), format!("n={n}"));
            let three = text(&THREE, [n, n / 7, n % 1_000]);
            assert_eq!(three, format!("a={n} b={} c={}", n / 7, n % 1_000));
        }
    }

    #[test]
    fn names_and_described_columns() {
        let rv = Msg::RequestVote(RequestVote {
            term: 4,
            candidate_id: NodeId(1),
            last_log_index: 7,
            last_log_term: 3,
            leadership_transfer: false,
        });
        assert_eq!(described(&rv), ("request_vote", Some(4), Some(7)));
        let rvr = Msg::RequestVoteReply(RequestVoteReply { term: 4, vote_granted: true });
        assert_eq!(described(&rvr), ("request_vote_reply", Some(4), None));
        let ae = Msg::AppendEntries(AppendEntries {
            term: 5,
            leader_id: NodeId(0),
            prev_log_index: 9,
            prev_log_term: 2,
            entries: Vec::new(),
            leader_commit: 8,
            read_round: 0,
        });
        assert_eq!(described(&ae), ("append_entries", Some(5), Some(9)));
        let aer = Msg::AppendEntriesReply(AppendEntriesReply {
            term: 5,
            success: false,
            match_index: 6,
            read_round: 0,
            rejected_prev: None,
            conflict_term: None,
            conflict_index: None,
        });
        assert_eq!(described(&aer), ("append_entries_reply", Some(5), Some(6)));
        let fwd = Msg::ClientForward(ClientForward { op: ClientOp::write(0, 17, 2), hops: 1 });
        assert_eq!(described(&fwd), ("client_forward", None, Some(17)));
        assert_eq!(detail(&rv), "last_term=3");
        assert_eq!(detail(&rvr), "granted");
        let denied = Msg::RequestVoteReply(RequestVoteReply { term: 4, vote_granted: false });
        assert_eq!(detail(&denied), "denied");
        assert_eq!(detail(&ae), "prev_term=2 entries=0 commit=8");
        assert_eq!(detail(&aer), "failure");
        let ok = Msg::AppendEntriesReply(AppendEntriesReply {
            term: 5,
            success: true,
            match_index: 6,
            read_round: 0,
            rejected_prev: None,
            conflict_term: None,
            conflict_index: None,
        });
        assert_eq!(detail(&ok), "success");
        let named = |conflict_term, conflict_index| {
            Msg::AppendEntriesReply(AppendEntriesReply {
                term: 5,
                success: false,
                match_index: 6,
                read_round: 0,
                rejected_prev: Some(9),
                conflict_term,
                conflict_index,
            })
        };
        assert_eq!(detail(&named(None, None)), "failure reject=9");
        assert_eq!(detail(&named(Some(3), Some(4))), "failure reject=9 conflict_term=3 conflict_index=4");
        assert_eq!(detail(&named(None, Some(7))), "failure reject=9 conflict_index=7");
        let mut row = Record::new(Event::Send);
        fwd.describe(&mut row);
        assert_eq!((row.key, row.value), (Some(2), Value::Id(17)));
        let pv = Msg::PreVote(RequestVote {
            term: 5,
            candidate_id: NodeId(1),
            last_log_index: 7,
            last_log_term: 3,
            leadership_transfer: false,
        });
        assert_eq!((described(&pv), detail(&pv)), (("pre_vote", Some(5), Some(7)), "last_term=3".into()));
        let pvr = Msg::PreVoteReply(RequestVoteReply { term: 5, vote_granted: true });
        assert_eq!((described(&pvr), detail(&pvr)), (("pre_vote_reply", Some(5), None), "granted".into()));
        let tn = Msg::TimeoutNow(TimeoutNow { term: 4, leader_id: NodeId(0) });
        assert_eq!(described(&tn), ("timeout_now", Some(4), None));
    }
}
