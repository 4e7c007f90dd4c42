//! Sweep engine tests with a toy gossip protocol (the sweep must work for any protocol): thread
//! count, shards + merge and resume all give byte-identical files; a directory holding another
//! sweep's files is refused without touching it.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use dsim::check::{Checker, Violation};
use dsim::harness::{self, Model, Options};
use dsim::metrics::{MetricValue, Metrics};
use dsim::scenario::Scenario;
use dsim::sweep::output::{self, MANIFEST, RUNS, SUMMARY, TIMING};
use dsim::sweep::runner::{execute, ExecOptions, ProgressMode};
use dsim::sweep::{Param, RunRecord, Shard, SweepSpec};
use dsim::trace::{Event, Record};
use dsim::Error;

mod common;

use common::Gossip;

/// delivered (count), first_drop_us (missing without drops), drop_fraction (float).
#[derive(Default)]
struct ToyMetrics {
    sent: u64,
    delivered: u64,
    dropped: u64,
    first_drop_us: Option<u64>,
}

impl Metrics for ToyMetrics {
    fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Send => self.sent += 1,
            Event::Deliver => self.delivered += 1,
            Event::Drop => {
                self.dropped += 1;
                self.first_drop_us.get_or_insert(row.time_us);
            }
            _ => {}
        }
    }
    fn finish(&mut self, _end_us: u64) -> Vec<(&'static str, MetricValue)> {
        vec![
            ("sent", MetricValue::Int(self.sent)),
            ("delivered", MetricValue::Int(self.delivered)),
            ("first_drop_us", self.first_drop_us.map_or(MetricValue::Missing, MetricValue::Int)),
            ("drop_fraction", MetricValue::Float(self.dropped as f64 / self.sent.max(1) as f64)),
        ]
    }
}

/// A "property" that fails when more than 8 messages are lost: some runs of the grid violate it.
#[derive(Default)]
struct FewDrops(u64);

impl Checker for FewDrops {
    fn name(&self) -> &'static str {
        "few_drops"
    }
    fn observe(&mut self, row: &Record, out: &mut Vec<Violation>) {
        if row.event == Event::Drop {
            self.0 += 1;
            if self.0 == 9 {
                out.push(Violation {
                    property: "few_drops",
                    time_us: row.time_us,
                    seq: row.seq,
                    message: "9th drop".into(),
                });
            }
        }
    }
}

struct Toy;

impl Model for Toy {
    type Node = Gossip;
    fn nodes(s: &Scenario) -> Vec<Gossip> {
        (0..s.nodes).map(|_| Gossip::default()).collect()
    }
    fn checkers(_: &Scenario) -> Vec<Box<dyn Checker>> {
        vec![Box::new(FewDrops::default())]
    }
    fn metrics(_: &Scenario) -> Box<dyn Metrics> {
        Box::new(ToyMetrics::default())
    }
}

fn toy_run(s: &Scenario) -> dsim::Result<RunRecord> {
    let outcome = harness::run_model::<Toy>(s, Options { trace: None, hash: true, history: None })?;
    Ok(RunRecord::from_outcome(&outcome))
}

const TOY: &str = "nodes = 4\nduration_ms = 300\n[workload]\nrate_per_s = 0\n";

fn spec(params: &[&str], seeds: u64, shard: Option<Shard>) -> SweepSpec {
    let params = params.iter().map(|p| Param::parse(p).unwrap()).collect();
    SweepSpec::new(
        "toy.toml",
        false,
        TOY,
        vec!["network.duplicate_probability=0.05".into()],
        params,
        seeds,
        7,
        shard,
    )
    .unwrap()
}

fn grid_spec(shard: Option<Shard>) -> SweepSpec {
    spec(&["network.drop_probability=0:0.4:0.1", "nodes=3,4"], 3, shard)
}

fn options(threads: usize, resume: bool) -> ExecOptions {
    ExecOptions { threads, resume, progress: ProgressMode::Hidden }
}

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()))
}

fn assert_same_output(a: &Path, b: &Path) {
    for name in [RUNS, SUMMARY] {
        assert!(read(a, name) == read(b, name), "{name} differs between {} and {}", a.display(), b.display());
    }
    let (ma, mb) = (
        output::read_manifest(&a.join(MANIFEST)).unwrap(),
        output::read_manifest(&b.join(MANIFEST)).unwrap(),
    );
    assert_eq!(ma.files, mb.files, "every file, plots included, hashes the same");
}

#[test]
fn threads_and_shards_give_byte_identical_files() {
    let root = tempfile::tempdir().unwrap();
    let (one, two, merged) = (root.path().join("j1"), root.path().join("j2"), root.path().join("merged"));
    let serial = execute(&grid_spec(None), &one, options(1, false), &toy_run).unwrap();
    execute(&grid_spec(None), &two, options(2, false), &toy_run).unwrap();
    assert_same_output(&one, &two);
    let mut shards = Vec::new();
    for k in 1..=3 {
        let dir = root.path().join(format!("shard{k}"));
        let result =
            execute(&grid_spec(Some(Shard { index: k, count: 3 })), &dir, options(2, false), &toy_run)
                .unwrap();
        assert_eq!(result.table.rows.len(), 10, "30 jobs split 10/10/10");
        shards.push(dir);
    }
    // Merge order does not matter.
    shards.reverse();
    let manifest = output::merge(&shards, &merged).unwrap();
    assert_same_output(&one, &merged);
    assert_eq!(manifest.shard, None);
    assert_eq!(manifest.runs, 30);
    assert_eq!(manifest.merged_from.len(), 3);

    let runs = String::from_utf8(read(&one, RUNS)).unwrap();
    let mut lines = runs.lines();
    assert_eq!(
        lines.next().unwrap(),
        "network.drop_probability,nodes,seed,events,sim_time_us,sent,delivered,first_drop_us,drop_fraction,violations,first_violation,trace_sha256"
    );
    assert!(
        lines.next().unwrap().starts_with("0.0,3,7,"),
        "sorted by grid point, then seed; seeds start at 7"
    );
    assert_eq!(runs.lines().count(), 31);
    assert!(runs.contains(",few_drops,"), "some runs violate");
    assert_eq!(serial.manifest.violating_runs as usize, serial.violations().len());
    let summary = String::from_utf8(read(&one, SUMMARY)).unwrap();
    assert!(summary.starts_with("network.drop_probability,nodes,metric,runs,violating_runs,count,mean,p50,p90,p99,min,max,ci95_lo,ci95_hi\n"));
    assert!(
        summary.contains("\n0.0,3,first_drop_us,3,0,0,,,,,,,,\n"),
        "no drops at 0.0: count 0, empty stats\n{summary}"
    );
    assert!(serial.manifest.files.contains_key("plots/delivered.svg"));
    assert!(one.join("plots/drop_fraction.svg").exists());
    assert!(!one.join(".partial").exists(), "the partial log is removed once the manifest is written");
}

#[test]
fn same_seed_is_paired_across_drop_rates() {
    // The run seed does not depend on the grid point: at drop rate 0 and 0.3 seed s draws the
    // same timer sequence, so the runs send the same number of pings.
    let root = tempfile::tempdir().unwrap();
    let result = execute(
        &spec(&["network.drop_probability=0.0,0.3"], 2, None),
        root.path(),
        options(2, false),
        &toy_run,
    )
    .unwrap();
    let cell = |row: usize, column: &str| {
        let i = result.table.columns.iter().position(|c| c == column).unwrap();
        result.table.rows[row].cells[i].clone()
    };
    let seeds: Vec<String> = (0..4).map(|r| cell(r, "seed")).collect();
    assert_eq!(seeds, ["7", "8", "7", "8"]);
    assert_eq!(cell(0, "sent"), cell(2, "sent"), "seed 7: same sends at drop 0 and 0.3");
    assert_eq!(cell(1, "sent"), cell(3, "sent"), "seed 8: same sends at drop 0 and 0.3");
    assert_ne!(cell(0, "sent"), cell(1, "sent"), "different seeds differ");
    assert_eq!(cell(0, "drop_fraction"), "0.000000");
    assert_ne!(cell(2, "drop_fraction"), "0.000000");
}

#[test]
fn resume_after_interruption_ends_with_the_same_files() {
    let root = tempfile::tempdir().unwrap();
    let (whole, resumed) = (root.path().join("whole"), root.path().join("resumed"));
    execute(&grid_spec(None), &whole, options(2, false), &toy_run).unwrap();

    // Interrupt: the 12th run fails (as a kill would stop it); 11 are in the partial log.
    let calls = AtomicUsize::new(0);
    let failing = |s: &Scenario| {
        if calls.fetch_add(1, Ordering::SeqCst) == 11 {
            return Err(Error::Mismatch("interrupted".into()));
        }
        toy_run(s)
    };
    assert!(execute(&grid_spec(None), &resumed, options(1, false), &failing).is_err());
    assert!(!resumed.join(MANIFEST).exists(), "no manifest: the output is not complete");
    let log = resumed.join(".partial/runs.csv");
    let text = std::fs::read_to_string(&log).unwrap();
    assert_eq!(text.lines().count(), 12, "header + 11 runs");
    // The process died in the middle of writing a 12th line.
    std::fs::write(&log, format!("{text}0.2,4,8,12")).unwrap();

    let err = execute(&grid_spec(None), &resumed, options(2, false), &toy_run).unwrap_err().to_string();
    assert!(err.contains("--resume"), "without --resume the partial log is kept, not overwritten: {err}");
    assert_eq!(std::fs::read_to_string(&log).unwrap().lines().count(), 13);

    let counted = AtomicUsize::new(0);
    let counting = |s: &Scenario| {
        counted.fetch_add(1, Ordering::SeqCst);
        toy_run(s)
    };
    let result = execute(&grid_spec(None), &resumed, options(2, true), &counting).unwrap();
    assert_eq!(counted.load(Ordering::SeqCst), 30 - 11, "finished runs are not redone");
    assert_eq!(result.ran, 19);
    assert_same_output(&whole, &resumed);

    // Resuming a finished sweep runs nothing and rewrites the same files.
    counted.store(0, Ordering::SeqCst);
    execute(&grid_spec(None), &resumed, options(2, true), &counting).unwrap();
    assert_eq!(counted.load(Ordering::SeqCst), 0);
    assert_same_output(&whole, &resumed);
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> =
        walk(dir).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn another_sweeps_directory_is_refused_untouched() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("out");
    execute(&spec(&["network.drop_probability=0.0,0.1"], 2, None), &dir, options(2, false), &toy_run)
        .unwrap();
    let before = snapshot(&dir);
    for (other, what) in [
        (spec(&["network.drop_probability=0.0,0.2"], 2, None), "grid"),
        (spec(&["network.drop_probability=0.0,0.1"], 3, None), "seeds"),
        (spec(&["network.drop_probability=0.0,0.1"], 2, Some(Shard { index: 1, count: 2 })), "shard"),
    ] {
        let err = execute(&other, &dir, options(1, false), &toy_run).unwrap_err().to_string();
        assert!(err.starts_with("--out ") && err.contains(what), "{err}");
        assert!(err.contains("nothing was written"), "{err}");
        assert_eq!(snapshot(&dir), before, "refused directory unchanged");
    }
    // Stray sweep files without a manifest are not overwritten either.
    let stray = root.path().join("stray");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join(RUNS), "a,b\n").unwrap();
    let err = execute(&grid_spec(None), &stray, options(1, false), &toy_run).unwrap_err().to_string();
    assert!(err.contains("runs.csv but no manifest.json"), "{err}");
    assert_eq!(std::fs::read_to_string(stray.join(RUNS)).unwrap(), "a,b\n");
    // The same sweep again is fine and gives the same files, the manifest included (only the
    // git-ignored timing.json records wall time).
    execute(&spec(&["network.drop_probability=0.0,0.1"], 2, None), &dir, options(1, false), &toy_run)
        .unwrap();
    assert_eq!(
        snapshot(&dir).iter().filter(|(n, _)| !n.ends_with(TIMING)).collect::<Vec<_>>(),
        before.iter().filter(|(n, _)| !n.ends_with(TIMING)).collect::<Vec<_>>()
    );
}

#[test]
fn merge_checks_the_shards() {
    let root = tempfile::tempdir().unwrap();
    let shard = |k: u64, n: u64, name: &str| {
        let dir = root.path().join(name);
        execute(&grid_spec(Some(Shard { index: k, count: n })), &dir, options(2, false), &toy_run).unwrap();
        dir
    };
    let (a, b, c) = (shard(1, 3, "a"), shard(2, 3, "b"), shard(3, 3, "c"));
    let out = root.path().join("m");
    let err = |inputs: &[&Path]| {
        let inputs: Vec<_> = inputs.iter().map(|p| p.to_path_buf()).collect();
        output::merge(&inputs, &out).unwrap_err().to_string()
    };
    assert!(err(&[&a, &b]).contains("shard 3/3 is missing"), "{}", err(&[&a, &b]));
    assert!(err(&[&a, &b, &b, &c]).contains("given twice"));
    let other = root.path().join("other");
    execute(
        &spec(&["network.drop_probability=0:0.4:0.1"], 3, Some(Shard { index: 3, count: 3 })),
        &other,
        options(2, false),
        &toy_run,
    )
    .unwrap();
    assert!(err(&[&a, &b, &other]).contains("not shards of one sweep"), "{}", err(&[&a, &b, &other]));
    let half = root.path().join("half");
    execute(&grid_spec(Some(Shard { index: 1, count: 2 })), &half, options(2, false), &toy_run).unwrap();
    assert!(err(&[&a, &half]).contains("one of 3"), "{}", err(&[&a, &half]));
    // A shard's runs.csv edited after the fact is caught by its hash.
    let mut edited = std::fs::read_to_string(c.join(RUNS)).unwrap();
    edited = edited.replacen(",0,,", ",1,,", 1);
    std::fs::write(c.join(RUNS), edited).unwrap();
    assert!(err(&[&a, &b, &c]).contains("changed after the sweep"), "{}", err(&[&a, &b, &c]));
    assert!(!out.exists(), "failed merges write nothing");
}

#[test]
fn too_many_shards_is_an_error() {
    let root = tempfile::tempdir().unwrap();
    let s = spec(&[], 2, Some(Shard { index: 3, count: 3 }));
    let err = execute(&s, root.path(), options(1, false), &toy_run).unwrap_err().to_string();
    assert!(err.starts_with("--shard \"3/3\""), "{err}");
}
