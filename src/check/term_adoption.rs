//! Terms only move forward (Raft §5.1, Figure 2 "Rules for all servers"): "if RPC request or
//! response contains term T > currentTerm: set currentTerm = T, convert to follower".
//!
//! Evidence from the wire: once a RequestVote / AppendEntries message or reply of term T has been
//! delivered to a node (a `deliver` row), every row the node then writes in its current term
//! (`role`, `vote`, `append` — a leader appends in its current term — and `commit`) must carry a
//! term of at least T. A crash resets the mark: an adopted term may not have been durable yet (the
//! fsync model), and the restart's `role` row shows the term the node came back with.
//! A leader that ignores a higher term in a reply and keeps appending in its old term is caught.

use crate::check::node_map::NodeMap;
use crate::check::raft_log::wire;
use crate::check::{Checker, Violation};
use crate::trace::{Event, Record};

#[derive(Clone, Debug, Default)]
pub struct TermAdoption {
    /// Node -> (highest term delivered to it since it last started, the message that carried it).
    seen: NodeMap<(u64, &'static str)>,
}

impl TermAdoption {
    pub const NAME: &'static str = "term_adoption";

    pub fn new() -> TermAdoption {
        TermAdoption::default()
    }
}

fn static_name(msg: &str) -> &'static str {
    [
        wire::REQUEST_VOTE,
        wire::REQUEST_VOTE_REPLY,
        wire::APPEND_ENTRIES,
        wire::APPEND_ENTRIES_REPLY,
        wire::INSTALL_SNAPSHOT,
        wire::INSTALL_SNAPSHOT_REPLY,
    ]
    .into_iter()
    .find(|m| *m == msg)
    .unwrap_or("message")
}

impl Checker for TermAdoption {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[Event::Deliver, Event::Crash, Event::Role, Event::Vote, Event::Append, Event::Commit])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        match row.event {
            Event::Crash => {
                self.seen.insert(node, (0, ""));
            }
            Event::Deliver if wire::is_rpc(row) => {
                if let Some(term) = row.term {
                    let seen = self.seen.entry_or_default(node);
                    if term > seen.0 {
                        *seen = (term, static_name(&row.msg));
                    }
                }
            }
            Event::Role | Event::Vote | Event::Append | Event::Commit => {
                let (Some(term), Some(&(seen, msg))) = (row.term, self.seen.get(&node)) else { return };
                if term < seen {
                    out.push(Violation::at(
                        Self::NAME,
                        row,
                        format!(
                            "{node} wrote a {} row in term {term} after a {msg} of term {seen} was delivered to it",
                            row.event.as_str()
                        ),
                    ));
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;
    use crate::sim::NodeId;

    fn reply(to: u32, from: u32, term: u64) -> Record {
        Record::new(Event::Deliver)
            .node(NodeId(to))
            .peer(NodeId(from))
            .term(term)
            .msg("append_entries_reply")
            .detail("failure")
    }

    #[test]
    fn correct_histories_pass() {
        assert_eq!(run(&mut TermAdoption::new(), good_history()), vec![]);
        assert_eq!(run(&mut TermAdoption::new(), figure8_history()), vec![]);
    }

    /// Blind spot: a leader of term 1 told of term 3 by a reply keeps appending in term 1. Nothing
    /// else breaks until a client reads the stale leader.
    #[test]
    fn a_leader_ignoring_a_higher_term_reply_is_caught() {
        let rows = vec![role(0, 1, "leader"), reply(0, 1, 3), append(0, 1, 1, 1)];
        let v = run(&mut TermAdoption::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n0 wrote a append row in term 1 after a append_entries_reply of term 3 was delivered to it"
        );
        // A crash (the adopted term may be lost) resets the mark.
        let rows = vec![reply(0, 1, 3), crash(0), restart(0), role(0, 1, "follower")];
        assert_eq!(run(&mut TermAdoption::new(), rows), vec![]);
    }
}
