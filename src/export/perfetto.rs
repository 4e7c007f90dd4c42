//! Chrome Trace Event JSON (the format ui.perfetto.dev and chrome://tracing open).
//!
//! Layout: one process (pid 1, named after the trace), one thread per node (tid = node id + 1,
//! named `n0` …). On each node's track: complete slices (`ph: X`) for its role spans
//! (`leader t3`, `down`), and a zero-length slice for every row the node handled (`send …`,
//! `deliver …`, `store …`). A message is a v2 flow arrow from its send slice (`bind_id`,
//! `flow_out`) to its deliver slice (`flow_in`); a duplicated message's second copy leaves from the
//! `duplicate` slice. A dropped copy has no arrow: its send slice is named `… (dropped: reason)` and
//! the drop is an instant. Crashes, restarts, timeouts and drops are thread instants (`ph: i`,
//! `s: t`); partitions and heals are global instants (`s: g`). Timestamps are the simulated
//! microseconds, which is the format's unit.

use std::io::{self, Write};

use serde_json::{json, Value};

use crate::export::{describe, Part, Selection, SpanKind};
use crate::sim::NodeId;
use crate::trace::{Event, Record};

const PID: u32 = 1;

/// Writes one selection as a Chrome Trace Event JSON object.
pub struct Perfetto<'a> {
    sel: &'a Selection,
}

/// What was written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PerfettoSummary {
    pub events: u64,
    pub flows: u64,
}

fn tid(node: NodeId) -> u32 {
    node.0 + 1
}

/// A flow id for copy `copy` (0 or 1) of flight `flight`; never 0.
fn flow_id(flight: usize, copy: usize) -> u64 {
    flight as u64 * 2 + copy as u64 + 1
}

impl<'a> Perfetto<'a> {
    pub fn new(sel: &'a Selection) -> Perfetto<'a> {
        Perfetto { sel }
    }

    pub fn write<W: Write>(&self, out: &mut W) -> io::Result<PerfettoSummary> {
        let sel = self.sel;
        let other = json!({
            "generator": "dsim export",
            "source": sel.source,
            "from_us": sel.from_us,
            "to_us": sel.to_us,
            "nodes": sel.shown.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
        });
        write!(out, "{{\"displayTimeUnit\":\"ms\",\"otherData\":")?;
        serde_json::to_writer(&mut *out, &other)?;
        write!(out, ",\"traceEvents\":[")?;
        let mut summary = PerfettoSummary::default();
        let mut emit = |out: &mut W, event: Value| -> io::Result<()> {
            out.write_all(if summary.events == 0 { b"\n" } else { b",\n" })?;
            summary.events += 1;
            serde_json::to_writer(&mut *out, &event).map_err(io::Error::from)
        };
        for event in self.metadata() {
            emit(out, event)?;
        }
        for span in sel.spans() {
            let (role, term) = match &span.kind {
                SpanKind::Role { role, term } => (role.as_str(), *term),
                SpanKind::Down => ("down", None),
            };
            emit(
                out,
                json!({
                    "ph": "X", "cat": "state", "name": span.label(), "pid": PID, "tid": tid(span.node),
                    "ts": span.start_us, "dur": span.end_us - span.start_us,
                    "args": {"role": role, "term": term},
                }),
            )?;
        }
        for i in 0..sel.rows.len() {
            let event = self.row_event(i);
            if event.get("flow_out").is_some() {
                summary.flows += 1;
            }
            emit(out, event)?;
        }
        writeln!(out, "\n]}}")?;
        Ok(summary)
    }

    fn metadata(&self) -> Vec<Value> {
        let meta = |name: &str, tid: u32, args: Value| json!({"ph": "M", "name": name, "pid": PID, "tid": tid, "ts": 0, "args": args});
        let mut events = vec![meta("process_name", 0, json!({"name": format!("dsim {}", self.sel.source)}))];
        for node in &self.sel.shown {
            events.push(meta("thread_name", tid(*node), json!({"name": node.to_string()})));
            events.push(meta("thread_sort_index", tid(*node), json!({"sort_index": node.0})));
        }
        events
    }

    /// The event for row `i`: an instant, or a zero-length slice with its flow binding.
    fn row_event(&self, i: usize) -> Value {
        let sel = self.sel;
        let row = &sel.rows[i];
        let mut name = describe(row);
        let args = json!({"seq": row.seq});
        let Some(node) = row.node else {
            return json!({
                "ph": "i", "s": "g", "cat": row.event.as_str(), "name": name,
                "pid": PID, "tid": 0, "ts": row.time_us, "args": args,
            });
        };
        let track = self.track(row, node);
        if matches!(row.event, Event::Crash | Event::Restart | Event::Timeout | Event::Drop) {
            return json!({
                "ph": "i", "s": "t", "cat": row.event.as_str(), "name": name,
                "pid": PID, "tid": tid(track), "ts": row.time_us, "args": args,
            });
        }
        let mut event = json!({
            "ph": "X", "cat": row.event.as_str(), "pid": PID, "tid": tid(track),
            "ts": row.time_us, "dur": 0, "args": args,
        });
        if let Some((flight, part)) = sel.flight_of(i) {
            let index = sel.links[i].map_or(0, |l| l.flight);
            let (copy, outgoing) = match part {
                Part::Send => (0, true),
                Part::Duplicate => (1, true),
                Part::Arrival(k) => (k, false),
            };
            let arrival = flight.arrivals.get(copy);
            if let (true, Some(reason)) = (outgoing, arrival.and_then(|a| a.dropped.as_deref())) {
                name.push_str(&format!(" (dropped: {reason})"));
            }
            let departure = if copy == 0 { flight.send_row } else { flight.duplicate_row };
            let paired = departure.is_some() && arrival.is_some_and(|a| a.delivered() && a.row.is_some());
            if paired {
                event["bind_id"] = json!(flow_id(index, copy));
                event[if outgoing { "flow_out" } else { "flow_in" }] = json!(true);
            }
        }
        event["name"] = json!(name);
        event
    }

    /// The track a row is drawn on: its node's, except a drop at delivery time (`node_down`), which
    /// happens at the receiver.
    fn track(&self, row: &Record, node: NodeId) -> NodeId {
        match (row.event, row.peer) {
            (Event::Drop, Some(peer)) if row.detail == "node_down" && self.sel.is_shown(peer) => peer,
            _ => node,
        }
    }
}
