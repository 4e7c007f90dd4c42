//! Topology and fault tests with the toy gossip protocol of `tests/common`: one-way and named
//! partitions, in-flight cutting, link / region / node latency precedence, clock drift, pauses,
//! validation and determinism.

use dsim::scenario::Scenario;
use dsim::sim::runner::{RowSink, Runner};
use dsim::sim::NodeId;
use dsim::trace::{Event, Record};
use dsim::workload::OpenLoop;

mod common;

use common::Gossip;

struct Rows(Vec<Record>);

impl RowSink for Rows {
    fn row(&mut self, row: &Record) {
        self.0.push(row.clone());
    }
}

const BASE: &str = "nodes = 4\nduration_ms = 2000\n\
    [network]\nlatency = { dist = 'constant', us = 1000 }\n\
    [workload]\nrate_per_s = 0\n";

fn scenario(extra: &str) -> Scenario {
    // Tables in `extra` come after [workload]; a leading `[network]` key block must be first.
    Scenario::from_str("net.toml", &format!("{BASE}{extra}"), &[]).unwrap()
}

fn rows(s: &Scenario) -> Vec<Record> {
    let nodes = (0..s.nodes).map(|_| Gossip::default()).collect();
    let workload = OpenLoop::new(&s.workload, s.nodes, s.end());
    let mut runner = Runner::new(s.kernel(), nodes, workload, Rows(Vec::new()));
    runner.run();
    runner.into_sink().0
}

fn n(i: u32) -> Option<NodeId> {
    Some(NodeId(i))
}

/// The row after each `send` from `a` to `b` in `[lo, hi)` µs.
fn fates(rows: &[Record], a: u32, b: u32, lo: u64, hi: u64) -> Vec<&Record> {
    rows.iter()
        .filter(|r| {
            r.event == Event::Send && r.node == n(a) && r.peer == n(b) && (lo..hi).contains(&r.time_us)
        })
        .map(|r| &rows[r.seq as usize + 1])
        .collect()
}

fn all_cut(fates: &[&Record]) -> bool {
    !fates.is_empty() && fates.iter().all(|f| f.event == Event::Drop && f.detail == "partition")
}

fn none_cut(fates: &[&Record]) -> bool {
    !fates.is_empty() && fates.iter().all(|f| f.event != Event::Drop)
}

#[test]
fn a_one_way_partition_cuts_one_direction_only() {
    let s = scenario(
        "[[faults]]\naction = 'partition'\nat_ms = 100\nfrom = ['n0']\nto = ['n1', 'n2']\nheal_after_ms = 1000\n",
    );
    let rows = rows(&s);
    let part = rows.iter().find(|r| r.event == Event::Partition).unwrap();
    assert_eq!((part.msg.as_ref(), part.detail.as_ref()), ("fault0", "n0>n1,n2"));
    for b in [1, 2] {
        assert!(all_cut(&fates(&rows, 0, b, 100_000, 1_100_000)), "n0 -> n{b} must be cut");
        assert!(none_cut(&fates(&rows, b, 0, 100_000, 1_100_000)), "n{b} -> n0 must pass");
        assert!(none_cut(&fates(&rows, 0, b, 1_100_000, 2_000_000)), "healed");
    }
    assert!(none_cut(&fates(&rows, 0, 3, 100_000, 1_100_000)), "n3 is on neither side");
    // Delivered at n0 while the partition holds: replies reach the cut-off sender.
    assert!(rows.iter().any(|r| r.event == Event::Deliver
        && r.node == n(0)
        && r.peer == n(1)
        && (100_000..1_100_000).contains(&r.time_us)));
}

#[test]
fn overlapping_partitions_heal_independently() {
    // fault0 isolates n0 from 100 to 600 ms (its own heal_after); "east" isolates n3 from 300 ms
    // until a heal by name at 900 ms. fault0's heal must not end "east", nor "east"'s fault0.
    let s = scenario(
        "[[faults]]\naction = 'partition'\nat_ms = 100\ngroups = [['n0']]\nheal_after_ms = 500\n\
         [[faults]]\naction = 'partition'\nat_ms = 300\ngroups = [['n3']]\nname = 'east'\n\
         [[faults]]\naction = 'heal'\nat_ms = 900\nname = 'east'\n",
    );
    let rows = rows(&s);
    let heals: Vec<(u64, &str)> =
        rows.iter().filter(|r| r.event == Event::Heal).map(|r| (r.time_us, r.msg.as_ref())).collect();
    assert_eq!(heals, [(600_000, "fault0"), (900_000, "east")]);
    assert!(all_cut(&fates(&rows, 0, 1, 100_000, 600_000)));
    assert!(none_cut(&fates(&rows, 0, 1, 600_000, 2_000_000)));
    assert!(all_cut(&fates(&rows, 3, 1, 300_000, 900_000)), "east holds after fault0 heals");
    assert!(none_cut(&fates(&rows, 3, 1, 900_000, 2_000_000)));
    assert!(none_cut(&fates(&rows, 1, 2, 0, 2_000_000)));
}

#[test]
fn a_heal_without_a_name_heals_everything() {
    let s = scenario(
        "[[faults]]\naction = 'partition'\nat_ms = 100\ngroups = [['n0']]\n\
         [[faults]]\naction = 'partition'\nat_ms = 200\nfrom = ['n3']\nto = ['n1']\n\
         [[faults]]\naction = 'heal'\nat_ms = 500\n",
    );
    let rows = rows(&s);
    assert!(all_cut(&fates(&rows, 3, 1, 200_000, 500_000)));
    assert!(none_cut(&fates(&rows, 3, 1, 500_000, 2_000_000)));
    assert!(none_cut(&fates(&rows, 0, 1, 500_000, 2_000_000)));
}

/// Messages to n0 sent just before n0 is cut off arrive 50 ms later, after the cut: dropped at
/// delivery by default, delivered with `partition_cuts_in_flight = false`.
#[test]
fn partitions_cut_messages_in_flight_unless_told_not_to() {
    let faults = "[[faults]]\naction = 'partition'\nat_ms = 100\ngroups = [['n0']]\n";
    let slow = "network.latency={dist='constant', us=50000}".to_owned();
    let load = |extra: &[String]| {
        let s = Scenario::from_str("net.toml", &format!("{BASE}{faults}"), extra).unwrap();
        rows(&s)
    };
    let in_flight =
        |r: &Record| r.peer.is_some() && r.node != r.peer && (100_000..=150_000).contains(&r.time_us);
    let cut = load(std::slice::from_ref(&slow));
    // A drop right after its send is a send-time drop; an in-flight one stands alone.
    let at_delivery = |r: &&Record| cut[r.seq as usize - 1].event != Event::Send;
    let dropped: Vec<&Record> = cut
        .iter()
        .filter(|r| in_flight(r) && r.event == Event::Drop && r.peer == n(0))
        .filter(at_delivery)
        .collect();
    assert!(!dropped.is_empty());
    assert!(dropped.iter().all(|r| r.detail == "partition"));
    assert!(
        !cut.iter().any(|r| r.event == Event::Deliver
            && (r.node == n(0)) != (r.peer == n(0))
            && (100_000..1_000_000).contains(&r.time_us)),
        "nothing crosses the cut"
    );
    let kept = load(&[slow, "network.partition_cuts_in_flight=false".into()]);
    let delivered =
        kept.iter().filter(|r| in_flight(r) && r.event == Event::Deliver && r.node == n(0)).count();
    assert_eq!(delivered, dropped.len(), "the same messages arrive when in-flight cutting is off");
}

/// n0 → n1: the second link's 9 ms wins over the first's 7 ms; n0 → n2: a link's latency replaces
/// the region delay; n3 adds 0.5 ms to all it receives; pairs without links get the 1 ms default
/// plus the region matrix (0 inside a region, 20 ms from a to b, 30 ms from b to a).
#[test]
fn links_override_regions_and_node_latency_adds() {
    let s = scenario(
        "[[network.regions]]\nname = 'a'\nnodes = ['n0', 'n1']\nlatency_us = [0, 20000]\n\
         [[network.regions]]\nname = 'b'\nnodes = ['n2', 'n3']\nlatency_us = [30000, 0]\n\
         [[network.links]]\nfrom = ['n0']\nto = ['n1', 'b']\nlatency = { dist = 'constant', us = 7000 }\n\
         [[network.links]]\nfrom = ['n0']\nto = ['n1']\nlatency = { dist = 'constant', us = 9000 }\n\
         [node.n3]\nlatency_in_us = 500\n",
    );
    let rows = rows(&s);
    let expected = |a: u32, b: u32| -> u64 {
        match (a, b) {
            (0, 1) => 9_000,
            (0, 2) => 7_000,
            (0, 3) => 7_500,
            (1, 0) => 1_000,
            (2, 3) => 1_500,
            (3, 2) => 1_000,
            (1, 2) | (1, 3) => 21_000 + if b == 3 { 500 } else { 0 },
            (2, 0) | (2, 1) | (3, 0) | (3, 1) => 31_000,
            _ => unreachable!(),
        }
    };
    let mut checked = 0;
    for send in rows.iter().filter(|r| r.event == Event::Send && r.time_us < 1_500_000) {
        let (a, b) = (send.node.unwrap().0, send.peer.unwrap().0);
        let at = send.time_us + expected(a, b);
        let arrived = rows.iter().any(|r| {
            r.event == Event::Deliver
                && r.time_us == at
                && r.node == send.peer
                && r.peer == send.node
                && r.index == send.index
        });
        assert!(arrived, "{a} -> {b} sent at {} should arrive at {at}", send.time_us);
        checked += 1;
    }
    assert!(checked > 100);
}

/// n1's clock runs at 1.5x: its 10–20 ms gossip timer fires every 6.7–13.3 ms of simulated time.
#[test]
fn drift_scales_a_nodes_timers() {
    let s = scenario("[node.n1]\nclock_drift = 0.5\n");
    let rows = rows(&s);
    let gaps = |node: u32| -> Vec<u64> {
        let t: Vec<u64> = rows
            .iter()
            .filter(|r| r.event == Event::Timeout && r.node == n(node))
            .map(|r| r.time_us)
            .collect();
        t.windows(2).map(|w| w[1] - w[0]).collect()
    };
    let (fast, normal) = (gaps(1), gaps(0));
    assert!(fast.len() > 120 && normal.len() > 80, "{} {}", fast.len(), normal.len());
    assert!(fast.iter().all(|g| (6_666..=13_334).contains(g)), "{fast:?}");
    assert!(fast.iter().any(|g| *g < 10_000));
    assert!(normal.iter().all(|g| (10_000..=20_000).contains(g)));
    // Drawn drift: every node's timers scaled, within the bound, and deterministic.
    let drawn = scenario("[clocks]\ndrift_max = 0.2\n");
    assert_eq!(rows_of(&drawn), rows_of(&drawn));
    assert_ne!(rows_of(&drawn), rows_of(&scenario("")));
}

fn rows_of(s: &Scenario) -> Vec<String> {
    rows(s).iter().map(|r| format!("{r:?}")).collect()
}

/// n2 stalls from 500 to 700 ms: it handles nothing meanwhile, then a burst at 700 ms.
#[test]
fn a_pause_delays_then_bursts_a_nodes_events() {
    let s = scenario("[[faults]]\naction = 'pause'\nnode = 'n2'\nat_ms = 500\npause_ms = 200\n");
    let rows = rows(&s);
    let at_n2 =
        |r: &&Record| r.node == n(2) && matches!(r.event, Event::Deliver | Event::Timeout | Event::Send);
    assert!(!rows.iter().filter(at_n2).any(|r| r.time_us > 500_000 && r.time_us < 700_000));
    let burst =
        rows.iter().filter(at_n2).filter(|r| r.time_us == 700_000 && r.event == Event::Deliver).count();
    assert!(burst >= 5, "{burst} deliveries in the burst");
    assert!(rows.iter().any(|r| r.event == Event::Timeout && r.node == n(2) && r.time_us == 700_000));
    let notes: Vec<(u64, &str)> = rows
        .iter()
        .filter(|r| r.event == Event::Note && r.node == n(2) && r.detail != "got")
        .map(|r| (r.time_us, r.detail.as_ref()))
        .collect();
    assert_eq!(notes, [(500_000, "pause 200000us"), (700_000, "resume")]);
    // Other nodes keep going.
    assert!(rows
        .iter()
        .any(|r| r.event == Event::Timeout && r.node == n(1) && (500_000..700_000).contains(&r.time_us)));
}

#[test]
fn bad_topology_and_faults_are_one_line_errors() {
    let err =
        |extra: &str| Scenario::from_str("net.toml", &format!("{BASE}{extra}"), &[]).unwrap_err().to_string();
    assert_eq!(
        err("[[network.regions]]\nname = 'a'\nnodes = []\nlatency_us = [0]\n"),
        "net.toml: network.regions[0].nodes = []: at least one node (a region without nodes)"
    );
    assert_eq!(
        err("[[network.links]]\nfrom = ['n0']\nto = ['n7']\n"),
        "net.toml: network.links[0].to[0] = \"n7\": a node n0 … n3 or a region name"
    );
    assert_eq!(
        err("[[network.links]]\nfrom = ['n0']\nto = ['n1']\ndrop_probability = 2.0\n"),
        "net.toml: network.links[0].drop_probability = 2: a probability in [0, 1]"
    );
    assert_eq!(
        err("[[network.links]]\nfrom = ['n0']\nto = ['n1']\nlatency = { dist = 'uniform', min_us = 5, max_us = 1 }\n"),
        "net.toml: network.links[0].latency.max_us = 1: an integer in [min_us (5), 3600000000]"
    );
    assert_eq!(
        err("[[network.regions]]\nname = 'a'\nnodes = ['n0']\nlatency_us = [0, 1]\n"),
        "net.toml: network.regions[0].latency_us = 2 entries: one delay per region (1), in the order regions are listed"
    );
    assert_eq!(err("[node.n4]\nlatency_in_us = 1\n"), "net.toml: node.n4 = \"n4\": a node n0 … n3");
    assert_eq!(
        err("[[faults]]\naction = 'heal'\nat_ms = 1\nname = 'west'\n"),
        "net.toml: faults[0].name = \"west\": the name of a partition in [[faults]] ()"
    );
    assert_eq!(err("[clocks]\ndrift_max = 0.7\n"), "net.toml: clocks.drift_max = 0.7: a number in [0, 0.5]");
    let set = Scenario::from_str("net.toml", BASE, &["node.n1.clock_drift=-0.6".into()]).unwrap_err();
    assert_eq!(
        set.to_string(),
        "--set node.n1.clock_drift=-0.6: node.n1.clock_drift = -0.6: a number in [-0.5, 0.5]"
    );
}

#[test]
fn a_nodes_persist_delay_replaces_the_clusters() {
    let s = Scenario::from_str(
        "r.toml",
        &format!("{BASE}[raft]\npersist_delay_us = 100\n[node.n2]\npersist_delay_us = 20000\n"),
        &[],
    )
    .unwrap();
    assert_eq!((0..4).map(|i| s.persist_delay_us(i)).collect::<Vec<_>>(), [100, 100, 20_000, 100]);
}

#[test]
fn everything_at_once_is_deterministic() {
    let text = "[[network.regions]]\nname = 'a'\nnodes = ['n0', 'n1']\nlatency_us = [100, 5000]\n\
         [[network.regions]]\nname = 'b'\nnodes = ['n2']\nlatency_us = [5000, 100]\n\
         [[network.links]]\nfrom = ['a']\nto = ['n3']\nboth_ways = true\ndrop_probability = 0.3\n\
         latency = { dist = 'exponential', min_us = 100, mean_us = 3000 }\n\
         [node.n1]\nlatency_out_us = 700\n[clocks]\ndrift_max = 0.1\n\
         [chaos]\npartition_every_ms = [100, 300]\npartition_ms = [50, 400]\n\
         [[faults]]\naction = 'pause'\nnode = 'n0'\nat_ms = [200, 900]\npause_ms = [10, 300]\n";
    let s = |seed: u64| {
        Scenario::from_str("d.toml", &format!("{BASE}{text}"), &[format!("seed={seed}")]).unwrap()
    };
    assert_eq!(rows_of(&s(4)), rows_of(&s(4)));
    assert_ne!(rows_of(&s(4)), rows_of(&s(5)));
}

/// The leader-recovery columns on real Raft runs: `sims/raft_faults.toml` crashes the leader twice
/// and cuts the cluster twice, so every seed loses a leader and recovers before the end.
#[test]
fn raft_runs_measure_leader_recovery() {
    use dsim::harness::{self, Options};
    use dsim::metrics::MetricValue;
    let (origin, text) = dsim::scenario::embedded("sims/raft_faults.toml").unwrap();
    for seed in 1..=5 {
        let s = Scenario::from_str(origin, text, &[format!("seed={seed}")]).unwrap();
        let out = harness::run(&s, Options::default()).unwrap();
        let get = |name: &str| out.metrics.iter().find(|(n, _)| *n == name).unwrap().1;
        let MetricValue::Int(losses) = get("leader_losses") else { panic!("no leader_losses") };
        assert!(losses >= 2, "seed {seed}: {losses} losses");
        for name in ["recovery_append", "recovery_commit"] {
            let (p50, max) = (get(&format!("{name}_p50_us")), get(&format!("{name}_max_us")));
            let (Some(p50), Some(max)) = (p50.as_f64(), max.as_f64()) else {
                panic!("seed {seed}: {name} missing")
            };
            assert!(0.0 < p50 && p50 <= max && max < 6e6, "seed {seed}: {name} p50 {p50} max {max}");
        }
        assert_eq!(get("recovery_unfinished"), MetricValue::Int(0), "seed {seed}");
    }
}
