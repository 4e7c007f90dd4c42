//! Figure 16 of the Raft paper (Ongaro & Ousterhout, USENIX ATC 2014, §9.3): the time from a
//! leader's crash to the election of a new one, as a CDF per election-timeout range.
//!
//! Each curve is one scenario of `results/papers/raft-fig16/` (made by its `gen.sh`) run over seeds
//! 0 … S−1. In every run n0 leads, n3 and n4 hold shorter logs than n1 and n2, and n0 crashes at
//! a time the scenario draws; this program reads the rows as they are produced and measures, per
//! run, from n0's `crash` row to the first `role` row with value `leader` after it. It also checks
//! the set-up it relies on — n0 was the leader when it crashed, and n3's and n4's logs were shorter
//! than n1's and n2's — and counts the runs where it did not hold.
//!
//! ```text
//! cargo run --release --example paper_fig16 -- OUT_DIR JOBS GROUP:LABEL:SEEDS:SCENARIO…
//! ```
//!
//! Writes `trials.csv` (one row per run), `summary.csv` (per curve, times in ms) and one CDF plot
//! per group, `fig16-<group>.svg`. Everything written is a pure function of the scenarios and the
//! seed counts: the runs go through the same kernel as `dsim run` and are collected in seed order.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::prelude::*;
use rayon::prelude::*;

use dsim::harness::{Model, RaftModel};
use dsim::metrics::percentile_index;
use dsim::scenario::Scenario;
use dsim::sim::runner::{RowSink, Runner};
use dsim::trace::{Event, Record, Value};
use dsim::workload::OpenLoop;

const NODES: usize = 5;

/// What one run showed.
#[derive(Clone, Debug, Default)]
pub struct Trial {
    pub crash_us: Option<u64>,
    /// n0 was a leader (its last role row said so) when it crashed.
    pub leader_at_crash: bool,
    /// Last log index of each node when n0 crashed.
    pub logs_at_crash: [u64; NODES],
    /// First leader after the crash: (time, node, term).
    pub elected: Option<(u64, usize, u64)>,
}

impl Trial {
    /// n3 and n4 could not win: both logs shorter than both of n1's and n2's.
    pub fn logs_differ(&self) -> bool {
        let l = &self.logs_at_crash;
        l[3].max(l[4]) < l[1].min(l[2])
    }

    pub fn downtime_us(&self) -> Option<u64> {
        Some(self.elected?.0 - self.crash_us?)
    }
}

/// Follows roles and log lengths row by row.
#[derive(Default)]
struct Fig16Sink {
    role_leader: [bool; NODES],
    last_index: [u64; NODES],
    trial: Trial,
}

impl RowSink for Fig16Sink {
    fn row(&mut self, row: &Record) {
        let Some(node) = row.node.map(|n| n.index()) else { return };
        if node >= NODES {
            return;
        }
        match row.event {
            Event::Role => {
                let leader = matches!(&row.value, Value::Text(t) if t == "leader");
                self.role_leader[node] = leader;
                if leader && self.trial.crash_us.is_some() && self.trial.elected.is_none() {
                    self.trial.elected = Some((row.time_us, node, row.term.unwrap_or(0)));
                }
            }
            Event::Append | Event::Store => self.last_index[node] = row.index.unwrap_or(0),
            Event::Truncate => self.last_index[node] = row.index.unwrap_or(1).saturating_sub(1),
            Event::Crash if node == 0 && self.trial.crash_us.is_none() => {
                self.trial.crash_us = Some(row.time_us);
                self.trial.leader_at_crash = self.role_leader[0];
                self.trial.logs_at_crash = self.last_index;
            }
            _ => {}
        }
    }
}

pub fn run_trial(scenario: &Scenario, seed: u64) -> Trial {
    let mut scenario = scenario.clone();
    scenario.seed = seed;
    let workload = OpenLoop::new(&scenario.workload, scenario.nodes, scenario.end());
    let nodes = RaftModel::nodes(&scenario);
    let mut runner = Runner::new(scenario.kernel(), nodes, workload, Fig16Sink::default());
    runner.run();
    runner.into_sink().trial
}

/// One curve: its group (which graph), label, and trials in seed order.
struct Curve {
    group: String,
    label: String,
    trials: Vec<Trial>,
}

impl Curve {
    /// Downtimes of the runs whose set-up held and that elected a leader, ascending, in ms.
    fn downtimes_ms(&self) -> Vec<f64> {
        let mut v: Vec<f64> = self
            .trials
            .iter()
            .filter(|t| t.leader_at_crash && t.logs_differ())
            .filter_map(|t| t.downtime_us())
            .map(|us| us as f64 / 1000.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v
    }

    fn valid(&self) -> usize {
        self.trials.iter().filter(|t| t.leader_at_crash && t.logs_differ()).count()
    }
}

fn main() {
    if let Err(e) = real_main() {
        eprintln!("paper_fig16: {e}");
        std::process::exit(2);
    }
}

fn real_main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: paper_fig16 OUT_DIR JOBS GROUP:LABEL:SEEDS:SCENARIO…";
    if args.len() < 3 {
        return Err(usage.into());
    }
    let out = PathBuf::from(&args[0]);
    let jobs: usize = args[1].parse().map_err(|_| format!("JOBS: {:?} is not a count; {usage}", args[1]))?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(jobs.max(1)).build().map_err(|e| e.to_string())?;
    let mut curves = Vec::new();
    for spec in &args[2..] {
        let parts: Vec<&str> = spec.splitn(4, ':').collect();
        let [group, label, seeds, path] = parts[..] else {
            return Err(format!("{spec:?}: expected GROUP:LABEL:SEEDS:SCENARIO"));
        };
        let seeds: u64 = seeds.parse().map_err(|_| format!("{spec:?}: SEEDS {seeds:?} is not a count"))?;
        if !(1..=100_000).contains(&seeds) {
            return Err(format!("{spec:?}: SEEDS must be 1 … 100000"));
        }
        let scenario = Scenario::load(Path::new(path), &[]).map_err(|e| e.to_string())?;
        let trials: Vec<Trial> =
            pool.install(|| (0..seeds).into_par_iter().map(|s| run_trial(&scenario, s)).collect());
        curves.push(Curve { group: group.into(), label: label.into(), trials });
    }
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    write(&out.join("trials.csv"), &trials_csv(&curves))?;
    write(&out.join("summary.csv"), &summary_csv(&curves))?;
    let mut groups: Vec<&str> = curves.iter().map(|c| c.group.as_str()).collect();
    groups.dedup();
    for group in groups {
        let members: Vec<&Curve> = curves.iter().filter(|c| c.group == group).collect();
        let svg = cdf_svg(group, &members).ok_or("plotting failed")?;
        write(&out.join(format!("fig16-{group}.svg")), &svg)?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn trials_csv(curves: &[Curve]) -> String {
    let mut s = String::from(
        "curve,seed,leader_at_crash,logs_at_crash,crash_us,elected_us,downtime_us,new_leader,term\n",
    );
    for c in curves {
        for (seed, t) in c.trials.iter().enumerate() {
            let logs: Vec<String> = t.logs_at_crash.iter().map(u64::to_string).collect();
            let opt = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
            let (elected, node, term) = match t.elected {
                Some((at, n, term)) => (at.to_string(), format!("n{n}"), term.to_string()),
                None => Default::default(),
            };
            let _ = writeln!(
                s,
                "{},{seed},{},{},{},{elected},{},{node},{term}",
                c.label,
                t.leader_at_crash,
                logs.join(" "),
                opt(t.crash_us),
                opt(t.downtime_us())
            );
        }
    }
    s
}

fn summary_csv(curves: &[Curve]) -> String {
    let mut s = String::from(
        "group,curve,runs,setup_held,elected,not_elected,min_ms,p50_ms,mean_ms,p90_ms,p99_ms,max_ms,winner_n1_or_n2\n",
    );
    for c in curves {
        let d = c.downtimes_ms();
        let valid = c.valid();
        let winners = c
            .trials
            .iter()
            .filter(|t| t.leader_at_crash && t.logs_differ())
            .filter(|t| matches!(t.elected, Some((_, 1 | 2, _))))
            .count();
        let f = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v:.1}"));
        let pct = |p: f64| percentile_index(d.len(), p).map(|i| d[i]);
        let mean = (!d.is_empty()).then(|| d.iter().sum::<f64>() / d.len() as f64);
        let _ = writeln!(
            s,
            "{},{},{},{valid},{},{},{},{},{},{},{},{},{winners}",
            c.group,
            c.label,
            c.trials.len(),
            d.len(),
            valid - d.len(),
            f(d.first().copied()),
            f(pct(50.0)),
            f(mean),
            f(pct(90.0)),
            f(pct(99.0)),
            f(d.last().copied()),
        );
    }
    s
}

const COLORS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// Cumulative percent of runs (of those whose set-up held) against downtime; runs with no leader
/// by the end never reach the top.
fn cdf_svg(group: &str, curves: &[&Curve]) -> Option<String> {
    let x_max = if group == "top" { 600.0 } else { 450.0 };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (800, 500)).into_drawing_area();
        root.fill(&WHITE).ok()?;
        let title = format!("Raft Figure 16 ({group}): crash to new leader, dsim");
        let mut ctx = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(16)
            .x_label_area_size(48)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..x_max, 0.0..100.0)
            .ok()?;
        ctx.configure_mesh()
            .x_desc("time without leader (ms)")
            .y_desc("cumulative percent")
            .label_style(("sans-serif", 14))
            .draw()
            .ok()?;
        for (c, color) in curves.iter().zip(COLORS) {
            let d = c.downtimes_ms();
            let n = c.valid().max(1) as f64;
            let mut line = vec![(0.0, 0.0)];
            for (i, &x) in d.iter().take_while(|&&x| x <= x_max).enumerate() {
                line.push((x, i as f64 * 100.0 / n));
                line.push((x, (i + 1) as f64 * 100.0 / n));
            }
            let reached = d.iter().filter(|&&x| x <= x_max).count() as f64 * 100.0 / n;
            line.push((x_max, reached));
            let label = if reached < 100.0 {
                format!("{} ms ({reached:.0} % within {x_max} ms)", c.label)
            } else {
                format!("{} ms", c.label)
            };
            ctx.draw_series(LineSeries::new(line, color.stroke_width(2)))
                .ok()?
                .label(label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        ctx.configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 13))
            .draw()
            .ok()?;
        root.present().ok()?;
    }
    Some(svg)
}
