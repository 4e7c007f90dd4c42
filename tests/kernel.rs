//! Kernel tests with the toy gossip protocol of `tests/common`: determinism, paired streams,
//! crash semantics, limits.

use dsim::check::Checker;
use dsim::harness::{self, Model, Options};
use dsim::metrics::{MetricValue, Metrics};
use dsim::scenario::Scenario;
use dsim::sim::runner::{Runner, StopReason};
use dsim::sim::NodeId;
use dsim::trace::{Event, Record, TraceReader};
use dsim::workload::OpenLoop;

mod common;

use common::Gossip;

struct Count(u64);

impl Metrics for Count {
    fn observe(&mut self, row: &Record) {
        self.0 += u64::from(row.event == Event::Deliver);
    }
    fn finish(&mut self, _end_us: u64) -> Vec<(&'static str, MetricValue)> {
        vec![("delivered", MetricValue::Int(self.0))]
    }
}

struct GossipModel;

impl Model for GossipModel {
    type Node = Gossip;
    fn nodes(s: &Scenario) -> Vec<Gossip> {
        (0..s.nodes).map(|_| Gossip::default()).collect()
    }
    fn checkers(_: &Scenario) -> Vec<Box<dyn Checker>> {
        Vec::new()
    }
    fn metrics(_: &Scenario) -> Box<dyn Metrics> {
        Box::new(Count(0))
    }
}

fn scenario(extra: &[&str]) -> Scenario {
    let base =
        "nodes = 4\nduration_ms = 2000\n[network]\ndrop_probability = 0.1\nduplicate_probability = 0.05\n\
                [workload]\nrate_per_s = 20\n";
    let sets: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    Scenario::from_str("toy.toml", base, &sets).unwrap()
}

fn hash(s: &Scenario) -> String {
    harness::run_model::<GossipModel>(s, Options { trace: None, hash: true, history: None }).unwrap().trace_sha256.unwrap()
}

#[test]
fn same_seed_same_bytes_different_seed_different_bytes() {
    let a = scenario(&["seed=7"]);
    assert_eq!(hash(&a), hash(&a));
    assert_ne!(hash(&a), hash(&scenario(&["seed=8"])));
}

#[test]
fn file_trace_matches_in_memory_hash_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("toy.csv");
    let s = scenario(&["seed=3"]);
    let out = harness::run_model::<GossipModel>(&s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    let info = out.trace.unwrap();
    assert_eq!(info.sha256, hash(&s));
    let manifest = dsim::trace::manifest::Manifest::read(&dir.path().join("toy.manifest.json")).unwrap();
    assert_eq!(manifest.trace_sha256, info.sha256);
    assert_eq!(manifest.scenario, s);
    assert_eq!(manifest.rows, info.rows);
    let rows: Vec<Record> = TraceReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len() as u64, info.rows);
    assert!(rows.windows(2).all(|w| w[0].time_us <= w[1].time_us && w[0].seq + 1 == w[1].seq));
    for e in [Event::Send, Event::Deliver, Event::Drop, Event::Duplicate, Event::Timeout, Event::Client] {
        assert!(rows.iter().any(|r| r.event == e), "no {e} row");
    }
}

fn timer_draws(s: &Scenario) -> Vec<Vec<u64>> {
    let nodes = GossipModel::nodes(s);
    let workload = OpenLoop::new(&s.workload, s.nodes, s.end());
    let mut runner = Runner::new(s.kernel(), nodes, workload, ());
    runner.record_timer_draws();
    runner.run();
    runner.timer_draws().unwrap().to_vec()
}

#[test]
fn drop_probability_does_not_shift_timer_draws() {
    let a = timer_draws(&scenario(&["network.drop_probability=0.0"]));
    let b = timer_draws(&scenario(&["network.drop_probability=0.6"]));
    for (x, y) in a.iter().zip(&b) {
        let n = x.len().min(y.len());
        assert!(n > 50);
        assert_eq!(x[..n], y[..n]);
    }
}

#[test]
fn crash_disarms_timers_and_drops_messages_until_restart() {
    let s = scenario(&[
        "faults=[{action='crash', node='n1', at_ms=500, restart_after_ms=400}]",
        "network.drop_probability=0",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.csv");
    harness::run_model::<GossipModel>(&s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    let rows: Vec<Record> = TraceReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
    let n1 = Some(NodeId(1));
    let down = |r: &Record| (500_000..900_000).contains(&r.time_us);
    assert!(rows.iter().any(|r| r.event == Event::Crash && r.node == n1 && r.time_us == 500_000));
    assert!(rows.iter().any(|r| r.event == Event::Restart && r.node == n1 && r.time_us == 900_000));
    assert!(!rows.iter().any(|r| down(r) && r.node == n1 && matches!(r.event, Event::Timeout | Event::Send)));
    assert!(rows
        .iter()
        .any(|r| down(r) && r.event == Event::Drop && r.peer == n1 && r.detail == "node_down"));
    assert!(rows.iter().any(|r| r.time_us > 900_000 && r.node == n1 && r.event == Event::Timeout));
}

#[test]
fn event_limit_stops_the_run() {
    let s = scenario(&["events_max=1000"]);
    let out = harness::run_model::<GossipModel>(&s, Options::default()).unwrap();
    assert_eq!(out.stats.events, 1000);
    assert_eq!(out.stats.stop, Some(StopReason::EventLimit));
    let s = scenario(&[]);
    let out = harness::run_model::<GossipModel>(&s, Options::default()).unwrap();
    assert_eq!(out.stats.stop, Some(StopReason::TimeLimit));
    assert_eq!(out.stats.end_time.as_us(), 2_000_000);
}

#[test]
fn unwritable_trace_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    // A missing directory is created now (issue 10); a regular file in the way cannot be.
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "").unwrap();
    let path = blocker.join("t.csv");
    let err = harness::run_model::<GossipModel>(&scenario(&[]), Options { trace: Some(&path), hash: false, history: None });
    assert!(err.is_err());
    assert!(!path.exists());
}

#[test]
fn partitions_cut_and_heal() {
    let s = scenario(&[
        "network.drop_probability=0",
        "faults=[{action='partition', at_ms=100, groups=[['n0'],['n1','n2','n3']], heal_after_ms=500}]",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.csv");
    harness::run_model::<GossipModel>(&s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    let rows: Vec<Record> = TraceReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
    let part = rows.iter().find(|r| r.event == Event::Partition).unwrap();
    assert_eq!((part.time_us, part.detail.as_ref()), (100_000, "n0|n1,n2,n3"));
    assert!(rows.iter().any(|r| r.event == Event::Heal && r.time_us == 600_000));
    let cut = |r: &Record| {
        (100_000..600_000).contains(&r.time_us)
            && r.event == Event::Send
            && r.node == Some(NodeId(0))
            && r.peer != Some(NodeId(0))
    };
    let sends: Vec<&Record> = rows.iter().filter(|r| cut(r)).collect();
    assert!(!sends.is_empty());
    for s in sends {
        let next = &rows[s.seq as usize + 1];
        assert!(next.event == Event::Drop && next.detail == "partition", "{next:?}");
    }
}

#[test]
fn chaos_respects_max_down_and_stop_time() {
    let s = scenario(&[
        "chaos.crash_every_ms=[20, 80]",
        "chaos.down_ms=[50, 300]",
        "chaos.max_down=2",
        "chaos.partition_every_ms=[100, 300]",
        "chaos.partition_ms=[50, 200]",
        "chaos.stop_ms=1500",
    ]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chaos.csv");
    harness::run_model::<GossipModel>(&s, Options { trace: Some(&path), hash: false, history: None }).unwrap();
    let rows: Vec<Record> = TraceReader::open(&path).unwrap().map(|r| r.unwrap()).collect();
    let mut down = 0i32;
    let (mut crashes, mut partitions) = (0, 0);
    for r in &rows {
        match r.event {
            Event::Crash => {
                down += 1;
                crashes += 1;
                assert!(r.time_us < 1_500_000, "crash after chaos.stop_ms");
            }
            Event::Restart => down -= 1,
            Event::Partition => {
                partitions += 1;
                let groups: Vec<&str> = r.detail.split('|').collect();
                assert_eq!(groups.len(), 2);
                assert!((1..=2).contains(&groups[0].split(',').count()), "minority {}", r.detail);
            }
            _ => {}
        }
        assert!((0..=2).contains(&down), "{down} nodes down at {}", r.time_us);
    }
    assert!(crashes > 5 && partitions > 3, "{crashes} crashes, {partitions} partitions");
    assert_eq!(down, 0, "every chaos crash restarts before the end");
}
