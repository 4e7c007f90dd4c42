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
