//! The headline claims of results/raft/ at small scale (Pre-Vote, CheckQuorum, leadership
//! transfer), each against the same run without the switch so a claim that held anyway fails.
//! Evidence is read from the trace rows: `role` rows, `note` rows and the clients' `ok` rows.

use dsim::harness::{self, Options};
use dsim::scenario::Scenario;

const REJOIN: (&str, &str) = (
    "results/raft/disruptive-rejoin/rejoin.toml",
    include_str!("../results/raft/disruptive-rejoin/rejoin.toml"),
);
const MINORITY: (&str, &str) =
    ("sims/raft_minority_leader.toml", include_str!("../sims/raft_minority_leader.toml"));
const TRANSFER: (&str, &str) = (
    "results/raft/transfer-vs-crash/transfer.toml",
    include_str!("../results/raft/transfer-vs-crash/transfer.toml"),
);
const CRASH: (&str, &str) = (
    "results/raft/transfer-vs-crash/crash.toml",
    include_str!("../results/raft/transfer-vs-crash/crash.toml"),
);

/// One trace row's leading columns: time_us, node, event, and the rest of the line.
struct Row {
    time_us: u64,
    node: String,
    event: String,
    line: String,
}

/// Runs `file` with `sets` at `seed` (no violation allowed) and returns its trace rows.
fn trace(file: (&str, &str), sets: &[&str], seed: u64) -> Vec<Row> {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let mut scenario = Scenario::from_str(file.0, file.1, &sets).expect("scenario loads");
    scenario.seed = seed;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    let outcome =
        harness::run(&scenario, Options { trace: Some(&path), ..Options::default() }).expect("runs");
    assert!(outcome.ok(), "{} {sets:?} seed {seed}: {:?}", file.0, outcome.violations);
    let text = std::fs::read_to_string(&path).unwrap();
    text.lines()
        .skip(1)
        .map(|line| {
            let cols: Vec<&str> = line.splitn(5, ',').collect();
            Row {
                time_us: cols[0].parse().unwrap(),
                node: cols[2].into(),
                event: cols[3].into(),
                line: line.into(),
            }
        })
        .collect()
}

/// The `term` column of a `role` row (`time,seq,node,role,,,term,…`).
fn role_term(row: &Row) -> u64 {
    row.line.split(',').nth(6).and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// The highest term of any `role` row at or before `until_us`.
fn term_max(rows: &[Row], until_us: u64) -> u64 {
    rows.iter().filter(|r| r.event == "role" && r.time_us <= until_us).map(role_term).max().unwrap_or(0)
}

/// results/raft/disruptive-rejoin: n4, cut off alone from 2 s to 12 s, rejoins. With Pre-Vote no
/// node's term rises from the heal on; without it n4 comes back with a far higher term and a
/// leader of a newer term follows.
#[test]
fn with_pre_vote_a_rejoining_node_raises_no_term() {
    let heal_us = 12_000_000;
    for seed in 1..=5 {
        let with = trace(REJOIN, &["raft.pre_vote=true"], seed);
        assert_eq!(
            term_max(&with, u64::MAX),
            term_max(&with, heal_us),
            "seed {seed}: a term rose after the heal"
        );
        let without = trace(REJOIN, &[], seed);
        let leader_term = |rows: &[Row], from: u64| {
            rows.iter()
                .filter(|r| r.event == "role" && r.line.contains(",leader,") && r.time_us >= from)
                .map(role_term)
                .max()
        };
        let after = leader_term(&without, heal_us).unwrap_or(0);
        let before_heal = without
            .iter()
            .filter(|r| r.event == "role" && r.line.contains(",leader,") && r.time_us < heal_us)
            .map(role_term)
            .max()
            .unwrap_or(0);
        assert!(
            after > before_heal + 10,
            "seed {seed}: without Pre-Vote no newer leader ({before_heal} -> {after})"
        );
    }
}

/// results/raft/minority-leader: n0 leads and is cut off with n1 at 1 s for 3 s. With
/// CheckQuorum it steps down within `election_timeout_ms[0] + heartbeat_ms` (150 + 50 ms); without,
/// it leads until the heal.
#[test]
fn with_check_quorum_the_cut_off_leader_steps_down_within_an_election_timeout() {
    let cut_us = 1_000_000;
    for seed in 1..=5 {
        let next_role = |rows: &[Row]| {
            rows.iter().find(|r| r.node == "n0" && r.event == "role" && r.time_us > cut_us).map(|r| r.time_us)
        };
        let with = trace(MINORITY, &["raft.check_quorum=true"], seed);
        let down = next_role(&with).expect("n0 steps down");
        assert!(
            down - cut_us <= 200_000,
            "seed {seed}: stepped down {} ms after the cut",
            (down - cut_us) / 1000
        );
        assert!(with.iter().any(|r| r.node == "n0" && r.line.contains("check_quorum: heard from")));
        let without = trace(MINORITY, &[], seed);
        assert!(next_role(&without).expect("n0 follows after the heal") >= 4_000_000, "seed {seed}");
    }
}

/// The longest stretch in [1.9 s, 3.5 s] with no client `ok` row.
fn ok_gap_us(rows: &[Row]) -> u64 {
    let (lo, hi) = (1_900_000, 3_500_000);
    let oks = rows.iter().filter(|r| r.event == "ok" && (lo..=hi).contains(&r.time_us)).map(|r| r.time_us);
    let mut last = lo;
    let mut gap = 0;
    for t in oks.chain([hi]) {
        gap = gap.max(t - last);
        last = t;
    }
    gap
}

/// results/raft/transfer-vs-crash: a planned transfer leaves clients unanswered for less than an
/// election timeout, and for less time than crashing the leader does, with lease reads.
#[test]
fn a_planned_transfer_is_shorter_for_clients_than_a_crash() {
    for seed in 1..=5 {
        let transfer = ok_gap_us(&trace(TRANSFER, &["raft.read_mode=\"lease\""], seed));
        let crash = ok_gap_us(&trace(CRASH, &["raft.read_mode=\"lease\""], seed));
        assert!(transfer < 150_000, "seed {seed}: transfer gap {transfer} us");
        assert!(transfer < crash, "seed {seed}: transfer gap {transfer} us, crash gap {crash} us");
    }
}
