//! Leadership transfer (thesis §3.10), asked by an operator (`[[faults]] action = "transfer"`,
//! delivered as `AdminOp::TransferLeadership`). The leader stops taking new client commands (it
//! refuses them, `Refused("transferring")`, so clients resend elsewhere) and stops serving lease
//! reads, brings the target's log up to date with AppendEntries, then sends it TimeoutNow; the
//! target stands at once (no timer, no pre-vote) in the next term and, having the most recent
//! log, normally wins. If the transfer has not completed within `election_timeout_ms[1]` it is
//! abandoned and the leader serves again.
//!
//! Leases (`read_mode = "lease"`): a leader elected by transfer does not wait out its
//! predecessor's lease, because the predecessor gave it up before sending TimeoutNow and never
//! serves a lease read again in that term (`lease_given_up`), and sends TimeoutNow only once its
//! own wait for ITS predecessor's lease is over. `Bug::TransferKeepsAccepting` keeps accepting
//! commands and serving lease reads throughout.

use crate::client::{ClientOp, ClientReply};
use crate::protocol::Ctx;
use crate::raft::config::ReadMode;
use crate::raft::messages::{Msg, TimeoutNow};
use crate::raft::sessions::Check;
use crate::raft::Bug;
use crate::sim::{NodeId, SimDuration, SimTime};
use crate::trace::{Event, Record};

use super::{peers, refuse, RaftNode, RaftTimer, Role};

/// A transfer under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Transfer {
    pub(super) target: NodeId,
    /// Whether TimeoutNow has gone out.
    pub(super) timeout_now_sent: bool,
}

impl RaftNode {
    /// The leader of this term is asked to hand over to `to` (or the most up-to-date follower).
    pub(super) fn start_transfer(&mut self, ctx: &mut Ctx<'_, Self>, to: Option<NodeId>) {
        let skip = |ctx: &mut Ctx<'_, Self>, why: &str| {
            ctx.note(Record::new(Event::Note).detail(format!("transfer skipped: {why}")));
        };
        if self.role != Role::Leader {
            return skip(ctx, "not leader");
        }
        if self.transfer.is_some() {
            return skip(ctx, "a transfer is under way");
        }
        // Most up to date: the highest match_index, the lowest id among equals.
        let best = peers(self.id, self.nodes)
            .filter(|p| self.is_member(*p))
            .max_by_key(|p| (self.match_index[p.index()], std::cmp::Reverse(p.0)));
        if to == Some(self.id) {
            return skip(ctx, "the target leads already");
        }
        let Some(target) = to.or(best) else {
            return skip(ctx, "no other node");
        };
        if !self.is_member(target) {
            return skip(ctx, "the target is not in the configuration");
        }
        ctx.note(Record::new(Event::Note).peer(target).term(self.current_term).detail("transfer start"));
        self.transfer = Some(Transfer { target, timeout_now_sent: false });
        let abort_after = SimDuration::from_ms(self.config.election_timeout_ms[1]);
        ctx.set_timer(RaftTimer::TransferAbort, abort_after);
        if self.match_index[target.index()] < self.log.last_index() {
            self.send_append_entries(target);
        }
        self.try_timeout_now(ctx);
    }

    /// Sends TimeoutNow once the target holds the whole log (and, with leases, once this
    /// leader's wait for its predecessor's lease is over). Called after every message, so the
    /// test for a transfer under way is inlined.
    #[inline]
    pub(super) fn try_timeout_now(&mut self, ctx: &mut Ctx<'_, Self>) {
        if let Some(t) = self.transfer {
            self.try_timeout_now_for(ctx, t);
        }
    }

    /// [`Self::try_timeout_now`] with transfer `t` under way.
    fn try_timeout_now_for(&mut self, ctx: &mut Ctx<'_, Self>, t: Transfer) {
        if t.timeout_now_sent || self.role != Role::Leader {
            return;
        }
        if self.match_index[t.target.index()] < self.log.last_index() || self.lease_wait_pending(ctx.now()) {
            return;
        }
        self.transfer = Some(Transfer { timeout_now_sent: true, ..t });
        if self.config.bug != Bug::TransferKeepsAccepting {
            self.lease_given_up = true;
        }
        let request = TimeoutNow { term: self.current_term, leader_id: self.id };
        self.outbox.push((t.target, Msg::TimeoutNow(request)));
    }

    fn lease_wait_pending(&self, now: SimTime) -> bool {
        let wait = SimDuration::from_ms(self.config.election_timeout_ms[0]);
        self.config.read_mode == ReadMode::Lease && now < self.lease_leader_since() + wait
    }

    /// The transfer timed out: serve again (a lease given up stays given up this term).
    pub(super) fn abort_transfer(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.transfer.take().is_some() && self.role == Role::Leader {
            ctx.note(Record::new(Event::Note).term(self.current_term).detail("transfer aborted"));
        }
    }

    /// Leaving office ends any transfer.
    pub(super) fn end_transfer(&mut self, ctx: &mut Ctx<'_, Self>) {
        if self.transfer.take().is_some() {
            ctx.cancel_timer(RaftTimer::TransferAbort);
        }
    }

    /// A new leader: no transfer, a lease of its own; elected by transfer, no lease to wait out.
    pub(super) fn take_office_deployed(&mut self, now: SimTime) {
        self.transfer = None;
        self.lease_given_up = false;
        self.reset_heard(now);
        if self.transfer_term.take() == Some(self.current_term) {
            self.skip_lease_wait(now);
        }
    }

    /// TimeoutNow from the leader: stand at once, skipping the timer and any pre-vote.
    pub(super) fn handle_timeout_now(&mut self, ctx: &mut Ctx<'_, Self>, m: TimeoutNow) {
        self.observe_term(ctx, m.term);
        // A server outside its configuration does not stand (thesis §4.1), transfer or not.
        if m.term < self.current_term || self.role == Role::Leader || !self.is_member(self.id) {
            return;
        }
        self.transfer_term = Some(self.current_term + 1);
        self.start_election(ctx);
    }

    /// While transferring, a leader refuses NEW client commands (reads included); one it already
    /// holds or has applied goes the usual way (answered from its session, or when applied).
    /// Returns whether `op` was refused.
    pub(super) fn refuse_while_transferring(
        &mut self,
        ctx: &mut Ctx<'_, Self>,
        op: &ClientOp,
        direct: bool,
    ) -> bool {
        if self.transfer.is_none() || self.config.bug == Bug::TransferKeepsAccepting {
            return false;
        }
        if self.log.find(op.id).is_some() || !matches!(self.sessions.check(op), Check::New) {
            return false;
        }
        refuse(ctx, op, "transferring leadership".into());
        if direct {
            ctx.reply(op.id, ClientReply::Refused("transferring"));
        }
        true
    }
}
