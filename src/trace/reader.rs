//! Reads a trace file back into rows, refusing anything that is not a dsim trace with one line
//! naming the file, the line and what was wrong.

use std::borrow::Cow;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sim::NodeId;
use crate::trace::record::parse_prefixed;
use crate::trace::writer::COLUMNS;
use crate::trace::{Clock, Event, Record, Value};

/// Streams the rows of a trace file.
pub struct TraceReader {
    path: PathBuf,
    rows: csv::StringRecordsIntoIter<BufReader<File>>,
    expected_seq: u64,
}

impl TraceReader {
    pub fn open(path: &Path) -> Result<TraceReader> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut csv =
            csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(BufReader::new(file));
        let bad = |message: String| Error::BadTrace { path: path.to_path_buf(), line: 1, message };
        let header = csv.headers().map_err(|e| bad(format!("not a CSV file ({e})")))?;
        let got: Vec<&str> = header.iter().take(COLUMNS.len()).collect();
        if got != COLUMNS {
            return Err(bad(format!(
                "not a dsim trace: header starts {:?}, expected {}",
                truncate(&header.iter().collect::<Vec<_>>().join(","), 80),
                COLUMNS.join(",")
            )));
        }
        Ok(TraceReader { path: path.to_path_buf(), rows: csv.into_records(), expected_seq: 0 })
    }

    fn parse(&self, line: u64, cells: &csv::StringRecord) -> Result<Record> {
        let bad = |column: &str, value: &str, allowed: &str| Error::BadTrace {
            path: self.path.clone(),
            line,
            message: format!("{column} = {:?}: {allowed}", truncate(value, 40)),
        };
        if cells.len() < COLUMNS.len() {
            return Err(Error::BadTrace {
                path: self.path.clone(),
                line,
                message: format!("{} cells, expected at least {}", cells.len(), COLUMNS.len()),
            });
        }
        let cell = |i: usize| cells.get(i).unwrap_or("");
        let int = |i: usize| -> Result<Option<u64>> {
            match cell(i) {
                "" => Ok(None),
                s => s.parse().map(Some).map_err(|_| bad(COLUMNS[i], s, "an unsigned integer or empty")),
            }
        };
        let node = |i: usize| -> Result<Option<NodeId>> {
            match cell(i) {
                "" => Ok(None),
                s => {
                    NodeId::parse(s).map(Some).ok_or_else(|| bad(COLUMNS[i], s, "a node n0, n1, … or empty"))
                }
            }
        };
        let time_us = int(0)?.ok_or_else(|| bad("time_us", "", "an unsigned integer"))?;
        let seq = int(1)?.ok_or_else(|| bad("seq", "", "an unsigned integer"))?;
        if seq != self.expected_seq {
            return Err(bad(
                "seq",
                cell(1),
                &format!("{} (rows count from 0 without gaps)", self.expected_seq),
            ));
        }
        let event: Event = cell(3).parse().map_err(|_| bad("event", cell(3), "a dsim event name"))?;
        let key = match cell(8) {
            "" => None,
            s => Some(parse_prefixed('k')(s).ok_or_else(|| bad("key", s, "k<integer> or empty"))?),
        };
        let clock = match cell(10) {
            "" => None,
            s => Some(
                Clock::parse(s).ok_or_else(|| bad("clock", s, "n<i>:<count> pairs joined by ';', sorted"))?,
            ),
        };
        Ok(Record {
            time_us,
            seq,
            node: node(2)?,
            event,
            peer: node(4)?,
            msg: Cow::Owned(cell(5).to_owned()),
            term: int(6)?,
            index: int(7)?,
            key,
            value: Value::parse(cell(9)),
            clock,
            detail: Cow::Owned(cell(11).to_owned()),
            detail_pairs: None,
        })
    }
}

impl Iterator for TraceReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        let cells = match self.rows.next()? {
            Ok(cells) => cells,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                return Some(Err(Error::BadTrace { path: self.path.clone(), line, message: e.to_string() }));
            }
        };
        let line = cells.position().map_or(0, |p| p.line());
        let row = self.parse(line, &cells);
        if row.is_ok() {
            self.expected_seq += 1;
        }
        Some(row)
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::writer::TraceWriter;

    fn sample() -> Vec<Record> {
        vec![
            Record::new(Event::Role).node(NodeId(1)).term(2).value(Value::Text("leader".into())),
            Record::new(Event::Write)
                .node(NodeId(0))
                .key(3)
                .value(Value::Id(9))
                .clock(Clock::from_counters(&[2, 0, 1])),
            Record::new(Event::Drop)
                .node(NodeId(0))
                .peer(NodeId(2))
                .msg("append_entries")
                .detail("a, \"quoted\" detail"),
            Record::new(Event::Final).node(NodeId(2)).key(0).value(Value::Ids(vec![1, 4])),
        ]
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            r.seq = i as u64;
            r.time_us = 10 * i as u64;
            r
        })
        .collect()
    }

    #[test]
    fn written_rows_read_back_identically() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        let mut w = TraceWriter::create(&path).unwrap();
        assert!(!path.exists(), "no file under the final name before finish");
        for r in sample() {
            w.write(&r).unwrap();
        }
        let info = w.finish().unwrap();
        assert_eq!(info.rows, 4);
        assert_eq!(info.sha256, crate::trace::writer::sha256_file(&path).unwrap());
        let back: Vec<Record> = TraceReader::open(&path).unwrap().collect::<Result<_>>().unwrap();
        assert_eq!(back, sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("time_us,seq,node,event,peer,msg,term,index,key,value,clock,detail\n"));
        assert!(text.contains("\n10,1,n0,write,,,,,k3,v9,n0:2;n2:1,\n"), "{text}");
    }

    #[test]
    fn junk_is_refused_with_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.csv");
        std::fs::write(&path, "a,b,c\n1,2,3\n").unwrap();
        let err = TraceReader::open(&path).err().unwrap().to_string();
        assert!(err.contains("bad.csv:1: not a dsim trace"), "{err}");
        let header = COLUMNS.join(",");
        std::fs::write(&path, format!("{header}\n0,0,n0,role,,,1,,,,,\n5,1,n9x,send,,,,,,,,\n")).unwrap();
        let rows: Vec<_> = TraceReader::open(&path).unwrap().collect();
        assert!(rows[0].is_ok());
        let err = rows[1].as_ref().unwrap_err().to_string();
        assert!(err.contains("bad.csv:3: node = \"n9x\""), "{err}");
        std::fs::write(&path, format!("{header}\n0,0,n0,explode,,,,,,,,\n")).unwrap();
        let err = TraceReader::open(&path).unwrap().next().unwrap().unwrap_err().to_string();
        assert!(err.contains(":2: event = \"explode\""), "{err}");
    }
}
