//! `dsim export TRACE --format perfetto|shiviz|svg`: a trace as a picture for another tool.
//!
//! The output goes to `--out`, or next to the trace (`X.csv` -> `X.perfetto.json`,
//! `X.shiviz.log`, `X.svg`), written atomically. `--from-us` / `--to-us` cut a window of simulated
//! time (inclusive) and `--nodes n0,n2` keeps some nodes; both apply to all three formats.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::cli::flag_error;
use crate::error::{Error, Result};
use crate::export::perfetto::Perfetto;
use crate::export::shiviz::ShiViz;
use crate::export::svg::{self, Svg};
use crate::export::{Filter, Selection, ROWS_MAX};
use crate::sim::NodeId;
use crate::trace::writer::{persist, temp_beside, write_atomic};

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// A trace CSV written by `dsim run --trace`.
    pub trace: PathBuf,
    /// perfetto (Chrome Trace Event JSON), shiviz (a ShiViz log) or svg (a space-time diagram).
    #[arg(long)]
    pub format: String,
    /// Where to write (default: next to the trace, e.g. `X.csv` -> `X.svg`).
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
    let sel = Selection::load(&args.trace, &filter)?;
    let out = args.out.clone().unwrap_or_else(|| format.default_out(&args.trace));
    let what = export(&sel, format, &out)?;
    println!(
        "dsim export: {} -> {} ({}; {} … {} µs, nodes {})",
        args.trace.display(),
        out.display(),
        what,
        sel.from_us,
        sel.to_us,
        sel.shown.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(",")
    );
    Ok(0)
}

/// Writes `sel` as `format` to `out` atomically; returns a short account of what was written.
pub fn export(sel: &Selection, format: Format, out: &Path) -> Result<String> {
    match format {
        Format::Svg => {
            let (text, summary) = Svg::new(sel).render();
            write_atomic(out, text.as_bytes())?;
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

/// Streams into a temporary file beside `out` and renames it into place when complete.
fn stream<T>(
    out: &Path,
    body: impl FnOnce(&mut BufWriter<tempfile::NamedTempFile>) -> std::io::Result<T>,
) -> Result<T> {
    let mut w = BufWriter::with_capacity(1 << 16, temp_beside(out)?);
    let value = body(&mut w).map_err(|e| Error::io(out, e))?;
    w.flush().map_err(|e| Error::io(out, e))?;
    let temp = w.into_inner().map_err(|e| Error::io(out, e.into_error()))?;
    persist(temp, out)?;
    Ok(value)
}
