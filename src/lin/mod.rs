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
pub mod incremental;
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
    let forms =
        edn::parse_all(&text).map_err(|e| bad(e.line, format!("{:?}: expected {}", e.found, e.expected)))?;
    let mut builder = HistoryBuilder::new(Source::Edn);
    for (line, form) in &forms {
        builder.push_edn(*line, form).map_err(|e| bad(e.line, e.to_string()))?;
    }
    Ok(builder.finish())
}

/// Knossos' test histories are one vector of op maps over many lines: blank its brackets (same
/// byte length, so line numbers stay right) to read the maps as top-level forms.
fn unwrap_outer_vector(text: &mut String) {
    // The first byte that is neither whitespace nor inside a `;` comment.
    let mut start = None;
    let mut comment = false;
    for (i, c) in text.char_indices() {
        match c {
            '\n' => comment = false,
            _ if comment || c.is_whitespace() || c == ',' => {}
            ';' => comment = true,
            _ => {
                start = Some(i);
                break;
            }
        }
    }
    let Some(start) = start else { return };
    if !(text[start..].starts_with('[') && text.trim_end().ends_with(']')) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lin::generate::GenConfig;

    fn edn_text(history: &History) -> String {
        let mut out = Vec::new();
        write_edn(history, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn read_edn(text: &str) -> History {
        let mut builder = HistoryBuilder::new(Source::Edn);
        for (line, form) in edn::parse_all(text).unwrap() {
            builder.push_edn(line, &form).unwrap();
        }
        builder.finish()
    }

    /// History -> EDN -> history -> EDN gives the same text, and the same ops and answer.
    #[test]
    fn edn_round_trips() {
        let config = GenConfig { ops: 300, keys: 3, processes: 5, info_per_mille: 50, seed: 4 };
        let original = generate::history(&config);
        let text = edn_text(&original);
        assert!(text.starts_with("{:index "), "{text}");
        assert!(text.contains(", :type :info, "), "{text}");
        assert!(text.contains(":f :cas, :key 1, :value ["), "{text}");
        let back = read_edn(&text);
        assert_eq!(edn_text(&back), text);
        assert_eq!(back.ops().len(), original.ops().len());
        for (a, b) in original.ops().iter().zip(back.ops()) {
            assert_eq!((a.id, a.process, a.f), (b.id, b.process, b.f));
            assert_eq!((a.invoke.pos, a.invoke.time_ns), (b.invoke.pos, b.invoke.time_ns));
            let end = |op: &Op| (op.completion.as_str(), op.completion.at().map(|at| (at.pos, at.time_ns)));
            assert_eq!(end(a), end(b));
            assert_eq!(original.datum(a.value), back.datum(b.value));
            assert_eq!(original.datum(a.expect), back.datum(b.expect));
        }
        let budget = Budget::states(1_000_000);
        assert_eq!(check(&back, &budget).outcome, Outcome::Linearizable);
        assert_eq!(check(&original, &budget).outcome, Outcome::Linearizable);
    }

    #[test]
    fn a_fixture_round_trips_after_one_normalising_write() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/lin/register-ok.edn");
        let history = load(&path, Format::Auto).unwrap();
        let text = edn_text(&history);
        assert!(text.starts_with("{:index 0, :time 1000, :process 0, :type :invoke, :f :write, :value 1}\n"));
        assert_eq!(edn_text(&read_edn(&text)), text);
    }

    #[test]
    fn knossos_style_vectors_keep_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("h");
        std::fs::write(&path, "[{:process 0, :type :invoke, :f :read}\n {:process 0, :type :ok, :f :read, :value nil}\n {:process 0 :type :oops}]\n").unwrap();
        let err = load(&path, Format::Auto).unwrap_err().to_string();
        assert!(err.ends_with("/h:3: :type :oops: :type :invoke, :ok, :fail or :info"), "{err}");
        std::fs::write(&path, "hello\n").unwrap();
        let err = load(&path, Format::Auto).unwrap_err().to_string();
        assert!(err.contains("/h:1: \"hello\": a dsim trace"), "{err}");
    }
}
