//! Log compaction with InstallSnapshot (Raft §7, Figure 13; issue 15): with snapshots on, chaos
//! runs pass every checker, a follower left behind gets the leader's snapshot (seen in the
//! trace, on the wire and as its `install_snapshot` row), and a run is still a pure function of
//! its seed.

use std::path::PathBuf;

use dsim::harness::{self, Options, Outcome};
use dsim::scenario::Scenario;

const SNAPSHOT: (&str, &str) = ("sims/raft_snapshot.toml", include_str!("../sims/raft_snapshot.toml"));
const CHAOS: (&str, &str) = ("sims/raft_chaos.toml", include_str!("../sims/raft_chaos.toml"));

fn scenario(file: (&str, &str), sets: &[&str], seed: u64) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let mut s = Scenario::from_str(file.0, file.1, &sets).expect("scenario loads");
    s.seed = seed;
    s
}

/// Runs with the trace written to a scratch file; returns the outcome and the trace text.
fn traced(s: &Scenario, name: &str) -> (Outcome, String) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("raft_snapshot");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    let path = dir.join(format!("{name}.csv"));
    let outcome = harness::run(s, Options { trace: Some(&path), ..Options::default() }).expect("runs");
    let text = std::fs::read_to_string(&path).expect("trace");
    (outcome, text)
}

/// The columns of a trace row: time_us,seq,node,event,peer,msg,term,index,key,value,clock,detail.
fn cols(line: &str) -> Vec<&str> {
    line.splitn(12, ',').collect()
}

/// Reference: Raft §7 — "the leader must occasionally send snapshots to followers that lag
/// behind": n4, cut off while ~400 entries commit and are compacted, installs the leader's
/// snapshot, which crossed the wire in chunks of 50 entries' worth.
#[test]
fn a_lagging_follower_installs_the_leaders_snapshot() {
    let (outcome, trace) = traced(&scenario(SNAPSHOT, &[], 1), "lagging");
    assert!(outcome.ok(), "{:?}", outcome.violations);
    let rows: Vec<Vec<&str>> = trace.lines().skip(1).map(cols).collect();
    let installs: Vec<&Vec<&str>> =
        rows.iter().filter(|r| r[3] == "install_snapshot" && r[11].starts_with("from=leader")).collect();
    assert!(!installs.is_empty(), "no install_snapshot row");
    assert!(installs.iter().all(|r| r[2] == "n4"), "only the cut-off node installs: {installs:?}");
    let snapshots = rows.iter().filter(|r| r[3] == "snapshot").count();
    assert!(snapshots >= 4 * 3, "every node snapshots every 100 applies ({snapshots} rows)");
    // The last chunk of the installed snapshot was delivered to n4 before it installed it.
    let first = installs[0];
    let index = first[7];
    let delivered = rows.iter().take_while(|r| r[1] != first[1]).any(|r| {
        r[3] == "deliver"
            && r[2] == "n4"
            && r[5] == "install_snapshot"
            && r[7] == index
            && r[11].contains("done=1")
    });
    assert!(delivered, "no last chunk of the snapshot at {index} delivered before {first:?}");
    let chunks = rows
        .iter()
        .filter(|r| r[3] == "send" && r[5] == "install_snapshot" && r[7] == index)
        .filter(|r| r[11].contains(" len=50 "))
        .count();
    assert!(chunks >= 2, "the snapshot at {index} went in chunks of 50 ({chunks} full chunks sent)");
}

/// Chaos (crashes, partitions, loss, duplication) with frequent snapshots and small chunks, with
/// and without the deployed switches and pipelining: no checker fires, and followers that fell
/// behind installed snapshots.
#[test]
fn chaos_with_snapshots_passes_every_checker() {
    let base = ["raft.snapshot_every=20", "raft.snapshot_trailing=3", "raft.snapshot_chunk_entries=7"];
    let deployed = [
        "raft.pre_vote=true",
        "raft.check_quorum=true",
        "raft.max_inflight_appends=8",
        "raft.fast_backtrack=true",
        "raft.persist_delay_us=1000",
    ];
    let mut installed = 0;
    for seed in 1..=12 {
        for extra in [&[][..], &deployed[..]] {
            let sets: Vec<&str> = base.iter().chain(extra).copied().collect();
            let (outcome, trace) = traced(&scenario(CHAOS, &sets, seed), &format!("chaos-{seed}"));
            assert!(
                outcome.ok(),
                "seed {seed} {extra:?}: {:?}\nreplay: dsim run sims/raft_chaos.toml --seed {seed} --set {}",
                outcome.violations,
                sets.join(" --set ")
            );
            installed += trace.lines().filter(|l| l.contains(",install_snapshot,,,")).count();
        }
    }
    assert!(installed > 0, "no follower installed a snapshot in 24 chaos runs");
}

/// Regression (hunt seed 3126 with `--set raft.snapshot_every=20`): a follower crashed after
/// installing a snapshot that discarded its log but before the install was durable. Its restart
/// rows claimed the crash lost its durable entries 33..45, which it had acknowledged
/// (`committed_kept`), though they came back intact; now only the live log past the durable end
/// is reported lost and the durable entries are written back.
#[test]
fn regression_a_lost_install_does_not_lose_durable_entries() {
    let text = include_str!("fixtures/snapshot/hunt-seed-3126.toml");
    let mut s = Scenario::from_str("hunt-seed-3126.toml", text, &[]).expect("loads");
    s.seed = 3126;
    let (outcome, trace) = traced(&s, "seed-3126");
    assert!(outcome.ok(), "{:?}", outcome.violations);
    assert!(trace.contains("from=leader"), "the follower no longer installs a snapshot");
    assert!(trace.contains("fsync_lost"), "the crash no longer takes state back");
}

/// Same seed, same trace, with snapshots on (and a crash-heavy scenario so restarts restore
/// snapshots).
#[test]
fn snapshot_runs_are_deterministic() {
    let s = scenario(
        CHAOS,
        &["raft.snapshot_every=15", "raft.snapshot_chunk_entries=3", "raft.persist_delay_us=700"],
        4,
    );
    let (a, ta) = traced(&s, "det-a");
    let (b, tb) = traced(&s, "det-b");
    assert_eq!(a.trace_sha256, b.trace_sha256);
    assert!(ta == tb, "traces differ");
    assert!(ta.contains(",snapshot,"), "the run took no snapshot");
}

/// Snapshots off (the default): no snapshot rows or messages at all.
#[test]
fn snapshots_are_off_by_default() {
    let (outcome, trace) = traced(&scenario(CHAOS, &[], 1), "off");
    assert!(outcome.ok(), "{:?}", outcome.violations);
    assert!(!trace.contains("snapshot"), "a snapshot row or message with snapshots off");
}
