//! `dsim sweep`, `dsim merge` and `dsim replay` through the binary: bad input gives one line and
//! exit 2 with nothing written; thread count, shards + merge and resume give byte-identical files;
//! replay confirms its own traces and pinpoints an edit.

use std::path::Path;
use std::process::Command as StdCommand;

use assert_cmd::Command;
use predicates::prelude::*;

fn dsim() -> Command {
    let mut cmd = Command::cargo_bin("dsim").unwrap();
    for var in [
        "SLURM_ARRAY_TASK_ID",
        "SLURM_ARRAY_TASK_COUNT",
        "SLURM_ARRAY_TASK_MIN",
        "JOB_COMPLETION_INDEX",
        "DSIM_SHARD_COUNT",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs `dsim sweep ARGS --out DIR` and requires exit 2 with a one-line error containing `needle`
/// and no DIR afterwards.
fn refused(args: &[&str], needle: &str) {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    let assert = dsim().arg("sweep").args(args).arg("--out").arg(&out).assert().code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("dsim: error: "), "{stderr}");
    assert!(stderr.contains(needle), "{args:?}: expected {needle:?} in {stderr}");
    assert!(!out.exists(), "{args:?}: nothing may be written");
}

#[test]
fn malformed_params_exit_2() {
    refused(&["--param", "x="], "--param \"x=\"");
    refused(&["--param", "=1"], "--param \"=1\"");
    refused(&["--param", "network.drop_probability=0.5:0.1:0.1"], "a ≤ b");
    refused(&["--param", "network.drop_probability=0:0.5:0"], "step > 0");
    refused(&["--param", "network.drop_probability=a:b:c"], "a:b:step");
    refused(&["--param", "network.drop_probability=0.1,0.1"], "appears twice");
    refused(&["--param", "nodes=3", "--param", "nodes=5"], "each key in one --param");
    refused(&["--param", "seed=1,2"], "--seeds");
}

#[test]
fn unknown_keys_and_bad_values_name_the_param() {
    refused(&["--param", "network.drop_probabilty=0.1"], "drop_probabilty");
    refused(&["--param", "network.drop_probability=0.1,1.5"], "--param network.drop_probability=1.5");
    refused(&["--param", "nodes=3", "--set", "raft.heartbeat_ms=x"], "--set raft.heartbeat_ms=x");
    refused(&["no-such-file.toml", "--param", "nodes=3"], "no-such-file.toml");
}

#[test]
fn malformed_shards_and_jobs_exit_2() {
    for shard in ["0/3", "4/3", "a/b", "3", "1/0"] {
        refused(&["--param", "nodes=3", "--shard", shard], "--shard");
    }
    refused(&["--param", "nodes=3", "--shard", "auto"], "SLURM_ARRAY_TASK_ID");
    refused(&["--param", "nodes=3", "--jobs", "0"], "--jobs");
    refused(&["--param", "nodes=3", "--seeds", "0"], "--seeds");
    refused(&["--param", "nodes=3,5", "--seeds", "1", "--shard", "3/3"], "at most as many shards as runs");
}

#[test]
fn kubernetes_index_needs_a_count() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    dsim()
        .args(["sweep", "--param", "nodes=3", "--shard", "auto", "--out"])
        .arg(&out)
        .env("JOB_COMPLETION_INDEX", "1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--shard-count N or DSIM_SHARD_COUNT"));
    assert!(!out.exists());
}

#[test]
fn directory_of_another_sweep_is_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // A manifest of some other sweep (different grid).
    let other = r#"{"format":"dsim-sweep-manifest/1","sweep":{"dsim_version":"0.0.0","scenario":{"nodes":3,"duration_ms":5},"grid":[],"seeds":1,"seed_start":1},
        "scenario_origin":"x.toml","scenario_sets":[],"seed_rule":"","shard":null,"jobs_total":1,"runs":1,"violating_runs":0,
        "files":{},"wall_s":0.0,"threads":1,"host":""}"#;
    std::fs::write(out.join("manifest.json"), other).unwrap();
    std::fs::write(out.join("runs.csv"), "precious\n").unwrap();
    let assert =
        dsim().args(["sweep", "--param", "nodes=3", "--seeds", "1", "--out"]).arg(&out).assert().code(2);
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    assert!(stderr.contains("holds another sweep") && stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(std::fs::read_to_string(out.join("runs.csv")).unwrap(), "precious\n");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2, "no new files");
    // Stray sweep files without a manifest.
    std::fs::remove_file(out.join("manifest.json")).unwrap();
    dsim()
        .args(["sweep", "--param", "nodes=3", "--seeds", "1", "--out"])
        .arg(&out)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("runs.csv but no manifest.json"));
    assert_eq!(std::fs::read_to_string(out.join("runs.csv")).unwrap(), "precious\n");
}

#[test]
fn merge_and_replay_refuse_what_they_cannot_read() {
    let root = tempfile::tempdir().unwrap();
    dsim().arg("merge").arg(root.path()).arg("--out").arg(root.path().join("m")).assert().code(2);
    dsim().arg("replay").arg(root.path().join("none.csv")).assert().code(2);
}

// ---- Tests that run the real protocols ----

/// A small, fast Raft grid.
const SMALL: [&str; 8] = [
    "--set",
    "duration_ms=400",
    "--set",
    "nodes=3",
    "--param",
    "network.drop_probability=0:0.2:0.1",
    "--seeds",
    "3",
];

fn sweep(out: &Path, extra: &[&str]) {
    dsim().arg("sweep").args(SMALL).args(extra).arg("--out").arg(out).assert().success();
}

fn same(a: &Path, b: &Path) {
    for name in ["runs.csv", "summary.csv"] {
        let (x, y) = (std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap());
        assert!(x == y, "{name}: {} and {} differ", a.display(), b.display());
    }
}

#[test]
fn jobs_and_shards_merge_to_identical_files() {
    let root = tempfile::tempdir().unwrap();
    let r = |name: &str| root.path().join(name);
    sweep(&r("j1"), &["--jobs", "1"]);
    sweep(&r("j2"), &["--jobs", "2"]);
    same(&r("j1"), &r("j2"));
    for k in 1..=3 {
        sweep(&r(&format!("s{k}")), &["--jobs", "2", "--shard", &format!("{k}/3")]);
    }
    dsim().args(["merge"]).args([r("s3"), r("s1"), r("s2")]).arg("--out").arg(r("merged")).assert().success();
    same(&r("j1"), &r("merged"));
    // Slurm's array index gives the same slices.
    dsim()
        .arg("sweep")
        .args(SMALL)
        .args(["--shard", "auto", "--out"])
        .arg(r("slurm2"))
        .env("SLURM_ARRAY_TASK_ID", "1")
        .env("SLURM_ARRAY_TASK_MIN", "0")
        .env("SLURM_ARRAY_TASK_COUNT", "3")
        .assert()
        .success();
    same(&r("s2"), &r("slurm2"));
    let runs = std::fs::read_to_string(r("j1").join("runs.csv")).unwrap();
    assert_eq!(runs.lines().count(), 1 + 9);
    assert!(runs.starts_with("network.drop_probability,seed,events,sim_time_us,"));
}

#[test]
fn killed_sweep_resumes_to_identical_files() {
    let root = tempfile::tempdir().unwrap();
    let (whole, killed) = (root.path().join("whole"), root.path().join("killed"));
    let longer = [
        "--set",
        "duration_ms=400",
        "--set",
        "nodes=3",
        "--param",
        "network.drop_probability=0:0.2:0.1",
        "--seeds",
        "20",
    ];
    dsim().arg("sweep").args(longer).args(["--jobs", "2", "--out"]).arg(&whole).assert().success();
    let bin = assert_cmd::cargo::cargo_bin("dsim");
    let mut child = StdCommand::new(bin)
        .arg("sweep")
        .args(longer)
        .args(["--jobs", "1", "--out"])
        .arg(&killed)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill it once a few runs are in the partial log.
    let log = killed.join(".partial").join("runs.csv");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::fs::read_to_string(&log).map_or(0, |t| t.lines().count()) < 6 {
        assert!(std::time::Instant::now() < deadline, "the sweep logged no runs");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!killed.join("manifest.json").exists(), "killed before the end (60 runs)");
    let logged = std::fs::read_to_string(&log).unwrap().lines().count() - 1;
    dsim()
        .arg("sweep")
        .args(longer)
        .args(["--jobs", "2", "--out"])
        .arg(&killed)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--resume"));
    let assert = dsim()
        .arg("sweep")
        .args(longer)
        .args(["--jobs", "2", "--resume", "--out"])
        .arg(&killed)
        .assert()
        .success();
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains(&format!("60 runs ({logged} resumed)")), "{stdout}");
    same(&whole, &killed);
}

#[test]
fn default_sweep_runs_both_protocols_and_merges_per_protocol() {
    let root = tempfile::tempdir().unwrap();
    let r = |name: &str| root.path().join(name);
    dsim()
        .args(["sweep", "--seeds", "1", "--set", "duration_ms=1500", "--out"])
        .arg(r("whole"))
        .assert()
        .success();
    for protocol in ["raft", "eventual"] {
        let runs = std::fs::read_to_string(r("whole").join(protocol).join("runs.csv")).unwrap();
        let drops: Vec<&str> = runs.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
        assert_eq!(
            drops,
            ["0.00", "0.05", "0.10", "0.15", "0.20", "0.25", "0.30", "0.35", "0.40", "0.45", "0.50"]
        );
        assert!(r("whole").join(protocol).join("manifest.json").exists());
    }
    assert!(r("whole").join("raft/plots/first_leader_us.svg").exists());
    assert!(r("whole").join("eventual/plots/tvis_p_consistent_t.svg").exists());
    for k in 1..=2 {
        let shard = format!("{k}/2");
        dsim()
            .args(["sweep", "--seeds", "1", "--set", "duration_ms=1500", "--shard", &shard, "--out"])
            .arg(r(&format!("s{k}")))
            .assert()
            .success();
    }
    dsim().arg("merge").arg(r("s1")).arg(r("s2")).arg("--out").arg(r("merged")).assert().success();
    same(&r("whole").join("raft"), &r("merged").join("raft"));
    same(&r("whole").join("eventual"), &r("merged").join("eventual"));
}

#[test]
fn replay_confirms_its_trace_and_pinpoints_an_edit() {
    let root = tempfile::tempdir().unwrap();
    let trace = root.path().join("t.csv");
    dsim().args(["run", "--set", "duration_ms=300", "--seed", "4", "--trace"]).arg(&trace).assert().success();
    dsim().arg("replay").arg(&trace).assert().success().stdout(predicate::str::contains("identical ("));
    dsim().arg("replay").arg(root.path().join("t.manifest.json")).assert().success();
    let text = std::fs::read_to_string(&trace).unwrap();
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let victim = lines.len() / 2;
    let seq = lines[victim].split(',').nth(1).unwrap().to_owned();
    lines[victim] = lines[victim].replacen(&format!(",{seq},"), &format!(",{seq},X"), 1);
    std::fs::write(&trace, lines.join("\n") + "\n").unwrap();
    dsim()
        .arg("replay")
        .arg(&trace)
        .assert()
        .code(1)
        .stdout(predicate::str::contains(format!("row seq={seq} (line {})", victim + 1)))
        .stdout(predicate::str::contains("recorded").and(predicate::str::contains("replayed")));
}

#[test]
fn violations_print_an_exact_replay_command_and_check_exits_1() {
    let root = tempfile::tempdir().unwrap();
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("sims/eventual_seed.toml");
    let args = ["--set", "duration_ms=1500", "--param", "network.drop_probability=0.0,0.2", "--seeds", "2"];
    let out = root.path().join("v");
    let assert =
        dsim().arg("sweep").arg(&scenario).args(args).arg("--check").arg("--out").arg(&out).assert().code(1);
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let command =
        stdout.lines().find_map(|l| l.split_once(": dsim run ").map(|(_, c)| c.to_owned())).expect(&stdout);
    assert!(command.ends_with(" --seed 1") || command.ends_with(" --seed 2"), "{command}");
    // The printed command reproduces the run: same violation, same trace bytes as in runs.csv.
    let trace = root.path().join("replay.csv");
    let words: Vec<&str> = command.split(' ').collect();
    dsim().arg("run").args(&words).arg("--trace").arg(&trace).assert().code(1);
    let manifest = dsim::trace::manifest::Manifest::read(&root.path().join("replay.manifest.json")).unwrap();
    let runs = std::fs::read_to_string(out.join("runs.csv")).unwrap();
    assert!(
        runs.contains(&manifest.trace_sha256),
        "replayed trace hash {} is a row of runs.csv",
        manifest.trace_sha256
    );
    // Without --check the same sweep reports the violations but succeeds.
    let again = root.path().join("v2");
    dsim()
        .arg("sweep")
        .arg(&scenario)
        .args(args)
        .arg("--out")
        .arg(&again)
        .assert()
        .success()
        .stdout(predicate::str::contains("replay with:"));
}

#[test]
fn a_scenario_sweep_without_out_goes_to_runs_not_the_committed_default() {
    let root = tempfile::tempdir().unwrap();
    dsim()
        .current_dir(root.path())
        .args(["sweep", "sims/raft_chaos.toml", "--seeds", "1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("runs/sweep-raft_chaos"));
    assert!(root.path().join("runs/sweep-raft_chaos/summary.csv").is_file());
    assert!(!root.path().join("results").exists(), "the default sweep's directory is untouched");
}

#[test]
fn chaos_that_can_take_down_a_majority_is_warned_about() {
    let root = tempfile::tempdir().unwrap();
    dsim()
        .current_dir(root.path())
        .args(["sweep", "sims/raft_chaos.toml", "--seeds", "1"])
        .args(["--set", "chaos.max_down=3", "--out", "o"])
        .assert()
        .success()
        .stderr(predicate::str::contains("chaos.max_down = 3: a majority of the 5 nodes (3)"));
}
