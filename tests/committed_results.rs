//! The committed results regenerate byte for byte from the current code (issue 10): the export
//! example (results/export/, all five files, with the commands its README gives) and a slice of the
//! default sweep (every run of shard 1/20 must be a row of results/sweep/*/runs.csv, same header).
//!
//! When a model changes by design this fails, by design: regenerate with the commands in
//! results/README.md and results/export/README.md and commit the new files with the change.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn dsim() -> Command {
    Command::cargo_bin("dsim").unwrap()
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

const HINT: &str = "the committed results are stale: regenerate them (results/README.md)";

#[test]
fn the_export_example_regenerates_identically() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("raft-election.csv");
    dsim()
        .args(["run", "--seed", "3", "--set", "duration_ms=400", "--set", "network.drop_probability=0.1"])
        .args(["--set", "workload.rate_per_s=20", "--trace"])
        .arg(&trace)
        .assert()
        .success();
    for format in ["perfetto", "shiviz", "svg"] {
        dsim().arg("export").arg(&trace).args(["--format", format]).assert().success();
    }
    for name in [
        "raft-election.csv",
        "raft-election.manifest.json",
        "raft-election.perfetto.json",
        "raft-election.shiviz.log",
        "raft-election.svg",
    ] {
        let fresh = std::fs::read(dir.path().join(name)).unwrap();
        let committed = std::fs::read(repo("results/export").join(name)).unwrap();
        assert!(fresh == committed, "results/export/{name} differs from a fresh export: {HINT}");
    }
}

#[test]
fn a_slice_of_the_default_sweep_regenerates_identically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sweep");
    dsim().args(["sweep", "--shard", "1/20", "--jobs", "2", "--out"]).arg(&out).assert().success();
    for protocol in ["raft", "eventual"] {
        let fresh = std::fs::read_to_string(out.join(protocol).join("runs.csv")).unwrap();
        let committed =
            std::fs::read_to_string(repo("results/sweep").join(protocol).join("runs.csv")).unwrap();
        let (fresh_header, committed_header) = (fresh.lines().next(), committed.lines().next());
        assert_eq!(fresh_header, committed_header, "results/sweep/{protocol}/runs.csv header: {HINT}");
        let rows: std::collections::BTreeSet<&str> = committed.lines().skip(1).collect();
        let mut checked = 0;
        for line in fresh.lines().skip(1) {
            assert!(
                rows.contains(line),
                "results/sweep/{protocol}/runs.csv lacks the fresh row {line}: {HINT}"
            );
            checked += 1;
        }
        assert!(checked >= 100, "shard 1/20 of 2,200 runs holds 110 per protocol; got {checked}");
    }
}
