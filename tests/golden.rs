//! Golden traces: a few short runs kept in `tests/golden/` (trace CSV + manifest). Each is re-run
//! from its manifest and must reproduce the file byte for byte, so any change of behaviour — in
//! the kernel, a protocol, the trace format — shows up here with the first differing row.
//!
//! When a change is intended, regenerate them and commit the new files with the change:
//!
//! ```text
//! DSIM_UPDATE_GOLDEN=1 cargo test --test golden
//! git diff --stat tests/golden/
//! ```

use std::path::{Path, PathBuf};

use dsim::cli::replay::first_difference;
use dsim::harness::{self, Options};
use dsim::scenario::{Scenario, DEFAULT_EVENTUAL, DEFAULT_RAFT};
use dsim::trace::manifest::{manifest_path, Manifest};

/// The golden runs: (file stem, base scenario, overrides). Short, with loss and a crash, so that
/// elections, retransmissions and recovery all appear.
fn golden_runs() -> Vec<(&'static str, Scenario)> {
    let load = |(origin, text): (&str, &str), sets: &[&str]| {
        let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
        Scenario::from_str(origin, text, &sets).unwrap()
    };
    vec![
        ("raft-short", load(DEFAULT_RAFT, &["duration_ms=600", "seed=3", "network.drop_probability=0.1"])),
        (
            "raft-crash",
            load(
                DEFAULT_RAFT,
                &[
                    "duration_ms=900",
                    "seed=5",
                    "nodes=3",
                    "faults=[{action='crash', node='leader', at_ms=400, restart_after_ms=200}]",
                ],
            ),
        ),
        (
            "eventual-short",
            load(
                DEFAULT_EVENTUAL,
                &["duration_ms=1500", "seed=2", "workload.stop_ms=500", "network.drop_probability=0.2"],
            ),
        ),
    ]
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("golden")
}

#[test]
fn golden_traces_replay_byte_for_byte() {
    let dir = golden_dir();
    if std::env::var_os("DSIM_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, scenario) in golden_runs() {
            let path = dir.join(format!("{name}.csv"));
            harness::run(&scenario, Options { trace: Some(&path), hash: false, history: None }).unwrap();
            eprintln!("golden: rewrote {}", path.display());
        }
    }
    let temp = tempfile::tempdir().unwrap();
    for (name, scenario) in golden_runs() {
        let recorded = dir.join(format!("{name}.csv"));
        let manifest = Manifest::read(&manifest_path(&recorded)).unwrap_or_else(|e| {
            panic!("{e}: run DSIM_UPDATE_GOLDEN=1 cargo test --test golden to create it")
        });
        assert_eq!(
            manifest.scenario, scenario,
            "{name}: the golden scenario changed; regenerate with DSIM_UPDATE_GOLDEN=1 cargo test --test golden"
        );
        let fresh = temp.path().join(format!("{name}.csv"));
        let outcome = harness::run(&manifest.scenario, Options { trace: Some(&fresh), hash: false, history: None }).unwrap();
        if let Some(d) = first_difference(&recorded, &fresh).unwrap() {
            panic!(
                "{name}: behaviour changed at line {} (seq {:?})\n  golden  {}\n  now     {}\n\
                 If intended: DSIM_UPDATE_GOLDEN=1 cargo test --test golden, and commit tests/golden/",
                d.line,
                d.seq,
                d.recorded.as_deref().unwrap_or("(end)"),
                d.replayed.as_deref().unwrap_or("(end)")
            );
        }
        assert_eq!(
            outcome.trace_sha256.as_deref(),
            Some(manifest.trace_sha256.as_str()),
            "{name}: manifest hash"
        );
        assert!(outcome.ok(), "{name}: golden runs have no violations");
    }
}

#[test]
fn golden_runs_are_short_and_varied() {
    for (name, scenario) in golden_runs() {
        let manifest = Manifest::read(&manifest_path(&golden_dir().join(format!("{name}.csv")))).unwrap();
        assert!(
            manifest.rows > 100 && manifest.trace_bytes < 300_000,
            "{name}: {} rows, {} bytes",
            manifest.rows,
            manifest.trace_bytes
        );
        assert_eq!(manifest.scenario.protocol, scenario.protocol);
    }
}
