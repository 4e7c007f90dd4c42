//! Bad input gets one line naming the file, the field or line, the bad value and what is allowed,
//! and exit code 2 — never a panic, never a partial output.

use assert_cmd::Command;
use predicates::prelude::*;

fn dsim() -> Command {
    Command::cargo_bin("dsim").unwrap()
}

/// Runs `dsim args…`, expects exit 2 and a single stderr line containing every `needle`.
fn refused(args: &[&str], needles: &[&str]) {
    let out = dsim().args(args).assert().code(2).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected, got:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
}

fn scenario_file(dir: &tempfile::TempDir, body: &str) -> String {
    let path = dir.path().join("s.toml");
    std::fs::write(&path, body).unwrap();
    path.display().to_string()
}

#[test]
fn out_of_range_overrides_name_the_set_the_field_and_the_range() {
    refused(
        &["run", "--set", "network.drop_probability=1.5"],
        &["--set network.drop_probability=1.5", "network.drop_probability = 1.5", "[0, 1]"],
    );
    refused(&["run", "--set", "network.drop_probability=nan"], &["network.drop_probability = NaN"]);
    refused(&["run", "--set", "nodes=0"], &["nodes = 0", "[1, 1000]"]);
    refused(
        &["run", "--set", "raft.election_timeout_ms=[300,150]"],
        &["raft.election_timeout_ms = [300, 150]"],
    );
    refused(&["run", "--set", "raft.heartbeat_ms=0"], &["raft.heartbeat_ms = 0"]);
    for bad in ["0", "1025"] {
        let set = format!("raft.max_inflight_appends={bad}");
        let field = format!("raft.max_inflight_appends = {bad}");
        refused(&["run", "--set", &set], &[&field, "[1, 1024]"]);
    }
    refused(&["run", "--set", "raft.fast_backtrack=3"], &["fast_backtrack"]);
    refused(
        &["run", "--set", "raft.snapshot_chunk_entries=0"],
        &["raft.snapshot_chunk_entries = 0", "[1, 100000000]"],
    );
    refused(&["run", "--set", "raft.snapshot_every=100000001"], &["raft.snapshot_every = 100000001"]);
    refused(
        &["run", "--set", "raft.bug=\"entries_before_snapshot\""],
        &["raft.bug = entries_before_snapshot", "needs raft.snapshot_every > 0"],
    );
}

#[test]
fn bench_memory_refuses_a_bad_max_or_override_before_running_anything() {
    refused(&["bench", "--memory", "--memory-max", "5000000"], &["--memory-max", "5000000", "power of ten"]);
    refused(&["bench", "--memory", "--memory-max", "100000"], &["--memory-max", "100000"]);
    refused(&["bench", "--memory", "--set", "raft.heartbeat_ms=0"], &["raft.heartbeat_ms = 0"]);
}

#[test]
fn unknown_keys_and_wrong_types_are_named() {
    refused(&["run", "--set", "network.drop_chance=0.1"], &["network", "unknown field `drop_chance`"]);
    refused(&["run", "--set", "nodes=\"five\""], &["nodes", "expected u32"]);
    refused(&["run", "--set", "raft.bug=\"sometimes\""], &["raft.bug", "sometimes"]);
    refused(&["run", "--set", "novalue"], &["--set", "KEY=VALUE"]);
}

#[test]
fn bad_files_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = scenario_file(&dir, "nodes = 3\nduration_ms = 100\nnetwork = { drop_probability = -0.5 }\n");
    refused(&["run", &f], &[&f, "network.drop_probability = -0.5"]);
    let f = scenario_file(&dir, "nodes = 3\nduration_ms = \n");
    refused(&["run", &f], &[&format!("{f}:2")]);
    let f = scenario_file(
        &dir,
        "nodes = 3\nduration_ms = 100\n[[faults]]\naction = 'crash'\nnode = 'n7'\nat_ms = 5\n",
    );
    refused(&["run", &f], &[&f, "faults[0].node = \"n7\"", "n0 … n2"]);
    let f =
        scenario_file(&dir, "nodes = 3\nduration_ms = 100\n[[faults]]\naction = 'heal'\nat_ms = [9, 1]\n");
    refused(&["run", &f], &["faults[0].at_ms = [9, 1]"]);
    refused(&["run", "/nonexistent/s.toml"], &["/nonexistent/s.toml", "No such file"]);
}

#[test]
fn a_trace_that_is_not_a_dsim_trace_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.csv");
    std::fs::write(&path, "hello,world\n1,2\n").unwrap();
    let p = path.display().to_string();
    refused(&["check", &p, "--protocol", "raft"], &[&p, "not a dsim trace"]);
    refused(&["check", &p], &["--protocol", "raft or eventual"]);
    refused(&["check", &p, "--protocol", "paxos"], &["--protocol", "paxos"]);
}

#[test]
fn a_failed_run_leaves_no_trace_under_the_final_name() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.csv");
    dsim()
        .args(["run", "--set", "nodes=0", "--trace", &trace.display().to_string()])
        .assert()
        .code(2)
        .stdout(predicate::str::is_empty());
    assert!(!trace.exists());
}

#[test]
fn every_scenario_in_sims_is_embedded_and_matches_its_file() {
    let files: Vec<String> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/sims"))
        .unwrap()
        .map(|e| format!("sims/{}", e.unwrap().file_name().to_string_lossy()))
        .collect();
    assert_eq!(files.len(), dsim::scenario::EMBEDDED.len(), "{files:?}");
    for file in files {
        let (_, text) = dsim::scenario::embedded(&file).unwrap_or_else(|| panic!("{file} is not embedded"));
        let on_disk =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/").to_owned() + &file).unwrap();
        assert_eq!(text, on_disk, "{file}");
    }
    // From a directory without sims/, the names still work.
    let dir = tempfile::tempdir().unwrap();
    dsim().current_dir(dir.path()).args(["run", "sims/raft_chaos.toml"]).assert().success();
}

#[test]
fn a_memory_point_reports_its_events_and_peak_rss() {
    // The child `dsim bench --memory` spawns per point: one JSON line, the events asked for.
    let out = dsim().args(["bench", "--memory-point", "20000"]).assert().success().get_output().clone();
    let line: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["events"], 20_000, "{line}");
    assert_eq!(line["violations"], 0, "{line}");
    assert!(line["peak_rss_kib"].as_u64().is_some_and(|k| k > 0), "{line}");
}

/// Membership changes (issue 15): `raft.initial_members`, `add_server` / `remove_server` faults,
/// the 64-node limit and the membership bugs' need for membership changes.
#[test]
fn membership_fields_are_validated() {
    refused(&["run", "--set", "raft.initial_members=[]"], &["raft.initial_members = []", "non-empty"]);
    refused(
        &["run", "--set", "raft.initial_members=[\"n0\",\"n9\"]"],
        &["raft.initial_members[1] = \"n9\"", "distinct nodes n0 … n4"],
    );
    refused(&["run", "--set", "raft.initial_members=[\"n0\",\"n0\"]"], &["raft.initial_members[1] = \"n0\""]);
    refused(
        &["run", "--set", "raft.bug=\"count_removed_vote\""],
        &["raft.bug = count_removed_vote", "needs membership changes"],
    );
    refused(
        &["run", "--set", "raft.bug=\"membership_before_commit\""],
        &["raft.bug = membership_before_commit", "needs membership changes"],
    );
    refused(&["run", "--set", "raft.membership=true", "--set", "nodes=65"], &["nodes = 65", "at most 64"]);
    let dir = tempfile::tempdir().unwrap();
    let base = "name = \"m\"\nprotocol = \"raft\"\nnodes = 3\nduration_ms = 100\n";
    let add_no_node = scenario_file(&dir, &format!("{base}[[faults]]\naction = \"add_server\"\nat_ms = 5\n"));
    refused(&["run", &add_no_node], &["faults[0].node = (missing)", "a node n0"]);
    let add_leader = scenario_file(
        &dir,
        &format!("{base}[[faults]]\naction = \"add_server\"\nnode = \"leader\"\nat_ms = 5\n"),
    );
    refused(&["run", &add_leader], &["faults[0].node = \"leader\""]);
    let remove_far = scenario_file(
        &dir,
        &format!("{base}[[faults]]\naction = \"remove_server\"\nnode = \"n3\"\nat_ms = 5\n"),
    );
    refused(&["run", &remove_far], &["faults[0].node = \"n3\"", "n0 … n2"]);
}

#[test]
fn bench_json_gives_every_figure_its_paired_ratio() {
    // A tiny run: one repetition, one simulated second, 5,000 hold steps.
    let out = dsim()
        .args(["bench", "--reps", "1", "--duration-ms", "1000", "--hold-steps", "5000", "--json"])
        .assert()
        .success()
        .get_output()
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    for name in [
        "hold_bare_heap",
        "hold_event_queue",
        "hold_runner",
        "raft_kernel_only",
        "raft_trace_off",
        "raft_trace_on",
        "eventual_trace_off",
    ] {
        let ratio = v[name]["vs_bare_heap"].as_f64().unwrap_or_else(|| panic!("{name}: {v}"));
        assert!(ratio.is_finite() && ratio > 0.0, "{name}: {ratio}");
        assert_eq!(v[name]["bare_heap_seconds"].as_array().map(Vec::len), Some(1), "{name}");
    }
    assert_eq!(v["hold_bare_heap"]["vs_bare_heap"].as_f64(), Some(1.0));
}
