//! `dsim shrink SCENARIO --seed N`: a failing run reduced to a small one that fails the same
//! checker; writes the minimal scenario, its schedule, trace, manifest, SVG and story (docs/shrink.md).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::json;

use crate::cli::ScenarioArgs;
use crate::error::{Error, Result};
use crate::export::{svg, Filter, Selection};
use crate::harness::{self, Options, Scheduling};
use crate::output;
use crate::shrink::{self, story, Config, Shrunk};

/// The files of a shrink's output directory.
pub const SCENARIO_FILE: &str = "scenario.toml";
pub const SCHEDULE_FILE: &str = "schedule.txt";
pub const TRACE_FILE: &str = "trace.csv";
pub const SVG_FILE: &str = "trace.svg";
pub const STORY_FILE: &str = "story.txt";
pub const SUMMARY_FILE: &str = "shrink.json";
/// At most this many candidate runs with `--budget`.
const BUDGET_MAX: u64 = 100_000;

#[derive(Debug, clap::Args)]
pub struct ShrinkArgs {
    #[command(flatten)]
    pub scenario: ScenarioArgs,
    /// The checker that must keep failing (default: the one of the run's first violation).
    #[arg(long)]
    pub checker: Option<String>,
    /// At most this many candidate runs: the bound that makes the result deterministic (default:
    /// derived from the input run's size, 300 to 6000; docs/shrink.md).
    #[arg(long)]
    pub budget: Option<u64>,
    /// A wall-clock safety cap (90s, 10m): stop early if the candidates take this long. A capped
    /// result depends on the machine's speed, and the summary says so.
    #[arg(long, value_name = "DURATION", default_value = "10m")]
    pub time: String,
    /// Output directory.
    #[arg(long, default_value = "results/shrink")]
    pub out: PathBuf,
}

pub fn run(args: ShrinkArgs) -> anyhow::Result<u8> {
    let scenario = args.scenario.load()?;
    if let Some(b) = args.budget.filter(|b| !(1..=BUDGET_MAX).contains(b)) {
        return Err(crate::cli::flag_error(
            "--budget",
            b.to_string(),
            format!("an integer in [1, {BUDGET_MAX}]"),
        )
        .into());
    }
    let time_cap = crate::cli::hunt::parse_time_flag("--time", &args.time)?;
    let inputs: Vec<&Path> = args.scenario.scenario.iter().map(|p| p.as_path()).collect();
    for file in [SCENARIO_FILE, SCHEDULE_FILE, TRACE_FILE, SVG_FILE, STORY_FILE, SUMMARY_FILE] {
        output::check_target(&args.out.join(file), &inputs, false)?;
    }
    let started = Instant::now();
    let config = Config { checker: args.checker.clone(), budget: args.budget, time_cap: Some(time_cap) };
    let shrunk = shrink::shrink(&scenario, &config)?;
    let written = write_outputs(&args.out, &scenario, &shrunk)?;
    let wall_s = started.elapsed().as_secs_f64();
    report(&args.out, &shrunk, &written, wall_s)?;
    Ok(0)
}

/// What [`write_outputs`] wrote besides the files named by constants.
pub struct Written {
    pub story: String,
    pub command: String,
}

/// The command that reruns the shrunk failure.
pub fn command(dir: &Path) -> String {
    let q = |f: &str| crate::sweep::shell_quote(&dir.join(f).display().to_string());
    format!("dsim run {} --schedule {}", q(SCENARIO_FILE), q(SCHEDULE_FILE))
}

/// Writes the shrink's files into `dir` and reruns the result once more, with its trace.
pub fn write_outputs(dir: &Path, input: &crate::scenario::Scenario, s: &Shrunk) -> Result<Written> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let command = command(dir);
    let schedule_path = dir.join(SCHEDULE_FILE);
    output::write_atomic(&schedule_path, s.schedule.to_text().as_bytes())?;
    let header = format!(
        "# dsim shrink: seed {} of {:?} reduced to fail {} in {} rows (from {}).\n\
         # Reproduce: {command}\n\
         # {}\n",
        input.seed,
        input.name,
        s.checker,
        s.after.rows,
        s.before.rows,
        if s.schedule_edited {
            "The schedule was edited: run with it. Its fault lines are the run's faults ([[faults]] and [chaos] are left out here)."
        } else {
            "The schedule is the seed's own: this file alone reproduces the run too."
        }
    );
    output::write_atomic(&dir.join(SCENARIO_FILE), format!("{header}{}", s.scenario.to_toml()).as_bytes())?;
    let trace = dir.join(TRACE_FILE);
    let scheduling =
        Scheduling { replay: Some(&s.schedule), record: false, replay_file: Some(&schedule_path) };
    let outcome = harness::run_scheduled(
        &s.scenario,
        Options { trace: Some(&trace), hash: false, history: None },
        scheduling,
    )?;
    let violations: Vec<&crate::check::Violation> =
        outcome.violations.iter().filter(|v| v.property == s.checker).take(3).collect();
    if outcome.stats.rows != s.after.rows {
        return Err(Error::Mismatch(format!(
            "dsim shrink: the written run has {} rows, the shrunk one {} (a bug in dsim)",
            outcome.stats.rows, s.after.rows
        )));
    }
    if violations.is_empty() {
        return Err(Error::Mismatch(format!(
            "dsim shrink: the shrunk run no longer fails {} (a bug in dsim)",
            s.checker
        )));
    }
    // The space-time diagram: the whole run if it fits, else the window up to the violation.
    let mut filter = Filter { rows_max: svg::ROWS_MAX, format: "svg", ..Filter::default() };
    if outcome.stats.rows > svg::ROWS_MAX as u64 {
        let to = violations[0].time_us;
        filter.from_us = first_kept_time(&trace, to, svg::ROWS_MAX as u64)?;
        filter.to_us = Some(to);
    }
    let sel = Selection::load(&trace, &filter)?;
    let (text, _) = svg::Svg::new(&sel).render();
    output::write_atomic(&dir.join(SVG_FILE), text.as_bytes())?;
    let all = Selection::load(&trace, &Filter::default())?;
    let story = story::render(&all, &violations, outcome.stats.rows);
    output::write_atomic(&dir.join(STORY_FILE), story.as_bytes())?;
    let summary = json!({
        "format": "dsim-shrink/1",
        "dsim_version": env!("CARGO_PKG_VERSION"),
        "input": { "scenario": input.name, "seed": input.seed },
        "checker": s.checker,
        "before": s.before,
        "after": s.after,
        "candidates": s.candidates,
        "budget_spent": s.budget_spent,
        "time_capped": s.time_capped,
        "schedule_edited": s.schedule_edited,
        "steps": s.steps,
        "command": command,
    });
    let mut text =
        serde_json::to_string_pretty(&summary).map_err(|e| Error::io(dir, std::io::Error::other(e)))?;
    text.push('\n');
    output::write_atomic(&dir.join(SUMMARY_FILE), text.as_bytes())?;
    Ok(Written { story, command })
}

/// The earliest time from which at most `rows_max` rows lead up to `to_us`.
fn first_kept_time(trace: &Path, to_us: u64, rows_max: u64) -> Result<u64> {
    let mut times = std::collections::VecDeque::new();
    for row in crate::trace::TraceReader::open(trace)? {
        let row = row?;
        if row.time_us > to_us {
            break;
        }
        times.push_back(row.time_us);
        if times.len() as u64 > rows_max {
            times.pop_front();
        }
    }
    // Rows of one instant are kept together: start after the instant that was cut.
    Ok(times.front().map_or(0, |t| t + 1).min(to_us))
}

fn report(dir: &Path, s: &Shrunk, w: &Written, wall_s: f64) -> Result<()> {
    let (b, a) = (&s.before, &s.after);
    crate::outln!(
        "dsim shrink: {} still fails; rows {} -> {} ({:.1}x fewer), faults {} -> {}, nodes {} -> {}, \
         duration {} -> {} ms; {} candidate runs in {:.1} s",
        s.checker,
        b.rows,
        a.rows,
        b.rows as f64 / a.rows.max(1) as f64,
        b.faults,
        a.faults,
        b.nodes,
        a.nodes,
        b.duration_ms,
        a.duration_ms,
        s.candidates,
        wall_s
    )?;
    if s.budget_spent {
        crate::outln!("  note: the candidate budget ran out (raise --budget to search further)")?;
    }
    if s.time_capped {
        crate::outln!("  warning: --time stopped the search: this result depends on the machine's speed")?;
    }
    crate::outln!(
        "  output      {} (scenario.toml, schedule.txt, trace.csv, trace.svg, story.txt, shrink.json)",
        dir.display()
    )?;
    crate::outln!("  reproduce   {}", w.command)?;
    crate::outln!()?;
    crate::out!("{}", w.story)?;
    Ok(())
}
