//! `dsim export TRACE --format perfetto|shiviz|svg`: a trace as a picture for another tool.
//!
//! The output goes to `--out`, or next to the trace (`X.csv` -> `X.perfetto.json`,
//! `X.shiviz.log`, `X.svg`), written atomically. `--from-us` / `--to-us` cut a window of simulated
//! time (inclusive) and `--nodes n0,n2` keeps some nodes; both apply to all three formats. An svg
//! without `--to-us` shows the first window that fits its row limit (a note says how to move it),
//! so the first try always draws. `--out -` writes to stdout; an output that is a special file, a
//! symlink or the trace itself is refused (see [`crate::output`]).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::flag_error;
use crate::error::{Error, Result};
use crate::export::perfetto::Perfetto;
use crate::export::shiviz::ShiViz;
use crate::export::svg::{self, Svg};
use crate::export::{Filter, Selection, ROWS_MAX};
use crate::output::{self, check_target, is_stdout, Sink};
use crate::sim::NodeId;
use crate::trace::manifest::manifest_path;
use crate::trace::TraceReader;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A trace CSV written by `dsim run --trace`.
    pub trace: PathBuf,
    /// perfetto (Chrome Trace Event JSON), shiviz (a ShiViz log) or svg (a space-time diagram).
    #[arg(long)]
    pub format: String,
    /// Where to write (default: next to the trace, e.g. `X.csv` -> `X.svg`); `-` for stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Keep rows from this simulated time on (µs, inclusive).
    #[arg(long, default_value_t = 0)]
    pub from_us: u64,
    /// Keep rows up to this simulated time (µs, inclusive; default: the end of the trace).
    #[arg(long)]
    pub to_us: Option<u64>,
    /// Keep only these nodes: `n0,n2` (repeatable; default: all).
    #[arg(long, value_delimiter = ',')]
    pub nodes: Vec<String>,
}

/// The three formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Perfetto,
    ShiViz,
    Svg,
}

impl Format {
    pub fn parse(text: &str) -> Result<Format> {
        match text {
            "perfetto" => Ok(Format::Perfetto),
            "shiviz" => Ok(Format::ShiViz),
            "svg" => Ok(Format::Svg),
            other => Err(flag_error("--format", other, "perfetto, shiviz or svg")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Format::Perfetto => "perfetto",
            Format::ShiViz => "shiviz",
            Format::Svg => "svg",
        }
    }

    /// `runs/x.csv` -> `runs/x.perfetto.json`.
    pub fn default_out(self, trace: &Path) -> PathBuf {
        let stem = trace.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let ext = match self {
            Format::Perfetto => "perfetto.json",
            Format::ShiViz => "shiviz.log",
            Format::Svg => "svg",
        };
        trace.with_file_name(format!("{stem}.{ext}"))
    }
}

fn parse_nodes(nodes: &[String]) -> Result<Option<Vec<NodeId>>> {
    if nodes.is_empty() {
        return Ok(None);
    }
    let parsed = nodes
        .iter()
        .map(|n| NodeId::parse(n.trim()).ok_or_else(|| flag_error("--nodes", n.as_str(), "nodes like n0,n2")))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(parsed))
}

pub fn run(args: ExportArgs) -> anyhow::Result<u8> {
    let format = Format::parse(&args.format)?;
    let filter = Filter {
        from_us: args.from_us,
        to_us: args.to_us,
        nodes: parse_nodes(&args.nodes)?,
        rows_max: if format == Format::Svg { svg::ROWS_MAX } else { ROWS_MAX },
        format: format.as_str(),
    };
    let out = args.out.clone().unwrap_or_else(|| format.default_out(&args.trace));
    output::require_input(&args.trace)?;
    check_target(&out, &[&args.trace, &manifest_path(&args.trace)], true)?;
    let mut note = None;
    let mut filter = filter;
    if format == Format::Svg && filter.to_us.is_none() {
        // The first try must draw something: without --to-us, a trace too long for one diagram is
        // cut to the first window that fits, and the note says how to move it.
        if let Some((to_us, rows)) = first_window(&args.trace, &filter)? {
            filter.to_us = Some(to_us);
            note = Some(format!(
                "note: the trace holds {rows} rows in the window, an svg draws at most {}: showing {} … {to_us} µs; \
                 move the window with --from-us {} (and --to-us), or keep fewer nodes with --nodes",
                filter.rows_max,
                filter.from_us,
                to_us + 1
            ));
        }
    }
    let sel = Selection::load(&args.trace, &filter)?;
    let what = export(&sel, format, &out)?;
    let line = format!(
        "dsim export: {} -> {} ({}; {} … {} µs, nodes {})",
        args.trace.display(),
        out.display(),
        what,
        sel.from_us,
        sel.to_us,
        sel.shown.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    );
    if is_stdout(&out) {
        output::eprint_line(format_args!("{line}"));
    } else {
        crate::outln!("{line}")?;
    }
    if let Some(note) = note {
        output::eprint_line(format_args!("{note}"));
    }
    Ok(0)
}

/// When the window from `filter.from_us` to the end holds more rows than `filter.rows_max`: the
/// largest `to_us` whose window fits, and the rows the whole window holds. `None` when it all fits
/// (or when even one instant holds too many rows: then the exporter's refusal explains).
fn first_window(trace: &Path, filter: &Filter) -> Result<Option<(u64, u64)>> {
    let mut in_window = 0u64;
    let mut cut: Option<u64> = None;
    for row in TraceReader::open(trace)? {
        let row = row?;
        let wanted = match (&filter.nodes, row.node) {
            (Some(nodes), Some(n)) => nodes.contains(&n),
            _ => true,
        };
        if row.time_us < filter.from_us || !wanted {
            continue;
        }
        in_window += 1;
        if in_window == filter.rows_max as u64 + 1 {
            cut = Some(row.time_us);
        }
    }
    Ok(match cut {
        Some(t) if t > filter.from_us => Some((t - 1, in_window)),
        _ => None,
    })
}

/// Writes `sel` as `format` to `out` atomically; returns a short account of what was written.
pub fn export(sel: &Selection, format: Format, out: &Path) -> Result<String> {
    match format {
        Format::Svg => {
            let (text, summary) = Svg::new(sel).render();
            stream(out, |w| w.write_all(text.as_bytes()))?;
            Ok(format!("{} rows, {} messages, {} dropped", summary.rows, summary.messages, summary.dropped))
        }
        Format::Perfetto => {
            let summary = stream(out, |w| Perfetto::new(sel).write(w))?;
            Ok(format!("{} events, {} flows", summary.events, summary.flows))
        }
        Format::ShiViz => {
            let summary = stream(out, |w| ShiViz::new(sel).write(w))?;
            Ok(format!("{} events, {} messages", summary.events, summary.messages))
        }
    }
}

/// Streams into a temporary file beside `out` and renames it into place when complete (or to
/// stdout for `-`).
fn stream<T>(out: &Path, body: impl FnOnce(&mut BufWriter<Sink>) -> std::io::Result<T>) -> Result<T> {
    let mut w = BufWriter::with_capacity(1 << 16, Sink::create(out, true)?);
    let value = body(&mut w).map_err(|e| Error::io(out, e))?;
    w.flush().map_err(|e| Error::io(out, e))?;
    let sink = w.into_inner().map_err(|e| Error::io(out, e.into_error()))?;
    sink.commit()?;
    Ok(value)
}
