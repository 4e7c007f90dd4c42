//! Linearizability of client histories against a compare-and-set register per key (Herlihy & Wing
//! 1990), checked the way Knossos and Porcupine do: Wing–Gong/Lowe search per key (a history of
//! independent keys is linearizable iff each key's sub-history is: P-compositionality, Horn &
//! Kroening 2015), a shrunk witness and a timeline when it is not. See docs/lincheck.md.
//!
//! Inputs are dsim traces (the `invoke`/`ok`/`fail`/`info` rows) and Jepsen EDN histories; both
//! become a [`History`]. [`check`] answers linearizable, not linearizable, or undecided (the search
//! budget ran out — never a pass).

pub mod edn;
pub mod generate;
pub mod history;
pub mod report;
pub mod search;
pub mod shrink;

use std::path::Path;

pub use edn::{write_edn, Datum};
pub use history::{History, HistoryBuilder, HistoryError, Op, OpF, Source};
pub use report::Report;
pub use search::{Budget, Outcome};

use crate::error::{Error, Result};
use crate::trace::TraceReader;

/// Checks every key of `history` (in key order) within `budget` per key; shrinks the first key
/// that is not linearizable to a small witness. A violation on any key wins over undecided keys.
pub fn check(history: &History, budget: &Budget) -> Report {
    let keys = history.keys();
    let mut report = Report {
        outcome: Outcome::Linearizable,
        keys: keys.len(),
        ops: history.ops().len(),
        states: 0,
        states_max: budget.states_max,
        key: None,
        witness: Vec::new(),
        minimal: false,
    };
    for key in keys {
        let ops = history.ops_of(key);
        let result = search::check_ops(history, &ops, budget);
        report.states += result.states;
        match result.outcome {
            Outcome::Linearizable => {}
            Outcome::Undecided => {
                if report.outcome == Outcome::Linearizable {
                    report.outcome = Outcome::Undecided;
                    report.key = Some(key);
                }
            }
            Outcome::NotLinearizable => {
                let shrunk = shrink::shrink(history, &ops, budget);
                report.outcome = Outcome::NotLinearizable;
                report.key = Some(key);
                report.witness = shrunk.ops;
                report.minimal = shrunk.minimal;
                return report;
            }
        }
    }
    report
}

/// What kind of file a history is read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// By extension (`.csv`, `.edn`), else by content.
    Auto,
    Trace,
    Edn,
}

/// EDN files larger than this are refused (1 GiB).
pub const EDN_BYTES_MAX: u64 = 1 << 30;

/// Reads a history from a dsim trace or a Jepsen EDN file.
pub fn load(path: &Path, format: Format) -> Result<History> {
    let bad = |line: u64, message: String| Error::BadTrace { path: path.to_path_buf(), line, message };
    let format = match format {
        Format::Auto => sniff(path)?,
        f => f,
    };
    if format == Format::Trace {
        let mut builder = HistoryBuilder::new(Source::Trace);
        for row in TraceReader::open(path)? {
            // Rows are lines 2.. of the file (after the header), so seq s is on line s + 2.
            builder.push_row(&row?).map_err(|e| bad(e.line + 2, format!("seq {}: {e}", e.line)))?;
        }
        return Ok(builder.finish());
    }
    let size = std::fs::metadata(path).map_err(|e| Error::io(path, e))?.len();
    if size > EDN_BYTES_MAX {
        return Err(bad(0, format!("{size} bytes: an EDN history of at most {EDN_BYTES_MAX} bytes")));
    }
    let mut text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    unwrap_outer_vector(&mut text);
    let forms = edn::parse_all(&text).map_err(|e| bad(e.line, format!("{:?}: expected {}", e.found, e.expected)))?;
    let mut builder = HistoryBuilder::new(Source::Edn);
    for (line, form) in &forms {
        builder.push_edn(*line, form).map_err(|e| bad(e.line, e.to_string()))?;
    }
    Ok(builder.finish())
}

/// Knossos' test histories are one vector of op maps over many lines: blank its brackets (same
/// byte length, so line numbers stay right) to read the maps as top-level forms.
fn unwrap_outer_vector(text: &mut String) {
    let trimmed = text.trim_start();
    let start = text.len() - trimmed.len();
    if !(trimmed.starts_with('[') && trimmed.trim_end().ends_with(']')) {
        return;
    }
    let end = text.trim_end().len() - 1;
    text.replace_range(start..start + 1, " ");
    text.replace_range(end..end + 1, " ");
}

fn sniff(path: &Path) -> Result<Format> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("csv") => return Ok(Format::Trace),
        Some("edn") => return Ok(Format::Edn),
        _ => {}
    }
    let mut head = [0u8; 256];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        f.read(&mut head).map_err(|e| Error::io(path, e))?
    };
    let head = String::from_utf8_lossy(&head[..n]);
    let start = head.trim_start();
    if start.starts_with("time_us,") {
        Ok(Format::Trace)
    } else if start.starts_with(['{', '[', '(', ';', '#']) {
        Ok(Format::Edn)
    } else {
        Err(Error::BadTrace {
            path: path.to_path_buf(),
            line: 1,
            message: format!(
                "{:?}: a dsim trace (header time_us,seq,…) or a Jepsen EDN history ({{:process 0, :type :invoke, …}})",
                history::clip(start.lines().next().unwrap_or(""))
            ),
        })
    }
}
