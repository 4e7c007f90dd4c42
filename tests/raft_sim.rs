//! Whole simulations of Raft through the kernel's harness, with two small safety checks of their
//! own (the real checkers live in `check/`): Election Safety and State Machine Safety (§5.2,
//! §5.4.3, Figure 3), plus progress after the faults stop. They test the node end to end under
//! loss, duplication, reordering, crashes and partitions, and show that the bugs are observable.

use std::collections::BTreeMap;

use dsim::check::{Checker, Violation};
use dsim::harness::{self, Model, Options};
use dsim::metrics::{MetricValue, Metrics};
use dsim::raft::{Bug, RaftNode};
use dsim::scenario::Scenario;
use dsim::sim::NodeId;
use dsim::trace::{Event, Record};

struct RaftUnderTest;

impl Model for RaftUnderTest {
    type Node = RaftNode;

    fn nodes(scenario: &Scenario) -> Vec<RaftNode> {
        (0..scenario.nodes).map(|i| RaftNode::new(NodeId(i), scenario.nodes, &scenario.raft)).collect()
    }

    fn checkers(_scenario: &Scenario) -> Vec<Box<dyn Checker>> {
        vec![
            Box::new(OneLeaderPerTerm::default()),
            Box::new(OneVotePerTerm::default()),
            Box::new(SameEntryApplied::default()),
        ]
    }

    fn metrics(_scenario: &Scenario) -> Box<dyn Metrics> {
        Box::new(Progress::default())
    }
}

fn violation(property: &'static str, row: &Record, message: String) -> Violation {
    Violation { property, time_us: row.time_us, seq: row.seq, message }
}

/// §5.2 Election Safety: at most one leader per term.
#[derive(Default)]
struct OneLeaderPerTerm {
    leaders: BTreeMap<u64, NodeId>,
}

impl Checker for OneLeaderPerTerm {
    fn name(&self) -> &'static str {
        "election_safety"
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if row.event != Event::Role || row.value.to_string() != "leader" {
            return;
        }
        let (Some(term), Some(node)) = (row.term, row.node) else { return };
        let first = *self.leaders.entry(term).or_insert(node);
        if first != node {
            out.push(violation("election_safety", row, format!("{first} and {node} both lead term {term}")));
        }
    }
}

/// §5.2: "each server will vote for at most one candidate in a given term".
#[derive(Default)]
struct OneVotePerTerm {
    votes: BTreeMap<(NodeId, u64), NodeId>,
}

impl Checker for OneVotePerTerm {
    fn name(&self) -> &'static str {
        "one_vote_per_term"
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let (Event::Vote, Some(node), Some(term), Some(candidate)) =
            (row.event, row.node, row.term, row.peer)
        else {
            return;
        };
        let first = *self.votes.entry((node, term)).or_insert(candidate);
        if first != candidate {
            out.push(violation(
                "one_vote_per_term",
                row,
                format!("{node} voted for {first} and {candidate} in term {term}"),
            ));
        }
    }
}

/// §5.4.3 State Machine Safety: no two servers apply different entries at one index.
#[derive(Default)]
struct SameEntryApplied {
    applied: BTreeMap<u64, (Option<u64>, Option<u64>, String, String)>,
    next_index: BTreeMap<NodeId, u64>,
}

impl Checker for SameEntryApplied {
    fn name(&self) -> &'static str {
        "state_machine_safety"
    }

    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        let Some(node) = row.node else { return };
        if row.event == Event::Restart {
            self.next_index.insert(node, 1);
        }
        if row.event != Event::Apply {
            return;
        }
        let Some(index) = row.index else { return };
        let expected = self.next_index.entry(node).or_insert(1);
        if index != *expected {
            out.push(violation("apply_order", row, format!("{node} applied {index}, expected {expected}")));
        }
        *expected = index + 1;
        let entry = (row.term, row.key, row.value.to_string(), row.detail.to_string());
        let first = self.applied.entry(index).or_insert_with(|| entry.clone());
        if *first != entry {
            out.push(violation(
                "state_machine_safety",
                row,
                format!("{node} applied {entry:?} at {index}, not {first:?}"),
            ));
        }
    }
}

/// Commits, and the time of the last one.
#[derive(Default)]
struct Progress {
    commits: u64,
    last_commit_us: Option<u64>,
    leaders: u64,
}

impl Metrics for Progress {
    fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Commit => {
                self.commits += 1;
                self.last_commit_us = Some(row.time_us);
            }
            Event::Role if row.value.to_string() == "leader" => self.leaders += 1,
            _ => {}
        }
    }

    fn finish(&mut self, _end_us: u64) -> Vec<(&'static str, MetricValue)> {
        vec![
            ("commits", MetricValue::Int(self.commits)),
            ("last_commit_us", self.last_commit_us.map_or(MetricValue::Missing, MetricValue::Int)),
            ("leaders", MetricValue::Int(self.leaders)),
        ]
    }
}

fn scenario(file: &str, seed: u64, bug: Bug) -> Scenario {
    let path = format!("{}/sims/{file}", env!("CARGO_MANIFEST_DIR"));
    let mut s = Scenario::load(std::path::Path::new(&path), &[]).expect("scenario loads");
    s.seed = seed;
    s.raft.bug = bug;
    s
}

fn metric(outcome: &harness::Outcome, name: &str) -> Option<u64> {
    outcome.metrics.iter().find(|(n, _)| *n == name).and_then(|(_, v)| match v {
        MetricValue::Int(i) => Some(*i),
        _ => None,
    })
}

/// Reference: Raft §5.2, §5.4.3 — the correct protocol keeps both properties under every fault
/// scenario, and commits again once the faults stop (the last commit is in the calm tail).
#[test]
fn correct_raft_is_safe_and_live_under_faults() {
    for file in ["raft.toml", "raft_faults.toml", "raft_chaos.toml"] {
        for seed in 1..=4 {
            let s = scenario(file, seed, Bug::None);
            let outcome = harness::run_model::<RaftUnderTest>(&s, Options::default()).expect("runs");
            assert!(outcome.ok(), "{file} seed {seed}: {:?}", outcome.violations);
            let last = metric(&outcome, "last_commit_us").unwrap_or(0);
            assert!(
                last + 1_000_000 >= s.end().as_us(),
                "{file} seed {seed}: no commit in the last second (last at {last} us)"
            );
        }
    }
}

/// A single-node cluster elects itself and commits on its own.
#[test]
fn single_node_cluster_commits() {
    let mut s = scenario("raft.toml", 1, Bug::None);
    s.nodes = 1;
    s.duration_ms = 2_000;
    let outcome = harness::run_model::<RaftUnderTest>(&s, Options::default()).expect("runs");
    assert!(outcome.ok(), "{:?}", outcome.violations);
    assert_eq!(metric(&outcome, "leaders"), Some(1));
    assert!(metric(&outcome, "commits").unwrap_or(0) > 50);
}

/// The same seed twice gives the same trace bytes.
#[test]
fn same_seed_same_trace() {
    let s = scenario("raft_chaos.toml", 9, Bug::None);
    let options = Options { trace: None, hash: true };
    let a = harness::run_model::<RaftUnderTest>(&s, options).expect("runs");
    let b = harness::run_model::<RaftUnderTest>(&s, options).expect("runs");
    assert!(a.trace_sha256.is_some());
    assert_eq!(a.trace_sha256, b.trace_sha256);
}
