//! `dsim run`: one scenario, one seed; a human summary or one JSON object.

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use serde_json::{json, Map, Value};

use crate::cli::{ScenarioArgs, EXIT_VIOLATION};
use crate::harness::{self, Options, Outcome};
use crate::metrics::MetricValue;
use crate::output;
use crate::scenario::Scenario;
use crate::sim::schedule::Schedule;
use crate::trace::manifest::manifest_path;

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// Write the CSV trace here (atomically; its directory is created), with PATH's
    /// `.manifest.json` beside it; `-` streams the CSV to stdout (no manifest; summary on stderr).
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Write the run's client history here as Jepsen EDN (one op map per line, `:key` per op), for
    /// `dsim lincheck`, Knossos or Porcupine.
    #[arg(long)]
    pub history: Option<PathBuf>,
    /// Print the summary as one JSON object on stdout.
    #[arg(long)]
    pub json: bool,
    /// Print the resolved scenario (TOML) and exit without running.
    #[arg(long)]
    pub dump_scenario: bool,
    /// Drive the run by this schedule (docs/schedule.md): its message fates and faults replace the
    /// network's draws and the scenario's `[[faults]]` and `[chaos]`.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Write the run's schedule here (atomically): every message's fate and every fault's firing,
    /// so `--schedule` replays the run byte for byte, and an edited copy gives a new run.
    #[arg(long, value_name = "FILE")]
    pub record_schedule: Option<PathBuf>,
}

/// Reads and checks a schedule file for `scenario` (its nodes bound the node names).
pub fn load_schedule(path: &std::path::Path, scenario: &Scenario) -> crate::error::Result<Schedule> {
    output::require_input(path)?;
    let text = std::fs::read_to_string(path).map_err(|e| crate::error::Error::io(path, e))?;
    Schedule::parse(&path.display().to_string(), &text, scenario.nodes)
}

pub fn run(args: RunArgs) -> anyhow::Result<u8> {
    let scenario = args.scenario.load()?;
    if args.dump_scenario {
        crate::out!("{}", scenario.to_toml())?;
        return Ok(0);
    }
    let to_stdout = args.trace.as_deref().is_some_and(output::is_stdout);
    if let Some(trace) = &args.trace {
        let inputs: Vec<&std::path::Path> = args.scenario.scenario.iter().map(|p| p.as_path()).collect();
        output::check_target(trace, &inputs, true)?;
        if !to_stdout {
            output::check_target(&manifest_path(trace), &inputs, false)?;
        }
    }
    if let Some(history) = &args.history {
        let mut inputs: Vec<&std::path::Path> = args.scenario.scenario.iter().map(|p| p.as_path()).collect();
        inputs.extend(args.trace.as_deref());
        output::check_target(history, &inputs, false)?;
    }
    let schedule = args.schedule.as_deref().map(|p| load_schedule(p, &scenario)).transpose()?;
    if let Some(record) = &args.record_schedule {
        let mut inputs: Vec<&std::path::Path> = args.scenario.scenario.iter().map(|p| p.as_path()).collect();
        inputs.extend(args.trace.as_deref());
        inputs.extend(args.history.as_deref());
        inputs.extend(args.schedule.as_deref());
        output::check_target(record, &inputs, false)?;
    }
    // Wall time is measured here, at the edge, and never reaches anything the simulation computes.
    let started = Instant::now();
    let display = ProgressLine::start(&scenario);
    let scheduling = harness::Scheduling {
        replay: schedule.as_ref(),
        record: args.record_schedule.is_some(),
        replay_file: args.schedule.as_deref(),
    };
    let outcome = harness::run_scheduled(
        &scenario,
        Options { trace: args.trace.as_deref(), hash: false, history: args.history.as_deref() },
        scheduling,
    );
    drop(display);
    let outcome = outcome?;
    if let (Some(path), Some(recorded)) = (&args.record_schedule, &outcome.schedule) {
        output::write_atomic(path, recorded.to_text().as_bytes())?;
    }
    let wall_s = started.elapsed().as_secs_f64();
    let warnings = warnings(&scenario, &outcome);
    for w in &warnings {
        output::eprint_line(format_args!("dsim: warning: {w}"));
    }
    let summary = if args.json {
        let mut json = summary_json(&scenario, &outcome, wall_s);
        json["warnings"] = json!(warnings);
        format!("{json}\n")
    } else {
        summary_text(&scenario, &outcome, wall_s)
    };
    if to_stdout {
        // stdout holds the trace; the summary goes beside it.
        output::eprint_line(format_args!("{}", summary.trim_end()));
    } else {
        crate::out!("{summary}")?;
    }
    Ok(if outcome.ok() { 0 } else { EXIT_VIOLATION })
}

/// A line on stderr, rewritten twice a second, for a run that lasts over 2 s: simulated time and
/// rows per second. Only when stderr is a terminal; silent when piped. Dropping it clears the line.
struct ProgressLine {
    done: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ProgressLine {
    fn start(scenario: &Scenario) -> ProgressLine {
        use std::io::IsTerminal;
        if !std::io::stderr().is_terminal() {
            return ProgressLine { done: None, thread: None };
        }
        harness::progress::enable();
        let end_us = scenario.end().as_us();
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let started = Instant::now();
            let wait = std::time::Duration::from_millis(500);
            let mut shown = false;
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(wait) {
                let elapsed = started.elapsed().as_secs_f64();
                if elapsed < 2.0 {
                    continue;
                }
                let (time_us, rows) = harness::progress::read();
                let line = format!(
                    "dsim run: simulated {:.1} s of {:.1} s ({:.0}%), {:.2} M rows/s, {:.0} s wall",
                    time_us as f64 / 1e6,
                    end_us as f64 / 1e6,
                    100.0 * time_us as f64 / end_us.max(1) as f64,
                    rows as f64 / elapsed / 1e6,
                    elapsed
                );
                let _ = write!(std::io::stderr(), "\r{line}\x1b[K");
                shown = true;
            }
            if shown {
                let _ = write!(std::io::stderr(), "\r\x1b[K");
            }
        });
        ProgressLine { done: Some(tx), thread: Some(thread) }
    }
}

impl Drop for ProgressLine {
    fn drop(&mut self) {
        drop(self.done.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Settings that had no effect: the scenario's own, and the workload's cap when the run hit it.
pub fn warnings(scenario: &Scenario, outcome: &Outcome) -> Vec<String> {
    let mut warnings = scenario.warnings();
    warnings.extend(requests_max_note(scenario, outcome));
    warnings
}

/// The note when the open-loop workload stopped at its cap: on stderr and in the summary, so a
/// long run does not go quiet without saying why.
fn requests_max_note(scenario: &Scenario, outcome: &Outcome) -> Option<String> {
    let cap = scenario.workload.requests_max;
    (outcome.stats.client_requests >= cap).then(|| {
        format!("workload.requests_max = {cap}: reached; no request was sent after it (raise it for a steady load)")
    })
}

fn metric_json(value: MetricValue) -> Value {
    match value {
        MetricValue::Int(v) => json!(v),
        MetricValue::Float(v) => json!(v),
        MetricValue::Missing => Value::Null,
    }
}

pub fn summary_json(scenario: &Scenario, outcome: &Outcome, wall_s: f64) -> Value {
    let s = &outcome.stats;
    let metrics: Map<String, Value> =
        outcome.metrics.iter().map(|(k, v)| ((*k).to_owned(), metric_json(*v))).collect();
    json!({
        "scenario": scenario.name,
        "protocol": scenario.protocol.as_str(),
        "nodes": scenario.nodes,
        "seed": scenario.seed,
        "events": s.events,
        "rows": s.rows,
        "sim_time_us": s.end_time.as_us(),
        "stop": s.stop.map(|r| r.as_str()),
        "wall_s": wall_s,
        "events_per_s": s.events as f64 / wall_s.max(1e-9),
        "messages": {
            "sent": s.messages_sent,
            "delivered": s.messages_delivered,
            "dropped": s.messages_dropped,
            "duplicated": s.messages_duplicated,
        },
        "timeouts": s.timeouts,
        "client_requests": s.client_requests,
        "crashes": s.crashes,
        "restarts": s.restarts,
        "metrics": metrics,
        "violations_total": outcome.violations_total,
        "violations": outcome.violations.iter().map(|v| json!({
            "property": v.property, "time_us": v.time_us, "seq": v.seq, "message": v.message,
        })).collect::<Vec<_>>(),
        "trace": outcome.trace.as_ref().map(|t| json!({
            "path": t.path.display().to_string(), "rows": t.rows, "bytes": t.bytes, "sha256": t.sha256,
        })),
    })
}

pub fn summary_text(scenario: &Scenario, outcome: &Outcome, wall_s: f64) -> String {
    use std::fmt::Write;
    let s = &outcome.stats;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "dsim run: {} ({}, {} nodes), seed {}",
        if scenario.name.is_empty() { "(unnamed)" } else { &scenario.name },
        scenario.protocol.as_str(),
        scenario.nodes,
        scenario.seed
    );
    let _ = writeln!(
        out,
        "  events      {} in {:.3} s wall ({:.2} M events/s); simulated {}; stop: {}",
        s.events,
        wall_s,
        s.events as f64 / wall_s.max(1e-9) / 1e6,
        s.end_time,
        s.stop.map_or("?", |r| r.as_str())
    );
    let _ = writeln!(
        out,
        "  messages    sent {}, delivered {}, dropped {}, duplicated {}; timeouts {}; client requests {}",
        s.messages_sent,
        s.messages_delivered,
        s.messages_dropped,
        s.messages_duplicated,
        s.timeouts,
        s.client_requests
    );
    if s.crashes + s.restarts > 0 {
        let _ = writeln!(out, "  faults      crashes {}, restarts {}", s.crashes, s.restarts);
    }
    // One column for every name, however long the longest metric's name is.
    let width = outcome.metrics.iter().map(|(name, _)| name.len() + 2).max().unwrap_or(0).max(28);
    for (name, value) in &outcome.metrics {
        let shown = match value {
            MetricValue::Missing => "-".to_owned(),
            v => v.to_string(),
        };
        let _ = writeln!(out, "  {name:<width$}{shown}");
    }
    if let Some(note) = requests_max_note(scenario, outcome) {
        let _ = writeln!(out, "  note        {note}");
    }
    if outcome.violations_total == 0 {
        let _ = writeln!(out, "  violations  none");
    } else {
        let _ = writeln!(
            out,
            "  violations  {} (showing {}):",
            outcome.violations_total,
            outcome.violations.len().min(10)
        );
        for v in outcome.violations.iter().take(10) {
            let _ = writeln!(out, "    {v}");
        }
    }
    if let Some(t) = &outcome.trace {
        let _ = writeln!(
            out,
            "  trace       {} ({} rows, {} bytes, sha256 {})",
            t.path.display(),
            t.rows,
            t.bytes,
            t.sha256
        );
    }
    out
}
