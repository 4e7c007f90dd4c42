//! Outputs never destroy inputs or special files, `check` and `replay` cannot be fooled by an edited
//! trace or manifest, a closed stdout is not a crash, and `--set` order does not matter (issue 10).
//! Special files are a FIFO and a symlink made in a temporary directory — never a real device.

use std::path::{Path, PathBuf};
use std::process::{Command as StdCommand, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

fn dsim() -> Command {
    Command::cargo_bin("dsim").unwrap()
}

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("dsim")
}

/// `dsim args…` must exit 2 with one stderr line holding every needle.
fn refused(args: &[&str], needles: &[&str]) {
    let out = dsim().args(args).assert().code(2).get_output().clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line expected, got:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} missing from: {stderr}");
    }
}

/// A short Raft trace in `dir`: (trace, manifest).
fn short_trace(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let trace = dir.join(format!("{name}.csv"));
    dsim().args(["run", "--set", "duration_ms=2000", "--trace"]).arg(&trace).assert().success();
    (trace.clone(), dir.join(format!("{name}.manifest.json")))
}

fn mkfifo(path: &Path) {
    let status = StdCommand::new("mkfifo").arg(path).status().expect("mkfifo");
    assert!(status.success());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).unwrap().file_type().is_fifo()
}

fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_fifo_or_a_symlink_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.csv");
    mkfifo(&fifo);
    let s = fifo.to_str().unwrap();
    refused(&["run", "--set", "duration_ms=200", "--trace", s], &[s, "special file", "- for stdout"]);
    assert!(is_fifo(&fifo));

    let target = dir.path().join("real.txt");
    std::fs::write(&target, "keep me").unwrap();
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let l = link.to_str().unwrap();
    refused(&["run", "--set", "duration_ms=200", "--trace", l], &[l, "symlink"]);
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");

    let (trace, _) = short_trace(dir.path(), "t");
    for format in ["svg", "shiviz", "perfetto"] {
        refused(&["export", trace.to_str().unwrap(), "--format", format, "--out", s], &[s, "special file"]);
        refused(&["export", trace.to_str().unwrap(), "--format", format, "--out", l], &[l, "symlink"]);
    }
    assert!(is_fifo(&fifo));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    // A manifest that would land on a FIFO is refused before the run, too.
    let fifo_manifest = dir.path().join("m.manifest.json");
    mkfifo(&fifo_manifest);
    refused(
        &["run", "--set", "duration_ms=200", "--trace", dir.path().join("m.csv").to_str().unwrap()],
        &["m.manifest.json", "special file"],
    );
    assert!(!dir.path().join("m.csv").exists());
    assert!(names(dir.path()).iter().all(|n| !n.ends_with(".tmp")), "{:?}", names(dir.path()));
}

#[test]
fn an_output_equal_to_an_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, manifest) = short_trace(dir.path(), "t");
    let before = std::fs::read(&trace).unwrap();
    let t = trace.to_str().unwrap();
    refused(&["export", t, "--format", "shiviz", "--out", t], &["is the input", t]);
    refused(&["export", t, "--format", "svg", "--out", manifest.to_str().unwrap()], &["is the input"]);
    // The same file under another spelling.
    let other = dir.path().join(".").join("t.csv");
    refused(&["export", t, "--format", "perfetto", "--out", other.to_str().unwrap()], &["is the input"]);
    assert_eq!(std::fs::read(&trace).unwrap(), before);

    let scenario = dir.path().join("x.toml");
    std::fs::write(&scenario, "nodes = 3\nduration_ms = 100\n").unwrap();
    let x = scenario.to_str().unwrap();
    refused(&["run", x, "--trace", x], &["is the input", x]);
    assert_eq!(std::fs::read_to_string(&scenario).unwrap(), "nodes = 3\nduration_ms = 100\n");
    // x.toml's manifest would be x.manifest.json: a scenario by that name is protected too.
    let named = dir.path().join("y.manifest.json");
    std::fs::write(&named, "nodes = 3\nduration_ms = 100\n").unwrap();
    refused(
        &["run", named.to_str().unwrap(), "--trace", dir.path().join("y.csv").to_str().unwrap()],
        &["is the input"],
    );
}

#[test]
fn trace_to_stdout_and_missing_directories() {
    let out = dsim().args(["run", "--set", "duration_ms=300", "--trace", "-"]).assert().success();
    let out = out.get_output();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("time_us,seq,node,event"), "{}", &stdout[..stdout.len().min(200)]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("dsim run:"));
    // A trace in a directory that does not exist yet: created, no temp path in any message.
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("runs/deeper/t.csv");
    dsim().args(["run", "--set", "duration_ms=300", "--trace"]).arg(&trace).assert().success();
    assert!(trace.exists() && dir.path().join("runs/deeper/t.manifest.json").exists());
}

/// Runs `dsim args…` with its stdout a pipe whose reader is already gone.
fn with_closed_stdout(args: &[&str]) -> (Option<i32>, String) {
    let mut child = StdCommand::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_closed_stdout_ends_quietly_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, manifest) = short_trace(dir.path(), "t");
    let (t, m) = (trace.to_str().unwrap(), manifest.to_str().unwrap());
    let sweep_out = dir.path().join("sweep");
    let runs: Vec<Vec<&str>> = vec![
        vec!["run", "--set", "duration_ms=300"],
        vec!["run", "--set", "duration_ms=300", "--json"],
        vec!["run", "--set", "duration_ms=300", "--trace", "-"],
        vec!["run", "--dump-scenario"],
        vec!["check", t],
        vec!["replay", m],
        vec!["export", t, "--format", "shiviz", "--out", "-"],
        vec![
            "sweep",
            "--param",
            "network.drop_probability=0,0.1",
            "--seeds",
            "1",
            "--set",
            "duration_ms=300",
        ],
        vec!["--help"],
    ];
    for mut args in runs {
        if args[0] == "sweep" {
            args.extend(["--out", sweep_out.to_str().unwrap()]);
        }
        let (code, stderr) = with_closed_stdout(&args);
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn another_stdout_error_is_one_line_and_exit_2() {
    // stdout a file that may not grow (`ulimit -f 0`, SIGXFSZ ignored): every write fails with
    // EFBIG, which is not a closed pipe. (No real device is used.)
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.txt");
    let script = format!(
        "trap '' XFSZ; ulimit -f 0; exec '{}' run --set duration_ms=300 > '{}'",
        bin().display(),
        file.display()
    );
    let out = StdCommand::new("sh").args(["-c", &script]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("stdout") && !stderr.contains("panicked"), "{stderr}");
}

#[test]
fn check_refuses_a_truncated_or_edited_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, _) = short_trace(dir.path(), "t");
    let t = trace.to_str().unwrap();
    dsim().args(["check", t]).assert().code(0);
    // Truncated at a line boundary: still a well-formed trace, but not the one recorded.
    let text = std::fs::read_to_string(&trace).unwrap();
    let half: String = text.lines().take(text.lines().count() / 2).map(|l| format!("{l}\n")).collect();
    std::fs::write(&trace, half).unwrap();
    let out = dsim().args(["check", t]).assert().code(1).get_output().stdout.clone();
    let stdout = String::from_utf8_lossy(&out);
    assert!(stdout.contains("truncated/modified"), "{stdout}");
    // --no-manifest checks the file as it is.
    dsim().args(["check", t, "--no-manifest", "--protocol", "raft"]).assert().code(0);
    refused(&["check", t, "--no-manifest"], &["--protocol"]);
}

#[test]
fn check_refuses_a_protocol_that_contradicts_the_manifest_and_names_a_missing_file_first() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("e.csv");
    let run = dsim()
        .args(["run", "sims/eventual.toml", "--set", "duration_ms=1000", "--trace"])
        .arg(&trace)
        .output();
    let code = run.unwrap().status.code();
    let t = trace.to_str().unwrap();
    refused(&["check", t, "--protocol", "raft"], &["--protocol", "raft", "eventual"]);
    // The manifest's protocol, named again, checks as the run did.
    assert_eq!(dsim().args(["check", t, "--protocol", "eventual"]).output().unwrap().status.code(), code);
    let missing = dir.path().join("nope.csv");
    refused(&["check", missing.to_str().unwrap(), "--protocol", "bogus"], &["nope.csv", "No such file"]);
}

#[test]
fn replay_refuses_a_manifest_whose_seeds_disagree() {
    let dir = tempfile::tempdir().unwrap();
    let (_, manifest) = short_trace(dir.path(), "t");
    let mut json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let seed = json["seed"].as_u64().unwrap();
    json["seed"] = serde_json::json!(seed + 1);
    std::fs::write(&manifest, serde_json::to_string_pretty(&json).unwrap()).unwrap();
    refused(&["replay", manifest.to_str().unwrap()], &["seed", "scenario.seed", "edited"]);
}

#[test]
fn set_order_does_not_matter() {
    let a = ["raft.election_timeout_ms=[12,24]", "raft.heartbeat_ms=6"];
    let dump = |sets: &[&str]| {
        let mut cmd = dsim();
        cmd.args(["run", "--dump-scenario"]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        let out = cmd.assert().success().get_output().stdout.clone();
        String::from_utf8(out).unwrap()
    };
    let forward = dump(&a);
    assert_eq!(forward, dump(&[a[1], a[0]]));
    assert!(forward.contains("heartbeat_ms = 6"), "{forward}");
    // A bad combination still names the --sets involved (and not the unrelated one).
    let out = dsim()
        .args([
            "run",
            "--set",
            "raft.heartbeat_ms=500",
            "--set",
            "nodes=3",
            "--set",
            "raft.election_timeout_ms=[12,24]",
        ])
        .assert()
        .code(2)
        .get_output()
        .stderr
        .clone();
    let stderr = String::from_utf8_lossy(&out);
    assert!(
        stderr.contains("--set raft.heartbeat_ms=500") && stderr.contains("--set raft.election_timeout_ms"),
        "{stderr}"
    );
    assert!(!stderr.contains("nodes=3"), "{stderr}");
}

#[test]
fn misleading_messages_name_the_real_cause() {
    refused(&["run", "--set", "faults.0.at_ms=5"], &["faults.0.at_ms", "does not have"]);
    refused(&["run", "--set", "liveness.after_ms=70000"], &["liveness.after_ms = 70000", "duration_ms"]);
}

#[test]
fn the_default_svg_export_draws_the_first_window_that_fits() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("raft.csv");
    dsim().args(["run", "--trace"]).arg(&trace).assert().success();
    let out = dsim().args(["export", trace.to_str().unwrap(), "--format", "svg"]).assert().success();
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(stderr.contains("--from-us"), "{stderr}");
    let svg = std::fs::read_to_string(dir.path().join("raft.svg")).unwrap();
    assert!(svg.starts_with("<svg") || svg.starts_with("<?xml"), "{}", &svg[..100]);
    // An explicit window that is too large is still refused with the way out.
    refused(
        &["export", trace.to_str().unwrap(), "--format", "svg", "--to-us", "10000000"],
        &["--from-us/--to-us", "at most 5000"],
    );
}

#[test]
fn sigint_during_a_traced_run_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("long.csv");
    let child = StdCommand::new(bin())
        .args(["run", "--set", "duration_ms=36000000", "--trace"])
        .arg(&trace)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while !names(dir.path()).iter().any(|n| n.ends_with(".tmp")) {
        assert!(started.elapsed() < Duration::from_secs(20), "no temporary file appeared");
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    let status = StdCommand::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(names(dir.path()), Vec::<String>::new());
}

#[test]
fn a_long_run_is_silent_on_stderr_when_piped() {
    // Over 2 s of wall time on any machine; the progress line is for terminals only.
    let out = dsim()
        .args(["run", "--set", "duration_ms=40000000", "--set", "workload.rate_per_s=0"])
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
}

#[test]
fn settings_without_effect_are_warned_about() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = dir.path().join("late.toml");
    std::fs::write(
        &scenario,
        "nodes = 3\nduration_ms = 500\n[workload]\nstop_ms = 900\nrequests_max = 3\n\
         [[faults]]\naction = 'crash'\nnode = 'n1'\nat_ms = 800\n",
    )
    .unwrap();
    let out = dsim().arg("run").arg(&scenario).arg("--json").assert().success().get_output().clone();
    let stderr = String::from_utf8_lossy(&out.stderr);
    for needle in ["faults[0].at_ms = 800", "workload.stop_ms = 900", "workload.requests_max = 3"] {
        assert!(
            stderr.lines().any(|l| l.starts_with("dsim: warning: ") && l.contains(needle)),
            "{needle}: {stderr}"
        );
    }
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["warnings"].as_array().map(|w| w.len()), Some(3), "{json}");
    // The text summary says it too, on a `note` line: a long run does not go quiet unexplained.
    let out = dsim().arg("run").arg(&scenario).assert().success().get_output().clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.lines().any(|l| l.starts_with("  note ") && l.contains("workload.requests_max = 3: reached")),
        "{stdout}"
    );
    // A run without such settings warns about nothing.
    let out = dsim().args(["run", "--set", "duration_ms=300"]).assert().success().get_output().clone();
    assert_eq!(String::from_utf8_lossy(&out.stderr), "");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("  note "));
    refused(
        &["sweep", "--param", "nodes=3", "--shard", "1/2", "--shard-count", "2"],
        &["--shard-count", "auto"],
    );
}
