//! An acknowledgement names what the follower holds (Raft §5.3, Log Matching): a `success`
//! AppendEntries reply with match index m says the follower's log agrees with its leader's up to
//! m. Checked at the `send` row of the reply: the follower's entry at m must have the term of the
//! leader's entry at m (by Log Matching the whole prefix then agrees). Both logs are rebuilt from
//! `append` / `store` / `truncate` rows. The check is skipped when it could be stale: the leader
//! of the reply's term no longer leads it, or the follower has since seen a higher term.
//! A follower that acknowledges more than the request covered (its whole log) is caught.

use std::collections::BTreeMap;

use crate::check::node_map::NodeMap;
use crate::check::raft_log::{is_leader_row, wire, LogTerms};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

#[derive(Clone, Debug, Default)]
pub struct AcksMatch {
    logs: LogTerms,
    /// Term -> its leader (first `leader` row of the term).
    leaders: BTreeMap<u64, NodeId>,
    /// Node -> the term it leads in if its latest `role` row is `leader` (0 otherwise: a restart's
    /// `follower` row of the same term must end it — seed 1338 of `dsim hunt`, a false alarm).
    leading: NodeMap<u64>,
    /// Node -> the highest term delivered to it or shown in its rows since it last started.
    term: NodeMap<u64>,
}

impl AcksMatch {
    pub const NAME: &'static str = "acks_match";

    pub fn new() -> AcksMatch {
        AcksMatch::default()
    }

    fn raise(&mut self, node: NodeId, term: u64) {
        let t = self.term.entry_or_default(node);
        *t = (*t).max(term);
    }

    fn check_ack(&self, row: &Record, out: &mut Vec<Violation>) {
        let (Some(follower), Some(term), Some(m)) = (row.node, row.term, row.index) else { return };
        let Some(&leader) = self.leaders.get(&term) else { return };
        if m == 0 || leader == follower || self.leading.get(&leader) != Some(&term) {
            return;
        }
        if self.term.get(&follower).is_some_and(|t| *t > term) {
            return;
        }
        let (theirs, ours) = (self.logs.term_at(leader, m), self.logs.term_at(follower, m));
        if theirs != ours {
            let show = |t: Option<u64>| t.map_or("no entry".to_owned(), |t| format!("term {t}"));
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{follower} acknowledged index {m} to {leader} (leader of term {term}) holding {} there; \
                     the leader holds {}",
                    show(ours),
                    show(theirs)
                ),
            ));
        }
    }
}

impl Checker for AcksMatch {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Send,
            Event::Deliver,
            Event::Role,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
            Event::Crash,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        match row.event {
            Event::Send if wire::is_ack(row) => self.check_ack(row, out),
            Event::Deliver if wire::is_rpc(row) => {
                if let Some(t) = row.term {
                    self.raise(node, t);
                }
            }
            Event::Role => {
                if let Some(t) = row.term {
                    let leader = is_leader_row(row);
                    self.leading.insert(node, if leader { t } else { 0 });
                    self.raise(node, t);
                    if leader {
                        self.leaders.entry(t).or_insert(node);
                    }
                }
            }
            Event::Crash => {
                self.term.insert(node, 0);
                self.leading.insert(node, 0);
            }
            Event::Append | Event::Store | Event::Truncate | Event::InstallSnapshot => self.logs.observe(row),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    fn ack(follower: u32, leader: u32, term: u64, matched: u64) -> Record {
        Record::new(Event::Send)
            .node(NodeId(follower))
            .peer(NodeId(leader))
            .term(term)
            .index(matched)
            .msg("append_entries_reply")
            .detail("success")
    }

    /// n0 led term 1, crashed and came back a follower of term 1 (same term: no newer role row),
    /// then took (2,2) from a newer leader; n1, paused, acknowledges an old term-1 request for
    /// index 2, where n1 holds (1,2). The reply answers n0 as it was, so it proves nothing now.
    #[test]
    fn a_late_ack_to_a_leader_that_has_since_restarted_is_not_judged() {
        let rows = vec![
            role(0, 1, "leader"),
            append(0, 1, 1, 1),
            append(0, 1, 2, 2),
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            Record::new(Event::Crash).node(NodeId(0)),
            role(0, 1, "follower"),
            truncate(0, 2),
            store(0, 2, 2, 3),
            ack(1, 0, 1, 2),
        ];
        assert_eq!(run(&mut AcksMatch::new(), rows.clone()), vec![]);
        // Without the crash and restart, n0 still leads term 1 and the same ack is judged.
        let mut led = rows;
        led.drain(5..7);
        assert_eq!(run(&mut AcksMatch::new(), led).len(), 1);
    }

    /// Blind spot: n1 holds a stale (1,2) and acknowledges index 2 to n0, leader of term 2,
    /// whose entry there is (2,2). No row of n1's is wrong; only the acknowledgement is.
    #[test]
    fn acknowledging_a_mismatched_entry_is_caught() {
        let rows = vec![
            store(1, 1, 1, 1),
            store(1, 1, 2, 2),
            append(0, 1, 1, 1),
            role(0, 2, "leader"),
            append(0, 2, 2, 3),
            ack(1, 0, 2, 1),
            ack(1, 0, 2, 2),
        ];
        let v = run(&mut AcksMatch::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 6);
        assert_eq!(
            v[0].message,
            "n1 acknowledged index 2 to n0 (leader of term 2) holding term 1 there; the leader holds term 2"
        );
    }
}
