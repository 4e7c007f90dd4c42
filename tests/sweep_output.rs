//! A sweep's output directory (issue 10): unrelated files refuse it, the embedded `sims/` paths work
//! from any directory as with `run`, and rerunning a sweep leaves its committed files byte for byte
//! the same (wall time and host go to the git-ignored `timing.json`).

use std::path::Path;

use assert_cmd::Command;

fn dsim() -> Command {
    Command::cargo_bin("dsim").unwrap()
}

const SMALL: [&str; 6] =
    ["--set", "duration_ms=300", "--param", "network.drop_probability=0,0.1", "--seeds", "2"];

#[test]
fn an_out_directory_with_unrelated_files_is_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    let out = root.path().join("mine");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "precious").unwrap();
    let assert = dsim().arg("sweep").args(SMALL).arg("--out").arg(&out).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("notes.txt") && stderr.contains("nothing was written"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    // The default sweep's directory may hold only raft/ and eventual/.
    let assert = dsim()
        .args(["sweep", "--seeds", "1", "--set", "duration_ms=100", "--out"])
        .arg(&out)
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("notes.txt"), "{stderr}");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
}

#[test]
fn embedded_scenarios_sweep_from_any_directory() {
    let root = tempfile::tempdir().unwrap();
    dsim()
        .current_dir(root.path())
        .args([
            "sweep",
            "sims/eventual_seed.toml",
            "--set",
            "duration_ms=1500",
            "--param",
            "nodes=3",
            "--seeds",
            "1",
        ])
        .args(["--out", "s"])
        .assert()
        .success();
    assert!(root.path().join("s/runs.csv").exists());
}

#[test]
fn a_rerun_rewrites_the_committed_files_byte_for_byte() {
    let root = tempfile::tempdir().unwrap();
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    dsim().arg("sweep").args(SMALL).args(["--jobs", "2", "--out"]).arg(&a).assert().success();
    dsim().arg("sweep").args(SMALL).args(["--jobs", "1", "--out"]).arg(&b).assert().success();
    let manifest = std::fs::read_to_string(a.join("manifest.json")).unwrap();
    assert!(!manifest.contains("wall_s") && !manifest.contains("host"), "{manifest}");
    for name in ["manifest.json", "runs.csv", "summary.csv"] {
        assert_eq!(std::fs::read(a.join(name)).unwrap(), std::fs::read(b.join(name)).unwrap(), "{name}");
    }
    let timing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("timing.json")).unwrap()).unwrap();
    assert!(timing["wall_s"].as_f64().is_some() && timing["threads"] == 2, "{timing}");
    // The summary line says where to look.
    let assert = dsim().arg("sweep").args(SMALL).args(["--resume", "--out"]).arg(&a).assert().success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    assert!(stdout.contains("summary.csv") && stdout.contains("plots"), "{stdout}");
}

#[test]
fn merge_names_a_missing_directory() {
    let root = tempfile::tempdir().unwrap();
    let a = root.path().join("a");
    dsim().arg("sweep").args(SMALL).args(["--shard", "1/2", "--out"]).arg(&a).assert().success();
    let nope = root.path().join("nope");
    let assert =
        dsim().arg("merge").arg(&a).arg(&nope).arg("--out").arg(root.path().join("m")).assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("nope") && stderr.contains("No such file"), "{stderr}");
    assert!(!Path::new(&root.path().join("m")).exists());
}
