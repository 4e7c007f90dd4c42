//! Election Safety (Raft §5.2, Figure 3): "at most one leader can be elected in a given term."
//!
//! Each server votes for at most one candidate per term and a candidate needs a majority, so two
//! leaders in one term mean a server voted twice — for instance one that forgot `voted_for`
//! across a restart (Figure 2 makes it persistent state for exactly this reason).
//!
//! Two kinds of evidence: the nodes' `role` rows with value `leader`, and the wire. A candidate
//! is elected on the wire once `deliver` rows of granted `request_vote_reply`s of its term from
//! distinct voters, plus its own vote, make a majority; two candidates elected on the wire in one
//! term is a violation whatever rows they wrote. And once the trace shows RequestVote replies at
//! all, a `leader` row must be backed by such a majority (a node counting stale or imaginary
//! votes is caught). The cluster size is read from the trace (`ClusterSize`).
//!
//! With membership changes (thesis ch. 4) a majority is one of the candidate's configuration —
//! the latest configuration entry its log rows show (check/membership.rs) — and only its members'
//! grants count: a candidate counting a vote from outside it is caught, and two candidates of
//! one term each elected by a majority of its own configuration (the 2015 bug) are caught as two
//! winners on the wire.

use std::collections::btree_map::Entry;
use std::collections::BTreeMap;

use std::collections::BTreeSet;

use crate::check::membership::Configs;
use crate::check::raft_log::{is_leader_row, wire};
use crate::check::{Checker, Violation};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

/// Remembers the first leader of every term from the `role` rows with value `leader`.
/// Cost: one map lookup per leader row; memory: one entry per term that had a leader.
#[derive(Clone, Debug, Default)]
pub struct ElectionSafety {
    /// Term -> the node that first became leader in it.
    leaders: BTreeMap<u64, NodeId>,
    /// (term, candidate) -> the distinct voters whose granted replies were delivered to it.
    grants: BTreeMap<(u64, NodeId), BTreeSet<NodeId>>,
    /// Term -> the first candidate elected on the wire.
    wire_elected: BTreeMap<u64, NodeId>,
    /// (term, candidate) pairs already found elected on the wire.
    wire_won: BTreeSet<(u64, NodeId)>,
    /// Each node's configuration, from its log rows.
    configs: Configs,
    /// Whether any RequestVote reply was seen (the trace carries wire evidence).
    wire_seen: bool,
}

impl ElectionSafety {
    pub const NAME: &'static str = "election_safety";

    pub fn new() -> ElectionSafety {
        ElectionSafety::default()
    }
}

impl Checker for ElectionSafety {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn events(&self) -> Option<&'static [Event]> {
        Some(&[
            Event::Role,
            Event::Deliver,
            Event::Note,
            Event::Append,
            Event::Store,
            Event::Truncate,
            Event::InstallSnapshot,
        ])
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        self.configs.observe(row);
        if row.event == Event::Deliver {
            self.observe_grant(row, out);
            return;
        }
        if !is_leader_row(row) {
            return;
        }
        let (Some(node), Some(term)) = (row.node, row.term) else {
            return;
        };
        let voters = || self.grants.get(&(term, node)).into_iter().flatten().copied().chain([node]);
        if self.wire_seen && !self.configs.is_quorum(node, voters()) {
            let message = match self.configs.of(node) {
                None => format!(
                    "{node} became leader of term {term} with {} of {} votes granted on the \
                     wire (its own included), short of a majority",
                    voters().count(),
                    self.configs.size().nodes()
                ),
                Some(c) => format!(
                    "{node} became leader of term {term} with {} of its configuration {c}'s votes \
                     granted on the wire (its own included; {} granted in all), short of a majority",
                    voters().filter(|v| c.contains(*v)).count(),
                    voters().count()
                ),
            };
            out.push(Violation::at(Self::NAME, row, message));
        }
        match self.leaders.entry(term) {
            Entry::Vacant(slot) => {
                slot.insert(node);
            }
            // The same node leading a term twice is odd but is not two leaders.
            Entry::Occupied(first) if *first.get() == node => {}
            Entry::Occupied(first) => out.push(Violation::at(
                Self::NAME,
                row,
                format!("{node} became leader of term {term}, which {} already leads", first.get()),
            )),
        }
    }
}

impl ElectionSafety {
    /// A granted RequestVoteReply delivered to its candidate.
    fn observe_grant(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if row.msg == wire::REQUEST_VOTE_REPLY {
            self.wire_seen = true;
        }
        let (true, Some(candidate), Some(voter), Some(term)) =
            (wire::is_grant(row), row.node, row.peer, row.term)
        else {
            return;
        };
        let voters = self.grants.entry((term, candidate)).or_default();
        voters.insert(voter);
        voters.remove(&candidate);
        let voters = voters.iter().copied().chain([candidate]);
        if self.wire_won.contains(&(term, candidate)) || !self.configs.is_quorum(candidate, voters) {
            return;
        }
        self.wire_won.insert((term, candidate));
        let first = *self.wire_elected.entry(term).or_insert(candidate);
        if first != candidate {
            let of = match self.configs.of(candidate) {
                Some(c) => format!(" of its configuration {c}"),
                None => String::new(),
            };
            out.push(Violation::at(
                Self::NAME,
                row,
                format!(
                    "{candidate} received a majority{of} of granted votes in term {term}, which {first} \
                     already won on the wire"
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::*;

    #[test]
    fn one_leader_per_term_passes() {
        assert_eq!(run(&mut ElectionSafety::new(), good_history()), vec![]);
        assert_eq!(run(&mut ElectionSafety::new(), figure8_history()), vec![]);
    }

    /// Reference: Raft §5.2 — a forgotten `voted_for` lets one server vote twice in term 1.
    #[test]
    fn forgotten_voted_for_gives_two_leaders() {
        let v = run(&mut ElectionSafety::new(), forget_voted_for_history());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].property, "election_safety");
        assert_eq!(v[0].seq, 8);
        assert_eq!(v[0].message, "n1 became leader of term 1, which n0 already leads");
    }

    fn granted(candidate: u32, voter: u32, term: u64) -> Record {
        Record::new(Event::Deliver)
            .node(NodeId(candidate))
            .peer(NodeId(voter))
            .term(term)
            .msg("request_vote_reply")
            .detail("granted")
    }

    /// Blind spot of the role rows: two candidates win term 2 on the wire (n1 granted both), but
    /// only n0 ever writes a leader row.
    #[test]
    fn two_candidates_elected_on_the_wire_are_caught() {
        let rows = vec![
            role(0, 0, "follower"),
            role(1, 0, "follower"),
            role(2, 0, "follower"),
            granted(0, 1, 2),
            role(0, 2, "leader"),
            granted(2, 1, 2),
        ];
        let v = run(&mut ElectionSafety::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 5);
        assert_eq!(
            v[0].message,
            "n2 received a majority of granted votes in term 2, which n0 already won on the wire"
        );
    }

    /// A leader counting a stale grant (of term 1) in term 2 has no majority of term 2 on the wire.
    #[test]
    fn a_leader_without_a_majority_on_the_wire_is_caught() {
        let rows = vec![
            role(0, 0, "follower"),
            role(1, 0, "follower"),
            role(2, 0, "follower"),
            granted(0, 1, 1),
            role(0, 1, "leader"),
            granted(0, 1, 1),
            role(0, 2, "leader"),
        ];
        let v = run(&mut ElectionSafety::new(), rows);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].seq, 6);
        assert!(
            v[0].message.starts_with("n0 became leader of term 2 with 1 of 3 votes granted"),
            "{}",
            v[0].message
        );
    }

    fn config_row(event: Event, node: u32, index: u64, members: &str) -> Record {
        Record::new(event).node(NodeId(node)).msg("config").index(index).term(1).detail(members.to_owned())
    }

    /// The 2015 single-server bug's outcome (thesis ch. 4 errata): n0 holds C1 = C0 + n4, n1 holds
    /// C2 = C0 - n0; {n0, n3, n4} is a majority of C1, {n1, n2} of C2 — disjoint, one term.
    #[test]
    fn disjoint_majorities_of_two_configurations_are_two_leaders() {
        let mut rows: Vec<Record> = (0..5).map(|n| config_row(Event::Note, n, 0, "n0+n1+n2+n3")).collect();
        rows.push(config_row(Event::Append, 0, 8, "n0+n1+n2+n3+n4"));
        rows.push(config_row(Event::Append, 1, 8, "n1+n2+n3"));
        rows.extend([
            granted(0, 3, 3),
            granted(0, 4, 3),
            role(0, 3, "leader"),
            granted(1, 2, 3),
            role(1, 3, "leader"),
        ]);
        let v = run(&mut ElectionSafety::new(), rows);
        let messages: Vec<&str> = v.iter().map(|v| v.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "n1 received a majority of its configuration n1+n2+n3 of granted votes in term 3, which n0 already won on the wire",
                "n1 became leader of term 3, which n0 already leads",
            ]
        );
    }

    /// A smaller configuration's majority is a majority (no false alarm), but votes from outside
    /// the candidate's configuration do not count (`count_removed_vote`).
    #[test]
    fn grants_count_against_the_candidates_configuration() {
        let mut rows: Vec<Record> = (0..5).map(|n| config_row(Event::Note, n, 0, "n0+n1+n2")).collect();
        rows.extend([granted(0, 1, 2), role(0, 2, "leader")]);
        assert_eq!(run(&mut ElectionSafety::new(), rows.clone()), vec![]);
        rows.extend([granted(2, 3, 3), granted(2, 4, 3), role(2, 3, "leader")]);
        let v = run(&mut ElectionSafety::new(), rows.clone());
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(
            v[0].message,
            "n2 became leader of term 3 with 1 of its configuration n0+n1+n2's votes granted on the wire \
             (its own included; 3 granted in all), short of a majority"
        );
        // A truncation that removes a configuration entry puts the older one back in force.
        let mut rows: Vec<Record> = (0..5).map(|n| config_row(Event::Note, n, 0, "n0+n1+n2")).collect();
        rows.push(config_row(Event::Store, 0, 5, "n0+n1+n2+n3+n4"));
        let truncate = Record::new(Event::Truncate).node(NodeId(0)).index(5).detail("to 4");
        let won = [granted(0, 1, 2), role(0, 2, "leader")];
        let kept: Vec<Record> = rows.iter().cloned().chain(won.clone()).collect();
        assert_eq!(run(&mut ElectionSafety::new(), kept).len(), 1, "2 of 5 is short");
        rows.push(truncate);
        rows.extend(won);
        assert_eq!(run(&mut ElectionSafety::new(), rows), vec![]);
    }

    #[test]
    fn followers_and_candidates_do_not_count() {
        let rows = vec![role(0, 1, "leader"), role(1, 1, "candidate"), role(1, 1, "follower")];
        assert_eq!(run(&mut ElectionSafety::new(), rows), vec![]);
    }
}
