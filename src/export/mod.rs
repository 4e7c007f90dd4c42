//! Exporters: a trace turned into pictures for other tools — Chrome Trace Event JSON for Perfetto
//! (`perfetto`), a ShiViz log (`shiviz`) and a space-time diagram drawn by dsim itself (`svg`).
//!
//! All three start from a [`Selection`]: one streaming pass over the trace that keeps the rows of
//! the time window and the chosen nodes, pairs sends with deliveries ([`matcher`]), and remembers
//! each node's role at the window's start so that role spans can begin there. Limits: a selection
//! holds at most [`Filter::rows_max`] rows; past that the exporter refuses and says how many the
//! window holds, rather than writing a file nobody can open.

pub mod matcher;
pub mod perfetto;
pub mod shiviz;
pub mod svg;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::sim::NodeId;
use crate::trace::manifest::{manifest_path, Manifest};
use crate::trace::{Event, Record, TraceReader};

pub use matcher::{Arrival, Flight, Link, Part};

/// Rows a Perfetto or ShiViz export holds at most (about 200 bytes each in memory).
pub const ROWS_MAX: usize = 2_000_000;

/// Which rows to export.
#[derive(Clone, Debug)]
pub struct Filter {
    /// Keep rows with `from_us <= time_us`.
    pub from_us: u64,
    /// Keep rows with `time_us <= to_us`; `None` = to the end of the trace.
    pub to_us: Option<u64>,
    /// Keep only rows of these nodes (rows without a node — partitions, heals — are kept);
    /// `None` = every node.
    pub nodes: Option<Vec<NodeId>>,
    /// Refuse a window holding more rows than this.
    pub rows_max: usize,
    /// Names the exporter in the refusal (`svg draws at most 5000 rows`).
    pub format: &'static str,
}

impl Default for Filter {
    fn default() -> Filter {
        Filter { from_us: 0, to_us: None, nodes: None, rows_max: ROWS_MAX, format: "an export" }
    }
}

/// A node's state at some instant, as far as the trace has told.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeState {
    /// The last `role` row's value (`follower`, `candidate`, `leader`), cleared by a crash.
    pub role: Option<String>,
    pub term: Option<u64>,
    pub down: bool,
}

impl NodeState {
    fn observe(&mut self, row: &Record) {
        match row.event {
            Event::Role => {
                self.role = Some(row.value.to_string());
                self.term = row.term;
            }
            Event::Crash => {
                self.down = true;
                self.role = None;
            }
            Event::Restart => self.down = false,
            _ => {}
        }
    }
}

/// What a node was doing over a stretch of the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SpanKind {
    Role { role: String, term: Option<u64> },
    Down,
}

/// A stretch of one node's timeline: `[start_us, end_us]`, clipped to the window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span {
    pub node: NodeId,
    pub start_us: u64,
    pub end_us: u64,
    pub kind: SpanKind,
}

impl Span {
    pub fn label(&self) -> String {
        match &self.kind {
            SpanKind::Role { role, term: Some(t) } => format!("{role} t{t}"),
            SpanKind::Role { role, term: None } => role.clone(),
            SpanKind::Down => "down".to_owned(),
        }
    }
}

/// The rows of one window of one trace, with their messages paired.
#[derive(Clone, Debug)]
pub struct Selection {
    /// The trace's file name, for titles.
    pub source: String,
    /// Nodes in the trace: `n0` … `n{nodes_total - 1}` (the manifest's count, else the highest id seen).
    pub nodes_total: u32,
    /// The nodes shown, ascending.
    pub shown: Vec<NodeId>,
    pub from_us: u64,
    /// The window's end: the `--to-us` given, else the run's end (manifest) or the last row's time.
    /// Invariant: `from_us <= to_us`.
    pub to_us: u64,
    /// Kept rows in trace order.
    pub rows: Vec<Record>,
    /// `links[i]`: the flight row `i` belongs to, if it is part of a message.
    pub links: Vec<Option<Link>>,
    pub flights: Vec<Flight>,
    /// Each node's state at `from_us` (indexed by node id).
    pub initial: Vec<NodeState>,
    /// The partition in force at `from_us` (its groups, `n0,n1|n2,n3,n4`), if any.
    pub initial_partition: Option<String>,
}

impl Selection {
    /// Reads `path` once and keeps what `filter` asks for.
    pub fn load(path: &Path, filter: &Filter) -> Result<Selection> {
        if let Some(to) = filter.to_us {
            if filter.from_us > to {
                return Err(Error::Flag {
                    flag: "--from-us".into(),
                    value: filter.from_us.to_string(),
                    allowed: format!("at most --to-us ({to})"),
                });
            }
        }
        let mut rows: Vec<Record> = Vec::new();
        let mut in_window: u64 = 0;
        let mut matcher = matcher::Matcher::new();
        let mut states: Vec<NodeState> = Vec::new();
        let mut initial: Option<(Vec<NodeState>, Option<String>)> = None;
        let mut partition: Option<String> = None;
        let mut highest: Option<u32> = None;
        let mut last_us = 0;
        let wanted = |n: Option<NodeId>| match (&filter.nodes, n) {
            (Some(nodes), Some(n)) => nodes.contains(&n),
            _ => true,
        };
        for row in TraceReader::open(path)? {
            let row = row?;
            last_us = row.time_us;
            for n in [row.node, row.peer].into_iter().flatten() {
                highest = highest.max(Some(n.0));
                if states.len() <= n.index() {
                    states.resize(n.index() + 1, NodeState::default());
                }
            }
            if row.time_us >= filter.from_us && initial.is_none() {
                initial = Some((states.clone(), partition.clone()));
            }
            let in_time = row.time_us >= filter.from_us && filter.to_us.map_or(true, |to| row.time_us <= to);
            let mut kept = None;
            if in_time && wanted(row.node) {
                in_window += 1;
                if rows.len() < filter.rows_max {
                    kept = Some(rows.len());
                    rows.push(row.clone());
                }
            }
            matcher.observe(&row, kept);
            match (row.node, row.event) {
                (Some(n), _) => states[n.index()].observe(&row),
                (None, Event::Partition) => partition = Some(row.detail.to_string()),
                (None, Event::Heal) => partition = None,
                _ => {}
            }
        }
        if in_window > filter.rows_max as u64 {
            return Err(too_many(filter, in_window));
        }
        let (nodes_total, end_us) = extent(path, highest, last_us);
        let shown = shown_nodes(filter, nodes_total)?;
        let (mut initial, initial_partition) = initial.unwrap_or((states, partition));
        initial.resize(nodes_total as usize, NodeState::default());
        let (flights, pairs) = matcher.finish_all();
        let mut links = vec![None; rows.len()];
        for (row, link) in pairs {
            links[row] = Some(link);
        }
        let to_us = filter.to_us.unwrap_or(end_us).max(filter.from_us);
        let source =
            path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
        Ok(Selection {
            source,
            nodes_total,
            shown,
            from_us: filter.from_us,
            to_us,
            rows,
            links,
            flights,
            initial,
            initial_partition,
        })
    }

    pub fn is_shown(&self, node: NodeId) -> bool {
        self.shown.binary_search(&node).is_ok()
    }

    /// The flight of row `i` and the row's part in it.
    pub fn flight_of(&self, i: usize) -> Option<(&Flight, Part)> {
        self.links[i].map(|l| (&self.flights[l.flight], l.part))
    }

    /// Role and down spans of the shown nodes, clipped to the window, in start order per node.
    pub fn spans(&self) -> Vec<Span> {
        let mut open: Vec<Option<(u64, SpanKind)>> = (0..self.nodes_total as usize)
            .map(|i| {
                let s = &self.initial[i];
                if s.down {
                    Some((self.from_us, SpanKind::Down))
                } else {
                    s.role.clone().map(|role| (self.from_us, SpanKind::Role { role, term: s.term }))
                }
            })
            .collect();
        let mut spans = Vec::new();
        let mut close = |node: NodeId, open: &mut Option<(u64, SpanKind)>, end_us: u64| {
            if let Some((start_us, kind)) = open.take() {
                spans.push(Span { node, start_us, end_us, kind });
            }
        };
        for row in &self.rows {
            let Some(node) = row.node else { continue };
            let slot = &mut open[node.index()];
            match row.event {
                Event::Role => {
                    close(node, slot, row.time_us);
                    let role = SpanKind::Role { role: row.value.to_string(), term: row.term };
                    *slot = Some((row.time_us, role));
                }
                Event::Crash => {
                    close(node, slot, row.time_us);
                    *slot = Some((row.time_us, SpanKind::Down));
                }
                Event::Restart => close(node, slot, row.time_us),
                _ => {}
            }
        }
        for (i, slot) in open.iter_mut().enumerate() {
            close(NodeId(i as u32), slot, self.to_us);
        }
        spans.retain(|s| self.is_shown(s.node));
        spans.sort_by_key(|s| (s.node, s.start_us));
        spans
    }
}

/// The nodes `filter` asks for, sorted, each checked against the trace's node count.
fn shown_nodes(filter: &Filter, nodes_total: u32) -> Result<Vec<NodeId>> {
    let Some(nodes) = &filter.nodes else { return Ok((0..nodes_total).map(NodeId).collect()) };
    if let Some(bad) = nodes.iter().find(|n| n.0 >= nodes_total) {
        return Err(Error::Flag {
            flag: "--nodes".into(),
            value: bad.to_string(),
            allowed: format!("nodes of this trace: n0 … n{}", nodes_total.saturating_sub(1)),
        });
    }
    let mut nodes = nodes.clone();
    nodes.sort();
    nodes.dedup();
    Ok(nodes)
}

fn too_many(filter: &Filter, rows: u64) -> Error {
    let to = filter.to_us.map_or_else(|| "end".to_owned(), |t| t.to_string());
    Error::Flag {
        flag: "--from-us/--to-us".into(),
        value: format!("{}..{to}", filter.from_us),
        allowed: format!(
            "the window holds {rows} rows, {} takes at most {}: narrow it with --from-us/--to-us or --nodes",
            filter.format, filter.rows_max
        ),
    }
}

/// The node count and the run's end: the manifest's when one sits beside the trace (nodes that
/// never logged still count, and the run went on after its last row), else one more than the
/// highest node id seen and the last row's time. A missing or unreadable manifest is not an error:
/// the trace alone is enough to draw.
fn extent(trace: &Path, highest: Option<u32>, last_us: u64) -> (u32, u64) {
    let seen = highest.map_or(0, |h| h + 1);
    let manifest: PathBuf = manifest_path(trace);
    match Manifest::read(&manifest) {
        Ok(m) => (m.scenario.nodes.max(seen), m.sim_time_us.max(last_us)),
        Err(_) => (seen, last_us),
    }
}

/// One line describing a row: `send append_entries -> n2 t=3 i=7`, `write k3 v5 [n0:2;n1:1]`.
pub fn describe(row: &Record) -> String {
    let mut s = String::from(row.event.as_str());
    let role = row.event == Event::Role;
    if role {
        let _ = write!(s, " {}", row.value);
    }
    if !row.msg.is_empty() {
        let _ = write!(s, " {}", row.msg);
    }
    if let Some(peer) = row.peer {
        let arrow = match row.event {
            Event::Deliver => "<-",
            Event::Vote => "for",
            _ => "->",
        };
        let _ = write!(s, " {arrow} {peer}");
    }
    if let Some(t) = row.term {
        let _ = write!(s, " t={t}");
    }
    if let Some(i) = row.index {
        let _ = write!(s, " i={i}");
    }
    if let Some(k) = row.key {
        let _ = write!(s, " k{k}");
    }
    if !row.value.is_none() && !role {
        let sep = if row.key.is_some() { "=" } else { " " };
        let _ = write!(s, "{sep}{}", row.value);
    }
    if let Some(c) = &row.clock {
        let _ = write!(s, " [{c}]");
    }
    let detail = row.detail_text();
    if !detail.is_empty() {
        let _ = write!(s, " ({detail})");
    }
    s
}

/// `12.345 ms` for 12345 µs.
pub fn format_us(us: u64) -> String {
    format!("{}.{:03} ms", us / 1000, us % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{TraceWriter, Value};

    fn write(dir: &Path, rows: Vec<Record>) -> PathBuf {
        let path = dir.join("t.csv");
        let mut w = TraceWriter::create(&path).unwrap();
        for (i, mut r) in rows.into_iter().enumerate() {
            r.seq = i as u64;
            w.write(&r).unwrap();
        }
        w.finish().unwrap();
        path
    }

    fn at(t: u64, r: Record) -> Record {
        let mut r = r;
        r.time_us = t;
        r
    }

    fn role(node: u32, term: u64, role: &'static str) -> Record {
        Record::new(Event::Role).node(NodeId(node)).term(term).value(Value::Text(role.into()))
    }

    #[test]
    fn window_keeps_rows_and_role_state_carries_into_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            vec![
                at(0, role(0, 1, "follower")),
                at(0, role(1, 1, "follower")),
                at(10, role(0, 2, "leader")),
                at(20, Record::new(Event::Crash).node(NodeId(1))),
                at(30, Record::new(Event::Restart).node(NodeId(1))),
                at(30, role(1, 2, "follower")),
                at(50, Record::new(Event::Timeout).node(NodeId(0)).msg("heartbeat")),
            ],
        );
        let filter = Filter { from_us: 15, to_us: Some(40), ..Filter::default() };
        let sel = Selection::load(&path, &filter).unwrap();
        assert_eq!(sel.nodes_total, 2);
        assert_eq!(sel.rows.len(), 3);
        assert_eq!((sel.from_us, sel.to_us), (15, 40));
        let spans: Vec<(u32, u64, u64, String)> =
            sel.spans().iter().map(|s| (s.node.0, s.start_us, s.end_us, s.label())).collect();
        assert_eq!(
            spans,
            vec![
                (0, 15, 40, "leader t2".into()),
                (1, 15, 20, "follower t1".into()),
                (1, 20, 30, "down".into()),
                (1, 30, 40, "follower t2".into())
            ]
        );
        let only_n1 = Filter { nodes: Some(vec![NodeId(1)]), ..Filter::default() };
        let sel = Selection::load(&path, &only_n1).unwrap();
        assert_eq!(sel.shown, vec![NodeId(1)]);
        assert!(sel.rows.iter().all(|r| r.node == Some(NodeId(1))));
        assert_eq!(sel.to_us, 50);
    }

    #[test]
    fn refusals_name_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), (0..10).map(|t| at(t, role(0, 1, "follower"))).collect());
        let small = Filter { rows_max: 5, format: "svg", ..Filter::default() };
        let err = Selection::load(&path, &small).unwrap_err().to_string();
        assert!(err.contains("the window holds 10 rows, svg takes at most 5"), "{err}");
        let bad_node = Filter { nodes: Some(vec![NodeId(9)]), ..Filter::default() };
        let err = Selection::load(&path, &bad_node).unwrap_err().to_string();
        assert!(err.contains("--nodes \"n9\": nodes of this trace: n0 … n0"), "{err}");
        let backwards = Filter { from_us: 9, to_us: Some(3), ..Filter::default() };
        let err = Selection::load(&path, &backwards).unwrap_err().to_string();
        assert!(err.contains("--from-us \"9\": at most --to-us (3)"), "{err}");
    }

    #[test]
    fn rows_read_as_one_line() {
        let send =
            Record::new(Event::Send).node(NodeId(0)).peer(NodeId(2)).msg("append_entries").term(3).index(7);
        assert_eq!(describe(&send), "send append_entries -> n2 t=3 i=7");
        assert_eq!(describe(&role(1, 4, "leader")), "role leader t=4");
        let w = Record::new(Event::Write)
            .node(NodeId(0))
            .key(3)
            .value(Value::Ids(vec![3, 5]))
            .clock(crate::trace::Clock::from_counters(&[2, 1]));
        assert_eq!(describe(&w), "write k3=v3|v5 [n0:2;n1:1]");
        assert_eq!(format_us(12_345), "12.345 ms");
    }
}
