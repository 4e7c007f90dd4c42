//! Runs one scenario end to end: builds the protocol's nodes, workload, checkers and metrics, drives
//! the kernel's runner, and streams every row to the trace writer, the checkers and the metrics.
//!
//! This is the one place that knows both the kernel and the protocols; `dsim run`, sweeps and
//! replays all come through [`run`], so they cannot disagree about what a (scenario, seed) means.

use std::path::Path;

use crate::check::{self, CheckSet, Checker, Violation};
use crate::error::{Error, Result};
use crate::eventual::EventualNode;
use crate::lin::history::{HistoryBuilder, Source};
use crate::metrics::eventual::EventualMetrics;
use crate::metrics::raft::RaftMetrics;
use crate::metrics::{MetricValue, Metrics};
use crate::protocol::Protocol;
use crate::raft::{RaftConfig, RaftNode};
use crate::scenario::{ProtocolKind, Scenario};
use crate::sim::runner::{RowSink, RunStats, Runner};
use crate::sim::schedule::Schedule;
use crate::sim::NodeId;
use crate::trace::manifest::{manifest_path, Manifest, FORMAT};
use crate::trace::writer::RowEncoder;
use crate::trace::{Event, Record, TraceInfo, TraceWriter};
use crate::workload::OpenLoop;

/// A protocol family as the harness needs it.
pub trait Model {
    type Node: Protocol;
    fn nodes(scenario: &Scenario) -> Vec<Self::Node>;
    fn checkers(scenario: &Scenario) -> Vec<Box<dyn Checker>>;
    fn metrics(scenario: &Scenario) -> Box<dyn Metrics>;

    /// The checkers of a run driven by `schedule` (a checker whose premise the schedule breaks,
    /// e.g. "no message is lost", must not be installed).
    fn checkers_scheduled(scenario: &Scenario, _schedule: Option<&Schedule>) -> Vec<Box<dyn Checker>> {
        Self::checkers(scenario)
    }
}

/// What to do with the rows besides checking and measuring them.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options<'a> {
    /// Write the CSV trace (and its manifest) here.
    pub trace: Option<&'a Path>,
    /// Hash the trace bytes even when no file is written (sweeps record the hash for replays).
    pub hash: bool,
    /// Write the run's client history here as Jepsen EDN (one op map per line), so Knossos,
    /// Porcupine or `dsim lincheck` can check it.
    pub history: Option<&'a Path>,
}

/// Everything a run produced.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub stats: RunStats,
    pub metrics: Vec<(&'static str, MetricValue)>,
    pub violations: Vec<Violation>,
    pub violations_total: u64,
    pub trace: Option<TraceInfo>,
    /// SHA-256 of the trace bytes, when a trace was written or hashing was asked for.
    pub trace_sha256: Option<String>,
    /// The run's schedule, when [`Scheduling::record`] asked for it.
    pub schedule: Option<Schedule>,
}

/// How a run relates to a schedule (docs/schedule.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct Scheduling<'a> {
    /// Drive the run by this schedule instead of the fault, chaos and network draws.
    pub replay: Option<&'a Schedule>,
    /// Record the run's schedule into [`Outcome::schedule`].
    pub record: bool,
    /// The file `replay` was read from (named in the trace's manifest).
    pub replay_file: Option<&'a Path>,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.violations_total == 0
    }
}

/// Where a run's rows go.
enum Output {
    None,
    File(TraceWriter),
    Hash(RowEncoder<std::io::Sink>),
}

struct HarnessSink {
    output: Output,
    output_error: Option<Error>,
    checks: CheckSet,
    metrics: Box<dyn Metrics>,
    /// Publish each row's time to [`progress`] (only `dsim run` on a terminal asks).
    progress: bool,
    /// The client history being collected for `Options::history`.
    history: Option<HistoryBuilder>,
}

/// A run's progress as a display reads it from another thread: the simulated time and rows so far.
/// Written only when [`progress::enable`] was called (sweeps never do), read by `dsim run`'s
/// progress line; nothing the simulation computes reads it.
pub mod progress {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

    static ENABLED: AtomicBool = AtomicBool::new(false);
    static TIME_US: AtomicU64 = AtomicU64::new(0);
    static ROWS: AtomicU64 = AtomicU64::new(0);

    /// Runs started from now on publish their progress.
    pub fn enable() {
        ENABLED.store(true, Relaxed);
    }

    pub(super) fn enabled() -> bool {
        ENABLED.load(Relaxed)
    }

    pub(super) fn publish(time_us: u64) {
        TIME_US.store(time_us, Relaxed);
        ROWS.fetch_add(1, Relaxed);
    }

    /// (simulated µs, rows) of the run under way.
    pub fn read() -> (u64, u64) {
        (TIME_US.load(Relaxed), ROWS.load(Relaxed))
    }
}

impl RowSink for HarnessSink {
    fn row(&mut self, row: &Record) {
        if self.output_error.is_none() {
            let result = match &mut self.output {
                Output::None => Ok(()),
                Output::File(w) => w.write(row),
                Output::Hash(h) => h.write(row).map_err(|e| Error::io("(trace hash)", e)),
            };
            if let Err(e) = result {
                self.output_error = Some(e);
            }
        }
        self.checks.observe(row);
        self.metrics.observe(row);
        if let Some(history) = self.history.as_mut() {
            if matches!(row.event, Event::Invoke | Event::Ok | Event::Fail | Event::Info) {
                // A malformed completion is reported by the `linearizable` checker; the history
                // keeps the rows that make sense.
                let _ = history.push_row(row);
            }
        }
        if self.progress {
            progress::publish(row.time_us);
        }
    }
}

/// Raft: `RaftNode`s, the Figure 3 checkers, `RaftMetrics`.
pub struct RaftModel;

impl Model for RaftModel {
    type Node = RaftNode;

    fn nodes(scenario: &Scenario) -> Vec<RaftNode> {
        let node = |i: u32| {
            // A node's own persist delay (a slow disk) replaces the cluster's.
            let config = RaftConfig {
                persist_delay_us: scenario.persist_delay_us(i),
                membership: scenario.uses_membership(),
                ..scenario.raft.clone()
            };
            RaftNode::new(NodeId(i), scenario.nodes, &config)
        };
        (0..scenario.nodes).map(node).collect()
    }

    fn checkers(scenario: &Scenario) -> Vec<Box<dyn Checker>> {
        let mut checkers = check::raft_checkers();
        // A message may wait for its node's persist before leaving: the slowest disk bounds it.
        let slack_us = (0..scenario.nodes).map(|i| scenario.persist_delay_us(i)).max().unwrap_or(0);
        checkers.push(Box::new(check::match_monotone::MatchMonotone::new(slack_us)));
        // What the clients saw, checked against a register per key: independent of every node row.
        checkers.push(Box::new(check::linearizable::Linearizable::new(scenario.check.lin_states_max)));
        if scenario.raft.check_quorum {
            let raft = &scenario.raft;
            let persist_max_us = (0..scenario.nodes).map(|i| scenario.persist_delay_us(i)).max().unwrap_or(0);
            let window_us = (raft.election_timeout_ms[0] + raft.heartbeat_ms) * 1_000 + persist_max_us;
            checkers.push(Box::new(check::check_quorum::CheckQuorum::new(window_us)));
        }
        if let Some(after_ms) = scenario.liveness.after_ms {
            let (after, within) = (after_ms * 1_000, scenario.liveness.within_ms * 1_000);
            checkers.push(Box::new(check::progress::Progress::new(after, within)));
        }
        checkers
    }

    fn metrics(scenario: &Scenario) -> Box<dyn Metrics> {
        Box::new(RaftMetrics::new(scenario.nodes))
    }
}

/// The eventually consistent KV: `EventualNode`s, the convergence checkers, `EventualMetrics`.
pub struct EventualModel;

impl Model for EventualModel {
    type Node = EventualNode;

    fn nodes(scenario: &Scenario) -> Vec<EventualNode> {
        (0..scenario.nodes)
            .map(|i| EventualNode::new(NodeId(i), scenario.nodes, &scenario.eventual))
            .collect()
    }

    fn checkers(scenario: &Scenario) -> Vec<Box<dyn Checker>> {
        let mut checkers = check::eventual_set::eventual_checkers(scenario.eventual.policy);
        if check::eventual_set::strict_quorum_applies(scenario) {
            checkers.push(Box::new(check::strict_quorum_reads::StrictQuorumReads::new()));
        }
        checkers
    }

    fn metrics(scenario: &Scenario) -> Box<dyn Metrics> {
        Box::new(EventualMetrics::new(scenario.nodes))
    }

    fn checkers_scheduled(scenario: &Scenario, schedule: Option<&Schedule>) -> Vec<Box<dyn Checker>> {
        // strict_quorum_reads assumes no fault, loss or duplication; a schedule may hold them
        // whatever the scenario says.
        let faulty = schedule.is_some_and(|s| {
            s.entries.iter().any(|e| match e {
                crate::sim::schedule::Entry::Send { fate, .. } => fate.dropped || fate.duplicate.is_some(),
                _ => true,
            })
        });
        let mut checkers = Self::checkers(scenario);
        if faulty {
            checkers.retain(|c| c.name() != "strict_quorum_reads");
        }
        checkers
    }
}

/// The checkers for `scenario`'s protocol (used by `dsim check` over files).
pub fn checkers(scenario: &Scenario) -> Vec<Box<dyn Checker>> {
    match scenario.protocol {
        ProtocolKind::Raft => RaftModel::checkers(scenario),
        ProtocolKind::Eventual => EventualModel::checkers(scenario),
    }
}

/// Runs `scenario` (its `seed` field is the seed).
pub fn run(scenario: &Scenario, options: Options<'_>) -> Result<Outcome> {
    run_scheduled(scenario, options, Scheduling::default())
}

/// Runs `scenario`, replaying or recording a schedule as `scheduling` says.
pub fn run_scheduled(
    scenario: &Scenario,
    options: Options<'_>,
    scheduling: Scheduling<'_>,
) -> Result<Outcome> {
    match scenario.protocol {
        ProtocolKind::Raft => run_model_scheduled::<RaftModel>(scenario, options, scheduling),
        ProtocolKind::Eventual => run_model_scheduled::<EventualModel>(scenario, options, scheduling),
    }
}

/// Runs `scenario` with the protocol family `M`.
pub fn run_model<M: Model>(scenario: &Scenario, options: Options<'_>) -> Result<Outcome> {
    run_model_scheduled::<M>(scenario, options, Scheduling::default())
}

/// Runs `scenario` with the protocol family `M`, replaying or recording a schedule.
pub fn run_model_scheduled<M: Model>(
    scenario: &Scenario,
    options: Options<'_>,
    scheduling: Scheduling<'_>,
) -> Result<Outcome> {
    let output = match (options.trace, options.hash) {
        (Some(path), _) => Output::File(TraceWriter::create(path)?),
        (None, true) => {
            Output::Hash(RowEncoder::new(std::io::sink()).map_err(|e| Error::io("(trace hash)", e))?)
        }
        (None, false) => Output::None,
    };
    let sink = HarnessSink {
        output,
        output_error: None,
        checks: CheckSet::new(M::checkers_scheduled(scenario, scheduling.replay)),
        metrics: M::metrics(scenario),
        progress: progress::enabled(),
        history: options.history.map(|_| HistoryBuilder::new(Source::Trace)),
    };
    let workload = OpenLoop::new(&scenario.workload, scenario.nodes, scenario.end());
    let mut runner = match scheduling.replay {
        Some(schedule) => {
            Runner::with_schedule(scenario.kernel(), M::nodes(scenario), workload, sink, schedule)
        }
        None => Runner::new(scenario.kernel(), M::nodes(scenario), workload, sink),
    };
    if scheduling.record {
        runner.record_schedule();
    }
    let stats = runner.run();
    let schedule = runner.take_schedule();
    let mut sink = runner.into_sink();
    let end_us = stats.end_time.as_us();
    sink.checks.finish(end_us);
    if let Some(e) = sink.output_error {
        return Err(e);
    }
    let metrics = sink.metrics.finish(end_us);
    if let (Some(path), Some(history)) = (options.history, sink.history.take()) {
        write_history(path, &history.finish())?;
    }
    let (trace, trace_sha256) = match sink.output {
        Output::None => (None, None),
        Output::Hash(h) => {
            let (_, _, _, sha) = h.finish().map_err(|e| Error::io("(trace hash)", e))?;
            (None, Some(sha))
        }
        Output::File(w) => {
            let info = w.finish()?;
            if !crate::output::is_stdout(&info.path) {
                write_manifest(scenario, &stats, &info, scheduling.replay_file)?;
            }
            let sha = info.sha256.clone();
            (Some(info), Some(sha))
        }
    };
    Ok(Outcome {
        stats,
        metrics,
        violations: sink.checks.violations().to_vec(),
        violations_total: sink.checks.total(),
        trace,
        trace_sha256,
        schedule,
    })
}

/// Writes `history` as Jepsen EDN at `path`, atomically.
fn write_history(path: &Path, history: &crate::lin::History) -> Result<()> {
    let mut file = crate::output::AtomicFile::create(path)?;
    crate::lin::write_edn(history, &mut std::io::BufWriter::new(&mut file))
        .map_err(|e| Error::io(path, e))?;
    file.commit()
}

fn write_manifest(
    scenario: &Scenario,
    stats: &RunStats,
    info: &TraceInfo,
    schedule: Option<&Path>,
) -> Result<()> {
    let schedule_sha256 = schedule.map(crate::trace::writer::sha256_file).transpose()?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        dsim_version: env!("CARGO_PKG_VERSION").to_owned(),
        seed: scenario.seed,
        events: stats.events,
        rows: stats.rows,
        sim_time_us: stats.end_time.as_us(),
        stop: stats.stop.map_or("", |s| s.as_str()).to_owned(),
        trace_file: info.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        trace_bytes: info.bytes,
        trace_sha256: info.sha256.clone(),
        scenario: scenario.clone(),
        schedule_file: schedule.map(|p| p.display().to_string()),
        schedule_sha256,
    };
    manifest.write(&manifest_path(&info.path))
}
