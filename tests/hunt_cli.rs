//! `dsim hunt` through the binary: correct Raft passes, a mutation is caught and its written
//! scenario + printed command reproduce the failure with the same checker, shards and resume give
//! the same failures as one run, and bad flags exit 2 with nothing written.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn dsim() -> Command {
    let mut cmd = Command::cargo_bin("dsim").unwrap();
    for var in ["SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "JOB_COMPLETION_INDEX", "DSIM_SHARD_COUNT"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `dsim hunt ARGS --out DIR`, requires exit `code`, returns hunt.json.
fn hunt(args: &[&str], out: &Path, code: i32) -> Value {
    dsim().arg("hunt").args(args).arg("--out").arg(out).assert().code(code);
    serde_json::from_str(&std::fs::read_to_string(out.join("hunt.json")).unwrap()).unwrap()
}

/// The fields of hunt.json that must not depend on --jobs, shards or resume.
fn verdict(summary: &Value) -> (Value, Value, Value) {
    (summary["failing_runs"].clone(), summary["by_checker"].clone(), summary["failures"].clone())
}

#[test]
fn correct_raft_passes_50_seeds() {
    let root = tempfile::tempdir().unwrap();
    let s = hunt(&["--seeds", "50", "--jobs", "2"], &root.path().join("h"), 0);
    assert_eq!(s["runs"], 50);
    assert_eq!(s["failing_runs"], 0);
    assert_eq!((s["seed_first"].as_u64(), s["seed_last"].as_u64()), (Some(1), Some(50)));
    assert!(!root.path().join("h/failures").exists());
}

#[test]
fn a_mutation_is_caught_and_its_command_reproduces_it() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("h");
    let s = hunt(&["--seeds", "20", "--set", "raft.bug=vote_without_log_check"], &out, 1);
    let failures = s["failures"].as_array().unwrap();
    assert!(!failures.is_empty(), "{s}");
    let checkers = s["by_checker"].as_object().unwrap();
    let total: u64 = checkers.values().map(|c| c["runs"].as_u64().unwrap()).sum();
    assert_eq!(total, failures.len() as u64);
    for f in failures.iter().take(3) {
        let file = out.join(f["file"].as_str().unwrap());
        let text = std::fs::read_to_string(&file).unwrap();
        assert!(text.contains("bug = \"vote_without_log_check\""), "{text}");
        // The printed command: `dsim run FILE --seed N`.
        let command = f["command"].as_str().unwrap();
        let words: Vec<&str> = command.split(' ').collect();
        assert_eq!(&words[..2], ["dsim", "run"], "{command}");
        let run = dsim().args(&words[1..]).arg("--json").assert().code(1);
        let json: Value = serde_json::from_slice(&run.get_output().stdout).unwrap();
        assert_eq!(json["violations"][0]["property"], f["checker"], "{command}");
        assert_eq!(json["violations_total"], f["violations"], "{command}");
        // The file alone (its own seed) is the same run.
        let again = dsim().arg("run").arg(&file).arg("--json").assert().code(1);
        let again: Value = serde_json::from_slice(&again.get_output().stdout).unwrap();
        assert_eq!(again["violations_total"], f["violations"]);
    }
    let first = &checkers.iter().next().unwrap().1["first_seed"];
    assert!(failures.iter().any(|f| f["seed"] == *first));
}

#[test]
fn shards_resume_and_jobs_give_the_same_failures() {
    let root = tempfile::tempdir().unwrap();
    let args = ["--seeds", "24", "--set", "raft.bug=vote_without_log_check"];
    let whole = hunt(&[&args[..], &["--jobs", "1"]].concat(), &root.path().join("whole"), 1);
    assert!(whole["failing_runs"].as_u64().unwrap() > 0, "{whole}");
    let parallel = hunt(&[&args[..], &["--jobs", "2"]].concat(), &root.path().join("par"), 1);
    assert_eq!(verdict(&whole).0, verdict(&parallel).0);
    assert_eq!(verdict(&whole).1, verdict(&parallel).1);
    // Resuming a finished hunt redoes nothing and reports the same.
    let resumed = hunt(&[&args[..], &["--resume"]].concat(), &root.path().join("whole"), 1);
    assert_eq!(verdict(&whole), verdict(&resumed));
    // Two shards: their failures together are the whole hunt's, and `dsim merge` of the two
    // directories gives the whole hunt's runs.csv byte for byte.
    let mut seeds = Vec::new();
    for k in ["1/2", "2/2"] {
        let dir = root.path().join(format!("shard{}", &k[..1]));
        let part = hunt(&[&args[..], &["--shard", k]].concat(), &dir, 1);
        seeds.extend(part["failures"].as_array().unwrap().iter().map(|f| f["seed"].as_u64().unwrap()));
    }
    seeds.sort();
    let expected: Vec<u64> =
        whole["failures"].as_array().unwrap().iter().map(|f| f["seed"].as_u64().unwrap()).collect();
    assert_eq!(seeds, expected);
    let merged = root.path().join("merged");
    dsim()
        .arg("merge")
        .arg(root.path().join("shard1"))
        .arg(root.path().join("shard2"))
        .arg("--out")
        .arg(&merged)
        .assert()
        .success();
    let read = |d: &Path| std::fs::read(d.join("runs.csv")).unwrap();
    assert_eq!(read(&merged), read(&root.path().join("whole")));
}

#[test]
fn stop_after_ends_the_hunt_early_in_rounds() {
    let root = tempfile::tempdir().unwrap();
    let s = hunt(
        &["--seeds", "2000", "--stop-after", "1", "--jobs", "1", "--set", "raft.bug=vote_without_log_check"],
        &root.path().join("h"),
        1,
    );
    let runs = s["runs"].as_u64().unwrap();
    assert!(runs < 2000, "{s}");
    assert_eq!(s["seed_last"].as_u64().unwrap(), runs, "the seeds covered are 1..=runs");
    assert!(s["failing_runs"].as_u64().unwrap() >= 1);
}

#[test]
fn bad_flags_exit_2_and_write_nothing() {
    for (args, needle) in [
        (&["--time", "5x"][..], "--time"),
        (&[][..], "--seeds"),
        (&["--seeds", "5", "--jobs", "0"][..], "--jobs"),
        (&["--seeds", "5", "--shard", "3/2"][..], "--shard"),
        (&["--seeds", "5", "--set", "raft.bug=nope"][..], "raft.bug"),
        (&["--seeds", "5", "--stop-after", "0"][..], "--stop-after"),
        (&["--time", "1s", "--resume"][..], "--resume"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("h");
        let assert = dsim().arg("hunt").args(args).arg("--out").arg(&out).assert().code(2);
        let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
        assert!(!out.exists(), "{args:?}: nothing may be written");
    }
}

#[test]
fn time_bounds_the_hunt_and_records_the_range_covered() {
    let root = tempfile::tempdir().unwrap();
    let s = hunt(&["--time", "1s", "--jobs", "1"], &root.path().join("h"), 0);
    let runs = s["runs"].as_u64().unwrap();
    assert!(runs >= 16, "at least one round: {s}");
    assert_eq!(s["seed_first"].as_u64().unwrap(), 1);
    assert_eq!(s["seed_last"].as_u64().unwrap(), runs, "every seed in the range ran: {s}");
    assert_eq!(s["failing_runs"], 0);
}

/// The bugs that only the drawn shapes expose (src/hunt/draw.rs, `draw_shapes`: the duplicate
/// storm, the lease overlap and the transfer under lease reads; none was found in 10 000 seeds
/// before them), each found by an unpinned hunt within a small budget by the checker that the
/// mutation suite names. First seeds when they were added: transfer_keeps_accepting 31,
/// lease_no_wait 54, match_last_log 66 (`dsim hunt --seeds 2000 --set raft.bug=BUG`).
#[test]
fn the_drawn_shapes_find_the_bugs_that_need_them() {
    for (bug, seeds, checker) in [
        ("transfer_keeps_accepting", "60", "linearizable"),
        ("lease_no_wait", "100", "linearizable"),
        ("match_last_log", "100", "acks_match"),
    ] {
        let root = tempfile::tempdir().unwrap();
        let s = hunt(
            &["--seeds", seeds, "--jobs", "2", "--set", &format!("raft.bug={bug}")],
            &root.path().join("h"),
            1,
        );
        assert!(s["by_checker"][checker]["runs"].as_u64().unwrap_or(0) >= 1, "{bug}: {s}");
    }
}

/// Figure 8's family (`raft.noop = false` under a rotating cut, an eighth of the seeds) finds
/// `figure8_commit` without pins; about 40 s on 2 cores, so by hand:
/// `cargo test --release --test hunt_cli -- --ignored figure8`.
#[test]
#[ignore]
fn the_figure8_family_finds_figure8_commit_without_pins() {
    let root = tempfile::tempdir().unwrap();
    let s = hunt(
        &["--seeds", "2000", "--jobs", "2", "--set", "raft.bug=figure8_commit"],
        &root.path().join("h"),
        1,
    );
    let safety = ["leader_completeness", "committed_kept", "state_machine_safety"];
    assert!(safety.iter().any(|c| s["by_checker"][c]["runs"].as_u64().unwrap_or(0) >= 1), "{s}");
}

/// The eventual KV's calm seeds (no fault, loss or duplication: a quarter of the draws) get
/// `strict_quorum_reads` on a strict-quorum base, the only checker that sees `ack_before_quorum`
/// (not in 400 seeds before them; first seed 1 and 14 of 200 when they were added).
#[test]
fn calm_kv_seeds_find_ack_before_quorum() {
    let root = tempfile::tempdir().unwrap();
    let args = [
        "sims/eventual_quorum.toml",
        "--seeds",
        "20",
        "--jobs",
        "2",
        "--set",
        "eventual.bug=\"ack_before_quorum\"",
    ];
    let s = hunt(&args, &root.path().join("h"), 1);
    assert!(s["by_checker"]["strict_quorum_reads"]["runs"].as_u64().unwrap_or(0) >= 1, "{s}");
}
