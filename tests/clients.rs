//! Clients as processes (the kernel's client layer) against Raft, through the real harness: the
//! client-history row contract, determinism, the §8 no-op, and the session bugs found in
//! `raft_chaos` (re-applied commands, one command appended twice in a term).

use std::collections::{BTreeMap, BTreeSet};

use dsim::harness::{self, Options, Outcome};
use dsim::raft::Bug;
use dsim::scenario::Scenario;
use dsim::trace::reader::TraceReader;
use dsim::trace::{Event, Record};

const CHAOS: (&str, &str) = ("sims/raft_chaos.toml", include_str!("../sims/raft_chaos.toml"));
const CLIENTS: (&str, &str) = ("sims/raft_clients.toml", include_str!("../sims/raft_clients.toml"));

fn load(file: (&str, &str), seed: u64, sets: &[&str]) -> Scenario {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let mut s = Scenario::from_str(file.0, file.1, &sets).expect("scenario loads");
    s.seed = seed;
    s
}

/// Runs `scenario` writing its trace to a temporary file; returns the outcome and the rows.
fn run_rows(scenario: &Scenario, name: &str) -> (Outcome, Vec<Record>) {
    let dir = std::env::temp_dir().join(format!("dsim-clients-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("trace.csv");
    let outcome = harness::run(scenario, Options { trace: Some(&path), hash: false, history: None }).expect("runs");
    let rows: Vec<Record> = TraceReader::open(&path).expect("trace opens").map(|r| r.expect("row")).collect();
    std::fs::remove_dir_all(&dir).ok();
    (outcome, rows)
}

/// Exactly one completion per invoke, never before it, sharing msg, key and process; a process
/// issues one op at a time and never again after an `info`.
fn assert_history_well_formed(rows: &[Record]) {
    let mut open: BTreeMap<u64, &Record> = BTreeMap::new();
    let mut done: BTreeSet<u64> = BTreeSet::new();
    let mut busy: BTreeSet<String> = BTreeSet::new();
    let mut retired: BTreeSet<String> = BTreeSet::new();
    for row in rows {
        let process = row.detail.split(' ').next().unwrap_or("").to_owned();
        match row.event {
            Event::Invoke => {
                let id = row.index.expect("op id");
                assert!(!done.contains(&id) && !open.contains_key(&id), "op {id} invoked twice");
                assert!(!retired.contains(&process), "{process} issued after an info: {row:?}");
                assert!(busy.insert(process), "a process with an op in flight issued another: {row:?}");
                open.insert(id, row);
            }
            Event::Ok | Event::Fail | Event::Info => {
                let id = row.index.expect("op id");
                let invoke = open.remove(&id).unwrap_or_else(|| panic!("completion without invoke: {row:?}"));
                assert!(done.insert(id));
                assert_eq!((&invoke.msg, invoke.key), (&row.msg, row.key));
                assert!(busy.remove(&process), "{process} completed an op it did not issue");
                if row.event == Event::Info {
                    assert!(row.node.is_none(), "info rows name no node: {row:?}");
                    retired.insert(process);
                }
            }
            _ => {}
        }
    }
}

/// Per node, op ids applied as fresh (not `duplicate`) more than once in one incarnation.
fn reapplied(rows: &[Record]) -> usize {
    let mut applied: BTreeMap<u32, BTreeSet<String>> = BTreeMap::new();
    let mut count = 0;
    for row in rows {
        let Some(node) = row.node else { continue };
        match row.event {
            Event::Crash => {
                applied.remove(&node.0);
            }
            Event::Apply if row.msg != "noop" && !row.detail.contains("duplicate") => {
                let id = format!("{}{}{}", row.msg, row.value, row.detail);
                if !applied.entry(node.0).or_default().insert(id) {
                    count += 1;
                }
            }
            _ => {}
        }
    }
    count
}

/// `append` rows of one command (key + value or detail) twice within one term.
fn appended_twice_in_a_term(rows: &[Record]) -> usize {
    let mut seen: BTreeSet<(u64, String)> = BTreeSet::new();
    rows.iter()
        .filter(|r| r.event == Event::Append && r.msg != "noop")
        .filter(|r| !seen.insert((r.term.unwrap_or(0), format!("{}{}{}", r.msg, r.value, r.detail))))
        .count()
}

/// Found: `raft_chaos` seeds 2, 8 and 14 re-applied hundreds of commands (the `apply` row came
/// before the duplicate check) and seed 2 appended v96 at indexes 35 and 106 in one term (a new
/// leader re-appended its held commands). Now resends are deduplicated by the sessions.
#[test]
fn chaos_seeds_2_8_14_apply_each_command_once_and_append_it_once_per_term() {
    for seed in [2, 8, 14] {
        let (outcome, rows) = run_rows(&load(CHAOS, seed, &[]), &format!("chaos{seed}"));
        assert!(outcome.ok(), "seed {seed}: {:?}", outcome.violations.first());
        assert_eq!(reapplied(&rows), 0, "seed {seed}: re-applied commands");
        assert_eq!(appended_twice_in_a_term(&rows), 0, "seed {seed}: a command appended twice in a term");
        assert_history_well_formed(&rows);
    }
}

/// The same seeds with the dedupe deleted (Bug::NoSessionDedupe) re-apply commands: the trace
/// measure above can fail.
#[test]
fn without_session_dedupe_chaos_seeds_reapply_commands() {
    let total: usize = [2, 8, 14]
        .iter()
        .map(|seed| {
            let mut s = load(CHAOS, *seed, &[]);
            s.raft.bug = Bug::NoSessionDedupe;
            reapplied(&run_rows(&s, &format!("nodedupe{seed}")).1)
        })
        .sum();
    assert!(total > 0, "no re-applied command without the session dedupe");
}

/// Closed-loop clients: the history is well formed, every outcome kind can occur, and the same
/// seed gives the same trace byte for byte.
#[test]
fn closed_loop_history_is_well_formed_and_deterministic() {
    let s = load(CLIENTS, 3, &[]);
    let (a, rows) = run_rows(&s, "det-a");
    let b = harness::run(&s, Options { trace: None, hash: true, history: None }).expect("runs");
    assert_eq!(a.trace_sha256, b.trace_sha256, "same seed, same trace");
    assert!(a.ok(), "{:?}", a.violations.first());
    assert_history_well_formed(&rows);
    let count = |e: Event| rows.iter().filter(|r| r.event == e).count();
    assert!(count(Event::Invoke) > 100 && count(Event::Ok) > 50, "{} invokes", count(Event::Invoke));
    assert!(count(Event::Info) > 0, "the crashes leave some op indeterminate");
    let cas_fail =
        rows.iter().filter(|r| r.event == Event::Fail && r.detail.contains("cas_mismatch")).count();
    assert!(cas_fail > 0, "some cas finds another value");
}

/// Nodes up at the end whose commit index is below their last log index: entries they hold
/// that no live node will ever commit without a new entry of the current term.
fn stuck_nodes(rows: &[Record]) -> usize {
    let mut last: BTreeMap<u32, u64> = BTreeMap::new();
    let mut commit: BTreeMap<u32, u64> = BTreeMap::new();
    let mut down: BTreeSet<u32> = BTreeSet::new();
    for row in rows {
        let Some(node) = row.node.map(|n| n.0) else { continue };
        match row.event {
            Event::Append | Event::Store => {
                last.insert(node, row.index.unwrap_or(0));
            }
            Event::Truncate => {
                last.insert(node, row.index.unwrap_or(1) - 1);
            }
            Event::Commit => {
                commit.insert(node, row.index.unwrap_or(0));
            }
            Event::Crash => {
                down.insert(node);
                commit.remove(&node);
            }
            Event::Restart => {
                down.remove(&node);
            }
            _ => {}
        }
    }
    last.iter().filter(|(n, i)| !down.contains(n) && commit.get(n).copied().unwrap_or(0) < **i).count()
}

/// The §8 stall: 5 nodes, no loss, 200 commands/s stopping at 1 000 ms, the leader crashed at
/// 1 001 ms, clients that do not resend. Without the no-op the new leader never commits the entries of the old term it holds
/// (§5.4.2 forbids counting replicas for them) and no new command comes to carry them: live nodes
/// stay behind for good, and the progress checker flags the runs where nothing commits after the
/// crash (a follower may still learn an old commit in the window). With the no-op every
/// live node commits its whole log.
#[test]
fn without_the_noop_a_new_leader_stalls_and_with_it_everything_commits() {
    const RAFT: (&str, &str) = ("sims/raft.toml", include_str!("../sims/raft.toml"));
    let sets = [
        "network.drop_probability=0",
        "network.duplicate_probability=0",
        "workload.rate_per_s=200",
        "workload.stop_ms=1000",
        "clients.timeout_ms=3000",
        "clients.retry_ms=0",
        "duration_ms=5000",
        "faults=[{action = \"crash\", node = \"leader\", at_ms = 1001}]",
        "liveness.within_ms=3000",
        "liveness.after_ms=1050", // past the dead leader's last messages (latency <= 5 ms)
    ];
    let (mut stuck_seeds, mut flagged_seeds) = (0, 0);
    for seed in 1..=8 {
        let (with, rows) = run_rows(&load(RAFT, seed, &sets), &format!("noop{seed}"));
        assert!(with.ok(), "seed {seed} with the no-op: {:?}", with.violations.first());
        assert_eq!(stuck_nodes(&rows), 0, "seed {seed} with the no-op: a node stays behind");
        let mut off = load(RAFT, seed, &sets);
        off.raft.noop = false;
        let (without, rows) = run_rows(&off, &format!("nonoop{seed}"));
        stuck_seeds += usize::from(stuck_nodes(&rows) > 0);
        flagged_seeds += usize::from(without.violations.iter().any(|v| v.property == "progress"));
    }
    assert!(stuck_seeds >= 2, "the stall shows on {stuck_seeds} of seeds 1-8 without the no-op");
    // The progress checker (a commit row in the window) sees the stall when nothing at all commits.
    assert!(flagged_seeds >= 1, "the progress checker flags none of the stalled runs");
}

/// Stale reads a register cannot explain, from the client rows alone: a read that returns `v`
/// (or nil) although another write `w` of the key completed `ok` before the read was invoked,
/// and `v`'s write had completed before `w` was invoked (so every linearization puts `w` after
/// `v`, and before the read). Sound for a register with unique values; not complete.
fn stale_reads(rows: &[Record]) -> usize {
    use dsim::trace::Value;
    // Per key: (value, invoke time, ok time) of the writes and successful cas that completed ok.
    let mut invoked: BTreeMap<u64, u64> = BTreeMap::new();
    let mut writes: BTreeMap<u64, Vec<(u64, u64, u64)>> = BTreeMap::new();
    let mut reads: Vec<(u64, u64, Option<u64>)> = Vec::new();
    for row in rows {
        let (Some(id), Some(key)) = (row.index, row.key) else { continue };
        match (row.event, row.msg.as_ref()) {
            (Event::Invoke, _) => {
                invoked.insert(id, row.time_us);
            }
            (Event::Ok, "write" | "cas") => {
                if let Value::Id(v) = row.value {
                    writes.entry(key).or_default().push((v, invoked[&id], row.time_us));
                }
            }
            (Event::Ok, "read") => {
                let v = match row.value {
                    Value::Id(v) => Some(v),
                    _ => None,
                };
                reads.push((key, invoked[&id], v));
            }
            _ => {}
        }
    }
    let empty = Vec::new();
    reads
        .iter()
        .filter(|(key, read_at, v)| {
            let ws = writes.get(key).unwrap_or(&empty);
            let read_done = ws.iter().find(|w| Some(w.0) == *v).map(|w| w.2);
            ws.iter().any(|w| {
                Some(w.0) != *v && w.2 < *read_at && (v.is_none() || read_done.is_some_and(|done| done < w.1))
            })
        })
        .count()
}

fn stale_reads_over_seeds(sets: &[&str], bug: Bug) -> usize {
    (1..=4)
        .map(|seed| {
            let mut s = load(CLIENTS, seed, sets);
            s.raft.bug = bug;
            stale_reads(&run_rows(&s, &format!("stale{seed}{bug:?}{}", sets.join("").len())).1)
        })
        .sum()
}

/// Reads served three ways (thesis §6.4) give histories without stale reads; each read bug gives
/// some: any node answering from its own state (stale_local_read), a resend applied twice
/// (no_session_dedupe), and — measured, see below — a new leader not waiting out the old lease.
#[test]
fn read_modes_are_fresh_and_the_read_bugs_are_stale() {
    for mode in ["log", "read_index", "lease"] {
        let set = format!("raft.read_mode=\"{mode}\"");
        assert_eq!(stale_reads_over_seeds(&[&set], Bug::None), 0, "read_mode {mode}");
    }
    assert!(stale_reads_over_seeds(&[], Bug::StaleLocalRead) > 0, "stale_local_read");
    assert!(stale_reads_over_seeds(&["clients.retry_ms=40"], Bug::NoSessionDedupe) > 0, "no_session_dedupe");
}

/// Lease reads under a lossy network and no drift margin stay fresh. Without the new leader's wait
/// (Bug::LeaseNoWait) the count printed is what the bug produces on these seeds — 0 so far: the
/// bug needs a candidate that missed the old leader's last acked rounds and wins while the old
/// leader, cut off, still serves; no scenario here provokes it yet.
#[test]
fn lease_reads_stay_fresh_under_loss() {
    let sets = ["raft.read_mode=\"lease\"", "network.drop_probability=0.2", "raft.lease_drift_margin_ms=0"];
    let correct = stale_reads_over_seeds(&sets, Bug::None);
    let bug = stale_reads_over_seeds(&sets, Bug::LeaseNoWait);
    println!("lease stale reads: correct {correct}, lease_no_wait {bug}");
    assert_eq!(correct, 0);
}
